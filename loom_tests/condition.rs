//! Loom models for `Condition`.
//!
//! Each model is tiny (two or three threads) and checks an invariant, not
//! just that the model terminates. A lost wakeup shows up either as a failed
//! assertion or as loom reporting a deadlock (a thread blocked forever).
//!
//! Run with `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test
//! --release --target-dir target/loom --test loom_condition`.
#![cfg(loom)]

use std::cell::Cell;
use std::time::Duration;

use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;
use threadkit::loom_support::{LoomTimeouts, set_loom_timeouts};
use threadkit::{Condition, Lock, RLock};

/// A timeout that, under `LoomTimeouts::Expire`, may expire at any point
/// and, under `Never`, never does. Its length is irrelevant under loom.
const SOME_TIME: Duration = Duration::from_secs(1);

/// The waiter checks its predicate under the lock and waits; the notifier
/// changes the state under the lock and notifies after releasing it. In no
/// interleaving may the notify fall between the check and the wait (loom
/// would report the waiter blocked forever).
#[test]
fn no_lost_wakeup_between_check_and_wait() {
    set_loom_timeouts(LoomTimeouts::Never);
    loom::model(|| {
        let pair = Arc::new((Lock::new(false), Condition::new()));
        let p2 = pair.clone();
        let notifier = thread::spawn(move || {
            let (lock, cond) = &*p2;
            *lock.lock() = true;
            cond.notify_one();
        });
        let (lock, cond) = &*pair;
        let mut ready = lock.lock();
        while !*ready {
            cond.wait(&mut ready);
        }
        assert!(*ready);
        drop(ready);
        notifier.join().unwrap();
    });
}

/// As above, but the notifier notifies while still holding the lock, and
/// the waiter uses `wait_while`.
#[test]
fn no_lost_wakeup_notify_under_lock() {
    set_loom_timeouts(LoomTimeouts::Never);
    loom::model(|| {
        let pair = Arc::new((Lock::new(0u32), Condition::new()));
        let p2 = pair.clone();
        let notifier = thread::spawn(move || {
            let (lock, cond) = &*p2;
            let mut value = lock.lock();
            *value = 7;
            cond.notify_all()
        });
        let (lock, cond) = &*pair;
        let mut value = lock.lock();
        cond.wait_while(&mut value, |v| *v == 0);
        assert_eq!(*value, 7);
        drop(value);
        // The notifier woke the waiter or found nobody waiting.
        assert!(notifier.join().unwrap() <= 1);
    });
}

/// Two waiters, queued in a known order, then `notify(1)`: exactly one wakes
/// (the first queued), the other stays blocked until the next notify.
///
/// Each waiter records its id under the lock right before waiting, so the
/// order of `queued` is the queue order; each records its id in `woken`
/// after its single `wait` returns (a single `wait`, no predicate loop: a
/// spurious wakeup would show up as an early entry in `woken`).
#[test]
fn notify_one_of_two_wakes_exactly_one_in_fifo_order() {
    set_loom_timeouts(LoomTimeouts::Never);
    loom::model(|| {
        #[derive(Default)]
        struct State {
            queued: Vec<usize>,
            woken: Vec<usize>,
        }
        let shared = Arc::new((Lock::new(State::default()), Condition::new(), Condition::new()));
        let waiters: Vec<_> = (0..2)
            .map(|id| {
                let shared = shared.clone();
                thread::spawn(move || {
                    let (lock, cond, main_cond) = &*shared;
                    let mut state = lock.lock();
                    state.queued.push(id);
                    if state.queued.len() == 2 {
                        main_cond.notify_one();
                    }
                    cond.wait(&mut state);
                    state.woken.push(id);
                    if state.woken.len() == 1 {
                        main_cond.notify_one();
                    }
                })
            })
            .collect();
        let (lock, cond, main_cond) = &*shared;
        let mut state = lock.lock();
        main_cond.wait_while(&mut state, |s| s.queued.len() < 2);
        // Both are queued (each released the lock inside `wait`).
        assert_eq!(cond.notify(1), 1);
        main_cond.wait_while(&mut state, |s| s.woken.is_empty());
        assert_eq!(state.woken, [state.queued[0]], "notify(1) woke the wrong waiters");
        assert!(cond.notify_one(), "notify(1) woke both waiters");
        drop(state);
        for w in waiters {
            w.join().unwrap();
        }
        let state = lock.lock();
        assert_eq!(state.woken, state.queued, "waiters woke out of FIFO order");
        assert!(!cond.notify_one(), "nobody should be left waiting");
    });
}

