//! `date_trunc` and `extract` (PostgreSQL 15: extract returns numeric) on timestamps, dates and
//! intervals, with PostgreSQL's unit names and error codes.

use super::super::{Interval, Numeric, TypeError};
use super::calendar::{civil_to_days, day_of_week, day_of_year, days_to_civil, iso_week};
use super::{
    MICROS_PER_DAY, MICROS_PER_HOUR, MICROS_PER_MINUTE, MICROS_PER_SECOND, POSTGRES_EPOCH_JDATE,
    TimeZone, UNIX_EPOCH_OFFSET_DAYS, date_is_infinite, local_to_utc, timestamp_is_infinite,
    utc_to_local,
};

const TIMESTAMP: &str = "timestamp without time zone";
const TIMESTAMPTZ: &str = "timestamp with time zone";
const DATE: &str = "date";
const INTERVAL: &str = "interval";
/// Seconds in PostgreSQL's interval year for `extract(epoch …)` (365.25 days) and month (30 days).
const SECS_PER_INTERVAL_YEAR: i64 = 36525 * 864;
const SECS_PER_INTERVAL_MONTH: i64 = 30 * 86_400;
const SECS_PER_DAY: i64 = 86_400;
/// Scale of `extract(second …)` and `extract(epoch …)` results: microsecond precision.
const MICRO_SCALE: u8 = 6;
/// Scale of `extract(milliseconds …)`.
const MILLI_SCALE: u8 = 3;

/// A `date_trunc`/`extract` field name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Unit {
    Microseconds,
    Milliseconds,
    Second,
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Quarter,
    Year,
    Decade,
    Century,
    Millennium,
    Epoch,
    Dow,
    IsoDow,
    Doy,
    IsoYear,
    Julian,
    Timezone,
    TimezoneHour,
    TimezoneMinute,
}

/// PostgreSQL's unit spellings (its `deltatktbl` and `datetktbl` entries for these fields).
const UNITS: [(&str, Unit); 72] = [
    ("microsecond", Unit::Microseconds),
    ("microseconds", Unit::Microseconds),
    ("microsecon", Unit::Microseconds),
    ("us", Unit::Microseconds),
    ("usec", Unit::Microseconds),
    ("usecs", Unit::Microseconds),
    ("useconds", Unit::Microseconds),
    ("millisecond", Unit::Milliseconds),
    ("milliseconds", Unit::Milliseconds),
    ("millisecon", Unit::Milliseconds),
    ("ms", Unit::Milliseconds),
    ("msec", Unit::Milliseconds),
    ("msecs", Unit::Milliseconds),
    ("mseconds", Unit::Milliseconds),
    ("second", Unit::Second),
    ("seconds", Unit::Second),
    ("s", Unit::Second),
    ("sec", Unit::Second),
    ("secs", Unit::Second),
    ("minute", Unit::Minute),
    ("minutes", Unit::Minute),
    ("m", Unit::Minute),
    ("min", Unit::Minute),
    ("mins", Unit::Minute),
    ("hour", Unit::Hour),
    ("hours", Unit::Hour),
    ("h", Unit::Hour),
    ("hr", Unit::Hour),
    ("hrs", Unit::Hour),
    ("day", Unit::Day),
    ("days", Unit::Day),
    ("d", Unit::Day),
    ("week", Unit::Week),
    ("weeks", Unit::Week),
    ("w", Unit::Week),
    ("month", Unit::Month),
    ("months", Unit::Month),
    ("mon", Unit::Month),
    ("mons", Unit::Month),
    ("quarter", Unit::Quarter),
    ("qtr", Unit::Quarter),
    ("year", Unit::Year),
    ("years", Unit::Year),
    ("y", Unit::Year),
    ("yr", Unit::Year),
    ("yrs", Unit::Year),
    ("decade", Unit::Decade),
    ("decades", Unit::Decade),
    ("dec", Unit::Decade),
    ("decs", Unit::Decade),
    ("century", Unit::Century),
    ("centuries", Unit::Century),
    ("c", Unit::Century),
    ("cent", Unit::Century),
    ("millennium", Unit::Millennium),
    ("millennia", Unit::Millennium),
    ("mil", Unit::Millennium),
    ("mils", Unit::Millennium),
    ("epoch", Unit::Epoch),
    ("dow", Unit::Dow),
    ("isodow", Unit::IsoDow),
    ("doy", Unit::Doy),
    ("isoyear", Unit::IsoYear),
    ("julian", Unit::Julian),
    ("j", Unit::Julian),
    ("jd", Unit::Julian),
    ("timezone", Unit::Timezone),
    ("timezone_h", Unit::TimezoneHour),
    ("timezone_hour", Unit::TimezoneHour),
    ("timezone_m", Unit::TimezoneMinute),
    ("timezone_minute", Unit::TimezoneMinute),
    ("tz", Unit::Timezone),
];

