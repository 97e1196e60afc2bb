//! One datum in memory.

use super::{DataType, Interval, Numeric};

/// One SQL datum. Strings are owned; analytic paths use column vectors instead of `Value`s.
///
/// Dates are days and timestamps microseconds since 2000-01-01 (PostgreSQL's epoch, so the binary
/// wire format needs no conversion); `TimestampTz` is always UTC.
#[derive(Debug, Clone)]
pub enum Value {
    Null,
    Bool(bool),
    Int16(i16),
    Int32(i32),
    Int64(i64),
    Float32(f32),
    Float64(f64),
    Numeric(Numeric),
    Text(String),
    Bytea(Vec<u8>),
    Date(i32),
    Timestamp(i64),
    TimestampTz(i64),
    Interval(Interval),
    /// A `text[]` value: its elements, NULL ones as `None`.
    TextArray(Vec<Option<String>>),
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The natural type of this value (`Unknown` for NULL; text for every string).
    pub fn data_type(&self) -> DataType {
        match self {
            Value::Null => DataType::Unknown,
            Value::Bool(_) => DataType::Bool,
            Value::Int16(_) => DataType::Int16,
            Value::Int32(_) => DataType::Int32,
            Value::Int64(_) => DataType::Int64,
            Value::Float32(_) => DataType::Float32,
            Value::Float64(_) => DataType::Float64,
            Value::Numeric(_) => DataType::NUMERIC,
            Value::Text(_) => DataType::Text,
            Value::Bytea(_) => DataType::Bytea,
            Value::Date(_) => DataType::Date,
            Value::Timestamp(_) => DataType::Timestamp,
            Value::TimestampTz(_) => DataType::TimestampTz,
            Value::Interval(_) => DataType::Interval,
            Value::TextArray(_) => DataType::TextArray,
        }
    }
}
