//! Ordered multi-lock acquire: the deadlock-avoidance `acquire(*locks)`
//! recipe.
//!
//! Two threads that take the same two locks in opposite orders can deadlock:
//! each holds one and waits for the other. The classic cure, written up for
//! Python as the `acquire(*locks)` context manager ("Avoiding deadlock" in
//! the *Python Cookbook*, built on `threading`), is to give every lock a
//! place in one global order, always take locks in that order, and remember
//! per thread what is already held, so that a nested call that would take a
//! lock *below* one already held is refused instead of risking a deadlock.
//!
//! [`acquire`] is that recipe:
//!
//! - Every [`Lock`] and [`RLock`] gets an ordering key ([`LockKey`]) when it
//!   is created, from a process-wide counter: later locks have greater keys,
//!   the same in every thread and in every run (Python's recipe sorts by
//!   `id(lock)`, a memory address, so its order changes from run to run).
//! - `acquire(locks)` takes the named locks in key order, lowest first, and
//!   hands the guards back **in the order the caller named the locks**,
//!   wrapped in an [`Ordered`] that releases them (in reverse order of
//!   acquisition) when dropped.
//! - The calling thread remembers the keys it holds through `acquire`. A
//!   call whose lowest-ordered lock is not above every one of them fails with
//!   [`LockOrderError`] before taking anything (Python raises
//!   `RuntimeError('Lock Order Violation')`). Nested calls that go "upwards"
//!   are fine.
//!
//! So threads that take their locks only through `acquire` cannot deadlock
//! on those locks: every thread takes them in the same order.
//!
//! ```
//! use std::sync::Arc;
//! use threadkit::{Lock, acquire};
//!
//! let x = Arc::new(Lock::new(0));
//! let y = Arc::new(Lock::new(0));
//! let (x2, y2) = (Arc::clone(&x), Arc::clone(&y));
//! let t = std::thread::spawn(move || {
//!     for _ in 0..1000 {
//!         let mut g = acquire((&*x2, &*y2)).unwrap(); // x then y
//!         *g.0 += 1;
//!         *g.1 += 1;
//!     }
//! });
//! for _ in 0..1000 {
//!     let mut g = acquire((&*y, &*x)).unwrap(); // y then x: still taken x first
//!     *g.0 += 1;
//!     *g.1 += 1;
//! }
//! t.join().unwrap();
//! assert_eq!(*x.lock(), 2000);
//! assert_eq!(*y.lock(), 2000);
//! ```
//!
//! Details and limits:
//!
//! - An [`RLock`] this thread already owns (through `acquire` or through
//!   [`RLock::lock`]) is left out of the check: re-entering it cannot
//!   deadlock. Naming the same `RLock` twice in one call re-enters it.
//! - Naming the same [`Lock`] twice in one call is a [`LockOrderError`], not
//!   a hang.
//! - Only locks held **through `acquire`** are remembered. A `Lock` or
//!   `RLock` taken directly with `.lock()` is invisible to the check: taking
//!   a lower-ordered lock through `acquire` while holding it is allowed (and
//!   can deadlock against a thread that follows the order), and naming a
//!   `Lock` in `acquire` while holding it directly self-deadlocks, exactly as
//!   a second `.lock()` would. Take every lock of a set through `acquire`
//!   to get the guarantee.
//! - `Ordered` sets may be dropped in any order; each removes exactly its
//!   own keys from the thread's record. [`mem::forget`](std::mem::forget) on
//!   an `Ordered` leaves its locks held and recorded as held by this thread,
//!   forever.
//! - The per-thread record needs no destructor, so `acquire` and dropping an
//!   `Ordered` work from `Drop` impls that run while the thread exits.

use std::cell::Cell;
use std::fmt;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};
use std::ptr;

use crate::error::{Conflict, LockOrderError};
use crate::lock::{Lock, LockGuard};
use crate::loom::{fresh_id, thread_local};
use crate::rlock::{RLock, RLockGuard};

/// A lock's position in the global lock order, fixed when the lock is
/// created: locks created earlier have lower keys, in every thread and every
/// run. Opaque: compare keys, print them, but do not rely on their values.
///
/// # Examples
///
/// ```
/// use threadkit::Lock;
///
/// let first = Lock::new(());
/// let second = Lock::new(());
/// assert!(first.key() < second.key());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LockKey(u64);

