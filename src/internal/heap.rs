//! A stable 4-ary min-heap: smallest item first, equal items in the order
//! they were pushed. `PriorityQueue` keeps one on its getters' side
//! (`queue/priority.rs`); it lives here with the crate's other `unsafe`
//! building blocks.
//!
//! # Layout
//!
//! Each entry is the item and its push sequence number, side by side, so
//! that ties come out in push order. The sequence number is read only when
//! two items compare equal; keeping it next to the item means that moving
//! an entry moves one contiguous 16 bytes (for 8-byte items) and that the
//! four children of a node, which a pop compares together, usually share
//! one or two cache lines.
//!
//! Four children per node, not two: half the levels, so half the dependent
//! loads on a walk from the root. A pop picks the smallest of four children
//! with three comparisons whose outcomes select the child without a branch,
//! and notes whether any of them was a tie; only then, and rarely, does it
//! compare sequence numbers, in a cold function. (A comparison that also
//! broke ties inline made the select wait for a flag test and cost a third
//! more per pop.) Each step of a pop also prefetches the sixteen
//! grandchildren, so in a heap larger than the cache the next level's
//! misses overlap this level's comparisons.
//!
//! Measured single-threaded on the benchmark's keys (push + pop at a
//! steady size, ns; 2-core AMD EPYC VM): 17 / 25 / 31 / 38 / 47 / 64 at
//! 16 / 64 / 256 / 1024 / 4096 / 65536 items, against 13 / 19 / 26 / 35 /
//! 41 / 77 for std's `BinaryHeap<Reverse<u64>>`, which is not stable; the
//! heap this replaced (comparisons all before any move, items and sequence
//! numbers in separate arrays) took 19 / 28 / 39 / 48 / 57 / 85. Filling 1M
//! and draining them: 3.2 and 105 ns per push and pop, std 3.3-4 and
//! 104-117, the old heap 15 and 113-219.
//!
//! # Panic safety
//!
//! A user `Ord` may panic in any comparison; the heap is then exactly as it
//! was before the call, so no item is lost or duplicated and the order
//! stays right.
//!
//! - A push compares the new item with its ancestors first and moves
//!   nothing until it knows where the item settles ([`StableHeap::slot_for`]
//!   then [`StableHeap::insert`]). A caller can therefore compare an item
//!   before it gives the item up.
//! - A pop moves entries while it compares, as std's does (the hole moves
//!   down the path of smallest children), but a guard owns the root's entry
//!   and the last entry while it walks; if a comparison panics, the guard
//!   walks the hole back up, moving each entry on the path back down to
//!   where it was, and puts both entries back. The path need not be
//!   recorded: it is the hole's ancestors. The last entry's climb back up
//!   from the bottom compares first and moves after, so only the descent
//!   needs undoing. std's `pop` gives no such promise (it holds the popped
//!   item outside the heap while it sifts, rust-lang/rust#25842).
//!
//! Unit tests make every comparison of a push and of a pop panic in turn
//! and check this; Miri runs them.

use std::cmp::Ordering;
use std::mem::ManuallyDrop;
use std::ptr;

/// Children per node.
const ARITY: usize = 4;

#[inline(always)]
fn parent(at: usize) -> usize {
    (at - 1) / ARITY
}

/// An item with its push sequence number.
struct Entry<T> {
    item: T,
    seq: u64,
}

/// Whether entry `a` comes out before entry `b`: the smaller item, and
/// between equal items the one pushed first.
#[inline(always)]
fn before<T: Ord>(a: &Entry<T>, b: &Entry<T>) -> bool {
    let order = a.item.cmp(&b.item);
    if order == Ordering::Equal { a.seq < b.seq } else { order == Ordering::Less }
}

/// `if pick_b { b } else { a }`, meant to compile to a conditional move:
/// the comparisons that choose a child are unpredictable, and a
/// mispredicted branch costs more than waiting for the comparison.
#[inline(always)]
fn choose<P>(pick_b: bool, a: P, b: P) -> P {
    if pick_b { b } else { a }
}

/// Asks the cache for the 16 grandchildren of the node whose first child
/// is `first` (one level below the children a pop is about to compare), so
/// that the next level's loads overlap this level's comparisons. A hint
/// only: nothing is read, and an address past the end is harmless.
#[inline(always)]
fn prefetch_grandchildren<T>(entries: *const Entry<T>, first: usize) {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        const LINE: usize = 64;
        let bytes = ARITY * ARITY * std::mem::size_of::<Entry<T>>();
        // Large items: the lines would be many, and the win small.
        if bytes > 4 * LINE {
            return;
        }
        let start = entries.wrapping_add(ARITY * first + 1).cast::<i8>();
        let mut offset = 0;
        while offset < bytes {
            // SAFETY: a prefetch is a hint to the cache: it never faults
            // and is not a memory access as far as the language is
            // concerned, so any address (here possibly past the heap's
            // end; computed with wrapping arithmetic) is allowed.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(start.wrapping_add(offset)) };
            offset += LINE;
        }
    }
    #[cfg(not(all(target_arch = "x86_64", not(miri))))]
    let _ = (entries, first);
}

