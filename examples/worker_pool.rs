//! A worker pool: 5 workers take 100 jobs from a `Queue`; `join` waits until
//! every job is done; then `shutdown` stops the workers cleanly.
//!
//! Workers take jobs with `get_task`: the `Task` marks its job done when it
//! is dropped (even if the worker panics), so `join` never waits forever.
//!
//! Run: `cargo run --example worker_pool`

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use threadkit::Queue;

const WORKERS: usize = 5;
const JOBS: u64 = 100;

fn main() {
    let jobs: Queue<u64> = Queue::bounded(10); // back-pressure on the producer
    let done = AtomicUsize::new(0);
    let total = AtomicU64::new(0);
    let start = Instant::now();

    thread::scope(|s| {
        for worker in 0..WORKERS {
            let (jobs, done, total) = (&jobs, &done, &total);
            s.spawn(move || {
                let mut mine = 0;
                while let Ok(job) = jobs.get_task() {
                    // "Work": a few milliseconds for some jobs.
                    thread::sleep(Duration::from_millis(*job % 4));
                    total.fetch_add(*job * *job, Ordering::Relaxed);
                    done.fetch_add(1, Ordering::Relaxed);
                    mine += 1;
                } // `job` drops at the end of each iteration: task_done
                println!("worker {worker}: did {mine} jobs, stopping (queue shut down)");
            });
        }

        for job in 1..=JOBS {
            jobs.put(job).unwrap();
        }
        println!("main: all {JOBS} jobs queued; waiting for them to finish");
        jobs.join();
        println!(
            "main: join returned after {:?}: {} jobs done, sum of squares {}",
            start.elapsed(),
            done.load(Ordering::Relaxed),
            total.load(Ordering::Relaxed),
        );
        assert_eq!(done.load(Ordering::Relaxed), JOBS as usize);
        assert_eq!(total.load(Ordering::Relaxed), JOBS * (JOBS + 1) * (2 * JOBS + 1) / 6);

        jobs.shutdown();
    });
    println!("main: every worker has stopped");
}
