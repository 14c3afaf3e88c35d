//! The FIFO core behind `Queue`: a two-lock queue.
//!
//! The single-lock design (`core.rs`) makes every put and every get fight
//! over one mutex. Here producers and consumers have a lock each, as in
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
//! # Recycling blocks
//!
//! A consumer that empties a block does not free it: it resets the slots'
//! flags and keeps the block as the queue's one `spare`, which the next
//! producer to fill a block takes instead of allocating. Without it every
//! 32 items cost a `malloc` on one thread and a `free` of that memory on
//! another, and glibc serializes those on the producer's arena lock: a
//! 1P1C bounded queue made ~14 thousand futex calls per million items,
//! about half of them from the allocator, and ran at half
//! crossbeam-channel's speed.
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
//! A consumer that finds the head slot not ready registers on `not_empty`
//! and then re-reads the flag (and the shutdown flag) under the `tail`
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

use std::fmt;
use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::ptr;
use std::time::Instant;

use super::tasks::{Credit, TakeSide, TaskCount, TaskSink, bump, latest};
use crate::error::{GetError, PutError, TaskDoneError};
use crate::internal::deadline;
use crate::internal::spin::spin_until;
use crate::internal::waiters::{WaitQueue, WaitResult};
use crate::loom::CachePadded;
use crate::loom::cell::UnsafeCell;
use crate::loom::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};
use crate::loom::sync::{Mutex, MutexGuard};

/// Slots per block. Small under loom so that models cross block boundaries.
#[cfg(not(loom))]
const BLOCK_CAP: usize = 32;
#[cfg(loom)]
const BLOCK_CAP: usize = 2;

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

struct Tail<T> {
    at: Cursor<T>,
    /// A lower bound of `taken_total`, re-read only when the queue looks
    /// full, so a bounded put does not touch the consumers' line.
    taken_seen: usize,
}

struct TailSide<T> {
    lock: Mutex<Tail<T>>,
    /// Items ever put, written only under `lock` (see `tasks.rs`).
    put_total: AtomicUsize,
}

struct Head<T> {
    at: Cursor<T>,
    /// Tasks of queued items already marked done (see `tasks.rs`).
    early: usize,
}

struct HeadSide<T> {
    lock: Mutex<Head<T>>,
    /// Items ever taken (gotten or discarded), written only under `lock`.
    taken_total: AtomicUsize,
}

pub(crate) struct FifoCore<T> {
    tail: CachePadded<TailSide<T>>,
    head: CachePadded<HeadSide<T>>,
    /// Set under `tail`, so no put is in progress when it flips.
    shutdown: AtomicBool,
    /// `None`: unbounded.
    capacity: Option<usize>,
    tasks: TaskCount,
    not_empty: WaitQueue,
    not_full: WaitQueue,
    /// A block the consumers finished with, emptied, for the producers'
    /// next block (null: none). See "Recycling blocks" in the module docs.
    spare: CachePadded<AtomicPtr<Block<T>>>,
    /// The queue owns `T`s (behind raw pointers) and drops them.
    _owns: PhantomData<T>,
}

// SAFETY: `_owns: PhantomData<T>` would make the queue `Sync` only for
// `T: Sync`, but a queue never shares a `T`: a producer moves each item
// into a slot under `tail` and exactly one consumer moves it out under
// `head` (after the `ready` handoff), and nothing hands out `&T` (`Debug`
// prints no items). Items only move between threads, as through a
// `Mutex<T>`, which needs `T: Send` and not `T: Sync`. Every other field is
// `Sync` by itself (`Cursor<T>: Send` for `T: Send` behind the mutexes).
unsafe impl<T: Send> Sync for FifoCore<T> {}

