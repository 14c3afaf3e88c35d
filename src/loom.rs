//! The synchronization facade.
//!
//! This is the only module that names `parking_lot`, `std::sync`,
//! `crossbeam_utils` or `loom` for synchronization. Everything else in the
//! crate imports from here, so building with `--cfg loom` (ours or a
//! downstream crate's) swaps every primitive for loom's and lets
//! `loom::model` explore threadkit's internals.
//!
//! Both halves expose the same shape:
//!
//! - `sync::{Mutex, MutexGuard, Condvar}` with parking_lot's calling
//!   convention (`lock()` returns the guard, `wait(&mut guard)`, no poisoning);
//! - `sync::{Arc, atomic}`;
//! - `cell::UnsafeCell` with loom's `with` / `with_mut` access, so loom checks
//!   every access to protected data;
//! - `RawLock`, the raw mutual-exclusion lock under `Lock` and `RLock`;
//! - `Parker` / `Unparker`, the per-waiter token `WaitQueue` parks on;
//! - `Backoff`, `CachePadded`, `thread_local!`, `yield_now`, `now()`;
//! - `fresh_id()`, the process-wide counter behind thread ids and lock keys;
//! - `light_fence` / `heavy_fence`, asymmetric fence pairs (`membarrier`).
//!
//! Gated on `cfg(loom)` alone (never `all(test, loom)`), so that a downstream
//! crate that model-checks its own code gets threadkit on loom's types too.

#![allow(dead_code, unused_imports)]

use std::sync::atomic::{AtomicU64 as StdAtomicU64, Ordering as StdOrdering};

pub(crate) use crossbeam_utils::CachePadded;
pub(crate) use std::time::Instant;

/// Draws a value that was never returned before in this process.
///
/// Used for thread ids and lock ordering keys. It is a plain std counter in
/// both builds: it only hands out distinct, increasing numbers and orders no
/// memory, so modelling it under loom would only add branch points. Within a
/// loom execution the relative order of the ids depends only on the order of
/// the calls, which loom controls, so the model stays deterministic.
pub(crate) fn fresh_id() -> u64 {
    static NEXT: StdAtomicU64 = StdAtomicU64::new(1);
    let id = NEXT.fetch_add(1, StdOrdering::Relaxed);
    // 2^64 ids at one per nanosecond take 584 years; wrapping would break the
    // never-reused promise, so refuse rather than wrap.
    assert!(id != u64::MAX, "threadkit: unique id space exhausted");
    id
}

#[cfg(loom)]
pub(crate) use self::loom_impl::*;
#[cfg(not(loom))]
pub(crate) use self::std_impl::*;

#[cfg(not(loom))]
mod std_impl {
    use std::time::Instant;

    pub(crate) use crossbeam_utils::Backoff;
    pub(crate) use crossbeam_utils::sync::{Parker, Unparker};
    pub(crate) use std::thread_local;

    pub(crate) mod sync {
        pub(crate) use parking_lot::{Condvar, Mutex, MutexGuard};
        pub(crate) use std::sync::Arc;

        pub(crate) mod atomic {
            pub(crate) use std::sync::atomic::{
                AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering, fence,
            };
        }
    }

    pub(crate) mod cell {
        /// `std::cell::UnsafeCell` with loom's access API, so code above the
        /// facade is written once and checked by loom when built for it.
        #[derive(Default)]
        pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

        impl<T> UnsafeCell<T> {
            #[inline]
            pub(crate) const fn new(value: T) -> Self {
                Self(std::cell::UnsafeCell::new(value))
            }

            #[inline]
            pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
                f(self.0.get())
            }

            #[inline]
            pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
                f(self.0.get())
            }

