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
    Int16Array, Int32Array, Int64Array, StringArray, TimestampMicrosecondArray, UInt16Array,
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
    /// A numeric column whose mantissas all fit 64 bits, with one scale: half the memory of
    /// [`Column::Numeric`] (every TPC-H money column). Same values, same `Value`s.
    Numeric64 {
        mantissas: Int64Array,
        scale: u8,
    },
    /// text, varchar, char(n) (blank-padded).
    Text(StringArray),
    /// A text column with few distinct values: each row's code into `values` (distinct, no
    /// NULLs; a row's NULL is in `codes`). Holds the same `Value`s as `Text` would; memory is
    /// two bytes a row plus the dictionary instead of the strings and their offsets.
    TextDict {
        codes: UInt16Array,
        values: StringArray,
    },
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
            Column::Numeric64 { mantissas, .. } => mantissas,
            Column::Text(a) => a,
            Column::TextDict { codes, .. } => codes,
            Column::Bytea(a) => a,
            Column::Date(a) => a,
            Column::Timestamp(a) | Column::TimestampTz(a) => a,
            Column::Interval { months, .. } => months,
        }
    }

    /// Bytes its main array's buffers hold (a size hint: a dictionary's entries and an
    /// interval's second and third arrays are not counted).
    pub(crate) fn buffer_bytes(&self) -> usize {
        self.array().get_buffer_memory_size()
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
            Column::Numeric64 { mantissas, scale } => {
                Value::Numeric(Numeric::new(i128::from(mantissas.value(i)), *scale))
            }
            Column::Text(a) => Value::Text(a.value(i).to_string()),
            Column::TextDict { codes, values } => {
                Value::Text(values.value(usize::from(codes.value(i))).to_string())
            }
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
            Column::Numeric64 { mantissas, scale } => Column::Numeric64 {
                mantissas: mantissas.slice(offset, len),
                scale: *scale,
            },
            Column::Text(a) => Column::Text(a.slice(offset, len)),
            Column::TextDict { codes, values } => Column::TextDict {
                codes: codes.slice(offset, len),
                values: values.clone(),
            },
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
            Column::Numeric64 { mantissas, scale } => Column::Numeric64 {
                mantissas: take_as(mantissas, &idx)?,
                scale: *scale,
            },
            Column::Text(a) => Column::Text(take_as(a, &idx)?),
            Column::TextDict { codes, values } => Column::TextDict {
                codes: take_as(codes, &idx)?,
                values: values.clone(),
            },
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
            Column::Numeric { .. } | Column::Numeric64 { .. } => "numeric",
            Column::Text(_) | Column::TextDict { .. } => "text",
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
                | (
                    Column::Numeric { .. } | Column::Numeric64 { .. },
                    DataType::Numeric { .. }
                )
                | (
                    Column::Text(_) | Column::TextDict { .. },
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
            Column::TextDict { codes, values } => {
                values.null_count() == 0
                    && codes
                        .values()
                        .iter()
                        .all(|&c| usize::from(c) < values.len())
            }
            _ => true,
        }
    }
}

impl Column {
    /// Rows `offset .. offset + len` of a text column as plain strings (a dictionary column's
    /// strings copied out); `None` for other columns or rows out of range.
    pub fn text_rows(&self, offset: usize, len: usize) -> Option<StringArray> {
        if offset.checked_add(len)? > self.len() {
            return None;
        }
        match self {
            Column::Text(a) => Some(a.slice(offset, len)),
            Column::TextDict { codes, values } => {
                let taken =
                    arrow_select::take::take(values, &codes.slice(offset, len), None).ok()?;
                taken.as_any().downcast_ref::<StringArray>().cloned()
            }
            _ => None,
        }
    }

    /// The same values in the smallest in-memory form: numerics whose mantissas fit 64 bits as
    /// [`Column::Numeric64`], text with at most [`DICT_MAX_VALUES`] distinct values (and fewer
    /// bytes that way) as [`Column::TextDict`]. Anything else is returned unchanged.
    pub fn compact(self) -> Column {
        match self {
            Column::Numeric {
                mantissas,
                scale,
                scales: None,
            } => match narrow_mantissas(&mantissas) {
                Some(narrow) => Column::Numeric64 {
                    mantissas: narrow,
                    scale,
                },
                None => Column::Numeric {
                    mantissas,
                    scale,
                    scales: None,
                },
            },
            Column::Text(a) => match dictionary(&a) {
                Some((codes, values)) => Column::TextDict { codes, values },
                None => Column::Text(a),
            },
            other => other,
        }
    }
}

/// Values looked at before giving up on a dictionary for a column whose values never repeat.
/// A dictionary is kept only with at most about half the rows distinct (see `dictionary`); a
/// segment's 65,536 rows with at most 32,768 distinct values in no particular order show a
/// repeat among their first 1,024 with near certainty (birthday bound: about 16 expected).
pub(crate) const DICT_SAMPLE: usize = 1024;

