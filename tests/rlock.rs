//! Behaviour of `RLock<T>` (Python's `threading.RLock`) against the contract
//! in API.md: mutual exclusion between threads, re-entry and hold counts,
//! timed acquisition, huge and zero timeouts, no poisoning, a `Debug` that
//! never blocks, an owner that exits while holding the lock, the size budget,
//! and a proptest of lock/try_lock/drop sequences against a model counter.
#![cfg(not(loom))]

use std::cell::{Cell, RefCell};
use std::hint::black_box;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

mod common;

use common::proptest_config;
use proptest::prelude::*;
use threadkit::{Lock, RLock, RLockGuard};

/// Runs `f` while another thread holds `lock`; the holder releases it once
/// `f` returns (or unwinds: the release channel is dropped then too).
fn while_held_elsewhere<T: Send, R>(lock: &RLock<T>, f: impl FnOnce() -> R) -> R {
    thread::scope(move |s| {
        let (held_tx, held_rx) = mpsc::channel();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        s.spawn(move || {
            let _outer = lock.lock();
            let _inner = lock.lock();
            held_tx.send(()).unwrap();
            let _ = release_rx.recv();
        });
        held_rx.recv().unwrap();
        let out = f();
        drop(release_tx);
        out
    })
}

/// Runs `f` while another thread holds `lock` (two levels) and releases it
/// after `delay`.
fn released_after<T: Send, R>(lock: &RLock<T>, delay: Duration, f: impl FnOnce() -> R) -> R {
    thread::scope(move |s| {
        let (held_tx, held_rx) = mpsc::channel();
        s.spawn(move || {
            let _outer = lock.lock();
            let _inner = lock.lock();
            held_tx.send(()).unwrap();
            thread::sleep(delay);
        });
        held_rx.recv().unwrap();
        f()
    })
}

/// An instant centuries away (as far as `Instant` goes on this platform).
fn far_future() -> Instant {
    let now = Instant::now();
    (0..63)
        .rev()
        .find_map(|shift| now.checked_add(Duration::from_secs(1 << shift)))
        .filter(|&at| at >= now + Duration::from_secs(100 * 365 * 24 * 3600))
        .expect("Instant can hold a point 100 years ahead")
}

/// What a thread that does not own `lock` must observe.
fn assert_not_mine<T>(lock: &RLock<T>) {
    assert!(!lock.is_owned_by_current_thread());
    assert_eq!(lock.hold_count(), 0);
}

#[test]
fn counter_is_exact_under_contention() {
    const THREADS: u64 = 8;
    const ITERS: u64 = if cfg!(miri) { 50 } else { 30_000 };
    let lock = RLock::new(Cell::new(0u64));
    thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                for _ in 0..ITERS {
                    let outer = lock.lock();
                    let seen = outer.get();
                    // Re-enter between the read and the write: the inner
                    // level must not let another thread in when it drops.
                    {
                        let inner = lock.lock();
                        assert_eq!(inner.get(), seen);
                    }
                    std::hint::spin_loop();
                    outer.set(black_box(seen) + 1);
                }
            });
        }
    });
    assert!(!lock.is_locked());
    assert_eq!(lock.into_inner().get(), THREADS * ITERS);
}

#[test]
fn reentry_depth_and_hold_count() {
    const DEPTH: usize = 100;
    let lock = RLock::new(RefCell::new(Vec::new()));
    assert_not_mine(&lock);
    let mut guards = Vec::new();
    for level in 1..=DEPTH {
        let guard = match level % 4 {
            0 => lock.lock(),
            1 => lock.try_lock().expect("the owner re-enters"),
            2 => lock.try_lock_for(Duration::ZERO).expect("re-entry never waits"),
            _ => lock.try_lock_until(Instant::now()).expect("re-entry never waits"),
        };
        guard.borrow_mut().push(level);
        guards.push(guard);
        assert_eq!(lock.hold_count(), level);
        assert!(lock.is_owned_by_current_thread());
        assert!(lock.is_locked());
    }
    thread::scope(|s| {
        s.spawn(|| {
            assert_not_mine(&lock);
            assert!(lock.is_locked());
            assert!(lock.try_lock().is_none());
            assert!(lock.try_lock_for(Duration::from_millis(5)).is_none());
        });
    });
    // Guards may be released in any order; each releases one level.
    let mut held = DEPTH;
    while !guards.is_empty() {
        let index = (held * 7) % guards.len();
        drop(guards.swap_remove(index));
        held -= 1;
        assert_eq!(lock.hold_count(), held);
        assert_eq!(lock.is_locked(), held > 0);
        assert_eq!(lock.is_owned_by_current_thread(), held > 0);
    }
    drop(guards);
    assert_not_mine(&lock);
    assert_eq!(lock.into_inner().into_inner(), (1..=DEPTH).collect::<Vec<_>>());
}

