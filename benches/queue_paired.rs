//! Queue throughput with the implementations alternated run by run: the
//! cases of `benches/queue.rs`, measured so that a change in the machine's
//! speed hits every implementation of a case alike.
//!
//! Criterion (`benches/queue.rs`) measures one implementation for a few
//! seconds, then the next. On a virtual machine the cost of moving a cache
//! line between cores can change in between: on the 2-core VM these
//! figures come from, a round trip between the cores took ~80 ns or
//! ~120 ns for seconds at a stretch and ~400 ns for others, and a
//! contended queue benchmark's time moves with it (LIFO 2P2C: 17 ms or
//! 30 ms for threadkit, 19–23 ms or 38 ms for the parking_lot baseline).
//! A criterion ratio whose two halves ran in different states says more
//! about the host than about the queues.
//!
//! Here threadkit runs alternately with one peer at a time, one run each
//! per round, the order swapped every round, so a round's two runs lie
//! within tens of milliseconds of each other. A pair gets up to 31 rounds,
//! fewer (but at least 3) once its rounds have taken 10 seconds: the
//! slowest peers take seconds per run. Reported: threadkit's median time
//! over all its runs in the case; for each peer its median time, the
//! median over the rounds of (peer's time ÷ threadkit's time in the same
//! round), the range of those ratios and how many were below 1; and the
//! range of the cross-core round trip measured before each round, which
//! shows whether the state changed during the case.
//!
//! ```text
//! cargo bench --bench queue_paired                 # every case: ~4 minutes here
//! cargo bench --bench queue_paired -- lifo_2p2c --rounds 101 --seconds 60 --each
//! ```
//!
//! A ratio above 1 means that implementation took longer than threadkit.

#[path = "common/queues.rs"]
mod queues;

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const USAGE: &str = "usage: queue_paired [FILTER] [--rounds N] [--seconds S] [--each]
  --rounds N   at most N rounds per peer (default 31; odd: a true median)
  --seconds S  stop a peer once its rounds took S seconds, after at least 3 (default 10)
  --each       print every round's times";

/// Rounds a pair always gets, whatever `--seconds` says.
const MIN_ROUNDS: usize = 3;

struct Options {
    filter: String,
    rounds: usize,
    /// Time budget per peer, past `MIN_ROUNDS`.
    budget: Duration,
    /// Print every round's times, not just the summary.
    each: bool,
}

fn main() -> ExitCode {
    let options = match parse_args(std::env::args().skip(1)) {
        Ok(parsed) => parsed,
        Err(message) => {
            eprintln!("queue_paired: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let cases: Vec<_> =
        queues::cases().into_iter().filter(|case| case.name().contains(&options.filter)).collect();
    if cases.is_empty() {
        eprintln!("queue_paired: no case's name contains {:?}", options.filter);
        return ExitCode::from(2);
    }
    println!(
        "{} cases; each peer runs in turn with threadkit, up to {} rounds ({}s per pair after \
         {MIN_ROUNDS}); ratio = peer's time / threadkit's in the same round (median, then min-max \
         over the rounds); RTT = cross-core round trip before each round",
        cases.len(),
        options.rounds,
        options.budget.as_secs_f64()
    );
    for case in cases {
        let implementations = case.implementations();
        // One unmeasured run each: thread stacks, allocator arenas, caches.
        for implementation in implementations {
            case.run(implementation);
        }
        let (ours, peers) = (implementations[0], &implementations[1..]);
        let mut our_times = Vec::new();
        let mut trips = Vec::new();
        let mut cells = Vec::new();
        for &peer in peers {
            let pair = Pair::measure(&case, ours, peer, &options, &mut trips);
            our_times.extend(&pair.ours);
            cells.push(pair.summary(peer));
        }
        let rtt = match min_max(&trips.iter().map(|d| d.as_secs_f64() * 1e9).collect::<Vec<_>>()) {
            (lo, hi) if lo.is_finite() => format!("RTT {lo:.0}-{hi:.0} ns"),
            _ => "RTT n/a".to_owned(),
        };
        println!(
            "| {} | {ours} {} · {} | {rtt} |",
            case.name(),
            ms(median(our_times)),
            cells.join(" · ")
        );
    }
    ExitCode::SUCCESS
}

/// See `USAGE`; `--bench`, which `cargo bench` passes, is ignored.
fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut filter = None;
    let mut rounds = 31;
    let mut budget = Duration::from_secs(10);
    let mut each = false;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--bench" => {}
            "--each" => each = true,
            "--seconds" => {
                let value = args.next().ok_or("--seconds needs a number")?;
                budget = value
                    .parse()
                    .ok()
                    .and_then(|s| Duration::try_from_secs_f64(s).ok())
                    .ok_or(format!("--seconds wants a number of seconds, not {value:?}"))?;
            }
            "--rounds" => {
                let value = args.next().ok_or("--rounds needs a number")?;
                rounds =
                    value.parse().ok().filter(|&n| n >= 1).ok_or(format!(
                        "--rounds wants a whole number of at least 1, not {value:?}"
                    ))?;
            }
            flag if flag.starts_with('-') => return Err(format!("unknown option {flag:?}")),
            name if filter.is_none() => filter = Some(name.to_owned()),
            name => return Err(format!("one filter only (got a second: {name:?})")),
        }
    }
    Ok(Options { filter: filter.unwrap_or_default(), rounds, budget, each })
}