/// The smallest of four entries, ties in push order: the slow path of a
/// pop's step, taken when one of the fast comparisons was a tie.
///
/// # Safety
/// `first..first + 4` are entries of the heap at `entries`.
#[cold]
#[inline(never)]
unsafe fn smallest_of_four_tied<T: Ord>(entries: *const Entry<T>, first: usize) -> usize {
    // SAFETY: the caller's contract; only shared references are made.
    let at = |i: usize| unsafe { &*entries.add(i) };
    let ab = choose(before(at(first + 1), at(first)), first, first + 1);
    let cd = choose(before(at(first + 3), at(first + 2)), first + 2, first + 3);
    choose(before(at(cd), at(ab)), ab, cd)
}

/// Where [`StableHeap::slot_for`] found that an item settles: valid for
/// [`StableHeap::insert`] until the heap changes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Slot {
    /// The heap's length when the slot was found: the new leaf.
    leaf: usize,
    /// The ancestor of `leaf` (or `leaf` itself) the item rises to.
    top: usize,
}

/// Owns the root's entry and the last entry while a pop's hole walks down,
/// and puts everything back if a comparison panics.
struct Descent<T> {
    entries: *mut Entry<T>,
    /// Where the hole is: every entry on the path above it has moved up
    /// one level, into its parent's place.
    hole: usize,
    /// The index of the last entry, whose slot the walk treats as empty.
    end: usize,
    root: ManuallyDrop<Entry<T>>,
    last: ManuallyDrop<Entry<T>>,
}

impl<T> Drop for Descent<T> {
    /// Runs only if a comparison panicked (a finished pop forgets the
    /// guard): undoes the walk, so the heap is as it was.
    fn drop(&mut self) {
        let mut hole = self.hole;
        while hole != 0 {
            let up = parent(hole);
            // SAFETY: the walk moved the entry at `hole` up into `up`, its
            // parent; moving it back leaves `up` the hole. Both are below
            // `end`, inside the heap's initialized length.
            unsafe { ptr::copy_nonoverlapping(self.entries.add(up), self.entries.add(hole), 1) };
            hole = up;
        }
        // SAFETY: the hole is back at the root, and the last entry's slot
        // still belongs to the heap (its length was not changed): each
        // entry goes back to its own slot, once (`ManuallyDrop::take` is
        // not repeated: this is the guard's drop).
        unsafe {
            ptr::write(self.entries, ManuallyDrop::take(&mut self.root));
            ptr::write(self.entries.add(self.end), ManuallyDrop::take(&mut self.last));
        }
    }
}

/// Smallest first; ties in push order.
pub(crate) struct StableHeap<T> {
    /// The heap, in the usual array order: the children of `i` are
    /// `4i + 1 ..= 4i + 4`.
    entries: Vec<Entry<T>>,
    next_seq: u64,
}

impl<T> Default for StableHeap<T> {
    fn default() -> Self {
        StableHeap { entries: Vec::new(), next_seq: 0 }
    }
}

impl<T> StableHeap<T> {
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

impl<T: Ord> StableHeap<T> {
    /// Where `item` would settle if it were pushed now: compares it with
    /// its would-be ancestors and changes nothing, so a panicking `Ord`
    /// leaves both the heap and the item where they were.
    #[inline]
    pub(crate) fn slot_for(&self, item: &T) -> Slot {
        let leaf = self.entries.len();
        let mut top = leaf;
        // Ties do not rise: the new item is pushed last, so it comes out
        // after every equal item already here.
        while top > 0 && *item < self.entries[parent(top)].item {
            top = parent(top);
        }
        Slot { leaf, top }
    }

