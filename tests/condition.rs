//! `Condition`: behaviour tests against the public API.
//!
//! Timing assertions are lower bounds only (a timed wait lasts at least its
//! timeout); the machine may be loaded, so nothing here asserts how quickly
//! something happens.
#![cfg(not(loom))]

use std::cell::Cell;
use std::collections::VecDeque;
use std::panic::{self, AssertUnwindSafe};
use std::thread;
use std::time::{Duration, Instant};

use threadkit::{Condition, Lock, RLock, WaitTimeoutResult};

/// How long to watch for something that must not happen.
const QUIET: Duration = Duration::from_millis(50);
/// A timeout long enough never to expire in a passing test.
const LONG: Duration = Duration::from_secs(30);

/// Polls `lock` until `done` holds, sleeping between looks. Panics after
/// 30 s so that a broken implementation fails instead of hanging.
fn wait_for<T>(lock: &Lock<T>, mut done: impl FnMut(&T) -> bool) {
    let start = Instant::now();
    loop {
        if done(&lock.lock()) {
            return;
        }
        assert!(start.elapsed() < LONG, "gave up waiting for a condition");
        thread::sleep(Duration::from_millis(1));
    }
}

/// Shared state of the queued-waiter tests: `queued` counts waiters that
/// took the lock and are about to wait; `woken` lists, in order, the ids of
/// waiters whose single `wait` returned.
#[derive(Default)]
struct Waiters {
    queued: usize,
    woken: Vec<usize>,
}

/// Starts waiter `id` and returns once it is queued on `cond`.
///
/// The waiter bumps `queued` under the lock and then waits, which releases
/// the lock only after it has been queued. So once this thread sees the
/// count advance, under the same lock, the waiter is in the queue; starting
/// waiters one at a time this way queues them in a known order.
///
/// Each waiter calls `wait` exactly once, with no predicate loop: it returns
/// only when notified, so any early entry in `woken` is a spurious wakeup.
fn spawn_queued<'scope>(
    s: &'scope thread::Scope<'scope, '_>,
    lock: &'scope Lock<Waiters>,
    cond: &'scope Condition,
    id: usize,
) -> thread::ScopedJoinHandle<'scope, ()> {
    let before = lock.lock().queued;
    let handle = s.spawn(move || {
        let mut state = lock.lock();
        state.queued += 1;
        cond.wait(&mut state);
        state.woken.push(id);
    });
    wait_for(lock, |st| st.queued == before + 1);
    handle
}

// ---------------------------------------------------------------------------
// The seeds' scenario

/// Hide-and-seek: two threads take turns through one `Condition`. The
/// seeker counts, then the hider hides, for several rounds; the log shows
/// strict alternation.
#[test]
fn hide_and_seek_two_threads_one_condition() {
    #[derive(PartialEq, Clone, Copy)]
    enum Turn {
        Seeker,
        Hider,
    }
    struct Game {
        turn: Turn,
        log: Vec<&'static str>,
    }
    const ROUNDS: usize = 20;
    let game = Lock::new(Game { turn: Turn::Seeker, log: Vec::new() });
    let cond = Condition::new();
    let play = |me: Turn, action: &'static str| {
        for _ in 0..ROUNDS {
            let mut g = game.lock();
            cond.wait_while(&mut g, |g| g.turn != me);
            g.log.push(action);
            g.turn = if me == Turn::Seeker { Turn::Hider } else { Turn::Seeker };
            cond.notify_one();
        }
    };
    thread::scope(|s| {
        s.spawn(|| play(Turn::Hider, "hide"));
        s.spawn(|| play(Turn::Seeker, "count"));
    });
    let log = game.into_inner().log;
    assert_eq!(log.len(), 2 * ROUNDS);
    for pair in log.chunks(2) {
        assert_eq!(pair, ["count", "hide"]);
    }
}

// ---------------------------------------------------------------------------
// notify counts

