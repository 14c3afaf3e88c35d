//! Bugs that hit threadkit's peers, each carried as a named test.
//!
//! Every test names the upstream issue whose bug class it guards against
//! (parking_lot, tokio, crossbeam, flume, std, thread_local, CPython). The
//! assertions are on behaviour; the only timing in them is lower bounds
//! ("did not return before") and generous watchdogs that turn a hang into
//! a failure.
#![cfg(not(loom))]

use std::cell::RefCell;
use std::cmp::Ordering as CmpOrdering;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use threadkit::{
    Condition, Event, GetError, LifoQueue, Local, Lock, PriorityQueue, PutError, Queue, RLock,
};

/// Sizes shrink under miri, where every instruction is interpreted.
const SHORT: Duration = Duration::from_millis(if cfg!(miri) { 5 } else { 20 });

/// Runs `f` on a thread and fails (instead of hanging) if it has not
/// finished within a minute.
fn within_a_minute<R: Send + 'static>(name: &str, f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = mpsc::channel();
    let handle = thread::spawn(move || {
        let r = f();
        let _ = tx.send(());
        r
    });
    if rx.recv_timeout(Duration::from_secs(60)).is_err() {
        panic!("{name}: still running after 60 s (a hang)");
    }
    handle.join().unwrap()
}

/// Spins until `count` reaches `n`.
fn until(count: &AtomicUsize, n: usize) {
    while count.load(Ordering::SeqCst) < n {
        thread::yield_now();
    }
}

// ---- Condition -------------------------------------------------------

/// parking_lot#129: waiters that time out must not corrupt the wait queue;
/// later `notify_one` calls still release every waiter.
#[test]
fn parking_lot_129_timeouts_then_notify_one_releases_all() {
    within_a_minute("parking_lot#129", || {
        let shared = Arc::new((Lock::new(0u32), Condition::new(), AtomicUsize::new(0)));
        let waiters: Vec<_> = (0..4)
            .map(|_| {
                let shared = shared.clone();
                thread::spawn(move || {
                    let (lock, cond, stage) = &*shared;
                    let mut g = lock.lock();
                    // 1: an untimed wait, released by notify_all.
                    stage.fetch_add(1, Ordering::SeqCst);
                    cond.wait_while(&mut g, |phase| *phase == 0);
                    // 2: a short timed wait nobody notifies.
                    assert!(cond.wait_timeout(&mut g, SHORT).timed_out());
                    // 3: untimed again, released one by one.
                    stage.fetch_add(1, Ordering::SeqCst);
                    cond.wait_while(&mut g, |phase| *phase < 2);
                })
            })
            .collect();
        let (lock, cond, stage) = &*shared;
        until(stage, 4);
        *lock.lock() = 1;
        assert_eq!(cond.notify_all(), 4);
        until(stage, 8);
        *lock.lock() = 2;
        let mut woken = 0;
        while woken < 4 {
            // Each waiter queued for stage 3 is woken by exactly one call.
            if cond.notify_one() {
                woken += 1;
            } else {
                thread::yield_now();
            }
        }
        for w in waiters {
            w.join().unwrap();
        }
    });
}

/// tokio#7996: a `notify_all` must not swallow a later `notify(1)` meant
/// for a waiter that arrived after it.
#[test]
fn tokio_7996_notify_all_then_notify_one_wakes_newer_waiter() {
    within_a_minute("tokio#7996", || {
        let shared = Arc::new((Lock::new(false), Condition::new(), AtomicUsize::new(0)));
        let s2 = shared.clone();
        let old = thread::spawn(move || {
            let (lock, cond, queued) = &*s2;
            let mut g = lock.lock();
            queued.fetch_add(1, Ordering::SeqCst);
            cond.wait(&mut g);
        });
        let (lock, cond, queued) = &*shared;
        until(queued, 1);
        drop(lock.lock()); // the old waiter has released the lock: it is queued
        assert_eq!(cond.notify_all(), 1);
        old.join().unwrap();
        let s3 = shared.clone();
        let newer = thread::spawn(move || {
            let (lock, cond, queued) = &*s3;
            let mut g = lock.lock();
            queued.fetch_add(1, Ordering::SeqCst);
            cond.wait(&mut g);
            *g = true;
        });
        until(queued, 2);
        drop(lock.lock());
        assert_eq!(cond.notify(1), 1);
        newer.join().unwrap();
        assert!(*lock.lock());
    });
}

