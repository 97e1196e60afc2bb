use super::*;
use crate::index::search::ProbeCount;

fn check_all(keys: &[u64], eps: usize, eps_rec: usize) {
    let idx = PgmIndex::with_epsilon(keys, eps, eps_rec).unwrap();
    let bound = idx.worst_case_comparisons();
    let mut probes: Vec<u64> = Vec::with_capacity(keys.len() * 3 + 4);
    for &k in keys {
        probes.extend([k, k.wrapping_sub(1), k.wrapping_add(1)]);
    }
    probes.extend([0, 1, u64::MAX, u64::MAX - 1]);
    for x in probes {
        let mut count = ProbeCount::default();
        let got = idx.lower_bound_probed(keys, x, &mut count);
        assert_eq!(got, keys.partition_point(|&k| k < x), "key {x} eps {eps}");
        assert!(
            count.0 <= bound,
            "key {x}: {} comparisons > bound {bound}",
            count.0
        );
    }
}

#[test]
fn empty_and_single() {
    check_all(&[], 4, 2);
    check_all(&[7], 4, 2);
    check_all(&[0], 1, 1);
    check_all(&[u64::MAX], 1, 1);
}

#[test]
fn dense_and_sparse_mix() {
    let mut keys: Vec<u64> = (0..5000u64).collect();
    keys.extend((0..3000u64).map(|i| 1_000_000 + i * i * 977));
    keys.extend([u64::MAX - 2, u64::MAX]);
    for eps in [1, 2, 8, 64] {
        check_all(&keys, eps, 2);
    }
}

#[test]
fn duplicates_are_found_at_first_copy() {
    let mut keys = Vec::new();
    for i in 0..2000u64 {
        let copies = if i % 17 == 0 {
            300
        } else {
            1 + (i % 3) as usize
        };
        keys.extend(std::iter::repeat_n(i * 10, copies));
    }
    keys.extend(std::iter::repeat_n(u64::MAX, 50));
    for eps in [1, 4, 32] {
        check_all(&keys, eps, 3);
    }
}

#[test]
fn generated_distributions_hold_the_bound() {
    use crate::datasets::{Distribution, sorted_keys};
    for d in Distribution::ALL {
        let keys = sorted_keys(d, 50_000, 7);
        check_all(&keys, 16, 4);
    }
}

#[test]
fn rejects_unsorted_and_zero_epsilon() {
    assert_eq!(
        PgmIndex::build(&[1, 3, 2]).unwrap_err(),
        BuildError::NotSorted(2)
    );
    assert_eq!(
        PgmIndex::with_epsilon(&[1], 0, 1).unwrap_err(),
        BuildError::ZeroEpsilon
    );
}

#[test]
fn index_is_small_on_smooth_data() {
    let keys: Vec<u64> = (0..1_000_000u64).map(|i| i * 1000 + (i % 10)).collect();
    let idx = PgmIndex::build(&keys).unwrap();
    assert!(idx.size_in_bytes() < 4096, "{} bytes", idx.size_in_bytes());
    let w = idx.search(500_000 * 1000);
    assert!(w.lo <= 500_000 && 500_000 <= w.hi);
    assert!(w.hi - w.lo <= 2 * DEFAULT_EPSILON + 1);
}
