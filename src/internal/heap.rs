//! A stable binary min-heap: smallest item first, equal items in the order
//! they were pushed. `PriorityQueue`'s ordering policy
//! (`queue/priority.rs`) is this heap under the queue's mutex; it lives
//! here with the crate's other `unsafe` building blocks.
//!
//! Each entry is an item and its push sequence number, side by side, so
//! that ties come out in push order. Comparisons read the sequence numbers
//! only when two items are equal (a `#[cold]` call), so comparing costs
//! what the user's `Ord` costs.
//!
//! The sifting is std's `BinaryHeap`'s: an entry is moved out, leaving a
//! hole, and entries are copied into the hole as it travels, one copy a
//! level, no swaps. A pop first moves the hole from the root to the bottom
//! along the smaller child, then lets the last entry rise into it, usually
//! a step or two: the last entry is a large one.
//!
//! The sibling choice is a branch, not a flag added to the index. With a
//! flag every level waits for the previous comparison before it can load
//! the next pair; a branch lets the CPU run ahead on a guess. In a queue's
//! steady state (puts and gets interleaved) the guesses are mostly right:
//! one thread, push+pop on a heap of 1k entries, 16 ns with the branch vs
//! 42 ns with the flag (std's `BinaryHeap<u64>`: 21 ns). Filling a heap
//! and then draining it, where the path is random, the flag is faster
//! (1k entries: 35 vs 46 ns per push+pop); queues mostly do the former.
//!
//! Not std's `BinaryHeap` itself, because of panic safety: std's `pop`
//! holds the root outside the heap while it sifts, so a panicking `Ord`
//! drops the popped item (rust-lang/rust#25842 discusses the heap's panic
//! safety). Here a guard tracks the hole during every sift. If a
//! comparison panics, the guard walks the hole back along the path it
//! came, copying each entry back to where it was; a pop's guard also owns
//! the root's entry and puts it back. The heap is then exactly as it was
//! before the call (a push's new entry, never in the heap, is dropped with
//! the panicking call). Unit tests make every comparison of a push and of
//! a pop panic in turn and check this, and Miri runs them.

use std::cmp::Ordering;
use std::mem::{self, ManuallyDrop};
use std::ptr;

/// An item and its push sequence number.
struct Entry<T> {
    item: T,
    seq: u64,
}

#[inline]
fn parent(at: usize) -> usize {
    (at - 1) / 2
}

/// Whether `a` comes out before `b`. One user comparison, which may panic.
/// Equal items are rare, so that branch is predictable; the other outcome
/// is a flag, not a branch (written as `if`, not `match`: the `match`
/// compiles to two data-dependent branches).
#[inline]
fn before<T: Ord>(a: &Entry<T>, b: &Entry<T>) -> bool {
    let order = a.item.cmp(&b.item);
    if order == Ordering::Equal { put_earlier(&a.seq, &b.seq) } else { order == Ordering::Less }
}

#[cold]
#[inline(never)]
fn put_earlier(a_seq: &u64, b_seq: &u64) -> bool {
    a_seq < b_seq
}

/// Smallest first; ties in push order.
pub(crate) struct StableHeap<T> {
    heap: Heap<T>,
    next_seq: u64,
}

impl<T> Default for StableHeap<T> {
    fn default() -> Self {
        StableHeap { heap: Heap(Vec::new()), next_seq: 0 }
    }
}

impl<T> StableHeap<T> {
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.heap.0.len()
    }
}

impl<T: Ord> StableHeap<T> {
    /// Adds `item`. If a comparison panics, the heap is as it was and
    /// `item` is dropped.
    pub(crate) fn push(&mut self, item: T) {
        self.heap.push(Entry { item, seq: self.next_seq });
        self.next_seq += 1;
    }

    /// Removes the smallest item (the earliest pushed among equals). If a
    /// comparison panics, the heap is as it was.
    pub(crate) fn pop(&mut self) -> Option<T> {
        self.heap.pop().map(|entry| entry.item)
    }
}

/// A binary min-heap of entries.
struct Heap<T>(Vec<Entry<T>>);

/// A push in progress: the new entry (held by `push`) rises from `leaf`,
/// one past the heap's initialized length, and the hole is at `hole`. Every
/// entry on the path strictly below `hole`, down to `leaf`, holds a copy of
/// its parent's entry; the slot at `hole` is logically empty.
///
/// Dropped only by unwinding out of a comparison (a successful push
/// forgets it): copies each of those entries back up a level, so the heap
/// is exactly as it was and the slot at `leaf`, outside the vector's
/// length, is left unused.
struct Rising<T> {
    base: *mut Entry<T>,
    leaf: usize,
    hole: usize,
}

