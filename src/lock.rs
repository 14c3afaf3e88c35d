//! `Lock<T>`: non-reentrant mutual exclusion, Python's `threading.Lock`.
//!
//! Where Python has `acquire()` / `release()` (or `with lock:`), threadkit
//! has [`Lock::lock`], which returns a [`LockGuard`]: the data is reachable
//! only through the guard and the lock is released when the guard is
//! dropped, so a forgotten `release()` cannot happen. Differences from
//! `std::sync::Mutex`: no poisoning (a panic while holding the guard simply
//! releases the lock), timed acquisition (`try_lock_for` / `try_lock_until`,
//! Python's `acquire(timeout=...)`), a non-blocking `Debug`, and an ordering
//! key used by [`acquire`](crate::acquire) to take several locks without
//! deadlock. Built on parking_lot's one-byte lock: as fast uncontended.

use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::time::{Duration, Instant};

use crate::internal::deadline;
use crate::loom::RawLock;
use crate::loom::cell::UnsafeCell;
use crate::ordered::{LockKey, StoredKey};

/// A mutual-exclusion lock protecting a `T` (Python's `threading.Lock`).
///
/// Not reentrant: a thread that calls [`lock`](Lock::lock) while already
/// holding the lock deadlocks, exactly as in Python; use
/// [`try_lock`](Lock::try_lock) or [`RLock`](crate::RLock) where that can
/// happen.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use threadkit::Lock;
///
/// let counter = Arc::new(Lock::new(0));
/// let handles: Vec<_> = (0..4)
///     .map(|_| {
///         let counter = Arc::clone(&counter);
///         std::thread::spawn(move || *counter.lock() += 1)
///     })
///     .collect();
/// for h in handles {
///     h.join().unwrap();
/// }
/// assert_eq!(*counter.lock(), 4);
/// ```
pub struct Lock<T> {
    raw: RawLock,
    key: StoredKey,
    data: UnsafeCell<T>,
}

// SAFETY: `Lock` owns its `T`; sending the lock sends the `T`, which is
// sound when `T: Send`. (The raw lock and key are plain data.)
unsafe impl<T: Send> Send for Lock<T> {}
// SAFETY: shared access to a `Lock` reaches the `T` only through a guard,
// and the raw lock lets one guard exist at a time, so at most one thread
// touches the `T` at once: the `T` moves between threads, which needs
// `T: Send`, but is never shared, so `T: Sync` is not needed.
unsafe impl<T: Send> Sync for Lock<T> {}

impl<T> Lock<T> {
    /// Creates an unlocked lock holding `value`. Its ordering key is above
    /// the key of every lock created before it.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = threadkit::Lock::new(vec![1, 2]);
    /// assert_eq!(lock.lock().len(), 2);
    /// ```
    pub fn new(value: T) -> Self {
        Lock { raw: RawLock::new(), key: StoredKey::fresh(), data: UnsafeCell::new(value) }
    }

    /// Blocks until the lock is free, takes it and returns the guard.
    ///
    /// Calling `lock` again on the same thread while the guard lives
    /// deadlocks (it is not reentrant).
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = threadkit::Lock::new(1);
    /// *lock.lock() += 1;
    /// assert_eq!(*lock.lock(), 2);
    /// ```
    #[inline]
    pub fn lock(&self) -> LockGuard<'_, T> {
        self.raw.lock();
        // SAFETY: the raw lock was just taken by this thread.
        unsafe { LockGuard::new(self) }
    }

    /// Takes the lock if it is free, without blocking.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = threadkit::Lock::new(());
    /// let held = lock.try_lock().unwrap();
    /// assert!(lock.try_lock().is_none()); // even from the holding thread
    /// drop(held);
    /// assert!(lock.try_lock().is_some());
    /// ```
    #[inline]
    pub fn try_lock(&self) -> Option<LockGuard<'_, T>> {
        if self.raw.try_lock() {
            // SAFETY: the raw lock was just taken by this thread.
            Some(unsafe { LockGuard::new(self) })
        } else {
            None
        }
    }

    /// Takes the lock, waiting at most `timeout`. `Duration::MAX` waits
    /// forever; a zero timeout is a single attempt.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let lock = threadkit::Lock::new(());
    /// let _held = lock.lock();
    /// assert!(lock.try_lock_for(Duration::from_millis(1)).is_none());
    /// ```
    pub fn try_lock_for(&self, timeout: Duration) -> Option<LockGuard<'_, T>> {
        self.lock_until(deadline::after(timeout))
    }

    /// Takes the lock, waiting until `deadline` at the latest. A deadline
    /// already past is a single attempt.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let lock = threadkit::Lock::new(5);
    /// let guard = lock.try_lock_until(Instant::now() + Duration::from_secs(1)).unwrap();
    /// assert_eq!(*guard, 5);
    /// ```
    pub fn try_lock_until(&self, deadline: Instant) -> Option<LockGuard<'_, T>> {
        self.lock_until(Some(deadline))
    }

    fn lock_until(&self, deadline: Option<Instant>) -> Option<LockGuard<'_, T>> {
        if self.raw.lock_until(deadline) {
            // SAFETY: the raw lock was just taken by this thread.
            Some(unsafe { LockGuard::new(self) })
        } else {
            None
        }
    }

    /// Whether some thread holds the lock right now (a snapshot: it may
    /// change as soon as this returns).
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = threadkit::Lock::new(());
    /// let g = lock.lock();
    /// assert!(lock.is_locked());
    /// drop(g);
    /// assert!(!lock.is_locked());
    /// ```
    #[inline]
    pub fn is_locked(&self) -> bool {
        self.raw.is_locked()
    }

    /// This lock's position in the global lock order used by
    /// [`acquire`](crate::acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// let a = threadkit::Lock::new(());
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
    /// let mut lock = threadkit::Lock::new(1);
    /// *lock.get_mut() = 2;
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
    /// assert_eq!(threadkit::Lock::new("x").into_inner(), "x");
    /// ```
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }

    /// The raw lock, for `Condition`.
    #[inline]
    pub(crate) fn raw(&self) -> &RawLock {
        &self.raw
    }
}

