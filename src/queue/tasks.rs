//! Task accounting shared by both queue cores: Python's `unfinished_tasks`,
//! kept so that the usual `task_done` (by the thread that got the item)
//! touches only that thread's own cache line, and neither `put` nor `get`
//! pays a read-modify-write for it.
//!
//! # The counts
//!
//! - `put_total` (owned by the core, written under the lock puts hold)
//!   counts items ever put.
//! - Each thread has a [`Credit`]: `taken`, the items it got, and `done`,
//!   how many of those have been marked done. A get raises its thread's
//!   `taken` under the lock gets hold; `task_done` raises `done`, never
//!   past `taken` (see "Biased credits" for how). So a `task_done` for an
//!   item the caller got succeeds without touching any shared line, and
//!   four consumers no longer fight over one counter.
//! - A `task_done` whose thread has no credit left (the item was got by
//!   another thread, or not yet got) takes one from any thread's credit,
//!   by compare-exchange. If there is none, it takes the gets' lock, which freezes
//!   every `taken`, looks again, and otherwise marks a queued item's task
//!   done in advance: `early`, a count kept under that lock. The next get
//!   then consumes one early mark instead of granting a credit.
//!   `done_elsewhere` counts those marks (and discarded items).
//!
//! Invariant (every step below keeps it): with `C` the credits left,
//! `D = done_elsewhere + Σ done` the tasks done, `taken` the items ever
//! taken and `queued = put_total - taken`:
//!
//! ```text
//! D + C == taken + early,    early <= queued,    so D <= put_total.
//! ```
//!
//! A grant adds one to `taken` and `C`, a consumed early mark one to
//! `taken` and takes one from `early`; using a credit moves one from `C` to
//! `D`; an early mark needs `early < queued`. `task_done` fails exactly
//! when, under the gets' lock, no credit is left and every queued item is
//! already marked: then `D == put_total`, as Python's `ValueError` needs.
//!
//! Early marks exist only while no credit is left: one is made only when
//! none is found under the lock, and gets consume them before granting.
//! `shutdown_immediate` discards the `queued` items and, as CPython, counts
//! each done while that keeps `D <= put_total`: `queued - early` go to
//! `done_elsewhere` and `early` becomes 0.
//!
//! # Biased credits
//!
//! A read-modify-write costs a locked instruction, about 15 ns on the
//! machines we measure, which at one producer and one consumer is a third
//! of an item's whole trip. So, where asymmetric fences work (Linux
//! `membarrier`, see the facade), a credit starts *biased*: its owner, the
//! thread it belongs to, marks its tasks done with plain loads and stores.
//! It sets `busy`, passes a light (compiler-only) fence, checks the bias is
//! still there, updates `done` and clears `busy`. Another thread that
//! takes from a biased credit first *revokes* the bias, for good: it clears
//! `biased`, runs the heavy fence, and waits while `busy` is set. The pair
//! of fences orders the two sides like `SeqCst` fences: either the owner
//! sees the bias gone and uses compare-exchange, or the revoker sees
//! `busy` and waits for the plain update to land. After that, every
//! update of that `done` is a compare-exchange.
//!
//! Revoking costs a system call, so it happens once per credit. A queue
//! whose getters mark their own tasks done never revokes anything.
//!
//! # Joiners
//!
//! The owner's plain path also checks, after its light fence, that no
//! joiner waits; a joiner registers, runs the heavy fence, and waits while
//! any credit is `busy` before it sums the counts. So a plain update either
//! lands before the joiner's sum, or sees the joiner and is made by
//! compare-exchange instead, and while a joiner waits every update is a
//! `SeqCst` read-modify-write followed by a `SeqCst` load of the joiner
//! count and, if a joiner waits, a sum of `SeqCst` loads: the last of those
//! updates sees all the others and wakes the joiners. Without asymmetric
//! fences every update is made that way, and a joiner needs no more than
//! `SeqCst` accesses. (Loom cannot model `membarrier`: under loom both
//! fences are `SeqCst` fences, so the models check the protocol, and the
//! argument above that the asymmetric pair orders it the same way.)

use std::mem;
use std::time::Instant;

