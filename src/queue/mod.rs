//! The blocking queues of Python's `queue` module: [`Queue`] (FIFO),
//! [`LifoQueue`] and [`PriorityQueue`], with `task_done` / `join` task
//! tracking, the RAII [`Task`] guard, and CPython 3.13's `shutdown`.
//!
//! `Queue` and `PriorityQueue` share one core ([`two_lock`]): producers
//! and consumers each have a lock and meet only at the slot handed over,
//! so a put never waits for a get's work, nor a get for a put's. What a get
//! takes is the core's take order: the oldest slot (`Queue`) or the
//! smallest item ([`priority`]: the consumers move the ready slots into a
//! stable heap). `LifoQueue` has a core of its own ([`lifo`]): a stack
//! under one lock, because a get that must hand out the newest item reads
//! what producers just wrote anyway. The waiters for not-empty / not-full
//! / all-done are [`WaitQueue`]s, and tasks are counted as [`tasks`]
//! describes, so that `task_done` takes no lock.
//!
//! # Differences from Python's `queue`
//!
//! | Python | threadkit |
//! | --- | --- |
//! | `Queue(maxsize=0)` | `Queue::new()`; `Queue::bounded(n)` (0 panics: use `new`) |
//! | `put(item, block, timeout)` | `put`, `try_put` (`put_nowait`), `put_timeout`, `put_deadline` |
//! | `get(block, timeout)` | `get`, `try_get` (`get_nowait`), `get_timeout`, `get_deadline`, and `get_task` |
//! | `queue.Full` / `queue.Empty` / `queue.ShutDown` | [`PutError`] / [`GetError`] / [`ShutDown`]; a rejected item comes back inside the error |
//! | `task_done()` raising `ValueError` | returns [`TaskDoneError`] and changes nothing |
//! | `join()` | `join`, plus `join_timeout` / `join_deadline` |
//! | `qsize()`, `empty()`, `full()`, `maxsize` | `len`, `is_empty`, `is_full`, `capacity` |
//! | `PriorityQueue` of `(priority, item)` tuples, ties broken by comparing items | any `T: Ord`; equal items come out in put order |
//! | `shutdown(immediate=False/True)` | `shutdown` / `shutdown_immediate` |
//!
//! Python's `SimpleQueue` has no counterpart: `Queue::new()` without
//! `task_done` is that.
//!
//! [`WaitQueue`]: crate::internal::waiters::WaitQueue
//! [`PutError`]: crate::PutError
//! [`GetError`]: crate::GetError
//! [`ShutDown`]: crate::ShutDown
//! [`TaskDoneError`]: crate::TaskDoneError

pub(crate) mod lifo;
pub(crate) mod priority;
mod task;
pub(crate) mod tasks;
pub(crate) mod two_lock;

use std::fmt;
use std::panic::{RefUnwindSafe, UnwindSafe};
use std::time::{Duration, Instant};

use self::lifo::LifoCore;
use self::priority::Priority;
use self::two_lock::{Fifo, TwoLockCore};
use crate::error::{GetError, PutError, ShutDown, TaskDoneError};
use crate::internal::deadline;

pub use self::task::Task;

/// The snapshots a queue type reads from its core, and what follows from
/// them.
pub(crate) trait CoreState {
    /// A snapshot of the number of queued items.
    fn len(&self) -> usize;
    fn capacity(&self) -> Option<usize>;
    fn unfinished(&self) -> usize;
    fn is_shutdown(&self) -> bool;

    fn is_full(&self) -> bool {
        self.capacity().is_some_and(|cap| self.len() >= cap)
    }

    /// The queue's `Debug`: counts only, never the items.
    fn fmt_fields(&self, name: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(name)
            .field("len", &self.len())
            .field("capacity", &self.capacity())
            .field("unfinished_tasks", &self.unfinished())
            .field("is_shutdown", &self.is_shutdown())
            .finish()
    }
}

