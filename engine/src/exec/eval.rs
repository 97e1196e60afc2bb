//! Evaluating bound expressions over one row.
//!
//! Row-at-a-time interpretation: this serves OLTP statements and the analytic paths until the
//! vectorized executor replaces it for scans, joins and aggregates. Must never panic on a value.

use super::ops::{arithmetic, compare, compare_char, like, negate};
use crate::EngineError;
use crate::shard::Engine;
use omendb_planner::IsolationLevel;
use omendb_planner::{BinOp, Expr, Func, UnaryOp};
use omendb_storage::row::{ReadView, Ts, WriterId};
use omendb_storage::types::datetime::{self, TimeZone};
use omendb_storage::types::{DataType, Numeric, TypeError, Value};
use std::cmp::Ordering;
use std::sync::Arc;

/// Everything an expression may read besides its row. Shared with the shards a statement runs on.
pub struct EvalEnv {
    pub params: Vec<Value>,
    pub tz: TimeZone,
    /// Transaction start (`now()`), UTC micros since 2000-01-01.
    pub txn_start: i64,
    /// The transaction whose writes this statement sees.
    pub reader: WriterId,
    /// The snapshot the statement reads at (one for every shard it reads).
    pub snapshot: Ts,
    /// How writes treat rows changed after the snapshot.
    pub isolation: IsolationLevel,
    /// The transaction's open savepoints: while there are any, the shards keep what the
    /// statement's writes replace, for ROLLBACK TO SAVEPOINT.
    pub savepoint: crate::shard::Savepoints,
    pub user: Arc<str>,
    pub database: Arc<str>,
    pub backend_pid: i32,
    /// Session settings for `current_setting()` (shared with the session until it changes one).
    pub settings: Arc<[(String, String)]>,
    /// How long a statement waits for rows and keys other transactions hold (55P03 after).
    pub lock_wait: std::time::Duration,
    /// How long a wait lasts before it checks for a deadlock (`deadlock_timeout`).
    pub deadlock_wait: std::time::Duration,
    /// What this statement may hold in memory, and holds now (53200 past it).
    pub memory: Arc<super::memory::MemoryBudget>,
    pub engine: Arc<Engine>,
}

impl EvalEnv {
    /// What the statement's scans see: its snapshot plus its transaction's own writes.
    pub fn view(&self) -> ReadView {
        ReadView {
            at: self.snapshot,
            txn: self.reader,
        }
    }
}

/// Evaluate to a boolean for WHERE/ON/HAVING: NULL counts as false.
pub fn eval_predicate(e: &Expr, row: &[Value], env: &EvalEnv) -> Result<bool, EngineError> {
    Ok(matches!(eval(e, row, env)?, Value::Bool(true)))
}

