//! PostgreSQL text input and output of every type (what the wire's text format and casts from
//! and to text use).
//!
//! Input accepts exactly what PostgreSQL 15's `*in` functions accept and fails with their
//! messages and SQLSTATEs; output is byte-for-byte PostgreSQL's (`DateStyle = ISO`,
//! `IntervalStyle = postgres`, `extra_float_digits = 1`). Never allocates beyond the output.

use super::datetime::{self, TimeZone};
use super::float_text;
use super::{DataType, Interval, Numeric, TypeError, Value};
use std::fmt::Write;

/// The characters C's `isspace` accepts, which PostgreSQL trims around numbers and booleans.
pub(super) fn is_pg_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c')
}

impl Value {
    /// Parse PostgreSQL text input as `ty` (`'t'`/`'yes'`/`'1'` for bool, `'\x0a'` hex bytea, …).
    /// Strings of `Char(n)`/`Varchar(n)` are not length-checked here (see `Value::assign`);
    /// `numeric(p,s)` input is rounded and checked against its precision, as `numeric_in` does.
    pub fn from_text(s: &str, ty: DataType, tz: &TimeZone) -> Result<Value, TypeError> {
        Ok(match ty {
            DataType::Bool => Value::Bool(parse_bool(s)?),
            DataType::Int16 => Value::Int16(parse_int(s, ty)? as i16),
            DataType::Int32 => Value::Int32(parse_int(s, ty)? as i32),
            DataType::Int64 => Value::Int64(parse_int(s, ty)?),
            DataType::Float32 => Value::Float32(float_text::parse_f32(s)?),
            DataType::Float64 => Value::Float64(float_text::parse_f64(s)?),
            DataType::Numeric { precision, scale } => {
                let n = Numeric::parse(s)?;
                Value::Numeric(match precision {
                    Some(p) => n.fit(p, scale.unwrap_or(0))?,
                    None => n,
                })
            }
            DataType::Text | DataType::Varchar(_) | DataType::Char(_) | DataType::Unknown => {
                Value::Text(s.to_owned())
            }
            DataType::Bytea => Value::Bytea(parse_bytea(s)?),
            DataType::Date => Value::Date(datetime::parse_date(s)?),
            DataType::Timestamp => Value::Timestamp(datetime::parse_timestamp(s)?),
            DataType::TimestampTz => Value::TimestampTz(datetime::parse_timestamptz(s, tz)?),
            DataType::Interval => Value::Interval(Interval::parse(s)?),
            DataType::TextArray => Value::TextArray(array::parse_text_array(s)?),
        })
    }

    /// Append PostgreSQL's text output (`t`/`f`, shortest round-trip floats with `Infinity`/`NaN`
    /// and `1e+20` exponents, numeric with its scale, ISO dates, `\x…` bytea). NULL writes nothing.
    pub fn write_text(&self, out: &mut String, tz: &TimeZone) {
        // Writing into a String cannot fail, so the fmt::Results below carry no information.
        match self {
            Value::Null => {}
            Value::Bool(b) => out.push(if *b { 't' } else { 'f' }),
            Value::Int16(v) => {
                let _ = write!(out, "{v}");
            }
            Value::Int32(v) => {
                let _ = write!(out, "{v}");
            }
            Value::Int64(v) => {
                let _ = write!(out, "{v}");
            }
            Value::Float32(v) => float_text::write_f32(*v, out),
            Value::Float64(v) => float_text::write_f64(*v, out),
            Value::Numeric(n) => {
                let _ = write!(out, "{n}");
            }
            Value::Text(s) => out.push_str(s),
            Value::Bytea(b) => write_bytea_hex(b, out),
            Value::Date(d) => datetime::format_date(*d, out),
            Value::Timestamp(t) => datetime::format_timestamp(*t, out),
            Value::TimestampTz(t) => datetime::format_timestamptz(*t, tz, out),
            Value::Interval(iv) => {
                let _ = write!(out, "{iv}");
            }
            Value::TextArray(items) => array::write_text_array(items, out),
        }
    }

    /// The text output as a new string (convenience for casts to text and tests).
    pub fn to_text(&self, tz: &TimeZone) -> String {
        let mut s = String::new();
        self.write_text(&mut s, tz);
        s
    }
}

