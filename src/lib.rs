//! # threadkit
//!
//! Python's `threading` and `queue` toolkit for Rust.
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    unsafe_op_in_unsafe_fn,
    clippy::undocumented_unsafe_blocks
)]

mod condition;
mod error;
mod event;
mod internal;
mod local;
mod lock;
mod loom;
mod ordered;
mod queue;
mod rlock;

#[cfg(loom)]
#[doc(hidden)]
pub mod loom_support;

pub use condition::{Condition, WaitTimeoutResult, Waitable};
pub use error::{GetError, LockOrderError, PutError, ShutDown, TaskDoneError};
pub use event::Event;
pub use local::Local;
pub use lock::{Lock, LockGuard};
pub use ordered::{LockKey, LockSet, Ordered, acquire};
pub use queue::{LifoQueue, PriorityQueue, Queue, Task};
pub use rlock::{RLock, RLockGuard};
