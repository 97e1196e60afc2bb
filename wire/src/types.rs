//! Values on the wire: type OIDs as clients see them, the text format (through the storage
//! crate's `Value::write_text`/`from_text`) and the binary format of every type OmenDB stores.
//!
//! Binary layouts are PostgreSQL's `*send`/`*recv` functions: big-endian integers and IEEE
//! floats, dates as days and timestamps as microseconds since 2000-01-01 (the same epoch as
//! `Value`, so no conversion), intervals as (micros, days, months), numerics as base-10000 digit
//! groups. This module must never allocate per value on the result path: it writes into the
//! caller's buffer and reuses the caller's scratch string.

use crate::error::WireError;
use bytes::{BufMut, BytesMut};
use omendb_storage::types::datetime::TimeZone;
use omendb_storage::types::{DataType, Interval, Numeric, TypeError, Value};

/// How a value travels: PostgreSQL format code 0 or 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Binary,
}

impl Format {
    /// A format code from Bind; anything but 0 and 1 is 22023 as in PostgreSQL.
    pub fn from_code(code: i16) -> Result<Format, WireError> {
        match code {
            0 => Ok(Format::Text),
            1 => Ok(Format::Binary),
            _ => Err(WireError::sql(
                "22023",
                format!("unsupported format code: {code}"),
            )),
        }
    }

    pub fn code(self) -> i16 {
        match self {
            Format::Text => 0,
            Format::Binary => 1,
        }
    }
}

/// Expand Bind's format codes to one per value: none means all text, one applies to all,
/// otherwise exactly one per value (08P01 when the counts disagree).
pub fn expand_formats(codes: &[i16], count: usize, what: &str) -> Result<Vec<Format>, WireError> {
    match codes {
        [] => Ok(vec![Format::Text; count]),
        [one] => Ok(vec![Format::from_code(*one)?; count]),
        many if many.len() == count => many.iter().map(|&c| Format::from_code(c)).collect(),
        many => Err(WireError::Malformed(format!(
            "bind message has {} {what} formats but {count} {what}s",
            many.len()
        ))),
    }
}

/// The OID a client is told for `ty`. An unresolved literal or parameter is text, as
/// PostgreSQL resolves `unknown` output columns and parameters.
pub fn wire_oid(ty: DataType) -> u32 {
    match ty {
        DataType::Unknown => DataType::Text.oid(),
        _ => ty.oid(),
    }
}

/// Whether values of the two types have the same wire formats (all strings do; all numerics do).
pub fn same_wire_type(a: DataType, b: DataType) -> bool {
    let class = |t: DataType| match t {
        DataType::Varchar(_) | DataType::Char(_) | DataType::Unknown => DataType::Text,
        DataType::Numeric { .. } => DataType::NUMERIC,
        t => t,
    };
    class(a) == class(b)
}

/// `typlen` for RowDescription.
pub fn wire_type_size(ty: DataType) -> i16 {
    match ty {
        DataType::Unknown => DataType::Text.type_len(),
        _ => ty.type_len(),
    }
}

/// Append one value of a DataRow: its length and bytes, or -1 for NULL.
pub fn write_value(
    out: &mut BytesMut,
    value: &Value,
    format: Format,
    tz: &TimeZone,
    scratch: &mut String,
) {
    if value.is_null() {
        out.put_i32(-1);
        return;
    }
    let at = crate::codec::begin_value(out);
    match format {
        Format::Text => write_text(out, value, tz, scratch),
        Format::Binary => write_binary(out, value),
    }
    crate::codec::end_value(out, at);
}

/// The text format. Strings, booleans and integers (most of every result) are written directly;
/// the rest goes through the storage crate's PostgreSQL text output.
fn write_text(out: &mut BytesMut, value: &Value, tz: &TimeZone, scratch: &mut String) {
    use std::fmt::Write;
    match value {
        Value::Text(s) => out.put_slice(s.as_bytes()),
        Value::Bool(b) => out.put_u8(if *b { b't' } else { b'f' }),
        Value::Int16(_) | Value::Int32(_) | Value::Int64(_) => {
            scratch.clear();
            let n = match value {
                Value::Int16(v) => i64::from(*v),
                Value::Int32(v) => i64::from(*v),
                Value::Int64(v) => *v,
                _ => 0,
            };
            // Writing an integer into a String cannot fail.
            let _ = write!(scratch, "{n}");
            out.put_slice(scratch.as_bytes());
        }
        _ => {
            scratch.clear();
            value.write_text(scratch, tz);
            out.put_slice(scratch.as_bytes());
        }
    }
}

