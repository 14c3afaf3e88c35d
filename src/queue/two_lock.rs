//! The two-lock core behind `Queue` and `PriorityQueue`. (`LifoQueue`
//! has a one-lock core of its own, `lifo.rs`, which says why.)
//!
//! Python's design, one mutex around the container, makes every put and
//! every get fight over that mutex. Here producers and consumers have a
//! lock each, as in
//! Java's `LinkedBlockingQueue`, so a producer and a consumer never wait
//! for each other, and, unlike `LinkedBlockingQueue`, they share no counter
//! either: they meet only at the slot being handed over, as in
//! crossbeam-channel's list flavor.
//!
//! Items live in a linked list of fixed-size blocks. The producer side
//! (the `tail` lock) writes the next slot, marks it ready, and, when it
//! fills a block, links a fresh one first; the consumer side (the `head`
//! lock) takes slots in order once they are ready and frees each block
//! after taking its last slot. No slot is ever reused, so a bounded queue's
//! capacity is only a count (`put_total - taken_total`): nothing is
//! allocated up front, and `bounded(usize::MAX)` costs what `new()` costs.
//!
//! # What a get takes
//!
//! Puts always fill slots in put order; which item a get hands out is the
//! core's [`TakeOrder`]:
//!
//! - [`Fifo`] (`Queue`) takes the oldest ready slot.
//! - `Priority` (`PriorityQueue`, `priority.rs`) moves every ready slot
//!   into a stable heap that only the consumer side touches, and takes the
//!   smallest item. A put stays a slot write, and the heap's cache lines
//!   stay on the consumers' cores instead of crossing to the producer's on
//!   every item, as a heap shared under one lock does.
//!
//! An item a get moved out of its slot but did not hand out is still
//! queued: `taken_total` counts items handed out (or discarded), which is
//! what capacity, `len` and the task counts need.
//!
//! # Recycling blocks
//!
//! A consumer that empties a block does not free it: it resets the slots'
//! flags and keeps the block for the producers (`internal/spares.rs`, up to
//! `SPARES` blocks), and a producer that fills a block takes a kept one
//! instead of allocating. Without it every 32 items cost a `malloc` on one
//! thread and a `free` of that memory on another, and glibc serializes
//! those on the producer's arena lock: a 1P1C bounded queue made ~14
//! thousand futex calls per million items, about half of them from the
//! allocator, and ran at half crossbeam-channel's speed. Keeping one block
//! was not enough once two threads work each side: consumers empty blocks
//! in bursts, so most of them were freed while producers allocated, and
//! consumers slept on the arena lock (unbounded FIFO, medians of
//! alternating runs, 1M items: 2P2C 25.2 -> 13.7 ms, 4P4C 19.8 -> 13.9 ms
//! with 32 kept instead of one; 8 kept: 2P2C 19.4 ms, 128 kept: no better
//! than 32; all with blocks of 32 slots). The ring holds at most 128 KiB of
//! blocks, so a queue of large items keeps fewer (but always one).
//!
//! # Block size
//!
//! Producers that run ahead build a backlog of hundreds of thousands of
//! items, more blocks than any ring keeps, so the allocator still runs
//! once per block while the backlog grows and drains, and consumers freeing
//! blocks still met producers allocating them on the arena lock
//! (`perf record -e sched:sched_switch`: 26 sleeps in glibc's `_int_free`
//! in six 2P2C runs). Blocks of 128 slots instead of 32 call the allocator
//! a quarter as often (medians of alternating runs, 1M items, scratch
//! program: FIFO unbounded 1P1C 11.0 -> 9.8 ms, 2P2C 12.3 -> 10.9 ms,
//! 4P4C 20.0 -> 15.0 ms, bounded(1024) 4P4C 16.5 -> 15.0 ms; the priority
//! queue within noise; criterion `fifo_1p1c_unbounded_1M`, three
//! alternating runs: 10.9, 18.6, 18.9 -> 9.3, 9.3, 9.5 ms). A queue's first
//! block is allocated when it is built: about 2 KiB for `u64` items.
//!
//! # Why it is sound
//!
//! - A consumer reads a slot only after seeing its `ready` flag (Acquire),
//!   which the producer sets (Release) after writing
//!   the value and, for a block's last slot, after linking the next block.
//! - Consumers are serialized by `head`, producers by `tail`. Only
//!   producers raise `put_total` and only consumers raise `taken_total`, so
//!   a bounded producer's room check cannot be invalidated by another
//!   producer, and consumers only make more room.
//! - A consumer frees a block only after taking its last slot, which was
//!   marked ready after the producer moved on to the next block, so no
//!   producer still points at it.
//!
//! # Waiting
//!
//! A consumer that finds nothing to take registers on `not_empty` and then
//! re-reads the head slot's flag (and the shutdown flag) under the `tail`
//! lock; a producer sets the flag under `tail` and looks for waiters after
//! releasing it. The lock orders the two: if the consumer's re-check came
//! first, its registration happens before the producer's look, which sees
//! it; otherwise the re-check sees the item. No lost wakeup, and the
//! producer's hot path pays no fence for it: only a consumer about to sleep
//! takes the producers' lock. (Lock order: `head` before `tail`.)
//!
//! Producers waiting for room on `not_full` mirror this: a producer
//! registers (still holding `tail`, so a shutdown cannot slip past it),
//! releases `tail` and re-reads `taken_total` under `head`; a getter raises
//! `taken_total` under `head` and looks for waiters after releasing it.
//!
//! Before registering, a waiting put or get spins: a few microseconds,
//! or, in a queue of capacity under `spin::HANDOFF_BELOW`, where puts and gets
//! wait for each other item by item, about as long as a woken thread
//! takes to run (`spin_before_parking`).
//!
//! # Pacing
//!
//! A [`TakeOrder::PACED`] queue (the priority queue) does more work per get
//! the more items it holds: a heap's pop costs a walk whose length grows
//! with the heap, and a heap that outgrows the cache misses at every level.
//! A producer that runs ahead of busy consumers therefore slows them down,
//! and they fall further behind: 1M items through one producer and one
//! consumer took 150–250 ms with the consumer's heap at hundreds of
//! thousands of items, 50 ms with it kept near a few hundred. So a producer
//! more than `PACE_AHEAD` items ahead of the consumers, while they are
//! busy, yields to them: it spins (never sleeps, and never longer than one
//! [`spin_until`] round, a few microseconds) until they are within
//! `PACE_BEHIND` items.
//!
//! "Busy" is measured by `slots_taken`, the items consumers have moved out
//! of the slots (handed out or kept). Handed-out items alone would not do:
//! behind a large backlog, each get first moves thousands of slots into
//! the heap and hands out one item, so consumers look idle exactly when
//! pacing is needed most. A round in which consumers moved fewer than
//! `PACE_PROGRESS` items turns pacing off (they are idle, or slower than a
//! round, and waiting for them would only slow the producer down), and it
//! comes back on once they have moved `PACE_AHEAD` items since. So a put
//! into a queue nobody reads never spins, and one whose consumers are slow
//! loses at most a round each time they move another `PACE_AHEAD` items. A
//! put never paces when the thread that last moved items is its own (a
//! thread alternating puts and gets would wait for itself).
//! Only puts that may block (not `try_put`) and find room pace: a bounded
//! queue's capacity still decides when puts block.
//!
//! # User code
//!
//! [`TakeOrder::admit`] runs under `tail` just before an item is written,
//! and [`TakeOrder::next`] under `head`. For the priority queue both
//! compare items (`Ord`), which may panic. `admit` panics before the item
//! is written, so the put fails and the item is dropped with it; `next`
//! compares an item before it moves it out of its slot, and the heap
//! leaves itself as it was, so a panicking get leaves every item queued. A
//! thread that was woken for an item or for room and then panics in user
//! code passes its wakeup on ([`PassOnIfUnwinding`]).