use crate::error::TaskDoneError;
use crate::internal::deadline;
use crate::internal::per_thread::PerThread;
use crate::internal::waiters::{WaitQueue, WaitResult};
use crate::loom::CachePadded;
use crate::loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering, fence};
use crate::loom::thread::yield_now;
use crate::loom::{asymmetric_fences, heavy_fence, light_fence, loom_sc_fence};

/// `task_done` for whichever queue a [`Task`](super::Task) came from.
pub(crate) trait TaskSink {
    fn task_done(&self) -> Result<(), TaskDoneError>;
}

/// What a queue core gives its [`TaskCount`]: the put count, and the lock
/// gets hold.
pub(crate) trait TakeSide {
    /// Items ever put.
    fn put_total(&self) -> &AtomicUsize;

    /// Runs `f` under the lock gets hold, with the count of early marks
    /// kept under it and the number of queued items.
    fn with_takes<R>(&self, f: impl FnOnce(&mut usize, usize) -> R) -> R;
}

/// Adds one to a counter written only under one lock (`put_total`, the
/// FIFO's `taken_total`, a credit's `taken`), with a plain load and store:
/// no read-modify-write.
#[inline]
pub(crate) fn bump(counter: &AtomicUsize, order: Ordering) {
    counter.store(counter.load(Ordering::Relaxed) + 1, order);
}

/// The latest value of `put_total` (a read-modify-write reads the last
/// value in its modification order).
pub(crate) fn latest(put_total: &AtomicUsize) -> usize {
    put_total.fetch_add(0, Ordering::AcqRel)
}

/// One thread's tasks: items it got, and how many of them are done.
pub(crate) struct Credit {
    /// Written only under the lock gets hold.
    taken: AtomicUsize,
    /// At most `taken`. While `biased`, written only by the owner (the
    /// thread whose credit this is), with plain stores; after that, raised
    /// only by compare-exchange, by anyone.
    done: AtomicUsize,
    /// Whether the owner may use its plain path. Cleared for good by the
    /// first thread that takes from this credit.
    biased: AtomicBool,
    /// Set by the owner around its plain update of `done`.
    busy: AtomicBool,
}

impl Default for Credit {
    /// A thread's own credit: biased where asymmetric fences work.
    fn default() -> Self {
        Credit::new(asymmetric_fences())
    }
}

impl Credit {
    fn new(biased: bool) -> Self {
        Credit {
            taken: AtomicUsize::new(0),
            done: AtomicUsize::new(0),
            biased: AtomicBool::new(biased),
            busy: AtomicBool::new(false),
        }
    }

    /// Uses one credit of the caller's own: with plain loads and stores
    /// while biased and no joiner waits, else by compare-exchange.
    #[inline]
    fn use_own(&self, joiners: &WaitQueue) -> Used {
        if self.biased.load(Ordering::Relaxed) {
            self.busy.store(true, Ordering::Relaxed);
            // Paired with the heavy fence of a revoker or a joiner: either
            // that thread sees `busy` and waits for this update, or this
            // sees the bias gone, or the joiner.
            light_fence();
            if self.biased.load(Ordering::Relaxed) && !joiners.has_waiters_sc() {
                let done = self.done.load(Ordering::Relaxed);
                let has_one = done < self.taken.load(Ordering::Relaxed);
                if has_one {
                    self.done.store(done + 1, Ordering::Release);
                }
                self.busy.store(false, Ordering::Release);
                return if has_one { Used::Plain } else { Used::None };
            }
            self.busy.store(false, Ordering::Release);
        }
        if self.use_one() { Used::Atomic } else { Used::None }
    }

    /// Waits until the owner is not inside a plain update.
    fn wait_while_busy(&self) {
        // The owner may have been preempted inside it.
        while self.busy.load(Ordering::Acquire) {
            yield_now();
        }
    }

    /// Uses one credit of another thread's: revokes the bias first if the
    /// credit looks like it has one.
    fn take_one(&self) -> bool {
        // `taken` may read low (a grant in flight) and `done` low (a plain
        // store in flight): a credit that looks empty is left alone, which
        // under the gets' lock, where `taken` is exact, is right.
        if self.done.load(Ordering::Acquire) >= self.taken.load(Ordering::Acquire) {
            return false;
        }
        if self.biased.load(Ordering::Relaxed) {
            self.revoke();
        }
        self.use_one()
    }

