//! The core behind `LifoQueue`: a `Vec` under one lock, Python's design,
//! with the task accounting of `tasks.rs` and the waiting of the other
//! queues.
//!
//! # Why not the two-lock core
//!
//! `Queue` and `PriorityQueue` use the two-lock core (`two_lock.rs`), where
//! producers write slots and consumers take them without sharing a lock.
//! A last-in, first-out get gains little from that split: it must hand out
//! the newest item, so every get reads the slot the producers wrote last,
//! on the line they write next. With producers and consumers running at
//! once, that line moved between cores at every item (a consumer burned
//! about 40 ns of CPU per item it got, against 11–12 ns draining a full
//! queue), the consumers fell behind, and two of them then drained the
//! backlog taking turns on their lock. Under one lock a thread that holds
//! it runs its next operations on lines already in its cache, and the
//! stack never outgrows what the consumers keep up with by much.
//! (Benchmark `lifo_2p2c_unbounded`, four alternating runs each: two-lock
//! core median 24.2 ms, this core 17.4 ms; parking_lot
//! `Mutex<Vec>`+`Condvar`, the baseline, 19.8–41.7 ms in the same runs;
//! `lifo_4p4c_unbounded`: 24.8 -> 17.5 ms.)
//!
//! # Contended gets yield
//!
//! A get that finds the lock held yields the processor once before it
//! waits for it. Consumers that take turns on the lock at every item move
//! its line and the stack's top between cores at every get, while one
//! that runs several gets in a row finds them in its cache. (Same runs,
//! without the yield: 2P2C median 23.9 ms, 4P4C 21.5 ms.) Puts do not
//! yield: a put is what a waiting get needs, and in a scratch prototype
//! (a `Mutex<Vec>`, no task accounting) puts that yielded too made a
//! quarter of the 2P2C runs take over 50 ms.
//!
//! # Waiting
//!
//! A get that finds the stack empty registers on `not_empty` while it
//! still holds the lock; a put pushes under the lock and looks for waiters
//! after releasing it. The lock orders the two: the put either comes after
//! the registration, and its look sees the waiter, or before, and the get
//! found its item. Putters waiting for room on `not_full` mirror this.
//! `shutdown` sets its flag under the lock, so a thread about to register
//! sees it, and one already registered is woken by the `notify_all` after.
//! A woken thread that finds its item or room taken by a thread that did
//! not wait registers again: the item or room it was woken for went to a
//! thread that used it, so no other waiter needed that wakeup.
//!
//! Before registering, a waiting put or get spins with the lock released:
//! a few microseconds, or, in a queue of capacity under
//! `spin::HANDOFF_BELOW`, about as long as a woken thread takes to run.
//!
//! No user code runs under the lock (no comparisons; items are dropped
//! after it is released), so nothing here can panic half-way.

use std::mem;
use std::time::Instant;

use super::CoreState;
use super::tasks::{Credit, TakeSide, TaskCount, TaskSink, bump};
use crate::error::{GetError, PutError, TaskDoneError};
use crate::internal::deadline;
use crate::internal::spin::{room_batch, spin_before_parking};
use crate::internal::waiters::{WaitQueue, WaitResult, Waiter};
use crate::loom::CachePadded;
use crate::loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use crate::loom::sync::{Mutex, MutexGuard};
use crate::loom::thread::yield_now;

/// What the lock guards.
struct Stack<T> {
    /// The top is the end.
    items: Vec<T>,
    /// Tasks of queued items already marked done (see `tasks.rs`).
    early: usize,
}

/// What every put and get touches, on one line of its own.
struct Hot<T> {
    stack: Mutex<Stack<T>>,
    /// Items ever put, written only under `stack`: the task accounting's
    /// `put_total` (`tasks.rs`), and, with `taken_total`, a length that
    /// needs no lock.
    put_total: AtomicUsize,
    /// Items ever handed out (gotten or discarded), written only under
    /// `stack`.
    taken_total: AtomicUsize,
    /// Set under `stack`.
    shutdown: AtomicBool,
}

pub(crate) struct LifoCore<T> {
    hot: CachePadded<Hot<T>>,
    /// `None`: unbounded.
    capacity: Option<usize>,
    tasks: TaskCount,
    not_empty: WaitQueue,
    not_full: WaitQueue,
}

