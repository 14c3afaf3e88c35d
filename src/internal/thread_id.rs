//! The current thread's identity: a `u64` drawn once per thread from a
//! process-wide counter and cached in a thread-local.
//!
//! Not `std::thread::current().id()`: that clones an `Arc` per call, as
//! expensive as a whole uncontended lock. Not the address of a thread-local:
//! addresses are recycled once a thread exits, so a lock whose owner exited
//! while holding it could mistake a new thread for its owner
//! (rust-lang/rust#123458). Ids drawn from the counter are never reused, and
//! `0` is never an id, so it can stand for "no thread".

use std::cell::Cell;

use crate::loom::{fresh_id, thread_local};

/// A value no thread ever has as its id.
pub(crate) const NO_THREAD: u64 = 0;

// `Cell<u64>` has no destructor, so the slot stays readable while other
// thread-locals are being destroyed: threadkit works from `Drop` impls run
// at thread exit (parking_lot#37).
#[cfg(not(loom))]
thread_local! {
    static CURRENT: Cell<u64> = const { Cell::new(NO_THREAD) };
}

// loom's `thread_local!` has no `const` form.
#[cfg(loom)]
thread_local! {
    static CURRENT: Cell<u64> = Cell::new(NO_THREAD);
}

/// The calling thread's id: nonzero, stable for the thread's life, never
/// handed to another thread.
#[inline]
pub(crate) fn current() -> u64 {
    CURRENT.with(|slot| {
        let id = slot.get();
        if id != NO_THREAD {
            id
        } else {
            let id = fresh_id();
            slot.set(id);
            id
        }
    })
}