impl<T: Default> Default for Lock<T> {
    fn default() -> Self {
        Lock::new(T::default())
    }
}

impl<T> From<T> for Lock<T> {
    fn from(value: T) -> Self {
        Lock::new(value)
    }
}

impl<T: fmt::Debug> fmt::Debug for Lock<T> {
    /// Never blocks: a lock held elsewhere prints `<locked>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Lock");
        match self.try_lock() {
            Some(guard) => d.field("data", &&*guard),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.finish_non_exhaustive()
    }
}

/// Proof that the current thread holds a [`Lock`]; dereferences to the
/// data and releases the lock when dropped.
///
/// `!Send`: a lock is released by the thread that took it.
///
/// # Examples
///
/// ```
/// let lock = threadkit::Lock::new(String::from("a"));
/// let mut guard = lock.lock();
/// guard.push('b');
/// assert_eq!(*guard, "ab");
/// ```
///
/// A guard cannot move to another thread (the scoped thread rules out
/// every other reason for this not to compile; with `drop(guard)` on this
/// thread instead of in the closure, it compiles):
///
/// ```compile_fail,E0277
/// let lock = threadkit::Lock::new(0);
/// let guard = lock.lock();
/// std::thread::scope(|s| {
///     s.spawn(move || drop(guard));
/// });
/// ```
#[must_use = "if unused the lock will immediately unlock"]
pub struct LockGuard<'a, T> {
    lock: &'a Lock<T>,
    _not_send: PhantomData<*const ()>,
}

// SAFETY: a shared `&LockGuard` only gives out `&T`, which other threads may
// hold exactly when `T: Sync`.
unsafe impl<T: Sync> Sync for LockGuard<'_, T> {}

impl<'a, T> LockGuard<'a, T> {
    /// # Safety
    /// The caller holds `lock.raw`, and hands that ownership to the guard.
    #[inline]
    unsafe fn new(lock: &'a Lock<T>) -> Self {
        LockGuard { lock, _not_send: PhantomData }
    }

    /// The lock this guard holds.
    ///
    /// An associated function (`LockGuard::lock(&guard)`) so it never
    /// shadows a method of `T`.
    ///
    /// # Examples
    ///
    /// ```
    /// use threadkit::{Lock, LockGuard};
    /// let lock = Lock::new(0);
    /// let guard = lock.lock();
    /// assert_eq!(LockGuard::lock(&guard).key(), lock.key());
    /// ```
    pub fn lock(this: &Self) -> &'a Lock<T> {
        this.lock
    }

    /// Releases the lock, runs `f`, and takes the lock again before
    /// returning (even if `f` panics).
    ///
    /// # Examples
    ///
    /// ```
    /// use threadkit::{Lock, LockGuard};
    /// let lock = Lock::new(0);
    /// let mut guard = lock.lock();
    /// LockGuard::unlocked(&mut guard, || assert!(!lock.is_locked()));
    /// assert!(lock.is_locked());
    /// ```
    pub fn unlocked<R>(this: &mut Self, f: impl FnOnce() -> R) -> R {
        struct Relock<'b>(&'b RawLock);
        impl Drop for Relock<'_> {
            fn drop(&mut self) {
                self.0.lock();
            }
        }
        let raw = &this.lock.raw;
        // SAFETY: the guard proves this thread holds the lock; `Relock`
        // takes it back before the guard can be used or dropped again.
        unsafe { raw.unlock() };
        let _relock = Relock(raw);
        f()
    }
}

impl<T> Deref for LockGuard<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock, so no `&mut T` exists elsewhere;
        // the reference borrows the guard, so it ends before the unlock.
        self.lock.data.with(|p| unsafe { &*p })
    }
}

impl<T> DerefMut for LockGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock and is borrowed mutably, so this
        // is the only reference to the data until the borrow ends.
        self.lock.data.with_mut(|p| unsafe { &mut *p })
    }
}

impl<T> Drop for LockGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the guard owns the lock, and this is its one release.
        unsafe { self.lock.raw.unlock() }
    }
}

impl<T: fmt::Debug> fmt::Debug for LockGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: fmt::Display> fmt::Display for LockGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}
