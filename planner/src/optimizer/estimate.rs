//! Cardinality estimates for join ordering: table sizes from the catalog, selectivities from
//! column statistics where the catalog has them (equality 1/distinct, ranges interpolated
//! between min and max, NULL fractions) and fixed guesses per predicate shape where it does not.

use crate::catalog::{Catalog, ColumnStats, comparable, ordinal};
use crate::expr::{BinOp, Expr, UnaryOp};
use crate::plan::{Access, JoinKind, Plan};
use omendb_storage::types::Value;

const EQUALITY: f64 = 0.05;
const RANGE: f64 = 0.33;
const LIKE: f64 = 0.1;
const OTHER: f64 = 0.5;
const GROUPS_PER_ROW: f64 = 0.1;
const SEMI_JOIN: f64 = 0.5;
/// The least fraction a predicate is assumed to keep, even one statistics say matches nothing:
/// statistics may be stale, and a zero would make every plan above it look free.
pub const MIN_SELECTIVITY: f64 = 1e-6;

/// Statistics of the column at an input position, if known.
pub type StatsOf<'a> = &'a dyn Fn(usize) -> Option<ColumnStats>;

/// The fraction of rows a predicate keeps, without statistics.
pub fn selectivity(e: &Expr) -> f64 {
    selectivity_with(e, &|_| None)
}

/// The fraction of rows a predicate keeps, with `stats` for the columns it reads.
pub fn selectivity_with(e: &Expr, stats: StatsOf) -> f64 {
    let mut parts = Vec::new();
    flatten_and(e, &mut parts);
    conjunction(&parts, stats).max(MIN_SELECTIVITY)
}

fn flatten_and<'e>(e: &'e Expr, out: &mut Vec<&'e Expr>) {
    match e {
        Expr::Binary {
            op: BinOp::And,
            left,
            right,
            ..
        } => {
            flatten_and(left, out);
            flatten_and(right, out);
        }
        other => out.push(other),
    }
}

/// Conjuncts multiply, except bounds on one column, which first narrow one range together
/// (`d >= a AND d < b` keeps `b - a` of the span, not the product of two halves).
fn conjunction(parts: &[&Expr], stats: StatsOf) -> f64 {
    let mut ranges: Vec<Range> = Vec::new();
    let mut sel = 1.0;
    for p in parts {
        match range_of(p, stats) {
            Some(r) => match ranges.iter_mut().find(|x| x.column == r.column) {
                Some(x) => {
                    x.lo = x.lo.max(r.lo);
                    x.hi = x.hi.min(r.hi);
                }
                None => ranges.push(r),
            },
            None => sel *= single(p, stats),
        }
    }
    ranges.iter().map(Range::fraction).product::<f64>() * sel
}

fn single(e: &Expr, stats: StatsOf) -> f64 {
    match e {
        Expr::Binary { op: BinOp::And, .. } => selectivity_with(e, stats),
        Expr::Binary {
            op: BinOp::Or,
            left,
            right,
            ..
        } => {
            let (a, b) = (
                selectivity_with(left, stats),
                selectivity_with(right, stats),
            );
            a + b - a * b
        }
        Expr::Binary {
            op: BinOp::Eq,
            left,
            right,
            ..
        } => equality(left, right, stats),
        Expr::Binary {
            op: BinOp::NotEq,
            left,
            right,
            ..
        } => 1.0 - equality(left, right, stats),
        Expr::Binary { op, .. } if op.is_comparison() => RANGE,
        Expr::Like { negated: false, .. } => LIKE,
        Expr::InList {
            expr,
            list,
            negated: false,
        } => match column_stats(expr, stats).and_then(|s| s.distinct_estimate().map(|d| (s, d))) {
            Some((s, d)) => (list.len() as f64 / d).min(1.0) * (1.0 - s.null_fraction()),
            None => (EQUALITY * list.len() as f64).min(OTHER),
        },
        Expr::IsNull { expr, negated } => {
            match column_stats(expr, stats).and_then(|s| s.nulls.map(|_| s)) {
                Some(s) if *negated => 1.0 - s.null_fraction(),
                Some(s) => s.null_fraction(),
                None if *negated => OTHER,
                None => EQUALITY,
            }
        }
        Expr::Unary {
            op: UnaryOp::Not,
            expr,
            ..
        } => 1.0 - selectivity_with(expr, stats),
        _ => OTHER,
    }
}

