use super::*;
use crate::datasets::{Distribution, adversarial_inserts, shuffled, sorted_keys};
use crate::index::search::ProbeCount;
use std::collections::BTreeMap;

fn check_against(map: &LearnedMap<u64, u64>, model: &BTreeMap<u64, u64>) {
    assert_eq!(map.len(), model.len());
    let mut got = Vec::new();
    map.range(Bound::Unbounded, Bound::Unbounded, |k, v| {
        got.push((k, v));
        true
    });
    let want: Vec<(u64, u64)> = model.iter().map(|(&k, &v)| (k, v)).collect();
    assert_eq!(got, want);
    for (&k, &v) in model {
        assert_eq!(map.get(k), Some(v), "key {k}");
    }
}

#[test]
fn random_inserts_then_deletes() {
    let keys = shuffled(&sorted_keys(Distribution::Lognormal, 60_000, 11), 12);
    let mut map = LearnedMap::<u64, u64>::new();
    let mut model = BTreeMap::new();
    for (i, &k) in keys.iter().enumerate() {
        map.insert(k, i as u64).unwrap();
        model.insert(k, i as u64);
    }
    assert!(map.node_count() > 1, "no split happened");
    check_against(&map, &model);
    assert_eq!(map.insert(keys[5], 0), Err(DuplicateKey));
    for &k in keys.iter().step_by(3) {
        assert_eq!(map.remove(k), model.remove(&k));
    }
    check_against(&map, &model);
    for &k in keys.iter().skip(1).step_by(3) {
        assert_eq!(map.update(k, 7), model.insert(k, 7));
    }
    check_against(&map, &model);
}

#[test]
fn ascending_and_descending_inserts() {
    for descending in [false, true] {
        let mut map = LearnedMap::<u64, u64>::new();
        let mut model = BTreeMap::new();
        let n = 40_000u64;
        for i in 0..n {
            let k = if descending { (n - i) * 3 } else { i * 3 };
            map.insert(k, i).unwrap();
            model.insert(k, i);
        }
        check_against(&map, &model);
    }
}

#[test]
fn bulk_load_every_distribution() {
    for d in Distribution::ALL {
        let keys = sorted_keys(d, 30_000, 5);
        let vals: Vec<u64> = (0..keys.len() as u64).collect();
        let map = LearnedMap::<u64, u64>::bulk_load(&keys, &vals).unwrap();
        let model: BTreeMap<u64, u64> = keys.iter().copied().zip(vals.iter().copied()).collect();
        check_against(&map, &model);
        assert_eq!(map.get(keys[0].wrapping_sub(1)), None);
    }
}

#[test]
fn bulk_load_rejects_bad_input() {
    assert_eq!(
        LearnedMap::<u64, u64>::bulk_load(&[1, 1], &[0, 0]).unwrap_err(),
        BulkLoadError::NotStrictlyAscending(1)
    );
    assert!(matches!(
        LearnedMap::<u64, u64>::bulk_load(&[1], &[]),
        Err(BulkLoadError::LengthMismatch { .. })
    ));
}

#[test]
fn adversarial_inserts_stay_within_the_bound() {
    let base = sorted_keys(Distribution::Uniform, 50_000, 21);
    let vals: Vec<u64> = (0..base.len() as u64).collect();
    let mut map = LearnedMap::<u64, u64>::bulk_load(&base, &vals).unwrap();
    let poison = adversarial_inserts(&base, 50_000, 22);
    for &k in &poison {
        map.insert(k, k).unwrap();
    }
    let bound = map.worst_case_comparisons();
    let mut worst = 0;
    for &k in base.iter().chain(&poison) {
        let mut probe = ProbeCount::default();
        assert!(map.get_probed(k, &mut probe).is_some());
        worst = worst.max(probe.0);
    }
    assert!(worst <= bound, "worst {worst} > bound {bound}");
}

#[test]
fn range_bounds_are_exact() {
    let keys: Vec<u64> = (0..5000u64).map(|i| i * 10).collect();
    let vals = keys.clone();
    let map = LearnedMap::<u64, u64>::bulk_load(&keys, &vals).unwrap();
    let collect = |lo: Bound<u64>, hi: Bound<u64>| {
        let mut out = Vec::new();
        map.range(lo, hi, |k, _| {
            out.push(k);
            true
        });
        out
    };
    assert_eq!(
        collect(Bound::Included(10), Bound::Included(30)),
        vec![10, 20, 30]
    );
    assert_eq!(collect(Bound::Excluded(10), Bound::Excluded(30)), vec![20]);
    assert_eq!(
        collect(Bound::Included(11), Bound::Included(19)),
        Vec::<u64>::new()
    );
    assert_eq!(
        collect(Bound::Excluded(30), Bound::Included(10)),
        Vec::<u64>::new()
    );
    assert_eq!(
        collect(Bound::Excluded(49_980), Bound::Unbounded),
        vec![49_990]
    );
    assert_eq!(
        collect(Bound::Excluded(u64::MAX), Bound::Unbounded),
        Vec::<u64>::new()
    );
}