    /// Adds `item` where `slot` says, which [`Self::slot_for`] found for it
    /// with no change to the heap since. Runs no user code.
    ///
    /// # Panics
    /// If the heap's length changed since `slot` was found.
    #[inline]
    pub(crate) fn insert(&mut self, item: T, slot: Slot) {
        assert_eq!(slot.leaf, self.entries.len(), "heap changed between slot_for and insert");
        self.entries.reserve(1);
        let entries = self.entries.as_mut_ptr();
        let mut hole = slot.leaf;
        while hole != slot.top {
            let up = parent(hole);
            // SAFETY: `top` is `leaf` or one of its ancestors (`slot_for`
            // walked up by `parent`), so `up` is an entry below `leaf` and
            // `hole` is the free slot: at first `leaf`, inside the capacity
            // reserved above; after each move, the slot just vacated.
            unsafe { ptr::copy_nonoverlapping(entries.add(up), entries.add(hole), 1) };
            hole = up;
        }
        let seq = self.next_seq;
        // SAFETY: `hole` is free and inside the capacity; after the write
        // every slot up to `leaf` holds one entry.
        unsafe {
            ptr::write(entries.add(hole), Entry { item, seq });
            self.entries.set_len(slot.leaf + 1);
        }
        // 2^64 pushes at one per nanosecond would take 584 years.
        self.next_seq = seq + 1;
    }

    /// Adds `item`. If a comparison panics, the heap is as it was and
    /// `item` is dropped. (The queue uses the two steps, to compare an item
    /// before taking it out of its slot.)
    #[cfg(test)]
    pub(crate) fn push(&mut self, item: T) {
        let slot = self.slot_for(&item);
        self.insert(item, slot);
    }

    /// Removes the smallest item (the earliest pushed among equals). If a
    /// comparison panics, the heap is as it was.
    #[inline]
    pub(crate) fn pop(&mut self) -> Option<T> {
        let end = self.entries.len().checked_sub(1)?;
        if end == 0 {
            return self.entries.pop().map(|entry| entry.item);
        }
        let entries = self.entries.as_mut_ptr();
        // SAFETY: `0` and `end` are distinct entries (`end > 0`); they are
        // read out into the guard, which from here on owns them, and their
        // slots are treated as empty (the root's is the hole).
        let mut walk = unsafe {
            Descent {
                entries,
                hole: 0,
                end,
                root: ManuallyDrop::new(ptr::read(entries)),
                last: ManuallyDrop::new(ptr::read(entries.add(end))),
            }
        };
        // 1. The hole goes down the path of smallest children, among the
        //    entries below `end`, each chosen child moving up into it.
        loop {
            let hole = walk.hole;
            let first = ARITY * hole + 1;
            let next = if first + ARITY <= end {
                prefetch_grandchildren(entries, first);
                // SAFETY: the four children are below `end`: entries (the
                // hole is their parent, so none of them is the hole).
                unsafe {
                    let at = |i: usize| &(*entries.add(i)).item;
                    let o1 = at(first + 1).cmp(at(first));
                    let o2 = at(first + 3).cmp(at(first + 2));
                    let ab = choose(o1 == Ordering::Less, first, first + 1);
                    let cd = choose(o2 == Ordering::Less, first + 2, first + 3);
                    let o3 = at(cd).cmp(at(ab));
                    if (o1 == Ordering::Equal) | (o2 == Ordering::Equal) | (o3 == Ordering::Equal) {
                        smallest_of_four_tied(entries, first)
                    } else {
                        choose(o3 == Ordering::Less, ab, cd)
                    }
                }
            } else if first < end {
                let mut best = first;
                for child in first + 1..end {
                    // SAFETY: `child` and `best` are below `end`: entries.
                    let earlier = unsafe { before(&*entries.add(child), &*entries.add(best)) };
                    best = choose(earlier, best, child);
                }
                best
            } else {
                break;
            };
            // SAFETY: `next` is an entry below `end`, `hole` is its parent
            // and empty; afterwards `next` is the hole.
            unsafe { ptr::copy_nonoverlapping(entries.add(next), entries.add(hole), 1) };
            walk.hole = next;
        }
        // 2. How far the last entry climbs back up from the hole: compare
        //    first, so a panic here has only the descent to undo.
        let bottom = walk.hole;
        let mut top = bottom;
        // SAFETY: every ancestor of the hole holds an entry.
        while top > 0 && before(&walk.last, unsafe { &*entries.add(parent(top)) }) {
            top = parent(top);
        }
        // 3. No user code from here on: the guard's work is done.
        let mut walk = ManuallyDrop::new(walk);
        let mut hole = bottom;
        while hole != top {
            let up = parent(hole);
            // SAFETY: `up` is an entry on the path, `hole` is empty; the
            // entry moves down and `up` becomes the hole.
            unsafe { ptr::copy_nonoverlapping(entries.add(up), entries.add(hole), 1) };
            hole = up;
        }
        // SAFETY: the last entry fills the hole (every slot below `end` now
        // holds one entry); `end` leaves the length, its entry moved, not
        // dropped; the root's entry goes to the caller. Each is taken out of
        // the guard once, and the guard is never dropped.
        unsafe {
            ptr::write(entries.add(hole), ManuallyDrop::take(&mut walk.last));
            self.entries.set_len(end);
            Some(ManuallyDrop::take(&mut walk.root).item)
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
