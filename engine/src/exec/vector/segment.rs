//! Column segments as batches: zero-copy slices of a segment's Arrow arrays, and zone-map
//! pruning of a scan's filter.
//!
//! Must never copy a column the representations share, nor prune a segment a row of which
//! could satisfy the filter.

use super::data::{NumericVector, Scale, Vector};
use crate::EngineError;
use crate::exec::ops::compare;
use arrow_array::Array;
use omendb_planner::{BinOp, Expr};
use omendb_storage::segment::{Column, ZoneMap};
use omendb_storage::types::{DataType, Value};
use std::cmp::Ordering;

/// Rows `offset..offset + len` of a segment column as a batch vector.
pub fn vector_of(col: &Column, offset: usize, len: usize) -> Result<Vector, EngineError> {
    Ok(match col {
        Column::Bool(a) => Vector::Bool(a.slice(offset, len)),
        Column::Int16(a) => Vector::Int16(a.slice(offset, len)),
        Column::Int32(a) => Vector::Int32(a.slice(offset, len)),
        Column::Int64(a) => Vector::Int64(a.slice(offset, len)),
        Column::Float32(a) => Vector::Float32(a.slice(offset, len)),
        Column::Float64(a) => Vector::Float64(a.slice(offset, len)),
        Column::Numeric {
            mantissas,
            scale,
            scales,
        } => Vector::Numeric(NumericVector {
            array: mantissas.slice(offset, len),
            scale: match scales {
                None => Scale::Uniform(*scale),
                Some(s) => Scale::PerRow(s[offset..offset + len].into()),
            },
        }),
        Column::Numeric64 { mantissas, scale } => {
            // Batches carry 128-bit mantissas; widening 2048 values is cheap next to holding
            // every segment's mantissas at twice the size.
            let wide: Vec<i128> = mantissas.values()[offset..offset + len]
                .iter()
                .map(|&m| i128::from(m))
                .collect();
            let nulls = mantissas.nulls().map(|n| n.slice(offset, len));
            Vector::Numeric(NumericVector::new(wide, nulls, Scale::Uniform(*scale))?)
        }
        Column::Text(_) | Column::TextDict { .. } => {
            Vector::Text(col.text_rows(offset, len).ok_or_else(|| {
                EngineError::Internal(format!("text rows {offset}+{len} of a segment column"))
            })?)
        }
        Column::Date(a) => Vector::Date(a.slice(offset, len)),
        Column::Timestamp(a) => Vector::Timestamp(a.slice(offset, len)),
        Column::TimestampTz(a) => Vector::TimestampTz(a.slice(offset, len)),
        Column::Bytea(_) | Column::Interval { .. } => {
            return Err(EngineError::Internal(
                "bytea and interval columns have no vector form".into(),
            ));
        }
    })
}

/// Whether some row of a segment with these zone maps could make `filter` TRUE. Looks at the
/// top-level conjuncts of the form `column op constant`; anything else may match.
pub fn may_match(filter: &Expr, zones: &[ZoneMap]) -> bool {
    match filter {
        Expr::Binary {
            op: BinOp::And,
            left,
            right,
            ..
        } => may_match(left, zones) && may_match(right, zones),
        Expr::Binary {
            op, left, right, ..
        } if op.is_comparison() => match (left.as_ref(), right.as_ref()) {
            (Expr::Column { index, ty }, Expr::Literal { value, .. }) => {
                column_may_match(zones.get(*index), *ty, *op, value)
            }
            (Expr::Literal { value, .. }, Expr::Column { index, ty }) => {
                column_may_match(zones.get(*index), *ty, op.flipped(), value)
            }
            _ => true,
        },
        _ => true,
    }
}

fn column_may_match(zone: Option<&ZoneMap>, ty: DataType, op: BinOp, value: &Value) -> bool {
    let Some(zone) = zone else {
        return true;
    };
    // char(n) compares without trailing blanks, which byte-ordered zone maps do not model.
    if matches!(ty, DataType::Char(_)) || value.is_null() {
        return true;
    }
    let (Some(min), Some(max)) = (&zone.min, &zone.max) else {
        // Every row NULL: no comparison is TRUE.
        return false;
    };
    let (Some(lo), Some(hi)) = (compare(min, value), compare(max, value)) else {
        return true;
    };
    match op {
        BinOp::Eq => lo != Ordering::Greater && hi != Ordering::Less,
        BinOp::Lt => lo == Ordering::Less,
        BinOp::LtEq => lo != Ordering::Greater,
        BinOp::Gt => hi == Ordering::Greater,
        BinOp::GtEq => hi != Ordering::Less,
        // `<>` fails only when every row equals the constant.
        BinOp::NotEq => !(lo == Ordering::Equal && hi == Ordering::Equal),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(min: i64, max: i64) -> ZoneMap {
        ZoneMap {
            min: Some(Value::Int64(min)),
            max: Some(Value::Int64(max)),
            nulls: 0,
        }
    }

    fn cmp(op: BinOp, v: i64) -> Expr {
        Expr::Binary {
            op,
            left: Box::new(Expr::Column {
                index: 0,
                ty: DataType::Int64,
            }),
            right: Box::new(Expr::Literal {
                value: Value::Int64(v),
                ty: DataType::Int64,
            }),
            ty: DataType::Bool,
        }
    }

    #[test]
    fn prunes_exactly_the_impossible_ranges() {
        let z = [zone(10, 20)];
        let cases = [
            (BinOp::Eq, 9, false),
            (BinOp::Eq, 10, true),
            (BinOp::Eq, 20, true),
            (BinOp::Eq, 21, false),
            (BinOp::Lt, 10, false),
            (BinOp::Lt, 11, true),
            (BinOp::LtEq, 10, true),
            (BinOp::Gt, 20, false),
            (BinOp::Gt, 19, true),
            (BinOp::GtEq, 20, true),
            (BinOp::GtEq, 21, false),
            (BinOp::NotEq, 15, true),
        ];
        for (op, v, expected) in cases {
            assert_eq!(may_match(&cmp(op, v), &z), expected, "{op:?} {v}");
        }
        assert!(!may_match(&cmp(BinOp::NotEq, 7), &[zone(7, 7)]));
        let both = Expr::Binary {
            op: BinOp::And,
            left: Box::new(cmp(BinOp::Gt, 5)),
            right: Box::new(cmp(BinOp::Lt, 10)),
            ty: DataType::Bool,
        };
        assert!(!may_match(&both, &z));
        let all_null = ZoneMap {
            min: None,
            max: None,
            nulls: 3,
        };
        assert!(!may_match(&cmp(BinOp::Eq, 1), &[all_null]));
    }
}