impl fmt::Debug for LockKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LockKey({})", self.0)
    }
}

impl LockKey {
    /// The key as a number: distinct for every lock, never reused.
    pub(crate) fn to_bits(self) -> u64 {
        self.0
    }
}

/// A `LockKey` stored as bytes, so that it adds exactly 8 bytes and no
/// padding to a `Lock<()>` (whose raw lock is one byte).
#[derive(Clone, Copy)]
pub(crate) struct StoredKey([u8; 8]);

impl StoredKey {
    /// A key above every key handed out before.
    pub(crate) fn fresh() -> Self {
        StoredKey(fresh_id().to_ne_bytes())
    }

    #[inline]
    pub(crate) fn get(self) -> LockKey {
        LockKey(u64::from_ne_bytes(self.0))
    }
}

// ---------------------------------------------------------------------------
// The calling thread's record of the keys it holds through `acquire`.

/// Keys kept inline before spilling to the heap. Nesting 16 deep (counting
/// every lock of every live `Ordered` set) is already unusual.
const INLINE: usize = 16;

/// The keys this thread holds through `acquire`, in acquisition order (a
/// multiset: an `RLock` re-entered through `acquire` appears once per
/// level taken that way).
///
/// It has no destructor (`ManuallyDrop` around the spill), so the
/// thread-local is never torn down and stays usable from other
/// thread-locals' destructors at thread exit. The spill's buffer is freed as
/// soon as it empties, so it can only leak if a thread exits with more than
/// `INLINE` keys recorded, which takes a `mem::forget`: a leak already.
struct HeldKeys {
    len: Cell<usize>,
    inline: [Cell<LockKey>; INLINE],
    /// Entries `INLINE..len`; empty (and unallocated) while `len <= INLINE`.
    spill: Cell<ManuallyDrop<Vec<LockKey>>>,
}

impl HeldKeys {
    #[allow(clippy::declare_interior_mutable_const)]
    const EMPTY_SLOT: Cell<LockKey> = Cell::new(LockKey(0));

    const fn new() -> Self {
        HeldKeys {
            len: Cell::new(0),
            inline: [Self::EMPTY_SLOT; INLINE],
            spill: Cell::new(ManuallyDrop::new(Vec::new())),
        }
    }

    /// Runs `f` on the spill, freeing its buffer if `f` leaves it empty.
    fn with_spill<R>(&self, f: impl FnOnce(&mut Vec<LockKey>) -> R) -> R {
        let mut spill = ManuallyDrop::into_inner(self.spill.take());
        let result = f(&mut spill);
        if !spill.is_empty() {
            self.spill.set(ManuallyDrop::new(spill));
        }
        result
    }

    fn get(&self, i: usize) -> LockKey {
        match self.inline.get(i) {
            Some(slot) => slot.get(),
            None => self.with_spill(|spill| spill[i - INLINE]),
        }
    }

    fn set(&self, i: usize, key: LockKey) {
        match self.inline.get(i) {
            Some(slot) => slot.set(key),
            None => self.with_spill(|spill| spill[i - INLINE] = key),
        }
    }

    /// The greatest key held, if any.
    #[inline]
    fn max(&self) -> Option<LockKey> {
        let len = self.len.get();
        if len > INLINE {
            return self.max_spilled();
        }
        self.inline[..len].iter().map(Cell::get).max()
    }

    #[cold]
    #[inline(never)]
    fn max_spilled(&self) -> Option<LockKey> {
        let inline = self.inline.iter().map(Cell::get).max();
        let spilled = self.with_spill(|spill| spill.iter().copied().max());
        inline.max(spilled)
    }

    /// Every key held, in ascending order: the order they were taken in,
    /// since every call goes up (only re-entered `RLock`s, which skip the
    /// check, can be recorded out of order; sorting makes the answer the
    /// same however the sets were dropped).
    fn snapshot(&self) -> Box<[LockKey]> {
        let mut keys: Vec<LockKey> = (0..self.len.get()).map(|i| self.get(i)).collect();
        keys.sort_unstable();
        keys.into_boxed_slice()
    }