/// CPython#74912: `notify(n)` with fewer than `n` waiters wakes exactly
/// those; `notify(0)` wakes none.
#[test]
fn cpython_74912_notify_n_counts() {
    within_a_minute("CPython#74912", || {
        let shared = Arc::new((Lock::new(()), Condition::new(), AtomicUsize::new(0)));
        let done = Arc::new(AtomicUsize::new(0));
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let (shared, done) = (shared.clone(), done.clone());
                thread::spawn(move || {
                    let (lock, cond, queued) = &*shared;
                    let mut g = lock.lock();
                    queued.fetch_add(1, Ordering::SeqCst);
                    cond.wait(&mut g);
                    done.fetch_add(1, Ordering::SeqCst);
                })
            })
            .collect();
        let (lock, cond, queued) = &*shared;
        until(queued, 2);
        drop(lock.lock());
        assert_eq!(cond.notify(0), 0);
        thread::sleep(SHORT);
        assert_eq!(done.load(Ordering::SeqCst), 0, "notify(0) woke a waiter");
        assert_eq!(cond.notify(5), 2);
        for w in waiters {
            w.join().unwrap();
        }
        assert_eq!(cond.notify(5), 0);
    });
}

/// parking_lot#390: a `Condition` wait with an `RLock` held three levels
/// deep releases all three and restores all three.
#[test]
fn parking_lot_390_rlock_depth_three_wait_restores() {
    within_a_minute("parking_lot#390", || {
        let shared = Arc::new((RLock::new(RefCell::new(0)), Condition::new(), AtomicUsize::new(0)));
        let s2 = shared.clone();
        let waiter = thread::spawn(move || {
            let (lock, cond, queued) = &*s2;
            let _a = lock.lock();
            let _b = lock.lock();
            let mut c = lock.lock();
            assert_eq!(lock.hold_count(), 3);
            queued.store(1, Ordering::SeqCst);
            cond.wait_while(&mut c, |n| *n.borrow() == 0);
            assert_eq!(lock.hold_count(), 3);
            assert!(lock.is_owned_by_current_thread());
            assert_eq!(*c.borrow(), 1);
        });
        let (lock, cond, queued) = &*shared;
        until(queued, 1);
        // Succeeds only once the waiter has released all three levels.
        let g = lock.lock();
        assert_eq!(lock.hold_count(), 1);
        *g.borrow_mut() = 1;
        drop(g);
        cond.notify_all();
        waiter.join().unwrap();
        assert!(!lock.is_locked());
    });
}

// ---- Huge timeouts (rust#54552, rust#44216, crossbeam#795/#953, flume#167)

