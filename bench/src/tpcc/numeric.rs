//! Exact fixed-point money and rates for TPC-C: a value in ten-thousandths, sent to and read from
//! the server as PostgreSQL `numeric` in its binary format, and parsed from its text format.
//!
//! Owns the one conversion between the driver's integers and `numeric`. It must never go through
//! floating point: the consistency conditions compare sums of money exactly.

use std::error::Error;
use std::fmt;

use bytes::{BufMut, BytesMut};
use tokio_postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};

/// Ten-thousandths per unit: TPC-C's finest scale (tax and discount rates, numeric(4,4)).
const ONE: i64 = 10_000;
/// `numeric`'s binary digits are base 10 000, so one digit holds exactly our fraction.
const NBASE: i128 = 10_000;
const SIGN_POSITIVE: u16 = 0x0000;
const SIGN_NEGATIVE: u16 = 0x4000;
/// The display scale we send: four decimals, what [`ONE`] can hold.
const DSCALE: u16 = 4;

/// An exact decimal with four fractional digits, stored as ten-thousandths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Numeric(pub i64);

impl Numeric {
    pub const ZERO: Numeric = Numeric(0);

    /// `cents` hundredths (money as TPC-C draws it).
    pub fn from_cents(cents: i64) -> Numeric {
        Numeric(cents * (ONE / 100))
    }

    /// The value rounded half away from zero to `scale` (at most 4) decimals, as text.
    pub fn to_text(self, scale: u32) -> String {
        let step = 10_i64.pow(4 - scale.min(4));
        let half = step / 2;
        let rounded = if self.0 >= 0 {
            (self.0 + half) / step
        } else {
            (self.0 - half) / step
        };
        let sign = if rounded < 0 { "-" } else { "" };
        let magnitude = rounded.unsigned_abs();
        if scale == 0 {
            return format!("{sign}{magnitude}");
        }
        let divisor = 10_u64.pow(scale);
        format!(
            "{sign}{}.{:0width$}",
            magnitude / divisor,
            magnitude % divisor,
            width = scale as usize
        )
    }

    /// Parses PostgreSQL's text form of a numeric ("-12.3", "0.0500", "7"); `None` for anything
    /// else, or for digits beyond the fourth decimal that are not zero.
    pub fn parse(text: &str) -> Option<Numeric> {
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
        if whole.is_empty() && fraction.is_empty() {
            return None;
        }
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(whole) || !all_digits(fraction) {
            return None;
        }
        let (kept, dropped) = fraction.split_at(fraction.len().min(4));
        if dropped.bytes().any(|b| b != b'0') {
            return None;
        }
        let whole: i64 = if whole.is_empty() {
            0
        } else {
            whole.parse().ok()?
        };
        let mut frac: i64 = if kept.is_empty() {
            0
        } else {
            kept.parse().ok()?
        };
        frac *= 10_i64.pow(4 - kept.len() as u32);
        let value = whole.checked_mul(ONE)?.checked_add(frac)?;
        Some(Numeric(if negative { -value } else { value }))
    }
}

impl std::ops::Add for Numeric {
    type Output = Numeric;
    fn add(self, other: Numeric) -> Numeric {
        Numeric(self.0 + other.0)
    }
}

impl fmt::Display for Numeric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text(4))
    }
}

/// A `numeric` the driver cannot hold exactly (NaN, infinity, more than four decimals that are
/// not zero, or beyond i64 ten-thousandths).
#[derive(Debug)]
struct Inexact;

impl fmt::Display for Inexact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a numeric value beyond four exact decimals or the i64 range")
    }
}

impl Error for Inexact {}

