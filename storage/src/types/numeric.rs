//! Exact decimals as scaled 128-bit integers (up to 38 significant digits).
//!
//! Arithmetic follows PostgreSQL's result scales (sum: larger scale; product: sum of scales;
//! quotient: `select_div_scale`) and rounds half away from zero. Where PostgreSQL would keep more
//! than 38 digits, the fractional digits are rounded away first and 22003 is raised only when the
//! integer part alone does not fit. Never allocates on the arithmetic paths.

use super::TypeError;
use super::wide::U256;
use std::cmp::Ordering;
use std::fmt;

/// `mantissa / 10^scale`. Equality, ordering and hashing are by value (1.0 == 1.00).
#[derive(Debug, Clone, Copy)]
pub struct Numeric {
    mantissa: i128,
    scale: u8,
}

/// `POW10[i] == 10^i` for every power a 38-digit mantissa can need.
const POW10: [u128; 39] = {
    let mut t = [1u128; 39];
    let mut i = 1;
    while i < 39 {
        t[i] = t[i - 1] * 10;
        i += 1;
    }
    t
};

/// Exclusive bound on a mantissa's magnitude: 10^38.
const MANTISSA_LIMIT: u128 = POW10[Numeric::MAX_PRECISION as usize];

/// PostgreSQL's `NUMERIC_MIN_SIG_DIGITS`: a quotient keeps at least this many significant digits.
const DIV_MIN_SIG_DIGITS: i32 = 16;
/// PostgreSQL stores numerics in base 10000 (`DEC_DIGITS` decimal digits per base digit), and its
/// division scale is computed on those base digits.
const DEC_DIGITS: i32 = 4;

/// Largest power of ten that fits in a `U256` (10^77 does not).
const MAX_WIDE_POW10: u32 = 76;

fn overflow() -> TypeError {
    TypeError::OutOfRange("value overflows numeric format".into())
}

fn field_overflow() -> TypeError {
    TypeError::OutOfRange("numeric field overflow".into())
}

/// Number of decimal digits of `v` (0 for 0).
fn digit_count(v: u128) -> u32 {
    POW10.partition_point(|&p| p <= v) as u32
}

/// Digits of a wide value (0 for 0).
fn wide_digit_count(v: U256) -> u32 {
    match v.to_u128() {
        Some(small) => digit_count(small),
        None => {
            let mut n = 39;
            while n <= MAX_WIDE_POW10 && wide_pow10(n) <= v {
                n += 1;
            }
            n
        }
    }
}

/// 10^n as a wide integer; `n` must be at most 76.
fn wide_pow10(n: u32) -> U256 {
    debug_assert!(n <= MAX_WIDE_POW10);
    if n <= 38 {
        U256::from_u128(POW10[n as usize])
    } else {
        U256::mul_u128(POW10[38], POW10[(n - 38) as usize])
    }
}

/// `mag / 10^drop` rounded half away from zero.
fn round_off(mag: u128, drop: u32) -> u128 {
    if drop == 0 {
        return mag;
    }
    if drop > 38 {
        return 0;
    }
    let d = POW10[drop as usize];
    let (q, r) = (mag / d, mag % d);
    if r >= d - r { q + 1 } else { q }
}

/// Wide `mag / 10^drop` rounded half away from zero.
fn wide_round_off(mag: U256, drop: u32) -> Option<U256> {
    if drop == 0 {
        return Some(mag);
    }
    if drop > MAX_WIDE_POW10 {
        return Some(U256::ZERO);
    }
    let d = wide_pow10(drop);
    let (q, r) = mag.div_rem(d);
    let twice = r.checked_add(r)?;
    if twice >= d {
        q.checked_add(U256::from_u128(1))
    } else {
        Some(q)
    }
}

fn signed(negative: bool, mag: u128) -> i128 {
    // mag < 10^38 < i128::MAX, so the conversion cannot wrap.
    let v = mag as i128;
    if negative { -v } else { v }
}

impl Numeric {
    /// Most significant digits a value may have.
    pub const MAX_PRECISION: u8 = 38;
    /// Largest scale a value may have.
    pub const MAX_SCALE: u8 = 38;

