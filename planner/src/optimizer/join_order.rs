//! Filter placement and join ordering for inner joins.
//!
//! The FROM clause's relations and the WHERE/ON conjuncts come in as one flat inner join; each
//! single-relation conjunct goes into its relation (a scan's filter, where it may pick an index
//! probe), the others become the edges of a join graph (`join_graph`), `join_search` picks the
//! cheapest join tree over it, and each remaining conjunct goes on the lowest join where all its
//! columns exist. A join's smaller estimated input is put on the right, the side a hash join
//! builds. A final projection puts the columns back in FROM order, so nothing above notices the
//! reordering.

use super::estimate;
use super::join_graph::{JoinGraph, RelInfo, RelSet};
use super::join_search::{JoinTree, best_tree};
use crate::catalog::Catalog;
use crate::expr::{BinOp, Expr};
use crate::plan::{JoinKind, Plan};

/// One FROM item: its plan and how many columns it outputs.
pub struct Relation {
    pub plan: Plan,
    pub width: usize,
}

struct Conjunct {
    expr: Expr,
    /// Bit i set: references relation i.
    rels: RelSet,
    applied: bool,
}

/// The most relations a flat join may have (one bit each).
pub const MAX_RELATIONS: usize = 128;

/// AND together.
pub fn and_all(mut exprs: Vec<Expr>) -> Option<Expr> {
    let first = exprs.pop()?;
    Some(exprs.into_iter().rev().fold(first, |acc, e| Expr::Binary {
        op: BinOp::And,
        left: Box::new(e),
        right: Box::new(acc),
        ty: omendb_storage::types::DataType::Bool,
    }))
}

/// Split a predicate into its AND-ed parts.
pub fn conjuncts(e: Expr, out: &mut Vec<Expr>) {
    match e {
        Expr::Binary {
            op: BinOp::And,
            left,
            right,
            ..
        } => {
            conjuncts(*left, out);
            conjuncts(*right, out);
        }
        other => out.push(other),
    }
}

fn disjuncts(e: Expr, out: &mut Vec<Expr>) {
    match e {
        Expr::Binary {
            op: BinOp::Or,
            left,
            right,
            ..
        } => {
            disjuncts(*left, out);
            disjuncts(*right, out);
        }
        other => out.push(other),
    }
}

/// `(a AND b) OR (a AND c)` → `a`, `(b OR c)`: conjuncts common to every branch of a disjunction
/// come out of it, so a join condition repeated in each branch (TPC-H Q19) becomes a hash-join
/// key instead of a filter over a cross product.
pub fn factor_or(e: Expr) -> Vec<Expr> {
    if !matches!(e, Expr::Binary { op: BinOp::Or, .. }) {
        return vec![e];
    }
    let mut branches = Vec::new();
    disjuncts(e, &mut branches);
    let branch_parts: Vec<Vec<Expr>> = branches
        .into_iter()
        .map(|b| {
            let mut parts = Vec::new();
            conjuncts(b, &mut parts);
            parts
        })
        .collect();
    let keys: Vec<Vec<String>> = branch_parts
        .iter()
        .map(|ps| ps.iter().map(|p| format!("{p:?}")).collect())
        .collect();
    let common: Vec<usize> = (0..branch_parts[0].len())
        .filter(|&i| keys[1..].iter().all(|k| k.contains(&keys[0][i])))
        .collect();
    let common_keys: Vec<&String> = common.iter().map(|&i| &keys[0][i]).collect();
    let mut out: Vec<Expr> = common.iter().map(|&i| branch_parts[0][i].clone()).collect();
    if out.is_empty() {
        let branches = branch_parts
            .into_iter()
            .filter_map(and_all)
            .collect::<Vec<_>>();
        return vec![or_all(branches)];
    }
    let mut rest = Vec::with_capacity(branch_parts.len());
    for (parts, k) in branch_parts.into_iter().zip(&keys) {
        let remaining: Vec<Expr> = parts
            .into_iter()
            .zip(k)
            .filter(|(_, key)| !common_keys.contains(key))
            .map(|(p, _)| p)
            .collect();
        match and_all(remaining) {
            Some(r) => rest.push(r),
            // One branch is exactly the common part: the disjunction adds nothing.
            None => return out,
        }
    }
    out.push(or_all(rest));
    out
}

fn or_all(mut exprs: Vec<Expr>) -> Expr {
    let first = exprs
        .pop()
        .unwrap_or_else(|| Expr::literal(omendb_storage::types::Value::Bool(false)));
    exprs.into_iter().rev().fold(first, |acc, e| Expr::Binary {
        op: BinOp::Or,
        left: Box::new(e),
        right: Box::new(acc),
        ty: omendb_storage::types::DataType::Bool,
    })
}

