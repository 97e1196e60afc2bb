//! Three-valued logic (AND, OR, NOT, IS [NOT] NULL/TRUE/FALSE), IN lists and CASE.
//!
//! Booleans are two bitmaps, values and validity; values under a NULL are unspecified, so every
//! rule below is written to ignore them.

use super::compare;
use super::side::is_null_scalar;
use super::{Operand, all_null, operand_fits};
use crate::EngineError;
use crate::exec::vector::data::{Kind, Vector};
use crate::exec::vector::gather::choose;
use arrow_array::{Array, BooleanArray};
use arrow_buffer::{BooleanBuffer, NullBuffer};
use omendb_planner::{BinOp, Expr, UnaryOp};
use omendb_storage::types::{DataType, Value};

/// (values, validity) of a boolean operand.
fn bits(o: &Operand, len: usize) -> Option<(BooleanBuffer, BooleanBuffer)> {
    match o {
        Operand::Vector(Vector::Bool(a)) => {
            let valid = match a.nulls() {
                Some(n) => n.inner().clone(),
                None => BooleanBuffer::new_set(len),
            };
            Some((a.values().clone(), valid))
        }
        Operand::Scalar(Value::Bool(b)) => Some((
            if *b {
                BooleanBuffer::new_set(len)
            } else {
                BooleanBuffer::new_unset(len)
            },
            BooleanBuffer::new_set(len),
        )),
        Operand::Scalar(Value::Null) => {
            Some((BooleanBuffer::new_unset(len), BooleanBuffer::new_unset(len)))
        }
        _ => None,
    }
}

fn vector(values: BooleanBuffer, valid: BooleanBuffer) -> Vector {
    let nulls = NullBuffer::new(valid);
    Vector::Bool(BooleanArray::new(
        values,
        (nulls.null_count() > 0).then_some(nulls),
    ))
}

/// AND, OR, NOT, IS NULL, IS TRUE/FALSE.
pub fn kernel(e: &Expr, ops: &[Operand], len: usize) -> Result<Option<Vector>, EngineError> {
    Ok(match e {
        Expr::Binary { op, .. } => {
            let (Some((va, na)), Some((vb, nb))) = (bits(&ops[0], len), bits(&ops[1], len)) else {
                return Ok(None);
            };
            Some(if *op == BinOp::And {
                // Known when both are, or when either is a known FALSE.
                let valid = &(&(&na & &nb) | &(&na & &!&va)) | &(&nb & &!&vb);
                vector(&va & &vb, valid)
            } else {
                let valid = &(&(&na & &nb) | &(&na & &va)) | &(&nb & &vb);
                vector(&va | &vb, valid)
            })
        }
        Expr::Unary {
            op: UnaryOp::Not, ..
        } => bits(&ops[0], len).map(|(v, n)| vector(!&v, n)),
        Expr::IsNull { negated, .. } => {
            let valid = match &ops[0] {
                Operand::Vector(v) => match v.nulls() {
                    Some(n) => n.inner().clone(),
                    None => BooleanBuffer::new_set(len),
                },
                Operand::Scalar(s) if s.is_null() => BooleanBuffer::new_unset(len),
                Operand::Scalar(_) => BooleanBuffer::new_set(len),
            };
            let is_null = if *negated { valid } else { !&valid };
            Some(vector(is_null, BooleanBuffer::new_set(len)))
        }
        Expr::IsBool { value, negated, .. } => {
            let Some((v, n)) = bits(&ops[0], len) else {
                return Ok(None);
            };
            let matches = if *value { &v & &n } else { &!&v & &n };
            let out = if *negated { !&matches } else { matches };
            Some(vector(out, BooleanBuffer::new_set(len)))
        }
        _ => None,
    })
}

/// `x [NOT] IN (items)`: OR of the equalities (TRUE on a match, NULL if none matched and an item
/// or `x` is NULL), negated by three-valued NOT.
pub fn in_list(
    ty: DataType,
    ops: &[Operand],
    negated: bool,
    len: usize,
) -> Result<Option<Vector>, EngineError> {
    let (x, items) = (&ops[0], &ops[1..]);
    if is_null_scalar(x) {
        return all_null(Kind::Bool, len).map(Some);
    }
    let mut any = Operand::Scalar(Value::Bool(false));
    for item in items {
        let Some(eq) = compare::kernel(BinOp::Eq, ty, x, item, len)? else {
            return Ok(None);
        };
        let (Some((va, na)), Some((vb, nb))) = (bits(&any, len), bits(&Operand::Vector(eq), len))
        else {
            return Ok(None);
        };
        let valid = &(&(&na & &nb) | &(&na & &va)) | &(&nb & &vb);
        any = Operand::Vector(vector(&va | &vb, valid));
    }
    let Some((v, n)) = bits(&any, len) else {
        return Ok(None);
    };
    Ok(Some(if negated {
        vector(!&v, n)
    } else {
        vector(v, n)
    }))
}

/// Searched CASE: every branch evaluated, then the first WHEN that is TRUE picks per row.
pub fn case(ty: DataType, ops: &[Operand], len: usize) -> Result<Option<Vector>, EngineError> {
    let Some(kind) = Kind::of(ty) else {
        return Ok(None);
    };
    let pairs = ops.len() / 2;
    let otherwise = (ops.len() % 2 == 1).then(|| &ops[ops.len() - 1]);
    let results = ops.chunks(2).take(pairs).map(|p| &p[1]).chain(otherwise);
    if !results.clone().all(|o| operand_fits(o, kind)) {
        return Ok(None);
    }
    let mut out = match otherwise {
        Some(o) => o.clone().into_vector(kind, len)?,
        None => all_null(kind, len)?,
    };
    for pair in ops.chunks(2).take(pairs).rev() {
        let Some((v, n)) = bits(&pair[0], len) else {
            return Ok(None);
        };
        let then = pair[1].clone().into_vector(kind, len)?;
        out = choose(&(&v & &n), &then, &out)?;
    }
    Ok(Some(out))
}