impl<T> FifoCore<T> {
    pub(crate) fn new(capacity: Option<usize>) -> Self {
        assert!(capacity != Some(0), "capacity must be at least 1");
        let first = Block::alloc();
        FifoCore {
            tail: CachePadded::new(TailSide {
                lock: Mutex::new(Tail { at: Cursor { block: first, index: 0 }, taken_seen: 0 }),
                put_total: AtomicUsize::new(0),
            }),
            head: CachePadded::new(HeadSide {
                lock: Mutex::new(Head { at: Cursor { block: first, index: 0 }, early: 0 }),
                taken_total: AtomicUsize::new(0),
            }),
            shutdown: AtomicBool::new(false),
            capacity,
            tasks: TaskCount::new(),
            not_empty: WaitQueue::new(),
            not_full: WaitQueue::new(),
            spare: CachePadded::new(AtomicPtr::new(ptr::null_mut())),
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

    /// Whether the slot at `head` holds an item. Called under `head`.
    #[inline]
    fn head_ready(head: &Cursor<T>, order: Ordering) -> bool {
        // SAFETY: `head.block` is live: it is freed only by a consumer
        // moving past it, under the `head` lock the caller holds.
        unsafe { (*head.block).slots[head.index].ready.load(order) }
    }

    /// Puts `item`, blocking while full until `deadline` (`None`: forever).
    /// `block == false` (or a deadline already past) never blocks.
    ///
    /// The common case (open, room) is small enough to be inlined into the
    /// caller's loop; everything else is in `put_slow`.
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
        if self.shutdown.load(Ordering::Relaxed) || !self.has_room(&mut tail, 1) {
            return self.put_slow(tail, item, deadline, block);
        }
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
        let mut spun = false;
        loop {
            if self.shutdown.load(Ordering::Relaxed) {
                return Err(PutError::ShutDown(item));
            }
            if self.has_room(&mut tail, 1) {
                break;
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
                // room comes in the spin, the check above takes it. (Never
                // spins under loom.)
                spun = true;
                let batch = self.capacity.map_or(1, |cap| (cap / 8).clamp(1, 64));
                spin_until(|| self.has_room(&mut tail, batch));
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
                let _ = waiter.cancel();
                tail = self.tail.lock.lock();
                continue;
            }
            let result = waiter.wait(deadline);
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
    /// The common case (an item is ready) is inlined; waiting is in
    /// `get_slow`.
    #[inline]
    pub(crate) fn get(&self, deadline: Option<Instant>, block: bool) -> Result<T, GetError> {
        // Looked up before locking, to keep the critical section short.
        let credit = self.tasks.credit();
        match self.take_ready(self.head.lock.lock(), credit) {
            Ok(item) => Ok(item),
            Err(head) => self.get_slow(head, credit, deadline, block),
        }
    }

    #[cold]
    fn get_slow<'a>(
        &'a self,
        mut head: MutexGuard<'a, Head<T>>,
        credit: &Credit,
        deadline: Option<Instant>,
        block: bool,
    ) -> Result<T, GetError> {
        let mut spun = false;
        loop {
            // Read the flag before the slot: a shutdown seen here was set
            // after every put it follows had published its item.
            let shut = self.shutdown.load(Ordering::Acquire);
            head = match self.take_ready(head, credit) {
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
                // slot anyway. (Never spins under loom.)
                spun = true;
                spin_until(|| Self::head_ready(&head.at, Ordering::Relaxed));
                continue;
            }
            let waiter = self.not_empty.enqueue();
            if !cfg!(feature = "_broken_fifo_recheck") && self.ready_or_shut_for_puts(&head.at) {
                // If a notify chose us in the meantime, we take the item
                // it announced.
                let _ = waiter.cancel();
                continue;
            }
            drop(head);
            let result = waiter.wait(deadline);
            head = self.head.lock.lock();
            if result == WaitResult::TimedOut {
                let shut = self.shutdown.load(Ordering::Acquire);
                return match self.take_ready(head, credit) {
                    Ok(item) => Ok(item),
                    Err(_) if shut => Err(GetError::ShutDown),
                    Err(_) => Err(GetError::Empty),
                };
            }
        }
    }

    /// Takes the item at `head` if its slot is ready (as `credit`'s task),
    /// then unlocks and wakes a putter; gives the guard back if the slot is
    /// not ready.
    #[inline]
    fn take_ready<'a>(
        &'a self,
        mut head: MutexGuard<'a, Head<T>>,
        credit: &Credit,
    ) -> Result<T, MutexGuard<'a, Head<T>>> {
        if !Self::head_ready(&head.at, Ordering::Acquire) {
            return Err(head);
        }
        // SAFETY: `head` is held and its slot is ready (Acquire).
        let item = unsafe { self.take(&mut head.at) };
        self.tasks.taken(&mut head.early, credit);
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
        let found =
            Self::head_ready(head, Ordering::Acquire) || self.shutdown.load(Ordering::Relaxed);
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

    /// A fresh block for the producer: the spare one if the consumers left
    /// one, else a new allocation. Called under `tail`.
    #[inline]
    fn next_block(&self) -> *mut Block<T> {
        // Acquire: pairs with `recycle`'s Release, so the emptied flags and
        // the consumer's reads of the old values happen before our writes.
        let spare = self.spare.swap(ptr::null_mut(), Ordering::Acquire);
        if spare.is_null() { Block::alloc() } else { spare }
    }

    /// Empties a block the consumers are done with and keeps it as the
    /// spare, freeing the spare it replaces.
    ///
    /// # Safety
    /// Every slot of `block` has been taken and no cursor points into it:
    /// the caller owns it.
    unsafe fn recycle(&self, block: *mut Block<T>) {
        // SAFETY: the caller owns `block`; its values were all moved out, so
        // resetting the flags leaves nothing to drop.
        let emptied = unsafe { &*block };
        for slot in &emptied.slots {
            if !cfg!(feature = "_broken_fifo_recycle_keeps_flags") {
                slot.ready.store(false, Ordering::Relaxed);
            }
        }
        emptied.next.store(ptr::null_mut(), Ordering::Relaxed);
        let old = self.spare.swap(block, Ordering::Release);
        if !old.is_null() {
            // SAFETY: a spare block is owned by the `spare` pointer alone,
            // and the swap took it out: no one else can reach it.
            drop(unsafe { Box::from_raw(old) });
        }
    }

    /// Takes the item at `head`.
    ///
    /// # Safety
    /// The caller owns `head` (holds the `head` lock, or `&mut self`) and
    /// has seen its slot ready with Acquire ordering.
    unsafe fn take(&self, head: &mut Cursor<T>) -> T {
        let block = head.block;
        // SAFETY: the slot is ready (Acquire), so its value was written and
        // published, and only this consumer takes it; the index advances
        // below, so it is read once.
        let item = unsafe {
            (*block).slots[head.index].value.with(|value| ptr::read(value).assume_init())
        };
        if head.index + 1 == BLOCK_CAP {
            // SAFETY: `block` is live; the producer linked `next` before
            // marking this block's last slot ready, which we just took.
            let next = unsafe { (*block).next.load(Ordering::Acquire) };
            debug_assert!(!next.is_null(), "a full block is always linked");
            // SAFETY: every slot of `block` has been taken, the producer has
            // moved on to `next`, and `head` was the last cursor on it.
            unsafe { self.recycle(block) };
            head.block = next;
            head.index = 0;
        } else {
            head.index += 1;
        }
        bump(&self.head.taken_total, Ordering::Release);
        item
    }

    /// Python's `shutdown(immediate)`.
    pub(crate) fn shutdown(&self, immediate: bool) {
        // Lock order: `head` before `tail`.
        let mut head = if immediate { Some(self.head.lock.lock()) } else { None };
        let tail = self.tail.lock.lock();
        // Release: a getter that sees the flag (Acquire) also sees every
        // item published before it (see `get_slow`).
        self.shutdown.store(true, Ordering::Release);
        let mut discarded = Vec::new();
        if let Some(head) = &mut head {
            // Both locks are held: neither total can change.
            let n = self.tail.put_total.load(Ordering::Relaxed)
                - self.head.taken_total.load(Ordering::Relaxed);
            discarded.reserve_exact(n);
            for _ in 0..n {
                // SAFETY: both locks are held and `n` slots are ready (their
                // puts finished under `tail` before we took it).
                discarded.push(unsafe { self.take(&mut head.at) });
            }
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
        // one panics, the `Vec` still drops the rest.
        drop(discarded);
    }

    pub(crate) fn join_until(&self, deadline: Option<Instant>) -> bool {
        self.tasks.join_until(&self.tail.put_total, deadline)
    }

    pub(crate) fn is_shutdown(&self) -> bool {
        self.shutdown.load(Ordering::Acquire)
    }

    /// A snapshot of the number of queued items.
    pub(crate) fn len(&self) -> usize {
        let taken = self.head.taken_total.load(Ordering::Acquire);
        self.tail.put_total.load(Ordering::Acquire).saturating_sub(taken)
    }

    pub(crate) fn is_full(&self) -> bool {
        self.capacity.is_some_and(|cap| self.len() >= cap)
    }

    pub(crate) fn unfinished(&self) -> usize {
        self.tasks.unfinished(&self.tail.put_total)
    }

    pub(crate) fn capacity(&self) -> Option<usize> {
        self.capacity
    }

    pub(crate) fn fmt_fields(&self, name: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(name)
            .field("len", &self.len())
            .field("capacity", &self.capacity)
            .field("unfinished_tasks", &self.unfinished())
            .field("is_shutdown", &self.is_shutdown())
            .finish()
    }
}

impl<T> TakeSide for FifoCore<T> {
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

impl<T> TaskSink for FifoCore<T> {
    fn task_done(&self) -> Result<(), TaskDoneError> {
        self.tasks.task_done(self)
    }
}

impl<T> Drop for FifoCore<T> {
    fn drop(&mut self) {
        let n = self.len();
        let head = self.head.lock.get_mut();
        let mut at = Cursor { block: head.at.block, index: head.at.index };
        let mut items = Vec::with_capacity(n);
        for _ in 0..n {
            // SAFETY: `&mut self`: no other thread uses the queue, and `n`
            // slots from `at` on are ready.
            items.push(unsafe { self.take(&mut at) });
        }
        // SAFETY: every item is taken; the one block left is the tail block,
        // owned by the queue and referenced by no one else.
        drop(unsafe { Box::from_raw(at.block) });
        let spare = self.spare.swap(ptr::null_mut(), Ordering::Relaxed);
        if !spare.is_null() {
            // SAFETY: the spare block is owned by the queue alone (`recycle`).
            drop(unsafe { Box::from_raw(spare) });
        }
        // Dropped last: if an item's `Drop` panics, the `Vec` still drops
        // the rest, and the blocks are already freed.
        drop(items);
    }
}
