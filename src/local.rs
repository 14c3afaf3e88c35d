//! `Local<T>`: per-object thread-local storage, Python's `threading.local`.
//!
//! A [`Local`] is one object, shared between threads, that holds a separate
//! value for each thread: a per-thread cache, a per-thread connection, a
//! per-thread scratch buffer, owned by whatever owns the `Local` rather than
//! declared as a `static`. Python semantics:
//!
//! - each thread sees only its own value;
//! - a thread starts with no value, and never sees a value left behind by a
//!   thread that exited;
//! - a thread's value is dropped when that thread exits (before its
//!   `JoinHandle::join` returns), or when the `Local` is dropped, whichever
//!   comes first.
//!
//! Values are reachable only inside closures ([`Local::with`],
//! [`Local::with_or`]), so no reference to a value can outlive its thread.
//!
//! # Differences from Python's `threading.local`
//!
//! - One value of type `T` per thread rather than a namespace of attributes;
//!   put a struct in it.
//! - Python's subclass `__init__` runs on first access in each thread; here
//!   the initializer is passed at the access ([`Local::with_or`],
//!   [`Local::with_or_default`]).
//! - [`Local::iter_mut`] and [`Local::clear`] (through `&mut`) reach every
//!   live thread's value, which Python cannot do.
//! - [`std::thread::scope`] waits for its threads' closures, not for their
//!   thread-exit destructors: join a scoped thread explicitly to be sure its
//!   value has been dropped.
//!
//! # At thread exit
//!
//! The exit hook is one of the thread's thread-local destructors. It drops
//! the thread's values in the order the thread first stored into each
//! `Local`. A value's `Drop` that panics is reported by the panic hook and
//! otherwise swallowed (a panic escaping a thread-local destructor aborts
//! the process), and the other values are still dropped. From the hook on,
//! the thread keeps nothing: `Drop` code that uses a `Local` finds it empty,
//! `with_or` lends it a temporary and `set` drops its argument. A `Local`
//! first used from another thread-local's destructor, after the
//! `thread_local` crate's own exit destructor has run, cannot get a slot
//! from the crate at first either (its refusal, a panic, is caught, though
//! the panic hook prints it), and whatever it does store is dropped by an
//! exit hook registered then, before the thread ends.
//!
//! # Differences from the `thread_local` crate's `ThreadLocal`
//!
//! `Local` stores its values in a `thread_local::ThreadLocal` and is about as
//! fast, but that crate keeps every value until the `ThreadLocal` itself is
//! dropped, and because it recycles thread ids, a new thread can be handed
//! the value of a thread that exited (thread_local-rs issues #37, #65, #79).
//! `Local` drops each thread's value when the thread exits and never shows
//! one thread's value to another. It also gives out references only inside
//! closures, and needs no `T: Sync` for anything.
//!
//! # How it works
//!
//! Each slot of the `ThreadLocal` is tagged with its owner's never-reused id
//! (`internal/thread_id.rs`); a slot whose tag is not the calling thread's id
//! is treated as empty, and a thread that inherits such a slot through the
//! crate's id recycling takes it over and drops the stale value. When a
//! thread first takes a slot it registers an entry with its *exit hook*, a
//! thread-local whose destructor, at thread exit, takes that thread's value
//! out of every `Local` that is still alive and drops it.
//!
//! Each `Local` has a small control block (`Control`), shared with the exit
//! hooks through an `Arc`, holding a mutex that is taken only on rare paths:
//! a thread's first use of the `Local`, a thread exit, `iter_mut`, `clear`
//! and `drop`, never by `with`/`with_or`/`set`/`take` on an initialized slot.
//! Under it the exit hook checks that the `Local` is alive before touching
//! the slot, so a hook never touches a `Local` that is being dropped, and
//! takes the value out before dropping it outside the lock, so user `Drop`
//! code never runs under it. While values are lent out through `iter_mut`
//! (whose references live as long as the `Local`'s mutable borrow, which
//! the `Local` only knows has ended when it is next used), an exiting thread
//! leaves its value in place, marked as orphaned, for that next use to drop:
//! a thread exit never waits for user code.
//!
//! Under `--cfg loom` the `ThreadLocal` (which keys on std thread-locals,
//! shared by all loom threads) is replaced by a loom `Mutex<Vec<..>>` keyed
//! by thread id; everything else is the same code.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::mem;
use std::panic::{self, AssertUnwindSafe};

use crate::internal::thread_id::{self, NO_THREAD};
use crate::loom::cell::UnsafeCell;
use crate::loom::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use crate::loom::sync::{Arc, Mutex};
use crate::loom::thread_local;

/// The owner tag of a slot whose thread exited while `iter_mut` had lent
/// the values out: the value is still in the slot, for the `Local`'s next
/// use (or a thread taking the slot over) to drop, under the control lock.
/// Thread ids never reach `u64::MAX` (`fresh_id` refuses it).
const ORPHANED: u64 = u64::MAX;

/// The `live` tag of a slot without a value. Not `NO_THREAD`, so that the
/// fast path's thread id, `NO_THREAD` in a thread that has none yet, never
/// matches it. (Thread ids count up from 1 and never get near it.)
const NO_VALUE: u64 = u64::MAX - 1;