use std::marker::PhantomData;
use std::mem::{self, MaybeUninit};
use std::ptr;
use std::time::Instant;

use super::CoreState;
use super::tasks::{Credit, TakeSide, TaskCount, TaskSink, bump, latest};
use crate::error::{GetError, PutError, TaskDoneError};
use crate::internal::deadline;
use crate::internal::spares::Spares;
use crate::internal::spin::{room_batch, spin_before_parking, spin_until};
use crate::internal::thread_id;
use crate::internal::waiters::{PassOnIfUnwinding, WaitQueue, WaitResult};
use crate::loom::CachePadded;
use crate::loom::cell::UnsafeCell;
use crate::loom::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use crate::loom::sync::{Mutex, MutexGuard};
use crate::loom::thread::yield_now;

/// Slots per block: see "Block size" in the module docs. Small under loom
/// so that models cross block boundaries.
#[cfg(not(loom))]
const BLOCK_CAP: usize = 128;
#[cfg(loom)]
const BLOCK_CAP: usize = 2;

/// A paced producer yields to busy consumers that are more than this many
/// items behind (see "Pacing" in the module docs). Measured with 1P1C, 1M
/// items (priority, medians of alternating runs, ms): 64: 78, 128: 73,
/// 256: 65, 512: 71.
const PACE_AHEAD: usize = 256;
/// ... until they are within this many items.
const PACE_BEHIND: usize = PACE_AHEAD / 4;
/// Fewer items moved out of the slots by the consumers during a pacing
/// round than this turns pacing off.
const PACE_PROGRESS: usize = 8;

/// [`ReadySlots::move_all`] moves at most this many slots before it counts
/// how many items have been put, and then moves only those: a get must see
/// every put that finished before it began, but must not chase producers
/// that keep finishing puts while it moves their items. One under loom, so
/// that the models explore the counted part.
#[cfg(not(loom))]
const MOVE_UNCOUNTED: usize = 64;
#[cfg(loom)]
const MOVE_UNCOUNTED: usize = 1;

/// While moving many slots, a paced order tells producers of its progress
/// every this many items (see "Pacing").
const REPORT_EVERY: usize = 32;

/// What the consumer side keeps: items moved out of their slots and not
/// yet handed out. Apart from [`TakeOrder`], so that counting and dropping
/// them needs no `Ord`.
pub(crate) trait Kept {
    /// How many items are kept.
    fn kept(&self) -> usize;
}

/// Which item a get takes, and what the consumer side keeps to decide.
/// Every method but `admit` runs under `head`.
pub(crate) trait TakeOrder<T>: Kept + Default {
    /// Whether producers pace themselves to the consumers (module docs).
    const PACED: bool;

    /// Checks `item` under `tail`, just before a put writes it. May run
    /// user code; a panic here fails the put, and the item is dropped.
    fn admit(item: &T);

