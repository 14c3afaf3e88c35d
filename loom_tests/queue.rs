//! Loom models of the queues: 2-3 threads, capacities of 1-2, each model
//! checking one invariant.
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 \
//!     cargo test --release --target-dir target/loom --test loom_queue
//! ```
#![cfg(loom)]

use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use loom::thread;
use std::time::Duration;

use threadkit::loom_support::{LoomTimeouts, set_loom_timeouts};
use threadkit::{GetError, PutError, Queue, ShutDown};

/// A timeout loom never lets pass by itself: under `Expire` it may expire
/// at any point, under `Never` it does not.
const TIMEOUT: Duration = Duration::from_secs(1);

/// Runs `f` as a model with timed waits that never expire.
fn model(f: impl Fn() + Sync + Send + 'static) {
    set_loom_timeouts(LoomTimeouts::Never);
    loom::model(f);
}

/// Runs `f` as a model in which every timed wait may expire.
fn model_expiring(f: impl Fn() + Sync + Send + 'static) {
    set_loom_timeouts(LoomTimeouts::Expire);
    loom::model(f);
    set_loom_timeouts(LoomTimeouts::Never);
}

/// Runs a model written against `Queue` on both queue cores: as written
/// (`NAME::fifo`, the two-lock core) and with `LifoQueue` in its place
/// (`NAME::lifo`, the one-lock core). For models whose assertions hold in
/// either order.
macro_rules! fifo_and_lifo {
    ($(#[$attr:meta])* fn $name:ident() $body:block) => {
        $(#[$attr])*
        mod $name {
            use super::*;

            #[test]
            fn fifo() $body

            #[test]
            fn lifo() {
                use threadkit::LifoQueue as Queue;
                $body
            }
        }
    };
}

// --- items and wakeups --------------------------------------------------------

fifo_and_lifo! {
    /// Capacity 1: the second put blocks until the get; the getter may block
    /// until a put. Both items arrive, in order.
    fn capacity_one_handoff_loses_nothing() {
        model(|| {
            let q = Arc::new(Queue::bounded(1));
            let producer = {
                let q = q.clone();
                thread::spawn(move || {
                    q.put(1).unwrap();
                    q.put(2).unwrap();
                })
            };
            assert_eq!(q.get(), Ok(1));
            assert_eq!(q.get(), Ok(2));
            producer.join().unwrap();
            assert!(q.is_empty());
        });
    }
}

fifo_and_lifo! {
    /// Two blocked getters, two puts: notify_one must reach both getters
    /// (a getter that finds its item taken waits again).
    fn two_blocked_getters_both_served() {
        model(|| {
            let q = Arc::new(Queue::new());
            let getters: Vec<_> = (0..2)
                .map(|_| {
                    let q = q.clone();
                    thread::spawn(move || q.get().unwrap())
                })
                .collect();
            q.put(1).unwrap();
            q.put(2).unwrap();
            let mut got: Vec<i32> = getters.into_iter().map(|g| g.join().unwrap()).collect();
            got.sort();
            assert_eq!(got, [1, 2]);
        });
    }
}

fifo_and_lifo! {
    /// Two blocked putters on a full queue of capacity 1, two gets: both items
    /// get in.
    fn two_blocked_putters_both_served() {
        model(|| {
            let q = Arc::new(Queue::bounded(1));
            q.put(0).unwrap();
            let putters: Vec<_> = (1..=2)
                .map(|i| {
                    let q = q.clone();
                    thread::spawn(move || q.put(i).unwrap())
                })
                .collect();
            let mut got = vec![q.get().unwrap(), q.get().unwrap()];
            for p in putters {
                p.join().unwrap();
            }
            got.push(q.try_get().unwrap());
            got.sort();
            assert_eq!(got, [0, 1, 2]);
        });
    }
}

// --- task_done / join -----------------------------------------------------------

/// `join` returns exactly when the last task is done: the work counter is
/// complete when it returns.
#[test]
fn join_returns_after_the_last_task_done() {
    model(|| {
        let q = Arc::new(Queue::new());
        let work = Arc::new(AtomicUsize::new(0));
        q.put(1).unwrap();
        q.put(2).unwrap();
        let worker = {
            let (q, work) = (q.clone(), work.clone());
            thread::spawn(move || {
                for _ in 0..2 {
                    let task = q.get_task().unwrap();
                    work.fetch_add(*task, Ordering::Relaxed);
                } // each Task drops: task_done
            })
        };
        q.join();
        assert_eq!(work.load(Ordering::Relaxed), 3);
        assert_eq!(q.unfinished_tasks(), 0);
        worker.join().unwrap();
    });
}

fifo_and_lifo! {
    /// Two workers on a queue of capacity 1 that the main thread fills as room
    /// comes: `join` returns only once both items' work is counted.
    fn two_workers_join_counts_all_work() {
        model(|| {
            let q = Arc::new(Queue::bounded(1));
            let work = Arc::new(AtomicUsize::new(0));
            let workers: Vec<_> = (0..2)
                .map(|_| {
                    let (q, work) = (q.clone(), work.clone());
                    thread::spawn(move || {
                        let task = q.get_task().unwrap();
                        work.fetch_add(*task, Ordering::Relaxed);
                    })
                })
                .collect();
            q.put(1).unwrap();
            q.put(2).unwrap();
            q.join();
            assert_eq!(work.load(Ordering::Relaxed), 3);
            for w in workers {
                w.join().unwrap();
            }
        });
    }
}

fifo_and_lifo! {
    /// `task_done` racing two joiners: both return, and only after it.
    fn task_done_races_join() {
        model(|| {
            let q = Arc::new(Queue::new());
            let done = Arc::new(AtomicBool::new(false));
            q.put(1).unwrap();
            q.get().unwrap();
            let finisher = {
                let (q, done) = (q.clone(), done.clone());
                thread::spawn(move || {
                    done.store(true, Ordering::Relaxed);
                    q.task_done().unwrap();
                })
            };
            let joiner = {
                let (q, done) = (q.clone(), done.clone());
                thread::spawn(move || {
                    q.join();
                    assert!(done.load(Ordering::Relaxed));
                })
            };
            q.join();
            assert!(done.load(Ordering::Relaxed));
            joiner.join().unwrap();
            finisher.join().unwrap();
            assert_eq!(q.task_done(), Err(threadkit::TaskDoneError));
        });
    }
}

/// A timed join racing the last `task_done`: `true` only if the task is
/// done; and a timed-out join leaves nothing behind (a later `join`
/// returns).
#[test]
fn timed_join_races_task_done() {
    model_expiring(|| {
        let q = Arc::new(Queue::new());
        q.put(1).unwrap();
        q.get().unwrap();
        let finisher = {
            let q = q.clone();
            thread::spawn(move || q.task_done().unwrap())
        };
        if q.join_timeout(TIMEOUT) {
            assert_eq!(q.unfinished_tasks(), 0);
        }
        finisher.join().unwrap();
        q.join();
    });
}

/// One item, got by one thread while another marks its task done: the
/// mark always succeeds (the item is either still queued, or got, and its
/// task not done), and is the only one: the count ends at zero and stays
/// there, whichever came first.
fn task_done_races_get<Q: Send + Sync + 'static>(
    new: fn() -> Q,
    put: fn(&Q, u32),
    get: fn(&Q) -> u32,
    task_done: fn(&Q) -> Result<(), threadkit::TaskDoneError>,
    unfinished: fn(&Q) -> usize,
) {
    model(move || {
        let q = Arc::new(new());
        put(&q, 1);
        let getter = {
            let q = q.clone();
            thread::spawn(move || assert_eq!(get(&q), 1))
        };
        assert_eq!(task_done(&q), Ok(()));
        getter.join().unwrap();
        assert_eq!(unfinished(&q), 0);
        assert!(task_done(&q).is_err());
    });
}

#[test]
fn fifo_task_done_races_get() {
    task_done_races_get(
        Queue::new,
        |q, v| q.put(v).unwrap(),
        |q| q.get().unwrap(),
        Queue::task_done,
        Queue::unfinished_tasks,
    );
}

#[test]
fn lifo_task_done_races_get() {
    task_done_races_get(
        threadkit::LifoQueue::new,
        |q, v| q.put(v).unwrap(),
        |q| q.get().unwrap(),
        threadkit::LifoQueue::task_done,
        threadkit::LifoQueue::unfinished_tasks,
    );
}

// --- shutdown -------------------------------------------------------------------

/// The getter marks its own task done (by plain stores, on Linux) while
/// another thread marks one too, taking the getter's credit (revoking its
/// bias) or marking the item early: one item, one success, whichever
/// comes first.
#[test]
fn own_task_done_races_another_threads() {
    model(|| {
        let q = Arc::new(threadkit::LifoQueue::new());
        q.put(1).unwrap();
        let getter = {
            let q = q.clone();
            thread::spawn(move || {
                q.get().unwrap();
                q.task_done().is_ok()
            })
        };
        let other = q.task_done().is_ok();
        let own = getter.join().unwrap();
        assert!(own != other, "getter's task_done {own}, other thread's {other}");
        assert_eq!(q.unfinished_tasks(), 0);
        assert!(q.task_done().is_err());
    });
}

/// `shutdown_immediate` racing a `task_done` for a queued item: the item
/// is counted done once, by whichever comes first, never twice; `join`
/// returns.
#[test]
fn shutdown_immediate_races_early_task_done() {
    model(|| {
        let q = Arc::new(Queue::new());
        q.put(1).unwrap();
        q.put(2).unwrap();
        let marker = {
            let q = q.clone();
            thread::spawn(move || q.task_done().is_ok())
        };
        q.shutdown_immediate();
        let marked = marker.join().unwrap();
        assert_eq!(q.unfinished_tasks(), 0, "marked: {marked}");
        assert!(q.task_done().is_err());
        q.join();
    });
}

fifo_and_lifo! {
    /// `shutdown` wakes every blocked getter with `ShutDown`.
    fn shutdown_wakes_blocked_getters() {
        model(|| {
            let q = Arc::new(Queue::<u8>::new());
            let getters: Vec<_> = (0..2)
                .map(|_| {
                    let q = q.clone();
                    thread::spawn(move || q.get())
                })
                .collect();
            q.shutdown();
            for g in getters {
                assert_eq!(g.join().unwrap(), Err(ShutDown(())));
            }
        });
    }
}

fifo_and_lifo! {
    /// `shutdown` wakes every blocked putter with its item; the item queued
    /// before is still handed out.
    fn shutdown_wakes_blocked_putters() {
        model(|| {
            let q = Arc::new(Queue::bounded(1));
            q.put(0).unwrap();
            let putters: Vec<_> = (1..=2)
                .map(|i| {
                    let q = q.clone();
                    thread::spawn(move || (i, q.put(i)))
                })
                .collect();
            q.shutdown();
            for p in putters {
                let (i, r) = p.join().unwrap();
                assert_eq!(r, Err(ShutDown(i)));
            }
            assert_eq!(q.get(), Ok(0));
            assert_eq!(q.get(), Err(ShutDown(())));
        });
    }
}

fifo_and_lifo! {
    /// `shutdown` racing a put and a get: an item that got in is handed out or
    /// still queued, never lost; a getter fails only once the queue is shut
    /// down and empty.
    fn shutdown_races_put_and_get() {
        model(|| {
            let q = Arc::new(Queue::bounded(1));
            let putter = {
                let q = q.clone();
                thread::spawn(move || q.put(7).is_ok())
            };
            let getter = {
                let q = q.clone();
                thread::spawn(move || q.get())
            };
            q.shutdown();
            let put = putter.join().unwrap();
            let got = getter.join().unwrap();
            let left = q.try_get();
            match (put, got) {
                (true, Ok(7)) => assert_eq!(left, Err(GetError::ShutDown)),
                (true, Err(_)) => assert_eq!(left, Ok(7)),
                (false, got) => {
                    assert_eq!(got, Err(ShutDown(())));
                    assert_eq!(left, Err(GetError::ShutDown));
                }
                (true, Ok(other)) => panic!("got {other}"),
            }
        });
    }
}

/// `shutdown_immediate` with an item handed out: `join` waits for its
/// `task_done`, and the discarded item counts as done.
#[test]
fn shutdown_immediate_join_waits_for_handed_out_item() {
    model(|| {
        let q = Arc::new(Queue::new());
        let done = Arc::new(AtomicBool::new(false));
        q.put(1).unwrap();
        q.put(2).unwrap();
        assert_eq!(q.get(), Ok(1));
        let shutter = {
            let q = q.clone();
            thread::spawn(move || q.shutdown_immediate())
        };
        let worker = {
            let (q, done) = (q.clone(), done.clone());
            thread::spawn(move || {
                done.store(true, Ordering::Relaxed);
                q.task_done().unwrap();
            })
        };
        q.join();
        assert!(done.load(Ordering::Relaxed));
        assert!(q.is_empty());
        shutter.join().unwrap();
        worker.join().unwrap();
        assert_eq!(q.unfinished_tasks(), 0);
    });
}

fifo_and_lifo! {
    /// `shutdown_immediate` wakes a thread blocked in `join` on items nobody
    /// took.
    fn shutdown_immediate_wakes_join() {
        model(|| {
            let q = Arc::new(Queue::new());
            q.put(1).unwrap();
            let joiner = {
                let q = q.clone();
                thread::spawn(move || q.join())
            };
            q.shutdown_immediate();
            joiner.join().unwrap();
            assert_eq!(q.unfinished_tasks(), 0);
        });
    }
}

// --- timeouts ---------------------------------------------------------------------

fifo_and_lifo! {
    /// A timed get racing a put never loses the item: either the getter has it,
    /// or it timed out and the item is still queued.
    fn timed_get_races_put() {
        model_expiring(|| {
            let q = Arc::new(Queue::new());
            let getter = {
                let q = q.clone();
                thread::spawn(move || q.get_timeout(TIMEOUT))
            };
            q.put(1).unwrap();
            match getter.join().unwrap() {
                Ok(item) => {
                    assert_eq!(item, 1);
                    assert!(q.is_empty());
                }
                Err(e) => {
                    assert_eq!(e, GetError::Empty);
                    assert_eq!(q.try_get(), Ok(1));
                }
            }
        });
    }
}

fifo_and_lifo! {
    /// A timed put racing a get on a full queue: either the item got in, or it
    /// came back with `Full` and is not queued.
    fn timed_put_races_get() {
        model_expiring(|| {
            let q = Arc::new(Queue::bounded(1));
            q.put(0).unwrap();
            let putter = {
                let q = q.clone();
                thread::spawn(move || q.put_timeout(1, TIMEOUT))
            };
            assert_eq!(q.get(), Ok(0));
            match putter.join().unwrap() {
                Ok(()) => assert_eq!(q.try_get(), Ok(1)),
                Err(e) => {
                    assert!(matches!(e, PutError::Full(1)));
                    assert!(q.is_empty());
                }
            }
        });
    }
}

fifo_and_lifo! {
    /// A timed getter and a blocking getter, one put: if the timed getter gives
    /// up, the put's wakeup reaches the blocking getter (loom reports a
    /// deadlock if it is lost).
    fn timed_getter_passes_on_the_wakeup() {
        model_expiring(|| {
            let q = Arc::new(Queue::new());
            let timed = {
                let q = q.clone();
                thread::spawn(move || q.get_timeout(TIMEOUT).ok())
            };
            let blocking = {
                let q = q.clone();
                thread::spawn(move || q.get().unwrap())
            };
            q.put(1).unwrap();
            if timed.join().unwrap().is_some() {
                q.put(2).unwrap(); // the blocking getter's item
                assert_eq!(blocking.join().unwrap(), 2);
            } else {
                assert_eq!(blocking.join().unwrap(), 1);
            }
            assert!(q.is_empty());
        });
    }
}

fifo_and_lifo! {
    /// A timed putter and a blocking putter on a full queue, one get: if the
    /// timed putter gives up, the room goes to the blocking putter.
    fn timed_putter_passes_on_the_room() {
        model_expiring(|| {
            let q = Arc::new(Queue::bounded(1));
            q.put(0).unwrap();
            let timed = {
                let q = q.clone();
                thread::spawn(move || q.put_timeout(1, TIMEOUT).is_ok())
            };
            let blocking = {
                let q = q.clone();
                thread::spawn(move || q.put(2).unwrap())
            };
            assert_eq!(q.get(), Ok(0));
            let timed_in = timed.join().unwrap();
            let mut got = vec![q.get().unwrap()];
            blocking.join().unwrap();
            if timed_in {
                got.push(q.get().unwrap());
            }
            got.sort();
            assert_eq!(got, if timed_in { vec![1, 2] } else { vec![2] });
            assert!(q.is_empty());
        });
    }
}

fifo_and_lifo! {
    /// A timed get racing `shutdown`: it ends with `ShutDown` or `Empty`, never
    /// hangs or hands out anything.
    fn timed_get_races_shutdown() {
        model_expiring(|| {
            let q = Arc::new(Queue::<u8>::new());
            let getter = {
                let q = q.clone();
                thread::spawn(move || q.get_timeout(TIMEOUT))
            };
            q.shutdown();
            let r = getter.join().unwrap();
            assert!(matches!(r, Err(GetError::ShutDown | GetError::Empty)), "{r:?}");
        });
    }
}

/// Three items through capacity 1: crosses internal block boundaries of the
/// FIFO core (blocks are two slots under loom).
#[test]
fn fifo_blocking_handoff_crosses_blocks() {
    loom::model(|| {
        let q = Arc::new(Queue::bounded(1));
        let q2 = q.clone();
        let producer = thread::spawn(move || {
            for i in 0..3 {
                q2.put(i).unwrap();
            }
        });
        let mut got = Vec::new();
        for _ in 0..3 {
            got.push(q.get().unwrap());
            q.task_done().unwrap();
        }
        producer.join().unwrap();
        assert_eq!(got, vec![0, 1, 2]);
        assert_eq!(q.unfinished_tasks(), 0);
    });
}

/// Five items through capacity 1: the consumer empties the first block
/// before the fourth put needs a new one, so that put reuses it (the
/// recycled spare), and the fifth item lands in it. Every item arrives once,
/// in order: nothing stale is read from a recycled slot.
#[test]
fn fifo_recycled_block_is_reused_cleanly() {
    loom::model(|| {
        let q = Arc::new(Queue::bounded(1));
        let q2 = q.clone();
        let producer = thread::spawn(move || {
            for i in 0..5 {
                q2.put(i).unwrap();
            }
        });
        let got: Vec<i32> = (0..5).map(|_| q.get().unwrap()).collect();
        producer.join().unwrap();
        assert_eq!(got, vec![0, 1, 2, 3, 4]);
        assert!(q.is_empty());
    });
}

/// Unbounded, the producer free to run ahead: whether a new block is the
/// recycled spare or a fresh allocation depends on the race between the
/// consumer recycling and the producer taking it. Either way every item
/// arrives once, in order, and dropping the queue frees every block (loom
/// reports a leak otherwise).
#[test]
fn fifo_block_recycling_races_the_producer() {
    loom::model(|| {
        let q = Arc::new(Queue::new());
        let q2 = q.clone();
        let producer = thread::spawn(move || {
            for i in 0..5 {
                q2.put(i).unwrap();
            }
        });
        let got: Vec<i32> = (0..4).map(|_| q.get().unwrap()).collect();
        producer.join().unwrap();
        assert_eq!(got, vec![0, 1, 2, 3]);
        assert_eq!(q.len(), 1);
    });
}

/// The emptied blocks that consumers keep for producers (two under loom)
/// fill up and overflow while the producer takes them: with three full
/// blocks queued (blocks are two slots under loom), a consumer empties
/// them, keeping two and freeing the third unless the producer, putting
/// meanwhile, has already reused one for its next block, and the
/// producer's last item lands in that block. Every item arrives once, in
/// order; the producer's writes into a reused block come after the
/// consumer's reads of it (loom reports a data race on the slot
/// otherwise), and dropping the queue frees every block, kept or in use
/// (loom reports a leak or a double free otherwise).
#[test]
fn fifo_kept_blocks_fill_up_and_overflow() {
    loom::model(|| {
        let q = Arc::new(Queue::new());
        for i in 0..6 {
            q.put(i).unwrap();
        }
        let q2 = q.clone();
        let producer = thread::spawn(move || {
            for i in 6..9 {
                q2.put(i).unwrap();
            }
        });
        let first: Vec<i32> = (0..6).map(|_| q.get().unwrap()).collect();
        producer.join().unwrap();
        assert_eq!(first, (0..6).collect::<Vec<_>>());
        let rest: Vec<i32> = std::iter::from_fn(|| q.try_get().ok()).collect();
        assert_eq!(rest, vec![6, 7, 8]);
    });
}

#[test]
fn fifo_shutdown_wakes_blocked_getter() {
    loom::model(|| {
        let q: Arc<Queue<u32>> = Arc::new(Queue::new());
        let q2 = q.clone();
        let getter = thread::spawn(move || q2.get());
        q.put(7).unwrap();
        q.shutdown();
        assert_eq!(getter.join().unwrap(), Ok(7));
        assert!(q.get().is_err());
    });
}

/// `shutdown_immediate` (which takes the getters' lock, then the putters')
/// racing a put and a getter about to sleep (which re-checks under the
/// putters' lock while holding its own): no deadlock, the getter wakes, and
/// the item is handed out, discarded and counted done, or refused.
#[test]
fn fifo_shutdown_immediate_races_put_and_sleeping_getter() {
    loom::model(|| {
        let q: Arc<Queue<u32>> = Arc::new(Queue::new());
        let getter = {
            let q = q.clone();
            thread::spawn(move || q.get())
        };
        let putter = {
            let q = q.clone();
            thread::spawn(move || q.put(5))
        };
        q.shutdown_immediate();
        let got = getter.join().unwrap();
        let put = putter.join().unwrap();
        match (&put, &got) {
            // Handed out before the shutdown: the getter's task is open.
            (Ok(()), Ok(5)) => assert_eq!(q.unfinished_tasks(), 1),
            // Discarded (counted done) or refused.
            (Ok(()), Err(ShutDown(()))) | (Err(ShutDown(5)), Err(ShutDown(()))) => {
                assert_eq!(q.unfinished_tasks(), 0)
            }
            other => panic!("unexpected outcome {other:?}"),
        }
        assert!(q.is_empty());
    });
}

// --- the priority queue on the two-lock core ---------------------------------

/// A producer runs ahead of a consumer across block boundaries (two slots
/// under loom): each get moves the ready slots into the consumers' heap.
/// Every item arrives once, and once the producer is done the rest come
/// out smallest first; dropping the queue with items in the heap and in
/// slots frees everything (loom reports a leak otherwise).
#[test]
fn priority_items_cross_blocks_into_the_heap() {
    model(|| {
        let q = Arc::new(threadkit::PriorityQueue::new());
        let q2 = q.clone();
        let producer = thread::spawn(move || {
            for item in [3u32, 1, 4, 0, 2] {
                q2.put(item).unwrap();
            }
        });
        let mut got = vec![q.get().unwrap(), q.get().unwrap()];
        producer.join().unwrap();
        let mut rest = Vec::new();
        while let Ok(item) = q.try_get() {
            rest.push(item);
        }
        let mut sorted = rest.clone();
        sorted.sort();
        assert_eq!(rest, sorted);
        got.extend(rest);
        got.sort();
        assert_eq!(got, vec![0, 1, 2, 3, 4]);
        q.put(9).unwrap();
        q.put(8).unwrap();
        assert_eq!(q.get(), Ok(8)); // 9 moves into the heap
        q.put(7).unwrap(); // stays in its slot
        assert_eq!(q.len(), 2);
    });
}

/// Capacity 2 counts the items a get moved into the heap: the producer's
/// third put waits until a get hands one out, never sees more than two
/// queued, and every item arrives once.
#[test]
fn priority_bounded_room_counts_the_heap() {
    model(|| {
        let q = Arc::new(threadkit::PriorityQueue::bounded(2));
        let q2 = q.clone();
        let producer = thread::spawn(move || {
            for item in [2u32, 1, 0] {
                q2.put(item).unwrap();
                assert!(q2.len() <= 2);
            }
        });
        let mut got: Vec<u32> = (0..3).map(|_| q.get().unwrap()).collect();
        producer.join().unwrap();
        got.sort();
        assert_eq!(got, vec![0, 1, 2]);
        assert!(q.is_empty());
    });
}

/// `shutdown_immediate` racing a get that moves slots into the heap: each
/// item is handed out or discarded, once (a drop counter says so), and the
/// task counts match.
#[test]
fn priority_shutdown_immediate_discards_the_heap_and_the_slots() {
    /// Ordered by its number; counts its drops.
    struct Counted(u32, Arc<AtomicUsize>);
    impl PartialEq for Counted {
        fn eq(&self, other: &Self) -> bool {
            self.0 == other.0
        }
    }
    impl Eq for Counted {}
    impl PartialOrd for Counted {
        fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
            Some(self.cmp(other))
        }
    }
    impl Ord for Counted {
        fn cmp(&self, other: &Self) -> std::cmp::Ordering {
            self.0.cmp(&other.0)
        }
    }
    impl Drop for Counted {
        fn drop(&mut self) {
            self.1.fetch_add(1, Ordering::SeqCst);
        }
    }
    model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let q = Arc::new(threadkit::PriorityQueue::new());
        q.put(Counted(2, drops.clone())).unwrap();
        q.put(Counted(1, drops.clone())).unwrap();
        let getter = {
            let q = q.clone();
            thread::spawn(move || q.try_get().map(|item| item.0))
        };
        q.shutdown_immediate();
        let got = getter.join().unwrap();
        assert_eq!(drops.load(Ordering::SeqCst), 2);
        match got {
            Ok(1) => assert_eq!(q.unfinished_tasks(), 1),
            Err(GetError::ShutDown) => assert_eq!(q.unfinished_tasks(), 0),
            other => panic!("unexpected {other:?}"),
        }
        assert!(q.is_empty());
    });
}