#[test]
fn try_lock_for_times_out_while_held_elsewhere() {
    let lock = RLock::new(());
    let timeout = Duration::from_millis(50);
    while_held_elsewhere(&lock, || {
        assert_not_mine(&lock);
        let start = Instant::now();
        assert!(lock.try_lock_for(timeout).is_none());
        assert!(start.elapsed() >= timeout, "gave up after {:?}", start.elapsed());
        assert_not_mine(&lock);
    });
    let guard = lock.try_lock_for(timeout).expect("succeeds once the holder released");
    assert_eq!(lock.hold_count(), 1);
    drop(guard);
}

#[test]
fn try_lock_until_times_out_while_held_elsewhere() {
    let lock = RLock::new(());
    while_held_elsewhere(&lock, || {
        let deadline = Instant::now() + Duration::from_millis(50);
        assert!(lock.try_lock_until(deadline).is_none());
        assert!(Instant::now() >= deadline, "gave up before the deadline");
        assert_not_mine(&lock);
    });
    assert!(lock.try_lock_until(Instant::now() + Duration::from_millis(50)).is_some());
}

#[test]
fn timed_lock_succeeds_when_the_holder_releases() {
    let lock = RLock::new(7);
    let guard = released_after(&lock, Duration::from_millis(30), || {
        lock.try_lock_for(Duration::from_secs(600))
    });
    assert_eq!(guard.as_deref(), Some(&7));
    assert_eq!(lock.hold_count(), 1, "both of the holder's levels were released");
    drop(guard);
    let guard = released_after(&lock, Duration::from_millis(30), || {
        lock.try_lock_until(Instant::now() + Duration::from_secs(600))
    });
    assert_eq!(guard.as_deref(), Some(&7));
}

#[test]
fn huge_timeouts_do_not_panic_on_a_free_lock() {
    let lock = RLock::new(Cell::new(0));
    for timeout in [Duration::MAX, Duration::from_secs(1 << 62), Duration::from_secs(u64::MAX)] {
        let guard = lock.try_lock_for(timeout).expect("free lock");
        guard.set(guard.get() + 1);
        // Re-entry with a huge timeout, too.
        let inner = lock.try_lock_for(timeout).expect("re-entry");
        assert_eq!(lock.hold_count(), 2);
        drop((inner, guard));
    }
    let guard = lock.try_lock_until(far_future()).expect("free lock");
    guard.set(guard.get() + 1);
    drop(guard);
    assert_eq!(lock.into_inner().get(), 4);
}

#[test]
fn huge_timeouts_wait_for_a_release() {
    let lock = RLock::new(Cell::new(0));
    for timeout in [Duration::MAX, Duration::from_secs(1 << 62)] {
        let guard = released_after(&lock, Duration::from_millis(20), || lock.try_lock_for(timeout));
        let guard = guard.expect("a huge timeout waits for the release");
        guard.set(guard.get() + 1);
    }
    let guard =
        released_after(&lock, Duration::from_millis(20), || lock.try_lock_until(far_future()));
    let guard = guard.expect("a far deadline waits for the release");
    guard.set(guard.get() + 1);
    drop(guard);
    assert_eq!(lock.into_inner().get(), 3);
}

#[test]
fn zero_timeout_is_a_single_attempt() {
    let lock = RLock::new(());
    while_held_elsewhere(&lock, || {
        assert!(lock.try_lock().is_none());
        assert!(lock.try_lock_for(Duration::ZERO).is_none());
        assert!(lock.try_lock_until(Instant::now()).is_none());
        let past = Instant::now().checked_sub(Duration::from_secs(1)).unwrap_or_else(Instant::now);
        assert!(lock.try_lock_until(past).is_none());
        assert_not_mine(&lock);
    });
    assert!(lock.try_lock_for(Duration::ZERO).is_some(), "a free lock is taken");
    assert!(lock.try_lock_until(Instant::now()).is_some());
}