    /// The item a get takes: from what this side keeps and the ready
    /// slots. `None` if both are empty. If user code panics, every item
    /// stays queued (in its slot or kept here).
    fn next(&mut self, ready: &mut ReadySlots<'_, T>) -> Option<T>;
}

/// First in, first out: a get takes the oldest ready slot, and nothing is
/// kept.
#[derive(Default)]
pub(crate) struct Fifo;

impl<T> TakeOrder<T> for Fifo {
    const PACED: bool = false;

    #[inline]
    fn admit(_: &T) {}

    #[inline]
    fn next(&mut self, ready: &mut ReadySlots<'_, T>) -> Option<T> {
        ready.take()
    }
}

impl Kept for Fifo {
    #[inline]
    fn kept(&self) -> usize {
        0
    }
}

struct Slot<T> {
    value: UnsafeCell<MaybeUninit<T>>,
    /// Set once, by the producer, after `value` is written.
    ready: AtomicBool,
}

struct Block<T> {
    slots: [Slot<T>; BLOCK_CAP],
    next: AtomicPtr<Block<T>>,
}

impl<T> Block<T> {
    fn alloc() -> *mut Block<T> {
        Box::into_raw(Box::new(Block {
            slots: std::array::from_fn(|_| Slot {
                value: UnsafeCell::new(MaybeUninit::uninit()),
                ready: AtomicBool::new(false),
            }),
            next: AtomicPtr::new(ptr::null_mut()),
        }))
    }
}

/// A position in the block list: the next slot to write (tail) or take
/// (head).
struct Cursor<T> {
    block: *mut Block<T>,
    index: usize,
}

// SAFETY: a cursor is a position in blocks owned by the queue; it is only
// used under the lock that holds it, and moving it between threads moves
// access to `T` values, which `T: Send` allows.
unsafe impl<T: Send> Send for Cursor<T> {}

impl<T> Cursor<T> {
    /// Whether the slot here holds an item.
    ///
    /// # Safety
    /// The caller owns this cursor (holds the lock it lives under, or
    /// `&mut` the queue): its block is live, because blocks are freed only
    /// by a consumer moving past them.
    #[inline]
    unsafe fn is_ready(&self, order: Ordering) -> bool {
        // SAFETY: the caller's contract.
        unsafe { (*self.block).slots[self.index].ready.load(order) }
    }
}

/// The consumers' view of the ready slots, oldest first, for
/// [`TakeOrder::next`]: it exists only while `head` is held.
pub(crate) struct ReadySlots<'a, T> {
    at: &'a mut Cursor<T>,
    spares: &'a Spares<Block<T>>,
    put_total: &'a AtomicUsize,
    taken_total: &'a AtomicUsize,
    slots_taken: &'a AtomicUsize,
    last_mover: &'a AtomicU64,
}

impl<T> ReadySlots<'_, T> {
    /// Runs `f` on the oldest ready item without taking it; `None` if no
    /// slot is ready.
    #[inline]
    pub(crate) fn peek<R>(&self, f: impl FnOnce(&T) -> R) -> Option<R> {
        // SAFETY: `head` is held for as long as this view lives.
        if !unsafe { self.at.is_ready(Ordering::Acquire) } {
            return None;
        }
        // SAFETY: the block is live (as above) and the slot is ready
        // (Acquire): its value was written and published, and only this
        // consumer, which holds `head`, may take it, which it cannot do
        // while `f` borrows it.
        Some(unsafe {
            (*self.at.block).slots[self.at.index].value.with(|value| f((*value).assume_init_ref()))
        })
    }

    /// Moves every item put before this call out of the ready slots,
    /// oldest first: `keep` moves the oldest ready slot's item into the
    /// consumer side's container (with [`Self::peek`] and [`Self::take`]),
    /// and returns how many items the container then holds, or `None` if no
    /// slot was ready. With `report`, tells producers of the progress every
    /// few dozen items, so that a producer pacing meanwhile sees it (see
    /// "Pacing").
    #[inline]
    pub(crate) fn move_all(
        &mut self,
        report: bool,
        mut keep: impl FnMut(&mut Self) -> Option<usize>,
    ) {
        // Moved since last reported to producers.
        let mut moved = 0;
        let mut left = MOVE_UNCOUNTED;
        let mut counted = false;
        while let Some(kept) = keep(self) {
            moved += 1;
            if report && moved == REPORT_EVERY {
                self.report_moved(moved);
                moved = 0;
            }
            left -= 1;
            if left == 0 {
                if counted || cfg!(feature = "_broken_drain_uncounted") {
                    break;
                }
                counted = true;
                // Zero if every slot now ready was put after this count.
                left = self.unkept(kept);
                if left == 0 {
                    break;
                }
            }
        }
        if report && moved > 0 {
            self.report_moved(moved);
        }
    }

    /// How many items are put but neither handed out nor among the `kept`
    /// on the consumer side: an upper bound of the slots still to take,
    /// counting puts in progress.
    fn unkept(&self, kept: usize) -> usize {
        let put = self.put_total.load(Ordering::Acquire);
        put - self.taken_total.load(Ordering::Relaxed) - kept
    }

    /// Tells producers that `n` more items were moved out of the slots (a
    /// paced order's sign that consumers are busy: see "Pacing").
    fn report_moved(&self, n: usize) {
        let moved = self.slots_taken.load(Ordering::Relaxed);
        self.slots_taken.store(moved.wrapping_add(n), Ordering::Relaxed);
        self.last_mover.store(thread_id::current(), Ordering::Relaxed);
    }

    /// Takes the oldest ready item; `None` if no slot is ready.
    #[inline]
    pub(crate) fn take(&mut self) -> Option<T> {
        // SAFETY: `head` is held for as long as this view lives, and the
        // slot is ready (Acquire).
        unsafe { self.at.is_ready(Ordering::Acquire).then(|| take_slot(self.at, self.spares)) }
    }
}

