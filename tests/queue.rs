//! `Queue`, `LifoQueue` and `PriorityQueue`: ordering, blocking, timeouts,
//! task tracking, CPython 3.13 shutdown semantics, bad input and panics.
//!
//! Timed tests assert only lower bounds on elapsed time (the machine is
//! shared and noisy). "Still blocked" is checked by a flag that the blocked
//! call's thread sets when it returns: after a pause the flag must still be
//! clear, which cannot flake (the call has no way to return yet).
#![cfg(not(loom))]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::cmp::Ordering as CmpOrdering;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use threadkit::{GetError, LifoQueue, PriorityQueue, PutError, Queue, ShutDown, TaskDoneError};

/// Long enough for a spawned thread to reach its blocking call.
const SETTLE: Duration = Duration::from_millis(50);
/// A timeout the tests measure against (lower bounds only).
const SHORT: Duration = Duration::from_millis(30);
/// A timeout that must never expire in a passing test.
const LONG: Duration = Duration::from_secs(3600);

// ---------------------------------------------------------------------------
// Allocation counting, for `bounded(usize::MAX)`.

/// Counts the calling thread's allocations; forwards everything to `System`.
struct CountingAlloc;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn count_allocation() {
    // `try_with`: allocations during thread teardown are not counted.
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

// SAFETY: every method forwards to `System` with the caller's arguments;
// counting touches only a const thread-local `Cell` (no allocation).
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_allocation();
        // SAFETY: forwarded from the caller's contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded from the caller's contract.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_allocation();
        // SAFETY: forwarded from the caller's contract.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_allocation();
        // SAFETY: forwarded from the caller's contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

/// How many allocations the calling thread made while running `f`.
fn allocations_in<R>(f: impl FnOnce() -> R) -> (usize, R) {
    let before = ALLOCATIONS.with(Cell::get);
    let r = f();
    (ALLOCATIONS.with(Cell::get) - before, r)
}

// ---------------------------------------------------------------------------
// Item types.

/// Counts its drops in a shared counter. Ordered by `id` (so it fits in a
/// `PriorityQueue` too).
#[derive(Debug)]
struct Tracked {
    id: u32,
    drops: Arc<AtomicUsize>,
}

impl Tracked {
    fn new(id: u32, drops: &Arc<AtomicUsize>) -> Self {
        Tracked { id, drops: drops.clone() }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

impl PartialEq for Tracked {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}
impl Eq for Tracked {}
impl PartialOrd for Tracked {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}
impl Ord for Tracked {
    fn cmp(&self, other: &Self) -> CmpOrdering {
        self.id.cmp(&other.id)
    }
}

/// A priority with a tag that `Ord` ignores, to see the order of ties.
/// Comparing the `POISON` priority panics on a thread that has armed
/// `POISON_ARMED` (so the poisoned item can still be drained afterwards).
#[derive(Debug, Clone, Copy)]
struct Key {
    prio: u32,
    tag: u32,
}

const POISON: u32 = 666;

thread_local! {
    static POISON_ARMED: Cell<bool> = const { Cell::new(false) };
}

fn key(prio: u32, tag: u32) -> Key {
    Key { prio, tag }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == CmpOrdering::Equal
    }
}
impl Eq for Key {}
impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}
impl Ord for Key {
    fn cmp(&self, other: &Self) -> CmpOrdering {
        if (self.prio == POISON || other.prio == POISON) && POISON_ARMED.with(Cell::get) {
            panic!("poisoned comparison");
        }
        self.prio.cmp(&other.prio)
    }
}

fn tags(keys: impl IntoIterator<Item = Key>) -> Vec<(u32, u32)> {
    keys.into_iter().map(|k| (k.prio, k.tag)).collect()
}

/// Drains a queue without blocking.
macro_rules! drain {
    ($q:expr) => {
        std::iter::from_fn(|| $q.try_get().ok()).collect::<Vec<_>>()
    };
}

// ---------------------------------------------------------------------------
// Ordering of each type.

#[test]
fn fifo_order() {
    let q = Queue::new();
    for i in 0..100 {
        q.put(i).unwrap();
    }
    assert_eq!(drain!(q), (0..100).collect::<Vec<_>>());
    // Interleaved.
    q.put(1).unwrap();
    q.put(2).unwrap();
    assert_eq!(q.get(), Ok(1));
    q.put(3).unwrap();
    assert_eq!(drain!(q), vec![2, 3]);
}

/// Getters keep the blocks of slots they empty (up to 32 blocks of 128
/// slots) for putters to reuse: a queue that held a thousand items and was
/// drained takes a thousand more with at most one allocation (the refill
/// starts part-way into a block, so it may need one block more than the
/// first fill emptied), and none from then on. One that held far more
/// than that frees the blocks it cannot keep (Miri checks that each is
/// freed once) and still hands every item out once, in order.
#[test]
fn drained_fifo_refills_from_kept_blocks_without_allocating() {
    let q = Queue::new();
    for round in 0..4 {
        let (allocated, ()) = allocations_in(|| {
            for i in 0..1000u64 {
                q.put(i).unwrap();
            }
        });
        match round {
            0 => {}
            1 => assert!(allocated <= 1, "round 1: the refill allocated {allocated} times"),
            _ => assert_eq!(allocated, 0, "round {round}: a refill allocated"),
        }
        assert_eq!(drain!(q), (0..1000).collect::<Vec<_>>());
    }
    for i in 0..5000u64 {
        q.put(i).unwrap();
    }
    assert_eq!(drain!(q), (0..5000).collect::<Vec<_>>());
    let (allocated, ()) = allocations_in(|| q.put(1).unwrap());
    assert_eq!(allocated, 0);
    assert_eq!(q.len(), 1);
}

#[test]
fn lifo_order() {
    let q = LifoQueue::new();
    for i in 0..100 {
        q.put(i).unwrap();
    }
    assert_eq!(drain!(q), (0..100).rev().collect::<Vec<_>>());
    q.put(1).unwrap();
    q.put(2).unwrap();
    assert_eq!(q.get(), Ok(2));
    q.put(3).unwrap();
    assert_eq!(drain!(q), vec![3, 1]);
}

#[test]
fn priority_smallest_first_ties_in_put_order() {
    let q = PriorityQueue::new();
    let prios = [5, 1, 4, 1, 3, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3, 2, 3, 8, 4, 6, 2, 6, 4, 3, 3];
    for (tag, &p) in prios.iter().enumerate() {
        q.put(key(p, tag as u32)).unwrap();
    }
    let mut expected: Vec<(u32, u32)> =
        prios.iter().enumerate().map(|(t, &p)| (p, t as u32)).collect();
    expected.sort_by_key(|&(p, _)| p); // stable: ties keep put order
    assert_eq!(tags(drain!(q)), expected);
}

#[test]
fn priority_ties_stay_in_put_order_across_interleaved_gets() {
    let q = PriorityQueue::<Key>::new();
    let mut model: Vec<(u32, u32)> = Vec::new();
    let mut tag = 0;
    // A fixed pseudo-random walk: puts of three priorities, some gets.
    let mut x: u32 = 12345;
    for _ in 0..500 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        if (x >> 16) % 3 == 0 {
            let got = q.try_get().ok().map(|k| (k.prio, k.tag));
            let want = model
                .iter()
                .enumerate()
                .min_by_key(|&(_, &(p, t))| (p, t))
                .map(|(i, _)| i)
                .map(|i| model.remove(i));
            assert_eq!(got, want);
        } else {
            let p = (x >> 20) % 3;
            q.put(key(p, tag)).unwrap();
            model.push((p, tag));
            tag += 1;
        }
    }
    model.sort();
    assert_eq!(tags(drain!(q)), model);
}