/// Filters a multi-relation disjunction implies on single relations: if every branch of
/// `(a1 AND b1) OR (a2 AND b2)` has conjuncts over relation R alone (`a1`, `a2`), then
/// `a1 OR a2` holds for every R row that can pass, so R is filtered before the join while the
/// whole disjunction still applies above it (TPC-H Q19: 200k parts shrink to a few hundred).
fn implied_filters(e: &Expr, rels: RelSet, rel_of: &dyn Fn(usize) -> usize) -> Vec<(usize, Expr)> {
    if !matches!(e, Expr::Binary { op: BinOp::Or, .. }) {
        return Vec::new();
    }
    let mut branches = Vec::new();
    disjuncts(e.clone(), &mut branches);
    let branch_parts: Vec<Vec<(RelSet, Expr)>> = branches
        .into_iter()
        .map(|b| {
            let mut parts = Vec::new();
            conjuncts(b, &mut parts);
            parts
                .into_iter()
                .map(|p| {
                    let mut set: RelSet = 0;
                    let mut opaque = false;
                    p.walk(&mut |x| match x {
                        Expr::Column { index, .. } => set |= 1 << rel_of(*index),
                        x => opaque |= x.is_opaque_node(),
                    });
                    // An opaque part is never moved; marking it as reading no relation keeps it
                    // out of every per-relation filter.
                    (if opaque { 0 } else { set }, p)
                })
                .collect()
        })
        .collect();
    let mut out = Vec::new();
    for r in (0..MAX_RELATIONS).filter(|&r| rels & (1 << r) != 0) {
        let bit: RelSet = 1 << r;
        let per_branch: Option<Vec<Expr>> = branch_parts
            .iter()
            .map(|parts| {
                and_all(
                    parts
                        .iter()
                        .filter(|(set, _)| *set == bit)
                        .map(|(_, p)| p.clone())
                        .collect(),
                )
            })
            .collect();
        if let Some(branches) = per_branch {
            out.push((r, or_all(branches)));
        }
    }
    out
}

/// Put `predicate` on `plan`: into a table scan (re-choosing its access path), else a Filter.
pub fn push_filter(plan: Plan, predicate: Expr) -> Plan {
    match plan {
        Plan::Scan { table, filter, .. } => {
            let combined = match filter {
                Some(f) => and_all(vec![f, predicate])
                    .unwrap_or_else(|| Expr::literal(omendb_storage::types::Value::Bool(true))),
                None => predicate,
            };
            let access = crate::binder::choose_access(&table, &combined);
            Plan::Scan {
                table,
                filter: Some(combined),
                access,
            }
        }
        Plan::Filter {
            input,
            predicate: existing,
        } => {
            let combined = and_all(vec![existing, predicate])
                .unwrap_or_else(|| Expr::literal(omendb_storage::types::Value::Bool(true)));
            Plan::Filter {
                input,
                predicate: combined,
            }
        }
        other => Plan::Filter {
            input: Box::new(other),
            predicate,
        },
    }
}

/// Join `relations` (columns in FROM order) under `predicates` (over those columns).
pub fn order_joins(relations: Vec<Relation>, predicates: Vec<Expr>, catalog: &dyn Catalog) -> Plan {
    let n = relations.len();
    let mut offsets = Vec::with_capacity(n);
    let mut widths = Vec::with_capacity(n);
    let mut total = 0;
    for r in &relations {
        offsets.push(total);
        widths.push(r.width);
        total += r.width;
    }
    let rel_of = |col: usize| offsets.iter().rposition(|&o| o <= col).unwrap_or(0);
    let mut plans: Vec<Plan> = relations.into_iter().map(|r| r.plan).collect();
    let mut top_filters = Vec::new();
    let mut conjs: Vec<Conjunct> = Vec::new();
    for p in predicates {
        let mut top = Vec::new();
        conjuncts(p, &mut top);
        for e in top.into_iter().flat_map(factor_or) {
            let mut rels: RelSet = 0;
            e.walk(&mut |x| {
                if let Expr::Column { index, .. } = x {
                    rels |= 1 << rel_of(*index);
                }
            });
            match rels.count_ones() {
                0 => top_filters.push(e),
                1 => {
                    let r = rels.trailing_zeros() as usize;
                    let mut local = e;
                    let offset = offsets[r];
                    local.remap_columns(&|c| c - offset);
                    let plan = std::mem::replace(&mut plans[r], placeholder());
                    plans[r] = push_filter(plan, local);
                }
                _ => {
                    for (r, mut implied) in implied_filters(&e, rels, &rel_of) {
                        let offset = offsets[r];
                        implied.remap_columns(&|c| c - offset);
                        let plan = std::mem::replace(&mut plans[r], placeholder());
                        plans[r] = push_filter(plan, implied);
                    }
                    conjs.push(Conjunct {
                        expr: e,
                        rels,
                        applied: false,
                    })
                }
            }
        }
    }
    let graph = join_graph(&plans, &conjs, &offsets, catalog);
    let tree = best_tree(&graph);
    let mut builder = Builder {
        slots: plans.into_iter().map(Some).collect(),
        conjs,
        offsets: &offsets,
        widths: &widths,
        graph: &graph,
    };
    let (mut plan, layout) = builder.build(&tree);
    // Back to FROM order.
    if layout.iter().enumerate().any(|(i, &r)| i != r) {
        let mut positions = vec![0; n];
        let mut at = 0;
        for &r in &layout {
            positions[r] = at;
            at += widths[r];
        }
        let types = plan.column_types();
        let exprs = (0..total)
            .map(|col| {
                let rel = rel_of(col);
                let index = positions[rel] + (col - offsets[rel]);
                Expr::Column {
                    index,
                    ty: types[index],
                }
            })
            .collect();
        plan = Plan::Project {
            input: Box::new(plan),
            exprs,
        };
    }
    match and_all(top_filters) {
        Some(f) => push_filter(plan, f),
        None => plan,
    }
}

