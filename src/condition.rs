//! `Condition`: a condition variable, Python's `threading.Condition`.
//!
//! A thread holding a lock waits on a `Condition` for another thread to
//! change the protected state and notify it. Unlike Python's, the lock is
//! not built into the `Condition`: pass the guard of a [`Lock`](crate::Lock)
//! or an [`RLock`](crate::RLock) to each `wait*` call.
//!
//! # Differences from Python's `threading.Condition`
//!
//! | Python | threadkit |
//! | --- | --- |
//! | `Condition(lock)` owns its lock | `Condition::new()`; the lock travels in the guard passed to `wait` |
//! | `wait(timeout)` returns `False` on timeout | `wait_timeout` / `wait_deadline` return a [`WaitTimeoutResult`] |
//! | `wait_for(predicate, timeout)` | `wait_while(guard, \|s\| !predicate(s))` and its timed forms |
//! | `notify(n)` returns `None` | `notify(n)` returns how many were woken; `notify_one` returns whether one was |
//! | notify without the lock raises `RuntimeError` | allowed, as in std (but change the state under the lock) |
//! | with an `RLock`: `_release_save` / `_acquire_restore` | the same: every level is released during the wait and restored after |
//!
//! # Differences from `std::sync::Condvar` and `parking_lot::Condvar`
//!
//! - No spurious wakeups: `wait` returns only when a notify chose this
//!   waiter (or, for timed waits, at the deadline).
//! - Waiters are woken in FIFO order, the longest waiting first.
//! - `notify(n)` wakes up to `n` waiters and the notify methods report how
//!   many they woke.
//! - Works with reentrant locks ([`RLockGuard`](crate::RLockGuard)).
//! - Timeouts never panic on overflow: `Duration::MAX` waits forever.

use std::fmt;
use std::ops::Deref;
use std::panic::{RefUnwindSafe, UnwindSafe};
use std::time::{Duration, Instant};

use crate::internal::deadline;
use crate::internal::waiters::{WaitQueue, WaitResult};
use crate::lock::LockGuard;
use crate::rlock::RLockGuard;

/// A guard that a [`Condition`] can wait with: [`LockGuard`] and
/// [`RLockGuard`]. Sealed: it cannot be implemented outside threadkit.
///
/// # Examples
///
/// ```
/// use threadkit::{Condition, Lock, Waitable};
///
/// fn wait_until_positive<G: Waitable<Target = i32>>(cond: &Condition, guard: &mut G) {
///     cond.wait_while(guard, |n| *n <= 0);
/// }
///
/// let lock = Lock::new(1);
/// let cond = Condition::new();
/// wait_until_positive(&cond, &mut lock.lock()); // already positive: returns at once
/// ```
pub trait Waitable: Deref + sealed::Sealed {}

mod sealed {
    /// The operations `Condition` needs from a guard.
    #[allow(unreachable_pub)] // public in a private module: seals `Waitable`
    pub trait Sealed {
        /// Identifies the lock (its ordering key: unique, never reused).
        fn lock_id(&self) -> u64;
        /// Releases the lock completely; returns what `reacquire` needs.
        ///
        /// # Safety
        /// The guard must not be used until `reacquire` has run.
        unsafe fn release(&self) -> usize;
        /// Takes the lock back as `release` left it.
        ///
        /// # Safety
        /// Pairs with the preceding `release` on this thread.
        unsafe fn reacquire(&self, saved: usize);
    }
}

impl<T> Waitable for LockGuard<'_, T> {}

impl<T> sealed::Sealed for LockGuard<'_, T> {
    fn lock_id(&self) -> u64 {
        key_bits(LockGuard::lock(self).key())
    }

    unsafe fn release(&self) -> usize {
        // SAFETY: the guard proves this thread holds the lock; the caller
        // keeps the guard unused until `reacquire`.
        unsafe { LockGuard::lock(self).raw().unlock() };
        0
    }

    unsafe fn reacquire(&self, _saved: usize) {
        LockGuard::lock(self).raw().lock();
    }
}

