//! Compile-time proof of exactly which public types are `Send` / `Sync`.
//!
//! Each assertion is a constant evaluated by the compiler: if a type gains
//! or loses an auto trait, this file stops compiling. Both directions are
//! checked (what must hold and what must not), for payloads that are
//! `Send + Sync` (`u32`), `Send` only (`Cell<u32>`), `Sync` only
//! (`MutexGuard<'static, u32>`) and neither (`Rc<u32>`).
//!
//! The same probe checks `UnwindSafe` / `RefUnwindSafe` (see
//! `unwind_safety_of_every_public_type` for what we claim and why).
//!
//! What must not compile at all lives in `compile_fail` doctests, next to
//! the types: sending a `LockGuard` to another thread (src/lock.rs, on
//! `LockGuard`), sending an `RLockGuard` and mutating through one
//! (src/rlock.rs, on `RLockGuard`), sending a `Task` of a `!Send` item
//! (src/queue/task.rs), a `Local` of a `!Send` type (src/local.rs) and
//! sharing a `Queue` of a `!Send` item between threads (src/queue/mod.rs).
//! Run them with `cargo test --doc`.
#![cfg(not(loom))]

use std::cell::{Cell, RefCell};
use std::cmp::Ordering;
use std::marker::PhantomData;
use std::panic::{RefUnwindSafe, UnwindSafe};
use std::rc::Rc;
use std::sync::MutexGuard;

use threadkit::{
    Condition, Event, GetError, LifoQueue, Local, Lock, LockGuard, LockKey, LockOrderError,
    Ordered, PriorityQueue, PutError, Queue, RLock, RLockGuard, ShutDown, Task, TaskDoneError,
    WaitTimeoutResult,
};

/// `Probe::<T>::SEND` is `true` exactly when `T: Send`, and `SYNC` exactly
/// when `T: Sync`, on stable Rust: an inherent associated constant takes
/// precedence over a trait's, but the inherent impl only applies when its
/// bound holds; otherwise the name resolves to the blanket trait's `false`.
/// (This only works for concrete types, which is all we need here.)
struct Probe<T: ?Sized>(PhantomData<T>);

trait NotSend {
    const SEND: bool = false;
}
impl<T: ?Sized> NotSend for Probe<T> {}
impl<T: ?Sized + Send> Probe<T> {
    const SEND: bool = true;
}

trait NotSync {
    const SYNC: bool = false;
}
impl<T: ?Sized> NotSync for Probe<T> {}
impl<T: ?Sized + Sync> Probe<T> {
    const SYNC: bool = true;
}

trait NotUnwindSafe {
    const UNWIND_SAFE: bool = false;
}
impl<T: ?Sized> NotUnwindSafe for Probe<T> {}
impl<T: ?Sized + UnwindSafe> Probe<T> {
    const UNWIND_SAFE: bool = true;
}

trait NotRefUnwindSafe {
    const REF_UNWIND_SAFE: bool = false;
}
impl<T: ?Sized> NotRefUnwindSafe for Probe<T> {}
impl<T: ?Sized + RefUnwindSafe> Probe<T> {
    const REF_UNWIND_SAFE: bool = true;
}

/// `auto_traits!(Type: Send = bool, Sync = bool)` fails to compile unless
/// `Type` implements `Send` and `Sync` exactly as stated.
macro_rules! auto_traits {
    ($ty:ty: Send = $send:literal, Sync = $sync:literal) => {
        const _: () = {
            assert!(
                Probe::<$ty>::SEND == $send,
                concat!("expected `", stringify!($ty), ": Send` to be ", stringify!($send)),
            );
            assert!(
                Probe::<$ty>::SYNC == $sync,
                concat!("expected `", stringify!($ty), ": Sync` to be ", stringify!($sync)),
            );
        };
    };
}

