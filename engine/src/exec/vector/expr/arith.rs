//! `+ - * / %` and unary minus with the row executor's overflow, division-by-zero and numeric
//! scale rules (`ops::arithmetic`).

use super::side::{
    Side, both, both_nulls, date_side, f32_side, f64_side, i16_side, i32_side, i64_side,
    is_null_scalar, numeric_side,
};
use super::{Operand, all_null};
use crate::EngineError;
use crate::exec::vector::data::{Kind, NumericVector, Scale, Vector};
use crate::exec::vector::kernels::arith::{
    ArithOp, Int, f64_arith, int_arith, int_row_ok, numeric_arith, numeric_arith_bounded,
};
use arrow_array::types::{Date32Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type};
use arrow_array::{ArrowPrimitiveType, PrimitiveArray};
use arrow_buffer::{NullBuffer, ScalarBuffer};
use omendb_planner::BinOp;
use omendb_storage::types::{DataType, Numeric, TypeError, Value};

fn arith_op(op: BinOp) -> Option<ArithOp> {
    Some(match op {
        BinOp::Add => ArithOp::Add,
        BinOp::Sub => ArithOp::Sub,
        BinOp::Mul => ArithOp::Mul,
        BinOp::Div => ArithOp::Div,
        BinOp::Mod => ArithOp::Mod,
        _ => return None,
    })
}

fn out_of_range(what: &str) -> EngineError {
    EngineError::Type(TypeError::OutOfRange(format!("{what} out of range")))
}

/// `l op r`, or `None` when no kernel handles these operand types (the row evaluator does).
pub fn kernel(
    op: BinOp,
    (lt, rt, ty): (DataType, DataType, DataType),
    l: &Operand,
    r: &Operand,
    len: usize,
) -> Result<Option<Vector>, EngineError> {
    let Some(aop) = arith_op(op) else {
        return Ok(None);
    };
    let (Some(lk), Some(rk), Some(kind)) = (Kind::of(lt), Kind::of(rt), Kind::of(ty)) else {
        return Ok(None);
    };
    if is_null_scalar(l) || is_null_scalar(r) {
        return all_null(kind, len).map(Some);
    }
    let nulls = both_nulls(l, r);
    macro_rules! ints {
        ($side:ident, $arrow:ty, $variant:ident, $name:expr) => {
            if let (Some(a), Some(b)) = ($side(l), $side(r)) {
                let mut out = Vec::new();
                let bad = both!(a, b, |x, y| int_arith(aop, x, y, len, &mut out));
                if bad {
                    recheck(aop, a, b, nulls.as_ref(), len, $name)?;
                }
                return Ok(Some(Vector::$variant(prim::<$arrow>(out, nulls))));
            }
        };
    }
    match (lk, rk, kind) {
        (Kind::Int32, Kind::Int32, Kind::Int32) => ints!(i32_side, Int32Type, Int32, "integer"),
        (Kind::Int64, Kind::Int64, Kind::Int64) => ints!(i64_side, Int64Type, Int64, "bigint"),
        (Kind::Int16, Kind::Int16, Kind::Int16) => ints!(i16_side, Int16Type, Int16, "smallint"),
        (Kind::Float64, Kind::Float64, Kind::Float64) if aop != ArithOp::Mod => {
            if let (Some(a), Some(b)) = (f64_side(l), f64_side(r)) {
                let mut out = Vec::new();
                let bad = both!(a, b, |x, y| f64_arith(aop, x, y, len, &mut out));
                if bad && any_valid_row(nulls.as_ref(), len, |i| float_fails(aop, a, b, i)) {
                    return Err(float_error(aop));
                }
                return Ok(Some(Vector::Float64(prim::<Float64Type>(out, nulls))));
            }
        }
        (Kind::Float32, Kind::Float32, Kind::Float32) if aop != ArithOp::Mod => {
            return float32(aop, l, r, nulls, len);
        }
        (Kind::Numeric, Kind::Numeric, Kind::Numeric) => {
            return numeric(aop, l, r, nulls, len).map(Some);
        }
        (Kind::Date, Kind::Int32, Kind::Date) | (Kind::Int32, Kind::Date, Kind::Date)
            if matches!(aop, ArithOp::Add | ArithOp::Sub) =>
        {
            let (d, n) = if lk == Kind::Date { (l, r) } else { (r, l) };
            if lk == Kind::Int32 && aop == ArithOp::Sub {
                return Ok(None);
            }
            if let (Some(a), Some(b)) = (date_side(d), i32_side(n)) {
                let mut out = Vec::new();
                let bad = both!(a, b, |x, y| int_arith(aop, x, y, len, &mut out));
                if bad {
                    recheck(aop, a, b, nulls.as_ref(), len, "date")?;
                }
                return Ok(Some(Vector::Date(prim::<Date32Type>(out, nulls))));
            }
        }
        (Kind::Date, Kind::Date, Kind::Int32) if aop == ArithOp::Sub => {
            if let (Some(a), Some(b)) = (date_side(l), date_side(r)) {
                // The row executor subtracts without a check; two dates always fit.
                let out: Vec<i32> = both!(a, b, |x, y| (0..len)
                    .map(|i| {
                        use crate::exec::vector::kernels::Src;
                        x.at(i).wrapping_sub(y.at(i))
                    })
                    .collect());
                return Ok(Some(Vector::Int32(prim::<Int32Type>(out, nulls))));
            }
        }
        _ => {}
    }
    Ok(None)
}

