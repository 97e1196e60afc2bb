//! Exact decimals as scaled 128-bit integers (up to 38 significant digits).
#![allow(unused_variables)]

use super::TypeError;
use std::cmp::Ordering;
use std::fmt;

/// `mantissa / 10^scale`. Equality, ordering and hashing are by value (1.0 == 1.00).
#[derive(Debug, Clone, Copy)]
pub struct Numeric {
    mantissa: i128,
    scale: u8,
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
    /// PostgreSQL numeric input: `' -12.50 '`, `'1e3'`, `'.5'`; `NaN`/`Infinity` are rejected (0A000).
    pub fn parse(s: &str) -> Result<Numeric, TypeError> {
        todo!()
    }
    /// float → numeric as PostgreSQL does (15 significant digits for float8, 6 for float4 are the caller's job).
    pub fn from_f64(v: f64) -> Result<Numeric, TypeError> {
        todo!()
    }
    pub fn to_f64(self) -> f64 {
        todo!()
    }
    /// Rounds half away from zero to an integer; 22003 when it does not fit.
    pub fn to_i64(self) -> Result<i64, TypeError> {
        todo!()
    }
    /// Round (half away from zero) or pad to exactly `scale` digits after the point.
    pub fn rescale(self, scale: u8) -> Result<Numeric, TypeError> {
        todo!()
    }
    /// Enforce `numeric(precision, scale)`: round to `scale`, then 22003 "numeric field overflow" when too wide.
    pub fn fit(self, precision: u8, scale: u8) -> Result<Numeric, TypeError> {
        todo!()
    }
    /// Result scale = max of the scales.
    pub fn checked_add(self, other: Numeric) -> Result<Numeric, TypeError> {
        todo!()
    }
    pub fn checked_sub(self, other: Numeric) -> Result<Numeric, TypeError> {
        todo!()
    }
    /// Result scale = sum of the scales (capped at MAX_SCALE, rounding).
    pub fn checked_mul(self, other: Numeric) -> Result<Numeric, TypeError> {
        todo!()
    }
    /// PostgreSQL's division scale (select_div_scale); 22012 on zero.
    pub fn checked_div(self, other: Numeric) -> Result<Numeric, TypeError> {
        todo!()
    }
    /// Remainder with the dividend's sign; 22012 on zero.
    pub fn checked_rem(self, other: Numeric) -> Result<Numeric, TypeError> {
        todo!()
    }
    pub fn neg(self) -> Numeric {
        Numeric::new(-self.mantissa, self.scale)
    }
    pub fn abs(self) -> Numeric {
        Numeric::new(self.mantissa.abs(), self.scale)
    }
    /// round(x, digits) with negative `digits` allowed, as PostgreSQL.
    pub fn round(self, digits: i32) -> Result<Numeric, TypeError> {
        todo!()
    }
    pub fn trunc(self, digits: i32) -> Result<Numeric, TypeError> {
        todo!()
    }
    pub fn floor(self) -> Numeric {
        todo!()
    }
    pub fn ceil(self) -> Numeric {
        todo!()
    }
    pub fn signum(self) -> i32 {
        self.mantissa.signum() as i32
    }
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
impl Ord for Numeric {
    fn cmp(&self, other: &Numeric) -> Ordering {
        todo!()
    }
}
impl std::hash::Hash for Numeric {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        todo!()
    }
}
impl fmt::Display for Numeric {
    /// PostgreSQL's text output: exactly `scale` digits after the point.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        todo!()
    }
}
