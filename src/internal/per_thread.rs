//! One value per thread, for counters that each thread updates on its own
//! cache line and that anyone may sum: the queues' task credits
//! (`queue/tasks.rs`).
//!
//! Values are created on a thread's first request and kept until the
//! `PerThread` is dropped; a thread that exits leaves its value behind,
//! and the `thread_local` crate may hand it to a later thread. Users must
//! therefore treat a value as "usually this thread's", never as owned: the
//! task credits only ever change under a lock or by read-modify-write, so
//! sharing a value costs speed, never correctness.
//!
//! # Seeing new values
//!
//! The `thread_local` crate publishes a new value with release stores and
//! finds values with acquire loads, which alone do not stop an iterating
//! thread from missing a value created by a thread it has not synchronized
//! with. So a thread that creates its value runs a `SeqCst` fence right
//! after, and [`PerThread::iter`] asks its callers to run one before: then,
//! in the `SeqCst` order, either the creator's fence comes first and the
//! iteration sees the value, or the iterator's fence comes first and every
//! `SeqCst` operation of the creator after its creation comes after that
//! fence too. That is what lets the queues' joiners sum the credits: a
//! credit the sum missed belongs to a thread whose later `SeqCst` look for
//! joiners sees the joiner.

#[cfg(not(loom))]
use crate::loom::sync::atomic::{Ordering, fence};
#[cfg(not(loom))]
use std::panic::{self, AssertUnwindSafe};

/// A value of type `T` per thread.
#[cfg(not(loom))]
pub(crate) struct PerThread<T: Send>(thread_local::ThreadLocal<T>);

#[cfg(not(loom))]
impl<T: Send + Sync + Default> PerThread<T> {
    pub(crate) fn new() -> Self {
        PerThread(thread_local::ThreadLocal::new())
    }

    /// The calling thread's value, if it has one. Never allocates.
    #[inline]
    pub(crate) fn get(&self) -> Option<&T> {
        self.0.get()
    }

    /// The calling thread's value, created if need be; `None` if the thread
    /// is too far into its exit for the `thread_local` crate to give it one
    /// (or creating it ran out of memory).
    #[inline]
    pub(crate) fn get_or_default(&self) -> Option<&T> {
        match self.0.get() {
            Some(value) => Some(value),
            None => self.insert(),
        }
    }

    #[cold]
    fn insert(&self) -> Option<&T> {
        // Once the crate's thread-exit guard is gone, `get_or` panics; a
        // panic escaping a thread-local destructor would abort, so the
        // caller gets `None` instead. No user code runs inside.
        panic::catch_unwind(AssertUnwindSafe(|| {
            self.0.get_or_default();
        }))
        .ok()?;
        // See "Seeing new values" in the module docs.
        fence(Ordering::SeqCst);
        self.0.get()
    }

    /// Every value, of live threads and of exited ones. A value created
    /// before a `SeqCst` fence that the caller ran before calling this is
    /// always among them (module docs).
    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> {
        self.0.iter()
    }
}

/// Under loom, the `thread_local` crate would key on std's thread-locals,
/// which every loom thread shares: the values live in a `Vec` keyed by
/// threadkit's own thread id, in creation order, each boxed so it never
/// moves.
///
/// The `Vec` is behind a std mutex, not loom's: a thread finding its own
/// value is bookkeeping, not part of any algorithm under test, and loom
/// runs one thread at a time and switches only at its own operations, so
/// this mutex (never held across one) never blocks and adds no branch
/// points. Creating a value and iterating over them also take `publish`, a
/// loom mutex, so that loom sees each value's creation happen before
/// another thread reads it (the `thread_local` crate publishes new values
/// with release and acquire operations).
#[cfg(loom)]
pub(crate) struct PerThread<T> {
    values: std::sync::Mutex<Vec<(u64, Box<T>)>>,
    publish: crate::loom::sync::Mutex<()>,
}

#[cfg(loom)]
impl<T: Send + Sync + Default> PerThread<T> {
    pub(crate) fn new() -> Self {
        PerThread {
            values: std::sync::Mutex::new(Vec::new()),
            publish: crate::loom::sync::Mutex::new(()),
        }
    }

    fn values(&self) -> std::sync::MutexGuard<'_, Vec<(u64, Box<T>)>> {
        self.values.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Only the calling thread creates its own value, so it needs no
    /// `publish`.
    pub(crate) fn get(&self) -> Option<&T> {
        let me = super::thread_id::current();
        let value: *const T = &*self.values().iter().find(|(id, _)| *id == me)?.1;
        // SAFETY: boxes are only added, never removed or replaced, while
        // `self` lives, and a box's contents do not move when the `Vec`
        // grows: the value lives as long as `&self`.
        Some(unsafe { &*value })
    }

    pub(crate) fn get_or_default(&self) -> Option<&T> {
        if let Some(value) = self.get() {
            return Some(value);
        }
        let me = super::thread_id::current();
        let publish = self.publish.lock();
        // Created outside the std mutex: creating loom atomics is a loom
        // operation.
        let boxed = Box::<T>::default();
        let value: *const T = &*boxed;
        self.values().push((me, boxed));
        drop(publish);
        // SAFETY: as in `get`.
        Some(unsafe { &*value })
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> {
        let publish = self.publish.lock();
        let values: Vec<*const T> =
            self.values().iter().map(|(_, value)| &**value as *const T).collect();
        drop(publish);
        // SAFETY: as in `get`.
        values.into_iter().map(|value| unsafe { &*value })
    }
}
