//! Spinning before blocking.

use crate::loom::Backoff;

/// Spins briefly until `ready()` returns true, and returns its last
/// answer. The queues call it before registering as a waiter: a handoff
/// between running threads completes faster than parking and being woken
/// (without it, capacity-1 handoffs ran 10-25x slower here). It backs off
/// as crossbeam does, yielding the processor in its last steps, which
/// matters when threads outnumber cores. Under loom the backoff is already
/// complete, so models never spin.
#[inline]
pub(crate) fn spin_until(mut ready: impl FnMut() -> bool) -> bool {
    let backoff = Backoff::new();
    while !backoff.is_completed() {
        if ready() {
            return true;
        }
        backoff.snooze();
    }
    ready()
}
