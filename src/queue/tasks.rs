//! Task accounting shared by both queue cores: Python's
//! `unfinished_tasks`, kept as two monotonic counters so that neither `put`
//! nor `task_done` needs a lock round trip.
//!
//! - `put_total` (owned by the core, next to the lock puts hold) counts
//!   items ever put. It is written only under that lock, by a plain load
//!   and store, so counting a put costs nothing beyond the cache line the
//!   put already owns.
//! - `done_total` (here, on the consumers' own cache line) counts tasks
//!   marked done. Every increment is checked against `put_total`, so
//!   `done_total <= put_total` always holds and `unfinished = put - done`.
//!
//! A plain load of `put_total` may return an older value (other threads'
//! latest puts not yet visible); it is never larger than the truth, so it
//! can only make a check fail. Before reporting an error, `task_done`
//! re-reads `put_total` with a read-modify-write, which always sees the
//! latest value.

use std::time::Instant;

use crate::error::TaskDoneError;
use crate::internal::deadline;
use crate::internal::waiters::{WaitQueue, WaitResult};
use crate::loom::CachePadded;
use crate::loom::sync::atomic::{AtomicUsize, Ordering, fence};

/// `task_done` for whichever queue a [`Task`](super::Task) came from.
pub(crate) trait TaskSink {
    fn task_done(&self) -> Result<(), TaskDoneError>;
}

/// Records one put. Call only under the lock that serializes puts.
#[inline]
pub(crate) fn count_put(put_total: &AtomicUsize) {
    put_total.store(put_total.load(Ordering::Relaxed) + 1, Ordering::Release);
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
    pub(crate) fn task_done(&self, put_total: &AtomicUsize) -> Result<(), TaskDoneError> {
        let mut done = self.done_total.load(Ordering::Relaxed);
        let mut put = put_total.load(Ordering::Acquire);
        loop {
            if done >= put {
                put = latest(put_total);
                if done >= put {
                    return Err(TaskDoneError);
                }
            }
            match self.done_total.compare_exchange_weak(
                done,
                done + 1,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    // `put` may lag: then this wakes joiners that find work
                    // left and wait again; it never misses the last task.
                    if done + 1 == put {
                        self.wake_joiners();
                    }
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
        let before = self
            .done_total
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |done| {
                Some(done.saturating_add(n).min(put))
            })
            .unwrap_or_else(|done| done);
        if before < put && before.saturating_add(n) >= put {
            self.wake_joiners();
        }
    }

    /// A snapshot of the unfinished count.
    pub(crate) fn unfinished(&self, put_total: &AtomicUsize) -> usize {
        let done = self.done_total.load(Ordering::Acquire);
        put_total.load(Ordering::Acquire).saturating_sub(done)
    }

    /// The unfinished count, never understated: `put_total` is the latest
    /// value and `done_total` may only lag behind.
    fn unfinished_at_least(&self, put_total: &AtomicUsize) -> usize {
        let done = self.done_total.load(Ordering::Acquire);
        latest(put_total) - done
    }

    fn wake_joiners(&self) {
        // Pairs with the fence in `join_until`: either the joiner sees the
        // count at zero, or this sees the joiner queued.
        fence(Ordering::SeqCst);
        self.all_done.notify_all();
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
            fence(Ordering::SeqCst);
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
