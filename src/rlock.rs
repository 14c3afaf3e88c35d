//! `RLock<T>`: a reentrant lock, Python's `threading.RLock`.
//!
//! The thread that holds an `RLock` may lock it again; each
//! [`RLockGuard`] releases one level, and the lock is free once every level
//! is released. Because several guards of one thread can be alive at once,
//! guards give `&T` only: put a `Cell` or `RefCell` inside for mutation.
//!
//! Differences from Python: release is the guard's drop (no unbalanced
//! `release()` is possible), no poisoning, and the owner is identified by a
//! never-reused thread id, so a thread that exits while holding the lock
//! (a leaked guard) leaves it held forever rather than letting a new thread
//! inherit it. Differences from `parking_lot::ReentrantMutex`: timed
//! acquisition, [`RLock::hold_count`], a non-blocking `Debug`, the ordering
//! key for [`acquire`](crate::acquire), and use with
//! [`Condition`](crate::Condition), which releases and restores every level.

use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;
use std::time::{Duration, Instant};

use crate::internal::{deadline, thread_id};
use crate::loom::RawLock;
use crate::loom::cell::UnsafeCell;
use crate::loom::sync::atomic::{AtomicU64, Ordering};
use crate::ordered::{LockKey, StoredKey};

/// A reentrant mutual-exclusion lock protecting a `T` (Python's
/// `threading.RLock`).
///
/// # Examples
///
/// ```
/// use std::cell::RefCell;
/// use threadkit::RLock;
///
/// let log = RLock::new(RefCell::new(Vec::new()));
/// let outer = log.lock();
/// outer.borrow_mut().push("outer");
/// {
///     let inner = log.lock(); // same thread: re-enters instead of deadlocking
///     inner.borrow_mut().push("inner");
///     assert_eq!(log.hold_count(), 2);
/// }
/// assert_eq!(log.hold_count(), 1);
/// drop(outer);
/// assert!(!log.is_locked());
/// ```
pub struct RLock<T> {
    raw: RawLock,
    /// The owning thread's id, or `NO_THREAD`. Written only by the thread
    /// that holds `raw` (to its own id after locking, to `NO_THREAD` before
    /// unlocking). Relaxed is enough: a thread reads its own id here only if
    /// it stored it itself (program order makes that store visible to it),
    /// and any other value, stale or not, is "not me" — ids are never
    /// reused, so no stale value can equal another live thread's id wrongly.
    owner: AtomicU64,
    /// Levels held by the owner. Touched only by the thread holding `raw`.
    count: UnsafeCell<usize>,
    key: StoredKey,
    data: UnsafeCell<T>,
}

// SAFETY: `RLock` owns its `T`; sending it sends the `T`.
unsafe impl<T: Send> Send for RLock<T> {}
// SAFETY: the `T` is reachable only through guards, and guards exist on one
// thread at a time (the owner of `raw`); guards are `!Send`, and a guard is
// `Sync` only when `T: Sync`. So without `T: Sync` the `T` is only ever
// used by one thread at a time, which needs `T: Send`. `count` is touched
// only by the thread holding `raw`.
unsafe impl<T: Send> Sync for RLock<T> {}

impl<T> RLock<T> {
    /// Creates an unlocked reentrant lock holding `value`.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = threadkit::RLock::new(3);
    /// assert_eq!(*lock.lock(), 3);
    /// ```
    pub fn new(value: T) -> Self {
        RLock {
            raw: RawLock::new(),
            owner: AtomicU64::new(thread_id::NO_THREAD),
            count: UnsafeCell::new(0),
            key: StoredKey::fresh(),
            data: UnsafeCell::new(value),
        }
    }