// ---------------------------------------------------------------------------
// Many puts between gets. `PriorityQueue`: a get moves every finished put
// into a heap only consumers touch (a first few dozen slots, then as many
// as it counted), then hands out the smallest item. `LifoQueue` keeps its
// stack under one lock, and must hand out the newest item all the same.

/// Batches of hundreds of puts between gets: each get hands out the newest
/// item, and `len` counts the rest.
#[test]
fn lifo_get_sees_every_finished_put_however_many_are_waiting() {
    let q = LifoQueue::new();
    let mut model = Vec::new();
    let mut next = 0u32;
    for batch in [1u32, 63, 64, 65, 500, 3000, 0, 1, 129] {
        for _ in 0..batch {
            q.put(next).unwrap();
            model.push(next);
            next += 1;
        }
        for _ in 0..3 {
            assert_eq!(q.try_get().ok(), model.pop());
        }
        assert_eq!(q.len(), model.len());
    }
    model.reverse();
    assert_eq!(drain!(q), model);
}

/// The items a get leaves are still queued: `len`, `is_full` and the
/// capacity count them.
#[test]
fn lifo_items_left_by_a_get_still_count_as_queued() {
    let q = LifoQueue::bounded(3);
    for item in [1, 2, 3] {
        q.put(item).unwrap();
    }
    assert_eq!(q.get(), Ok(3));
    assert_eq!((q.len(), q.is_full(), q.unfinished_tasks()), (2, false, 3));
    q.put(4).unwrap();
    assert!(q.is_full());
    assert!(matches!(q.try_put(5), Err(PutError::Full(5))));
    assert_eq!(drain!(q), vec![4, 2, 1]);
}

/// Batches of hundreds of puts between gets: each get must see every put
/// that finished before it, however many are waiting in slots (a get moves
/// a first few dozen, then counts the rest).
#[test]
fn priority_get_sees_every_finished_put_however_many_are_waiting() {
    let q = PriorityQueue::new();
    let mut model = std::collections::BinaryHeap::new();
    let mut x: u64 = 7;
    for batch in [1usize, 63, 64, 65, 500, 3000, 0, 1, 129] {
        for _ in 0..batch {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let item = x >> 40;
            q.put(item).unwrap();
            model.push(std::cmp::Reverse(item));
        }
        for _ in 0..3 {
            assert_eq!(q.try_get().ok(), model.pop().map(|r| r.0));
        }
        assert_eq!(q.len(), model.len());
    }
    let rest: Vec<u64> = std::iter::from_fn(|| model.pop().map(|r| r.0)).collect();
    assert_eq!(drain!(q), rest);
}

/// Items a get moved into the consumers' heap are still queued: `len`,
/// `is_full` and the capacity count them, and so do the task counts.
#[test]
fn priority_items_moved_into_the_heap_still_count_as_queued() {
    let q = PriorityQueue::bounded(3);
    for item in [30, 10, 20] {
        q.put(item).unwrap();
    }
    assert_eq!(q.get(), Ok(10)); // moves 30 and 20 into the heap
    assert_eq!((q.len(), q.is_full(), q.unfinished_tasks()), (2, false, 3));
    q.put(5).unwrap();
    assert!(q.is_full());
    assert!(matches!(q.try_put(1), Err(PutError::Full(1))));
    assert_eq!(drain!(q), vec![5, 20, 30]);
}

/// Items in the heap and items still in slots are each dropped once,
/// whether the queue is dropped or shut down at once.
#[test]
fn priority_items_in_the_heap_and_in_slots_are_dropped_exactly_once() {
    for shut_down in [false, true] {
        let drops = Arc::new(AtomicUsize::new(0));
        let q = PriorityQueue::new();
        for id in 0..40 {
            q.put(Tracked::new(id, &drops)).unwrap();
        }
        drop(q.get().unwrap()); // 39 items move into the heap
        for id in 40..50 {
            q.put(Tracked::new(id, &drops)).unwrap(); // 10 stay in slots
        }
        assert_eq!((drops.load(Ordering::SeqCst), q.len()), (1, 49));
        if shut_down {
            q.shutdown_immediate();
            assert_eq!(drops.load(Ordering::SeqCst), 50);
            assert_eq!((q.len(), q.unfinished_tasks()), (0, 1));
            q.task_done().unwrap();
            assert!(q.join_timeout(Duration::ZERO));
        }
        drop(q);
        assert_eq!(drops.load(Ordering::SeqCst), 50);
    }
}

/// A getter woken for an item whose comparisons panic passes the wakeup on.
/// Three getters block; two puts wake two of them. The first, whose thread
/// makes comparisons with POISON panic, moves both items into the heap
/// and panics comparing them; without passing its wakeup on, the third
/// getter would sleep beside the item left over.
#[test]
fn priority_getter_panicking_after_its_wakeup_passes_it_on() {
    let q = PriorityQueue::<Key>::new();
    thread::scope(|s| {
        let spawn_getter = |armed: bool| {
            let q = &q;
            let getter = s.spawn(move || {
                POISON_ARMED.with(|a| a.set(armed));
                catch_unwind(AssertUnwindSafe(|| q.get().map(|k| (k.prio, k.tag))))
            });
            thread::sleep(SETTLE); // queued before the next one
            getter
        };
        let getters = [spawn_getter(true), spawn_getter(false), spawn_getter(false)];
        assert!(getters.iter().all(|g| !g.is_finished()));
        q.put(key(POISON, 0)).unwrap();
        q.put(key(1, 1)).unwrap();
        // Both items are taken, or the wakeup was lost. (Had the first
        // getter run before the second put, it took the first item
        // without comparing anything, and the third getter has nothing to
        // wait for.)
        let start = Instant::now();
        while !q.is_empty() && start.elapsed() < Duration::from_secs(30) {
            thread::sleep(Duration::from_millis(1));
        }
        let stranded = !q.is_empty();
        q.shutdown(); // releases the getter left without an item
        let mut got = Vec::new();
        let mut panicked = 0;
        for getter in getters {
            match getter.join().unwrap() {
                Ok(Ok(item)) => got.push(item),
                Ok(Err(ShutDown(()))) => {}
                Err(_) => panicked += 1,
            }
        }
        assert!(!stranded, "an item waited beside a blocked getter");
        got.extend(tags(drain!(q)));
        got.sort();
        assert_eq!(got, vec![(1, 1), (POISON, 0)]);
        assert!(panicked <= 1);
    });
    assert_eq!(q.unfinished_tasks(), 2);
}

