//! Stress: 4 producers × 4 consumers through one queue, 100k items per
//! producer (fewer where noted), bounded and unbounded. Every item is received exactly once (a
//! count and a sum), for the FIFO queue each consumer sees each producer's
//! items in the order they were put, and `join` returns, with all the work
//! done, once the producers are finished.
//!
//! After parking_lot's `webkit_queue_test`, a variant runs the same traffic
//! through the timed calls (short timeouts, retried), so that timeouts race
//! notifies under load. LIFO and priority queues run the same traffic
//! (without the order check), and at handoff capacities (under 16).
#![cfg(not(loom))]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use threadkit::{GetError, LifoQueue, PriorityQueue, PutError, Queue};

const PRODUCERS: u64 = 4;
const CONSUMERS: usize = 4;
/// Items per producer.
const ITEMS: u64 = if cfg!(miri) { 40 } else { 100_000 };
/// The timeout of the timed variant: short, so that many calls expire.
const TICK: Duration = Duration::from_micros(50);

/// An item: the producer in the high bits, its sequence number below.
fn encode(producer: u64, seq: u64) -> u64 {
    (producer << 32) | seq
}

fn decode(item: u64) -> (usize, u64) {
    ((item >> 32) as usize, item & 0xffff_ffff)
}

/// The sum of every item put.
fn expected_sum(items: u64) -> u64 {
    (0..PRODUCERS).map(|p| (0..items).map(|s| encode(p, s)).sum::<u64>()).sum()
}

#[derive(Clone, Copy, PartialEq)]
enum Calls {
    Blocking,
    Timed,
}

macro_rules! stress {
    ($q:expr, $calls:expr, $check_fifo:expr) => {
        stress!($q, $calls, $check_fifo, ITEMS)
    };
    ($q:expr, $calls:expr, $check_fifo:expr, $items:expr) => {{
        let q = $q;
        let items: u64 = $items;
        let calls: Calls = $calls;
        let completed = AtomicU64::new(0);
        let (count, sum) = std::thread::scope(|s| {
            let mut consumers = Vec::new();
            for _ in 0..CONSUMERS {
                let (q, completed) = (&q, &completed);
                consumers.push(s.spawn(move || {
                    let (mut count, mut sum) = (0u64, 0u64);
                    let mut next = [0u64; PRODUCERS as usize];
                    loop {
                        let item = match calls {
                            Calls::Blocking => match q.get() {
                                Ok(item) => item,
                                Err(_) => break,
                            },
                            Calls::Timed => match q.get_timeout(TICK) {
                                Ok(item) => item,
                                Err(GetError::Empty) => continue,
                                Err(GetError::ShutDown) => break,
                            },
                        };
                        let (p, seq) = decode(item);
                        if $check_fifo {
                            assert!(seq >= next[p], "producer {p}: {seq} after {}", next[p]);
                            next[p] = seq + 1;
                        }
                        count += 1;
                        sum += item;
                        completed.fetch_add(1, Ordering::Relaxed);
                        q.task_done().unwrap();
                    }
                    (count, sum)
                }));
            }
            let producers: Vec<_> = (0..PRODUCERS)
                .map(|p| {
                    let q = &q;
                    s.spawn(move || {
                        for seq in 0..items {
                            let mut item = encode(p, seq);
                            match calls {
                                Calls::Blocking => q.put(item).unwrap(),
                                Calls::Timed => loop {
                                    match q.put_timeout(item, TICK) {
                                        Ok(()) => break,
                                        Err(PutError::Full(back)) => item = back,
                                        Err(PutError::ShutDown(_)) => panic!("shut down early"),
                                    }
                                },
                            }
                        }
                    })
                })
                .collect();
            for p in producers {
                p.join().unwrap();
            }
            q.join();
            assert_eq!(
                completed.load(Ordering::Relaxed),
                PRODUCERS * items,
                "join returned before all the work was done"
            );
            q.shutdown();
            consumers
                .into_iter()
                .map(|c| c.join().unwrap())
                .fold((0, 0), |(c, s), (c2, s2)| (c + c2, s + s2))
        });
        assert_eq!(count, PRODUCERS * items);
        assert_eq!(sum, expected_sum(items));
        assert_eq!(q.unfinished_tasks(), 0);
        assert!(q.is_empty());
    }};
}

#[test]
fn fifo_unbounded() {
    stress!(Queue::new(), Calls::Blocking, true);
}

#[test]
fn fifo_bounded() {
    stress!(Queue::bounded(64), Calls::Blocking, true);
}

/// Every item a handoff between threads: a tenth of the items keeps the
/// debug-build run short.
#[test]
fn fifo_bounded_one() {
    stress!(Queue::bounded(1), Calls::Blocking, true, ITEMS / 10);
}

#[test]
fn fifo_timed_unbounded() {
    stress!(Queue::new(), Calls::Timed, true);
}

/// Mostly expiring timeouts on a tiny queue: a quarter of the items.
#[test]
fn fifo_timed_bounded() {
    stress!(Queue::bounded(4), Calls::Timed, true, ITEMS / 4);
}

#[test]
fn lifo_unbounded() {
    stress!(LifoQueue::new(), Calls::Blocking, false);
}

#[test]
fn lifo_bounded() {
    stress!(LifoQueue::bounded(64), Calls::Blocking, false);
}

#[test]
fn priority_unbounded() {
    stress!(PriorityQueue::new(), Calls::Blocking, false);
}

#[test]
fn priority_bounded() {
    stress!(PriorityQueue::bounded(64), Calls::Blocking, false);
}

/// Handoff capacities (under 16), where waiters spin longest before they
/// park, with timeouts racing the spin: a tenth of the items.
#[test]
fn lifo_timed_handoff() {
    stress!(LifoQueue::bounded(2), Calls::Timed, false, ITEMS / 10);
}

#[test]
fn priority_handoff() {
    stress!(PriorityQueue::bounded(3), Calls::Blocking, false, ITEMS / 10);
}