impl<T> Waitable for RLockGuard<'_, T> {}

impl<T> sealed::Sealed for RLockGuard<'_, T> {
    fn lock_id(&self) -> u64 {
        key_bits(RLockGuard::rlock(self).key())
    }

    unsafe fn release(&self) -> usize {
        // SAFETY: the guard proves this thread owns the lock; the caller
        // keeps every guard of it unused until `reacquire` (they are all on
        // this thread, which is inside `wait`).
        unsafe { RLockGuard::rlock(self).release_all() }
    }

    unsafe fn reacquire(&self, saved: usize) {
        // SAFETY: `saved` came from the matching `release_all`.
        unsafe { RLockGuard::rlock(self).restore(saved) }
    }
}

fn key_bits(key: crate::LockKey) -> u64 {
    key.to_bits()
}

/// The result of a timed wait: whether it ended because time ran out.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use threadkit::{Condition, Lock};
///
/// let lock = Lock::new(());
/// let cond = Condition::new();
/// let result = cond.wait_timeout(&mut lock.lock(), Duration::from_millis(1));
/// assert!(result.timed_out());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WaitTimeoutResult(bool);

impl WaitTimeoutResult {
    /// Whether the wait ended by its timeout (for the `_while` forms: and
    /// the condition still held).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Instant;
    /// use threadkit::{Condition, Lock};
    ///
    /// let (lock, cond) = (Lock::new(true), Condition::new());
    /// let mut g = lock.lock();
    /// // The condition is already false: no wait, no timeout.
    /// assert!(!cond.wait_deadline_while(&mut g, Instant::now(), |busy| !*busy).timed_out());
    /// ```
    pub fn timed_out(&self) -> bool {
        self.0
    }
}

/// A condition variable (Python's `threading.Condition`), usable with a
/// [`LockGuard`] or an [`RLockGuard`].
///
/// # Examples
///
/// A consumer waits for a producer to fill a slot:
///
/// ```
/// use threadkit::{Condition, Lock};
///
/// let slot = Lock::new(None);
/// let filled = Condition::new();
/// std::thread::scope(|s| {
///     s.spawn(|| {
///         *slot.lock() = Some(42);
///         filled.notify_one();
///     });
///     let mut guard = slot.lock();
///     filled.wait_while(&mut guard, |v| v.is_none());
///     assert_eq!(*guard, Some(42));
/// });
/// ```
pub struct Condition {
    waiters: WaitQueue,
}

impl Condition {
    /// Creates a condition variable with no waiters.
    ///
    /// # Examples
    ///
    /// ```
    /// let cond = threadkit::Condition::new();
    /// assert_eq!(cond.notify_all(), 0);
    /// ```
    pub fn new() -> Self {
        Condition { waiters: WaitQueue::new() }
    }

    /// Releases the guard's lock (every level, for an `RLockGuard`), waits
    /// until a notify chooses this thread, and takes the lock back before
    /// returning. There are no spurious wakeups.
    ///
    /// # Panics
    ///
    /// If other threads are waiting on this `Condition` with a different
    /// lock. The panic happens before anything is released.
    ///
    /// # Examples
    ///
    /// ```
    /// use threadkit::{Condition, Lock};
    ///
    /// let ready = Lock::new(false);
    /// let cond = Condition::new();
    /// std::thread::scope(|s| {
    ///     s.spawn(|| {
    ///         *ready.lock() = true;
    ///         cond.notify_all();
    ///     });
    ///     let mut g = ready.lock();
    ///     while !*g {
    ///         cond.wait(&mut g);
    ///     }
    /// });
    /// ```
    pub fn wait<G: Waitable>(&self, guard: &mut G) {
        self.wait_inner(guard, None);
    }

