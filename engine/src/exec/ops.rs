//! Operators on single values with PostgreSQL semantics: comparison, arithmetic, LIKE.
//!
//! Operands arrive already coerced by the binder, so each arm matches one type pair. Must never
//! panic on any value: overflow and division by zero are errors.

use crate::EngineError;
use omendb_planner::BinOp;
use omendb_storage::types::datetime::{self, TimeZone};
use omendb_storage::types::{Interval, Numeric, TypeError, Value};
use std::cmp::Ordering;

/// SQL comparison of two non-null values of the same type (`None` if either is NULL).
pub fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    use Value::*;
    Some(match (a, b) {
        (Null, _) | (_, Null) => return None,
        (Bool(x), Bool(y)) => x.cmp(y),
        (Int16(x), Int16(y)) => x.cmp(y),
        (Int32(x), Int32(y)) => x.cmp(y),
        (Int64(x), Int64(y)) => x.cmp(y),
        (Float32(x), Float32(y)) => float_cmp(f64::from(*x), f64::from(*y)),
        (Float64(x), Float64(y)) => float_cmp(*x, *y),
        (Numeric(x), Numeric(y)) => x.cmp(y),
        (Text(x), Text(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Bytea(x), Bytea(y)) => x.cmp(y),
        (Date(x), Date(y)) => x.cmp(y),
        (Timestamp(x) | TimestampTz(x), Timestamp(y) | TimestampTz(y)) => x.cmp(y),
        (Interval(x), Interval(y)) => x.cmp(y),
        // Mixed numeric types (only after an unusual coercion path): compare exactly where possible.
        (x, y) => match (as_i64(x), as_i64(y)) {
            (Some(i), Some(j)) => i.cmp(&j),
            _ => float_cmp(as_f64(x)?, as_f64(y)?),
        },
    })
}

/// `char(n)` compares without its trailing blanks.
pub fn compare_char(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Text(x), Value::Text(y)) => Some(
            x.trim_end_matches(' ')
                .as_bytes()
                .cmp(y.trim_end_matches(' ').as_bytes()),
        ),
        _ => compare(a, b),
    }
}

/// PostgreSQL orders NaN above every number and equal to itself.
fn float_cmp(x: f64, y: f64) -> Ordering {
    match (x.is_nan(), y.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
    }
}

fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Int16(i) => Some(i64::from(*i)),
        Value::Int32(i) => Some(i64::from(*i)),
        Value::Int64(i) => Some(*i),
        _ => None,
    }
}

fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Float32(f) => Some(f64::from(*f)),
        Value::Float64(f) => Some(*f),
        Value::Numeric(n) => Some(n.to_f64()),
        other => as_i64(other).map(|i| i as f64),
    }
}

fn out_of_range(ty: &str) -> EngineError {
    EngineError::Type(TypeError::OutOfRange(format!("{ty} out of range")))
}

fn float_result(f: f64) -> Result<f64, EngineError> {
    if f.is_infinite() {
        Err(EngineError::Type(TypeError::OutOfRange(
            "value out of range: overflow".into(),
        )))
    } else {
        Ok(f)
    }
}

