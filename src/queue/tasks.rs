//! Task accounting shared by both queue cores: Python's
//! `unfinished_tasks`, kept as monotonic counters so that neither `put`,
//! `get` nor `task_done` needs a lock round trip or touches the other
//! side's cache lines.
//!
//! - `put_total` (owned by the core, next to the lock puts hold) counts
//!   items ever put, `taken_total` (next to the lock gets hold) items ever
//!   taken. Each is written only under its lock, by a plain load and store.
//! - `done_total` (here, on its own cache line) counts tasks marked done.
//!   Every increment is checked to stay at or below `put_total`, so
//!   `unfinished = put - done` never underflows.
//!
//! `task_done` checks against `taken_total` first: the consumer that calls
//! it has just taken an item, so that line is in its cache, and almost
//! every call passes there. Only a `task_done` for an item not yet taken
//! (allowed, as in Python) falls back to `put_total`, read with a
//! read-modify-write, which always sees the latest value.
//!
//! Joiners: a `task_done` looks for joiners with one load of a line only
//! joiners write, and computes the exact count only if one is waiting.
//! That load and the joiner's registration are `SeqCst`, as are the
//! `done_total` update and the joiner's read of it, so either the joiner
//! sees the count at zero or the last `task_done` sees the joiner (store
//! buffering is impossible between `SeqCst` accesses; under loom the
//! facade's `loom_sc_fence` provides the fences loom needs to see that).

use std::time::Instant;

use crate::error::TaskDoneError;
use crate::internal::deadline;
use crate::internal::waiters::{WaitQueue, WaitResult};
use crate::loom::CachePadded;
use crate::loom::loom_sc_fence;
use crate::loom::sync::atomic::{AtomicUsize, Ordering};

/// `task_done` for whichever queue a [`Task`](super::Task) came from.
pub(crate) trait TaskSink {
    fn task_done(&self) -> Result<(), TaskDoneError>;
}

/// Adds one to a counter written only under one lock (`put_total`,
/// `taken_total`), with a plain load and store: no read-modify-write.
#[inline]
pub(crate) fn bump(counter: &AtomicUsize, order: Ordering) {
    counter.store(counter.load(Ordering::Relaxed) + 1, order);
}

/// The latest value of `put_total` (a read-modify-write reads the last
/// value in its modification order).
fn latest(put_total: &AtomicUsize) -> usize {
    put_total.fetch_add(0, Ordering::AcqRel)
}

pub(crate) struct TaskCount {
    done_total: CachePadded<AtomicUsize>,
    all_done: WaitQueue,
}

impl TaskCount {
    pub(crate) fn new() -> Self {
        TaskCount { done_total: CachePadded::new(AtomicUsize::new(0)), all_done: WaitQueue::new() }
    }

    /// Marks one task done; fails, changing nothing, if every item put is
    /// already done.
    pub(crate) fn task_done(
        &self,
        taken_total: &AtomicUsize,
        put_total: &AtomicUsize,
    ) -> Result<(), TaskDoneError> {
        let mut done = self.done_total.load(Ordering::Relaxed);
        // A lower bound on the items put: checking against it is enough
        // when the caller took the item it marks done.
        let mut bound = taken_total.load(Ordering::Acquire);
        loop {
            if done >= bound {
                bound = latest(put_total);
                if done >= bound {
                    return Err(TaskDoneError);
                }
            }
            match self.done_total.compare_exchange_weak(
                done,
                done + 1,
                Ordering::SeqCst,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    self.wake_joiners_if_done(put_total);
                    return Ok(());
                }
                Err(now) => done = now,
            }
        }
    }

    /// Counts `n` discarded items done (`shutdown_immediate`), never past
    /// the items put: some may have been marked done before being gotten.
    pub(crate) fn discard(&self, n: usize, put_total: &AtomicUsize) {
        if n == 0 {
            return;
        }
        let put = latest(put_total);
        let _ = self.done_total.fetch_update(Ordering::SeqCst, Ordering::Acquire, |done| {
            Some(done.saturating_add(n).min(put))
        });
        self.wake_joiners_if_done(put_total);
    }

    /// A snapshot of the unfinished count.
    pub(crate) fn unfinished(&self, put_total: &AtomicUsize) -> usize {
        let done = self.done_total.load(Ordering::Acquire);
        put_total.load(Ordering::Acquire).saturating_sub(done)
    }

    /// The unfinished count, never understated: `put_total` is the latest
    /// value and `done_total` may only lag behind.
    fn unfinished_at_least(&self, put_total: &AtomicUsize) -> usize {
        let done = self.done_total.load(Ordering::SeqCst);
        latest(put_total) - done
    }

    /// After `done_total` grew: wakes the joiners if the count is zero.
    fn wake_joiners_if_done(&self, put_total: &AtomicUsize) {
        loom_sc_fence();
        if self.all_done.has_waiters_sc() && self.unfinished_at_least(put_total) == 0 {
            self.all_done.notify_all();
        }
    }

    /// Returns whether every task was done before `deadline`.
    pub(crate) fn join_until(&self, put_total: &AtomicUsize, deadline: Option<Instant>) -> bool {
        loop {
            if self.unfinished_at_least(put_total) == 0 {
                return true;
            }
            if deadline::has_passed(deadline) {
                return false;
            }
            let waiter = self.all_done.enqueue();
            loom_sc_fence();
            if self.unfinished_at_least(put_total) == 0 {
                // Notified or not, the count is zero: done.
                let _ = waiter.cancel();
                return true;
            }
            if waiter.wait(deadline) == WaitResult::TimedOut {
                return self.unfinished_at_least(put_total) == 0;
            }
        }
    }
}
