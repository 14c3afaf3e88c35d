//! A stable 4-ary min-heap: smallest item first, equal items in the order
//! they were pushed. `PriorityQueue`'s ordering policy
//! (`queue/priority.rs`) is this heap under the queue's mutex; it lives
//! here with the crate's other `unsafe` building blocks.
//!
//! # Layout
//!
//! Each item has a push sequence number, so that ties come out in push
//! order, kept in an array beside the items (struct of arrays): a
//! comparison reads the sequence numbers only when two items are equal (a
//! `#[cold]` call), so walks touch the items alone and comparing costs what
//! the user's `Ord` costs. Moves copy both.
//!
//! Four children per node, not two: half the levels, so half the dependent
//! loads on a walk from the root. A pop picks the smallest of four children
//! with three comparisons whose outcomes select indices arithmetically
//! (no branch on them), so the walk never waits for a mispredicted guess.
//! Each step of a pop also prefetches the sixteen grandchildren (two or
//! three cache lines for 8-byte items), so in a heap larger than the cache
//! the next level's misses overlap this level's comparisons.
//!
//! Measured single-threaded through `PriorityQueue<u64>` (put + get +
//! task_done, random keys; 2-core AMD EPYC VM; fastest of 9 rounds, two
//! runs each): draining 100k items, 79-116 ns per get, against 149-155 ns
//! with the binary heap of 16-byte (item, sequence) entries this replaced;
//! draining 1M items, 360-368 ns per get, against 354-423 ns for that
//! binary heap and 490-508 ns for this heap without the prefetch (a bare
//! std `BinaryHeap<Reverse<u64>>` in the same runs: 360-463 ns per pop); a
//! steady 1024-item queue, 58-77 ns per put + get, against 41-73 ns.
//! These VM figures move by up to 1.5x between runs.
//!
//! # Panic safety
//!
//! Every comparison of a push or a pop happens before anything moves: a
//! pop first walks down choosing the smallest child at each level,
//! recording the path, then finds where the last entry settles on that path
//! (comparing it with the path's entries from the bottom up), and only then
//! moves entries, which runs no user code. A push compares the new item
//! with its ancestors first and then shifts them down. So a comparison that
//! panics leaves the heap exactly as it was (a push's new item, never in
//! the heap, is dropped with the panicking call); std's `pop` gives no such
//! promise (it holds the popped item outside the heap while it sifts,
//! rust-lang/rust#25842). Unit tests make every comparison of a push and of
//! a pop panic in turn and check this, and Miri runs them.

use std::cmp::Ordering;
use std::mem::MaybeUninit;
use std::ptr;

/// Children per node.
const ARITY: usize = 4;

/// The most levels a pop's path can have: every level multiplies the
/// nodes by four, and a `Vec` holds fewer than `2^63` items.
const MAX_DEPTH: usize = 33;

#[inline]
fn parent(at: usize) -> usize {
    (at - 1) / ARITY
}

/// Asks the cache for the 16 grandchildren of `at` (one level below the
/// children a pop is about to compare), so that the next level's loads
/// overlap this level's comparisons instead of waiting for them. A hint
/// only: nothing is read, and an address past the end is harmless.
#[inline(always)]
fn prefetch_grandchildren<T>(items: *const T, at: usize) {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        const LINE: usize = 64;
        let bytes = ARITY * ARITY * std::mem::size_of::<T>();
        // Large items: the lines would be many, and the win small.
        if bytes == 0 || bytes > 4 * LINE {
            return;
        }
        let start = items.wrapping_add(ARITY * (ARITY * at + 1) + 1).cast::<i8>();
        let mut offset = 0;
        while offset < bytes {
            // SAFETY: a prefetch is a hint to the cache: it never faults
            // and is not a memory access as far as the language is
            // concerned, so any address (here possibly past the heap's
            // end; computed with wrapping arithmetic) is allowed.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(start.wrapping_add(offset)) };
            offset += LINE;
        }
        // The last byte, in case the span straddles one more line.
        // SAFETY: as above.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(start.wrapping_add(bytes - 1)) };
    }
    #[cfg(not(all(target_arch = "x86_64", not(miri))))]
    let _ = (items, at);
}

#[cold]
#[inline(never)]
fn put_earlier(a_seq: u64, b_seq: u64) -> bool {
    a_seq < b_seq
}

/// `if pick_b { b } else { a }` without a branch: the comparisons that
/// choose a child are unpredictable, and a mispredicted branch costs more
/// than waiting for the comparison.
#[inline(always)]
fn choose(pick_b: bool, a: usize, b: usize) -> usize {
    a ^ ((a ^ b) & (pick_b as usize).wrapping_neg())
}

