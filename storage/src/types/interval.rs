//! PostgreSQL intervals: months, days and microseconds kept apart, as PostgreSQL does.
//!
//! Input follows PostgreSQL's `DecodeInterval` (unit words, `hh:mm:ss` times, `ago`, SQL
//! `Y-M`, ISO 8601 `P…T…` with designators) including its spill of fractional units into
//! smaller ones; output is `IntervalStyle = postgres`. Arithmetic reports 22008
//! `interval out of range` instead of wrapping.

use super::TypeError;
use super::datetime::fields::{Unit, lookup_unit};
use super::datetime::{MICROS_PER_DAY, MICROS_PER_HOUR, MICROS_PER_MINUTE, MICROS_PER_SECOND};
use std::cmp::Ordering;
use std::fmt;

/// PostgreSQL's `DAYS_PER_MONTH`: a month is 30 days when intervals are compared or spilled.
const DAYS_PER_MONTH: i64 = 30;
const MONTHS_PER_YEAR: i64 = 12;
const SECS_PER_DAY: f64 = 86_400.0;
/// Most tokens an interval literal may have (PostgreSQL's `MAXDATEFIELDS` is 25).
const MAX_TOKENS: usize = 25;

/// An interval; comparisons normalise a month to 30 days and a day to 24 hours, as PostgreSQL does.
#[derive(Debug, Clone, Copy, Default)]
pub struct Interval {
    pub months: i32,
    pub days: i32,
    pub micros: i64,
}

fn out_of_range() -> TypeError {
    TypeError::DatetimeOverflow("interval out of range".into())
}

/// PostgreSQL's `TSROUND`: round to microsecond precision to absorb float noise.
fn ts_round(v: f64) -> f64 {
    const TS_PREC_INV: f64 = 1_000_000.0;
    (v * TS_PREC_INV).round_ties_even() / TS_PREC_INV
}

fn fits_i32(v: f64) -> bool {
    !v.is_nan() && v >= f64::from(i32::MIN) && v < -(f64::from(i32::MIN))
}

fn fits_i64(v: f64) -> bool {
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    !v.is_nan() && (-LIMIT..LIMIT).contains(&v)
}

impl Interval {
    pub fn new(months: i32, days: i32, micros: i64) -> Interval {
        Interval {
            months,
            days,
            micros,
        }
    }

    /// PostgreSQL interval input: `'5 minutes'`, `'1 day 02:00:00'`, `'-1 year 3 mons'`, `'1h 30m'`,
    /// `'P1DT2H'`, `'00:05:00'`, `'1.5 hours'`, `'2 weeks ago'`.
    pub fn parse(s: &str) -> Result<Interval, TypeError> {
        let t = s.trim();
        let parsed = match t.as_bytes().first() {
            Some(b'P') => parse_iso(&t[1..]),
            _ => parse_postgres(t),
        };
        match parsed {
            Ok(acc) => acc.finish().ok_or_else(|| {
                TypeError::DatetimeOverflow(format!("interval field value out of range: \"{s}\""))
            }),
            Err(Bad::Syntax) => Err(TypeError::InvalidDatetimeFormat(format!(
                "invalid input syntax for type interval: \"{s}\""
            ))),
            Err(Bad::Range) => Err(TypeError::DatetimeOverflow(format!(
                "interval field value out of range: \"{s}\""
            ))),
        }
    }

    pub fn checked_add(self, other: Interval) -> Result<Interval, TypeError> {
        Ok(Interval::new(
            self.months
                .checked_add(other.months)
                .ok_or_else(out_of_range)?,
            self.days.checked_add(other.days).ok_or_else(out_of_range)?,
            self.micros
                .checked_add(other.micros)
                .ok_or_else(out_of_range)?,
        ))
    }

    pub fn checked_sub(self, other: Interval) -> Result<Interval, TypeError> {
        Ok(Interval::new(
            self.months
                .checked_sub(other.months)
                .ok_or_else(out_of_range)?,
            self.days.checked_sub(other.days).ok_or_else(out_of_range)?,
            self.micros
                .checked_sub(other.micros)
                .ok_or_else(out_of_range)?,
        ))
    }

    pub fn checked_neg(self) -> Result<Interval, TypeError> {
        Interval::default().checked_sub(self)
    }

    /// interval * float8 with PostgreSQL's spill of fractional months into days and days into time.
    pub fn checked_mul(self, factor: f64) -> Result<Interval, TypeError> {
        let months = f64::from(self.months) * factor;
        let days = f64::from(self.days) * factor;
        if !fits_i32(months) || !fits_i32(days) {
            return Err(out_of_range());
        }
        self.spill(months, days, self.micros as f64 * factor)
    }