pub fn eval(e: &Expr, row: &[Value], env: &EvalEnv) -> Result<Value, EngineError> {
    match e {
        Expr::Column { index, .. } => row
            .get(*index)
            .cloned()
            .ok_or_else(|| EngineError::Internal(format!("column {index} out of range"))),
        Expr::Literal { value, .. } => Ok(value.clone()),
        Expr::Param { index, .. } => Ok(env.params.get(*index).cloned().unwrap_or(Value::Null)),
        Expr::Cast { expr, ty } => Ok(Value::cast_from(
            eval(expr, row, env)?,
            expr.ty(),
            *ty,
            &env.tz,
        )?),
        Expr::Unary {
            op: UnaryOp::Neg,
            expr,
            ..
        } => negate(&eval(expr, row, env)?),
        Expr::Unary {
            op: UnaryOp::Not,
            expr,
            ..
        } => Ok(match eval(expr, row, env)? {
            Value::Bool(b) => Value::Bool(!b),
            _ => Value::Null,
        }),
        Expr::Binary {
            op: BinOp::And,
            left,
            right,
            ..
        } => and(left, right, row, env),
        Expr::Binary {
            op: BinOp::Or,
            left,
            right,
            ..
        } => or(left, right, row, env),
        Expr::Binary {
            op, left, right, ..
        } => {
            let l = eval(left, row, env)?;
            let r = eval(right, row, env)?;
            if l.is_null() || r.is_null() {
                return Ok(Value::Null);
            }
            if op.is_comparison() {
                let ord = if matches!(left.ty(), DataType::Char(_)) {
                    compare_char(&l, &r)
                } else {
                    compare(&l, &r)
                };
                return Ok(ord.map_or(Value::Null, |o| Value::Bool(comparison_holds(*op, o))));
            }
            if *op == BinOp::Concat {
                return Ok(concat(l, &r));
            }
            arithmetic(*op, &l, &r, &env.tz)
        }
        Expr::IsNull { expr, negated } => {
            Ok(Value::Bool(eval(expr, row, env)?.is_null() != *negated))
        }
        Expr::IsBool {
            expr,
            value,
            negated,
        } => {
            let is = matches!(eval(expr, row, env)?, Value::Bool(b) if b == *value);
            Ok(Value::Bool(is != *negated))
        }
        Expr::IsDistinct {
            left,
            right,
            negated,
        } => {
            let (l, r) = (eval(left, row, env)?, eval(right, row, env)?);
            let distinct = match (l.is_null(), r.is_null()) {
                (true, true) => false,
                (true, false) | (false, true) => true,
                _ => compare(&l, &r) != Some(Ordering::Equal),
            };
            Ok(Value::Bool(distinct != *negated))
        }
        Expr::InList {
            expr,
            list,
            negated,
        } => in_list(expr, list, *negated, row, env),
        Expr::Like {
            expr,
            pattern,
            negated,
            case_insensitive,
        } => {
            let (t, p) = (eval(expr, row, env)?, eval(pattern, row, env)?);
            match (t, p) {
                (Value::Text(t), Value::Text(p)) => {
                    Ok(Value::Bool(like(&t, &p, *case_insensitive)? != *negated))
                }
                _ => Ok(Value::Null),
            }
        }
        Expr::Case {
            operand: _,
            branches,
            otherwise,
            ..
        } => {
            for (when, then) in branches {
                if eval_predicate(when, row, env)? {
                    return eval(then, row, env);
                }
            }
            match otherwise {
                Some(o) => eval(o, row, env),
                None => Ok(Value::Null),
            }
        }
        Expr::Call { func, args, ty } => call(func, args, *ty, row, env),
        Expr::ScalarSubquery { .. }
        | Expr::InSubquery { .. }
        | Expr::Exists { .. }
        | Expr::Quantified { .. } => Err(EngineError::Internal(
            "subquery reached evaluation unresolved".into(),
        )),
    }
}

fn comparison_holds(op: BinOp, o: Ordering) -> bool {
    match op {
        BinOp::Eq => o == Ordering::Equal,
        BinOp::NotEq => o != Ordering::Equal,
        BinOp::Lt => o == Ordering::Less,
        BinOp::LtEq => o != Ordering::Greater,
        BinOp::Gt => o == Ordering::Greater,
        _ => o != Ordering::Less,
    }
}

/// Three-valued AND: false wins over NULL.
fn and(l: &Expr, r: &Expr, row: &[Value], env: &EvalEnv) -> Result<Value, EngineError> {
    match eval(l, row, env)? {
        Value::Bool(false) => Ok(Value::Bool(false)),
        left => match (left, eval(r, row, env)?) {
            (_, Value::Bool(false)) => Ok(Value::Bool(false)),
            (Value::Bool(true), Value::Bool(true)) => Ok(Value::Bool(true)),
            _ => Ok(Value::Null),
        },
    }
}

/// Three-valued OR: true wins over NULL.
fn or(l: &Expr, r: &Expr, row: &[Value], env: &EvalEnv) -> Result<Value, EngineError> {
    match eval(l, row, env)? {
        Value::Bool(true) => Ok(Value::Bool(true)),
        left => match (left, eval(r, row, env)?) {
            (_, Value::Bool(true)) => Ok(Value::Bool(true)),
            (Value::Bool(false), Value::Bool(false)) => Ok(Value::Bool(false)),
            _ => Ok(Value::Null),
        },
    }
}

fn in_list(
    expr: &Expr,
    list: &[Expr],
    negated: bool,
    row: &[Value],
    env: &EvalEnv,
) -> Result<Value, EngineError> {
    let v = eval(expr, row, env)?;
    if v.is_null() {
        return Ok(Value::Null);
    }
    let char_semantics = matches!(expr.ty(), DataType::Char(_));
    let mut saw_null = false;
    for item in list {
        let i = eval(item, row, env)?;
        let ord = if char_semantics {
            compare_char(&v, &i)
        } else {
            compare(&v, &i)
        };
        match ord {
            Some(Ordering::Equal) => return Ok(Value::Bool(!negated)),
            None => saw_null = true,
            _ => {}
        }
    }
    Ok(if saw_null {
        Value::Null
    } else {
        Value::Bool(negated)
    })
}

fn concat(l: Value, r: &Value) -> Value {
    match (l, r) {
        (Value::Text(mut a), Value::Text(b)) => {
            a.push_str(b);
            Value::Text(a)
        }
        _ => Value::Null,
    }
}

