//! Dates, timestamps and time zones: parsing and formatting as PostgreSQL does (DateStyle ISO, MDY),
//! calendar arithmetic, `date_trunc` and `extract`.
//!
//! Dates are days and timestamps microseconds since 2000-01-01 00:00:00 (PostgreSQL's epoch).
//! `infinity` / `-infinity` are the extreme values of the representation (`i32::MAX`/`i32::MIN`
//! for dates, `i64::MAX`/`i64::MIN` for timestamps), exactly as PostgreSQL stores them, so the
//! binary wire format needs no conversion. Calendar is proleptic Gregorian with astronomical
//! year numbering inside (year 0 is 1 BC); only text input and output speak of BC.

mod arith;
mod calendar;
pub(crate) mod fields;
mod format;
mod parse;
mod zone;

use super::TypeError;

pub use arith::{
    checked_timestamp_diff, timestamp_add_interval, timestamp_diff, timestamptz_add_interval,
};
pub use calendar::{days_to_ymd, ymd_to_days};
pub use fields::{
    DateExtract, date_trunc, date_trunc_tz, extract_date, extract_interval, extract_timestamp,
    extract_timestamptz,
};
pub use format::{format_date, format_timestamp, format_timestamptz};
pub use parse::{iso_date, iso_date_bytes, parse_date, parse_timestamp, parse_timestamptz};
pub use zone::TimeZone;

pub const MICROS_PER_SECOND: i64 = 1_000_000;
pub const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SECOND;
pub const MICROS_PER_HOUR: i64 = 3_600 * MICROS_PER_SECOND;
pub const MICROS_PER_MINUTE: i64 = 60 * MICROS_PER_SECOND;

/// `date 'infinity'`.
pub const DATE_INFINITY: i32 = i32::MAX;
/// `date '-infinity'`.
pub const DATE_NEG_INFINITY: i32 = i32::MIN;
/// `timestamp 'infinity'`.
pub const TIMESTAMP_INFINITY: i64 = i64::MAX;
/// `timestamp '-infinity'`.
pub const TIMESTAMP_NEG_INFINITY: i64 = i64::MIN;

/// Julian day number of 2000-01-01 (PostgreSQL's `POSTGRES_EPOCH_JDATE`).
pub const POSTGRES_EPOCH_JDATE: i64 = 2_451_545;
/// Days from 1970-01-01 to 2000-01-01.
pub const UNIX_EPOCH_OFFSET_DAYS: i64 = 10_957;

/// First valid date: Julian day 0, 4714-11-24 BC.
pub const MIN_DATE: i32 = -(POSTGRES_EPOCH_JDATE as i32);
/// Last valid date: 5874897-12-31 (PostgreSQL's `DATE_END_JDATE` is exclusive).
pub const MAX_DATE: i32 = 2_147_483_494 - POSTGRES_EPOCH_JDATE as i32 - 1;
/// First valid timestamp: 4714-11-24 BC 00:00:00.
pub const MIN_TIMESTAMP: i64 = -POSTGRES_EPOCH_JDATE * MICROS_PER_DAY;
/// Last valid timestamp: 294276-12-31 23:59:59.999999 (`TIMESTAMP_END_JULIAN` is exclusive).
pub const MAX_TIMESTAMP: i64 = (109_203_528 - POSTGRES_EPOCH_JDATE) * MICROS_PER_DAY - 1;

/// Whether a date is `infinity` or `-infinity`.
pub fn date_is_infinite(days: i32) -> bool {
    days == DATE_INFINITY || days == DATE_NEG_INFINITY
}

/// Whether a timestamp is `infinity` or `-infinity`.
pub fn timestamp_is_infinite(micros: i64) -> bool {
    micros == TIMESTAMP_INFINITY || micros == TIMESTAMP_NEG_INFINITY
}

/// Whether a finite timestamp lies in PostgreSQL's supported range.
pub fn timestamp_in_range(micros: i64) -> bool {
    (MIN_TIMESTAMP..=MAX_TIMESTAMP).contains(&micros)
}

/// Midnight of a date as a timestamp (infinities map to infinities); 22008 past the timestamp range.
pub fn date_to_timestamp(days: i32) -> Result<i64, TypeError> {
    match days {
        DATE_INFINITY => Ok(TIMESTAMP_INFINITY),
        DATE_NEG_INFINITY => Ok(TIMESTAMP_NEG_INFINITY),
        _ => {
            let micros = i64::from(days) * MICROS_PER_DAY;
            if timestamp_in_range(micros) {
                Ok(micros)
            } else {
                Err(TypeError::DatetimeOverflow(
                    "date out of range for timestamp".into(),
                ))
            }
        }
    }
}

/// The date part of a timestamp (infinities map to infinities).
pub fn timestamp_to_date(micros: i64) -> i32 {
    match micros {
        TIMESTAMP_INFINITY => DATE_INFINITY,
        TIMESTAMP_NEG_INFINITY => DATE_NEG_INFINITY,
        // Finite timestamps are within the date range, so the day count fits an i32.
        _ => micros.div_euclid(MICROS_PER_DAY) as i32,
    }
}

/// Wall-clock time in `tz` of a UTC instant (infinities unchanged).
pub fn utc_to_local(utc_micros: i64, tz: &TimeZone) -> i64 {
    if timestamp_is_infinite(utc_micros) {
        return utc_micros;
    }
    utc_micros.saturating_add(i64::from(tz.offset_at_utc(utc_micros)) * MICROS_PER_SECOND)
}

/// The UTC instant of a wall-clock time in `tz`, resolving DST gaps and overlaps as
/// PostgreSQL does (infinities unchanged).
pub fn local_to_utc(local_micros: i64, tz: &TimeZone) -> i64 {
    if timestamp_is_infinite(local_micros) {
        return local_micros;
    }
    local_micros.saturating_sub(i64::from(tz.offset_at_local(local_micros)) * MICROS_PER_SECOND)
}

/// The current time as UTC micros since 2000-01-01.
pub fn now_micros() -> i64 {
    let since_unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    since_unix - UNIX_EPOCH_OFFSET_DAYS * MICROS_PER_DAY
}

#[cfg(test)]
mod tests;