            #[inline]
            pub(crate) fn into_inner(self) -> T {
                self.0.into_inner()
            }
        }
    }

    pub(crate) mod thread {
        pub(crate) use std::thread::yield_now;
    }

    /// Nothing: see the loom build's `loom_sc_fence`. A `SeqCst` store or
    /// read-modify-write followed by a `SeqCst` load already orders the two
    /// (store buffering is impossible between `SeqCst` accesses).
    #[inline(always)]
    pub(crate) fn loom_sc_fence() {}

    /// The cheap half of an asymmetric fence pair: only a compiler fence.
    /// A `light_fence` between a store and a load on a hot path, and a
    /// [`heavy_fence`] between a store and a load on a rare one, order the
    /// two threads as two `SeqCst` fences would: no store buffering. Only
    /// valid where [`asymmetric_fences`] is true.
    #[inline(always)]
    pub(crate) fn light_fence() {
        std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::SeqCst);
    }

    /// The expensive half: makes every running thread of the process
    /// execute a full memory barrier before it returns (Linux
    /// `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)`), so any
    /// `light_fence` that it does not precede, it follows. Costs a system
    /// call and an interrupt per CPU running one of our threads.
    ///
    /// # Panics
    /// If called where [`asymmetric_fences`] is false.
    pub(crate) fn heavy_fence() {
        membarrier::heavy_fence();
    }

    /// Whether [`light_fence`] / [`heavy_fence`] pairs work here: Linux
    /// with `membarrier` (4.14 or later, not disabled by a sandbox), not
    /// under Miri. The first call registers the process for it.
    #[inline]
    pub(crate) fn asymmetric_fences() -> bool {
        membarrier::available()
    }

    #[cfg(all(target_os = "linux", not(miri)))]
    mod membarrier {
        use std::sync::atomic::{AtomicU8, Ordering};

        // From <linux/membarrier.h>.
        const CMD_PRIVATE_EXPEDITED: libc::c_int = 1 << 3;
        const CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_int = 1 << 4;

        const UNKNOWN: u8 = 0;
        const AVAILABLE: u8 = 1;
        const UNAVAILABLE: u8 = 2;
        static STATE: AtomicU8 = AtomicU8::new(UNKNOWN);

        fn membarrier(cmd: libc::c_int) -> bool {
            // SAFETY: `membarrier(cmd, flags, cpu_id)` takes three integers
            // and touches no memory of ours; a command the kernel does not
            // know, or forbids, fails with an error code, which we return.
            unsafe {
                libc::syscall(libc::SYS_membarrier, cmd, 0 as libc::c_uint, 0 as libc::c_int) == 0
            }
        }

        #[inline]
        pub(super) fn available() -> bool {
            match STATE.load(Ordering::Acquire) {
                AVAILABLE => true,
                UNAVAILABLE => false,
                _ => register(),
            }
        }

        /// Registration is per process and idempotent: racing callers all
        /// get the same answer. Published with Release, so a thread that
        /// reads `AVAILABLE` may rely on the registration being done.
        #[cold]
        fn register() -> bool {
            let ok = membarrier(CMD_REGISTER_PRIVATE_EXPEDITED);
            STATE.store(if ok { AVAILABLE } else { UNAVAILABLE }, Ordering::Release);
            ok
        }

        pub(super) fn heavy_fence() {
            assert!(
                available() && membarrier(CMD_PRIVATE_EXPEDITED),
                "threadkit: membarrier failed after registration succeeded"
            );
        }
    }

    #[cfg(not(all(target_os = "linux", not(miri))))]
    mod membarrier {
        #[inline]
        pub(super) fn available() -> bool {
            false
        }

        pub(super) fn heavy_fence() {
            panic!("threadkit: heavy_fence called without asymmetric fences");
        }
    }

    /// The current time. A function so that loom builds can pin it.
    #[inline]
    pub(crate) fn now() -> Instant {
        Instant::now()
    }

    /// Raw mutual exclusion: parking_lot's word-sized lock.
    pub(crate) struct RawLock(parking_lot::RawMutex);

    impl RawLock {
        pub(crate) const fn new() -> Self {
            use parking_lot::lock_api::RawMutex as _;
            Self(parking_lot::RawMutex::INIT)
        }

        #[inline]
        pub(crate) fn lock(&self) {
            use parking_lot::lock_api::RawMutex as _;
            self.0.lock();
        }

        #[inline]
        pub(crate) fn try_lock(&self) -> bool {
            use parking_lot::lock_api::RawMutex as _;
            self.0.try_lock()
        }

        /// Takes the lock, giving up at `deadline` (`None`: never gives up).
        #[inline]
        pub(crate) fn lock_until(&self, deadline: Option<Instant>) -> bool {
            use parking_lot::lock_api::RawMutexTimed as _;
            match deadline {
                None => {
                    self.lock();
                    true
                }
                Some(at) => self.0.try_lock_until(at),
            }
        }

        /// # Safety
        /// The lock must be held, in the current context.
        #[inline]
        pub(crate) unsafe fn unlock(&self) {
            use parking_lot::lock_api::RawMutex as _;
            // SAFETY: forwarded from the caller's contract.
            unsafe { self.0.unlock() }
        }

        #[inline]
        pub(crate) fn is_locked(&self) -> bool {
            use parking_lot::lock_api::RawMutex as _;
            self.0.is_locked()
        }
    }

    /// Waits on `parker` until it is unparked or `deadline` passes
    /// (`None`: no deadline). Returns whether the deadline has passed. May
    /// return early without an unpark; callers re-check their own state.
    #[inline]
    pub(crate) fn park(parker: &Parker, deadline: Option<Instant>) -> bool {
        match deadline {
            None => {
                parker.park();
                false
            }
            Some(at) => {
                parker.park_deadline(at);
                Instant::now() >= at
            }
        }
    }
}

