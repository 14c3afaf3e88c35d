//! A tour of threadkit: every primitive in the scenario it exists for, in a
//! few seconds. Each section is a short version of one of the examples
//! (`cargo run --release --example NAME` for the full one).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use threadkit::{Condition, Event, LifoQueue, Local, Lock, PriorityQueue, Queue, RLock, acquire};

fn main() {
    let start = Instant::now();
    lock_counter();
    rlock_reentry();
    spinner();
    hide_and_seek();
    roll_call();
    worker_pool();
    priority_jobs();
    lazy_connection();
    deadlock_free();
    println!("\ntour finished in {:.2?}", start.elapsed());
}

fn section(title: &str) {
    println!("\n== {title} ==");
}

/// `Lock`: four threads increment one counter.
fn lock_counter() {
    section("Lock: a shared counter");
    let counter = Lock::new(0u64);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..10_000 {
                    *counter.lock() += 1;
                }
            });
        }
    });
    println!("4 threads x 10000 increments = {}", counter.into_inner());
}

/// `RLock`: a recursive function re-enters the lock it already holds.
fn rlock_reentry() {
    section("RLock: re-entering from recursive code");
    let log = RLock::new(RefCell::new(Vec::new()));
    fn visit(log: &RLock<RefCell<Vec<String>>>, depth: usize) {
        let guard = log.lock();
        guard.borrow_mut().push(format!("depth {depth}, hold count {}", log.hold_count()));
        if depth < 3 {
            visit(log, depth + 1);
        }
    }
    visit(&log, 1);
    for line in log.lock().borrow().iter() {
        println!("{line}");
    }
    println!("after return: locked = {}", log.is_locked());
}

/// `Event`: a spinner animates until the main thread says stop.
fn spinner() {
    section("Event: stop a spinner");
    let stop = Event::new();
    let frames = AtomicUsize::new(0);
    std::thread::scope(|s| {
        s.spawn(|| {
            for c in "|/-\\".chars().cycle() {
                print!("\rthinking {c}");
                frames.fetch_add(1, Ordering::Relaxed);
                // The frame delay doubles as the stop check: returns early on set().
                if stop.wait_timeout(Duration::from_millis(20)) {
                    break;
                }
            }
            println!("\rthinking done.");
        });
        std::thread::sleep(Duration::from_millis(150));
        stop.set();
    });
    println!("spinner drew {} frames", frames.load(Ordering::Relaxed));
}

/// `Condition`: two threads take turns.
fn hide_and_seek() {
    section("Condition: hide and seek");
    // Whose turn it is, and how many rounds are left.
    let turn = Lock::new(("hider", 3));
    let changed = Condition::new();
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut g = turn.lock();
            loop {
                changed.wait_while(&mut g, |(who, left)| *who != "seeker" && *left > 0);
                if g.1 == 0 {
                    break;
                }
                println!("seeker: found you! ({} rounds left)", g.1 - 1);
                g.1 -= 1;
                g.0 = "hider";
                changed.notify_one();
            }
        });
        let mut g = turn.lock();
        while g.1 > 0 {
            println!("hider: hiding...");
            g.0 = "seeker";
            changed.notify_one();
            changed.wait_while(&mut g, |(who, left)| *who != "hider" && *left > 0);
        }
        changed.notify_all();
    });
}

/// `Queue`: a teacher calls names, each student answers to its own.
fn roll_call() {
    section("Queue: roll call");
    let names = ["Ada", "Grace", "Linus"];
    let called: Queue<&str> = Queue::new();
    let answers: Queue<String> = Queue::new();
    let students: Vec<Queue<&str>> = names.iter().map(|_| Queue::bounded(1)).collect();
    std::thread::scope(|s| {
        for (name, inbox) in names.iter().zip(&students) {
            let answers = &answers;
            s.spawn(move || {
                while let Ok(heard) = inbox.get() {
                    if heard == *name {
                        answers.put(format!("{name}: present!")).unwrap();
                    }
                }
            });
        }
        // The teacher: announce each name to every student.
        s.spawn(|| {
            while let Ok(name) = called.get() {
                println!("teacher: {name}?");
                for inbox in &students {
                    inbox.put(name).unwrap();
                }
                println!("{}", answers.get().unwrap());
            }
            for inbox in &students {
                inbox.shutdown();
            }
        });
        for name in names {
            called.put(name).unwrap();
        }
        called.shutdown();
    });
}