/// Every timed API accepts `Duration::MAX` and `1 << 62` seconds without
/// panicking, does not return early, and still wakes on its event.
#[test]
fn huge_timeouts_never_panic_and_still_wake() {
    for huge in [Duration::MAX, Duration::from_secs(1 << 62)] {
        within_a_minute("huge timeouts", move || {
            // Lock / RLock: acquisition succeeds once the holder releases.
            let lock = Arc::new(Lock::new(()));
            let held = lock.lock();
            let l2 = lock.clone();
            let t = thread::spawn(move || l2.try_lock_for(huge).is_some());
            thread::sleep(SHORT);
            drop(held);
            assert!(t.join().unwrap(), "Lock::try_lock_for({huge:?})");

            let rlock = Arc::new(RLock::new(()));
            let held = rlock.lock();
            let r2 = rlock.clone();
            let t = thread::spawn(move || r2.try_lock_for(huge).is_some());
            thread::sleep(SHORT);
            drop(held);
            assert!(t.join().unwrap(), "RLock::try_lock_for({huge:?})");

            // Condition: woken by notify, not timed out.
            let pair = Arc::new((Lock::new(false), Condition::new()));
            let p2 = pair.clone();
            let t = thread::spawn(move || {
                let (lock, cond) = &*p2;
                let mut g = lock.lock();
                cond.wait_timeout_while(&mut g, huge, |ready| !*ready).timed_out()
            });
            thread::sleep(SHORT);
            *pair.0.lock() = true;
            pair.1.notify_all();
            assert!(!t.join().unwrap(), "Condition::wait_timeout_while({huge:?})");

            // Condition::wait_timeout (not the `_while` form): notified, not
            // timed out.
            let pair = Arc::new((Lock::new(()), Condition::new(), AtomicBool::new(false)));
            let p2 = pair.clone();
            let t = thread::spawn(move || {
                let (lock, cond, queued) = &*p2;
                let mut g = lock.lock();
                queued.store(true, Ordering::SeqCst);
                cond.wait_timeout(&mut g, huge).timed_out()
            });
            while !pair.2.load(Ordering::SeqCst) {
                thread::yield_now();
            }
            drop(pair.0.lock()); // the waiter released the lock: it is queued
            assert!(pair.1.notify_one());
            assert!(!t.join().unwrap(), "Condition::wait_timeout({huge:?})");

            // Event.
            let event = Arc::new(Event::new());
            let e2 = event.clone();
            let t = thread::spawn(move || e2.wait_timeout(huge));
            thread::sleep(SHORT);
            event.set();
            assert!(t.join().unwrap(), "Event::wait_timeout({huge:?})");

            // Queues: get, put on a full queue, join.
            let q = Arc::new(Queue::bounded(1));
            let q2 = q.clone();
            let t = thread::spawn(move || q2.get_timeout(huge));
            thread::sleep(SHORT);
            q.put(1).unwrap();
            assert_eq!(t.join().unwrap(), Ok(1), "Queue::get_timeout({huge:?})");
            q.put(2).unwrap();
            let q2 = q.clone();
            let t = thread::spawn(move || q2.put_timeout(3, huge).is_ok());
            thread::sleep(SHORT);
            assert_eq!(q.get(), Ok(2));
            assert!(t.join().unwrap(), "Queue::put_timeout({huge:?})");
            let q2 = q.clone();
            let t = thread::spawn(move || q2.join_timeout(huge));
            thread::sleep(SHORT);
            q.task_done().unwrap();
            q.get().unwrap();
            q.task_done().unwrap();
            q.task_done().unwrap();
            assert!(t.join().unwrap(), "Queue::join_timeout({huge:?})");

            let lq = Arc::new(LifoQueue::bounded(1));
            let l2 = lq.clone();
            let t = thread::spawn(move || l2.get_timeout(huge));
            thread::sleep(SHORT);
            lq.put(5).unwrap();
            assert_eq!(t.join().unwrap(), Ok(5), "LifoQueue::get_timeout({huge:?})");
            lq.put(6).unwrap();
            let l2 = lq.clone();
            let t = thread::spawn(move || l2.put_timeout(7, huge).is_ok());
            thread::sleep(SHORT);
            assert_eq!(lq.get(), Ok(6));
            assert!(t.join().unwrap(), "LifoQueue::put_timeout({huge:?})");
            let l2 = lq.clone();
            let t = thread::spawn(move || l2.join_timeout(huge));
            thread::sleep(SHORT);
            assert_eq!(lq.get(), Ok(7));
            for _ in 0..3 {
                lq.task_done().unwrap();
            }
            assert!(t.join().unwrap(), "LifoQueue::join_timeout({huge:?})");

            let pq = Arc::new(PriorityQueue::bounded(1));
            let p2 = pq.clone();
            let t = thread::spawn(move || p2.get_timeout(huge));
            thread::sleep(SHORT);
            pq.put(6).unwrap();
            assert_eq!(t.join().unwrap(), Ok(6), "PriorityQueue::get_timeout({huge:?})");
            pq.put(8).unwrap();
            let p2 = pq.clone();
            let t = thread::spawn(move || p2.put_timeout(9, huge).is_ok());
            thread::sleep(SHORT);
            assert_eq!(pq.get(), Ok(8));
            assert!(t.join().unwrap(), "PriorityQueue::put_timeout({huge:?})");
            let p2 = pq.clone();
            let t = thread::spawn(move || p2.join_timeout(huge));
            thread::sleep(SHORT);
            assert_eq!(pq.get(), Ok(9));
            for _ in 0..3 {
                pq.task_done().unwrap();
            }
            assert!(t.join().unwrap(), "PriorityQueue::join_timeout({huge:?})");
        });
    }
}

