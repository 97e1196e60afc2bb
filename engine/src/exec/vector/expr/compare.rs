//! Comparisons: `= <> < <= > >=` with the row executor's semantics (`compare`, and
//! `compare_char` when the left operand is `char(n)`).

use super::side::{
    Side, both, both_nulls, date_side, f32_side, f64_side, i16_side, i32_side, i64_side,
    is_null_scalar, numeric_side, ts_side, tstz_side,
};
use super::{Operand, all_null};
use crate::EngineError;
use crate::exec::vector::data::{Kind, Vector};
use crate::exec::vector::kernels::compare::{CmpOp, compare, f64_key};
use crate::exec::vector::kernels::compare_const;
use arrow_array::{Array, BooleanArray, StringArray};
use arrow_buffer::BooleanBuffer;
use omendb_planner::BinOp;
use omendb_storage::types::{DataType, Value};

pub fn cmp_op(op: BinOp) -> CmpOp {
    match op {
        BinOp::Eq => CmpOp::Eq,
        BinOp::NotEq => CmpOp::NotEq,
        BinOp::Lt => CmpOp::Lt,
        BinOp::LtEq => CmpOp::LtEq,
        BinOp::Gt => CmpOp::Gt,
        _ => CmpOp::GtEq,
    }
}

/// `l op r` as a boolean vector, or `None` when no kernel handles these operands.
pub fn kernel(
    op: BinOp,
    left_ty: DataType,
    l: &Operand,
    r: &Operand,
    len: usize,
) -> Result<Option<Vector>, EngineError> {
    if is_null_scalar(l) || is_null_scalar(r) {
        return all_null(Kind::Bool, len).map(Some);
    }
    let op = cmp_op(op);
    let Some(bits) = bits(op, left_ty, l, r, len) else {
        return Ok(None);
    };
    Ok(Some(Vector::Bool(BooleanArray::new(
        bits,
        both_nulls(l, r),
    ))))
}

fn bits(
    op: CmpOp,
    left_ty: DataType,
    l: &Operand,
    r: &Operand,
    len: usize,
) -> Option<BooleanBuffer> {
    macro_rules! try_prim {
        ($side:ident) => {
            if let (Some(a), Some(b)) = ($side(l), $side(r)) {
                return Some(both!(a, b, |x, y| compare(op, x, y, len)));
            }
        };
    }
    // A column against a constant, the common filter: the explicit SIMD kernels.
    macro_rules! try_const {
        ($side:ident, $kernel:path) => {
            match ($side(l), $side(r)) {
                (Some(Side::Slice(a)), Some(Side::Const(c))) => {
                    return Some($kernel(op, &a[..len], c))
                }
                (Some(Side::Const(c)), Some(Side::Slice(b))) => {
                    return Some($kernel(op.flip(), &b[..len], c));
                }
                _ => {}
            }
        };
    }
    try_const!(i32_side, compare_const::i32_const);
    try_const!(date_side, compare_const::i32_const);
    try_const!(i64_side, compare_const::i64_const);
    try_const!(ts_side, compare_const::i64_const);
    try_const!(tstz_side, compare_const::i64_const);
    try_prim!(i32_side);
    try_prim!(date_side);
    try_prim!(i64_side);
    try_prim!(ts_side);
    try_prim!(tstz_side);
    try_prim!(i16_side);
    if let (Some(a), Some(b)) = (f64_side(l), f64_side(r)) {
        return Some(float_compare(op, keys(a, |x| x), keys(b, |x| x), len));
    }
    if let (Some(a), Some(b)) = (f32_side(l), f32_side(r)) {
        return Some(float_compare(
            op,
            keys(a, f64::from),
            keys(b, f64::from),
            len,
        ));
    }
    if let (Some(a), Some(b)) = (numeric_side(l), numeric_side(r)) {
        return numeric_compare(op, a, b, len);
    }
    if let (Some(a), Some(b)) = (text_side(l), text_side(r)) {
        let trim = matches!(left_ty, DataType::Char(_));
        return Some(text_compare(op, a, b, trim, len));
    }
    None
}

/// Float order keys: a vector of keys or one constant key.
enum Keys {
    Many(Vec<i64>),
    One(i64),
}

fn keys<T: Copy>(s: Side<'_, T>, widen: impl Fn(T) -> f64) -> Keys {
    match s {
        Side::Slice(v) => Keys::Many(v.iter().map(|x| f64_key(widen(*x))).collect()),
        Side::Const(x) => Keys::One(f64_key(widen(x))),
    }
}

fn float_compare(op: CmpOp, a: Keys, b: Keys, len: usize) -> BooleanBuffer {
    fn side(k: &Keys) -> Side<'_, i64> {
        match k {
            Keys::Many(v) => Side::Slice(v),
            Keys::One(x) => Side::Const(*x),
        }
    }
    both!(side(&a), side(&b), |x, y| compare(op, x, y, len))
}

/// Both sides brought to the larger scale; `None` (row by row) if that overflows.
fn numeric_compare(
    op: CmpOp,
    (a, sa): (Side<'_, i128>, u8),
    (b, sb): (Side<'_, i128>, u8),
    len: usize,
) -> Option<BooleanBuffer> {
    if sa == sb {
        return Some(both!(a, b, |x, y| compare(op, x, y, len)));
    }
    let s = sa.max(sb);
    let scaled = |side: Side<'_, i128>, from: u8| -> Option<Vec<i128>> {
        let f = 10i128.checked_pow(u32::from(s - from))?;
        match side {
            Side::Slice(v) => v.iter().map(|m| m.checked_mul(f)).collect(),
            Side::Const(m) => Some(vec![m.checked_mul(f)?]),
        }
    };
    let (va, vb) = (scaled(a, sa)?, scaled(b, sb)?);
    fn pick<'v>(orig: Side<'_, i128>, v: &'v [i128]) -> Side<'v, i128> {
        match orig {
            Side::Slice(_) => Side::Slice(v),
            Side::Const(_) => Side::Const(v[0]),
        }
    }
    Some(both!(pick(a, &va), pick(b, &vb), |x, y| compare(
        op, x, y, len
    )))
}

enum Text<'a> {
    Many(&'a StringArray),
    One(&'a str),
}

fn text_side(o: &Operand) -> Option<Text<'_>> {
    match o {
        Operand::Vector(Vector::Text(a)) => Some(Text::Many(a)),
        Operand::Scalar(Value::Text(s)) => Some(Text::One(s)),
        _ => None,
    }
}

fn text_compare(op: CmpOp, a: Text<'_>, b: Text<'_>, trim: bool, len: usize) -> BooleanBuffer {
    fn get<'t>(t: &Text<'t>, i: usize, trim: bool) -> &'t [u8] {
        let s = match *t {
            Text::Many(arr) => {
                if arr.is_null(i) {
                    ""
                } else {
                    arr.value(i)
                }
            }
            Text::One(s) => s,
        };
        if trim {
            s.trim_end_matches(' ').as_bytes()
        } else {
            s.as_bytes()
        }
    }
    BooleanBuffer::collect_bool(len, |i| op.holds(get(&a, i, trim).cmp(get(&b, i, trim))))
}