/// Per-object thread-local storage with Python's `threading.local`
/// semantics.
///
/// Each thread that uses a `Local` gets its own `T`: it starts with none,
/// creates one with [`with_or`](Local::with_or) or [`set`](Local::set), and
/// loses it when the thread exits (the value is dropped before the thread's
/// `JoinHandle::join` returns) or when the `Local` is dropped, whichever
/// comes first. A new thread never sees the value of a thread that exited.
///
/// `Local<T>` is `Send + Sync` for any `T: Send`: values are only ever
/// lent to the thread that owns them (or, through `&mut self`, to a single
/// thread), so `T` need not be `Sync`.
///
/// # Re-entrancy
///
/// Closures and `Drop` impls may use the same `Local` again. Nested
/// [`with`](Local::with) calls are fine; [`set`](Local::set) or
/// [`take`](Local::take) while this thread's value is lent out by `with` or
/// `with_or` would invalidate the lent reference, so they panic. Once the
/// thread's exit hook has run (for example from a value's `Drop` at thread
/// exit), the `Local` behaves as empty for that thread and keeps nothing:
/// `with_or` lends a temporary value and drops it, `set` drops its argument.
///
/// # Examples
///
/// ```
/// use std::cell::RefCell;
/// use std::sync::Arc;
/// use threadkit::Local;
///
/// let scratch: Arc<Local<RefCell<Vec<u8>>>> = Arc::new(Local::new());
/// let handles: Vec<_> = (0..4u8)
///     .map(|i| {
///         let scratch = Arc::clone(&scratch);
///         std::thread::spawn(move || {
///             scratch.with_or_default(|buf| buf.borrow_mut().push(i));
///             scratch.with_or_default(|buf| buf.borrow().clone())
///         })
///     })
///     .collect();
/// for (i, h) in handles.into_iter().enumerate() {
///     assert_eq!(h.join().unwrap(), vec![i as u8]); // each thread saw only its own buffer
/// }
/// assert!(!scratch.is_set()); // this thread never created one
/// ```
///
/// Values are dropped by other threads (at `Local`'s drop, by `clear`), so
/// a `!Send` type is refused (with `Cell<u32>` instead of `Rc<u32>` this
/// compiles):
///
/// ```compile_fail,E0277
/// let local: threadkit::Local<std::rc::Rc<u32>> = threadkit::Local::new();
/// ```
pub struct Local<T: Send + 'static> {
    slots: Slots<T>,
    control: Arc<Control>,
}