// ---------------------------------------------------------------------------
// Behaviour shared by the three types, written once.

macro_rules! shared_tests {
    ($queue:ident) => {
        use super::*;

        type Q<T> = threadkit::$queue<T>;

        #[test]
        fn new_and_default_are_unbounded_and_empty() {
            let q = Q::<u32>::new();
            assert_eq!(q.capacity(), None);
            assert!(q.is_empty() && !q.is_full() && !q.is_shutdown());
            assert_eq!((q.len(), q.unfinished_tasks()), (0, 0));
            let d: Q<u32> = Default::default();
            assert_eq!(d.capacity(), None);
            assert!(d.is_empty());
            for i in 0..1000 {
                d.try_put(i).unwrap(); // never full
            }
            assert!(!d.is_full());
            assert_eq!(d.len(), 1000);
        }

        #[test]
        fn capacity_and_is_full() {
            let q = Q::bounded(3);
            assert_eq!(q.capacity(), Some(3));
            for i in 0..3 {
                assert!(!q.is_full());
                q.put(i).unwrap();
            }
            assert!(q.is_full());
            assert_eq!(q.len(), 3);
            assert!(matches!(q.try_put(9), Err(PutError::Full(9))));
            q.get().unwrap();
            assert!(!q.is_full());
        }

        #[test]
        #[should_panic(expected = "capacity must be at least 1")]
        fn bounded_zero_panics() {
            let _ = Q::<u32>::bounded(0);
        }

        #[test]
        fn bounded_usize_max_works_without_allocating_up_front() {
            // Nothing proportional to the capacity (crossbeam#1301): the
            // same allocations as an unbounded queue (the FIFO's first
            // block of slots, at most).
            let (unbounded, _) = allocations_in(Q::<u64>::new);
            let (allocated, q) = allocations_in(|| Q::<u64>::bounded(usize::MAX));
            assert_eq!(allocated, unbounded, "bounded(usize::MAX) allocated up front");
            assert!(allocated <= 1, "{allocated} allocations");
            assert_eq!(q.capacity(), Some(usize::MAX));
            for i in 0..100 {
                q.try_put(i).unwrap();
            }
            assert!(!q.is_full());
            let mut got = drain!(q);
            got.sort();
            assert_eq!(got, (0..100).collect::<Vec<_>>());
        }

        #[test]
        fn try_put_and_try_get_never_block() {
            let q = Q::bounded(1);
            assert_eq!(q.try_get(), Err(GetError::Empty));
            q.try_put(1).unwrap();
            let err = q.try_put(2).unwrap_err();
            assert!(err.is_full() && !err.is_shutdown());
            assert_eq!(err.into_inner(), 2);
            assert_eq!(q.try_get(), Ok(1));
            assert_eq!(q.try_get(), Err(GetError::Empty));
            // Failed attempts count nothing.
            assert_eq!(q.unfinished_tasks(), 1);
        }

        #[test]
        fn zero_timeouts_and_past_deadlines_are_attempts() {
            let q = Q::bounded(1);
            let past = Instant::now();
            assert_eq!(q.get_timeout(Duration::ZERO), Err(GetError::Empty));
            assert_eq!(q.get_deadline(past), Err(GetError::Empty));
            q.put_timeout(1, Duration::ZERO).unwrap();
            assert!(matches!(q.put_timeout(2, Duration::ZERO), Err(PutError::Full(2))));
            assert!(matches!(q.put_deadline(3, past), Err(PutError::Full(3))));
            assert_eq!(q.get_deadline(past), Ok(1));
            q.put_deadline(4, past).unwrap();
            assert_eq!(q.get_timeout(Duration::ZERO), Ok(4));
            assert!(!q.join_deadline(past));
            assert!(!q.join_timeout(Duration::ZERO));
            q.task_done().unwrap();
            q.task_done().unwrap();
            assert!(q.join_timeout(Duration::ZERO));
            assert!(q.join_deadline(past));
        }

        #[test]
        fn timed_put_on_full_queue_waits_then_fails_full() {
            let q = Q::bounded(1);
            q.put(1).unwrap();
            let start = Instant::now();
            let err = q.put_timeout(2, SHORT).unwrap_err();
            assert!(start.elapsed() >= SHORT, "gave up after {:?}", start.elapsed());
            assert!(matches!(err, PutError::Full(2)));
            let start = Instant::now();
            let err = q.put_deadline(3, start + SHORT).unwrap_err();
            assert!(start.elapsed() >= SHORT);
            assert!(matches!(err, PutError::Full(3)));
            assert_eq!((q.len(), q.unfinished_tasks()), (1, 1));
        }

        #[test]
        fn timed_get_on_empty_queue_waits_then_fails_empty() {
            let q = Q::<u32>::new();
            let start = Instant::now();
            assert_eq!(q.get_timeout(SHORT), Err(GetError::Empty));
            assert!(start.elapsed() >= SHORT, "gave up after {:?}", start.elapsed());
            let start = Instant::now();
            assert_eq!(q.get_deadline(start + SHORT), Err(GetError::Empty));
            assert!(start.elapsed() >= SHORT);
        }

        #[test]
        fn timed_join_waits_then_reports_unfinished() {
            let q = Q::new();
            q.put(1).unwrap();
            let start = Instant::now();
            assert!(!q.join_timeout(SHORT));
            assert!(start.elapsed() >= SHORT);
            let start = Instant::now();
            assert!(!q.join_deadline(start + SHORT));
            assert!(start.elapsed() >= SHORT);
        }

        #[test]
        fn timed_calls_succeed_when_the_event_comes_in_time() {
            let q = Q::bounded(1);
            thread::scope(|s| {
                s.spawn(|| {
                    thread::sleep(SETTLE);
                    q.put(1).unwrap();
                });
                assert_eq!(q.get_timeout(LONG), Ok(1));
                q.put(2).unwrap();
                s.spawn(|| {
                    thread::sleep(SETTLE);
                    assert_eq!(q.get(), Ok(2));
                });
                q.put_deadline(3, Instant::now() + LONG).unwrap();
                s.spawn(|| {
                    thread::sleep(SETTLE);
                    for _ in 0..3 {
                        q.task_done().unwrap();
                    }
                });
                assert!(q.join_timeout(LONG));
            });
            assert_eq!(q.try_get(), Ok(3));
        }

        #[test]
        fn duration_max_timeouts_wait_for_the_event() {
            let q = Q::bounded(1);
            thread::scope(|s| {
                // get_timeout(MAX) on an empty queue, woken by a put.
                let getter = s.spawn(|| q.get_timeout(Duration::MAX));
                thread::sleep(SETTLE);
                q.put(1).unwrap();
                assert_eq!(getter.join().unwrap(), Ok(1));

                // put_timeout(MAX) on a full queue, woken by a get.
                q.put(2).unwrap();
                let putter = s.spawn(|| q.put_timeout(3, Duration::MAX).map_err(|e| e.into_inner()));
                thread::sleep(SETTLE);
                assert!(!putter.is_finished());
                assert_eq!(q.get(), Ok(2));
                assert_eq!(putter.join().unwrap(), Ok(()));
                assert_eq!(q.get(), Ok(3));

                // join_timeout(MAX), woken by the last task_done.
                let joiner = s.spawn(|| q.join_timeout(Duration::MAX));
                thread::sleep(SETTLE);
                assert!(!joiner.is_finished());
                for _ in 0..3 {
                    q.task_done().unwrap();
                }
                assert!(joiner.join().unwrap());
            });
        }

        #[test]
        fn put_blocks_while_full_until_a_get() {
            let q = Q::bounded(2);
            q.put(1).unwrap();
            q.put(2).unwrap();
            let done = AtomicBool::new(false);
            thread::scope(|s| {
                s.spawn(|| {
                    q.put(3).unwrap();
                    done.store(true, Ordering::SeqCst);
                });
                thread::sleep(SETTLE);
                assert!(!done.load(Ordering::SeqCst), "put returned on a full queue");
                assert_eq!(q.len(), 2);
                q.get().unwrap();
            });
            assert!(done.load(Ordering::SeqCst));
            assert_eq!(q.len(), 2);
            assert_eq!(q.unfinished_tasks(), 3);
        }

        #[test]
        fn get_blocks_while_empty_until_a_put() {
            let q = Q::new();
            let done = AtomicBool::new(false);
            thread::scope(|s| {
                let getter = s.spawn(|| {
                    let item = q.get();
                    done.store(true, Ordering::SeqCst);
                    item
                });
                thread::sleep(SETTLE);
                assert!(!done.load(Ordering::SeqCst), "get returned on an empty queue");
                q.put(7).unwrap();
                assert_eq!(getter.join().unwrap(), Ok(7));
            });
        }

        #[test]
        fn bounded_queue_never_exceeds_its_capacity() {
            let q = Q::bounded(2);
            let max_seen = AtomicUsize::new(0);
            thread::scope(|s| {
                s.spawn(|| {
                    for i in 0..200 {
                        q.put(i).unwrap();
                        max_seen.fetch_max(q.len(), Ordering::Relaxed);
                    }
                });
                let mut got = Vec::new();
                for _ in 0..200 {
                    got.push(q.get().unwrap());
                    max_seen.fetch_max(q.len(), Ordering::Relaxed);
                }
                got.sort();
                assert_eq!(got, (0..200).collect::<Vec<_>>());
            });
            assert!(max_seen.load(Ordering::Relaxed) <= 2);
        }

        #[test]
        fn task_done_and_join() {
            let q = Q::new();
            q.join(); // nothing put: returns at once
            for i in 0..3 {
                q.put(i).unwrap();
            }
            assert_eq!(q.unfinished_tasks(), 3);
            for _ in 0..3 {
                q.get().unwrap();
            }
            // Getting is not finishing.
            assert_eq!(q.unfinished_tasks(), 3);
            q.task_done().unwrap();
            q.task_done().unwrap();
            assert_eq!(q.unfinished_tasks(), 1);
            assert!(!q.join_timeout(Duration::ZERO));
            q.task_done().unwrap();
            assert_eq!(q.unfinished_tasks(), 0);
            q.join();
        }

        #[test]
        fn join_waits_for_the_last_task_done() {
            let q = Q::new();
            let finished = AtomicUsize::new(0);
            for i in 0..10 {
                q.put(i).unwrap();
            }
            thread::scope(|s| {
                s.spawn(|| {
                    for _ in 0..10 {
                        q.get().unwrap();
                        thread::sleep(Duration::from_millis(2));
                        finished.fetch_add(1, Ordering::SeqCst);
                        q.task_done().unwrap();
                    }
                });
                q.join();
                assert_eq!(finished.load(Ordering::SeqCst), 10);
            });
        }

        #[test]
        fn task_done_more_than_put_fails_and_changes_nothing() {
            let q = Q::new();
            assert_eq!(q.task_done(), Err(TaskDoneError));
            assert_eq!(q.unfinished_tasks(), 0);
            q.put(1).unwrap();
            q.put(2).unwrap();
            q.task_done().unwrap();
            q.task_done().unwrap();
            assert_eq!(q.task_done(), Err(TaskDoneError));
            assert_eq!(q.unfinished_tasks(), 0);
            // The items are untouched and the queue still counts new ones.
            assert_eq!(q.len(), 2);
            q.put(3).unwrap();
            assert_eq!(q.unfinished_tasks(), 1);
        }

        #[test]
        fn task_done_before_the_get_is_not_counted_again_after_it() {
            let q = Q::new();
            q.put(1).unwrap();
            q.task_done().unwrap(); // the item's task, before it is got
            assert_eq!(q.unfinished_tasks(), 0);
            q.get().unwrap();
            assert_eq!(q.task_done(), Err(TaskDoneError));
            assert_eq!(q.unfinished_tasks(), 0);
            // The next item is counted as usual.
            q.put(2).unwrap();
            q.get().unwrap();
            q.task_done().unwrap();
            assert_eq!(q.task_done(), Err(TaskDoneError));
            q.join();
        }

        #[test]
        fn task_done_by_a_thread_that_did_not_get_the_items() {
            // A getter hands its items on and exits; another thread marks
            // them done.
            let q = Q::new();
            for i in 0..3 {
                q.put(i).unwrap();
            }
            thread::scope(|s| {
                s.spawn(|| {
                    for _ in 0..3 {
                        q.get().unwrap();
                    }
                });
            });
            assert_eq!(q.unfinished_tasks(), 3);
            for left in (0..3).rev() {
                q.task_done().unwrap();
                assert_eq!(q.unfinished_tasks(), left);
            }
            assert_eq!(q.task_done(), Err(TaskDoneError));
            q.join();
        }

        #[test]
        fn a_getter_cannot_mark_a_task_another_thread_marked() {
            let q = Q::new();
            q.put(1).unwrap();
            q.put(2).unwrap();
            let (got, marked) = (Barrier::new(2), Barrier::new(2));
            thread::scope(|s| {
                s.spawn(|| {
                    q.get().unwrap();
                    got.wait();
                    marked.wait();
                    // Both tasks (this thread's item and the queued one) are
                    // already done.
                    assert_eq!(q.task_done(), Err(TaskDoneError));
                    q.get().unwrap();
                    assert_eq!(q.task_done(), Err(TaskDoneError));
                });
                got.wait();
                q.task_done().unwrap(); // the getter's item
                q.task_done().unwrap(); // the queued item, before its get
                assert_eq!(q.task_done(), Err(TaskDoneError));
                assert_eq!(q.unfinished_tasks(), 0);
                marked.wait();
            });
            assert_eq!(q.unfinished_tasks(), 0);
            q.join();
        }

        #[test]
        fn many_threads_mark_each_others_tasks() {
            // Getters mark every other task they get; two threads that get
            // nothing mark tasks as fast as they can, of items got or still
            // queued. Calls may fail (a getter's item may have been marked
            // already), but exactly one success per item put, no more.
            // Fewer under Miri, which runs each step thousands of times slower.
            const ITEMS: usize = if cfg!(miri) { 200 } else { 4000 };
            let q = Q::new();
            for i in 0..ITEMS {
                q.put(i).unwrap();
            }
            let marked = AtomicUsize::new(0);
            let mark = || {
                let ok = q.task_done().is_ok();
                if ok {
                    marked.fetch_add(1, Ordering::Relaxed);
                }
                ok
            };
            thread::scope(|s| {
                for _ in 0..4 {
                    s.spawn(|| {
                        for n in 0..ITEMS / 4 {
                            q.get().unwrap();
                            if n % 2 == 0 {
                                mark();
                            }
                        }
                    });
                }
                for _ in 0..2 {
                    s.spawn(|| {
                        while q.unfinished_tasks() > 0 {
                            if !mark() {
                                thread::yield_now();
                            }
                        }
                    });
                }
                q.join();
            });
            assert_eq!(marked.load(Ordering::Relaxed), ITEMS);
            assert_eq!(q.unfinished_tasks(), 0);
            assert_eq!(q.task_done(), Err(TaskDoneError));
            assert!(q.is_empty());
        }

        #[test]
        fn get_and_task_done_from_a_thread_exit_destructor() {
            // A value whose `Drop` (run while its thread exits, possibly
            // after the storage threadkit keeps per thread is gone) gets an
            // item and marks it done.
            struct AtExit(Arc<Q<u32>>);
            impl Drop for AtExit {
                fn drop(&mut self) {
                    self.0.get().unwrap();
                    self.0.task_done().unwrap();
                }
            }
            thread_local! {
                static AT_EXIT: std::cell::RefCell<Option<AtExit>> =
                    const { std::cell::RefCell::new(None) };
            }
            let q = Arc::new(Q::new());
            q.put(7).unwrap();
            let q2 = Arc::clone(&q);
            thread::spawn(move || {
                // Registered before the queue is first used on this thread.
                AT_EXIT.with(|slot| *slot.borrow_mut() = Some(AtExit(Arc::clone(&q2))));
                q2.put(8).unwrap();
                q2.get().unwrap();
                q2.task_done().unwrap();
            })
            .join()
            .unwrap();
            assert_eq!(q.unfinished_tasks(), 0);
            assert_eq!(q.task_done(), Err(TaskDoneError));
            q.join();
        }

        #[test]
        fn get_task_into_inner_and_drop_mark_done() {
            let q = Q::new();
            q.put(String::from("a")).unwrap();
            q.put(String::from("b")).unwrap();
            let mut task = q.get_task().unwrap();
            task.push('!'); // DerefMut
            assert_eq!(task.len(), 2); // Deref
            assert!(format!("{task:?}").contains("Task"));
            assert_eq!(q.unfinished_tasks(), 2);
            let item = task.into_inner();
            assert!(item == "a!" || item == "b!");
            assert_eq!(q.unfinished_tasks(), 1);
            drop(q.get_task().unwrap());
            assert_eq!(q.unfinished_tasks(), 0);
            q.join();
        }

        #[test]
        fn task_dropped_during_a_panic_counts_done() {
            let q = Q::new();
            q.put(1).unwrap();
            let r = catch_unwind(AssertUnwindSafe(|| {
                let _task = q.get_task().unwrap();
                panic!("worker failed");
            }));
            assert!(r.is_err());
            assert_eq!(q.unfinished_tasks(), 0);
            q.join();
        }

        #[test]
        fn worker_panicking_with_a_task_counts_it_done() {
            let q = Arc::new(Q::new());
            q.put(1).unwrap();
            q.put(2).unwrap();
            let worker = {
                let q = q.clone();
                thread::spawn(move || {
                    let _first = q.get_task().unwrap();
                    let _second = q.get_task().unwrap();
                    panic!("worker failed");
                })
            };
            assert!(worker.join().is_err());
            assert_eq!(q.unfinished_tasks(), 0);
            assert!(q.join_timeout(LONG));
        }

        #[test]
        fn task_done_also_called_by_hand_is_not_counted_twice() {
            let q = Q::new();
            q.put(1).unwrap();
            q.put(2).unwrap();
            let task = q.get_task().unwrap();
            q.task_done().unwrap(); // the user finishes it by hand too
            drop(task); // this one finds nothing to undo beyond the count
            assert_eq!(q.unfinished_tasks(), 0);
            assert_eq!(q.len(), 1);
        }

        // --- shutdown() -----------------------------------------------------

        #[test]
        fn put_after_shutdown_fails_before_the_full_check() {
            let q = Q::bounded(1);
            q.put(1).unwrap();
            q.shutdown();
            assert!(q.is_shutdown());
            assert_eq!(q.put(2).unwrap_err().into_inner(), 2);
            assert!(matches!(q.try_put(3), Err(PutError::ShutDown(3))));
            assert!(matches!(q.put_timeout(4, LONG), Err(PutError::ShutDown(4))));
            assert!(matches!(q.put_timeout(5, Duration::ZERO), Err(PutError::ShutDown(5))));
            assert!(matches!(q.put_deadline(6, Instant::now()), Err(PutError::ShutDown(6))));
            assert_eq!((q.len(), q.unfinished_tasks()), (1, 1));
        }

        #[test]
        fn put_after_shutdown_fails_on_an_empty_queue_too() {
            let q = Q::new();
            q.shutdown();
            assert_eq!(q.put(1), Err(ShutDown(1)));
            assert_eq!(q.unfinished_tasks(), 0);
        }

        #[test]
        fn get_after_shutdown_drains_then_fails_before_the_empty_check() {
            let q = Q::new();
            for i in 0..4 {
                q.put(i).unwrap();
            }
            q.shutdown();
            let mut got = vec![
                q.get().unwrap(),
                q.try_get().unwrap(),
                q.get_timeout(LONG).unwrap(),
                q.get_task().unwrap().into_inner(),
            ];
            got.sort();
            assert_eq!(got, vec![0, 1, 2, 3]);
            assert_eq!(q.get(), Err(ShutDown(())));
            assert_eq!(q.try_get(), Err(GetError::ShutDown));
            assert_eq!(q.get_timeout(Duration::ZERO), Err(GetError::ShutDown));
            assert_eq!(q.get_timeout(LONG), Err(GetError::ShutDown));
            assert_eq!(q.get_deadline(Instant::now()), Err(GetError::ShutDown));
            assert!(q.get_task().is_err());
            assert_eq!(q.unfinished_tasks(), 3);
        }

        #[test]
        fn shutdown_wakes_blocked_getters() {
            let q = Q::<u32>::new();
            let woken = AtomicUsize::new(0);
            thread::scope(|s| {
                let mut handles = Vec::new();
                for i in 0..3 {
                    let (q, woken) = (&q, &woken);
                    handles.push(s.spawn(move || {
                        let r = match i {
                            0 => q.get().map_err(GetError::from),
                            1 => q.get_timeout(LONG),
                            _ => q.get_task().map(|t| t.into_inner()).map_err(GetError::from),
                        };
                        woken.fetch_add(1, Ordering::SeqCst);
                        r
                    }));
                }
                thread::sleep(SETTLE);
                assert_eq!(woken.load(Ordering::SeqCst), 0);
                q.shutdown();
                for h in handles {
                    assert_eq!(h.join().unwrap(), Err(GetError::ShutDown));
                }
            });
        }

        #[test]
        fn shutdown_wakes_blocked_putters_with_their_items() {
            let q = Q::bounded(1);
            q.put(0).unwrap();
            let woken = AtomicUsize::new(0);
            thread::scope(|s| {
                let mut handles = Vec::new();
                for i in 1..=3 {
                    let (q, woken) = (&q, &woken);
                    handles.push(s.spawn(move || {
                        let r = if i == 2 {
                            q.put_timeout(i, LONG)
                        } else {
                            q.put(i).map_err(PutError::from)
                        };
                        woken.fetch_add(1, Ordering::SeqCst);
                        (i, r)
                    }));
                }
                thread::sleep(SETTLE);
                assert_eq!(woken.load(Ordering::SeqCst), 0);
                q.shutdown();
                for h in handles {
                    let (i, r) = h.join().unwrap();
                    assert!(matches!(r, Err(PutError::ShutDown(j)) if j == i));
                }
            });
            // The item put before the shutdown is still handed out.
            assert_eq!(q.get(), Ok(0));
            assert_eq!(q.get(), Err(ShutDown(())));
        }

        #[test]
        fn join_after_shutdown_waits_for_items_handed_out() {
            let q = Q::new();
            q.put(1).unwrap();
            q.put(2).unwrap();
            q.get().unwrap();
            q.shutdown();
            assert!(!q.join_timeout(SHORT));
            q.get().unwrap();
            q.task_done().unwrap();
            assert!(!q.join_timeout(Duration::ZERO));
            q.task_done().unwrap();
            q.join();
        }

        #[test]
        fn shutdown_is_idempotent_and_then_immediate_still_discards() {
            let drops = Arc::new(AtomicUsize::new(0));
            let q = Q::new();
            q.put(Tracked::new(1, &drops)).unwrap();
            q.put(Tracked::new(2, &drops)).unwrap();
            q.shutdown();
            q.shutdown();
            assert_eq!(q.len(), 2);
            q.shutdown_immediate();
            assert_eq!(drops.load(Ordering::SeqCst), 2);
            assert_eq!((q.len(), q.unfinished_tasks()), (0, 0));
        }

        // --- shutdown_immediate() -------------------------------------------

        #[test]
        fn shutdown_immediate_drops_items_and_counts_them_done() {
            let drops = Arc::new(AtomicUsize::new(0));
            let q = Q::bounded(5);
            for id in 0..5 {
                q.put(Tracked::new(id, &drops)).unwrap();
            }
            q.shutdown_immediate();
            assert_eq!(drops.load(Ordering::SeqCst), 5);
            assert!(q.is_shutdown() && q.is_empty() && !q.is_full());
            assert_eq!(q.unfinished_tasks(), 0);
            assert!(q.get().is_err());
            assert_eq!(q.try_get().unwrap_err(), GetError::ShutDown);
            let back = q.put(Tracked::new(9, &drops)).unwrap_err().into_inner();
            assert_eq!(back.id, 9);
            drop(back);
            assert_eq!(drops.load(Ordering::SeqCst), 6);
            q.join();
            drop(q);
            assert_eq!(drops.load(Ordering::SeqCst), 6);
        }

        #[test]
        fn shutdown_immediate_wakes_join() {
            let q = Q::new();
            for i in 0..3 {
                q.put(i).unwrap();
            }
            thread::scope(|s| {
                let joiner = s.spawn(|| q.join());
                let timed_joiner = s.spawn(|| q.join_timeout(LONG));
                thread::sleep(SETTLE);
                assert!(!joiner.is_finished() && !timed_joiner.is_finished());
                q.shutdown_immediate();
                joiner.join().unwrap();
                assert!(timed_joiner.join().unwrap());
            });
        }

        #[test]
        fn shutdown_immediate_wakes_blocked_getters_and_putters() {
            let getq = Q::<u32>::new();
            let putq = Q::bounded(1);
            putq.put(0).unwrap();
            thread::scope(|s| {
                let getter = s.spawn(|| getq.get());
                let putter = s.spawn(|| putq.put(1));
                thread::sleep(SETTLE);
                getq.shutdown_immediate();
                putq.shutdown_immediate();
                assert_eq!(getter.join().unwrap(), Err(ShutDown(())));
                assert_eq!(putter.join().unwrap(), Err(ShutDown(1)));
            });
            assert!(putq.is_empty());
            assert_eq!(putq.unfinished_tasks(), 0);
        }

        #[test]
        fn join_after_shutdown_immediate_waits_for_items_handed_out() {
            let q = Q::new();
            for i in 0..4 {
                q.put(i).unwrap();
            }
            let held = q.get_task().unwrap();
            q.get().unwrap(); // handed out, task_done by hand below
            q.shutdown_immediate();
            assert_eq!(q.len(), 0);
            assert_eq!(q.unfinished_tasks(), 2);
            thread::scope(|s| {
                let joiner = s.spawn(|| q.join());
                thread::sleep(SETTLE);
                assert!(!joiner.is_finished());
                drop(held);
                assert_eq!(q.unfinished_tasks(), 1);
                thread::sleep(SETTLE);
                assert!(!joiner.is_finished());
                q.task_done().unwrap();
                joiner.join().unwrap();
            });
            assert_eq!(q.unfinished_tasks(), 0);
        }

        #[test]
        fn task_done_after_shutdown_immediate() {
            let q = Q::new();
            q.put(1).unwrap();
            q.put(2).unwrap();
            q.get().unwrap();
            q.shutdown_immediate();
            assert_eq!(q.unfinished_tasks(), 1);
            q.task_done().unwrap();
            assert_eq!(q.unfinished_tasks(), 0);
            assert_eq!(q.task_done(), Err(TaskDoneError));
            assert_eq!(q.unfinished_tasks(), 0);
            q.join();
        }

        #[test]
        fn shutdown_immediate_never_takes_the_count_below_zero() {
            // Unfinished (1) lower than the length (3).
            let q = Q::new();
            for i in 0..3 {
                q.put(i).unwrap();
            }
            q.task_done().unwrap();
            q.task_done().unwrap();
            assert_eq!((q.len(), q.unfinished_tasks()), (3, 1));
            q.shutdown_immediate();
            assert_eq!((q.len(), q.unfinished_tasks()), (0, 0));
            assert_eq!(q.task_done(), Err(TaskDoneError));
            q.join();

            // Unfinished already zero.
            let q = Q::new();
            q.put(1).unwrap();
            q.put(2).unwrap();
            q.task_done().unwrap();
            q.task_done().unwrap();
            q.shutdown_immediate();
            assert_eq!((q.len(), q.unfinished_tasks()), (0, 0));
            q.join();
        }

        #[test]
        fn task_held_across_shutdown_immediate_still_counts_done() {
            let q = Q::new();
            q.put(1).unwrap();
            q.put(2).unwrap();
            let task = q.get_task().unwrap();
            q.shutdown_immediate();
            assert_eq!(q.unfinished_tasks(), 1);
            assert_eq!(*task, *task); // still usable
            drop(task);
            assert_eq!(q.unfinished_tasks(), 0);
            q.join();
        }

        // --- drops ------------------------------------------------------------

        #[test]
        fn items_left_in_a_dropped_queue_are_dropped_exactly_once() {
            let drops = Arc::new(AtomicUsize::new(0));
            let q = Q::bounded(10);
            for id in 0..10 {
                q.put(Tracked::new(id, &drops)).unwrap();
            }
            // Rejected items come back, they are not dropped by the queue.
            let back = q.try_put(Tracked::new(10, &drops)).unwrap_err().into_inner();
            assert_eq!(drops.load(Ordering::SeqCst), 0);
            drop(back);
            let a = q.get().unwrap();
            let b = q.get_task().unwrap();
            assert_eq!(drops.load(Ordering::SeqCst), 1);
            drop((a, b));
            assert_eq!(drops.load(Ordering::SeqCst), 3);
            drop(q);
            assert_eq!(drops.load(Ordering::SeqCst), 11);
        }

        // --- Debug ------------------------------------------------------------

        #[test]
        fn debug_shows_state_and_never_blocks_on_waiters() {
            let q = Q::bounded(4);
            q.put(1).unwrap();
            q.put(2).unwrap();
            let s = format!("{q:?}");
            assert!(s.contains(stringify!($queue)), "{s}");
            assert!(s.contains("len: 2"), "{s}");
            assert!(s.contains("capacity: Some(4)"), "{s}");
            assert!(s.contains("unfinished_tasks: 2"), "{s}");
            let empty = Q::<u32>::new();
            thread::scope(|sc| {
                let getter = sc.spawn(|| empty.get());
                thread::sleep(SETTLE);
                let s = format!("{empty:?}");
                assert!(s.contains("len: 0"), "{s}");
                empty.shutdown();
                assert!(getter.join().unwrap().is_err());
            });
            assert!(format!("{empty:?}").contains("is_shutdown: true"));
        }
    };
}

