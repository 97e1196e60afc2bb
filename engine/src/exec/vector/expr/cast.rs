//! Casts between number types, and date to timestamp, without leaving the vector; every other
//! cast goes value by value through `Value::cast_from` (the bridge).

use super::side::is_null_scalar;
use super::{Operand, all_null};
use crate::EngineError;
use crate::exec::vector::data::{Kind, NumericVector, Scale, Vector};
use arrow_array::types::{Float64Type, Int16Type, Int32Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{ArrowPrimitiveType, PrimitiveArray};
use arrow_buffer::{NullBuffer, ScalarBuffer};
use omendb_storage::types::datetime::{
    DATE_INFINITY, DATE_NEG_INFINITY, MAX_TIMESTAMP, MICROS_PER_DAY, MIN_TIMESTAMP,
    TIMESTAMP_INFINITY, TIMESTAMP_NEG_INFINITY, date_to_timestamp,
};
use omendb_storage::types::{DataType, Numeric, TypeError};

fn prim<T: ArrowPrimitiveType>(v: Vec<T::Native>, nulls: Option<NullBuffer>) -> PrimitiveArray<T> {
    PrimitiveArray::new(ScalarBuffer::from(v), nulls)
}

/// `CAST(x AS to)` for the number casts, or `None` for the row evaluator.
pub fn kernel(
    from: DataType,
    to: DataType,
    o: &Operand,
    len: usize,
) -> Result<Option<Vector>, EngineError> {
    let Some(kind) = Kind::of(to) else {
        return Ok(None);
    };
    if is_null_scalar(o) {
        return all_null(kind, len).map(Some);
    }
    let Operand::Vector(v) = o else {
        return Ok(None);
    };
    if matches!(from, DataType::Char(_)) {
        return Ok(None);
    }
    let nulls = v.nulls().cloned();
    let ints: Option<Vec<i64>> = match v {
        Vector::Int16(a) => Some(a.values().iter().map(|x| i64::from(*x)).collect()),
        Vector::Int32(a) => Some(a.values().iter().map(|x| i64::from(*x)).collect()),
        Vector::Int64(a) => Some(a.values().to_vec()),
        _ => None,
    };
    if let Some(ints) = ints {
        return int_to(ints, to, nulls, len);
    }
    match (v, to) {
        (Vector::Numeric(n), DataType::Numeric { precision, scale }) => {
            Ok(Some(fit(n, precision, scale, nulls)?))
        }
        (Vector::Numeric(n), DataType::Float64) => {
            let out = (0..len).map(|i| n.numeric(i).to_f64()).collect();
            Ok(Some(Vector::Float64(prim::<Float64Type>(out, nulls))))
        }
        (Vector::Float64(a), DataType::Float64) => Ok(Some(Vector::Float64(a.clone()))),
        (Vector::Date(a), DataType::Timestamp) => date_to_ts(a.values(), nulls).map(Some),
        _ => Ok(None),
    }
}

/// Midnight of each date, as `datetime::date_to_timestamp` computes it: one multiply per row,
/// the rare infinite or out-of-range row found by a check of the whole batch.
fn date_to_ts(days: &[i32], nulls: Option<NullBuffer>) -> Result<Vector, EngineError> {
    let micros: Vec<i64> = days
        .iter()
        .map(|&d| match d {
            DATE_INFINITY => TIMESTAMP_INFINITY,
            DATE_NEG_INFINITY => TIMESTAMP_NEG_INFINITY,
            _ => i64::from(d) * MICROS_PER_DAY,
        })
        .collect();
    // Midnights of these days are inside the timestamp range (a branch-free check first).
    let (first, last) = (
        MIN_TIMESTAMP / MICROS_PER_DAY,
        MAX_TIMESTAMP / MICROS_PER_DAY,
    );
    let safe = |d: i32| (first..=last).contains(&i64::from(d));
    if !days.iter().fold(true, |ok, &d| ok & safe(d)) {
        let finite = |d: i32| d != DATE_INFINITY && d != DATE_NEG_INFINITY;
        let bad = (0..days.len()).find(|&i| finite(days[i]) && !safe(days[i]) && valid(&nulls, i));
        if let Some(i) = bad {
            // The row executor's error for that row.
            date_to_timestamp(days[i])?;
        }
    }
    Ok(Vector::Timestamp(prim::<TimestampMicrosecondType>(
        micros, nulls,
    )))
}

fn valid(nulls: &Option<NullBuffer>, i: usize) -> bool {
    nulls.as_ref().is_none_or(|n| n.is_valid(i))
}

fn int_to(
    ints: Vec<i64>,
    to: DataType,
    nulls: Option<NullBuffer>,
    len: usize,
) -> Result<Option<Vector>, EngineError> {
    macro_rules! narrow {
        ($t:ty, $arrow:ty, $variant:ident) => {{
            let bad = (0..len).any(|i| valid(&nulls, i) && <$t>::try_from(ints[i]).is_err());
            if bad {
                return Err(TypeError::OutOfRange(format!("{to} out of range")).into());
            }
            Vector::$variant(prim::<$arrow>(
                ints.iter().map(|x| *x as $t).collect(),
                nulls,
            ))
        }};
    }
    Ok(Some(match to {
        DataType::Int16 => narrow!(i16, Int16Type, Int16),
        DataType::Int32 => narrow!(i32, Int32Type, Int32),
        DataType::Int64 => Vector::Int64(prim::<Int64Type>(ints, nulls)),
        DataType::Float64 => Vector::Float64(prim::<Float64Type>(
            ints.iter().map(|x| *x as f64).collect(),
            nulls,
        )),
        DataType::Numeric {
            precision: None, ..
        } => Vector::Numeric(NumericVector::new(
            ints.iter().map(|x| i128::from(*x)).collect(),
            nulls,
            Scale::Uniform(0),
        )?),
        DataType::Numeric { precision, scale } => {
            let n = NumericVector::new(
                ints.iter().map(|x| i128::from(*x)).collect(),
                nulls.clone(),
                Scale::Uniform(0),
            )?;
            fit(&n, precision, scale, nulls)?
        }
        _ => return Ok(None),
    }))
}

/// `numeric(p, s)`: round and check precision value by value, as `Numeric::fit`.
fn fit(
    n: &NumericVector,
    precision: Option<u8>,
    scale: Option<u8>,
    nulls: Option<NullBuffer>,
) -> Result<Vector, EngineError> {
    let Some(p) = precision else {
        return Ok(Vector::Numeric(n.clone()));
    };
    let s = scale.unwrap_or(0);
    let len = n.array.len();
    let mut out = Vec::with_capacity(len);
    for i in 0..len {
        if !valid(&nulls, i) {
            out.push(0);
            continue;
        }
        out.push(Numeric::fit(n.numeric(i), p, s)?.mantissa());
    }
    Ok(Vector::Numeric(NumericVector::new(
        out,
        nulls,
        Scale::Uniform(s),
    )?))
}
