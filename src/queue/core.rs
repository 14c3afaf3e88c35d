//! The core shared by `Queue`, `LifoQueue` and `PriorityQueue`: Python's
//! `queue.Queue` design (one mutex, waiters for not-empty / not-full /
//! all-done) with the task accounting in an atomic, so `task_done` costs
//! no lock round trip.

use std::fmt;
use std::time::Instant;

use super::policy::{Policy, Stored};
use crate::error::{GetError, PutError, TaskDoneError};
use crate::internal::deadline;
use crate::internal::waiters::{WaitQueue, WaitResult};
use crate::loom::CachePadded;
use crate::loom::sync::atomic::{AtomicUsize, Ordering, fence};
use crate::loom::sync::{Mutex, MutexGuard};

struct State<P> {
    items: P,
    shutdown: bool,
}

/// The task counter and the threads `join`ing on it. `Task` guards hold a
/// reference to this alone, so they work for every queue type.
pub(crate) struct Tasks {
    /// Items put and not yet marked done. Incremented under the state
    /// mutex (before the item becomes visible to getters, so a getter's
    /// `task_done` always finds its item counted), decremented lock-free.
    unfinished: CachePadded<AtomicUsize>,
    all_done: WaitQueue,
}

impl Tasks {
    fn new() -> Self {
        Tasks { unfinished: CachePadded::new(AtomicUsize::new(0)), all_done: WaitQueue::new() }
    }

    pub(crate) fn unfinished(&self) -> usize {
        self.unfinished.load(Ordering::Acquire)
    }

    /// Marks one task done; fails, changing nothing, if none is unfinished.
    pub(crate) fn done(&self) -> Result<(), TaskDoneError> {
        self.done_many(1, false)
    }

    /// Marks `n` tasks done. With `saturate`, stops at zero (shutdown
    /// discarding items some of which were already marked done); without
    /// it, fails unless `n` are unfinished.
    fn done_many(&self, n: usize, saturate: bool) -> Result<(), TaskDoneError> {
        let update = |left: usize| match left.checked_sub(n) {
            Some(rest) => Some(rest),
            None if saturate && left > 0 => Some(0),
            None => None,
        };
        match self.unfinished.fetch_update(Ordering::AcqRel, Ordering::Acquire, update) {
            Ok(before) => {
                if update(before) == Some(0) {
                    self.wake_joiners();
                }
                Ok(())
            }
            Err(_) if saturate => Ok(()),
            Err(_) => Err(TaskDoneError),
        }
    }

    fn wake_joiners(&self) {
        // Pairs with the fence in `join_until`: either the joiner sees the
        // count at zero, or this sees the joiner queued.
        fence(Ordering::SeqCst);
        self.all_done.notify_all();
    }

    /// Returns whether every task was done before `deadline`.
    fn join_until(&self, deadline: Option<Instant>) -> bool {
        loop {
            if self.unfinished() == 0 {
                return true;
            }
            if deadline::has_passed(deadline) {
                return false;
            }
            let waiter = self.all_done.enqueue();
            fence(Ordering::SeqCst);
            if self.unfinished() == 0 {
                // Notified or not, the count is zero: we are done.
                let _ = waiter.cancel();
                return true;
            }
            if waiter.wait(deadline) == WaitResult::TimedOut {
                return self.unfinished() == 0;
            }
        }
    }
}

/// Wakes one waiter of a queue if dropped during a panic: a thread that
/// unwinds after being chosen by a notify passes the wakeup on.
struct PassOnIfUnwinding<'a>(&'a WaitQueue);

impl Drop for PassOnIfUnwinding<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.notify_one();
        }
    }
}

/// A blocking queue generic over its ordering policy.
pub(crate) struct Core<P> {
    state: CachePadded<Mutex<State<P>>>,
    /// `None`: unbounded.
    capacity: Option<usize>,
    not_empty: WaitQueue,
    not_full: WaitQueue,
    pub(crate) tasks: Tasks,
}

impl<P: Policy> Core<P> {
    pub(crate) fn new(capacity: Option<usize>) -> Self {
        assert!(capacity != Some(0), "capacity must be at least 1");
        Core {
            state: CachePadded::new(Mutex::new(State { items: P::default(), shutdown: false })),
            capacity,
            not_empty: WaitQueue::new(),
            not_full: WaitQueue::new(),
            tasks: Tasks::new(),
        }
    }

    #[inline]
    fn has_room(&self, state: &State<P>) -> bool {
        self.capacity.is_none_or(|cap| state.items.len() < cap)
    }