impl<T> LifoCore<T> {
    pub(crate) fn new(capacity: Option<usize>) -> Self {
        assert!(capacity != Some(0), "capacity must be at least 1");
        LifoCore {
            hot: CachePadded::new(Hot {
                stack: Mutex::new(Stack { items: Vec::new(), early: 0 }),
                put_total: AtomicUsize::new(0),
                taken_total: AtomicUsize::new(0),
                shutdown: AtomicBool::new(false),
            }),
            capacity,
            tasks: TaskCount::new(),
            not_empty: WaitQueue::new(),
            not_full: WaitQueue::new(),
        }
    }

    /// Whether a put may proceed. Called under the lock.
    #[inline]
    fn has_room(&self, stack: &Stack<T>) -> bool {
        self.capacity.is_none_or(|cap| stack.items.len() < cap)
    }

    /// Puts `item`, blocking while full until `deadline` (`None`: forever).
    /// `block == false` (or a deadline already past) never blocks.
    #[inline]
    pub(crate) fn put(
        &self,
        item: T,
        deadline: Option<Instant>,
        block: bool,
    ) -> Result<(), PutError<T>> {
        let stack = self.hot.stack.lock();
        // Shutdown first, then fullness, as CPython.
        if self.hot.shutdown.load(Ordering::Relaxed) || !self.has_room(&stack) {
            return self.put_slow(stack, item, deadline, block);
        }
        self.push(stack, item);
        Ok(())
    }

