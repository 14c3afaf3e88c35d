//! The queue comparisons shared by `benches/queue.rs` (criterion, one
//! implementation at a time) and `benches/queue_paired.rs` (implementations
//! alternated run by run): the cases, the implementations each case
//! compares, and one timed run of one implementation.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::hint::black_box;
use std::sync::mpsc;
use std::time::{Duration, Instant};

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

/// One run of a threadkit queue type: a put per item, and get + task_done
/// per item, as a worker does.
macro_rules! threadkit_transfer {
    ($queue:ident, $shape:expr, $capacity:expr, $items:expr) => {{
        let q = match $capacity {
            Some(n) => $queue::bounded(n),
            None => $queue::new(),
        };
        let get = || {
            let v = q.get().unwrap();
            q.task_done().unwrap();
            v
        };
        transfer($shape, $items, |v| q.put(v).unwrap(), |n| sum(n, get))
    }};
}

/// One run of a channel crate with crossbeam-channel's constructors.
macro_rules! channel_transfer {
    ($krate:ident, $shape:expr, $capacity:expr, $items:expr) => {{
        let (tx, rx) = match $capacity {
            Some(n) => $krate::bounded(n),
            None => $krate::unbounded(),
        };
        transfer($shape, $items, |v| tx.send(v).unwrap(), |n| sum(n, || rx.recv().unwrap()))
    }};
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Policy {
    Fifo,
    Lifo,
    Priority,
}

/// One comparison: a policy, a shape and a capacity, moving `items` items.
#[derive(Clone, Copy)]
pub struct Case {
    policy: Policy,
    shape: Shape,
    capacity: Option<usize>,
    cap_name: &'static str,
    pub items: u64,
}

/// Every case, in the order the criterion benchmark runs them: FIFO in
/// every shape and capacity, then LIFO and priority, unbounded and
/// bounded(1024) (with capacity 1 every policy is the same handoff).
pub fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for shape in SHAPES {
        for (capacity, cap_name, items) in CAPACITIES {
            cases.push(Case { policy: Policy::Fifo, shape, capacity, cap_name, items });
        }
    }
    for shape in SHAPES {
        for (capacity, cap_name, items) in &CAPACITIES[..2] {
            for policy in [Policy::Lifo, Policy::Priority] {
                let (capacity, cap_name, items) = (*capacity, *cap_name, *items);
                cases.push(Case { policy, shape, capacity, cap_name, items });
            }
        }
    }
    cases
}

impl Case {
    /// `fifo_2p2c_unbounded_1M` and so on: the criterion group's name.
    pub fn name(&self) -> String {
        let policy = match self.policy {
            Policy::Fifo => "fifo",
            Policy::Lifo => "lifo",
            Policy::Priority => "priority",
        };
        format!("{policy}_{}_{}", self.shape.name(), self.cap_name)
    }

    /// The implementations this case compares, threadkit first.
    pub fn implementations(&self) -> &'static [&'static str] {
        match self.policy {
            Policy::Fifo if self.shape.consumers == 1 => {
                &["threadkit", "crossbeam", "flume", "std_mpsc", "pl_mutex_condvar"]
            }
            Policy::Fifo => &["threadkit", "crossbeam", "flume", "pl_mutex_condvar"],
            Policy::Lifo | Policy::Priority => &["threadkit", "pl_mutex_condvar"],
        }
    }

    /// One run of `implementation` on a fresh queue: the wall time to move
    /// all the items, thread start-up and shutdown included.
    ///
    /// # Panics
    ///
    /// If `implementation` is not one of [`Self::implementations`].
    pub fn run(&self, implementation: &str) -> Duration {
        let (shape, capacity, items) = (self.shape, self.capacity, self.items);
        match (self.policy, implementation) {
            (Policy::Fifo, "threadkit") => threadkit_transfer!(Queue, shape, capacity, items),
            (Policy::Lifo, "threadkit") => threadkit_transfer!(LifoQueue, shape, capacity, items),
            (Policy::Priority, "threadkit") => {
                threadkit_transfer!(PriorityQueue, shape, capacity, items)
            }
            (Policy::Fifo, "crossbeam") => {
                channel_transfer!(crossbeam_channel, shape, capacity, items)
            }
            (Policy::Fifo, "flume") => channel_transfer!(flume, shape, capacity, items),
            (Policy::Fifo, "std_mpsc") if shape.consumers == 1 => match capacity {
                Some(n) => {
                    let (tx, rx) = mpsc::sync_channel(n);
                    mpsc_transfer(shape, items, |v| tx.send(v).unwrap(), rx)
                }
                None => {
                    let (tx, rx) = mpsc::channel();
                    mpsc_transfer(shape, items, |v| tx.send(v).unwrap(), rx)
                }
            },
            (Policy::Fifo, "pl_mutex_condvar") => {
                pl_transfer::<VecDeque<u64>>(shape, capacity, items)
            }
            (Policy::Lifo, "pl_mutex_condvar") => pl_transfer::<Vec<u64>>(shape, capacity, items),
            (Policy::Priority, "pl_mutex_condvar") => {
                pl_transfer::<BinaryHeap<Reverse<u64>>>(shape, capacity, items)
            }
            _ => panic!(
                "{} does not compare an implementation named {implementation:?}",
                self.name()
            ),
        }
    }
}

/// One run of std's mpsc with a single consumer; `send` is the bounded or
/// the unbounded sender's.
fn mpsc_transfer(
    shape: Shape,
    items: u64,
    send: impl Fn(u64) + Sync,
    rx: mpsc::Receiver<u64>,
) -> Duration {
    // Taken once, by the one consumer.
    let rx = Mutex::new(rx);
    transfer(shape, items, send, |n| {
        let rx = rx.lock();
        sum(n, || rx.recv().unwrap())
    })
}

/// The item a producer sends as its `i`th: spread out, so a priority queue
/// has ordering work to do.
#[inline]
fn item(producer: usize, i: u64) -> u64 {
    (i ^ ((producer as u64) << 40)).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// The sum of `n` items from `get`, so no get can be optimized out.
#[inline]
fn sum(n: u64, mut get: impl FnMut() -> u64) -> u64 {
    (0..n).map(|_| get()).fold(0, u64::wrapping_add)
}

/// Moves `items` items from `shape.producers` threads running `put` to
/// `shape.consumers` threads, each running `get(its share)`, and returns
/// the wall time. Each consumer takes exactly its share (no disconnection
/// or shutdown at the end), so every implementation does the same work.
fn transfer(
    shape: Shape,
    items: u64,
    put: impl Fn(u64) + Sync,
    get: impl Fn(u64) -> u64 + Sync,
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
        for _ in 0..shape.consumers {
            let get = &get;
            s.spawn(move || black_box(get(per_consumer)));
        }
    });
    start.elapsed()
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
    transfer(shape, items, |v| q.put(v), |n| sum(n, || q.get()))
}
