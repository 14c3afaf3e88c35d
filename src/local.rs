//! `Local<T>`: per-object thread-local storage (stub, being written).
use std::marker::PhantomData;
/// Per-object thread-local storage (being written).
#[derive(Debug)]
pub struct Local<T: Send + 'static>(PhantomData<T>);