mod fifo {
    shared_tests!(Queue);
}

mod lifo {
    shared_tests!(LifoQueue);
}

mod priority {
    shared_tests!(PriorityQueue);
}

// ---------------------------------------------------------------------------
// Panicking `Ord` (PriorityQueue only: the other two never compare).

#[test]
fn panicking_ord_in_put_and_get_loses_and_duplicates_nothing() {
    let q = PriorityQueue::new();
    for (tag, prio) in [3, POISON, 1, 4, 1, 5].into_iter().enumerate() {
        q.put(key(prio, tag as u32)).unwrap();
    }
    let expected_before = vec![(1, 2), (1, 4), (3, 0), (4, 3), (5, 5), (POISON, 1)];

    POISON_ARMED.with(|a| a.set(true));
    // A poisoned put: its comparisons panic, it inserts nothing.
    let r = catch_unwind(AssertUnwindSafe(|| q.put(key(POISON, 99))));
    assert!(r.is_err(), "put of a poisoned key should panic");
    assert_eq!((q.len(), q.unfinished_tasks()), (6, 6));
    // A get whose sift compares the poisoned item panics, removing nothing.
    // With six items the sift compares along a root-to-leaf path; keep
    // getting until one panics (the poisoned item sits at a leaf, so some
    // get compares it before it could come out itself).
    let mut got = Vec::new();
    let panicked = loop {
        match catch_unwind(AssertUnwindSafe(|| q.try_get())) {
            Ok(Ok(k)) => got.push((k.prio, k.tag)),
            Ok(Err(e)) => panic!("queue ran dry without a poisoned comparison: {e:?}"),
            Err(_) => break true,
        }
    };
    assert!(panicked);
    let len_after_panic = q.len();
    assert_eq!(len_after_panic + got.len(), 6);
    assert_eq!(q.unfinished_tasks(), 6);
    POISON_ARMED.with(|a| a.set(false));

    // The queue is still usable and consistent: exactly the expected items,
    // in order.
    got.extend(tags(drain!(q)));
    assert_eq!(got, expected_before);
    assert_eq!((q.len(), q.unfinished_tasks()), (0, 6));
    for _ in 0..6 {
        q.task_done().unwrap();
    }

    // No waiter is stranded: a getter blocked in another thread is woken by
    // the next put.
    thread::scope(|s| {
        let getter = s.spawn(|| q.get().map(|k| (k.prio, k.tag)));
        thread::sleep(SETTLE);
        q.put(key(7, 7)).unwrap();
        assert_eq!(getter.join().unwrap(), Ok((7, 7)));
    });
    assert_eq!(q.unfinished_tasks(), 1);
}