    pub fn new(mantissa: i128, scale: u8) -> Numeric {
        Numeric { mantissa, scale }
    }
    pub fn mantissa(self) -> i128 {
        self.mantissa
    }
    pub fn scale(self) -> u8 {
        self.scale
    }
    pub fn from_i64(v: i64) -> Numeric {
        Numeric::new(i128::from(v), 0)
    }

    /// A value from sign, magnitude and scale, 22003 when it has more than 38 digits.
    fn checked(negative: bool, mag: u128, scale: u32) -> Result<Numeric, TypeError> {
        if mag >= MANTISSA_LIMIT || scale > u32::from(Numeric::MAX_SCALE) {
            return Err(overflow());
        }
        Ok(Numeric::new(signed(negative, mag), scale as u8))
    }

    /// A wide result at `scale`, rounding fractional digits away (half away from zero) until it
    /// has at most `max_scale` of them and at most 38 digits in all; 22003 if the integer part
    /// alone is too wide. Rounds once from the exact value, never twice.
    fn from_wide(
        negative: bool,
        mag: U256,
        scale: u32,
        max_scale: u32,
    ) -> Result<Numeric, TypeError> {
        let max_scale = max_scale.min(u32::from(Numeric::MAX_SCALE));
        let width = wide_digit_count(mag);
        let mut drop = scale
            .saturating_sub(max_scale)
            .max(width.saturating_sub(u32::from(Numeric::MAX_PRECISION)));
        loop {
            if drop > scale {
                return Err(overflow());
            }
            let rounded = wide_round_off(mag, drop).ok_or_else(overflow)?;
            match rounded.to_u128() {
                // Rounding can carry into a 39th digit (99.99 → 100.0): drop one more.
                Some(m) if m < MANTISSA_LIMIT => {
                    return Ok(Numeric::new(signed(negative, m), (scale - drop) as u8));
                }
                _ => drop += 1,
            }
        }
    }

    fn magnitude(self) -> u128 {
        self.mantissa.unsigned_abs()
    }

    fn is_negative(self) -> bool {
        self.mantissa < 0
    }

    /// PostgreSQL numeric input: `' -12.50 '`, `'1e3'`, `'.5'`; `NaN`/`Infinity` are rejected (0A000).
    pub fn parse(s: &str) -> Result<Numeric, TypeError> {
        if let Some(n) = plain_decimal(s) {
            return Ok(n);
        }
        let t = s.trim_matches(super::text::is_pg_space);
        let lower = t.to_ascii_lowercase();
        let unsigned = lower.trim_start_matches(['+', '-']);
        if matches!(unsigned, "nan" | "infinity" | "inf") {
            return Err(TypeError::NotSupported(
                "numeric NaN and Infinity are not supported".into(),
            ));
        }
        parse_finite(t).ok_or_else(|| TypeError::invalid_text("numeric", s))?
    }

    /// float8 → numeric as PostgreSQL does: the value rounded to 15 significant digits
    /// (`DBL_DIG`), trailing zeros dropped. NaN and infinities are 0A000.
    pub fn from_f64(v: f64) -> Result<Numeric, TypeError> {
        const DBL_DIG: usize = 15;
        Numeric::from_float_digits(v, DBL_DIG)
    }

    /// float4 → numeric: 6 significant digits (`FLT_DIG`).
    pub fn from_f32(v: f32) -> Result<Numeric, TypeError> {
        const FLT_DIG: usize = 6;
        Numeric::from_float_digits(f64::from(v), FLT_DIG)
    }

    fn from_float_digits(v: f64, digits: usize) -> Result<Numeric, TypeError> {
        if !v.is_finite() {
            return Err(TypeError::NotSupported(
                "cannot convert NaN or Infinity to numeric".into(),
            ));
        }
        let text = format!("{:.*e}", digits - 1, v);
        let n = parse_finite(&text).ok_or_else(overflow)??;
        Ok(n.normalized())
    }

    /// The same value with trailing fractional zeros removed (smallest scale).
    pub fn normalized(self) -> Numeric {
        let (mut m, mut s) = (self.mantissa, self.scale);
        if m == 0 {
            return Numeric::new(0, 0);
        }
        while s > 0 && m % 10 == 0 {
            m /= 10;
            s -= 1;
        }
        Numeric::new(m, s)
    }

