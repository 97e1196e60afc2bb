//! Arithmetic kernels. Each computes every row (wrapping where a row would fail) and reports
//! whether any row overflowed or divided by zero; rows under a NULL are included, so the caller
//! re-checks flagged batches against validity before it calls something an error.

use super::Src;

/// An arithmetic operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

/// The integer widths SQL has, with the operations the kernels need.
pub trait Int: Copy + Default + PartialEq + PartialOrd + Send + Sync + 'static {
    const MIN: Self;
    const ZERO: Self;
    const MINUS_ONE: Self;
    fn overflowing_add(self, o: Self) -> (Self, bool);
    fn overflowing_sub(self, o: Self) -> (Self, bool);
    fn overflowing_mul(self, o: Self) -> (Self, bool);
    fn wrapping_div(self, o: Self) -> Self;
    fn wrapping_rem(self, o: Self) -> Self;
    fn to_i128(self) -> i128;
}

macro_rules! int_impl {
    ($t:ty) => {
        impl Int for $t {
            const MIN: Self = <$t>::MIN;
            const ZERO: Self = 0;
            const MINUS_ONE: Self = -1;
            #[inline(always)]
            fn overflowing_add(self, o: Self) -> (Self, bool) {
                <$t>::overflowing_add(self, o)
            }
            #[inline(always)]
            fn overflowing_sub(self, o: Self) -> (Self, bool) {
                <$t>::overflowing_sub(self, o)
            }
            #[inline(always)]
            fn overflowing_mul(self, o: Self) -> (Self, bool) {
                <$t>::overflowing_mul(self, o)
            }
            #[inline(always)]
            fn wrapping_div(self, o: Self) -> Self {
                <$t>::wrapping_div(self, o)
            }
            #[inline(always)]
            fn wrapping_rem(self, o: Self) -> Self {
                <$t>::wrapping_rem(self, o)
            }
            #[inline(always)]
            fn to_i128(self) -> i128 {
                i128::from(self)
            }
        }
    };
}
int_impl!(i16);
int_impl!(i32);
int_impl!(i64);

/// Integer `a op b` into `out`; true if some row overflowed or divided by zero.
pub fn int_arith<T: Int, A: Src<T>, B: Src<T>>(
    op: ArithOp,
    a: A,
    b: B,
    len: usize,
    out: &mut Vec<T>,
) -> bool {
    assert!(a.rows() >= len && b.rows() >= len);
    out.clear();
    out.resize(len, T::ZERO);
    let out = &mut out[..len];
    let mut bad = false;
    macro_rules! lanes {
        ($f:ident) => {
            for (i, slot) in out.iter_mut().enumerate() {
                let (r, o) = a.at(i).$f(b.at(i));
                *slot = r;
                bad |= o;
            }
        };
    }
    match op {
        ArithOp::Add => lanes!(overflowing_add),
        ArithOp::Sub => lanes!(overflowing_sub),
        ArithOp::Mul => lanes!(overflowing_mul),
        ArithOp::Div => {
            for (i, slot) in out.iter_mut().enumerate() {
                let (x, y) = (a.at(i), b.at(i));
                let fails = y == T::ZERO || (y == T::MINUS_ONE && x == T::MIN);
                bad |= fails;
                *slot = if fails { T::ZERO } else { x.wrapping_div(y) };
            }
        }
        ArithOp::Mod => {
            for (i, slot) in out.iter_mut().enumerate() {
                let (x, y) = (a.at(i), b.at(i));
                bad |= y == T::ZERO;
                // MIN % -1 is 0 in SQL; wrapping_rem gives exactly that.
                *slot = if y == T::ZERO {
                    T::ZERO
                } else {
                    x.wrapping_rem(y)
                };
            }
        }
    }
    bad
}

/// Whether one integer row succeeds (the precise check for flagged batches).
pub fn int_row_ok<T: Int>(op: ArithOp, x: T, y: T) -> bool {
    match op {
        ArithOp::Add => !x.overflowing_add(y).1,
        ArithOp::Sub => !x.overflowing_sub(y).1,
        ArithOp::Mul => !x.overflowing_mul(y).1,
        ArithOp::Div => !(y == T::ZERO || (y == T::MINUS_ONE && x == T::MIN)),
        ArithOp::Mod => y != T::ZERO,
    }
}