// --- LifoQueue ------------------------------------------------------------------

/// A producer runs ahead of a consumer that gets twice: every item arrives
/// once, and once the producer is done the rest come out newest first
/// (items are put in increasing order, so descending).
#[test]
fn lifo_get_races_puts_newest_first() {
    model(|| {
        let q = Arc::new(threadkit::LifoQueue::new());
        let q2 = q.clone();
        let producer = thread::spawn(move || {
            for item in 0..5u32 {
                q2.put(item).unwrap();
            }
        });
        let mut got = vec![q.get().unwrap(), q.get().unwrap()];
        producer.join().unwrap();
        let mut rest = Vec::new();
        while let Ok(item) = q.try_get() {
            rest.push(item);
        }
        let mut newest_first = rest.clone();
        newest_first.sort_by(|a, b| b.cmp(a));
        assert_eq!(rest, newest_first);
        got.extend(rest);
        got.sort();
        assert_eq!(got, vec![0, 1, 2, 3, 4]);
    });
}

/// LIFO, capacity 1: a blocked putter and a blocked getter hand over every
/// item; `join` sees every task done.
#[test]
fn lifo_blocking_handoff_loses_nothing() {
    model(|| {
        let q = Arc::new(threadkit::LifoQueue::bounded(1));
        let q2 = q.clone();
        let producer = thread::spawn(move || {
            for i in 0..2 {
                q2.put(i).unwrap();
            }
            q2.join();
            assert_eq!(q2.unfinished_tasks(), 0);
        });
        let mut got = Vec::new();
        for _ in 0..2 {
            got.push(q.get().unwrap());
            q.task_done().unwrap();
        }
        producer.join().unwrap();
        // Capacity 1: each item is taken before the next is put.
        assert_eq!(got, vec![0, 1]);
    });
}