    pub fn to_f64(self) -> f64 {
        const EXACT_F64_INT: u128 = 1 << f64::MANTISSA_DIGITS;
        const EXACT_F64_POW10: u8 = 22;
        let mag = self.magnitude();
        if mag < EXACT_F64_INT && self.scale <= EXACT_F64_POW10 {
            // Both operands are exact, so the one division rounds correctly.
            let v = mag as f64 / POW10[self.scale as usize] as f64;
            return if self.is_negative() { -v } else { v };
        }
        // Rare wide values: let the correctly rounded decimal parser do it.
        format!("{}e-{}", self.mantissa, self.scale)
            .parse()
            .unwrap_or(f64::NAN)
    }

    /// Rounds half away from zero to an integer; 22003 when it does not fit.
    pub fn to_i64(self) -> Result<i64, TypeError> {
        let mag = round_off(self.magnitude(), u32::from(self.scale));
        i64::try_from(signed(self.is_negative(), mag))
            .map_err(|_| TypeError::OutOfRange("bigint out of range".into()))
    }

    /// Round (half away from zero) or pad to exactly `scale` digits after the point.
    pub fn rescale(self, scale: u8) -> Result<Numeric, TypeError> {
        if scale > Numeric::MAX_SCALE {
            return Err(overflow());
        }
        let mag = self.magnitude();
        let m = if scale >= self.scale {
            mag.checked_mul(POW10[usize::from(scale - self.scale)])
                .ok_or_else(overflow)?
        } else {
            round_off(mag, u32::from(self.scale - scale))
        };
        Numeric::checked(self.is_negative(), m, u32::from(scale))
    }

    /// Enforce `numeric(precision, scale)`: round to `scale`, then 22003 "numeric field overflow" when too wide.
    pub fn fit(self, precision: u8, scale: u8) -> Result<Numeric, TypeError> {
        let r = self.rescale(scale).map_err(|_| field_overflow())?;
        if precision < Numeric::MAX_PRECISION && r.magnitude() >= POW10[usize::from(precision)] {
            return Err(field_overflow());
        }
        Ok(r)
    }

    /// Both mantissas at the larger scale, when that fits in `i128`.
    fn aligned(self, other: Numeric) -> Option<(i128, i128, u8)> {
        let s = self.scale.max(other.scale);
        let a = self
            .mantissa
            .checked_mul(POW10[usize::from(s - self.scale)] as i128)?;
        let b = other
            .mantissa
            .checked_mul(POW10[usize::from(s - other.scale)] as i128)?;
        Some((a, b, s))
    }

    /// Magnitude scaled up to `scale` as a wide integer.
    fn wide_at(self, scale: u8) -> U256 {
        U256::mul_u128(self.magnitude(), POW10[usize::from(scale - self.scale)])
    }

    /// Result scale = max of the scales.
    pub fn checked_add(self, other: Numeric) -> Result<Numeric, TypeError> {
        if let Some((a, b, s)) = self.aligned(other)
            && let Some(m) = a.checked_add(b)
        {
            return Numeric::checked(m < 0, m.unsigned_abs(), u32::from(s));
        }
        self.wide_add(other)
    }

    /// Sign-magnitude addition in 256 bits for operands whose alignment outgrows `i128`.
    fn wide_add(self, other: Numeric) -> Result<Numeric, TypeError> {
        let s = self.scale.max(other.scale);
        let (a, b) = (self.wide_at(s), other.wide_at(s));
        let (negative, mag) = if self.is_negative() == other.is_negative() {
            (self.is_negative(), a.checked_add(b).ok_or_else(overflow)?)
        } else if a >= b {
            (self.is_negative(), a.checked_sub(b).ok_or_else(overflow)?)
        } else {
            (other.is_negative(), b.checked_sub(a).ok_or_else(overflow)?)
        };
        Numeric::from_wide(negative, mag, u32::from(s), u32::from(s))
    }

    pub fn checked_sub(self, other: Numeric) -> Result<Numeric, TypeError> {
        self.checked_add(other.neg())
    }

