//! `Local<T>`: Python's `threading.local` semantics.
#![cfg(not(loom))]

use std::cell::Cell;
use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Barrier, LazyLock, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use threadkit::Local;

/// A value that counts its drops.
#[derive(Debug)]
struct Tracked {
    id: usize,
    drops: Arc<AtomicUsize>,
}

impl Tracked {
    fn new(id: usize, drops: &Arc<AtomicUsize>) -> Self {
        Tracked { id, drops: Arc::clone(drops) }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.drops.fetch_add(1, SeqCst);
    }
}

/// `n` repetitions, or a handful under Miri.
fn reps(n: usize) -> usize {
    if cfg!(miri) { n.min(3) } else { n }
}

fn counter() -> Arc<AtomicUsize> {
    Arc::new(AtomicUsize::new(0))
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

/// Waits (bounded) until `count` reaches `expected`.
fn wait_for(count: &AtomicUsize, expected: usize) {
    let give_up = Instant::now() + Duration::from_secs(10);
    while count.load(SeqCst) != expected && Instant::now() < give_up {
        thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(count.load(SeqCst), expected);
}

#[test]
fn isolation_across_8_threads() {
    let local: Arc<Local<Cell<usize>>> = Arc::new(Local::new());
    let barrier = Arc::new(Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let (local, barrier) = (Arc::clone(&local), Arc::clone(&barrier));
            thread::spawn(move || {
                assert!(local.with(|v| v.is_none()));
                assert!(local.set(Cell::new(i)).is_none());
                barrier.wait(); // every thread has stored its value
                let rounds = reps(1_000);
                for round in 0..rounds {
                    local.with_or(
                        || unreachable!("value was set"),
                        |v| {
                            assert_eq!(v.get(), i + 100 * (round % 2));
                            v.set(i + 100 * ((round + 1) % 2));
                        },
                    );
                    if round % 100 == 0 {
                        thread::yield_now();
                    }
                }
                barrier.wait();
                local.with(|v| v.map(|v| v.get() - 100 * (rounds % 2)))
            })
        })
        .collect();
    for (i, h) in handles.into_iter().enumerate() {
        assert_eq!(h.join().unwrap(), Some(i));
    }
    assert!(!local.is_set(), "the test thread never stored a value");
}

#[test]
fn a_new_thread_always_starts_empty() {
    // Threads started one after another: the thread_local crate hands each
    // one the index of the previous, exited, thread.
    let local: Arc<Local<usize>> = Arc::new(Local::new());
    for i in 0..reps(200) {
        let local = Arc::clone(&local);
        thread::spawn(move || {
            assert!(!local.is_set(), "thread {i} inherited a value");
            assert_eq!(local.with(|v| v.copied()), None);
            assert_eq!(local.take(), None);
            if i % 2 == 0 {
                assert_eq!(local.set(i), None);
            } else {
                local.with_or(|| i, |_| ());
            }
            assert_eq!(local.with(|v| v.copied()), Some(i));
        })
        .join()
        .unwrap();
    }
    // And in overlapping batches, so that indices are recycled out of order.
    for batch in 0..reps(20) {
        let handles: Vec<_> = (0..4)
            .map(|j| {
                let local = Arc::clone(&local);
                thread::spawn(move || {
                    assert!(!local.is_set(), "batch {batch} thread {j} inherited a value");
                    local.set(batch * 10 + j);
                    thread::yield_now();
                    assert_eq!(local.with(|v| v.copied()), Some(batch * 10 + j));
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
    }
}

#[test]
fn each_value_is_dropped_exactly_once_at_its_threads_exit() {
    let drops = counter();
    let local: Arc<Local<Tracked>> = Arc::new(Local::new());
    let n = reps(50);
    for i in 0..n {
        let (l, d) = (Arc::clone(&local), Arc::clone(&drops));
        thread::spawn(move || {
            if i % 2 == 0 {
                l.set(Tracked::new(i, &d));
            } else {
                l.with_or(|| Tracked::new(i, &d), |v| assert_eq!(v.id, i));
            }
            assert_eq!(d.load(SeqCst), i, "dropped before the thread exited");
        })
        .join()
        .unwrap();
        assert_eq!(drops.load(SeqCst), i + 1, "thread {i}'s value not dropped by join");
    }
    drop(local);
    assert_eq!(drops.load(SeqCst), n, "a value was dropped twice");
}

#[test]
fn a_replaced_or_taken_value_is_handed_back_not_dropped() {
    let drops = counter();
    let local = Local::new();
    assert!(local.set(Tracked::new(1, &drops)).is_none());
    let old = local.set(Tracked::new(2, &drops)).expect("previous value");
    assert_eq!((old.id, drops.load(SeqCst)), (1, 0));
    drop(old);
    let taken = local.take().expect("value");
    assert_eq!(taken.id, 2);
    assert!(!local.is_set());
    assert!(local.take().is_none());
    drop(taken);
    drop(local);
    assert_eq!(drops.load(SeqCst), 2);
}

#[test]
fn dropping_the_local_drops_all_values() {
    let drops = counter();
    let local: Arc<Local<Tracked>> = Arc::new(Local::new());
    let stored = Arc::new(Barrier::new(5));
    let release = Arc::new(Barrier::new(5));
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let (l, d) = (Arc::clone(&local), Arc::clone(&drops));
            let (stored, release) = (Arc::clone(&stored), Arc::clone(&release));
            thread::spawn(move || {
                l.set(Tracked::new(i, &d));
                drop(l);
                stored.wait();
                release.wait(); // still alive while the Local is dropped
            })
        })
        .collect();
    local.set(Tracked::new(99, &drops));
    stored.wait();
    let local = Arc::into_inner(local).expect("threads dropped their handles");
    drop(local);
    assert_eq!(drops.load(SeqCst), 5, "values of live threads survived the Local");
    release.wait();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(drops.load(SeqCst), 5, "a thread exit dropped a value again");
}

#[test]
fn iter_mut_sees_every_live_threads_value() {
    let mut local: Arc<Local<usize>> = Arc::new(Local::new());
    local.set(1000);
    // One thread that used the Local and exited: its value is gone.
    let l = Arc::clone(&local);
    thread::spawn(move || l.set(7)).join().unwrap();

    let (stored_tx, stored_rx) = mpsc::channel();
    let mut back = Vec::new();
    let handles: Vec<_> = (1..=4)
        .map(|i| {
            let (tx, rx) = mpsc::channel::<Arc<Local<usize>>>();
            back.push(tx);
            let (l, stored_tx) = (Arc::clone(&local), stored_tx.clone());
            thread::spawn(move || {
                l.set(i);
                drop(l);
                stored_tx.send(()).unwrap();
                let l = rx.recv().unwrap();
                l.with(|v| v.copied())
            })
        })
        .collect();
    for _ in 0..4 {
        stored_rx.recv().unwrap();
    }
    let only = Arc::get_mut(&mut local).expect("threads dropped their handles");
    let mut seen: Vec<usize> = only.iter_mut().map(|v| *v).collect();
    seen.sort_unstable();
    assert_eq!(seen, [1, 2, 3, 4, 1000]);
    for v in only.iter_mut() {
        *v *= 100;
    }
    for tx in &back {
        tx.send(Arc::clone(&local)).unwrap();
    }
    for (i, h) in handles.into_iter().enumerate() {
        assert_eq!(h.join().unwrap(), Some((i + 1) * 100), "the owner saw the update");
    }
    assert_eq!(local.with(|v| v.copied()), Some(100_000));
    let only = Arc::get_mut(&mut local).expect("threads exited");
    assert_eq!(only.iter_mut().count(), 1, "exited threads' values are gone");
}

#[test]
fn clear_drops_every_value_and_threads_start_over() {
    let drops = counter();
    let mut local: Arc<Local<Tracked>> = Arc::new(Local::new());
    local.set(Tracked::new(0, &drops));
    let (stored_tx, stored_rx) = mpsc::channel();
    let mut back = Vec::new();
    let handles: Vec<_> = (1..=3)
        .map(|i| {
            let (tx, rx) = mpsc::channel::<Arc<Local<Tracked>>>();
            back.push(tx);
            let (l, d, stored_tx) = (Arc::clone(&local), Arc::clone(&drops), stored_tx.clone());
            thread::spawn(move || {
                l.set(Tracked::new(i, &d));
                drop(l);
                stored_tx.send(()).unwrap();
                let l = rx.recv().unwrap();
                assert!(!l.is_set(), "value survived clear");
                l.set(Tracked::new(10 + i, &d));
            })
        })
        .collect();
    for _ in 0..3 {
        stored_rx.recv().unwrap();
    }
    Arc::get_mut(&mut local).expect("sole owner").clear();
    assert_eq!(drops.load(SeqCst), 4);
    assert!(!local.is_set());
    for tx in &back {
        tx.send(Arc::clone(&local)).unwrap();
    }
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(drops.load(SeqCst), 7, "values stored after clear dropped at exit");
    drop(local);
    assert_eq!(drops.load(SeqCst), 7);
}

// --- The seeds' `LazyConnection` (Python Cookbook 12.6), with a stand-in
// resource instead of a socket. ---

static NEXT_CONNECTION: AtomicUsize = AtomicUsize::new(1);

/// Stand-in for a socket: knows which connection it is and counts closes.
#[derive(Debug)]
struct Connection {
    number: usize,
    closed: Arc<AtomicUsize>,
}

impl Connection {
    fn open(closed: &Arc<AtomicUsize>) -> Self {
        Connection { number: NEXT_CONNECTION.fetch_add(1, SeqCst), closed: Arc::clone(closed) }
    }

    fn request(&self, msg: &str) -> String {
        format!("conn#{} got {msg}", self.number)
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.closed.fetch_add(1, SeqCst);
    }
}

#[derive(Debug, PartialEq)]
struct AlreadyConnected;

/// One object shared by all threads; one connection per thread.
struct LazyConnection {
    conn: Local<Connection>,
    opened: AtomicUsize,
    closed: Arc<AtomicUsize>,
}

/// `with conn as s:`: the open connection of this thread, closed on drop.
struct Session<'a> {
    owner: &'a LazyConnection,
    _this_thread: PhantomData<*const ()>,
}

impl LazyConnection {
    fn new() -> Self {
        LazyConnection { conn: Local::new(), opened: AtomicUsize::new(0), closed: counter() }
    }

    fn connect(&self) -> Result<Session<'_>, AlreadyConnected> {
        if self.conn.is_set() {
            return Err(AlreadyConnected);
        }
        self.conn.set(Connection::open(&self.closed));
        self.opened.fetch_add(1, SeqCst);
        Ok(Session { owner: self, _this_thread: PhantomData })
    }
}

impl Session<'_> {
    fn request(&self, msg: &str) -> String {
        self.owner.conn.with(|c| c.expect("connected").request(msg))
    }

    fn number(&self) -> usize {
        self.owner.conn.with(|c| c.expect("connected").number)
    }
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        drop(self.owner.conn.take());
    }
}

