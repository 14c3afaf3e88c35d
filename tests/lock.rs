//! Behaviour of `Lock<T>` (Python's `threading.Lock`) against the contract
//! in API.md: mutual exclusion, non-blocking and timed acquisition, huge and
//! zero timeouts, no poisoning, `Debug` that never blocks, `unlocked`, and
//! the size budget.
#![cfg(not(loom))]

use std::hint::black_box;
use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use threadkit::{Lock, LockGuard, RLock};

/// Runs `f` while another thread holds `lock`; the holder releases it once
/// `f` returns (or unwinds: the release channel is dropped then too, so a
/// failed assertion never leaves the holder stuck).
fn while_held_elsewhere<T: Send, R>(lock: &Lock<T>, f: impl FnOnce() -> R) -> R {
    thread::scope(move |s| {
        let (held_tx, held_rx) = mpsc::channel();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        s.spawn(move || {
            let _guard = lock.lock();
            held_tx.send(()).unwrap();
            let _ = release_rx.recv();
        });
        held_rx.recv().unwrap();
        let out = f();
        drop(release_tx);
        out
    })
}

/// Runs `f` while another thread holds `lock` and releases it after
/// `delay`, so a blocking call in `f` has something to wait for.
fn released_after<T: Send, R>(lock: &Lock<T>, delay: Duration, f: impl FnOnce() -> R) -> R {
    thread::scope(move |s| {
        let (held_tx, held_rx) = mpsc::channel();
        s.spawn(move || {
            let _guard = lock.lock();
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

#[test]
fn counter_is_exact_under_contention() {
    const THREADS: u64 = 8;
    const ITERS: u64 = if cfg!(miri) { 50 } else { 50_000 };
    let lock = Lock::new(0u64);
    thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                for _ in 0..ITERS {
                    let mut guard = lock.lock();
                    // A deliberately split read-modify-write: with a broken
                    // lock, another thread's update lands in the gap and is
                    // overwritten.
                    let seen = *guard;
                    for _ in 0..4 {
                        std::hint::spin_loop();
                    }
                    *guard = black_box(seen) + 1;
                }
            });
        }
    });
    assert!(!lock.is_locked());
    assert_eq!(lock.into_inner(), THREADS * ITERS);
}

