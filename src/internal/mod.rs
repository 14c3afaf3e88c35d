//! Crate-private building blocks shared by every primitive. Nothing here is
//! public; the parking logic and nearly all `unsafe` of the crate live here.

pub(crate) mod deadline;
pub(crate) mod heap;
pub(crate) mod per_thread;
pub(crate) mod spares;
pub(crate) mod spin;
pub(crate) mod thread_id;
pub(crate) mod waiters;
