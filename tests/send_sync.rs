//! Compile-time proof of exactly which lock types are `Send` / `Sync`.
//!
//! Each assertion is a constant evaluated by the compiler: if a type gains
//! or loses an auto trait, this file stops compiling. Both directions are
//! checked (what must hold and what must not), for payloads that are
//! `Send + Sync` (`u32`), `Send` only (`Cell<u32>`), `Sync` only
//! (`MutexGuard<'static, u32>`) and neither (`Rc<u32>`).
//!
//! What must not compile at all lives in `compile_fail` doctests, next to
//! the types: sending a `LockGuard` to another thread (src/lock.rs, on
//! `LockGuard`), sending an `RLockGuard` and mutating through one
//! (src/rlock.rs, on `RLockGuard`). Run them with `cargo test --doc`.
#![cfg(not(loom))]

use std::cell::Cell;
use std::marker::PhantomData;
use std::rc::Rc;
use std::sync::MutexGuard;

use threadkit::{Lock, LockGuard, LockKey, RLock, RLockGuard};

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