/// The unit a PostgreSQL unit name stands for, any case.
pub(crate) fn lookup_unit(name: &str) -> Option<Unit> {
    UNITS
        .iter()
        .find(|(k, _)| name.eq_ignore_ascii_case(k))
        .map(|&(_, u)| u)
}

fn unit(name: &str, type_name: &str) -> Result<Unit, TypeError> {
    lookup_unit(name).ok_or_else(|| not_recognized(name, type_name))
}

fn not_recognized(name: &str, type_name: &str) -> TypeError {
    TypeError::InvalidParameter(format!(
        "unit \"{}\" not recognized for type {type_name}",
        name.to_ascii_lowercase()
    ))
}

fn not_supported(name: &str, type_name: &str) -> TypeError {
    TypeError::NotSupported(format!(
        "unit \"{}\" not supported for type {type_name}",
        name.to_ascii_lowercase()
    ))
}

fn infinite_not_supported() -> TypeError {
    TypeError::NotSupported("extract from an infinite date or timestamp is not supported".into())
}

/// A truncation unit (microseconds … millennium).
fn trunc_unit(name: &str, type_name: &str) -> Result<Unit, TypeError> {
    match unit(name, type_name)? {
        u if u <= Unit::Millennium => Ok(u),
        _ => Err(not_recognized(name, type_name)),
    }
}

/// First year of the decade/century/millennium containing astronomical `year`, as PostgreSQL.
fn trunc_year(unit: Unit, year: i64) -> i64 {
    match unit {
        Unit::Decade if year > 0 => (year / 10) * 10,
        Unit::Decade => -((8 - (year - 1)) / 10) * 10,
        Unit::Century if year > 0 => ((year + 99) / 100) * 100 - 99,
        Unit::Century => -((99 - (year - 1)) / 100) * 100 + 1,
        Unit::Millennium if year > 0 => ((year + 999) / 1000) * 1000 - 999,
        Unit::Millennium => -((999 - (year - 1)) / 1000) * 1000 + 1,
        _ => year,
    }
}

/// Truncate a finite local timestamp.
fn trunc_local(unit: Unit, micros: i64) -> i64 {
    let floor_to = |step: i64| micros.div_euclid(step) * step;
    let days = micros.div_euclid(MICROS_PER_DAY);
    let (y, m, _) = days_to_civil(days);
    let date = match unit {
        Unit::Microseconds => return micros,
        Unit::Milliseconds => return floor_to(1000),
        Unit::Second => return floor_to(MICROS_PER_SECOND),
        Unit::Minute => return floor_to(MICROS_PER_MINUTE),
        Unit::Hour => return floor_to(MICROS_PER_HOUR),
        Unit::Day => days,
        Unit::Week => days - i64::from((day_of_week(days) + 6) % 7),
        Unit::Month => civil_to_days(y, m, 1),
        Unit::Quarter => civil_to_days(y, 3 * ((m - 1) / 3) + 1, 1),
        _ => civil_to_days(trunc_year(unit, y), 1, 1),
    };
    date * MICROS_PER_DAY
}

/// `date_trunc('month', ts)`: units microseconds … millennium; 22023 for an unknown unit.
/// Infinite timestamps are returned unchanged.
pub fn date_trunc(unit: &str, micros: i64) -> Result<i64, TypeError> {
    let u = trunc_unit(unit, TIMESTAMP)?;
    if timestamp_is_infinite(micros) {
        return Ok(micros);
    }
    Ok(trunc_local(u, micros))
}

