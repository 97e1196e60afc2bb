//! A scan filter's comparisons of one fixed-width column with constants, tested on the
//! segment's stored values: `l_shipdate >= date '1994-01-01' AND l_shipdate < date
//! '1995-01-01'` becomes one inclusive range of day numbers, `l_discount between 0.05 and 0.07`
//! one range of 64-bit mantissas at the column's scale. Rows are picked with one branch-free
//! pass per batch, before any vector is built (64-bit numerics are not widened, dates not
//! sliced, for rows the range drops).
//!
//! Must never change which rows a filter keeps: a constant that does not convert exactly into
//! the column's unit is rounded in the direction that keeps the comparison's meaning, and
//! anything without an exact range form (`<>`, floats, per-row numeric scales) stays a row
//! filter.

use arrow_array::Array;
use arrow_buffer::NullBuffer;
use omendb_planner::BinOp;
use omendb_storage::segment::Column;
use omendb_storage::types::Value;

/// An inclusive range of raw column values; `lo > hi` keeps nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    pub lo: i128,
    pub hi: i128,
}

impl Bounds {
    const NONE: Bounds = Bounds { lo: 1, hi: 0 };

    /// The rows both ranges keep.
    pub fn and(self, other: Bounds) -> Bounds {
        Bounds {
            lo: self.lo.max(other.lo),
            hi: self.hi.min(other.hi),
        }
    }
}

/// The range of `column`'s raw values for which `column op constant` is TRUE, if it has one.
pub fn bounds(column: &Column, op: BinOp, constant: &Value) -> Option<Bounds> {
    let (floor, ceil) = in_units(column, constant)?;
    Some(match op {
        BinOp::Lt => Bounds {
            lo: i128::MIN,
            hi: ceil.checked_sub(1)?,
        },
        BinOp::LtEq => Bounds {
            lo: i128::MIN,
            hi: floor,
        },
        BinOp::Gt => Bounds {
            lo: floor.checked_add(1)?,
            hi: i128::MAX,
        },
        BinOp::GtEq => Bounds {
            lo: ceil,
            hi: i128::MAX,
        },
        BinOp::Eq if floor == ceil => Bounds {
            lo: floor,
            hi: floor,
        },
        BinOp::Eq => Bounds::NONE,
        _ => return None,
    })
}

/// `constant` in `column`'s stored unit, rounded down and up (equal when exact).
fn in_units(column: &Column, constant: &Value) -> Option<(i128, i128)> {
    let scale = match column {
        Column::Int16(_) | Column::Int32(_) | Column::Int64(_) => 0,
        Column::Numeric64 { scale, .. } => *scale,
        Column::Date(_) => {
            let Value::Date(d) = constant else {
                return None;
            };
            return Some((i128::from(*d), i128::from(*d)));
        }
        Column::Timestamp(_) => {
            let Value::Timestamp(t) = constant else {
                return None;
            };
            return Some((i128::from(*t), i128::from(*t)));
        }
        Column::TimestampTz(_) => {
            let Value::TimestampTz(t) = constant else {
                return None;
            };
            return Some((i128::from(*t), i128::from(*t)));
        }
        _ => return None,
    };
    let (mantissa, from_scale) = match constant {
        Value::Int16(v) => (i128::from(*v), 0),
        Value::Int32(v) => (i128::from(*v), 0),
        Value::Int64(v) => (i128::from(*v), 0),
        Value::Numeric(n) => (n.mantissa(), n.scale()),
        _ => return None,
    };
    rescale(mantissa, from_scale, scale)
}

/// `mantissa / 10^from` as a mantissa at scale `to`, rounded down and up.
fn rescale(mantissa: i128, from: u8, to: u8) -> Option<(i128, i128)> {
    if to >= from {
        let exact = mantissa.checked_mul(10i128.checked_pow(u32::from(to - from))?)?;
        return Some((exact, exact));
    }
    let divisor = 10i128.checked_pow(u32::from(from - to))?;
    let floor = mantissa.div_euclid(divisor);
    let ceil = floor + i128::from(mantissa.rem_euclid(divisor) != 0);
    Some((floor, ceil))
}

