//! Date and timestamp text input: PostgreSQL's `ParseDateTime` + `DecodeDateTime` for the forms
//! clients send (DateStyle ISO, MDY). Streams over the input without allocating.
//!
//! Accepted: `2024-01-31`, `2024/01/31`, `1/31/2024` (MDY), `2024.01.31`, `20240131`, `240131`,
//! month names (`Jan 31 2024`, `31-Jan-2024`, `January 31, 2024`), weekday names (ignored),
//! `BC`/`AD`, times `12:34[:56[.789]]` with `AM`/`PM`, the ISO `T` separator, zone suffixes
//! (`Z`, `UTC`, `+05:30`, `-0800`, common abbreviations, IANA names) and the special words
//! `epoch`, `infinity`, `-infinity`, `now`, `today`, `tomorrow`, `yesterday`.
//! Not accepted (22007): Julian-day (`J2451545`) and ordinal (`2024-031`) forms.

use super::super::TypeError;
use super::calendar::{civil_to_days, days_in_month};
use super::zone::parse_hms;
use super::{
    DATE_INFINITY, DATE_NEG_INFINITY, MAX_DATE, MICROS_PER_DAY, MICROS_PER_HOUR, MICROS_PER_MINUTE,
    MICROS_PER_SECOND, MIN_DATE, TIMESTAMP_INFINITY, TIMESTAMP_NEG_INFINITY, TimeZone,
    local_to_utc, now_micros, timestamp_in_range,
};

/// PostgreSQL's `MAX_TZDISP_HOUR`: explicit zone offsets beyond 15 hours are rejected.
const MAX_TZ_DISPLACEMENT_HOURS: i64 = 15;
/// Two-digit years below this are 20xx, the rest 19xx.
const TWO_DIGIT_YEAR_PIVOT: i64 = 70;

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const MONTH_NAMES: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];
const WEEKDAYS: [&str; 17] = [
    "sun",
    "sunday",
    "mon",
    "monday",
    "tue",
    "tues",
    "tuesday",
    "wed",
    "wednesday",
    "thu",
    "thur",
    "thurs",
    "thursday",
    "fri",
    "friday",
    "sat",
    "saturday",
];
/// Zone abbreviations PostgreSQL's default set knows, in seconds east of UTC.
const ZONE_ABBREVIATIONS: [(&str, i32); 35] = [
    ("z", 0),
    ("zulu", 0),
    ("utc", 0),
    ("ut", 0),
    ("gmt", 0),
    ("wet", 0),
    ("west", 3600),
    ("bst", 3600),
    ("cet", 3600),
    ("met", 3600),
    ("cest", 7200),
    ("mest", 7200),
    ("eet", 7200),
    ("ist", 7200),
    ("eest", 10800),
    ("msk", 10800),
    ("sgt", 28800),
    ("hkt", 28800),
    ("awst", 28800),
    ("jst", 32400),
    ("kst", 32400),
    ("acst", 34200),
    ("aest", 36000),
    ("aedt", 39600),
    ("nzst", 43200),
    ("nzdt", 46800),
    ("hst", -36000),
    ("akst", -32400),
    ("akdt", -28800),
    ("pst", -28800),
    ("pdt", -25200),
    ("mst", -25200),
    ("mdt", -21600),
    ("cst", -21600),
    ("cdt", -18000),
];
const EST: (&str, i32) = ("est", -18000);
const EDT: (&str, i32) = ("edt", -14400);

