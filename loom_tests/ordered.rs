//! Loom models of ordered multi-lock acquire: threads naming the same locks
//! in different orders never deadlock (loom reports a deadlock as a failure
//! by itself) and always see mutual exclusion.
#![cfg(loom)]

use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;
use threadkit::{Lock, RLock, acquire};

/// Marks a critical section over `guarded` locks: the count must be zero on
/// entry, or two threads are inside at once. The atomic operations are loom
/// branch points, so loom schedules the other thread in the middle.
fn critical_section(inside: &AtomicUsize, body: impl FnOnce()) {
    assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0, "two threads inside at once");
    body();
    assert_eq!(inside.fetch_sub(1, Ordering::SeqCst), 1);
}

#[test]
fn opposite_argument_orders() {
    // Two rounds each, so a thread can come back for the pair while the
    // other is part way through taking it.
    const ROUNDS: usize = 2;
    loom::model(|| {
        let x = Arc::new(Lock::new(0usize));
        let y = Arc::new(Lock::new(0usize));
        let inside = Arc::new(AtomicUsize::new(0));
        let t = {
            let (x, y, inside) = (x.clone(), y.clone(), inside.clone());
            thread::spawn(move || {
                for _ in 0..ROUNDS {
                    let mut g = acquire((&*x, &*y)).unwrap();
                    critical_section(&inside, || {
                        let (gx, gy) = &mut *g;
                        assert_eq!(**gx, **gy);
                        **gx += 1;
                        **gy += 1;
                    });
                }
            })
        };
        for _ in 0..ROUNDS {
            let mut g = acquire((&*y, &*x)).unwrap();
            critical_section(&inside, || {
                let (gy, gx) = &mut *g;
                assert_eq!(**gx, **gy);
                **gy += 1;
                **gx += 1;
            });
        }
        t.join().unwrap();
        assert_eq!(*x.lock(), 2 * ROUNDS);
        assert_eq!(*y.lock(), 2 * ROUNDS);
        assert!(!x.is_locked() && !y.is_locked());
    });
}

#[test]
fn mixed_lock_and_reentered_rlock() {
    loom::model(|| {
        let r = Arc::new(RLock::new(std::cell::Cell::new(0usize)));
        let x = Arc::new(Lock::new(0usize));
        let inside = Arc::new(AtomicUsize::new(0));
        let t = {
            let (r, x, inside) = (r.clone(), x.clone(), inside.clone());
            thread::spawn(move || {
                // The same RLock twice: re-entered, two levels.
                let mut g = acquire((&*x, &*r, &*r)).unwrap();
                assert_eq!(r.hold_count(), 2);
                critical_section(&inside, || {
                    *g.0 += 1;
                    g.1.set(g.2.get() + 1);
                });
            })
        };
        {
            let mut g = acquire((&*r, &*x)).unwrap();
            critical_section(&inside, || {
                g.0.set(g.0.get() + 1);
                *g.1 += 1;
            });
        }
        t.join().unwrap();
        assert_eq!(r.lock().get(), 2);
        assert_eq!(*x.lock(), 2);
        assert!(!r.is_locked() && !x.is_locked());
    });
}

#[test]
fn nested_upward_call_against_opposite_pair() {
    loom::model(|| {
        let x = Arc::new(Lock::new(0usize));
        let y = Arc::new(Lock::new(0usize));
        let t = {
            let (x, y) = (x.clone(), y.clone());
            thread::spawn(move || {
                // x, then (nested, going up) y.
                let mut outer = acquire((&*x,)).unwrap();
                let mut inner = acquire((&*y,)).unwrap();
                // A nested call going down is refused without blocking.
                assert!(acquire((&*x,)).is_err());
                *outer.0 += 1;
                *inner.0 += 1;
                drop(outer); // out of order
                drop(inner);
            })
        };
        {
            let mut g = acquire((&*y, &*x)).unwrap();
            assert_eq!(*g.0, *g.1);
            *g.0 += 1;
            *g.1 += 1;
        }
        t.join().unwrap();
        assert_eq!((*x.lock(), *y.lock()), (2, 2));
    });
}

#[test]
fn three_philosophers() {
    loom::model(|| {
        let forks: Arc<[Lock<usize>; 3]> = Arc::new([Lock::new(0), Lock::new(0), Lock::new(0)]);
        let eat = |forks: &[Lock<usize>; 3], i: usize| {
            let mut g = acquire([&forks[i], &forks[(i + 1) % 3]]).unwrap();
            *g[0] += 1;
            *g[1] += 1;
        };
        let handles: Vec<_> = (1..3)
            .map(|i| {
                let forks = forks.clone();
                thread::spawn(move || eat(&forks, i))
            })
            .collect();
        eat(&forks, 0);
        for h in handles {
            h.join().unwrap();
        }
        assert!(forks.iter().all(|f| *f.lock() == 2));
    });
}