#[test]
fn lazy_connection_one_connection_per_thread() {
    let shared = Arc::new(LazyConnection::new());
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let shared = Arc::clone(&shared);
            thread::spawn(move || {
                let session = shared.connect().expect("first connect");
                let number = session.number();
                assert_eq!(session.request("ping"), format!("conn#{number} got ping"));
                assert_eq!(shared.connect().err(), Some(AlreadyConnected));
                assert_eq!(session.number(), number, "failed connect kept the connection");
                drop(session);
                let again = shared.connect().expect("reconnect after close");
                assert_ne!(again.number(), number, "a new connection");
                if i == 0 {
                    // Exit while connected: closed at thread exit anyway.
                    std::mem::forget(again);
                }
                number
            })
        })
        .collect();
    let mut numbers: Vec<usize> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    numbers.sort_unstable();
    numbers.dedup();
    assert_eq!(numbers.len(), 4, "each thread had its own connection");
    assert_eq!(shared.opened.load(SeqCst), 8);
    assert_eq!(shared.closed.load(SeqCst), 8, "every connection closed by join");
    assert!(shared.connect().is_ok(), "the test thread is not connected");
}

// --- Bad input ---

#[test]
fn a_panicking_initializer_leaves_no_value_and_the_local_usable() {
    let local: Arc<Local<String>> = Arc::new(Local::new());
    let run = |local: &Local<String>| {
        let err = panic::catch_unwind(AssertUnwindSafe(|| {
            local.with_or(|| panic!("init failed"), |_| ());
        }))
        .unwrap_err();
        assert_eq!(panic_message(&*err), "init failed");
        assert!(!local.is_set());
        assert_eq!(local.with_or(|| "ok".to_string(), |s| s.clone()), "ok");
        assert!(local.is_set());
        // A panicking closure leaves the value in place and nothing lent.
        let _ = panic::catch_unwind(AssertUnwindSafe(|| local.with(|_| panic!("in with"))));
        assert_eq!(local.set("again".to_string()).as_deref(), Some("ok"));
    };
    run(&local);
    let l = Arc::clone(&local);
    thread::spawn(move || run(&l)).join().unwrap(); // a fresh thread, first use panics
}

