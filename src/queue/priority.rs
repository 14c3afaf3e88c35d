//! The priority order of the two-lock core (`two_lock.rs`): a get moves
//! every ready slot into a stable heap that only consumers touch and takes
//! the smallest item; equal items come out in put order. The ordering and
//! its panic safety are the heap's (`internal/heap.rs`).

use super::two_lock::{Kept, ReadySlots, TakeOrder};
use crate::internal::heap::StableHeap;

/// A get moves at most this many ready slots into the heap before it
/// counts how many items have been put, and then moves only those: it must
/// see every put that finished before it began, but must not chase
/// producers that keep finishing puts while it moves their items. One
/// under loom, so that the models explore the counted part.
#[cfg(not(loom))]
const DRAIN_UNCOUNTED: usize = 64;
#[cfg(loom)]
const DRAIN_UNCOUNTED: usize = 1;

/// While moving many slots, a get tells producers of its progress every
/// this many items (see "Pacing" in `two_lock.rs`).
const REPORT_EVERY: usize = 32;

/// Smallest first; ties in put order.
pub(crate) struct Priority<T>(StableHeap<T>);

impl<T> Default for Priority<T> {
    fn default() -> Self {
        Priority(StableHeap::default())
    }
}

impl<T> Kept for Priority<T> {
    #[inline]
    fn kept(&self) -> usize {
        self.0.len()
    }
}

impl<T: Ord> TakeOrder<T> for Priority<T> {
    /// The heap's walks grow with it (see "Pacing" in `two_lock.rs`).
    const PACED: bool = true;

    /// Python's put compares the new item with queued ones as it inserts
    /// it, so an item whose comparisons fail fails the put that brought it.
    /// Here a put only hands the item to the consumers, so it compares the
    /// item with itself: an `Ord` that panics for this item panics in this
    /// put, not in some later get. (For a type whose `cmp` has no side
    /// effects, such as `u64`, the compiler removes the call.)
    #[inline]
    fn admit(item: &T) {
        let _ = item.cmp(item);
    }

    #[inline]
    fn next(&mut self, ready: &mut ReadySlots<'_, T>) -> Option<T> {
        let heap = &mut self.0;
        // Moved since last reported to producers.
        let mut moved = 0;
        let mut left = DRAIN_UNCOUNTED;
        let mut counted = false;
        loop {
            if left == 0 {
                if counted {
                    break;
                }
                counted = true;
                left = if cfg!(feature = "_broken_priority_drain_uncounted") {
                    0
                } else {
                    ready.unkept(heap.len())
                };
                // Zero if every slot now ready was put after the count.
                if left == 0 {
                    break;
                }
            }
            // Compared before it leaves its slot: if `Ord` panics, the item
            // stays there (and the heap as it was).
            let Some(slot) = ready.peek(|item| heap.slot_for(item)) else {
                break;
            };
            let Some(item) = ready.take() else {
                break;
            };
            heap.insert(item, slot);
            left -= 1;
            moved += 1;
            if moved == REPORT_EVERY {
                ready.report_moved(moved);
                moved = 0;
            }
        }
        if moved > 0 {
            ready.report_moved(moved);
        }
        heap.pop()
    }
}
