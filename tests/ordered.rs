//! Ordered multi-lock acquire: deadlock freedom, the per-thread order check,
//! caller-order guards, re-entry, duplicates, panics, out-of-order drops and
//! a model-based property test of the held-lock bookkeeping.
#![cfg(not(loom))]

use std::cell::{Cell, RefCell};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRunner};
use threadkit::{Lock, LockGuard, LockKey, LockOrderError, Ordered, RLock, RLockGuard, acquire};

/// Runs `f` on its own thread and fails the test (instead of hanging) if it
/// has not finished after `secs` seconds. A panic in `f` is re-raised.
fn with_watchdog<F: FnOnce() + Send + 'static>(secs: u64, f: F) {
    let (done, finished) = mpsc::channel::<()>();
    let worker = thread::spawn(move || {
        f();
        let _ = done.send(());
    });
    match finished.recv_timeout(Duration::from_secs(secs)) {
        Ok(()) => worker.join().unwrap(),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            // `f` panicked: surface its panic.
            if let Err(panic) = worker.join() {
                std::panic::resume_unwind(panic);
            }
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("watchdog: no progress after {secs} s (deadlock?)")
        }
    }
}

#[test]
fn opposite_argument_orders_never_deadlock() {
    const ROUNDS: u64 = if cfg!(miri) { 50 } else { 10_000 };
    with_watchdog(60, || {
        let x = Arc::new(Lock::new(0u64));
        let y = Arc::new(Lock::new(0u64));
        let start = Arc::new(Barrier::new(2));
        let spawn = |first_x: bool| {
            let (x, y, start) = (Arc::clone(&x), Arc::clone(&y), Arc::clone(&start));
            thread::spawn(move || {
                start.wait();
                for _ in 0..ROUNDS {
                    if first_x {
                        let mut g = acquire((&*x, &*y)).unwrap();
                        let (gx, gy) = &mut *g;
                        assert_eq!(**gx, **gy, "both updated under both locks");
                        **gx += 1;
                        **gy += 1;
                    } else {
                        let mut g = acquire((&*y, &*x)).unwrap();
                        let (gy, gx) = &mut *g;
                        assert_eq!(**gx, **gy, "both updated under both locks");
                        **gy += 1;
                        **gx += 1;
                    }
                }
            })
        };
        let t1 = spawn(true);
        let t2 = spawn(false);
        t1.join().unwrap();
        t2.join().unwrap();
        assert_eq!(*x.lock(), 2 * ROUNDS);
        assert_eq!(*y.lock(), 2 * ROUNDS);
    });
}

#[test]
fn dining_philosophers_finish() {
    const MEALS: usize = if cfg!(miri) { 20 } else { 2_000 };
    with_watchdog(60, || {
        let forks: Arc<Vec<Lock<usize>>> = Arc::new((0..5).map(|_| Lock::new(0)).collect());
        let philosophers: Vec<_> = (0..5)
            .map(|i| {
                let forks = Arc::clone(&forks);
                thread::spawn(move || {
                    let (left, right) = (&forks[i], &forks[(i + 1) % 5]);
                    for _ in 0..MEALS {
                        let mut g = acquire((left, right)).unwrap();
                        *g.0 += 1;
                        *g.1 += 1;
                    }
                })
            })
            .collect();
        for p in philosophers {
            p.join().unwrap();
        }
        // Each fork was used by its two neighbours for every meal.
        for fork in forks.iter() {
            assert_eq!(*fork.lock(), 2 * MEALS);
        }
    });
}

#[test]
fn nested_call_below_a_held_lock_is_refused_without_taking_anything() {
    let a = Lock::new('a');
    let b = Lock::new('b');
    let c = Lock::new('c');
    let outer = acquire((&b,)).unwrap();
    for _ in 0..3 {
        // Deterministic: the same answer every time.
        let err = acquire((&a,)).unwrap_err();
        assert_eq!(err.held(), &[b.key()]);
        assert_eq!(err.requested(), &[a.key()]);
        assert!(!a.is_locked());
    }
    // The lowest of the set counts, even if others are above.
    let err = acquire((&c, &a)).unwrap_err();
    assert_eq!(err.requested(), &[c.key(), a.key()]);
    assert!(!a.is_locked() && !c.is_locked());
    // Equal is not above: a held `Lock` named again is refused, never a hang.
    let err = acquire((&b,)).unwrap_err();
    assert_eq!(err.held(), &[b.key()]);
    // The failed calls changed nothing: going up still works, and after
    // the outer set is gone the low lock is fine.
    let inner = acquire((&c,)).unwrap();
    assert_eq!(acquire((&a,)).unwrap_err().held(), &[b.key(), c.key()]);
    drop(inner);
    drop(outer);
    assert_eq!(*acquire((&a,)).unwrap().0, 'a');
}

