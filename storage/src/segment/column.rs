//! One column of a segment as Arrow arrays, in exactly the layout the engine's vectorized
//! executor uses, so a scan wraps segment arrays without copying.
//!
//! Dates are `Date32Array`s of *days since 2000-01-01* and timestamps
//! `TimestampMicrosecondArray`s of *µs since 2000-01-01* (PostgreSQL's epoch, as `Value` holds
//! them) — not Arrow's 1970 epoch: never hand these arrays to an Arrow kernel that interprets
//! dates. `char(n)` values are stored blank-padded, as the row store holds them. Values under a
//! NULL are unspecified. Must never hold a value whose `Value` form differs from what the row
//! store would hold.

use crate::types::{DataType, Interval, Numeric, Value};
use arrow_array::{
    Array, BinaryArray, BooleanArray, Date32Array, Decimal128Array, Float32Array, Float64Array,
    Int16Array, Int32Array, Int64Array, StringArray, TimestampMicrosecondArray,
};
use arrow_buffer::NullBuffer;
use std::sync::Arc;

/// One column's values.
#[derive(Debug, Clone)]
pub enum Column {
    Bool(BooleanArray),
    Int16(Int16Array),
    Int32(Int32Array),
    Int64(Int64Array),
    Float32(Float32Array),
    Float64(Float64Array),
    /// Mantissas (precision 38). `scales: None` = every row has scale `scale` (also the array's
    /// declared scale); `Some` = a scale per row (unconstrained numeric), `scale` is then 0.
    Numeric {
        mantissas: Decimal128Array,
        scale: u8,
        scales: Option<Arc<[u8]>>,
    },
    /// text, varchar, char(n) (blank-padded).
    Text(StringArray),
    Bytea(BinaryArray),
    Date(Date32Array),
    Timestamp(TimestampMicrosecondArray),
    TimestampTz(TimestampMicrosecondArray),
    /// The three parts share one validity: `months`' is authoritative (the builder and the
    /// decoder give all three the same `NullBuffer`).
    Interval {
        months: Int32Array,
        days: Int32Array,
        micros: Int64Array,
    },
}