/// A deadline far in the future (an `Instant` near the end of its range)
/// behaves like a huge timeout.
#[test]
fn far_deadlines_never_panic() {
    let far = Instant::now() + Duration::from_secs(1 << 40);
    let lock = Lock::new(());
    assert!(lock.try_lock_until(far).is_some());
    let event = Event::new();
    event.set();
    assert!(event.wait_deadline(far));
    let q = Queue::new();
    q.put_deadline(1, far).unwrap();
    assert_eq!(q.get_deadline(far), Ok(1));
    q.task_done().unwrap();
    assert!(q.join_deadline(far));
}

// ---- Queues ----------------------------------------------------------

/// crossbeam#1301: `bounded(usize::MAX)` must not try to allocate its
/// capacity up front, and must work as a queue.
#[test]
fn crossbeam_1301_bounded_usize_max_is_clean() {
    let q = Queue::bounded(usize::MAX);
    assert_eq!(q.capacity(), Some(usize::MAX));
    for i in 0..100 {
        q.try_put(i).unwrap();
    }
    assert!(!q.is_full());
    assert_eq!(q.try_get(), Ok(0));
    let l = LifoQueue::bounded(usize::MAX);
    l.try_put(1).unwrap();
    assert_eq!(l.try_get(), Ok(1));
    let p = PriorityQueue::bounded(usize::MAX);
    p.try_put(1).unwrap();
    assert_eq!(p.try_get(), Ok(1));
}

/// An item whose `Drop` calls back into the queue holding it.
struct CallsBack {
    queue: Arc<Queue<CallsBack>>,
    dropped: Arc<AtomicUsize>,
}

impl Drop for CallsBack {
    fn drop(&mut self) {
        // Every one of these takes the queue's locks or reads its state.
        let _ = self.queue.len();
        let _ = self.queue.is_shutdown();
        let _ = self.queue.try_get();
        let _ = self.queue.unfinished_tasks();
        self.dropped.fetch_add(1, Ordering::SeqCst);
    }
}

/// tokio#5471: an item whose `Drop` uses the queue, dropped by
/// `shutdown_immediate`, must not deadlock.
#[test]
fn tokio_5471_drop_calling_back_into_queue_does_not_deadlock() {
    within_a_minute("tokio#5471", || {
        let q = Arc::new(Queue::new());
        let dropped = Arc::new(AtomicUsize::new(0));
        for _ in 0..3 {
            q.put(CallsBack { queue: q.clone(), dropped: dropped.clone() }).unwrap();
        }
        q.shutdown_immediate();
        assert_eq!(dropped.load(Ordering::SeqCst), 3);
        assert_eq!(q.unfinished_tasks(), 0);
        // A gotten item dropped while the queue is live, too.
        let q = Arc::new(Queue::new());
        q.put(CallsBack { queue: q.clone(), dropped: dropped.clone() }).unwrap();
        drop(q.get().unwrap());
        assert_eq!(dropped.load(Ordering::SeqCst), 4);
    });
}

struct PanicOnDrop {
    panics: bool,
    dropped: Arc<AtomicUsize>,
}

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        self.dropped.fetch_add(1, Ordering::SeqCst);
        if self.panics {
            panic!("this item panics when dropped");
        }
    }
}

/// tokio#7094: one queued item whose `Drop` panics does not stop the rest
/// from being dropped, by `shutdown_immediate` or by dropping the queue.
#[test]
fn tokio_7094_panicking_drop_among_queued_items() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let q = Queue::new();
    for i in 0..5 {
        q.put(PanicOnDrop { panics: i == 1, dropped: dropped.clone() }).unwrap();
    }
    assert!(catch_unwind(AssertUnwindSafe(|| q.shutdown_immediate())).is_err());
    assert_eq!(dropped.load(Ordering::SeqCst), 5, "every item dropped once");
    assert!(q.is_shutdown());
    assert!(q.is_empty());
    assert_eq!(q.unfinished_tasks(), 0);

    let dropped = Arc::new(AtomicUsize::new(0));
    let q = LifoQueue::new();
    for i in 0..5 {
        q.put(PanicOnDrop { panics: i == 3, dropped: dropped.clone() }).unwrap();
    }
    assert!(catch_unwind(AssertUnwindSafe(move || drop(q))).is_err());
    assert_eq!(dropped.load(Ordering::SeqCst), 5);

    let dropped = Arc::new(AtomicUsize::new(0));
    let q = Queue::new();
    for i in 0..70 {
        // Spans several internal blocks.
        q.put(PanicOnDrop { panics: i == 40, dropped: dropped.clone() }).unwrap();
    }
    assert!(catch_unwind(AssertUnwindSafe(move || drop(q))).is_err());
    assert_eq!(dropped.load(Ordering::SeqCst), 70);
}