#[test]
fn notify_one_returns_false_without_waiters() {
    let cond = Condition::new();
    assert!(!cond.notify_one());
    assert_eq!(cond.notify(3), 0);
    assert_eq!(cond.notify_all(), 0);
}

#[test]
fn notify_one_returns_true_with_one_waiter() {
    let lock = Lock::new(Waiters::default());
    let cond = Condition::new();
    thread::scope(|s| {
        spawn_queued(s, &lock, &cond, 0);
        assert!(cond.notify_one());
        wait_for(&lock, |st| st.woken.len() == 1);
        assert!(!cond.notify_one(), "the woken waiter is no longer queued");
    });
}

#[test]
fn notify_n_wakes_exactly_n_of_five() {
    let lock = Lock::new(Waiters::default());
    let cond = Condition::new();
    thread::scope(|s| {
        for id in 0..5 {
            spawn_queued(s, &lock, &cond, id);
        }
        assert_eq!(cond.notify(0), 0, "notify(0) wakes none");
        thread::sleep(QUIET);
        assert!(lock.lock().woken.is_empty());

        assert_eq!(cond.notify(2), 2);
        wait_for(&lock, |st| st.woken.len() == 2);
        thread::sleep(QUIET);
        assert_eq!(lock.lock().woken.len(), 2, "notify(2) woke more than two");

        assert_eq!(cond.notify(1), 1);
        wait_for(&lock, |st| st.woken.len() == 3);

        assert_eq!(cond.notify(10), 2, "only two were left");
        wait_for(&lock, |st| st.woken.len() == 5);
        assert_eq!(cond.notify(10), 0);
    });
}

#[test]
fn notify_all_returns_the_count() {
    let lock = Lock::new(Waiters::default());
    let cond = Condition::new();
    thread::scope(|s| {
        for id in 0..5 {
            spawn_queued(s, &lock, &cond, id);
        }
        assert_eq!(cond.notify_all(), 5);
        assert_eq!(cond.notify_all(), 0);
    });
    let mut woken = lock.into_inner().woken;
    woken.sort_unstable();
    assert_eq!(woken, [0, 1, 2, 3, 4]);
}

/// `notify_all` takes only the waiters queued at that moment: a waiter that
/// queues afterwards is the one a following `notify(1)` wakes.
#[test]
fn notify_all_then_new_waiter_then_notify_one_wakes_the_new_one() {
    let lock = Lock::new(Waiters::default());
    let cond = Condition::new();
    thread::scope(|s| {
        // The two waiters `notify_all` took are out of the queue whether or
        // not they have run yet; the new waiter is then alone in it.
        spawn_queued(s, &lock, &cond, 0);
        spawn_queued(s, &lock, &cond, 1);
        assert_eq!(cond.notify_all(), 2);
        spawn_queued(s, &lock, &cond, 2);
        assert_eq!(cond.notify(1), 1);
        wait_for(&lock, |st| st.woken.len() == 3);
        assert!(!cond.notify_one());
    });
    let mut woken = lock.into_inner().woken;
    woken.sort_unstable();
    assert_eq!(woken, [0, 1, 2]);
}

// ---------------------------------------------------------------------------
// FIFO order and no spurious wakeups

/// Waiters queued in a known order wake in that order, one per
/// `notify_one`, and a waiter not yet notified has not returned.
#[test]
fn waiters_wake_in_fifo_order() {
    const N: usize = 6;
    let lock = Lock::new(Waiters::default());
    let cond = Condition::new();
    thread::scope(|s| {
        for id in 0..N {
            spawn_queued(s, &lock, &cond, id);
        }
        for k in 0..N {
            assert!(cond.notify_one());
            wait_for(&lock, |st| st.woken.len() == k + 1);
            // Nobody else returns without a notify.
            thread::sleep(Duration::from_millis(10));
            assert_eq!(lock.lock().woken.len(), k + 1, "a waiter returned without a notify");
        }
        assert!(!cond.notify_one());
    });
    assert_eq!(lock.into_inner().woken, (0..N).collect::<Vec<_>>());
}