    #[inline]
    fn push(&self, key: LockKey) {
        let len = self.len.get();
        match self.inline.get(len) {
            Some(slot) => slot.set(key),
            None => self.push_spilled(key),
        }
        self.len.set(len + 1);
    }

    #[cold]
    #[inline(never)]
    fn push_spilled(&self, key: LockKey) {
        self.with_spill(|spill| spill.push(key));
    }

    /// Removes the most recent occurrence of `key`, keeping the order of
    /// the rest. A key not recorded (a guard swapped into an `Ordered` from
    /// elsewhere) is ignored.
    #[inline]
    fn remove(&self, key: LockKey) {
        // The common case: sets are dropped in reverse order of
        // acquisition, so the key is the last one recorded.
        let len = self.len.get();
        if len != 0 && len <= INLINE && self.inline[len - 1].get() == key {
            self.len.set(len - 1);
        } else {
            self.remove_slow(key);
        }
    }

    #[inline(never)]
    fn remove_slow(&self, key: LockKey) {
        let len = self.len.get();
        let Some(at) = (0..len).rev().find(|&i| self.get(i) == key) else {
            return;
        };
        for i in at..len - 1 {
            self.set(i, self.get(i + 1));
        }
        if len > INLINE {
            self.with_spill(|spill| spill.pop());
        }
        self.len.set(len - 1);
    }
}

// The `cfg` sits outside the macro call: loom's `thread_local!` has no
// `const` form and would still have to parse the `const` block inside.
#[cfg(not(loom))]
thread_local! {
    static HELD: HeldKeys = const { HeldKeys::new() };
}

// loom's `thread_local!` has no `const` form.
#[cfg(loom)]
thread_local! {
    static HELD: HeldKeys = HeldKeys::new();
}

/// Runs `f` on this thread's record.
///
/// `HELD.with(f)` would do, but with a non-trivial `f` the compiler keeps
/// `LocalKey::with` out of line and reaches the slot through the key's
/// function pointer: three such calls per `acquire` cost as much as a lock.
/// Fetching only the address keeps `with` trivial, so it inlines to a
/// thread-pointer offset.
#[inline(always)]
fn with_held<R>(f: impl FnOnce(&HeldKeys) -> R) -> R {
    let held: *const HeldKeys = HELD.with(|held| held as *const HeldKeys);
    // SAFETY: the slot belongs to this thread and outlives this call: it has
    // no destructor (std keeps it for the thread's whole life; loom drops it
    // only when the model thread ends), and the reference is used only by
    // `f`, on this thread, before `with_held` returns. `HeldKeys` is made of
    // `Cell`s, so shared access from this one thread is all it needs.
    f(unsafe { &*held })
}

// ---------------------------------------------------------------------------
// Planning a call: order, check, record.
//
// A call is planned from its keys in the caller's order, `keys[i]`, and an
// acquisition order, `order[r]`: the caller's index of the `r`-th lock to
// take (ascending keys; equal keys, the same `RLock` named twice, keep the
// caller's order). Nothing is taken until the check has passed.

/// Fixed-size sets up to this size are ordered by ranking (below); larger
/// ones are sorted.
const RANKED: usize = 16;

/// The acquisition order of a fixed-size set, without allocating.
///
/// Small sets are ranked rather than sorted: a lock's rank is the number of
/// locks that go before it. The compares are independent of one another and
/// work on keys held in registers, where an insertion sort shuffles the set
/// through memory, one dependent swap after another: for two to four locks
/// that sort cost more than the rest of `acquire` together.
#[inline(always)]
fn fixed_order<const N: usize>(keys: &[LockKey; N]) -> [usize; N] {
    let mut order = [0; N];
    if N > RANKED {
        sorted_order(keys, &mut order);
    } else {
        ranked_order(keys, &mut order);
    }
    order
}

/// Writes the acquisition order of `keys` to `order` by ranking (see
/// `fixed_order`); for up to `RANKED` keys.
#[inline(always)]
fn ranked_order(keys: &[LockKey], order: &mut [usize]) {
    for i in 0..keys.len() {
        let mut rank = 0;
        for j in 0..keys.len() {
            rank += usize::from(keys[j] < keys[i] || (keys[j] == keys[i] && j < i));
        }
        order[rank] = i;
    }
}