    /// Takes one level of the lock, blocking while another thread holds it.
    ///
    /// # Panics
    ///
    /// If this thread already holds `usize::MAX` levels.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = threadkit::RLock::new(());
    /// let a = lock.lock();
    /// let b = lock.lock();
    /// assert_eq!(lock.hold_count(), 2);
    /// ```
    #[inline]
    pub fn lock(&self) -> RLockGuard<'_, T> {
        let me = thread_id::current();
        if !self.reenter(me) {
            self.raw.lock();
            // SAFETY: `raw` was just taken by this thread.
            unsafe { self.become_owner(me, 1) };
        }
        RLockGuard { rlock: self, _not_send: PhantomData }
    }

    /// Takes one level without blocking: succeeds if the lock is free or
    /// already held by this thread.
    ///
    /// # Panics
    ///
    /// If this thread already holds `usize::MAX` levels.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = threadkit::RLock::new(());
    /// let _a = lock.lock();
    /// assert!(lock.try_lock().is_some()); // the owner re-enters
    /// ```
    #[inline]
    pub fn try_lock(&self) -> Option<RLockGuard<'_, T>> {
        self.lock_until_inner(|raw| raw.try_lock())
    }

    /// Takes one level, waiting at most `timeout` for another thread to
    /// release it. `Duration::MAX` waits forever.
    ///
    /// # Panics
    ///
    /// If this thread already holds `usize::MAX` levels.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let lock = threadkit::RLock::new(());
    /// assert!(lock.try_lock_for(Duration::from_millis(10)).is_some());
    /// ```
    pub fn try_lock_for(&self, timeout: Duration) -> Option<RLockGuard<'_, T>> {
        let at = deadline::after(timeout);
        self.lock_until_inner(|raw| raw.lock_until(at))
    }

    /// Takes one level, waiting until `deadline` at the latest.
    ///
    /// # Panics
    ///
    /// If this thread already holds `usize::MAX` levels.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Instant;
    /// let lock = threadkit::RLock::new(());
    /// assert!(lock.try_lock_until(Instant::now()).is_some());
    /// ```
    pub fn try_lock_until(&self, deadline: Instant) -> Option<RLockGuard<'_, T>> {
        self.lock_until_inner(|raw| raw.lock_until(Some(deadline)))
    }

    fn lock_until_inner(&self, take: impl FnOnce(&RawLock) -> bool) -> Option<RLockGuard<'_, T>> {
        let me = thread_id::current();
        if !self.reenter(me) {
            if !take(&self.raw) {
                return None;
            }
            // SAFETY: `take` returned true: `raw` is held by this thread.
            unsafe { self.become_owner(me, 1) };
        }
        Some(RLockGuard { rlock: self, _not_send: PhantomData })
    }

    /// If `me` owns the lock, adds a level and returns true.
    #[inline]
    fn reenter(&self, me: u64) -> bool {
        if self.owner.load(Ordering::Relaxed) != me {
            return false;
        }
        // SAFETY: `me` is the owner, so this thread holds `raw` and is the
        // only one touching `count`.
        self.count.with_mut(|c| unsafe {
            *c = (*c).checked_add(1).expect("RLock hold count overflow: locked usize::MAX times")
        });
        true
    }

    /// # Safety
    /// This thread holds `raw` and nobody owns the lock yet.
    #[inline]
    unsafe fn become_owner(&self, me: u64, levels: usize) {
        // SAFETY: the caller holds `raw`, so `count` is ours.
        self.count.with_mut(|c| unsafe { *c = levels });
        self.owner.store(me, Ordering::Relaxed);
    }

    /// Whether some thread holds the lock right now.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = threadkit::RLock::new(());
    /// assert!(!lock.is_locked());
    /// let _g = lock.lock();
    /// assert!(lock.is_locked());
    /// ```
    #[inline]
    pub fn is_locked(&self) -> bool {
        self.raw.is_locked()
    }

    /// Whether the calling thread holds the lock.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = threadkit::RLock::new(());
    /// let _g = lock.lock();
    /// assert!(lock.is_owned_by_current_thread());
    /// std::thread::scope(|s| {
    ///     s.spawn(|| assert!(!lock.is_owned_by_current_thread()));
    /// });
    /// ```
    #[inline]
    pub fn is_owned_by_current_thread(&self) -> bool {
        self.owner.load(Ordering::Relaxed) == thread_id::current()
    }

    /// How many levels the calling thread holds (0 if it is not the owner).
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = threadkit::RLock::new(());
    /// assert_eq!(lock.hold_count(), 0);
    /// let _a = lock.lock();
    /// let _b = lock.lock();
    /// assert_eq!(lock.hold_count(), 2);
    /// ```
    pub fn hold_count(&self) -> usize {
        if self.is_owned_by_current_thread() {
            // SAFETY: this thread owns the lock, so `count` is ours.
            self.count.with(|c| unsafe { *c })
        } else {
            0
        }
    }

    /// This lock's position in the global lock order used by
    /// [`acquire`](crate::acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// let a = threadkit::RLock::new(());
    /// let b = threadkit::Lock::new(());
    /// assert!(a.key() < b.key());
    /// ```
    #[inline]
    pub fn key(&self) -> LockKey {
        self.key.get()
    }

    /// Mutable access without locking: `&mut self` proves no guard exists.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut lock = threadkit::RLock::new(1);
    /// *lock.get_mut() += 1;
    /// assert_eq!(lock.into_inner(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        // SAFETY: `&mut self` excludes every guard and every other access.
        self.data.with_mut(|p| unsafe { &mut *p })
    }

    /// Consumes the lock and returns the value.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(threadkit::RLock::new(9).into_inner(), 9);
    /// ```
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }

    /// Releases every level the calling thread holds and returns how many
    /// there were, for [`restore`](Self::restore) (Python's
    /// `_release_save`).
    ///
    /// # Safety
    /// The calling thread owns the lock, and its guards are not used until
    /// `restore` has run.
    pub(crate) unsafe fn release_all(&self) -> usize {
        debug_assert!(self.is_owned_by_current_thread());
        // SAFETY: the caller owns the lock, so `count` is ours.
        let levels = self.count.with_mut(|c| unsafe { std::mem::replace(&mut *c, 0) });
        self.owner.store(thread_id::NO_THREAD, Ordering::Relaxed);
        // SAFETY: the caller owns the lock, hence holds `raw`.
        unsafe { self.raw.unlock() };
        levels
    }

    /// Takes the lock again with `levels` levels (Python's
    /// `_acquire_restore`).
    ///
    /// # Safety
    /// Pairs with an earlier `release_all` on this thread that returned
    /// `levels`.
    pub(crate) unsafe fn restore(&self, levels: usize) {
        self.raw.lock();
        // SAFETY: `raw` was just taken by this thread; the earlier
        // `release_all` left no owner.
        unsafe { self.become_owner(thread_id::current(), levels) };
    }
}