    pub fn checked_div(self, divisor: f64) -> Result<Interval, TypeError> {
        if divisor == 0.0 {
            return Err(TypeError::DivisionByZero);
        }
        let months = f64::from(self.months) / divisor;
        let days = f64::from(self.days) / divisor;
        if !fits_i32(months) || !fits_i32(days) {
            return Err(out_of_range());
        }
        self.spill(months, days, self.micros as f64 / divisor)
    }

    /// The shared tail of `interval_mul`/`interval_div`: whole months and days are kept,
    /// fractions cascade down (never up), as PostgreSQL computes them.
    fn spill(self, months: f64, days: f64, micros: f64) -> Result<Interval, TypeError> {
        let whole_months = months as i32;
        let mut whole_days = days as i32;
        let month_remainder_days =
            ts_round((months - f64::from(whole_months)) * DAYS_PER_MONTH as f64);
        let mut sec_remainder = ts_round(
            (days - f64::from(whole_days) + month_remainder_days - month_remainder_days.trunc())
                * SECS_PER_DAY,
        );
        if sec_remainder.abs() >= SECS_PER_DAY {
            let extra = (sec_remainder / SECS_PER_DAY) as i32;
            whole_days = whole_days.checked_add(extra).ok_or_else(out_of_range)?;
            sec_remainder -= f64::from(extra) * SECS_PER_DAY;
        }
        whole_days = whole_days
            .checked_add(month_remainder_days as i32)
            .ok_or_else(out_of_range)?;
        let time = (micros + sec_remainder * MICROS_PER_SECOND as f64).round_ties_even();
        if !fits_i64(time) {
            return Err(out_of_range());
        }
        Ok(Interval::new(whole_months, whole_days, time as i64))
    }

    /// Total microseconds with a month as 30 days (for comparison and hashing).
    pub fn normalized_micros(self) -> i128 {
        let days = i128::from(self.months) * i128::from(DAYS_PER_MONTH) + i128::from(self.days);
        days * i128::from(MICROS_PER_DAY) + i128::from(self.micros)
    }
}

/// Why interval input was rejected.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Bad {
    Syntax,
    Range,
}

/// Fields summed with overflow checks while parsing, in PostgreSQL's units.
#[derive(Debug, Default)]
struct Accumulator {
    months: i64,
    days: i64,
    micros: i64,
    /// Units already given (each may appear once).
    seen: u32,
}

impl Accumulator {
    fn finish(&self) -> Option<Interval> {
        Some(Interval::new(
            i32::try_from(self.months).ok()?,
            i32::try_from(self.days).ok()?,
            self.micros,
        ))
    }

    fn mark(&mut self, bit: u32) -> Result<(), Bad> {
        if self.seen & bit != 0 {
            return Err(Bad::Syntax);
        }
        self.seen |= bit;
        Ok(())
    }

    fn add_micros(&mut self, val: i64, scale: i64) -> Result<(), Bad> {
        let v = val.checked_mul(scale).ok_or(Bad::Range)?;
        self.micros = self.micros.checked_add(v).ok_or(Bad::Range)?;
        Ok(())
    }

    /// PostgreSQL's `AdjustFractMicroseconds`.
    fn fract_micros(&mut self, frac: f64, scale: i64) -> Result<(), Bad> {
        if frac == 0.0 {
            return Ok(());
        }
        let f = frac * scale as f64;
        let whole = f as i64;
        let usec = whole + (f - whole as f64).round_ties_even() as i64;
        self.micros = self.micros.checked_add(usec).ok_or(Bad::Range)?;
        Ok(())
    }

    /// PostgreSQL's `AdjustFractDays`.
    fn fract_days(&mut self, frac: f64, scale: i64) -> Result<(), Bad> {
        if frac == 0.0 {
            return Ok(());
        }
        let f = frac * scale as f64;
        let extra = f as i64;
        self.days = self.days.checked_add(extra).ok_or(Bad::Range)?;
        self.fract_micros(f - extra as f64, MICROS_PER_DAY)
    }

    fn add_days(&mut self, val: i64, scale: i64) -> Result<(), Bad> {
        let v = val.checked_mul(scale).ok_or(Bad::Range)?;
        self.days = self.days.checked_add(v).ok_or(Bad::Range)?;
        Ok(())
    }