/// Writes the acquisition order of `keys` to `order` by sorting.
fn sorted_order(keys: &[LockKey], order: &mut [usize]) {
    for (i, slot) in order.iter_mut().enumerate() {
        *slot = i;
    }
    order.sort_unstable_by_key(|&i| (keys[i], i));
}

/// Runs `f` on the keys of `locks` (in the caller's order) and their
/// acquisition order: on the stack for up to `RANKED` locks, else on the
/// heap.
#[inline]
fn with_slice_plan<R>(
    len: usize,
    key: impl Fn(usize) -> LockKey,
    f: impl FnOnce(&[LockKey], &[usize]) -> R,
) -> R {
    if len <= RANKED {
        let mut keys = [LockKey(0); RANKED];
        let mut order = [0; RANKED];
        for (i, slot) in keys[..len].iter_mut().enumerate() {
            *slot = key(i);
        }
        ranked_order(&keys[..len], &mut order[..len]);
        f(&keys[..len], &order[..len])
    } else {
        let keys: Vec<LockKey> = (0..len).map(key).collect();
        let mut order = vec![0; len];
        sorted_order(&keys, &mut order);
        f(&keys, &order)
    }
}

/// The first `Lock` (not `RLock`) named twice, if any; `order` is the
/// acquisition order, so equal keys are neighbours. Small sets compare
/// every pair instead, which for fixed sizes stays in registers.
#[inline(always)]
fn duplicate(
    keys: &[LockKey],
    order: &[usize],
    reentrant: impl Fn(usize) -> bool,
) -> Option<LockKey> {
    if keys.len() <= RANKED {
        for i in 1..keys.len() {
            for j in 0..i {
                if keys[i] == keys[j] && !reentrant(i) {
                    return Some(keys[i]);
                }
            }
        }
        return None;
    }
    order.windows(2).find_map(|pair| {
        let (a, b) = (pair[0], pair[1]);
        (keys[a] == keys[b] && !reentrant(a)).then_some(keys[a])
    })
}

/// Checks a call against the rules and what this thread holds. Takes
/// nothing and records nothing.
///
/// `reentrant(i)`: lock `i` is an `RLock` (naming it twice re-enters it).
/// `owned(i)`: lock `i` is an `RLock` this thread already owns, left out of
/// the order check. Always inlined: for tuples and arrays both are mostly
/// constants there, and the loops unroll.
#[inline(always)]
fn check(
    keys: &[LockKey],
    order: &[usize],
    reentrant: impl Fn(usize) -> bool,
    owned: impl Fn(usize) -> bool,
) -> Result<(), LockOrderError> {
    if let Some(key) = duplicate(keys, order, reentrant) {
        return Err(refuse(keys, Conflict::Duplicate(key)));
    }
    let mut lowest: Option<LockKey> = None;
    for (i, &key) in keys.iter().enumerate() {
        if !owned(i) && lowest.is_none_or(|low| key < low) {
            lowest = Some(key);
        }
    }
    let Some(lowest) = lowest else {
        return Ok(());
    };
    match with_held(HeldKeys::max) {
        Some(highest) if highest >= lowest => {
            Err(refuse(keys, Conflict::Order { lowest, highest_held: highest }))
        }
        _ => Ok(()),
    }
}

#[cold]
#[inline(never)]
fn refuse(keys: &[LockKey], conflict: Conflict) -> LockOrderError {
    LockOrderError { held: with_held(HeldKeys::snapshot), requested: keys.into(), conflict }
}

/// Records the keys of a call whose locks are now taken, in acquisition
/// order.
#[inline(always)]
fn record(keys: &[LockKey], order: &[usize]) {
    if keys.is_empty() {
        return;
    }
    with_held(|held| {
        for &i in order {
            held.push(keys[i]);
        }
    });
}

/// Forgets the keys of released guards, most recently acquired first.
#[inline(always)]
fn forget(keys: &[LockKey], order: &[usize]) {
    with_held(|held| {
        for &i in order.iter().rev() {
            held.remove(keys[i]);
        }
    });
}

// ---------------------------------------------------------------------------
// What `acquire` accepts.

mod private {
    /// Seals [`LockSet`](super::LockSet): only this module can make one, so
    /// only this module can implement the trait.
    #[derive(Debug)]
    pub struct Token(pub(super) ());
}

