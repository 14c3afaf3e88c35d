//! The FIFO core behind `Queue`: a two-lock queue.
//!
//! The single-lock design (`core.rs`) makes every put and every get fight
//! over one mutex. Here producers and consumers have a lock each, as in
//! Java's `LinkedBlockingQueue`, so a producer and a consumer never wait for
//! each other; they meet only at `count`, one atomic.
//!
//! Items live in a linked list of fixed-size blocks. The producer side
//! (the `tail` lock) writes the next slot and, when it fills a block, links
//! a fresh one; the consumer side (the `head` lock) reads slots in order and
//! frees each block once it has read the block's last slot. No slot is ever
//! reused, so a bounded queue's capacity is purely a count: nothing is
//! allocated up front, and `bounded(usize::MAX)` costs what `new()` costs.
//!
//! # Why it is sound
//!
//! - `count` is the number of written, untaken slots. A producer increments
//!   it (under `tail`) only after writing the slot and, for a block's last
//!   slot, after linking the next block; a consumer takes a slot only after
//!   seeing `count > 0` with Acquire. So a consumer reads only slots whose
//!   write (and whose block link) happens-before the read.
//! - Consumers are serialized by `head`, producers by `tail`; every change
//!   of `count` happens under one of the two, so a bounded producer's check
//!   `count < capacity` cannot be invalidated by another producer, and
//!   consumers only make more room.
//! - A consumer frees a block only after reading its last slot, which was
//!   published after the producer moved on to the next block, so no
//!   producer still points at it.
//!
//! # Waiting without a shared lock
//!
//! A consumer that finds the queue empty registers on `not_empty` and then
//! re-reads `count`; a producer increments `count` and then looks for
//! waiters. All four accesses are `SeqCst`, so at least one side sees the
//! other (the store-buffering case is impossible): no lost wakeup. The same
//! holds for producers waiting for room on `not_full`, and for shutdown.
//! loom treats `SeqCst` accesses as acquire/release only, so under loom the
//! facade's `loom_sc_fence` adds the `SeqCst` fences that give loom the same
//! guarantee; in normal builds it is a no-op.

use std::fmt;
use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::ptr;
use std::time::Instant;

use super::tasks::{TaskCount, TaskSink, count_put};
use crate::error::{GetError, PutError, TaskDoneError};
use crate::internal::deadline;
use crate::internal::waiters::{WaitQueue, WaitResult};
use crate::loom::cell::UnsafeCell;
use crate::loom::sync::Mutex;
use crate::loom::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};
use crate::loom::{Backoff, CachePadded, loom_sc_fence};

/// Slots per block. Small under loom so that models cross block boundaries.
#[cfg(not(loom))]
const BLOCK_CAP: usize = 32;
#[cfg(loom)]
const BLOCK_CAP: usize = 2;

struct Block<T> {
    slots: [UnsafeCell<MaybeUninit<T>>; BLOCK_CAP],
    next: AtomicPtr<Block<T>>,
}

impl<T> Block<T> {
    fn alloc() -> *mut Block<T> {
        Box::into_raw(Box::new(Block {
            slots: std::array::from_fn(|_| UnsafeCell::new(MaybeUninit::uninit())),
            next: AtomicPtr::new(ptr::null_mut()),
        }))
    }
}

/// A position in the block list: the next slot to write (tail) or read
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
}

struct TailSide<T> {
    lock: Mutex<Tail<T>>,
    /// Items ever put, written only under `lock` (see `tasks.rs`).
    put_total: AtomicUsize,
}

pub(crate) struct FifoCore<T> {
    tail: CachePadded<TailSide<T>>,
    head: CachePadded<Mutex<Cursor<T>>>,
    /// Written, untaken slots. Changed only under `tail` (+1) or `head` (-1).
    count: CachePadded<AtomicUsize>,
    /// Set under `tail`, so no put is in progress when it flips.
    shutdown: AtomicBool,
    /// `None`: unbounded.
    capacity: Option<usize>,
    tasks: TaskCount,
    not_empty: WaitQueue,
    not_full: WaitQueue,
    /// The queue owns `T`s (behind raw pointers) and drops them.
    _owns: PhantomData<T>,
}

