//! Loom models for the queues (scratch; the full suite is being written).
#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;
use threadkit::Queue;

#[test]
fn fifo_blocking_handoff_crosses_blocks() {
    loom::model(|| {
        let q = Arc::new(Queue::bounded(1));
        let q2 = q.clone();
        let producer = thread::spawn(move || {
            for i in 0..3 {
                q2.put(i).unwrap();
            }
        });
        let mut got = Vec::new();
        for _ in 0..3 {
            got.push(q.get().unwrap());
            q.task_done().unwrap();
        }
        producer.join().unwrap();
        assert_eq!(got, vec![0, 1, 2]);
        assert_eq!(q.unfinished_tasks(), 0);
    });
}

#[test]
fn fifo_shutdown_wakes_blocked_getter() {
    loom::model(|| {
        let q: Arc<Queue<u32>> = Arc::new(Queue::new());
        let q2 = q.clone();
        let getter = thread::spawn(move || q2.get());
        q.put(7).unwrap();
        q.shutdown();
        assert_eq!(getter.join().unwrap(), Ok(7));
        assert!(q.get().is_err());
    });
}