/// A timed waiter racing a notify: if notify reports it woke someone, the
/// waiter must not report a timeout.
#[test]
fn timed_wait_racing_notify_loses_nothing() {
    set_loom_timeouts(LoomTimeouts::Expire);
    loom::model(|| {
        let pair = Arc::new((Lock::new(false), Condition::new()));
        let p2 = pair.clone();
        let notifier = thread::spawn(move || {
            let (lock, cond) = &*p2;
            *lock.lock() = true;
            cond.notify_one()
        });
        let (lock, cond) = &*pair;
        let mut g = lock.lock();
        let timed_out = if *g { false } else { cond.wait_timeout(&mut g, SOME_TIME).timed_out() };
        drop(g);
        let woke = notifier.join().unwrap();
        if woke {
            assert!(!timed_out, "notify_one reported a wakeup the waiter never got");
        }
    });
}

/// Two timed waiters and a `notify_one` that does not take the lock: the
/// number of waiters that report "notified" equals what `notify_one`
/// returned. A notify that chose a waiter which was timing out at the same
/// moment must still count exactly once.
#[test]
fn notify_one_racing_two_timed_waiters_counts_exactly() {
    set_loom_timeouts(LoomTimeouts::Expire);
    loom::model(|| {
        let pair = Arc::new((Lock::new(()), Condition::new()));
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let pair = pair.clone();
                thread::spawn(move || {
                    let (lock, cond) = &*pair;
                    let mut g = lock.lock();
                    !cond.wait_timeout(&mut g, SOME_TIME).timed_out()
                })
            })
            .collect();
        let (_, cond) = &*pair;
        let woke = usize::from(cond.notify_one());
        let notified = waiters.into_iter().map(|w| usize::from(w.join().unwrap())).sum::<usize>();
        assert_eq!(notified, woke, "notify_one's count and the waiters disagree");
    });
}

/// `notify_all` racing two timed waiters: again, the count it returns is
/// exactly the number of waiters that report "notified".
#[test]
fn notify_all_racing_two_timed_waiters_counts_exactly() {
    set_loom_timeouts(LoomTimeouts::Expire);
    loom::model(|| {
        let pair = Arc::new((Lock::new(()), Condition::new()));
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let pair = pair.clone();
                thread::spawn(move || {
                    let (lock, cond) = &*pair;
                    let mut g = lock.lock();
                    !cond.wait_timeout(&mut g, SOME_TIME).timed_out()
                })
            })
            .collect();
        let (_, cond) = &*pair;
        let woke = cond.notify_all();
        let notified = waiters.into_iter().map(|w| usize::from(w.join().unwrap())).sum::<usize>();
        assert_eq!(notified, woke, "notify_all's count and the waiters disagree");
    });
}

/// A timed waiter and an untimed one, both queued, then one `notify_one`.
/// The untimed waiter is always queued, so the notify always wakes someone;
/// if it chose the timed waiter just as that one timed out, the wakeup must
/// not be lost: the timed waiter reports "notified" exactly when the
/// untimed one is still queued afterwards (a second `notify_one` finds it).
#[test]
fn notify_one_with_timed_and_untimed_waiter() {
    set_loom_timeouts(LoomTimeouts::Expire);
    loom::model(|| {
        let shared = Arc::new((Lock::new(0usize), Condition::new(), Condition::new()));
        let spawn = |timed: bool| {
            let shared = shared.clone();
            thread::spawn(move || {
                let (lock, cond, main_cond) = &*shared;
                let mut queued = lock.lock();
                *queued += 1;
                if *queued == 2 {
                    main_cond.notify_one();
                }
                if timed {
                    !cond.wait_timeout(&mut queued, SOME_TIME).timed_out()
                } else {
                    cond.wait(&mut queued);
                    true
                }
            })
        };
        let timed = spawn(true);
        let untimed = spawn(false);
        let (lock, cond, main_cond) = &*shared;
        let mut queued = lock.lock();
        main_cond.wait_while(&mut queued, |q| *q < 2);
        assert!(cond.notify_one(), "the untimed waiter is always queued");
        drop(queued);
        let timed_notified = timed.join().unwrap();
        assert_eq!(
            cond.notify_one(),
            timed_notified,
            "the first notify must go to exactly one of the two waiters"
        );
        assert!(untimed.join().unwrap());
    });
}

