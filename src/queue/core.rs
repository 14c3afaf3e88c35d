//! The single-lock queue core, generic over an ordering policy: Python's
//! `queue.Queue` design (one mutex, waiters for not-empty / not-full) with
//! the task accounting of `tasks.rs`, so `task_done` costs no lock round
//! trip. `LifoQueue` and `PriorityQueue` use it; `Queue` uses the two-lock
//! FIFO of `fifo.rs`.

use std::fmt;
use std::time::Instant;

use super::policy::{Policy, Stored};
use super::tasks::{Credit, TakeSide, TaskCount, TaskSink, bump};
use crate::error::{GetError, PutError, TaskDoneError};
use crate::internal::deadline;
use crate::internal::spin::spin_until;
use crate::internal::waiters::{PassOnIfUnwinding, WaitQueue, WaitResult};
use crate::loom::CachePadded;
use crate::loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use crate::loom::sync::{Mutex, MutexGuard};

struct State<P> {
    items: P,
    /// Tasks of queued items already marked done (see `tasks.rs`).
    early: usize,
}

/// What puts and gets touch on every call, on one cache line.
struct Hot<P> {
    state: Mutex<State<P>>,
    /// Items ever put, written only under `state`'s mutex (see `tasks.rs`).
    put_total: AtomicUsize,
    /// The number of queued items, stored under the mutex after every
    /// change and read without it by threads spinning for an item or for
    /// room, and by `len`.
    len_hint: AtomicUsize,
    /// Set under the mutex; read under it by puts and gets, and without it
    /// by `is_shutdown` and `Debug`.
    shutdown: AtomicBool,
}

/// A blocking queue generic over its ordering policy.
pub(crate) struct Core<P> {
    hot: CachePadded<Hot<P>>,
    tasks: TaskCount,
    /// `None`: unbounded.
    capacity: Option<usize>,
    not_empty: WaitQueue,
    not_full: WaitQueue,
}

impl<P: Policy> Core<P> {
    pub(crate) fn new(capacity: Option<usize>) -> Self {
        assert!(capacity != Some(0), "capacity must be at least 1");
        Core {
            hot: CachePadded::new(Hot {
                state: Mutex::new(State { items: P::default(), early: 0 }),
                put_total: AtomicUsize::new(0),
                len_hint: AtomicUsize::new(0),
                shutdown: AtomicBool::new(false),
            }),
            tasks: TaskCount::new(),
            capacity,
            not_empty: WaitQueue::new(),
            not_full: WaitQueue::new(),
        }
    }

    #[inline]
    fn has_room(&self, len: usize) -> bool {
        self.capacity.is_none_or(|cap| len < cap)
    }

    /// Spins briefly (never under loom) until `ready(len_hint)`, without
    /// holding the mutex.
    #[inline]
    fn spin_until(&self, ready: impl Fn(usize) -> bool) {
        spin_until(|| ready(self.hot.len_hint.load(Ordering::Relaxed)));
    }

    /// Puts `item`, blocking while full until `deadline` (`None`: forever).
    /// `block == false` (or a deadline already past) never blocks.
    ///
    /// The common case (open, not full) is small enough to be inlined into
    /// the caller's loop; everything else is in `put_slow`.
    #[inline]
    pub(crate) fn put(
        &self,
        item: P::Item,
        deadline: Option<Instant>,
        block: bool,
    ) -> Result<(), PutError<P::Item>> {
        let mut state = self.hot.state.lock();
        // Shutdown first, then fullness, as CPython.
        if self.hot.shutdown.load(Ordering::Relaxed) || !self.has_room(state.items.len()) {
            return self.put_slow(state, item, deadline, block);
        }
        // This put consumed no wakeup, so if a user `Ord` panics here there
        // is nothing to pass on, and the items are left untouched.
        state.items.push(item);
        self.put_done(state);
        Ok(())
    }

