//! Casts between types with PostgreSQL's rules.
//!
//! Owns the conversion matrix (which casts exist and how each rounds, clamps or fails); the
//! text forms come from `text.rs`. Never decides whether a cast is *allowed* implicitly in an
//! expression: that is the planner's job.

use super::datetime::{self, TimeZone};
use super::{DataType, Numeric, TypeError, Value};

/// How strings meet a `varchar(n)`/`char(n)` length limit.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    /// `CAST`: truncate silently.
    Explicit,
    /// INSERT/UPDATE: 22001 unless only spaces are cut.
    Assignment,
}

impl Value {
    /// Explicit cast (`CAST(x AS t)`, `x::t`): floats to integers round half to even, numerics
    /// to integers round half away from zero, out-of-range is 22003, text parses with 22P02,
    /// `varchar(n)`/`char(n)` truncate silently, numeric(p,s) rounds and checks precision.
    /// NULL casts to NULL. A cast PostgreSQL refuses is 42846.
    pub fn cast(self, to: DataType, tz: &TimeZone) -> Result<Value, TypeError> {
        self.convert(to, tz, Mode::Explicit)
    }

    /// Assignment cast (INSERT/UPDATE into a column of type `to`): like `cast`, but a string
    /// longer than `varchar(n)`/`char(n)` is 22001 unless the excess is only spaces, and
    /// `char(n)` pads with spaces.
    pub fn assign(self, to: DataType, tz: &TimeZone) -> Result<Value, TypeError> {
        self.convert(to, tz, Mode::Assignment)
    }

    /// `cast` for a value whose SQL type is `from` where that matters beyond the `Value`
    /// variant: a `char(n)` value loses its padding when cast to another string type.
    pub fn cast_from(
        self,
        from: DataType,
        to: DataType,
        tz: &TimeZone,
    ) -> Result<Value, TypeError> {
        match (from, self) {
            (DataType::Char(_), Value::Text(s)) if !matches!(to, DataType::Char(_)) => {
                Value::Text(s.trim_end_matches(' ').to_owned()).cast(to, tz)
            }
            (_, v) => v.cast(to, tz),
        }
    }

    fn convert(self, to: DataType, tz: &TimeZone, mode: Mode) -> Result<Value, TypeError> {
        match (self, to) {
            (Value::Null, _) => Ok(Value::Null),
            (Value::Text(s), to) => from_string(s, to, tz, mode),
            (Value::Bool(b), DataType::Bool) => Ok(Value::Bool(b)),
            (Value::Bool(b), DataType::Int32) => Ok(Value::Int32(i32::from(b))),
            (Value::Bool(b), to) if to.is_string() => {
                let word = if b { "true" } else { "false" };
                fit_string(word.to_owned(), to, mode)
            }
            (v, to) if to.is_string() => {
                let text = v.to_text(tz);
                fit_string(text, to, mode)
            }
            (Value::Int32(i), DataType::Bool) => Ok(Value::Bool(i != 0)),
            (Value::Int16(i), to) => from_int(i64::from(i), DataType::Int16, to),
            (Value::Int32(i), to) => from_int(i64::from(i), DataType::Int32, to),
            (Value::Int64(i), to) => from_int(i, DataType::Int64, to),
            (Value::Float32(f), to) => from_f32(f, to),
            (Value::Float64(f), to) => from_f64(f, to),
            (Value::Numeric(n), to) => from_numeric(n, to),
            (v @ (Value::Date(_) | Value::Timestamp(_) | Value::TimestampTz(_)), to) => {
                from_temporal(v, to, tz)
            }
            (Value::Interval(iv), DataType::Interval) => Ok(Value::Interval(iv)),
            (Value::Bytea(b), DataType::Bytea) => Ok(Value::Bytea(b)),
            (v, to) => Err(cannot_cast(v.data_type(), to)),
        }
    }
}

fn cannot_cast(from: DataType, to: DataType) -> TypeError {
    TypeError::CannotCast {
        from: from.to_string(),
        to: to.to_string(),
    }
}

fn out_of_range(to: DataType) -> TypeError {
    TypeError::OutOfRange(format!("{to} out of range"))
}

/// Text (or an untyped literal) to any type: parse, then apply the string length rules.
fn from_string(s: String, to: DataType, tz: &TimeZone, mode: Mode) -> Result<Value, TypeError> {
    if to.is_string() {
        return fit_string(s, to, mode);
    }
    Value::from_text(&s, to, tz)
}

/// Apply `varchar(n)`/`char(n)`: truncate (explicit) or reject non-space excess (assignment);
/// `char(n)` pads to `n`.
fn fit_string(mut s: String, to: DataType, mode: Mode) -> Result<Value, TypeError> {
    let limit = match to {
        DataType::Varchar(Some(n)) | DataType::Char(Some(n)) => n as usize,
        _ => return Ok(Value::Text(s)),
    };
    // ASCII (the common case): byte positions are character positions.
    let ascii = s.is_ascii();
    let cut = if ascii {
        (s.len() > limit).then_some(limit)
    } else {
        s.char_indices().nth(limit).map(|(cut, _)| cut)
    };
    if let Some(cut) = cut {
        if mode == Mode::Assignment && s.as_bytes()[cut..].iter().any(|&b| b != b' ') {
            return Err(TypeError::StringTooLong(to.to_string()));
        }
        s.truncate(cut);
    }
    if let DataType::Char(_) = to {
        let chars = if ascii { s.len() } else { s.chars().count() };
        let missing = limit.saturating_sub(chars);
        s.reserve_exact(missing);
        s.extend(std::iter::repeat_n(' ', missing));
    }
    Ok(Value::Text(s))
}