/// A text dictionary stays addressable by 16-bit codes.
pub const DICT_MAX_VALUES: usize = 1 << 16;

/// The mantissas as `i64`s, if every valid one fits (values under NULL become 0).
fn narrow_mantissas(m: &Decimal128Array) -> Option<Int64Array> {
    let nulls = m.nulls().cloned();
    let valid = |i: usize| nulls.as_ref().is_none_or(|n| n.is_valid(i));
    let narrow: Option<Vec<i64>> = m
        .values()
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            if valid(i) {
                i64::try_from(x).ok()
            } else {
                Some(0)
            }
        })
        .collect();
    Some(Int64Array::new(narrow?.into(), nulls))
}

/// Codes and distinct values of `a`, when there are few enough and they take fewer bytes.
fn dictionary(a: &StringArray) -> Option<(UInt16Array, StringArray)> {
    let plain_bytes = a.values().len() + 4 * a.len();
    // Room for the sample up front: growing the table to it rehashed every entry on the way.
    let room = DICT_SAMPLE.min(a.len());
    // Values of up to 16 bytes (flags, modes, categories) are looked up as two words and a
    // length: compared without a `memcmp` call and hashed without a byte loop, where a
    // string key spent most of a load's dictionary time.
    let mut short: hashbrown::HashMap<ShortKey, u16> = hashbrown::HashMap::with_capacity(room);
    let mut long: hashbrown::HashMap<&str, u16> = hashbrown::HashMap::new();
    let mut distinct: Vec<&str> = Vec::new();
    let mut dict_bytes = 0usize;
    let mut codes = Vec::with_capacity(a.len());
    for i in 0..a.len() {
        if a.is_null(i) {
            codes.push(0);
            continue;
        }
        // A sample without a single repeat means a (nearly) unique column, which no dictionary
        // makes smaller: stop before hashing half the segment to find that out.
        if codes.len() == DICT_SAMPLE && distinct.len() == DICT_SAMPLE {
            return None;
        }
        let s = a.value(i);
        let key = ShortKey::of(s.as_bytes());
        let known = match key {
            Some(k) => short.get(&k).copied(),
            None => long.get(s).copied(),
        };
        let code = match known {
            Some(c) => c,
            None => {
                if distinct.len() == DICT_MAX_VALUES {
                    return None;
                }
                let c = distinct.len() as u16;
                match key {
                    Some(k) => short.insert(k, c),
                    None => long.insert(s, c),
                };
                distinct.push(s);
                dict_bytes += s.len() + 4;
                // Not worth it once the dictionary alone is half the plain form.
                if dict_bytes * 2 > plain_bytes {
                    return None;
                }
                c
            }
        };
        codes.push(code);
    }
    if distinct.is_empty() || dict_bytes + 2 * a.len() >= plain_bytes {
        return None;
    }
    let values = StringArray::from(distinct);
    Some((UInt16Array::new(codes.into(), a.nulls().cloned()), values))
}

/// A string of at most 16 bytes as a dictionary key: with its length, two words that hold
/// every byte (read overlapping, so without a variable-length copy), which makes equal keys
/// exactly equal strings.
#[derive(Clone, Copy, PartialEq, Eq)]
struct ShortKey(u64, u64, usize);

impl std::hash::Hash for ShortKey {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        // One word to the hasher: the length is implied by most values' bytes anyway.
        h.write_u64(self.0 ^ self.1.rotate_left(29) ^ (self.2 as u64).rotate_right(8));
    }
}

impl ShortKey {
    #[inline]
    fn of(b: &[u8]) -> Option<ShortKey> {
        let n = b.len();
        let word = |at: usize| {
            b.get(at..at + 8)
                .map_or(0, |s| u64::from_le_bytes(word8(s)))
        };
        let half = |at: usize| {
            b.get(at..at + 4)
                .map_or(0, |s| u64::from(u32::from_le_bytes(word4(s))))
        };
        let (x, y) = match n {
            0 => (0, 0),
            1..=3 => (
                u64::from(b[0]) | u64::from(b[n / 2]) << 8 | u64::from(b[n - 1]) << 16,
                0,
            ),
            4..=7 => (half(0), half(n - 4)),
            8..=16 => (word(0), word(n - 8)),
            _ => return None,
        };
        Some(ShortKey(x, y, n))
    }
}

fn word8(s: &[u8]) -> [u8; 8] {
    let mut w = [0u8; 8];
    w.copy_from_slice(s);
    w
}

fn word4(s: &[u8]) -> [u8; 4] {
    let mut w = [0u8; 4];
    w.copy_from_slice(s);
    w
}

/// Arrow's take kernel, typed back.
fn take_as<A: Array + Clone + 'static>(a: &A, idx: &arrow_array::UInt32Array) -> Option<A> {
    arrow_select::take::take(a, idx, None)
        .ok()
        .and_then(|r| r.as_any().downcast_ref::<A>().cloned())
}
