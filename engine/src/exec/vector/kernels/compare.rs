//! Comparison kernels: six orderings over ordered native values, producing a packed bitmap.
//!
//! Floats compare through [`f64_key`], PostgreSQL's total order (NaN equal to itself and above
//! every number, -0 equal to 0), so one integer compare serves them.

use super::Src;
use arrow_buffer::BooleanBuffer;
use std::cmp::Ordering;

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
}

impl CmpOp {
    /// The operator with its operands swapped: `c < x` is `x > c`.
    pub fn flip(self) -> CmpOp {
        match self {
            CmpOp::Eq => CmpOp::Eq,
            CmpOp::NotEq => CmpOp::NotEq,
            CmpOp::Lt => CmpOp::Gt,
            CmpOp::LtEq => CmpOp::GtEq,
            CmpOp::Gt => CmpOp::Lt,
            CmpOp::GtEq => CmpOp::LtEq,
        }
    }

    #[inline(always)]
    pub fn holds(self, o: Ordering) -> bool {
        match self {
            CmpOp::Eq => o == Ordering::Equal,
            CmpOp::NotEq => o != Ordering::Equal,
            CmpOp::Lt => o == Ordering::Less,
            CmpOp::LtEq => o != Ordering::Greater,
            CmpOp::Gt => o == Ordering::Greater,
            CmpOp::GtEq => o != Ordering::Less,
        }
    }
}

/// `a[i] op b[i]` for `i < len`. One monomorphic loop per operator so each vectorizes.
pub fn compare<T: Copy + PartialOrd, A: Src<T>, B: Src<T>>(
    op: CmpOp,
    a: A,
    b: B,
    len: usize,
) -> BooleanBuffer {
    assert!(a.rows() >= len && b.rows() >= len);
    match op {
        CmpOp::Eq => BooleanBuffer::collect_bool(len, |i| a.at(i) == b.at(i)),
        CmpOp::NotEq => BooleanBuffer::collect_bool(len, |i| a.at(i) != b.at(i)),
        CmpOp::Lt => BooleanBuffer::collect_bool(len, |i| a.at(i) < b.at(i)),
        CmpOp::LtEq => BooleanBuffer::collect_bool(len, |i| a.at(i) <= b.at(i)),
        CmpOp::Gt => BooleanBuffer::collect_bool(len, |i| a.at(i) > b.at(i)),
        CmpOp::GtEq => BooleanBuffer::collect_bool(len, |i| a.at(i) >= b.at(i)),
    }
}

/// An integer with the same order as PostgreSQL's float order.
#[inline(always)]
pub fn f64_key(f: f64) -> i64 {
    if f.is_nan() {
        return i64::MAX;
    }
    // -0.0 + 0.0 == +0.0: equal zeros get one key.
    let bits = (f + 0.0).to_bits() as i64;
    bits ^ (((bits >> 63) as u64) >> 1) as i64
}

/// Floats mapped to their order keys, for comparing with [`compare`].
pub fn f64_keys(values: impl Iterator<Item = f64>, out: &mut Vec<i64>) {
    out.clear();
    out.extend(values.map(f64_key));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::vector::kernels::Splat;

    #[test]
    fn float_keys_follow_postgres_order() {
        let xs = [
            f64::NEG_INFINITY,
            -1e300,
            -1.0,
            -0.0,
            0.0,
            1e-300,
            2.5,
            f64::INFINITY,
            f64::NAN,
        ];
        for w in xs.windows(2) {
            assert!(f64_key(w[0]) <= f64_key(w[1]), "{} {}", w[0], w[1]);
        }
        assert_eq!(f64_key(-0.0), f64_key(0.0));
        assert_eq!(f64_key(f64::NAN), f64_key(-f64::NAN));
    }

    #[test]
    fn compare_with_constant_and_slices() {
        let a = [1i32, 5, 3, 7];
        let r = compare(CmpOp::Gt, &a[..], Splat(3), 4);
        assert_eq!(r.iter().collect::<Vec<_>>(), [false, true, false, true]);
        let b = [1i32, 6, 3, 0];
        let r = compare(CmpOp::LtEq, &a[..], &b[..], 4);
        assert_eq!(r.iter().collect::<Vec<_>>(), [true, true, true, false]);
    }
}