    /// Result scale = sum of the scales (capped at MAX_SCALE, rounding).
    pub fn checked_mul(self, other: Numeric) -> Result<Numeric, TypeError> {
        let scale = u32::from(self.scale) + u32::from(other.scale);
        if let Some(m) = self.mantissa.checked_mul(other.mantissa)
            && let Ok(n) = Numeric::checked(m < 0, m.unsigned_abs(), scale)
        {
            return Ok(n);
        }
        let mag = U256::mul_u128(self.magnitude(), other.magnitude());
        Numeric::from_wide(self.is_negative() != other.is_negative(), mag, scale, scale)
    }

    /// PostgreSQL's `select_div_scale`: enough digits for 16 significant ones, never fewer than
    /// either input's scale.
    fn division_scale(self, other: Numeric) -> u32 {
        let (w1, d1) = self.base_10000_lead();
        let (w2, d2) = other.base_10000_lead();
        let mut qweight = w1 - w2;
        if d1 <= d2 {
            qweight -= 1;
        }
        let rscale = DIV_MIN_SIG_DIGITS - qweight * DEC_DIGITS;
        rscale
            .max(i32::from(self.scale))
            .max(i32::from(other.scale))
            .max(0) as u32
    }

    /// Weight and value of the first non-zero base-10000 digit, as PostgreSQL stores numerics
    /// (`(0, 0)` for zero).
    fn base_10000_lead(self) -> (i32, u128) {
        let mag = self.magnitude();
        if mag == 0 {
            return (0, 0);
        }
        let exponent = digit_count(mag) as i32 - 1 - i32::from(self.scale);
        let weight = exponent.div_euclid(DEC_DIGITS);
        let shift = i32::from(self.scale) + weight * DEC_DIGITS;
        let first = if shift >= 0 {
            mag / POW10[shift as usize]
        } else {
            mag * POW10[(-shift) as usize]
        };
        (weight, first)
    }

    /// PostgreSQL's division scale (select_div_scale); 22012 on zero.
    pub fn checked_div(self, other: Numeric) -> Result<Numeric, TypeError> {
        if other.mantissa == 0 {
            return Err(TypeError::DivisionByZero);
        }
        let rscale = self.division_scale(other);
        let negative = self.is_negative() != other.is_negative();
        // a/b = (|m1| * 10^s2) / (|m2| * 10^s1), both exact in 256 bits.
        let n = U256::mul_u128(self.magnitude(), POW10[usize::from(other.scale)]);
        let d = U256::mul_u128(other.magnitude(), POW10[usize::from(self.scale)]);
        let (int_part, rem) = n.div_rem(d);
        let int_digits = wide_digit_count(int_part);
        if int_digits > u32::from(Numeric::MAX_PRECISION) {
            return Err(overflow());
        }
        let target = rscale
            .min(u32::from(Numeric::MAX_SCALE))
            .min(u32::from(Numeric::MAX_PRECISION) - int_digits);
        // One guard digit beyond the target, truncated: rounding half away from zero from a
        // truncated expansion is exact.
        let guarded = extend_quotient(int_part, rem, d, target + 1).ok_or_else(overflow)?;
        Numeric::from_wide(negative, guarded, target + 1, target)
    }

    /// Remainder with the dividend's sign; 22012 on zero.
    pub fn checked_rem(self, other: Numeric) -> Result<Numeric, TypeError> {
        if other.mantissa == 0 {
            return Err(TypeError::DivisionByZero);
        }
        let s = self.scale.max(other.scale);
        let (_, r) = self.wide_at(s).div_rem(other.wide_at(s));
        // |r| < the operand that was not scaled up, so it has at most 38 digits.
        let r = r.to_u128().ok_or_else(overflow)?;
        Numeric::checked(self.is_negative(), r, u32::from(s))
    }

    // Part of the published API under this name; an `impl Neg` would add nothing callers need.
    #[allow(clippy::should_implement_trait)]
    pub fn neg(self) -> Numeric {
        Numeric::new(-self.mantissa, self.scale)
    }
    pub fn abs(self) -> Numeric {
        Numeric::new(self.mantissa.abs(), self.scale)
    }

    /// round(x, digits) with negative `digits` allowed, as PostgreSQL.
    pub fn round(self, digits: i32) -> Result<Numeric, TypeError> {
        self.to_digits(digits, round_off)
    }