/// `date_trunc` on a timestamptz, truncating in `tz` wall-clock time. Units of a day or more
/// are re-resolved in the zone (the offset may differ at midnight); finer units keep the
/// instant's own offset, as PostgreSQL does.
pub fn date_trunc_tz(unit: &str, utc_micros: i64, tz: &TimeZone) -> Result<i64, TypeError> {
    let u = trunc_unit(unit, TIMESTAMPTZ)?;
    if timestamp_is_infinite(utc_micros) {
        return Ok(utc_micros);
    }
    let offset = i64::from(tz.offset_at_utc(utc_micros)) * MICROS_PER_SECOND;
    let truncated = trunc_local(u, utc_micros + offset);
    Ok(if u >= Unit::Day {
        local_to_utc(truncated, tz)
    } else {
        truncated - offset
    })
}

fn int(v: i64) -> Numeric {
    Numeric::from_i64(v)
}

/// The calendar fields shared by dates and timestamps.
fn date_field(u: Unit, days: i64) -> Option<Numeric> {
    let (y, m, d) = days_to_civil(days);
    Some(int(match u {
        Unit::Day => i64::from(d),
        Unit::Month => i64::from(m),
        Unit::Quarter => i64::from((m - 1) / 3 + 1),
        Unit::Year if y > 0 => y,
        // There is no year 0: 1 BC is -1.
        Unit::Year => y - 1,
        Unit::Decade if y >= 0 => y / 10,
        Unit::Decade => -((8 - (y - 1)) / 10),
        Unit::Century if y > 0 => (y + 99) / 100,
        Unit::Century => -((99 - (y - 1)) / 100),
        Unit::Millennium if y > 0 => (y + 999) / 1000,
        Unit::Millennium => -((999 - (y - 1)) / 1000),
        Unit::Week => iso_week(days).1,
        Unit::IsoYear => match iso_week(days).0 {
            iy if iy > 0 => iy,
            iy => iy - 1,
        },
        Unit::Dow => i64::from(day_of_week(days)),
        Unit::IsoDow => match day_of_week(days) {
            0 => 7,
            d => i64::from(d),
        },
        Unit::Doy => day_of_year(days),
        _ => return None,
    }))
}

/// `extract(field from timestamp)`: PostgreSQL 15 returns numeric (epoch, second with fraction, dow, doy, …).
pub fn extract_timestamp(field: &str, micros: i64) -> Result<Numeric, TypeError> {
    let u = unit(field, TIMESTAMP)?;
    if timestamp_is_infinite(micros) {
        return Err(infinite_not_supported());
    }
    match u {
        Unit::Epoch => Ok(Numeric::new(
            i128::from(micros) + i128::from(UNIX_EPOCH_OFFSET_DAYS * MICROS_PER_DAY),
            MICRO_SCALE,
        )),
        Unit::Timezone | Unit::TimezoneHour | Unit::TimezoneMinute => {
            Err(not_supported(field, TIMESTAMP))
        }
        _ => local_field(u, micros).ok_or_else(|| not_supported(field, TIMESTAMP)),
    }
}

/// Fields of a finite local timestamp other than epoch and zone.
fn local_field(u: Unit, micros: i64) -> Option<Numeric> {
    let days = micros.div_euclid(MICROS_PER_DAY);
    let time = micros.rem_euclid(MICROS_PER_DAY);
    let second_micros = i128::from(time % MICROS_PER_MINUTE);
    Some(match u {
        Unit::Microseconds => Numeric::new(second_micros, 0),
        Unit::Milliseconds => Numeric::new(second_micros, MILLI_SCALE),
        Unit::Second => Numeric::new(second_micros, MICRO_SCALE),
        Unit::Minute => int(time / MICROS_PER_MINUTE % 60),
        Unit::Hour => int(time / MICROS_PER_HOUR),
        Unit::Julian => {
            let day = int(days + POSTGRES_EPOCH_JDATE);
            let fraction = int(time).checked_div(int(MICROS_PER_DAY)).ok()?;
            day.checked_add(fraction).ok()?
        }
        _ => date_field(u, days)?,
    })
}