/// `+ - * / %` on non-null operands.
pub fn arithmetic(op: BinOp, a: &Value, b: &Value, tz: &TimeZone) -> Result<Value, EngineError> {
    use Value::*;
    macro_rules! int_op {
        ($x:expr, $y:expr, $variant:ident, $name:expr) => {{
            let (x, y) = ($x, $y);
            let r = match op {
                BinOp::Add => x.checked_add(y),
                BinOp::Sub => x.checked_sub(y),
                BinOp::Mul => x.checked_mul(y),
                BinOp::Div if y == 0 => return Err(TypeError::DivisionByZero.into()),
                BinOp::Div => x.checked_div(y),
                BinOp::Mod if y == 0 => return Err(TypeError::DivisionByZero.into()),
                // i::MIN % -1 overflows in Rust but is 0 in SQL.
                BinOp::Mod => Some(x.checked_rem(y).unwrap_or(0)),
                _ => None,
            };
            r.map($variant).ok_or_else(|| out_of_range($name))
        }};
    }
    match (a, b) {
        (Int16(x), Int16(y)) => int_op!(*x, *y, Int16, "smallint"),
        (Int32(x), Int32(y)) => int_op!(*x, *y, Int32, "integer"),
        (Int64(x), Int64(y)) => int_op!(*x, *y, Int64, "bigint"),
        (Float32(x), Float32(y)) => float_op(op, f64::from(*x), f64::from(*y)).and_then(|f| {
            let r = f as f32;
            if r.is_infinite() && !f.is_infinite() {
                Err(out_of_range("real"))
            } else {
                Ok(Float32(r))
            }
        }),
        (Float64(x), Float64(y)) => float_op(op, *x, *y).map(Float64),
        (Numeric(x), Numeric(y)) => {
            let r = match op {
                BinOp::Add => x.checked_add(*y),
                BinOp::Sub => x.checked_sub(*y),
                BinOp::Mul => x.checked_mul(*y),
                BinOp::Div => x.checked_div(*y),
                BinOp::Mod => x.checked_rem(*y),
                _ => return Err(unsupported(op, a, b)),
            };
            Ok(Numeric(r?))
        }
        (Date(d), Int32(n)) => {
            let r = match op {
                BinOp::Add => d.checked_add(*n),
                BinOp::Sub => d.checked_sub(*n),
                _ => return Err(unsupported(op, a, b)),
            };
            r.map(Date).ok_or_else(|| {
                EngineError::Type(TypeError::DatetimeOverflow("date out of range".into()))
            })
        }
        (Int32(n), Date(d)) if op == BinOp::Add => d.checked_add(*n).map(Date).ok_or_else(|| {
            EngineError::Type(TypeError::DatetimeOverflow("date out of range".into()))
        }),
        (Date(x), Date(y)) if op == BinOp::Sub => Ok(Int32(x - y)),
        (Timestamp(t), Interval(iv)) => Ok(Timestamp(datetime::timestamp_add_interval(
            *t,
            signed(op, *iv)?,
        )?)),
        (Interval(iv), Timestamp(t)) if op == BinOp::Add => {
            Ok(Timestamp(datetime::timestamp_add_interval(*t, *iv)?))
        }
        (TimestampTz(t), Interval(iv)) => Ok(TimestampTz(datetime::timestamptz_add_interval(
            *t,
            signed(op, *iv)?,
            tz,
        )?)),
        (Interval(iv), TimestampTz(t)) if op == BinOp::Add => Ok(TimestampTz(
            datetime::timestamptz_add_interval(*t, *iv, tz)?,
        )),
        (Timestamp(x), Timestamp(y)) | (TimestampTz(x), TimestampTz(y)) if op == BinOp::Sub => {
            Ok(Interval(datetime::timestamp_diff(*x, *y)))
        }
        (Interval(x), Interval(y)) => match op {
            BinOp::Add => Ok(Interval(x.checked_add(*y)?)),
            BinOp::Sub => Ok(Interval(x.checked_sub(*y)?)),
            _ => Err(unsupported(op, a, b)),
        },
        (Interval(x), Float64(f)) => match op {
            BinOp::Mul => Ok(Interval(x.checked_mul(*f)?)),
            BinOp::Div if *f == 0.0 => Err(TypeError::DivisionByZero.into()),
            BinOp::Div => Ok(Interval(x.checked_div(*f)?)),
            _ => Err(unsupported(op, a, b)),
        },
        (Float64(f), Interval(x)) if op == BinOp::Mul => Ok(Interval(x.checked_mul(*f)?)),
        _ => Err(unsupported(op, a, b)),
    }
}

fn signed(op: BinOp, iv: Interval) -> Result<Interval, EngineError> {
    match op {
        BinOp::Add => Ok(iv),
        BinOp::Sub => Ok(iv.checked_neg()?),
        _ => Err(EngineError::Internal(format!(
            "interval operator {}",
            op.symbol()
        ))),
    }
}

fn float_op(op: BinOp, x: f64, y: f64) -> Result<f64, EngineError> {
    let r = match op {
        BinOp::Add => x + y,
        BinOp::Sub => x - y,
        BinOp::Mul => x * y,
        BinOp::Div if y == 0.0 => return Err(TypeError::DivisionByZero.into()),
        BinOp::Div => x / y,
        BinOp::Mod => {
            return Err(EngineError::sql(
                "42883",
                "operator does not exist: double precision % double precision",
            ));
        }
        _ => {
            return Err(EngineError::Internal(format!(
                "float operator {}",
                op.symbol()
            )));
        }
    };
    if r.is_infinite() && x.is_finite() && y.is_finite() {
        return float_result(r);
    }
    Ok(r)
}

fn unsupported(op: BinOp, a: &Value, b: &Value) -> EngineError {
    EngineError::sql(
        "42883",
        format!(
            "operator does not exist: {} {} {}",
            a.data_type(),
            op.symbol(),
            b.data_type()
        ),
    )
}