macro_rules! queue_type {
    (
        $(#[$attr:meta])*
        $name:ident, $core:ty, [$($bound:tt)*], $order:literal
    ) => {
        $(#[$attr])*
        pub struct $name<T> {
            core: $core,
        }

        impl<T: $($bound)*> $name<T> {
            #[doc = concat!("Creates an unbounded ", $order, " queue.")]
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let q = threadkit::", stringify!($name), "::new();")]
            /// q.put(1).unwrap();
            /// assert_eq!(q.capacity(), None);
            /// ```
            pub fn new() -> Self {
                $name { core: <$core>::new(None) }
            }

            #[doc = concat!("Creates a ", $order, " queue holding at most `capacity` items; `put` blocks while it is full.")]
            ///
            /// Nothing is allocated up front, so any capacity (even
            /// `usize::MAX`) is cheap.
            ///
            /// A capacity under 16 makes a handoff queue: a blocked `put`
            /// or `get` there polls for about 50 µs (never past its
            /// deadline) before it sleeps, so that a producer and a
            /// consumer handing items over one by one keep running instead
            /// of waking each other at every item. Larger and unbounded
            /// queues spin only a few microseconds. A waiting getter spins
            /// holding the consumers' internal lock (and a putter the
            /// producers'), so a `try_get` (`try_put`) on the same side
            /// may wait that long for the lock; it never waits for an item
            /// (room). (Spinning with the lock released, so that others
            /// could take it, made capacity-1 handoffs twice as slow.)
            ///
            /// # Panics
            ///
            /// If `capacity` is 0, with the message "capacity must be at
            /// least 1" (Python's `maxsize=0` means unbounded: use `new`).
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let q = threadkit::", stringify!($name), "::bounded(1);")]
            /// q.put(1).unwrap();
            /// assert!(q.is_full());
            /// assert!(q.try_put(2).is_err());
            /// ```
            pub fn bounded(capacity: usize) -> Self {
                $name { core: <$core>::new(Some(capacity)) }
            }

            /// Puts `item`, blocking while the queue is full.
            ///
            /// # Errors
            ///
            /// [`ShutDown`] with the item if the queue is (or, while this
            /// call blocks, gets) shut down.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let q = threadkit::", stringify!($name), "::new();")]
            /// q.put("job").unwrap();
            /// assert_eq!(q.len(), 1);
            /// ```
            pub fn put(&self, item: T) -> Result<(), ShutDown<T>> {
                self.core.put(item, None, true).map_err(|e| ShutDown(e.into_inner()))
            }

            /// Puts `item`, waiting at most `timeout` for room.
            /// `Duration::MAX` waits forever; a zero timeout is `try_put`.
            ///
            /// # Errors
            ///
            /// [`PutError::ShutDown`] if the queue is shut down (checked
            /// first), [`PutError::Full`] if no room came in time; both
            /// carry the item back.
            ///
            /// # Examples
            ///
            /// ```
            /// use std::time::Duration;
            #[doc = concat!("let q = threadkit::", stringify!($name), "::bounded(1);")]
            /// q.put(1).unwrap();
            /// let err = q.put_timeout(2, Duration::from_millis(5)).unwrap_err();
            /// assert_eq!(err.into_inner(), 2);
            /// ```
            pub fn put_timeout(&self, item: T, timeout: Duration) -> Result<(), PutError<T>> {
                self.core.put(item, deadline::after(timeout), true)
            }

            /// Puts `item`, waiting until `deadline` at the latest for room.
            ///
            /// # Errors
            ///
            /// As [`put_timeout`](Self::put_timeout).
            ///
            /// # Examples
            ///
            /// ```
            /// use std::time::{Duration, Instant};
            #[doc = concat!("let q = threadkit::", stringify!($name), "::new();")]
            /// q.put_deadline(1, Instant::now() + Duration::from_secs(1)).unwrap();
            /// ```
            pub fn put_deadline(&self, item: T, deadline: Instant) -> Result<(), PutError<T>> {
                self.core.put(item, Some(deadline), true)
            }

            /// Puts `item` if there is room now, without blocking
            /// (Python's `put_nowait`).
            ///
            /// # Errors
            ///
            /// [`PutError::ShutDown`] (checked first) or [`PutError::Full`],
            /// with the item.
            ///
            /// # Examples
            ///
            /// ```
            /// use threadkit::PutError;
            #[doc = concat!("let q = threadkit::", stringify!($name), "::bounded(1);")]
            /// q.try_put(1).unwrap();
            /// assert!(matches!(q.try_put(2), Err(PutError::Full(2))));
            /// ```
            pub fn try_put(&self, item: T) -> Result<(), PutError<T>> {
                self.core.put(item, None, false)
            }

            #[doc = concat!("Removes and returns the next item (", $order, "), blocking while the queue is empty.")]
            ///
            /// # Errors
            ///
            /// [`ShutDown`] once the queue is shut down and empty (items put
            /// before the shutdown are still handed out).
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let q = threadkit::", stringify!($name), "::new();")]
            /// q.put(7).unwrap();
            /// assert_eq!(q.get(), Ok(7));
            /// ```
            pub fn get(&self) -> Result<T, ShutDown> {
                self.core.get(None, true).map_err(|_| ShutDown(()))
            }

            /// Removes and returns the next item, waiting at most `timeout`.
            ///
            /// # Errors
            ///
            /// [`GetError::ShutDown`] if shut down and empty,
            /// [`GetError::Empty`] if nothing came in time.
            ///
            /// # Examples
            ///
            /// ```
            /// use std::time::Duration;
            /// use threadkit::GetError;
            #[doc = concat!("let q = threadkit::", stringify!($name), "::<u8>::new();")]
            /// assert_eq!(q.get_timeout(Duration::from_millis(5)), Err(GetError::Empty));
            /// ```
            pub fn get_timeout(&self, timeout: Duration) -> Result<T, GetError> {
                self.core.get(deadline::after(timeout), true)
            }

            /// Removes and returns the next item, waiting until `deadline`
            /// at the latest.
            ///
            /// # Errors
            ///
            /// As [`get_timeout`](Self::get_timeout).
            ///
            /// # Examples
            ///
            /// ```
            /// use std::time::Instant;
            #[doc = concat!("let q = threadkit::", stringify!($name), "::new();")]
            /// q.put(1).unwrap();
            /// assert_eq!(q.get_deadline(Instant::now()), Ok(1));
            /// ```
            pub fn get_deadline(&self, deadline: Instant) -> Result<T, GetError> {
                self.core.get(Some(deadline), true)
            }

            /// Removes and returns the next item if there is one, without
            /// blocking (Python's `get_nowait`).
            ///
            /// # Errors
            ///
            /// [`GetError::ShutDown`] if shut down and empty, else
            /// [`GetError::Empty`] if empty.
            ///
            /// # Examples
            ///
            /// ```
            /// use threadkit::GetError;
            #[doc = concat!("let q = threadkit::", stringify!($name), "::<u8>::new();")]
            /// assert_eq!(q.try_get(), Err(GetError::Empty));
            /// ```
            pub fn try_get(&self) -> Result<T, GetError> {
                self.core.get(None, false)
            }

            /// Like [`get`](Self::get), but returns the item in a [`Task`]
            /// guard that calls `task_done` when dropped (also during a
            /// panic).
            ///
            /// # Errors
            ///
            /// [`ShutDown`] once the queue is shut down and empty.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let q = threadkit::", stringify!($name), "::new();")]
            /// q.put(1).unwrap();
            /// let task = q.get_task().unwrap();
            /// assert_eq!(*task, 1);
            /// drop(task);
            /// assert_eq!(q.unfinished_tasks(), 0);
            /// ```
            pub fn get_task(&self) -> Result<Task<'_, T>, ShutDown> {
                let item = self.get()?;
                Ok(Task::new(item, &self.core))
            }

            /// Marks one item as processed, for [`join`](Self::join).
            ///
            /// # Errors
            ///
            /// [`TaskDoneError`] if called more times than items were put;
            /// nothing changes then.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let q = threadkit::", stringify!($name), "::new();")]
            /// q.put(1).unwrap();
            /// q.get().unwrap();
            /// q.task_done().unwrap();
            /// assert!(q.task_done().is_err());
            /// ```
            pub fn task_done(&self) -> Result<(), TaskDoneError> {
                tasks::TaskSink::task_done(&self.core)
            }

            /// Blocks until every item put has been marked done
            /// (`task_done`, or a dropped [`Task`]).
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let q = threadkit::", stringify!($name), "::new();")]
            /// std::thread::scope(|s| {
            ///     s.spawn(|| {
            ///         while let Ok(task) = q.get_task() {
            ///             let _ = *task; // work
            ///         }
            ///     });
            ///     for i in 0..10 {
            ///         q.put(i).unwrap();
            ///     }
            ///     q.join();
            ///     assert_eq!(q.unfinished_tasks(), 0);
            ///     q.shutdown();
            /// });
            /// ```
            pub fn join(&self) {
                self.core.join_until(None);
            }

            /// Like [`join`](Self::join), giving up after `timeout`. Returns
            /// `true` if every task was done.
            ///
            /// # Examples
            ///
            /// ```
            /// use std::time::Duration;
            #[doc = concat!("let q = threadkit::", stringify!($name), "::new();")]
            /// q.put(1).unwrap();
            /// assert!(!q.join_timeout(Duration::from_millis(5)));
            /// ```
            pub fn join_timeout(&self, timeout: Duration) -> bool {
                self.core.join_until(deadline::after(timeout))
            }

            /// Like [`join`](Self::join), giving up at `deadline`. Returns
            /// `true` if every task was done.
            ///
            /// # Examples
            ///
            /// ```
            /// use std::time::Instant;
            #[doc = concat!("let q = threadkit::", stringify!($name), "::<u8>::new();")]
            /// assert!(q.join_deadline(Instant::now()));
            /// ```
            pub fn join_deadline(&self, deadline: Instant) -> bool {
                self.core.join_until(Some(deadline))
            }

            /// How many items were put and not yet marked done.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let q = threadkit::", stringify!($name), "::new();")]
            /// q.put(1).unwrap();
            /// assert_eq!(q.unfinished_tasks(), 1);
            /// ```
            pub fn unfinished_tasks(&self) -> usize {
                self.core.unfinished()
            }

            /// Shuts the queue down (Python 3.13 `shutdown()`): puts fail
            /// from now on, gets return the remaining items and then fail,
            /// and every blocked putter and getter wakes up. `join` still
            /// waits for the items already handed out.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let q = threadkit::", stringify!($name), "::new();")]
            /// q.put(1).unwrap();
            /// q.shutdown();
            /// assert!(q.put(2).is_err());
            /// assert_eq!(q.get(), Ok(1));
            /// assert!(q.get().is_err());
            /// ```
            pub fn shutdown(&self) {
                self.core.shutdown(false);
            }

            /// Shuts the queue down and discards its items (Python 3.13
            /// `shutdown(immediate=True)`): each discarded item is dropped
            /// (outside the queue's lock) and counted as done, so `join`
            /// returns once the items already handed out are done.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let q = threadkit::", stringify!($name), "::new();")]
            /// q.put(1).unwrap();
            /// q.shutdown_immediate();
            /// assert!(q.is_empty());
            /// assert_eq!(q.unfinished_tasks(), 0);
            /// ```
            pub fn shutdown_immediate(&self) {
                self.core.shutdown(true);
            }

            /// Whether the queue has been shut down.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let q = threadkit::", stringify!($name), "::<u8>::new();")]
            /// q.shutdown();
            /// assert!(q.is_shutdown());
            /// ```
            pub fn is_shutdown(&self) -> bool {
                self.core.is_shutdown()
            }

            /// How many items are queued (a snapshot; Python's `qsize`).
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let q = threadkit::", stringify!($name), "::new();")]
            /// q.put(1).unwrap();
            /// assert_eq!(q.len(), 1);
            /// ```
            pub fn len(&self) -> usize {
                self.core.len()
            }

            /// Whether no item is queued (a snapshot).
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let q = threadkit::", stringify!($name), "::<u8>::new();")]
            /// assert!(q.is_empty());
            /// ```
            pub fn is_empty(&self) -> bool {
                self.core.len() == 0
            }

            /// Whether a bounded queue is at capacity (a snapshot; always
            /// `false` when unbounded).
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let q = threadkit::", stringify!($name), "::bounded(1);")]
            /// q.put(1).unwrap();
            /// assert!(q.is_full());
            /// ```
            pub fn is_full(&self) -> bool {
                self.core.is_full()
            }

            /// The capacity given to `bounded`, or `None` if unbounded.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let q = threadkit::", stringify!($name), "::<u8>::bounded(3);")]
            /// assert_eq!(q.capacity(), Some(3));
            /// ```
            pub fn capacity(&self) -> Option<usize> {
                self.core.capacity()
            }
        }

        impl<T: $($bound)*> Default for $name<T> {
            /// An unbounded queue.
            fn default() -> Self {
                $name::new()
            }
        }

        // As std's `Mutex` and crossbeam-channel's `Sender`/`Receiver`: a
        // panic in user code (`Ord`, `Drop`, a worker) leaves the queue
        // whole (no item lost, duplicated or half-moved), and items are never
        // mutated in place, so nothing broken can be observed through it.
        impl<T> UnwindSafe for $name<T> {}
        impl<T> RefUnwindSafe for $name<T> {}

        impl<T> fmt::Debug for $name<T> {
            /// Never blocks; never prints the items.
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.core.fmt_fields(stringify!($name), f)
            }
        }
    };
}