#[test]
fn panicking_ord_passes_on_the_room_it_was_woken_for() {
    // Two putters blocked on a full queue. A get makes room and wakes the
    // first, whose put then panics in `Ord`: the room must go to the second
    // putter, which would otherwise stay blocked with room available.
    let q = PriorityQueue::bounded(2);
    q.put(key(1, 0)).unwrap();
    q.put(key(2, 1)).unwrap();
    thread::scope(|s| {
        let first = s.spawn(|| {
            POISON_ARMED.with(|a| a.set(true));
            catch_unwind(AssertUnwindSafe(|| q.put(key(POISON, 2)))).is_err()
        });
        thread::sleep(SETTLE); // `first` queues before `second`
        let second = s.spawn(|| q.put(key(3, 3)).is_ok());
        thread::sleep(SETTLE);
        assert!(!first.is_finished() && !second.is_finished());
        assert_eq!(q.get().map(|k| k.tag), Ok(0));
        // Wakeups are FIFO, so `first` panics and passes the room on. (Had
        // the machine been too slow for the order above, `second` took the
        // room; then one more get lets `first` in to panic.)
        assert!(second.join().unwrap(), "second putter failed");
        if !first.is_finished() {
            thread::sleep(SETTLE);
        }
        if !first.is_finished() {
            assert_eq!(q.get().map(|k| k.tag), Ok(1));
        }
        assert!(first.join().unwrap(), "the poisoned put did not panic");
    });
    let left = tags(drain!(q));
    assert!(left == [(2, 1), (3, 3)] || left == [(3, 3)], "{left:?}");
    assert_eq!(q.unfinished_tasks(), 3);
}