/// A waiter nobody notifies stays blocked for its whole timeout, even while
/// another `Condition` on the same lock is notified over and over.
#[test]
fn no_spurious_wakeup_while_other_condition_is_notified() {
    let lock = Lock::new(false);
    let mine = Condition::new();
    let other = Condition::new();
    let timeout = Duration::from_millis(100);
    thread::scope(|s| {
        let noisy = s.spawn(|| {
            while !*lock.lock() {
                other.notify_all();
                thread::sleep(Duration::from_millis(1));
            }
        });
        let start = Instant::now();
        let mut g = lock.lock();
        let result = mine.wait_timeout(&mut g, timeout);
        let elapsed = start.elapsed();
        *g = true;
        drop(g);
        assert!(result.timed_out());
        assert!(elapsed >= timeout, "returned after {elapsed:?}, before its timeout");
        noisy.join().unwrap();
    });
}

// ---------------------------------------------------------------------------
// RLock

#[test]
fn rlock_depth_restored_after_wait() {
    let lock = RLock::new(Cell::new(false));
    let cond = Condition::new();
    thread::scope(|s| {
        let waiter = s.spawn(|| {
            let _a = lock.lock();
            let _b = lock.lock();
            let mut c = lock.lock();
            assert_eq!(lock.hold_count(), 3);
            cond.wait_while(&mut c, |ready| !ready.get());
            assert!(lock.is_owned_by_current_thread());
            assert_eq!(lock.hold_count(), 3);
        });
        // The waiter holds three levels; it must release all of them while
        // waiting, or this would never get the lock.
        loop {
            let g = lock.lock();
            if cond.notify_one() {
                g.set(true);
                break;
            }
            drop(g);
            thread::sleep(Duration::from_millis(1));
        }
        waiter.join().unwrap();
    });
}

#[test]
fn rlock_depth_restored_after_timed_out_wait() {
    let lock = RLock::new(());
    let cond = Condition::new();
    let _a = lock.lock();
    let mut b = lock.lock();
    let start = Instant::now();
    assert!(cond.wait_timeout(&mut b, Duration::from_millis(20)).timed_out());
    assert!(start.elapsed() >= Duration::from_millis(20));
    assert_eq!(lock.hold_count(), 2);
    // While this thread waits (two levels held), another can take the lock:
    // it can only notify once it has it, so the wait ends by its notify.
    thread::scope(|s| {
        s.spawn(|| {
            let _g = lock.lock();
            assert!(cond.notify_one());
        });
        assert!(!cond.wait_timeout(&mut b, LONG).timed_out());
        assert_eq!(lock.hold_count(), 2);
    });
}

// ---------------------------------------------------------------------------
// Timeouts

#[test]
fn wait_timeout_times_out_after_its_duration() {
    let lock = Lock::new(());
    let cond = Condition::new();
    let timeout = Duration::from_millis(50);
    let start = Instant::now();
    let r: WaitTimeoutResult = cond.wait_timeout(&mut lock.lock(), timeout);
    assert!(r.timed_out());
    assert!(start.elapsed() >= timeout);
}

#[test]
fn wait_deadline_times_out_at_its_deadline() {
    let lock = RLock::new(());
    let cond = Condition::new();
    let deadline = Instant::now() + Duration::from_millis(50);
    assert!(cond.wait_deadline(&mut lock.lock(), deadline).timed_out());
    assert!(Instant::now() >= deadline);
    // A deadline in the past is a non-blocking attempt.
    assert!(cond.wait_deadline(&mut lock.lock(), Instant::now()).timed_out());
}

#[test]
fn zero_timeout_returns_at_once_timed_out() {
    let lock = Lock::new(());
    let cond = Condition::new();
    let mut g = lock.lock();
    assert!(cond.wait_timeout(&mut g, Duration::ZERO).timed_out());
    assert!(!cond.notify_one(), "a zero-timeout waiter leaves the queue");
}

