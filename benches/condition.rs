//! `Condition` against `parking_lot::Condvar` and `std::sync::Condvar`.
//!
//! Ping-pong: two threads pass a turn flag back and forth through one lock
//! and one condition variable. Each thread waits while it is not its turn,
//! then flips the flag and notifies. One iteration is one round trip (two
//! handoffs), so the reported time per iteration is the round-trip time.
//! The threads are spawned outside the timed region. Two groups:
//!
//! - `condition/ping_pong`: notify while holding the lock (the usual
//!   idiom). Here parking_lot's `Condvar` moves the woken thread straight
//!   onto the mutex's queue (requeue), so it is not woken only to find the
//!   mutex still held.
//! - `condition/ping_pong_notify_unlocked`: release the lock, notify, take
//!   the lock back, then wait.
//!
//! Run: `cargo bench --bench condition -- --warm-up-time 1 --measurement-time 3`.

use std::hint::black_box;
use std::thread;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};

/// `iters` round trips with threadkit's `Lock` + `Condition`.
fn threadkit_ping_pong(iters: u64, notify_unlocked: bool) -> Duration {
    use threadkit::{Condition, Lock, LockGuard};
    let turn = Lock::new(false); // false: main's turn; true: the partner's
    let cond = Condition::new();
    let pass = |g: &mut LockGuard<'_, bool>, to_partner: bool| {
        **g = to_partner;
        if notify_unlocked {
            LockGuard::unlocked(g, || cond.notify_one());
        } else {
            cond.notify_one();
        }
    };
    thread::scope(|s| {
        s.spawn(|| {
            let mut g = turn.lock();
            for _ in 0..iters {
                cond.wait_while(&mut g, |partners| !*partners);
                pass(&mut g, false);
            }
        });
        let start = Instant::now();
        let mut g = turn.lock();
        for _ in 0..iters {
            pass(&mut g, true);
            cond.wait_while(&mut g, |partners| *partners);
        }
        drop(g);
        start.elapsed()
    })
}

/// The same with `parking_lot::Mutex` + `parking_lot::Condvar`.
fn parking_lot_ping_pong(iters: u64, notify_unlocked: bool) -> Duration {
    use parking_lot::{Condvar, Mutex, MutexGuard};
    let turn = Mutex::new(false);
    let cond = Condvar::new();
    let pass = |g: &mut MutexGuard<'_, bool>, to_partner: bool| {
        **g = to_partner;
        if notify_unlocked {
            MutexGuard::unlocked(g, || cond.notify_one());
        } else {
            cond.notify_one();
        }
    };
    thread::scope(|s| {
        s.spawn(|| {
            let mut g = turn.lock();
            for _ in 0..iters {
                cond.wait_while(&mut g, |partners| !*partners);
                pass(&mut g, false);
            }
        });
        let start = Instant::now();
        let mut g = turn.lock();
        for _ in 0..iters {
            pass(&mut g, true);
            cond.wait_while(&mut g, |partners| *partners);
        }
        drop(g);
        start.elapsed()
    })
}

/// Hands the turn over with std's by-value guards.
fn std_pass<'a>(
    turn: &'a std::sync::Mutex<bool>,
    cond: &std::sync::Condvar,
    mut g: std::sync::MutexGuard<'a, bool>,
    to_partner: bool,
    notify_unlocked: bool,
) -> std::sync::MutexGuard<'a, bool> {
    *g = to_partner;
    if notify_unlocked {
        drop(g);
        cond.notify_one();
        turn.lock().unwrap()
    } else {
        cond.notify_one();
        g
    }
}

/// The same with `std::sync::Mutex` + `std::sync::Condvar`.
fn std_ping_pong(iters: u64, notify_unlocked: bool) -> Duration {
    let turn = std::sync::Mutex::new(false);
    let cond = std::sync::Condvar::new();
    thread::scope(|s| {
        s.spawn(|| {
            let mut g = turn.lock().unwrap();
            for _ in 0..iters {
                g = cond.wait_while(g, |partners| !*partners).unwrap();
                g = std_pass(&turn, &cond, g, false, notify_unlocked);
            }
        });
        let start = Instant::now();
        let mut g = turn.lock().unwrap();
        for _ in 0..iters {
            g = std_pass(&turn, &cond, g, true, notify_unlocked);
            g = cond.wait_while(g, |partners| *partners).unwrap();
        }
        drop(g);
        start.elapsed()
    })
}

fn ping_pong(c: &mut Criterion) {
    for (name, unlocked) in
        [("condition/ping_pong", false), ("condition/ping_pong_notify_unlocked", true)]
    {
        let mut group = c.benchmark_group(name);
        group.bench_function("threadkit", |b| b.iter_custom(|n| threadkit_ping_pong(n, unlocked)));
        group.bench_function("parking_lot", |b| {
            b.iter_custom(|n| parking_lot_ping_pong(n, unlocked))
        });
        group.bench_function("std", |b| b.iter_custom(|n| std_ping_pong(n, unlocked)));
        group.finish();
    }
}

/// Notifying with nobody waiting (the common case for a producer that
/// notifies after every put).
fn notify_no_waiters(c: &mut Criterion) {
    let mut group = c.benchmark_group("condition/notify_one_no_waiters");
    let tk = threadkit::Condition::new();
    group.bench_function("threadkit", |b| b.iter(|| black_box(&tk).notify_one()));
    let pl = parking_lot::Condvar::new();
    group.bench_function("parking_lot", |b| b.iter(|| black_box(&pl).notify_one()));
    let st = std::sync::Condvar::new();
    group.bench_function("std", |b| b.iter(|| black_box(&st).notify_one()));
    group.finish();
}

criterion_group!(benches, ping_pong, notify_no_waiters);
criterion_main!(benches);