/// Takes the item at `head` and moves `head` on, recycling a block it
/// empties.
///
/// # Safety
/// The caller owns `head` (holds the `head` lock, or `&mut` the queue) and
/// has seen its slot ready with Acquire ordering.
#[inline]
unsafe fn take_slot<T>(head: &mut Cursor<T>, spares: &Spares<Block<T>>) -> T {
    let block = head.block;
    // SAFETY: the slot is ready (Acquire), so its value was written and
    // published, and only this consumer takes it; the index advances
    // below, so it is read once.
    let item =
        unsafe { (*block).slots[head.index].value.with(|value| ptr::read(value).assume_init()) };
    if head.index + 1 == BLOCK_CAP {
        // SAFETY: `block` is live; the producer linked `next` before
        // marking this block's last slot ready, which we just took.
        let next = unsafe { (*block).next.load(Ordering::Acquire) };
        debug_assert!(!next.is_null(), "a full block is always linked");
        // SAFETY: every slot of `block` has been taken, the producer has
        // moved on to `next`, and `head` was the last cursor on it.
        unsafe { recycle(block, spares) };
        head.block = next;
        head.index = 0;
    } else {
        head.index += 1;
    }
    item
}

/// Empties a block the consumers are done with and keeps it for the
/// producers, or frees it if enough are kept.
///
/// # Safety
/// Every slot of `block` has been taken and no cursor points into it: the
/// caller owns it. The caller holds `head` (or `&mut` the queue), so no
/// other thread keeps a block meanwhile.
unsafe fn recycle<T>(block: *mut Block<T>, spares: &Spares<Block<T>>) {
    // SAFETY: the caller owns `block`; its values were all moved out, so
    // resetting the flags leaves nothing to drop.
    let emptied = unsafe { &*block };
    for slot in &emptied.slots {
        if !cfg!(feature = "_broken_fifo_recycle_keeps_flags") {
            slot.ready.store(false, Ordering::Relaxed);
        }
    }
    emptied.next.store(ptr::null_mut(), Ordering::Relaxed);
    // SAFETY: the caller's contract: it owns `block` and is the only keeper.
    if let Err(block) = unsafe { spares.keep(block) } {
        // SAFETY: given back by a full ring: still ours alone.
        drop(unsafe { Box::from_raw(block) });
    }
}

/// The producers' pacing state (module docs), under `tail`.
struct Pace {
    /// Whether producers currently pace.
    on: bool,
    /// `slots_taken` when pacing last looked (while on) or went off.
    mark: usize,
    /// The `put_total` from which a put looks at pacing again.
    look_at: usize,
}

impl Pace {
    /// Off until consumers have moved `PACE_AHEAD` items out of the slots
    /// since `mark`; the next put to look is the `PACE_AHEAD`th from `put`.
    fn off(mark: usize, put: usize) -> Self {
        Pace { on: false, mark, look_at: put + PACE_AHEAD }
    }
}

struct Tail<T> {
    at: Cursor<T>,
    /// A lower bound of `taken_total`, re-read only when the queue looks
    /// full, so a bounded put does not touch the consumers' line.
    taken_seen: usize,
    pace: Pace,
}

struct TailSide<T> {
    lock: Mutex<Tail<T>>,
    /// Items ever put, written only under `lock` (see `tasks.rs`).
    put_total: AtomicUsize,
}

struct Head<T, O> {
    at: Cursor<T>,
    /// Items moved out of their slots and not yet handed out.
    order: O,
    /// Tasks of queued items already marked done (see `tasks.rs`).
    early: usize,
}

struct HeadSide<T, O: Kept> {
    lock: Mutex<Head<T, O>>,
    /// Items ever handed out (gotten or discarded), written only under
    /// `lock`. On a line of its own, because producers poll it when the
    /// queue is full: on the lock's line, each poll during a get pulled
    /// the line away from the consumer between its lock, its count and its
    /// unlock. (Capacity 1, 100k items, medians of alternating runs: 1P1C
    /// 18.3 -> 12.4 ms, 2P2C 37.3 -> 12.7 ms, 4P4C 43.8 -> 14.9 ms; other
    /// shapes and queues unchanged.)
    taken_total: CachePadded<AtomicUsize>,
    /// Items ever moved out of the slots by a paced order, reported in
    /// batches ([`ReadySlots::move_all`]), written only under `lock`:
    /// how producers see that consumers are busy (see "Pacing").
    slots_taken: AtomicUsize,
    /// The thread that last reported moving items (a thread id), so that a
    /// thread that both puts and gets never paces for itself.
    last_mover: AtomicU64,
}

pub(crate) struct TwoLockCore<T, O: Kept> {
    tail: CachePadded<TailSide<T>>,
    head: CachePadded<HeadSide<T, O>>,
    /// Set under `tail`, so no put is in progress when it flips.
    shutdown: AtomicBool,
    /// `None`: unbounded.
    capacity: Option<usize>,
    tasks: TaskCount,
    not_empty: WaitQueue,
    not_full: WaitQueue,
    /// Blocks the consumers finished with, emptied, for the producers'
    /// next blocks. See "Recycling blocks" in the module docs.
    spares: Spares<Block<T>>,
    /// The queue owns `T`s (behind raw pointers) and drops them.
    _owns: PhantomData<T>,
}