    pub fn trunc(self, digits: i32) -> Result<Numeric, TypeError> {
        self.to_digits(digits, |mag, drop| {
            if drop > 38 {
                0
            } else {
                mag / POW10[drop as usize]
            }
        })
    }

    /// Shared body of `round`/`trunc`: keep `digits` fractional digits (negative: zero out
    /// integer digits too); the result scale is `max(digits, 0)`.
    fn to_digits(self, digits: i32, cut: fn(u128, u32) -> u128) -> Result<Numeric, TypeError> {
        let scale = i32::from(self.scale);
        if digits >= scale {
            let target = u8::try_from(digits).map_err(|_| overflow())?;
            return self.rescale(target);
        }
        let drop = (scale - digits) as u32;
        let kept = cut(self.magnitude(), drop);
        let (mag, new_scale) = if digits >= 0 {
            (kept, digits as u32)
        } else {
            let back = -digits as usize;
            let factor = POW10.get(back).copied().ok_or_else(overflow)?;
            (kept.checked_mul(factor).ok_or_else(overflow)?, 0)
        };
        Numeric::checked(self.is_negative(), mag, new_scale)
    }

    pub fn floor(self) -> Numeric {
        self.to_integer(true)
    }

    pub fn ceil(self) -> Numeric {
        self.to_integer(false)
    }

    /// Floor (`down`) or ceiling as a scale-0 value.
    fn to_integer(self, down: bool) -> Numeric {
        let p = POW10[usize::from(self.scale)] as i128;
        let (q, r) = (self.mantissa / p, self.mantissa % p);
        let adjust = match (r.signum(), down) {
            (-1, true) => -1,
            (1, false) => 1,
            _ => 0,
        };
        Numeric::new(q + adjust, 0)
    }

    pub fn signum(self) -> i32 {
        self.mantissa.signum() as i32
    }
}

/// Append `extra` decimal digits of `rem / d` to the integer quotient `int_part`, truncating.
fn extend_quotient(int_part: U256, rem: U256, d: U256, extra: u32) -> Option<U256> {
    let room = MAX_WIDE_POW10.saturating_sub(wide_digit_count(d)).max(1);
    let (mut q, mut r, mut left) = (int_part, rem, extra);
    while left > 0 {
        let step = left.min(room).min(38);
        let p = POW10[step as usize];
        let (digits, next) = r.checked_mul_u128(p)?.div_rem(d);
        q = q.checked_mul_u128(p)?.checked_add(digits)?;
        r = next;
        left -= step;
    }
    Some(q)
}