#[test]
fn mixed_acquisition_kinds_are_exclusive() {
    // lock, try_lock and timed locks all exclude one another; every success
    // is counted, and the counter matches the successes exactly.
    const THREADS: usize = 4;
    const ITERS: u64 = if cfg!(miri) { 40 } else { 20_000 };
    let lock = Lock::new(0u64);
    let successes: u64 = thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let lock = &lock;
                s.spawn(move || {
                    let mut won = 0;
                    for i in 0..ITERS {
                        let guard = match (t + i as usize) % 4 {
                            0 => Some(lock.lock()),
                            1 => lock.try_lock(),
                            2 => lock.try_lock_for(Duration::from_micros(50)),
                            _ => lock.try_lock_until(Instant::now() + Duration::from_micros(50)),
                        };
                        if let Some(mut guard) = guard {
                            let seen = *guard;
                            std::hint::spin_loop();
                            *guard = black_box(seen) + 1;
                            won += 1;
                        }
                    }
                    won
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    // The blocking `lock()` calls alone are a quarter of the attempts.
    assert!(successes >= THREADS as u64 * ITERS / 4);
    assert_eq!(lock.into_inner(), successes);
}

#[test]
fn try_lock_from_the_owner_fails_while_held() {
    let lock = Lock::new(1);
    let guard = lock.lock();
    assert!(lock.is_locked());
    assert!(lock.try_lock().is_none(), "not reentrant: the owner's try_lock fails");
    assert!(lock.try_lock_for(Duration::ZERO).is_none());
    assert!(lock.try_lock_for(Duration::from_millis(5)).is_none());
    thread::scope(|s| {
        s.spawn(|| assert!(lock.try_lock().is_none()));
    });
    drop(guard);
    assert!(!lock.is_locked());
    let again = lock.try_lock().expect("free after the guard dropped");
    assert_eq!(*again, 1);
}

#[test]
fn try_lock_for_times_out_while_held_elsewhere() {
    let lock = Lock::new(());
    let timeout = Duration::from_millis(50);
    while_held_elsewhere(&lock, || {
        let start = Instant::now();
        assert!(lock.try_lock_for(timeout).is_none());
        assert!(start.elapsed() >= timeout, "gave up after {:?}", start.elapsed());
    });
    assert!(lock.try_lock_for(timeout).is_some(), "succeeds once the holder released");
}

#[test]
fn try_lock_until_times_out_while_held_elsewhere() {
    let lock = Lock::new(());
    while_held_elsewhere(&lock, || {
        let deadline = Instant::now() + Duration::from_millis(50);
        assert!(lock.try_lock_until(deadline).is_none());
        assert!(Instant::now() >= deadline, "gave up before the deadline");
    });
    let deadline = Instant::now() + Duration::from_millis(50);
    assert!(lock.try_lock_until(deadline).is_some());
}

#[test]
fn timed_lock_succeeds_when_the_holder_releases() {
    let lock = Lock::new(7);
    let guard = released_after(&lock, Duration::from_millis(30), || {
        lock.try_lock_for(Duration::from_secs(600))
    });
    assert_eq!(guard.as_deref(), Some(&7));
    drop(guard);
    let guard = released_after(&lock, Duration::from_millis(30), || {
        lock.try_lock_until(Instant::now() + Duration::from_secs(600))
    });
    assert_eq!(guard.as_deref(), Some(&7));
}

#[test]
fn huge_timeouts_do_not_panic_on_a_free_lock() {
    let lock = Lock::new(0);
    for timeout in [Duration::MAX, Duration::from_secs(1 << 62), Duration::from_secs(u64::MAX)] {
        let mut guard = lock.try_lock_for(timeout).expect("free lock");
        *guard += 1;
    }
    *lock.try_lock_until(far_future()).expect("free lock") += 1;
    assert_eq!(lock.into_inner(), 4);
}

#[test]
fn huge_timeouts_wait_for_a_release() {
    let lock = Lock::new(0);
    for timeout in [Duration::MAX, Duration::from_secs(1 << 62)] {
        let guard = released_after(&lock, Duration::from_millis(20), || lock.try_lock_for(timeout));
        *guard.expect("a huge timeout waits for the release") += 1;
    }
    let guard =
        released_after(&lock, Duration::from_millis(20), || lock.try_lock_until(far_future()));
    *guard.expect("a far deadline waits for the release") += 1;
    assert_eq!(lock.into_inner(), 3);
}

#[test]
fn zero_timeout_is_a_single_attempt() {
    let lock = Lock::new(());
    while_held_elsewhere(&lock, || {
        assert!(lock.try_lock_for(Duration::ZERO).is_none());
        assert!(lock.try_lock_until(Instant::now()).is_none());
        let past = Instant::now().checked_sub(Duration::from_secs(1)).unwrap_or_else(Instant::now);
        assert!(lock.try_lock_until(past).is_none());
    });
    assert!(lock.try_lock_for(Duration::ZERO).is_some(), "a free lock is taken");
    assert!(lock.try_lock_until(Instant::now()).is_some());
}

#[test]
fn debug_never_blocks() {
    let lock = Lock::new(41);
    assert_eq!(format!("{lock:?}"), "Lock { data: 41, .. }");
    while_held_elsewhere(&lock, || {
        let shown = format!("{lock:?}");
        assert!(shown.contains("<locked>"), "{shown}");
        assert!(!shown.contains("41"), "{shown}");
    });
    let mut guard = lock.lock();
    *guard += 1;
    assert_eq!(format!("{guard:?}"), "42");
    assert_eq!(format!("{guard}"), "42");
    assert_eq!(format!("{:?}", lock), "Lock { data: <locked>, .. }", "held by this thread");
    drop(guard);
    assert_eq!(format!("{lock:#?}"), "Lock {\n    data: 42,\n    ..\n}");
}

#[test]
fn get_mut_into_inner_default_from() {
    let mut lock = Lock::new(vec![1]);
    lock.get_mut().push(2);
    assert_eq!(*lock.lock(), [1, 2]);
    assert_eq!(lock.into_inner(), [1, 2]);

    let lock: Lock<String> = Lock::default();
    assert!(lock.lock().is_empty());
    assert!(!lock.is_locked());
    let lock = Lock::from(5u8);
    assert_eq!(lock.into_inner(), 5);
}

#[test]
fn keys_follow_creation_order() {
    let a = Lock::new(());
    let b = RLock::new(());
    let c = Lock::new(());
    assert!(a.key() < b.key() && b.key() < c.key());
    assert_eq!(a.key(), a.key(), "a key never changes");
    let later = thread::spawn(|| Lock::new(()).key()).join().unwrap();
    assert!(c.key() < later, "created later on another thread: a higher key");
    let shown = format!("{:?}", a.key());
    assert!(shown.starts_with("LockKey("), "{shown}");
}

#[test]
fn guard_knows_its_lock() {
    let lock = Lock::new(0);
    let guard = lock.lock();
    assert!(std::ptr::eq(LockGuard::lock(&guard), &lock));
}

#[test]
fn unlocked_releases_and_retakes() {
    let lock = Lock::new(0);
    let mut guard = lock.lock();
    *guard = 1;
    let inside = LockGuard::unlocked(&mut guard, || {
        assert!(!lock.is_locked());
        // Another thread can take the lock meanwhile.
        thread::scope(|s| {
            s.spawn(|| *lock.try_lock().expect("released during unlocked") += 10);
        });
        "result"
    });
    assert_eq!(inside, "result");
    assert!(lock.is_locked(), "taken again before unlocked returns");
    assert_eq!(*guard, 11, "the guard sees the other thread's write");
    thread::scope(|s| {
        s.spawn(|| assert!(lock.try_lock().is_none()));
    });
    drop(guard);
    assert!(!lock.is_locked());
}

#[test]
fn unlocked_retakes_when_the_closure_panics() {
    let lock = Lock::new(0);
    let mut guard = lock.lock();
    let caught = panic::catch_unwind(AssertUnwindSafe(|| {
        LockGuard::unlocked(&mut guard, || {
            assert!(!lock.is_locked());
            panic!("boom");
        })
    }));
    assert!(caught.is_err());
    assert!(lock.is_locked(), "the guard holds the lock again");
    thread::scope(|s| {
        s.spawn(|| assert!(lock.try_lock().is_none()));
    });
    *guard += 1;
    drop(guard);
    assert!(!lock.is_locked());
    assert_eq!(*lock.lock(), 1);
}

#[test]
fn panic_while_holding_releases_without_poisoning() {
    let lock = Lock::new(0);
    let caught = panic::catch_unwind(AssertUnwindSafe(|| {
        let mut guard = lock.lock();
        *guard = 1;
        panic!("boom");
    }));
    assert!(caught.is_err());
    assert!(!lock.is_locked());
    assert_eq!(*lock.lock(), 1, "no poisoning: the value is reachable");

    // The same across threads: a thread that panics while holding the guard.
    thread::scope(|s| {
        let result = s
            .spawn(|| {
                let mut guard = lock.lock();
                *guard = 2;
                panic!("boom in a thread");
            })
            .join();
        assert!(result.is_err());
    });
    assert!(!lock.is_locked());
    assert_eq!(*lock.try_lock().expect("released by the unwinding thread"), 2);
}

#[test]
fn size_is_parking_lot_plus_the_key() {
    use std::mem::size_of;
    assert!(
        size_of::<Lock<()>>() <= size_of::<parking_lot::Mutex<()>>() + 8,
        "Lock<()> is {} bytes, parking_lot::Mutex<()> {}",
        size_of::<Lock<()>>(),
        size_of::<parking_lot::Mutex<()>>()
    );
    assert!(size_of::<Lock<u64>>() <= size_of::<parking_lot::Mutex<u64>>() + 8);
}