/// Panics in `Drop` when `panics` is set.
struct PanicOnDrop {
    panics: bool,
    drops: Arc<AtomicUsize>,
}

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        self.drops.fetch_add(1, SeqCst);
        if self.panics {
            panic!("PanicOnDrop: intentional panic at thread exit");
        }
    }
}

#[test]
fn a_panicking_drop_at_thread_exit_does_not_stop_the_other_drops() {
    let drops = counter();
    let locals: Arc<[Local<PanicOnDrop>; 3]> = Arc::new(Default::default());
    let (l, d) = (Arc::clone(&locals), Arc::clone(&drops));
    let result = thread::spawn(move || {
        for (i, local) in l.iter().enumerate() {
            local.set(PanicOnDrop { panics: i == 1, drops: Arc::clone(&d) });
        }
    })
    .join();
    assert!(result.is_ok(), "the thread's closure returned normally");
    assert_eq!(drops.load(SeqCst), 3, "every value dropped despite the panic");
    // The Locals are fine afterwards.
    locals[1].set(PanicOnDrop { panics: false, drops: Arc::clone(&drops) });
    drop(locals);
    assert_eq!(drops.load(SeqCst), 4);
}

/// Uses its own `Local` from its `Drop` at thread exit.
struct Reentrant {
    original: bool,
}