/// `boolin`: `t`/`true`/`yes`/`on`/`1` and their negatives, any unambiguous prefix, any case.
fn parse_bool(s: &str) -> Result<bool, TypeError> {
    let t = s.trim_matches(is_pg_space).to_ascii_lowercase();
    let prefix_of = |word: &str, min: usize| t.len() >= min && word.starts_with(t.as_str());
    let parsed = match t.as_bytes().first() {
        Some(b't') if prefix_of("true", 1) => Some(true),
        Some(b'y') if prefix_of("yes", 1) => Some(true),
        Some(b'f') if prefix_of("false", 1) => Some(false),
        Some(b'n') if prefix_of("no", 1) => Some(false),
        // "o" alone could be on or off.
        Some(b'o') if prefix_of("on", 2) => Some(true),
        Some(b'o') if prefix_of("off", 2) => Some(false),
        Some(b'1') if t.len() == 1 => Some(true),
        Some(b'0') if t.len() == 1 => Some(false),
        _ => None,
    };
    parsed.ok_or_else(|| TypeError::invalid_text("boolean", s))
}

/// `int2in`/`int4in`/`int8in`: optional spaces and sign around decimal digits only.
fn parse_int(s: &str, ty: DataType) -> Result<i64, TypeError> {
    let t = s.trim_matches(is_pg_space);
    let (negative, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TypeError::invalid_text(ty, s));
    }
    let out_of_range =
        || TypeError::OutOfRange(format!("value \"{s}\" is out of range for type {ty}"));
    // Accumulate negatively so i64::MIN parses.
    let mut v: i64 = 0;
    for b in digits.bytes() {
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_sub(i64::from(b - b'0')))
            .ok_or_else(out_of_range)?;
    }
    let v = if negative {
        v
    } else {
        v.checked_neg().ok_or_else(out_of_range)?
    };
    let (min, max) = match ty {
        DataType::Int16 => (i64::from(i16::MIN), i64::from(i16::MAX)),
        DataType::Int32 => (i64::from(i32::MIN), i64::from(i32::MAX)),
        _ => (i64::MIN, i64::MAX),
    };
    if v < min || v > max {
        return Err(out_of_range());
    }
    Ok(v)
}

/// `byteain`: `\x` hex (whitespace between digit pairs allowed) or the escape format
/// (`\\` and `\ooo` octal; everything else literal).
fn parse_bytea(s: &str) -> Result<Vec<u8>, TypeError> {
    match s.strip_prefix("\\x").or_else(|| s.strip_prefix("\\X")) {
        Some(hex) => parse_bytea_hex(hex),
        None => parse_bytea_escape(s),
    }
}

fn parse_bytea_hex(hex: &str) -> Result<Vec<u8>, TypeError> {
    let mut out = Vec::with_capacity(hex.len() / 2);
    let mut chars = hex.chars().filter(|&c| !is_pg_space(c));
    while let Some(hi) = chars.next() {
        let lo = chars.next().ok_or_else(|| {
            TypeError::InvalidParameter("invalid hexadecimal data: odd number of digits".into())
        })?;
        out.push((hex_digit(hi)? << 4) | hex_digit(lo)?);
    }
    Ok(out)
}

fn hex_digit(c: char) -> Result<u8, TypeError> {
    c.to_digit(16)
        .map(|d| d as u8)
        .ok_or_else(|| TypeError::InvalidParameter(format!("invalid hexadecimal digit: \"{c}\"")))
}

fn parse_bytea_escape(s: &str) -> Result<Vec<u8>, TypeError> {
    let bad = || TypeError::InvalidSyntax("invalid input syntax for type bytea".into());
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
        } else if b.get(i + 1) == Some(&b'\\') {
            out.push(b'\\');
            i += 2;
        } else {
            let octal = b.get(i + 1..i + 4).ok_or_else(bad)?;
            let valid = matches!(octal[0], b'0'..=b'3')
                && octal[1..].iter().all(|d| matches!(d, b'0'..=b'7'));
            if !valid {
                return Err(bad());
            }
            out.push(octal.iter().fold(0u8, |acc, d| (acc << 3) | (d - b'0')));
            i += 4;
        }
    }
    Ok(out)
}

fn write_bytea_hex(bytes: &[u8], out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.reserve(2 + bytes.len() * 2);
    out.push_str("\\x");
    for b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
}

mod array;

#[cfg(test)]
mod tests;
