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
//! shutdown at the end), so every implementation does the same work. The
//! reported time is for moving all the items of the group's name;
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
//!
//! ```text
//! python3 - <<'EOF'
//! import json, pathlib
//! for g in sorted(pathlib.Path("target/criterion").iterdir()):
//!     est = {b.name: json.load(open(b / "new/estimates.json"))["median"]["point_estimate"]
//!            for b in g.iterdir() if (b / "new/estimates.json").exists()}
//!     if "threadkit" not in est: continue
//!     base = est["threadkit"]
//!     print(g.name, "  ".join(f"{k} {v/1e6:.1f}ms ({v/base:.2f}x)" for k, v in sorted(est.items())))
//! EOF
//! ```
//!
//! A ratio above 1 means that implementation took longer than threadkit.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::hint::black_box;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use criterion::{
    BenchmarkGroup, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
    measurement::WallTime,
};
use parking_lot::{Condvar, Mutex};
use threadkit::{LifoQueue, PriorityQueue, Queue};

const MANY: u64 = 1_000_000;
/// For capacity 1, where each item is a thread handoff.
const FEW: u64 = 100_000;

#[derive(Clone, Copy)]
struct Shape {
    producers: usize,
    consumers: usize,
}

const SHAPES: [Shape; 3] = [
    Shape { producers: 1, consumers: 1 },
    Shape { producers: 2, consumers: 2 },
    Shape { producers: 4, consumers: 4 },
];

impl Shape {
    fn name(self) -> String {
        format!("{}p{}c", self.producers, self.consumers)
    }
}

/// Capacity `None` is unbounded.
const CAPACITIES: [(Option<usize>, &str, u64); 3] = [
    (None, "unbounded_1M", MANY),
    (Some(1024), "bounded1024_1M", MANY),
    (Some(1), "bounded1_100k", FEW),
];

/// The item a producer sends as its `i`th: spread out, so a priority queue
/// has ordering work to do.
#[inline]
fn item(producer: usize, i: u64) -> u64 {
    (i ^ ((producer as u64) << 40)).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Moves `items` items from `shape.producers` threads running `put` to
/// `shape.consumers` threads running `get`, and returns the wall time.
fn transfer(
    shape: Shape,
    items: u64,
    put: impl Fn(u64) + Sync,
    get: impl Fn(usize, u64) -> u64 + Sync,
) -> Duration {
    let per_producer = items / shape.producers as u64;
    let per_consumer = items / shape.consumers as u64;
    let start = Instant::now();
    std::thread::scope(|s| {
        for p in 0..shape.producers {
            let put = &put;
            s.spawn(move || {
                for i in 0..per_producer {
                    put(item(p, i));
                }
            });
        }
        for c in 0..shape.consumers {
            let get = &get;
            s.spawn(move || black_box(get(c, per_consumer)));
        }
    });
    start.elapsed()
}

/// `iters` fresh runs of `once`, timed.
fn repeat(iters: u64, mut once: impl FnMut() -> Duration) -> Duration {
    (0..iters).map(|_| once()).sum()
}

// --- the baseline: Python's design on parking_lot --------------------------------

trait Container: Default + Send {
    fn push(&mut self, v: u64);
    fn pop(&mut self) -> Option<u64>;
    fn len(&self) -> usize;
}

impl Container for VecDeque<u64> {
    fn push(&mut self, v: u64) {
        self.push_back(v);
    }
    fn pop(&mut self) -> Option<u64> {
        self.pop_front()
    }
    fn len(&self) -> usize {
        VecDeque::len(self)
    }
}

impl Container for Vec<u64> {
    fn push(&mut self, v: u64) {
        Vec::push(self, v);
    }
    fn pop(&mut self) -> Option<u64> {
        Vec::pop(self)
    }
    fn len(&self) -> usize {
        Vec::len(self)
    }
}

impl Container for BinaryHeap<Reverse<u64>> {
    fn push(&mut self, v: u64) {
        BinaryHeap::push(self, Reverse(v));
    }
    fn pop(&mut self) -> Option<u64> {
        BinaryHeap::pop(self).map(|Reverse(v)| v)
    }
    fn len(&self) -> usize {
        BinaryHeap::len(self)
    }
}

/// A blocking queue the plain way: one mutex, a condvar per condition,
/// `notify_one` per item (parking_lot's notify costs one atomic load when
/// nobody waits). No task tracking, no shutdown.
struct PlQueue<C> {
    items: Mutex<C>,
    not_empty: Condvar,
    not_full: Condvar,
    capacity: usize,
}

impl<C: Container> PlQueue<C> {
    fn new(capacity: Option<usize>) -> Self {
        PlQueue {
            items: Mutex::new(C::default()),
            not_empty: Condvar::new(),
            not_full: Condvar::new(),
            capacity: capacity.unwrap_or(usize::MAX),
        }
    }

    fn put(&self, v: u64) {
        let mut items = self.items.lock();
        while items.len() >= self.capacity {
            self.not_full.wait(&mut items);
        }
        items.push(v);
        drop(items);
        self.not_empty.notify_one();
    }

    fn get(&self) -> u64 {
        let mut items = self.items.lock();
        let v = loop {
            match items.pop() {
                Some(v) => break v,
                None => self.not_empty.wait(&mut items),
            }
        };
        drop(items);
        if self.capacity != usize::MAX {
            self.not_full.notify_one();
        }
        v
    }
}

fn pl_transfer<C: Container>(shape: Shape, capacity: Option<usize>, items: u64) -> Duration {
    let q = PlQueue::<C>::new(capacity);
    transfer(shape, items, |v| q.put(v), |_, n| (0..n).map(|_| q.get()).fold(0, u64::wrapping_add))
}

// --- the groups --------------------------------------------------------------------

fn group<'a>(c: &'a mut Criterion, name: &str, items: u64) -> BenchmarkGroup<'a, WallTime> {
    let mut g = c.benchmark_group(name);
    // Each iteration moves many items and takes long: flat sampling runs
    // the same number of them per sample.
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Elements(items));
    g
}