/// A reference to a [`Lock`] or an [`RLock`]: what the tuples, arrays and
/// slices given to [`acquire`] are made of. Implemented for `&Lock<T>` and
/// `&RLock<T>` only (it cannot be named outside threadkit).
pub trait LockRef: Copy {
    /// The guard `acquire` returns for this lock.
    type Guard: GuardKey;
    #[doc(hidden)]
    const REENTRANT: bool;
    #[doc(hidden)]
    fn key(self) -> LockKey;
    #[doc(hidden)]
    fn owned(self) -> bool;
    #[doc(hidden)]
    fn take(self) -> Self::Guard;
}

/// A guard `acquire` can hand out: it knows its lock's key. Implemented for
/// `LockGuard` and `RLockGuard` only (it cannot be named outside threadkit).
pub trait GuardKey {
    #[doc(hidden)]
    fn key(&self) -> LockKey;
}

impl<'a, T> LockRef for &'a Lock<T> {
    type Guard = LockGuard<'a, T>;
    const REENTRANT: bool = false;

    #[inline]
    fn key(self) -> LockKey {
        Lock::key(self)
    }

    #[inline]
    fn owned(self) -> bool {
        false
    }

    #[inline]
    fn take(self) -> LockGuard<'a, T> {
        self.lock()
    }
}

impl<'a, T> LockRef for &'a RLock<T> {
    type Guard = RLockGuard<'a, T>;
    const REENTRANT: bool = true;

    #[inline]
    fn key(self) -> LockKey {
        RLock::key(self)
    }

    #[inline]
    fn owned(self) -> bool {
        self.is_owned_by_current_thread()
    }

    #[inline]
    fn take(self) -> RLockGuard<'a, T> {
        self.lock()
    }
}

impl<T> GuardKey for LockGuard<'_, T> {
    #[inline]
    fn key(&self) -> LockKey {
        LockGuard::lock(self).key()
    }
}

impl<T> GuardKey for RLockGuard<'_, T> {
    #[inline]
    fn key(&self) -> LockKey {
        RLockGuard::rlock(self).key()
    }
}

/// A set of locks [`acquire`] can take together.
///
/// Implemented for
///
/// - `()`, the empty set (guards: `()`);
/// - tuples of 1 to 8 references, each a `&Lock<_>` or an `&RLock<_>`, mixed
///   freely and of any data types (guards: the tuple of the matching
///   [`LockGuard`] / [`RLockGuard`]s);
/// - arrays `[&Lock<T>; N]` and `[&RLock<T>; N]` (guards: `[LockGuard<T>; N]`
///   / `[RLockGuard<T>; N]`);
/// - slices `&[&Lock<T>]` and `&[&RLock<T>]` (guards: a `Vec`).
///
/// Guards always come back in the order the locks were named. Sealed: it
/// cannot be implemented outside threadkit. Tuples and arrays take their
/// locks without allocating; slices allocate.
///
/// # Examples
///
/// ```
/// use threadkit::{Lock, RLock, acquire};
///
/// let a = Lock::new(1);
/// let b = RLock::new("b");
/// let pair = acquire((&b, &a)).unwrap(); // a tuple, mixed
/// assert_eq!((*pair.0, *pair.1), ("b", 1));
/// drop(pair);
///
/// let locks = [Lock::new(10), Lock::new(20), Lock::new(30)];
/// let guards = acquire([&locks[2], &locks[0]]).unwrap(); // an array
/// assert_eq!((*guards[0], *guards[1]), (30, 10));
/// drop(guards);
///
/// let all: Vec<&Lock<i32>> = locks.iter().collect();
/// let guards = acquire(&all[..]).unwrap(); // a slice
/// assert_eq!(guards.iter().map(|g| **g).sum::<i32>(), 60);
/// ```
pub trait LockSet: Sized {
    /// The guards `acquire` hands back, in the caller's order.
    type Guards;

    #[doc(hidden)]
    fn acquire_set(self, token: private::Token) -> Result<Ordered<Self::Guards>, LockOrderError>;
}

/// Guard collections an `Ordered` can release in reverse acquisition order
/// (descending key order).
trait ReleaseInOrder: Sized {
    /// Drops every guard, highest key first, then forgets their keys.
    fn release(guards: Self);
}