// SAFETY: `_owns: PhantomData<T>` would make the queue `Sync` only for
// `T: Sync`, but a queue never shares a `T` between threads: a producer
// moves each item into a slot under `tail`, and consumers reach items only
// under `head` (after the `ready` handoff), one consumer at a time, moving
// them out or lending them to `O` (which lives under `head` too); nothing
// hands out `&T` (`Debug` prints no items). Items only move between
// threads, as through a `Mutex<T>`, which needs `T: Send` and not
// `T: Sync`. Every other field is `Sync` by itself (`Cursor<T>: Send` for
// `T: Send`, and `O: Send`, behind the mutexes).
unsafe impl<T: Send, O: Kept + Send> Sync for TwoLockCore<T, O> {}

impl<T, O: TakeOrder<T>> TwoLockCore<T, O> {
    pub(crate) fn new(capacity: Option<usize>) -> Self {
        assert!(capacity != Some(0), "capacity must be at least 1");
        let first = Block::alloc();
        TwoLockCore {
            tail: CachePadded::new(TailSide {
                lock: Mutex::new(Tail {
                    at: Cursor { block: first, index: 0 },
                    taken_seen: 0,
                    pace: Pace::off(0, 0),
                }),
                put_total: AtomicUsize::new(0),
            }),
            head: CachePadded::new(HeadSide {
                lock: Mutex::new(Head {
                    at: Cursor { block: first, index: 0 },
                    order: O::default(),
                    early: 0,
                }),
                taken_total: CachePadded::new(AtomicUsize::new(0)),
                slots_taken: AtomicUsize::new(0),
                last_mover: AtomicU64::new(thread_id::NO_THREAD),
            }),
            shutdown: AtomicBool::new(false),
            capacity,
            tasks: TaskCount::new(),
            not_empty: WaitQueue::new(),
            not_full: WaitQueue::new(),
            spares: Spares::new(),
            _owns: PhantomData,
        }
    }

    /// Whether a put may proceed, and at least `batch` more could. Called
    /// under `tail`.
    #[inline]
    fn has_room(&self, tail: &mut Tail<T>, batch: usize) -> bool {
        let Some(cap) = self.capacity else {
            return true;
        };
        let put = self.tail.put_total.load(Ordering::Relaxed);
        if put - tail.taken_seen + batch <= cap {
            return true;
        }
        tail.taken_seen = self.head.taken_total.load(Ordering::Acquire);
        put - tail.taken_seen + batch <= cap
    }

    /// Whether there is room, read under `head` by a putter that has
    /// registered on `not_full` and released `tail` (see the module docs).
    /// `put_total` may be stale here, but only low, which overstates the
    /// room: the caller then just tries again.
    fn room_for_takes(&self) -> bool {
        let cap = self.capacity.unwrap_or(usize::MAX);
        let takes = if cfg!(feature = "_broken_fifo_room_unlocked") {
            None
        } else {
            Some(self.head.lock.lock())
        };
        let taken = self.head.taken_total.load(Ordering::Acquire);
        drop(takes);
        self.tail.put_total.load(Ordering::Relaxed).saturating_sub(taken) < cap
    }

    /// Whether a paced put should look at pacing now: cheap, under `tail`.
    #[inline]
    fn pace_due(&self, tail: &Tail<T>) -> bool {
        O::PACED && self.tail.put_total.load(Ordering::Relaxed) >= tail.pace.look_at
    }

    /// Whether this put should pace, and from which `put_total` on puts
    /// look again. Called under `tail` when [`Self::pace_due`].
    fn should_pace(&self, tail: &mut Tail<T>) -> bool {
        let put = self.tail.put_total.load(Ordering::Relaxed);
        let taken = self.head.taken_total.load(Ordering::Acquire);
        let moved = self.consumer_progress();
        tail.taken_seen = taken;
        let pace = &mut tail.pace;
        if self.head.last_mover.load(Ordering::Relaxed) == thread_id::current() {
            // The consumers' latest work was this thread's own: waiting
            // for it would only waste a round.
            pace.look_at = put + PACE_AHEAD;
            return false;
        }
        if !pace.on {
            if moved.wrapping_sub(pace.mark) < PACE_AHEAD {
                *pace = Pace::off(pace.mark, put);
                return false;
            }
            pace.on = true;
        }
        pace.mark = moved;
        // The first put that could find the consumers more than
        // `PACE_AHEAD` behind, were they to take nothing meanwhile.
        pace.look_at = taken + PACE_AHEAD + 1;
        put - taken > PACE_AHEAD
    }

    /// Spins while the consumers take items, until they are within
    /// `PACE_BEHIND` items, for at most one spin round; `tail` is not held.
    /// Returns whether pacing should stay on: the consumers caught up, or
    /// moved at least `PACE_PROGRESS` items out of the slots since `mark`.
    fn pace(&self, mark: usize) -> bool {
        let caught_up = spin_until(|| {
            let taken = self.head.taken_total.load(Ordering::Relaxed);
            self.tail.put_total.load(Ordering::Relaxed).saturating_sub(taken) <= PACE_BEHIND
        });
        caught_up || self.consumer_progress().wrapping_sub(mark) >= PACE_PROGRESS
    }