    /// Like [`wait`](Self::wait), giving up after `timeout`.
    /// `Duration::MAX` waits forever; a zero timeout returns at once,
    /// timed out, unless a notify chose this thread in between.
    ///
    /// # Panics
    ///
    /// As [`wait`](Self::wait).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use threadkit::{Condition, Lock};
    ///
    /// let lock = Lock::new(());
    /// let cond = Condition::new();
    /// assert!(cond.wait_timeout(&mut lock.lock(), Duration::from_millis(5)).timed_out());
    /// ```
    pub fn wait_timeout<G: Waitable>(&self, guard: &mut G, timeout: Duration) -> WaitTimeoutResult {
        WaitTimeoutResult(self.wait_inner(guard, deadline::after(timeout)))
    }

    /// Like [`wait`](Self::wait), giving up at `deadline`.
    ///
    /// # Panics
    ///
    /// As [`wait`](Self::wait).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use threadkit::{Condition, RLock};
    ///
    /// let lock = RLock::new(());
    /// let cond = Condition::new();
    /// let at = Instant::now() + Duration::from_millis(5);
    /// assert!(cond.wait_deadline(&mut lock.lock(), at).timed_out());
    /// ```
    pub fn wait_deadline<G: Waitable>(
        &self,
        guard: &mut G,
        deadline: Instant,
    ) -> WaitTimeoutResult {
        WaitTimeoutResult(self.wait_inner(guard, Some(deadline)))
    }

    /// Waits while `condition` holds (Python's `wait_for(predicate)` is
    /// `wait_while(guard, |s| !predicate(s))`). Checks it first, so it
    /// returns at once if `condition` is already false.
    ///
    /// # Panics
    ///
    /// As [`wait`](Self::wait); a panic in `condition` propagates with the
    /// lock held by the guard.
    ///
    /// # Examples
    ///
    /// ```
    /// use threadkit::{Condition, Lock};
    ///
    /// let jobs = Lock::new(vec![1]);
    /// let cond = Condition::new();
    /// let mut g = jobs.lock();
    /// cond.wait_while(&mut g, |jobs| jobs.is_empty());
    /// assert_eq!(g.pop(), Some(1));
    /// ```
    pub fn wait_while<G, F>(&self, guard: &mut G, mut condition: F)
    where
        G: Waitable,
        F: FnMut(&G::Target) -> bool,
    {
        while condition(&**guard) {
            self.wait(guard);
        }
    }

    /// Waits while `condition` holds, for at most `timeout`. Timed out only
    /// if the condition still holds at the end.
    ///
    /// # Panics
    ///
    /// As [`wait_while`](Self::wait_while).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use threadkit::{Condition, Lock};
    ///
    /// let lock = Lock::new(0);
    /// let cond = Condition::new();
    /// let r = cond.wait_timeout_while(&mut lock.lock(), Duration::from_millis(5), |n| *n == 0);
    /// assert!(r.timed_out());
    /// ```
    pub fn wait_timeout_while<G, F>(
        &self,
        guard: &mut G,
        timeout: Duration,
        condition: F,
    ) -> WaitTimeoutResult
    where
        G: Waitable,
        F: FnMut(&G::Target) -> bool,
    {
        self.wait_until_while(guard, deadline::after(timeout), condition)
    }

    /// Waits while `condition` holds, until `deadline` at the latest. Timed
    /// out only if the condition still holds at the end.
    ///
    /// # Panics
    ///
    /// As [`wait_while`](Self::wait_while).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use threadkit::{Condition, Lock};
    ///
    /// let lock = Lock::new(3);
    /// let cond = Condition::new();
    /// let at = Instant::now() + Duration::from_secs(1);
    /// assert!(!cond.wait_deadline_while(&mut lock.lock(), at, |n| *n == 0).timed_out());
    /// ```
    pub fn wait_deadline_while<G, F>(
        &self,
        guard: &mut G,
        deadline: Instant,
        condition: F,
    ) -> WaitTimeoutResult
    where
        G: Waitable,
        F: FnMut(&G::Target) -> bool,
    {
        self.wait_until_while(guard, Some(deadline), condition)
    }