impl<T: Send + 'static> Local<T> {
    /// Creates a `Local` in which no thread has a value.
    ///
    /// # Examples
    ///
    /// ```
    /// let local: threadkit::Local<String> = threadkit::Local::new();
    /// assert!(!local.is_set());
    /// ```
    pub fn new() -> Self {
        Local { slots: Slots::new(), control: Arc::new(Control::new()) }
    }

    /// Calls `f` with this thread's value, or with `None` if this thread has
    /// none. Never creates a value.
    ///
    /// # Examples
    ///
    /// ```
    /// let local = threadkit::Local::new();
    /// assert_eq!(local.with(|v| v.copied()), None);
    /// local.set(7);
    /// assert_eq!(local.with(|v| v.copied()), Some(7));
    /// ```
    #[inline]
    pub fn with<R>(&self, f: impl FnOnce(Option<&T>) -> R) -> R {
        match self.live_slot().or_else(|| self.revived_slot()) {
            // SAFETY: both return this thread's slot, holding its value.
            Some(slot) => unsafe { slot.lend(|value| f(Some(value))) },
            None => f(None),
        }
    }

    /// Calls `f` with this thread's value, first storing `init()` as the value
    /// if this thread has none.
    ///
    /// If `init` panics, nothing is stored and the `Local` stays usable. If
    /// `init` itself stores a value in this `Local` (re-entrantly), that
    /// value is kept and the one `init` returned is dropped after `f` runs.
    /// After this thread's exit hook has run, `init()` is lent to `f` and
    /// dropped, not stored.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::cell::Cell;
    /// let hits = threadkit::Local::new();
    /// for _ in 0..3 {
    ///     hits.with_or(|| Cell::new(0), |n| n.set(n.get() + 1));
    /// }
    /// assert_eq!(hits.with_or(|| Cell::new(0), Cell::get), 3);
    /// ```
    #[inline]
    pub fn with_or<R>(&self, init: impl FnOnce() -> T, f: impl FnOnce(&T) -> R) -> R {
        match self.live_slot() {
            // SAFETY: `live_slot` returned this thread's slot, holding a value.
            Some(slot) => unsafe { slot.lend(f) },
            None => self.init_and_lend(init, f),
        }
    }

    /// The slow path of `with_or`: this thread has no value yet.
    #[cold]
    #[inline(never)]
    fn init_and_lend<R>(&self, init: impl FnOnce() -> T, f: impl FnOnce(&T) -> R) -> R {
        if let Some(slot) = self.revived_slot() {
            // SAFETY: `revived_slot` returned this thread's slot, holding a
            // value.
            return unsafe { slot.lend(f) };
        }
        // Run user code before touching any state, so a panicking `init`
        // leaves nothing behind.
        let value = init();
        let Some(slot) = self.claim() else {
            // This thread is exiting and its values are gone: lend a
            // temporary instead of resurrecting a value nobody would drop.
            return f(&value);
        };
        let me = slot.owner();
        if slot.is_live_for(me) {
            // `init` stored a value re-entrantly: keep it.
            // SAFETY: this thread's own slot, and it holds a value.
            let result = unsafe { slot.lend(f) };
            drop(value);
            return result;
        }
        // SAFETY: this thread's own slot; it is empty, so nothing is lent out.
        unsafe { slot.store(value, me) };
        // SAFETY: this thread's own slot, and it now holds a value.
        unsafe { slot.lend(f) }
    }

    /// Calls `f` with this thread's value, first storing `T::default()` if
    /// this thread has none. Same as `with_or(T::default, f)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::cell::RefCell;
    /// let log: threadkit::Local<RefCell<Vec<&str>>> = threadkit::Local::new();
    /// log.with_or_default(|l| l.borrow_mut().push("hello"));
    /// assert_eq!(log.with_or_default(|l| l.borrow().len()), 1);
    /// ```
    #[inline]
    pub fn with_or_default<R>(&self, f: impl FnOnce(&T) -> R) -> R
    where
        T: Default,
    {
        self.with_or(T::default, f)
    }

    /// Stores `value` as this thread's value and returns the previous one.
    ///
    /// After this thread's exit hook has run (from a `Drop` at thread exit),
    /// `value` is dropped at once instead of being stored, and `None` is
    /// returned.
    ///
    /// # Panics
    ///
    /// If this thread's value is lent out: `set` called from inside
    /// [`with`](Local::with) or [`with_or`](Local::with_or) on the same
    /// `Local`, while the closure holds the value.
    ///
    /// # Examples
    ///
    /// ```
    /// let local = threadkit::Local::new();
    /// assert_eq!(local.set("a"), None);
    /// assert_eq!(local.set("b"), Some("a"));
    /// ```
    #[track_caller]
    pub fn set(&self, value: T) -> Option<T> {
        let Some(slot) = self.claim() else {
            drop(value);
            return None;
        };
        // SAFETY: `claim` returned this thread's own slot.
        if unsafe { slot.is_lent() } {
            lent_out_panic("set");
        }
        // SAFETY: this thread's own slot, and nothing is lent out.
        unsafe { slot.store(value, slot.owner()) }
    }

    /// Removes this thread's value and returns it; afterwards this thread has
    /// no value (until it stores one again).
    ///
    /// # Panics
    ///
    /// If this thread's value is lent out: `take` called from inside
    /// [`with`](Local::with) or [`with_or`](Local::with_or) on the same
    /// `Local`, while the closure holds the value.
    ///
    /// # Examples
    ///
    /// ```
    /// let local = threadkit::Local::new();
    /// local.set(vec![1, 2]);
    /// assert_eq!(local.take(), Some(vec![1, 2]));
    /// assert_eq!(local.take(), None);
    /// ```
    #[track_caller]
    pub fn take(&self) -> Option<T> {
        let slot = self.live_slot().or_else(|| self.revived_slot())?;
        // SAFETY: this thread's own slot.
        if unsafe { slot.is_lent() } {
            lent_out_panic("take");
        }
        // SAFETY: this thread's own slot, and nothing is lent out.
        unsafe { slot.take() }
    }

    /// Whether this thread has a value.
    ///
    /// # Examples
    ///
    /// ```
    /// let local = threadkit::Local::new();
    /// assert!(!local.is_set());
    /// local.set(1);
    /// assert!(local.is_set());
    /// std::thread::scope(|s| {
    ///     s.spawn(|| assert!(!local.is_set())); // another thread has none
    /// });
    /// ```
    #[inline]
    pub fn is_set(&self) -> bool {
        self.live_slot().or_else(|| self.revived_slot()).is_some()
    }

    /// Iterates over the values of every thread that has one, the calling
    /// thread's included, in no particular order.
    ///
    /// The references live as long as the mutable borrow of the `Local`, so a
    /// thread that exits meanwhile cannot drop its value: it leaves it to the
    /// `Local`'s next use (any method, from any thread, or its drop), which
    /// drops it.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// let mut local = Arc::new(threadkit::Local::new());
    /// local.set(1);
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    /// let worker = {
    ///     let local = Arc::clone(&local);
    ///     std::thread::spawn(move || {
    ///         local.set(2);
    ///         drop(local);
    ///         tx.send(()).unwrap();
    ///         done_rx.recv().unwrap(); // stay alive while the values are counted
    ///     })
    /// };
    /// rx.recv().unwrap();
    /// let local = Arc::get_mut(&mut local).unwrap();
    /// let mut values: Vec<i32> = local.iter_mut().map(|v| *v).collect();
    /// values.sort();
    /// assert_eq!(values, [1, 2]);
    /// done_tx.send(()).unwrap();
    /// worker.join().unwrap();
    /// assert_eq!(local.iter_mut().count(), 1); // the worker's value went with it
    /// ```
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut T> + '_ {
        let orphaned = {
            let mut state = self.control.state.lock();
            // A previous lending ended with the borrow that `&mut self` ends.
            let orphaned = self.take_orphaned(&mut state);
            state.lent_out = true;
            self.control.lent_out.store(true, Ordering::Relaxed);
            for slot in self.slots.iter() {
                // Every owner's next access misses the fast path, and the
                // first of them ends the lending (see `revived_slot`).
                slot.live.store(NO_VALUE, Ordering::Relaxed);
            }
            orphaned
        };
        drop(orphaned);
        self.slots.iter().filter_map(|slot| {
            // SAFETY: the items borrow the `Local` mutably, so no owner is
            // inside a method while they live, and `lent_out` keeps exit
            // hooks away from the values until the `Local` is used through
            // `&self` again (or `&mut`, or dropped), which proves they are
            // gone; each slot is visited once, so the `&mut`s do not alias.
            slot.value.with_mut(|value| unsafe { (*value).as_mut() })
        })
    }

    /// Drops every thread's value. Each thread, the calling one included,
    /// starts over with no value.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut local = threadkit::Local::new();
    /// local.set(String::from("cached"));
    /// local.clear();
    /// assert!(!local.is_set());
    /// ```
    pub fn clear(&mut self) {
        let values: Vec<T> = {
            let mut state = self.control.state.lock();
            state.lent_out = false;
            state.orphans = 0;
            self.control.lent_out.store(false, Ordering::Relaxed);
            self.slots
                .iter()
                .filter_map(|slot| {
                    if slot.owner() == ORPHANED {
                        slot.set_owner(NO_THREAD);
                    }
                    // SAFETY: the control lock is held and `&mut self` keeps
                    // every owner out of the slot; exit hooks wait for the
                    // lock; nothing is lent out.
                    unsafe { slot.take() }
                })
                .collect()
        };
        // User `Drop` code runs after the lock is released.
        drop(values);
    }

    /// This thread's slot, if it holds this thread's value: the fast path.
    #[inline(always)]
    fn live_slot(&self) -> Option<&Slot<T>> {
        let me = this_thread_if_known()?;
        let slot = self.slots.get(me)?;
        // A slot found through the storage is either this thread's own or,
        // after the `thread_local` crate recycled an exited thread's index,
        // a stale one: the tags tell them apart.
        slot.is_live_for(me).then_some(slot)
    }

    /// This thread's slot, if it has one and owns it (with or without a
    /// value).
    #[inline]
    fn own_slot(&self) -> Option<&Slot<T>> {
        let me = this_thread()?;
        let slot = self.slots.get(me)?;
        (slot.owner() == me).then_some(slot)
    }

    /// The slow path of every lookup that missed `live_slot`: ends a lending
    /// through `iter_mut` if there was one, and returns this thread's slot if
    /// it holds this thread's value after all (its `live` tag cleared by
    /// `iter_mut`, now restored).
    #[cold]
    #[inline(never)]
    fn revived_slot(&self) -> Option<&Slot<T>> {
        if self.control.lent_out.load(Ordering::Relaxed) {
            self.end_lending();
        }
        let slot = self.own_slot()?;
        // SAFETY: this thread's own slot.
        if !unsafe { slot.has_value() } {
            return None;
        }
        slot.live.store(slot.owner(), Ordering::Relaxed);
        Some(slot)
    }

    /// Ends a lending through `iter_mut`: this is a use through `&self`, so
    /// the mutable borrow that lent the values out has ended, and with it
    /// every reference `iter_mut` handed out. Drops the values that exiting
    /// threads left behind meanwhile.
    #[cold]
    fn end_lending(&self) {
        let orphaned = {
            let mut state = self.control.state.lock();
            state.lent_out = false;
            self.control.lent_out.store(false, Ordering::Relaxed);
            self.take_orphaned(&mut state)
        };
        drop(orphaned);
    }

    /// Takes out the values of slots marked `ORPHANED`, to be dropped once
    /// the lock (`state`) is released.
    fn take_orphaned(&self, state: &mut ControlState) -> Vec<T> {
        if mem::take(&mut state.orphans) == 0 {
            return Vec::new();
        }
        self.slots
            .iter()
            .filter_map(|slot| {
                if slot.owner() != ORPHANED {
                    return None;
                }
                slot.set_owner(NO_THREAD);
                // SAFETY: the control lock is held (`state` is its data). The
                // owner has exited and its exit hook is done with the slot;
                // nobody else reaches an orphaned value without the lock,
                // and the lending that kept it is over.
                unsafe { slot.take() }
            })
            .collect()
    }

    /// This thread's slot, taken over and registered with its exit hook if
    /// need be; `None` once this thread's exit hook has run (or can no longer
    /// be reached), when nothing may be stored any more.
    fn claim(&self) -> Option<&Slot<T>> {
        if self.control.lent_out.load(Ordering::Relaxed) {
            self.end_lending();
        }
        if let Some(slot) = self.own_slot() {
            return Some(slot);
        }
        if exiting() {
            return None;
        }
        let me = this_thread()?;
        let slot = self.slots.get_or_insert(me)?;
        // Register before taking the slot over, so a taken slot always has
        // a hook entry that will release it.
        if !register_exit(Entry::new(&self.control, slot, me)) {
            return None;
        }
        let stale = {
            let _state = self.control.state.lock();
            slot.set_owner(me);
            // SAFETY: the control lock is held. The slot is not this
            // thread's, so it is new or its previous owner has exited (that
            // is how the `thread_local` crate recycles it) and reaches it only
            // through its exit hook, which takes the same lock; nothing is
            // lent out.
            unsafe { slot.take() }
        };
        // A stale value left by an exited thread whose hook has not run yet.
        drop(stale);
        Some(slot)
    }
}

