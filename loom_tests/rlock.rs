//! Loom models of `RLock<T>`: re-entry and hold counts across 2-3 threads,
//! ownership never leaking to another thread, and timed acquisition racing
//! a holder. The data is a loom `UnsafeCell` inside the `RLock`, written
//! through `with_mut`, so loom reports any write the lock failed to order.
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 cargo test --release
//! --target-dir target/loom --test loom_rlock`.
#![cfg(loom)]

use std::sync::Arc as StdArc;
use std::sync::atomic::{AtomicUsize as StdAtomicUsize, Ordering::Relaxed};
use std::time::Duration;

use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::thread;
use threadkit::loom_support::{LoomTimeouts, set_loom_timeouts};
use threadkit::{RLock, RLockGuard};

type Counter = RLock<UnsafeCell<usize>>;

/// Runs `body` under `loom::model` with the given timeout behaviour and
/// prints how many executions loom explored (see them with `--nocapture`).
fn model(name: &str, timeouts: LoomTimeouts, body: impl Fn() + Sync + Send + 'static) {
    let executions = StdArc::new(StdAtomicUsize::new(0));
    let counter = StdArc::clone(&executions);
    set_loom_timeouts(timeouts);
    loom::model(move || {
        counter.fetch_add(1, Relaxed);
        body();
    });
    set_loom_timeouts(LoomTimeouts::Never);
    println!("loom_rlock::{name}: {} executions", executions.load(Relaxed));
}

/// Adds one to the counter through a held level.
fn bump(guard: &RLockGuard<'_, UnsafeCell<usize>>) {
    // SAFETY: the calling thread holds the RLock, and the counter is only
    // touched with the RLock held; no reference into the cell outlives the
    // closure. If the lock let two threads in, loom reports the race.
    guard.with_mut(|p| unsafe { *p += 1 });
}

fn read(lock: &Counter) -> usize {
    let guard = lock.lock();
    // SAFETY: as in `bump`.
    guard.with(|p| unsafe { *p })
}

/// What a thread that holds no level must observe, whoever holds the lock.
fn assert_not_mine(lock: &Counter) {
    assert!(!lock.is_owned_by_current_thread(), "a thread took itself for the owner");
    assert_eq!(lock.hold_count(), 0);
}

/// Takes `depth` levels (alternating `lock` and `try_lock`, which re-enters
/// for the owner), checking the hold count at each level and after each
/// release, and bumps the counter once per level.
fn nest(lock: &Counter, depth: usize) {
    assert_not_mine(lock);
    let mut guards = Vec::new();
    for level in 1..=depth {
        let guard = if level % 2 == 1 {
            lock.lock()
        } else {
            lock.try_lock().expect("the owner re-enters")
        };
        bump(&guard);
        guards.push(guard);
        assert_eq!(lock.hold_count(), level);
        assert!(lock.is_owned_by_current_thread());
    }
    for level in (0..depth).rev() {
        drop(guards.pop());
        assert_eq!(lock.hold_count(), level);
    }
    assert_not_mine(lock);
}

#[test]
fn reentry_across_two_threads() {
    model("reentry_across_two_threads", LoomTimeouts::Never, || {
        let lock = Arc::new(RLock::new(UnsafeCell::new(0)));
        let other = {
            let lock = Arc::clone(&lock);
            thread::spawn(move || nest(&lock, 3))
        };
        nest(&lock, 3);
        other.join().unwrap();
        assert!(!lock.is_locked());
        assert_eq!(read(&lock), 6);
    });
}

/// Two levels, for the three-thread model. Its state space grows with
/// every load of the owner that may see another thread's store, so the
/// hold count is checked at the deepest level (where only this thread's own
/// store is visible) and, if `check_after`, once after the release; the
/// two-thread model checks every level.
fn nest_twice(lock: &Counter, check_after: bool) {
    let outer = lock.lock();
    let inner = lock.lock();
    assert_eq!(lock.hold_count(), 2);
    bump(&inner);
    drop(inner);
    assert_eq!(lock.hold_count(), 1);
    drop(outer);
    if check_after {
        assert_eq!(lock.hold_count(), 0, "a released thread still counts as the owner");
    }
}