    fn add_months(&mut self, val: i64, scale: i64) -> Result<(), Bad> {
        let v = val.checked_mul(scale).ok_or(Bad::Range)?;
        self.months = self.months.checked_add(v).ok_or(Bad::Range)?;
        Ok(())
    }

    /// `val + frac` of `unit`, with PostgreSQL's cascade of the fraction into smaller units.
    fn add(&mut self, unit: Unit, val: i64, frac: f64) -> Result<(), Bad> {
        self.mark(1 << (unit as u32))?;
        match unit {
            Unit::Microseconds => {
                self.add_micros(val, 1)?;
                self.fract_micros(frac, 1)
            }
            Unit::Milliseconds => {
                self.add_micros(val, 1000)?;
                self.fract_micros(frac, 1000)
            }
            Unit::Second => {
                self.add_micros(val, MICROS_PER_SECOND)?;
                self.fract_micros(frac, MICROS_PER_SECOND)
            }
            Unit::Minute => {
                self.add_micros(val, MICROS_PER_MINUTE)?;
                self.fract_micros(frac, MICROS_PER_MINUTE)
            }
            Unit::Hour => {
                self.add_micros(val, MICROS_PER_HOUR)?;
                self.fract_micros(frac, MICROS_PER_HOUR)
            }
            Unit::Day => {
                self.add_days(val, 1)?;
                self.fract_micros(frac, MICROS_PER_DAY)
            }
            Unit::Week => {
                self.add_days(val, 7)?;
                self.fract_days(frac, 7)
            }
            Unit::Month => {
                self.add_months(val, 1)?;
                self.fract_days(frac, DAYS_PER_MONTH)
            }
            Unit::Year | Unit::Decade | Unit::Century | Unit::Millennium => {
                let years = match unit {
                    Unit::Decade => 10,
                    Unit::Century => 100,
                    Unit::Millennium => 1000,
                    _ => 1,
                };
                self.add_months(val, years * MONTHS_PER_YEAR)?;
                // PostgreSQL's AdjustFractYears rounds the fraction to whole months.
                let extra = (frac * (years * MONTHS_PER_YEAR) as f64).round_ties_even();
                self.add_months(extra as i64, 1)
            }
            _ => Err(Bad::Syntax),
        }
    }

    fn negate(&mut self) {
        self.months = -self.months;
        self.days = -self.days;
        self.micros = -self.micros;
    }
}