impl<T: Send + 'static> Default for Local<T> {
    /// An empty `Local`, same as [`Local::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// let local: threadkit::Local<u8> = Default::default();
    /// assert!(!local.is_set());
    /// ```
    fn default() -> Self {
        Local::new()
    }
}

impl<T: Send + 'static> fmt::Debug for Local<T> {
    /// Shows whether the calling thread has a value (never blocks, needs no
    /// `T: Debug`).
    ///
    /// # Examples
    ///
    /// ```
    /// let local = threadkit::Local::new();
    /// local.set(1);
    /// assert_eq!(format!("{local:?}"), "Local { is_set: true, .. }");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Local").field("is_set", &self.is_set()).finish_non_exhaustive()
    }
}

impl<T: Send + 'static> Drop for Local<T> {
    fn drop(&mut self) {
        // After this, exit hooks leave the slots alone, so the storage (and
        // every value left in it) can be dropped without the lock. A hook
        // that got the lock first has already taken its value out.
        self.control.state.lock().alive = false;
    }
}

#[cold]
#[inline(never)]
#[track_caller]
fn lent_out_panic(method: &str) -> ! {
    panic!(
        "Local accessed re-entrantly: {method}() called while this thread's value is lent \
         out by with()/with_or() on the same Local"
    )
}