fn text_arg(args: &[Value], i: usize) -> Option<&str> {
    match args.get(i) {
        Some(Value::Text(s)) => Some(s),
        _ => None,
    }
}

fn int_arg(args: &[Value], i: usize) -> Option<i64> {
    match args.get(i) {
        Some(Value::Int16(v)) => Some(i64::from(*v)),
        Some(Value::Int32(v)) => Some(i64::from(*v)),
        Some(Value::Int64(v)) => Some(*v),
        _ => None,
    }
}

fn call(
    func: &Func,
    arg_exprs: &[Expr],
    ty: DataType,
    row: &[Value],
    env: &EvalEnv,
) -> Result<Value, EngineError> {
    // Functions that do not evaluate all their arguments first.
    match func {
        Func::Coalesce => {
            for a in arg_exprs {
                let v = eval(a, row, env)?;
                if !v.is_null() {
                    return Ok(v);
                }
            }
            return Ok(Value::Null);
        }
        Func::NextVal(seq) => return env.engine.next_sequence_value(seq).map(Value::Int64),
        _ => {}
    }
    let args = arg_exprs
        .iter()
        .map(|a| eval(a, row, env))
        .collect::<Result<Vec<_>, _>>()?;
    // Functions that are not strict about NULL arguments.
    match func {
        Func::Now => return Ok(Value::TimestampTz(env.txn_start)),
        Func::ClockTimestamp => return Ok(Value::TimestampTz(datetime::now_micros())),
        Func::CurrentDate => {
            let local = env.txn_start
                + i64::from(env.tz.offset_at_utc(env.txn_start)) * datetime::MICROS_PER_SECOND;
            return Ok(Value::Date(
                local.div_euclid(datetime::MICROS_PER_DAY) as i32
            ));
        }
        Func::NullIf => {
            let equal = compare(&args[0], &args[1]) == Some(Ordering::Equal);
            return Ok(if equal {
                Value::Null
            } else {
                args.into_iter().next().unwrap_or(Value::Null)
            });
        }
        Func::Greatest | Func::Least => return Ok(extreme(args, matches!(func, Func::Greatest))),
        Func::Concat => {
            let mut out = String::new();
            for a in &args {
                if let Value::Text(s) = a {
                    out.push_str(s);
                }
            }
            return Ok(Value::Text(out));
        }
        Func::Random => return Ok(Value::Float64(random_f64())),
        Func::Version => return Ok(Value::Text(crate::version_string())),
        Func::CurrentSchema => return Ok(Value::Text("public".into())),
        Func::CurrentDatabase => return Ok(Value::Text(env.database.to_string())),
        Func::CurrentUser => return Ok(Value::Text(env.user.to_string())),
        Func::BackendPid => return Ok(Value::Int32(env.backend_pid)),
        Func::MakeTextArray => {
            let items = args
                .into_iter()
                .map(|a| match a {
                    Value::Text(s) => Ok(Some(s)),
                    Value::Null => Ok(None),
                    other => Err(bad_arg("array", &other)),
                })
                .collect::<Result<_, _>>()?;
            return Ok(Value::TextArray(items));
        }
        Func::ArrayPosition => return array_position(&args),
        _ => {}
    }
    if args.iter().any(Value::is_null) {
        return Ok(Value::Null);
    }
    strict_call(func, &args, ty, env)
}

/// The schemas a name is looked up in: `public` only (OmenDB has no other user schema), after
/// the implicitly searched `pg_catalog` when asked for.
fn search_path(include_implicit: bool) -> Vec<Option<String>> {
    let mut path = Vec::with_capacity(2);
    if include_implicit {
        path.push(Some("pg_catalog".to_string()));
    }
    path.push(Some("public".to_string()));
    path
}

/// `array_position(array, value)`: NULL for a NULL array; a NULL value finds a NULL element.
fn array_position(args: &[Value]) -> Result<Value, EngineError> {
    let items = match &args[0] {
        Value::Null => return Ok(Value::Null),
        Value::TextArray(items) => items,
        other => return Err(bad_arg("array_position", other)),
    };
    let wanted = match &args[1] {
        Value::Null => None,
        Value::Text(s) => Some(s.as_str()),
        other => return Err(bad_arg("array_position", other)),
    };
    Ok(items
        .iter()
        .position(|item| item.as_deref() == wanted)
        .and_then(|i| i32::try_from(i + 1).ok())
        .map_or(Value::Null, Value::Int32))
}

