//! `WaitQueue`: the FIFO list of parked threads that `Condition`, `Event`
//! and the queues all wait through.
//!
//! # How a wait works
//!
//! Each thread owns one reusable waiter node (a state word and the
//! `Unparker` of the thread's own `Parker`), kept in a thread-local, so
//! waiting allocates nothing once the queue's buffer has grown.
//!
//! 1. [`WaitQueue::enqueue`] puts the node at the tail, under the internal
//!    mutex, and marks it `WAITING`. The caller does this *before* releasing
//!    whatever lock protects the condition it waits for, so a notifier that
//!    takes that lock afterwards is guaranteed to see the waiter.
//! 2. The caller releases its lock and calls [`Waiter::wait`], which parks
//!    until the node's state becomes `NOTIFIED`.
//! 3. A notifier pops nodes from the head under the internal mutex, marks
//!    each `NOTIFIED` there, releases the mutex, and only then unparks them
//!    (waking with a lock held would make the woken thread block on it).
//!
//! # Timeouts and the race with notify
//!
//! Every decision about a node is taken under the internal mutex: a notify
//! pops it and marks it `NOTIFIED`; a timed-out waiter withdraws by removing
//! itself. Whichever comes first wins. If the notify came first, the waiter
//! reports that it was notified even though its deadline has passed: the
//! notify chose it and returned it in its count, so reporting a timeout
//! would lose that wakeup. If the withdrawal came first, the node is no
//! longer in the queue and the notify chooses the next waiter. Either way no
//! wakeup is lost and none is counted twice.
//!
//! A parker may return without an unpark (a stale unpark aimed at an
//! earlier wait of the same thread, or a spurious wakeup); the state word,
//! not the parker, says whether this wait was notified, so those returns are
//! invisible to callers: `wait` returns only when notified or timed out.

use std::collections::VecDeque;
use std::fmt;
use std::time::Instant;

use crate::loom::sync::Mutex;
use crate::loom::sync::atomic::{AtomicUsize, Ordering};
use crate::loom::sync::{Arc, MutexGuard};
use crate::loom::{Parker, Unparker, park, thread_local};

/// Not in any queue.
const IDLE: usize = 0;
/// In a queue, waiting for a notify.
const WAITING: usize = 1;
/// Chosen by a notify; the waiter owns the wakeup.
const NOTIFIED: usize = 2;

/// The part of a waiting thread that notifiers see.
struct Node {
    /// `IDLE` / `WAITING` / `NOTIFIED`. Written only under the owning
    /// queue's mutex; read without it by the waiter (Acquire, pairing with
    /// the notifier's Release so that whatever the notifier did before
    /// notifying is visible to the woken thread).
    state: AtomicUsize,
    unparker: Unparker,
}

/// A thread's parker together with the node that wakes it.
struct ThreadWaiter {
    parker: Parker,
    node: Arc<Node>,
}

impl ThreadWaiter {
    fn new() -> Self {
        let parker = Parker::new();
        let node =
            Arc::new(Node { state: AtomicUsize::new(IDLE), unparker: parker.unparker().clone() });
        ThreadWaiter { parker, node }
    }
}

thread_local! {
    static THREAD_WAITER: ThreadWaiter = ThreadWaiter::new();
}

/// Whether a wait ended by a notify or by its deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WaitResult {
    Notified,
    TimedOut,
}

struct Inner {
    waiters: VecDeque<Arc<Node>>,
    /// A word for the owner of the queue, read and written only under the
    /// mutex through [`WaitQueue::enqueue_unless`]; `Condition` keeps the
    /// key of the lock its waiters use here.
    tag: u64,
}

/// A FIFO of parked threads. See the module docs.
pub(crate) struct WaitQueue {
    /// The number of queued waiters, changed only under `inner`'s mutex.
    /// Read without the mutex so that notifying an empty queue takes no
    /// lock. That read is sound because every caller orders it after the
    /// waiter's `enqueue` by some lock of its own (the user's lock for
    /// `Condition`, the state mutex for the queues) or takes the mutex
    /// anyway (`Event::set`).
    waiting: AtomicUsize,
    inner: Mutex<Inner>,
}

impl WaitQueue {
    pub(crate) fn new() -> Self {
        WaitQueue {
            waiting: AtomicUsize::new(0),
            inner: Mutex::new(Inner { waiters: VecDeque::new(), tag: 0 }),
        }
    }