/// Float `a op b` in f64; true if some row divided by zero or overflowed from finite operands.
/// `Mod` is not a float operator and is never passed here.
pub fn f64_arith<A: Src<f64>, B: Src<f64>>(
    op: ArithOp,
    a: A,
    b: B,
    len: usize,
    out: &mut Vec<f64>,
) -> bool {
    assert!(a.rows() >= len && b.rows() >= len);
    out.clear();
    out.resize(len, 0.0);
    let out = &mut out[..len];
    let mut bad = false;
    macro_rules! lanes {
        ($e:expr) => {
            for (i, slot) in out.iter_mut().enumerate() {
                let (x, y) = (a.at(i), b.at(i));
                let r = $e(x, y);
                *slot = r;
                bad |= r.is_infinite() & x.is_finite() & y.is_finite();
            }
        };
    }
    match op {
        ArithOp::Add => lanes!(|x: f64, y: f64| x + y),
        ArithOp::Sub => lanes!(|x: f64, y: f64| x - y),
        ArithOp::Mul => lanes!(|x: f64, y: f64| x * y),
        ArithOp::Div | ArithOp::Mod => {
            for (i, slot) in out.iter_mut().enumerate() {
                let (x, y) = (a.at(i), b.at(i));
                let r = x / y;
                *slot = r;
                bad |= (y == 0.0) | (r.is_infinite() & x.is_finite() & y.is_finite());
            }
        }
    }
    bad
}

/// The exclusive bound on a numeric mantissa: 10^38.
pub const NUMERIC_LIMIT: i128 = 10i128.pow(38);

/// Numeric `a op b` on mantissas already at the result's scale (`fa`, `fb`: factors that align
/// each side, 1 when already aligned). True if some row left the fast path (i128 overflow or
/// 38 digits exceeded): the caller recomputes the batch value by value.
pub fn numeric_arith<A: Src<i128>, B: Src<i128>>(
    op: ArithOp,
    (a, fa): (A, i128),
    (b, fb): (B, i128),
    len: usize,
    out: &mut Vec<i128>,
) -> bool {
    assert!(a.rows() >= len && b.rows() >= len);
    out.clear();
    out.resize(len, 0);
    let out = &mut out[..len];
    let mut bad = false;
    let in_range = |r: Option<i128>| match r {
        Some(v) if v > -NUMERIC_LIMIT && v < NUMERIC_LIMIT => (v, false),
        _ => (0, true),
    };
    match op {
        ArithOp::Add | ArithOp::Sub if fa == 1 && fb == 1 => {
            for (i, slot) in out.iter_mut().enumerate() {
                let (x, y) = (a.at(i), b.at(i));
                let r = if op == ArithOp::Add {
                    x.checked_add(y)
                } else {
                    x.checked_sub(y)
                };
                let (v, o) = in_range(r);
                *slot = v;
                bad |= o;
            }
        }
        ArithOp::Add | ArithOp::Sub => {
            for (i, slot) in out.iter_mut().enumerate() {
                let x = a.at(i).checked_mul(fa);
                let y = b.at(i).checked_mul(fb);
                let r = match (x, y) {
                    (Some(x), Some(y)) if op == ArithOp::Add => x.checked_add(y),
                    (Some(x), Some(y)) => x.checked_sub(y),
                    _ => None,
                };
                let (v, o) = in_range(r);
                *slot = v;
                bad |= o;
            }
        }
        ArithOp::Mul => {
            for (i, slot) in out.iter_mut().enumerate() {
                let (v, o) = in_range(a.at(i).checked_mul(b.at(i)));
                *slot = v;
                bad |= o;
            }
        }
        ArithOp::Div | ArithOp::Mod => {
            // Quotient scales depend on the values: never a fast path.
            return true;
        }
    }
    bad
}

/// The largest magnitude among the first `len` values of a side.
pub fn max_magnitude<A: Src<i128>>(a: A, len: usize) -> u128 {
    if a.rows() == usize::MAX {
        return a.at(0).unsigned_abs();
    }
    (0..len).fold(0, |m, i| m.max(a.at(i).unsigned_abs()))
}

