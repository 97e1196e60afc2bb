//! Text-format COPY lines parsed for a bulk load without a `Value` per field: each field in a
//! plain form — an integer, a decimal with no more fraction digits than its column's scale, an
//! ISO date, unescaped text within its length — becomes a [`Slot`] holding the native value
//! (text as a range of the line), which the load appends to its column builders directly.
//!
//! Must never accept a field the general parser (`CopyParser::parse_line_into`) would reject,
//! nor make a different value of one: anything outside the plain forms sends the whole line to
//! the general parser, which also words every error.

use super::parse::{CopyParser, is_null};
use omendb_storage::types::datetime::iso_date;
use omendb_storage::types::{DataType, Numeric, Value};

/// Digits an `i64` accumulates without overflow checks.
const MAX_DIGITS: usize = 18;

/// How the fields of one target column are parsed directly.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Kind {
    /// int2 / int4 / int8: a value within `min..=max`.
    Int {
        min: i64,
        max: i64,
    },
    Date,
    /// numeric(p, s): the mantissa at scale `scale`, below `limit` in magnitude.
    Decimal {
        scale: u8,
        limit: i64,
    },
    /// Text types: at most `limit` characters, blank-padded to it when `pad` (`char(n)`).
    Text {
        limit: Option<u32>,
        pad: bool,
    },
    /// Any other type: the general conversion, into the row's `Value`.
    General,
}

impl Kind {
    pub(crate) fn of(ty: DataType) -> Kind {
        match ty {
            DataType::Int16 => Kind::Int {
                min: i64::from(i16::MIN),
                max: i64::from(i16::MAX),
            },
            DataType::Int32 => Kind::Int {
                min: i64::from(i32::MIN),
                max: i64::from(i32::MAX),
            },
            DataType::Int64 => Kind::Int {
                min: i64::MIN,
                max: i64::MAX,
            },
            DataType::Date => Kind::Date,
            DataType::Numeric {
                precision: Some(p),
                scale,
            } => Kind::Decimal {
                scale: scale.unwrap_or(0),
                // A value needs fewer than `p` digits; past 18 every i64 mantissa has room.
                limit: 10i64.checked_pow(u32::from(p)).unwrap_or(i64::MAX),
            },
            DataType::Text | DataType::Varchar(None) | DataType::Char(None) | DataType::Unknown => {
                Kind::Text {
                    limit: None,
                    pad: false,
                }
            }
            DataType::Varchar(Some(n)) => Kind::Text {
                limit: Some(n),
                pad: false,
            },
            DataType::Char(Some(n)) => Kind::Text {
                limit: Some(n),
                pad: true,
            },
            _ => Kind::General,
        }
    }
}

/// One field of a line, parsed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Slot {
    Null,
    Int(i64),
    Date(i32),
    /// The mantissa at the column's scale.
    Decimal(i64),
    /// Bytes `start..end` of the line, then `pad` blanks.
    Text {
        start: u32,
        end: u32,
        pad: u32,
    },
    /// The value is in the row, at this column.
    Value,
}

/// Each target field's table column and kind; `None` for CSV (the general parser only).
pub(crate) fn kinds(parser: &CopyParser) -> Option<Vec<(usize, Kind)>> {
    parser.is_text().then(|| {
        parser
            .targets()
            .iter()
            .map(|&(col, ty)| (col, Kind::of(ty)))
            .collect()
    })
}