impl ReleaseInOrder for () {
    fn release((): ()) {}
}

impl LockSet for () {
    type Guards = ();

    #[inline]
    fn acquire_set(self, _: private::Token) -> Result<Ordered<()>, LockOrderError> {
        Ok(Ordered::new(()))
    }
}

macro_rules! tuple_lock_set {
    ($n:literal: $($L:ident $G:ident $i:tt),+) => {
        impl<$($L: LockRef),+> LockSet for ($($L,)+) {
            type Guards = ($($L::Guard,)+);

            #[inline]
            fn acquire_set(
                self,
                _: private::Token,
            ) -> Result<Ordered<Self::Guards>, LockOrderError> {
                let keys = [$(self.$i.key()),+];
                let order = fixed_order(&keys);
                let reentrant = [$($L::REENTRANT),+];
                let owned = [$($L::REENTRANT && self.$i.owned()),+];
                check(&keys, &order, |i| reentrant[i], |i| owned[i])?;
                // Options, so that a panic part way (an `RLock` level count
                // overflowing) drops, and so releases, what was taken.
                let mut slots = ($(None::<$L::Guard>,)+);
                for &i in &order {
                    match i {
                        $($i => slots.$i = Some(self.$i.take()),)+
                        _ => unreachable!(),
                    }
                }
                record(&keys, &order);
                let guards = ($(slots.$i.expect("every lock of the set is taken"),)+);
                Ok(Ordered::new(guards))
            }
        }

        impl<$($G: GuardKey),+> ReleaseInOrder for ($($G,)+) {
            #[inline]
            fn release(guards: Self) {
                let mut guards = ManuallyDrop::new(guards);
                let keys = [$(guards.$i.key()),+];
                let order = fixed_order(&keys);
                for &i in order.iter().rev() {
                    match i {
                        // SAFETY: `order` is a permutation, so each guard is
                        // dropped once; `guards` is a `ManuallyDrop` nobody
                        // touches afterwards.
                        $($i => unsafe { ptr::drop_in_place(&mut guards.$i) },)+
                        _ => unreachable!(),
                    }
                }
                forget(&keys, &order);
            }
        }
    };
}

tuple_lock_set!(1: L0 G0 0);
tuple_lock_set!(2: L0 G0 0, L1 G1 1);
tuple_lock_set!(3: L0 G0 0, L1 G1 1, L2 G2 2);
tuple_lock_set!(4: L0 G0 0, L1 G1 1, L2 G2 2, L3 G3 3);
tuple_lock_set!(5: L0 G0 0, L1 G1 1, L2 G2 2, L3 G3 3, L4 G4 4);
tuple_lock_set!(6: L0 G0 0, L1 G1 1, L2 G2 2, L3 G3 3, L4 G4 4, L5 G5 5);
tuple_lock_set!(7: L0 G0 0, L1 G1 1, L2 G2 2, L3 G3 3, L4 G4 4, L5 G5 5, L6 G6 6);
tuple_lock_set!(8: L0 G0 0, L1 G1 1, L2 G2 2, L3 G3 3, L4 G4 4, L5 G5 5, L6 G6 6, L7 G7 7);

impl<L: LockRef, const N: usize> LockSet for [L; N] {
    type Guards = [L::Guard; N];

    #[inline]
    fn acquire_set(self, _: private::Token) -> Result<Ordered<Self::Guards>, LockOrderError> {
        let keys: [LockKey; N] = std::array::from_fn(|i| self[i].key());
        let order = fixed_order(&keys);
        let owned: [bool; N] = std::array::from_fn(|i| L::REENTRANT && self[i].owned());
        check(&keys, &order, |_| L::REENTRANT, |i| owned[i])?;
        let mut slots: [Option<L::Guard>; N] = std::array::from_fn(|_| None);
        for &i in &order {
            slots[i] = Some(self[i].take());
        }
        record(&keys, &order);
        // `from_fn` rather than `map`: `map` stays out of line.
        let guards =
            std::array::from_fn(|i| slots[i].take().expect("every lock of the set is taken"));
        Ok(Ordered::new(guards))
    }
}