/// `unwind_traits!(Type: UnwindSafe = bool, RefUnwindSafe = bool)`, the
/// same check for the two unwind-safety markers.
macro_rules! unwind_traits {
    ($ty:ty: UnwindSafe = $uw:literal, RefUnwindSafe = $ruw:literal) => {
        const _: () = {
            assert!(
                Probe::<$ty>::UNWIND_SAFE == $uw,
                concat!("expected `", stringify!($ty), ": UnwindSafe` to be ", stringify!($uw)),
            );
            assert!(
                Probe::<$ty>::REF_UNWIND_SAFE == $ruw,
                concat!("expected `", stringify!($ty), ": RefUnwindSafe` to be ", stringify!($ruw)),
            );
        };
    };
}

/// Sync but not Send: the payload that separates "Sync iff T: Sync" from
/// "Sync iff T: Send".
type SyncOnly = MutexGuard<'static, u32>;

#[test]
fn the_probe_tells_all_four_combinations_apart() {
    auto_traits!(u32: Send = true, Sync = true);
    auto_traits!(Cell<u32>: Send = true, Sync = false);
    auto_traits!(SyncOnly: Send = false, Sync = true);
    auto_traits!(Rc<u32>: Send = false, Sync = false);
}

#[test]
fn lock_is_send_and_sync_iff_the_payload_is_send() {
    auto_traits!(Lock<u32>: Send = true, Sync = true);
    auto_traits!(Lock<Cell<u32>>: Send = true, Sync = true);
    auto_traits!(Lock<SyncOnly>: Send = false, Sync = false);
    auto_traits!(Lock<Rc<u32>>: Send = false, Sync = false);
}

#[test]
fn rlock_is_send_and_sync_iff_the_payload_is_send() {
    auto_traits!(RLock<u32>: Send = true, Sync = true);
    auto_traits!(RLock<Cell<u32>>: Send = true, Sync = true);
    auto_traits!(RLock<SyncOnly>: Send = false, Sync = false);
    auto_traits!(RLock<Rc<u32>>: Send = false, Sync = false);
}