    /// Ends the owner's plain path, for good: once this returns, `done` is
    /// current and changes only by compare-exchange.
    #[cold]
    fn revoke(&self) {
        self.biased.store(false, Ordering::Relaxed);
        heavy_fence();
        if !cfg!(feature = "_broken_task_revoke_no_wait") {
            self.wait_while_busy();
        }
    }

    /// Uses one credit by compare-exchange, if there is one left.
    #[inline]
    fn use_one(&self) -> bool {
        let mut done = self.done.load(Ordering::Relaxed);
        while done < self.taken.load(Ordering::Acquire) {
            match self.done.compare_exchange_weak(
                done,
                done + 1,
                Ordering::SeqCst,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(now) => done = now,
            }
        }
        false
    }
}

/// How a thread used its own credit.
enum Used {
    /// With plain stores: no joiner was waiting, and a joiner that comes
    /// waits for the update and counts it.
    Plain,
    /// By compare-exchange: a joiner may be waiting for it.
    Atomic,
    /// Not at all: none was left.
    None,
}

pub(crate) struct TaskCount {
    credits: PerThread<CachePadded<Credit>>,
    /// The credit of gets whose thread could not be given its own (a get
    /// run from a thread-local destructor late in a thread's exit).
    spare: CachePadded<Credit>,
    /// Tasks done that no credit counts: early marks and discarded items.
    done_elsewhere: CachePadded<AtomicUsize>,
    all_done: WaitQueue,
}

impl TaskCount {
    pub(crate) fn new() -> Self {
        // The first call registers the process for asymmetric fences. Done
        // here, when the queue is built, rather than at its first get:
        // once the process has several threads, Linux makes the
        // registration wait for an RCU grace period (two 2P2C consumers
        // each slept 15 ms in it, in D state, both cores busy), while a
        // process that builds its queues before it gets busy, or still
        // has one thread, registers in microseconds.
        asymmetric_fences();
        TaskCount {
            credits: PerThread::new(),
            spare: CachePadded::new(Credit::new(false)),
            done_elsewhere: CachePadded::new(AtomicUsize::new(0)),
            all_done: WaitQueue::new(),
        }
    }

    /// The calling thread's credit, for a get to pass to [`Self::taken`]:
    /// looked up before the get takes its lock.
    #[inline]
    pub(crate) fn credit(&self) -> &Credit {
        match self.credits.get_or_default() {
            Some(credit) => credit,
            None => &self.spare,
        }
    }

    /// Counts an item a get just took: consumes an early mark if there is
    /// one, else grants `credit` one task. Called under the gets' lock.
    #[inline]
    pub(crate) fn taken(&self, early: &mut usize, credit: &Credit) {
        if *early == 0 || cfg!(feature = "_broken_task_grant_ignores_early") {
            bump(&credit.taken, Ordering::Release);
        } else {
            *early -= 1;
        }
    }

    /// Marks one task done; fails, changing nothing, if every item put is
    /// already done.
    #[inline]
    pub(crate) fn task_done(&self, side: &impl TakeSide) -> Result<(), TaskDoneError> {
        if let Some(credit) = self.credits.get() {
            match credit.use_own(&self.all_done) {
                Used::Plain => return Ok(()),
                Used::Atomic => {
                    self.wake_joiners_if_done(side.put_total());
                    return Ok(());
                }
                Used::None => {}
            }
        }
        self.task_done_slow(side)
    }

    #[cold]
    fn task_done_slow(&self, side: &impl TakeSide) -> Result<(), TaskDoneError> {
        let done = self.use_any_credit()
            || side.with_takes(|early, queued| {
                // Credits are granted only under this lock: one not found
                // now cannot appear before it is released.
                if !cfg!(feature = "_broken_task_done_no_rescan") && self.use_any_credit() {
                    return true;
                }
                if *early < queued {
                    *early += 1;
                    self.done_elsewhere.fetch_add(1, Ordering::SeqCst);
                    return true;
                }
                false
            });
        if !done {
            return Err(TaskDoneError);
        }
        self.wake_joiners_if_done(side.put_total());
        Ok(())
    }

