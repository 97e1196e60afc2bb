//! The join graph of one flat inner join: relations with their estimated rows, and edges — the
//! multi-relation conjuncts — with the fraction of the cross product each keeps.
//!
//! The cardinality of any set of relations is then one product, `Π rows × Π selectivity of the
//! edges inside the set`, whatever order the set is joined in, so every plan the search compares
//! for one set gets the same estimate. Owns estimates only; must never build plans.

use super::estimate::{self, StatsOf};
use crate::expr::{BinOp, Expr};

/// Fraction of rows kept when two relations join on equalities that cover no key of either and
/// whose distinct counts are unknown: guessed pessimistically, so such a join is put off.
const MANY_TO_MANY: f64 = 0.1;

/// A set of relations, bit i = relation i.
pub type RelSet = u128;

/// One relation of the join as the estimator sees it.
pub struct RelInfo {
    /// Estimated rows after its own filters.
    pub rows: f64,
    /// Rows of the table before filters (for key joins): `None` unless it is a table scan.
    pub base_rows: Option<f64>,
    /// Column sets (global positions) that are unique in this relation: its primary key and
    /// UNIQUE constraints.
    pub keys: Vec<Vec<usize>>,
}

/// A conjunct over two or more relations, as the estimator sees it.
pub struct Edge {
    pub rels: RelSet,
    pub selectivity: f64,
}

pub struct JoinGraph {
    pub rows: Vec<f64>,
    pub edges: Vec<Edge>,
    /// Per relation, the relations an edge connects it to.
    pub neighbours: Vec<RelSet>,
}

impl JoinGraph {
    /// The graph of `rels` under `conjuncts` (each with the relations it reads); `rel_of` maps a
    /// global column to its relation and `stats` gives a global column's statistics.
    pub fn new(
        rels: &[RelInfo],
        conjuncts: &[(&Expr, RelSet)],
        rel_of: &dyn Fn(usize) -> usize,
        stats: StatsOf,
    ) -> JoinGraph {
        let mut edges = Vec::new();
        // Column equalities between exactly two relations, grouped per pair: together they may
        // cover a key, which one equality at a time would not show.
        let mut groups: Vec<(RelSet, Vec<(usize, usize)>)> = Vec::new();
        for &(expr, set) in conjuncts {
            match column_equality(expr) {
                Some((a, b)) if set.count_ones() == 2 => {
                    let (a, b) = if rel_of(a) < rel_of(b) {
                        (a, b)
                    } else {
                        (b, a)
                    };
                    match groups.iter_mut().find(|g| g.0 == set) {
                        Some(g) => g.1.push((a, b)),
                        None => groups.push((set, vec![(a, b)])),
                    }
                }
                _ => edges.push(Edge {
                    rels: set,
                    selectivity: estimate::selectivity_with(expr, stats),
                }),
            }
        }
        for (set, pairs) in groups {
            let selectivity = equi_selectivity(&pairs, rels, rel_of, stats);
            edges.push(Edge {
                rels: set,
                selectivity,
            });
        }
        let rows = rels.iter().map(|r| r.rows).collect();
        JoinGraph::from_edges(rows, edges)
    }

    /// The graph of relations with `rows` each, connected by `edges`.
    pub fn from_edges(rows: Vec<f64>, edges: Vec<Edge>) -> JoinGraph {
        let mut neighbours = vec![0; rows.len()];
        for e in &edges {
            for (r, nb) in neighbours.iter_mut().enumerate() {
                if e.rels & (1 << r) != 0 {
                    *nb |= e.rels & !(1 << r);
                }
            }
        }
        JoinGraph {
            rows: rows.into_iter().map(|r| r.max(1.0)).collect(),
            edges,
            neighbours,
        }
    }

    /// Estimated rows of joining every relation of `set`.
    pub fn cardinality(&self, set: RelSet) -> f64 {
        let rows: f64 = members(set).map(|r| self.rows[r]).product();
        let kept: f64 = self
            .edges
            .iter()
            .filter(|e| e.rels & !set == 0)
            .map(|e| e.selectivity)
            .product();
        (rows * kept).max(1.0)
    }

    /// The relations adjacent to `set`, outside it.
    pub fn neighbourhood(&self, set: RelSet) -> RelSet {
        members(set).fold(0, |acc, r| acc | self.neighbours[r]) & !set
    }
}

/// The relations in `set`, lowest first.
pub fn members(set: RelSet) -> impl Iterator<Item = usize> {
    let mut rest = set;
    std::iter::from_fn(move || {
        if rest == 0 {
            return None;
        }
        let r = rest.trailing_zeros() as usize;
        rest &= rest - 1;
        Some(r)
    })
}

/// `a = b` between two columns.
fn column_equality(e: &Expr) -> Option<(usize, usize)> {
    match e {
        Expr::Binary {
            op: BinOp::Eq,
            left,
            right,
            ..
        } => match (left.as_ref(), right.as_ref()) {
            (Expr::Column { index: a, .. }, Expr::Column { index: b, .. }) => Some((*a, *b)),
            _ => None,
        },
        _ => None,
    }
}

/// Fraction of the cross product of two relations kept by the equalities `pairs` between them:
/// - if one side's columns cover a key of that side, each row of the other side meets at most
///   one of its base rows: `1 / base rows` (the larger base, if both are keys);
/// - otherwise `Π 1 / max(distinct(a), distinct(b))` over the equalities (containment of the
///   smaller value set in the larger), with a pessimistic guess where neither count is known.
fn equi_selectivity(
    pairs: &[(usize, usize)],
    rels: &[RelInfo],
    rel_of: &dyn Fn(usize) -> usize,
    stats: StatsOf,
) -> f64 {
    let sides = [
        (
            rel_of(pairs[0].0),
            pairs.iter().map(|p| p.0).collect::<Vec<_>>(),
        ),
        (
            rel_of(pairs[0].1),
            pairs.iter().map(|p| p.1).collect::<Vec<_>>(),
        ),
    ];
    let key_selectivity = sides
        .iter()
        .filter_map(|(r, cols)| {
            let rel = &rels[*r];
            let covered = rel
                .keys
                .iter()
                .any(|key| key.iter().all(|k| cols.contains(k)));
            covered.then(|| 1.0 / rel.base_rows.unwrap_or(rel.rows).max(1.0))
        })
        .reduce(f64::min);
    if let Some(s) = key_selectivity {
        return s;
    }
    let distinct = |c: usize| stats(c).and_then(|s| s.distinct_estimate());
    pairs
        .iter()
        .map(|&(a, b)| match (distinct(a), distinct(b)) {
            (Some(x), Some(y)) => 1.0 / x.max(y),
            (Some(x), None) | (None, Some(x)) => 1.0 / x,
            (None, None) => MANY_TO_MANY,
        })
        .product()
}

#[cfg(test)]
#[path = "join_graph_tests.rs"]
mod tests;