/// Why input was rejected; the caller words the message for its type.
#[derive(Debug, Clone, Copy, PartialEq)]
enum DtError {
    /// 22007 `invalid input syntax for type …`.
    Format,
    /// 22008 `date/time field value out of range`.
    FieldRange,
    /// 22009 `time zone displacement out of range`.
    Displacement,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Special {
    Epoch,
    Infinity,
    NegInfinity,
    Now,
    Today,
    Tomorrow,
    Yesterday,
}

#[derive(Debug, Clone)]
enum Zone {
    Fixed(i32),
    Named(TimeZone),
}

/// One lexical piece of the input.
#[derive(Debug, Clone, Copy)]
enum Tok<'a> {
    /// Digits, possibly with one decimal point.
    Num(&'a str),
    /// Three fields joined by `-`, `/` or `.`.
    Date(&'a str, char),
    /// `h:m[:s[.f]]`.
    Time(&'a str),
    Word(&'a str),
    /// `+`/`-` followed by digits and colons.
    Offset(bool, &'a str),
}

struct Lexer<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Lexer<'a> {
    fn scan(&mut self, keep: impl Fn(u8) -> bool) -> usize {
        let b = self.s.as_bytes();
        while self.pos < b.len() && keep(b[self.pos]) {
            self.pos += 1;
        }
        self.pos
    }

    fn peek(&self, ahead: usize) -> Option<u8> {
        self.s.as_bytes().get(self.pos + ahead).copied()
    }

    /// The rest of a date token after its first field: `sep field` pairs.
    fn date_rest(&mut self, start: usize, sep: u8) -> Tok<'a> {
        while self.peek(0) == Some(sep) && self.peek(1).is_some_and(|c| c.is_ascii_alphanumeric()) {
            self.pos += 1;
            if self.peek(0).is_some_and(|c| c.is_ascii_digit()) {
                self.scan(|c| c.is_ascii_digit());
            } else {
                self.scan(|c| c.is_ascii_alphabetic());
            }
        }
        Tok::Date(&self.s[start..self.pos], char::from(sep))
    }

    fn number(&mut self, start: usize) -> Tok<'a> {
        self.scan(|c| c.is_ascii_digit());
        match self.peek(0) {
            Some(b':') => {
                self.scan(|c| c.is_ascii_digit() || c == b':' || c == b'.');
                Tok::Time(&self.s[start..self.pos])
            }
            Some(sep @ (b'-' | b'/')) => self.date_rest(start, sep),
            Some(b'.') => {
                let point = self.pos;
                self.pos += 1;
                self.scan(|c| c.is_ascii_digit());
                if self.peek(0) == Some(b'.') {
                    self.pos = point;
                    self.date_rest(start, b'.')
                } else {
                    Tok::Num(&self.s[start..self.pos])
                }
            }
            _ => Tok::Num(&self.s[start..self.pos]),
        }
    }

    fn word(&mut self, start: usize) -> Option<Result<Tok<'a>, DtError>> {
        self.scan(|c| c.is_ascii_alphabetic());
        let is_t = self.pos - start == 1 && self.s.as_bytes()[start].eq_ignore_ascii_case(&b't');
        if is_t && self.peek(0).is_some_and(|c| c.is_ascii_digit()) {
            // The ISO 8601 `T` between date and time.
            return self.next();
        }
        match (self.peek(0), self.peek(1)) {
            (Some(sep @ (b'-' | b'/' | b'.')), Some(d)) if d.is_ascii_digit() => {
                Some(Ok(self.date_rest(start, sep)))
            }
            _ => {
                // IANA zone names: Europe/Berlin, America/Argentina/Buenos_Aires.
                self.scan(|c| c.is_ascii_alphanumeric() || c == b'/' || c == b'_');
                Some(Ok(Tok::Word(&self.s[start..self.pos])))
            }
        }
    }
}

impl<'a> Iterator for Lexer<'a> {
    /// `Err` for a character no token can start with.
    type Item = Result<Tok<'a>, DtError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.scan(|c| c.is_ascii_whitespace() || c == b',');
        let start = self.pos;
        let c = self.peek(0)?;
        Some(if c.is_ascii_digit() {
            Ok(self.number(start))
        } else if c.is_ascii_alphabetic() {
            return self.word(start);
        } else if c == b'+' || c == b'-' {
            self.pos += 1;
            match self.peek(0) {
                Some(d) if d.is_ascii_digit() => {
                    self.scan(|c| c.is_ascii_digit() || c == b':' || c == b'.');
                    Ok(Tok::Offset(c == b'-', &self.s[start + 1..self.pos]))
                }
                Some(a) if a.is_ascii_alphabetic() => {
                    self.scan(|c| c.is_ascii_alphabetic());
                    Ok(Tok::Word(&self.s[start..self.pos]))
                }
                _ => Err(DtError::Format),
            }
        } else {
            self.pos = self.s.len();
            Err(DtError::Format)
        })
    }
}

