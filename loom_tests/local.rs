//! Loom models for `Local<T>`: isolation, drop at thread exit, and a thread's
//! exit hook racing the `Local`'s drop, `iter_mut` and `clear`.
//!
//! Drop counters are std atomics on purpose: they only count, they are not
//! part of the synchronization under test (loom runs a model's threads on
//! one OS thread).
//!
//! Unlike std's, loom's `JoinHandle::join` returns once the thread's closure
//! has returned, *before* loom runs the thread's thread-local destructors
//! (where the exit hook lives), as `std::thread::scope` does. So the models
//! wait for the exit hook with `wait_for` (yielding to loom) instead of
//! checking right after `join`; `tests/local.rs` checks the std promise.
#![cfg(loom)]

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

use loom::sync::Arc;
use loom::thread;
use threadkit::Local;

/// Counts its drops.
struct Tracked(std::sync::Arc<AtomicUsize>);

impl Drop for Tracked {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

fn counter() -> std::sync::Arc<AtomicUsize> {
    std::sync::Arc::new(AtomicUsize::new(0))
}

/// Waits, yielding to loom, until `count` reaches `n`.
fn wait_for(count: &AtomicUsize, n: usize) {
    while count.load(SeqCst) < n {
        thread::yield_now();
    }
}

/// Waits, yielding to loom, until this is the only handle.
fn sole<T>(arc: &mut Arc<T>) -> &mut T {
    while Arc::get_mut(arc).is_none() {
        thread::yield_now();
    }
    Arc::get_mut(arc).expect("sole handle")
}

#[test]
fn each_thread_sees_only_its_own_value() {
    loom::model(|| {
        let local = Arc::new(Local::new());
        let handles: Vec<_> = (1..=2)
            .map(|i| {
                let local = Arc::clone(&local);
                thread::spawn(move || {
                    assert!(!local.is_set());
                    assert_eq!(local.set(i), None);
                    assert_eq!(local.with(|v| v.copied()), Some(i));
                })
            })
            .collect();
        local.with_or(|| 0, |v| assert_eq!(*v, 0));
        assert_eq!(local.with(|v| v.copied()), Some(0));
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(local.with(|v| v.copied()), Some(0));
    });
}

#[test]
fn a_value_is_dropped_at_its_threads_end_exactly_once() {
    loom::model(|| {
        let drops = counter();
        let local = Arc::new(Local::new());
        let (l, d) = (Arc::clone(&local), drops.clone());
        let t = thread::spawn(move || {
            l.with_or(|| Tracked(d), |_| ());
            assert!(l.is_set());
        });
        local.set(Tracked(drops.clone()));
        t.join().unwrap();
        wait_for(&drops, 1); // by the thread's exit hook
        drop(local);
        assert_eq!(drops.load(SeqCst), 2, "the test thread's value went with the Local");
    });
}

#[test]
fn a_thread_ends_while_another_drops_the_local() {
    loom::model(|| {
        let drops = counter();
        let local = Arc::new(Local::new());
        let (l, d) = (Arc::clone(&local), drops.clone());
        let t = thread::spawn(move || {
            l.set(Tracked(d));
            // If the test thread has let go already, the Local is dropped
            // here; otherwise the test thread drops it while this thread's
            // exit hook runs.
            drop(l);
        });
        drop(local);
        t.join().unwrap();
        wait_for(&drops, 1);
    });
}

#[test]
fn two_threads_end_while_the_local_is_dropped() {
    loom::model(|| {
        let drops = counter();
        let local = Arc::new(Local::new());
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let (l, d) = (Arc::clone(&local), drops.clone());
                thread::spawn(move || {
                    l.set(Tracked(d));
                })
            })
            .collect();
        drop(local);
        for h in handles {
            h.join().unwrap();
        }
        wait_for(&drops, 2);
    });
}

#[test]
fn a_thread_ends_during_iter_mut() {
    loom::model(|| {
        let drops = counter();
        let mut local = Arc::new(Local::new());
        let (l, d) = (Arc::clone(&local), drops.clone());
        let t = thread::spawn(move || {
            l.set(Tracked(d));
            drop(l);
        });
        let only = sole(&mut local);
        // The thread's exit hook runs before, during or after this lending.
        let seen = only.iter_mut().count();
        assert!(seen <= 1);
        t.join().unwrap();
        // A use through `&self` ends the lending and drops a value its
        // thread left behind meanwhile.
        assert!(!local.is_set());
        wait_for(&drops, 1); // by the exit hook or by that use
        drop(local);
        assert_eq!(drops.load(SeqCst), 1);
    });
}

#[test]
fn a_thread_ends_during_clear() {
    loom::model(|| {
        let drops = counter();
        let mut local = Arc::new(Local::new());
        let (l, d) = (Arc::clone(&local), drops.clone());
        let t = thread::spawn(move || {
            l.set(Tracked(d));
            drop(l);
        });
        sole(&mut local).clear();
        t.join().unwrap();
        wait_for(&drops, 1); // by the exit hook or by `clear`
        drop(local);
        assert_eq!(drops.load(SeqCst), 1);
    });
}