#[test]
fn error_display_names_the_conflicting_locks() {
    let a = Lock::new(());
    let b = Lock::new(());
    let _outer = acquire((&b,)).unwrap();
    let err: LockOrderError = acquire((&a,)).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains(&format!("{:?}", a.key())), "{msg}");
    assert!(msg.contains(&format!("{:?}", b.key())), "{msg}");
    assert!(format!("{err:?}").contains("LockOrderError"));
    let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(err);
    assert!(boxed.to_string().starts_with("lock order violation"));
}

#[test]
fn guards_come_back_in_caller_order() {
    let locks: Vec<Lock<usize>> = (0..5).map(Lock::new).collect();
    // Tuples.
    let g = acquire((&locks[3], &locks[1], &locks[4], &locks[0])).unwrap();
    assert_eq!((*g.0, *g.1, *g.2, *g.3), (3, 1, 4, 0));
    drop(g);
    // Arrays.
    let g = acquire([&locks[2], &locks[0], &locks[1]]).unwrap();
    assert_eq!(g.iter().map(|g| **g).collect::<Vec<_>>(), [2, 0, 1]);
    drop(g);
    // Slices.
    let order = [&locks[4], &locks[2], &locks[3], &locks[0], &locks[1]];
    let g = acquire(&order[..]).unwrap();
    assert_eq!(g.iter().map(|g| **g).collect::<Vec<_>>(), [4, 2, 3, 0, 1]);
    drop(g);
    assert!(locks.iter().all(|l| !l.is_locked()));
}

#[test]
fn eight_tuple_mutates_through_guards() {
    let l: Vec<Lock<u8>> = (0..8).map(|_| Lock::new(0)).collect();
    let mut g = acquire((&l[7], &l[6], &l[5], &l[4], &l[3], &l[2], &l[1], &l[0])).unwrap();
    *g.0 = 7;
    *g.3 = 4;
    *g.7 = 1;
    drop(g);
    assert_eq!((*l[7].lock(), *l[4].lock(), *l[0].lock()), (7, 4, 1));
}

#[test]
fn locks_are_taken_lowest_key_first() {
    let low = Arc::new(Lock::new(()));
    let high = Arc::new(Lock::new(()));
    let (holding, held) = mpsc::channel();
    let (release, released) = mpsc::channel::<()>();
    let blocker = {
        let low = Arc::clone(&low);
        thread::spawn(move || {
            let _g = low.lock();
            holding.send(()).unwrap();
            released.recv().unwrap();
        })
    };
    held.recv().unwrap();
    let taker = {
        let (low, high) = (Arc::clone(&low), Arc::clone(&high));
        // Named high first; must wait on `low` before touching `high`.
        thread::spawn(move || drop(acquire((&*high, &*low)).unwrap()))
    };
    thread::sleep(Duration::from_millis(50));
    assert!(!high.is_locked(), "the higher lock must not be taken before the lower one");
    release.send(()).unwrap();
    blocker.join().unwrap();
    taker.join().unwrap();
    assert!(!low.is_locked() && !high.is_locked());
}

