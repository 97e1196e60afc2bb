//! ORDER BY … LIMIT n over a key-range scan whose index already delivers that order: the scan
//! reads keys in order and stops after n qualifying rows (TPC-C Delivery's oldest new order,
//! Order-Status's newest order), instead of reading the whole range and sorting it.
//!
//! The Sort and Limit stay in the plan (they are cheap over n rows and keep the answer exact
//! whatever the scan does); only the scan learns its order and row budget. Must never apply
//! when a Filter, join or aggregate sits between the Limit and the scan.

use crate::expr::Expr;
use crate::plan::{Access, Plan, SortKey};

/// Give the key-range scan under `plan` (a Limit) its order and limit when it can.
pub fn push_limit_into_range(plan: &mut Plan) {
    let Plan::Limit {
        input,
        limit: Some(limit),
        offset: None,
    } = plan
    else {
        return;
    };
    if !limit.is_row_independent() {
        return;
    }
    let limit = limit.clone();
    let Some(Plan::Sort { input, keys }) = below_projects(input) else {
        return;
    };
    let Some(columns) = scan_columns(keys, input) else {
        return;
    };
    let Some(Plan::Scan {
        access: Access::KeyRange(range),
        table,
        ..
    }) = below_projects(input)
    else {
        return;
    };
    if range.descending.is_some() {
        return;
    }
    let bound = &range.columns[..range.eq.len()];
    let ordered: Vec<(usize, bool)> = columns
        .into_iter()
        .filter(|(c, _)| !bound.contains(c))
        .collect();
    let Some(&(_, descending)) = ordered.first() else {
        return;
    };
    let follows_key = ordered.len() <= range.columns.len() - range.eq.len()
        && ordered
            .iter()
            .zip(&range.columns[range.eq.len()..])
            .all(|(&(c, d), &k)| c == k && d == descending);
    // Secondary-index entries sort NULL first, PostgreSQL's ascending order puts it last:
    // only columns that hold no NULL can take the index's order.
    let no_nulls =
        range.index.is_none() || ordered.iter().all(|&(c, _)| !table.columns[c].nullable);
    if follows_key && no_nulls {
        range.descending = Some(descending);
        range.limit = Some(limit);
    }
}

/// The first node under `plan`'s chain of projections.
fn below_projects(plan: &mut Plan) -> Option<&mut Plan> {
    match plan {
        Plan::Project { input, .. } => below_projects(input),
        other => Some(other),
    }
}

/// The sort keys as (scan column, descending), when every key is a plain column that the
/// projections between the sort and the scan pass through unchanged.
fn scan_columns(keys: &[SortKey], input: &Plan) -> Option<Vec<(usize, bool)>> {
    keys.iter()
        .map(|k| match &k.expr {
            Expr::Column { index, .. } => trace(*index, input).map(|c| (c, k.descending)),
            _ => None,
        })
        .collect()
}

/// The scan column behind output column `index` of `plan`.
fn trace(index: usize, plan: &Plan) -> Option<usize> {
    match plan {
        Plan::Project { input, exprs } => match exprs.get(index)? {
            Expr::Column { index, .. } => trace(*index, input),
            _ => None,
        },
        Plan::Scan { .. } => Some(index),
        _ => None,
    }
}