fn strict_call(
    func: &Func,
    args: &[Value],
    ty: DataType,
    env: &EvalEnv,
) -> Result<Value, EngineError> {
    let text = |i| text_arg(args, i).unwrap_or("");
    Ok(match func {
        Func::CurrentSchemas => Value::TextArray(search_path(matches!(args[0], Value::Bool(true)))),
        Func::DateTrunc => match &args[1] {
            Value::Timestamp(t) => Value::Timestamp(datetime::date_trunc(text(0), *t)?),
            Value::TimestampTz(t) => {
                Value::TimestampTz(datetime::date_trunc_tz(text(0), *t, &env.tz)?)
            }
            other => return Err(bad_arg("date_trunc", other)),
        },
        Func::Extract => Value::Numeric(match &args[1] {
            Value::Timestamp(t) => datetime::extract_timestamp(text(0), *t)?,
            Value::TimestampTz(t) => {
                let offset = i64::from(env.tz.offset_at_utc(*t)) * datetime::MICROS_PER_SECOND;
                if text(0).eq_ignore_ascii_case("epoch") {
                    datetime::extract_timestamp("epoch", *t)?
                } else {
                    datetime::extract_timestamp(text(0), t + offset)?
                }
            }
            Value::Date(d) => datetime::extract_date(text(0), *d)?,
            Value::Interval(iv) => datetime::extract_interval(text(0), *iv)?,
            other => return Err(bad_arg("extract", other)),
        }),
        Func::Lower => Value::Text(text(0).to_lowercase()),
        Func::Upper => Value::Text(text(0).to_uppercase()),
        Func::Length => Value::Int32(i32::try_from(text(0).chars().count()).unwrap_or(i32::MAX)),
        Func::Substring => substring(text(0), int_arg(args, 1).unwrap_or(1), int_arg(args, 2))?,
        Func::Position => {
            let (needle, hay) = (text(0), text(1));
            let pos = hay
                .find(needle)
                .map_or(0, |byte| hay[..byte].chars().count() + 1);
            Value::Int32(i32::try_from(pos).unwrap_or(i32::MAX))
        }
        Func::Trim { leading, trailing } => {
            let chars: Vec<char> = text_arg(args, 1).unwrap_or(" ").chars().collect();
            let mut s = text(0);
            if *leading {
                s = s.trim_start_matches(chars.as_slice());
            }
            if *trailing {
                s = s.trim_end_matches(chars.as_slice());
            }
            Value::Text(s.to_string())
        }
        Func::Replace if text(1).is_empty() => Value::Text(text(0).to_string()),
        Func::Replace => Value::Text(text(0).replace(text(1), text(2))),
        Func::Left | Func::Right => {
            let s: Vec<char> = text(0).chars().collect();
            let n = int_arg(args, 1).unwrap_or(0);
            let len = s.len() as i64;
            let keep = if n >= 0 { n.min(len) } else { (len + n).max(0) } as usize;
            let out: String = if matches!(func, Func::Left) {
                s[..keep].iter().collect()
            } else {
                s[s.len() - keep..].iter().collect()
            };
            Value::Text(out)
        }
        Func::Abs => match &args[0] {
            Value::Int16(i) => Value::Int16(i.checked_abs().ok_or_else(|| range("smallint"))?),
            Value::Int32(i) => Value::Int32(i.checked_abs().ok_or_else(|| range("integer"))?),
            Value::Int64(i) => Value::Int64(i.checked_abs().ok_or_else(|| range("bigint"))?),
            Value::Float32(f) => Value::Float32(f.abs()),
            Value::Float64(f) => Value::Float64(f.abs()),
            Value::Numeric(n) => Value::Numeric(n.abs()),
            other => return Err(bad_arg("abs", other)),
        },
        Func::Round | Func::Trunc => {
            let digits = int_arg(args, 1).unwrap_or(0);
            let digits =
                i32::try_from(digits).unwrap_or(if digits < 0 { i32::MIN } else { i32::MAX });
            match &args[0] {
                Value::Float64(f) if matches!(func, Func::Round) => {
                    Value::Float64(round_half_even(*f))
                }
                Value::Float64(f) => Value::Float64(f.trunc()),
                Value::Numeric(n) if matches!(func, Func::Round) => {
                    Value::Numeric(n.round(digits)?)
                }
                Value::Numeric(n) => Value::Numeric(n.trunc(digits)?),
                other => return Err(bad_arg("round", other)),
            }
        }
        Func::Floor | Func::Ceil => match &args[0] {
            Value::Float64(f) => Value::Float64(if matches!(func, Func::Floor) {
                f.floor()
            } else {
                f.ceil()
            }),
            Value::Numeric(n) => Value::Numeric(if matches!(func, Func::Floor) {
                n.floor()
            } else {
                n.ceil()
            }),
            other => return Err(bad_arg("floor", other)),
        },
        Func::Sqrt => match &args[0] {
            Value::Float64(f) if *f < 0.0 => {
                return Err(EngineError::sql(
                    "2201F",
                    "cannot take square root of a negative number",
                ));
            }
            Value::Float64(f) => Value::Float64(f.sqrt()),
            other => return Err(bad_arg("sqrt", other)),
        },
        Func::Power => match (&args[0], &args[1]) {
            (Value::Float64(x), Value::Float64(y)) => {
                if *x == 0.0 && *y < 0.0 {
                    return Err(EngineError::sql(
                        "2201F",
                        "zero raised to a negative power is undefined",
                    ));
                }
                if *x < 0.0 && y.fract() != 0.0 {
                    return Err(EngineError::sql(
                        "2201F",
                        "a negative number raised to a non-integer power yields a complex result",
                    ));
                }
                Value::Float64(x.powf(*y))
            }
            (other, _) => return Err(bad_arg("power", other)),
        },
        Func::CurrentSetting => {
            let name = text(0).to_ascii_lowercase();
            let value = env
                .settings
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone());
            Value::Text(value.ok_or_else(|| {
                EngineError::sql(
                    "42704",
                    format!("unrecognized configuration parameter \"{name}\""),
                )
            })?)
        }
        Func::RegType => {
            let name = text(0);
            match crate::catalog::type_oid_by_name(name) {
                Some(oid) => Value::Int64(i64::from(oid)),
                None => {
                    return Err(EngineError::sql(
                        "42704",
                        format!("type \"{name}\" does not exist"),
                    ));
                }
            }
        }
        other => {
            return Err(EngineError::Internal(format!(
                "function {other:?} returning {ty} reached strict_call"
            )));
        }
    })
}

