//! `Event`: behaviour tests against the public API.
//!
//! Timing assertions are lower bounds only.
#![cfg(not(loom))]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use threadkit::Event;

/// A timeout long enough never to expire in a passing test.
const LONG: Duration = Duration::from_secs(30);

/// Waits until `count` reaches `n` (each waiter bumps it right before it
/// calls `wait*`), then gives the waiters time to get from there into the
/// wait queue. An `Event` has no lock to observe, so this last step is a
/// sleep; tests that depend on it are written to pass even if a waiter is
/// late (see `set_then_clear_releases_every_blocked_waiter_with_true`).
fn until_waiting(count: &AtomicUsize, n: usize) {
    let start = Instant::now();
    while count.load(Ordering::SeqCst) < n {
        assert!(start.elapsed() < LONG, "waiters never started");
        thread::sleep(Duration::from_millis(1));
    }
    thread::sleep(Duration::from_millis(100));
}

/// The seeds' scenario: five threads wait, one `set` releases them all.
#[test]
fn five_threads_released_by_one_set() {
    let event = Event::new();
    let started = AtomicUsize::new(0);
    let released = AtomicUsize::new(0);
    thread::scope(|s| {
        for _ in 0..5 {
            s.spawn(|| {
                started.fetch_add(1, Ordering::SeqCst);
                event.wait();
                assert!(event.is_set());
                released.fetch_add(1, Ordering::SeqCst);
            });
        }
        until_waiting(&started, 5);
        assert_eq!(released.load(Ordering::SeqCst), 0, "a waiter returned before set");
        event.set();
    });
    assert_eq!(released.load(Ordering::SeqCst), 5);
}

/// `set` immediately followed by `clear` while waiters are blocked: every
/// waiter returns `true` (Python's semantics: the flag as it was when the
/// waiter was released).
///
/// Each waiter must be queued before the `set` for this to say anything; a
/// waiter that was late would miss it. So, 500 ms later, a second `set`
/// rescues any late waiter (then it also returns `true`), while a broken
/// implementation that re-reads the flag after its wakeup returns `false`
/// right after the first `set`/`clear`, long before the rescue.
#[test]
fn set_then_clear_releases_every_blocked_waiter_with_true() {
    let event = Event::new();
    let started = AtomicUsize::new(0);
    thread::scope(|s| {
        let waiters: Vec<_> = (0..5)
            .map(|_| {
                s.spawn(|| {
                    started.fetch_add(1, Ordering::SeqCst);
                    event.wait_timeout(LONG)
                })
            })
            .collect();
        until_waiting(&started, 5);
        event.set();
        event.clear();
        assert!(!event.is_set());
        thread::sleep(Duration::from_millis(500));
        event.set();
        for w in waiters {
            assert!(w.join().unwrap(), "a waiter released by set returned false");
        }
    });
}

#[test]
fn wait_returns_at_once_when_set() {
    let event = Event::new();
    event.set();
    event.wait();
    assert!(event.wait_timeout(LONG));
    assert!(event.wait_deadline(Instant::now() + LONG));
    assert!(event.is_set(), "waiting does not consume the flag");
}

#[test]
fn set_is_idempotent_and_clear_resets() {
    let event = Event::new();
    event.set();
    event.set();
    assert!(event.is_set());
    event.clear();
    event.clear();
    assert!(!event.is_set());
    assert!(!event.wait_timeout(Duration::from_millis(5)));
}

#[test]
fn wait_timeout_returns_false_after_its_duration() {
    let event = Event::new();
    let timeout = Duration::from_millis(50);
    let start = Instant::now();
    assert!(!event.wait_timeout(timeout));
    assert!(start.elapsed() >= timeout);
}

#[test]
fn wait_deadline_returns_false_at_its_deadline() {
    let event = Event::new();
    let deadline = Instant::now() + Duration::from_millis(50);
    assert!(!event.wait_deadline(deadline));
    assert!(Instant::now() >= deadline);
    // A deadline already past just reads the flag.
    assert!(!event.wait_deadline(Instant::now()));
    event.set();
    assert!(event.wait_deadline(Instant::now()));
}

#[test]
fn zero_timeout_reads_the_flag() {
    let event = Event::new();
    assert!(!event.wait_timeout(Duration::ZERO));
    event.set();
    assert!(event.wait_timeout(Duration::ZERO));
    event.clear();
    assert!(!event.wait_timeout(Duration::ZERO));
}

