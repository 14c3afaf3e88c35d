//! `Lock` and `RLock` against their peers, one criterion group per
//! comparison so that same-run ratios sit next to each other:
//!
//! - `lock_uncontended`: lock, increment a `u64`, unlock, on one thread:
//!   `threadkit::Lock` vs `parking_lot::Mutex` vs `std::sync::Mutex`.
//! - `rlock_first_acquire`: the same with a reentrant lock taken from free
//!   (`threadkit::RLock` vs `parking_lot::ReentrantMutex`).
//! - `rlock_depth3`: three nested levels taken and released per iteration.
//! - `lock_contended_{2,4,8}_threads`: N threads share one counter; the
//!   time is per increment, measured from a barrier that releases the
//!   already-spawned threads until the last one finishes (thread spawning
//!   is not measured).
//!
//! Run: `cargo bench --bench lock` (add `-- --warm-up-time 1
//! --measurement-time 2` for a quick pass).

use std::cell::Cell;
use std::hint::black_box;
use std::mem::size_of;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group};
use threadkit::{Lock, RLock};

fn lock_uncontended(c: &mut Criterion) {
    let mut group = c.benchmark_group("lock_uncontended");
    let lock = Lock::new(0u64);
    group.bench_function("threadkit", |b| b.iter(|| *black_box(&lock).lock() += 1));
    let lock = parking_lot::Mutex::new(0u64);
    group.bench_function("parking_lot", |b| b.iter(|| *black_box(&lock).lock() += 1));
    let lock = std::sync::Mutex::new(0u64);
    group.bench_function("std", |b| b.iter(|| *black_box(&lock).lock().unwrap() += 1));
    group.finish();
}

fn bump(cell: &Cell<u64>) {
    cell.set(cell.get() + 1);
}

fn rlock_first_acquire(c: &mut Criterion) {
    let mut group = c.benchmark_group("rlock_first_acquire");
    let lock = RLock::new(Cell::new(0u64));
    group.bench_function("threadkit", |b| b.iter(|| bump(&black_box(&lock).lock())));
    let lock = parking_lot::ReentrantMutex::new(Cell::new(0u64));
    group.bench_function("parking_lot", |b| b.iter(|| bump(&black_box(&lock).lock())));
    group.finish();
}

fn rlock_depth3(c: &mut Criterion) {
    let mut group = c.benchmark_group("rlock_depth3");
    let lock = RLock::new(Cell::new(0u64));
    group.bench_function("threadkit", |b| {
        b.iter(|| {
            let lock = black_box(&lock);
            let _outer = lock.lock();
            let _middle = lock.lock();
            bump(&lock.lock());
        })
    });
    let lock = parking_lot::ReentrantMutex::new(Cell::new(0u64));
    group.bench_function("parking_lot", |b| {
        b.iter(|| {
            let lock = black_box(&lock);
            let _outer = lock.lock();
            let _middle = lock.lock();
            bump(&lock.lock());
        })
    });
    group.finish();
}

/// Time for `iters` increments of a shared counter split over `threads`
/// threads, each running `increment` in a loop: from the first worker
/// leaving the start barrier (all are spawned by then) to the last one
/// finishing. Each worker reads the clock itself, so thread spawning and
/// joining are not measured.
fn contended(threads: u64, iters: u64, increment: impl Fn() + Sync) -> Duration {
    let barrier = Barrier::new(threads as usize);
    let spans: Vec<(Instant, Instant)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let (barrier, increment) = (&barrier, &increment);
                // Spread the remainder so the total is exactly `iters`.
                let share = iters / threads + u64::from(t < iters % threads);
                s.spawn(move || {
                    barrier.wait();
                    let start = Instant::now();
                    for _ in 0..share {
                        increment();
                    }
                    (start, Instant::now())
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let start = spans.iter().map(|span| span.0).min().expect("at least one thread");
    let end = spans.iter().map(|span| span.1).max().expect("at least one thread");
    end - start
}

fn lock_contended(c: &mut Criterion) {
    for threads in [2u64, 4, 8] {
        let mut group = c.benchmark_group(format!("lock_contended_{threads}_threads"));
        group.bench_function("threadkit", |b| {
            b.iter_custom(|iters| {
                let lock = Lock::new(0u64);
                let time = contended(threads, iters, || *lock.lock() += 1);
                assert_eq!(lock.into_inner(), iters);
                time
            })
        });
        group.bench_function("parking_lot", |b| {
            b.iter_custom(|iters| {
                let lock = parking_lot::Mutex::new(0u64);
                let time = contended(threads, iters, || *lock.lock() += 1);
                assert_eq!(lock.into_inner(), iters);
                time
            })
        });
        group.bench_function("std", |b| {
            b.iter_custom(|iters| {
                let lock = std::sync::Mutex::new(0u64);
                let time = contended(threads, iters, || *lock.lock().unwrap() += 1);
                assert_eq!(lock.into_inner().unwrap(), iters);
                time
            })
        });
        group.finish();
    }
}

fn print_sizes() {
    println!(
        "sizes: Lock<()> {} B, parking_lot::Mutex<()> {} B, std::sync::Mutex<()> {} B; \
         RLock<()> {} B, parking_lot::ReentrantMutex<()> {} B",
        size_of::<Lock<()>>(),
        size_of::<parking_lot::Mutex<()>>(),
        size_of::<std::sync::Mutex<()>>(),
        size_of::<RLock<()>>(),
        size_of::<parking_lot::ReentrantMutex<()>>(),
    );
}

criterion_group!(benches, lock_uncontended, rlock_first_acquire, rlock_depth3, lock_contended);

fn main() {
    print_sizes();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
