//! Property tests: random operation sequences on every learned index and key type, checked step
//! by step against `std::collections::BTreeMap`.

#![allow(clippy::unwrap_used)] // tests may unwrap (HELPERS.md)

use omendb_learned::index::{
    BTreeIndex, DuplicateKey, IndexKey, KeyMap, LearnedIndex, LearnedMap, OrderedIndex, PgmIndex,
    StaticLearnedIndex, StaticMap,
};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::ops::Bound;

#[derive(Debug, Clone)]
enum Op<K> {
    Insert(K, u32),
    Remove(K),
    Update(K, u32),
    Get(K),
    Range(Bound<K>, Bound<K>, usize),
}

fn bound<K: std::fmt::Debug + Clone>(
    k: impl Strategy<Value = K> + Clone,
) -> impl Strategy<Value = Bound<K>> {
    prop_oneof![
        Just(Bound::Unbounded),
        k.clone().prop_map(Bound::Included),
        k.prop_map(Bound::Excluded),
    ]
}

fn ops<K: std::fmt::Debug + Clone + 'static>(
    k: impl Strategy<Value = K> + Clone + 'static,
) -> impl Strategy<Value = Vec<Op<K>>> {
    let op = prop_oneof![
        4 => (k.clone(), any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
        2 => k.clone().prop_map(Op::Remove),
        1 => (k.clone(), any::<u32>()).prop_map(|(k, v)| Op::Update(k, v)),
        2 => k.clone().prop_map(Op::Get),
        1 => (bound(k.clone()), bound(k), 1usize..40).prop_map(|(l, h, n)| Op::Range(l, h, n)),
    ];
    proptest::collection::vec(op, 1..400)
}

/// Keys from a narrow band (collisions, duplicates, neighbours) and from the whole type.
fn u64_key() -> impl Strategy<Value = u64> + Clone {
    prop_oneof![0u64..300, any::<u64>(), (u64::MAX - 5)..=u64::MAX]
}

fn i64_key() -> impl Strategy<Value = i64> + Clone {
    prop_oneof![-150i64..150, any::<i64>(), Just(i64::MIN), Just(i64::MAX)]
}

/// Short strings over an alphabet rich in 0x00 and 0xff, so prefixes collide and padding matters.
fn byte_key() -> impl Strategy<Value = Vec<u8>> + Clone {
    proptest::collection::vec(
        prop_oneof![Just(0u8), Just(1), Just(b'a'), Just(0xff)],
        0..12,
    )
}

fn range_ok<K: Ord>(lo: &Bound<K>, hi: &Bound<K>) -> bool {
    match (lo, hi) {
        (Bound::Included(l), Bound::Included(h)) => l <= h,
        (Bound::Included(l) | Bound::Excluded(l), Bound::Included(h) | Bound::Excluded(h)) => l < h,
        _ => true,
    }
}

fn model_range<K: Ord + Clone>(
    m: &BTreeMap<K, u32>,
    lo: &Bound<K>,
    hi: &Bound<K>,
    n: usize,
) -> Vec<(K, u32)> {
    if !range_ok(lo, hi) {
        return Vec::new();
    }
    m.range((lo.clone(), hi.clone()))
        .take(n)
        .map(|(k, v)| (k.clone(), *v))
        .collect()
}

fn run_key_map<K: IndexKey, M: KeyMap<K, u32>>(mut map: M, initial: &[K], script: Vec<Op<K>>) {
    let mut model: BTreeMap<K, u32> = initial.iter().map(|&k| (k, k.to_u64() as u32)).collect();
    for op in script {
        match op {
            Op::Insert(k, v) => {
                let want = if model.contains_key(&k) {
                    Err(DuplicateKey)
                } else {
                    Ok(())
                };
                assert_eq!(map.insert(k, v), want, "insert {k:?}");
                model.entry(k).or_insert(v);
            }
            Op::Remove(k) => assert_eq!(map.remove(k), model.remove(&k), "remove {k:?}"),
            Op::Update(k, v) => {
                let want = model.get_mut(&k).map(|old| std::mem::replace(old, v));
                assert_eq!(map.update(k, v), want, "update {k:?}");
            }
            Op::Get(k) => assert_eq!(map.get(k), model.get(&k).copied(), "get {k:?}"),
            Op::Range(lo, hi, n) => {
                let mut got = Vec::new();
                map.range(lo, hi, |k, v| {
                    got.push((k, v));
                    got.len() < n
                });
                assert_eq!(
                    got,
                    model_range(&model, &lo, &hi, n),
                    "range {lo:?}..{hi:?}"
                );
            }
        }
        assert_eq!(map.len(), model.len());
    }
    for (&k, &v) in &model {
        assert_eq!(map.get(k), Some(v));
    }
}

fn run_ordered(mut index: Box<dyn OrderedIndex<u32>>, script: Vec<Op<Vec<u8>>>) {
    let mut model: BTreeMap<Vec<u8>, u32> = BTreeMap::new();
    for op in script {
        match op {
            Op::Insert(k, v) => {
                let want = if model.contains_key(&k) {
                    Err(DuplicateKey)
                } else {
                    Ok(())
                };
                assert_eq!(index.insert(&k, v), want, "insert {k:?}");
                model.entry(k).or_insert(v);
            }
            Op::Remove(k) => assert_eq!(index.remove(&k), model.remove(&k), "remove {k:?}"),
            Op::Update(k, v) => {
                let want = model.get_mut(&k).map(|old| std::mem::replace(old, v));
                assert_eq!(index.update(&k, v), want, "update {k:?}");
            }
            Op::Get(k) => assert_eq!(index.get(&k), model.get(&k).copied(), "get {k:?}"),
            Op::Range(lo, hi, n) => {
                let mut got = Vec::new();
                index.range(
                    lo.as_ref().map(|k| &k[..]),
                    hi.as_ref().map(|k| &k[..]),
                    &mut |k, v| {
                        got.push((k.to_vec(), v));
                        got.len() < n
                    },
                );
                assert_eq!(
                    got,
                    model_range(&model, &lo, &hi, n),
                    "range {lo:?}..{hi:?}"
                );
            }
        }
        assert_eq!(index.len(), model.len());
    }
}

fn sorted_distinct<K: Ord + Copy>(mut v: Vec<K>) -> Vec<K> {
    v.sort_unstable();
    v.dedup();
    v
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn learned_map_u64(initial in proptest::collection::vec(u64_key(), 0..3000), script in ops(u64_key())) {
        let initial = sorted_distinct(initial);
        let vals: Vec<u32> = initial.iter().map(|&k| k as u32).collect();
        run_key_map(LearnedMap::<u64, u32>::bulk_load(&initial, &vals).unwrap(), &initial, script);
    }

    #[test]
    fn learned_map_i64(initial in proptest::collection::vec(i64_key(), 0..3000), script in ops(i64_key())) {
        let initial = sorted_distinct(initial);
        let vals: Vec<u32> = initial.iter().map(|&k| k.to_u64() as u32).collect();
        run_key_map(LearnedMap::<i64, u32>::bulk_load(&initial, &vals).unwrap(), &initial, script);
    }

    #[test]
    fn static_map_u64(initial in proptest::collection::vec(u64_key(), 0..3000), script in ops(u64_key())) {
        let initial = sorted_distinct(initial);
        let vals: Vec<u32> = initial.iter().map(|&k| k as u32).collect();
        run_key_map(StaticMap::<u64, u32>::from_sorted(&initial, &vals).unwrap(), &initial, script);
    }

    #[test]
    fn static_map_i64(initial in proptest::collection::vec(i64_key(), 0..3000), script in ops(i64_key())) {
        let initial = sorted_distinct(initial);
        let vals: Vec<u32> = initial.iter().map(|&k| k.to_u64() as u32).collect();
        run_key_map(StaticMap::<i64, u32>::from_sorted(&initial, &vals).unwrap(), &initial, script);
    }

    #[test]
    fn learned_index_bytes(script in ops(byte_key())) {
        run_ordered(Box::new(LearnedIndex::<u32>::new()), script);
    }

    #[test]
    fn static_learned_index_bytes(script in ops(byte_key())) {
        run_ordered(Box::new(StaticLearnedIndex::<u32>::new()), script);
    }

    #[test]
    fn btree_baseline_bytes(script in ops(byte_key())) {
        run_ordered(Box::new(BTreeIndex::<u32>::default()), script);
    }

    #[test]
    fn pgm_lower_bound(
        keys in proptest::collection::vec(u64_key(), 0..5000),
        probes in proptest::collection::vec(u64_key(), 1..200),
        eps in 1usize..64,
        eps_rec in 1usize..8,
    ) {
        let mut keys = keys;
        keys.sort_unstable();
        let index = PgmIndex::with_epsilon(&keys, eps, eps_rec).unwrap();
        for x in probes.into_iter().chain(keys.iter().copied()) {
            prop_assert_eq!(index.lower_bound(&keys, x), keys.partition_point(|&k| k < x));
            let w = index.search(x);
            prop_assert!(w.hi - w.lo <= 2 * eps + 1);
        }
    }
}

/// Many inserts into one spot force expansions and splits under the property harness too.
#[test]
fn learned_map_splits_under_sequential_pressure() {
    let script: Vec<Op<u64>> = (0..40_000u64)
        .map(|i| Op::Insert(i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 20, i as u32))
        .chain((0..2000u64).map(|i| Op::Remove(i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 20)))
        .chain([Op::Range(Bound::Unbounded, Bound::Unbounded, usize::MAX)])
        .collect();
    run_key_map(LearnedMap::<u64, u32>::new(), &[], script);
}