/// Parse `[sign] digits [. digits] [e [sign] digits]` (no surrounding spaces); `None` when the
/// syntax is wrong, `Some(Err)` when the value is too wide.
fn parse_finite(t: &str) -> Option<Result<Numeric, TypeError>> {
    let b = t.as_bytes();
    let mut i = 0;
    let negative = match b.first() {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let (mut mag, mut frac, mut any, mut point, mut wide) = (0u128, 0i64, false, false, false);
    while i < b.len() {
        match b[i] {
            d @ b'0'..=b'9' => {
                any = true;
                if point {
                    frac += 1;
                }
                match mag
                    .checked_mul(10)
                    .and_then(|m| m.checked_add(u128::from(d - b'0')))
                {
                    Some(m) if m < MANTISSA_LIMIT => mag = m,
                    _ => wide = true,
                }
            }
            b'.' if !point => point = true,
            _ => break,
        }
        i += 1;
    }
    if !any {
        return None;
    }
    let exponent = if i < b.len() {
        parse_exponent(&b[i..])?
    } else {
        0
    };
    if wide {
        return Some(Err(overflow()));
    }
    let scale = frac - exponent;
    Some(if scale < 0 {
        let up = usize::try_from(-scale).ok().filter(|&u| u < POW10.len());
        match up.and_then(|u| mag.checked_mul(POW10[u])) {
            Some(m) => Numeric::checked(negative, m, 0),
            None if mag == 0 => Ok(Numeric::new(0, 0)),
            None => Err(overflow()),
        }
    } else {
        let scale = u32::try_from(scale).unwrap_or(u32::MAX);
        Numeric::checked(negative, mag, scale)
    })
}

/// `e[+-]digits` to the end of the input.
fn parse_exponent(b: &[u8]) -> Option<i64> {
    /// Beyond this the value cannot fit whatever the digits; keeps the arithmetic small.
    const EXPONENT_LIMIT: i64 = 1_000_000;
    if !matches!(b.first(), Some(b'e' | b'E')) {
        return None;
    }
    let rest = &b[1..];
    let (negative, digits) = match rest.first() {
        Some(b'-') => (true, &rest[1..]),
        Some(b'+') => (false, &rest[1..]),
        _ => (false, rest),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut e: i64 = 0;
    for d in digits {
        e = (e * 10 + i64::from(d - b'0')).min(EXPONENT_LIMIT);
    }
    Some(if negative { -e } else { e })
}

impl PartialEq for Numeric {
    fn eq(&self, other: &Numeric) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Numeric {}
impl PartialOrd for Numeric {
    fn partial_cmp(&self, other: &Numeric) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
/// `[+-]digits[.digits]` with at most 18 digits and nothing else (what COPY data and most
/// literals hold), parsed without the general path's allocation; anything else is `None`.
/// The scale is the number of digits after the point, as the general parser keeps it.
fn plain_decimal(s: &str) -> Option<Numeric> {
    const MAX_DIGITS: usize = 18;
    let b = s.as_bytes();
    let (negative, digits) = match b.first()? {
        b'-' => (true, &b[1..]),
        b'+' => (false, &b[1..]),
        _ => (false, b),
    };
    let mut mantissa: i64 = 0;
    let mut count = 0;
    let mut scale = None;
    for (i, &c) in digits.iter().enumerate() {
        match c {
            b'0'..=b'9' => {
                count += 1;
                if count > MAX_DIGITS {
                    return None;
                }
                mantissa = mantissa * 10 + i64::from(c - b'0');
            }
            b'.' if scale.is_none() => scale = Some(i),
            _ => return None,
        }
    }
    if count == 0 {
        return None;
    }
    let scale = scale.map_or(0, |at| digits.len() - at - 1);
    let mantissa = if negative { -mantissa } else { mantissa };
    Some(Numeric::new(
        i128::from(mantissa),
        u8::try_from(scale).ok()?,
    ))
}

impl Ord for Numeric {
    fn cmp(&self, other: &Numeric) -> Ordering {
        let (sa, sb) = (self.mantissa.signum(), other.mantissa.signum());
        if sa != sb || self.scale == other.scale {
            return (sa, self.mantissa).cmp(&(sb, other.mantissa));
        }
        match self.aligned(*other) {
            Some((a, b, _)) => a.cmp(&b),
            // Only the smaller-scale side is scaled up; if that overflowed, its magnitude is
            // the larger one.
            None => {
                let self_larger = self.scale < other.scale;
                match (self_larger, sa > 0) {
                    (true, true) | (false, false) => Ordering::Greater,
                    _ => Ordering::Less,
                }
            }
        }
    }
}
impl std::hash::Hash for Numeric {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let n = self.normalized();
        n.mantissa.hash(state);
        n.scale.hash(state);
    }
}
impl fmt::Display for Numeric {
    /// PostgreSQL's text output: exactly `scale` digits after the point.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // 38 digits, a point, a sign and a leading zero at most.
        const BUF: usize = 48;
        let mut buf = [0u8; BUF];
        let mut pos = BUF;
        let mut mag = self.magnitude();
        let scale = usize::from(self.scale);
        let mut written = 0;
        loop {
            if written == scale && scale > 0 {
                pos -= 1;
                buf[pos] = b'.';
            }
            pos -= 1;
            buf[pos] = b'0' + (mag % 10) as u8;
            mag /= 10;
            written += 1;
            if written > scale && mag == 0 {
                break;
            }
        }
        if self.is_negative() {
            pos -= 1;
            buf[pos] = b'-';
        }
        // Only ASCII digits, '.' and '-' were written.
        f.write_str(std::str::from_utf8(&buf[pos..]).map_err(|_| fmt::Error)?)
    }
}

#[cfg(test)]
mod tests;