/// An `Ord` that panics when it compares the poisoned key.
#[derive(Debug)]
struct Touchy(u32);

impl PartialEq for Touchy {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == CmpOrdering::Equal
    }
}
impl Eq for Touchy {}
impl PartialOrd for Touchy {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}
impl Ord for Touchy {
    fn cmp(&self, other: &Self) -> CmpOrdering {
        if self.0 == 13 || other.0 == 13 {
            panic!("Ord panics on 13");
        }
        self.0.cmp(&other.0)
    }
}

/// rust#25842: a panicking `Ord` must leave the heap intact: no item lost
/// or duplicated, the queue usable, blocked getters still served.
#[test]
fn rust_25842_panicking_ord_in_priority_queue() {
    within_a_minute("rust#25842", || {
        let q = Arc::new(PriorityQueue::new());
        for k in [5, 3, 8, 1, 9, 2] {
            q.put(Touchy(k)).unwrap();
        }
        assert!(catch_unwind(AssertUnwindSafe(|| q.put(Touchy(13)))).is_err());
        assert_eq!(q.len(), 6);
        assert_eq!(q.unfinished_tasks(), 6, "the failed put was not counted");
        let mut out = Vec::new();
        while let Ok(t) = q.try_get() {
            out.push(t.0);
        }
        assert_eq!(out, vec![1, 2, 3, 5, 8, 9]);
        // A get whose sift meets the poisoned key: put it where a pop
        // compares it, then check nothing is lost.
        q.put(Touchy(1)).unwrap();
        q.put(Touchy(4)).unwrap();
        q.put(Touchy(6)).unwrap();
        // The queue still serves a blocked getter after the panic.
        let q2 = q.clone();
        let getter = thread::spawn(move || {
            let mut got = Vec::new();
            for _ in 0..4 {
                got.push(q2.get().unwrap().0);
            }
            got
        });
        q.put(Touchy(0)).unwrap();
        let mut got = getter.join().unwrap();
        got.sort();
        assert_eq!(got, vec![0, 1, 4, 6]);
    });
}

/// CPython gh-117531: `shutdown` wakes getters blocked on an empty queue.
#[test]
fn cpython_gh117531_shutdown_unblocks_getters() {
    within_a_minute("gh-117531", || {
        let q: Arc<Queue<u8>> = Arc::new(Queue::new());
        let getters: Vec<_> = (0..3)
            .map(|_| {
                let q = q.clone();
                thread::spawn(move || q.get())
            })
            .collect();
        thread::sleep(SHORT);
        q.shutdown();
        for g in getters {
            assert!(g.join().unwrap().is_err());
        }
        let pq: Arc<PriorityQueue<u8>> = Arc::new(PriorityQueue::new());
        let p2 = pq.clone();
        let g = thread::spawn(move || p2.get_timeout(Duration::from_secs(30)));
        thread::sleep(SHORT);
        pq.shutdown_immediate();
        assert_eq!(g.join().unwrap(), Err(GetError::ShutDown));
    });
}

/// CPython gh-116631 / gh-137088: after `shutdown_immediate`, `task_done`
/// and `join` behave: discarded items count as done, never below zero, and
/// `join` waits only for items already handed out.
#[test]
fn cpython_gh116631_gh137088_task_done_and_join_after_shutdown_immediate() {
    within_a_minute("gh-116631", || {
        let q = Arc::new(Queue::new());
        for i in 0..4 {
            q.put(i).unwrap();
        }
        let handed_out = q.get().unwrap();
        q.shutdown_immediate();
        assert_eq!(q.unfinished_tasks(), 1, "only the handed-out item is unfinished");
        assert!(!q.join_timeout(SHORT));
        let q2 = q.clone();
        let joiner = thread::spawn(move || q2.join());
        thread::sleep(SHORT);
        let _ = handed_out;
        q.task_done().unwrap();
        joiner.join().unwrap();
        assert!(q.task_done().is_err(), "task_done below zero is an error");
        assert_eq!(q.unfinished_tasks(), 0);

        // task_done called early (before get) then shutdown_immediate: the
        // discarded items may not push the count below zero.
        let q = Queue::new();
        q.put(1).unwrap();
        q.put(2).unwrap();
        q.task_done().unwrap();
        q.task_done().unwrap();
        q.shutdown_immediate();
        assert_eq!(q.unfinished_tasks(), 0);
        assert!(q.join_timeout(Duration::ZERO));
        assert!(matches!(q.try_put(3), Err(PutError::ShutDown(3))));
    });
}