fn range(ty: &str) -> EngineError {
    EngineError::Type(TypeError::OutOfRange(format!("{ty} out of range")))
}

fn bad_arg(func: &str, v: &Value) -> EngineError {
    EngineError::sql(
        "42883",
        format!("function {func}({}) does not exist", v.data_type()),
    )
}

/// The row evaluator's substring, for the vector kernel's tests to compare against.
#[cfg(test)]
pub(crate) fn substring_for_tests(s: &str, start: i64, count: Option<i64>) -> Value {
    substring(s, start, count).unwrap_or(Value::Null)
}

/// PostgreSQL's substring(s from start for count): 1-based, clamped, negative count is an error.
fn substring(s: &str, start: i64, count: Option<i64>) -> Result<Value, EngineError> {
    let chars: Vec<char> = s.chars().collect();
    let end = match count {
        Some(c) if c < 0 => {
            return Err(EngineError::sql(
                "22011",
                "negative substring length not allowed",
            ));
        }
        Some(c) => start.saturating_add(c),
        None => i64::MAX,
    };
    let from = start.max(1) - 1;
    let to = (end - 1).clamp(0, chars.len() as i64);
    if from >= to {
        return Ok(Value::Text(String::new()));
    }
    Ok(Value::Text(
        chars[from as usize..to as usize].iter().collect(),
    ))
}

fn extreme(args: Vec<Value>, greatest: bool) -> Value {
    let mut best = Value::Null;
    for v in args {
        if v.is_null() {
            continue;
        }
        let better = match compare(&v, &best) {
            None => true,
            Some(o) => (o == Ordering::Greater) == greatest && o != Ordering::Equal,
        };
        if better {
            best = v;
        }
    }
    best
}

/// round() on float8 rounds half to even, as PostgreSQL (rint) does.
fn round_half_even(f: f64) -> f64 {
    let r = f.round();
    if (f - f.trunc()).abs() == 0.5 {
        2.0 * (f / 2.0).round()
    } else {
        r
    }
}

/// A uniform float in [0, 1) from a per-thread xorshift generator seeded from the clock.
fn random_f64() -> f64 {
    use std::cell::Cell;
    thread_local! {
        static STATE: Cell<u64> = Cell::new(datetime::now_micros() as u64 | 1);
    }
    STATE.with(|s| {
        let mut x = s.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.set(x);
        (x >> 11) as f64 / (1u64 << 53) as f64
    })
}

/// A numeric from an i128 sum and a count, for avg() over integers.
pub fn numeric_avg(sum: Numeric, count: i64) -> Result<Value, EngineError> {
    Ok(Value::Numeric(sum.checked_div(Numeric::from_i64(count))?))
}
