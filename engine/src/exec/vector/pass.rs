//! Where a join's key filter (`operator::key_filter`) may travel: which input of each node it
//! applies to, and as which column.
//!
//! A filter on an output column may enter an input only where that input's rows reach the
//! output unchanged and only where removing a row removes exactly the output rows made from it:
//! through filters and sorts, plain column projections, group keys of an aggregate, and the
//! non-padded sides of joins. Never below a LIMIT or into a computed column. What cannot go
//! further is dropped (a filter is only ever an optimisation).

use super::data::Batch;
use super::operator::key_filter::{KeyFilter, KeySet, MAX_FILTER_ROWS};
use omendb_planner::{Expr, JoinKind};
use std::sync::Arc;

/// The filters as columns of an input whose column `k` is `source(k)` when that is a plain
/// column reference.
fn through(filters: &[KeyFilter], source: impl Fn(usize) -> Option<usize>) -> Vec<KeyFilter> {
    filters
        .iter()
        .filter_map(|f| {
            source(f.column).map(|column| KeyFilter {
                column,
                keys: f.keys.clone(),
            })
        })
        .collect()
}

fn plain(e: Option<&Expr>) -> Option<usize> {
    match e {
        Some(Expr::Column { index, .. }) => Some(*index),
        _ => None,
    }
}

/// Below a projection.
pub fn project(exprs: &[Expr], filters: &[KeyFilter]) -> Vec<KeyFilter> {
    through(filters, |c| plain(exprs.get(c)))
}

/// Below an aggregate: filters on its group keys (its first outputs).
pub fn aggregate(groups: &[Expr], filters: &[KeyFilter]) -> Vec<KeyFilter> {
    through(filters, |c| plain(groups.get(c)))
}

/// Below a join of `left_width` and right columns: `(left's, right's)`.
pub fn join(
    kind: JoinKind,
    left_width: usize,
    filters: &[KeyFilter],
) -> (Vec<KeyFilter>, Vec<KeyFilter>) {
    let left_unpadded = !matches!(kind, JoinKind::Right | JoinKind::Full | JoinKind::Mark);
    let right_unpadded = matches!(kind, JoinKind::Inner | JoinKind::Right | JoinKind::Cross);
    let left = if left_unpadded {
        through(filters, |c| (c < left_width).then_some(c))
    } else {
        Vec::new()
    };
    let right = if right_unpadded {
        through(filters, |c| c.checked_sub(left_width))
    } else {
        Vec::new()
    };
    (left, right)
}

/// Which input of a keyed join runs first: the one whose keys may filter the other, and the
/// planner's smaller input of an inner join (its right).
pub fn right_first(kind: JoinKind) -> bool {
    matches!(kind, JoinKind::Inner | JoinKind::Right)
}

/// Whether rows of the left input that no right key matches may go before the join.
pub fn may_filter_left(kind: JoinKind) -> bool {
    matches!(kind, JoinKind::Inner | JoinKind::Right | JoinKind::Semi)
}

/// Whether rows of the right input that no left key matches may go before the join.
pub fn may_filter_right(kind: JoinKind) -> bool {
    matches!(
        kind,
        JoinKind::Inner | JoinKind::Left | JoinKind::Semi | JoinKind::Anti
    )
}

/// Filters for the other input out of the first input's `batches`: the keys of every
/// `(this side's column, other side's column)` pair that is integer-like (a multi-column key
/// filters on each column: which one is selective is not known before). None when the input
/// is too large to be worth it.
pub fn from_side(batches: &[Batch], pairs: &[(usize, usize)]) -> Vec<KeyFilter> {
    let rows: usize = batches.iter().map(|b| b.len).sum();
    // No rows: no kind to tell the key column's type by (and nothing to gain).
    if rows == 0 || rows > MAX_FILTER_ROWS {
        return Vec::new();
    }
    pairs
        .iter()
        .filter_map(|&(mine, theirs)| {
            KeySet::of(batches, mine).map(|keys| KeyFilter {
                column: theirs,
                keys: Arc::new(keys),
            })
        })
        .collect()
}
