//! A spinner that stops the moment it is told to.
//!
//! A background thread animates `|/-\` on stderr while the main thread
//! "works". The main thread signals the end with an `Event`. The spinner
//! uses `Event::wait_timeout` as its frame delay: it sleeps one frame, but
//! wakes up at once when the event is set, so it stops promptly instead of
//! finishing a `sleep`. (In Python: `while not done.wait(0.1): ...`.)
//!
//! Run: `cargo run --example spinner`.

use std::io::Write;
use std::thread;
use std::time::{Duration, Instant};

use threadkit::Event;

const FRAMES: [char; 4] = ['|', '/', '-', '\\'];
const FRAME_DELAY: Duration = Duration::from_millis(80);

fn main() {
    let done = Event::new();
    let started = Instant::now();

    let frames_drawn = thread::scope(|s| {
        let spinner = s.spawn(|| {
            let mut stderr = std::io::stderr();
            let mut frames = 0usize;
            // `wait_timeout` returns false after one frame's delay while the
            // event is unset, and true as soon as it is set.
            while !done.wait_timeout(FRAME_DELAY) {
                let _ = write!(stderr, "\r{} working...", FRAMES[frames % FRAMES.len()]);
                let _ = stderr.flush();
                frames += 1;
            }
            let _ = writeln!(stderr, "\r  done.      ");
            frames
        });

        // The "work": three steps of a quarter second each.
        for step in 1..=3 {
            thread::sleep(Duration::from_millis(250));
            eprint!("\r  step {step}/3 finished\n");
        }
        let signalled = Instant::now();
        done.set();
        let frames = spinner.join().expect("spinner thread panicked");
        println!("spinner stopped {:?} after the signal", signalled.elapsed());
        frames
    });

    println!("drew {frames_drawn} frames in {:?}", started.elapsed());
}
