//! `Event`: a one-bit flag threads can wait for, Python's `threading.Event`.
//!
//! One thread [`set`](Event::set)s the flag; every thread waiting for it is
//! released, and later waits return at once until the flag is
//! [`clear`](Event::clear)ed. `is_set` is a single atomic load.
//!
//! Differences from Python: the timed waits are `wait_timeout(Duration)` and
//! `wait_deadline(Instant)` (Python's `wait(timeout)`); like Python they
//! return the flag, so a waiter released by `set` returns `true` even if
//! another thread cleared the flag again before the waiter ran. Rust's
//! standard library has no event; the usual substitute is a
//! `Mutex<bool>` plus `Condvar`, which this replaces with less code and a
//! lock-free `is_set`.

use std::fmt;
use std::panic::{RefUnwindSafe, UnwindSafe};
use std::time::{Duration, Instant};

use crate::internal::deadline;
use crate::internal::waiters::{WaitQueue, WaitResult};
use crate::loom::sync::atomic::{AtomicBool, Ordering};

/// A flag that threads can wait for (Python's `threading.Event`).
///
/// # Examples
///
/// Five threads wait for one signal:
///
/// ```
/// use threadkit::Event;
///
/// let start = Event::new();
/// std::thread::scope(|s| {
///     for _ in 0..5 {
///         s.spawn(|| {
///             start.wait();
///             assert!(start.is_set());
///         });
///     }
///     start.set();
/// });
/// ```
pub struct Event {
    flag: AtomicBool,
    waiters: WaitQueue,
}

impl Event {
    /// Creates an event whose flag is not set.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!threadkit::Event::new().is_set());
    /// ```
    pub fn new() -> Self {
        Event { flag: AtomicBool::new(false), waiters: WaitQueue::new() }
    }

    /// Sets the flag and wakes every thread waiting for it.
    ///
    /// # Examples
    ///
    /// ```
    /// let e = threadkit::Event::new();
    /// e.set();
    /// assert!(e.is_set());
    /// e.wait(); // returns at once
    /// ```
    pub fn set(&self) {
        // The flag changes under the queue's mutex, where waiters check it
        // before queueing, so each waiter either saw the flag or is queued
        // here (no lost wakeup). Changing it before taking the mutex would
        // let a `clear` and a new waiter slip in between, and this `set`
        // would wake that waiter although the flag was clear all the time it
        // waited (a spurious wakeup, found by the loom model
        // `ping_pong_rounds_never_wake_early`). No lock-free shortcut for an
        // already-set flag: the swap, a release, also publishes this
        // thread's earlier writes to whoever next sees the flag set.
        self.waiters.notify_all_if(|| !self.flag.swap(true, Ordering::AcqRel));
    }

    /// Clears the flag: later waits block until the next `set`.
    ///
    /// # Examples
    ///
    /// ```
    /// let e = threadkit::Event::new();
    /// e.set();
    /// e.clear();
    /// assert!(!e.is_set());
    /// ```
    pub fn clear(&self) {
        self.flag.store(false, Ordering::Release);
    }

    /// Whether the flag is set: one atomic load.
    ///
    /// # Examples
    ///
    /// ```
    /// let e = threadkit::Event::new();
    /// assert!(!e.is_set());
    /// ```
    #[inline]
    pub fn is_set(&self) -> bool {
        self.flag.load(Ordering::Acquire)
    }

    /// Blocks until the flag is set (returns at once if it is).
    ///
    /// # Examples
    ///
    /// ```
    /// use threadkit::Event;
    ///
    /// let done = Event::new();
    /// std::thread::scope(|s| {
    ///     s.spawn(|| done.set());
    ///     done.wait();
    /// });
    /// ```
    pub fn wait(&self) {
        self.wait_until(None);
    }

    /// Blocks until the flag is set or `timeout` passes. Returns the flag,
    /// as Python does: `true` if it was set (even if cleared again since
    /// this waiter was released), `false` on timeout. `Duration::MAX` waits
    /// forever; a zero timeout just reads the flag.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let e = threadkit::Event::new();
    /// assert!(!e.wait_timeout(Duration::from_millis(5)));
    /// e.set();
    /// assert!(e.wait_timeout(Duration::ZERO));
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.wait_until(deadline::after(timeout))
    }

    /// Blocks until the flag is set or `deadline` passes; returns the flag
    /// as [`wait_timeout`](Self::wait_timeout) does.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let e = threadkit::Event::new();
    /// assert!(!e.wait_deadline(Instant::now() + Duration::from_millis(5)));
    /// ```
    pub fn wait_deadline(&self, deadline: Instant) -> bool {
        self.wait_until(Some(deadline))
    }

    fn wait_until(&self, deadline: Option<Instant>) -> bool {
        // Read the flag once: re-reading it to build the return value could
        // see a `clear` that landed in between and report `false` for a wait
        // that found the flag set (found by the loom model
        // `set_then_clear_releases_the_waiter_with_true`).
        let set = self.is_set();
        if set || deadline::has_passed(deadline) {
            return set;
        }
        let Some(waiter) = self.waiters.enqueue_unless(|_, _| self.is_set()) else {
            return true;
        };
        match waiter.wait(deadline) {
            // Released by `set`: report the flag as it was then.
            WaitResult::Notified => true,
            WaitResult::TimedOut => self.is_set(),
        }
    }
}

// A flag and a waiter queue, both consistent after any panic (no user code
// runs inside an `Event`).
impl UnwindSafe for Event {}
impl RefUnwindSafe for Event {}

impl Default for Event {
    fn default() -> Self {
        Event::new()
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event").field("is_set", &self.is_set()).finish()
    }
}
