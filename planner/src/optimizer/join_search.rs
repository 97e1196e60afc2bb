//! The join order search: dynamic programming over connected subgraphs (DPccp, Moerkotte and
//! Neumann 2006) for up to `DP_MAX_RELATIONS` relations, a greedy order beyond.
//!
//! DPccp enumerates every pair (S1, S2) of disjoint connected sets of relations with an edge
//! between them exactly once, so the best plan of every connected set is found without ever
//! considering a cross product; a disconnected graph's components are then crossed smallest
//! first. Cost is C_out: the sum of the estimated rows of every intermediate result. Owns the
//! choice of a join tree; must never look at plans or expressions.

use super::join_graph::{JoinGraph, RelSet, members};

/// The most relations planned by dynamic programming. A clique of 12 has 261,625 connected
/// pairs, a few milliseconds of work; beyond, the number grows by ~3x per relation and the
/// greedy order takes over.
pub const DP_MAX_RELATIONS: usize = 12;

/// A join tree over relation indexes.
#[derive(Debug, Clone, PartialEq)]
pub enum JoinTree {
    Leaf(usize),
    Join(Box<JoinTree>, Box<JoinTree>),
}

impl JoinTree {
    pub fn set(&self) -> RelSet {
        match self {
            JoinTree::Leaf(r) => 1 << r,
            JoinTree::Join(l, r) => l.set() | r.set(),
        }
    }

    /// C_out of this tree under `graph`: the rows of every join's result, summed.
    pub fn cost(&self, graph: &JoinGraph) -> f64 {
        match self {
            JoinTree::Leaf(_) => 0.0,
            JoinTree::Join(l, r) => graph.cardinality(self.set()) + l.cost(graph) + r.cost(graph),
        }
    }
}

/// The cheapest tree joining every relation of `graph` (greedy beyond `DP_MAX_RELATIONS`).
pub fn best_tree(graph: &JoinGraph) -> JoinTree {
    let n = graph.rows.len();
    if n <= DP_MAX_RELATIONS {
        dp_tree(graph)
    } else {
        greedy_tree(graph)
    }
}

/// Calls `emit(S1, S2)` once for every csg-cmp pair of the graph given by `neighbours`
/// (DPccp's enumeration: connected S1, connected S2 disjoint from it, an edge between them;
/// each unordered pair once).
pub fn for_each_ccp(graph: &JoinGraph, emit: &mut dyn FnMut(RelSet, RelSet)) {
    let n = graph.rows.len();
    for i in (0..n).rev() {
        let v: RelSet = 1 << i;
        let below = (v << 1) - 1;
        emit_cmps(graph, v, emit);
        grow_csg(graph, v, below, &mut |s| emit_cmps(graph, s, emit));
    }
}

/// Every connected set that extends `set` by neighbours outside `excluded` (EnumerateCsgRec).
fn grow_csg(graph: &JoinGraph, set: RelSet, excluded: RelSet, emit: &mut dyn FnMut(RelSet)) {
    let n = graph.neighbourhood(set) & !excluded;
    for sub in subsets(n) {
        emit(set | sub);
    }
    for sub in subsets(n) {
        grow_csg(graph, set | sub, excluded | n, emit);
    }
}

/// Every complement of the connected set `s1` (EnumerateCmp): connected, adjacent, and made of
/// relations above `s1`'s lowest one, so each pair comes out once.
fn emit_cmps(graph: &JoinGraph, s1: RelSet, emit: &mut dyn FnMut(RelSet, RelSet)) {
    let lowest = s1 & s1.wrapping_neg();
    let excluded = (lowest - 1) | lowest | s1;
    let n = graph.neighbourhood(s1) & !excluded;
    for i in members(n).collect::<Vec<_>>().into_iter().rev() {
        let v: RelSet = 1 << i;
        emit(s1, v);
        let below_in_n = ((v << 1) - 1) & n;
        grow_csg(graph, v, excluded | below_in_n, &mut |s2| emit(s1, s2));
    }
}

/// The non-empty subsets of `set`, in increasing numeric order.
fn subsets(set: RelSet) -> impl Iterator<Item = RelSet> {
    let mut sub: RelSet = 0;
    std::iter::from_fn(move || {
        sub = sub.wrapping_sub(set) & set;
        (sub != 0).then_some(sub)
    })
}