/// Everything the input said, before it is checked and combined.
#[derive(Debug, Default)]
struct Fields {
    year: Option<i64>,
    two_digit_year: bool,
    month: Option<u32>,
    day: Option<u32>,
    time: Option<i64>,
    pm: Option<bool>,
    bc: bool,
    zone: Option<Zone>,
    special: Option<Special>,
    tokens: usize,
}

fn month_number(word: &str) -> Option<u32> {
    let find = |table: &[&str; 12]| table.iter().position(|m| m.eq_ignore_ascii_case(word));
    find(&MONTHS)
        .or_else(|| find(&MONTH_NAMES))
        .or_else(|| word.eq_ignore_ascii_case("sept").then_some(8))
        .map(|i| i as u32 + 1)
}

fn digits_value(s: &str) -> Result<i64, DtError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DtError::Format);
    }
    s.parse().map_err(|_| DtError::FieldRange)
}

impl Fields {
    fn set_year(&mut self, text: &str) -> Result<(), DtError> {
        if self.year.is_some() {
            return Err(DtError::Format);
        }
        self.year = Some(digits_value(text)?);
        self.two_digit_year = text.len() == 2;
        Ok(())
    }

    fn set_month(&mut self, m: u32) -> Result<(), DtError> {
        if self.month.replace(m).is_some() {
            return Err(DtError::Format);
        }
        Ok(())
    }

    fn set_day(&mut self, text: &str) -> Result<(), DtError> {
        let d = u32::try_from(digits_value(text)?).map_err(|_| DtError::FieldRange)?;
        if self.day.replace(d).is_some() {
            return Err(DtError::Format);
        }
        Ok(())
    }

    fn set_numeric_month(&mut self, text: &str) -> Result<(), DtError> {
        let m = u32::try_from(digits_value(text)?).map_err(|_| DtError::FieldRange)?;
        self.set_month(m)
    }

    fn token(&mut self, tok: Tok<'_>) -> Result<(), DtError> {
        self.tokens += 1;
        match tok {
            Tok::Num(n) => self.number(n),
            Tok::Date(d, sep) => self.date(d, sep),
            Tok::Time(t) => self.time_of_day(t),
            Tok::Word(w) => self.word(w),
            Tok::Offset(negative, body) => self.offset(negative, body),
        }
    }

    /// A bare number: a whole `YYYYMMDD`/`YYMMDD` date, or the day or year next to a month name.
    fn number(&mut self, n: &str) -> Result<(), DtError> {
        let no_date_yet = self.year.is_none() && self.month.is_none() && self.day.is_none();
        if n.contains('.') {
            return Err(DtError::Format);
        }
        if no_date_yet && (n.len() == 8 || n.len() == 6) {
            let year_len = n.len() - 4;
            self.set_year(&n[..year_len])?;
            self.set_numeric_month(&n[year_len..year_len + 2])?;
            return self.set_day(&n[year_len + 2..]);
        }
        if n.len() >= 3 {
            self.set_year(n)
        } else if self.day.is_none() {
            self.set_day(n)
        } else {
            self.set_year(n)
        }
    }

    /// `a-b-c` with ISO (year first), MDY or month-name field orders.
    fn date(&mut self, d: &str, sep: char) -> Result<(), DtError> {
        let mut parts = d.split(sep);
        let (Some(a), Some(b), Some(c), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(DtError::Format);
        };
        let alpha = |p: &str| p.bytes().all(|x| x.is_ascii_alphabetic());
        if alpha(a) {
            self.set_month(month_number(a).ok_or(DtError::Format)?)?;
            self.set_day(b)?;
            self.set_year(c)
        } else if alpha(b) {
            self.set_month(month_number(b).ok_or(DtError::Format)?)?;
            if a.len() >= 3 {
                self.set_year(a)?;
                self.set_day(c)
            } else {
                self.set_day(a)?;
                self.set_year(c)
            }
        } else if a.len() >= 3 {
            self.set_year(a)?;
            self.set_numeric_month(b)?;
            self.set_day(c)
        } else {
            self.set_numeric_month(a)?;
            self.set_day(b)?;
            self.set_year(c)
        }
    }