impl<T> FifoCore<T> {
    pub(crate) fn new(capacity: Option<usize>) -> Self {
        assert!(capacity != Some(0), "capacity must be at least 1");
        let first = Block::alloc();
        FifoCore {
            tail: CachePadded::new(TailSide {
                lock: Mutex::new(Tail { at: Cursor { block: first, index: 0 } }),
                put_total: AtomicUsize::new(0),
            }),
            head: CachePadded::new(Mutex::new(Cursor { block: first, index: 0 })),
            count: CachePadded::new(AtomicUsize::new(0)),
            shutdown: AtomicBool::new(false),
            capacity,
            tasks: TaskCount::new(),
            not_empty: WaitQueue::new(),
            not_full: WaitQueue::new(),
            _owns: PhantomData,
        }
    }

    #[inline]
    fn room_at(&self, count: usize) -> bool {
        self.capacity.is_none_or(|cap| count < cap)
    }

    /// Spins briefly (never under loom) until `ready(count)`, holding no
    /// lock: a handoff between running threads completes faster than
    /// registering as a waiter and being woken.
    #[inline]
    fn spin_until(&self, ready: impl Fn(usize) -> bool) {
        let backoff = Backoff::new();
        while !backoff.is_completed() {
            if ready(self.count.load(Ordering::Relaxed)) {
                return;
            }
            backoff.snooze();
        }
    }

    /// Puts `item`, blocking while full until `deadline` (`None`: forever).
    /// `block == false` (or a deadline already past) never blocks.
    pub(crate) fn put(
        &self,
        item: T,
        deadline: Option<Instant>,
        block: bool,
    ) -> Result<(), PutError<T>> {
        let mut tail = self.tail.lock.lock();
        let mut spun = false;
        loop {
            // Shutdown first, then fullness, as CPython. The flag only
            // changes under `tail`, which we hold.
            if self.shutdown.load(Ordering::Relaxed) {
                return Err(PutError::ShutDown(item));
            }
            if self.room_at(self.count.load(Ordering::Acquire)) {
                break;
            }
            if !block || deadline::has_passed(deadline) {
                return Err(PutError::Full(item));
            }
            if !spun {
                spun = true;
                drop(tail);
                self.spin_until(|count| self.room_at(count));
                tail = self.tail.lock.lock();
                continue;
            }
            let waiter = self.not_full.enqueue();
            loom_sc_fence();
            if self.room_at(self.count.load(Ordering::SeqCst)) {
                // Room appeared while registering. If a notify chose us in
                // the meantime, we use the room it announced.
                let _ = waiter.cancel();
                continue;
            }
            drop(tail);
            let result = waiter.wait(deadline);
            tail = self.tail.lock.lock();
            if result == WaitResult::TimedOut {
                if self.shutdown.load(Ordering::Relaxed) {
                    return Err(PutError::ShutDown(item));
                }
                if !self.room_at(self.count.load(Ordering::Acquire)) {
                    return Err(PutError::Full(item));
                }
                break;
            }
        }
        let at = &mut tail.at;
        // Link the next block before publishing the last slot of this one;
        // allocating first also means nothing below can fail.
        let next = if at.index + 1 == BLOCK_CAP { Block::alloc() } else { ptr::null_mut() };
        // SAFETY: `at.block` is the live tail block (blocks are freed only
        // after their last slot is read, and this slot is unwritten), and
        // `tail` is held, so no other thread touches this slot until
        // `count` publishes it below.
        unsafe {
            (*at.block).slots[at.index].with_mut(|slot| (*slot).write(item));
        }
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
        count_put(&self.tail.put_total);
        self.count.fetch_add(1, Ordering::SeqCst);
        drop(tail);
        loom_sc_fence();
        self.not_empty.notify_one_sc();
        Ok(())
    }