// ---- Primitives in thread-local destructors (parking_lot#37) -----------

struct UsesEverything {
    ran: Arc<AtomicBool>,
}

impl Drop for UsesEverything {
    fn drop(&mut self) {
        let lock = Lock::new(1);
        *lock.lock() += 1;
        let rlock = RLock::new(());
        let _a = rlock.lock();
        let _b = rlock.lock();
        let cond = Condition::new();
        assert!(cond.wait_timeout(&mut lock.lock(), Duration::from_millis(1)).timed_out());
        let event = Event::new();
        assert!(!event.wait_timeout(Duration::from_millis(1)));
        event.set();
        event.wait();
        let q = Queue::bounded(1);
        q.put(1).unwrap();
        assert!(q.put_timeout(2, Duration::from_millis(1)).is_err());
        assert_eq!(q.get_timeout(Duration::from_millis(1)), Ok(1));
        q.task_done().unwrap();
        q.join();
        let local: Local<u32> = Local::new();
        local.set(5);
        assert_eq!(local.with(|v| v.copied()), Some(5));
        self.ran.store(true, Ordering::SeqCst);
    }
}

thread_local! {
    static LATE: RefCell<Option<UsesEverything>> = const { RefCell::new(None) };
}

/// parking_lot#37: every primitive works from a `thread_local!` destructor
/// (when other thread-locals, threadkit's own included, may be gone).
#[test]
fn parking_lot_37_primitives_in_thread_local_destructor() {
    let ran = Arc::new(AtomicBool::new(false));
    let r2 = ran.clone();
    thread::spawn(move || {
        // Touch threadkit's own thread-locals first, so they are destroyed
        // before or after ours in whatever order the platform picks.
        let warm = Lock::new(());
        drop(warm.lock());
        let e = Event::new();
        e.set();
        e.wait();
        LATE.with(|slot| *slot.borrow_mut() = Some(UsesEverything { ran: r2 }));
    })
    .join()
    .unwrap();
    assert!(ran.load(Ordering::SeqCst), "the destructor ran to the end");
}

// ---- Local (thread_local#94/#97, #79/#65) -------------------------------

/// thread_local#94 / #97: an initializer that panics leaves no value and
/// the `Local` usable, for this thread and for others.
#[test]
fn thread_local_94_97_panicking_initializer() {
    let local: Local<String> = Local::new();
    let r = catch_unwind(AssertUnwindSafe(|| {
        local.with_or(|| panic!("initializer fails"), |s| s.len())
    }));
    assert!(r.is_err());
    assert!(!local.is_set(), "no value left behind by the failed initializer");
    assert_eq!(local.with_or(|| "ok".to_string(), |s| s.clone()), "ok");
    thread::scope(|s| {
        s.spawn(|| {
            assert!(!local.is_set());
            assert_eq!(local.with_or(|| "other".to_string(), |s| s.clone()), "other");
        });
    });
}

/// thread_local#79 / #65: a new thread never sees a value left by an
/// exited thread, even though thread ids (and the `thread_local` crate's
/// slots) are recycled.
#[test]
fn thread_local_79_65_new_thread_never_sees_exited_value() {
    let local: Arc<Local<u64>> = Arc::new(Local::new());
    let rounds = if cfg!(miri) { 8 } else { 200 };
    for round in 0..rounds {
        let l = local.clone();
        thread::spawn(move || {
            assert!(!l.is_set(), "round {round}: a new thread saw an old value");
            assert_eq!(l.set(round), None);
        })
        .join()
        .unwrap();
    }
    assert!(!local.is_set());
}