fn column_stats(e: &Expr, stats: StatsOf) -> Option<ColumnStats> {
    match e {
        Expr::Column { index, .. } => stats(*index),
        _ => None,
    }
}

fn literal(e: &Expr) -> Option<&Value> {
    match e {
        Expr::Literal { value, .. } if !value.is_null() => Some(value),
        _ => None,
    }
}

/// `column = literal`: 1/distinct of the non-NULL rows, nothing outside `[min, max]`.
fn equality(left: &Expr, right: &Expr, stats: StatsOf) -> f64 {
    let (col, value) = match (literal(left), literal(right)) {
        (None, Some(v)) => (left, v),
        (Some(v), None) => (right, v),
        _ => return EQUALITY,
    };
    let Some(s) = column_stats(col, stats) else {
        return EQUALITY;
    };
    if let (Some(min), Some(max)) = (&s.min, &s.max)
        && comparable(min, value)
        && let (Some(lo), Some(hi), Some(v)) = (ordinal(min), ordinal(max), ordinal(value))
        && (v < lo || v > hi)
    {
        return MIN_SELECTIVITY;
    }
    match s.distinct_estimate() {
        Some(d) => (1.0 - s.null_fraction()) / d,
        None => EQUALITY,
    }
}

/// A bound on one column whose statistics give a numeric span.
struct Range {
    column: usize,
    lo: f64,
    hi: f64,
    min: f64,
    max: f64,
    non_null: f64,
}

impl Range {
    fn fraction(&self) -> f64 {
        let inside = if self.max > self.min {
            ((self.hi.min(self.max) - self.lo.max(self.min)) / (self.max - self.min))
                .clamp(0.0, 1.0)
        } else if self.lo <= self.min && self.min <= self.hi {
            1.0
        } else {
            0.0
        };
        inside * self.non_null
    }
}

/// `column <op> literal` (either way round) on a column with a known span.
fn range_of(e: &Expr, stats: StatsOf) -> Option<Range> {
    let Expr::Binary {
        op, left, right, ..
    } = e
    else {
        return None;
    };
    let (col, value, op) = match (literal(left), literal(right)) {
        (None, Some(v)) => (left.as_ref(), v, *op),
        (Some(v), None) => (right.as_ref(), v, flip(*op)?),
        _ => return None,
    };
    let Expr::Column { index, .. } = col else {
        return None;
    };
    let s = stats(*index)?;
    let (min, max) = (s.min.as_ref()?, s.max.as_ref()?);
    if !comparable(min, value) {
        return None;
    }
    let (lo, hi, v) = (ordinal(min)?, ordinal(max)?, ordinal(value)?);
    let (mut range_lo, mut range_hi) = (f64::NEG_INFINITY, f64::INFINITY);
    match op {
        BinOp::Lt | BinOp::LtEq => range_hi = v,
        BinOp::Gt | BinOp::GtEq => range_lo = v,
        _ => return None,
    }
    Some(Range {
        column: *index,
        lo: range_lo,
        hi: range_hi,
        min: lo,
        max: hi,
        non_null: 1.0 - s.null_fraction(),
    })
}

/// `literal <op> column` as `column <op'> literal`.
fn flip(op: BinOp) -> Option<BinOp> {
    match op {
        BinOp::Lt => Some(BinOp::Gt),
        BinOp::LtEq => Some(BinOp::GtEq),
        BinOp::Gt => Some(BinOp::Lt),
        BinOp::GtEq => Some(BinOp::LtEq),
        _ => None,
    }
}