/// `get` for threadkit's queues: get + task_done per item, as a worker does.
macro_rules! threadkit_get {
    ($q:expr) => {
        |_, n| {
            (0..n)
                .map(|_| {
                    let v = $q.get().unwrap();
                    $q.task_done().unwrap();
                    v
                })
                .fold(0, u64::wrapping_add)
        }
    };
}

fn fifo(c: &mut Criterion) {
    for shape in SHAPES {
        for (capacity, cap_name, items) in CAPACITIES {
            let mut g = group(c, &format!("fifo_{}_{}", shape.name(), cap_name), items);
            g.bench_function("threadkit", |b| {
                b.iter_custom(|iters| {
                    repeat(iters, || {
                        let q = match capacity {
                            Some(n) => Queue::bounded(n),
                            None => Queue::new(),
                        };
                        transfer(shape, items, |v| q.put(v).unwrap(), threadkit_get!(q))
                    })
                })
            });
            g.bench_function("crossbeam", |b| {
                b.iter_custom(|iters| {
                    repeat(iters, || {
                        let (tx, rx) = match capacity {
                            Some(n) => crossbeam_channel::bounded(n),
                            None => crossbeam_channel::unbounded(),
                        };
                        transfer(
                            shape,
                            items,
                            |v| tx.send(v).unwrap(),
                            |_, n| (0..n).map(|_| rx.recv().unwrap()).fold(0, u64::wrapping_add),
                        )
                    })
                })
            });
            g.bench_function("flume", |b| {
                b.iter_custom(|iters| {
                    repeat(iters, || {
                        let (tx, rx) = match capacity {
                            Some(n) => flume::bounded(n),
                            None => flume::unbounded(),
                        };
                        transfer(
                            shape,
                            items,
                            |v| tx.send(v).unwrap(),
                            |_, n| (0..n).map(|_| rx.recv().unwrap()).fold(0, u64::wrapping_add),
                        )
                    })
                })
            });
            if shape.consumers == 1 {
                g.bench_function("std_mpsc", |b| {
                    b.iter_custom(|iters| {
                        repeat(iters, || match capacity {
                            Some(n) => {
                                let (tx, rx) = mpsc::sync_channel(n);
                                let rx = Mutex::new(rx); // taken once, by the one consumer
                                transfer(
                                    shape,
                                    items,
                                    |v| tx.send(v).unwrap(),
                                    |_, n| {
                                        let rx = rx.lock();
                                        (0..n)
                                            .map(|_| rx.recv().unwrap())
                                            .fold(0, u64::wrapping_add)
                                    },
                                )
                            }
                            None => {
                                let (tx, rx) = mpsc::channel();
                                let rx = Mutex::new(rx);
                                transfer(
                                    shape,
                                    items,
                                    |v| tx.send(v).unwrap(),
                                    |_, n| {
                                        let rx = rx.lock();
                                        (0..n)
                                            .map(|_| rx.recv().unwrap())
                                            .fold(0, u64::wrapping_add)
                                    },
                                )
                            }
                        })
                    })
                });
            }
            g.bench_function("pl_mutex_condvar", |b| {
                b.iter_custom(|iters| {
                    repeat(iters, || pl_transfer::<VecDeque<u64>>(shape, capacity, items))
                })
            });
            g.finish();
        }
    }
}

/// LIFO and priority: unbounded and bounded(1024) (with capacity 1 every
/// policy is the same handoff).
fn lifo_and_priority(c: &mut Criterion) {
    for shape in SHAPES {
        for (capacity, cap_name, items) in &CAPACITIES[..2] {
            let (capacity, items) = (*capacity, *items);

            let mut g = group(c, &format!("lifo_{}_{}", shape.name(), cap_name), items);
            g.bench_function("threadkit", |b| {
                b.iter_custom(|iters| {
                    repeat(iters, || {
                        let q = match capacity {
                            Some(n) => LifoQueue::bounded(n),
                            None => LifoQueue::new(),
                        };
                        transfer(shape, items, |v| q.put(v).unwrap(), threadkit_get!(q))
                    })
                })
            });
            g.bench_function("pl_mutex_condvar", |b| {
                b.iter_custom(|iters| {
                    repeat(iters, || pl_transfer::<Vec<u64>>(shape, capacity, items))
                })
            });
            g.finish();

            let mut g = group(c, &format!("priority_{}_{}", shape.name(), cap_name), items);
            g.bench_function("threadkit", |b| {
                b.iter_custom(|iters| {
                    repeat(iters, || {
                        let q = match capacity {
                            Some(n) => PriorityQueue::bounded(n),
                            None => PriorityQueue::new(),
                        };
                        transfer(shape, items, |v| q.put(v).unwrap(), threadkit_get!(q))
                    })
                })
            });
            g.bench_function("pl_mutex_condvar", |b| {
                b.iter_custom(|iters| {
                    repeat(iters, || {
                        pl_transfer::<BinaryHeap<Reverse<u64>>>(shape, capacity, items)
                    })
                })
            });
            g.finish();
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = fifo, lifo_and_priority
}
criterion_main!(benches);