/// State shared between a `Local` and the exit hooks of the threads that
/// used it.
struct Control {
    state: Mutex<ControlState>,
    /// A copy of `state.lent_out`, written under the lock, so the slow
    /// paths can skip the lock when nothing is lent out.
    lent_out: AtomicBool,
}

struct ControlState {
    /// False once `Local::drop` has started: hooks must not touch the slots.
    alive: bool,
    /// `iter_mut` lent the values out, and no use of the `Local` since has
    /// shown that the references are gone: exit hooks must leave the values
    /// in place (marked `ORPHANED`).
    lent_out: bool,
    /// How many slots may be marked `ORPHANED`.
    orphans: usize,
}

impl Control {
    fn new() -> Self {
        Control {
            state: Mutex::new(ControlState { alive: true, lent_out: false, orphans: 0 }),
            lent_out: AtomicBool::new(false),
        }
    }
}

/// One thread's value in one `Local`.
///
/// Access rules (what makes the `unsafe impl Sync` below sound):
///
/// - `owner` is written only under the `Local`'s control lock. It is read
///   without the lock only by the thread whose slot the storage returns,
///   to check that the slot is its own.
/// - `live` is an atomic, written by the owner, by whoever takes the value
///   out under the lock, and by `iter_mut` (under the lock and `&mut`).
/// - `value` and `borrows` are touched without the lock only by the thread
///   whose id is in `owner`, and never while that thread's exit hook runs
///   for this slot. Everyone else (the exit hook, a thread taking over a
///   recycled slot, `clear`, `drop`, the sweep of orphaned values) holds
///   the control lock and knows the owner is out of the slot: it is exiting
///   or gone (and reaches the slot only through its hook, under the lock),
///   or the `Local` is borrowed mutably. `iter_mut` lends values out
///   without the lock, through `&mut Local`, with `lent_out` set so that
///   exit hooks keep off until the `Local` is next used.
struct Slot<T> {
    /// `owner` while the owner's value is in the slot, else `NO_VALUE`:
    /// the one word the fast path checks. Written by the owner (its own id
    /// or `NO_VALUE`) and, under the control lock, by whoever takes the
    /// value out (`NO_VALUE`). Only a thread itself ever writes its id
    /// here, so a `Relaxed` load that finds the caller's id was written by
    /// the caller, and the value is there.
    live: AtomicU64,
    /// The id of the thread this slot belongs to (whose exit hook has an
    /// entry for it); `NO_THREAD` if none; `ORPHANED`.
    owner: AtomicU64,
    /// How many `with`/`with_or` closures of the owner hold the value.
    borrows: Cell<usize>,
    value: UnsafeCell<Option<T>>,
}

// SAFETY: a `Slot` is shared between threads only under the access rules
// above: `value` and `borrows` are used by one thread at a time (the owner,
// or a lock holder while the owner cannot be inside), and `owner` is an
// atomic. Values move between threads (dropped by another thread, lent
// through `iter_mut`), which needs `T: Send`; they are never lent to two
// threads at once, so `T: Sync` is not needed.
unsafe impl<T: Send> Sync for Slot<T> {}

impl<T> Slot<T> {
    fn new() -> Self {
        Slot {
            live: AtomicU64::new(NO_VALUE),
            owner: AtomicU64::new(NO_THREAD),
            borrows: Cell::new(0),
            value: UnsafeCell::new(None),
        }
    }