#[test]
fn timed_waiter_released_by_set_returns_true() {
    let event = Event::new();
    let started = AtomicUsize::new(0);
    thread::scope(|s| {
        let waiter = s.spawn(|| {
            started.fetch_add(1, Ordering::SeqCst);
            event.wait_timeout(LONG)
        });
        until_waiting(&started, 1);
        event.set();
        assert!(waiter.join().unwrap());
    });
}

#[test]
fn duration_max_waits_until_set() {
    let event = Event::new();
    thread::scope(|s| {
        let waiter = s.spawn(|| event.wait_timeout(Duration::MAX));
        thread::sleep(Duration::from_millis(20));
        event.set();
        assert!(waiter.join().unwrap());
    });
}

/// No spurious wakeups: an unset event holds a timed waiter for its whole
/// timeout, even while other threads set and clear another event.
#[test]
fn unset_event_holds_waiter_for_whole_timeout() {
    let event = Event::new();
    let other = Event::new();
    let stop = Event::new();
    thread::scope(|s| {
        s.spawn(|| {
            while !stop.is_set() {
                other.set();
                other.clear();
                thread::sleep(Duration::from_millis(1));
            }
        });
        let timeout = Duration::from_millis(100);
        let start = Instant::now();
        assert!(!event.wait_timeout(timeout));
        assert!(start.elapsed() >= timeout);
        stop.set();
    });
}

/// Sets `abort` and both events if its thread panics, so that a failed
/// assertion on one side of a two-thread handoff ends the test instead of
/// leaving the other side blocked forever.
struct UnblockOnPanic<'a> {
    abort: &'a AtomicBool,
    events: [&'a Event; 2],
}

impl Drop for UnblockOnPanic<'_> {
    fn drop(&mut self) {
        if thread::panicking() {
            self.abort.store(true, Ordering::SeqCst);
            for e in self.events {
                e.set();
            }
        }
    }
}

/// Two threads hand a turn back and forth through two events, many times,
/// each clearing the event it waited for: every `wait` returns only after
/// the matching `set` of its own round. (A `set` racing the other side's
/// `clear` and next `wait` must not wake that next wait early.)
#[test]
fn ping_pong_through_two_events() {
    const ROUNDS: usize = if cfg!(miri) { 50 } else { 20_000 };
    let ping = Event::new();
    let pong = Event::new();
    let sent_ping = AtomicUsize::new(0);
    let sent_pong = AtomicUsize::new(0);
    let abort = AtomicBool::new(false);
    thread::scope(|s| {
        s.spawn(|| {
            let _unblock = UnblockOnPanic { abort: &abort, events: [&ping, &pong] };
            for round in 0..ROUNDS {
                ping.wait();
                if abort.load(Ordering::SeqCst) {
                    return;
                }
                assert_eq!(sent_ping.load(Ordering::Relaxed), round + 1, "ping woke early");
                ping.clear();
                sent_pong.store(round + 1, Ordering::Relaxed);
                pong.set();
            }
        });
        let _unblock = UnblockOnPanic { abort: &abort, events: [&ping, &pong] };
        for round in 0..ROUNDS {
            sent_ping.store(round + 1, Ordering::Relaxed);
            ping.set();
            pong.wait();
            if abort.load(Ordering::SeqCst) {
                return; // the partner failed; the scope reports its panic
            }
            assert_eq!(sent_pong.load(Ordering::Relaxed), round + 1, "pong woke early");
            pong.clear();
        }
    });
}

/// Many timed waiters with short timeouts racing set/clear cycles: every
/// wait returns, and a `true` is only ever reported after a `set`.
#[test]
fn timed_waiters_racing_set_and_clear() {
    let event = Event::new();
    let sets = AtomicUsize::new(0);
    let done = Event::new();
    thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                for _ in 0..if cfg!(miri) { 20 } else { 2_000 } {
                    if event.wait_timeout(Duration::from_micros(50)) {
                        assert!(sets.load(Ordering::SeqCst) > 0, "true before any set");
                    }
                }
            });
        }
        s.spawn(|| {
            while !done.wait_timeout(Duration::from_micros(10)) {
                sets.fetch_add(1, Ordering::SeqCst);
                event.set();
                event.clear();
            }
        });
        thread::sleep(Duration::from_millis(200));
        done.set();
    });
}

#[test]
fn debug_default_send_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Event>();
    let event = Event::default();
    assert!(!event.is_set());
    assert_eq!(format!("{event:?}"), "Event { is_set: false }");
    event.set();
    assert_eq!(format!("{event:?}"), "Event { is_set: true }");
}
