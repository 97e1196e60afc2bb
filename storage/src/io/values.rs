//! The binary form of one value and of one row: a tag byte per value, then its fixed-width
//! little-endian payload or a length-prefixed byte string. Used by WAL records.

use super::{ByteReader, ByteWriter, IoFormatError};
use crate::types::{Interval, Numeric, Value};

const NULL: u8 = 0;
const BOOL: u8 = 1;
const INT16: u8 = 2;
const INT32: u8 = 3;
const INT64: u8 = 4;
const FLOAT32: u8 = 5;
const FLOAT64: u8 = 6;
const NUMERIC: u8 = 7;
const TEXT: u8 = 8;
const BYTEA: u8 = 9;
const DATE: u8 = 10;
const TIMESTAMP: u8 = 11;
const TIMESTAMPTZ: u8 = 12;
const INTERVAL: u8 = 13;
const TEXT_ARRAY: u8 = 14;

pub fn encode_value(v: &Value, w: &mut ByteWriter) {
    match v {
        Value::Null => w.u8(NULL),
        Value::Bool(b) => {
            w.u8(BOOL);
            w.u8(u8::from(*b));
        }
        Value::Int16(i) => {
            w.u8(INT16);
            w.u16(*i as u16);
        }
        Value::Int32(i) => {
            w.u8(INT32);
            w.u32(*i as u32);
        }
        Value::Int64(i) => {
            w.u8(INT64);
            w.i64(*i);
        }
        Value::Float32(f) => {
            w.u8(FLOAT32);
            w.u32(f.to_bits());
        }
        Value::Float64(f) => {
            w.u8(FLOAT64);
            w.u64(f.to_bits());
        }
        Value::Numeric(n) => {
            w.u8(NUMERIC);
            w.i128(n.mantissa());
            w.u8(n.scale());
        }
        Value::Text(s) => {
            w.u8(TEXT);
            w.str(s);
        }
        Value::Bytea(b) => {
            w.u8(BYTEA);
            w.bytes(b);
        }
        Value::Date(d) => {
            w.u8(DATE);
            w.u32(*d as u32);
        }
        Value::Timestamp(t) => {
            w.u8(TIMESTAMP);
            w.i64(*t);
        }
        Value::TimestampTz(t) => {
            w.u8(TIMESTAMPTZ);
            w.i64(*t);
        }
        Value::Interval(iv) => {
            w.u8(INTERVAL);
            w.u32(iv.months as u32);
            w.u32(iv.days as u32);
            w.i64(iv.micros);
        }
        Value::TextArray(items) => {
            w.u8(TEXT_ARRAY);
            w.u32(items.len() as u32);
            for item in items {
                match item {
                    Some(s) => {
                        w.u8(1);
                        w.str(s);
                    }
                    None => w.u8(0),
                }
            }
        }
    }
}

pub fn decode_value(r: &mut ByteReader<'_>) -> Result<Value, IoFormatError> {
    let at = r.position();
    Ok(match r.u8()? {
        NULL => Value::Null,
        BOOL => Value::Bool(r.u8()? != 0),
        INT16 => Value::Int16(r.u16()? as i16),
        INT32 => Value::Int32(r.u32()? as i32),
        INT64 => Value::Int64(r.i64()?),
        FLOAT32 => Value::Float32(f32::from_bits(r.u32()?)),
        FLOAT64 => Value::Float64(f64::from_bits(r.u64()?)),
        NUMERIC => {
            let mantissa = r.i128()?;
            Value::Numeric(Numeric::new(mantissa, r.u8()?))
        }
        TEXT => Value::Text(r.str()?.to_string()),
        BYTEA => Value::Bytea(r.bytes()?.to_vec()),
        DATE => Value::Date(r.u32()? as i32),
        TIMESTAMP => Value::Timestamp(r.i64()?),
        TIMESTAMPTZ => Value::TimestampTz(r.i64()?),
        INTERVAL => Value::Interval(Interval {
            months: r.u32()? as i32,
            days: r.u32()? as i32,
            micros: r.i64()?,
        }),
        TEXT_ARRAY => {
            let n = r.u32()? as usize;
            // Each element takes at least one byte: a corrupt count cannot reserve much.
            let mut items = Vec::with_capacity(n.min(r.remaining()));
            for _ in 0..n {
                items.push(match r.u8()? {
                    0 => None,
                    _ => Some(r.str()?.to_string()),
                });
            }
            Value::TextArray(items)
        }
        tag => {
            return Err(IoFormatError::Invalid(format!(
                "value tag {tag} at byte {at}"
            )));
        }
    })
}

/// A row: its column count, then each value.
pub fn encode_row(row: &[Value], w: &mut ByteWriter) {
    w.u16(row.len() as u16);
    for v in row {
        encode_value(v, w);
    }
}

pub fn decode_row(r: &mut ByteReader<'_>) -> Result<Vec<Value>, IoFormatError> {
    let n = r.u16()? as usize;
    let mut row = Vec::with_capacity(n);
    for _ in 0..n {
        row.push(decode_value(r)?);
    }
    Ok(row)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_kind_round_trips() {
        let row = vec![
            Value::Null,
            Value::Bool(true),
            Value::Int16(-3),
            Value::Int32(i32::MIN),
            Value::Int64(i64::MAX),
            Value::Float32(1.5),
            Value::Float64(f64::NAN),
            Value::Numeric(Numeric::new(-123_456_789_012_345_678_901_234_567, 9)),
            Value::Text("snø ❄".into()),
            Value::Bytea(vec![0, 255, 1]),
            Value::Date(-10),
            Value::Timestamp(1_234_567),
            Value::TimestampTz(-7),
            Value::Interval(Interval {
                months: 1,
                days: -2,
                micros: 3,
            }),
        ];
        let mut w = ByteWriter::new();
        encode_row(&row, &mut w);
        let back = decode_row(&mut ByteReader::new(&w.buf)).unwrap();
        assert_eq!(format!("{row:?}"), format!("{back:?}"));
        let mut bad = w.buf.clone();
        bad[2] = 200;
        assert!(decode_row(&mut ByteReader::new(&bad)).is_err());
    }
}