    /// Counts the item `put` just pushed, unlocks and wakes a getter.
    #[inline]
    fn put_done(&self, state: MutexGuard<'_, State<P>>) {
        let hot = &*self.hot;
        hot.len_hint.store(state.items.len(), Ordering::Relaxed);
        // Counted before the item can be gotten (both under the mutex), so
        // a getter's `task_done` always finds its item counted.
        bump(&hot.put_total, Ordering::Release);
        drop(state);
        self.not_empty.notify_one();
    }

    #[cold]
    fn put_slow(
        &self,
        state: MutexGuard<'_, State<P>>,
        item: P::Item,
        deadline: Option<Instant>,
        block: bool,
    ) -> Result<(), PutError<P::Item>> {
        // Declared before the state guard, so unwinding releases the mutex
        // before passing a wakeup on.
        let mut pass_on = PassOnIfUnwinding::new(&self.not_full);
        let mut state = state;
        let mut spun = false;
        loop {
            if self.hot.shutdown.load(Ordering::Relaxed) {
                return Err(PutError::ShutDown(item));
            }
            if self.has_room(state.items.len()) {
                break;
            }
            if !block || deadline::has_passed(deadline) {
                return Err(PutError::Full(item));
            }
            if !spun {
                // Wait briefly for room for a batch of puts, not just one:
                // a producer that takes the lock for every slot a getter
                // frees keeps both sides fighting over it, one item at a
                // time. If less room comes in the spin, the check above
                // still takes it.
                spun = true;
                drop(state);
                let cap = self.capacity.unwrap_or(usize::MAX);
                let batch = (cap / 8).clamp(1, 64);
                self.spin_until(|len| len.saturating_add(batch) <= cap);
                state = self.hot.state.lock();
                continue;
            }
            let waiter = self.not_full.enqueue();
            drop(state);
            let result = waiter.wait(deadline);
            state = self.hot.state.lock();
            if result == WaitResult::TimedOut {
                if self.hot.shutdown.load(Ordering::Relaxed) {
                    return Err(PutError::ShutDown(item));
                }
                if !self.has_room(state.items.len()) {
                    return Err(PutError::Full(item));
                }
                break;
            }
        }
        // A panicking `Ord` leaves the items untouched; the room this put
        // may have been woken for goes to the next putter.
        pass_on.armed = true;
        state.items.push(item);
        pass_on.armed = false;
        self.put_done(state);
        Ok(())
    }

    /// Gets an item, blocking while empty until `deadline`.
    ///
    /// The common case (an item is there) is inlined; waiting is in
    /// `get_slow`.
    #[inline]
    pub(crate) fn get(&self, deadline: Option<Instant>, block: bool) -> Result<P::Item, GetError> {
        // Looked up before locking, to keep the critical section short.
        let credit = self.tasks.credit();
        let mut state = self.hot.state.lock();
        // This get consumed no wakeup: if a user `Ord` panics in `pop`, there
        // is nothing to pass on, and the items are left untouched.
        match state.items.pop() {
            Some(item) => {
                self.get_done(state, credit);
                Ok(item)
            }
            None => self.get_slow(state, credit, deadline, block),
        }
    }

    /// Counts the item a get just popped (as `credit`'s task), unlocks and
    /// wakes a putter.
    #[inline]
    fn get_done(&self, mut state: MutexGuard<'_, State<P>>, credit: &Credit) {
        self.hot.len_hint.store(state.items.len(), Ordering::Relaxed);
        self.tasks.taken(&mut state.early, credit);
        drop(state);
        if self.capacity.is_some() {
            self.not_full.notify_one();
        }
    }