    /// The tag, read under the control lock (or by the owner itself).
    fn owner(&self) -> u64 {
        self.owner.load(Ordering::Relaxed)
    }

    /// Changes the tag. Callers hold the control lock, which orders this
    /// store for everyone but the owner thread (which reads it without the
    /// lock, but only ever finds its own id written by itself).
    fn set_owner(&self, id: u64) {
        self.owner.store(id, Ordering::Relaxed);
    }

    /// # Safety
    /// The caller may access `value` (see the access rules).
    #[inline]
    unsafe fn has_value(&self) -> bool {
        // SAFETY: forwarded from the caller.
        self.value.with(|value| unsafe { (*value).is_some() })
    }

    /// Whether the slot holds the value of thread `me`.
    #[inline(always)]
    fn is_live_for(&self, me: u64) -> bool {
        self.live.load(Ordering::Relaxed) == me
    }

    /// # Safety
    /// The caller is the owner thread.
    #[inline]
    unsafe fn is_lent(&self) -> bool {
        self.borrows.get() != 0
    }

    /// Stores the value of the owner thread `owner`; returns the previous
    /// one.
    ///
    /// # Safety
    /// The caller is the owner thread and no reference to the value is lent
    /// out.
    #[inline]
    unsafe fn store(&self, new: T, owner: u64) -> Option<T> {
        // SAFETY: forwarded from the caller: exclusive access, nothing lent.
        let old = self.value.with_mut(|value| unsafe { (*value).replace(new) });
        self.live.store(owner, Ordering::Relaxed);
        old
    }

    /// Takes the value out, if any.
    ///
    /// # Safety
    /// The caller may access `value` (see the access rules) and no reference
    /// to it is lent out.
    #[inline]
    unsafe fn take(&self) -> Option<T> {
        self.live.store(NO_VALUE, Ordering::Relaxed);
        // SAFETY: forwarded from the caller: exclusive access, nothing lent.
        self.value.with_mut(|value| unsafe { (*value).take() })
    }

    /// Lends the value to `f`, counted in `borrows` so that `set`/`take` on
    /// the same slot panic instead of invalidating the reference.
    ///
    /// # Safety
    /// The caller is the owner thread and the slot holds its value (`live`
    /// is its id).
    #[inline(always)]
    unsafe fn lend<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        struct Lent<'a>(&'a Cell<usize>);
        impl Drop for Lent<'_> {
            #[inline]
            fn drop(&mut self) {
                self.0.set(self.0.get() - 1);
            }
        }
        // Each lend is a live stack frame, so the count cannot overflow.
        self.borrows.set(self.borrows.get() + 1);
        let _lent = Lent(&self.borrows);
        self.value.with(|value| {
            // SAFETY: the owner's access, with the value present (caller's
            // contract); while `borrows` is nonzero nothing replaces it:
            // `set`/`take` panic, and the exit hook, `clear` and `iter_mut`
            // cannot run while this thread is inside `with` on `&self`.
            let value = unsafe { (*value).as_ref().unwrap_unchecked() };
            f(value)
        })
    }
}

/// The storage: one `Slot` per thread that used the `Local`. Slots never
/// move and are freed only when the `Local` is dropped, so exit hooks may
/// keep pointers to them.
#[cfg(not(loom))]
struct Slots<T: Send>(::thread_local::ThreadLocal<Slot<T>>);

#[cfg(not(loom))]
impl<T: Send> Slots<T> {
    fn new() -> Self {
        Slots(::thread_local::ThreadLocal::new())
    }

    /// The slot the `thread_local` crate gives this thread, if any. It may
    /// be stale: check its owner.
    #[inline(always)]
    fn get(&self, _me: u64) -> Option<&Slot<T>> {
        self.0.get()
    }

    /// The slot the `thread_local` crate gives this thread, created if need
    /// be; `None` if the crate can no longer give this thread a slot.
    fn get_or_insert(&self, _me: u64) -> Option<&Slot<T>> {
        // During thread exit, once the crate's own thread-exit guard is gone,
        // `get_or` panics ("cannot access a Thread Local Storage value during
        // or after destruction"); a panic escaping a thread-local destructor
        // aborts the process, so treat it as "exiting". No user code runs
        // inside.
        panic::catch_unwind(AssertUnwindSafe(|| {
            self.0.get_or(Slot::new);
        }))
        .ok()?;
        // Fetch the slot again through `get`, the path every later access
        // takes: on first insertion `get_or` returns a reference derived from
        // a `&mut` inside the crate, which (with the exit hook's pointer made
        // from it) Stacked Borrows invalidates at the next write through a
        // reference from `get`.
        self.0.get()
    }

    /// Every slot. The references stay valid for as long as `self` is
    /// borrowed; what may be done with them follows the slot access rules.
    fn iter(&self) -> impl Iterator<Item = &Slot<T>> {
        self.0.iter()
    }
}

/// Under loom, the `thread_local` crate would key on std's thread-locals,
/// which every loom thread shares, so the slots live in a loom mutex keyed by
/// thread id, in a `Vec` for a deterministic order. Each slot is boxed so it
/// never moves.
#[cfg(loom)]
struct Slots<T>(Mutex<Vec<(u64, Box<Slot<T>>)>>);