/// The binary format of a non-NULL value.
pub fn write_binary(out: &mut BytesMut, value: &Value) {
    match value {
        Value::Null => {}
        Value::Bool(b) => out.put_u8(u8::from(*b)),
        Value::Int16(v) => out.put_i16(*v),
        Value::Int32(v) => out.put_i32(*v),
        Value::Int64(v) => out.put_i64(*v),
        Value::Float32(v) => out.put_f32(*v),
        Value::Float64(v) => out.put_f64(*v),
        Value::Numeric(n) => write_numeric(out, *n),
        Value::Text(s) => out.put_slice(s.as_bytes()),
        Value::Bytea(b) => out.put_slice(b),
        Value::Date(d) => out.put_i32(*d),
        Value::Timestamp(t) | Value::TimestampTz(t) => out.put_i64(*t),
        Value::Interval(iv) => {
            out.put_i64(iv.micros);
            out.put_i32(iv.days);
            out.put_i32(iv.months);
        }
        Value::TextArray(items) => write_text_array(out, items),
    }
}

/// PostgreSQL's `text` OID: the element type of `text[]`.
const TEXT_OID: u32 = 25;

/// array_send for one dimension: ndim, has-nulls flag, element type, (length, lower bound 1),
/// then each element as a length (-1 for NULL) and its bytes.
fn write_text_array(out: &mut BytesMut, items: &[Option<String>]) {
    out.put_i32(i32::from(!items.is_empty()));
    out.put_i32(i32::from(items.iter().any(Option::is_none)));
    out.put_u32(TEXT_OID);
    if !items.is_empty() {
        out.put_i32(items.len() as i32);
        out.put_i32(1);
    }
    for item in items {
        match item {
            Some(s) => {
                out.put_i32(s.len() as i32);
                out.put_slice(s.as_bytes());
            }
            None => out.put_i32(-1),
        }
    }
}

/// array_recv for a one-dimensional array of a string type.
fn read_text_array(bytes: &[u8]) -> Option<Vec<Option<String>>> {
    let word =
        |at: usize| -> Option<i32> { Some(i32::from_be_bytes(fixed(bytes.get(at..at + 4)?)?)) };
    let ndim = word(0)?;
    let mut at = 12;
    let len = match ndim {
        0 => 0,
        1 => {
            at += 8;
            usize::try_from(word(12)?).ok()?
        }
        _ => return None,
    };
    let mut items = Vec::with_capacity(len.min(bytes.len() / 4));
    for _ in 0..len {
        let n = word(at)?;
        at += 4;
        if n < 0 {
            items.push(None);
            continue;
        }
        let end = at.checked_add(n as usize)?;
        items.push(Some(
            std::str::from_utf8(bytes.get(at..end)?).ok()?.to_owned(),
        ));
        at = end;
    }
    (at == bytes.len()).then_some(items)
}

/// Decode one Bind parameter of type `ty` (`param` is its 1-based number, for messages).
pub fn decode_param(
    ty: DataType,
    format: Format,
    bytes: Option<&[u8]>,
    param: usize,
    tz: &TimeZone,
) -> Result<Value, WireError> {
    let Some(bytes) = bytes else {
        return Ok(Value::Null);
    };
    match format {
        Format::Text => {
            let s = std::str::from_utf8(bytes).map_err(|e| crate::codec::invalid_utf8(bytes, e))?;
            decode_text(ty, s, tz)
        }
        Format::Binary => decode_binary(ty, bytes, param),
    }
}

fn decode_text(ty: DataType, s: &str, tz: &TimeZone) -> Result<Value, WireError> {
    if string_type(ty) {
        return Ok(Value::Text(s.to_owned()));
    }
    Ok(Value::from_text(s, ty, tz)?)
}

/// Types whose values are plain strings, in both formats.
fn string_type(ty: DataType) -> bool {
    matches!(
        ty,
        DataType::Text | DataType::Varchar(_) | DataType::Char(_) | DataType::Unknown
    )
}