/// Smallest first; ties in push order.
pub(crate) struct StableHeap<T> {
    /// The heap, in the usual array order: the children of `i` are
    /// `4i + 1 ..= 4i + 4`.
    items: Vec<T>,
    /// `seqs[i]` is the push sequence number of `items[i]`; always as long
    /// as `items`.
    seqs: Vec<u64>,
    next_seq: u64,
}

impl<T> Default for StableHeap<T> {
    fn default() -> Self {
        StableHeap { items: Vec::new(), seqs: Vec::new(), next_seq: 0 }
    }
}

impl<T> StableHeap<T> {
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    /// Moves the entry at `from` to the hole at `to`.
    ///
    /// # Safety
    /// Both are below the allocation's capacity, `from` holds an entry and
    /// `to` is a hole (its item moved out or never written); afterwards
    /// `from` is the hole.
    #[inline(always)]
    unsafe fn shift(items: *mut T, seqs: *mut u64, from: usize, to: usize) {
        // SAFETY: the caller's contract; `from != to` because one holds an
        // entry and the other is a hole.
        unsafe {
            ptr::copy_nonoverlapping(items.add(from), items.add(to), 1);
            *seqs.add(to) = *seqs.add(from);
        }
    }
}

impl<T: Ord> StableHeap<T> {
    /// Whether item `a` comes out before item `b`: one user comparison,
    /// which may panic, and on a tie the push order. `seqs` gives `a`'s and
    /// `b`'s sequence numbers and is called only on a tie, so that walks
    /// touch the items alone.
    ///
    /// Written as `if`, not `match`: the `match` compiled to branches on
    /// the outcome, which the pop then waited on (twice the time per
    /// push+pop when draining a heap).
    #[inline(always)]
    fn precedes(a: &T, b: &T, seqs: impl FnOnce() -> (u64, u64)) -> bool {
        let order = a.cmp(b);
        if order == Ordering::Equal {
            let (a_seq, b_seq) = seqs();
            put_earlier(a_seq, b_seq)
        } else {
            order == Ordering::Less
        }
    }

    /// `precedes` for the entries at `a` and `b`.
    ///
    /// # Safety
    /// `a` and `b` hold entries of the heap (below its length).
    #[inline(always)]
    unsafe fn before(items: *const T, seqs: *const u64, a: usize, b: usize) -> bool {
        // SAFETY: the caller's contract; only shared references are made,
        // and nothing is written while the user's `Ord` runs.
        unsafe { Self::precedes(&*items.add(a), &*items.add(b), || (*seqs.add(a), *seqs.add(b))) }
    }

    /// Adds `item`. If a comparison panics, the heap is as it was and
    /// `item` is dropped.
    pub(crate) fn push(&mut self, item: T) {
        let seq = self.next_seq;
        // Allocate first: nothing below allocates, and only the comparisons
        // can panic, before anything moves.
        self.items.reserve(1);
        self.seqs.reserve(1);
        let leaf = self.items.len();
        let items = self.items.as_mut_ptr();
        let seqs = self.seqs.as_mut_ptr();
        // How far the new item rises: compare it with its ancestors.
        let mut top = leaf;
        while top > 0 {
            let up = parent(top);
            // SAFETY: `up < leaf` holds an entry; the new item is not in the
            // heap yet, so `&item` aliases nothing.
            let rises = unsafe { Self::precedes(&item, &*items.add(up), || (seq, *seqs.add(up))) };
            if !rises {
                break;
            }
            top = up;
        }
        // Shift the ancestors from `parent(leaf)` up to `top` down a level;
        // no user code runs from here on.
        let mut hole = leaf;
        while hole != top {
            let up = parent(hole);
            // SAFETY: `up` holds an entry (it is below `leaf`), `hole` is
            // the empty slot (at first `leaf`, inside the capacity reserved
            // above).
            unsafe { Self::shift(items, seqs, up, hole) };
            hole = up;
        }
        // SAFETY: `hole` is empty and inside the capacity; after this write
        // every slot up to `leaf` holds one entry, in both arrays.
        unsafe {
            ptr::write(items.add(hole), item);
            *seqs.add(hole) = seq;
            self.items.set_len(leaf + 1);
            self.seqs.set_len(leaf + 1);
        }
        self.next_seq += 1;
    }