    /// `h:m[:s[.f]]` to microseconds of the day; 24:00:00 is allowed, as is a leap second 60.
    fn time_of_day(&mut self, t: &str) -> Result<(), DtError> {
        if self.time.is_some() {
            return Err(DtError::Format);
        }
        let mut parts = t.split(':');
        let (Some(h), Some(m), s, None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(DtError::Format);
        };
        let (h, m) = (digits_value(h)?, digits_value(m)?);
        let (secs, frac) = match s {
            Some(s) => match s.split_once('.') {
                Some((whole, frac)) => (digits_value(whole)?, fraction_micros(frac)?),
                None => (digits_value(s)?, 0),
            },
            None => (0, 0),
        };
        let day_end = h == 24 && m == 0 && secs == 0 && frac == 0;
        if (h > 23 && !day_end) || m > 59 || secs > 60 {
            return Err(DtError::FieldRange);
        }
        self.time =
            Some(h * MICROS_PER_HOUR + m * MICROS_PER_MINUTE + secs * MICROS_PER_SECOND + frac);
        Ok(())
    }

    fn word(&mut self, w: &str) -> Result<(), DtError> {
        let is = |k: &str| w.eq_ignore_ascii_case(k);
        if let Some(m) = month_number(w) {
            return self.set_month(m);
        }
        if WEEKDAYS.iter().any(|d| is(d)) || is("ad") {
            return Ok(());
        }
        if is("bc") {
            self.bc = true;
            return Ok(());
        }
        if is("am") || is("pm") {
            return match self.pm.replace(is("pm")) {
                None => Ok(()),
                Some(_) => Err(DtError::Format),
            };
        }
        if let Some(special) = special_word(w) {
            return match self.special.replace(special) {
                None => Ok(()),
                Some(_) => Err(DtError::Format),
            };
        }
        let zone = zone_word(w).ok_or(DtError::Format)?;
        self.set_zone(zone)
    }

    fn set_zone(&mut self, zone: Zone) -> Result<(), DtError> {
        match self.zone.replace(zone) {
            None => Ok(()),
            Some(_) => Err(DtError::Format),
        }
    }

    /// `+05`, `-0530`, `+05:30[:00]` after a date or time.
    fn offset(&mut self, negative: bool, body: &str) -> Result<(), DtError> {
        if self.time.is_none() && self.day.is_none() {
            return Err(DtError::Format);
        }
        let secs = if body.contains(':') {
            parse_hms(body).ok_or(DtError::Format)?
        } else {
            let v = digits_value(body)?;
            match body.len() {
                1 | 2 => v * 3600,
                3 | 4 => (v / 100) * 3600 + (v % 100) * 60,
                5 | 6 => (v / 10000) * 3600 + (v / 100 % 100) * 60 + v % 100,
                _ => return Err(DtError::Format),
            }
        };
        if secs / 3600 > MAX_TZ_DISPLACEMENT_HOURS {
            return Err(DtError::Displacement);
        }
        // Bounded by 16 hours above, so it fits an i32.
        let secs = secs as i32;
        self.set_zone(Zone::Fixed(if negative { -secs } else { secs }))
    }

    /// The calendar day the fields name (astronomical year), checked.
    fn resolve_date(&self) -> Result<i64, DtError> {
        let (Some(mut year), Some(month), Some(day)) = (self.year, self.month, self.day) else {
            return Err(DtError::Format);
        };
        if self.two_digit_year && !self.bc {
            year += if year < TWO_DIGIT_YEAR_PIVOT {
                2000
            } else {
                1900
            };
        }
        if year == 0 {
            return Err(DtError::FieldRange);
        }
        if self.bc {
            year = 1 - year;
        }
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return Err(DtError::FieldRange);
        }
        Ok(civil_to_days(year, month, day))
    }

    /// Microseconds since midnight, AM/PM applied.
    fn resolve_time(&self) -> Result<i64, DtError> {
        let t = self.time.unwrap_or(0);
        match self.pm {
            None => Ok(t),
            Some(_) if t >= 13 * MICROS_PER_HOUR => Err(DtError::FieldRange),
            Some(pm) => {
                let noon_hour = t >= 12 * MICROS_PER_HOUR;
                Ok(match (pm, noon_hour) {
                    (true, false) => t + 12 * MICROS_PER_HOUR,
                    (false, true) => t - 12 * MICROS_PER_HOUR,
                    _ => t,
                })
            }
        }
    }
}