    /// A count that grows as consumers work: items handed out plus items
    /// moved out of the slots (see "Pacing").
    fn consumer_progress(&self) -> usize {
        let taken = self.head.taken_total.load(Ordering::Relaxed);
        taken.wrapping_add(self.head.slots_taken.load(Ordering::Relaxed))
    }

    /// Puts `item`, blocking while full until `deadline` (`None`: forever).
    /// `block == false` (or a deadline already past) never blocks.
    ///
    /// The common case (open, room, no pacing due) is small enough to be
    /// inlined into the caller's loop; everything else is in `put_slow`.
    #[inline]
    pub(crate) fn put(
        &self,
        item: T,
        deadline: Option<Instant>,
        block: bool,
    ) -> Result<(), PutError<T>> {
        let mut tail = self.tail.lock.lock();
        // Shutdown first, then fullness, as CPython. The flag only changes
        // under `tail`, which we hold.
        if self.shutdown.load(Ordering::Relaxed)
            || !self.has_room(&mut tail, 1)
            || self.pace_due(&tail)
        {
            return self.put_slow(tail, item, deadline, block);
        }
        // This put consumed no wakeup: if `admit` panics, there is nothing
        // to pass on.
        O::admit(&item);
        self.publish(tail, item);
        Ok(())
    }