/// Two producers race into a priority queue while a consumer blocks: the
/// consumer gets both items exactly once.
#[test]
fn priority_two_producers_one_blocked_consumer() {
    model(|| {
        let q = Arc::new(threadkit::PriorityQueue::new());
        let producers: Vec<_> = [2u32, 1]
            .into_iter()
            .map(|item| {
                let q = q.clone();
                thread::spawn(move || q.put(item).unwrap())
            })
            .collect();
        let mut got = vec![q.get().unwrap(), q.get().unwrap()];
        for p in producers {
            p.join().unwrap();
        }
        got.sort();
        assert_eq!(got, vec![1, 2]);
        assert_eq!(q.try_get(), Err(GetError::Empty));
    });
}

/// A timed get on a priority queue racing a put: it gets the item or times
/// out, and then the item is still queued.
#[test]
fn priority_timed_get_races_put() {
    model_expiring(|| {
        let q = Arc::new(threadkit::PriorityQueue::new());
        let q2 = q.clone();
        let producer = thread::spawn(move || q2.put(7u32).unwrap());
        let got = q.get_timeout(TIMEOUT);
        producer.join().unwrap();
        match got {
            Ok(item) => assert_eq!(item, 7),
            Err(GetError::Empty) => assert_eq!(q.try_get(), Ok(7)),
            Err(e) => panic!("unexpected {e:?}"),
        }
    });
}

/// `shutdown_immediate` on a LIFO queue wakes a blocked getter and a
/// joiner waiting for a discarded item.
#[test]
fn lifo_shutdown_immediate_wakes_getter_and_joiner() {
    model(|| {
        let q: Arc<threadkit::LifoQueue<u32>> = Arc::new(threadkit::LifoQueue::new());
        let q2 = q.clone();
        let getter = thread::spawn(move || q2.get());
        q.put(1).unwrap();
        q.shutdown_immediate();
        // Either the getter took the item before the shutdown discarded it,
        // or it was discarded and the getter sees the shutdown.
        match getter.join().unwrap() {
            Ok(1) => q.task_done().unwrap(),
            Ok(other) => panic!("unexpected item {other}"),
            Err(ShutDown(())) => {}
        }
        q.join();
        assert_eq!(q.unfinished_tasks(), 0);
    });
}