impl Column {
    pub fn len(&self) -> usize {
        self.array().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The array that carries the column's length and validity.
    fn array(&self) -> &dyn Array {
        match self {
            Column::Bool(a) => a,
            Column::Int16(a) => a,
            Column::Int32(a) => a,
            Column::Int64(a) => a,
            Column::Float32(a) => a,
            Column::Float64(a) => a,
            Column::Numeric { mantissas, .. } => mantissas,
            Column::Text(a) => a,
            Column::Bytea(a) => a,
            Column::Date(a) => a,
            Column::Timestamp(a) | Column::TimestampTz(a) => a,
            Column::Interval { months, .. } => months,
        }
    }

    /// Validity: `None` when no row is NULL.
    pub fn nulls(&self) -> Option<&NullBuffer> {
        self.array().nulls().filter(|n| n.null_count() > 0)
    }

    pub fn null_count(&self) -> usize {
        self.nulls().map_or(0, NullBuffer::null_count)
    }

    pub fn is_null(&self, i: usize) -> bool {
        self.nulls().is_some_and(|n| n.is_null(i))
    }

    /// The value of row `i` as the row store holds it. Panics if `i >= len()`.
    pub fn value(&self, i: usize) -> Value {
        if self.is_null(i) {
            return Value::Null;
        }
        match self {
            Column::Bool(a) => Value::Bool(a.value(i)),
            Column::Int16(a) => Value::Int16(a.value(i)),
            Column::Int32(a) => Value::Int32(a.value(i)),
            Column::Int64(a) => Value::Int64(a.value(i)),
            Column::Float32(a) => Value::Float32(a.value(i)),
            Column::Float64(a) => Value::Float64(a.value(i)),
            Column::Numeric {
                mantissas,
                scale,
                scales,
            } => {
                let s = scales.as_ref().map_or(*scale, |s| s[i]);
                Value::Numeric(Numeric::new(mantissas.value(i), s))
            }
            Column::Text(a) => Value::Text(a.value(i).to_string()),
            Column::Bytea(a) => Value::Bytea(a.value(i).to_vec()),
            Column::Date(a) => Value::Date(a.value(i)),
            Column::Timestamp(a) => Value::Timestamp(a.value(i)),
            Column::TimestampTz(a) => Value::TimestampTz(a.value(i)),
            Column::Interval {
                months,
                days,
                micros,
            } => Value::Interval(Interval {
                months: months.value(i),
                days: days.value(i),
                micros: micros.value(i),
            }),
        }
    }

    /// Rows `offset .. offset + len`. Zero-copy except for per-row numeric scales (copied).
    pub fn slice(&self, offset: usize, len: usize) -> Column {
        match self {
            Column::Bool(a) => Column::Bool(a.slice(offset, len)),
            Column::Int16(a) => Column::Int16(a.slice(offset, len)),
            Column::Int32(a) => Column::Int32(a.slice(offset, len)),
            Column::Int64(a) => Column::Int64(a.slice(offset, len)),
            Column::Float32(a) => Column::Float32(a.slice(offset, len)),
            Column::Float64(a) => Column::Float64(a.slice(offset, len)),
            Column::Numeric {
                mantissas,
                scale,
                scales,
            } => Column::Numeric {
                mantissas: mantissas.slice(offset, len),
                scale: *scale,
                scales: scales.as_ref().map(|s| Arc::from(&s[offset..offset + len])),
            },
            Column::Text(a) => Column::Text(a.slice(offset, len)),
            Column::Bytea(a) => Column::Bytea(a.slice(offset, len)),
            Column::Date(a) => Column::Date(a.slice(offset, len)),
            Column::Timestamp(a) => Column::Timestamp(a.slice(offset, len)),
            Column::TimestampTz(a) => Column::TimestampTz(a.slice(offset, len)),
            Column::Interval {
                months,
                days,
                micros,
            } => Column::Interval {
                months: months.slice(offset, len),
                days: days.slice(offset, len),
                micros: micros.slice(offset, len),
            },
        }
    }

    /// The rows at `indices`, in that order (a bulk load sorting its rows by key); `None` if
    /// an index is out of range.
    pub fn take(&self, indices: &[u32]) -> Option<Column> {
        if indices.iter().any(|&i| i as usize >= self.len()) {
            return None;
        }
        let idx = arrow_array::UInt32Array::from(indices.to_vec());
        Some(match self {
            Column::Bool(a) => Column::Bool(take_as(a, &idx)?),
            Column::Int16(a) => Column::Int16(take_as(a, &idx)?),
            Column::Int32(a) => Column::Int32(take_as(a, &idx)?),
            Column::Int64(a) => Column::Int64(take_as(a, &idx)?),
            Column::Float32(a) => Column::Float32(take_as(a, &idx)?),
            Column::Float64(a) => Column::Float64(take_as(a, &idx)?),
            Column::Numeric {
                mantissas,
                scale,
                scales,
            } => Column::Numeric {
                mantissas: take_as(mantissas, &idx)?,
                scale: *scale,
                scales: scales
                    .as_ref()
                    .map(|s| indices.iter().map(|&i| s[i as usize]).collect()),
            },
            Column::Text(a) => Column::Text(take_as(a, &idx)?),
            Column::Bytea(a) => Column::Bytea(take_as(a, &idx)?),
            Column::Date(a) => Column::Date(take_as(a, &idx)?),
            Column::Timestamp(a) => Column::Timestamp(take_as(a, &idx)?),
            Column::TimestampTz(a) => Column::TimestampTz(take_as(a, &idx)?),
            Column::Interval {
                months,
                days,
                micros,
            } => Column::Interval {
                months: take_as(months, &idx)?,
                days: take_as(days, &idx)?,
                micros: take_as(micros, &idx)?,
            },
        })
    }

    /// The name of this column's physical representation, for error messages.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Column::Bool(_) => "bool",
            Column::Int16(_) => "int16",
            Column::Int32(_) => "int32",
            Column::Int64(_) => "int64",
            Column::Float32(_) => "float32",
            Column::Float64(_) => "float64",
            Column::Numeric { .. } => "numeric",
            Column::Text(_) => "text",
            Column::Bytea(_) => "bytea",
            Column::Date(_) => "date",
            Column::Timestamp(_) => "timestamp",
            Column::TimestampTz(_) => "timestamptz",
            Column::Interval { .. } => "interval",
        }
    }

    /// Whether this column can hold values of SQL type `ty`.
    pub fn holds(&self, ty: DataType) -> bool {
        matches!(
            (self, ty),
            (Column::Bool(_), DataType::Bool)
                | (Column::Int16(_), DataType::Int16)
                | (Column::Int32(_), DataType::Int32)
                | (Column::Int64(_), DataType::Int64)
                | (Column::Float32(_), DataType::Float32)
                | (Column::Float64(_), DataType::Float64)
                | (Column::Numeric { .. }, DataType::Numeric { .. })
                | (
                    Column::Text(_),
                    DataType::Text | DataType::Varchar(_) | DataType::Char(_)
                )
                | (Column::Bytea(_), DataType::Bytea)
                | (Column::Date(_), DataType::Date)
                | (Column::Timestamp(_), DataType::Timestamp)
                | (Column::TimestampTz(_), DataType::TimestampTz)
                | (Column::Interval { .. }, DataType::Interval)
        )
    }

    /// Internal consistency the enum cannot express: per-row scales and interval parts as long
    /// as the column.
    pub(crate) fn is_consistent(&self) -> bool {
        match self {
            Column::Numeric {
                mantissas, scales, ..
            } => scales.as_ref().is_none_or(|s| s.len() == mantissas.len()),
            Column::Interval {
                months,
                days,
                micros,
            } => months.len() == days.len() && months.len() == micros.len(),
            _ => true,
        }
    }
}

/// Arrow's take kernel, typed back.
fn take_as<A: Array + Clone + 'static>(a: &A, idx: &arrow_array::UInt32Array) -> Option<A> {
    arrow_select::take::take(a, idx, None)
        .ok()
        .and_then(|r| r.as_any().downcast_ref::<A>().cloned())
}