    /// Removes the smallest item (the earliest pushed among equals). If a
    /// comparison panics, the heap is as it was.
    pub(crate) fn pop(&mut self) -> Option<T> {
        let end = self.items.len().checked_sub(1)?;
        if end == 0 {
            self.seqs.pop();
            return self.items.pop();
        }
        let items = self.items.as_mut_ptr();
        let seqs = self.seqs.as_mut_ptr();
        // 1. The path of smallest children from the root, among the entries
        //    below `end` (the last entry, at `end`, is the one that moves).
        // Uninitialized: zeroing it cost a few percent of a pop.
        let mut path = [MaybeUninit::<usize>::uninit(); MAX_DEPTH];
        path[0].write(0);
        let mut depth = 0;
        let mut at = 0;
        loop {
            let first = ARITY * at + 1;
            let next = if first + ARITY <= end {
                prefetch_grandchildren(items, at);
                // SAFETY: all four children are below `end`: entries.
                unsafe {
                    let a = choose(Self::before(items, seqs, first + 1, first), first, first + 1);
                    let b = choose(
                        Self::before(items, seqs, first + 3, first + 2),
                        first + 2,
                        first + 3,
                    );
                    choose(Self::before(items, seqs, b, a), a, b)
                }
            } else if first < end {
                let mut best = first;
                for child in first + 1..end {
                    // SAFETY: `child` and `best` are below `end`: entries.
                    best = choose(unsafe { Self::before(items, seqs, child, best) }, best, child);
                }
                best
            } else {
                break;
            };
            depth += 1;
            path[depth].write(next);
            at = next;
        }
        // 2. Where the last entry settles: it rises past each path entry
        //    it comes out before, from the bottom.
        let step = |level: usize| {
            debug_assert!(level <= depth);
            // SAFETY: `path[0..=depth]` was written above, and every call
            // below passes a level of at most `depth` (`settle` starts at
            // `depth` and only decreases).
            unsafe { path[level].assume_init() }
        };
        let mut settle = depth;
        // SAFETY: path entries and `end` are entries of the heap.
        while settle > 0 && unsafe { Self::before(items, seqs, end, step(settle)) } {
            settle -= 1;
        }
        // 3. The moves; no user code runs from here on.
        // SAFETY: the root's item is moved out, leaving its slot a hole;
        // each path entry down to `settle` then moves up into the hole
        // above it, the last entry fills the hole at `path[settle]` (not
        // `end`: every path index is below `end`), and `end` leaves the
        // arrays' length, its entry moved, not dropped. Afterwards every
        // slot below `end` holds exactly one entry.
        unsafe {
            let top = ptr::read(items);
            for level in 0..settle {
                Self::shift(items, seqs, step(level + 1), step(level));
            }
            Self::shift(items, seqs, end, step(settle));
            self.items.set_len(end);
            self.seqs.set_len(end);
            Some(top)
        }
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
        // 0 rises from the leaf (index 7) past the 3 above it (index 1),
        // and panics meeting the root 1.
        POISON.set(Some((0, 1)));
        assert!(catch_unwind(AssertUnwindSafe(|| p.push(Touchy(0, 99)))).is_err());
        POISON.set(None);
        assert_eq!(drain(&mut p), drain(&mut filled(&numbers)));
    }

    #[test]
    fn pop_panicking_leaves_the_heap_as_it_was() {
        // The root 0 has children 1, 2, 4 and 3: popping it compares the
        // first two first.
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

    /// Deep heaps (several levels of four), interleaved pushes and pops,
    /// against a sorted model; then the heap is dropped with items left in
    /// it: every item is dropped exactly once.
    #[test]
    fn deep_heaps_match_a_model_and_drop_each_item_once() {
        use std::rc::Rc;
        let drops = Rc::new(std::cell::Cell::new(0usize));
        struct Counted(u32, u32, Rc<std::cell::Cell<usize>>);
        impl PartialEq for Counted {
            fn eq(&self, o: &Self) -> bool {
                self.0 == o.0
            }
        }
        impl Eq for Counted {}
        impl PartialOrd for Counted {
            fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
                Some(self.cmp(o))
            }
        }
        impl Ord for Counted {
            fn cmp(&self, o: &Self) -> Ordering {
                self.0.cmp(&o.0)
            }
        }
        impl Drop for Counted {
            fn drop(&mut self) {
                self.2.set(self.2.get() + 1);
            }
        }
        let n: u32 = if cfg!(miri) { 300 } else { 5000 };
        let mut p = StableHeap::default();
        let mut model: Vec<(u32, u32)> = Vec::new();
        let mut popped = 0usize;
        for tag in 0..n {
            let key = tag.wrapping_mul(2_654_435_761) % 97;
            p.push(Counted(key, tag, drops.clone()));
            model.push((key, tag));
            if tag % 3 == 2 {
                model.sort();
                let got = p.pop().map(|c| (c.0, c.1));
                assert_eq!(got, Some(model.remove(0)));
                popped += 1;
            }
        }
        assert_eq!(p.len(), model.len());
        assert_eq!(drops.get(), popped);
        drop(p);
        assert_eq!(drops.get(), n as usize);

        // Zero-sized items: only the sequence numbers order them.
        let mut z = StableHeap::default();
        for _ in 0..100 {
            z.push(());
        }
        assert_eq!(std::iter::from_fn(|| z.pop()).count(), 100);
    }
}
