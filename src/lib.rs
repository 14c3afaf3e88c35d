//! # threadkit
//!
//! Python's `threading` and `queue` toolkit for Rust: [`Lock`], [`RLock`],
//! [`Condition`], [`Event`], the blocking queues [`Queue`], [`LifoQueue`]
//! and [`PriorityQueue`] with `task_done` / `join` and `shutdown`,
//! per-object thread-local storage ([`Local`]), and the deadlock-avoiding
//! ordered multi-lock [`acquire`]. Built on parking_lot-class parking, and
//! model-checked with [loom](https://docs.rs/loom): build with
//! `--cfg loom` and every threadkit type runs on loom's primitives, so your
//! own loom models explore threadkit's internals too.
//!
//! ## Which primitive do I need?
//!
//! | You want to... | Use |
//! | --- | --- |
//! | protect data so one thread at a time uses it | [`Lock<T>`](Lock) |
//! | ...and let the holder lock it again (recursive code) | [`RLock<T>`](RLock) |
//! | wait until shared state changes, under a lock | [`Condition`] with a [`Lock`] or [`RLock`] guard |
//! | signal "it happened" to any number of threads, once or repeatedly | [`Event`] |
//! | hand work from producers to consumers, FIFO | [`Queue<T>`](Queue) |
//! | ...newest first, or most urgent first | [`LifoQueue<T>`](LifoQueue), [`PriorityQueue<T>`](PriorityQueue) |
//! | wait until every queued job is processed | [`Queue::join`] with [`Queue::get_task`] / [`Queue::task_done`] |
//! | stop consumers cleanly | [`Queue::shutdown`] / [`Queue::shutdown_immediate`] |
//! | give each thread its own value of a shared object | [`Local<T>`](Local) |
//! | take several locks without risking deadlock | [`acquire`] |
//!
//! ## Conventions
//!
//! - Guards instead of `acquire()` / `release()`: a lock is released when
//!   its guard is dropped.
//! - Timed variants come in pairs: `try_lock_for(Duration)` /
//!   `try_lock_until(Instant)` for locks, `*_timeout(Duration)` /
//!   `*_deadline(Instant)` for waits and transfers. `Duration::MAX` waits
//!   forever and never overflows; a zero timeout is a non-blocking attempt.
//! - `try_*` never blocks.
//! - No poisoning: a panic in user code unwinds through threadkit without
//!   leaving a lock held, an item lost or duplicated, or a waiter stranded.
//! - Errors carry a rejected item back (`into_inner()`).
//!
//! ## Example
//!
//! ```
//! use threadkit::{Event, Queue};
//!
//! let jobs = Queue::bounded(16);
//! let ready = Event::new();
//! std::thread::scope(|s| {
//!     for _ in 0..4 {
//!         s.spawn(|| {
//!             ready.wait();
//!             while let Ok(job) = jobs.get_task() {
//!                 assert!(*job < 100); // process the job; dropping it marks it done
//!             }
//!         });
//!     }
//!     ready.set();
//!     for job in 0..100 {
//!         jobs.put(job).unwrap();
//!     }
//!     jobs.join(); // every job processed
//!     jobs.shutdown(); // workers' get_task fails: they exit
//! });
//! ```
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
