//! Structural equality of expressions, for evaluating a repeated subexpression once per batch.
//!
//! Conservative: only the node kinds worth sharing (columns, constants, casts, operators)
//! compare; anything else is never "the same", so it is simply evaluated again.

use omendb_planner::Expr;
use omendb_storage::types::Value;

/// Whether `a` and `b` compute the same values over any row.
pub fn same(a: &Expr, b: &Expr) -> bool {
    match (a, b) {
        (Expr::Column { index: i, ty: t }, Expr::Column { index: j, ty: u }) => i == j && t == u,
        (Expr::Literal { value: v, ty: t }, Expr::Literal { value: w, ty: u }) => {
            t == u && same_value(v, w)
        }
        (Expr::Cast { expr: x, ty: t }, Expr::Cast { expr: y, ty: u }) => t == u && same(x, y),
        (
            Expr::Unary {
                op: o,
                expr: x,
                ty: t,
            },
            Expr::Unary {
                op: p,
                expr: y,
                ty: u,
            },
        ) => o == p && t == u && same(x, y),
        (
            Expr::Binary {
                op: o,
                left: l1,
                right: r1,
                ty: t,
            },
            Expr::Binary {
                op: p,
                left: l2,
                right: r2,
                ty: u,
            },
        ) => o == p && t == u && same(l1, l2) && same(r1, r2),
        _ => false,
    }
}

/// Identical values (same variant, same representation: `1.0` is not `1.00`).
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int16(x), Value::Int16(y)) => x == y,
        (Value::Int32(x), Value::Int32(y)) => x == y,
        (Value::Int64(x), Value::Int64(y)) => x == y,
        (Value::Numeric(x), Value::Numeric(y)) => {
            x.mantissa() == y.mantissa() && x.scale() == y.scale()
        }
        (Value::Text(x), Value::Text(y)) => x == y,
        (Value::Date(x), Value::Date(y)) => x == y,
        (Value::Timestamp(x), Value::Timestamp(y))
        | (Value::TimestampTz(x), Value::TimestampTz(y)) => x == y,
        _ => false,
    }
}