    /// Queues the calling thread at the tail.
    pub(crate) fn enqueue(&self) -> Waiter<'_> {
        match self.enqueue_unless(|_, _| false) {
            Some(waiter) => waiter,
            None => unreachable!("enqueue_unless refused with a predicate that never refuses"),
        }
    }

    /// Queues the calling thread at the tail unless `refuse(tag, queued)`,
    /// run under the internal mutex with the number of threads already
    /// queued, returns true. `refuse` may update the tag; it must not block
    /// or run user code.
    pub(crate) fn enqueue_unless(
        &self,
        refuse: impl FnOnce(&mut u64, usize) -> bool,
    ) -> Option<Waiter<'_>> {
        // The thread's reusable node, or a fresh one if the thread-local is
        // gone (a wait from a destructor during thread exit).
        let (node, own_parker) = match THREAD_WAITER.try_with(|tw| tw.node.clone()) {
            Ok(node) => (node, None),
            Err(_) => {
                let tw = ThreadWaiter::new();
                (tw.node, Some(tw.parker))
            }
        };
        let mut inner = self.inner.lock();
        let queued = inner.waiters.len();
        if refuse(&mut inner.tag, queued) {
            return None;
        }
        debug_assert_eq!(node.state.load(Ordering::Relaxed), IDLE, "a thread waits on one queue");
        node.state.store(WAITING, Ordering::Relaxed);
        inner.waiters.push_back(node.clone());
        // SeqCst: the queue core checks its state after enqueueing without a
        // lock in common with notifiers (see `has_waiters_sc`).
        self.waiting.store(queued + 1, Ordering::SeqCst);
        drop(inner);
        Some(Waiter { queue: self, node, own_parker, done: false })
    }

    /// Wakes the longest-waiting thread. Returns whether there was one.
    #[inline]
    pub(crate) fn notify_one(&self) -> bool {
        self.notify(1) == 1
    }

    /// Wakes up to `n` threads, longest-waiting first, and returns how many.
    #[inline]
    pub(crate) fn notify(&self, n: usize) -> usize {
        if n == 0 || self.waiting.load(Ordering::Relaxed) == 0 {
            return 0;
        }
        self.notify_slow(n)
    }

    /// Wakes every queued thread and returns how many.
    #[inline]
    pub(crate) fn notify_all(&self) -> usize {
        self.notify(usize::MAX)
    }

    /// Whether any thread is queued, for callers not ordered after the
    /// waiter's `enqueue` by a common lock (the queues' task accounting):
    /// they publish their state change with a `SeqCst` read-modify-write
    /// and then call this; waiters re-check that state with a `SeqCst` load
    /// after `enqueue` (whose count store is `SeqCst`). Between `SeqCst`
    /// accesses store buffering is impossible, so either the waiter sees
    /// the change or this sees the waiter. (Under loom, both sides add
    /// `loom_sc_fence` first.)
    #[inline]
    pub(crate) fn has_waiters_sc(&self) -> bool {
        self.waiting.load(Ordering::SeqCst) != 0
    }

    /// Runs `update` under the internal mutex and, if it returns true, wakes
    /// every thread queued at that moment. Returns how many were woken.
    ///
    /// For a state change that must be atomic with its wakeup, as
    /// `Event::set`'s flag is: changed outside the mutex, a concurrent
    /// `clear` and a new waiter's `enqueue` could slip in between the change
    /// and the wakeup, and the wakeup would then take that new waiter,
    /// which queued after the flag was already clear again (a spurious
    /// wakeup). `update` must not block or run user code.
    pub(crate) fn notify_all_if(&self, update: impl FnOnce() -> bool) -> usize {
        let inner = self.inner.lock();
        if !update() {
            return 0;
        }
        self.notify_locked(inner, usize::MAX)
    }

    /// Whether any thread is queued (a snapshot).
    pub(crate) fn has_waiters(&self) -> bool {
        self.waiting.load(Ordering::Relaxed) != 0
    }

    #[cold]
    fn notify_slow(&self, n: usize) -> usize {
        self.notify_locked(self.inner.lock(), n)
    }

    /// Wakes up to `n` queued threads; `inner` is this queue's mutex, held.
    fn notify_locked(&self, mut inner: MutexGuard<'_, Inner>, n: usize) -> usize {
        let queued = inner.waiters.len();
        let count = n.min(queued);
        match count {
            0 => 0,
            1 => {
                let node = inner.waiters.pop_front().expect("queue has a waiter");
                node.state.store(NOTIFIED, Ordering::Release);
                self.waiting.store(queued - 1, Ordering::Relaxed);
                drop(inner);
                node.unparker.unpark();
                1
            }
            _ => {
                // Detach the chosen waiters, then wake them with the mutex
                // released. Taking the whole queue moves its buffer out and
                // allocates nothing; waking some but not all of several
                // waiters allocates the remainder's buffer.
                let chosen = if count == queued {
                    std::mem::take(&mut inner.waiters)
                } else {
                    let rest = inner.waiters.split_off(count);
                    std::mem::replace(&mut inner.waiters, rest)
                };
                for node in &chosen {
                    node.state.store(NOTIFIED, Ordering::Release);
                }
                self.waiting.store(queued - count, Ordering::Relaxed);
                drop(inner);
                for node in &chosen {
                    node.unparker.unpark();
                }
                count
            }
        }
    }

    /// Removes `node` from the queue unless a notify chose it first.
    /// Returns the outcome, decided under the mutex.
    fn withdraw(&self, node: &Arc<Node>) -> WaitResult {
        let mut inner: MutexGuard<'_, Inner> = self.inner.lock();
        if node.state.load(Ordering::Acquire) == NOTIFIED
            && !cfg!(feature = "_broken_timeout_withdraw")
        {
            return WaitResult::Notified;
        }
        let Some(at) = inner.waiters.iter().position(|queued| Arc::ptr_eq(queued, node)) else {
            // Only the deliberately broken variant gets here: it ignored the
            // notify above and so drops that wakeup.
            if cfg!(feature = "_broken_timeout_withdraw") {
                return WaitResult::TimedOut;
            }
            unreachable!("a waiting node is in its queue");
        };
        inner.waiters.remove(at);
        let left = inner.waiters.len();
        self.waiting.store(left, Ordering::Relaxed);
        WaitResult::TimedOut
    }
}

