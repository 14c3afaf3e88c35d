//! `acquire` of 2 and 4 locks against locking the same locks by hand in a
//! fixed order (the cost `acquire` adds: a thread-local record, a sort of
//! the keys and the order check). Uncontended, one thread: the overhead in
//! isolation. The locks are named in reverse key order, so the sort has
//! work to do.

use criterion::{BenchmarkId, Criterion, black_box, criterion_group, criterion_main};
use threadkit::{Lock, acquire};

fn two(c: &mut Criterion) {
    let mut group = c.benchmark_group("ordered/2");
    let a = Lock::new(0u64);
    let b = Lock::new(0u64);
    group.bench_function(BenchmarkId::new("manual", "lock a, lock b"), |bench| {
        bench.iter(|| {
            let mut ga = black_box(&a).lock();
            let mut gb = black_box(&b).lock();
            *ga += 1;
            *gb += 1;
        })
    });
    group.bench_function(BenchmarkId::new("acquire", "tuple (b, a)"), |bench| {
        bench.iter(|| {
            let mut g = acquire((black_box(&b), black_box(&a))).unwrap();
            *g.0 += 1;
            *g.1 += 1;
        })
    });
    group.bench_function(BenchmarkId::new("acquire", "array [b, a]"), |bench| {
        bench.iter(|| {
            let mut g = acquire([black_box(&b), black_box(&a)]).unwrap();
            *g[0] += 1;
            *g[1] += 1;
        })
    });
    group.finish();
}

fn four(c: &mut Criterion) {
    let mut group = c.benchmark_group("ordered/4");
    let l: Vec<Lock<u64>> = (0..4).map(|_| Lock::new(0)).collect();
    group.bench_function(BenchmarkId::new("manual", "lock 0..4"), |bench| {
        bench.iter(|| {
            let l = black_box(&l);
            let mut g0 = l[0].lock();
            let mut g1 = l[1].lock();
            let mut g2 = l[2].lock();
            let mut g3 = l[3].lock();
            *g0 += 1;
            *g1 += 1;
            *g2 += 1;
            *g3 += 1;
        })
    });
    group.bench_function(BenchmarkId::new("acquire", "tuple (3, 2, 1, 0)"), |bench| {
        bench.iter(|| {
            let l = black_box(&l);
            let mut g = acquire((&l[3], &l[2], &l[1], &l[0])).unwrap();
            *g.0 += 1;
            *g.1 += 1;
            *g.2 += 1;
            *g.3 += 1;
        })
    });
    group.bench_function(BenchmarkId::new("acquire", "array [3, 2, 1, 0]"), |bench| {
        bench.iter(|| {
            let l = black_box(&l);
            let mut g = acquire([&l[3], &l[2], &l[1], &l[0]]).unwrap();
            for guard in g.iter_mut() {
                **guard += 1;
            }
        })
    });
    group.bench_function(BenchmarkId::new("acquire", "slice [3, 2, 1, 0]"), |bench| {
        let l = &l;
        let set = [&l[3], &l[2], &l[1], &l[0]];
        bench.iter(|| {
            let mut g = acquire(black_box(&set[..])).unwrap();
            for guard in g.iter_mut() {
                **guard += 1;
            }
        })
    });
    group.finish();
}

criterion_group!(benches, two, four);
criterion_main!(benches);