/// Parse one line (without its newline) into `slots` (one per table column; columns the COPY
/// does not list stay as they are, `Slot::Null`), general-kind values into `row`; `ends` is
/// scratch. Returns the line as the `Slot::Text` ranges index it, or `None` when the line
/// needs the general parser.
pub(crate) fn parse_line<'a>(
    parser: &CopyParser,
    kinds: &[(usize, Kind)],
    line: &'a str,
    slots: &mut [Slot],
    row: &mut [Value],
    ends: &mut Vec<u32>,
) -> Option<&'a str> {
    let text = line.strip_suffix('\r').unwrap_or(line);
    let bytes = text.as_bytes();
    // One memchr for the line instead of one per field.
    let escaped = memchr::memchr(b'\\', bytes).is_some();
    let null = parser.null();
    ends.clear();
    delimiter_positions(bytes, parser.delimiter(), 0, ends);
    ends.push(u32::try_from(bytes.len()).ok()?);
    // Missing or extra fields: the general parser words the error.
    if ends.len() != kinds.len() {
        return None;
    }
    let mut start = 0;
    for (n, (&end, &(col, kind))) in ends.iter().zip(kinds).enumerate() {
        let end = end as usize;
        // Delimiters are ASCII, so every field starts and ends on a character boundary.
        let field = text.get(start..end)?;
        let slot = if is_null(field, null) {
            Slot::Null
        } else if escaped && field.contains('\\') {
            return None;
        } else if kind == Kind::General {
            row[col] = parser.convert(n, field).ok()?;
            Slot::Value
        } else {
            plain_field(field, kind, start)?
        };
        *slots.get_mut(col)? = slot;
        start = end + 1;
    }
    Some(text)
}

/// Append the offset (plus `base`) of every `byte` in `bytes`, in order: eight bytes a step, each word's
/// matching bytes marked exactly (no borrow between bytes) and taken lowest first, so a line's
/// fields are found in one pass instead of one search per field.
#[inline]
pub(super) fn delimiter_positions(bytes: &[u8], byte: u8, base: u32, out: &mut Vec<u32>) {
    const LOW7: u64 = u64::from_ne_bytes([0x7f; 8]);
    let pattern = u64::from_ne_bytes([byte; 8]);
    let mut words = bytes.chunks_exact(8);
    let mut base = base;
    for word in &mut words {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        let x = u64::from_le_bytes(w) ^ pattern;
        // 0x80 in exactly the bytes of `x` that are zero.
        let mut zeros = !(((x & LOW7) + LOW7) | x | LOW7);
        while zeros != 0 {
            out.push(base + zeros.trailing_zeros() / 8);
            zeros &= zeros - 1;
        }
        base += 8;
    }
    for (i, &b) in words.remainder().iter().enumerate() {
        if b == byte {
            out.push(base + i as u32);
        }
    }
}

/// `field` (at byte `start` of its line) in its plain form for `kind`, or `None`. Inlined:
/// called once per field, and a returned `Slot` read back through the stack stalled the
/// store-to-load forwarding in the profile.
#[inline(always)]
fn plain_field(field: &str, kind: Kind, start: usize) -> Option<Slot> {
    let b = field.as_bytes();
    match kind {
        Kind::Int { min, max } => plain_int(b)
            .filter(|v| (min..=max).contains(v))
            .map(Slot::Int),
        Kind::Date => iso_date(field).map(Slot::Date),
        Kind::Decimal { scale, limit } => plain_decimal(b, scale)
            .filter(|m| m.unsigned_abs() < limit.unsigned_abs())
            .map(Slot::Decimal),
        Kind::Text { limit, pad } => Some(Slot::Text {
            start: u32::try_from(start).ok()?,
            end: u32::try_from(start + field.len()).ok()?,
            pad: text_pad(b, limit, pad)?,
        }),
        Kind::General => None,
    }
}

/// The blanks a text `field` (valid UTF-8) is padded with in a column of at most `limit`
/// characters (padded when `pad`), or `None` when it is too long. Bytes, not `&str`: a bulk
/// load's block takes fields without UTF-8 boundary checks.
#[inline]
pub(super) fn text_pad(field: &[u8], limit: Option<u32>, pad: bool) -> Option<u32> {
    let Some(limit) = limit else {
        return Some(0);
    };
    let chars = if field.is_ascii() {
        field.len()
    } else {
        // Characters are the bytes that do not continue one (0b10xx_xxxx).
        field.iter().filter(|&&b| (b as i8) >= -0x40).count()
    };
    let room = (limit as usize).checked_sub(chars)?;
    if pad {
        u32::try_from(room).ok()
    } else {
        Some(0)
    }
}