queue_type! {
    /// A first-in, first-out blocking queue with task tracking (Python's
    /// `queue.Queue`).
    ///
    /// # Examples
    ///
    /// A pool of workers, and `join` to wait for all the work:
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// use threadkit::Queue;
    ///
    /// let jobs = Queue::new();
    /// let total = AtomicU32::new(0);
    /// std::thread::scope(|s| {
    ///     for _ in 0..3 {
    ///         s.spawn(|| {
    ///             while let Ok(job) = jobs.get_task() {
    ///                 total.fetch_add(*job, Ordering::Relaxed);
    ///             }
    ///         });
    ///     }
    ///     for job in 1..=10 {
    ///         jobs.put(job).unwrap();
    ///     }
    ///     jobs.join();
    ///     assert_eq!(total.load(Ordering::Relaxed), 55);
    ///     jobs.shutdown(); // the workers' `get_task` fails and they exit
    /// });
    /// ```
    ///
    /// A queue of `!Send` items cannot be shared between threads (with
    /// `1u32` instead of `Rc::new(1)` this compiles):
    ///
    /// ```compile_fail,E0277
    /// use std::rc::Rc;
    /// let q = threadkit::Queue::new();
    /// q.put(Rc::new(1)).unwrap();
    /// std::thread::scope(|s| {
    ///     s.spawn(|| q.len());
    /// });
    /// ```
    Queue, TwoLockCore<T, Fifo>, [Sized], "first-in, first-out"
}

