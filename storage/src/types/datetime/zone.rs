//! Session time zones: UTC, fixed offsets (POSIX `UTC+3`, `+05:30`, which count hours *west*
//! as PostgreSQL's POSIX zones do) and IANA zones from the compiled-in tz database.

use super::super::TypeError;
use super::format::write_offset;
use super::{MICROS_PER_SECOND, UNIX_EPOCH_OFFSET_DAYS};
use chrono::{DateTime, NaiveDateTime, Offset, TimeZone as _};
use chrono_tz::Tz;

/// POSIX zone offsets are accepted up to a week, as PostgreSQL's `tzparse` does.
const MAX_POSIX_OFFSET_SECS: i64 = 7 * 24 * 3600 - 1;
const SECS_PER_DAY: i64 = 86_400;

/// A session time zone: UTC, a fixed offset, or an IANA zone name.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeZone {
    name: String,
    kind: ZoneKind,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum ZoneKind {
    /// Seconds east of UTC.
    Fixed(i32),
    Iana(Tz),
}

impl TimeZone {
    pub fn utc() -> TimeZone {
        TimeZone {
            name: "UTC".into(),
            kind: ZoneKind::Fixed(0),
        }
    }

    /// A zone `seconds_east` of UTC, as `SET TIME ZONE 5.5` or `INTERVAL '-03:00'` makes it;
    /// named as PostgreSQL shows it (`<+05:30>-05:30`).
    pub fn fixed(seconds_east: i32) -> TimeZone {
        let mut abbrev = String::new();
        write_offset(seconds_east, &mut abbrev);
        let mut posix = String::new();
        write_offset(-seconds_east, &mut posix);
        TimeZone {
            name: format!("<{abbrev}>{posix}"),
            kind: ZoneKind::Fixed(seconds_east),
        }
    }

    /// Accepts what `SET TIME ZONE` / the `TimeZone` startup parameter accept; 22023 otherwise.
    /// IANA names match case-insensitively and are reported in their canonical spelling.
    pub fn parse(name: &str) -> Result<TimeZone, TypeError> {
        if name.eq_ignore_ascii_case("utc") {
            return Ok(TimeZone::utc());
        }
        if let Some(tz) = lookup_iana(name) {
            return Ok(TimeZone {
                name: tz.name().to_owned(),
                kind: ZoneKind::Iana(tz),
            });
        }
        match parse_posix_offset(name) {
            Some(west) => Ok(TimeZone {
                name: name.to_owned(),
                kind: ZoneKind::Fixed(-west),
            }),
            None => Err(TypeError::InvalidParameter(format!(
                "invalid value for parameter \"TimeZone\": \"{name}\""
            ))),
        }
    }

    /// The name `SHOW TimeZone` prints.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Offset from UTC in seconds at the UTC instant `utc_micros`.
    pub fn offset_at_utc(&self, utc_micros: i64) -> i32 {
        match self.kind {
            ZoneKind::Fixed(off) => off,
            ZoneKind::Iana(tz) => tz
                .offset_from_utc_datetime(&naive(utc_micros))
                .fix()
                .local_minus_utc(),
        }
    }

    /// Offset from UTC in seconds for a local wall-clock time. As PostgreSQL: a time skipped by
    /// a spring-forward transition is read with the offset before it, a time repeated by a
    /// fall-back transition with the offset after it.
    pub fn offset_at_local(&self, local_micros: i64) -> i32 {
        match self.kind {
            ZoneKind::Fixed(off) => off,
            ZoneKind::Iana(tz) => {
                let local = naive(local_micros);
                match tz.offset_from_local_datetime(&local) {
                    chrono::LocalResult::Single(o) => o.fix().local_minus_utc(),
                    chrono::LocalResult::Ambiguous(_, after) => after.fix().local_minus_utc(),
                    chrono::LocalResult::None => chrono_tz::GapInfo::new(&local, &tz)
                        .and_then(|gap| gap.begin)
                        .map(|(_, before)| before.fix().local_minus_utc())
                        .unwrap_or_else(|| self.offset_at_utc(local_micros)),
                }
            }
        }
    }
}

/// A PostgreSQL-epoch timestamp as chrono's naive date-time, clamped to chrono's range (the
/// zone rules at the far ends are constant anyway).
fn naive(micros: i64) -> NaiveDateTime {
    let unix_secs = micros.div_euclid(MICROS_PER_SECOND) + UNIX_EPOCH_OFFSET_DAYS * SECS_PER_DAY;
    let (min, max) = (
        NaiveDateTime::MIN.and_utc().timestamp(),
        NaiveDateTime::MAX.and_utc().timestamp(),
    );
    DateTime::from_timestamp(unix_secs.clamp(min, max), 0)
        .map(|d| d.naive_utc())
        .unwrap_or(NaiveDateTime::MIN)
}

fn lookup_iana(name: &str) -> Option<Tz> {
    name.parse::<Tz>().ok().or_else(|| {
        chrono_tz::TZ_VARIANTS
            .iter()
            .copied()
            .find(|tz| tz.name().eq_ignore_ascii_case(name))
    })
}

/// A POSIX zone without DST rules: `[STD]offset` where STD is three or more letters (or
/// `<...>`) and offset `[+-]hh[:mm[:ss]]` counts hours west of UTC. Returns seconds west.
fn parse_posix_offset(name: &str) -> Option<i32> {
    let rest = if let Some(quoted) = name.strip_prefix('<') {
        quoted.split_once('>')?.1
    } else {
        let letters = name.bytes().take_while(u8::is_ascii_alphabetic).count();
        if letters != 0 && letters < 3 {
            return None;
        }
        &name[letters..]
    };
    let (sign, body) = match rest.as_bytes().first()? {
        b'-' => (-1, &rest[1..]),
        b'+' => (1, &rest[1..]),
        _ => (1, rest),
    };
    let secs = parse_hms(body)?;
    (secs <= MAX_POSIX_OFFSET_SECS).then(|| (sign * secs) as i32)
}

/// `h[h][:mm[:ss]]` as seconds.
pub(super) fn parse_hms(body: &str) -> Option<i64> {
    let mut fields = [0i64; 3];
    for (n, p) in body.split(':').enumerate() {
        if n == fields.len()
            || p.is_empty()
            || p.len() > 3
            || !p.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        fields[n] = p.parse().ok()?;
    }
    let [h, m, s] = fields;
    (m <= 59 && s <= 59).then_some(h * 3600 + m * 60 + s)
}
