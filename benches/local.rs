//! `Local::with_or` on an initialized value, against the `thread_local`
//! crate's `ThreadLocal::get_or` and std's `thread_local!` with a `Cell`:
//! one thread, and two threads using the same object at once.
//!
//! Each operation increments this thread's `Cell<u64>`, in a function that
//! is not inlined into the measuring loop (the same call overhead for all
//! three, and no lookup hoisted out of the loop). Target: `Local` within
//! 1.2x of `ThreadLocal` in the same run.

use std::cell::Cell;
use std::hint::black_box;
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use thread_local::ThreadLocal;
use threadkit::Local;

std::thread_local! {
    static STD: Cell<u64> = const { Cell::new(0) };
}

#[inline(always)]
fn bump(counter: &Cell<u64>) {
    counter.set(counter.get() + 1);
}

#[inline(never)]
fn local_op(local: &Local<Cell<u64>>) {
    black_box(local).with_or(|| Cell::new(0), bump);
}

#[inline(never)]
fn thread_local_op(tl: &ThreadLocal<Cell<u64>>) {
    bump(black_box(tl).get_or(|| Cell::new(0)));
}

#[inline(never)]
fn std_op() {
    black_box(&STD).with(bump);
}

fn one_thread(c: &mut Criterion) {
    let mut group = c.benchmark_group("local/with_or/1 thread");
    let local = Local::new();
    local_op(&local);
    group.bench_function("threadkit::Local", |b| b.iter(|| local_op(&local)));
    let tl = ThreadLocal::new();
    thread_local_op(&tl);
    group.bench_function("thread_local::ThreadLocal", |b| b.iter(|| thread_local_op(&tl)));
    group.bench_function("std thread_local!", |b| b.iter(std_op));
    group.finish();
}

/// `iters` operations on each of two threads at once; reports the slower
/// thread's time (per-operation latency while the other thread runs too).
fn two_threads(iters: u64, op: &(impl Fn() + Sync)) -> Duration {
    let barrier = Barrier::new(2);
    thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    op(); // initialize this thread's value
                    barrier.wait();
                    let start = Instant::now();
                    for _ in 0..iters {
                        op();
                    }
                    start.elapsed()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).max().unwrap()
    })
}

fn shared_by_two_threads(c: &mut Criterion) {
    let mut group = c.benchmark_group("local/with_or/2 threads");
    let local = Local::new();
    group.bench_function("threadkit::Local", |b| {
        b.iter_custom(|iters| two_threads(iters, &|| local_op(&local)))
    });
    let tl = ThreadLocal::new();
    group.bench_function("thread_local::ThreadLocal", |b| {
        b.iter_custom(|iters| two_threads(iters, &|| thread_local_op(&tl)))
    });
    group.bench_function("std thread_local!", |b| {
        b.iter_custom(|iters| two_threads(iters, &std_op))
    });
    group.finish();
}

criterion_group!(benches, one_thread, shared_by_two_threads);
criterion_main!(benches);