#[cfg(loom)]
mod loom_impl {
    use std::time::Instant;

    pub(crate) use loom::thread_local;

    use crate::loom_support::{LoomTimeouts, loom_timeouts};

    pub(crate) mod sync {
        pub(crate) use loom::sync::Arc;

        pub(crate) mod atomic {
            pub(crate) use loom::sync::atomic::{
                AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering, fence,
            };
        }

        /// loom's `Mutex` in parking_lot's shape: `lock()` returns the guard.
        #[derive(Debug)]
        pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

        /// Wraps loom's guard in an `Option` so `Condvar::wait` can move it
        /// through loom's by-value API behind a `&mut`.
        pub(crate) struct MutexGuard<'a, T>(Option<loom::sync::MutexGuard<'a, T>>);

        impl<T> Mutex<T> {
            pub(crate) fn new(value: T) -> Self {
                Self(loom::sync::Mutex::new(value))
            }

            pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
                // loom's mutex poisons only if a model thread panicked, and
                // then the model has already failed.
                MutexGuard(Some(self.0.lock().unwrap_or_else(|e| e.into_inner())))
            }

            pub(crate) fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
                self.0.try_lock().ok().map(|g| MutexGuard(Some(g)))
            }

            pub(crate) fn get_mut(&mut self) -> &mut T {
                self.0.get_mut().unwrap_or_else(|e| e.into_inner())
            }

            pub(crate) fn into_inner(self) -> T {
                self.0.into_inner().unwrap_or_else(|e| e.into_inner())
            }
        }

        impl<T> std::ops::Deref for MutexGuard<'_, T> {
            type Target = T;
            fn deref(&self) -> &T {
                self.0.as_ref().expect("guard present outside wait")
            }
        }

        impl<T> std::ops::DerefMut for MutexGuard<'_, T> {
            fn deref_mut(&mut self) -> &mut T {
                self.0.as_mut().expect("guard present outside wait")
            }
        }

        impl<'a, T> MutexGuard<'a, T> {
            /// Releases the mutex early, like `drop(guard)`.
            pub(crate) fn unlock(mut this: Self) {
                this.0.take();
            }
        }

        /// loom's `Condvar` in parking_lot's shape.
        #[derive(Debug)]
        pub(crate) struct Condvar(loom::sync::Condvar);

        impl Condvar {
            pub(crate) fn new() -> Self {
                Self(loom::sync::Condvar::new())
            }

            pub(crate) fn wait<T>(&self, guard: &mut MutexGuard<'_, T>) {
                let inner = guard.0.take().expect("guard present outside wait");
                let inner = self.0.wait(inner).unwrap_or_else(|e| e.into_inner());
                guard.0 = Some(inner);
            }

            pub(crate) fn notify_one(&self) {
                self.0.notify_one();
            }

            pub(crate) fn notify_all(&self) {
                self.0.notify_all();
            }
        }
    }

    pub(crate) mod cell {
        pub(crate) use loom::cell::UnsafeCell;
    }

    pub(crate) mod thread {
        pub(crate) use loom::thread::yield_now;
    }

    loom::lazy_static! {
        static ref BASE: Instant = Instant::now();
    }

    /// A `SeqCst` fence. Code that relies on `SeqCst` accesses to rule out
    /// store buffering (a store, then a load of another location, in each
    /// of two threads) calls this between the two: loom models `SeqCst`
    /// accesses only as acquire/release, but models `SeqCst` fences fully,
    /// so with the fence loom explores exactly what the real build allows.
    pub(crate) fn loom_sc_fence() {
        loom::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
    }

    /// Under loom, both halves of an asymmetric fence pair are `SeqCst`
    /// fences: loom cannot model `membarrier`, but checks the algorithm
    /// that relies on the pair ordering like two such fences.
    pub(crate) fn light_fence() {
        loom::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
    }

    /// See [`light_fence`].
    pub(crate) fn heavy_fence() {
        loom::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
    }

    /// Always, under loom, so that models explore the paths built on them.
    pub(crate) fn asymmetric_fences() -> bool {
        true
    }

    /// loom has no clock: time stands still at a fixed base instant for the
    /// whole execution. Whether a timed wait expires is decided by
    /// `loom_support::set_loom_timeouts`, never by comparing instants, except
    /// that a deadline at or before the base (a zero timeout) has passed.
    pub(crate) fn now() -> Instant {
        *BASE
    }

    /// Spinning under loom yields to the scheduler, so loom explores the
    /// other threads instead of unrolling a spin loop.
    #[derive(Debug, Default)]
    pub(crate) struct Backoff;

    impl Backoff {
        pub(crate) fn new() -> Self {
            Backoff
        }
        pub(crate) fn spin(&self) {
            loom::thread::yield_now();
        }
        pub(crate) fn snooze(&self) {
            loom::thread::yield_now();
        }
        pub(crate) fn is_completed(&self) -> bool {
            true
        }
        pub(crate) fn reset(&self) {}
    }

    use sync::{Arc, Condvar, Mutex};

    /// Whether a timed wait may give up now. `deadline == None` never does;
    /// under `LoomTimeouts::Never` none does; a deadline already at or
    /// before `now()` always does (non-blocking attempt).
    fn may_expire(deadline: Option<Instant>) -> bool {
        match deadline {
            None => false,
            Some(at) if at <= now() => true,
            Some(_) => loom_timeouts() == LoomTimeouts::Expire,
        }
    }

    /// Raw mutual exclusion built from a loom `Mutex<bool>` and `Condvar`.
    #[derive(Debug)]
    pub(crate) struct RawLock {
        locked: Mutex<bool>,
        released: Condvar,
    }

    impl RawLock {
        pub(crate) fn new() -> Self {
            Self { locked: Mutex::new(false), released: Condvar::new() }
        }

        pub(crate) fn lock(&self) {
            let mut locked = self.locked.lock();
            while *locked {
                self.released.wait(&mut locked);
            }
            *locked = true;
        }

        pub(crate) fn try_lock(&self) -> bool {
            let mut locked = self.locked.lock();
            !std::mem::replace(&mut *locked, true)
        }

        /// Under `Expire`, one failed attempt, a release of the internal
        /// mutex (a branch point) and one more attempt, then a timeout.
        pub(crate) fn lock_until(&self, deadline: Option<Instant>) -> bool {
            if !may_expire(deadline) {
                self.lock();
                return true;
            }
            if self.try_lock() {
                return true;
            }
            self.try_lock()
        }

        /// # Safety
        /// The lock must be held, in the current context.
        pub(crate) unsafe fn unlock(&self) {
            let mut locked = self.locked.lock();
            debug_assert!(*locked, "unlock of an unlocked RawLock");
            *locked = false;
            drop(locked);
            self.released.notify_one();
        }

        pub(crate) fn is_locked(&self) -> bool {
            *self.locked.lock()
        }
    }

    #[derive(Debug)]
    struct Token {
        notified: Mutex<bool>,
        wakeup: Condvar,
    }

    /// The per-waiter token: a loom `Mutex<bool>` and `Condvar` (not
    /// `thread::park`, which interferes with loom's `Condvar`).
    #[derive(Debug)]
    pub(crate) struct Parker {
        token: Arc<Token>,
        unparker: Unparker,
    }

    /// Wakes the `Parker` it came from.
    #[derive(Debug, Clone)]
    pub(crate) struct Unparker(Arc<Token>);

    impl Default for Parker {
        fn default() -> Self {
            Self::new()
        }
    }

    impl Parker {
        pub(crate) fn new() -> Self {
            let token = Arc::new(Token { notified: Mutex::new(false), wakeup: Condvar::new() });
            Parker { unparker: Unparker(token.clone()), token }
        }

        pub(crate) fn unparker(&self) -> &Unparker {
            &self.unparker
        }
    }

    impl Unparker {
        pub(crate) fn unpark(&self) {
            let mut notified = self.0.notified.lock();
            *notified = true;
            drop(notified);
            self.0.wakeup.notify_one();
        }
    }

    /// Waits on `parker` until it is unparked, or, if the deadline may
    /// expire under the model's setting, returns after one release and
    /// re-acquisition of the token's mutex (both loom branch points, so loom
    /// explores an unpark landing before, between and after them). Returns
    /// whether the wait timed out (no unpark arrived). May return without an
    /// unpark; callers re-check their own state.
    pub(crate) fn park(parker: &Parker, deadline: Option<Instant>) -> bool {
        let token = &*parker.token;
        let mut notified = token.notified.lock();
        if may_expire(deadline) {
            if !*notified {
                drop(notified);
                notified = token.notified.lock();
            }
            return !std::mem::replace(&mut *notified, false);
        }
        while !*notified {
            token.wakeup.wait(&mut notified);
        }
        *notified = false;
        false
    }
}