/// The binary format of `ty`; 22P03 when the bytes do not have the type's layout.
pub fn decode_binary(ty: DataType, bytes: &[u8], param: usize) -> Result<Value, WireError> {
    let bad = || WireError::BinaryFormat { param };
    if string_type(ty) {
        return std::str::from_utf8(bytes)
            .map(|s| Value::Text(s.to_owned()))
            .map_err(|e| crate::codec::invalid_utf8(bytes, e));
    }
    Ok(match ty {
        DataType::Bool => match bytes {
            [b] => Value::Bool(*b != 0),
            _ => return Err(bad()),
        },
        DataType::Int16 => Value::Int16(i16::from_be_bytes(fixed(bytes).ok_or_else(bad)?)),
        DataType::Int32 => Value::Int32(i32::from_be_bytes(fixed(bytes).ok_or_else(bad)?)),
        DataType::Int64 => Value::Int64(i64::from_be_bytes(fixed(bytes).ok_or_else(bad)?)),
        DataType::Float32 => Value::Float32(f32::from_be_bytes(fixed(bytes).ok_or_else(bad)?)),
        DataType::Float64 => Value::Float64(f64::from_be_bytes(fixed(bytes).ok_or_else(bad)?)),
        DataType::Date => Value::Date(i32::from_be_bytes(fixed(bytes).ok_or_else(bad)?)),
        DataType::Timestamp => Value::Timestamp(i64::from_be_bytes(fixed(bytes).ok_or_else(bad)?)),
        DataType::TimestampTz => {
            Value::TimestampTz(i64::from_be_bytes(fixed(bytes).ok_or_else(bad)?))
        }
        DataType::Interval => Value::Interval(read_interval(bytes).ok_or_else(bad)?),
        DataType::Bytea => Value::Bytea(bytes.to_vec()),
        DataType::Numeric { .. } => Value::Numeric(read_numeric(bytes, param)?),
        DataType::TextArray => Value::TextArray(read_text_array(bytes).ok_or_else(bad)?),
        DataType::Text | DataType::Varchar(_) | DataType::Char(_) | DataType::Unknown => {
            return Err(bad());
        }
    })
}

fn fixed<const N: usize>(bytes: &[u8]) -> Option<[u8; N]> {
    bytes.try_into().ok()
}

fn read_interval(bytes: &[u8]) -> Option<Interval> {
    let micros = i64::from_be_bytes(fixed(bytes.get(0..8)?)?);
    let days = i32::from_be_bytes(fixed(bytes.get(8..12)?)?);
    let months = i32::from_be_bytes(fixed(bytes.get(12..16)?)?);
    (bytes.len() == 16).then_some(Interval::new(months, days, micros))
}

/// Numeric sign words of the binary format.
const NUMERIC_POS: u16 = 0x0000;
const NUMERIC_NEG: u16 = 0x4000;
const NUMERIC_NAN: u16 = 0xC000;
const NUMERIC_PINF: u16 = 0xD000;
const NUMERIC_NINF: u16 = 0xF000;
/// Decimal digits per base-10000 digit group.
const DEC_DIGITS: i32 = 4;
const NBASE: i128 = 10_000;
/// Decimal digits an i128 mantissa can have.
const MAX_DECIMAL_DIGITS: usize = 39;

/// PostgreSQL's numeric binary format: ndigits, weight, sign, dscale (all 16-bit), then
/// `ndigits` base-10000 groups, most significant first; the value is
/// Σ digit[i] · 10000^(weight − i). Zero groups at either end are left out, as `numeric_send`
/// does; dscale is the number of decimal digits after the point (our scale).
fn write_numeric(out: &mut BytesMut, n: Numeric) {
    let scale = i32::from(n.scale());
    let mut digits = [0u8; MAX_DECIMAL_DIGITS];
    let ndec = decimal_digits(n.mantissa().unsigned_abs(), &mut digits);
    let digits = &digits[MAX_DECIMAL_DIGITS - ndec..];
    // The decimal exponent of digits[k] is (ndec - 1 - k) - scale.
    let exponent = |k: usize| (ndec as i32 - 1 - k as i32) - scale;
    let first = digits.iter().position(|&d| d != 0);
    let last = digits.iter().rposition(|&d| d != 0);
    let (Some(first), Some(last)) = (first, last) else {
        // Zero: no digit groups.
        out.put_i16(0);
        out.put_i16(0);
        out.put_u16(NUMERIC_POS);
        out.put_u16(n.scale().into());
        return;
    };
    let weight = exponent(first).div_euclid(DEC_DIGITS);
    let last_group = exponent(last).div_euclid(DEC_DIGITS);
    out.put_i16((weight - last_group + 1) as i16);
    out.put_i16(weight as i16);
    out.put_u16(if n.mantissa() < 0 {
        NUMERIC_NEG
    } else {
        NUMERIC_POS
    });
    out.put_u16(n.scale().into());
    for group in (last_group..=weight).rev() {
        let mut value = 0u16;
        for place in (0..DEC_DIGITS).rev() {
            let e = group * DEC_DIGITS + place;
            let k = ndec as i32 - 1 - scale - e;
            let digit = usize::try_from(k)
                .ok()
                .and_then(|k| digits.get(k))
                .copied()
                .unwrap_or(0);
            value = value * 10 + u16::from(digit);
        }
        out.put_u16(value);
    }
}