#[test]
fn lock_guard_is_never_send_and_sync_iff_the_payload_is_sync() {
    auto_traits!(LockGuard<'static, u32>: Send = false, Sync = true);
    auto_traits!(LockGuard<'static, Cell<u32>>: Send = false, Sync = false);
    auto_traits!(LockGuard<'static, SyncOnly>: Send = false, Sync = true);
    auto_traits!(LockGuard<'static, Rc<u32>>: Send = false, Sync = false);
}

#[test]
fn rlock_guard_is_never_send_and_sync_iff_the_payload_is_sync() {
    auto_traits!(RLockGuard<'static, u32>: Send = false, Sync = true);
    auto_traits!(RLockGuard<'static, Cell<u32>>: Send = false, Sync = false);
    auto_traits!(RLockGuard<'static, SyncOnly>: Send = false, Sync = true);
    auto_traits!(RLockGuard<'static, Rc<u32>>: Send = false, Sync = false);
}

#[test]
fn lock_key_is_send_and_sync() {
    auto_traits!(LockKey: Send = true, Sync = true);
}

/// An `Ord` wrapper, so that every payload kind can be put in a
/// `PriorityQueue` the way a user would (the struct itself has no `Ord`
/// bound, so `PriorityQueue<Cell<u32>>` is nameable too; both are checked).
/// `P` only decides the auto traits; the order compares nothing.
struct Prio<P>(P);

impl<P> PartialEq for Prio<P> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl<P> Eq for Prio<P> {}
impl<P> PartialOrd for Prio<P> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<P> Ord for Prio<P> {
    fn cmp(&self, _: &Self) -> Ordering {
        Ordering::Equal
    }
}

#[test]
fn the_ord_wrapper_keeps_the_payloads_auto_traits() {
    auto_traits!(Prio<u32>: Send = true, Sync = true);
    auto_traits!(Prio<Cell<u32>>: Send = true, Sync = false);
    auto_traits!(Prio<SyncOnly>: Send = false, Sync = true);
    auto_traits!(Prio<Rc<u32>>: Send = false, Sync = false);
}

#[test]
fn queue_is_send_and_sync_iff_the_payload_is_send() {
    auto_traits!(Queue<u32>: Send = true, Sync = true);
    auto_traits!(Queue<Cell<u32>>: Send = true, Sync = true);
    auto_traits!(Queue<SyncOnly>: Send = false, Sync = false);
    auto_traits!(Queue<Rc<u32>>: Send = false, Sync = false);
}

#[test]
fn lifo_queue_is_send_and_sync_iff_the_payload_is_send() {
    auto_traits!(LifoQueue<u32>: Send = true, Sync = true);
    auto_traits!(LifoQueue<Cell<u32>>: Send = true, Sync = true);
    auto_traits!(LifoQueue<SyncOnly>: Send = false, Sync = false);
    auto_traits!(LifoQueue<Rc<u32>>: Send = false, Sync = false);
}

#[test]
fn priority_queue_is_send_and_sync_iff_the_payload_is_send() {
    auto_traits!(PriorityQueue<Prio<u32>>: Send = true, Sync = true);
    auto_traits!(PriorityQueue<Prio<Cell<u32>>>: Send = true, Sync = true);
    auto_traits!(PriorityQueue<Prio<SyncOnly>>: Send = false, Sync = false);
    auto_traits!(PriorityQueue<Prio<Rc<u32>>>: Send = false, Sync = false);
    // The bare payloads too: the struct has no `Ord` bound.
    auto_traits!(PriorityQueue<u32>: Send = true, Sync = true);
    auto_traits!(PriorityQueue<Cell<u32>>: Send = true, Sync = true);
    auto_traits!(PriorityQueue<SyncOnly>: Send = false, Sync = false);
    auto_traits!(PriorityQueue<Rc<u32>>: Send = false, Sync = false);
}

#[test]
fn task_is_send_iff_the_payload_is_send_and_sync_iff_it_is_sync() {
    auto_traits!(Task<'static, u32>: Send = true, Sync = true);
    auto_traits!(Task<'static, Cell<u32>>: Send = true, Sync = false);
    auto_traits!(Task<'static, SyncOnly>: Send = false, Sync = true);
    auto_traits!(Task<'static, Rc<u32>>: Send = false, Sync = false);
}

#[test]
fn shut_down_is_send_and_sync_as_its_payload() {
    auto_traits!(ShutDown: Send = true, Sync = true);
    auto_traits!(ShutDown<u32>: Send = true, Sync = true);
    auto_traits!(ShutDown<Cell<u32>>: Send = true, Sync = false);
    auto_traits!(ShutDown<SyncOnly>: Send = false, Sync = true);
    auto_traits!(ShutDown<Rc<u32>>: Send = false, Sync = false);
}

#[test]
fn put_error_is_send_and_sync_as_its_payload() {
    auto_traits!(PutError<u32>: Send = true, Sync = true);
    auto_traits!(PutError<Cell<u32>>: Send = true, Sync = false);
    auto_traits!(PutError<SyncOnly>: Send = false, Sync = true);
    auto_traits!(PutError<Rc<u32>>: Send = false, Sync = false);
}

#[test]
fn payload_free_errors_and_results_are_send_and_sync() {
    auto_traits!(GetError: Send = true, Sync = true);
    auto_traits!(TaskDoneError: Send = true, Sync = true);
    auto_traits!(LockOrderError: Send = true, Sync = true);
    auto_traits!(WaitTimeoutResult: Send = true, Sync = true);
}

#[test]
fn condition_and_event_are_send_and_sync() {
    auto_traits!(Condition: Send = true, Sync = true);
    auto_traits!(Event: Send = true, Sync = true);
}

#[test]
fn local_is_send_and_sync_for_every_send_payload() {
    // `Local<T>` requires `T: Send + 'static` on the struct, so
    // `Local<SyncOnly>` and `Local<Rc<u32>>` are not types at all (see the
    // `compile_fail` doctest on `Local`). A value is only ever lent to one
    // thread at a time, so `T: Sync` is not needed for `Local<T>: Sync`.
    auto_traits!(Local<u32>: Send = true, Sync = true);
    auto_traits!(Local<Cell<u32>>: Send = true, Sync = true);
    auto_traits!(Local<RefCell<Vec<u32>>>: Send = true, Sync = true);
}

#[test]
fn ordered_follows_its_guards() {
    // Guards are `!Send`, so a set of them is too; `Sync` follows the
    // payloads' `Sync`, as for a single guard.
    auto_traits!(Ordered<(LockGuard<'static, u32>, LockGuard<'static, u32>)>: Send = false, Sync = true);
    auto_traits!(Ordered<(LockGuard<'static, u32>, RLockGuard<'static, Cell<u32>>)>: Send = false, Sync = false);
    auto_traits!(Ordered<[LockGuard<'static, u32>; 2]>: Send = false, Sync = true);
    auto_traits!(Ordered<Vec<RLockGuard<'static, u32>>>: Send = false, Sync = true);
    auto_traits!(Ordered<Vec<LockGuard<'static, Rc<u32>>>>: Send = false, Sync = false);
    // `Ordered` adds nothing of its own: over plain data it is whatever the
    // data is.
    auto_traits!(Ordered<u32>: Send = true, Sync = true);
    auto_traits!(Ordered<Cell<u32>>: Send = true, Sync = false);
}

/// Unwind safety, as the compiler sees it today. These markers are a lint,
/// not a soundness property; what we claim:
///
/// - `Condition`, `Event` and the queues implement both explicitly (as std's
///   `Mutex` and crossbeam-channel's `Sender`/`Receiver` do): a panic in user
///   code leaves them whole and they never expose a half-updated item.
/// - `Lock<T>` / `RLock<T>` keep the derived facts, as parking_lot's `Mutex`
///   does: `UnwindSafe` when `T` is, never `RefUnwindSafe`. std claims
///   `RefUnwindSafe` for its `Mutex` because poisoning reports a panic in
///   the middle of an update; without poisoning, a `&Lock` taken into
///   `catch_unwind` can show data a panic left half-updated, which is what
///   the marker is there to make the caller acknowledge (`AssertUnwindSafe`).
/// - Guards, `Task` and `Ordered` hold a reference to a lock or queue
///   (`Task` to a type-erased queue), so they are neither; `Local` lends its
///   values to closures and is neither.
/// - The error types and `LockKey` are plain data: both.
#[test]
fn unwind_safety_of_every_public_type() {
    unwind_traits!(Lock<u32>: UnwindSafe = true, RefUnwindSafe = false);
    unwind_traits!(Lock<Cell<u32>>: UnwindSafe = true, RefUnwindSafe = false);
    unwind_traits!(RLock<u32>: UnwindSafe = true, RefUnwindSafe = false);
    unwind_traits!(Queue<u32>: UnwindSafe = true, RefUnwindSafe = true);
    unwind_traits!(Queue<Cell<u32>>: UnwindSafe = true, RefUnwindSafe = true);
    unwind_traits!(LifoQueue<u32>: UnwindSafe = true, RefUnwindSafe = true);
    unwind_traits!(PriorityQueue<u32>: UnwindSafe = true, RefUnwindSafe = true);
    unwind_traits!(Condition: UnwindSafe = true, RefUnwindSafe = true);
    unwind_traits!(Event: UnwindSafe = true, RefUnwindSafe = true);
    unwind_traits!(Local<u32>: UnwindSafe = false, RefUnwindSafe = false);
    unwind_traits!(LockGuard<'static, u32>: UnwindSafe = false, RefUnwindSafe = false);
    unwind_traits!(RLockGuard<'static, u32>: UnwindSafe = false, RefUnwindSafe = false);
    unwind_traits!(Task<'static, u32>: UnwindSafe = false, RefUnwindSafe = false);
    unwind_traits!(Ordered<(LockGuard<'static, u32>,)>: UnwindSafe = false, RefUnwindSafe = false);
    unwind_traits!(LockKey: UnwindSafe = true, RefUnwindSafe = true);
    unwind_traits!(LockOrderError: UnwindSafe = true, RefUnwindSafe = true);
    unwind_traits!(ShutDown<u32>: UnwindSafe = true, RefUnwindSafe = true);
    unwind_traits!(PutError<u32>: UnwindSafe = true, RefUnwindSafe = true);
    unwind_traits!(GetError: UnwindSafe = true, RefUnwindSafe = true);
    unwind_traits!(TaskDoneError: UnwindSafe = true, RefUnwindSafe = true);
    unwind_traits!(WaitTimeoutResult: UnwindSafe = true, RefUnwindSafe = true);
}