#[test]
fn reentry_across_three_threads() {
    model("reentry_across_three_threads", LoomTimeouts::Never, || {
        let lock = Arc::new(RLock::new(UnsafeCell::new(0)));
        let others: Vec<_> = [true, false]
            .into_iter()
            .map(|check_after| {
                let lock = Arc::clone(&lock);
                thread::spawn(move || nest_twice(&lock, check_after))
            })
            .collect();
        nest_twice(&lock, false);
        for other in others {
            other.join().unwrap();
        }
        assert!(!lock.is_locked());
        assert_not_mine(&lock);
        assert_eq!(read(&lock), 3);
    });
}

#[test]
fn try_lock_from_another_thread_excludes_every_level() {
    // One thread holds two levels; another's `try_lock` succeeds only when
    // no level is held, and then owns exactly one level.
    model("try_lock_from_another_thread_excludes_every_level", LoomTimeouts::Never, || {
        let lock = Arc::new(RLock::new(UnsafeCell::new(0)));
        let tryer = {
            let lock = Arc::clone(&lock);
            thread::spawn(move || {
                assert_not_mine(&lock);
                let got = lock.try_lock().map(|guard| {
                    assert_eq!(lock.hold_count(), 1);
                    bump(&guard);
                });
                assert_not_mine(&lock);
                got.is_some()
            })
        };
        nest(&lock, 2);
        let got = tryer.join().unwrap();
        assert_eq!(read(&lock), 2 + usize::from(got));
    });
}

#[test]
fn owner_that_exits_holding_is_never_inherited() {
    // The owner leaks its levels and exits; a thread running concurrently
    // and one started after the exit never see themselves as the owner.
    model("owner_that_exits_holding_is_never_inherited", LoomTimeouts::Never, || {
        let lock = Arc::new(RLock::new(UnsafeCell::new(0)));
        let owner = {
            let lock = Arc::clone(&lock);
            thread::spawn(move || {
                let outer = lock.lock();
                let inner = lock.lock();
                bump(&inner);
                std::mem::forget(inner);
                std::mem::forget(outer);
            })
        };
        let observer = {
            let lock = Arc::clone(&lock);
            thread::spawn(move || {
                assert_not_mine(&lock);
                // Either the owner has not locked yet (and waits for this
                // level to go) or it holds the lock forever.
                if let Some(guard) = lock.try_lock() {
                    assert_eq!(lock.hold_count(), 1);
                    drop(guard);
                }
                assert_not_mine(&lock);
            })
        };
        owner.join().unwrap();
        observer.join().unwrap();
        let late = {
            let lock = Arc::clone(&lock);
            thread::spawn(move || {
                assert_not_mine(&lock);
                assert!(lock.try_lock().is_none(), "the exited owner's levels were inherited");
                assert_not_mine(&lock);
            })
        };
        late.join().unwrap();
        assert!(lock.is_locked());
        assert_not_mine(&lock);
        assert!(lock.try_lock().is_none());
    });
}

#[test]
fn timed_lock_either_acquires_or_times_out() {
    // Under `Expire`, a `try_lock_for` racing a thread that holds two
    // levels either gets one level (the only holder: loom checks the
    // writes) or times out owning nothing. Both outcomes must occur.
    let outcomes = StdArc::new([StdAtomicUsize::new(0), StdAtomicUsize::new(0)]);
    let seen = StdArc::clone(&outcomes);
    model("timed_lock_either_acquires_or_times_out", LoomTimeouts::Expire, move || {
        let lock = Arc::new(RLock::new(UnsafeCell::new(0)));
        let holder = {
            let lock = Arc::clone(&lock);
            thread::spawn(move || nest(&lock, 2))
        };
        let acquired = match lock.try_lock_for(Duration::from_secs(1)) {
            Some(guard) => {
                assert_eq!(lock.hold_count(), 1);
                // Re-entry with a timeout never waits, even under `Expire`.
                let inner = lock.try_lock_for(Duration::from_secs(1)).expect("re-entry");
                assert_eq!(lock.hold_count(), 2);
                bump(&inner);
                drop((inner, guard));
                true
            }
            None => false,
        };
        assert_not_mine(&lock);
        holder.join().unwrap();
        assert!(!lock.is_locked(), "a timed-out attempt left the lock held");
        assert_eq!(read(&lock), 2 + usize::from(acquired));
        seen[usize::from(acquired)].fetch_add(1, Relaxed);
    });
    let [timed_out, acquired] = &*outcomes;
    assert!(timed_out.load(Relaxed) > 0, "no execution timed out");
    assert!(acquired.load(Relaxed) > 0, "no execution acquired the lock");
}