impl<T: Default> Default for RLock<T> {
    fn default() -> Self {
        RLock::new(T::default())
    }
}

impl<T> From<T> for RLock<T> {
    fn from(value: T) -> Self {
        RLock::new(value)
    }
}

impl<T: fmt::Debug> fmt::Debug for RLock<T> {
    /// Never blocks: a lock held by another thread prints `<locked>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RLock");
        match self.try_lock() {
            Some(guard) => d.field("data", &&*guard),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.finish_non_exhaustive()
    }
}

/// One level of an [`RLock`] held by the current thread; dereferences to
/// `&T` and releases its level when dropped.
///
/// `!Send`: levels are released by the thread that took them.
///
/// # Examples
///
/// ```
/// use std::cell::Cell;
/// let lock = threadkit::RLock::new(Cell::new(1));
/// let guard = lock.lock();
/// guard.set(guard.get() + 1);
/// assert_eq!(guard.get(), 2);
/// ```
///
/// A guard cannot move to another thread (the scoped thread rules out
/// every other reason for this not to compile; with `drop(guard)` on this
/// thread instead of in the closure, it compiles):
///
/// ```compile_fail,E0277
/// let lock = threadkit::RLock::new(0);
/// let guard = lock.lock();
/// std::thread::scope(|s| {
///     s.spawn(move || drop(guard));
/// });
/// ```
///
/// Guards give `&T` only, since another guard of the same thread may be
/// reading the value; neither assignment nor a `&mut` method compiles:
///
/// ```compile_fail,E0594
/// let lock = threadkit::RLock::new(0);
/// let mut guard = lock.lock();
/// *guard = 1;
/// ```
///
/// ```compile_fail,E0596
/// let lock = threadkit::RLock::new(Vec::new());
/// let mut guard = lock.lock();
/// guard.push(1);
/// ```
#[must_use = "if unused the lock will immediately unlock"]
pub struct RLockGuard<'a, T> {
    rlock: &'a RLock<T>,
    _not_send: PhantomData<*const ()>,
}