fn prim<T: ArrowPrimitiveType>(v: Vec<T::Native>, nulls: Option<NullBuffer>) -> PrimitiveArray<T> {
    PrimitiveArray::new(ScalarBuffer::from(v), nulls)
}

fn at<T: Copy>(s: Side<'_, T>, i: usize) -> T {
    match s {
        Side::Slice(v) => v[i],
        Side::Const(x) => x,
    }
}

fn any_valid_row(nulls: Option<&NullBuffer>, len: usize, fails: impl Fn(usize) -> bool) -> bool {
    (0..len).any(|i| nulls.is_none_or(|n| n.is_valid(i)) && fails(i))
}

/// A flagged integer batch: an error only if a row that is not NULL fails.
fn recheck<T: Int>(
    op: ArithOp,
    a: Side<'_, T>,
    b: Side<'_, T>,
    nulls: Option<&NullBuffer>,
    len: usize,
    name: &str,
) -> Result<(), EngineError> {
    if any_valid_row(nulls, len, |i| !int_row_ok(op, at(a, i), at(b, i))) {
        let zero = (0..len).any(|i| {
            nulls.is_none_or(|n| n.is_valid(i))
                && matches!(op, ArithOp::Div | ArithOp::Mod)
                && at(b, i) == T::ZERO
        });
        return Err(if zero {
            TypeError::DivisionByZero.into()
        } else {
            out_of_range(name)
        });
    }
    Ok(())
}

fn float_fails(op: ArithOp, a: Side<'_, f64>, b: Side<'_, f64>, i: usize) -> bool {
    let (x, y) = (at(a, i), at(b, i));
    let r = match op {
        ArithOp::Add => x + y,
        ArithOp::Sub => x - y,
        ArithOp::Mul => x * y,
        _ if y == 0.0 => return true,
        _ => x / y,
    };
    r.is_infinite() && x.is_finite() && y.is_finite()
}

fn float_error(op: ArithOp) -> EngineError {
    if matches!(op, ArithOp::Div) {
        // Either cause re-runs the statement on the row executor, which reports the exact one.
        return EngineError::Type(TypeError::DivisionByZero);
    }
    EngineError::Type(TypeError::OutOfRange("value out of range: overflow".into()))
}

/// float4 arithmetic is done in float8 and narrowed, as the row executor does.
fn float32(
    op: ArithOp,
    l: &Operand,
    r: &Operand,
    nulls: Option<NullBuffer>,
    len: usize,
) -> Result<Option<Vector>, EngineError> {
    let (Some(a), Some(b)) = (f32_side(l), f32_side(r)) else {
        return Ok(None);
    };
    let widen = |s: Side<'_, f32>| -> Vec<f64> { (0..len).map(|i| f64::from(at(s, i))).collect() };
    let (wa, wb) = (widen(a), widen(b));
    let mut wide = Vec::new();
    let bad = f64_arith(op, &wa[..], &wb[..], len, &mut wide);
    let narrow: Vec<f32> = wide.iter().map(|f| *f as f32).collect();
    let fails = |i: usize| {
        float_fails(op, Side::Slice(&wa), Side::Slice(&wb), i)
            || (narrow[i].is_infinite() && !wide[i].is_infinite())
    };
    if (bad || narrow.iter().any(|f| f.is_infinite())) && any_valid_row(nulls.as_ref(), len, fails)
    {
        return Err(float_error(op));
    }
    Ok(Some(Vector::Float32(prim::<Float32Type>(narrow, nulls))))
}