/// The best plan found for one set: its C_out and the split it came from.
#[derive(Clone, Copy)]
struct Best {
    cost: f64,
    split: Option<(RelSet, RelSet)>,
}

fn dp_tree(graph: &JoinGraph) -> JoinTree {
    let n = graph.rows.len();
    let mut pairs = Vec::new();
    for_each_ccp(graph, &mut |a, b| pairs.push((a, b)));
    // Smaller unions first, so both halves of a pair are final when it is costed.
    pairs.sort_by_key(|(a, b)| (a | b).count_ones());
    let mut best: Vec<Option<Best>> = vec![None; 1 << n];
    for r in 0..n {
        best[1 << r] = Some(Best {
            cost: 0.0,
            split: None,
        });
    }
    for (a, b) in pairs {
        let (Some(x), Some(y)) = (best[a as usize], best[b as usize]) else {
            debug_assert!(false, "DPccp emitted a pair before its halves");
            continue;
        };
        let union = a | b;
        let cost = graph.cardinality(union) + x.cost + y.cost;
        if best[union as usize].is_none_or(|old| cost < old.cost) {
            best[union as usize] = Some(Best {
                cost,
                split: Some((a, b)),
            });
        }
    }
    let components = components(graph);
    let trees = components
        .iter()
        .map(|&c| rebuild(&best, c))
        .collect::<Vec<_>>();
    cross_smallest_first(graph, trees)
}

fn rebuild(best: &[Option<Best>], set: RelSet) -> JoinTree {
    match best[set as usize].and_then(|b| b.split) {
        Some((a, b)) => JoinTree::Join(Box::new(rebuild(best, a)), Box::new(rebuild(best, b))),
        None => JoinTree::Leaf(set.trailing_zeros() as usize),
    }
}

/// The connected components of the graph, as sets.
fn components(graph: &JoinGraph) -> Vec<RelSet> {
    let n = graph.rows.len();
    let mut seen: RelSet = 0;
    let mut out = Vec::new();
    for r in 0..n {
        if seen & (1 << r) != 0 {
            continue;
        }
        let mut set: RelSet = 1 << r;
        loop {
            let grown = set | graph.neighbourhood(set);
            if grown == set {
                break;
            }
            set = grown;
        }
        seen |= set;
        out.push(set);
    }
    out
}

/// Cross products between components that no predicate connects, smallest first.
fn cross_smallest_first(graph: &JoinGraph, mut trees: Vec<JoinTree>) -> JoinTree {
    trees.sort_by(|a, b| {
        graph
            .cardinality(a.set())
            .total_cmp(&graph.cardinality(b.set()))
    });
    let mut iter = trees.into_iter();
    let first = iter.next().unwrap_or(JoinTree::Leaf(0));
    iter.fold(first, |acc, t| JoinTree::Join(Box::new(acc), Box::new(t)))
}

/// Left-deep and greedy: the smallest relation first, then always the relation connected to
/// what is joined that gives the smallest result (any relation when none is connected).
pub fn greedy_tree(graph: &JoinGraph) -> JoinTree {
    let n = graph.rows.len();
    let by_rows = |a: &usize, b: &usize| graph.rows[*a].total_cmp(&graph.rows[*b]);
    let first = (0..n).min_by(by_rows).unwrap_or(0);
    let mut tree = JoinTree::Leaf(first);
    let mut joined: RelSet = 1 << first;
    for _ in 1..n {
        let adjacent = graph.neighbourhood(joined);
        let pool: Vec<usize> = (0..n)
            .filter(|r| joined & (1 << r) == 0)
            .filter(|r| adjacent == 0 || adjacent & (1 << r) != 0)
            .collect();
        let next = pool.into_iter().min_by(|a, b| {
            graph
                .cardinality(joined | 1 << a)
                .total_cmp(&graph.cardinality(joined | 1 << b))
                .then(by_rows(a, b))
        });
        let Some(next) = next else { break };
        joined |= 1 << next;
        tree = JoinTree::Join(Box::new(tree), Box::new(JoinTree::Leaf(next)));
    }
    tree
}

#[cfg(test)]
#[path = "join_search_tests.rs"]
mod tests;
