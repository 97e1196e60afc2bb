//! Updatable learned index against `BTreeMap` (and `hashbrown` for point lookups): lookup,
//! insert, a 50/50 read-insert mix, range scan of 100 keys, bulk-load time.
//!
//! `cargo bench -p omendb-bench --bench learned_updatable` (narrow with `LEARNED_SIZES` and
//! `LEARNED_DISTS`). Inserts come from a held-back pool of keys and are removed again, untimed,
//! after each sample, so every sample sees the same index size.

#![allow(clippy::expect_used)] // a benchmark over generated data may panic on a broken invariant

#[path = "learned_common/mod.rs"]
mod common;

use common::*;
use criterion::{BenchmarkId, Criterion};
use omendb_learned::datasets::Distribution;
use omendb_learned::index::{KeyMap, LearnedMap};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::ops::Bound;
use std::time::{Duration, Instant};

/// The operations the benches need from each contender.
trait Contender {
    fn get(&self, k: u64) -> Option<u64>;
    fn insert(&mut self, k: u64, v: u64);
    fn remove(&mut self, k: u64);
    fn range100(&self, k: u64) -> u64;
}

impl Contender for LearnedMap<u64, u64> {
    #[inline]
    fn get(&self, k: u64) -> Option<u64> {
        KeyMap::get(self, k)
    }
    #[inline]
    fn insert(&mut self, k: u64, v: u64) {
        KeyMap::insert(self, k, v).expect("pool keys are new");
    }
    #[inline]
    fn remove(&mut self, k: u64) {
        KeyMap::remove(self, k);
    }
    #[inline]
    fn range100(&self, k: u64) -> u64 {
        let (mut acc, mut left) = (0u64, RANGE_LEN);
        self.range(Bound::Included(k), Bound::Unbounded, |k, _| {
            acc ^= k;
            left -= 1;
            left > 0
        });
        acc
    }
}

impl Contender for BTreeMap<u64, u64> {
    #[inline]
    fn get(&self, k: u64) -> Option<u64> {
        BTreeMap::get(self, &k).copied()
    }
    #[inline]
    fn insert(&mut self, k: u64, v: u64) {
        let old = BTreeMap::insert(self, k, v);
        debug_assert!(old.is_none());
    }
    #[inline]
    fn remove(&mut self, k: u64) {
        BTreeMap::remove(self, &k);
    }
    #[inline]
    fn range100(&self, k: u64) -> u64 {
        self.range(k..).take(RANGE_LEN).fold(0, |a, (&k, _)| a ^ k)
    }
}

/// Time `iters` inserts from the pool, then remove them untimed.
fn timed_inserts<C: Contender>(
    c: &mut C,
    pool: &[u64],
    cursor: &mut usize,
    iters: u64,
) -> Duration {
    let batch = (iters as usize).min(pool.len());
    let start_at = *cursor % pool.len();
    let keys: Vec<u64> = pool
        .iter()
        .cycle()
        .skip(start_at)
        .take(batch)
        .copied()
        .collect();
    let start = Instant::now();
    for &k in &keys {
        c.insert(k, k);
    }
    let elapsed = start.elapsed();
    for &k in &keys {
        c.remove(k);
    }
    *cursor += batch;
    // Scale if criterion asked for more iterations than the pool holds.
    elapsed.mul_f64(iters as f64 / batch as f64)
}

/// Time `iters` operations alternating a lookup and an insert, then remove the inserts untimed.
fn timed_mixed<C: Contender>(
    c: &mut C,
    pool: &[u64],
    probes: &[u64],
    cursor: &mut usize,
    iters: u64,
) -> Duration {
    let inserts = (iters as usize / 2).min(pool.len()).max(1);
    let start_at = *cursor % pool.len();
    let keys: Vec<u64> = pool
        .iter()
        .cycle()
        .skip(start_at)
        .take(inserts)
        .copied()
        .collect();
    let mask = probes.len() - 1;
    let start = Instant::now();
    let mut found = 0u64;
    for (i, &k) in keys.iter().enumerate() {
        found += u64::from(c.get(probes[(start_at + i) & mask]).is_some());
        c.insert(k, k);
    }
    let elapsed = start.elapsed();
    black_box(found);
    for &k in &keys {
        c.remove(k);
    }
    *cursor += inserts;
    elapsed.mul_f64(iters as f64 / (2 * inserts) as f64)
}

