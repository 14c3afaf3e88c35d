//! The last-in, first-out order of the two-lock core (`two_lock.rs`): a get
//! moves every ready slot onto a stack that only consumers touch and takes
//! the item on top, the newest.

use super::two_lock::{Kept, ReadySlots, TakeOrder};

/// Newest first.
pub(crate) struct Stack<T>(Vec<T>);

impl<T> Default for Stack<T> {
    fn default() -> Self {
        Stack(Vec::new())
    }
}

impl<T> Kept for Stack<T> {
    #[inline]
    fn kept(&self) -> usize {
        self.0.len()
    }
}

impl<T> TakeOrder<T> for Stack<T> {
    /// A stack's push and pop cost the same however deep it is.
    const PACED: bool = false;

    #[inline]
    fn admit(_: &T) {}

    #[inline]
    fn next(&mut self, ready: &mut ReadySlots<'_, T>) -> Option<T> {
        let stack = &mut self.0;
        ready.move_all(Self::PACED, |ready| {
            stack.push(ready.take()?);
            Some(stack.len())
        });
        stack.pop()
    }
}