/// `wait_timeout_while` reports a timeout only if the condition still holds
/// when it returns.
#[test]
fn wait_timeout_while_reports_the_condition() {
    set_loom_timeouts(LoomTimeouts::Expire);
    loom::model(|| {
        let pair = Arc::new((Lock::new(false), Condition::new()));
        let p2 = pair.clone();
        let notifier = thread::spawn(move || {
            let (lock, cond) = &*p2;
            *lock.lock() = true;
            cond.notify_one();
        });
        let (lock, cond) = &*pair;
        let mut ready = lock.lock();
        let result = cond.wait_timeout_while(&mut ready, SOME_TIME, |r| !*r);
        assert_eq!(result.timed_out(), !*ready);
        drop(ready);
        notifier.join().unwrap();
    });
}

/// Waiting with an `RLock` held three levels deep releases every level
/// (else the notifier could never take the lock: loom reports a deadlock)
/// and restores all three.
#[test]
fn rlock_depth_restored_after_wait() {
    set_loom_timeouts(LoomTimeouts::Never);
    loom::model(|| {
        let pair = Arc::new((RLock::new(Cell::new(false)), Condition::new()));
        let p2 = pair.clone();
        let notifier = thread::spawn(move || {
            let (lock, cond) = &*p2;
            let g = lock.lock();
            assert_eq!(lock.hold_count(), 1);
            g.set(true);
            drop(g);
            cond.notify_one();
        });
        let (lock, cond) = &*pair;
        let _a = lock.lock();
        let _b = lock.lock();
        let mut c = lock.lock();
        cond.wait_while(&mut c, |ready| !ready.get());
        assert!(c.get());
        assert_eq!(lock.hold_count(), 3);
        assert!(lock.is_owned_by_current_thread());
        drop(c);
        assert_eq!(lock.hold_count(), 2);
        notifier.join().unwrap();
    });
}

/// A timed wait with an `RLock` restores the depth whether it times out or
/// is notified.
#[test]
fn rlock_depth_restored_after_timed_wait() {
    set_loom_timeouts(LoomTimeouts::Expire);
    loom::model(|| {
        let pair = Arc::new((RLock::new(()), Condition::new()));
        let p2 = pair.clone();
        let notifier = thread::spawn(move || {
            let (lock, cond) = &*p2;
            let _g = lock.lock();
            cond.notify_one();
        });
        let (lock, cond) = &*pair;
        let _a = lock.lock();
        let mut b = lock.lock();
        let _ = cond.wait_timeout(&mut b, SOME_TIME);
        assert_eq!(lock.hold_count(), 2);
        drop(b);
        drop(_a);
        notifier.join().unwrap();
    });
}

/// Data written under the lock before a notify is seen by the woken waiter,
/// and a counter protected by the lock is never torn by the handoff.
#[test]
fn ping_pong_two_rounds() {
    set_loom_timeouts(LoomTimeouts::Never);
    loom::model(|| {
        let shared = Arc::new((Lock::new(0usize), Condition::new()));
        let side_effects = Arc::new(AtomicUsize::new(0));
        let (s2, e2) = (shared.clone(), side_effects.clone());
        let partner = thread::spawn(move || {
            let (lock, cond) = &*s2;
            let mut turn = lock.lock();
            for round in 0..2 {
                cond.wait_while(&mut turn, |t| *t != 2 * round + 1);
                assert_eq!(e2.load(Ordering::Relaxed), round + 1);
                *turn += 1;
                cond.notify_one();
            }
        });
        let (lock, cond) = &*shared;
        let mut turn = lock.lock();
        for round in 0..2 {
            side_effects.fetch_add(1, Ordering::Relaxed);
            *turn += 1;
            cond.notify_one();
            cond.wait_while(&mut turn, |t| *t != 2 * round + 2);
        }
        assert_eq!(*turn, 4);
        drop(turn);
        partner.join().unwrap();
    });
}