/// An integer to a narrower integer, 22003 with the target's name when it does not fit.
fn to_int(v: i64, to: DataType) -> Result<Value, TypeError> {
    let err = || out_of_range(to);
    Ok(match to {
        DataType::Int16 => Value::Int16(i16::try_from(v).map_err(|_| err())?),
        DataType::Int32 => Value::Int32(i32::try_from(v).map_err(|_| err())?),
        _ => Value::Int64(v),
    })
}

fn fit_numeric(n: Numeric, to: DataType) -> Result<Value, TypeError> {
    match to {
        DataType::Numeric {
            precision: Some(p),
            scale,
        } => Ok(Value::Numeric(n.fit(p, scale.unwrap_or(0))?)),
        _ => Ok(Value::Numeric(n)),
    }
}

fn from_int(v: i64, from: DataType, to: DataType) -> Result<Value, TypeError> {
    match to {
        DataType::Int16 | DataType::Int32 | DataType::Int64 => to_int(v, to),
        DataType::Float32 => Ok(Value::Float32(v as f32)),
        DataType::Float64 => Ok(Value::Float64(v as f64)),
        DataType::Numeric { .. } => fit_numeric(Numeric::from_i64(v), to),
        _ => Err(cannot_cast(from, to)),
    }
}

/// float8 to an integer type: round half to even, 22003 (NaN included) when out of range.
fn float_to_int(f: f64, to: DataType) -> Result<Value, TypeError> {
    let r = f.round_ties_even();
    // i64::MAX as f64 rounds up to 2^63, so the upper bound is exclusive.
    const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
    if r.is_nan() || !(-TWO_POW_63..TWO_POW_63).contains(&r) {
        return Err(out_of_range(to));
    }
    to_int(r as i64, to)
}

fn from_f64(f: f64, to: DataType) -> Result<Value, TypeError> {
    match to {
        DataType::Int16 | DataType::Int32 | DataType::Int64 => float_to_int(f, to),
        DataType::Float64 => Ok(Value::Float64(f)),
        DataType::Float32 => {
            let narrow = f as f32;
            if narrow.is_infinite() && f.is_finite() {
                return Err(TypeError::OutOfRange("value out of range: overflow".into()));
            }
            if narrow == 0.0 && f != 0.0 {
                return Err(TypeError::OutOfRange(
                    "value out of range: underflow".into(),
                ));
            }
            Ok(Value::Float32(narrow))
        }
        DataType::Numeric { .. } => fit_numeric(Numeric::from_f64(f)?, to),
        _ => Err(cannot_cast(DataType::Float64, to)),
    }
}

fn from_f32(f: f32, to: DataType) -> Result<Value, TypeError> {
    match to {
        DataType::Int16 | DataType::Int32 | DataType::Int64 => float_to_int(f64::from(f), to),
        DataType::Float32 => Ok(Value::Float32(f)),
        DataType::Float64 => Ok(Value::Float64(f64::from(f))),
        DataType::Numeric { .. } => fit_numeric(Numeric::from_f32(f)?, to),
        _ => Err(cannot_cast(DataType::Float32, to)),
    }
}

fn from_numeric(n: Numeric, to: DataType) -> Result<Value, TypeError> {
    match to {
        DataType::Int16 | DataType::Int32 | DataType::Int64 => {
            let v = n.to_i64().map_err(|_| out_of_range(to))?;
            to_int(v, to)
        }
        DataType::Float64 => Ok(Value::Float64(n.to_f64())),
        // Through the decimal text so the one rounding is straight to single precision.
        DataType::Float32 => Ok(Value::Float32(
            n.to_string().parse().unwrap_or(n.to_f64() as f32),
        )),
        DataType::Numeric { .. } => fit_numeric(n, to),
        _ => Err(cannot_cast(DataType::NUMERIC, to)),
    }
}

/// Dates and timestamps among themselves, with `tz` for the zone-aware ones.
fn from_temporal(v: Value, to: DataType, tz: &TimeZone) -> Result<Value, TypeError> {
    let from = v.data_type();
    Ok(match (v, to) {
        (Value::Date(d), DataType::Date) => Value::Date(d),
        (Value::Date(d), DataType::Timestamp) => Value::Timestamp(datetime::date_to_timestamp(d)?),
        (Value::Date(d), DataType::TimestampTz) => {
            Value::TimestampTz(datetime::local_to_utc(datetime::date_to_timestamp(d)?, tz))
        }
        (Value::Timestamp(t), DataType::Date) => Value::Date(datetime::timestamp_to_date(t)),
        (Value::Timestamp(t), DataType::Timestamp) => Value::Timestamp(t),
        (Value::Timestamp(t), DataType::TimestampTz) => {
            Value::TimestampTz(datetime::local_to_utc(t, tz))
        }
        (Value::TimestampTz(t), DataType::Date) => {
            Value::Date(datetime::timestamp_to_date(datetime::utc_to_local(t, tz)))
        }
        (Value::TimestampTz(t), DataType::Timestamp) => {
            Value::Timestamp(datetime::utc_to_local(t, tz))
        }
        (Value::TimestampTz(t), DataType::TimestampTz) => Value::TimestampTz(t),
        _ => return Err(cannot_cast(from, to)),
    })
}

#[cfg(test)]
mod tests;