/// Numeric `a op b` (+ - *, mantissas aligned by `fa`/`fb` as in [`numeric_arith`]) when the
/// operands' magnitudes bound every result below 10^38: then no row can overflow and the loop
/// has no checks. Returns false, computing nothing, when the bound does not hold. Operands that
/// fit in i64 multiply with one 64×64→128-bit multiply instead of a full i128 product.
pub fn numeric_arith_bounded<A: Src<i128>, B: Src<i128>>(
    op: ArithOp,
    (a, fa): (A, i128),
    (b, fb): (B, i128),
    len: usize,
    out: &mut Vec<i128>,
) -> bool {
    assert!(a.rows() >= len && b.rows() >= len);
    let (ma, mb) = (max_magnitude(a, len), max_magnitude(b, len));
    let bound = match op {
        ArithOp::Add | ArithOp::Sub => ma
            .checked_mul(fa.unsigned_abs())
            .zip(mb.checked_mul(fb.unsigned_abs()))
            .and_then(|(x, y)| x.checked_add(y)),
        ArithOp::Mul => ma.checked_mul(mb),
        ArithOp::Div | ArithOp::Mod => None,
    };
    if bound.is_none_or(|m| m >= NUMERIC_LIMIT as u128) {
        return false;
    }
    let fits = |m: u128| m <= i64::MAX as u128;
    let narrow = fits(ma) && fits(mb) && fits(fa.unsigned_abs()) && fits(fb.unsigned_abs());
    out.clear();
    out.reserve(len);
    // `$w(p, q)`: the exact product, through the narrow multiply when both fit in i64.
    macro_rules! lanes {
        (|$x:ident, $y:ident, $w:ident| $e:expr) => {
            if narrow {
                let $w = |p: i128, q: i128| i128::from(p as i64) * i128::from(q as i64);
                out.extend((0..len).map(|i| {
                    let ($x, $y) = (a.at(i), b.at(i));
                    $e
                }));
            } else {
                let $w = |p: i128, q: i128| p * q;
                out.extend((0..len).map(|i| {
                    let ($x, $y) = (a.at(i), b.at(i));
                    $e
                }));
            }
        };
    }
    match op {
        ArithOp::Add if fa == 1 && fb == 1 => lanes!(|x, y, _w| x + y),
        ArithOp::Sub if fa == 1 && fb == 1 => lanes!(|x, y, _w| x - y),
        ArithOp::Add => lanes!(|x, y, w| w(x, fa) + w(y, fb)),
        ArithOp::Sub => lanes!(|x, y, w| w(x, fa) - w(y, fb)),
        ArithOp::Mul => lanes!(|x, y, w| w(x, y)),
        ArithOp::Div | ArithOp::Mod => return false,
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::vector::kernels::Splat;

    #[test]
    fn int_overflow_and_division_are_flagged() {
        let mut out = Vec::new();
        assert!(int_arith(
            ArithOp::Add,
            &[i32::MAX, 1][..],
            Splat(1),
            2,
            &mut out
        ));
        assert!(!int_arith(
            ArithOp::Add,
            &[5i32, 1][..],
            Splat(1),
            2,
            &mut out
        ));
        assert_eq!(out, [6, 2]);
        assert!(int_arith(
            ArithOp::Div,
            &[5i64, 1][..],
            &[0, 1][..],
            2,
            &mut out_i64()
        ));
        assert!(int_arith(
            ArithOp::Div,
            &[i16::MIN][..],
            Splat(-1),
            1,
            &mut Vec::new()
        ));
        let mut m = Vec::new();
        assert!(!int_arith(
            ArithOp::Mod,
            &[i32::MIN, -7][..],
            &[-1, 2][..],
            2,
            &mut m
        ));
        assert_eq!(m, [0, -1]);
        let mut d = Vec::new();
        assert!(!int_arith(ArithOp::Div, &[-7i32][..], Splat(2), 1, &mut d));
        assert_eq!(d, [-3]);
    }

    fn out_i64() -> Vec<i64> {
        Vec::new()
    }

    #[test]
    fn float_overflow_only_from_finite_operands() {
        let mut out = Vec::new();
        assert!(f64_arith(
            ArithOp::Mul,
            &[1e300][..],
            Splat(1e300),
            1,
            &mut out
        ));
        assert!(!f64_arith(
            ArithOp::Add,
            &[f64::INFINITY][..],
            Splat(1.0),
            1,
            &mut out
        ));
        assert!(f64_arith(ArithOp::Div, &[1.0][..], Splat(0.0), 1, &mut out));
    }

    #[test]
    fn numeric_fast_path_bails_past_38_digits() {
        let mut out = Vec::new();
        assert!(!numeric_arith(
            ArithOp::Add,
            (&[150i128][..], 1),
            (Splat(3i128), 10),
            1,
            &mut out
        ));
        assert_eq!(out, [180]);
        assert!(numeric_arith(
            ArithOp::Mul,
            (&[NUMERIC_LIMIT / 10][..], 1),
            (Splat(100i128), 1),
            1,
            &mut out
        ));
    }
}
