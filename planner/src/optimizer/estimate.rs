//! Cardinality estimates for join ordering: table sizes from the catalog, fixed selectivities
//! per predicate shape (distinct-count sketches and histograms replace them later).

use crate::catalog::Catalog;
use crate::expr::{BinOp, Expr, UnaryOp};
use crate::plan::{Access, JoinKind, Plan};

const EQUALITY: f64 = 0.05;
const RANGE: f64 = 0.33;
const LIKE: f64 = 0.1;
const OTHER: f64 = 0.5;
const GROUPS_PER_ROW: f64 = 0.1;
const SEMI_JOIN: f64 = 0.5;

/// The fraction of rows a predicate keeps.
pub fn selectivity(e: &Expr) -> f64 {
    match e {
        Expr::Binary {
            op: BinOp::And,
            left,
            right,
            ..
        } => selectivity(left) * selectivity(right),
        Expr::Binary {
            op: BinOp::Or,
            left,
            right,
            ..
        } => (selectivity(left) + selectivity(right)).min(1.0),
        Expr::Binary { op: BinOp::Eq, .. } => EQUALITY,
        Expr::Binary {
            op: BinOp::NotEq, ..
        } => 1.0 - EQUALITY,
        Expr::Binary { op, .. } if op.is_comparison() => RANGE,
        Expr::Like { negated: false, .. } => LIKE,
        Expr::InList {
            list,
            negated: false,
            ..
        } => (EQUALITY * list.len() as f64).min(OTHER),
        Expr::IsNull { negated: false, .. } => EQUALITY,
        Expr::Unary {
            op: UnaryOp::Not,
            expr,
            ..
        } => 1.0 - selectivity(expr),
        _ => OTHER,
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
            match access {
                Access::PrimaryKey(_) => 1.0,
                _ => base * filter.as_ref().map_or(1.0, selectivity),
            }
        }
        Plan::System { .. } => 100.0,
        Plan::Values { rows, .. } => rows.len() as f64,
        Plan::Series {
            start, stop, step, ..
        } => series_rows(start, stop, step),
        Plan::Filter { input, predicate } => rows(input, catalog) * selectivity(predicate),
        Plan::Project { input, .. } | Plan::Sort { input, .. } | Plan::Distinct { input } => {
            rows(input, catalog)
        }
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