#[test]
fn debug_never_blocks() {
    let lock = RLock::new(41);
    assert_eq!(format!("{lock:?}"), "RLock { data: 41, .. }");
    while_held_elsewhere(&lock, || {
        let shown = format!("{lock:?}");
        assert!(shown.contains("<locked>"), "{shown}");
        assert!(!shown.contains("41"), "{shown}");
        assert_not_mine(&lock);
    });
    let guard = lock.lock();
    assert_eq!(format!("{guard:?}"), "41");
    assert_eq!(format!("{guard}"), "41");
    // The owner re-enters to print, and gives that level back.
    assert_eq!(format!("{lock:?}"), "RLock { data: 41, .. }");
    assert_eq!(lock.hold_count(), 1);
    drop(guard);
    assert!(!lock.is_locked());
}

#[test]
fn get_mut_into_inner_default_from() {
    let mut lock = RLock::new(vec![1]);
    lock.get_mut().push(2);
    assert_eq!(*lock.lock(), [1, 2]);
    assert_eq!(lock.into_inner(), [1, 2]);

    let lock: RLock<String> = RLock::default();
    assert!(lock.lock().is_empty());
    assert!(!lock.is_locked());
    assert_eq!(RLock::from(5u8).into_inner(), 5);
}

#[test]
fn keys_follow_creation_order() {
    let a = RLock::new(());
    let b = Lock::new(());
    let c = RLock::new(());
    assert!(a.key() < b.key() && b.key() < c.key());
    assert_eq!(c.key(), c.key());
    let later = thread::spawn(|| RLock::new(()).key()).join().unwrap();
    assert!(c.key() < later);
}

#[test]
fn guard_knows_its_lock() {
    let lock = RLock::new(());
    let _outer = lock.lock();
    let inner = lock.lock();
    assert!(std::ptr::eq(RLockGuard::rlock(&inner), &lock));
    assert_eq!(RLockGuard::rlock(&inner).hold_count(), 2);
}

#[test]
fn owner_that_exits_while_holding_is_never_inherited() {
    let lock = Arc::new(RLock::new(()));
    {
        let lock = Arc::clone(&lock);
        thread::spawn(move || {
            let outer = lock.lock();
            let inner = lock.lock();
            assert_eq!(lock.hold_count(), 2);
            // Leak both levels: the lock stays held by a thread that exits.
            std::mem::forget(inner);
            std::mem::forget(outer);
        })
        .join()
        .unwrap();
    }
    let check = |lock: &RLock<()>| {
        assert!(lock.is_locked(), "a leaked guard keeps the lock held");
        assert_not_mine(lock);
        assert!(lock.try_lock().is_none());
        assert!(lock.try_lock_for(Duration::ZERO).is_none());
    };
    check(&lock);
    // Many threads created after the owner exited, some of them reusing its
    // OS thread slot or TLS memory: none is taken for the owner.
    for _ in 0..16 {
        let handles: Vec<_> = (0..16)
            .map(|_| {
                let lock = Arc::clone(&lock);
                thread::spawn(move || check(&lock))
            })
            .collect();
        for handle in handles {
            handle.join().unwrap();
        }
    }
    let lock = Arc::clone(&lock);
    let start = Instant::now();
    thread::spawn(move || assert!(lock.try_lock_for(Duration::from_millis(20)).is_none()))
        .join()
        .unwrap();
    assert!(start.elapsed() >= Duration::from_millis(20));
}

#[test]
fn panic_while_holding_releases_every_level() {
    let lock = RLock::new(Cell::new(0));
    let caught = panic::catch_unwind(AssertUnwindSafe(|| {
        let outer = lock.lock();
        let _inner = lock.lock();
        outer.set(1);
        panic!("boom");
    }));
    assert!(caught.is_err());
    assert!(!lock.is_locked());
    assert_not_mine(&lock);
    assert_eq!(lock.lock().get(), 1, "no poisoning: the value is reachable");

    thread::scope(|s| {
        let result = s
            .spawn(|| {
                let outer = lock.lock();
                let _inner = lock.lock();
                let _third = lock.lock();
                outer.set(2);
                panic!("boom in a thread");
            })
            .join();
        assert!(result.is_err());
    });
    assert!(!lock.is_locked());
    let guard = lock.try_lock().expect("released by the unwinding thread");
    assert_eq!(guard.get(), 2);
    assert_eq!(lock.hold_count(), 1);
}

