use super::*;
use crate::optimizer::join_graph::Edge;

fn graph(rows: &[f64], edges: &[(usize, usize, f64)]) -> JoinGraph {
    JoinGraph::from_edges(
        rows.to_vec(),
        edges
            .iter()
            .map(|&(a, b, selectivity)| Edge {
                rels: (1 << a) | (1 << b),
                selectivity,
            })
            .collect(),
    )
}

fn chain(n: usize) -> JoinGraph {
    let edges: Vec<_> = (1..n).map(|i| (i - 1, i, 0.5)).collect();
    graph(&vec![10.0; n], &edges)
}

fn star(n: usize) -> JoinGraph {
    let edges: Vec<_> = (1..n).map(|i| (0, i, 0.5)).collect();
    graph(&vec![10.0; n], &edges)
}

fn clique(n: usize) -> JoinGraph {
    let mut edges = Vec::new();
    for a in 0..n {
        for b in a + 1..n {
            edges.push((a, b, 0.5));
        }
    }
    graph(&vec![10.0; n], &edges)
}

fn cycle(n: usize) -> JoinGraph {
    let edges: Vec<_> = (0..n).map(|i| (i, (i + 1) % n, 0.5)).collect();
    graph(&vec![10.0; n], &edges)
}

/// The pairs emitted, after checking each is a valid csg-cmp pair and none repeats.
fn pairs(g: &JoinGraph) -> usize {
    let mut seen = std::collections::HashSet::new();
    for_each_ccp(g, &mut |a, b| {
        assert_eq!(a & b, 0, "disjoint");
        assert!(connected(g, a) && connected(g, b), "both connected");
        assert_ne!(g.neighbourhood(a) & b, 0, "adjacent");
        let key = if a < b { (a, b) } else { (b, a) };
        assert!(seen.insert(key), "pair {a:b} {b:b} emitted twice");
    });
    seen.len()
}

fn connected(g: &JoinGraph, set: RelSet) -> bool {
    let mut reach = set & set.wrapping_neg();
    loop {
        let grown = reach | (g.neighbourhood(reach) & set);
        if grown == reach {
            return reach == set;
        }
        reach = grown;
    }
}

/// Counts from Moerkotte and Neumann, "Analysis of Two Existing and One New Dynamic
/// Programming Algorithm for the Generation of Optimal Bushy Join Trees without Cross Products".
#[test]
fn pair_counts_match_the_known_formulas() {
    for n in 2..=10usize {
        let n3 = (n * n * n) as u64;
        let nn = n as u64;
        assert_eq!(pairs(&chain(n)) as u64, (n3 - nn) / 6, "chain {n}");
        assert_eq!(pairs(&star(n)) as u64, (nn - 1) << (n - 2), "star {n}");
        // (3^n - 2^(n+1) + 1) / 2, the numerator's first two terms being odd.
        let clique_pairs = (3u64.pow(n as u32) - (1 << (n + 1))).div_ceil(2);
        assert_eq!(pairs(&clique(n)) as u64, clique_pairs, "clique {n}");
        if n >= 3 {
            assert_eq!(
                pairs(&cycle(n)) as u64,
                (n3 - 2 * nn * nn + nn) / 2,
                "cycle {n}"
            );
        }
    }
}

#[test]
fn disconnected_graphs_emit_no_cross_pairs() {
    // 0-1 and 2-3: one pair each.
    let g = graph(&[1.0, 2.0, 3.0, 4.0], &[(0, 1, 0.5), (2, 3, 0.5)]);
    assert_eq!(pairs(&g), 2);
    let tree = best_tree(&g);
    assert_eq!(tree.set(), 0b1111, "every relation joined");
}

