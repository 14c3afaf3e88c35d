//! Hide-and-seek: two threads take turns through one `Condition`.
//!
//! The seeker counts to three with its eyes closed, then it is the hider's
//! turn to find a new hiding place, then the seeker looks, and so on. Whose
//! turn it is lives under one `Lock`; each player waits on the shared
//! `Condition` until the turn is theirs, plays, hands the turn over and
//! notifies. (In Python: one `threading.Condition`, `wait_for` and
//! `notify`.)
//!
//! Run: `cargo run --example hide_and_seek`.

use std::thread;

use threadkit::{Condition, Lock};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Turn {
    Seeker,
    Hider,
}

struct Game {
    turn: Turn,
    round: usize,
    hiding_place: &'static str,
}

const ROUNDS: usize = 4;
const PLACES: [&str; ROUNDS] =
    ["behind the sofa", "in the wardrobe", "under the stairs", "in the shed"];

fn main() {
    let game = Lock::new(Game { turn: Turn::Seeker, round: 0, hiding_place: "nowhere yet" });
    let turn_changed = Condition::new();

    thread::scope(|s| {
        // The hider: waits for the seeker to finish counting, then hides.
        s.spawn(|| {
            for round in 1..=ROUNDS {
                let mut g = game.lock();
                turn_changed.wait_while(&mut g, |g| g.turn != Turn::Hider);
                g.hiding_place = PLACES[round - 1];
                println!("  hider:  (round {round}) hides {}", g.hiding_place);
                g.turn = Turn::Seeker;
                turn_changed.notify_one();
            }
        });

        // The seeker: counts, lets the hider hide, then looks.
        for round in 1..=ROUNDS {
            let mut g = game.lock();
            g.round = round;
            println!("seeker: (round {round}) counts 1, 2, 3... ready or not!");
            g.turn = Turn::Hider;
            turn_changed.notify_one();
            turn_changed.wait_while(&mut g, |g| g.turn != Turn::Seeker);
            println!("seeker: (round {round}) found the hider {}!", g.hiding_place);
        }
    });

    let g = game.lock();
    println!(
        "game over after {} rounds; the turn went back and forth {} times",
        g.round,
        2 * g.round
    );
}