// ---------------------------------------------------------------------------
// Debug never blocks, even while the queue's lock is held.

/// Blocks its first comparison until released: while it blocks, the put
/// comparing it holds the queue's internal lock.
struct Gate {
    prio: u32,
    gate: Option<Arc<GateState>>,
}

struct GateState {
    fired: AtomicBool,
    entered: Barrier,
    release: Barrier,
}

impl Gate {
    fn hold(&self) {
        if let Some(g) = &self.gate {
            if !g.fired.swap(true, Ordering::SeqCst) {
                g.entered.wait();
                g.release.wait();
            }
        }
    }
}

impl PartialEq for Gate {
    fn eq(&self, other: &Self) -> bool {
        self.prio == other.prio
    }
}
impl Eq for Gate {}
impl PartialOrd for Gate {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}
impl Ord for Gate {
    fn cmp(&self, other: &Self) -> CmpOrdering {
        self.hold();
        other.hold();
        self.prio.cmp(&other.prio)
    }
}

#[test]
fn debug_never_blocks_while_the_lock_is_held() {
    let q = PriorityQueue::new();
    q.put(Gate { prio: 5, gate: None }).unwrap();
    let state = Arc::new(GateState {
        fired: AtomicBool::new(false),
        entered: Barrier::new(2),
        release: Barrier::new(2),
    });
    thread::scope(|s| {
        let gate = Gate { prio: 1, gate: Some(state.clone()) };
        let putter = s.spawn(|| q.put(gate).is_ok());
        state.entered.wait(); // the putter is comparing, under the lock
        // Formatting must return while the putter holds the lock (it reads
        // only atomics); assert after releasing the putter, so a failed
        // assertion cannot leave it parked at the barrier.
        let shown = format!("{q:?}");
        state.release.wait();
        assert!(putter.join().unwrap());
        assert!(shown.starts_with("PriorityQueue"), "{shown}");
        assert!(shown.contains("len: 1"), "{shown}");
        assert!(shown.contains("unfinished_tasks: 1"), "{shown}");
    });
    assert_eq!(q.len(), 2);
    assert_eq!(q.get().unwrap().prio, 1);
}