impl fmt::Debug for WaitQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitQueue").field("waiting", &self.waiting.load(Ordering::Relaxed)).finish()
    }
}

/// A thread queued on a `WaitQueue`, between `enqueue` and the end of its
/// wait. Dropping it unwaited withdraws it; if a notify had already chosen
/// it, that wakeup is passed to the next waiter, so none is lost.
#[must_use = "a queued waiter must wait or be withdrawn"]
pub(crate) struct Waiter<'a> {
    queue: &'a WaitQueue,
    node: Arc<Node>,
    /// Set when the thread-local waiter was unavailable and `node` belongs
    /// to a parker made for this wait alone.
    own_parker: Option<Parker>,
    done: bool,
}

impl Waiter<'_> {
    /// Blocks until a notify chooses this waiter (`Notified`) or `deadline`
    /// passes (`TimedOut`; `None` never does). Never returns spuriously.
    pub(crate) fn wait(mut self, deadline: Option<Instant>) -> WaitResult {
        let result = match self.own_parker.take() {
            Some(parker) => self.park_on(&parker, deadline),
            None => THREAD_WAITER.with(|tw| self.park_on(&tw.parker, deadline)),
        };
        self.done = true;
        self.node.state.store(IDLE, Ordering::Relaxed);
        result
    }

    fn park_on(&self, parker: &Parker, deadline: Option<Instant>) -> WaitResult {
        // No spinning here: callers that benefit from it (the queues) spin
        // before they register. Spinning after registering, with yields on a
        // busy machine, made a Condition ping-pong several times slower than
        // parking_lot's, whose waiters park at once.
        loop {
            if self.is_notified() {
                return WaitResult::Notified;
            }
            if park(parker, deadline) && !self.is_notified() {
                return self.queue.withdraw(&self.node);
            }
        }
    }

    #[inline]
    fn is_notified(&self) -> bool {
        self.node.state.load(Ordering::Acquire) == NOTIFIED
    }

    /// Withdraws without waiting. Returns `Notified` if a notify chose this
    /// waiter before it could withdraw; the caller then owns that wakeup.
    pub(crate) fn cancel(mut self) -> WaitResult {
        self.done = true;
        let result = self.queue.withdraw(&self.node);
        self.node.state.store(IDLE, Ordering::Relaxed);
        result
    }
}

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        // Only reached while unwinding between `enqueue` and `wait`.
        let result = self.queue.withdraw(&self.node);
        self.node.state.store(IDLE, Ordering::Relaxed);
        if result == WaitResult::Notified {
            self.queue.notify_one();
        }
    }
}

/// Wakes one waiter of a queue if dropped while armed. A thread that may
/// own a wakeup (a notify chose it) arms it around user code that may
/// panic, so that if the thread unwinds instead of using what it was woken
/// for, the next waiter gets the wakeup. Declared before any guard of the
/// lock that the user code runs under, so that unwinding releases the lock
/// before this wakes anyone.
pub(crate) struct PassOnIfUnwinding<'a> {
    queue: &'a WaitQueue,
    pub(crate) armed: bool,
}

impl<'a> PassOnIfUnwinding<'a> {
    pub(crate) fn new(queue: &'a WaitQueue) -> Self {
        PassOnIfUnwinding { queue, armed: false }
    }
}

impl Drop for PassOnIfUnwinding<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.queue.notify_one();
        }
    }
}

impl fmt::Debug for Waiter<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Waiter").finish_non_exhaustive()
    }
}