#[test]
fn timed_waiter_woken_by_notify_reports_not_timed_out() {
    let lock = Lock::new(Waiters::default());
    let cond = Condition::new();
    thread::scope(|s| {
        let waiter = s.spawn(|| {
            let mut g = lock.lock();
            g.queued += 1;
            cond.wait_timeout(&mut g, LONG)
        });
        wait_for(&lock, |st| st.queued == 1);
        assert!(cond.notify_one());
        assert!(!waiter.join().unwrap().timed_out());
    });
}

#[test]
fn duration_max_waits_until_notified() {
    let lock = Lock::new(false);
    let cond = Condition::new();
    thread::scope(|s| {
        s.spawn(|| {
            thread::sleep(Duration::from_millis(20));
            *lock.lock() = true;
            cond.notify_all();
        });
        let mut g = lock.lock();
        let r = cond.wait_timeout_while(&mut g, Duration::MAX, |ready| !*ready);
        assert!(!r.timed_out());
        assert!(*g);
    });
    // A plain wait_timeout with Duration::MAX neither panics nor expires.
    let lock = Lock::new(Waiters::default());
    thread::scope(|s| {
        let waiter = s.spawn(|| {
            let mut g = lock.lock();
            g.queued += 1;
            cond.wait_timeout(&mut g, Duration::MAX)
        });
        wait_for(&lock, |st| st.queued == 1);
        assert!(cond.notify_one());
        assert!(!waiter.join().unwrap().timed_out());
    });
}

// ---------------------------------------------------------------------------
// wait_while / wait_timeout_while

#[test]
fn wait_while_returns_at_once_when_condition_is_false() {
    let lock = Lock::new(3);
    let cond = Condition::new();
    let mut g = lock.lock();
    let mut calls = 0;
    cond.wait_while(&mut g, |n| {
        calls += 1;
        *n == 0
    });
    assert_eq!(calls, 1);
    let r = cond.wait_timeout_while(&mut g, Duration::ZERO, |n| *n == 0);
    assert!(!r.timed_out());
}

#[test]
fn wait_while_waits_until_condition_is_false() {
    let lock = Lock::new(0);
    let cond = Condition::new();
    thread::scope(|s| {
        s.spawn(|| {
            for _ in 0..5 {
                thread::sleep(Duration::from_millis(2));
                *lock.lock() += 1;
                cond.notify_all();
            }
        });
        let mut g = lock.lock();
        cond.wait_while(&mut g, |n| *n < 5);
        assert_eq!(*g, 5);
    });
}

#[test]
fn wait_timeout_while_times_out_if_condition_still_holds() {
    let lock = Lock::new(false);
    let cond = Condition::new();
    let timeout = Duration::from_millis(50);
    let start = Instant::now();
    let r = cond.wait_timeout_while(&mut lock.lock(), timeout, |ready| !*ready);
    assert!(r.timed_out());
    assert!(start.elapsed() >= timeout);
}

/// The condition becomes false but nobody notifies: the waiter sleeps its
/// whole timeout (no spurious wakeup), then reports "not timed out" because
/// the condition no longer holds.
#[test]
fn wait_timeout_while_not_timed_out_if_condition_changed_without_notify() {
    let lock = Lock::new(false);
    let cond = Condition::new();
    let timeout = Duration::from_millis(100);
    thread::scope(|s| {
        let start = Instant::now();
        let mut g = lock.lock();
        s.spawn(|| *lock.lock() = true);
        let r = cond.wait_timeout_while(&mut g, timeout, |ready| !*ready);
        assert!(start.elapsed() >= timeout, "returned early without a notify");
        assert!(!r.timed_out());
        assert!(*g);
    });
}

