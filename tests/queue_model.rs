//! Property tests: random single-threaded sequences of queue operations
//! checked step by step against a sequential model (a `Vec` used as FIFO,
//! as a stack, or as a list searched for its smallest item with ties in put
//! order), for each queue type, bounded and unbounded.
//!
//! Nothing blocks: the blocking `put`/`get` are issued only when the model
//! says they return at once (otherwise the op becomes `try_put`/`try_get`),
//! and the timed forms use a zero timeout or a deadline already past.
//!
//! Cases: 256 per test, six tests (three types × bounded/unbounded), so 1536
//! sequences of up to 64 operations per run.
#![cfg(not(loom))]

use std::cell::Cell;
use std::cmp::Ordering;
use std::rc::Rc;
use std::time::{Duration, Instant};

mod common;

use common::proptest_config;
use proptest::prelude::*;
use threadkit::{GetError, LifoQueue, PriorityQueue, PutError, Queue};

/// Cases per test (see the module docs).
const CASES: u32 = if cfg!(miri) { 4 } else { 256 };
/// Longest operation sequence.
const MAX_OPS: usize = 64;

/// An item: `Ord` compares `key` only (so ties are common and their order
/// is visible through `tag`); `live` counts the items in existence, so a
/// lost or doubly dropped item shows.
#[derive(Debug)]
struct Item {
    key: u8,
    tag: u32,
    live: Rc<Cell<isize>>,
}

impl Item {
    fn new(key: u8, tag: u32, live: &Rc<Cell<isize>>) -> Self {
        live.set(live.get() + 1);
        Item { key, tag, live: live.clone() }
    }

    fn id(&self) -> (u8, u32) {
        (self.key, self.tag)
    }
}

impl Drop for Item {
    fn drop(&mut self) {
        self.live.set(self.live.get() - 1);
    }
}

impl PartialEq for Item {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl Eq for Item {}
impl PartialOrd for Item {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Item {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key.cmp(&other.key)
    }
}

#[derive(Debug, Clone)]
enum Op {
    /// Blocking `put`, or `try_put` when the model says it would block.
    Put(u8),
    TryPut(u8),
    PutTimeoutZero(u8),
    PutDeadlinePast(u8),
    /// Blocking `get`, or `try_get` when the model says it would block.
    Get,
    TryGet,
    GetTimeoutZero,
    GetDeadlinePast,
    /// `get_task`, then `into_inner` (true) or drop (false); blocking only
    /// when the model says it returns at once, else skipped.
    GetTask(bool),
    TaskDone,
    JoinZero,
    Shutdown,
    ShutdownImmediate,
}

fn op() -> impl Strategy<Value = Op> {
    let key = 0u8..4;
    prop_oneof![
        6 => key.clone().prop_map(Op::Put),
        3 => key.clone().prop_map(Op::TryPut),
        2 => key.clone().prop_map(Op::PutTimeoutZero),
        1 => key.prop_map(Op::PutDeadlinePast),
        4 => Just(Op::Get),
        3 => Just(Op::TryGet),
        2 => Just(Op::GetTimeoutZero),
        1 => Just(Op::GetDeadlinePast),
        2 => any::<bool>().prop_map(Op::GetTask),
        4 => Just(Op::TaskDone),
        1 => Just(Op::JoinZero),
        1 => Just(Op::Shutdown),
        1 => Just(Op::ShutdownImmediate),
    ]
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Fifo,
    Lifo,
    Priority,
}

/// The sequential model of one queue.
struct Model {
    kind: Kind,
    /// `(key, tag)` in put order; tags grow with every put attempt.
    items: Vec<(u8, u32)>,
    capacity: Option<usize>,
    shutdown: bool,
    unfinished: usize,
}

#[derive(Debug, PartialEq)]
enum PutOutcome {
    Ok,
    Full((u8, u32)),
    ShutDown((u8, u32)),
}

impl Model {
    fn is_full(&self) -> bool {
        self.capacity.is_some_and(|c| self.items.len() >= c)
    }

    fn put(&mut self, item: (u8, u32)) -> PutOutcome {
        if self.shutdown {
            PutOutcome::ShutDown(item)
        } else if self.is_full() {
            PutOutcome::Full(item)
        } else {
            self.items.push(item);
            self.unfinished += 1;
            PutOutcome::Ok
        }
    }

    fn get(&mut self) -> Result<(u8, u32), GetError> {
        if self.items.is_empty() {
            return Err(if self.shutdown { GetError::ShutDown } else { GetError::Empty });
        }
        let at = match self.kind {
            Kind::Fifo => 0,
            Kind::Lifo => self.items.len() - 1,
            // Smallest key; among equal keys the first put (lowest tag).
            Kind::Priority => {
                (0..self.items.len()).min_by_key(|&i| self.items[i]).expect("not empty")
            }
        };
        Ok(self.items.remove(at))
    }