static REENTRANT: LazyLock<Local<Reentrant>> = LazyLock::new(Local::new);
static REENTRANT_DROPS: AtomicUsize = AtomicUsize::new(0);
static REENTRANT_TEMP_DROPS: AtomicUsize = AtomicUsize::new(0);
static REENTRANT_CHECKS: AtomicUsize = AtomicUsize::new(0);

impl Drop for Reentrant {
    fn drop(&mut self) {
        if !self.original {
            REENTRANT_TEMP_DROPS.fetch_add(1, SeqCst);
            return;
        }
        REENTRANT_DROPS.fetch_add(1, SeqCst);
        // Failures are counted, not asserted: a panic here is swallowed.
        let checks = [
            !REENTRANT.is_set(),
            REENTRANT.with(|v| v.is_none()),
            REENTRANT.with_or(|| Reentrant { original: false }, |v| !v.original),
            REENTRANT.set(Reentrant { original: false }).is_none(),
            !REENTRANT.is_set(),
            REENTRANT.take().is_none(),
            nested_use_at_exit(&REENTRANT),
        ];
        REENTRANT_CHECKS.fetch_add(checks.iter().filter(|ok| **ok).count(), SeqCst);
    }
}

/// Nested use from inside the closure that a temporary is lent to at exit.
fn nested_use_at_exit(local: &Local<Reentrant>) -> bool {
    local.with_or(|| Reentrant { original: false }, |_| local.with(|v| v.is_none()))
}

#[test]
fn using_the_local_from_a_values_drop_at_exit_neither_crashes_nor_resurrects() {
    thread::spawn(|| {
        REENTRANT.set(Reentrant { original: true });
    })
    .join()
    .unwrap();
    assert_eq!(REENTRANT_DROPS.load(SeqCst), 1);
    assert_eq!(REENTRANT_CHECKS.load(SeqCst), 7, "a check failed inside Drop at exit");
    assert_eq!(REENTRANT_TEMP_DROPS.load(SeqCst), 3, "temporaries were not kept");
    // Nothing was resurrected: the exited thread has no value left behind.
    assert!(!REENTRANT.is_set());
}

