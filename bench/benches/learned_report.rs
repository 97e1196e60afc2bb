//! Figures criterion cannot give: bytes per key of every structure (measured with a counting
//! allocator), the static index's shape, and the adversarial-insert robustness figure (worst and
//! mean key comparisons per lookup against the documented bound, and timings).
//!
//! `cargo bench -p omendb-bench --bench learned_report` prints markdown tables.

#![allow(clippy::expect_used)] // a benchmark over generated data may panic on a broken invariant

#[path = "learned_common/mod.rs"]
mod common;

use common::*;
use omendb_learned::datasets::{Distribution, adversarial_inserts, shuffled};
use omendb_learned::index::search::ProbeCount;
use omendb_learned::index::{KeyMap, LearnedMap, PgmIndex};
use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// Counts live heap bytes, so structure sizes are measured rather than estimated.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to `System` unchanged; the counter does not affect allocation.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Heap bytes `make` leaves allocated in what it returns.
fn measured<T>(make: impl FnOnce() -> T) -> (T, usize) {
    let before = LIVE.load(Ordering::Relaxed);
    let value = make();
    (value, LIVE.load(Ordering::Relaxed).saturating_sub(before))
}

fn per_key(bytes: usize, n: usize) -> f64 {
    bytes as f64 / n as f64
}

fn memory_table(dists: &[Distribution], n: usize) {
    println!(
        "\n### Bytes per key, {} keys (u64 keys, u64 values)\n",
        label(n)
    );
    println!(
        "| distribution | PGM index only | PGM segments | PGM height | BTreeMap | BTreeMap / PGM | sorted Vec<(u64,u64)> | LearnedMap (keys+values) | hashbrown |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for &d in dists {
        let keys = keys(d, n);
        let (pgm, pgm_bytes) = measured(|| PgmIndex::build(&keys).expect("sorted"));
        let (btree, btree_bytes) =
            measured(|| keys.iter().map(|&k| (k, k)).collect::<BTreeMap<u64, u64>>());
        drop(btree);
        let (learned, learned_bytes) =
            measured(|| LearnedMap::<u64, u64>::bulk_load(&keys, &keys).expect("sorted"));
        drop(learned);
        let (hash, hash_bytes) = measured(|| {
            keys.iter()
                .map(|&k| (k, k))
                .collect::<hashbrown::HashMap<u64, u64>>()
        });
        drop(hash);
        println!(
            "| {} | {:.3} | {} | {} | {:.1} | {:.0}x | 16.0 | {:.1} | {:.1} |",
            d.name(),
            per_key(pgm_bytes, n),
            pgm.segments(),
            pgm.height(),
            per_key(btree_bytes, n),
            btree_bytes as f64 / pgm_bytes.max(1) as f64,
            per_key(learned_bytes, n),
            per_key(hash_bytes, n),
        );
    }
}

/// Mean nanoseconds per call of `f` over `keys`.
fn ns_per<T>(keys: &[u64], mut f: impl FnMut(u64) -> T) -> f64 {
    let start = Instant::now();
    for &k in keys {
        black_box(f(k));
    }
    start.elapsed().as_nanos() as f64 / keys.len() as f64
}

fn adversarial(n: usize, inserts: usize) {
    let base = keys(Distribution::Uniform, n);
    let poison = adversarial_inserts(&base, inserts, SEED + 5);
    let random = {
        let extra = keys(Distribution::Uniform, n + inserts);
        let mut fresh: Vec<u64> = extra
            .into_iter()
            .filter(|k| base.binary_search(k).is_err())
            .collect();
        fresh.truncate(inserts);
        shuffled(&fresh, SEED + 6)
    };
    println!(
        "\n### Adversarial inserts: {} uniform keys bulk-loaded, then {} inserts\n",
        label(n),
        label(inserts)
    );
    println!(
        "| insert pattern | structure | ns/insert | ns/lookup (inserted keys) | ns/lookup (base keys) | mean comparisons | p99 | worst | documented bound | nodes |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for (pattern, ins) in [("random", &random), ("adversarial", &poison)] {
        let mut learned = LearnedMap::<u64, u64>::bulk_load(&base, &base).expect("sorted");
        let insert_ns = ns_per(ins, |k| {
            KeyMap::insert(&mut learned, k, k).expect("new key")
        });
        let probe_base = probes(&base, 1_000_000, SEED + 7);
        let probe_ins: Vec<u64> = shuffled(ins, SEED + 8);
        let get_ins = ns_per(&probe_ins, |k| KeyMap::get(&learned, k));
        let get_base = ns_per(&probe_base, |k| KeyMap::get(&learned, k));
        let mut counts: Vec<u32> = probe_ins
            .iter()
            .chain(&probe_base)
            .map(|&k| {
                let mut p = ProbeCount::default();
                assert_eq!(learned.get_probed(k, &mut p), Some(k));
                p.0
            })
            .collect();
        counts.sort_unstable();
        let mean = counts.iter().map(|&c| f64::from(c)).sum::<f64>() / counts.len() as f64;
        let p99 = counts[counts.len() * 99 / 100];
        let worst = counts.last().copied().unwrap_or(0);
        let bound = learned.worst_case_comparisons();
        assert!(worst <= bound, "bound violated: {worst} > {bound}");
        println!(
            "| {pattern} | LearnedMap | {insert_ns:.0} | {get_ins:.0} | {get_base:.0} | {mean:.1} | {p99} | {worst} | {bound} | {} |",
            learned.node_count()
        );
        drop(learned);
        let mut btree: BTreeMap<u64, u64> = base.iter().map(|&k| (k, k)).collect();
        let insert_ns = ns_per(ins, |k| btree.insert(k, k));
        let get_ins = ns_per(&probe_ins, |k| btree.get(&k).copied());
        let get_base = ns_per(&probe_base, |k| btree.get(&k).copied());
        println!(
            "| {pattern} | BTreeMap | {insert_ns:.0} | {get_ins:.0} | {get_base:.0} | – | – | – | – | – |"
        );
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let dists = distributions(&Distribution::ALL);
    for n in sizes(&[10_000_000]) {
        memory_table(&dists, n);
    }
    const ADV_BASE: usize = 10_000_000;
    const ADV_INSERTS: usize = 1_000_000;
    adversarial(ADV_BASE, ADV_INSERTS);
}