/// Digits after a decimal point to microseconds, rounded as PostgreSQL does (through a double).
fn fraction_micros(frac: &str) -> Result<i64, DtError> {
    if frac.is_empty() {
        return Ok(0);
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DtError::Format);
    }
    let mut buf = String::with_capacity(frac.len() + 2);
    buf.push_str("0.");
    buf.push_str(frac);
    let f: f64 = buf.parse().map_err(|_| DtError::Format)?;
    Ok((f * MICROS_PER_SECOND as f64).round_ties_even() as i64)
}

fn special_word(w: &str) -> Option<Special> {
    let table = [
        ("epoch", Special::Epoch),
        ("infinity", Special::Infinity),
        ("+infinity", Special::Infinity),
        ("-infinity", Special::NegInfinity),
        ("now", Special::Now),
        ("today", Special::Today),
        ("tomorrow", Special::Tomorrow),
        ("yesterday", Special::Yesterday),
    ];
    table
        .iter()
        .find(|(k, _)| w.eq_ignore_ascii_case(k))
        .map(|&(_, s)| s)
}

fn zone_word(w: &str) -> Option<Zone> {
    ZONE_ABBREVIATIONS
        .iter()
        .chain([&EST, &EDT])
        .find(|(k, _)| w.eq_ignore_ascii_case(k))
        .map(|&(_, off)| Zone::Fixed(off))
        .or_else(|| TimeZone::parse(w).ok().map(Zone::Named))
}

fn decode(s: &str) -> Result<Fields, DtError> {
    let mut f = Fields::default();
    for tok in (Lexer { s, pos: 0 }) {
        f.token(tok?)?;
    }
    if f.special.is_some() && f.tokens != 1 {
        return Err(DtError::Format);
    }
    Ok(f)
}

fn type_error(e: DtError, type_name: &str, s: &str) -> TypeError {
    match e {
        DtError::Format => TypeError::InvalidDatetimeFormat(format!(
            "invalid input syntax for type {type_name}: \"{s}\""
        )),
        DtError::FieldRange => {
            TypeError::DatetimeOverflow(format!("date/time field value out of range: \"{s}\""))
        }
        DtError::Displacement => {
            TypeError::TimeZoneDisplacement(format!("time zone displacement out of range: \"{s}\""))
        }
    }
}

/// Today's date at UTC shifted by `delta` days.
fn today_plus(delta: i64) -> i64 {
    now_micros().div_euclid(MICROS_PER_DAY) + delta
}

/// `'2024-01-31'`, `'January 31, 2024'`, `'20240131'`, `'2024-01-31 BC'`; 22007/22008 on bad input.
/// `today`/`now` use the UTC date.
pub fn parse_date(s: &str) -> Result<i32, TypeError> {
    if let Some(days) = iso_date(s) {
        return Ok(days);
    }
    let f = decode(s).map_err(|e| type_error(e, "date", s))?;
    let days = match f.special {
        Some(Special::Infinity) => return Ok(DATE_INFINITY),
        Some(Special::NegInfinity) => return Ok(DATE_NEG_INFINITY),
        Some(Special::Epoch) => -super::UNIX_EPOCH_OFFSET_DAYS,
        Some(Special::Now | Special::Today) => today_plus(0),
        Some(Special::Tomorrow) => today_plus(1),
        Some(Special::Yesterday) => today_plus(-1),
        None => {
            f.resolve_time().map_err(|e| type_error(e, "date", s))?;
            f.resolve_date().map_err(|e| type_error(e, "date", s))?
        }
    };
    if !(i64::from(MIN_DATE)..=i64::from(MAX_DATE)).contains(&days) {
        return Err(TypeError::DatetimeOverflow(format!(
            "date out of range: \"{s}\""
        )));
    }
    Ok(days as i32)
}

/// The plain ISO form `YYYY-MM-DD` of an existing date (what COPY data and ISO output hold),
/// without the general parser; anything else is left to it. A bulk load parses one per date
/// field, so the day number comes from a closed formula rather than the general calendar.
pub fn iso_date(s: &str) -> Option<i32> {
    iso_date_bytes(s.as_bytes())
}