#[test]
fn a_local_dropped_before_its_threads_exit_leaves_no_dangling_hook() {
    let drops = counter();
    let local: Arc<Local<Tracked>> = Arc::new(Local::new());
    let (stored_tx, stored_rx) = mpsc::channel();
    let release = Arc::new(Barrier::new(5));
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let (l, d, tx, release) =
                (Arc::clone(&local), Arc::clone(&drops), stored_tx.clone(), Arc::clone(&release));
            thread::spawn(move || {
                l.set(Tracked::new(i, &d));
                drop(l);
                tx.send(()).unwrap();
                release.wait();
                // New Locals (possibly at the freed one's address) used after
                // the first was dropped, then the thread exits.
                let fresh: Local<Tracked> = Local::new();
                fresh.set(Tracked::new(100 + i, &d));
                drop(fresh);
                // A Local still alive when the thread exits: handed back to
                // the main thread, which drops it only after the join (boxed,
                // so it stays at one address throughout).
                let kept = Box::new(Local::new());
                kept.set(Tracked::new(200 + i, &d));
                kept
            })
        })
        .collect();
    for _ in 0..4 {
        stored_rx.recv().unwrap();
    }
    drop(Arc::into_inner(local).expect("sole owner"));
    assert_eq!(drops.load(SeqCst), 4);
    release.wait();
    let kept: Vec<Box<Local<Tracked>>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(drops.load(SeqCst), 12, "each value dropped exactly once");
    drop(kept); // their values went at their threads' exits: nothing left to drop
    assert_eq!(drops.load(SeqCst), 12, "each value dropped exactly once");

    // One long-lived thread, many short-lived Locals.
    let drops = counter();
    let d = Arc::clone(&drops);
    let n = if cfg!(miri) { 40 } else { 1_000 }; // past the pruning threshold either way
    thread::spawn(move || {
        for i in 0..n {
            let local = Local::new();
            local.set(Tracked::new(i, &d));
        }
        assert_eq!(d.load(SeqCst), n);
    })
    .join()
    .unwrap();
    assert_eq!(drops.load(SeqCst), n);
}

#[test]
fn set_or_take_while_the_value_is_lent_out_panics() {
    let local = Local::new();
    local.set(1);
    let err = panic::catch_unwind(AssertUnwindSafe(|| local.with(|_| local.set(2)))).unwrap_err();
    assert!(panic_message(&*err).starts_with("Local accessed re-entrantly: set()"));
    let err = panic::catch_unwind(AssertUnwindSafe(|| local.with_or(|| 0, |_| local.take())))
        .unwrap_err();
    assert!(panic_message(&*err).starts_with("Local accessed re-entrantly: take()"));
    assert_eq!(local.with(|v| v.copied()), Some(1), "the value survived");
    // Nested reads are fine; the borrow is released after each panic.
    assert!(local.with(|a| local.with(|b| std::ptr::eq(a.unwrap(), b.unwrap()))));
    assert_eq!(local.set(3), Some(1));

    // `with` that lends nothing does not block `set`.
    let empty = Local::new();
    empty.with(|v| {
        assert!(v.is_none());
        empty.set(5);
    });
    assert_eq!(empty.take(), Some(5));
}

#[test]
fn a_value_stored_by_the_initializer_itself_is_kept() {
    let drops = counter();
    let local = Local::new();
    let id = local.with_or(
        || {
            local.set(Tracked::new(1, &drops));
            Tracked::new(2, &drops)
        },
        |v| v.id,
    );
    assert_eq!(id, 1);
    assert_eq!(drops.load(SeqCst), 1, "the initializer's own value was dropped");
    assert_eq!(local.with(|v| v.map(|v| v.id)), Some(1));
}

#[test]
fn with_or_default_debug_and_default() {
    let local: Local<Vec<u8>> = Local::default();
    assert_eq!(format!("{local:?}"), "Local { is_set: false, .. }");
    local.with_or_default(|v| assert!(v.is_empty()));
    assert_eq!(format!("{local:?}"), "Local { is_set: true, .. }");
    // Debug needs no `T: Debug` and does not block while the value is lent.
    struct Opaque;
    let opaque = Local::new();
    opaque.set(Opaque);
    opaque.with(|_| assert_eq!(format!("{opaque:?}"), "Local { is_set: true, .. }"));
}