/// Numeric arithmetic: the i128 fast path for uniform scales (+ - *), value by value through
/// `Numeric` otherwise (quotients, mixed scales, results past 38 digits).
fn numeric(
    op: ArithOp,
    l: &Operand,
    r: &Operand,
    nulls: Option<NullBuffer>,
    len: usize,
) -> Result<Vector, EngineError> {
    if let (Some((a, sa)), Some((b, sb))) = (numeric_side(l), numeric_side(r)) {
        let plan = match op {
            ArithOp::Add | ArithOp::Sub => {
                let s = sa.max(sb);
                let fa = 10i128.pow(u32::from(s - sa));
                let fb = 10i128.pow(u32::from(s - sb));
                Some((s, fa, fb))
            }
            ArithOp::Mul if u32::from(sa) + u32::from(sb) <= u32::from(Numeric::MAX_SCALE) => {
                Some((sa + sb, 1, 1))
            }
            _ => None,
        };
        if let Some((scale, fa, fb)) = plan {
            let mut out = Vec::new();
            // Bounded operands need no per-row checks; otherwise each row is checked.
            let bad = both!(a, b, |x, y| !numeric_arith_bounded(
                op,
                (x, fa),
                (y, fb),
                len,
                &mut out
            ) && numeric_arith(
                op,
                (x, fa),
                (y, fb),
                len,
                &mut out
            ));
            if !bad {
                return Ok(Vector::Numeric(NumericVector::new(
                    out,
                    nulls,
                    Scale::Uniform(scale),
                )?));
            }
        }
    }
    numeric_by_value(op, l, r, nulls, len)
}

fn numeric_at(o: &Operand, i: usize) -> Numeric {
    match o {
        Operand::Vector(Vector::Numeric(n)) => n.numeric(i),
        Operand::Scalar(Value::Numeric(n)) => *n,
        _ => Numeric::new(0, 0),
    }
}

fn numeric_by_value(
    op: ArithOp,
    l: &Operand,
    r: &Operand,
    nulls: Option<NullBuffer>,
    len: usize,
) -> Result<Vector, EngineError> {
    let mut mantissas = Vec::with_capacity(len);
    let mut scales = Vec::with_capacity(len);
    for i in 0..len {
        if nulls.as_ref().is_some_and(|n| n.is_null(i)) {
            mantissas.push(0);
            scales.push(0);
            continue;
        }
        let (x, y) = (numeric_at(l, i), numeric_at(r, i));
        let v = match op {
            ArithOp::Add => x.checked_add(y),
            ArithOp::Sub => x.checked_sub(y),
            ArithOp::Mul => x.checked_mul(y),
            ArithOp::Div => x.checked_div(y),
            ArithOp::Mod => x.checked_rem(y),
        }?;
        mantissas.push(v.mantissa());
        scales.push(v.scale());
    }
    Ok(Vector::Numeric(NumericVector::from_parts(
        mantissas, nulls, scales,
    )?))
}

/// Unary minus, or `None` for types the row evaluator handles.
pub fn negate(ty: DataType, o: &Operand, len: usize) -> Result<Option<Vector>, EngineError> {
    let Some(kind) = Kind::of(ty) else {
        return Ok(None);
    };
    if is_null_scalar(o) {
        return all_null(kind, len).map(Some);
    }
    let Operand::Vector(v) = o else {
        return Ok(None);
    };
    let nulls = v.nulls().cloned();
    macro_rules! int_neg {
        ($a:expr, $arrow:ty, $variant:ident, $name:expr) => {{
            let vals = $a.values();
            let bad = vals.iter().enumerate().any(|(i, x)| {
                x.checked_neg().is_none() && nulls.as_ref().is_none_or(|n| n.is_valid(i))
            });
            if bad {
                return Err(out_of_range($name));
            }
            let out = vals.iter().map(|x| x.wrapping_neg()).collect();
            Vector::$variant(prim::<$arrow>(out, nulls))
        }};
    }
    Ok(Some(match v {
        Vector::Int16(a) => int_neg!(a, Int16Type, Int16, "smallint"),
        Vector::Int32(a) => int_neg!(a, Int32Type, Int32, "integer"),
        Vector::Int64(a) => int_neg!(a, Int64Type, Int64, "bigint"),
        Vector::Float64(a) => Vector::Float64(prim::<Float64Type>(
            a.values().iter().map(|x| -x).collect(),
            nulls,
        )),
        Vector::Float32(a) => Vector::Float32(prim::<Float32Type>(
            a.values().iter().map(|x| -x).collect(),
            nulls,
        )),
        Vector::Numeric(n) => Vector::Numeric(NumericVector::new(
            n.mantissas().iter().map(|m| -m).collect(),
            nulls,
            n.scale.clone(),
        )?),
        _ => return Ok(None),
    }))
}
