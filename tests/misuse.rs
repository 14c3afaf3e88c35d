//! Misuse of `Condition` and `Event`, and the edge inputs their contract
//! promises to survive: each test checks what the user gets (a panic with
//! a named message, a non-blocking attempt, a wait that never overflows)
//! and that nothing is left behind (a lock held, a waiter stranded).
//!
//! The README's "Misuse threadkit detects" table points here and to the
//! other test files. Anything that could hang runs under a watchdog.
#![cfg(not(loom))]

use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use threadkit::{Condition, Event, Lock, RLock};

/// The start of the panic message of a `Condition` used with two locks.
const TWO_LOCKS: &str = "Condition used with two different locks";

/// Runs `f` on its own thread and fails if it has not finished after a
/// minute (a hang is a bug; this only bounds how long we wait to see it).
fn with_watchdog<F: FnOnce() + Send + 'static>(f: F) {
    let (done, finished) = mpsc::channel();
    let body = thread::spawn(move || {
        f();
        let _ = done.send(());
    });
    match finished.recv_timeout(Duration::from_secs(60)) {
        Ok(()) => body.join().unwrap(),
        // The body panicked (its sender is gone): report its panic.
        Err(mpsc::RecvTimeoutError::Disconnected) => panic::resume_unwind(body.join().unwrap_err()),
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("hung for a minute"),
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    match payload.downcast_ref::<String>() {
        Some(s) => s.clone(),
        None => payload.downcast_ref::<&str>().map(|s| s.to_string()).unwrap_or_default(),
    }
}

/// Polls until `cond` has a waiter (its `Debug` never blocks).
fn until_waited_on(cond: &Condition) {
    while !format!("{cond:?}").contains("has_waiters: true") {
        thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn condition_used_with_a_second_lock_while_waited_on_panics_before_releasing() {
    with_watchdog(|| {
        let a = Lock::new(false);
        let b = Lock::new(0);
        let cond = Condition::new();
        thread::scope(|s| {
            let waiter = s.spawn(|| {
                let mut g = a.lock();
                cond.wait_while(&mut g, |ready| !*ready);
            });
            until_waited_on(&cond);

            let mut gb = b.lock();
            let err = panic::catch_unwind(AssertUnwindSafe(|| cond.wait(&mut gb))).unwrap_err();
            let msg = panic_message(&*err);
            assert!(msg.starts_with(TWO_LOCKS), "{msg}");
            // Nothing was released: the misusing guard still holds `b`.
            assert!(b.is_locked());
            *gb += 1;
            drop(gb);
            assert!(!b.is_locked());

            // The legitimate waiter is still there and still wakes.
            *a.lock() = true;
            assert!(cond.notify_one());
            waiter.join().unwrap();
        });
    });
}

#[test]
#[should_panic(
    expected = "Condition used with two different locks: threads are waiting on it with \
                another lock (a Condition may serve only one lock while it has waiters)"
)]
fn condition_used_with_an_rlock_while_waited_on_with_a_lock_panics() {
    let a = Lock::new(false);
    let r = RLock::new(());
    let cond = Condition::new();
    let caught = thread::scope(|s| {
        s.spawn(|| cond.wait_while(&mut a.lock(), |ready| !*ready));
        until_waited_on(&cond);
        let caught = {
            let mut g = r.lock();
            let _reentered = r.lock();
            // Every `wait*` form checks; this one with a timeout already
            // spent, which would otherwise return at once.
            panic::catch_unwind(AssertUnwindSafe(|| cond.wait_timeout(&mut g, Duration::ZERO)))
        };
        // Let the legitimate waiter finish, so the scope ends.
        *a.lock() = true;
        cond.notify_all();
        caught
    });
    panic::resume_unwind(caught.unwrap_err());
}

#[test]
fn condition_serves_another_lock_once_no_waiter_remains() {
    let a = Lock::new(());
    let b = RLock::new(());
    let cond = Condition::new();
    // A timed-out waiter leaves the queue: nothing is stranded.
    assert!(cond.wait_timeout(&mut a.lock(), Duration::from_millis(1)).timed_out());
    assert!(!cond.notify_one(), "the timed-out waiter is gone");
    assert!(cond.wait_timeout(&mut b.lock(), Duration::from_millis(1)).timed_out());
    assert!(cond.wait_deadline(&mut a.lock(), Instant::now()).timed_out());
}

