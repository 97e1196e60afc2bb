//! Column vectors and batches: Arrow arrays, one per column, about [`BATCH_SIZE`] rows each.
//!
//! A [`Vector`] holds one column of a batch in the Arrow layout of its SQL type; numerics are
//! i128 mantissas tagged with one scale for the whole vector (an Arrow `Decimal128` array) or,
//! where values of one column carry different scales (unconstrained `numeric`, quotients), a
//! scale per row. Values under a NULL are unspecified. Must never hold a type the row executor
//! would represent differently: converting a vector back to [`Value`]s gives exactly the values
//! the row executor computes.

use crate::EngineError;
use arrow_array::types::Decimal128Type;
use arrow_array::{
    Array, BooleanArray, Date32Array, Decimal128Array, Float32Array, Float64Array, Int16Array,
    Int32Array, Int64Array, PrimitiveArray, StringArray, TimestampMicrosecondArray,
};
use arrow_buffer::{BooleanBuffer, NullBuffer, ScalarBuffer};
use omendb_storage::types::{DataType, Numeric, Value};
use std::sync::Arc;

/// Rows per batch: large enough to amortise per-batch work, small enough to stay in L1/L2.
pub const BATCH_SIZE: usize = 2048;

/// Largest precision an Arrow `Decimal128` declares; OmenDB numerics have at most 38 digits.
const DECIMAL_PRECISION: u8 = 38;

/// The physical representation a SQL type takes in a batch, if the vectorized executor has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Bool,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    Numeric,
    Text,
    Date,
    Timestamp,
    TimestampTz,
}

impl Kind {
    /// `None` for types that stay on the row executor (bytea, interval).
    pub fn of(ty: DataType) -> Option<Kind> {
        Some(match ty {
            DataType::Bool => Kind::Bool,
            DataType::Int16 => Kind::Int16,
            DataType::Int32 => Kind::Int32,
            DataType::Int64 => Kind::Int64,
            DataType::Float32 => Kind::Float32,
            DataType::Float64 => Kind::Float64,
            DataType::Numeric { .. } => Kind::Numeric,
            DataType::Text | DataType::Varchar(_) | DataType::Char(_) | DataType::Unknown => {
                Kind::Text
            }
            DataType::Date => Kind::Date,
            DataType::Timestamp => Kind::Timestamp,
            DataType::TimestampTz => Kind::TimestampTz,
            DataType::Bytea | DataType::Interval | DataType::TextArray => return None,
        })
    }
}

/// The scale of a numeric vector's mantissas.
#[derive(Debug, Clone)]
pub enum Scale {
    Uniform(u8),
    PerRow(Arc<[u8]>),
}

/// Exact decimals: `mantissa[i] / 10^scale(i)`.
#[derive(Debug, Clone)]
pub struct NumericVector {
    /// Mantissas and validity; the array's own scale is only meaningful for `Scale::Uniform`.
    pub array: Decimal128Array,
    pub scale: Scale,
}

impl NumericVector {
    pub fn new(
        mantissas: Vec<i128>,
        nulls: Option<NullBuffer>,
        scale: Scale,
    ) -> Result<NumericVector, EngineError> {
        let declared = match &scale {
            Scale::Uniform(s) => *s,
            Scale::PerRow(_) => 0,
        };
        let array = PrimitiveArray::<Decimal128Type>::new(ScalarBuffer::from(mantissas), nulls)
            .with_precision_and_scale(DECIMAL_PRECISION, declared as i8)
            .map_err(|e| EngineError::Internal(format!("numeric vector: {e}")))?;
        Ok(NumericVector { array, scale })
    }

    /// Mantissas with per-row scales, collapsed to one scale when every valid row agrees.
    pub fn from_parts(
        mantissas: Vec<i128>,
        nulls: Option<NullBuffer>,
        scales: Vec<u8>,
    ) -> Result<NumericVector, EngineError> {
        let mut common = None;
        let mut uniform = true;
        for (i, s) in scales.iter().enumerate() {
            if nulls.as_ref().is_some_and(|n| n.is_null(i)) {
                continue;
            }
            match common {
                None => common = Some(*s),
                Some(c) if c != *s => {
                    uniform = false;
                    break;
                }
                Some(_) => {}
            }
        }
        let scale = if uniform {
            Scale::Uniform(common.unwrap_or(0))
        } else {
            Scale::PerRow(scales.into())
        };
        NumericVector::new(mantissas, nulls, scale)
    }

