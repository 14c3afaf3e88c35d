//! A job scheduler on a `PriorityQueue`: lower priority numbers run first,
//! and jobs of equal priority run in the order they were submitted.
//!
//! All jobs are submitted before the worker starts, so the printed run
//! order shows the queue's order exactly.
//!
//! Run: `cargo run --example priority_jobs`

use std::cmp::Ordering;
use std::thread;

use threadkit::PriorityQueue;

/// A job ordered by its priority alone: ties are left to the queue, which
/// keeps them first-in, first-out.
#[derive(Debug)]
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
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Job {
    fn cmp(&self, other: &Self) -> Ordering {
        self.priority.cmp(&other.priority)
    }
}

fn main() {
    let queue = PriorityQueue::new();
    let submitted = [
        (2, "send weekly report"),
        (0, "page on-call: database down"),
        (1, "restart web server"),
        (2, "rotate logs"),
        (1, "renew TLS certificate"),
        (3, "clean temp files"),
        (0, "fail over to replica"),
        (2, "update dashboards"),
    ];
    for (priority, name) in submitted {
        println!("submit  p{priority} {name}");
        queue.put(Job { priority, name }).unwrap();
    }
    queue.shutdown(); // no more jobs: the worker stops once it has run them all

    let ran = thread::scope(|s| {
        s.spawn(|| {
            let mut ran = Vec::new();
            while let Ok(job) = queue.get_task() {
                println!("run     p{} {}", job.priority, job.name);
                ran.push((job.priority, job.name));
            }
            ran
        })
        .join()
        .unwrap()
    });
    queue.join();

    let mut expected = submitted.to_vec();
    expected.sort_by_key(|&(priority, _)| priority); // stable, like the queue
    assert_eq!(ran, expected);
    println!("all {} jobs ran, in priority order, ties first-come first-served", ran.len());
}
