//! The ordering policies the single-lock core is generic over: which item a
//! get returns. `LifoQueue`'s `Vec` is the one policy today; FIFO and
//! priority use the two-lock core (`two_lock.rs`), where the same role is
//! played by `TakeOrder`.

/// What every container answers without knowing how to order its items
/// (so `Debug` and `len` need no `Ord`).
pub(crate) trait Stored {
    fn len(&self) -> usize;
}

/// How a queue stores its items and which one comes out next.
///
/// Every method runs under the queue's state mutex. `push` and `pop` must
/// leave the container unchanged if they panic (a user `Ord` may), so that
/// no item is lost or duplicated.
pub(crate) trait Policy: Stored + Default {
    type Item;

    fn push(&mut self, item: Self::Item);
    fn pop(&mut self) -> Option<Self::Item>;
    /// Moves every item out (for `shutdown_immediate`, which drops them
    /// after releasing the mutex).
    fn take_all(&mut self) -> Self {
        std::mem::take(self)
    }
}

/// Last in, first out.
pub(crate) struct Lifo<T>(Vec<T>);

impl<T> Default for Lifo<T> {
    fn default() -> Self {
        Lifo(Vec::new())
    }
}

impl<T> Stored for Lifo<T> {
    #[inline]
    fn len(&self) -> usize {
        self.0.len()
    }
}

impl<T> Policy for Lifo<T> {
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