    /// Puts `item`, blocking while full until `deadline` (`None`: forever).
    /// `block == false` (or a deadline already past) never blocks.
    pub(crate) fn put(
        &self,
        item: P::Item,
        deadline: Option<Instant>,
        block: bool,
    ) -> Result<(), PutError<P::Item>> {
        let mut state = self.state.lock();
        loop {
            // Shutdown first, then fullness, as CPython.
            if state.shutdown {
                return Err(PutError::ShutDown(item));
            }
            if self.has_room(&state) {
                break;
            }
            if !block || deadline::has_passed(deadline) {
                return Err(PutError::Full(item));
            }
            let waiter = self.not_full.enqueue();
            drop(state);
            let result = waiter.wait(deadline);
            state = self.state.lock();
            if result == WaitResult::TimedOut {
                if state.shutdown {
                    return Err(PutError::ShutDown(item));
                }
                if !self.has_room(&state) {
                    return Err(PutError::Full(item));
                }
                break;
            }
        }
        {
            // A panicking `Ord` leaves the items untouched; the room this
            // put may have been woken for goes to the next putter.
            let pass_on = PassOnIfUnwinding(&self.not_full);
            state.items.push(item);
            std::mem::forget(pass_on);
        }
        self.tasks.unfinished.fetch_add(1, Ordering::Relaxed);
        drop(state);
        self.not_empty.notify_one();
        Ok(())
    }

    /// Gets an item, blocking while empty until `deadline`.
    pub(crate) fn get(&self, deadline: Option<Instant>, block: bool) -> Result<P::Item, GetError> {
        let mut state = self.state.lock();
        loop {
            if let Some(item) = self.pop(&mut state) {
                drop(state);
                if self.capacity.is_some() {
                    self.not_full.notify_one();
                }
                return Ok(item);
            }
            // Items first, then shutdown, then emptiness, as CPython: a
            // shut-down queue still hands out what it holds.
            if state.shutdown {
                return Err(GetError::ShutDown);
            }
            if !block || deadline::has_passed(deadline) {
                return Err(GetError::Empty);
            }
            let waiter = self.not_empty.enqueue();
            drop(state);
            let result = waiter.wait(deadline);
            state = self.state.lock();
            if result == WaitResult::TimedOut {
                if let Some(item) = self.pop(&mut state) {
                    drop(state);
                    if self.capacity.is_some() {
                        self.not_full.notify_one();
                    }
                    return Ok(item);
                }
                return Err(if state.shutdown { GetError::ShutDown } else { GetError::Empty });
            }
        }
    }

    #[inline]
    fn pop(&self, state: &mut MutexGuard<'_, State<P>>) -> Option<P::Item> {
        // A panicking `Ord` leaves the items untouched; the wakeup this get
        // may have consumed goes to the next getter.
        let pass_on = PassOnIfUnwinding(&self.not_empty);
        let item = state.items.pop();
        std::mem::forget(pass_on);
        item
    }

    /// Python's `shutdown(immediate)`.
    pub(crate) fn shutdown(&self, immediate: bool) {
        let mut state = self.state.lock();
        state.shutdown = true;
        let discarded = if immediate { Some(state.items.take_all()) } else { None };
        drop(state);
        // Wake everyone before running any item's `Drop` (which may panic).
        self.not_empty.notify_all();
        self.not_full.notify_all();
        if let Some(discarded) = discarded {
            let _ = self.tasks.done_many(discarded.len(), true);
            // Dropped here, outside the mutex: an item's `Drop` may use the
            // queue. If one panics, the container still drops the rest.
            drop(discarded);
        }
    }

    pub(crate) fn join_until(&self, deadline: Option<Instant>) -> bool {
        self.tasks.join_until(deadline)
    }

    pub(crate) fn is_shutdown(&self) -> bool {
        self.state.lock().shutdown
    }

    pub(crate) fn len(&self) -> usize {
        self.state.lock().items.len()
    }

    pub(crate) fn is_full(&self) -> bool {
        !self.has_room(&self.state.lock())
    }

    pub(crate) fn capacity(&self) -> Option<usize> {
        self.capacity
    }
}

impl<P: Stored> Core<P> {
    pub(crate) fn fmt_fields(&self, name: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct(name);
        // Never blocks: a busy queue prints no length.
        match self.state.try_lock() {
            Some(state) => {
                d.field("len", &state.items.len()).field("is_shutdown", &state.shutdown);
            }
            None => {
                d.field("len", &format_args!("<locked>"));
            }
        }
        d.field("capacity", &self.capacity)
            .field("unfinished_tasks", &self.tasks.unfinished())
            .finish()
    }
}
