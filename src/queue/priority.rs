//! The priority order of the two-lock core (`two_lock.rs`): a get moves
//! every ready slot into a stable heap that only consumers touch and takes
//! the smallest item; equal items come out in put order. The ordering and
//! its panic safety are the heap's (`internal/heap.rs`).

use super::two_lock::{Kept, ReadySlots, TakeOrder};
use crate::internal::heap::StableHeap;

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
        ready.move_all(Self::PACED, |ready| {
            // Compared before it leaves its slot: if `Ord` panics, the item
            // stays there (and the heap as it was).
            let slot = ready.peek(|item| heap.slot_for(item))?;
            heap.insert(ready.take()?, slot);
            Some(heap.len())
        });
        heap.pop()
    }
}
