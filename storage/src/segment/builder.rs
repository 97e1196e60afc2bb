//! Builds a [`Column`] from `Value`s, one row at a time.

use super::column::Column;
use super::error::SegmentError;
use crate::types::{DataType, Value};
use arrow_array::builder::{
    BinaryBuilder, BooleanBuilder, Date32Builder, Float32Builder, Float64Builder, Int16Builder,
    Int32Builder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow_array::{Decimal128Array, Int32Array, Int64Array};
use arrow_buffer::{NullBuffer, NullBufferBuilder, ScalarBuffer};
use std::fmt::Write;
use std::sync::Arc;

/// Largest precision an Arrow `Decimal128` declares; OmenDB numerics have at most 38 digits
/// (the engine's vectors declare the same).
pub(crate) const DECIMAL_PRECISION: u8 = 38;

/// Appends values of one SQL type; a value of another type is an error, never a panic.
#[derive(Debug)]
pub struct ColumnBuilder {
    ty: DataType,
    inner: Inner,
    /// String/bytea bytes so far: Arrow's i32 offsets cap a column at `i32::MAX` bytes.
    bytes: usize,
}

#[derive(Debug)]
enum Inner {
    Bool(BooleanBuilder),
    Int16(Int16Builder),
    Int32(Int32Builder),
    Int64(Int64Builder),
    Float32(Float32Builder),
    Float64(Float64Builder),
    Numeric {
        mantissas: Vec<i128>,
        scales: Vec<u8>,
        nulls: NullBufferBuilder,
    },
    /// A `numeric(p, s)` column while every value has scale `scale` and a 64-bit mantissa (all
    /// of TPC-H's): built as the [`Column::Numeric64`] it becomes, without the 17 bytes a row
    /// and the narrowing pass of the general form. A value that does not fit widens it.
    Numeric64 {
        mantissas: Vec<i64>,
        scale: u8,
        nulls: NullBufferBuilder,
    },
    Text(StringBuilder),
    Bytea(BinaryBuilder),
    Date(Date32Builder),
    Timestamp(TimestampMicrosecondBuilder),
    TimestampTz(TimestampMicrosecondBuilder),
    Interval {
        months: Vec<i32>,
        days: Vec<i32>,
        micros: Vec<i64>,
        nulls: NullBufferBuilder,
    },
}

/// Blanks that pad `char(n)` values a slice at a time (the COPY parser pads with them too).
pub const BLANKS: &str = "                                                                ";

/// Average bytes reserved per string value up front.
const STRING_BYTES_HINT: usize = 16;

impl ColumnBuilder {
    /// A builder for `ty` with room for `capacity` rows. `Unknown` builds a text column.
    pub fn new(ty: DataType, capacity: usize) -> ColumnBuilder {
        let c = capacity;
        let inner = match ty {
            DataType::Bool => Inner::Bool(BooleanBuilder::with_capacity(c)),
            DataType::Int16 => Inner::Int16(Int16Builder::with_capacity(c)),
            DataType::Int32 => Inner::Int32(Int32Builder::with_capacity(c)),
            DataType::Int64 => Inner::Int64(Int64Builder::with_capacity(c)),
            DataType::Float32 => Inner::Float32(Float32Builder::with_capacity(c)),
            DataType::Float64 => Inner::Float64(Float64Builder::with_capacity(c)),
            DataType::Numeric {
                precision: Some(_),
                scale,
            } => Inner::Numeric64 {
                mantissas: Vec::with_capacity(c),
                scale: scale.unwrap_or(0),
                nulls: NullBufferBuilder::new(c),
            },
            DataType::Numeric { .. } => Inner::Numeric {
                mantissas: Vec::with_capacity(c),
                scales: Vec::with_capacity(c),
                nulls: NullBufferBuilder::new(c),
            },
            // No table column is `text[]` (arrays are computed values only): never reached.
            DataType::Text
            | DataType::Varchar(_)
            | DataType::Char(_)
            | DataType::Unknown
            | DataType::TextArray => {
                debug_assert!(ty != DataType::TextArray, "a text[] segment column");
                Inner::Text(StringBuilder::with_capacity(c, c * STRING_BYTES_HINT))
            }
            DataType::Bytea => Inner::Bytea(BinaryBuilder::with_capacity(c, c * STRING_BYTES_HINT)),
            DataType::Date => Inner::Date(Date32Builder::with_capacity(c)),
            DataType::Timestamp => Inner::Timestamp(TimestampMicrosecondBuilder::with_capacity(c)),
            DataType::TimestampTz => {
                Inner::TimestampTz(TimestampMicrosecondBuilder::with_capacity(c))
            }
            DataType::Interval => Inner::Interval {
                months: Vec::with_capacity(c),
                days: Vec::with_capacity(c),
                micros: Vec::with_capacity(c),
                nulls: NullBufferBuilder::new(c),
            },
        };
        ColumnBuilder {
            ty,
            inner,
            bytes: 0,
        }
    }

    /// A builder with room for `capacity` rows and, for text and bytea, `bytes` bytes of
    /// values (`new` guesses a few bytes a value).
    pub fn with_bytes(ty: DataType, capacity: usize, bytes: usize) -> ColumnBuilder {
        let inner = match ty {
            DataType::Text | DataType::Varchar(_) | DataType::Char(_) | DataType::Unknown => {
                Inner::Text(StringBuilder::with_capacity(capacity, bytes))
            }
            DataType::Bytea => Inner::Bytea(BinaryBuilder::with_capacity(capacity, bytes)),
            _ => return ColumnBuilder::new(ty, capacity),
        };
        ColumnBuilder {
            ty,
            inner,
            bytes: 0,
        }
    }

    /// Bytes of text or bytea values appended so far (0 for other types).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The SQL type this builder accepts.
    pub fn data_type(&self) -> DataType {
        self.ty
    }

    /// Append one value (`Value::Null` for NULL).
    pub fn push(&mut self, v: &Value) -> Result<(), SegmentError> {
        if let Value::Text(s) = v {
            self.add_bytes(s.len())?;
        } else if let Value::Bytea(b) = v {
            self.add_bytes(b.len())?;
        }
        if let Inner::Numeric64 {
            mantissas,
            scale,
            nulls,
        } = &mut self.inner
        {
            match v {
                Value::Null => {
                    mantissas.push(0);
                    nulls.append_null();
                    return Ok(());
                }
                Value::Numeric(n) if n.scale() == *scale => {
                    if let Ok(m) = i64::try_from(n.mantissa()) {
                        mantissas.push(m);
                        nulls.append_non_null();
                        return Ok(());
                    }
                    self.widen();
                }
                Value::Numeric(_) => self.widen(),
                _ => {}
            }
        }
        let wrong = || SegmentError::WrongValue {
            expected: self.ty,
            found: v.data_type(),
        };
        match (&mut self.inner, v) {
            (Inner::Bool(b), Value::Bool(x)) => b.append_value(*x),
            (Inner::Bool(b), Value::Null) => b.append_null(),
            (Inner::Int16(b), Value::Int16(x)) => b.append_value(*x),
            (Inner::Int16(b), Value::Null) => b.append_null(),
            (Inner::Int32(b), Value::Int32(x)) => b.append_value(*x),
            (Inner::Int32(b), Value::Null) => b.append_null(),
            (Inner::Int64(b), Value::Int64(x)) => b.append_value(*x),
            (Inner::Int64(b), Value::Null) => b.append_null(),
            (Inner::Float32(b), Value::Float32(x)) => b.append_value(*x),
            (Inner::Float32(b), Value::Null) => b.append_null(),
            (Inner::Float64(b), Value::Float64(x)) => b.append_value(*x),
            (Inner::Float64(b), Value::Null) => b.append_null(),
            (
                Inner::Numeric {
                    mantissas,
                    scales,
                    nulls,
                },
                Value::Numeric(n),
            ) => {
                mantissas.push(n.mantissa());
                scales.push(n.scale());
                nulls.append_non_null();
            }
            (
                Inner::Numeric {
                    mantissas,
                    scales,
                    nulls,
                },
                Value::Null,
            ) => {
                mantissas.push(0);
                scales.push(0);
                nulls.append_null();
            }
            (Inner::Text(b), Value::Text(x)) => b.append_value(x),
            (Inner::Text(b), Value::Null) => b.append_null(),
            (Inner::Bytea(b), Value::Bytea(x)) => b.append_value(x),
            (Inner::Bytea(b), Value::Null) => b.append_null(),
            (Inner::Date(b), Value::Date(x)) => b.append_value(*x),
            (Inner::Date(b), Value::Null) => b.append_null(),
            (Inner::Timestamp(b), Value::Timestamp(x)) => b.append_value(*x),
            (Inner::Timestamp(b), Value::Null) => b.append_null(),
            (Inner::TimestampTz(b), Value::TimestampTz(x)) => b.append_value(*x),
            (Inner::TimestampTz(b), Value::Null) => b.append_null(),
            (
                Inner::Interval {
                    months,
                    days,
                    micros,
                    nulls,
                },
                v @ (Value::Interval(_) | Value::Null),
            ) => {
                let iv = match v {
                    Value::Interval(iv) => *iv,
                    _ => Default::default(),
                };
                months.push(iv.months);
                days.push(iv.days);
                micros.push(iv.micros);
                nulls.append(!v.is_null());
            }
            _ => return Err(wrong()),
        }
        Ok(())
    }

    /// Append an integer to an int2/int4/int8 column: what `push` does with the value of
    /// that type holding `v`. The typed appends are `#[inline]` so a bulk load's per-field
    /// calls from the engine crate inline. A value the type cannot hold, or a column of another type, is
    /// an error.
    #[inline]
    pub fn push_int(&mut self, v: i64) -> Result<(), SegmentError> {
        let wrong = SegmentError::WrongValue {
            expected: self.ty,
            found: DataType::Int64,
        };
        match &mut self.inner {
            Inner::Int16(b) => b.append_value(i16::try_from(v).map_err(|_| wrong)?),
            Inner::Int32(b) => b.append_value(i32::try_from(v).map_err(|_| wrong)?),
            Inner::Int64(b) => b.append_value(v),
            _ => return Err(wrong),
        }
        Ok(())
    }

    /// Append a date (days since 2000-01-01) to a date column.
    #[inline]
    pub fn push_date(&mut self, days: i32) -> Result<(), SegmentError> {
        match &mut self.inner {
            Inner::Date(b) => b.append_value(days),
            _ => {
                return Err(SegmentError::WrongValue {
                    expected: self.ty,
                    found: DataType::Date,
                });
            }
        }
        Ok(())
    }

    /// Append a numeric given as its mantissa at the column's declared scale (a `numeric(p, s)`
    /// column; 0 when only the precision is declared): what `push` does with that value fitted
    /// to the column.
    #[inline]
    pub fn push_decimal(&mut self, mantissa: i64) -> Result<(), SegmentError> {
        let declared = match self.ty {
            DataType::Numeric {
                precision: Some(_),
                scale,
            } => scale.unwrap_or(0),
            _ => u8::MAX,
        };
        match &mut self.inner {
            Inner::Numeric64 {
                mantissas,
                scale,
                nulls,
            } if *scale == declared => {
                mantissas.push(mantissa);
                nulls.append_non_null();
                Ok(())
            }
            Inner::Numeric {
                mantissas,
                scales,
                nulls,
            } if declared != u8::MAX => {
                mantissas.push(i128::from(mantissa));
                scales.push(declared);
                nulls.append_non_null();
                Ok(())
            }
            _ => Err(SegmentError::WrongValue {
                expected: self.ty,
                found: DataType::Numeric {
                    precision: None,
                    scale: None,
                },
            }),
        }
    }

    /// Append `s` followed by `pad` blanks to a text column (`char(n)` values are stored
    /// blank-padded): what `push` does with the padded `Value::Text`, without building it.
    #[inline]
    pub fn push_str(&mut self, s: &str, pad: usize) -> Result<(), SegmentError> {
        let Inner::Text(b) = &mut self.inner else {
            return Err(SegmentError::WrongValue {
                expected: self.ty,
                found: DataType::Text,
            });
        };
        let total = self.bytes.saturating_add(s.len()).saturating_add(pad);
        if total > i32::MAX as usize {
            return Err(SegmentError::TooLarge { bytes: total });
        }
        self.bytes = total;
        if pad == 0 {
            b.append_value(s);
            return Ok(());
        }
        // Writing into the builder's buffer cannot fail; `append_value` then ends the value.
        let _ = b.write_str(s);
        let mut missing = pad;
        while missing > BLANKS.len() {
            let _ = b.write_str(BLANKS);
            missing -= BLANKS.len();
        }
        b.append_value(&BLANKS[..missing]);
        Ok(())
    }

    /// Append `values` to an int2/int4/int8 column, NULL where `valid` (one flag per value,
    /// when given) is false: what `push_int` does with each, a slice at a time. Every value is
    /// checked against the type before any is appended, so an error appends nothing.
    pub fn push_ints(
        &mut self,
        values: &[i64],
        valid: Option<&[bool]>,
    ) -> Result<(), SegmentError> {
        let wrong = SegmentError::WrongValue {
            expected: self.ty,
            found: DataType::Int64,
        };
        match &mut self.inner {
            Inner::Int64(b) => append_all(b, values, valid),
            Inner::Int32(b) => append_narrowed(b, values, valid).ok_or(wrong)?,
            Inner::Int16(b) => append_narrowed(b, values, valid).ok_or(wrong)?,
            _ => return Err(wrong),
        }
        Ok(())
    }

    /// Append dates (days since 2000-01-01) to a date column, NULL where `valid` is false.
    pub fn push_dates(&mut self, days: &[i32], valid: Option<&[bool]>) -> Result<(), SegmentError> {
        let Inner::Date(b) = &mut self.inner else {
            return Err(SegmentError::WrongValue {
                expected: self.ty,
                found: DataType::Date,
            });
        };
        append_all(b, days, valid);
        Ok(())
    }

    /// Append numerics given as mantissas at the column's declared scale, NULL where `valid`
    /// is false: what `push_decimal` does with each, a slice at a time.
    pub fn push_decimals(
        &mut self,
        values: &[i64],
        valid: Option<&[bool]>,
    ) -> Result<(), SegmentError> {
        let declared = match self.ty {
            DataType::Numeric {
                precision: Some(_),
                scale,
            } => scale.unwrap_or(0),
            _ => u8::MAX,
        };
        if let Inner::Numeric64 {
            mantissas,
            scale,
            nulls,
        } = &mut self.inner
            && *scale == declared
        {
            // NULL rows hold a zero mantissa, as `push` leaves them.
            match valid {
                None => {
                    mantissas.extend_from_slice(values);
                    nulls.append_n_non_nulls(values.len());
                }
                Some(valid) => {
                    mantissas.extend(
                        values
                            .iter()
                            .zip(valid)
                            .map(|(&m, &ok)| if ok { m } else { 0 }),
                    );
                    nulls.append_slice(valid);
                }
            }
            return Ok(());
        }
        // The general form (a wider value came before): one at a time.
        for (i, &m) in values.iter().enumerate() {
            if valid.is_none_or(|v| v[i]) {
                self.push_decimal(m)?;
            } else {
                self.push(&Value::Null)?;
            }
        }
        Ok(())
    }

    /// Append `n` NULLs.
    pub fn push_nulls(&mut self, n: usize) -> Result<(), SegmentError> {
        for _ in 0..n {
            self.push(&Value::Null)?;
        }
        Ok(())
    }

    /// Turn a narrow numeric builder into the general form (a value that needs 128 bits or
    /// another scale is about to be appended).
    fn widen(&mut self) {
        if let Inner::Numeric64 {
            mantissas,
            scale,
            nulls,
        } = &mut self.inner
        {
            let rows = mantissas.len();
            let wide = Inner::Numeric {
                mantissas: mantissas.iter().map(|&m| i128::from(m)).collect(),
                scales: vec![*scale; rows],
                nulls: std::mem::replace(nulls, NullBufferBuilder::new(0)),
            };
            self.inner = wide;
        }
    }

    fn add_bytes(&mut self, n: usize) -> Result<(), SegmentError> {
        let total = self.bytes.saturating_add(n);
        if total > i32::MAX as usize {
            return Err(SegmentError::TooLarge { bytes: total });
        }
        self.bytes = total;
        Ok(())
    }

    /// The column of every value pushed.
    pub fn finish(self) -> Column {
        match self.inner {
            Inner::Bool(mut b) => Column::Bool(b.finish()),
            Inner::Int16(mut b) => Column::Int16(b.finish()),
            Inner::Int32(mut b) => Column::Int32(b.finish()),
            Inner::Int64(mut b) => Column::Int64(b.finish()),
            Inner::Float32(mut b) => Column::Float32(b.finish()),
            Inner::Float64(mut b) => Column::Float64(b.finish()),
            Inner::Numeric {
                mantissas,
                scales,
                mut nulls,
            } => numeric_column(mantissas, scales, nulls.finish()),
            Inner::Numeric64 {
                mantissas,
                scale,
                mut nulls,
            } => Column::Numeric64 {
                mantissas: Int64Array::new(ScalarBuffer::from(mantissas), nulls.finish()),
                scale,
            },
            Inner::Text(mut b) => Column::Text(b.finish()),
            Inner::Bytea(mut b) => Column::Bytea(b.finish()),
            Inner::Date(mut b) => Column::Date(b.finish()),
            Inner::Timestamp(mut b) => Column::Timestamp(b.finish()),
            Inner::TimestampTz(mut b) => Column::TimestampTz(b.finish()),
            Inner::Interval {
                months,
                days,
                micros,
                mut nulls,
            } => interval_column(months, days, micros, nulls.finish()),
        }
    }
}

/// A numeric column from mantissas and per-row scales, collapsed to one scale when every
/// non-NULL row has the same one.
pub(crate) fn numeric_column(
    mantissas: Vec<i128>,
    scales: Vec<u8>,
    nulls: Option<NullBuffer>,
) -> Column {
    let mut valid_scales = scales
        .iter()
        .enumerate()
        .filter(|(i, _)| nulls.as_ref().is_none_or(|n| n.is_valid(*i)))
        .map(|(_, s)| *s);
    let first = valid_scales.next();
    let uniform = valid_scales.all(|s| Some(s) == first);
    let (scale, scales) = if uniform {
        (first.unwrap_or(0), None)
    } else {
        (0, Some(Arc::<[u8]>::from(scales)))
    };
    Column::Numeric {
        mantissas: decimal_array(mantissas, nulls, scale),
        scale,
        scales,
    }
}

/// A `Decimal128Array` of precision 38 declaring `scale`.
pub(crate) fn decimal_array(
    mantissas: Vec<i128>,
    nulls: Option<NullBuffer>,
    scale: u8,
) -> Decimal128Array {
    let array = Decimal128Array::new(ScalarBuffer::from(mantissas), nulls);
    // Scales above 38 do not exist in OmenDB (Numeric::MAX_SCALE); the declared scale is only a
    // label for Arrow, so it is clamped rather than failing (`Column::value` uses `scale`).
    let declared = scale.min(DECIMAL_PRECISION) as i8;
    match array
        .clone()
        .with_precision_and_scale(DECIMAL_PRECISION, declared)
    {
        Ok(a) => a,
        Err(_) => array,
    }
}

pub(crate) fn interval_column(
    months: Vec<i32>,
    days: Vec<i32>,
    micros: Vec<i64>,
    nulls: Option<NullBuffer>,
) -> Column {
    Column::Interval {
        months: Int32Array::new(ScalarBuffer::from(months), nulls.clone()),
        days: Int32Array::new(ScalarBuffer::from(days), nulls.clone()),
        micros: Int64Array::new(ScalarBuffer::from(micros), nulls),
    }
}

/// Append `values`, NULL where `valid` (one flag per value, when given) is false.
fn append_all<T: arrow_array::ArrowPrimitiveType>(
    b: &mut arrow_array::builder::PrimitiveBuilder<T>,
    values: &[T::Native],
    valid: Option<&[bool]>,
) {
    match valid {
        None => b.append_slice(values),
        Some(valid) => b.append_values(values, valid),
    }
}

/// Append `values` narrowed to `T` (NULL where `valid` is false); `None`, with nothing
/// appended, when one does not fit.
fn append_narrowed<T>(
    b: &mut arrow_array::builder::PrimitiveBuilder<T>,
    values: &[i64],
    valid: Option<&[bool]>,
) -> Option<()>
where
    T: arrow_array::ArrowPrimitiveType,
    T::Native: TryFrom<i64>,
{
    // NULL rows hold zero, which every type fits.
    if !values.iter().all(|&v| T::Native::try_from(v).is_ok()) {
        return None;
    }
    let narrowed = values.iter().map(|&v| T::Native::try_from(v).ok());
    match valid {
        None => b.extend(narrowed),
        Some(valid) => b.extend(narrowed.zip(valid).map(|(v, &ok)| v.filter(|_| ok))),
    }
    Some(())
}