    #[cold]
    fn get_slow(
        &self,
        state: MutexGuard<'_, State<P>>,
        credit: &Credit,
        deadline: Option<Instant>,
        block: bool,
    ) -> Result<P::Item, GetError> {
        // Declared before the state guard: see `put_slow`.
        let mut pass_on = PassOnIfUnwinding::new(&self.not_empty);
        let mut state = state;
        let mut spun = false;
        loop {
            // Items first, then shutdown, then emptiness, as CPython: a
            // shut-down queue still hands out what it holds.
            if let Some(item) = Self::pop_passing_on(&mut state, &mut pass_on) {
                self.get_done(state, credit);
                return Ok(item);
            }
            if self.hot.shutdown.load(Ordering::Relaxed) {
                return Err(GetError::ShutDown);
            }
            if !block || deadline::has_passed(deadline) {
                return Err(GetError::Empty);
            }
            if !spun {
                spun = true;
                drop(state);
                self.spin_until(|len| len > 0);
                state = self.hot.state.lock();
                continue;
            }
            let waiter = self.not_empty.enqueue();
            drop(state);
            let result = waiter.wait(deadline);
            state = self.hot.state.lock();
            if result == WaitResult::TimedOut {
                if let Some(item) = Self::pop_passing_on(&mut state, &mut pass_on) {
                    self.get_done(state, credit);
                    return Ok(item);
                }
                return Err(if self.hot.shutdown.load(Ordering::Relaxed) {
                    GetError::ShutDown
                } else {
                    GetError::Empty
                });
            }
        }
    }

    /// `pop` for a getter that may have consumed a wakeup: if a user `Ord`
    /// panics, the items are untouched and the wakeup goes to the next
    /// getter.
    fn pop_passing_on(
        state: &mut MutexGuard<'_, State<P>>,
        pass_on: &mut PassOnIfUnwinding<'_>,
    ) -> Option<P::Item> {
        pass_on.armed = true;
        let item = state.items.pop();
        pass_on.armed = false;
        item
    }

    /// Python's `shutdown(immediate)`.
    pub(crate) fn shutdown(&self, immediate: bool) {
        let mut state = self.hot.state.lock();
        self.hot.shutdown.store(true, Ordering::Release);
        let discarded = if immediate {
            let items = state.items.take_all();
            self.tasks.discard(items.len(), &mut state.early);
            self.hot.len_hint.store(0, Ordering::Relaxed);
            Some(items)
        } else {
            None
        };
        drop(state);
        if discarded.is_some() {
            self.tasks.wake_joiners_if_done(&self.hot.put_total);
        }
        // Wake everyone before running any item's `Drop` (which may panic).
        self.not_empty.notify_all();
        self.not_full.notify_all();
        // Dropped here, outside the mutex: an item's `Drop` may use the
        // queue. If one panics, the container still drops the rest.
        drop(discarded);
    }

    pub(crate) fn join_until(&self, deadline: Option<Instant>) -> bool {
        self.tasks.join_until(&self.hot.put_total, deadline)
    }

    pub(crate) fn is_shutdown(&self) -> bool {
        self.hot.shutdown.load(Ordering::Acquire)
    }

    pub(crate) fn is_full(&self) -> bool {
        !self.has_room(self.len())
    }
}

impl<P: Stored> TakeSide for Core<P> {
    fn put_total(&self) -> &AtomicUsize {
        &self.hot.put_total
    }

    fn with_takes<R>(&self, f: impl FnOnce(&mut usize, usize) -> R) -> R {
        let mut state = self.hot.state.lock();
        let queued = state.items.len();
        f(&mut state.early, queued)
    }
}

impl<P: Stored> TaskSink for Core<P> {
    fn task_done(&self) -> Result<(), TaskDoneError> {
        self.tasks.task_done(self)
    }
}

impl<P> Core<P> {
    /// A snapshot of the number of queued items.
    pub(crate) fn len(&self) -> usize {
        self.hot.len_hint.load(Ordering::Acquire)
    }

    /// A snapshot of the number of unfinished tasks.
    pub(crate) fn unfinished(&self) -> usize {
        self.tasks.unfinished(&self.hot.put_total)
    }

    pub(crate) fn capacity(&self) -> Option<usize> {
        self.capacity
    }

    pub(crate) fn fmt_fields(&self, name: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(name)
            .field("len", &self.len())
            .field("capacity", &self.capacity)
            .field("unfinished_tasks", &self.unfinished())
            .field("is_shutdown", &self.hot.shutdown.load(Ordering::Acquire))
            .finish()
    }
}