impl<G: GuardKey, const N: usize> ReleaseInOrder for [G; N] {
    #[inline]
    fn release(guards: Self) {
        let mut guards = ManuallyDrop::new(guards);
        let keys: [LockKey; N] = std::array::from_fn(|i| guards[i].key());
        let order = fixed_order(&keys);
        for &i in order.iter().rev() {
            // SAFETY: `order` is a permutation, so each guard is dropped
            // once; `guards` is a `ManuallyDrop` nobody touches afterwards.
            unsafe { ptr::drop_in_place(&mut guards[i]) };
        }
        forget(&keys, &order);
    }
}

impl<L: LockRef> LockSet for &[L] {
    type Guards = Vec<L::Guard>;

    fn acquire_set(self, _: private::Token) -> Result<Ordered<Self::Guards>, LockOrderError> {
        with_slice_plan(
            self.len(),
            |i| self[i].key(),
            |keys, order| {
                check(keys, order, |_| L::REENTRANT, |i| L::REENTRANT && self[i].owned())?;
                let mut slots: Vec<Option<L::Guard>> = self.iter().map(|_| None).collect();
                for &i in order {
                    slots[i] = Some(self[i].take());
                }
                record(keys, order);
                // Collected in place: `Option<Guard>` and `Guard` share a
                // layout, so the one allocation is reused.
                let guards = slots
                    .into_iter()
                    .map(|slot| slot.expect("every lock of the set is taken"))
                    .collect();
                Ok(Ordered::new(guards))
            },
        )
    }
}

impl<G: GuardKey> ReleaseInOrder for Vec<G> {
    fn release(mut guards: Self) {
        let base = guards.as_mut_ptr();
        let len = guards.len();
        // SAFETY: the elements are dropped below, each once; with the
        // length at zero, a panicking guard drop could only leak the rest,
        // never drop one twice.
        unsafe { guards.set_len(0) };
        with_slice_plan(
            len,
            // SAFETY: `i < len`, and the elements are still initialized
            // (only the length was cleared) when the keys are read.
            |i| unsafe { (*base.add(i)).key() },
            |keys, order| {
                for &i in order.iter().rev() {
                    // SAFETY: `order` is a permutation of `0..len`, the
                    // indices of the initialized elements.
                    unsafe { ptr::drop_in_place(base.add(i)) };
                }
                forget(keys, order);
            },
        );
        // Frees the now-empty buffer.
        drop(guards);
    }
}

// ---------------------------------------------------------------------------
// The result.

/// The guards of a set of locks taken by [`acquire`], in the order the
/// caller named the locks.
///
/// Dereferences (mutably too) to the guards: a tuple, an array or a `Vec`
/// (see [`LockSet`]). Dropping it releases every lock, in reverse order of
/// acquisition (highest key first), and removes exactly its keys from the
/// thread's record of locks held through `acquire`, so sets may be dropped
/// in any order, also while unwinding from a panic.
///
/// Swapping a guard out of an `Ordered` (through `DerefMut`) is allowed but
/// defeats the bookkeeping for that lock, much like
/// [`mem::forget`](std::mem::forget): the record follows the guards the
/// `Ordered` holds when it is dropped.
///
/// # Examples
///
/// ```
/// use threadkit::{Lock, acquire};
///
/// let from = Lock::new(100);
/// let to = Lock::new(0);
/// {
///     let mut g = acquire((&from, &to)).unwrap();
///     let (from, to) = &mut *g;
///     **from -= 30;
///     **to += 30;
/// } // both released here
/// assert_eq!((*from.lock(), *to.lock()), (70, 30));
/// ```
#[must_use = "if unused the locks will immediately unlock"]
pub struct Ordered<G> {
    guards: ManuallyDrop<G>,
    /// `release_erased::<G>`: drops the guards in reverse acquisition
    /// order and forgets their keys.
    ///
    /// A function pointer rather than a trait bound, so that `Ordered` needs
    /// no bound on `G`; type-erased, because a `fn(G)` field would make
    /// `Ordered` invariant in `G` where the guards are covariant in their
    /// lifetime.
    release: unsafe fn(*mut ()),
}

