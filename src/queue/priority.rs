//! The priority policy: a binary min-heap of `(item, sequence)`, smallest
//! item first, equal items in put order.
//!
//! Not `std::collections::BinaryHeap`: its `pop` moves the root out before
//! sifting, so a panicking `Ord` in the sift drops the popped item (it is
//! lost, rust-lang/rust#25842 discusses the heap's panic safety). Here every
//! comparison runs first, on references, to find where the moved element
//! ends up; only then are elements moved, by code that cannot panic. A
//! panicking `Ord` therefore leaves the heap exactly as it was.

use std::cmp::Ordering;

use super::policy::{Policy, Stored};

struct Entry<T> {
    item: T,
    /// Put order, to break ties: equal items come out first-in, first-out.
    seq: u64,
}

impl<T: Ord> Entry<T> {
    /// Whether `self` comes out before `other`. May panic (user `Ord`).
    #[inline]
    fn before(&self, other: &Self) -> bool {
        // One user comparison; written without branches on its result so
        // that, for plain keys, walking the heap mispredicts nothing.
        self.item.cmp(&other.item).then(self.seq.cmp(&other.seq)) == Ordering::Less
    }
}

/// Smallest first; ties in put order.
pub(crate) struct Priority<T> {
    heap: Vec<Entry<T>>,
    next_seq: u64,
}

impl<T> Default for Priority<T> {
    fn default() -> Self {
        Priority { heap: Vec::new(), next_seq: 0 }
    }
}

impl<T> Stored for Priority<T> {
    #[inline]
    fn len(&self) -> usize {
        self.heap.len()
    }
}

impl<T: Ord> Policy for Priority<T> {
    type Item = T;

    fn push(&mut self, item: T) {
        let entry = Entry { item, seq: self.next_seq };
        // Comparisons only: find how many levels the new entry rises.
        // Nodes are numbered from 1 here (`n = index + 1`): the parent of
        // node `n` is `n >> 1`.
        let leaf = self.heap.len() + 1;
        let mut rise = 0;
        while leaf >> rise > 1 && entry.before(&self.heap[(leaf >> (rise + 1)) - 1]) {
            rise += 1;
        }
        // Allocate before moving anything, so that from here on nothing can
        // panic. Then the moves: the new entry takes its slot and the
        // entries below it on the way to the leaf each move down a level.
        self.heap.reserve(1);
        let mut carry = entry;
        for k in (1..=rise).rev() {
            carry = std::mem::replace(&mut self.heap[(leaf >> k) - 1], carry);
        }
        self.heap.push(carry);
        self.next_seq += 1;
    }

    fn pop(&mut self) -> Option<T> {
        let last = self.heap.len().checked_sub(1)?;
        if last == 0 {
            return self.heap.pop().map(|e| e.item);
        }
        // Comparisons only. As std's heap does, walk from the root to the
        // bottom along the smaller child (one comparison a level), then find
        // where on that path the last entry belongs, climbing from the
        // bottom (usually a step or two: the last entry is a large one).
        // The entry at `last` is the one that moves, so the walk stays
        // below it. Nodes are numbered from 1 (`n = index + 1`), so the
        // parent of node `n` is `n >> 1`.
        let heap = &self.heap[..last];
        let mut n = 1;
        while 2 * n <= last {
            let left = 2 * n - 1;
            // The right child, if it exists and comes first.
            n = 2 * n + usize::from(left + 1 < last && heap[left + 1].before(&heap[left]));
        }
        let moving = &self.heap[last];
        while n > 1 && !heap[n - 1].before(moving) {
            n >>= 1;
        }
        // Moves only: the former last entry takes its slot on the path and
        // the entries above it each move up a level, the root moving out.
        let mut carry = self.heap.pop().expect("heap has at least two entries");
        loop {
            carry = std::mem::replace(&mut self.heap[n - 1], carry);
            if n == 1 {
                break;
            }
            n >>= 1;
        }
        Some(carry.item)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::panic::{AssertUnwindSafe, catch_unwind};

    #[test]
    fn pops_in_order_and_ties_in_put_order() {
        let mut p = Priority::default();
        for (i, k) in [5, 1, 4, 1, 3, 9, 2, 6, 5, 3, 5].into_iter().enumerate() {
            p.push((k, i));
        }
        // Items are (key, index): Ord on the tuple already breaks ties by
        // index, so also check with key-only ordering below.
        let mut out = Vec::new();
        while let Some(x) = p.pop() {
            out.push(x);
        }
        let mut sorted = out.clone();
        sorted.sort();
        assert_eq!(out, sorted);
    }

    #[derive(Debug)]
    struct Key(u32, u32); // (priority, tag); Ord looks at priority only
    impl PartialEq for Key {
        fn eq(&self, o: &Self) -> bool {
            self.0 == o.0
        }
    }
    impl Eq for Key {}
    impl PartialOrd for Key {
        fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
            Some(self.cmp(o))
        }
    }
    impl Ord for Key {
        fn cmp(&self, o: &Self) -> Ordering {
            assert!(self.0 != 666 && o.0 != 666, "poisoned comparison");
            self.0.cmp(&o.0)
        }
    }

    #[test]
    fn stable_for_equal_keys() {
        let mut p = Priority::default();
        for (i, k) in [2, 1, 2, 1, 2, 1, 0, 2].into_iter().enumerate() {
            p.push(Key(k, i as u32));
        }
        let out: Vec<(u32, u32)> = std::iter::from_fn(|| p.pop()).map(|k| (k.0, k.1)).collect();
        assert_eq!(out, vec![(0, 6), (1, 1), (1, 3), (1, 5), (2, 0), (2, 2), (2, 4), (2, 7)]);
    }

    #[test]
    fn panicking_ord_loses_nothing() {
        let mut p = Priority::default();
        for k in [3, 1, 4, 1, 5, 9, 2, 6] {
            p.push(Key(k, k));
        }
        // A push whose comparisons panic leaves the heap as it was.
        assert!(catch_unwind(AssertUnwindSafe(|| p.push(Key(666, 0)))).is_err());
        assert_eq!(p.len(), 8);
        let out: Vec<u32> = std::iter::from_fn(|| p.pop()).map(|k| k.0).collect();
        assert_eq!(out, vec![1, 1, 2, 3, 4, 5, 6, 9]);
    }
}