#[test]
fn local_is_send_and_sync_for_send_values() {
    fn assert_send_sync<X: Send + Sync>() {}
    assert_send_sync::<Local<Cell<u64>>>();
    assert_send_sync::<Local<std::cell::RefCell<Vec<String>>>>();
}

#[test]
fn thread_exits_racing_the_locals_drop() {
    for round in 0..reps(200) {
        let drops = counter();
        let local: Arc<Local<Tracked>> = Arc::new(Local::new());
        let handles: Vec<_> = (0..2)
            .map(|i| {
                let (l, d) = (Arc::clone(&local), Arc::clone(&drops));
                thread::spawn(move || {
                    l.set(Tracked::new(i, &d));
                    // The last handle may be dropped here, or by the test
                    // thread while this thread's exit hook runs.
                    drop(l);
                })
            })
            .collect();
        drop(local);
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(drops.load(SeqCst), 2, "round {round}");
    }
}

#[test]
fn thread_exits_racing_iter_mut_and_clear() {
    for round in 0..reps(200) {
        let drops = counter();
        let mut local: Arc<Local<Tracked>> = Arc::new(Local::new());
        let handles: Vec<_> = (0..2)
            .map(|i| {
                let (l, d) = (Arc::clone(&local), Arc::clone(&drops));
                thread::spawn(move || {
                    l.set(Tracked::new(i, &d));
                    drop(l);
                })
            })
            .collect();
        let only = loop {
            if let Some(only) = Arc::get_mut(&mut local) {
                break only;
            }
            thread::yield_now();
        };
        // The threads are exiting now: their hooks race these.
        let seen = only.iter_mut().inspect(|v| assert!(v.id < 2)).count();
        assert!(seen <= 2);
        if round % 2 == 0 {
            only.clear();
        }
        for h in handles {
            h.join().unwrap();
        }
        // A thread that exited while the values were lent out left its value
        // to this next use.
        assert!(!local.is_set());
        assert_eq!(drops.load(SeqCst), 2, "round {round}: every value dropped once");
        drop(local);
        assert_eq!(drops.load(SeqCst), 2);
    }
}

#[test]
fn scoped_threads_values_are_dropped_exactly_once_even_without_join() {
    // `thread::scope` does not wait for thread-exit destructors, so the
    // exit hooks race the Local's drop here.
    for _ in 0..reps(50) {
        let drops = counter();
        let local: Local<Tracked> = Local::new();
        thread::scope(|s| {
            for i in 0..3 {
                let (local, drops) = (&local, &drops);
                s.spawn(move || local.set(Tracked::new(i, drops)));
            }
        });
        drop(local);
        wait_for(&drops, 3);
        thread::sleep(Duration::from_millis(1));
        assert_eq!(drops.load(SeqCst), 3);
    }
}