// SAFETY: a shared `&RLockGuard` only gives out `&T`, which other threads
// may hold exactly when `T: Sync`.
unsafe impl<T: Sync> Sync for RLockGuard<'_, T> {}

impl<'a, T> RLockGuard<'a, T> {
    /// The lock this guard holds a level of.
    ///
    /// An associated function so it never shadows a method of `T`.
    ///
    /// # Examples
    ///
    /// ```
    /// use threadkit::{RLock, RLockGuard};
    /// let lock = RLock::new(());
    /// let guard = lock.lock();
    /// assert_eq!(RLockGuard::rlock(&guard).hold_count(), 1);
    /// ```
    pub fn rlock(this: &Self) -> &'a RLock<T> {
        this.rlock
    }
}

impl<T> Deref for RLockGuard<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: this thread owns the lock, and guards hand out only `&T`,
        // so no `&mut T` exists while any guard lives.
        self.rlock.data.with(|p| unsafe { &*p })
    }
}

impl<T> Drop for RLockGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        let rlock = self.rlock;
        // SAFETY: this guard is one of the owner's levels, so this thread
        // owns the lock and `count` is ours; it is at least 1.
        let left = rlock.count.with_mut(|c| unsafe {
            *c -= 1;
            *c
        });
        if left == 0 {
            rlock.owner.store(thread_id::NO_THREAD, Ordering::Relaxed);
            // SAFETY: the last level is gone and this thread holds `raw`.
            unsafe { rlock.raw.unlock() };
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for RLockGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: fmt::Display> fmt::Display for RLockGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::panic::{self, AssertUnwindSafe};
    use std::time::Duration;

    use super::*;

    /// Sets the calling thread's hold count, as if it had locked `levels`
    /// times (reaching `usize::MAX` honestly would take centuries).
    fn set_count<T>(lock: &RLock<T>, levels: usize) {
        assert!(lock.is_owned_by_current_thread());
        // SAFETY: this thread owns the lock, so `count` is ours.
        lock.count.with_mut(|c| unsafe { *c = levels });
    }

    #[test]
    #[should_panic(expected = "hold count overflow")]
    fn lock_past_usize_max_panics() {
        let lock = RLock::new(());
        let _guard = lock.lock();
        set_count(&lock, usize::MAX);
        let _again = lock.lock();
    }

    #[test]
    #[should_panic(expected = "hold count overflow")]
    fn try_lock_past_usize_max_panics() {
        let lock = RLock::new(());
        let _guard = lock.lock();
        set_count(&lock, usize::MAX);
        let _again = lock.try_lock();
    }

    #[test]
    fn overflow_leaves_the_count_unchanged() {
        let lock = RLock::new(());
        let guard = lock.lock();
        set_count(&lock, usize::MAX);
        for attempt in 0..3 {
            let caught = panic::catch_unwind(AssertUnwindSafe(|| match attempt {
                0 => drop(lock.lock()),
                1 => drop(lock.try_lock()),
                _ => drop(lock.try_lock_for(Duration::from_millis(1))),
            }));
            let message = caught.expect_err("overflow panics");
            let message = match message.downcast_ref::<String>() {
                Some(owned) => owned.as_str(),
                None => message.downcast_ref::<&str>().copied().unwrap_or_default(),
            };
            assert!(message.contains("hold count overflow"), "{message}");
            assert_eq!(lock.hold_count(), usize::MAX);
            assert!(lock.is_owned_by_current_thread());
        }
        // One level below the limit, the lock works and releases normally.
        set_count(&lock, 1);
        drop(guard);
        assert!(!lock.is_locked());
        assert_eq!(lock.hold_count(), 0);
    }
}
