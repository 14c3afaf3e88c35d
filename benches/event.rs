//! `Event` against the usual substitute, a `parking_lot` `Mutex<bool>` +
//! `Condvar`, and `Event::is_set` against a bare `AtomicBool` load.
//!
//! Handoff: two threads and two events, `ping` and `pong`. Thread A sets
//! `ping` and waits for `pong`; thread B waits for `ping`, clears it and
//! sets `pong`; A clears `pong` and goes again. One iteration is one round
//! trip (two set/wait handoffs, each followed by a clear, before the next
//! set of that event). Both sides run the identical protocol. The threads
//! are spawned outside the timed region.
//!
//! Run: `cargo bench --bench event -- --warm-up-time 1 --measurement-time 3`.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};

/// The set/wait/clear surface both contestants share.
trait Flag: Sync {
    fn new() -> Self;
    fn set(&self);
    fn clear(&self);
    fn wait(&self);
    fn is_set(&self) -> bool;
}

impl Flag for threadkit::Event {
    fn new() -> Self {
        threadkit::Event::new()
    }
    #[inline]
    fn set(&self) {
        threadkit::Event::set(self);
    }
    #[inline]
    fn clear(&self) {
        threadkit::Event::clear(self);
    }
    #[inline]
    fn wait(&self) {
        threadkit::Event::wait(self);
    }
    #[inline]
    fn is_set(&self) -> bool {
        threadkit::Event::is_set(self)
    }
}

/// The textbook event: a flag under a mutex and a condition variable.
struct PlEvent {
    flag: parking_lot::Mutex<bool>,
    cond: parking_lot::Condvar,
}

impl Flag for PlEvent {
    fn new() -> Self {
        PlEvent { flag: parking_lot::Mutex::new(false), cond: parking_lot::Condvar::new() }
    }
    #[inline]
    fn set(&self) {
        let mut flag = self.flag.lock();
        *flag = true;
        self.cond.notify_all();
    }
    #[inline]
    fn clear(&self) {
        *self.flag.lock() = false;
    }
    #[inline]
    fn wait(&self) {
        let mut flag = self.flag.lock();
        self.cond.wait_while(&mut flag, |set| !*set);
    }
    #[inline]
    fn is_set(&self) -> bool {
        *self.flag.lock()
    }
}

fn handoff<E: Flag>(iters: u64) -> Duration {
    let ping = E::new();
    let pong = E::new();
    thread::scope(|s| {
        s.spawn(|| {
            for _ in 0..iters {
                ping.wait();
                ping.clear();
                pong.set();
            }
        });
        let start = Instant::now();
        for _ in 0..iters {
            ping.set();
            pong.wait();
            pong.clear();
        }
        start.elapsed()
    })
}

fn bench_handoff(c: &mut Criterion) {
    let mut group = c.benchmark_group("event/handoff");
    group.bench_function("threadkit", |b| b.iter_custom(handoff::<threadkit::Event>));
    group.bench_function("parking_lot_mutex_condvar", |b| b.iter_custom(handoff::<PlEvent>));
    group.finish();
}

fn bench_is_set(c: &mut Criterion) {
    let mut group = c.benchmark_group("event/is_set");
    let event = threadkit::Event::new();
    event.set();
    group.bench_function("threadkit", |b| b.iter(|| black_box(&event).is_set()));
    let flag = AtomicBool::new(true);
    group.bench_function("atomic_bool_acquire", |b| {
        b.iter(|| black_box(&flag).load(Ordering::Acquire))
    });
    let pl = PlEvent::new();
    pl.set();
    group.bench_function("parking_lot_mutex_condvar", |b| b.iter(|| black_box(&pl).is_set()));
    group.finish();
}

/// `set` of an already-set event and `set`+`clear` with nobody waiting:
/// the costs a signalling thread pays when no one is blocked.
fn bench_set_clear(c: &mut Criterion) {
    let mut group = c.benchmark_group("event/set_clear_no_waiters");
    let event = threadkit::Event::new();
    group.bench_function("threadkit", |b| {
        b.iter(|| {
            let e = black_box(&event);
            e.set();
            e.clear();
        })
    });
    let pl = PlEvent::new();
    group.bench_function("parking_lot_mutex_condvar", |b| {
        b.iter(|| {
            let e = black_box(&pl);
            e.set();
            e.clear();
        })
    });
    group.finish();
}

criterion_group!(benches, bench_handoff, bench_is_set, bench_set_clear);
criterion_main!(benches);