/// `-?[0-9]{1,18}`: the integers every source writes (signs other than `-`, blanks and longer
/// numbers are the general parser's).
pub(super) fn plain_int(b: &[u8]) -> Option<i64> {
    let (negative, digits) = match b.split_first()? {
        (b'-', rest) => (true, rest),
        _ => (false, b),
    };
    if digits.is_empty() || digits.len() > MAX_DIGITS {
        return None;
    }
    let mut v: i64 = 0;
    for &c in digits {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v * 10 + i64::from(d);
    }
    Some(if negative { -v } else { v })
}

/// `-?[0-9]*(\.[0-9]*)?` with at least one digit, at most 18 in all and at most `scale` after
/// the point: the mantissa at `scale` (fewer fraction digits are scaled up; more would round,
/// which is the general parser's).
pub(super) fn plain_decimal(b: &[u8], scale: u8) -> Option<i64> {
    let (negative, body) = match b.split_first()? {
        (b'-', rest) => (true, rest),
        _ => (false, b),
    };
    let mut mantissa: i64 = 0;
    let mut digits = 0;
    let mut point = None;
    for (i, &c) in body.iter().enumerate() {
        let d = c.wrapping_sub(b'0');
        if d <= 9 {
            digits += 1;
            if digits > MAX_DIGITS {
                return None;
            }
            mantissa = mantissa * 10 + i64::from(d);
        } else if c == b'.' && point.is_none() {
            point = Some(i);
        } else {
            return None;
        }
    }
    if digits == 0 {
        return None;
    }
    let fraction = point.map_or(0, |at| body.len() - at - 1);
    let up = usize::from(scale).checked_sub(fraction)?;
    let mantissa = mantissa.checked_mul(10i64.checked_pow(u32::try_from(up).ok()?)?)?;
    Some(if negative { -mantissa } else { mantissa })
}

/// The value `slot` stands for in a column of type `ty` (`line` holds its text): the `Value`
/// the general parser makes of the same field. `None` for `Slot::Value` (it is in the row).
pub(crate) fn slot_value(slot: Slot, ty: DataType, line: &str) -> Option<Value> {
    Some(match slot {
        Slot::Null => Value::Null,
        Slot::Int(v) => match ty {
            DataType::Int16 => Value::Int16(i16::try_from(v).ok()?),
            DataType::Int32 => Value::Int32(i32::try_from(v).ok()?),
            _ => Value::Int64(v),
        },
        Slot::Date(d) => Value::Date(d),
        Slot::Decimal(m) => match ty {
            DataType::Numeric { scale, .. } => {
                Value::Numeric(Numeric::new(i128::from(m), scale.unwrap_or(0)))
            }
            _ => return None,
        },
        Slot::Text { start, end, pad } => {
            let mut s = line.get(start as usize..end as usize)?.to_owned();
            s.extend(std::iter::repeat_n(' ', pad as usize));
            Value::Text(s)
        }
        Slot::Value => return None,
    })
}

/// The value of `field` alone for a column of type `ty`, when it is in a plain form: a row's
/// shard is known from its key field without the general conversion (or a UTF-8 check: the
/// plain forms of these kinds are ASCII).
pub(crate) fn plain_value(field: &[u8], ty: DataType) -> Option<Value> {
    let slot = match Kind::of(ty) {
        Kind::Int { min, max } => Slot::Int(plain_int(field).filter(|v| (min..=max).contains(v))?),
        Kind::Date => Slot::Date(iso_date(std::str::from_utf8(field).ok()?)?),
        Kind::Decimal { scale, limit } => Slot::Decimal(
            plain_decimal(field, scale).filter(|m| m.unsigned_abs() < limit.unsigned_abs())?,
        ),
        _ => return None,
    };
    slot_value(slot, ty, "")
}

#[cfg(test)]
mod tests {
    use super::*;
    use omendb_storage::types::datetime::TimeZone;
    use proptest::prelude::*;

