//! The priority policy: a binary min-heap, smallest item first, equal
//! items in put order.
//!
//! Not `std::collections::BinaryHeap`, for two reasons:
//!
//! - Panic safety. std's `pop` moves the root out before sifting, so a
//!   panicking `Ord` in the sift drops the popped item (it is lost,
//!   rust-lang/rust#25842 discusses the heap's panic safety). Here every
//!   comparison runs first, on references, to find where the moved entry
//!   ends up; only then are entries moved, by code that cannot panic. A
//!   panicking `Ord` therefore leaves the heap exactly as it was.
//! - Ties. Equal items come out in put order, so each item carries its put
//!   sequence number. The numbers live in a second array beside the items
//!   (`seqs[i]` belongs to `items[i]`): comparisons read them only when two
//!   items are equal, so walking the heap touches the items alone, packed
//!   as densely as in std's heap. Only the moves touch both arrays, and
//!   those accesses do not wait on each other.
//!
//! Four children a node: a pop walks half as many levels as in a binary
//! heap, and the children of a node lie next to each other in memory.

use std::cmp::Ordering;

use super::policy::{Policy, Stored};

#[inline]
fn parent(at: usize) -> usize {
    (at - 1) / 2
}

/// Smallest first; ties in put order.
pub(crate) struct Priority<T> {
    items: Vec<T>,
    /// The put sequence number of `items[i]`, at the same index.
    seqs: Vec<u64>,
    next_seq: u64,
}

impl<T> Default for Priority<T> {
    fn default() -> Self {
        Priority { items: Vec::new(), seqs: Vec::new(), next_seq: 0 }
    }
}

impl<T> Stored for Priority<T> {
    #[inline]
    fn len(&self) -> usize {
        self.items.len()
    }
}

/// Whether `(a, a_seq)` comes out before `(b, b_seq)`. One user comparison,
/// which may panic. Equal items are rare, so that branch is predictable;
/// the other outcome is a flag, not a branch. The sequence numbers are
/// passed by reference and read only for equal items: otherwise the
/// compiler loads them for every comparison, and a walk touches both
/// arrays.
#[inline]
fn before<T: Ord>(a: &T, a_seq: &u64, b: &T, b_seq: &u64) -> bool {
    let order = a.cmp(b);
    if order == Ordering::Equal { put_earlier(a_seq, b_seq) } else { order == Ordering::Less }
}

#[cold]
#[inline(never)]
fn put_earlier(a_seq: &u64, b_seq: &u64) -> bool {
    a_seq < b_seq
}

/// A new entry rising from `leaf` in `push`, now at `at`. Dropped before
/// `done` (only by unwinding out of a comparison), it undoes the rise and
/// removes the entry.
struct Rising<'a, T> {
    heap: &'a mut Priority<T>,
    leaf: usize,
    at: usize,
    done: bool,
}

impl<T> Drop for Rising<'_, T> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        // The entry rose along the leaf's ancestors; in 1-based numbering
        // the ancestor `k` levels above node `n` is `n >> k`.
        let n = self.leaf + 1;
        let mut levels = n.ilog2() - (self.at + 1).ilog2();
        let mut at = self.at;
        while levels > 0 {
            levels -= 1;
            let child = (n >> levels) - 1;
            self.heap.items.swap(at, child);
            self.heap.seqs.swap(at, child);
            at = child;
        }
        self.heap.seqs.pop();
        self.heap.items.pop();
    }
}

impl<T: Ord> Policy for Priority<T> {
    type Item = T;

    fn push(&mut self, item: T) {
        let seq = self.next_seq;
        // Allocate first: once both arrays have room they never differ in
        // length, and nothing below allocates.
        self.items.reserve(1);
        self.seqs.reserve(1);
        let leaf = self.items.len();
        self.items.push(item);
        self.seqs.push(seq);
        // Sift the new entry up by swaps, one comparison a level. If a
        // comparison panics (a user `Ord`), the guard swaps the entry back
        // down to the leaf and removes it: the heap is exactly as it was.
        let mut rising = Rising { heap: self, leaf, at: leaf, done: false };
        while rising.at > 0 {
            let (at, up) = (rising.at, parent(rising.at));
            let heap = &mut *rising.heap;
            if !before(&heap.items[at], &heap.seqs[at], &heap.items[up], &heap.seqs[up]) {
                break;
            }
            heap.items.swap(at, up);
            heap.seqs.swap(at, up);
            rising.at = up;
        }
        rising.done = true;
        drop(rising);
        self.next_seq += 1;
    }

