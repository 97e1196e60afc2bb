//! Shared set-up for the learned-index benchmarks: data sets, probe keys, answer checks and the
//! criterion configuration. Included by each `learned_*` bench with `#[path]`.

#![allow(dead_code)] // each bench uses a different subset

use criterion::Criterion;
use omendb_learned::datasets::{Distribution, Rng, sorted_keys};
use std::time::Duration;

/// Seed for every generated data set, so runs are comparable.
pub const SEED: u64 = 42;
/// Number of probe keys cycled through by the point-lookup benches (8 MiB: streamed, not cached).
pub const PROBES: usize = 1 << 20;
/// Keys scanned per range-scan call.
pub const RANGE_LEN: usize = 100;
/// Keys held back from the load and inserted during the insert and mixed benches.
pub const INSERT_POOL: usize = 2_000_000;

/// Sizes named on the command line environment (`LEARNED_SIZES=1000000,10000000`), or `default`.
pub fn sizes(default: &[usize]) -> Vec<usize> {
    std::env::var("LEARNED_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| default.to_vec())
}

/// Distributions named in `LEARNED_DISTS` (by [`Distribution::name`]), or `default`.
pub fn distributions(default: &[Distribution]) -> Vec<Distribution> {
    std::env::var("LEARNED_DISTS")
        .ok()
        .map(|s| {
            Distribution::ALL
                .into_iter()
                .filter(|d| s.split(',').any(|n| n.trim() == d.name()))
                .collect()
        })
        .unwrap_or_else(|| default.to_vec())
}

/// Human size label: 1M, 10M, 50M.
pub fn label(n: usize) -> String {
    if n.is_multiple_of(1_000_000) {
        format!("{}M", n / 1_000_000)
    } else {
        n.to_string()
    }
}

/// `n` sorted distinct keys.
pub fn keys(d: Distribution, n: usize) -> Vec<u64> {
    sorted_keys(d, n, SEED)
}

/// Random present keys to look up.
pub fn probes(keys: &[u64], count: usize, seed: u64) -> Vec<u64> {
    let mut rng = Rng::new(seed);
    (0..count)
        .map(|_| keys[rng.below(keys.len() as u64) as usize])
        .collect()
}

/// Split `all` into a sorted base to load and a shuffled pool of `pool` keys to insert.
pub fn split_pool(all: &[u64], pool: usize, seed: u64) -> (Vec<u64>, Vec<u64>) {
    let mut rng = Rng::new(seed);
    let every = (all.len() / pool.max(1)).max(2) as u64;
    let mut base = Vec::with_capacity(all.len());
    let mut held = Vec::with_capacity(pool);
    for &k in all {
        if held.len() < pool && rng.below(every) == 0 {
            held.push(k);
        } else {
            base.push(k);
        }
    }
    rng.shuffle(&mut held);
    (base, held)
}

/// Criterion settings: short runs, fewer samples for the big sets (2 shared cores).
pub fn criterion_for(n: usize) -> Criterion {
    const BIG: usize = 20_000_000;
    let (samples, measure) = if n >= BIG { (10, 5) } else { (20, 3) };
    Criterion::default()
        .sample_size(samples)
        .measurement_time(Duration::from_secs(measure))
        .warm_up_time(Duration::from_secs(1))
        .without_plots()
}