fn bench_contender<C: Contender>(
    c: &mut Criterion,
    name: &str,
    id: &str,
    map: &mut C,
    pool: &[u64],
    probes: &[u64],
) {
    let mask = probes.len() - 1;
    c.benchmark_group("updatable_lookup")
        .bench_function(BenchmarkId::new(name, id), |b| {
            let mut i = 0;
            b.iter(|| {
                i = (i + 1) & mask;
                black_box(map.get(probes[i]))
            })
        });
    let mut cursor = 0usize;
    c.benchmark_group("updatable_insert")
        .bench_function(BenchmarkId::new(name, id), |b| {
            b.iter_custom(|iters| timed_inserts(map, pool, &mut cursor, iters))
        });
    c.benchmark_group("updatable_mixed_50_50")
        .bench_function(BenchmarkId::new(name, id), |b| {
            b.iter_custom(|iters| timed_mixed(map, pool, probes, &mut cursor, iters))
        });
    c.benchmark_group("updatable_range100")
        .bench_function(BenchmarkId::new(name, id), |b| {
            let mut i = 0;
            b.iter(|| {
                i = (i + 1) & mask;
                black_box(map.range100(probes[i]))
            })
        });
}

fn run_case(c: &mut Criterion, d: Distribution, n: usize) {
    let all = keys(d, n + INSERT_POOL);
    let (base, pool) = split_pool(&all, INSERT_POOL, SEED + 2);
    drop(all);
    let probes = probes(&base, PROBES, SEED + 3);
    let id = format!("{}/{}", d.name(), label(n));

    let mut learned = LearnedMap::<u64, u64>::bulk_load(&base, &base).expect("sorted base");
    let mut btree: BTreeMap<u64, u64> = base.iter().map(|&k| (k, k)).collect();
    for &x in probes.iter().take(100_000) {
        assert_eq!(Contender::get(&learned, x), Some(x));
        assert_eq!(learned.range100(x), btree.range100(x));
    }
    bench_contender(c, "learned", &id, &mut learned, &pool, &probes);
    assert_eq!(learned.len(), base.len(), "inserts were not undone");
    drop(learned);
    bench_contender(c, "btreemap", &id, &mut btree, &pool, &probes);
    drop(btree);

    let hash: hashbrown::HashMap<u64, u64> = base.iter().map(|&k| (k, k)).collect();
    let mask = probes.len() - 1;
    c.benchmark_group("updatable_lookup")
        .bench_function(BenchmarkId::new("hashbrown", &id), |b| {
            let mut i = 0;
            b.iter(|| {
                i = (i + 1) & mask;
                black_box(hash.get(&probes[i]).copied())
            })
        });
}

fn build(c: &mut Criterion, d: Distribution, n: usize) {
    let keys = keys(d, n);
    let id = format!("{}/{}", d.name(), label(n));
    let mut g = c.benchmark_group("updatable_build");
    g.bench_function(BenchmarkId::new("learned_bulk_load", &id), |b| {
        b.iter(|| {
            black_box(
                LearnedMap::<u64, u64>::bulk_load(&keys, &keys)
                    .expect("sorted")
                    .len(),
            )
        })
    });
    g.bench_function(BenchmarkId::new("btreemap_from_sorted", &id), |b| {
        b.iter(|| {
            let m: BTreeMap<u64, u64> = keys.iter().map(|&k| (k, k)).collect();
            black_box(m.len())
        })
    });
    g.finish();
}

fn main() {
    let dists = distributions(&[Distribution::Uniform, Distribution::Lognormal]);
    for n in sizes(&[10_000_000, 50_000_000]) {
        let mut c = criterion_for(n).configure_from_args();
        for &d in &dists {
            run_case(&mut c, d, n);
        }
        c.final_summary();
    }
    if std::env::var("LEARNED_BUILD").is_ok_and(|v| v != "0")
        || std::env::var("LEARNED_SIZES").is_err()
    {
        const BUILD_N: usize = 10_000_000;
        let mut c = criterion_for(usize::MAX).configure_from_args();
        for &d in &dists {
            build(&mut c, d, BUILD_N);
        }
        c.final_summary();
    }
}
