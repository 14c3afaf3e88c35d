//! Loom models of `Lock<T>`: every interleaving (up to the preemption
//! bound) of 2-3 threads. The data sits in the `Lock`, on loom's
//! `UnsafeCell`, so loom reports any access the lock failed to order; the
//! models also check each invariant explicitly.
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 cargo test --release
//! --target-dir target/loom --test loom_lock`.
#![cfg(loom)]

use std::sync::Arc as StdArc;
use std::sync::atomic::{AtomicUsize as StdAtomicUsize, Ordering::Relaxed};
use std::time::Duration;

use loom::sync::Arc;
use loom::thread;
use threadkit::Lock;
use threadkit::loom_support::{LoomTimeouts, set_loom_timeouts};

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
    println!("loom_lock::{name}: {} executions", executions.load(Relaxed));
}

/// A split read-modify-write through the guard: two separate accesses,
/// either of which loom flags if another thread is inside too.
fn increment(lock: &Lock<usize>) {
    let mut guard = lock.lock();
    let seen = *guard;
    *guard = seen + 1;
}

#[test]
fn lock_excludes_three_threads() {
    model("lock_excludes_three_threads", LoomTimeouts::Never, || {
        let lock = Arc::new(Lock::new(0usize));
        let others: Vec<_> = (0..2)
            .map(|_| {
                let lock = Arc::clone(&lock);
                thread::spawn(move || increment(&lock))
            })
            .collect();
        increment(&lock);
        for other in others {
            other.join().unwrap();
        }
        assert!(!lock.is_locked());
        assert_eq!(*lock.lock(), 3);
    });
}

#[test]
fn try_lock_success_sees_consistent_state() {
    // Holders keep the two halves equal outside their critical section and
    // break the equality inside it; a `try_lock` that succeeds must never
    // see them unequal, and every success must be counted in the total.
    model("try_lock_success_sees_consistent_state", LoomTimeouts::Never, || {
        let lock = Arc::new(Lock::new((0usize, 0usize)));
        let tryers: Vec<_> = (0..2)
            .map(|_| {
                let lock = Arc::clone(&lock);
                thread::spawn(move || match lock.try_lock() {
                    Some(mut guard) => {
                        assert_eq!(guard.0, guard.1, "try_lock saw a half-done update");
                        guard.0 += 1;
                        guard.1 += 1;
                        1
                    }
                    None => 0,
                })
            })
            .collect();
        {
            let mut guard = lock.lock();
            assert_eq!(guard.0, guard.1);
            guard.0 += 1;
            guard.1 += 1;
        }
        let successes: usize = tryers.into_iter().map(|t| t.join().unwrap()).sum();
        let guard = lock.lock();
        assert_eq!(guard.0, guard.1);
        assert_eq!(guard.0, 1 + successes, "one blocking lock plus each try_lock success");
    });
}

#[test]
fn try_lock_never_fails_spuriously() {
    // Two `try_lock`s on a lock nobody else touches: the one that runs
    // first finds it free, so at least one succeeds in every execution.
    model("try_lock_never_fails_spuriously", LoomTimeouts::Never, || {
        let lock = Arc::new(Lock::new(0usize));
        let other = {
            let lock = Arc::clone(&lock);
            thread::spawn(move || lock.try_lock().map(|mut g| *g += 1).is_some())
        };
        let mine = lock.try_lock().map(|mut g| *g += 1).is_some();
        let theirs = other.join().unwrap();
        assert!(mine || theirs, "both try_locks failed");
        assert_eq!(*lock.lock(), usize::from(mine) + usize::from(theirs));
    });
}

#[test]
fn timed_lock_either_acquires_or_times_out() {
    // Under `Expire`, a `try_lock_for` racing a holder may give up. Either
    // it got the lock (and exclusive access: loom checks its write against
    // the holder's) or it timed out holding nothing; across executions both
    // outcomes must occur, or the model did not exercise the timeout.
    let outcomes = StdArc::new([StdAtomicUsize::new(0), StdAtomicUsize::new(0)]);
    let seen = StdArc::clone(&outcomes);
    model("timed_lock_either_acquires_or_times_out", LoomTimeouts::Expire, move || {
        let lock = Arc::new(Lock::new(0usize));
        let holder = {
            let lock = Arc::clone(&lock);
            thread::spawn(move || increment(&lock))
        };
        let acquired = match lock.try_lock_for(Duration::from_secs(1)) {
            Some(mut guard) => {
                let before = *guard;
                *guard = before + 10;
                true
            }
            None => false,
        };
        holder.join().unwrap();
        assert!(!lock.is_locked(), "a timed-out attempt left the lock held");
        assert_eq!(*lock.lock(), if acquired { 11 } else { 1 });
        seen[usize::from(acquired)].fetch_add(1, Relaxed);
    });
    let [timed_out, acquired] = &*outcomes;
    assert!(timed_out.load(Relaxed) > 0, "no execution timed out");
    assert!(acquired.load(Relaxed) > 0, "no execution acquired the lock");
}

#[test]
fn two_timed_lockers_never_both_fail() {
    // Both threads use `try_lock_for` under `Expire`: whichever tries first
    // finds the lock free, so at least one succeeds; the count matches.
    model("two_timed_lockers_never_both_fail", LoomTimeouts::Expire, || {
        let lock = Arc::new(Lock::new(0usize));
        let attempt = |lock: &Lock<usize>| match lock.try_lock_for(Duration::from_millis(1)) {
            Some(mut guard) => {
                let seen = *guard;
                *guard = seen + 1;
                1
            }
            None => 0,
        };
        let other = {
            let lock = Arc::clone(&lock);
            thread::spawn(move || attempt(&lock))
        };
        let total = attempt(&lock) + other.join().unwrap();
        assert!(total >= 1, "both timed attempts failed");
        assert_eq!(*lock.lock(), total);
    });
}

#[test]
fn timed_lock_without_expiry_always_acquires() {
    // Under `Never` a timed lock is a blocking lock.
    model("timed_lock_without_expiry_always_acquires", LoomTimeouts::Never, || {
        let lock = Arc::new(Lock::new(0usize));
        let holder = {
            let lock = Arc::clone(&lock);
            thread::spawn(move || increment(&lock))
        };
        let mut guard = lock.try_lock_for(Duration::from_secs(1)).expect("Never: waits");
        *guard += 10;
        drop(guard);
        holder.join().unwrap();
        assert_eq!(*lock.lock(), 11);
    });
}