#[test]
fn a_thread_exiting_while_iter_mut_lends_its_value_leaves_it_to_the_next_use() {
    let drops = counter();
    let mut local: Arc<Local<Tracked>> = Arc::new(Local::new());
    let spawn = |id: usize, local: &Arc<Local<Tracked>>| {
        let (l, d) = (Arc::clone(local), Arc::clone(&drops));
        let (stored_tx, stored_rx) = mpsc::channel();
        let (exit_tx, exit_rx) = mpsc::channel::<()>();
        let handle = thread::spawn(move || {
            l.set(Tracked::new(id, &d));
            drop(l);
            stored_tx.send(()).unwrap();
            exit_rx.recv().unwrap();
        });
        stored_rx.recv().unwrap();
        (handle, exit_tx)
    };

    let (handle, exit) = spawn(1, &local);
    let only = Arc::get_mut(&mut local).expect("sole owner");
    let lent: Vec<&mut Tracked> = only.iter_mut().collect();
    // The iterator is gone, the references are not. Joining the owner while
    // they live must neither deadlock nor free the value under them.
    exit.send(()).unwrap();
    handle.join().unwrap();
    assert_eq!(drops.load(SeqCst), 0, "dropped while lent out");
    for value in lent {
        value.id += 10;
        assert_eq!(value.id, 11);
    }
    assert_eq!(drops.load(SeqCst), 0);
    assert!(!only.is_set(), "the test thread has no value"); // a use: the lending is over
    assert_eq!(drops.load(SeqCst), 1, "the next use dropped the orphaned value");

    // The same with `clear` as the next use, and a thread exiting after the
    // iterator was dropped but before the next use.
    let (handle, exit) = spawn(2, &local);
    let only = Arc::get_mut(&mut local).expect("sole owner");
    assert_eq!(only.iter_mut().count(), 1);
    exit.send(()).unwrap();
    handle.join().unwrap();
    assert_eq!(drops.load(SeqCst), 1);
    only.clear();
    assert_eq!(drops.load(SeqCst), 2);

    // After that, exits drop their values again.
    let (handle, exit) = spawn(3, &local);
    exit.send(()).unwrap();
    handle.join().unwrap();
    assert_eq!(drops.load(SeqCst), 3, "hooks work normally again");

    // Owners keep their values through a lending and see the updates.
    let l = Arc::clone(&local);
    let (stored_tx, stored_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<Arc<Local<Tracked>>>();
    let d = Arc::clone(&drops);
    let owner = thread::spawn(move || {
        l.set(Tracked::new(4, &d));
        drop(l);
        stored_tx.send(()).unwrap();
        let l = go_rx.recv().unwrap();
        assert!(l.is_set());
        assert_eq!(l.with(|v| v.map(|v| v.id)), Some(40));
        l.with_or(|| unreachable!("kept its value"), |v| assert_eq!(v.id, 40));
    });
    stored_rx.recv().unwrap();
    for value in Arc::get_mut(&mut local).expect("sole owner").iter_mut() {
        value.id *= 10;
    }
    go_tx.send(Arc::clone(&local)).unwrap();
    owner.join().unwrap();
    assert_eq!(drops.load(SeqCst), 4);
    drop(local);
    assert_eq!(drops.load(SeqCst), 4);
}

/// Uses a `Local` for the first time from its own `Drop`, run as a
/// thread-local destructor after the `thread_local` crate's exit destructor.
struct FirstUseAtExit {
    local: Arc<Local<Tracked>>,
    drops: Arc<AtomicUsize>,
    lent: Arc<AtomicUsize>,
}

impl Drop for FirstUseAtExit {
    fn drop(&mut self) {
        let id = self.local.with_or(|| Tracked::new(7, &self.drops), |v| v.id);
        self.lent.fetch_add(id, SeqCst);
        if !self.local.is_set() && self.local.set(Tracked::new(8, &self.drops)).is_none() {
            self.lent.fetch_add(1, SeqCst);
        }
    }
}

#[test]
fn a_local_first_used_after_the_thread_local_crates_exit_destructor_keeps_nothing() {
    std::thread_local! {
        static LATE: std::cell::RefCell<Option<FirstUseAtExit>> =
            const { std::cell::RefCell::new(None) };
    }
    let (drops, lent) = (counter(), counter());
    let local: Arc<Local<Tracked>> = Arc::new(Local::new());
    let probe = FirstUseAtExit {
        local: Arc::clone(&local),
        drops: Arc::clone(&drops),
        lent: Arc::clone(&lent),
    };
    thread::spawn(move || {
        // Registered first, so (std runs thread-local destructors in reverse
        // order of registration) destroyed after the crate's exit guard,
        // which the direct `ThreadLocal` use below registers.
        LATE.with(|late| *late.borrow_mut() = Some(probe));
        let direct = thread_local::ThreadLocal::new();
        assert_eq!(*direct.get_or(|| 1), 1);
    })
    .join()
    .expect("no abort, no panic out of the thread");
    assert_eq!(lent.load(SeqCst), 8, "a temporary was lent, then `set` found no value");
    assert_eq!(drops.load(SeqCst), 2, "both values dropped by join");
    let mut local = Arc::into_inner(local).expect("sole owner");
    assert_eq!(local.iter_mut().count(), 0, "nothing kept for the exited thread");
}