/// The cheapest of every bushy tree over `set` without cross products, by brute force: the
/// optimum DP must find.
fn exhaustive_best(g: &JoinGraph, set: RelSet) -> f64 {
    if set.count_ones() == 1 {
        return 0.0;
    }
    let mut best = f64::INFINITY;
    for sub in subsets(set) {
        let rest = set & !sub;
        if sub == set || sub > rest {
            continue;
        }
        if !connected(g, sub) || !connected(g, rest) || g.neighbourhood(sub) & rest == 0 {
            continue;
        }
        let cost = g.cardinality(set) + exhaustive_best(g, sub) + exhaustive_best(g, rest);
        best = best.min(cost);
    }
    best
}

/// A star whose hub is huge and one spoke very selective: greedy starts from the smallest
/// relation and must go through the hub at once, DP joins the selective spoke to the hub first.
#[test]
fn dp_beats_greedy_on_a_star() {
    // hub 0 (1M rows); spokes: 1 (10 rows, a key join), 2 (1000 rows, keeps 1 in 10^5 of the
    // hub), 3 (100 rows, a key join).
    let g = graph(
        &[1e6, 10.0, 1000.0, 100.0],
        &[(0, 1, 0.1), (0, 2, 1e-8), (0, 3, 0.01)],
    );
    let dp = best_tree(&g);
    let greedy = greedy_tree(&g);
    let (dp_cost, greedy_cost) = (dp.cost(&g), greedy.cost(&g));
    assert!(
        dp_cost < greedy_cost,
        "dp {dp_cost} ({dp:?}) greedy {greedy_cost} ({greedy:?})"
    );
    assert!((dp_cost - exhaustive_best(&g, 0b1111)).abs() < 1e-6 * dp_cost);
}

/// A chain where the cheapest plan is bushy: two selective joins at both ends, then one join in
/// the middle. A left-deep greedy order cannot produce it.
#[test]
fn dp_finds_bushy_plans_greedy_cannot() {
    let g = graph(
        &[1000.0, 1000.0, 1000.0, 1000.0],
        &[(0, 1, 1e-5), (1, 2, 0.01), (2, 3, 1e-5)],
    );
    let dp = best_tree(&g);
    let greedy = greedy_tree(&g);
    assert!(
        dp.cost(&g) < greedy.cost(&g),
        "dp {} greedy {}",
        dp.cost(&g),
        greedy.cost(&g)
    );
    let JoinTree::Join(l, r) = &dp else {
        panic!("a join")
    };
    let halves = [l.set(), r.set()];
    assert!(
        halves.contains(&0b0011) && halves.contains(&0b1100),
        "{dp:?}"
    );
}

/// On random connected graphs, DP's tree costs exactly what the brute-force search over all
/// bushy trees without cross products finds, and never more than greedy's.
#[test]
fn dp_is_optimal_on_random_graphs() {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..200 {
        let n = 3 + (next() % 4) as usize;
        let rows: Vec<f64> = (0..n).map(|_| 10f64.powi((next() % 6) as i32)).collect();
        let mut edges: Vec<(usize, usize, f64)> = (1..n)
            .map(|i| {
                (
                    (next() % i as u64) as usize,
                    i,
                    1.0 / (1 + next() % 1000) as f64,
                )
            })
            .collect();
        if next() % 2 == 0 {
            edges.push((0, n - 1, 0.5));
        }
        let g = graph(&rows, &edges);
        let dp = best_tree(&g);
        let greedy = greedy_tree(&g);
        assert_eq!(dp.set(), (1 << n) - 1);
        assert!(dp.cost(&g) <= greedy.cost(&g) * (1.0 + 1e-9));
        let optimum = exhaustive_best(&g, (1 << n) - 1);
        assert!((dp.cost(&g) - optimum).abs() <= optimum * 1e-9, "{dp:?}");
    }
}

#[test]
fn more_relations_than_the_dp_limit_use_the_greedy_order() {
    let g = chain(DP_MAX_RELATIONS + 3);
    assert_eq!(best_tree(&g), greedy_tree(&g));
    assert_eq!(best_tree(&g).set(), (1 << (DP_MAX_RELATIONS + 3)) - 1);
}