    fn wait_until_while<G, F>(
        &self,
        guard: &mut G,
        deadline: Option<Instant>,
        mut condition: F,
    ) -> WaitTimeoutResult
    where
        G: Waitable,
        F: FnMut(&G::Target) -> bool,
    {
        while condition(&**guard) {
            if self.wait_inner(guard, deadline) {
                return WaitTimeoutResult(condition(&**guard));
            }
        }
        WaitTimeoutResult(false)
    }

    /// Returns whether the wait timed out.
    fn wait_inner<G: Waitable>(&self, guard: &mut G, deadline: Option<Instant>) -> bool {
        // Non-generic from here on, to keep monomorphized code small.
        self.wait_raw(guard.lock_id(), guard, deadline)
    }

    fn wait_raw(
        &self,
        lock_id: u64,
        guard: &dyn sealed::Sealed,
        deadline: Option<Instant>,
    ) -> bool {
        let mut misuse = false;
        let waiter = self.waiters.enqueue_unless(|tag, queued| {
            if queued > 0 && *tag != lock_id {
                misuse = true;
                return true;
            }
            *tag = lock_id;
            false
        });
        let Some(waiter) = waiter else {
            debug_assert!(misuse);
            panic!(
                "Condition used with two different locks: threads are waiting on it with \
                 another lock (a Condition may serve only one lock while it has waiters)"
            );
        };
        // Registered before releasing: a notifier that changes the state
        // under this lock, after we release it, sees this waiter.
        // SAFETY: the guard is borrowed mutably by `wait*` for the whole
        // call, so nothing uses it until `reacquire` below.
        let saved = unsafe { guard.release() };
        // Re-take the lock even if the wait unwinds, so the guard stays
        // truthful.
        struct Reacquire<'g>(&'g dyn sealed::Sealed, usize);
        impl Drop for Reacquire<'_> {
            fn drop(&mut self) {
                // SAFETY: pairs with the `release` above.
                unsafe { self.0.reacquire(self.1) }
            }
        }
        let _reacquire = Reacquire(guard, saved);
        waiter.wait(deadline) == WaitResult::TimedOut
    }

    /// Wakes the longest-waiting thread, if any. Returns whether one was
    /// woken.
    ///
    /// # Examples
    ///
    /// ```
    /// let cond = threadkit::Condition::new();
    /// assert!(!cond.notify_one()); // nobody waits
    /// ```
    pub fn notify_one(&self) -> bool {
        self.waiters.notify_one()
    }

    /// Wakes up to `n` waiting threads, longest waiting first. Returns how
    /// many were woken (`notify(0)` wakes none).
    ///
    /// # Examples
    ///
    /// ```
    /// let cond = threadkit::Condition::new();
    /// assert_eq!(cond.notify(3), 0);
    /// ```
    pub fn notify(&self, n: usize) -> usize {
        self.waiters.notify(n)
    }

    /// Wakes every waiting thread. Returns how many were woken.
    ///
    /// # Examples
    ///
    /// ```
    /// let cond = threadkit::Condition::new();
    /// assert_eq!(cond.notify_all(), 0);
    /// ```
    pub fn notify_all(&self) -> usize {
        self.waiters.notify_all()
    }
}

// Holds no user data, and a panic anywhere (a `wait_while` condition, a
// notified thread) leaves its waiter queue consistent: nothing to observe.
impl UnwindSafe for Condition {}
impl RefUnwindSafe for Condition {}

impl Default for Condition {
    fn default() -> Self {
        Condition::new()
    }
}

impl fmt::Debug for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condition").field("has_waiters", &self.waiters.has_waiters()).finish()
    }
}
