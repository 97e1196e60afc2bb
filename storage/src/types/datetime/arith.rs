//! Calendar arithmetic on timestamps: adding intervals with month-end clamping, differences.

use super::super::{Interval, TypeError};
use super::calendar::{add_months, civil_to_days, days_to_civil};
use super::{
    MICROS_PER_DAY, TimeZone, local_to_utc, timestamp_in_range, timestamp_is_infinite, utc_to_local,
};

fn out_of_range() -> TypeError {
    TypeError::DatetimeOverflow("timestamp out of range".into())
}

/// Add calendar months to a local timestamp, clamping the day to the month's end.
fn plus_months(micros: i64, months: i32) -> Result<i64, TypeError> {
    if months == 0 {
        return Ok(micros);
    }
    let days = micros.div_euclid(MICROS_PER_DAY);
    let time = micros.rem_euclid(MICROS_PER_DAY);
    let (y, m, d) = days_to_civil(days);
    let (y, m, d) = add_months(y, m, d, i64::from(months));
    checked_local(civil_to_days(y, m, d), time)
}

fn plus_days(micros: i64, days: i32) -> Result<i64, TypeError> {
    micros
        .checked_add(i64::from(days) * MICROS_PER_DAY)
        .filter(|&t| timestamp_in_range(t))
        .ok_or_else(out_of_range)
}

fn checked_local(days: i64, time: i64) -> Result<i64, TypeError> {
    days.checked_mul(MICROS_PER_DAY)
        .and_then(|d| d.checked_add(time))
        .filter(|&t| timestamp_in_range(t))
        .ok_or_else(out_of_range)
}

fn plus_micros(micros: i64, delta: i64) -> Result<i64, TypeError> {
    micros
        .checked_add(delta)
        .filter(|&t| timestamp_in_range(t))
        .ok_or_else(out_of_range)
}

/// timestamp + interval with calendar semantics (month end clamping); 22008 on overflow.
/// Infinite timestamps stay infinite.
pub fn timestamp_add_interval(micros: i64, iv: Interval) -> Result<i64, TypeError> {
    if timestamp_is_infinite(micros) {
        return Ok(micros);
    }
    let t = plus_months(micros, iv.months)?;
    let t = plus_days(t, iv.days)?;
    plus_micros(t, iv.micros)
}

/// timestamptz + interval: months and days in `tz` wall-clock time, as PostgreSQL does.
pub fn timestamptz_add_interval(
    utc_micros: i64,
    iv: Interval,
    tz: &TimeZone,
) -> Result<i64, TypeError> {
    if timestamp_is_infinite(utc_micros) {
        return Ok(utc_micros);
    }
    let mut t = utc_micros;
    if iv.months != 0 {
        t = local_to_utc(plus_months(utc_to_local(t, tz), iv.months)?, tz);
    }
    if iv.days != 0 {
        t = local_to_utc(plus_days(utc_to_local(t, tz), iv.days)?, tz);
    }
    plus_micros(t, iv.micros)
}

/// timestamp - timestamp as PostgreSQL prints it (days and time, no months).
/// Infinite operands are the caller's 22008 (`cannot subtract infinite timestamps`); see
/// `checked_timestamp_diff`.
pub fn timestamp_diff(a: i64, b: i64) -> Interval {
    // Finite timestamps are within ±300,000 years, so the difference cannot overflow.
    let diff = a.saturating_sub(b);
    let days = diff / MICROS_PER_DAY;
    Interval::new(0, days as i32, diff % MICROS_PER_DAY)
}

/// `timestamp_diff` with PostgreSQL's error for infinite operands.
pub fn checked_timestamp_diff(a: i64, b: i64) -> Result<Interval, TypeError> {
    if timestamp_is_infinite(a) || timestamp_is_infinite(b) {
        return Err(TypeError::DatetimeOverflow(
            "cannot subtract infinite timestamps".into(),
        ));
    }
    Ok(timestamp_diff(a, b))
}