impl<'a> FromSql<'a> for Numeric {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Numeric, Box<dyn Error + Sync + Send>> {
        let word = |i: usize| -> Result<u16, Box<dyn Error + Sync + Send>> {
            raw.get(i * 2..i * 2 + 2)
                .map(|b| u16::from_be_bytes([b[0], b[1]]))
                .ok_or_else(|| "truncated numeric".into())
        };
        let ndigits = usize::from(word(0)?);
        let weight = i32::from(word(1)? as i16);
        let sign = word(2)?;
        if sign != SIGN_POSITIVE && sign != SIGN_NEGATIVE {
            return Err(Box::new(Inexact));
        }
        let mut value: i128 = 0;
        for i in 0..ndigits {
            let digit = i128::from(word(4 + i)?);
            // Digit i is worth NBASE^(weight - i); our unit is NBASE^-1.
            let exponent = weight - i as i32 + 1;
            if exponent < 0 {
                if digit != 0 {
                    return Err(Box::new(Inexact));
                }
                continue;
            }
            let scale = NBASE
                .checked_pow(exponent as u32)
                .ok_or_else(|| Box::new(Inexact) as Box<dyn Error + Sync + Send>)?;
            value = digit
                .checked_mul(scale)
                .and_then(|v| value.checked_add(v))
                .ok_or_else(|| Box::new(Inexact) as Box<dyn Error + Sync + Send>)?;
        }
        if sign == SIGN_NEGATIVE {
            value = -value;
        }
        i64::try_from(value)
            .map(Numeric)
            .map_err(|_| Box::new(Inexact) as Box<dyn Error + Sync + Send>)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::NUMERIC
    }
}

impl ToSql for Numeric {
    fn to_sql(&self, _: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        let magnitude = i128::from(self.0).unsigned_abs();
        // Base-10000 digits, least significant (the fraction) first.
        let mut digits = Vec::new();
        let mut rest = magnitude;
        while rest > 0 {
            digits.push((rest % NBASE as u128) as i16);
            rest /= NBASE as u128;
        }
        // The first digit pushed is the fraction, worth NBASE^-1.
        let mut weight = digits.len() as i16 - 2;
        digits.reverse();
        while digits.last() == Some(&0) {
            digits.pop();
        }
        while digits.first() == Some(&0) {
            digits.remove(0);
            weight -= 1;
        }
        if digits.is_empty() {
            weight = 0;
        }
        out.put_i16(digits.len() as i16);
        out.put_i16(weight);
        out.put_u16(if self.0 < 0 {
            SIGN_NEGATIVE
        } else {
            SIGN_POSITIVE
        });
        out.put_u16(DSCALE);
        for digit in digits {
            out.put_i16(digit);
        }
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::NUMERIC
    }

    to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(value: i64) -> Numeric {
        let mut buf = BytesMut::new();
        Numeric(value).to_sql(&Type::NUMERIC, &mut buf).unwrap();
        Numeric::from_sql(&Type::NUMERIC, &buf).unwrap()
    }

    #[test]
    fn binary_round_trips_exactly() {
        for v in [
            0,
            1,
            -1,
            9999,
            10_000,
            -10_000,
            123_456_789,
            3_000_000_000,
            -100_000,
            i64::MAX / 2,
        ] {
            assert_eq!(round_trip(v), Numeric(v), "{v}");
        }
    }

    #[test]
    fn text_parses_and_prints() {
        assert_eq!(Numeric::parse("12.34"), Some(Numeric(123_400)));
        assert_eq!(Numeric::parse("-0.0500"), Some(Numeric(-500)));
        assert_eq!(Numeric::parse("7"), Some(Numeric(70_000)));
        assert_eq!(Numeric::parse("1.000000"), Some(Numeric(10_000)));
        assert_eq!(Numeric::parse("1.00001"), None);
        assert_eq!(Numeric::parse("x"), None);
        assert_eq!(Numeric(123_456).to_text(2), "12.35");
        assert_eq!(Numeric(-123_456).to_text(2), "-12.35");
        assert_eq!(Numeric(500).to_text(4), "0.0500");
        assert_eq!(Numeric::from_cents(-1000).to_text(2), "-10.00");
    }

    #[test]
    fn decodes_postgres_encoding_of_a_fraction() {
        // 0.05 as PostgreSQL sends it: one digit 500, weight -1, dscale 2.
        let raw = [0, 1, 0xff, 0xff, 0, 0, 0, 2, 0x01, 0xf4];
        assert_eq!(
            Numeric::from_sql(&Type::NUMERIC, &raw).unwrap(),
            Numeric(500)
        );
    }
}