#[test]
fn mixed_tuple_of_lock_and_rlock() {
    let counter = Lock::new(0i32);
    let log = RLock::new(RefCell::new(Vec::<&str>::new()));
    let name = Lock::new(String::from("x"));
    let flag = RLock::new(Cell::new(false));
    {
        let mut g = acquire((&log, &counter, &flag, &name)).unwrap();
        let (log_g, counter_g, flag_g, name_g) = &mut *g;
        // The guard types match the lock types, in the caller's order.
        let log_g: &RLockGuard<'_, RefCell<Vec<&str>>> = log_g;
        let counter_g: &mut LockGuard<'_, i32> = counter_g;
        let flag_g: &RLockGuard<'_, Cell<bool>> = flag_g;
        let name_g: &mut LockGuard<'_, String> = name_g;
        log_g.borrow_mut().push("in");
        **counter_g += 5;
        flag_g.set(true);
        name_g.push('y');
        assert!(log.is_owned_by_current_thread() && flag.is_owned_by_current_thread());
    }
    assert!(!log.is_locked() && !counter.is_locked() && !flag.is_locked() && !name.is_locked());
    assert_eq!(*counter.lock(), 5);
    assert_eq!(*name.lock(), "xy");
    assert!(flag.lock().get());
    assert_eq!(*log.lock().borrow(), ["in"]);
}

#[test]
fn out_of_order_drop_of_two_sets() {
    let a = Lock::new(());
    let b = Lock::new(());
    let c = Lock::new(());
    let d = Lock::new(());
    let e = Lock::new(());
    let first = acquire((&b, &a)).unwrap();
    let second = acquire([&d, &c]).unwrap();
    assert_eq!(acquire((&a,)).unwrap_err().held(), &[a.key(), b.key(), c.key(), d.key()]);
    drop(first); // the older set goes first
    assert!(!a.is_locked() && !b.is_locked());
    assert!(c.is_locked() && d.is_locked());
    // Only the second set's keys are left.
    let err = acquire((&a,)).unwrap_err();
    assert_eq!(err.held(), &[c.key(), d.key()]);
    let third = acquire((&e,)).unwrap();
    drop(second);
    assert_eq!(acquire((&a,)).unwrap_err().held(), &[e.key()]);
    drop(third);
    let all = acquire((&a, &b, &c, &d, &e)).unwrap();
    drop(all);
    assert!([&a, &b, &c, &d, &e].iter().all(|l| !l.is_locked()));
}

#[test]
fn the_same_lock_twice_is_an_error_not_a_hang() {
    with_watchdog(10, || {
        let a = Lock::new(());
        let b = Lock::new(());
        let err = acquire((&a, &b, &a)).unwrap_err();
        assert_eq!(err.requested(), &[a.key(), b.key(), a.key()]);
        assert!(err.held().is_empty());
        assert!(err.to_string().contains("named twice"), "{err}");
        assert!(acquire([&b, &b]).is_err());
        assert!(acquire(&[&a, &a][..]).is_err());
        assert!(!a.is_locked() && !b.is_locked());
        // And nothing was recorded.
        drop(acquire((&a,)).unwrap());
    });
}

#[test]
fn rlock_named_twice_or_already_owned_is_reentered() {
    let r = RLock::new(());
    let x = Lock::new(());
    let late = RLock::new(());
    // Twice in one call: two levels.
    let g = acquire((&r, &r)).unwrap();
    assert_eq!(r.hold_count(), 2);
    drop(g);
    assert!(!r.is_locked());
    // Held through an outer call, with a higher lock: re-entering `r` is not
    // a conflict, but `r` does not make a lower *new* lock acceptable.
    let outer = acquire((&x, &r)).unwrap();
    let inner = acquire((&r,)).unwrap();
    assert_eq!(r.hold_count(), 2);
    let mixed = acquire((&late, &r)).unwrap();
    assert_eq!(r.hold_count(), 3);
    drop(mixed);
    assert!(acquire((&x,)).is_err());
    drop(outer); // out of order: `inner` still holds one level
    assert_eq!(r.hold_count(), 1);
    drop(inner);
    assert!(!r.is_locked());
    // Owned through a direct `lock()`: also re-entered, not checked.
    let direct = r.lock();
    let above = acquire((&late,)).unwrap();
    let again = acquire((&r,)).unwrap();
    assert_eq!(r.hold_count(), 2);
    drop(again);
    drop(above);
    drop(direct);
    assert!(!r.is_locked() && !late.is_locked());
}

