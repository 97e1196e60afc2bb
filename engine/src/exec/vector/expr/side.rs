//! Typed views of operands for the binary kernels: a slice of a vector's values or one constant.

use super::Operand;
use crate::exec::vector::data::{Scale, Vector};
use arrow_buffer::NullBuffer;
use omendb_storage::types::Value;

/// One side of a binary kernel.
#[derive(Clone, Copy)]
pub enum Side<'a, T> {
    Slice(&'a [T]),
    Const(T),
}

/// Run `$body` with `$a`/`$b` bound to the slice or `Splat` form of each side (one
/// monomorphic kernel per combination).
macro_rules! both {
    ($l:expr, $r:expr, |$a:ident, $b:ident| $body:expr) => {{
        use $crate::exec::vector::expr::side::Side;
        use $crate::exec::vector::kernels::Splat;
        match ($l, $r) {
            (Side::Slice($a), Side::Slice($b)) => $body,
            (Side::Slice($a), Side::Const(y)) => {
                let $b = Splat(y);
                $body
            }
            (Side::Const(x), Side::Slice($b)) => {
                let $a = Splat(x);
                $body
            }
            (Side::Const(x), Side::Const(y)) => {
                let ($a, $b) = (Splat(x), Splat(y));
                $body
            }
        }
    }};
}
pub(crate) use both;

macro_rules! side_fn {
    ($name:ident, $t:ty, $($vec:ident / $val:ident),+) => {
        pub fn $name(o: &Operand) -> Option<Side<'_, $t>> {
            match o {
                $(Operand::Vector(Vector::$vec(a)) => Some(Side::Slice(a.values())),)+
                $(Operand::Scalar(Value::$val(x)) => Some(Side::Const(*x)),)+
                _ => None,
            }
        }
    };
}
side_fn!(i16_side, i16, Int16 / Int16);
side_fn!(i32_side, i32, Int32 / Int32);
side_fn!(i64_side, i64, Int64 / Int64);
side_fn!(date_side, i32, Date / Date);
side_fn!(ts_side, i64, Timestamp / Timestamp);
side_fn!(tstz_side, i64, TimestampTz / TimestampTz);
side_fn!(f64_side, f64, Float64 / Float64);
side_fn!(f32_side, f32, Float32 / Float32);

/// Numeric mantissas with one scale for the whole side, if it has one.
pub fn numeric_side(o: &Operand) -> Option<(Side<'_, i128>, u8)> {
    match o {
        Operand::Vector(Vector::Numeric(n)) => match n.scale {
            Scale::Uniform(s) => Some((Side::Slice(n.mantissas()), s)),
            Scale::PerRow(_) => None,
        },
        Operand::Scalar(Value::Numeric(x)) => Some((Side::Const(x.mantissa()), x.scale())),
        _ => None,
    }
}

/// The validity of an operand (`None`: all valid; a NULL constant is handled by callers).
pub fn nulls(o: &Operand) -> Option<&NullBuffer> {
    match o {
        Operand::Vector(v) => v.nulls(),
        Operand::Scalar(_) => None,
    }
}

/// Rows valid on both sides.
pub fn both_nulls(l: &Operand, r: &Operand) -> Option<NullBuffer> {
    NullBuffer::union(nulls(l), nulls(r)).filter(|n| n.null_count() > 0)
}

pub fn is_null_scalar(o: &Operand) -> bool {
    matches!(o, Operand::Scalar(Value::Null))
}