    #[cold]
    fn put_slow<'a>(
        &'a self,
        mut tail: MutexGuard<'a, Tail<T>>,
        item: T,
        deadline: Option<Instant>,
        block: bool,
    ) -> Result<(), PutError<T>> {
        // Declared before `tail` is next locked, so unwinding releases
        // `tail` before passing a wakeup on.
        let mut pass_on = PassOnIfUnwinding::new(&self.not_full);
        // Whether the last wait ended by a notify, whose room this put
        // then owns.
        let mut woken = false;
        let mut spun = false;
        let mut paced = false;
        loop {
            if self.shutdown.load(Ordering::Relaxed) {
                return Err(PutError::ShutDown(item));
            }
            if self.has_room(&mut tail, 1) {
                // Only puts that may block pace: `try_put` never waits.
                let may_pace = block && !paced && !deadline::has_passed(deadline);
                if !may_pace || !self.pace_due(&tail) || !self.should_pace(&mut tail) {
                    break;
                }
                paced = true;
                let mark = tail.pace.mark;
                drop(tail);
                let stay_on = self.pace(mark);
                tail = self.tail.lock.lock();
                if !stay_on {
                    let put = self.tail.put_total.load(Ordering::Relaxed);
                    tail.pace = Pace::off(self.consumer_progress(), put);
                }
                // Shutdown and room again: both may have changed.
                continue;
            }
            if !block || deadline::has_passed(deadline) {
                return Err(PutError::Full(item));
            }
            if !spun {
                // A handoff between running threads completes faster than
                // registering and being woken. Other producers would wait
                // for this same room anyway. Wait for room for a batch of
                // puts, not just one: a putter that takes each slot as it
                // frees keeps both sides meeting at every item; if less
                // room comes in the spin, the check above takes it. (A
                // handoff queue's batch is one slot.)
                spun = true;
                let batch = room_batch(self.capacity);
                spin_before_parking(self.capacity, deadline, || self.has_room(&mut tail, batch));
                continue;
            }
            let waiter = self.not_full.enqueue();
            // Registered while holding `tail`, so a shutdown (set under
            // `tail`) that this missed sees the registration. Then re-check
            // the room under `head`, which orders us against every take.
            drop(tail);
            if !cfg!(feature = "_broken_fifo_room_recheck") && self.room_for_takes() {
                // If a notify chose us in the meantime, we use the room it
                // announced.
                woken = waiter.cancel() == WaitResult::Notified;
                tail = self.tail.lock.lock();
                continue;
            }
            let result = waiter.wait(deadline);
            woken = result == WaitResult::Notified;
            tail = self.tail.lock.lock();
            if result == WaitResult::TimedOut {
                if self.shutdown.load(Ordering::Relaxed) {
                    return Err(PutError::ShutDown(item));
                }
                if !self.has_room(&mut tail, 1) {
                    return Err(PutError::Full(item));
                }
                break;
            }
        }
        // A panic here leaves the slot unwritten; the room this put may have
        // been woken for goes to the next putter.
        pass_on.armed = woken;
        O::admit(&item);
        pass_on.armed = false;
        self.publish(tail, item);
        Ok(())
    }

    /// Writes `item` into the next slot, publishes it, unlocks `tail` and
    /// wakes a getter. The caller checked shutdown and room under `tail`.
    #[inline]
    fn publish(&self, mut tail: MutexGuard<'_, Tail<T>>, item: T) {
        let at = &mut tail.at;
        // Link the next block before publishing the last slot of this one;
        // allocating first also means nothing below can fail.
        let next = if at.index + 1 == BLOCK_CAP { self.next_block() } else { ptr::null_mut() };
        // SAFETY: `at.block` is the live tail block (blocks are freed only
        // after their last slot is taken, and this slot is not yet ready),
        // and `tail` is held: no other thread touches this slot until its
        // `ready` flag is set below.
        let slot = unsafe { &(*at.block).slots[at.index] };
        // SAFETY: as above; the slot is unwritten.
        unsafe { slot.value.with_mut(|value| (*value).write(item)) };
        if next.is_null() {
            at.index += 1;
        } else {
            // SAFETY: as above, `at.block` is live.
            unsafe { (*at.block).next.store(next, Ordering::Release) };
            at.block = next;
            at.index = 0;
        }
        // Counted before it is published, so a getter's `task_done` always
        // finds its item counted.
        bump(&self.tail.put_total, Ordering::Release);
        slot.ready.store(true, Ordering::Release);
        drop(tail);
        // Ordered after any getter's registration by `tail` (module docs).
        self.not_empty.notify_one();
    }

    /// Gets an item, blocking while empty until `deadline`.
    ///
    /// The common case (an item is there) is inlined; waiting is in
    /// `get_slow`.
    #[inline]
    pub(crate) fn get(&self, deadline: Option<Instant>, block: bool) -> Result<T, GetError> {
        // Looked up before locking, to keep the critical section short.
        let credit = self.tasks.credit();
        // This get consumed no wakeup: if user code panics in `next`, there
        // is nothing to pass on.
        match self.take_next(self.lock_head(), credit) {
            Ok(item) => Ok(item),
            Err(head) => self.get_slow(head, credit, deadline, block),
        }
    }

    /// Locks `head` for a get. A get that finds it held yields the
    /// processor once before waiting for it: consumers that take turns on
    /// `head` at every item move its cache line, and what they keep under
    /// it (a heap's top), between cores at every get, while one that runs
    /// several gets in a row finds them in its cache. (Medians of
    /// alternating runs, 1M items, measured when `LifoQueue` still used
    /// this core with a stack under `head`: LIFO unbounded 2P2C 32.7 ->
    /// 26.0 ms, 4P4C 37.5 -> 26.5 ms; the FIFO and priority queues
    /// unchanged or faster.)
    #[inline]
    fn lock_head(&self) -> MutexGuard<'_, Head<T, O>> {
        match self.head.lock.try_lock() {
            Some(head) => head,
            None => self.lock_head_contended(),
        }
    }

    #[cold]
    fn lock_head_contended(&self) -> MutexGuard<'_, Head<T, O>> {
        yield_now();
        self.head.lock.lock()
    }

    #[cold]
    fn get_slow<'a>(
        &'a self,
        mut head: MutexGuard<'a, Head<T, O>>,
        credit: &Credit,
        deadline: Option<Instant>,
        block: bool,
    ) -> Result<T, GetError> {
        // Declared before the next `head` guard: see `put_slow`.
        let mut pass_on = PassOnIfUnwinding::new(&self.not_empty);
        // Whether the last wait ended by a notify, whose item this get then
        // owns if it finds one.
        let mut woken = false;
        let mut spun = false;
        loop {
            // Read the flag before the slots: a shutdown seen here was set
            // after every put it follows had published its item.
            let shut = self.shutdown.load(Ordering::Acquire);
            pass_on.armed = woken;
            let taken = self.take_next(head, credit);
            pass_on.armed = false;
            head = match taken {
                Ok(item) => return Ok(item),
                Err(head) => head,
            };
            // Items first, then shutdown, then emptiness, as CPython.
            if shut {
                return Err(GetError::ShutDown);
            }
            if !block || deadline::has_passed(deadline) {
                return Err(GetError::Empty);
            }
            if !spun {
                // As in `put`: other consumers would wait for this same
                // slot anyway.
                spun = true;
                // SAFETY: `head` is held.
                spin_before_parking(self.capacity, deadline, || unsafe {
                    head.at.is_ready(Ordering::Relaxed)
                });
                continue;
            }
            let waiter = self.not_empty.enqueue();
            if !cfg!(feature = "_broken_fifo_recheck") && self.ready_or_shut_for_puts(&head.at) {
                // If a notify chose us in the meantime, we take the item
                // it announced.
                woken = waiter.cancel() == WaitResult::Notified;
                continue;
            }
            drop(head);
            let result = waiter.wait(deadline);
            woken = result == WaitResult::Notified;
            head = self.head.lock.lock();
            if result == WaitResult::TimedOut {
                let shut = self.shutdown.load(Ordering::Acquire);
                return match self.take_next(head, credit) {
                    Ok(item) => Ok(item),
                    Err(_) if shut => Err(GetError::ShutDown),
                    Err(_) => Err(GetError::Empty),
                };
            }
        }
    }

    /// Takes the next item (as `credit`'s task), then unlocks and wakes a
    /// putter; gives the guard back if there is none.
    #[inline]
    fn take_next<'a>(
        &'a self,
        mut head: MutexGuard<'a, Head<T, O>>,
        credit: &Credit,
    ) -> Result<T, MutexGuard<'a, Head<T, O>>> {
        let Head { at, order, early } = &mut *head;
        let mut ready = ReadySlots {
            at,
            spares: &self.spares,
            put_total: &self.tail.put_total,
            taken_total: &self.head.taken_total,
            slots_taken: &self.head.slots_taken,
            last_mover: &self.head.last_mover,
        };
        let Some(item) = order.next(&mut ready) else {
            return Err(head);
        };
        bump(&self.head.taken_total, Ordering::Release);
        self.tasks.taken(early, credit);
        drop(head);
        self.after_take();
        Ok(item)
    }

    /// Whether the slot at `head` is ready or the queue is shut down, read
    /// under `tail`, after registering on `not_empty` (see the module docs).
    /// Called with `head` held.
    fn ready_or_shut_for_puts(&self, head: &Cursor<T>) -> bool {
        let puts = if cfg!(feature = "_broken_fifo_recheck_unlocked") {
            None
        } else {
            Some(self.tail.lock.lock())
        };
        // SAFETY: the caller holds `head`.
        let found =
            unsafe { head.is_ready(Ordering::Acquire) } || self.shutdown.load(Ordering::Relaxed);
        drop(puts);
        found
    }

    #[inline]
    fn after_take(&self) {
        if self.capacity.is_some() {
            // Ordered after any putter's registration by `head` (module
            // docs).
            self.not_full.notify_one();
        }
    }

    /// A fresh block for the producer: one the consumers emptied if they
    /// kept one, else a new allocation. Called under `tail`.
    #[inline]
    fn next_block(&self) -> *mut Block<T> {
        // SAFETY: `tail` is held: no other producer reuses meanwhile.
        unsafe { self.spares.reuse() }.unwrap_or_else(Block::alloc)
    }

    /// Python's `shutdown(immediate)`.
    pub(crate) fn shutdown(&self, immediate: bool) {
        // Lock order: `head` before `tail`.
        let mut head = if immediate { Some(self.head.lock.lock()) } else { None };
        let tail = self.tail.lock.lock();
        // Release: a getter that sees the flag (Acquire) also sees every
        // item published before it (see `get_slow`).
        self.shutdown.store(true, Ordering::Release);
        let mut discarded = (Vec::new(), O::default());
        if let Some(head) = &mut head {
            // Both locks are held: neither total can change.
            let taken = self.head.taken_total.load(Ordering::Relaxed);
            let n = self.tail.put_total.load(Ordering::Relaxed) - taken;
            discarded.1 = mem::take(&mut head.order);
            let in_slots = n - discarded.1.kept();
            discarded.0.reserve_exact(in_slots);
            for _ in 0..in_slots {
                // SAFETY: both locks are held and `in_slots` slots are
                // ready (their puts finished under `tail` before we took
                // it).
                discarded.0.push(unsafe { take_slot(&mut head.at, &self.spares) });
            }
            self.head.taken_total.store(taken + n, Ordering::Release);
            self.tasks.discard(n, &mut head.early);
        }
        drop(tail);
        drop(head);
        if immediate {
            self.tasks.wake_joiners_if_done(&self.tail.put_total);
        }
        // Wake everyone before running any item's `Drop` (which may panic).
        // Waiters of both kinds re-check the flag under `tail` after
        // registering, so this sees every one that missed it.
        self.not_empty.notify_all();
        self.not_full.notify_all();
        // Dropped outside the locks: an item's `Drop` may use the queue. If
        // one panics, the `Vec` still drops the rest, and the kept items are
        // dropped while unwinding.
        drop(discarded);
    }

    pub(crate) fn join_until(&self, deadline: Option<Instant>) -> bool {
        self.tasks.join_until(&self.tail.put_total, deadline)
    }
}

