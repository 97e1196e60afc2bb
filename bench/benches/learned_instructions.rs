//! Instruction counts (gungraun / callgrind) for 1000 point lookups, 1000 inserts and 100 range
//! scans of 100 keys over 1M lognormal keys: the learned indexes beside `BTreeMap`, binary search
//! over the sorted array and `hashbrown`. Counts are deterministic, so they show algorithmic work
//! independent of the noisy shared machine; caches are not modelled, so they understate what a
//! cache miss costs the pointer-chasing structures.
//!
//! Each bench forgets its structure instead of dropping it, so the counts are the operations'
//! alone, not the teardown of a million-key map.
//!
//! `cargo bench -p omendb-bench --bench learned_instructions` (needs valgrind and
//! `gungraun-runner` 0.20: `cargo install gungraun-runner --version 0.20.0`).

#![allow(clippy::expect_used)] // a benchmark over generated data may panic on a broken invariant

use gungraun::prelude::*;
use omendb_learned::datasets::{Distribution, Rng, sorted_keys};
use omendb_learned::index::{KeyMap, LearnedMap, PgmIndex};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::ops::Bound;

const N: usize = 1_000_000;
const OPS: usize = 1000;
const RANGE_OPS: usize = 100;
const RANGE_LEN: usize = 100;

struct Data {
    keys: Vec<u64>,
    probes: Vec<u64>,
    fresh: Vec<u64>,
}

fn data() -> Data {
    let all = sorted_keys(Distribution::Lognormal, N + OPS, 42);
    let mut rng = Rng::new(7);
    let step = all.len() / OPS;
    let fresh: Vec<u64> = (0..OPS).map(|i| all[i * step]).collect();
    let keys: Vec<u64> = all
        .iter()
        .copied()
        .filter(|k| fresh.binary_search(k).is_err())
        .collect();
    let probes = (0..OPS)
        .map(|_| keys[rng.below(keys.len() as u64) as usize])
        .collect();
    let mut fresh = fresh;
    rng.shuffle(&mut fresh);
    Data {
        keys,
        probes,
        fresh,
    }
}

fn setup_pgm() -> (Data, PgmIndex) {
    let d = data();
    let idx = PgmIndex::build(&d.keys).expect("sorted");
    (d, idx)
}
fn setup_btree() -> (Data, BTreeMap<u64, u64>) {
    let d = data();
    let m = d.keys.iter().map(|&k| (k, k)).collect();
    (d, m)
}
fn setup_hash() -> (Data, hashbrown::HashMap<u64, u64>) {
    let d = data();
    let m = d.keys.iter().map(|&k| (k, k)).collect();
    (d, m)
}
fn setup_learned() -> (Data, LearnedMap<u64, u64>) {
    let d = data();
    let m = LearnedMap::bulk_load(&d.keys, &d.keys).expect("sorted");
    (d, m)
}

#[library_benchmark]
#[bench::lookup(setup = setup_pgm)]
fn static_pgm_lookup((d, idx): (Data, PgmIndex)) -> usize {
    let sum = d
        .probes
        .iter()
        .map(|&x| idx.lower_bound(&d.keys, black_box(x)))
        .sum();
    std::mem::forget((d, idx));
    sum
}

#[library_benchmark]
#[bench::lookup(setup = data)]
fn sorted_vec_binary_search(d: Data) -> usize {
    let sum = d
        .probes
        .iter()
        .map(|&x| d.keys.binary_search(&black_box(x)).unwrap_or_else(|e| e))
        .sum();
    std::mem::forget(d);
    sum
}

#[library_benchmark]
#[bench::lookup(setup = setup_btree)]
fn btreemap_lookup((d, m): (Data, BTreeMap<u64, u64>)) -> u64 {
    let sum = d
        .probes
        .iter()
        .filter_map(|&x| m.get(&black_box(x)).copied())
        .sum();
    std::mem::forget((d, m));
    sum
}

#[library_benchmark]
#[bench::lookup(setup = setup_hash)]
fn hashbrown_lookup((d, m): (Data, hashbrown::HashMap<u64, u64>)) -> u64 {
    let sum = d
        .probes
        .iter()
        .filter_map(|&x| m.get(&black_box(x)).copied())
        .sum();
    std::mem::forget((d, m));
    sum
}

#[library_benchmark]
#[bench::lookup(setup = setup_learned)]
fn learned_map_lookup((d, m): (Data, LearnedMap<u64, u64>)) -> u64 {
    let sum = d.probes.iter().filter_map(|&x| m.get(black_box(x))).sum();
    std::mem::forget((d, m));
    sum
}

#[library_benchmark]
#[bench::insert(setup = setup_learned)]
fn learned_map_insert((d, mut m): (Data, LearnedMap<u64, u64>)) -> usize {
    for &k in &d.fresh {
        m.insert(black_box(k), k).expect("fresh key");
    }
    let len = m.len();
    std::mem::forget((d, m));
    len
}

#[library_benchmark]
#[bench::insert(setup = setup_btree)]
fn btreemap_insert((d, mut m): (Data, BTreeMap<u64, u64>)) -> usize {
    for &k in &d.fresh {
        m.insert(black_box(k), k);
    }
    let len = m.len();
    std::mem::forget((d, m));
    len
}

#[library_benchmark]
#[bench::range100(setup = setup_learned)]
fn learned_map_range100((d, m): (Data, LearnedMap<u64, u64>)) -> u64 {
    let mut acc = 0;
    for &x in &d.probes[..RANGE_OPS] {
        let mut left = RANGE_LEN;
        m.range(Bound::Included(black_box(x)), Bound::Unbounded, |k, _| {
            acc ^= k;
            left -= 1;
            left > 0
        });
    }
    std::mem::forget((d, m));
    acc
}

#[library_benchmark]
#[bench::range100(setup = setup_btree)]
fn btreemap_range100((d, m): (Data, BTreeMap<u64, u64>)) -> u64 {
    let acc = d.probes[..RANGE_OPS]
        .iter()
        .map(|&x| {
            m.range(black_box(x)..)
                .take(RANGE_LEN)
                .fold(0, |a, (&k, _)| a ^ k)
        })
        .fold(0, |a, b| a ^ b);
    std::mem::forget((d, m));
    acc
}

library_benchmark_group!(
    name = point_lookups,
    benchmarks = [
        static_pgm_lookup,
        sorted_vec_binary_search,
        btreemap_lookup,
        hashbrown_lookup,
        learned_map_lookup
    ]
);
library_benchmark_group!(
    name = writes_and_scans,
    benchmarks = [
        learned_map_insert,
        btreemap_insert,
        learned_map_range100,
        btreemap_range100
    ]
);

main!(library_benchmark_groups = point_lookups, writes_and_scans);