#[test]
fn size_is_parking_lot_plus_the_key() {
    use std::mem::size_of;
    assert!(
        size_of::<RLock<()>>() <= size_of::<parking_lot::ReentrantMutex<()>>() + 8,
        "RLock<()> is {} bytes, parking_lot::ReentrantMutex<()> {}",
        size_of::<RLock<()>>(),
        size_of::<parking_lot::ReentrantMutex<()>>()
    );
    assert!(size_of::<RLock<u64>>() <= size_of::<parking_lot::ReentrantMutex<u64>>() + 8);
}

/// One step of the single-thread model.
#[derive(Debug, Clone)]
enum Op {
    Lock,
    TryLock,
    TryLockForZero,
    TryLockFor,
    /// Drop the guard at this index (modulo the number held), if any.
    Drop(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => Just(Op::Lock),
        2 => Just(Op::TryLock),
        1 => Just(Op::TryLockForZero),
        1 => Just(Op::TryLockFor),
        5 => any::<usize>().prop_map(Op::Drop),
    ]
}

proptest! {
    #![proptest_config(proptest_config(if cfg!(miri) { 4 } else { 64 }))]

    /// Random lock / try_lock / drop sequences on one thread match a model
    /// counter; a second thread sees the lock as taken exactly when the
    /// model says this thread holds a level.
    #[test]
    fn hold_count_matches_the_model(ops in prop::collection::vec(op(), 1..64)) {
        let lock = RLock::new(Cell::new(0usize));
        thread::scope(|s| {
            let (ask_tx, ask_rx) = mpsc::channel::<()>();
            let (reply_tx, reply_rx) = mpsc::channel();
            let lock = &lock;
            // The helper answers "could you take it?" while this thread
            // waits for the reply, so the answer reflects this thread's
            // state between two operations.
            s.spawn(move || {
                for () in ask_rx {
                    let mine = (lock.is_owned_by_current_thread(), lock.hold_count());
                    let took = lock.try_lock().is_some();
                    reply_tx.send((took, mine)).unwrap();
                }
            });
            let mut guards: Vec<RLockGuard<'_, Cell<usize>>> = Vec::new();
            let mut model = 0usize;
            for op in &ops {
                match *op {
                    Op::Lock => guards.push(lock.lock()),
                    Op::TryLock => guards.push(lock.try_lock().expect("free or ours")),
                    Op::TryLockForZero => {
                        guards.push(lock.try_lock_for(Duration::ZERO).expect("free or ours"))
                    }
                    Op::TryLockFor => guards.push(
                        lock.try_lock_for(Duration::from_secs(600)).expect("free or ours"),
                    ),
                    Op::Drop(i) => {
                        if !guards.is_empty() {
                            let i = i % guards.len();
                            drop(guards.remove(i));
                            model -= 1;
                        }
                        assert_eq!(guards.len(), model);
                    }
                }
                if !matches!(op, Op::Drop(_)) {
                    model += 1;
                    // Every level sees the same value; mutate through one.
                    let last = guards.last().unwrap();
                    last.set(last.get() + 1);
                }
                assert_eq!(lock.hold_count(), model);
                assert_eq!(lock.is_locked(), model > 0);
                assert_eq!(lock.is_owned_by_current_thread(), model > 0);

                ask_tx.send(()).unwrap();
                let (took, helper_view) = reply_rx.recv().unwrap();
                assert_eq!(took, model == 0, "helper's try_lock after {op:?} at depth {model}");
                assert_eq!(helper_view, (false, 0), "the helper never owns it between steps");
            }
            drop(guards);
            assert!(!lock.is_locked());
        });
        let acquisitions = ops.iter().filter(|op| !matches!(op, Op::Drop(_))).count();
        prop_assert_eq!(lock.into_inner().get(), acquisitions);
    }
}