impl<T, O: Kept> CoreState for TwoLockCore<T, O> {
    fn len(&self) -> usize {
        let taken = self.head.taken_total.load(Ordering::Acquire);
        self.tail.put_total.load(Ordering::Acquire).saturating_sub(taken)
    }

    fn capacity(&self) -> Option<usize> {
        self.capacity
    }

    fn unfinished(&self) -> usize {
        self.tasks.unfinished(&self.tail.put_total)
    }

    fn is_shutdown(&self) -> bool {
        self.shutdown.load(Ordering::Acquire)
    }
}

impl<T, O: Kept> TakeSide for TwoLockCore<T, O> {
    fn put_total(&self) -> &AtomicUsize {
        &self.tail.put_total
    }

    fn with_takes<R>(&self, f: impl FnOnce(&mut usize, usize) -> R) -> R {
        let mut head = self.head.lock.lock();
        // `taken_total` only changes under `head`; `put_total` is read
        // exactly, not as the stale lower bound a load may give.
        let queued = latest(&self.tail.put_total) - self.head.taken_total.load(Ordering::Relaxed);
        f(&mut head.early, queued)
    }
}

impl<T, O: Kept> TaskSink for TwoLockCore<T, O> {
    fn task_done(&self) -> Result<(), TaskDoneError> {
        self.tasks.task_done(self)
    }
}

impl<T, O: Kept> Drop for TwoLockCore<T, O> {
    fn drop(&mut self) {
        let n = self.len();
        let head = self.head.lock.get_mut();
        let mut at = Cursor { block: head.at.block, index: head.at.index };
        // The items kept on the consumer side are in `head.order`, dropped
        // with the queue's fields after this; the rest are in slots.
        let in_slots = n - head.order.kept();
        let mut items = Vec::with_capacity(in_slots);
        for _ in 0..in_slots {
            // SAFETY: `&mut self`: no other thread uses the queue, and
            // `in_slots` slots from `at` on are ready.
            items.push(unsafe { take_slot(&mut at, &self.spares) });
        }
        // SAFETY: every item in a slot is taken; the one block left is the
        // tail block, owned by the queue and referenced by no one else.
        drop(unsafe { Box::from_raw(at.block) });
        for spare in self.spares.drain() {
            // SAFETY: a kept block is owned by the ring alone (`recycle`),
            // and draining took it out.
            drop(unsafe { Box::from_raw(spare) });
        }
        // Dropped last: if an item's `Drop` panics, the `Vec` still drops
        // the rest, and the blocks are already freed.
        drop(items);
    }
}
