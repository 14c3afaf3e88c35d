//! Deadlock-free multi-lock acquire with `threadkit::acquire`.
//!
//! 1. Two threads take the same two locks, naming them in opposite orders:
//!    with plain `.lock()` calls this is the textbook deadlock; through
//!    `acquire` both threads take them in the same (creation) order.
//! 2. The dining philosophers: five philosophers, five forks, each takes the
//!    forks on both sides through `acquire`. Nobody starves the table into a
//!    deadlock, and everybody eats.
//!
//! Run with `cargo run --example deadlock_free`.

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use threadkit::{Lock, acquire};

fn opposite_orders() {
    const ROUNDS: u64 = 5_000;
    let x = Arc::new(Lock::new(0u64));
    let y = Arc::new(Lock::new(0u64));
    let start = Instant::now();
    let threads: Vec<_> = [true, false]
        .into_iter()
        .map(|x_first| {
            let (x, y) = (Arc::clone(&x), Arc::clone(&y));
            thread::spawn(move || {
                for _ in 0..ROUNDS {
                    // Named in opposite orders; taken in the same one.
                    if x_first {
                        let mut g = acquire((&*x, &*y)).unwrap();
                        let (gx, gy) = &mut *g;
                        bump(gx, gy);
                    } else {
                        let mut g = acquire((&*y, &*x)).unwrap();
                        let (gy, gx) = &mut *g; // guards in the order named
                        bump(gx, gy);
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    println!(
        "opposite orders: 2 threads x {ROUNDS} rounds, x = {}, y = {}, no deadlock ({:.1?})",
        *x.lock(),
        *y.lock(),
        start.elapsed()
    );
}

/// Both values change together, under both locks.
fn bump(x: &mut u64, y: &mut u64) {
    assert_eq!(*x, *y, "x and y always change together");
    *x += 1;
    *y += 1;
}

fn dining_philosophers() {
    const MEALS: usize = 200;
    const NAMES: [&str; 5] = ["Aristotle", "Kant", "Spinoza", "Marx", "Russell"];
    let forks: Arc<Vec<Lock<usize>>> = Arc::new((0..5).map(|_| Lock::new(0)).collect());
    let start = Instant::now();
    let philosophers: Vec<_> = (0..5)
        .map(|i| {
            let forks = Arc::clone(&forks);
            thread::spawn(move || {
                let (left, right) = (&forks[i], &forks[(i + 1) % 5]);
                for meal in 0..MEALS {
                    {
                        let mut g = acquire((left, right)).unwrap();
                        *g.0 += 1;
                        *g.1 += 1;
                        if meal % 50 == 0 {
                            println!("  {} eats (meal {})", NAMES[i], meal + 1);
                        }
                    }
                    // Think a little.
                    thread::sleep(Duration::from_micros(50));
                }
                MEALS
            })
        })
        .collect();
    let meals: Vec<usize> = philosophers.into_iter().map(|p| p.join().unwrap()).collect();
    for (name, n) in NAMES.iter().zip(&meals) {
        println!("{name} ate {n} meals");
    }
    let uses: Vec<usize> = forks.iter().map(|f| *f.lock()).collect();
    println!("fork uses: {uses:?} (each fork serves two neighbours) in {:.1?}", start.elapsed());
    assert!(uses.iter().all(|&u| u == 2 * MEALS));
}

fn main() {
    opposite_orders();
    println!("dining philosophers:");
    dining_philosophers();
}
