//! Converting timeouts to deadlines.
//!
//! Every `_timeout(d)` in the crate is `_deadline(now + d)`; this module is
//! the one place that does the addition. It saturates: a timeout too large
//! for `Instant` (such as `Duration::MAX`) yields `None`, "no deadline", and
//! never panics on overflow.

use std::time::{Duration, Instant};

use crate::loom::now;

/// The deadline `timeout` from now, or `None` (wait forever) if that instant
/// is not representable.
#[inline]
pub(crate) fn after(timeout: Duration) -> Option<Instant> {
    now().checked_add(timeout)
}

/// Whether `deadline` has passed. `None` never passes.
#[inline]
pub(crate) fn has_passed(deadline: Option<Instant>) -> bool {
    deadline.is_some_and(|at| at <= now())
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn huge_timeouts_mean_forever() {
        assert_eq!(after(Duration::MAX), None);
        assert_eq!(after(Duration::from_secs(u64::MAX)), None);
        assert!(!has_passed(None));
    }

    #[test]
    fn small_timeouts_are_deadlines() {
        let before = Instant::now();
        let at = after(Duration::from_millis(5)).expect("representable");
        assert!(at >= before + Duration::from_millis(5));
        assert!(has_passed(after(Duration::ZERO)));
    }
}