/// Releases the `G` that `guards` points to (see `Ordered::release`).
///
/// # Safety
/// `guards` points to a valid `G`, up to lifetimes (`Ordered` is covariant,
/// so the value may have been shortened to a `G` with shorter lifetimes;
/// lifetimes do not change layout, and the guards are dropped here, not
/// kept), and the caller gives it up: it is neither used nor dropped again.
#[inline(always)]
unsafe fn release_erased<G: ReleaseInOrder>(guards: *mut ()) {
    // SAFETY: the caller hands over a valid `G` it will not touch again.
    let guards = unsafe { ptr::read(guards.cast::<G>()) };
    G::release(guards);
}

impl<G> Ordered<G> {
    #[inline]
    fn new(guards: G) -> Self
    where
        G: ReleaseInOrder,
    {
        Ordered { guards: ManuallyDrop::new(guards), release: release_erased::<G> }
    }
}

impl<G> Deref for Ordered<G> {
    type Target = G;

    #[inline]
    fn deref(&self) -> &G {
        &self.guards
    }
}

impl<G> DerefMut for Ordered<G> {
    #[inline]
    fn deref_mut(&mut self) -> &mut G {
        &mut self.guards
    }
}

impl<G> Drop for Ordered<G> {
    #[inline]
    fn drop(&mut self) {
        // Moved out first, so that `release` gets the address of a local
        // rather than of `self`: with `self` never escaping, the compiler
        // still sees which function `self.release` holds and inlines it.
        // SAFETY: this is the one place the guards leave their
        // `ManuallyDrop`, and `self` is not used afterwards.
        let mut guards = ManuallyDrop::new(unsafe { ManuallyDrop::take(&mut self.guards) });
        let guards: *mut G = &mut *guards;
        // SAFETY: `release` is `release_erased::<G>` (see `new`), and the
        // `G` it reads is never used or dropped again (it sits in a
        // `ManuallyDrop`).
        unsafe { (self.release)(guards.cast()) }
    }
}

impl<G: fmt::Debug> fmt::Debug for Ordered<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Ordered").field(&*self.guards).finish()
    }
}

/// Takes every lock of `locks` in the global lock order and returns their
/// guards in the order the locks were named: Python's `with acquire(*locks):`.
///
/// Locks are taken lowest [`LockKey`] first (the order the locks were
/// created in), whatever order they are named in, so threads that take
/// their locks through `acquire` never deadlock on them. Blocks until every
/// lock is taken. See [`LockSet`] for what `locks` may be: tuples (mixing
/// `&Lock` and `&RLock`), arrays and slices; `()` or an empty array or slice
/// takes nothing.
///
/// The calling thread remembers the locks it holds through `acquire` until
/// their [`Ordered`] is dropped, and refuses a call that would take a lock
/// below one of them (see Errors): that is what makes nested calls safe.
/// Python's recipe raises `RuntimeError`; here the call returns an error and
/// takes nothing.
///
/// Only locks held through `acquire` count. A `Lock` or `RLock` taken
/// directly with `.lock()` is invisible to the check, so mixing the two
/// styles on one set of locks gives up the guarantee; and naming a `Lock`
/// this thread holds directly deadlocks, as a second `.lock()` would. An
/// `RLock` this thread owns either way is simply re-entered.
///
/// # Examples
///
/// ```
/// use threadkit::{Lock, RLock, acquire};
///
/// let x = Lock::new(1);
/// let y = RLock::new(2);
/// let g = acquire((&y, &x)).unwrap(); // takes x, then y
/// assert_eq!((*g.0, *g.1), (2, 1));
///
/// // Nested calls may go up the order, not down.
/// let z = Lock::new(3);
/// let inner = acquire((&z,)).unwrap();
/// assert!(acquire((&x,)).is_err());
/// drop(inner);
/// drop(g);
/// assert!(!x.is_locked());
/// ```
///
/// # Errors
///
/// [`LockOrderError`], before anything is taken and with the thread's state
/// unchanged, if
///
/// - the lowest-ordered lock requested is not above every lock this thread
///   already holds through `acquire` (an `RLock` this thread already owns is
///   left out of that check), or
/// - the same [`Lock`] is named twice (the same [`RLock`] named twice is
///   re-entered instead).
#[inline]
pub fn acquire<S: LockSet>(locks: S) -> Result<Ordered<S::Guards>, LockOrderError> {
    locks.acquire_set(private::Token(()))
}