// ---------------------------------------------------------------------------
// Errors.

#[test]
fn errors_display_debug_and_give_items_back() {
    struct NoDebug(u8);
    let e = ShutDown(NoDebug(1));
    assert_eq!(format!("{e:?}"), "ShutDown(..)");
    assert_eq!(e.to_string(), "the queue has been shut down");
    assert_eq!(e.into_inner().0, 1);
    let full: PutError<NoDebug> = PutError::Full(NoDebug(2));
    assert_eq!(format!("{full:?}"), "Full(..)");
    assert_eq!(full.to_string(), "the queue is full");
    assert!(full.is_full());
    assert_eq!(full.into_inner().0, 2);
    let from: PutError<u8> = ShutDown(3).into();
    assert!(matches!(from, PutError::ShutDown(3)));
    assert_eq!(GetError::from(ShutDown(())), GetError::ShutDown);
    assert!(!GetError::Empty.to_string().is_empty());
    assert!(!TaskDoneError.to_string().is_empty());
    fn is_error<E: std::error::Error + Send + Sync + 'static>(_: &E) {}
    is_error(&ShutDown(1u8));
    is_error(&PutError::Full(1u8));
    is_error(&GetError::Empty);
    is_error(&TaskDoneError);
}

// ---------------------------------------------------------------------------
// Seed scenarios.

