//! The priority policy: smallest item first, equal items in put order.
//! The ordering and its panic safety are the stable heap's
//! (`internal/heap.rs`); this file only fits it to the queue core.

use super::policy::{Policy, Stored};
use crate::internal::heap::StableHeap;

/// Smallest first; ties in put order.
pub(crate) struct Priority<T>(StableHeap<T>);

impl<T> Default for Priority<T> {
    fn default() -> Self {
        Priority(StableHeap::default())
    }
}

impl<T> Stored for Priority<T> {
    #[inline]
    fn len(&self) -> usize {
        self.0.len()
    }
}

impl<T: Ord> Policy for Priority<T> {
    type Item = T;

    #[inline]
    fn push(&mut self, item: T) {
        self.0.push(item);
    }

    #[inline]
    fn pop(&mut self) -> Option<T> {
        self.0.pop()
    }
}