#[cfg(loom)]
impl<T: Send> Slots<T> {
    fn new() -> Self {
        Slots(Mutex::new(Vec::new()))
    }

    fn get(&self, me: u64) -> Option<&Slot<T>> {
        let slots = self.0.lock();
        let slot: *const Slot<T> = &*slots.iter().find(|(id, _)| *id == me)?.1;
        // SAFETY: boxes are only added, never removed or replaced, before
        // `self` is dropped, and a box's contents do not move when the
        // `Vec` grows: the slot lives as long as `&self`.
        Some(unsafe { &*slot })
    }

    fn get_or_insert(&self, me: u64) -> Option<&Slot<T>> {
        let mut slots = self.0.lock();
        let slot: *const Slot<T> = match slots.iter().find(|(id, _)| *id == me) {
            Some((_, slot)) => &**slot,
            None => {
                slots.push((me, Box::new(Slot::new())));
                &*slots.last().expect("just pushed").1
            }
        };
        // SAFETY: as in `get`.
        Some(unsafe { &*slot })
    }

    fn iter(&self) -> impl Iterator<Item = &Slot<T>> {
        let slots: Vec<*const Slot<T>> =
            self.0.lock().iter().map(|(_, slot)| &**slot as *const Slot<T>).collect();
        // SAFETY: as in `get`.
        slots.into_iter().map(|slot| unsafe { &*slot })
    }
}

// ---------------------------------------------------------------------------
// Thread exit hooks
// ---------------------------------------------------------------------------

/// A thread's claim on one slot of one `Local`, released at thread exit.
struct Entry {
    control: Arc<Control>,
    /// The `Slot<T>`, type-erased.
    slot: *const (),
    /// The thread's id, as written in the slot's tag when it was claimed.
    owner: u64,
    /// `release_slot::<T>`.
    release: unsafe fn(&Control, *const (), u64),
}

impl Entry {
    fn new<T: Send + 'static>(control: &Arc<Control>, slot: &Slot<T>, owner: u64) -> Self {
        Entry {
            control: Arc::clone(control),
            slot: (slot as *const Slot<T>).cast(),
            owner,
            release: release_slot::<T>,
        }
    }

    fn is_live(&self) -> bool {
        self.control.state.lock().alive
    }
}

/// Takes the exiting thread's value out of its slot and drops it.
///
/// # Safety
/// `slot` points to a `Slot<T>` in the storage of the `Local` that `control`
/// belongs to (it may have been dropped since).
unsafe fn release_slot<T: Send + 'static>(control: &Control, slot: *const (), owner: u64) {
    let value = {
        let mut state = control.state.lock();
        if !state.alive {
            // `Local::drop` has begun: it drops the value, and the slot may
            // already be freed.
            return;
        }
        // SAFETY: the `Local` is alive (checked under the lock that
        // `Local::drop` takes first), so its storage and this slot are too.
        let slot = unsafe { &*slot.cast::<Slot<T>>() };
        if slot.owner() != owner {
            // Taken over by a thread that inherited the recycled slot (which
            // dropped the value), or orphaned and already cleaned up.
            return;
        }
        if state.lent_out {
            // A reference from `iter_mut` may still point at this value:
            // leave it for the `Local`'s next use to drop.
            state.orphans += 1;
            slot.set_owner(ORPHANED);
            return;
        }
        slot.set_owner(NO_THREAD);
        // SAFETY: the control lock is held, and this is the owner thread,
        // running its exit hook: it is not inside any method of the `Local`
        // (thread-local destructors do not nest inside one), so nothing is
        // lent out.
        unsafe { slot.take() }
    };
    drop_at_exit(value);
}

/// Drops a value from a thread-local destructor, where a panic escaping
/// would abort the process: the panic hook reports it, and the remaining
/// values are still dropped.
fn drop_at_exit<T>(value: T) {
    if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(move || drop(value))) {
        // A payload whose own `Drop` panics is leaked rather than aborting.
        if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(move || drop(payload))) {
            mem::forget(payload);
        }
    }
}

/// A thread's exit hook: the slots it claimed, released when the
/// thread-local is destroyed at thread exit.
struct ExitHook {
    entries: RefCell<Vec<Entry>>,
}

/// Prune dead entries (of dropped `Local`s) when the list is about to grow
/// past this many.
const PRUNE_FROM: usize = 16;

impl ExitHook {
    const fn new() -> Self {
        ExitHook { entries: RefCell::new(Vec::new()) }
    }

    fn push(&self, entry: Entry) {
        let mut entries = self.entries.borrow_mut();
        // Before the `Vec` doubles, drop the entries of `Local`s that no
        // longer exist: a long-lived thread using many short-lived `Local`s
        // keeps a list proportional to the live ones, at amortized O(1).
        if entries.len() == entries.capacity() && entries.len() >= PRUNE_FROM {
            entries.retain(Entry::is_live);
        }
        entries.push(entry);
    }
}

impl Drop for ExitHook {
    fn drop(&mut self) {
        // From here on this thread stores nothing: a `Drop` run below that
        // uses a `Local` must not resurrect a value no hook would drop.
        let _ = EXITED.try_with(|exited| exited.set(true));
        for entry in mem::take(self.entries.get_mut()) {
            // SAFETY: entries are created by `Entry::new` for a slot of the
            // `Local` that owns `entry.control`.
            unsafe { (entry.release)(&entry.control, entry.slot, entry.owner) };
        }
    }
}