/// Write the decimal digits of `v` right-aligned into `out`; returns how many (at least one).
fn decimal_digits(mut v: u128, out: &mut [u8; MAX_DECIMAL_DIGITS]) -> usize {
    let mut n = 0;
    loop {
        out[MAX_DECIMAL_DIGITS - 1 - n] = (v % 10) as u8;
        n += 1;
        v /= 10;
        if v == 0 {
            return n;
        }
    }
}

/// Decode the numeric binary format. Digits beyond dscale are truncated away as `numeric_recv`
/// does; NaN and infinities are 0A000 (OmenDB's numeric is finite); more than 38 significant
/// digits or a scale beyond 38 is 22003.
fn read_numeric(bytes: &[u8], param: usize) -> Result<Numeric, WireError> {
    let bad = || WireError::BinaryFormat { param };
    let word = |i: usize| -> Option<u16> {
        Some(u16::from_be_bytes(fixed(bytes.get(2 * i..2 * i + 2)?)?))
    };
    let (Some(ndigits), Some(weight), Some(sign), Some(dscale)) =
        (word(0), word(1), word(2), word(3))
    else {
        return Err(bad());
    };
    let (ndigits, weight) = (ndigits as i16, weight as i16);
    if ndigits < 0 || bytes.len() != 8 + 2 * ndigits as usize {
        return Err(bad());
    }
    let negative = match sign {
        NUMERIC_POS => false,
        NUMERIC_NEG => true,
        NUMERIC_NAN | NUMERIC_PINF | NUMERIC_NINF => {
            return Err(TypeError::NotSupported(
                "numeric NaN and infinity are not supported".into(),
            )
            .into());
        }
        _ => return Err(bad()),
    };
    if dscale > u16::from(Numeric::MAX_SCALE) {
        return Err(numeric_overflow());
    }
    let mut mantissa: i128 = 0;
    for i in 0..ndigits as usize {
        let digit = word(4 + i).ok_or_else(bad)?;
        if i128::from(digit) >= NBASE {
            return Err(bad());
        }
        // This group's unit is 10^(4·(weight − i)); in units of 10^-dscale:
        let e = DEC_DIGITS * (i32::from(weight) - i as i32) + i32::from(dscale);
        mantissa = mantissa
            .checked_add(scaled_digit(digit, e)?)
            .ok_or_else(numeric_overflow)?;
    }
    let limit = 10i128.pow(u32::from(Numeric::MAX_PRECISION));
    if mantissa >= limit {
        return Err(numeric_overflow());
    }
    Ok(Numeric::new(
        if negative { -mantissa } else { mantissa },
        dscale as u8,
    ))
}

/// `digit · 10^e`, truncated when `e` is negative (digits below dscale).
fn scaled_digit(digit: u16, e: i32) -> Result<i128, WireError> {
    let digit = i128::from(digit);
    if digit == 0 {
        return Ok(0);
    }
    if e >= 0 {
        let pow = u32::try_from(e)
            .ok()
            .and_then(|e| 10i128.checked_pow(e))
            .ok_or_else(numeric_overflow)?;
        digit.checked_mul(pow).ok_or_else(numeric_overflow)
    } else if e > -DEC_DIGITS {
        Ok(digit / 10i128.pow(e.unsigned_abs()))
    } else {
        Ok(0)
    }
}

fn numeric_overflow() -> WireError {
    TypeError::OutOfRange("numeric field overflow".into()).into()
}

#[cfg(test)]
mod tests;