impl<T> Drop for Rising<T> {
    fn drop(&mut self) {
        // In 1-based numbering the ancestor `k` levels above node `n` is
        // `n >> k`: walk the path from just below the hole down to `leaf`.
        let n = self.leaf + 1;
        let mut levels = n.ilog2() - (self.hole + 1).ilog2();
        while levels > 0 {
            levels -= 1;
            let child = (n >> levels) - 1;
            // SAFETY: `child` lies on the path below `hole`, at most `leaf`,
            // inside the allocation (`push` reserved room for `leaf`), and
            // holds an entry (see the type's invariant); `hole` is the
            // path's empty slot and a different index. After the copy
            // `child`'s slot is the empty one, so no entry is duplicated.
            unsafe { ptr::copy_nonoverlapping(self.base.add(child), self.base.add(self.hole), 1) };
            self.hole = child;
        }
    }
}

/// A pop in progress: `top`, the root's entry, has been moved out and the
/// hole is at `hole`. Every slot on the path from the root to just above
/// `hole` holds a copy of the entry of its child on the path (the hole
/// went down the path) or its original entry again (the last entry's
/// parents came back down while it rose); the slot at `hole` is logically
/// empty. The vector's length is unchanged; its last entry has not moved.
///
/// Dropped only by unwinding out of a comparison (a successful pop forgets
/// it): walks the hole back up, copying each parent's entry down into it,
/// and writes `top` back to the root, which restores every slot.
struct Sinking<T> {
    base: *mut Entry<T>,
    hole: usize,
    top: ManuallyDrop<Entry<T>>,
}

impl<T> Drop for Sinking<T> {
    fn drop(&mut self) {
        while self.hole > 0 {
            let up = parent(self.hole);
            // SAFETY: `up` is on the path above the empty slot `hole`, so it
            // holds an entry (the type's invariant) and is a different
            // index; both are below the vector's length. Copying it down
            // undoes the last move across that edge, in reverse order, and
            // leaves `up` as the empty slot.
            unsafe { ptr::copy_nonoverlapping(self.base.add(up), self.base.add(self.hole), 1) };
            self.hole = up;
        }
        // SAFETY: the hole is at the root, which is empty; `top` is the
        // entry that was moved out of it and is not used again (this is the
        // guard's last act; `ManuallyDrop` keeps it from being dropped).
        unsafe { ptr::write(self.base, ManuallyDrop::take(&mut self.top)) };
    }
}

impl<T: Ord> Heap<T> {
    fn push(&mut self, entry: Entry<T>) {
        // Allocate first: nothing below allocates, and only the
        // comparisons can panic.
        self.0.reserve(1);
        let leaf = self.0.len();
        let mut rising = Rising { base: self.0.as_mut_ptr(), leaf, hole: leaf };
        while rising.hole > 0 {
            let up = parent(rising.hole);
            // SAFETY: `up < hole <= leaf`: a slot below the vector's length
            // that holds an entry (only `hole` is empty); no mutable access
            // to it exists while the comparison runs.
            if !before(&entry, unsafe { &*rising.base.add(up) }) {
                break;
            }
            // SAFETY: the parent's entry moves down into the empty slot
            // (inside the allocation: `reserve` above), and the parent's
            // slot becomes the hole. If a later comparison panics, `rising`
            // moves it back.
            unsafe {
                ptr::copy_nonoverlapping(rising.base.add(up), rising.base.add(rising.hole), 1)
            };
            rising.hole = up;
        }
        // SAFETY: the hole is empty and inside the allocation; the new entry
        // fills it. Then every slot up to `leaf` holds exactly one entry, so
        // the guard has nothing to undo and the length can grow by one.
        unsafe { ptr::write(rising.base.add(rising.hole), entry) };
        mem::forget(rising);
        // SAFETY: see above; `leaf + 1 <= capacity` after `reserve`.
        unsafe { self.0.set_len(leaf + 1) };
    }