/// The seeds' custom thread pool: 5 workers, 100 items; `join` returns only
/// after all of them are done.
#[test]
fn worker_pool_join_waits_for_all_work() {
    let jobs = Queue::new();
    let completed = AtomicUsize::new(0);
    let per_worker = Mutex::new([0usize; 5]);
    thread::scope(|s| {
        for w in 0..5 {
            let (jobs, completed, per_worker) = (&jobs, &completed, &per_worker);
            s.spawn(move || {
                while let Ok(job) = jobs.get_task() {
                    // Some work that takes a while, so join really waits.
                    if *job % 7 == 0 {
                        thread::sleep(Duration::from_millis(1));
                    }
                    completed.fetch_add(1, Ordering::SeqCst);
                    per_worker.lock().unwrap()[w] += 1;
                } // the Task drops here: task_done
            });
        }
        for job in 0..100u32 {
            jobs.put(job).unwrap();
        }
        jobs.join();
        assert_eq!(completed.load(Ordering::SeqCst), 100, "join returned before all work was done");
        assert_eq!(jobs.unfinished_tasks(), 0);
        jobs.shutdown(); // the workers' get_task fails and they exit
    });
    assert_eq!(per_worker.lock().unwrap().iter().sum::<usize>(), 100);
}

/// The seeds' roll call, made deterministic: the teacher calls each name
/// through every student's own `Queue` (so everyone hears every call), then
/// `join`s those queues, so by then every student has heard the call and the
/// one called has answered. An absent student's name gets no answer.
#[test]
fn roll_call() {
    let students = ["ada", "grace", "linus", "barbara"];
    let roll = ["grace", "ada", "ken", "barbara", "linus"]; // "ken" is absent
    let inboxes: Vec<Queue<&str>> = students.iter().map(|_| Queue::new()).collect();
    let answers: Queue<String> = Queue::new();
    let heard: Vec<Mutex<Vec<&str>>> = students.iter().map(|_| Mutex::new(Vec::new())).collect();

    let register = thread::scope(|s| {
        for ((&me, inbox), heard) in students.iter().zip(&inboxes).zip(&heard) {
            let answers = &answers;
            s.spawn(move || {
                while let Ok(call) = inbox.get_task() {
                    heard.lock().unwrap().push(*call);
                    if *call == me {
                        answers.put(format!("{me}: present")).unwrap();
                    }
                } // task_done only after answering
            });
        }
        let mut register = Vec::new();
        for name in roll {
            for inbox in &inboxes {
                inbox.put(name).unwrap();
            }
            for inbox in &inboxes {
                inbox.join();
            }
            register.push(match answers.try_get() {
                Ok(answer) => answer,
                Err(GetError::Empty) => format!("{name}: absent"),
                Err(e) => panic!("{e}"),
            });
        }
        for inbox in &inboxes {
            inbox.shutdown();
        }
        register
    });

    assert_eq!(
        register,
        ["grace: present", "ada: present", "ken: absent", "barbara: present", "linus: present"]
    );
    for h in &heard {
        assert_eq!(*h.lock().unwrap(), roll);
    }
    assert!(answers.is_empty());
}