// `Cell<bool>` has no destructor, so `EXITED` stays readable during and after
// the thread's other thread-local destructors.
#[cfg(not(loom))]
thread_local! {
    static EXITED: Cell<bool> = const { Cell::new(false) };
    static EXIT_HOOK: ExitHook = const { ExitHook::new() };
}

// loom's `thread_local!` has no `const` form. loom destroys all of a thread's
// thread-locals at once when it finishes, so `EXITED` then reads as an
// access error, which `exiting` treats as true.
#[cfg(loom)]
thread_local! {
    static EXITED: Cell<bool> = Cell::new(false);
    static EXIT_HOOK: ExitHook = ExitHook::new();
}

/// Whether this thread's exit hook has started (or can no longer run).
fn exiting() -> bool {
    EXITED.try_with(Cell::get).unwrap_or(true)
}

/// Adds `entry` to this thread's exit hook; false if the hook is gone (the
/// thread is exiting).
///
/// The hook is first touched here, after the `thread_local` crate has
/// registered its own thread-exit guard (in `get_or_insert`); std runs
/// thread-local destructors in reverse order of registration, so in
/// practice the hook runs while this thread still holds its slot index.
/// Correctness does not depend on it: a slot recycled early is recognised by
/// its tag.
fn register_exit(entry: Entry) -> bool {
    EXIT_HOOK.try_with(|hook| hook.push(entry)).is_ok()
}

// The calling thread's id, cached here so the fast path can read it without
// the branch that assigns one (`Cell<u64>`: no destructor, always readable).
#[cfg(not(loom))]
thread_local! {
    static THIS_THREAD: Cell<u64> = const { Cell::new(NO_THREAD) };
}

/// The calling thread's id.
#[cfg(not(loom))]
#[inline]
fn this_thread() -> Option<u64> {
    THIS_THREAD.with(|cached| {
        if cached.get() == NO_THREAD {
            cached.set(thread_id::current());
        }
        Some(cached.get())
    })
}

/// The calling thread's id, or `NO_THREAD` if it has not asked for one yet:
/// such a thread has stored nothing, and `NO_THREAD` matches no slot's
/// `live` tag.
#[cfg(not(loom))]
#[inline(always)]
fn this_thread_if_known() -> Option<u64> {
    Some(THIS_THREAD.with(Cell::get))
}

/// The calling thread's id; `None` once loom has destroyed the thread's
/// thread-locals (the id's among them) at thread exit.
#[cfg(loom)]
fn this_thread() -> Option<u64> {
    if exiting() { None } else { Some(thread_id::current()) }
}

#[cfg(loom)]
use this_thread as this_thread_if_known;

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn local_is_send_and_sync_without_t_sync() {
        fn assert_send_sync<X: Send + Sync>() {}
        assert_send_sync::<Local<std::cell::Cell<u8>>>();
        assert_send_sync::<Local<std::cell::RefCell<String>>>();
    }

    /// What a thread sees in a slot recycled from an exited thread whose
    /// exit hook has not run yet (std runs the hook first in practice, so
    /// this is forced by re-tagging).
    #[test]
    fn a_slot_tagged_for_another_thread_is_empty_and_taken_over() {
        use std::sync::atomic::AtomicUsize;
        struct Counted<'a>(&'a AtomicUsize);
        impl Drop for Counted<'_> {
            fn drop(&mut self) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        static DROPS: AtomicUsize = AtomicUsize::new(0);
        std::thread::spawn(|| {
            let local = Local::new();
            local.set(Counted(&DROPS));
            let slot = local.live_slot().expect("own slot");
            let gone = crate::loom::fresh_id(); // an id no thread has
            let state = local.control.state.lock();
            slot.set_owner(gone);
            slot.live.store(gone, Ordering::Relaxed);
            drop(state);
            assert!(!local.is_set());
            assert!(local.with(|v| v.is_none()));
            assert!(local.take().is_none());
            assert_eq!(DROPS.load(Ordering::SeqCst), 0);
            assert!(local.set(Counted(&DROPS)).is_none(), "the stale value is not handed out");
            assert_eq!(DROPS.load(Ordering::SeqCst), 1, "the stale value was dropped");
            assert!(local.is_set());
            drop(local);
            assert_eq!(DROPS.load(Ordering::SeqCst), 2);
        })
        .join()
        .unwrap();
        assert_eq!(DROPS.load(Ordering::SeqCst), 2, "the exit hook dropped nothing more");
    }

    #[test]
    fn dead_entries_are_pruned() {
        std::thread::spawn(|| {
            // Past the pruning threshold several times over either way.
            for _ in 0..if cfg!(miri) { 100 } else { 1000 } {
                let local = Local::new();
                local.set(1u8);
            }
            let len = EXIT_HOOK.with(|hook| hook.entries.borrow().len());
            assert!(len <= 2 * PRUNE_FROM, "{len} entries kept for dropped Locals");
        })
        .join()
        .unwrap();
    }
}
