//! Zone maps: per column of a segment, the smallest and largest non-NULL value and the NULL
//! count, so a scan can skip a segment whose range cannot match a predicate.
//!
//! Order is PostgreSQL's: floats order NaN above every other value (and -0 equal to 0); text,
//! varchar and char(n) (blank-padded) compare by their UTF-8 bytes and bytea by its bytes — the
//! C collation, the same order as the row store's key encoding (`row::key`); numerics by value
//! (1.0 = 1.00; the first of equal values is kept); intervals by their normalised length.

use super::column::Column;
use super::sketch::used_codes;
use crate::types::{Interval, Numeric, Value};
use arrow_array::{Array, ArrowPrimitiveType, PrimitiveArray};
use arrow_buffer::NullBuffer;
use std::cmp::Ordering;

/// The range and NULL count of one column of one segment.
#[derive(Debug, Clone)]
pub struct ZoneMap {
    /// `None` when every row is NULL.
    pub min: Option<Value>,
    pub max: Option<Value>,
    pub nulls: u32,
}

impl ZoneMap {
    /// Compute the zone map of `column`.
    pub fn of(column: &Column) -> ZoneMap {
        let nulls = column.nulls();
        let range = match column {
            Column::Bool(a) => extremes(valid(a.len(), nulls).map(|i| a.value(i)), bool::cmp)
                .map(|(lo, hi)| (Value::Bool(lo), Value::Bool(hi))),
            Column::Int16(a) => primitive(a, nulls, Value::Int16),
            Column::Int32(a) => primitive(a, nulls, Value::Int32),
            Column::Int64(a) => primitive(a, nulls, Value::Int64),
            Column::Date(a) => primitive(a, nulls, Value::Date),
            Column::Timestamp(a) => primitive(a, nulls, Value::Timestamp),
            Column::TimestampTz(a) => primitive(a, nulls, Value::TimestampTz),
            Column::Float32(a) => extremes(valid(a.len(), nulls).map(|i| a.value(i)), |x, y| {
                pg_float_cmp(f64::from(*x), f64::from(*y))
            })
            .map(|(lo, hi)| (Value::Float32(lo), Value::Float32(hi))),
            Column::Float64(a) => extremes(valid(a.len(), nulls).map(|i| a.value(i)), |x, y| {
                pg_float_cmp(*x, *y)
            })
            .map(|(lo, hi)| (Value::Float64(lo), Value::Float64(hi))),
            Column::Numeric {
                mantissas,
                scale,
                scales,
            } => extremes(
                valid(mantissas.len(), nulls).map(|i| {
                    Numeric::new(mantissas.value(i), scales.as_ref().map_or(*scale, |s| s[i]))
                }),
                Numeric::cmp,
            )
            .map(|(lo, hi)| (Value::Numeric(lo), Value::Numeric(hi))),
            Column::Numeric64 { mantissas, scale } => extremes(
                valid(mantissas.len(), nulls).map(|i| mantissas.value(i)),
                i64::cmp,
            )
            .map(|(lo, hi)| {
                let num = |m: i64| Value::Numeric(Numeric::new(i128::from(m), *scale));
                (num(lo), num(hi))
            }),
            Column::Text(a) => extremes(valid(a.len(), nulls).map(|i| a.value(i)), |x, y| {
                x.as_bytes().cmp(y.as_bytes())
            })
            .map(|(lo, hi)| (Value::Text(lo.into()), Value::Text(hi.into()))),
            // The extremes of the entries some row uses: one comparison per entry, not per row.
            Column::TextDict { codes, values } => extremes(
                used_codes(codes.values(), values.len(), nulls).map(|c| values.value(c)),
                |x, y| x.as_bytes().cmp(y.as_bytes()),
            )
            .map(|(lo, hi)| (Value::Text(lo.into()), Value::Text(hi.into()))),
            Column::Bytea(a) => {
                extremes(valid(a.len(), nulls).map(|i| a.value(i)), |x, y| x.cmp(y))
                    .map(|(lo, hi)| (Value::Bytea(lo.into()), Value::Bytea(hi.into())))
            }
            Column::Interval {
                months,
                days,
                micros,
            } => extremes(
                valid(months.len(), nulls).map(|i| Interval {
                    months: months.value(i),
                    days: days.value(i),
                    micros: micros.value(i),
                }),
                Interval::cmp,
            )
            .map(|(lo, hi)| (Value::Interval(lo), Value::Interval(hi))),
        };
        let (min, max) = range.unzip();
        ZoneMap {
            min,
            max,
            nulls: nulls.map_or(0, NullBuffer::null_count) as u32,
        }
    }
}

/// PostgreSQL's float order: NaN greatest, -0 = 0.
pub fn pg_float_cmp(x: f64, y: f64) -> Ordering {
    match (x.is_nan(), y.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
    }
}

/// Indexes of the non-NULL rows.
fn valid(len: usize, nulls: Option<&NullBuffer>) -> impl Iterator<Item = usize> + '_ {
    (0..len).filter(move |&i| nulls.is_none_or(|n| n.is_valid(i)))
}

/// The first smallest and first largest item, or `None` for no items.
fn extremes<T: Copy>(
    mut items: impl Iterator<Item = T>,
    cmp: impl Fn(&T, &T) -> Ordering,
) -> Option<(T, T)> {
    let first = items.next()?;
    Some(items.fold((first, first), |(lo, hi), x| {
        (
            if cmp(&x, &lo) == Ordering::Less {
                x
            } else {
                lo
            },
            if cmp(&x, &hi) == Ordering::Greater {
                x
            } else {
                hi
            },
        )
    }))
}

fn primitive<T: ArrowPrimitiveType>(
    a: &PrimitiveArray<T>,
    nulls: Option<&NullBuffer>,
    to_value: fn(T::Native) -> Value,
) -> Option<(Value, Value)>
where
    T::Native: Ord,
{
    if nulls.is_none() {
        // The common case: a tight loop the compiler vectorizes.
        let values = a.values();
        let lo = values.iter().copied().min()?;
        let hi = values.iter().copied().max()?;
        return Some((to_value(lo), to_value(hi)));
    }
    extremes(valid(a.len(), nulls).map(|i| a.value(i)), T::Native::cmp)
        .map(|(lo, hi)| (to_value(lo), to_value(hi)))
}