/// `Queue` with `join` and `shutdown`: a pool of workers.
fn worker_pool() {
    section("Queue: worker pool with join and shutdown");
    let jobs = Queue::new();
    let done = AtomicUsize::new(0);
    let per_worker = Lock::new(HashMap::new());
    std::thread::scope(|s| {
        for worker in 0..5 {
            let (jobs, done, per_worker) = (&jobs, &done, &per_worker);
            s.spawn(move || {
                while let Ok(job) = jobs.get_task() {
                    // A job takes a moment, so the work spreads over the pool.
                    std::thread::sleep(Duration::from_millis(1));
                    let _square = *job * *job;
                    done.fetch_add(1, Ordering::Relaxed);
                    *per_worker.lock().entry(worker).or_insert(0) += 1;
                } // each Task marks itself done when dropped
            });
        }
        for job in 0..100u64 {
            jobs.put(job).unwrap();
        }
        jobs.join();
        println!("join returned: {} of 100 jobs done", done.load(Ordering::Relaxed));
        jobs.shutdown();
    });
    let mut counts: Vec<_> = per_worker.into_inner().into_iter().collect();
    counts.sort();
    println!("jobs per worker: {counts:?}");
}

/// `PriorityQueue` and `LifoQueue`: which job runs next.
fn priority_jobs() {
    section("PriorityQueue: most urgent first, ties in arrival order");
    let jobs = PriorityQueue::new();
    for (priority, name) in
        [(2, "write report"), (1, "fix outage"), (3, "tidy desk"), (1, "page on-call")]
    {
        // Order by priority only: wrap the name so ties keep arrival order.
        jobs.put(Job { priority, name }).unwrap();
    }
    while let Ok(job) = jobs.try_get() {
        println!("run [{}] {}", job.priority, job.name);
    }
    let stack = LifoQueue::new();
    for page in ["home", "docs", "api"] {
        stack.put(page).unwrap();
    }
    println!("LifoQueue: back from {:?} to {:?}", stack.get().unwrap(), stack.get().unwrap());
}

struct Job {
    priority: u8,
    name: &'static str,
}

impl PartialEq for Job {
    fn eq(&self, other: &Self) -> bool {
        self.priority == other.priority
    }
}
impl Eq for Job {}
impl PartialOrd for Job {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Job {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.priority.cmp(&other.priority)
    }
}

/// `Local`: one shared object, one connection per thread.
fn lazy_connection() {
    section("Local: one lazily opened connection per thread");
    static OPENED: AtomicUsize = AtomicUsize::new(0);
    struct Connection {
        id: usize,
        queries: Cell<u32>,
    }
    let conn: Local<Connection> = Local::new();
    std::thread::scope(|s| {
        for t in 0..3 {
            let conn = &conn;
            s.spawn(move || {
                for _ in 0..2 {
                    conn.with_or(
                        || Connection {
                            id: OPENED.fetch_add(1, Ordering::Relaxed),
                            queries: Cell::new(0),
                        },
                        |c| c.queries.set(c.queries.get() + 1),
                    );
                }
                conn.with(|c| {
                    let c = c.expect("opened above");
                    println!("thread {t}: connection #{} ran {} queries", c.id, c.queries.get());
                });
            }); // the thread's connection is dropped when it exits
        }
    });
    println!("{} connections opened for 3 threads", OPENED.load(Ordering::Relaxed));
}

/// `acquire`: two threads take the same two locks in opposite order.
fn deadlock_free() {
    section("acquire: locks in opposite order, no deadlock");
    let x = Lock::new(0u32);
    let y = Lock::new(0u32);
    std::thread::scope(|s| {
        s.spawn(|| {
            for _ in 0..2_000 {
                let mut g = acquire((&x, &y)).unwrap();
                *g.0 += 1;
                *g.1 += 1;
            }
        });
        s.spawn(|| {
            for _ in 0..2_000 {
                let mut g = acquire((&y, &x)).unwrap();
                *g.0 += 1;
                *g.1 += 1;
            }
        });
    });
    println!("x = {}, y = {} (4000 each, and no deadlock)", x.into_inner(), y.into_inner());
    let (a, b) = (Lock::new(()), Lock::new(()));
    let held = acquire((&b,)).unwrap();
    match acquire((&a,)) {
        Err(e) => println!("nested acquire out of order is refused: {e}"),
        Ok(_) => println!("unexpected: out-of-order acquire allowed"),
    }
    drop(held);
}