/// Alternated runs of threadkit and one peer.
struct Pair {
    ours: Vec<Duration>,
    theirs: Vec<Duration>,
}

impl Pair {
    /// Rounds of one run each, the order swapped every round, until
    /// `options.rounds` or, past `MIN_ROUNDS`, `options.budget`. Adds a
    /// cross-core round trip per round to `trips`.
    fn measure(
        case: &queues::Case,
        ours: &str,
        peer: &str,
        options: &Options,
        trips: &mut Vec<Duration>,
    ) -> Pair {
        let mut pair = Pair { ours: Vec::new(), theirs: Vec::new() };
        let started = Instant::now();
        for round in 0..options.rounds {
            if round >= MIN_ROUNDS && started.elapsed() > options.budget {
                break;
            }
            let trip = cross_core_round_trip();
            trips.extend(trip);
            if round % 2 == 0 {
                pair.ours.push(case.run(ours));
                pair.theirs.push(case.run(peer));
            } else {
                pair.theirs.push(case.run(peer));
                pair.ours.push(case.run(ours));
            }
            if options.each {
                let rtt = trip.map_or("n/a".to_owned(), |d| format!("{} ns", d.as_nanos()));
                println!(
                    "  {} round {round}: {ours} {} · {peer} {} · RTT {rtt}",
                    case.name(),
                    ms(pair.ours[round]),
                    ms(pair.theirs[round])
                );
            }
        }
        pair
    }

    /// The peer's median time, and the median, range and count below 1 of
    /// its per-round ratios to threadkit.
    fn summary(&self, peer: &str) -> String {
        let ratios: Vec<f64> = (self.theirs.iter().zip(&self.ours))
            .map(|(t, o)| t.as_secs_f64() / o.as_secs_f64())
            .collect();
        let below = ratios.iter().filter(|&&r| r < 1.0).count();
        let (lo, hi) = min_max(&ratios);
        format!(
            "{peer} {} ({:.2}x; {lo:.2}-{hi:.2}, {below}/{} below 1)",
            ms(median(self.theirs.clone())),
            median(ratios.clone()),
            ratios.len()
        )
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// The middle value (the upper middle of an even count).
fn median<T: PartialOrd>(mut values: Vec<T>) -> T {
    values.sort_by(|a, b| a.partial_cmp(b).expect("no NaN among times and ratios"));
    values.swap_remove(values.len() / 2)
}

fn min_max(values: &[f64]) -> (f64, f64) {
    values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)))
}

/// The time for one cache line to go from one thread to another and back:
/// the fastest of five averages over a thousand trips each, with the two
/// threads left to the scheduler (on an otherwise idle machine of two or
/// more cores they run on different cores; the fastest batch is the one
/// they spent on different cores). `None` on a single-core machine.
fn cross_core_round_trip() -> Option<Duration> {
    const BATCH: u64 = 1_000;
    const BATCHES: u64 = 5;
    if std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
        return None;
    }
    let ball = AtomicU64::new(0);
    // Waits until `ball` holds `want`; yields now and then in case both
    // threads share a core.
    let wait_for = |want: u64| {
        let mut spins = 0u32;
        while ball.load(Ordering::Acquire) != want {
            spins += 1;
            if spins % 1024 == 0 {
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
    };
    std::thread::scope(|s| {
        s.spawn(|| {
            for i in 0..1 + BATCH * BATCHES {
                wait_for(2 * i + 1);
                ball.store(2 * i + 2, Ordering::Release);
            }
        });
        // Trip 0 lets the other thread start before the clock does.
        let mut trip = 0;
        let mut send = || {
            ball.store(2 * trip + 1, Ordering::Release);
            wait_for(2 * trip + 2);
            trip += 1;
        };
        send();
        (0..BATCHES)
            .map(|_| {
                let start = Instant::now();
                (0..BATCH).for_each(|_| send());
                start.elapsed() / BATCH as u32
            })
            .min()
    })
}