#[test]
fn condition_zero_timeout_and_past_deadline_are_non_blocking() {
    let lock = Lock::new(0);
    let cond = Condition::new();
    let mut g = lock.lock();
    assert!(cond.wait_timeout(&mut g, Duration::ZERO).timed_out());
    let past = Instant::now().checked_sub(Duration::from_secs(1)).unwrap_or_else(Instant::now);
    assert!(cond.wait_deadline(&mut g, past).timed_out());
    assert!(cond.wait_timeout_while(&mut g, Duration::ZERO, |n| *n == 0).timed_out());
    // A condition already false is not a timeout, whatever the deadline.
    assert!(!cond.wait_deadline_while(&mut g, past, |n| *n != 0).timed_out());
    // The guard still holds the lock after every form.
    *g += 1;
    assert!(lock.is_locked());
    assert!(!cond.notify_one(), "no waiter left behind");
}

#[test]
fn condition_duration_max_waits_for_the_notify_without_overflowing() {
    with_watchdog(|| {
        let lock = Lock::new(false);
        let cond = Condition::new();
        thread::scope(|s| {
            let waiter = s.spawn(|| {
                let mut g = lock.lock();
                cond.wait_timeout_while(&mut g, Duration::MAX, |ready| !*ready)
            });
            until_waited_on(&cond);
            *lock.lock() = true;
            cond.notify_all();
            assert!(!waiter.join().unwrap().timed_out());
        });
    });
}

#[test]
fn condition_panicking_predicate_keeps_the_lock_and_the_condition_usable() {
    let lock = RLock::new(0);
    let cond = Condition::new();
    let mut g = lock.lock();
    let err = panic::catch_unwind(AssertUnwindSafe(|| {
        cond.wait_while(&mut g, |_| panic!("predicate failed"));
    }))
    .unwrap_err();
    assert_eq!(panic_message(&*err), "predicate failed");
    // The guard still holds its level, and the Condition has no waiter.
    assert!(lock.is_owned_by_current_thread());
    assert_eq!(lock.hold_count(), 1);
    assert!(!cond.wait_timeout_while(&mut g, Duration::ZERO, |n| *n != 0).timed_out());
    drop(g);
    assert!(!lock.is_locked());
}

#[test]
fn condition_waiter_unwinding_through_a_panic_leaves_nothing_held() {
    // A waiter that panics after being woken (in its predicate) drops its
    // guard: the lock is free and the Condition has no stranded waiter.
    with_watchdog(|| {
        let lock = Lock::new(0);
        let cond = Condition::new();
        thread::scope(|s| {
            let waiter = s.spawn(|| {
                let mut g = lock.lock();
                cond.wait_while(&mut g, |n| {
                    assert!(*n < 2, "woken with {n}");
                    *n == 0
                });
            });
            until_waited_on(&cond);
            *lock.lock() = 2;
            assert!(cond.notify_one());
            assert!(waiter.join().is_err());
        });
        assert!(!lock.is_locked());
        assert!(!cond.notify_one());
        assert_eq!(*lock.lock(), 2);
    });
}

#[test]
fn event_zero_timeout_and_past_deadline_read_the_flag() {
    let event = Event::new();
    assert!(!event.wait_timeout(Duration::ZERO));
    assert!(!event.wait_deadline(Instant::now()));
    event.set();
    assert!(event.wait_timeout(Duration::ZERO));
    assert!(event.wait_deadline(Instant::now()));
    event.clear();
    assert!(!event.wait_timeout(Duration::ZERO));
}

#[test]
fn event_duration_max_and_far_deadlines_wait_for_set_without_overflowing() {
    with_watchdog(|| {
        let event = Event::new();
        let far = Instant::now() + Duration::from_secs(1 << 40);
        thread::scope(|s| {
            let forever = s.spawn(|| event.wait_timeout(Duration::MAX));
            let far_off = s.spawn(|| event.wait_deadline(far));
            thread::sleep(Duration::from_millis(20));
            assert!(!forever.is_finished() && !far_off.is_finished());
            event.set();
            assert!(forever.join().unwrap());
            assert!(far_off.join().unwrap());
        });
    });
}

#[test]
fn event_set_and_clear_any_number_of_times() {
    // No misuse is possible: repeated `set` / `clear` are idempotent.
    with_watchdog(|| {
        let event = Event::new();
        event.clear();
        event.clear();
        assert!(!event.is_set());
        thread::scope(|s| {
            let waiters: Vec<_> =
                (0..4).map(|_| s.spawn(|| event.wait_timeout(Duration::MAX))).collect();
            event.set();
            event.set();
            for w in waiters {
                assert!(w.join().unwrap());
            }
        });
        assert!(event.is_set());
        event.clear();
        event.clear();
        assert!(!event.is_set());
        assert!(!event.wait_timeout(Duration::from_millis(1)));
    });
}
