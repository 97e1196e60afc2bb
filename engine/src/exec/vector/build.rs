//! Building vectors from row values (row-store scans, per-row fallbacks) and turning batches back
//! into rows for the client.
//!
//! A value whose variant does not match the builder's kind is an internal error, never a guess:
//! the statement then re-runs on the row executor.

use super::data::{Batch, Kind, NumericVector, Vector, nulls_from_valid};
use crate::EngineError;
use arrow_array::StringArray;
use arrow_array::builder::StringBuilder;
use arrow_buffer::{BooleanBuffer, ScalarBuffer};
use omendb_storage::types::Value;

/// Accumulates one column's values.
pub enum VectorBuilder {
    Bool(Vec<bool>, Vec<bool>),
    Int16(Vec<i16>, Vec<bool>),
    Int32(Vec<i32>, Vec<bool>),
    Int64(Vec<i64>, Vec<bool>),
    Float32(Vec<f32>, Vec<bool>),
    Float64(Vec<f64>, Vec<bool>),
    Numeric(Vec<i128>, Vec<u8>, Vec<bool>),
    Text(StringBuilder),
    Date(Vec<i32>, Vec<bool>),
    Timestamp(Vec<i64>, Vec<bool>),
    TimestampTz(Vec<i64>, Vec<bool>),
}

fn mismatch(kind: &str, v: &Value) -> EngineError {
    EngineError::Internal(format!("vector of {kind} given a {} value", v.data_type()))
}

macro_rules! push_prim {
    ($vals:expr, $valid:expr, $v:expr, $pat:path, $kind:expr) => {
        match $v {
            Value::Null => {
                $vals.push(Default::default());
                $valid.push(false);
            }
            $pat(x) => {
                $vals.push(*x);
                $valid.push(true);
            }
            other => return Err(mismatch($kind, other)),
        }
    };
}

impl VectorBuilder {
    pub fn new(kind: Kind, capacity: usize) -> VectorBuilder {
        match kind {
            Kind::Bool => {
                VectorBuilder::Bool(Vec::with_capacity(capacity), Vec::with_capacity(capacity))
            }
            Kind::Int16 => {
                VectorBuilder::Int16(Vec::with_capacity(capacity), Vec::with_capacity(capacity))
            }
            Kind::Int32 => {
                VectorBuilder::Int32(Vec::with_capacity(capacity), Vec::with_capacity(capacity))
            }
            Kind::Int64 => {
                VectorBuilder::Int64(Vec::with_capacity(capacity), Vec::with_capacity(capacity))
            }
            Kind::Float32 => {
                VectorBuilder::Float32(Vec::with_capacity(capacity), Vec::with_capacity(capacity))
            }
            Kind::Float64 => {
                VectorBuilder::Float64(Vec::with_capacity(capacity), Vec::with_capacity(capacity))
            }
            Kind::Numeric => VectorBuilder::Numeric(
                Vec::with_capacity(capacity),
                Vec::with_capacity(capacity),
                Vec::with_capacity(capacity),
            ),
            Kind::Text => VectorBuilder::Text(StringBuilder::with_capacity(capacity, capacity * 8)),
            Kind::Date => {
                VectorBuilder::Date(Vec::with_capacity(capacity), Vec::with_capacity(capacity))
            }
            Kind::Timestamp => {
                VectorBuilder::Timestamp(Vec::with_capacity(capacity), Vec::with_capacity(capacity))
            }
            Kind::TimestampTz => VectorBuilder::TimestampTz(
                Vec::with_capacity(capacity),
                Vec::with_capacity(capacity),
            ),
        }
    }