/// The stored values of a fixed-width integer-like column, as tests read them.
#[derive(Debug)]
pub enum Raw<'a> {
    I16(&'a [i16]),
    I32(&'a [i32]),
    I64(&'a [i64]),
}

impl<'a> Raw<'a> {
    /// The values, the validity when some row is NULL, and the value type's range; `None` for
    /// columns stored otherwise.
    pub fn of(column: &'a Column) -> Option<(Raw<'a>, Option<&'a NullBuffer>, i128, i128)> {
        let (values, nulls, min, max) = match column {
            Column::Int16(a) => (
                Raw::I16(a.values()),
                a.nulls(),
                i16::MIN.into(),
                i16::MAX.into(),
            ),
            Column::Int32(a) => (
                Raw::I32(a.values()),
                a.nulls(),
                i32::MIN.into(),
                i32::MAX.into(),
            ),
            Column::Date(a) => (
                Raw::I32(a.values()),
                a.nulls(),
                i32::MIN.into(),
                i32::MAX.into(),
            ),
            Column::Int64(a) => (
                Raw::I64(a.values()),
                a.nulls(),
                i64::MIN.into(),
                i64::MAX.into(),
            ),
            Column::Numeric64 { mantissas: a, .. } => (
                Raw::I64(a.values()),
                a.nulls(),
                i64::MIN.into(),
                i64::MAX.into(),
            ),
            Column::Timestamp(a) | Column::TimestampTz(a) => (
                Raw::I64(a.values()),
                a.nulls(),
                i64::MIN.into(),
                i64::MAX.into(),
            ),
            _ => return None,
        };
        Some((values, nulls.filter(|n| n.null_count() > 0), min, max))
    }

    /// The segment rows `start..start + len` whose value passes `test`, into `out` (cleared).
    #[inline]
    pub fn collect(
        &self,
        start: usize,
        len: usize,
        out: &mut Vec<u32>,
        test: impl Fn(i64) -> bool,
    ) {
        let end = start + len;
        match self {
            Raw::I16(v) => collect_in(&v[start..end], start, out, test),
            Raw::I32(v) => collect_in(&v[start..end], start, out, test),
            Raw::I64(v) => collect_in(&v[start..end], start, out, test),
        }
    }

    /// Keep the rows of `rows` whose value passes `test`.
    #[inline]
    pub fn retain(&self, rows: &mut Vec<u32>, test: impl Fn(i64) -> bool) {
        match self {
            Raw::I16(v) => rows.retain(|&r| test(v[r as usize].into())),
            Raw::I32(v) => rows.retain(|&r| test(v[r as usize].into())),
            Raw::I64(v) => rows.retain(|&r| test(v[r as usize])),
        }
    }
}

/// A range bound to one segment's column.
#[derive(Debug)]
pub struct RangeTest<'a> {
    values: Raw<'a>,
    nulls: Option<&'a NullBuffer>,
    lo: i64,
    /// `hi - lo` as unsigned: a value `v` is in range iff `v - lo` (wrapping) is at most this.
    span: u64,
    empty: bool,
}

impl<'a> RangeTest<'a> {
    /// `None` when `column` is not one a range can test.
    pub fn new(column: &'a Column, bounds: Bounds) -> Option<RangeTest<'a>> {
        let (values, nulls, min, max) = Raw::of(column)?;
        let clamped = bounds.and(Bounds { lo: min, hi: max });
        let empty = clamped.lo > clamped.hi;
        // In range of the type when not empty, so both fit an i64.
        let (lo, hi) = if empty {
            (0, 0)
        } else {
            (clamped.lo as i64, clamped.hi as i64)
        };
        Some(RangeTest {
            values,
            nulls,
            lo,
            span: hi.wrapping_sub(lo) as u64,
            empty,
        })
    }

    /// The segment rows `start..start + len` in range, into `out`.
    pub fn collect(&self, start: usize, len: usize, out: &mut Vec<u32>) {
        out.clear();
        if self.empty {
            return;
        }
        let (lo, span) = (self.lo, self.span);
        self.values
            .collect(start, len, out, |v| (v.wrapping_sub(lo) as u64) <= span);
        if let Some(nulls) = self.nulls {
            out.retain(|&r| nulls.is_valid(r as usize));
        }
    }

    /// Keep the rows of `rows` (segment row numbers) in range.
    pub fn retain(&self, rows: &mut Vec<u32>) {
        if self.empty {
            rows.clear();
            return;
        }
        let (lo, span) = (self.lo, self.span);
        self.values
            .retain(rows, |v| (v.wrapping_sub(lo) as u64) <= span);
        if let Some(nulls) = self.nulls {
            rows.retain(|&r| nulls.is_valid(r as usize));
        }
    }
}

/// Branch-free: every row's number is written, the count advances only for rows that pass.
#[inline]
fn collect_in<T: Copy + Into<i64>>(
    values: &[T],
    start: usize,
    out: &mut Vec<u32>,
    test: impl Fn(i64) -> bool,
) {
    out.clear();
    out.resize(values.len(), 0);
    let mut n = 0;
    for (i, &v) in values.iter().enumerate() {
        out[n] = (start + i) as u32;
        n += usize::from(test(v.into()));
    }
    out.truncate(n);
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Date32Array, Int16Array, Int64Array};
    use omendb_storage::types::Numeric;

    fn numeric64(values: &[Option<i64>], scale: u8) -> Column {
        Column::Numeric64 {
            mantissas: Int64Array::from(values.to_vec()),
            scale,
        }
    }

    /// Rows kept by `collect` and by `retain`, which must agree.
    fn kept(column: &Column, b: Bounds) -> Vec<u32> {
        let t = RangeTest::new(column, b).unwrap();
        let len = match column {
            Column::Numeric64 { mantissas, .. } => mantissas.len(),
            Column::Int16(a) => a.len(),
            Column::Date(a) => a.len(),
            _ => unreachable!(),
        };
        let mut collected = Vec::new();
        t.collect(0, len, &mut collected);
        let mut retained: Vec<u32> = (0..len as u32).collect();
        t.retain(&mut retained);
        assert_eq!(collected, retained);
        collected
    }

    #[test]
    fn numeric_constants_round_toward_the_comparison() {
        // Mantissas at scale 2: 0.04, 0.05, 0.06, 0.07, 0.08, NULL.
        let c = numeric64(&[Some(4), Some(5), Some(6), Some(7), Some(8), None], 2);
        let lit = |m, s| Value::Numeric(Numeric::new(m, s));
        let b = |op, v: &Value| bounds(&c, op, v).unwrap();
        // 0.055 lies between two mantissas: > keeps 0.06 up, < keeps 0.05 down.
        assert_eq!(kept(&c, b(BinOp::Gt, &lit(55, 3))), [2, 3, 4]);
        assert_eq!(kept(&c, b(BinOp::GtEq, &lit(55, 3))), [2, 3, 4]);
        assert_eq!(kept(&c, b(BinOp::Lt, &lit(55, 3))), [0, 1]);
        assert_eq!(kept(&c, b(BinOp::LtEq, &lit(55, 3))), [0, 1]);
        assert_eq!(kept(&c, b(BinOp::Eq, &lit(55, 3))), Vec::<u32>::new());
        // Exact constants, including one at a coarser scale.
        assert_eq!(kept(&c, b(BinOp::Eq, &lit(6, 2))), [2]);
        let between = b(BinOp::GtEq, &lit(5, 2)).and(b(BinOp::LtEq, &lit(7, 2)));
        assert_eq!(kept(&c, between), [1, 2, 3]);
        assert_eq!(kept(&c, b(BinOp::Lt, &Value::Int32(0))), Vec::<u32>::new());
        assert_eq!(kept(&c, b(BinOp::Gt, &lit(-1, 1))), [0, 1, 2, 3, 4]);
        // Negative constants round toward minus infinity for the floor.
        let neg = numeric64(&[Some(-6), Some(-5), Some(-4)], 1);
        assert_eq!(
            kept(&neg, bounds(&neg, BinOp::Lt, &lit(-45, 2)).unwrap()),
            [0, 1]
        );
        assert_eq!(
            kept(&neg, bounds(&neg, BinOp::Gt, &lit(-45, 2)).unwrap()),
            [2]
        );
        assert!(bounds(&c, BinOp::NotEq, &lit(6, 2)).is_none());
    }

    #[test]
    fn ranges_past_the_type_keep_all_or_nothing() {
        let c = Column::Int16(Int16Array::from(vec![i16::MIN, -1, 0, i16::MAX]));
        assert_eq!(
            kept(&c, bounds(&c, BinOp::Lt, &Value::Int64(1 << 40)).unwrap()),
            [0, 1, 2, 3]
        );
        assert_eq!(
            kept(&c, bounds(&c, BinOp::Gt, &Value::Int64(1 << 40)).unwrap()),
            Vec::<u32>::new()
        );
        assert_eq!(
            kept(
                &c,
                bounds(&c, BinOp::GtEq, &Value::Int32(i32::from(i16::MIN))).unwrap()
            ),
            [0, 1, 2, 3]
        );
        assert_eq!(
            kept(&c, bounds(&c, BinOp::LtEq, &Value::Int32(-1)).unwrap()),
            [0, 1]
        );
    }

    #[test]
    fn dates_compare_with_dates_only() {
        let c = Column::Date(Date32Array::from(vec![
            Some(10),
            None,
            Some(12),
            Some(i32::MAX),
        ]));
        assert_eq!(
            kept(&c, bounds(&c, BinOp::GtEq, &Value::Date(11)).unwrap()),
            [2, 3]
        );
        assert!(bounds(&c, BinOp::GtEq, &Value::Timestamp(11)).is_none());
        assert!(bounds(&c, BinOp::GtEq, &Value::Int32(11)).is_none());
    }
}