/// Stands in for a relation's plan while its filter is pushed in.
fn placeholder() -> Plan {
    Plan::Values {
        rows: vec![Vec::new()],
        types: Vec::new(),
    }
}

/// The estimator's view of the relations (after their filters) and the join conjuncts.
fn join_graph(
    plans: &[Plan],
    conjs: &[Conjunct],
    offsets: &[usize],
    catalog: &dyn Catalog,
) -> JoinGraph {
    let rel_of = |col: usize| offsets.iter().rposition(|&o| o <= col).unwrap_or(0);
    let rels: Vec<RelInfo> = plans
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let rows = estimate::rows(p, catalog);
            let Plan::Scan { table, .. } = p else {
                return RelInfo {
                    rows,
                    base_rows: None,
                    keys: Vec::new(),
                };
            };
            let keys = table
                .primary_key
                .iter()
                .chain(&table.unique)
                .map(|k| k.columns.iter().map(|c| c + offsets[i]).collect())
                .collect();
            RelInfo {
                rows,
                base_rows: Some(catalog.row_estimate(table).max(1.0)),
                keys,
            }
        })
        .collect();
    let stats = |col: usize| {
        let r = rel_of(col);
        match &plans[r] {
            Plan::Scan { table, .. } => catalog.column_stats(table, col - offsets[r]),
            _ => None,
        }
    };
    let edges: Vec<(&Expr, RelSet)> = conjs.iter().map(|c| (&c.expr, c.rels)).collect();
    JoinGraph::new(&rels, &edges, &rel_of, &stats)
}

/// Turns a join tree into plans, placing each conjunct on the lowest join that has its columns.
struct Builder<'a> {
    slots: Vec<Option<Plan>>,
    conjs: Vec<Conjunct>,
    offsets: &'a [usize],
    widths: &'a [usize],
    graph: &'a JoinGraph,
}

impl Builder<'_> {
    /// The plan of `tree` and the relations in the order their columns come out.
    fn build(&mut self, tree: &JoinTree) -> (Plan, Vec<usize>) {
        match tree {
            JoinTree::Leaf(r) => {
                let plan = self.slots[*r].take().unwrap_or_else(placeholder);
                (plan, vec![*r])
            }
            JoinTree::Join(a, b) => {
                let (rows_a, rows_b) = (
                    self.graph.cardinality(a.set()),
                    self.graph.cardinality(b.set()),
                );
                let (pa, la) = self.build(a);
                let (pb, lb) = self.build(b);
                // The smaller input on the right: the side a hash join builds.
                let ((left, mut layout), (right, rlayout)) = if rows_b <= rows_a {
                    ((pa, la), (pb, lb))
                } else {
                    ((pb, lb), (pa, la))
                };
                layout.extend(rlayout);
                let on = self.conditions(tree.set(), &layout);
                let kind = if on.is_some() {
                    JoinKind::Inner
                } else {
                    JoinKind::Cross
                };
                let plan = Plan::Join {
                    left: Box::new(left),
                    right: Box::new(right),
                    kind,
                    on,
                };
                (plan, layout)
            }
        }
    }

    /// The conjuncts not yet placed whose relations are all in `set`, over `layout`'s columns.
    fn conditions(&mut self, set: RelSet, layout: &[usize]) -> Option<Expr> {
        let mut positions = vec![usize::MAX; self.offsets.len()];
        let mut at = 0;
        for &r in layout {
            positions[r] = at;
            at += self.widths[r];
        }
        let offsets = self.offsets;
        let rel_of = |col: usize| offsets.iter().rposition(|&o| o <= col).unwrap_or(0);
        let mut on = Vec::new();
        for c in self
            .conjs
            .iter_mut()
            .filter(|c| !c.applied && c.rels & !set == 0)
        {
            c.applied = true;
            let mut e = c.expr.clone();
            e.remap_columns(&|col| {
                let rel = rel_of(col);
                positions[rel] + (col - offsets[rel])
            });
            on.push(e);
        }
        and_all(on)
    }
}