    #[cold]
    fn put_slow<'a>(
        &'a self,
        mut stack: MutexGuard<'a, Stack<T>>,
        item: T,
        deadline: Option<Instant>,
        block: bool,
    ) -> Result<(), PutError<T>> {
        let mut spun = false;
        loop {
            if self.hot.shutdown.load(Ordering::Relaxed) {
                return Err(PutError::ShutDown(item));
            }
            if self.has_room(&stack) {
                break;
            }
            if !block || deadline::has_passed(deadline) {
                return Err(PutError::Full(item));
            }
            if !spun {
                // A handoff between running threads completes faster than
                // registering and being woken. Wait for room for a batch of
                // puts, not just one (see `room_batch`).
                spun = true;
                drop(stack);
                let batch = room_batch(self.capacity);
                spin_before_parking(self.capacity, deadline, || {
                    self.len().saturating_add(batch) <= self.capacity.unwrap_or(usize::MAX)
                        || self.hot.shutdown.load(Ordering::Relaxed)
                });
                stack = self.hot.stack.lock();
                continue;
            }
            // Registered under the lock: see "Waiting".
            let waiter = self.register(&self.not_full, stack);
            let result = waiter.wait(deadline);
            stack = self.hot.stack.lock();
            if result == WaitResult::TimedOut {
                // One last look, with the deadline past.
                if self.hot.shutdown.load(Ordering::Relaxed) {
                    return Err(PutError::ShutDown(item));
                }
                if !self.has_room(&stack) {
                    return Err(PutError::Full(item));
                }
                break;
            }
        }
        self.push(stack, item);
        Ok(())
    }

    /// Queues the calling thread on `waiters`, then releases the lock.
    fn register<'a>(&self, waiters: &'a WaitQueue, stack: MutexGuard<'_, Stack<T>>) -> Waiter<'a> {
        if cfg!(feature = "_broken_lifo_register_unlocked") {
            drop(stack);
            return waiters.enqueue();
        }
        let waiter = waiters.enqueue();
        drop(stack);
        waiter
    }

    /// Pushes `item`, unlocks and wakes a getter. The caller checked
    /// shutdown and room under the lock.
    #[inline]
    fn push(&self, mut stack: MutexGuard<'_, Stack<T>>, item: T) {
        stack.items.push(item);
        // Counted under the lock, before any get can take the item, so a
        // getter's `task_done` always finds it counted.
        bump(&self.hot.put_total, Ordering::Release);
        drop(stack);
        // Ordered after any getter's registration by the lock.
        self.not_empty.notify_one();
    }

    /// Gets the newest item, blocking while empty until `deadline`.
    #[inline]
    pub(crate) fn get(&self, deadline: Option<Instant>, block: bool) -> Result<T, GetError> {
        // Looked up before locking, to keep the critical section short.
        let credit = self.tasks.credit();
        let mut stack = self.lock_for_get();
        match stack.items.pop() {
            Some(item) => Ok(self.taken(stack, item, credit)),
            None => self.get_slow(stack, credit, deadline, block),
        }
    }

    /// Locks for a get; one that finds the lock held yields the processor
    /// once first (see "Contended gets yield").
    #[inline]
    fn lock_for_get(&self) -> MutexGuard<'_, Stack<T>> {
        match self.hot.stack.try_lock() {
            Some(stack) => stack,
            None => self.lock_contended(),
        }
    }

    #[cold]
    fn lock_contended(&self) -> MutexGuard<'_, Stack<T>> {
        yield_now();
        self.hot.stack.lock()
    }

    #[cold]
    fn get_slow<'a>(
        &'a self,
        mut stack: MutexGuard<'a, Stack<T>>,
        credit: &Credit,
        deadline: Option<Instant>,
        block: bool,
    ) -> Result<T, GetError> {
        let mut spun = false;
        loop {
            // Items first, then shutdown, then emptiness, as CPython.
            if let Some(item) = stack.items.pop() {
                return Ok(self.taken(stack, item, credit));
            }
            if self.hot.shutdown.load(Ordering::Relaxed) {
                return Err(GetError::ShutDown);
            }
            if !block || deadline::has_passed(deadline) {
                return Err(GetError::Empty);
            }
            if !spun {
                // As in `put_slow`.
                spun = true;
                drop(stack);
                spin_before_parking(self.capacity, deadline, || {
                    self.len() > 0 || self.hot.shutdown.load(Ordering::Relaxed)
                });
                stack = self.lock_for_get();
                continue;
            }
            // Registered under the lock: see "Waiting".
            let waiter = self.register(&self.not_empty, stack);
            let result = waiter.wait(deadline);
            stack = self.hot.stack.lock();
            if result == WaitResult::TimedOut {
                // One last look, with the deadline past.
                return match stack.items.pop() {
                    Some(item) => Ok(self.taken(stack, item, credit)),
                    None if self.hot.shutdown.load(Ordering::Relaxed) => Err(GetError::ShutDown),
                    None => Err(GetError::Empty),
                };
            }
        }
    }

    /// Counts `item`, just popped, as `credit`'s task, then unlocks and
    /// wakes a putter.
    #[inline]
    fn taken(&self, mut stack: MutexGuard<'_, Stack<T>>, item: T, credit: &Credit) -> T {
        bump(&self.hot.taken_total, Ordering::Release);
        self.tasks.taken(&mut stack.early, credit);
        drop(stack);
        if self.capacity.is_some() {
            // Ordered after any putter's registration by the lock.
            self.not_full.notify_one();
        }
        item
    }

    /// Python's `shutdown(immediate)`.
    pub(crate) fn shutdown(&self, immediate: bool) {
        let mut stack = self.hot.stack.lock();
        self.hot.shutdown.store(true, Ordering::Release);
        let mut discarded = Vec::new();
        if immediate {
            discarded = mem::take(&mut stack.items);
            let n = discarded.len();
            let taken = self.hot.taken_total.load(Ordering::Relaxed);
            self.hot.taken_total.store(taken + n, Ordering::Release);
            self.tasks.discard(n, &mut stack.early);
        }
        drop(stack);
        if immediate {
            self.tasks.wake_joiners_if_done(&self.hot.put_total);
        }
        // Wake everyone before running any item's `Drop` (which may panic).
        self.not_empty.notify_all();
        self.not_full.notify_all();
        // Dropped outside the lock: an item's `Drop` may use the queue. If
        // one panics, the `Vec` still drops the rest.
        drop(discarded);
    }

    pub(crate) fn join_until(&self, deadline: Option<Instant>) -> bool {
        self.tasks.join_until(&self.hot.put_total, deadline)
    }
}

impl<T> CoreState for LifoCore<T> {
    /// `taken_total` is read first: both totals only grow and never cross,
    /// so the difference cannot underflow.
    fn len(&self) -> usize {
        let taken = self.hot.taken_total.load(Ordering::Acquire);
        self.hot.put_total.load(Ordering::Acquire) - taken
    }

    fn capacity(&self) -> Option<usize> {
        self.capacity
    }

    fn unfinished(&self) -> usize {
        self.tasks.unfinished(&self.hot.put_total)
    }

    fn is_shutdown(&self) -> bool {
        self.hot.shutdown.load(Ordering::Acquire)
    }
}

impl<T> TakeSide for LifoCore<T> {
    fn put_total(&self) -> &AtomicUsize {
        &self.hot.put_total
    }

    fn with_takes<R>(&self, f: impl FnOnce(&mut usize, usize) -> R) -> R {
        let mut stack = self.hot.stack.lock();
        // Both totals change only under the lock, so the stack's length is
        // exactly the queued count.
        let queued = stack.items.len();
        f(&mut stack.early, queued)
    }
}

impl<T> TaskSink for LifoCore<T> {
    fn task_done(&self) -> Result<(), TaskDoneError> {
        self.tasks.task_done(self)
    }
}
