//! Queue throughput: moving `u64` items from P producer threads to C
//! consumer threads, against the queue's peers, all in the same run.
//!
//! One criterion group per (policy, shape, capacity), one benchmark per
//! implementation, so the ratios within a group compare runs made minutes
//! apart on the same machine:
//!
//! - `fifo_{1p1c,2p2c,4p4c}_{unbounded,bounded1024}_1M` and
//!   `fifo_{..}_bounded1_100k` (100k items only: with capacity 1 every item
//!   is a handoff between threads): `threadkit` (`Queue`: put + get +
//!   task_done per item), `crossbeam` (crossbeam-channel), `flume`,
//!   `std_mpsc` (1p1c only: `mpsc::channel` / `sync_channel(n)`, single
//!   consumer), `pl_mutex_condvar` (a parking_lot `Mutex<VecDeque>` and two
//!   `Condvar`s, not_empty / not_full, below).
//! - `lifo_{shape}_{unbounded,bounded1024}_1M`: `threadkit` (`LifoQueue`)
//!   against `pl_mutex_condvar` on a `Vec`.
//! - `priority_{shape}_{unbounded,bounded1024}_1M`: `threadkit`
//!   (`PriorityQueue`, which also keeps equal items in put order) against
//!   `pl_mutex_condvar` on a `BinaryHeap<Reverse<u64>>` (which does not).
//!
//! Each consumer takes exactly its share of the items (no disconnection or
//! shutdown at the end), so every implementation does the same work; the
//! cases and implementations are in `common/queues.rs`, shared with
//! `queue_paired.rs`. The reported time is for moving all the items of the group's name;
//! throughput is in items/s.
//!
//! Run (all, or a subset through a filter):
//!
//! ```text
//! cargo bench --bench queue
//! cargo bench --bench queue -- fifo_1p1c --warm-up-time 1 --measurement-time 2
//! ```
//!
//! Ratios to `threadkit` from criterion's output (medians, same run):
//! `python3 benches/report.py`.
//!
//! A ratio above 1 means that implementation took longer than threadkit.
//!
//! Criterion measures one implementation after another, seconds apart. On
//! a virtual machine the cost of moving a cache line between cores can
//! change in that time (here: from ~80 ns to ~400 ns a round trip, for
//! seconds at a stretch), which moves a contended benchmark's time by up
//! to 2x. `benches/queue_paired.rs` runs the same cases with the
//! implementations alternated run by run, and reports the median of the
//! per-round ratios.

#[path = "common/queues.rs"]
mod queues;

use std::time::Duration;

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};

/// `iters` fresh runs of `once`, timed.
fn repeat(iters: u64, mut once: impl FnMut() -> Duration) -> Duration {
    (0..iters).map(|_| once()).sum()
}

/// One group per case, one benchmark per implementation.
fn queues(c: &mut Criterion) {
    for case in queues::cases() {
        let mut g = c.benchmark_group(case.name());
        // Each iteration moves many items and takes long: flat sampling runs
        // the same number of them per sample.
        g.sampling_mode(SamplingMode::Flat);
        g.throughput(Throughput::Elements(case.items));
        for &implementation in case.implementations() {
            g.bench_function(implementation, |b| {
                b.iter_custom(|iters| repeat(iters, || case.run(implementation)))
            });
        }
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = queues
}
criterion_main!(benches);
