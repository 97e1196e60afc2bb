//! ISO text output of dates and timestamps (`DateStyle = ISO`).

use super::calendar::days_to_civil;
use super::{
    DATE_INFINITY, DATE_NEG_INFINITY, MICROS_PER_DAY, MICROS_PER_SECOND, TIMESTAMP_INFINITY,
    TIMESTAMP_NEG_INFINITY, TimeZone,
};
use std::fmt::Write;

// Writing into a String cannot fail: the fmt::Results below carry no information.

/// `YYYY-MM-DD`, and the year as a positive number with ` BC` suffix returned separately.
fn write_ymd(days: i64, out: &mut String) -> bool {
    let (y, m, d) = days_to_civil(days);
    let bc = y <= 0;
    let shown = if bc { 1 - y } else { y };
    let _ = write!(out, "{shown:04}-{m:02}-{d:02}");
    bc
}

pub fn format_date(days: i32, out: &mut String) {
    match days {
        DATE_INFINITY => out.push_str("infinity"),
        DATE_NEG_INFINITY => out.push_str("-infinity"),
        _ => {
            if write_ymd(i64::from(days), out) {
                out.push_str(" BC");
            }
        }
    }
}

/// `HH:MM:SS[.ffffff]` with trailing fractional zeros trimmed.
pub(crate) fn write_time_of_day(micros_of_day: i64, out: &mut String) {
    let secs = micros_of_day / MICROS_PER_SECOND;
    let frac = micros_of_day % MICROS_PER_SECOND;
    let _ = write!(
        out,
        "{:02}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    );
    write_fraction(frac, out);
}

/// `.5`, `.123457`: microseconds with trailing zeros removed; nothing for zero.
pub(crate) fn write_fraction(frac_micros: i64, out: &mut String) {
    if frac_micros == 0 {
        return;
    }
    let mut f = frac_micros;
    let mut width = 6;
    while f % 10 == 0 {
        f /= 10;
        width -= 1;
    }
    let _ = write!(out, ".{f:0width$}");
}

/// `2024-01-31 12:34:56.789` (fraction only when non-zero, trailing zeros trimmed).
pub fn format_timestamp(micros: i64, out: &mut String) {
    if !write_special(micros, out) {
        let bc = write_date_time(micros, out);
        if bc {
            out.push_str(" BC");
        }
    }
}

fn write_special(micros: i64, out: &mut String) -> bool {
    match micros {
        TIMESTAMP_INFINITY => out.push_str("infinity"),
        TIMESTAMP_NEG_INFINITY => out.push_str("-infinity"),
        _ => return false,
    }
    true
}

/// Date and time of a local timestamp; true when the year is BC.
fn write_date_time(micros: i64, out: &mut String) -> bool {
    let days = micros.div_euclid(MICROS_PER_DAY);
    let bc = write_ymd(days, out);
    out.push(' ');
    write_time_of_day(micros.rem_euclid(MICROS_PER_DAY), out);
    bc
}

/// `2024-01-31 12:34:56.789+00` in `tz` (`+05:30` when the offset has minutes).
pub fn format_timestamptz(utc_micros: i64, tz: &TimeZone, out: &mut String) {
    if write_special(utc_micros, out) {
        return;
    }
    let offset = tz.offset_at_utc(utc_micros);
    let local = utc_micros.saturating_add(i64::from(offset) * MICROS_PER_SECOND);
    let bc = write_date_time(local, out);
    write_offset(offset, out);
    if bc {
        out.push_str(" BC");
    }
}

/// `+05`, `-02:30`, `+00:19:32` as PostgreSQL prints a UTC offset (seconds east).
pub(crate) fn write_offset(offset: i32, out: &mut String) {
    let sign = if offset < 0 { '-' } else { '+' };
    let a = offset.unsigned_abs();
    let (h, m, s) = (a / 3600, a / 60 % 60, a % 60);
    let _ = write!(out, "{sign}{h:02}");
    if m != 0 || s != 0 {
        let _ = write!(out, ":{m:02}");
    }
    if s != 0 {
        let _ = write!(out, ":{s:02}");
    }
}