    fn pop(&mut self) -> Option<T> {
        let last = self.items.len().checked_sub(1)?;
        if last == 0 {
            self.seqs.pop();
            return self.items.pop();
        }
        // Comparisons only. As std's heap does, walk from the root to the
        // bottom along the smaller child, then climb back to where on that
        // path the last entry belongs (usually a step or two: the last entry
        // is a large one). The entry at `last` is the one that moves, so the
        // walk stays below it.
        let (items, seqs) = (&self.items[..last], &self.seqs[..last]);
        let smaller = |a: usize, b: usize| {
            if before(&items[b], &seqs[b], &items[a], &seqs[a]) { b } else { a }
        };
        let mut at = 0;
        loop {
            let left = 2 * at + 1;
            if left + 1 < last {
                at = smaller(left, left + 1);
            } else {
                if left < last {
                    at = left;
                }
                break;
            }
        }
        let (moving, moving_seq) = (&self.items[last], &self.seqs[last]);
        while at > 0 && !before(&items[at], &seqs[at], moving, moving_seq) {
            at = parent(at);
        }
        // Moves only, bottom-up: the former last entry takes that slot and
        // the entries above it on the path each move up a level, the root
        // moving out.
        let mut carry = self.items.pop().expect("heap has at least two entries");
        let mut carry_seq = self.seqs.pop().expect("arrays have equal lengths");
        loop {
            carry = std::mem::replace(&mut self.items[at], carry);
            carry_seq = std::mem::replace(&mut self.seqs[at], carry_seq);
            if at == 0 {
                return Some(carry);
            }
            at = parent(at);
        }
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

    std::thread_local! {
        /// The pair of numbers whose comparison panics, on this thread.
        static POISON: std::cell::Cell<Option<(u32, u32)>> = const { std::cell::Cell::new(None) };
    }

    /// Ordered by its number; comparing the two numbers in `POISON` panics.
    #[derive(Debug, PartialEq, Eq)]
    struct Touchy(u32, u32); // (number, tag)
    impl PartialOrd for Touchy {
        fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
            Some(self.cmp(o))
        }
    }
    impl Ord for Touchy {
        fn cmp(&self, o: &Self) -> Ordering {
            let pair = (self.0.min(o.0), self.0.max(o.0));
            assert!(POISON.get() != Some(pair), "poisoned comparison");
            self.0.cmp(&o.0)
        }
    }

    fn filled(numbers: &[u32]) -> Priority<Touchy> {
        let mut p = Priority::default();
        for (tag, &k) in numbers.iter().enumerate() {
            p.push(Touchy(k, tag as u32));
        }
        p
    }

    fn drain(p: &mut Priority<Touchy>) -> Vec<(u32, u32)> {
        std::iter::from_fn(|| p.pop()).map(|t| (t.0, t.1)).collect()
    }

    #[test]
    fn push_panicking_after_rising_puts_everything_back() {
        // Ties among the 3s and 5s, to check their put order survives.
        let numbers = [1, 3, 3, 5, 5, 3, 7];
        let mut p = filled(&numbers);
        // 0 rises from the leaf (index 7) past the 5 and the 3 above it, and
        // panics meeting the root 1.
        POISON.set(Some((0, 1)));
        assert!(catch_unwind(AssertUnwindSafe(|| p.push(Touchy(0, 99)))).is_err());
        POISON.set(None);
        assert_eq!(drain(&mut p), drain(&mut filled(&numbers)));
    }

    #[test]
    fn pop_panicking_leaves_the_heap_as_it_was() {
        // The root 0 has children 1 and 2: popping it compares them first.
        let numbers = [0, 1, 2, 4, 3, 6, 5, 2];
        let mut p = filled(&numbers);
        POISON.set(Some((1, 2)));
        assert!(catch_unwind(AssertUnwindSafe(|| p.pop())).is_err());
        POISON.set(None);
        assert_eq!(drain(&mut p), drain(&mut filled(&numbers)));
    }
}