/// Estimated output rows of a plan.
pub fn rows(plan: &Plan, catalog: &dyn Catalog) -> f64 {
    match plan {
        Plan::Scan {
            table,
            filter,
            access,
        } => {
            let base = catalog.row_estimate(table).max(1.0);
            let stats = |c: usize| catalog.column_stats(table, c);
            match access {
                Access::PrimaryKey(_) => 1.0,
                Access::KeyRange(r) if r.limit.is_some() => 1.0,
                _ => base * filter.as_ref().map_or(1.0, |f| selectivity_with(f, &stats)),
            }
        }
        Plan::System { .. } => 100.0,
        Plan::Values { rows, .. } => rows.len() as f64,
        Plan::Series {
            start, stop, step, ..
        } => series_rows(start, stop, step),
        Plan::Filter { input, predicate } => rows(input, catalog) * selectivity(predicate),
        Plan::Project { input, .. }
        | Plan::Sort { input, .. }
        | Plan::Distinct { input }
        | Plan::Shared { input, .. } => rows(input, catalog),
        Plan::Aggregate { input, groups, .. } if groups.is_empty() => {
            let _ = input;
            1.0
        }
        Plan::Aggregate { input, .. } => (rows(input, catalog) * GROUPS_PER_ROW).max(1.0),
        Plan::Limit { input, limit, .. } => {
            let n = match limit {
                Some(Expr::Literal {
                    value: omendb_storage::types::Value::Int64(n),
                    ..
                }) => *n as f64,
                _ => f64::INFINITY,
            };
            rows(input, catalog).min(n)
        }
        Plan::Join {
            left,
            right,
            kind,
            on,
        } => {
            let (l, r) = (rows(left, catalog), rows(right, catalog));
            match kind {
                JoinKind::Semi | JoinKind::Anti | JoinKind::AntiNullAware => l * SEMI_JOIN,
                JoinKind::Mark => l,
                JoinKind::Left => l.max(join_rows(l, r, on.as_ref())),
                _ => join_rows(l, r, on.as_ref()),
            }
        }
        Plan::SetOp { left, right, .. } => rows(left, catalog) + rows(right, catalog),
    }
}

/// Rows PostgreSQL assumes a set-returning function yields when it cannot tell.
const FUNCTION_ROWS: f64 = 1000.0;

/// An integer series with literal bounds has a known length; any other, PostgreSQL's guess.
fn series_rows(start: &Expr, stop: &Expr, step: &Expr) -> f64 {
    use omendb_storage::types::Value;
    let int = |e: &Expr| match e {
        Expr::Literal {
            value: Value::Int32(n),
            ..
        } => Some(i64::from(*n)),
        Expr::Literal {
            value: Value::Int64(n),
            ..
        } => Some(*n),
        _ => None,
    };
    match (int(start), int(stop), int(step)) {
        (Some(a), Some(b), Some(s)) if s != 0 => {
            ((b as f64 - a as f64) / s as f64).floor().max(-1.0) + 1.0
        }
        _ => FUNCTION_ROWS,
    }
}

/// An equi-join is assumed to follow a key: each row of the larger side meets about one row.
pub fn join_rows(l: f64, r: f64, on: Option<&Expr>) -> f64 {
    match on {
        Some(e) if has_equality(e) => l.max(r),
        Some(e) => l * r * selectivity(e),
        None => l * r,
    }
}

fn has_equality(e: &Expr) -> bool {
    match e {
        Expr::Binary {
            op: BinOp::And,
            left,
            right,
            ..
        } => has_equality(left) || has_equality(right),
        Expr::Binary {
            op: BinOp::Eq,
            left,
            right,
            ..
        } => {
            matches!(
                (left.as_ref(), right.as_ref()),
                (Expr::Column { .. }, Expr::Column { .. })
            )
        }
        _ => false,
    }
}

#[cfg(test)]
#[path = "estimate_tests.rs"]
mod tests;
