//! Dates, timestamps and time zones: parsing and formatting as PostgreSQL does (DateStyle ISO, MDY),
//! calendar arithmetic, `date_trunc` and `extract`.
//!
//! Dates are days and timestamps microseconds since 2000-01-01 00:00:00 (PostgreSQL's epoch).
#![allow(unused_variables)]

use super::{Interval, Numeric, TypeError};

pub const MICROS_PER_SECOND: i64 = 1_000_000;
pub const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SECOND;

/// A session time zone: UTC, a fixed offset, or an IANA zone name.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeZone {
    name: String,
}

impl TimeZone {
    pub fn utc() -> TimeZone {
        TimeZone { name: "UTC".into() }
    }
    /// Accepts what `SET TIME ZONE` / the `TimeZone` startup parameter accept; 22023 otherwise.
    pub fn parse(name: &str) -> Result<TimeZone, TypeError> {
        todo!()
    }
    /// The name `SHOW TimeZone` prints.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Offset from UTC in seconds at the UTC instant `utc_micros`.
    pub fn offset_at_utc(&self, utc_micros: i64) -> i32 {
        todo!()
    }
    /// Offset from UTC in seconds for a local wall-clock time (earlier offset on ambiguity).
    pub fn offset_at_local(&self, local_micros: i64) -> i32 {
        todo!()
    }
}

/// Days since 2000-01-01 for a proleptic Gregorian date; `None` if the date does not exist.
pub fn ymd_to_days(year: i32, month: u32, day: u32) -> Option<i32> {
    todo!()
}
/// (year, month, day) of a day number.
pub fn days_to_ymd(days: i32) -> (i32, u32, u32) {
    todo!()
}
/// `'2024-01-31'`, `'January 31, 2024'`, `'20240131'`, `'2024-01-31 BC'`; 22007/22008 on bad input.
pub fn parse_date(s: &str) -> Result<i32, TypeError> {
    todo!()
}
pub fn format_date(days: i32, out: &mut String) {
    todo!()
}
/// `'2024-01-31 12:34:56.789'`, `'2024-01-31T12:34:56'`, a bare date; a zone suffix is ignored.
pub fn parse_timestamp(s: &str) -> Result<i64, TypeError> {
    todo!()
}
/// Like `parse_timestamp`, honouring a zone suffix (`+02`, `Z`, `UTC`, `-05:30`) or else `tz`; returns UTC micros.
pub fn parse_timestamptz(s: &str, tz: &TimeZone) -> Result<i64, TypeError> {
    todo!()
}
/// `2024-01-31 12:34:56.789` (fraction only when non-zero, trailing zeros trimmed).
pub fn format_timestamp(micros: i64, out: &mut String) {
    todo!()
}
/// `2024-01-31 12:34:56.789+00` in `tz` (`+05:30` when the offset has minutes).
pub fn format_timestamptz(utc_micros: i64, tz: &TimeZone, out: &mut String) {
    todo!()
}
/// timestamp + interval with calendar semantics (month end clamping); 22008 on overflow.
pub fn timestamp_add_interval(micros: i64, iv: Interval) -> Result<i64, TypeError> {
    todo!()
}
/// timestamptz + interval: months and days in `tz` wall-clock time, as PostgreSQL does.
pub fn timestamptz_add_interval(
    utc_micros: i64,
    iv: Interval,
    tz: &TimeZone,
) -> Result<i64, TypeError> {
    todo!()
}
/// timestamp - timestamp as PostgreSQL prints it (days and time, no months).
pub fn timestamp_diff(a: i64, b: i64) -> Interval {
    todo!()
}
/// `date_trunc('month', ts)`: units microseconds … millennium; 22023 for an unknown unit.
pub fn date_trunc(unit: &str, micros: i64) -> Result<i64, TypeError> {
    todo!()
}
/// `date_trunc` on a timestamptz, truncating in `tz` wall-clock time.
pub fn date_trunc_tz(unit: &str, utc_micros: i64, tz: &TimeZone) -> Result<i64, TypeError> {
    todo!()
}
/// `extract(field from timestamp)`: PostgreSQL 15 returns numeric (epoch, second with fraction, dow, doy, …).
pub fn extract_timestamp(field: &str, micros: i64) -> Result<Numeric, TypeError> {
    todo!()
}
/// `extract(field from date)`: time fields are 22023 errors as in PostgreSQL.
pub fn extract_date(field: &str, days: i32) -> Result<Numeric, TypeError> {
    todo!()
}
/// `extract(field from interval)`.
pub fn extract_interval(field: &str, iv: Interval) -> Result<Numeric, TypeError> {
    todo!()
}
/// The current time as UTC micros since 2000-01-01.
pub fn now_micros() -> i64 {
    todo!()
}
