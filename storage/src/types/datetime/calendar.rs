//! The proleptic Gregorian calendar on day numbers (days since 2000-01-01), astronomical years.

use super::UNIX_EPOCH_OFFSET_DAYS;

/// Days in a 400-year Gregorian cycle.
const DAYS_PER_ERA: i64 = 146_097;
/// Days from 0000-03-01 to 1970-01-01 in the shifted (March-first) calendar.
const CIVIL_TO_UNIX: i64 = 719_468;

pub fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

pub fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 31,
    }
}

/// Day number of a date that is known to exist (no validation), on 64 bits.
pub(super) fn civil_to_days(year: i64, month: u32, day: u32) -> i64 {
    // Howard Hinnant's days_from_civil: count from March so the leap day ends the year.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * DAYS_PER_ERA + doe - CIVIL_TO_UNIX - UNIX_EPOCH_OFFSET_DAYS
}

/// (year, month, day) of a 64-bit day number.
pub(super) fn days_to_civil(days: i64) -> (i64, u32, u32) {
    let z = days + UNIX_EPOCH_OFFSET_DAYS + CIVIL_TO_UNIX;
    let era = z.div_euclid(DAYS_PER_ERA);
    let doe = z - era * DAYS_PER_ERA;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Days since 2000-01-01 for a proleptic Gregorian date; `None` if the date does not exist.
pub fn ymd_to_days(year: i32, month: u32, day: u32) -> Option<i32> {
    let y = i64::from(year);
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(y, month) {
        return None;
    }
    i32::try_from(civil_to_days(y, month, day)).ok()
}

/// (year, month, day) of a day number.
pub fn days_to_ymd(days: i32) -> (i32, u32, u32) {
    let (y, m, d) = days_to_civil(i64::from(days));
    // Any i32 day count is within ±5.9 million years, so the year fits.
    (y as i32, m, d)
}

/// Day of week, Sunday = 0.
pub(super) fn day_of_week(days: i64) -> u32 {
    // 2000-01-01 was a Saturday.
    const SATURDAY: i64 = 6;
    (days + SATURDAY).rem_euclid(7) as u32
}

/// Day of the year, 1-based.
pub(super) fn day_of_year(days: i64) -> i64 {
    let (y, _, _) = days_to_civil(days);
    days - civil_to_days(y, 1, 1) + 1
}

/// Day number of the Monday starting ISO week 1 of `iso_year`.
fn iso_year_start(iso_year: i64) -> i64 {
    // Week 1 contains January 4th.
    let jan4 = civil_to_days(iso_year, 1, 4);
    jan4 - i64::from((day_of_week(jan4) + 6) % 7)
}

/// ISO 8601 (year, week) of a day.
pub(super) fn iso_week(days: i64) -> (i64, i64) {
    let (y, _, _) = days_to_civil(days);
    let mut iso_year = y + 1;
    let mut start = iso_year_start(iso_year);
    if days < start {
        iso_year = y;
        start = iso_year_start(iso_year);
        if days < start {
            iso_year = y - 1;
            start = iso_year_start(iso_year);
        }
    }
    (iso_year, (days - start) / 7 + 1)
}

/// The date `months` after (year, month, day), clamping the day to the target month's length.
pub(super) fn add_months(year: i64, month: u32, day: u32, months: i64) -> (i64, u32, u32) {
    let total = year * 12 + i64::from(month) - 1 + months;
    let (y, m) = (total.div_euclid(12), (total.rem_euclid(12) + 1) as u32);
    (y, m, day.min(days_in_month(y, m)))
}
