//! Text input and output of `real` and `double precision` as PostgreSQL 15 does them.
//!
//! Output is the shortest string that reads back to the same value (PostgreSQL's default
//! `extra_float_digits = 1`), laid out like C's `%g`: plain digits when the decimal exponent is
//! in `[-4, P)` (P = 15 for double, 6 for real), else `d.ddde±XX`. Never allocates on the heap.

use super::TypeError;
use super::text::is_pg_space;
use std::fmt::Write;

/// Exponent at which `double precision` output switches to scientific notation.
const F64_EXPONENT_SWITCH: i32 = 15;
/// Same for `real`.
const F32_EXPONENT_SWITCH: i32 = 6;

/// Room for the longest shortest-form output (`-1.2345678901234567e-308` is 24 bytes).
const FLOAT_BUF: usize = 32;

/// A fixed stack buffer that `write!` can fill.
struct StackBuf {
    buf: [u8; FLOAT_BUF],
    len: usize,
}

impl Write for StackBuf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        let slot = self.buf.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        slot.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

impl StackBuf {
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

pub(super) fn write_f64(v: f64, out: &mut String) {
    if !write_special(v.is_nan(), v.is_infinite(), v < 0.0, out) {
        let mut b = StackBuf {
            buf: [0; FLOAT_BUF],
            len: 0,
        };
        // Rust's `{:e}` is the shortest round-trip digit string, as PostgreSQL's Ryu output.
        let _ = write!(b, "{v:e}");
        layout(b.as_str(), F64_EXPONENT_SWITCH, out);
    }
}

pub(super) fn write_f32(v: f32, out: &mut String) {
    if !write_special(v.is_nan(), v.is_infinite(), v < 0.0, out) {
        let mut b = StackBuf {
            buf: [0; FLOAT_BUF],
            len: 0,
        };
        let _ = write!(b, "{v:e}");
        layout(b.as_str(), F32_EXPONENT_SWITCH, out);
    }
}

/// `NaN`, `Infinity`, `-Infinity`; false when `v` is finite.
fn write_special(nan: bool, infinite: bool, negative: bool, out: &mut String) -> bool {
    match (nan, infinite, negative) {
        (true, _, _) => out.push_str("NaN"),
        (_, true, false) => out.push_str("Infinity"),
        (_, true, true) => out.push_str("-Infinity"),
        _ => return false,
    }
    true
}

/// Lay out Rust's `-d.ddde-5` form the way PostgreSQL prints it.
fn layout(sci: &str, switch: i32, out: &mut String) {
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((sci, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let (negative, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    if negative {
        out.push('-');
    }
    let (lead, rest) = mantissa.split_at(1);
    let rest = rest.strip_prefix('.').unwrap_or(rest);
    if exponent < -4 || exponent >= switch {
        out.push_str(lead);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        let _ = write!(
            out,
            "e{}{:02}",
            if exponent < 0 { '-' } else { '+' },
            exponent.abs()
        );
    } else if exponent < 0 {
        out.push_str("0.");
        for _ in 0..(-exponent - 1) {
            out.push('0');
        }
        out.push_str(lead);
        out.push_str(rest);
    } else {
        let int_len = exponent as usize;
        out.push_str(lead);
        if rest.len() <= int_len {
            out.push_str(rest);
            for _ in rest.len()..int_len {
                out.push('0');
            }
        } else {
            out.push_str(&rest[..int_len]);
            out.push('.');
            out.push_str(&rest[int_len..]);
        }
    }
}

/// `float8in`: spaces around, `Infinity`/`inf`/`NaN` in any case, decimal with exponent;
/// 22003 when the value overflows or underflows to zero.
pub(super) fn parse_f64(s: &str) -> Result<f64, TypeError> {
    parse_float(s, "double precision")
}

/// `float4in`, parsed directly in single precision so there is no double rounding.
pub(super) fn parse_f32(s: &str) -> Result<f32, TypeError> {
    parse_float(s, "real")
}

fn parse_float<F>(s: &str, type_name: &str) -> Result<F, TypeError>
where
    F: std::str::FromStr + FloatClass,
{
    let t = s.trim_matches(is_pg_space);
    let v: F = t
        .parse()
        .map_err(|_| TypeError::invalid_text(type_name, s))?;
    let literal_special = t
        .trim_start_matches(['+', '-'])
        .bytes()
        .any(|b| b.is_ascii_alphabetic() && !matches!(b, b'e' | b'E'));
    let has_nonzero_digit = t
        .split(['e', 'E'])
        .next()
        .is_some_and(|m| m.bytes().any(|b| matches!(b, b'1'..=b'9')));
    let overflowed = v.is_infinite() && !literal_special;
    let underflowed = v.is_zero() && has_nonzero_digit;
    if overflowed || underflowed {
        return Err(TypeError::OutOfRange(format!(
            "\"{s}\" is out of range for type {type_name}"
        )));
    }
    Ok(v)
}

/// What `parse_float` needs to know of a parsed value.
trait FloatClass {
    fn is_infinite(&self) -> bool;
    fn is_zero(&self) -> bool;
}

impl FloatClass for f64 {
    fn is_infinite(&self) -> bool {
        f64::is_infinite(*self)
    }
    fn is_zero(&self) -> bool {
        *self == 0.0
    }
}

impl FloatClass for f32 {
    fn is_infinite(&self) -> bool {
        f32::is_infinite(*self)
    }
    fn is_zero(&self) -> bool {
        *self == 0.0
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::approx_constant)] // tests may unwrap; 3.1415927 is a float4 literal, not π
mod tests {
    use super::*;

    fn f64_text(v: f64) -> String {
        let mut s = String::new();
        write_f64(v, &mut s);
        s
    }

    fn f32_text(v: f32) -> String {
        let mut s = String::new();
        write_f32(v, &mut s);
        s
    }

    /// Expected strings are PostgreSQL 15's output for the same values.
    #[test]
    fn double_output_matches_postgres() {
        let cases: &[(f64, &str)] = &[
            (1.5, "1.5"),
            (1e20, "1e+20"),
            (1e-5, "1e-05"),
            (0.1 + 0.2, "0.30000000000000004"),
            (123456789012345680000.0, "1.2345678901234568e+20"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
            (f64::NAN, "NaN"),
            (-0.0, "-0"),
            (0.0, "0"),
            (1e15, "1e+15"),
            (123456789012345.0, "123456789012345"),
            (1e14, "100000000000000"),
            (0.0001, "0.0001"),
            (0.00012345, "0.00012345"),
            (100.0, "100"),
            (1e100, "1e+100"),
            (5e-324, "5e-324"),
            (-2.5, "-2.5"),
            (-1.25e-7, "-1.25e-07"),
        ];
        for (v, want) in cases {
            assert_eq!(f64_text(*v), *want, "{v:?}");
        }
    }

    #[test]
    fn real_output_matches_postgres() {
        let cases: &[(f32, &str)] = &[
            (1e6, "1e+06"),
            (123456.0, "123456"),
            (1234567.0, "1.234567e+06"),
            (0.1, "0.1"),
            (3.141_592_7, "3.1415927"),
            (1e-5, "1e-05"),
            (1e10, "1e+10"),
            (f32::INFINITY, "Infinity"),
            (16777217.0, "1.6777216e+07"),
        ];
        for (v, want) in cases {
            assert_eq!(f32_text(*v), *want, "{v:?}");
        }
    }

    #[test]
    fn input_accepts_what_postgres_accepts() {
        assert_eq!(parse_f64(" 1.5 ").unwrap(), 1.5);
        assert_eq!(parse_f64("-Infinity").unwrap(), f64::NEG_INFINITY);
        assert_eq!(parse_f64("inf").unwrap(), f64::INFINITY);
        assert!(parse_f64("NaN").unwrap().is_nan());
        assert_eq!(parse_f64("1E+05").unwrap(), 1e5);
        assert_eq!(parse_f64(".5").unwrap(), 0.5);
        assert_eq!(parse_f64("-0").unwrap().to_bits(), (-0.0f64).to_bits());
        assert_eq!(parse_f64("0e10").unwrap(), 0.0);
        assert_eq!(parse_f32("3.14159274").unwrap(), 3.141_592_7);
    }

    #[test]
    fn input_errors_match_postgres() {
        let e = parse_f64("1e400").unwrap_err();
        assert_eq!(
            e.to_string(),
            "\"1e400\" is out of range for type double precision"
        );
        assert_eq!(e.sqlstate(), "22003");
        assert_eq!(
            parse_f64("1e-400").unwrap_err().to_string(),
            "\"1e-400\" is out of range for type double precision"
        );
        assert_eq!(
            parse_f32("1e40").unwrap_err().to_string(),
            "\"1e40\" is out of range for type real"
        );
        let e = parse_f64("1e").unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid input syntax for type double precision: \"1e\""
        );
        assert_eq!(e.sqlstate(), "22P02");
        assert_eq!(
            parse_f64("   ").unwrap_err().to_string(),
            "invalid input syntax for type double precision: \"   \""
        );
    }
}