    /// Gets an item, blocking while empty until `deadline`.
    pub(crate) fn get(&self, deadline: Option<Instant>, block: bool) -> Result<T, GetError> {
        let mut head = self.head.lock();
        let mut spun = false;
        loop {
            // Read the flag before the count: a shutdown seen here was set
            // after every put it follows had published its item.
            let shut = self.shutdown.load(Ordering::Acquire);
            if self.count.load(Ordering::Acquire) > 0 {
                // SAFETY: `head` is held and `count > 0` was read with
                // Acquire.
                let item = unsafe { self.take(&mut head) };
                drop(head);
                self.after_take();
                return Ok(item);
            }
            // Items first, then shutdown, then emptiness, as CPython.
            if shut {
                return Err(GetError::ShutDown);
            }
            if !block || deadline::has_passed(deadline) {
                return Err(GetError::Empty);
            }
            if !spun {
                spun = true;
                drop(head);
                self.spin_until(|count| count > 0);
                head = self.head.lock();
                continue;
            }
            let waiter = self.not_empty.enqueue();
            if !cfg!(feature = "_broken_fifo_fence") {
                loom_sc_fence();
            }
            let recheck = !cfg!(feature = "_broken_fifo_recheck");
            if recheck
                && (self.count.load(Ordering::SeqCst) > 0 || self.shutdown.load(Ordering::SeqCst))
            {
                let _ = waiter.cancel();
                continue;
            }
            drop(head);
            let result = waiter.wait(deadline);
            head = self.head.lock();
            if result == WaitResult::TimedOut {
                let shut = self.shutdown.load(Ordering::Acquire);
                if self.count.load(Ordering::Acquire) > 0 {
                    // SAFETY: as above.
                    let item = unsafe { self.take(&mut head) };
                    drop(head);
                    self.after_take();
                    return Ok(item);
                }
                return Err(if shut { GetError::ShutDown } else { GetError::Empty });
            }
        }
    }

    #[inline]
    fn after_take(&self) {
        if self.capacity.is_some() {
            loom_sc_fence();
            self.not_full.notify_one_sc();
        }
    }

    /// Takes the item at `head`.
    ///
    /// # Safety
    /// The caller holds the `head` lock (owns `head`) and has seen
    /// `count > 0` with Acquire ordering (or holds both locks).
    unsafe fn take(&self, head: &mut Cursor<T>) -> T {
        let block = head.block;
        // SAFETY: `count > 0` (Acquire) means the slot at `head` was written
        // and published, and only this consumer reads it; reading moves the
        // item out, and the index advances below so it is read once.
        let item = unsafe { (*block).slots[head.index].with(|slot| ptr::read(slot).assume_init()) };
        if head.index + 1 == BLOCK_CAP {
            // SAFETY: `block` is live; the producer linked `next` before
            // publishing this block's last slot, which we just read.
            let next = unsafe { (*block).next.load(Ordering::Acquire) };
            debug_assert!(!next.is_null(), "a full block is always linked");
            // SAFETY: every slot of `block` has been read, the producer has
            // moved on to `next`, and `head` was the last cursor on it.
            drop(unsafe { Box::from_raw(block) });
            head.block = next;
            head.index = 0;
        } else {
            head.index += 1;
        }
        self.count.fetch_sub(1, Ordering::SeqCst);
        item
    }

    /// Python's `shutdown(immediate)`.
    pub(crate) fn shutdown(&self, immediate: bool) {
        let tail = self.tail.lock.lock();
        self.shutdown.store(true, Ordering::SeqCst);
        let discarded = if immediate {
            let mut head = self.head.lock();
            // Both locks are held: `count` cannot change.
            let n = self.count.load(Ordering::Acquire);
            let mut items = Vec::with_capacity(n);
            for _ in 0..n {
                // SAFETY: both locks are held and `n` items are published.
                items.push(unsafe { self.take(&mut head) });
            }
            drop(head);
            self.tasks.discard(n, &self.tail.put_total);
            items
        } else {
            Vec::new()
        };
        drop(tail);
        // Wake everyone before running any item's `Drop` (which may panic).
        loom_sc_fence();
        self.not_empty.notify_all_sc();
        self.not_full.notify_all_sc();
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

    pub(crate) fn len(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }

    pub(crate) fn is_full(&self) -> bool {
        !self.room_at(self.len())
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

impl<T> TaskSink for FifoCore<T> {
    fn task_done(&self) -> Result<(), TaskDoneError> {
        self.tasks.task_done(&self.tail.put_total)
    }
}

impl<T> Drop for FifoCore<T> {
    fn drop(&mut self) {
        let head = self.head.get_mut();
        let n = self.count.load(Ordering::Acquire);
        let mut items = Vec::with_capacity(n);
        let mut at = Cursor { block: head.block, index: head.index };
        for _ in 0..n {
            // SAFETY: `&mut self`: no other thread uses the queue; `n`
            // items are published from `at` on.
            items.push(unsafe { self.take(&mut at) });
        }
        // SAFETY: all items are read; the one block left is the tail block,
        // owned by the queue and referenced by no one else.
        drop(unsafe { Box::from_raw(at.block) });
        // Dropped last: if an item's `Drop` panics, the `Vec` still drops
        // the rest, and the blocks are already freed.
        drop(items);
    }
}