    fn put_would_block(&self) -> bool {
        !self.shutdown && self.is_full()
    }

    fn get_would_block(&self) -> bool {
        !self.shutdown && self.items.is_empty()
    }
}

/// The surface of the three queue types the model drives.
trait ModelQueue {
    fn make(capacity: Option<usize>) -> Self;
    fn put(&self, item: Item) -> Result<(), Item>;
    fn try_put(&self, item: Item) -> Result<(), PutError<Item>>;
    fn put_timeout(&self, item: Item, timeout: Duration) -> Result<(), PutError<Item>>;
    fn put_deadline(&self, item: Item, deadline: Instant) -> Result<(), PutError<Item>>;
    fn get(&self) -> Result<Item, GetError>;
    fn try_get(&self) -> Result<Item, GetError>;
    fn get_timeout(&self, timeout: Duration) -> Result<Item, GetError>;
    fn get_deadline(&self, deadline: Instant) -> Result<Item, GetError>;
    /// `get_task`, then `into_inner` or drop.
    fn get_task(&self, into_inner: bool) -> Result<Option<Item>, GetError>;
    fn task_done(&self) -> bool;
    fn join_timeout(&self, timeout: Duration) -> bool;
    fn shutdown(&self);
    fn shutdown_immediate(&self);
    fn observe(&self) -> (usize, bool, bool, bool, usize, Option<usize>);
}

macro_rules! model_queue {
    ($queue:ident) => {
        impl ModelQueue for $queue<Item> {
            fn make(capacity: Option<usize>) -> Self {
                match capacity {
                    Some(c) => $queue::bounded(c),
                    None => $queue::new(),
                }
            }
            fn put(&self, item: Item) -> Result<(), Item> {
                $queue::put(self, item).map_err(|e| e.into_inner())
            }
            fn try_put(&self, item: Item) -> Result<(), PutError<Item>> {
                $queue::try_put(self, item)
            }
            fn put_timeout(&self, item: Item, timeout: Duration) -> Result<(), PutError<Item>> {
                $queue::put_timeout(self, item, timeout)
            }
            fn put_deadline(&self, item: Item, deadline: Instant) -> Result<(), PutError<Item>> {
                $queue::put_deadline(self, item, deadline)
            }
            fn get(&self) -> Result<Item, GetError> {
                $queue::get(self).map_err(GetError::from)
            }
            fn try_get(&self) -> Result<Item, GetError> {
                $queue::try_get(self)
            }
            fn get_timeout(&self, timeout: Duration) -> Result<Item, GetError> {
                $queue::get_timeout(self, timeout)
            }
            fn get_deadline(&self, deadline: Instant) -> Result<Item, GetError> {
                $queue::get_deadline(self, deadline)
            }
            fn get_task(&self, into_inner: bool) -> Result<Option<Item>, GetError> {
                let task = $queue::get_task(self).map_err(GetError::from)?;
                Ok(if into_inner { Some(task.into_inner()) } else { None })
            }
            fn task_done(&self) -> bool {
                $queue::task_done(self).is_ok()
            }
            fn join_timeout(&self, timeout: Duration) -> bool {
                $queue::join_timeout(self, timeout)
            }
            fn shutdown(&self) {
                $queue::shutdown(self)
            }
            fn shutdown_immediate(&self) {
                $queue::shutdown_immediate(self)
            }
            fn observe(&self) -> (usize, bool, bool, bool, usize, Option<usize>) {
                (
                    self.len(),
                    self.is_empty(),
                    self.is_full(),
                    self.is_shutdown(),
                    self.unfinished_tasks(),
                    self.capacity(),
                )
            }
        }
    };
}

model_queue!(Queue);
model_queue!(LifoQueue);
model_queue!(PriorityQueue);

fn put_outcome(r: Result<(), PutError<Item>>) -> PutOutcome {
    match r {
        Ok(()) => PutOutcome::Ok,
        Err(PutError::Full(item)) => PutOutcome::Full(item.id()),
        Err(PutError::ShutDown(item)) => PutOutcome::ShutDown(item.id()),
    }
}

fn run<Q: ModelQueue>(
    kind: Kind,
    capacity: Option<usize>,
    ops: &[Op],
) -> Result<(), TestCaseError> {
    let live = Rc::new(Cell::new(0isize));
    let q = Q::make(capacity);
    let mut m = Model { kind, items: Vec::new(), capacity, shutdown: false, unfinished: 0 };
    let mut next_tag = 0u32;
    let mut fresh = |key: u8| {
        next_tag += 1;
        (key, next_tag)
    };
    for (step, op) in ops.iter().enumerate() {
        match *op {
            Op::Put(k) | Op::TryPut(k) | Op::PutTimeoutZero(k) | Op::PutDeadlinePast(k) => {
                let id = fresh(k);
                let item = Item::new(id.0, id.1, &live);
                let got = match *op {
                    Op::Put(_) if !m.put_would_block() => match q.put(item) {
                        Ok(()) => PutOutcome::Ok,
                        Err(item) => PutOutcome::ShutDown(item.id()),
                    },
                    Op::Put(_) | Op::TryPut(_) => put_outcome(q.try_put(item)),
                    Op::PutTimeoutZero(_) => put_outcome(q.put_timeout(item, Duration::ZERO)),
                    _ => put_outcome(q.put_deadline(item, Instant::now())),
                };
                prop_assert_eq!(got, m.put(id), "step {}: {:?}", step, op);
            }
            Op::Get | Op::TryGet | Op::GetTimeoutZero | Op::GetDeadlinePast => {
                let got = match *op {
                    Op::Get if !m.get_would_block() => q.get(),
                    Op::Get | Op::TryGet => q.try_get(),
                    Op::GetTimeoutZero => q.get_timeout(Duration::ZERO),
                    _ => q.get_deadline(Instant::now()),
                };
                prop_assert_eq!(got.map(|i| i.id()), m.get(), "step {}: {:?}", step, op);
            }
            // Skipped when it would block (the queue is empty, not shut down).
            Op::GetTask(into_inner) if !m.get_would_block() => {
                let got = q.get_task(into_inner);
                let want = m.get();
                if want.is_ok() {
                    // The Task is finished (into_inner or drop): one task done,
                    // unless the count was already zero (task_done by hand).
                    m.unfinished = m.unfinished.saturating_sub(1);
                }
                match (got, want) {
                    (Ok(Some(item)), Ok(id)) => prop_assert_eq!(item.id(), id),
                    (Ok(None), Ok(_)) => {}
                    (Err(e), Err(w)) => prop_assert_eq!(e, w),
                    (g, w) => prop_assert!(false, "step {}: get_task {:?}, model {:?}", step, g, w),
                }
            }
            Op::GetTask(_) => {}
            Op::TaskDone => {
                let want = m.unfinished > 0;
                if want {
                    m.unfinished -= 1;
                }
                prop_assert_eq!(q.task_done(), want, "step {}", step);
            }
            Op::JoinZero => {
                prop_assert_eq!(q.join_timeout(Duration::ZERO), m.unfinished == 0);
            }
            Op::Shutdown => {
                q.shutdown();
                m.shutdown = true;
            }
            Op::ShutdownImmediate => {
                q.shutdown_immediate();
                m.shutdown = true;
                m.unfinished = m.unfinished.saturating_sub(m.items.len());
                m.items.clear();
            }
        }
        let want =
            (m.items.len(), m.items.is_empty(), m.is_full(), m.shutdown, m.unfinished, capacity);
        prop_assert_eq!(q.observe(), want, "after step {}: {:?}", step, op);
        // Exactly the queued items are alive: none lost, none dropped twice.
        prop_assert_eq!(live.get(), m.items.len() as isize, "live items after step {}", step);
    }
    // Drain: the rest comes out in the model's order.
    let mut rest = Vec::new();
    while let Ok(item) = q.try_get() {
        rest.push(item.id());
    }
    let mut want = Vec::new();
    while let Ok(id) = m.get() {
        want.push(id);
    }
    prop_assert_eq!(rest, want);
    prop_assert_eq!(live.get(), 0);
    Ok(())
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    proptest::collection::vec(op(), 0..=MAX_OPS)
}

proptest! {
    #![proptest_config(proptest_config(CASES))]

    #[test]
    fn fifo_unbounded(ops in ops()) {
        run::<Queue<Item>>(Kind::Fifo, None, &ops)?;
    }

    #[test]
    fn fifo_bounded(capacity in 1usize..=4, ops in ops()) {
        run::<Queue<Item>>(Kind::Fifo, Some(capacity), &ops)?;
    }

    #[test]
    fn lifo_unbounded(ops in ops()) {
        run::<LifoQueue<Item>>(Kind::Lifo, None, &ops)?;
    }

    #[test]
    fn lifo_bounded(capacity in 1usize..=4, ops in ops()) {
        run::<LifoQueue<Item>>(Kind::Lifo, Some(capacity), &ops)?;
    }

    #[test]
    fn priority_unbounded(ops in ops()) {
        run::<PriorityQueue<Item>>(Kind::Priority, None, &ops)?;
    }

    #[test]
    fn priority_bounded(capacity in 1usize..=4, ops in ops()) {
        run::<PriorityQueue<Item>>(Kind::Priority, Some(capacity), &ops)?;
    }
}