    pub fn mantissas(&self) -> &[i128] {
        self.array.values()
    }

    pub fn scale_at(&self, i: usize) -> u8 {
        match &self.scale {
            Scale::Uniform(s) => *s,
            Scale::PerRow(s) => s[i],
        }
    }

    pub fn numeric(&self, i: usize) -> Numeric {
        Numeric::new(self.mantissas()[i], self.scale_at(i))
    }
}

/// One column of a batch.
#[derive(Debug, Clone)]
pub enum Vector {
    Bool(BooleanArray),
    Int16(Int16Array),
    Int32(Int32Array),
    Int64(Int64Array),
    Float32(Float32Array),
    Float64(Float64Array),
    Numeric(NumericVector),
    /// text, varchar, char(n) (stored blank-padded, as the row store holds it).
    Text(StringArray),
    Date(Date32Array),
    Timestamp(TimestampMicrosecondArray),
    TimestampTz(TimestampMicrosecondArray),
    /// A column no operator above the scan reads: never materialised.
    Absent(usize),
}

impl Vector {
    /// Bytes of this vector's rows, for the statement's memory budget: a slice counts its own
    /// rows only, not the buffer it shares (a zero-copy slice of a column segment must not be
    /// charged the whole segment column once per batch).
    pub fn memory_size(&self) -> usize {
        match self {
            Vector::Bool(a) => a.len().div_ceil(8) + null_bytes(a),
            Vector::Int16(a) => fixed_size(a),
            Vector::Int32(a) => fixed_size(a),
            Vector::Int64(a) => fixed_size(a),
            Vector::Float32(a) => fixed_size(a),
            Vector::Float64(a) => fixed_size(a),
            Vector::Numeric(n) => {
                let scales = match &n.scale {
                    Scale::Uniform(_) => 0,
                    Scale::PerRow(s) => s.len(),
                };
                fixed_size(&n.array) + scales
            }
            Vector::Text(a) => text_size(a),
            Vector::Date(a) => fixed_size(a),
            Vector::Timestamp(a) | Vector::TimestampTz(a) => fixed_size(a),
            Vector::Absent(_) => 0,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Vector::Bool(a) => a.len(),
            Vector::Int16(a) => a.len(),
            Vector::Int32(a) => a.len(),
            Vector::Int64(a) => a.len(),
            Vector::Float32(a) => a.len(),
            Vector::Float64(a) => a.len(),
            Vector::Numeric(n) => n.array.len(),
            Vector::Text(a) => a.len(),
            Vector::Date(a) => a.len(),
            Vector::Timestamp(a) | Vector::TimestampTz(a) => a.len(),
            Vector::Absent(n) => *n,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Rows `offset..offset + len`, sharing the buffers (per-row scales are copied).
    pub fn slice(&self, offset: usize, len: usize) -> Vector {
        match self {
            Vector::Bool(a) => Vector::Bool(a.slice(offset, len)),
            Vector::Int16(a) => Vector::Int16(a.slice(offset, len)),
            Vector::Int32(a) => Vector::Int32(a.slice(offset, len)),
            Vector::Int64(a) => Vector::Int64(a.slice(offset, len)),
            Vector::Float32(a) => Vector::Float32(a.slice(offset, len)),
            Vector::Float64(a) => Vector::Float64(a.slice(offset, len)),
            Vector::Numeric(n) => Vector::Numeric(NumericVector {
                array: n.array.slice(offset, len),
                scale: match &n.scale {
                    Scale::Uniform(s) => Scale::Uniform(*s),
                    Scale::PerRow(s) => Scale::PerRow(s[offset..offset + len].into()),
                },
            }),
            Vector::Text(a) => Vector::Text(a.slice(offset, len)),
            Vector::Date(a) => Vector::Date(a.slice(offset, len)),
            Vector::Timestamp(a) => Vector::Timestamp(a.slice(offset, len)),
            Vector::TimestampTz(a) => Vector::TimestampTz(a.slice(offset, len)),
            Vector::Absent(_) => Vector::Absent(len),
        }
    }

    /// Validity: `None` when no row is NULL.
    pub fn nulls(&self) -> Option<&NullBuffer> {
        let n = match self {
            Vector::Bool(a) => a.nulls(),
            Vector::Int16(a) => a.nulls(),
            Vector::Int32(a) => a.nulls(),
            Vector::Int64(a) => a.nulls(),
            Vector::Float32(a) => a.nulls(),
            Vector::Float64(a) => a.nulls(),
            Vector::Numeric(n) => n.array.nulls(),
            Vector::Text(a) => a.nulls(),
            Vector::Date(a) => a.nulls(),
            Vector::Timestamp(a) | Vector::TimestampTz(a) => a.nulls(),
            Vector::Absent(_) => None,
        };
        n.filter(|n| n.null_count() > 0)
    }

    pub fn is_null(&self, i: usize) -> bool {
        self.nulls().is_some_and(|n| n.is_null(i))
    }

    /// Row `i` as the row executor represents it.
    pub fn value(&self, i: usize) -> Value {
        if self.is_null(i) {
            return Value::Null;
        }
        match self {
            Vector::Bool(a) => Value::Bool(a.value(i)),
            Vector::Int16(a) => Value::Int16(a.value(i)),
            Vector::Int32(a) => Value::Int32(a.value(i)),
            Vector::Int64(a) => Value::Int64(a.value(i)),
            Vector::Float32(a) => Value::Float32(a.value(i)),
            Vector::Float64(a) => Value::Float64(a.value(i)),
            Vector::Numeric(n) => Value::Numeric(n.numeric(i)),
            Vector::Text(a) => Value::Text(a.value(i).to_string()),
            Vector::Date(a) => Value::Date(a.value(i)),
            Vector::Timestamp(a) => Value::Timestamp(a.value(i)),
            Vector::TimestampTz(a) => Value::TimestampTz(a.value(i)),
            Vector::Absent(_) => Value::Null,
        }
    }

    /// A vector of `len` copies of `v`, typed as `kind`.
    pub fn constant(v: &Value, kind: Kind, len: usize) -> Result<Vector, EngineError> {
        let mut b = super::build::VectorBuilder::new(kind, len);
        for _ in 0..len {
            b.push(v)?;
        }
        b.finish()
    }
}

/// Bytes `batches` hold, for the statement's memory budget.
pub fn batches_size(batches: &[Batch]) -> usize {
    batches.iter().map(Batch::memory_size).sum()
}

/// A validity buffer from per-row flags, `None` when every row is valid.
pub fn nulls_from_valid(valid: &[bool]) -> Option<NullBuffer> {
    if valid.iter().all(|v| *v) {
        return None;
    }
    Some(NullBuffer::new(BooleanBuffer::from(valid)))
}

/// Some columns of some rows.
#[derive(Debug, Clone)]
pub struct Batch {
    pub columns: Vec<Vector>,
    pub len: usize,
}

impl Batch {
    pub fn new(columns: Vec<Vector>, len: usize) -> Batch {
        debug_assert!(columns.iter().all(|c| c.len() == len));
        Batch { columns, len }
    }

    /// Bytes the batch's columns hold, for the statement's memory budget.
    pub fn memory_size(&self) -> usize {
        self.columns.iter().map(Vector::memory_size).sum()
    }

    /// Rows `offset..offset + len` of every column, sharing the buffers.
    pub fn slice(&self, offset: usize, len: usize) -> Batch {
        let columns = self.columns.iter().map(|c| c.slice(offset, len)).collect();
        Batch::new(columns, len)
    }

    /// Row `i` as values.
    pub fn row(&self, i: usize) -> Vec<Value> {
        self.columns.iter().map(|c| c.value(i)).collect()
    }
}

// Sizes from lengths alone: `ArrayData::get_slice_memory_size` built an `ArrayData` (buffer
// list and all) per call, and the budget asks for every batch (3% of Q9's time).

/// A validity bitmap's bytes for the slice, if it has one.
fn null_bytes(a: &dyn Array) -> usize {
    a.nulls().map_or(0, |n| n.len().div_ceil(8))
}

fn fixed_size<T: arrow_array::ArrowPrimitiveType>(a: &arrow_array::PrimitiveArray<T>) -> usize {
    a.len() * size_of::<T::Native>() + null_bytes(a)
}

fn text_size(a: &StringArray) -> usize {
    let offsets = a.value_offsets();
    let bytes = match (offsets.first(), offsets.last()) {
        (Some(&first), Some(&last)) => usize::try_from(last - first).unwrap_or(0),
        _ => 0,
    };
    size_of_val(offsets) + bytes + null_bytes(a)
}
