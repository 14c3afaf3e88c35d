//! Roll call: a teacher calls names through a `Queue`; every student hears
//! every call, and the one called answers.
//!
//! Each student listens on a queue of their own (so everyone hears each
//! call) and answers on a shared one. After each call the teacher `join`s
//! the students' queues: once that returns, every student has heard the
//! call, and the one called (if present) has already answered, so the
//! teacher knows without any timeout who is absent.
//!
//! Run: `cargo run --example roll_call`

use std::thread;

use threadkit::{GetError, Queue};

fn main() {
    let students = ["Ada", "Grace", "Linus", "Barbara"];
    let roll = ["Grace", "Ada", "Ken", "Barbara", "Linus"];

    let ears: Vec<Queue<&str>> = students.iter().map(|_| Queue::new()).collect();
    let answers: Queue<String> = Queue::new();

    thread::scope(|s| {
        for (&me, ear) in students.iter().zip(&ears) {
            let answers = &answers;
            s.spawn(move || {
                // Each call is a Task: it counts as heard (task_done) when
                // dropped, after the answer is given.
                while let Ok(call) = ear.get_task() {
                    if *call == me {
                        answers.put(format!("{me}: present!")).unwrap();
                    }
                }
                println!("  ({me} leaves the classroom)");
            });
        }

        println!("Teacher: roll call.");
        for name in roll {
            println!("Teacher: {name}?");
            for ear in &ears {
                ear.put(name).unwrap();
            }
            for ear in &ears {
                ear.join(); // everyone has heard it (and answered if called)
            }
            match answers.try_get() {
                Ok(answer) => println!("  {answer}"),
                Err(GetError::Empty) => println!("  (silence: {name} is absent)"),
                Err(GetError::ShutDown) => unreachable!("the answers queue stays open"),
            }
        }
        println!("Teacher: that's everyone. Class dismissed.");
        for ear in &ears {
            ear.shutdown(); // each student's get_task fails, and they leave
        }
    });
}