/// Negation with overflow checks.
pub fn negate(v: &Value) -> Result<Value, EngineError> {
    use Value::*;
    Ok(match v {
        Null => Null,
        Int16(i) => Int16(i.checked_neg().ok_or_else(|| out_of_range("smallint"))?),
        Int32(i) => Int32(i.checked_neg().ok_or_else(|| out_of_range("integer"))?),
        Int64(i) => Int64(i.checked_neg().ok_or_else(|| out_of_range("bigint"))?),
        Float32(f) => Float32(-f),
        Float64(f) => Float64(-f),
        Numeric(n) => Numeric(n.neg()),
        Interval(iv) => Interval(iv.checked_neg()?),
        other => {
            return Err(EngineError::sql(
                "42883",
                format!("operator does not exist: - {}", other.data_type()),
            ));
        }
    })
}

/// SQL LIKE with `%` and `_`, backslash escapes; `case_insensitive` for ILIKE.
pub fn like(text: &str, pattern: &str, case_insensitive: bool) -> Result<bool, EngineError> {
    if case_insensitive {
        return like(&text.to_lowercase(), &pattern.to_lowercase(), false);
    }
    let t: Vec<char> = text.chars().collect();
    let p: Vec<char> = pattern.chars().collect();
    if p.last() == Some(&'\\') && !p.ends_with(&['\\', '\\']) {
        return Err(EngineError::sql(
            "22025",
            "LIKE pattern must not end with escape character",
        ));
    }
    Ok(like_match(&t, &p))
}

/// Iterative wildcard match with backtracking to the last `%` (linear in practice, no recursion).
fn like_match(t: &[char], p: &[char]) -> bool {
    let (mut ti, mut pi) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() {
            match p[pi] {
                '%' => {
                    star = Some((pi, ti));
                    pi += 1;
                    continue;
                }
                '_' => {
                    ti += 1;
                    pi += 1;
                    continue;
                }
                '\\' if pi + 1 < p.len() && p[pi + 1] == t[ti] => {
                    ti += 1;
                    pi += 2;
                    continue;
                }
                c if c == t[ti] => {
                    ti += 1;
                    pi += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, st)) => {
                pi = sp + 1;
                ti = st + 1;
                star = Some((sp, st + 1));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|c| *c == '%')
}

/// A Numeric from an integer accumulator (sum of int8 is numeric in PostgreSQL).
pub fn numeric_from_i128(v: i128) -> Numeric {
    Numeric::new(v, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_handles_wildcards_and_escapes() {
        let m = |t, p| like(t, p, false).unwrap();
        assert!(m("purchase", "pur%"));
        assert!(m("purchase", "%chase"));
        assert!(m("abc", "a_c"));
        assert!(!m("abc", "a_"));
        assert!(m("a%c", "a\\%c"));
        assert!(!m("abc", "a\\%c"));
        assert!(m("", "%"));
        assert!(m("mississippi", "%iss%ppi"));
        assert!(like("ABC", "a%", true).unwrap());
    }

    #[test]
    fn integer_overflow_and_division_by_zero_are_errors() {
        let tz = TimeZone::utc();
        assert!(arithmetic(BinOp::Add, &Value::Int32(i32::MAX), &Value::Int32(1), &tz).is_err());
        let e = arithmetic(BinOp::Div, &Value::Int32(1), &Value::Int32(0), &tz).unwrap_err();
        assert_eq!(e.sqlstate(), "22012");
        assert!(arithmetic(BinOp::Div, &Value::Int64(i64::MIN), &Value::Int64(-1), &tz).is_err());
        assert!(matches!(
            arithmetic(BinOp::Mod, &Value::Int32(i32::MIN), &Value::Int32(-1), &tz),
            Ok(Value::Int32(0))
        ));
        assert!(matches!(
            arithmetic(BinOp::Div, &Value::Int32(-7), &Value::Int32(2), &tz),
            Ok(Value::Int32(-3))
        ));
    }

    #[test]
    fn nan_sorts_last_and_equals_itself() {
        assert_eq!(
            compare(&Value::Float64(f64::NAN), &Value::Float64(1e300)),
            Some(Ordering::Greater)
        );
        assert_eq!(
            compare(&Value::Float64(f64::NAN), &Value::Float64(f64::NAN)),
            Some(Ordering::Equal)
        );
        assert_eq!(compare(&Value::Null, &Value::Int32(1)), None);
    }
}