/// `extract(field from timestamptz)`: fields of the wall-clock time in `tz`, `epoch` of the
/// instant itself, and the zone fields (`timezone` in seconds east).
pub fn extract_timestamptz(
    field: &str,
    utc_micros: i64,
    tz: &TimeZone,
) -> Result<Numeric, TypeError> {
    let u = unit(field, TIMESTAMPTZ)?;
    if timestamp_is_infinite(utc_micros) {
        return Err(infinite_not_supported());
    }
    let offset = i64::from(tz.offset_at_utc(utc_micros));
    match u {
        Unit::Epoch => extract_timestamp(field, utc_micros),
        Unit::Timezone => Ok(int(offset)),
        Unit::TimezoneHour => Ok(int(offset / 3600)),
        Unit::TimezoneMinute => Ok(int(offset / 60 % 60)),
        _ => local_field(u, utc_to_local(utc_micros, tz))
            .ok_or_else(|| not_supported(field, TIMESTAMPTZ)),
    }
}

/// `extract(field from date)`: time fields are 0A000 (`unit "hour" not supported for type
/// date`), unknown names 22023, as in PostgreSQL.
pub fn extract_date(field: &str, days: i32) -> Result<Numeric, TypeError> {
    DateExtract::new(field)?.of(days)
}

/// `extract(field from date)` with the field parsed once, for many dates.
#[derive(Debug, Clone, Copy)]
pub struct DateExtract(Unit);

impl DateExtract {
    pub fn new(field: &str) -> Result<DateExtract, TypeError> {
        let u = unit(field, DATE)?;
        // Whether a field applies to dates does not depend on the date.
        if !matches!(u, Unit::Epoch | Unit::Julian) && date_field(u, 0).is_none() {
            return Err(not_supported(field, DATE));
        }
        Ok(DateExtract(u))
    }

    pub fn of(self, days: i32) -> Result<Numeric, TypeError> {
        if date_is_infinite(days) {
            return Err(infinite_not_supported());
        }
        let days = i64::from(days);
        match self.0 {
            Unit::Epoch => Ok(int((days + UNIX_EPOCH_OFFSET_DAYS) * SECS_PER_DAY)),
            Unit::Julian => Ok(int(days + POSTGRES_EPOCH_JDATE)),
            u => date_field(u, days).ok_or_else(|| not_supported(&format!("{u:?}"), DATE)),
        }
    }
}

/// `extract(field from interval)`.
pub fn extract_interval(field: &str, iv: Interval) -> Result<Numeric, TypeError> {
    let u = unit(field, INTERVAL)?;
    let (years, months) = (i64::from(iv.months / 12), i64::from(iv.months % 12));
    let second_micros = i128::from(iv.micros % MICROS_PER_MINUTE);
    Ok(match u {
        Unit::Microseconds => Numeric::new(second_micros, 0),
        Unit::Milliseconds => Numeric::new(second_micros, MILLI_SCALE),
        Unit::Second => Numeric::new(second_micros, MICRO_SCALE),
        Unit::Minute => int(iv.micros / MICROS_PER_MINUTE % 60),
        Unit::Hour => int(iv.micros / MICROS_PER_HOUR),
        Unit::Day => int(i64::from(iv.days)),
        Unit::Month => int(months),
        Unit::Quarter => int(months / 3 + 1),
        Unit::Year => int(years),
        Unit::Decade => int(years / 10),
        Unit::Century => int(years / 100),
        Unit::Millennium => int(years / 1000),
        Unit::Epoch => {
            let secs = i128::from(years * SECS_PER_INTERVAL_YEAR)
                + i128::from(months * SECS_PER_INTERVAL_MONTH)
                + i128::from(i64::from(iv.days) * SECS_PER_DAY);
            Numeric::new(
                secs * i128::from(MICROS_PER_SECOND) + i128::from(iv.micros),
                MICRO_SCALE,
            )
        }
        _ => return Err(not_supported(field, INTERVAL)),
    })
}