    fn pop(&mut self) -> Option<Entry<T>> {
        let end = self.0.len().checked_sub(1)?;
        if end == 0 {
            return self.0.pop();
        }
        let base = self.0.as_mut_ptr();
        // The entry at `end` (the last) is the one that moves; the hole
        // stays below `end`, so that entry stays where it is until the end.
        // SAFETY: the heap has at least two entries; the root's is moved
        // into the guard and its slot becomes the hole.
        let top = ManuallyDrop::new(unsafe { ptr::read(base) });
        let mut sinking = Sinking { base, hole: 0, top };
        let mut child = 1;
        while child + 1 < end {
            // SAFETY: `child` and `child + 1` are below `end`, hold entries
            // (they are below the hole) and are only read while compared.
            let (left, right) = unsafe { (&*base.add(child), &*base.add(child + 1)) };
            if before(right, left) {
                child += 1;
            }
            // SAFETY: the smaller child's entry moves up into the empty
            // slot, and its own slot becomes the hole (`sinking` moves it
            // back if a comparison panics).
            unsafe { ptr::copy_nonoverlapping(base.add(child), base.add(sinking.hole), 1) };
            sinking.hole = child;
            child = 2 * child + 1;
        }
        if child + 1 == end {
            // SAFETY: as above, for an only child (`child < end`).
            unsafe { ptr::copy_nonoverlapping(base.add(child), base.add(sinking.hole), 1) };
            sinking.hole = child;
        }
        // SAFETY: the last entry, at `end`, never moved; only read here.
        let last = unsafe { &*base.add(end) };
        while sinking.hole > 0 {
            let up = parent(sinking.hole);
            // SAFETY: `up` is above the hole on its path: it holds an entry.
            if !before(last, unsafe { &*base.add(up) }) {
                break;
            }
            // SAFETY: the parent's entry moves down into the empty slot and
            // the parent's slot becomes the hole.
            unsafe { ptr::copy_nonoverlapping(base.add(up), base.add(sinking.hole), 1) };
            sinking.hole = up;
        }
        // SAFETY: the last entry moves into the hole (`hole < end`, so the
        // two slots differ), after which the slots below `end` each hold one
        // entry and the slot at `end` is dropped from the vector's length
        // without dropping its (moved) entry. `top` is taken out of the
        // guard before the guard is forgotten, so it is owned exactly once.
        let top = unsafe {
            ptr::copy_nonoverlapping(base.add(end), base.add(sinking.hole), 1);
            ManuallyDrop::take(&mut sinking.top)
        };
        mem::forget(sinking);
        // SAFETY: see above.
        unsafe { self.0.set_len(end) };
        Some(top)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::panic::{AssertUnwindSafe, catch_unwind};

    #[test]
    fn pops_in_order_and_ties_in_put_order() {
        let mut p = StableHeap::default();
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
        let mut p = StableHeap::default();
        for (i, k) in [2, 1, 2, 1, 2, 1, 0, 2].into_iter().enumerate() {
            p.push(Key(k, i as u32));
        }
        let out: Vec<(u32, u32)> = std::iter::from_fn(|| p.pop()).map(|k| (k.0, k.1)).collect();
        assert_eq!(out, vec![(0, 6), (1, 1), (1, 3), (1, 5), (2, 0), (2, 2), (2, 4), (2, 7)]);
    }

    #[test]
    fn panicking_ord_loses_nothing() {
        let mut p = StableHeap::default();
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
        /// Comparisons left before one panics, on this thread.
        static FUSE: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
    }

    /// Ordered by its number. Comparing the two numbers in `POISON` panics,
    /// and so does the comparison that burns `FUSE` down.
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
            if let Some(left) = FUSE.get() {
                FUSE.set(left.checked_sub(1));
                assert!(left > 0, "fuse burnt");
            }
            self.0.cmp(&o.0)
        }
    }

    fn filled(numbers: &[u32]) -> StableHeap<Touchy> {
        let mut p = StableHeap::default();
        for (tag, &k) in numbers.iter().enumerate() {
            p.push(Touchy(k, tag as u32));
        }
        p
    }

    fn drain(p: &mut StableHeap<Touchy>) -> Vec<(u32, u32)> {
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

    /// Every comparison of a push and of a pop, in turn, panics: each time
    /// the heap must drain exactly as an untouched copy does, ties in put
    /// order; when none panics the result must match a sorted model.
    #[test]
    fn a_panic_at_any_comparison_leaves_the_heap_as_it_was() {
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut random = move |below: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % below
        };
        let rounds = if cfg!(miri) { 12 } else { 300 };
        for _ in 0..rounds {
            let len = random(40) as usize;
            let numbers: Vec<u32> = (0..len).map(|_| random(6) as u32).collect();
            let reference = drain(&mut filled(&numbers));
            let mut model: Vec<(u32, u32)> =
                numbers.iter().enumerate().map(|(tag, &k)| (k, tag as u32)).collect();
            model.sort();
            assert_eq!(reference, model);
            let new = random(7) as u32;
            for pop in [false, true] {
                for fuse in 0.. {
                    let mut p = filled(&numbers);
                    FUSE.set(Some(fuse));
                    let outcome = catch_unwind(AssertUnwindSafe(|| {
                        if pop {
                            p.pop().map(|t| (t.0, t.1))
                        } else {
                            p.push(Touchy(new, 999));
                            None
                        }
                    }));
                    FUSE.set(None);
                    match outcome {
                        Err(_) => assert_eq!(drain(&mut p), reference),
                        Ok(popped) => {
                            let mut expected = model.clone();
                            if pop {
                                assert_eq!(
                                    popped,
                                    (!expected.is_empty()).then(|| expected.remove(0))
                                );
                            } else {
                                expected.push((new, 999));
                                expected.sort();
                            }
                            assert_eq!(drain(&mut p), expected);
                            break;
                        }
                    }
                }
            }
        }
    }
}