#[test]
fn rlock_of_another_thread_is_waited_for() {
    with_watchdog(30, || {
        let r = Arc::new(RLock::new(Cell::new(0)));
        let g = r.lock();
        let worker = {
            let r = Arc::clone(&r);
            thread::spawn(move || {
                let g = acquire((&*r,)).unwrap();
                g.0.set(g.0.get() + 1);
            })
        };
        thread::sleep(Duration::from_millis(20));
        g.set(10);
        drop(g);
        worker.join().unwrap();
        assert_eq!(r.lock().get(), 11);
    });
}

#[test]
fn panic_while_held_releases_everything() {
    let a = Lock::new(0);
    let r = RLock::new(());
    let b = Lock::new(0);
    let outer = acquire((&a,)).unwrap();
    let result = catch_unwind(AssertUnwindSafe(|| {
        let mut g = acquire((&b, &r)).unwrap();
        *g.0 += 1;
        panic!("boom");
    }));
    assert!(result.is_err());
    assert!(!b.is_locked() && !r.is_locked());
    assert!(a.is_locked());
    // The outer set is still recorded, the inner one is gone.
    assert_eq!(acquire((&a,)).unwrap_err().held(), &[a.key()]);
    drop(outer);
    let result = catch_unwind(AssertUnwindSafe(|| {
        let _g = acquire([&a, &b]).unwrap();
        panic!("boom");
    }));
    assert!(result.is_err());
    // Clean: the lowest lock can be taken again.
    let g = acquire((&a, &r, &b)).unwrap();
    assert_eq!(*g.2, 1);
}

#[test]
fn empty_sets_take_nothing() {
    let low = Lock::new(());
    let high = Lock::new(());
    let held = acquire((&high,)).unwrap();
    let unit: Ordered<()> = acquire(()).unwrap();
    let none: [&Lock<()>; 0] = [];
    let array = acquire(none).unwrap();
    assert!(array.is_empty());
    let slice = acquire(&[] as &[&RLock<u8>]).unwrap();
    assert!(slice.is_empty());
    drop((unit, array, slice));
    assert_eq!(acquire((&low,)).unwrap_err().held(), &[high.key()]);
    drop(held);
    assert!(!low.is_locked() && !high.is_locked());
}

#[test]
fn big_sets_spill_and_sort() {
    // More than 16 keys held (the inline record) and more than 20 in one
    // call (the sort's small-set path).
    let locks: Vec<Lock<usize>> = (0..60).map(Lock::new).collect();
    let mut first: Vec<&Lock<usize>> = locks[..30].iter().collect();
    first.reverse();
    first.swap(3, 17);
    let g1 = acquire(&first[..]).unwrap();
    assert!(g1.iter().zip(&first).all(|(g, l)| LockGuard::lock(g).key() == l.key()));
    let second: Vec<&Lock<usize>> = locks[30..45].iter().rev().collect();
    let g2 = acquire(&second[..]).unwrap();
    let err = acquire((&locks[0],)).unwrap_err();
    let expected: Vec<LockKey> = locks[..45].iter().map(Lock::key).collect();
    assert_eq!(err.held(), &expected[..]);
    drop(g1); // out of order, from the start of the record
    let expected: Vec<LockKey> = locks[30..45].iter().map(Lock::key).collect();
    assert_eq!(acquire((&locks[0],)).unwrap_err().held(), &expected[..]);
    let g3 = acquire([&locks[59], &locks[50]]).unwrap();
    drop(g2);
    drop(g3);
    assert!(locks.iter().all(|l| !l.is_locked()));
    let all: Vec<&Lock<usize>> = locks.iter().rev().collect();
    let g = acquire(&all[..]).unwrap();
    assert_eq!(*g[0], 59);
}

#[test]
fn acquire_from_a_thread_exit_destructor() {
    struct OnExit(Arc<Lock<u32>>, Arc<Lock<u32>>);
    impl Drop for OnExit {
        fn drop(&mut self) {
            let mut g = acquire((&*self.1, &*self.0)).unwrap();
            *g.0 += 1;
            *g.1 += 1;
        }
    }
    thread_local! {
        static HOOK: RefCell<Option<OnExit>> = const { RefCell::new(None) };
    }
    let a = Arc::new(Lock::new(0));
    let b = Arc::new(Lock::new(0));
    let (a2, b2) = (Arc::clone(&a), Arc::clone(&b));
    thread::spawn(move || {
        drop(acquire((&*a2,)).unwrap());
        // Runs `OnExit::drop` among the thread's TLS destructors.
        HOOK.with(|h| *h.borrow_mut() = Some(OnExit(a2, b2)));
    })
    .join()
    .unwrap();
    assert_eq!((*a.lock(), *b.lock()), (1, 1));
}