queue_type! {
    /// A last-in, first-out blocking queue (a stack) with task tracking
    /// (Python's `queue.LifoQueue`).
    ///
    /// # Examples
    ///
    /// ```
    /// let q = threadkit::LifoQueue::new();
    /// for i in 1..=3 {
    ///     q.put(i).unwrap();
    /// }
    /// assert_eq!(q.get(), Ok(3));
    /// assert_eq!(q.get(), Ok(2));
    /// ```
    LifoQueue, LifoCore<T>, [Sized], "last-in, first-out"
}

queue_type! {
    /// A blocking priority queue with task tracking (Python's
    /// `queue.PriorityQueue`): the smallest item comes out first, and items
    /// that compare equal come out in the order they were put.
    ///
    /// The comparisons run under the queue's internal locks: an `Ord` that
    /// uses the same queue may deadlock. A `put` compares its item only
    /// with itself (so that an item whose comparisons panic fails the put
    /// that brought it, as Python's `put` raises); gets compare the items
    /// with each other. A panicking `Ord` leaves the queue usable, with no
    /// item lost or duplicated: the panicking `put` does not insert its
    /// item, and a panicking `get` leaves every item queued.
    ///
    /// An unbounded queue never makes `put` wait for room, but a `put`
    /// far ahead of consumers that are busy taking items yields to them
    /// for a moment (it spins for at most a few microseconds; `try_put`
    /// never does): a heap that grows large makes every `get` slower, so
    /// consumers that fall behind would otherwise fall further behind.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = threadkit::PriorityQueue::new();
    /// q.put((2, "write report")).unwrap();
    /// q.put((1, "fix outage")).unwrap();
    /// q.put((2, "answer mail")).unwrap();
    /// assert_eq!(q.get().unwrap().1, "fix outage");
    /// assert_eq!(q.get().unwrap().1, "answer mail"); // (2, "answer mail") < (2, "write report")
    /// ```
    PriorityQueue, TwoLockCore<T, Priority<T>>, [Ord], "smallest-first"
}
