//! Static learned index (PGM-style) against binary search over the sorted array, `BTreeMap` and
//! `hashbrown` (point lookups only): lookup, range scan of 100 keys, build time.
//!
//! `cargo bench -p omendb-bench --bench learned_static` (sizes and distributions can be narrowed
//! with `LEARNED_SIZES` and `LEARNED_DISTS`, see `learned_common`).

#![allow(clippy::expect_used)] // a benchmark over generated data may panic on a broken invariant

#[path = "learned_common/mod.rs"]
mod common;

use common::*;
use criterion::{BenchmarkId, Criterion};
use omendb_learned::datasets::Distribution;
use omendb_learned::index::PgmIndex;
use omendb_learned::index::search::lower_bound;
use std::collections::BTreeMap;
use std::hint::black_box;

fn check_answers(keys: &[u64], pgm: &PgmIndex, btree: &BTreeMap<u64, u64>, probes: &[u64]) {
    for &x in probes.iter().take(100_000) {
        let want = keys.partition_point(|&k| k < x);
        assert_eq!(pgm.lower_bound(keys, x), want, "pgm lower_bound({x})");
        assert_eq!(btree.get(&x), Some(&(want as u64)));
        let absent = x.wrapping_add(1);
        assert_eq!(
            pgm.lower_bound(keys, absent),
            keys.partition_point(|&k| k < absent)
        );
    }
}

fn lookup_and_range(c: &mut Criterion, d: Distribution, n: usize) {
    let keys = keys(d, n);
    let pgm = PgmIndex::build(&keys).expect("sorted keys");
    let btree: BTreeMap<u64, u64> = keys
        .iter()
        .enumerate()
        .map(|(i, &k)| (k, i as u64))
        .collect();
    let hash: hashbrown::HashMap<u64, u64> = keys
        .iter()
        .enumerate()
        .map(|(i, &k)| (k, i as u64))
        .collect();
    let probes = probes(&keys, PROBES, SEED + 1);
    check_answers(&keys, &pgm, &btree, &probes);
    let mask = PROBES - 1;
    let id = format!("{}/{}", d.name(), label(n));

    let mut g = c.benchmark_group("static_lookup");
    g.bench_function(BenchmarkId::new("pgm", &id), |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) & mask;
            black_box(pgm.lower_bound(&keys, probes[i]))
        })
    });
    g.bench_function(BenchmarkId::new("binary_search", &id), |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) & mask;
            black_box(keys.binary_search(&probes[i]).unwrap_or_else(|e| e))
        })
    });
    g.bench_function(BenchmarkId::new("branchless_binary_search", &id), |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) & mask;
            black_box(lower_bound(&keys, probes[i], &mut ()))
        })
    });
    g.bench_function(BenchmarkId::new("btreemap", &id), |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) & mask;
            black_box(btree.get(&probes[i]).copied())
        })
    });
    g.bench_function(BenchmarkId::new("hashbrown", &id), |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) & mask;
            black_box(hash.get(&probes[i]).copied())
        })
    });
    g.finish();
    drop(hash);

    let mut g = c.benchmark_group("static_range100");
    g.bench_function(BenchmarkId::new("pgm", &id), |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) & mask;
            let lo = pgm.lower_bound(&keys, probes[i]);
            black_box(
                keys[lo..(lo + RANGE_LEN).min(n)]
                    .iter()
                    .fold(0u64, |a, &k| a ^ k),
            )
        })
    });
    g.bench_function(BenchmarkId::new("binary_search", &id), |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) & mask;
            let lo = keys.binary_search(&probes[i]).unwrap_or_else(|e| e);
            black_box(
                keys[lo..(lo + RANGE_LEN).min(n)]
                    .iter()
                    .fold(0u64, |a, &k| a ^ k),
            )
        })
    });
    g.bench_function(BenchmarkId::new("btreemap", &id), |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) & mask;
            black_box(
                btree
                    .range(probes[i]..)
                    .take(RANGE_LEN)
                    .fold(0u64, |a, (&k, _)| a ^ k),
            )
        })
    });
    g.finish();
}

fn build(c: &mut Criterion, d: Distribution, n: usize) {
    let keys = keys(d, n);
    let id = format!("{}/{}", d.name(), label(n));
    let mut g = c.benchmark_group("static_build");
    g.bench_function(BenchmarkId::new("pgm", &id), |b| {
        b.iter(|| black_box(PgmIndex::build(&keys).expect("sorted").segments()))
    });
    g.bench_function(BenchmarkId::new("btreemap", &id), |b| {
        b.iter(|| {
            let m: BTreeMap<u64, u64> = keys.iter().map(|&k| (k, k)).collect();
            black_box(m.len())
        })
    });
    g.bench_function(BenchmarkId::new("hashbrown", &id), |b| {
        b.iter(|| {
            let m: hashbrown::HashMap<u64, u64> = keys.iter().map(|&k| (k, k)).collect();
            black_box(m.len())
        })
    });
    g.finish();
}

fn main() {
    let dists = distributions(&[Distribution::Uniform, Distribution::Lognormal]);
    for n in sizes(&[1_000_000, 10_000_000, 50_000_000]) {
        let mut c = criterion_for(n).configure_from_args();
        for &d in &dists {
            lookup_and_range(&mut c, d, n);
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