    pub fn push(&mut self, v: &Value) -> Result<(), EngineError> {
        match self {
            VectorBuilder::Bool(vals, valid) => push_prim!(vals, valid, v, Value::Bool, "boolean"),
            VectorBuilder::Int16(vals, valid) => push_prim!(vals, valid, v, Value::Int16, "int2"),
            VectorBuilder::Int32(vals, valid) => push_prim!(vals, valid, v, Value::Int32, "int4"),
            VectorBuilder::Int64(vals, valid) => push_prim!(vals, valid, v, Value::Int64, "int8"),
            VectorBuilder::Float32(vals, valid) => {
                push_prim!(vals, valid, v, Value::Float32, "float4")
            }
            VectorBuilder::Float64(vals, valid) => {
                push_prim!(vals, valid, v, Value::Float64, "float8")
            }
            VectorBuilder::Date(vals, valid) => push_prim!(vals, valid, v, Value::Date, "date"),
            VectorBuilder::Timestamp(vals, valid) => {
                push_prim!(vals, valid, v, Value::Timestamp, "timestamp")
            }
            VectorBuilder::TimestampTz(vals, valid) => {
                push_prim!(vals, valid, v, Value::TimestampTz, "timestamptz")
            }
            VectorBuilder::Numeric(vals, scales, valid) => match v {
                Value::Null => {
                    vals.push(0);
                    scales.push(0);
                    valid.push(false);
                }
                Value::Numeric(n) => {
                    vals.push(n.mantissa());
                    scales.push(n.scale());
                    valid.push(true);
                }
                other => return Err(mismatch("numeric", other)),
            },
            VectorBuilder::Text(b) => match v {
                Value::Null => b.append_null(),
                Value::Text(s) => b.append_value(s),
                other => return Err(mismatch("text", other)),
            },
        }
        Ok(())
    }

    pub fn finish(self) -> Result<Vector, EngineError> {
        fn prim<T: arrow_array::ArrowPrimitiveType>(
            vals: Vec<T::Native>,
            valid: &[bool],
        ) -> arrow_array::PrimitiveArray<T> {
            arrow_array::PrimitiveArray::<T>::new(ScalarBuffer::from(vals), nulls_from_valid(valid))
        }
        use arrow_array::types::*;
        Ok(match self {
            VectorBuilder::Bool(vals, valid) => Vector::Bool(arrow_array::BooleanArray::new(
                BooleanBuffer::from(vals.as_slice()),
                nulls_from_valid(&valid),
            )),
            VectorBuilder::Int16(v, n) => Vector::Int16(prim::<Int16Type>(v, &n)),
            VectorBuilder::Int32(v, n) => Vector::Int32(prim::<Int32Type>(v, &n)),
            VectorBuilder::Int64(v, n) => Vector::Int64(prim::<Int64Type>(v, &n)),
            VectorBuilder::Float32(v, n) => Vector::Float32(prim::<Float32Type>(v, &n)),
            VectorBuilder::Float64(v, n) => Vector::Float64(prim::<Float64Type>(v, &n)),
            VectorBuilder::Date(v, n) => Vector::Date(prim::<Date32Type>(v, &n)),
            VectorBuilder::Timestamp(v, n) => {
                Vector::Timestamp(prim::<TimestampMicrosecondType>(v, &n))
            }
            VectorBuilder::TimestampTz(v, n) => {
                Vector::TimestampTz(prim::<TimestampMicrosecondType>(v, &n))
            }
            VectorBuilder::Numeric(v, s, n) => {
                Vector::Numeric(NumericVector::from_parts(v, nulls_from_valid(&n), s)?)
            }
            VectorBuilder::Text(mut b) => Vector::Text(finish_text(&mut b)?),
        })
    }
}

/// Arrow's string builder panics past 2 GiB of text in one array; refuse instead.
fn finish_text(b: &mut StringBuilder) -> Result<StringArray, EngineError> {
    if b.values_slice().len() > i32::MAX as usize {
        return Err(EngineError::sql(
            "54000",
            "string column of a batch exceeds 2 GiB",
        ));
    }
    Ok(b.finish())
}

/// Every row of the batches, in order.
pub fn to_rows(batches: &[Batch]) -> Vec<Vec<Value>> {
    let total = batches.iter().map(|b| b.len).sum();
    let mut rows = Vec::with_capacity(total);
    for b in batches {
        for i in 0..b.len {
            rows.push(b.row(i));
        }
    }
    rows
}

/// Batches of the given column kinds from rows (used for `VALUES`-like inputs and tests).
pub fn from_rows(rows: &[Vec<Value>], kinds: &[Kind]) -> Result<Vec<Batch>, EngineError> {
    let mut out = Vec::new();
    for chunk in rows.chunks(super::data::BATCH_SIZE) {
        let mut builders: Vec<_> = kinds
            .iter()
            .map(|k| VectorBuilder::new(*k, chunk.len()))
            .collect();
        for row in chunk {
            for (b, v) in builders.iter_mut().zip(row) {
                b.push(v)?;
            }
        }
        let columns = builders
            .into_iter()
            .map(VectorBuilder::finish)
            .collect::<Result<Vec<_>, _>>()?;
        out.push(Batch::new(columns, chunk.len()));
    }
    Ok(out)
}