#[test]
fn ordered_of_guards_is_not_send_and_debug_shows_guards() {
    let a = Lock::new(1);
    let g = acquire((&a,)).unwrap();
    assert_eq!(format!("{g:?}"), "Ordered((1,))");

    // Compiles only if the type is `!Send`: with `Send`, both impls apply
    // and `_` is ambiguous.
    trait AmbiguousIfSend<A> {
        fn check() {}
    }
    impl<T: ?Sized> AmbiguousIfSend<()> for T {}
    impl<T: ?Sized + Send> AmbiguousIfSend<u8> for T {}
    <Ordered<(LockGuard<'static, ()>,)> as AmbiguousIfSend<_>>::check();
    <Ordered<Vec<RLockGuard<'static, ()>>> as AmbiguousIfSend<_>>::check();

    fn send_sync<T: Send + Sync>() {}
    send_sync::<LockOrderError>();
    send_sync::<LockKey>();
}

// ---- model-based property test of the bookkeeping ----

#[derive(Clone, Debug)]
enum Op {
    /// Lock indices, in caller order (duplicates allowed).
    Locks(Vec<usize>),
    /// RLock indices, in caller order (duplicates allowed).
    RLocks(Vec<usize>),
    /// A mixed pair `(&Lock, &RLock)`.
    Mixed(usize, usize),
    /// Drop one live set (index taken modulo the number alive).
    Drop(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        prop::collection::vec(0..4usize, 0..4).prop_map(Op::Locks),
        prop::collection::vec(0..2usize, 0..3).prop_map(Op::RLocks),
        (0..4usize, 0..2usize).prop_map(|(l, r)| Op::Mixed(l, r)),
        any::<usize>().prop_map(Op::Drop),
        any::<usize>().prop_map(Op::Drop),
    ]
}

enum Live<'a> {
    Locks(#[allow(dead_code)] Ordered<Vec<LockGuard<'a, ()>>>),
    RLocks(#[allow(dead_code)] Ordered<Vec<RLockGuard<'a, ()>>>),
    Mixed(#[allow(dead_code)] Ordered<(LockGuard<'a, ()>, RLockGuard<'a, ()>)>),
}

/// Runs `ops` against threadkit and against a model of the rules, checking
/// the outcome of every call and the state of every lock after every step.
fn check_model(ops: &[Op]) {
    // Interleave creation so Lock and RLock keys interleave too.
    let l0 = Lock::new(());
    let r0 = RLock::new(());
    let l1 = Lock::new(());
    let l2 = Lock::new(());
    let r1 = RLock::new(());
    let l3 = Lock::new(());
    let locks = [&l0, &l1, &l2, &l3];
    let rlocks = [&r0, &r1];

    // Model: the keys of each live set, and whether each key is an RLock.
    let mut model: Vec<Vec<(LockKey, bool)>> = Vec::new();
    let mut live: Vec<Live<'_>> = Vec::new();

    let rlock_levels = |model: &Vec<Vec<(LockKey, bool)>>, key: LockKey| {
        model.iter().flatten().filter(|&&(k, _)| k == key).count()
    };
    for op in ops {
        let requested: Vec<(LockKey, bool)> = match op {
            Op::Locks(ix) => ix.iter().map(|&i| (locks[i].key(), false)).collect(),
            Op::RLocks(ix) => ix.iter().map(|&i| (rlocks[i].key(), true)).collect(),
            Op::Mixed(l, r) => vec![(locks[*l].key(), false), (rlocks[*r].key(), true)],
            Op::Drop(i) => {
                if !live.is_empty() {
                    let i = i % live.len();
                    drop(live.remove(i));
                    model.remove(i);
                }
                check_state(&model, &locks, &rlocks, rlock_levels);
                continue;
            }
        };
        let duplicate = requested
            .iter()
            .enumerate()
            .any(|(i, &(k, re))| !re && requested[..i].iter().any(|&(k2, _)| k2 == k));
        let lowest = requested
            .iter()
            .filter(|&&(k, re)| !(re && rlock_levels(&model, k) > 0))
            .map(|&(k, _)| k)
            .min();
        let highest = model.iter().flatten().map(|&(k, _)| k).max();
        let expect_ok =
            !duplicate && !matches!((lowest, highest), (Some(lo), Some(hi)) if lo <= hi);

        let result = match op {
            Op::Locks(ix) => {
                let set: Vec<&Lock<()>> = ix.iter().map(|&i| locks[i]).collect();
                acquire(&set[..]).map(Live::Locks)
            }
            Op::RLocks(ix) => {
                let set: Vec<&RLock<()>> = ix.iter().map(|&i| rlocks[i]).collect();
                acquire(&set[..]).map(Live::RLocks)
            }
            Op::Mixed(l, r) => acquire((locks[*l], rlocks[*r])).map(Live::Mixed),
            Op::Drop(_) => unreachable!(),
        };
        match result {
            Ok(set) => {
                assert!(expect_ok, "{op:?} succeeded; model expected a LockOrderError");
                live.push(set);
                let mut keys = requested.clone();
                keys.sort();
                model.push(keys);
            }
            Err(err) => {
                assert!(!expect_ok, "{op:?} refused ({err}); model expected success");
                let req: Vec<LockKey> = requested.iter().map(|&(k, _)| k).collect();
                assert_eq!(err.requested(), &req[..]);
                let mut held: Vec<LockKey> = model.iter().flatten().map(|&(k, _)| k).collect();
                held.sort();
                assert_eq!(err.held(), &held[..]);
            }
        }
        check_state(&model, &locks, &rlocks, rlock_levels);
    }
    drop(live);
    assert!(locks.iter().all(|l| !l.is_locked()));
    assert!(rlocks.iter().all(|r| !r.is_locked()));
}

fn check_state(
    model: &Vec<Vec<(LockKey, bool)>>,
    locks: &[&Lock<()>],
    rlocks: &[&RLock<()>],
    rlock_levels: impl Fn(&Vec<Vec<(LockKey, bool)>>, LockKey) -> usize,
) {
    for l in locks {
        let held = model.iter().flatten().any(|&(k, _)| k == l.key());
        assert_eq!(l.is_locked(), held, "Lock {:?}", l.key());
    }
    for r in rlocks {
        assert_eq!(r.hold_count(), rlock_levels(model, r.key()), "RLock {:?}", r.key());
    }
}

#[test]
fn bookkeeping_matches_the_model() {
    with_watchdog(120, || {
        let mut runner = TestRunner::new(Config {
            cases: if cfg!(miri) { 4 } else { 512 },
            // Under Miri's isolation there is no file system (nor working
            // directory) to keep failing cases in.
            failure_persistence: if cfg!(miri) {
                None
            } else {
                Config::default().failure_persistence
            },
            // ChaCha, the default, costs seconds of interpretation per case.
            rng_algorithm: if cfg!(miri) {
                RngAlgorithm::XorShift
            } else {
                Config::default().rng_algorithm
            },
            ..Config::default()
        });
        runner
            .run(&prop::collection::vec(op(), 1..24), |ops| {
                check_model(&ops);
                Ok(())
            })
            .unwrap();
    });
}

/// `Ordered` is covariant, like the guards inside: a set borrowed for a
/// long lifetime can be used where a shorter one is expected.
#[allow(dead_code)]
fn ordered_is_covariant<'short, 'long: 'short>(
    set: Ordered<(LockGuard<'long, u8>, RLockGuard<'long, u8>)>,
) -> Ordered<(LockGuard<'short, u8>, RLockGuard<'short, u8>)> {
    set
}

#[allow(dead_code)]
fn ordered_array_is_covariant<'short, 'long: 'short>(
    set: Ordered<[LockGuard<'long, u8>; 2]>,
) -> Ordered<[LockGuard<'short, u8>; 2]> {
    set
}
