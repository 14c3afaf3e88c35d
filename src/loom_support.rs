//! How timed waits behave inside a `loom::model` (only under `--cfg loom`).
//!
//! loom has no clock, so it cannot decide when a timeout expires. Instead,
//! each model chooses one of two behaviours for every timed wait in
//! threadkit (lock acquisition, `Condition`, `Event`, the queues):
//!
//! - [`LoomTimeouts::Never`] (the default): timed waits behave as untimed
//!   ones. Use it to check logic that must not depend on timeouts.
//! - [`LoomTimeouts::Expire`]: every timed wait may expire at any point.
//!   The waiter gives its wakeup source one chance (a release and
//!   re-acquisition of an internal mutex, which loom treats as branch
//!   points), then reports a timeout. loom then explores a notify landing
//!   before, during and after the timeout: the race where lost wakeups live.
//!
//! A deadline at or before "now" (a zero timeout) has always passed, so such
//! calls stay non-blocking attempts in both modes.
//!
//! Set the mode on the test thread before calling `loom::model`; every
//! thread of that model sees it.
//!
//! ```ignore
//! threadkit::loom_support::set_loom_timeouts(threadkit::loom_support::LoomTimeouts::Expire);
//! loom::model(|| { /* ... */ });
//! ```

use std::cell::Cell;

/// The behaviour of timed waits inside loom models.
///
/// # Examples
///
/// ```ignore
/// // In a downstream crate's loom test (built with `--cfg loom`):
/// use threadkit::loom_support::{set_loom_timeouts, LoomTimeouts};
/// set_loom_timeouts(LoomTimeouts::Expire);
/// loom::model(|| {
///     let e = threadkit::Event::new();
///     // May return either way: loom explores both.
///     let _ = e.wait_timeout(std::time::Duration::from_secs(1));
/// });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LoomTimeouts {
    /// Timed waits never expire: they behave as untimed waits.
    #[default]
    Never,
    /// Every timed wait may expire at any point; loom explores both outcomes.
    Expire,
}

std::thread_local! {
    // A std thread-local on purpose: loom runs every thread of a model on
    // the test's OS thread, so all of them see the value set there.
    static MODE: Cell<LoomTimeouts> = const { Cell::new(LoomTimeouts::Never) };
}

/// Chooses how timed waits behave in the loom models run from this thread.
///
/// # Examples
///
/// ```ignore
/// use threadkit::loom_support::{set_loom_timeouts, LoomTimeouts};
/// set_loom_timeouts(LoomTimeouts::Never); // the default: timed waits never expire
/// loom::model(|| { /* ... */ });
/// ```
pub fn set_loom_timeouts(mode: LoomTimeouts) {
    MODE.with(|m| m.set(mode));
}

pub(crate) fn loom_timeouts() -> LoomTimeouts {
    MODE.with(|m| m.get())
}
