//! Loom models for Condition.
#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;
use threadkit::loom_support::{LoomTimeouts, set_loom_timeouts};
use threadkit::{Condition, Lock};

/// A timed waiter racing a notify: if notify reports it woke someone, the
/// waiter must not report a timeout.
#[test]
fn timed_wait_racing_notify_loses_nothing() {
    set_loom_timeouts(LoomTimeouts::Expire);
    loom::model(|| {
        let pair = Arc::new((Lock::new(false), Condition::new()));
        let p2 = pair.clone();
        let notifier = thread::spawn(move || {
            let (lock, cond) = &*p2;
            *lock.lock() = true;
            cond.notify_one()
        });
        let (lock, cond) = &*pair;
        let mut g = lock.lock();
        let timed_out = if *g {
            false
        } else {
            cond.wait_timeout(&mut g, std::time::Duration::from_secs(1)).timed_out()
        };
        drop(g);
        let woke = notifier.join().unwrap();
        if woke {
            assert!(!timed_out, "notify_one reported a wakeup the waiter never got");
        }
    });
}