    /// Uses one credit of any thread (or the spare), if there is one.
    fn use_any_credit(&self) -> bool {
        self.credits.iter().any(|credit| credit.take_one()) || self.spare.use_one()
    }

    /// Counts `n` discarded items done (`shutdown_immediate`), as CPython:
    /// each one while that keeps the count within the items put. `n` is
    /// every queued item; called under the gets' lock, with its early
    /// marks. The caller then calls [`Self::wake_joiners_if_done`], after
    /// unlocking.
    ///
    /// Early marks exist only while no credit is left (one is made only
    /// when none is found under the lock, and gets consume them before
    /// granting any), so here `put_total - D == n - early` if `early > 0`:
    /// counting `n - early` done reaches either `D + n` or `put_total`,
    /// whichever is smaller.
    pub(crate) fn discard(&self, n: usize, early: &mut usize) {
        let early = mem::take(early);
        debug_assert!(early <= n, "{early} early marks for {n} queued items");
        if n > early {
            self.done_elsewhere.fetch_add(n - early, Ordering::SeqCst);
        }
    }

    /// Tasks done: a lower bound of the count at the end of the call.
    fn done(&self, order: Ordering) -> usize {
        let credits: usize = self.credits.iter().map(|c| c.done.load(order)).sum();
        self.done_elsewhere.load(order) + self.spare.done.load(order) + credits
    }

    /// A snapshot of the unfinished count.
    pub(crate) fn unfinished(&self, put_total: &AtomicUsize) -> usize {
        let done = self.done(Ordering::Acquire);
        put_total.load(Ordering::Acquire).saturating_sub(done)
    }

    /// The unfinished count, never understated: `put_total` is the latest
    /// value, read after the done counts, which may only lag behind.
    ///
    /// The fence first makes the sum find every credit whose thread may
    /// have missed our look for joiners, or our joiner registration (see
    /// `PerThread`'s "Seeing new values"): without it, a credit created by
    /// a thread we never synchronized with may be skipped although its
    /// `done` is current. (Miri found that lost wakeup: a `join` asleep
    /// with every task done.)
    fn unfinished_at_least(&self, put_total: &AtomicUsize) -> usize {
        fence(Ordering::SeqCst);
        let done = self.done(Ordering::SeqCst);
        latest(put_total) - done
    }

    /// After a done count grew: wakes the joiners if the count is zero.
    #[inline]
    pub(crate) fn wake_joiners_if_done(&self, put_total: &AtomicUsize) {
        loom_sc_fence();
        if self.all_done.has_waiters_sc() {
            self.wake_joiners_slow(put_total);
        }
    }

    #[cold]
    fn wake_joiners_slow(&self, put_total: &AtomicUsize) {
        if self.unfinished_at_least(put_total) == 0 {
            self.all_done.notify_all();
        }
    }

    /// Orders a joiner's registration before its reading of the counts,
    /// against `task_done`'s update of a count and look for joiners.
    fn joiner_fence(&self) {
        if asymmetric_fences() {
            // From here on, owners see the joiner and update by
            // compare-exchange; plain updates begun before, finish first.
            heavy_fence();
            if !cfg!(feature = "_broken_task_join_no_wait") {
                self.credits.iter().for_each(|credit| credit.wait_while_busy());
            }
        } else {
            // Every update is a `SeqCst` read-modify-write.
            loom_sc_fence();
        }
    }

    /// Returns whether every task was done before `deadline`.
    pub(crate) fn join_until(&self, put_total: &AtomicUsize, deadline: Option<Instant>) -> bool {
        loop {
            if self.unfinished_at_least(put_total) == 0 {
                return true;
            }
            if deadline::has_passed(deadline) {
                return false;
            }
            let waiter = self.all_done.enqueue();
            self.joiner_fence();
            if self.unfinished_at_least(put_total) == 0 {
                // Notified or not, the count is zero: done.
                let _ = waiter.cancel();
                return true;
            }
            if waiter.wait(deadline) == WaitResult::TimedOut {
                return self.unfinished_at_least(put_total) == 0;
            }
        }
    }
}