/// A signed decimal number: integer part and the fraction with the same sign.
fn split_number(text: &str) -> Result<(i64, f64), Bad> {
    let (negative, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (int_part, frac_part) = body.split_once('.').unwrap_or((body, ""));
    let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if (int_part.is_empty() && frac_part.is_empty()) || !digits(int_part) || !digits(frac_part) {
        return Err(Bad::Syntax);
    }
    let val: i64 = if int_part.is_empty() {
        0
    } else {
        int_part.parse().map_err(|_| Bad::Range)?
    };
    let frac: f64 = if frac_part.is_empty() {
        0.0
    } else {
        let mut buf = String::with_capacity(frac_part.len() + 2);
        buf.push_str("0.");
        buf.push_str(frac_part);
        buf.parse().map_err(|_| Bad::Syntax)?
    };
    Ok(if negative { (-val, -frac) } else { (val, frac) })
}

#[derive(Debug, Clone, Copy)]
enum Tok<'a> {
    /// `[+-]digits[.digits]`
    Num(&'a str),
    /// `[+-]h:m[:s[.f]]`
    Time(&'a str),
    Word(&'a str),
    /// `[+-]Y-M` (SQL year-month).
    YearMonth(&'a str),
}

/// Split PostgreSQL-style interval text into at most `MAX_TOKENS` tokens.
fn lex(s: &str) -> Result<([Option<Tok<'_>>; MAX_TOKENS], usize), Bad> {
    let b = s.as_bytes();
    let mut toks = [None; MAX_TOKENS];
    let (mut n, mut i) = (0, 0);
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() || c == b',' || c == b'@' {
            i += 1;
            continue;
        }
        let start = i;
        let tok = if c.is_ascii_alphabetic() {
            while i < b.len() && b[i].is_ascii_alphabetic() {
                i += 1;
            }
            Tok::Word(&s[start..i])
        } else if c.is_ascii_digit() || matches!(c, b'+' | b'-' | b'.') {
            i += 1;
            while i < b.len() && (b[i].is_ascii_digit() || matches!(b[i], b'.' | b':')) {
                i += 1;
            }
            if i < b.len() && b[i] == b'-' && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
                i += 1;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                Tok::YearMonth(&s[start..i])
            } else if s[start..i].contains(':') {
                Tok::Time(&s[start..i])
            } else {
                Tok::Num(&s[start..i])
            }
        } else {
            return Err(Bad::Syntax);
        };
        *toks.get_mut(n).ok_or(Bad::Syntax)? = Some(tok);
        n += 1;
    }
    Ok((toks, n))
}

/// `[+-]h:m[:s[.f]]` (or `m:s.f`) as signed microseconds.
fn time_micros(t: &str) -> Result<i64, Bad> {
    let (negative, body) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let mut parts = body.split(':');
    let (Some(a), Some(b), c, None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Bad::Syntax);
    };
    let whole = |p: &str| -> Result<i64, Bad> {
        if p.is_empty() || !p.bytes().all(|x| x.is_ascii_digit()) {
            return Err(Bad::Syntax);
        }
        p.parse().map_err(|_| Bad::Range)
    };
    let seconds = |p: &str| -> Result<i64, Bad> {
        let (v, f) = split_number(p)?;
        if !(0..60).contains(&v) {
            return Err(Bad::Range);
        }
        Ok(v * MICROS_PER_SECOND + (f * MICROS_PER_SECOND as f64).round_ties_even() as i64)
    };
    let (h, m, sec) = match c {
        Some(c) => (whole(a)?, whole(b)?, seconds(c)?),
        // `mm:ss.f` when the second field has a fraction, else `hh:mm`.
        None if b.contains('.') => (0, whole(a)?, seconds(b)?),
        None => (whole(a)?, whole(b)?, 0),
    };
    if m > 59 {
        return Err(Bad::Range);
    }
    let total = h
        .checked_mul(MICROS_PER_HOUR)
        .and_then(|v| v.checked_add(m * MICROS_PER_MINUTE + sec))
        .ok_or(Bad::Range)?;
    Ok(if negative { -total } else { total })
}

/// The time-of-day bits a `hh:mm:ss` token claims.
const TIME_UNITS: u32 =
    (1 << Unit::Hour as u32) | (1 << Unit::Minute as u32) | (1 << Unit::Second as u32);

/// PostgreSQL's `DecodeInterval`: fields are read right to left, so a unit word applies to the
/// number before it, a bare number before a time is days, and a lone number is seconds.
fn parse_postgres(s: &str) -> Result<Accumulator, Bad> {
    let (toks, n) = lex(s)?;
    if n == 0 {
        return Err(Bad::Syntax);
    }
    let mut acc = Accumulator::default();
    // The unit word just read, and the day slot a time field opens for a bare number before it.
    let mut pending: Option<Unit> = None;
    let mut day_slot = false;
    let mut ago = false;
    for (i, tok) in toks[..n].iter().enumerate().rev() {
        match tok {
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("ago") => {
                if ago || i != n - 1 {
                    return Err(Bad::Syntax);
                }
                ago = true;
            }
            Some(Tok::Word(w)) => {
                if pending.is_some() {
                    return Err(Bad::Syntax);
                }
                pending = Some(lookup_unit(w).ok_or(Bad::Syntax)?);
                day_slot = false;
            }
            Some(Tok::Num(num)) => {
                let fallback = if day_slot { Unit::Day } else { Unit::Second };
                let unit = pending.take().unwrap_or(fallback);
                day_slot = false;
                let (val, frac) = split_number(num)?;
                acc.add(unit, val, frac)?;
            }
            Some(Tok::Time(t)) => {
                if pending.is_some() {
                    return Err(Bad::Syntax);
                }
                acc.mark(TIME_UNITS)?;
                let micros = time_micros(t)?;
                acc.micros = acc.micros.checked_add(micros).ok_or(Bad::Range)?;
                day_slot = true;
            }
            Some(Tok::YearMonth(ym)) => {
                if pending.is_some() {
                    return Err(Bad::Syntax);
                }
                day_slot = false;
                add_year_month(&mut acc, ym)?;
            }
            None => return Err(Bad::Syntax),
        }
    }
    // A unit word with no number before it ("day").
    if pending.is_some() {
        return Err(Bad::Syntax);
    }
    if ago {
        acc.negate();
    }
    Ok(acc)
}

/// SQL `Y-M`: the sign applies to both fields.
fn add_year_month(acc: &mut Accumulator, ym: &str) -> Result<(), Bad> {
    let (negative, body) = match ym.as_bytes().first() {
        Some(b'-') => (true, &ym[1..]),
        Some(b'+') => (false, &ym[1..]),
        _ => (false, ym),
    };
    let (y, m) = body.split_once('-').ok_or(Bad::Syntax)?;
    let (y, _) = split_number(y)?;
    let (m, _) = split_number(m)?;
    if !(0..MONTHS_PER_YEAR).contains(&m) {
        return Err(Bad::Range);
    }
    acc.mark((1 << Unit::Year as u32) | (1 << Unit::Month as u32))?;
    let months = y
        .checked_mul(MONTHS_PER_YEAR)
        .and_then(|v| v.checked_add(m))
        .ok_or(Bad::Range)?;
    acc.add_months(if negative { -months } else { months }, 1)
}

/// ISO 8601 with designators after the `P`: `1Y2M3W4DT5H6M7.5S`.
fn parse_iso(s: &str) -> Result<Accumulator, Bad> {
    let mut acc = Accumulator::default();
    let mut in_time = false;
    let b = s.as_bytes();
    let mut i = 0;
    if b.is_empty() {
        return Err(Bad::Syntax);
    }
    while i < b.len() {
        if b[i] == b'T' && !in_time {
            in_time = true;
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && (b[i].is_ascii_digit() || matches!(b[i], b'.' | b'-' | b'+')) {
            i += 1;
        }
        let (val, frac) = split_number(&s[start..i])?;
        let unit = match (b.get(i), in_time) {
            (Some(b'Y'), false) => Unit::Year,
            (Some(b'M'), false) => Unit::Month,
            (Some(b'W'), false) => Unit::Week,
            (Some(b'D'), false) => Unit::Day,
            (Some(b'H'), true) => Unit::Hour,
            (Some(b'M'), true) => Unit::Minute,
            (Some(b'S'), true) => Unit::Second,
            _ => return Err(Bad::Syntax),
        };
        acc.add(unit, val, frac)?;
        i += 1;
    }
    Ok(acc)
}

impl PartialEq for Interval {
    fn eq(&self, other: &Interval) -> bool {
        self.normalized_micros() == other.normalized_micros()
    }
}
impl Eq for Interval {}
impl PartialOrd for Interval {
    fn partial_cmp(&self, other: &Interval) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Interval {
    fn cmp(&self, other: &Interval) -> Ordering {
        self.normalized_micros().cmp(&other.normalized_micros())
    }
}
impl std::hash::Hash for Interval {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.normalized_micros().hash(state)
    }
}

/// PostgreSQL's `AddPostgresIntPart`: ` -1 days`, `+2 mons` after a negative field.
fn write_part(
    f: &mut fmt::Formatter<'_>,
    value: i64,
    unit: &str,
    first: &mut bool,
    after_negative: &mut bool,
) -> fmt::Result {
    if value == 0 {
        return Ok(());
    }
    let space = if *first { "" } else { " " };
    let plus = if *after_negative && value > 0 {
        "+"
    } else {
        ""
    };
    let plural = if value != 1 { "s" } else { "" };
    write!(f, "{space}{plus}{value} {unit}{plural}")?;
    *after_negative = value < 0;
    *first = false;
    Ok(())
}

impl fmt::Display for Interval {
    /// PostgreSQL's `IntervalStyle = postgres` output: `1 year 2 mons 3 days 04:05:06.5`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (years, months) = (self.months / 12, self.months % 12);
        let (mut first, mut after_negative) = (true, false);
        write_part(f, i64::from(years), "year", &mut first, &mut after_negative)?;
        write_part(f, i64::from(months), "mon", &mut first, &mut after_negative)?;
        write_part(
            f,
            i64::from(self.days),
            "day",
            &mut first,
            &mut after_negative,
        )?;
        if first || self.micros != 0 {
            let t = self.micros;
            let sign = if t < 0 {
                "-"
            } else if after_negative {
                "+"
            } else {
                ""
            };
            let a = t.unsigned_abs();
            let per_sec = MICROS_PER_SECOND as u64;
            let (hours, minutes) = (
                a / MICROS_PER_HOUR as u64,
                a / MICROS_PER_MINUTE as u64 % 60,
            );
            let (secs, frac) = (a / per_sec % 60, a % per_sec);
            let space = if first { "" } else { " " };
            write!(f, "{space}{sign}{hours:02}:{minutes:02}:{secs:02}")?;
            if frac != 0 {
                let mut digits = frac;
                let mut width = 6;
                while digits % 10 == 0 {
                    digits /= 10;
                    width -= 1;
                }
                write!(f, ".{digits:0width$}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