#[test]
fn wait_timeout_while_woken_by_notify() {
    let lock = Lock::new(false);
    let cond = Condition::new();
    thread::scope(|s| {
        s.spawn(|| {
            thread::sleep(Duration::from_millis(10));
            *lock.lock() = true;
            cond.notify_one();
        });
        let mut g = lock.lock();
        let r = cond.wait_timeout_while(&mut g, LONG, |ready| !*ready);
        assert!(!r.timed_out());
        assert!(*g);
    });
}

#[test]
fn wait_deadline_while_with_rlock() {
    let lock = RLock::new(Cell::new(0));
    let cond = Condition::new();
    let _outer = lock.lock();
    let mut g = lock.lock();
    let r = cond
        .wait_deadline_while(&mut g, Instant::now() + Duration::from_millis(10), |n| n.get() == 0);
    assert!(r.timed_out());
    assert_eq!(lock.hold_count(), 2);
}

// ---------------------------------------------------------------------------
// Misuse: one Condition, two locks

fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("<non-string panic>")
}

/// While a thread waits with lock `a`, waiting with lock `b` panics before
/// releasing anything; unwinding drops the guard, so `b` stays usable; the
/// first waiter is unaffected; once nobody waits, `b` may be used.
#[test]
fn two_different_locks_panics_and_unwinds_cleanly() {
    let a = Lock::new(Waiters::default());
    let b = Lock::new(0);
    let cond = Condition::new();
    thread::scope(|s| {
        spawn_queued(s, &a, &cond, 0);
        let result = panic::catch_unwind(AssertUnwindSafe(|| {
            let mut g = b.lock();
            *g += 1;
            let _ = cond.wait_timeout(&mut g, LONG);
        }));
        let payload = result.expect_err("waiting with a second lock must panic");
        let msg = panic_message(&*payload);
        assert!(msg.contains("two different locks"), "unexpected message: {msg}");
        assert!(!b.is_locked(), "the panicking wait left its lock held");
        assert_eq!(*b.try_lock().expect("lock usable after the panic"), 1);
        // The first waiter is still queued, with its lock.
        assert!(cond.notify_one());
        wait_for(&a, |st| st.woken == [0]);
    });
    // No waiter remains: the Condition may now serve `b`, then `a` again.
    assert!(cond.wait_timeout(&mut b.lock(), Duration::from_millis(5)).timed_out());
    assert!(cond.wait_timeout(&mut a.lock(), Duration::from_millis(5)).timed_out());
}

/// The same misuse with an `RLock` held two levels deep: every level is
/// still held at the panic and released by unwinding.
#[test]
fn two_different_locks_panics_with_rlock() {
    let a = Lock::new(Waiters::default());
    let r = RLock::new(());
    let cond = Condition::new();
    thread::scope(|s| {
        spawn_queued(s, &a, &cond, 0);
        let result = panic::catch_unwind(AssertUnwindSafe(|| {
            let _outer = r.lock();
            let mut g = r.lock();
            cond.wait(&mut g);
        }));
        let payload = result.expect_err("waiting with a second lock must panic");
        assert!(panic_message(&*payload).contains("two different locks"));
        assert!(!r.is_locked());
        assert_eq!(r.hold_count(), 0);
        assert!(cond.notify_one());
    });
    assert!(!r.is_locked());
}

/// Sequential use with different locks is fine: the check applies only while
/// waiters are present.
#[test]
fn different_locks_one_after_another() {
    let cond = Condition::new();
    for _ in 0..3 {
        let lock = Lock::new(());
        assert!(cond.wait_timeout(&mut lock.lock(), Duration::from_millis(1)).timed_out());
        let rlock = RLock::new(());
        assert!(cond.wait_timeout(&mut rlock.lock(), Duration::from_millis(1)).timed_out());
    }
}

// ---------------------------------------------------------------------------
// Traits

