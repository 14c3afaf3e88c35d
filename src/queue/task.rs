//! `Task`: an item taken from a queue that marks itself done when dropped.

use std::fmt;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};

use super::tasks::TaskSink;

/// An item from [`get_task`](crate::Queue::get_task) that calls
/// `task_done` for it when dropped, even while unwinding from a panic, so a
/// worker that fails never leaves [`join`](crate::Queue::join) hanging.
///
/// # Examples
///
/// ```
/// use threadkit::Queue;
///
/// let q = Queue::new();
/// q.put(5).unwrap();
/// {
///     let task = q.get_task().unwrap();
///     assert_eq!(*task, 5);
///     assert_eq!(q.unfinished_tasks(), 1);
/// } // dropped: task_done
/// assert_eq!(q.unfinished_tasks(), 0);
/// q.join(); // returns at once
/// ```
///
/// A `Task` of a `!Send` item cannot move to another thread (with `1u32`
/// instead of `Rc::new(1)` this compiles):
///
/// ```compile_fail,E0277
/// use std::rc::Rc;
/// let q = threadkit::Queue::new();
/// q.put(Rc::new(1)).unwrap();
/// let task = q.get_task().unwrap();
/// std::thread::scope(|s| {
///     s.spawn(move || drop(task));
/// });
/// ```
pub struct Task<'a, T> {
    item: ManuallyDrop<T>,
    queue: &'a dyn TaskSink,
}

// SAFETY: the queue reference is used for one thing, `task_done`, which
// touches only the queue's atomics, mutex and wait queues: all
// thread-safe. The queue that handed out a `Task<T>` with `T: Send` is
// itself `Sync`, so calling it from the thread the `Task` was sent to is
// sound; the item moves with the `Task`, which needs `T: Send`.
unsafe impl<T: Send> Send for Task<'_, T> {}
// SAFETY: a shared `&Task` gives out only `&T` (`Deref`); it cannot call
// `task_done`. Sharing `&T` across threads needs exactly `T: Sync`.
unsafe impl<T: Sync> Sync for Task<'_, T> {}

impl<'a, T> Task<'a, T> {
    pub(crate) fn new(item: T, queue: &'a dyn TaskSink) -> Self {
        Task { item: ManuallyDrop::new(item), queue }
    }

    /// Marks the task done and hands the item over.
    ///
    /// # Examples
    ///
    /// ```
    /// use threadkit::Queue;
    ///
    /// let q = Queue::new();
    /// q.put(String::from("job")).unwrap();
    /// let job: String = q.get_task().unwrap().into_inner();
    /// assert_eq!(job, "job");
    /// assert_eq!(q.unfinished_tasks(), 0);
    /// ```
    pub fn into_inner(self) -> T {
        let mut this = ManuallyDrop::new(self);
        // SAFETY: `this` is never used again and its `Drop` never runs
        // (wrapped in `ManuallyDrop`), so the item is taken exactly once.
        let item = unsafe { ManuallyDrop::take(&mut this.item) };
        done_for_task(this.queue);
        item
    }
}

/// `task_done` for an item handed out as a `Task`: it was counted when put,
/// so this fails only if the user also called `task_done` for it; then the
/// count is already right and there is nothing to undo.
fn done_for_task(queue: &dyn TaskSink) {
    let _ = queue.task_done();
}

impl<T> Deref for Task<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.item
    }
}

impl<T> DerefMut for Task<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.item
    }
}

impl<T> Drop for Task<'_, T> {
    fn drop(&mut self) {
        // Mark done even if the item's own `Drop` panics.
        struct Done<'b>(&'b dyn TaskSink);
        impl Drop for Done<'_> {
            fn drop(&mut self) {
                done_for_task(self.0);
            }
        }
        let _done = Done(self.queue);
        // SAFETY: this is `Drop`; the item is not used afterwards, and
        // `into_inner` (the only other taker) skips this `Drop`.
        unsafe { ManuallyDrop::drop(&mut self.item) }
    }
}

impl<T: fmt::Debug> fmt::Debug for Task<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Task").field(&*self.item).finish()
    }
}