/// [`iso_date`] of the field's bytes (a bulk load's fields need no UTF-8 boundary checks).
#[inline]
pub fn iso_date_bytes(b: &[u8]) -> Option<i32> {
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let digit = |i: usize| {
        let d = b[i].wrapping_sub(b'0');
        (d <= 9).then_some(u32::from(d))
    };
    let year = digit(0)? * 1000 + digit(1)? * 100 + digit(2)? * 10 + digit(3)?;
    let month = digit(5)? * 10 + digit(6)?;
    let day = digit(8)? * 10 + digit(9)?;
    // Year 0 does not exist (PostgreSQL rejects it); leave it to the general parser's error.
    if year == 0 {
        return None;
    }
    iso_day_number(year, month, day)
}

/// Days from 0001-01-01 to 2000-01-01 (the day numbers' origin).
const DAYS_TO_2000: i64 = 730_119;

/// Days before the first of each month, in common and leap years.
const MONTH_STARTS: [[u32; 12]; 2] = [
    [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334],
    [0, 31, 60, 91, 121, 152, 182, 213, 244, 274, 305, 335],
];

/// The day number of year `year` (1..=9999), `month`, `day`, if that date exists.
fn iso_day_number(year: u32, month: u32, day: u32) -> Option<i32> {
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    let starts = &MONTH_STARTS[usize::from(leap)];
    let first = *starts.get(month.checked_sub(1)? as usize)?;
    let next = starts
        .get(month as usize)
        .copied()
        .unwrap_or(365 + u32::from(leap));
    if day == 0 || day > next - first {
        return None;
    }
    let y = i64::from(year) - 1;
    let days = y * 365 + y / 4 - y / 100 + y / 400 + i64::from(first + day - 1) - DAYS_TO_2000;
    i32::try_from(days).ok()
}

/// Local micros of the fields, plus the zone the input named.
fn local_timestamp(s: &str, type_name: &str) -> Result<(i64, Option<Zone>, bool), TypeError> {
    let f = decode(s).map_err(|e| type_error(e, type_name, s))?;
    let out_of_range = || TypeError::DatetimeOverflow(format!("timestamp out of range: \"{s}\""));
    let micros = match f.special {
        Some(Special::Infinity) => return Ok((TIMESTAMP_INFINITY, None, true)),
        Some(Special::NegInfinity) => return Ok((TIMESTAMP_NEG_INFINITY, None, true)),
        Some(Special::Now) => return Ok((now_micros(), Some(Zone::Fixed(0)), true)),
        Some(Special::Epoch) => -super::UNIX_EPOCH_OFFSET_DAYS * MICROS_PER_DAY,
        Some(Special::Today) => today_plus(0) * MICROS_PER_DAY,
        Some(Special::Tomorrow) => today_plus(1) * MICROS_PER_DAY,
        Some(Special::Yesterday) => today_plus(-1) * MICROS_PER_DAY,
        None => {
            let days = f.resolve_date().map_err(|e| type_error(e, type_name, s))?;
            let time = f.resolve_time().map_err(|e| type_error(e, type_name, s))?;
            days.checked_mul(MICROS_PER_DAY)
                .and_then(|d| d.checked_add(time))
                .ok_or_else(out_of_range)?
        }
    };
    if !timestamp_in_range(micros) {
        return Err(out_of_range());
    }
    Ok((micros, f.zone, false))
}

/// `'2024-01-31 12:34:56.789'`, `'2024-01-31T12:34:56'`, a bare date; a zone suffix is ignored.
pub fn parse_timestamp(s: &str) -> Result<i64, TypeError> {
    local_timestamp(s, "timestamp").map(|(micros, _, _)| micros)
}

/// Like `parse_timestamp`, honouring a zone suffix (`+02`, `Z`, `UTC`, `-05:30`) or else `tz`; returns UTC micros.
pub fn parse_timestamptz(s: &str, tz: &TimeZone) -> Result<i64, TypeError> {
    let (local, zone, already_utc) = local_timestamp(s, "timestamp with time zone")?;
    if already_utc {
        return Ok(local);
    }
    let utc = match zone {
        Some(Zone::Fixed(east)) => local - i64::from(east) * MICROS_PER_SECOND,
        Some(Zone::Named(named)) => local_to_utc(local, &named),
        None => local_to_utc(local, tz),
    };
    if !timestamp_in_range(utc) {
        return Err(TypeError::DatetimeOverflow(format!(
            "timestamp out of range: \"{s}\""
        )));
    }
    Ok(utc)
}