#[test]
fn debug_default_send_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Condition>();
    assert_send_sync::<WaitTimeoutResult>();
    let cond = Condition::default();
    let shown = format!("{cond:?}");
    assert!(shown.starts_with("Condition"), "{shown}");
    assert_eq!(cond.notify_all(), 0);
    let lock = Lock::new(());
    let r = cond.wait_timeout(&mut lock.lock(), Duration::ZERO);
    assert!(format!("{r:?}").contains("true"));
}

// ---------------------------------------------------------------------------
// Producer/consumer stress, in the style of parking_lot's webkit queue test

#[derive(Clone, Copy, Debug)]
enum Timeout {
    Bounded(Duration),
    Forever,
}

#[derive(Clone, Copy, Debug)]
enum NotifyStyle {
    /// `notify_one` after every operation.
    One,
    /// `notify(2)` after every operation.
    Two,
    /// `notify_all` only when the queue leaves empty (or full).
    All,
}

struct Queue {
    items: VecDeque<usize>,
    should_continue: bool,
}

fn wait_until(
    cond: &Condition,
    g: &mut threadkit::LockGuard<'_, Queue>,
    timeout: Timeout,
    mut ready: impl FnMut(&Queue) -> bool,
) {
    while !ready(g) {
        match timeout {
            Timeout::Forever => cond.wait(g),
            Timeout::Bounded(d) => {
                let _ = cond.wait_timeout(g, d);
            }
        }
    }
}

fn notify(cond: &Condition, style: NotifyStyle, transition: bool) {
    match style {
        NotifyStyle::One => {
            cond.notify_one();
        }
        NotifyStyle::Two => {
            cond.notify(2);
        }
        NotifyStyle::All => {
            if transition {
                cond.notify_all();
            }
        }
    }
}

fn run_queue_test(
    producers: usize,
    consumers: usize,
    capacity: usize,
    per_producer: usize,
    style: NotifyStyle,
    timeout: Timeout,
) {
    let queue = Lock::new(Queue { items: VecDeque::new(), should_continue: true });
    let not_empty = Condition::new();
    let not_full = Condition::new();
    let output = Lock::new(Vec::with_capacity(producers * per_producer));
    thread::scope(|s| {
        for _ in 0..consumers {
            s.spawn(|| {
                loop {
                    let mut q = queue.lock();
                    wait_until(&not_empty, &mut q, timeout, |q| {
                        !q.items.is_empty() || !q.should_continue
                    });
                    let Some(item) = q.items.pop_front() else {
                        return; // empty and shut down
                    };
                    let was_full = q.items.len() + 1 == capacity;
                    drop(q);
                    notify(&not_full, style, was_full);
                    output.lock().push(item);
                }
            });
        }
        let producer_handles: Vec<_> = (0..producers)
            .map(|_| {
                s.spawn(|| {
                    for message in 0..per_producer {
                        let mut q = queue.lock();
                        wait_until(&not_full, &mut q, timeout, |q| q.items.len() < capacity);
                        let was_empty = q.items.is_empty();
                        q.items.push_back(message);
                        drop(q);
                        notify(&not_empty, style, was_empty);
                    }
                })
            })
            .collect();
        for p in producer_handles {
            p.join().unwrap();
        }
        queue.lock().should_continue = false;
        not_empty.notify_all();
    });
    let mut output = output.into_inner();
    assert_eq!(output.len(), producers * per_producer, "{style:?} {timeout:?}");
    output.sort_unstable();
    for (i, chunk) in output.chunks(producers).enumerate() {
        assert!(chunk.iter().all(|&m| m == i), "message {i} lost or duplicated");
    }
}

// Cut under miri, which interprets every instruction.
const STRESS_MESSAGES: usize = if cfg!(miri) { 50 } else { 5_000 };
const STRESS_BOUND: Timeout = Timeout::Bounded(Duration::from_millis(100));

#[test]
fn stress_untimed_notify_one() {
    run_queue_test(2, 3, 1, STRESS_MESSAGES, NotifyStyle::One, Timeout::Forever);
    run_queue_test(3, 2, 2, STRESS_MESSAGES, NotifyStyle::One, Timeout::Forever);
}

