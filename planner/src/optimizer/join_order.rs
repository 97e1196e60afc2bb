//! Filter placement and greedy join ordering for inner joins.
//!
//! The FROM clause's relations and the WHERE/ON conjuncts come in as one flat inner join; each
//! conjunct goes to the lowest point where its columns exist (single-relation ones into the
//! scan, where they may pick an index probe), and relations are joined smallest-first, always
//! preferring one connected to what is already joined by an equality. A final projection puts
//! the columns back in FROM order, so nothing above notices the reordering.

use super::estimate;
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
    rels: u128,
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

/// Fraction of rows kept when two sets join on columns that are a key of neither side.
const MANY_TO_MANY: f64 = 0.1;

/// Estimated rows after joining relation `r` to the `joined` set (`current` rows):
/// - equalities covering `r`'s primary key: each current row meets at most one row of `r`;
/// - equalities from `r` covering the primary key of a joined relation `j` (a foreign key):
///   each row of `r` meets the rows `j`'s rows became, `est(r) * current / est(j)`;
/// - otherwise a many-to-many join, guessed pessimistically so it is put off.
#[allow(clippy::too_many_arguments)]
fn join_cost(
    r: usize,
    joined: u128,
    current: f64,
    estimates: &[f64],
    conjs: &[Conjunct],
    key_columns: &[Option<Vec<usize>>],
    _offsets: &[usize],
    rel_of: &dyn Fn(usize) -> usize,
) -> f64 {
    // (column in r, column in the joined set) of every equality between them.
    let mut pairs: Vec<(usize, usize)> = Vec::new();
    for c in conjs
        .iter()
        .filter(|c| c.rels & (1 << r) != 0 && c.rels & !(joined | (1 << r)) == 0)
    {
        if let Expr::Binary {
            op: BinOp::Eq,
            left,
            right,
            ..
        } = &c.expr
            && let (Expr::Column { index: a, .. }, Expr::Column { index: b, .. }) =
                (left.as_ref(), right.as_ref())
        {
            match (rel_of(*a) == r, rel_of(*b) == r) {
                (true, false) => pairs.push((*a, *b)),
                (false, true) => pairs.push((*b, *a)),
                _ => {}
            }
        }
    }
    let covers = |key: &[usize], cols: &mut dyn Iterator<Item = usize>| {
        let cols: Vec<usize> = cols.collect();
        key.iter().all(|k| cols.contains(k))
    };
    if let Some(key) = &key_columns[r]
        && covers(key, &mut pairs.iter().map(|p| p.0))
    {
        return current;
    }
    let mut best: Option<f64> = None;
    for (j, key) in key_columns.iter().enumerate() {
        let Some(key) = key else { continue };
        if joined & (1 << j) == 0 {
            continue;
        }
        let into_j = pairs.iter().filter(|p| rel_of(p.1) == j).map(|p| p.1);
        if covers(key, &mut into_j.into_iter()) {
            let estimate = estimates[r] * current / estimates[j].max(1.0);
            best = Some(best.map_or(estimate, |b: f64| b.min(estimate)));
        }
    }
    best.unwrap_or(current * estimates[r] * MANY_TO_MANY)
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
    let mut total = 0;
    for r in &relations {
        offsets.push(total);
        total += r.width;
    }
    let rel_of = |col: usize| offsets.iter().rposition(|&o| o <= col).unwrap_or(0);
    let mut plans: Vec<Option<Plan>> = relations.into_iter().map(|r| Some(r.plan)).collect();
    let mut top_filters = Vec::new();
    let mut conjs: Vec<Conjunct> = Vec::new();
    for p in predicates {
        let mut parts = Vec::new();
        for c in {
            let mut top = Vec::new();
            conjuncts(p, &mut top);
            top
        } {
            parts.extend(factor_or(c));
        }
        for e in parts {
            let mut rels = 0u128;
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
                    if let Some(plan) = plans[r].take() {
                        plans[r] = Some(push_filter(plan, local));
                    }
                }
                _ => conjs.push(Conjunct {
                    expr: e,
                    rels,
                    applied: false,
                }),
            }
        }
    }
    let mut plans: Vec<Plan> = plans.into_iter().flatten().collect();
    if plans.len() != n {
        // Unreachable by construction; keep FROM order rather than panic.
        return plans.pop().unwrap_or(Plan::Values {
            rows: vec![Vec::new()],
            types: Vec::new(),
        });
    }
    let widths: Vec<usize> = (0..n)
        .map(|i| {
            if i + 1 < n {
                offsets[i + 1] - offsets[i]
            } else {
                total - offsets[i]
            }
        })
        .collect();
    let estimates: Vec<f64> = plans.iter().map(|p| estimate::rows(p, catalog)).collect();

    // Primary-key columns (global positions) of base-table relations, for join cardinality.
    let key_columns: Vec<Option<Vec<usize>>> = plans
        .iter()
        .enumerate()
        .map(|(i, p)| match p {
            Plan::Scan { table, .. } => table
                .primary_key
                .as_ref()
                .map(|pk| pk.columns.iter().map(|c| c + offsets[i]).collect()),
            _ => None,
        })
        .collect();
    // Greedy order: smallest first, then the connected relation giving the smallest join.
    let mut order: Vec<usize> = Vec::with_capacity(n);
    let mut joined = 0u128;
    let first = (0..n)
        .min_by(|&a, &b| estimates[a].total_cmp(&estimates[b]))
        .unwrap_or(0);
    order.push(first);
    joined |= 1 << first;
    let mut current_rows = estimates[first];
    while order.len() < n {
        let connected = |r: usize| {
            conjs
                .iter()
                .any(|c| c.rels & (1 << r) != 0 && c.rels & !(joined | (1 << r)) == 0)
        };
        let candidates: Vec<usize> = (0..n).filter(|r| joined & (1 << r) == 0).collect();
        let connected_candidates: Vec<usize> = candidates
            .iter()
            .copied()
            .filter(|&r| connected(r))
            .collect();
        let pool = if connected_candidates.is_empty() {
            &candidates
        } else {
            &connected_candidates
        };
        let cost = |r: usize| {
            if !connected(r) {
                return current_rows * estimates[r];
            }
            join_cost(
                r,
                joined,
                current_rows,
                &estimates,
                &conjs,
                &key_columns,
                &offsets,
                &rel_of,
            )
        };
        let next = pool.iter().copied().min_by(|&a, &b| {
            cost(a)
                .total_cmp(&cost(b))
                .then(estimates[a].total_cmp(&estimates[b]))
        });
        let Some(next) = next else { break };
        current_rows = cost(next);
        order.push(next);
        joined |= 1 << next;
    }

    // Build the joins; positions[r] = where relation r's columns start in the current layout.
    let mut positions = vec![usize::MAX; n];
    let mut slots: Vec<Option<Plan>> = plans.into_iter().map(Some).collect();
    let mut plan = slots[order[0]].take().unwrap_or(Plan::Values {
        rows: vec![Vec::new()],
        types: Vec::new(),
    });
    positions[order[0]] = 0;
    let mut width = widths[order[0]];
    let mut joined = 1u128 << order[0];
    for &r in &order[1..] {
        let right = slots[r].take().unwrap_or(Plan::Values {
            rows: vec![Vec::new()],
            types: Vec::new(),
        });
        positions[r] = width;
        joined |= 1 << r;
        let mut on = Vec::new();
        for c in conjs
            .iter_mut()
            .filter(|c| !c.applied && c.rels & !joined == 0)
        {
            c.applied = true;
            let mut e = c.expr.clone();
            e.remap_columns(&|col| {
                let rel = rel_of(col);
                positions[rel] + (col - offsets[rel])
            });
            on.push(e);
        }
        let on = and_all(on);
        let kind = if on.is_some() {
            JoinKind::Inner
        } else {
            JoinKind::Cross
        };
        plan = Plan::Join {
            left: Box::new(plan),
            right: Box::new(right),
            kind,
            on,
        };
        width += widths[r];
    }
    // Back to FROM order.
    let reordered = order.iter().enumerate().any(|(i, &r)| i != r);
    if reordered {
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
