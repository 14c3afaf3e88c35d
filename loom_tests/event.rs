//! Loom models for `Event`.
//!
//! Run with `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test
//! --release --target-dir target/loom --test loom_event`.
#![cfg(loom)]

use std::time::Duration;

use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;
use threadkit::Event;
use threadkit::loom_support::{LoomTimeouts, set_loom_timeouts};

/// Under `LoomTimeouts::Expire` a timed wait may expire at any point; its
/// length is irrelevant under loom.
const SOME_TIME: Duration = Duration::from_secs(1);

/// One `set` releases two waiters, and what the setter wrote (relaxed)
/// before `set` is visible to each of them afterwards.
#[test]
fn set_releases_every_waiter_and_publishes() {
    set_loom_timeouts(LoomTimeouts::Never);
    loom::model(|| {
        let event = Arc::new(Event::new());
        let data = Arc::new(AtomicUsize::new(0));
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let (event, data) = (event.clone(), data.clone());
                thread::spawn(move || {
                    event.wait();
                    assert!(event.is_set());
                    assert_eq!(data.load(Ordering::Relaxed), 42);
                })
            })
            .collect();
        data.store(42, Ordering::Relaxed);
        event.set();
        for w in waiters {
            w.join().unwrap();
        }
    });
}

/// `set` immediately followed by `clear`: a waiter queued at the `set` is
/// released and reports `true` although the flag is clear again by the time
/// it runs.
///
/// The waiter cannot be known to be queued before the `set` (an `Event` has
/// no lock to observe), so the setter sets a second time after the clear:
/// that rescues a waiter that arrived after the clear, which would otherwise
/// block forever. Timeouts never expire here, so `wait_timeout` can return
/// only because of a `set`, and must then say `true`; an implementation
/// that re-read the flag after its wakeup would return `false` in the
/// interleaving where the clear lands before the woken waiter runs.
#[test]
fn set_then_clear_releases_the_waiter_with_true() {
    set_loom_timeouts(LoomTimeouts::Never);
    loom::model(|| {
        let event = Arc::new(Event::new());
        let data = Arc::new(AtomicUsize::new(0));
        let (e2, d2) = (event.clone(), data.clone());
        let waiter = thread::spawn(move || {
            assert!(e2.wait_timeout(SOME_TIME), "a waiter released by set reports true");
            assert_eq!(d2.load(Ordering::Relaxed), 1);
        });
        data.store(1, Ordering::Relaxed);
        event.set();
        event.clear();
        assert!(!event.is_set());
        event.set();
        waiter.join().unwrap();
        assert!(event.is_set());
    });
}

/// Set, clear and set again from another thread while one thread waits: the
/// waiter always returns, and the final state is set.
#[test]
fn set_clear_set_with_waiter() {
    set_loom_timeouts(LoomTimeouts::Never);
    loom::model(|| {
        let event = Arc::new(Event::new());
        let e2 = event.clone();
        let setter = thread::spawn(move || {
            e2.set();
            e2.clear();
            e2.set();
        });
        event.wait();
        setter.join().unwrap();
        assert!(event.is_set());
        event.wait();
    });
}

/// A timed waiter and an untimed waiter racing `set`, `clear`, `set`, with
/// timeouts that may expire at any point. The timed waiter's withdrawal
/// never strands the untimed one (loom would report it blocked forever); a
/// `true` result means the setter's earlier write is visible; and a wait
/// that begins after the last `set` returned always reports `true`.
#[test]
fn timed_wait_racing_set_and_clear() {
    set_loom_timeouts(LoomTimeouts::Expire);
    loom::model(|| {
        let event = Arc::new(Event::new());
        let data = Arc::new(AtomicUsize::new(0));
        let set_done = Arc::new(AtomicUsize::new(0));
        let (e2, d2, s2) = (event.clone(), data.clone(), set_done.clone());
        let timed = thread::spawn(move || {
            let set_before = s2.load(Ordering::SeqCst) == 1;
            let result = e2.wait_timeout(SOME_TIME);
            if set_before {
                assert!(result, "missed a set that completed before the wait");
            }
            if result {
                assert_eq!(d2.load(Ordering::Relaxed), 1);
            }
        });
        let (e3, d3) = (event.clone(), data.clone());
        let untimed = thread::spawn(move || {
            e3.wait();
            assert_eq!(d3.load(Ordering::Relaxed), 1);
        });
        data.store(1, Ordering::Relaxed);
        event.set();
        event.clear();
        event.set();
        set_done.store(1, Ordering::SeqCst);
        timed.join().unwrap();
        untimed.join().unwrap();
    });
}

/// A timed waiter racing `set` with no clear: a `set` that completed
/// before the wait began is always seen (even by a wait that may expire),
/// and a `true` result means the flag is set and stays set.
#[test]
fn timed_wait_racing_set() {
    set_loom_timeouts(LoomTimeouts::Expire);
    loom::model(|| {
        let event = Arc::new(Event::new());
        let set_done = Arc::new(AtomicUsize::new(0));
        let (e2, s2) = (event.clone(), set_done.clone());
        let waiter = thread::spawn(move || {
            let set_before = s2.load(Ordering::SeqCst) == 1;
            let result = e2.wait_timeout(SOME_TIME);
            if set_before {
                assert!(result, "missed a set that completed before the wait");
            }
            if result {
                assert!(e2.is_set());
            }
        });
        event.set();
        set_done.store(1, Ordering::SeqCst);
        waiter.join().unwrap();
        assert!(event.wait_timeout(SOME_TIME));
    });
}

/// Two threads hand a turn back and forth through two events (`ping`,
/// `pong`), clearing each after waiting for it. Every `wait` must return
/// only after the matching `set` of this round: a `set` whose flag change
/// was already cleared must not wake a waiter that queued after the clear
/// (that would be a spurious wakeup, and the rounds would drift apart).
#[test]
fn ping_pong_rounds_never_wake_early() {
    set_loom_timeouts(LoomTimeouts::Never);
    loom::model(|| {
        const ROUNDS: usize = 2;
        let ping = Arc::new(Event::new());
        let pong = Arc::new(Event::new());
        let sent_ping = Arc::new(AtomicUsize::new(0));
        let sent_pong = Arc::new(AtomicUsize::new(0));
        let (ping2, pong2, sp2, so2) =
            (ping.clone(), pong.clone(), sent_ping.clone(), sent_pong.clone());
        let partner = thread::spawn(move || {
            for round in 0..ROUNDS {
                ping2.wait();
                assert_eq!(sp2.load(Ordering::Relaxed), round + 1, "ping woke early");
                ping2.clear();
                so2.store(round + 1, Ordering::Relaxed);
                pong2.set();
            }
        });
        for round in 0..ROUNDS {
            sent_ping.store(round + 1, Ordering::Relaxed);
            ping.set();
            pong.wait();
            assert_eq!(sent_pong.load(Ordering::Relaxed), round + 1, "pong woke early");
            pong.clear();
        }
        partner.join().unwrap();
    });
}