#[test]
fn stress_untimed_notify_n() {
    run_queue_test(2, 3, 1, STRESS_MESSAGES, NotifyStyle::Two, Timeout::Forever);
    run_queue_test(3, 2, 2, STRESS_MESSAGES, NotifyStyle::Two, Timeout::Forever);
}

#[test]
fn stress_untimed_notify_all() {
    run_queue_test(2, 3, 1, STRESS_MESSAGES, NotifyStyle::All, Timeout::Forever);
    run_queue_test(3, 2, 2, STRESS_MESSAGES, NotifyStyle::All, Timeout::Forever);
}

#[test]
fn stress_timed_notify_one() {
    run_queue_test(2, 3, 1, STRESS_MESSAGES, NotifyStyle::One, STRESS_BOUND);
    run_queue_test(3, 2, 2, STRESS_MESSAGES, NotifyStyle::One, STRESS_BOUND);
}

#[test]
fn stress_timed_notify_n() {
    run_queue_test(2, 3, 1, STRESS_MESSAGES, NotifyStyle::Two, STRESS_BOUND);
    run_queue_test(3, 2, 2, STRESS_MESSAGES, NotifyStyle::Two, STRESS_BOUND);
}

#[test]
fn stress_timed_notify_all() {
    run_queue_test(2, 3, 1, STRESS_MESSAGES, NotifyStyle::All, STRESS_BOUND);
    run_queue_test(3, 2, 2, STRESS_MESSAGES, NotifyStyle::All, STRESS_BOUND);
}

/// Timed waits with timeouts short enough to expire constantly, racing the
/// notifies: the timeout/notify race is exercised thousands of times, and
/// no message is lost or duplicated.
#[test]
fn stress_tiny_timeouts() {
    let tiny = Timeout::Bounded(Duration::from_micros(20));
    run_queue_test(2, 3, 1, STRESS_MESSAGES, NotifyStyle::One, tiny);
    run_queue_test(2, 3, 2, STRESS_MESSAGES, NotifyStyle::Two, tiny);
}

/// Timed waiters with tiny timeouts against a notifier that never takes the
/// lock: every wakeup a notify reports is received by exactly one waiter,
/// even when the waiter's timeout expires at the same moment. The totals
/// must match exactly.
#[test]
fn stress_notify_counts_match_timed_waiters() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    const WAITS: usize = if cfg!(miri) { 20 } else { 1_000 };
    let lock = Lock::new(());
    let cond = Condition::new();
    let waiters_done = AtomicBool::new(false);
    let received = AtomicUsize::new(0);
    let sent = thread::scope(|s| {
        let notifier = s.spawn(|| {
            let mut sent = 0;
            let mut round = 0usize;
            while !waiters_done.load(Ordering::SeqCst) {
                sent +=
                    if round % 2 == 0 { usize::from(cond.notify_one()) } else { cond.notify(2) };
                round += 1;
                // Notify about as often as the timeouts expire, so that the
                // two often coincide.
                let pause = Instant::now();
                while pause.elapsed() < Duration::from_micros((round % 30) as u64) {
                    std::hint::spin_loop();
                }
            }
            sent
        });
        let waiters: Vec<_> = (0..3)
            .map(|i| {
                let (lock, cond, received) = (&lock, &cond, &received);
                s.spawn(move || {
                    for k in 0..WAITS {
                        let timeout = Duration::from_micros(5 + ((i * 7 + k) % 40) as u64);
                        let mut g = lock.lock();
                        if !cond.wait_timeout(&mut g, timeout).timed_out() {
                            received.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                })
            })
            .collect();
        for w in waiters {
            w.join().unwrap();
        }
        waiters_done.store(true, Ordering::SeqCst);
        notifier.join().unwrap()
    });
    assert_eq!(sent, received.into_inner(), "notify counts and wakeups disagree");
}
