//! Semi-join placement: an `IN` / `EXISTS` subquery becomes a semi join on top of the FROM
//! clause's joins; when it reads the columns of one relation only, matches a unique key of it,
//! and its subquery yields clearly fewer rows than that relation has, the semi join moves down
//! onto that relation. It then keeps at most one relation row per subquery row, so every join
//! above works on the few rows that survive instead of discarding them at the end (TPC-H Q18:
//! 57 of 1.5 million orders).
//!
//! A semi join's output is its left input's rows, unchanged, so it commutes with the inner joins,
//! projections and filters it passes: must never move it past any other node.

use super::estimate;
use crate::catalog::Catalog;
use crate::expr::{BinOp, Expr};
use crate::plan::{JoinKind, Plan};

/// The subquery must be estimated at most this fraction of the relation's rows: estimates are
/// rough, and moving the semi join down only pays when it removes most of the relation.
const MAX_SUBQUERY_FRACTION: f64 = 0.5;

/// `plan` semi-joined with `inner` on `on` (over `plan`'s columns then `inner`'s), placed as
/// low as it may and pays.
pub fn place(plan: Plan, inner: Plan, on: Expr, catalog: &dyn Catalog) -> Plan {
    let width = plan.column_types().len();
    let mut outer = Vec::new();
    on.walk(&mut |x| {
        if let Expr::Column { index, .. } = x
            && *index < width
        {
            outer.push(*index);
        }
    });
    let keys = equi_outer_columns(&on, width);
    let Some(map) = target_of(&plan, &outer) else {
        return on_top(plan, inner, on);
    };
    let target = node_at(&plan, &map.path);
    let target_keys: Vec<usize> = keys.iter().map(|k| map.column(*k)).collect();
    if map.path.is_empty()
        || !unique_key_covered(target, &target_keys)
        || estimate::rows(&inner, catalog) > MAX_SUBQUERY_FRACTION * estimate::rows(target, catalog)
    {
        return on_top(plan, inner, on);
    }
    let target_width = target.column_types().len();
    let mut moved = on;
    moved.remap_columns(&|c| {
        if c < width {
            map.column(c)
        } else {
            c - width + target_width
        }
    });
    let mut payload = Some((inner, moved));
    rebuild(plan, &map.path, &mut |target| match payload.take() {
        Some((inner, on)) => on_top(target, inner, on),
        None => target,
    })
}

fn on_top(plan: Plan, inner: Plan, on: Expr) -> Plan {
    Plan::Join {
        left: Box::new(plan),
        right: Box::new(inner),
        kind: JoinKind::Semi,
        on: Some(on),
    }
}

/// The outer columns `on` compares for equality with a subquery column.
fn equi_outer_columns(on: &Expr, width: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let mut parts = Vec::new();
    super::join_order::conjuncts(on.clone(), &mut parts);
    for p in parts {
        if let Expr::Binary {
            op: BinOp::Eq,
            left,
            right,
            ..
        } = &p
            && let (Expr::Column { index: a, .. }, Expr::Column { index: b, .. }) =
                (left.as_ref(), right.as_ref())
        {
            match (*a < width, *b < width) {
                (true, false) => out.push(*a),
                (false, true) => out.push(*b),
                _ => {}
            }
        }
    }
    out
}

/// Which way to go at each node on the way down (0 = the only or left input, 1 = right).
struct Descent {
    path: Vec<u8>,
    /// Column at the top → column at the target, for the columns followed.
    columns: Vec<(usize, usize)>,
}

impl Descent {
    fn column(&self, top: usize) -> usize {
        self.columns
            .iter()
            .find(|(t, _)| *t == top)
            .map_or(top, |(_, c)| *c)
    }
}

/// Follow `columns` down through projections (plain column references), filters and inner
/// joins (the side that has them all) as far as they go.
fn target_of(plan: &Plan, columns: &[usize]) -> Option<Descent> {
    if columns.is_empty() {
        return None;
    }
    let mut d = Descent {
        path: Vec::new(),
        columns: columns.iter().map(|c| (*c, *c)).collect(),
    };
    let mut node = plan;
    loop {
        match node {
            Plan::Filter { input, .. } => {
                d.path.push(0);
                node = input;
            }
            Plan::Project { input, exprs } => {
                let mut next = Vec::with_capacity(d.columns.len());
                for (top, c) in &d.columns {
                    match exprs.get(*c) {
                        Some(Expr::Column { index, .. }) => next.push((*top, *index)),
                        _ => return Some(d),
                    }
                }
                d.columns = next;
                d.path.push(0);
                node = input;
            }
            Plan::Join {
                left,
                right,
                kind: JoinKind::Inner | JoinKind::Cross,
                ..
            } => {
                let lw = left.column_types().len();
                if d.columns.iter().all(|(_, c)| *c < lw) {
                    d.path.push(0);
                    node = left;
                } else if d.columns.iter().all(|(_, c)| *c >= lw) {
                    d.columns.iter_mut().for_each(|(_, c)| *c -= lw);
                    d.path.push(1);
                    node = right;
                } else {
                    return Some(d);
                }
            }
            _ => return Some(d),
        }
    }
}

fn node_at<'p>(plan: &'p Plan, path: &[u8]) -> &'p Plan {
    let mut node = plan;
    for step in path {
        node = match (node, step) {
            (Plan::Filter { input, .. } | Plan::Project { input, .. }, _) => input,
            (Plan::Join { left, .. }, 0) => left,
            (Plan::Join { right, .. }, _) => right,
            _ => node,
        };
    }
    node
}

/// `plan` with the node at `path` replaced by `f` of it.
fn rebuild(plan: Plan, path: &[u8], f: &mut dyn FnMut(Plan) -> Plan) -> Plan {
    let Some((step, rest)) = path.split_first() else {
        return f(plan);
    };
    match (plan, step) {
        (Plan::Filter { input, predicate }, _) => Plan::Filter {
            input: Box::new(rebuild(*input, rest, f)),
            predicate,
        },
        (Plan::Project { input, exprs }, _) => Plan::Project {
            input: Box::new(rebuild(*input, rest, f)),
            exprs,
        },
        (
            Plan::Join {
                left,
                right,
                kind,
                on,
            },
            0,
        ) => Plan::Join {
            left: Box::new(rebuild(*left, rest, f)),
            right,
            kind,
            on,
        },
        (
            Plan::Join {
                left,
                right,
                kind,
                on,
            },
            _,
        ) => Plan::Join {
            left,
            right: Box::new(rebuild(*right, rest, f)),
            kind,
            on,
        },
        (other, _) => f(other),
    }
}

/// Whether `keys` include every column of a primary or unique key of the scanned table.
fn unique_key_covered(target: &Plan, keys: &[usize]) -> bool {
    let Plan::Scan { table, .. } = target else {
        return false;
    };
    table
        .primary_key
        .iter()
        .chain(&table.unique)
        .any(|k| k.columns.iter().all(|c| keys.contains(c)))
}
