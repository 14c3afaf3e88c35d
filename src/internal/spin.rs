//! Spinning before blocking.

use std::hint;
use std::time::{Duration, Instant};

use crate::internal::deadline;
use crate::loom::Backoff;
use crate::loom::thread::yield_now;

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

/// How long [`spin_long`] spins: about as long as a parked thread here
/// takes to run again after it is woken.
const LONG_SPIN: Duration = Duration::from_micros(50);

/// Spins until `ready()` returns true for about [`LONG_SPIN`] (never past
/// `deadline`), polling at one-pause intervals, then yields a few times as
/// [`spin_until`] ends; returns its last answer. For handoffs: a put and a
/// get that wait for each other item by item, as at capacity 1.
///
/// Once one side of a handoff parks, the other finds nothing for as long as
/// the parked side takes to be woken and run (tens of microseconds on a
/// busy VM), spins out [`spin_until`]'s few microseconds (it polls after 1,
/// 2, 4 ... 64 pauses, the last polls about 2 µs apart here, then yields
/// four times) and parks too: from then on items cost wakeups, until the
/// scheduler happens to line the two sides up again. A side that polls
/// closely for as long as a wakeup takes is still running when the other
/// comes back, and the two meet without parking. (100k items through one
/// producer and one consumer at capacity 1, six runs each, alternating:
/// 30-140 ms and 16-20k context switches with [`spin_until`], 18-80 ms and
/// 300-2200 switches with this; the slow runs left are the VM placing the
/// two threads on distant cores, where every handoff moves cache lines
/// between them.) Never spins under loom or Miri.
///
/// The clock is read only every few dozen polls, so a handoff that
/// completes early costs no clock read.
pub(crate) fn spin_long(deadline: Option<Instant>, mut ready: impl FnMut() -> bool) -> bool {
    const POLLS_PER_CLOCK_READ: u32 = 64;
    if Backoff::new().is_completed() {
        return ready();
    }
    if cfg!(miri) {
        // Miri checks the code, not its timing: spinning in its
        // interpreter would only make the suite slow.
        return spin_until(ready);
    }
    // Set at the first clock read.
    let mut spun_out = None;
    loop {
        for _ in 0..POLLS_PER_CLOCK_READ {
            if ready() {
                return true;
            }
            hint::spin_loop();
        }
        let spun_out = *spun_out.get_or_insert_with(|| deadline::after(LONG_SPIN));
        if deadline::has_passed(spun_out) || deadline::has_passed(deadline) {
            break;
        }
    }
    for _ in 0..4 {
        if ready() {
            return true;
        }
        yield_now();
    }
    ready()
}

/// A queue of smaller capacity is a handoff queue: its waiting puts and
/// gets spin longer before they park (see [`spin_before_parking`]). From
/// 16 on, a putter waits for room for a batch of puts (an eighth of the
/// capacity), which spaces the two sides' meetings out by itself.
pub(crate) const HANDOFF_BELOW: usize = 16;

/// How many free slots a waiting put of a queue of `capacity` spins for:
/// an eighth of the capacity (1 to 64). A putter that takes each slot as
/// it frees keeps both sides meeting at every item; if less room comes in
/// the spin, the put takes that.
pub(crate) fn room_batch(capacity: Option<usize>) -> usize {
    capacity.map_or(1, |cap| (cap / 8).clamp(1, 64))
}

/// Spins until `ready()` before a queue's put or get registers to park:
/// for about a wakeup's time in a handoff queue (`capacity` under
/// [`HANDOFF_BELOW`]), where puts and gets wait for each other item by item
/// ([`spin_long`] says why), else for a few microseconds ([`spin_until`]).
/// Never spins under loom.
#[inline]
pub(crate) fn spin_before_parking(
    capacity: Option<usize>,
    deadline: Option<Instant>,
    ready: impl FnMut() -> bool,
) {
    if capacity.is_some_and(|cap| cap < HANDOFF_BELOW) {
        spin_long(deadline, ready);
    } else {
        spin_until(ready);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn the_long_spin_returns_as_soon_as_ready() {
        let mut polls = 0;
        assert!(spin_long(None, || {
            polls += 1;
            polls == 3
        }));
        assert_eq!(polls, 3);
    }

    #[test]
    #[cfg_attr(miri, ignore = "under Miri the long spin is the short one")]
    fn the_long_spin_gives_up_with_the_last_answer() {
        let mut polls = 0u64;
        assert!(!spin_long(None, || {
            polls += 1;
            false
        }));
        assert!(polls > 64, "polled {polls} times");
    }

    #[test]
    #[cfg_attr(miri, ignore = "under Miri the long spin is the short one")]
    fn the_long_spin_stops_at_a_past_deadline() {
        let mut polls = 0u64;
        let past = Instant::now() - Duration::from_millis(1);
        assert!(!spin_long(Some(past), || {
            polls += 1;
            false
        }));
        // One round of polls before the first clock read, then the yields.
        assert_eq!(polls, 64 + 4 + 1);
    }
}