    fn types() -> Vec<DataType> {
        vec![
            DataType::Int16,
            DataType::Int32,
            DataType::Int64,
            DataType::Date,
            DataType::Numeric {
                precision: Some(15),
                scale: Some(2),
            },
            DataType::Numeric {
                precision: Some(4),
                scale: Some(1),
            },
            DataType::Numeric {
                precision: Some(30),
                scale: Some(0),
            },
            DataType::Numeric {
                precision: Some(5),
                scale: None,
            },
            DataType::Text,
            DataType::Varchar(Some(4)),
            DataType::Char(Some(5)),
        ]
    }

    /// What the general parser stores for `field` in a column of `ty`.
    fn general(field: &str, ty: DataType) -> Option<Value> {
        let tz = TimeZone::utc();
        let v = Value::from_text(field, ty, &tz).ok()?;
        match ty {
            DataType::Char(Some(_)) | DataType::Varchar(Some(_)) => v.assign(ty, &tz).ok(),
            _ => Some(v),
        }
    }

    fn check(field: &str) {
        for ty in types() {
            let Some(slot) = plain_field(field, Kind::of(ty), 0) else {
                continue;
            };
            let direct = slot_value(slot, ty, field);
            let want = general(field, ty);
            if let Some(v) = plain_value(field.as_bytes(), ty) {
                assert_eq!(
                    format!("{:?}", Some(v)),
                    format!("{want:?}"),
                    "{field:?} alone as {ty:?}"
                );
            }
            assert_eq!(
                format!("{direct:?}"),
                format!("{want:?}"),
                "{field:?} as {ty:?}"
            );
        }
    }

    #[test]
    fn plain_fields_are_what_the_general_parser_makes_of_them() {
        for field in [
            "0",
            "-0",
            "7",
            "-32768",
            "32767",
            "32768",
            "-32769",
            "2147483647",
            "2147483648",
            "-2147483648",
            "999999999999999999",
            "1000000000000000000",
            "-",
            "",
            "+5",
            " 5",
            "5 ",
            "1.5",
            "1.",
            ".5",
            "-.5",
            "-0.00",
            "12.345",
            "999.9",
            "1000.0",
            "99.95",
            "1e5",
            "1.2.3",
            "1994-01-01",
            "1992-02-29",
            "1993-02-29",
            "0000-01-01",
            "9999-12-31",
            "1994-1-01",
            "abc",
            "abcd",
            "abcde",
            "abcdef",
            "ab é",
            "éééé",
            "ééééé",
            "a\tb",
        ] {
            check(field);
        }
        let decimal = DataType::Numeric {
            precision: Some(15),
            scale: Some(2),
        };
        for (field, ty) in [
            ("-7", DataType::Int16),
            ("123456789012345678", DataType::Int64),
            ("1994-01-01", DataType::Date),
            ("-.5", decimal),
            ("17.25", decimal),
            ("abcd", DataType::Varchar(Some(4))),
            ("é", DataType::Char(Some(5))),
        ] {
            assert!(
                plain_field(field, Kind::of(ty), 0).is_some(),
                "{field:?} as {ty:?} is a plain form"
            );
        }
    }

    /// Every delimiter of every byte value is found, in order, next to bytes around the exact
    /// zero-byte test's edges (0, 0x7f, 0x80, 0xff).
    #[test]
    fn delimiter_positions_are_every_match_in_order() {
        let (cases, alphabet) = super::super::search_cases();
        let mut out = Vec::new();
        for bytes in &cases {
            for &byte in &alphabet {
                out.clear();
                delimiter_positions(bytes, byte, 0, &mut out);
                let want: Vec<u32> = (0..bytes.len() as u32)
                    .filter(|&i| bytes[i as usize] == byte)
                    .collect();
                assert_eq!(out, want, "{bytes:?} {byte}");
            }
        }
    }

    proptest! {
        #[test]
        fn random_fields_are_what_the_general_parser_makes_of_them(
            field in "[-+ .0-9]{0,22}|[0-9]{4}-[0-9]{2}-[0-9]{2}|[a-zé ]{0,7}"
        ) {
            check(&field);
        }
    }
}
