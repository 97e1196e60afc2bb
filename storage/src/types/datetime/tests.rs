//! Calendar, parsing, formatting, arithmetic and field tests; expected strings are PostgreSQL
//! 15's output for the same input (DateStyle ISO, MDY).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap (HELPERS.md)

use super::*;
use crate::types::{Interval, Numeric};
use proptest::prelude::*;

fn date(s: &str) -> String {
    match parse_date(s) {
        Ok(d) => {
            let mut out = String::new();
            format_date(d, &mut out);
            out
        }
        Err(e) => format!("ERROR {}: {e}", e.sqlstate()),
    }
}

fn ts(s: &str) -> String {
    match parse_timestamp(s) {
        Ok(t) => ts_text(t),
        Err(e) => format!("ERROR {}: {e}", e.sqlstate()),
    }
}

fn ts_text(t: i64) -> String {
    let mut out = String::new();
    format_timestamp(t, &mut out);
    out
}

fn tstz(s: &str, tz: &TimeZone) -> String {
    match parse_timestamptz(s, tz) {
        Ok(t) => tstz_text(t, tz),
        Err(e) => format!("ERROR {}: {e}", e.sqlstate()),
    }
}

fn tstz_text(t: i64, tz: &TimeZone) -> String {
    let mut out = String::new();
    format_timestamptz(t, tz, &mut out);
    out
}

fn zone(name: &str) -> TimeZone {
    TimeZone::parse(name).unwrap()
}

fn iv(s: &str) -> Interval {
    Interval::parse(s).unwrap()
}

#[test]
fn calendar_round_trips_known_dates() {
    assert_eq!(ymd_to_days(2000, 1, 1), Some(0));
    assert_eq!(ymd_to_days(1970, 1, 1), Some(-10957));
    assert_eq!(ymd_to_days(2024, 2, 30), None);
    assert_eq!(ymd_to_days(2023, 2, 29), None);
    assert_eq!(ymd_to_days(2024, 13, 1), None);
    assert_eq!(
        days_to_ymd(ymd_to_days(2024, 2, 29).unwrap()),
        (2024, 2, 29)
    );
    assert_eq!(days_to_ymd(MIN_DATE), (-4713, 11, 24));
    assert_eq!(days_to_ymd(MAX_DATE), (5874897, 12, 31));
}

#[test]
fn date_input_matches_postgres() {
    let cases = [
        ("2024-01-31", "2024-01-31"),
        ("January 31, 2024", "2024-01-31"),
        ("20240131", "2024-01-31"),
        ("2024-01-31 BC", "2024-01-31 BC"),
        ("Jan 31 2024", "2024-01-31"),
        ("31 Jan 2024", "2024-01-31"),
        ("1/31/2024", "2024-01-31"),
        ("2024/01/31", "2024-01-31"),
        ("240131", "2024-01-31"),
        ("1/2/24", "2024-01-02"),
        ("epoch", "1970-01-01"),
        ("2024-01-31 12:34:56", "2024-01-31"),
        ("  2024-1-5  ", "2024-01-05"),
        ("0044-03-15 BC", "0044-03-15 BC"),
        ("10000-01-01", "10000-01-01"),
        ("Wed Jan 31 2024", "2024-01-31"),
        ("2024-Jan-31", "2024-01-31"),
        ("31-Jan-2024", "2024-01-31"),
        ("2024.01.31", "2024-01-31"),
        ("infinity", "infinity"),
        ("-infinity", "-infinity"),
        ("4714-11-24 BC", "4714-11-24 BC"),
    ];
    for (input, want) in cases {
        assert_eq!(date(input), want, "{input}");
    }
}

#[test]
fn date_errors_match_postgres() {
    let cases = [
        (
            "x",
            "ERROR 22007: invalid input syntax for type date: \"x\"",
        ),
        (
            "2024-13-01",
            "ERROR 22008: date/time field value out of range: \"2024-13-01\"",
        ),
        (
            "2024-02-30",
            "ERROR 22008: date/time field value out of range: \"2024-02-30\"",
        ),
        (
            "13/01/2024",
            "ERROR 22008: date/time field value out of range: \"13/01/2024\"",
        ),
        (
            "5874898-01-01",
            "ERROR 22008: date out of range: \"5874898-01-01\"",
        ),
        (
            "4714-11-23 BC",
            "ERROR 22008: date out of range: \"4714-11-23 BC\"",
        ),
        ("", "ERROR 22007: invalid input syntax for type date: \"\""),
        (
            "2024-01",
            "ERROR 22007: invalid input syntax for type date: \"2024-01\"",
        ),
    ];
    for (input, want) in cases {
        assert_eq!(date(input), want, "{input}");
    }
}

#[test]
fn timestamp_input_matches_postgres() {
    let cases = [
        ("2024-01-31 12:34:56.5", "2024-01-31 12:34:56.5"),
        ("2024-01-31T12:34:56", "2024-01-31 12:34:56"),
        ("2024-01-31 12:34:56+05", "2024-01-31 12:34:56"),
        ("2024-01-31 24:00", "2024-02-01 00:00:00"),
        ("2024-01-31 12:34:56.1234567", "2024-01-31 12:34:56.123457"),
        ("2024-01-31 1:2", "2024-01-31 01:02:00"),
        ("2024-01-31 12:34 PM", "2024-01-31 12:34:00"),
        ("2024-01-31 12:00 AM", "2024-01-31 00:00:00"),
        ("2024-01-31 3:00 pm", "2024-01-31 15:00:00"),
        ("epoch", "1970-01-01 00:00:00"),
        ("2024-01-31 23:59:60", "2024-02-01 00:00:00"),
        ("2024-01-31 12:34:56.9999999", "2024-01-31 12:34:57"),
        ("2024-01-31", "2024-01-31 00:00:00"),
        ("0044-03-15 12:00 BC", "0044-03-15 12:00:00 BC"),
        ("infinity", "infinity"),
        (
            "x",
            "ERROR 22007: invalid input syntax for type timestamp: \"x\"",
        ),
        (
            "2024-01-01 25:00",
            "ERROR 22008: date/time field value out of range: \"2024-01-01 25:00\"",
        ),
        (
            "294277-01-01",
            "ERROR 22008: timestamp out of range: \"294277-01-01\"",
        ),
        (
            "12:34",
            "ERROR 22007: invalid input syntax for type timestamp: \"12:34\"",
        ),
    ];
    for (input, want) in cases {
        assert_eq!(ts(input), want, "{input}");
    }
}

#[test]
fn timestamptz_input_matches_postgres_in_utc() {
    let utc = TimeZone::utc();
    let cases = [
        ("2024-01-31 12:34:56.5+05:30", "2024-01-31 07:04:56.5+00"),
        ("2024-01-31 12:34:56Z", "2024-01-31 12:34:56+00"),
        ("2024-01-31 12:34:56 UTC", "2024-01-31 12:34:56+00"),
        (
            "2024-01-31 12:34:56 Europe/Berlin",
            "2024-01-31 11:34:56+00",
        ),
        ("2024-01-31 12:34:56-0800", "2024-01-31 20:34:56+00"),
        ("2024-01-31 12:34:56 EST", "2024-01-31 17:34:56+00"),
        ("2024-01-31T12:34:56.5Z", "2024-01-31 12:34:56.5+00"),
        ("2024-01-31 12:34:56 +3", "2024-01-31 09:34:56+00"),
        ("2024-07-01 12:00 PST", "2024-07-01 20:00:00+00"),
        (
            "2024-01-01 foo",
            "ERROR 22007: invalid input syntax for type timestamp with time zone: \"2024-01-01 foo\"",
        ),
        (
            "2024-01-01 00:00+16",
            "ERROR 22009: time zone displacement out of range: \"2024-01-01 00:00+16\"",
        ),
    ];
    for (input, want) in cases {
        assert_eq!(tstz(input, &utc), want, "{input}");
    }
}

#[test]
fn zones_resolve_dst_as_postgres() {
    let ny = zone("America/New_York");
    assert_eq!(tstz("2024-11-03 01:30", &ny), "2024-11-03 01:30:00-05");
    assert_eq!(tstz("2024-03-10 02:30", &ny), "2024-03-10 03:30:00-04");
    let cases = [
        ("UTC+3", "2024-01-01 00:00:00-03"),
        ("+05:30", "2024-01-01 00:00:00-05:30"),
        ("zulu", "2024-01-01 00:00:00+00"),
        ("EST", "2024-01-01 00:00:00-05"),
        ("Asia/Kathmandu", "2024-01-01 00:00:00+05:45"),
        ("America/St_Johns", "2024-01-01 00:00:00-03:30"),
    ];
    for (name, want) in cases {
        assert_eq!(tstz("2024-01-01 00:00", &zone(name)), want, "{name}");
    }
    // Offsets with seconds print them, as local mean times do in PostgreSQL
    // ('1900-07-01'::timestamptz in Europe/Amsterdam is 00:00:00+00:19:32 there; the tz data
    // compiled into chrono-tz folds Amsterdam into Brussels, so use a fixed zone here).
    assert_eq!(
        tstz("1900-07-01 00:00", &TimeZone::fixed(19 * 60 + 32)),
        "1900-07-01 00:00:00+00:19:32"
    );
}

#[test]
fn zone_names_match_show_timezone() {
    assert_eq!(zone("europe/berlin").name(), "Europe/Berlin");
    assert_eq!(zone("UTC+3").name(), "UTC+3");
    assert_eq!(zone("+05:30").name(), "+05:30");
    assert_eq!(zone("zulu").name(), "Zulu");
    assert_eq!(zone("Etc/UTC").name(), "Etc/UTC");
    assert_eq!(zone("GMT").name(), "GMT");
    assert_eq!(zone("utc").name(), "UTC");
    assert_eq!(TimeZone::fixed(-3 * 3600).name(), "<-03>+03");
    assert_eq!(TimeZone::fixed(19800).name(), "<+05:30>-05:30");
    assert_eq!(TimeZone::fixed(19800).offset_at_utc(0), 19800);
    for bad in ["foo", "Z", "", "Mars/Olympus"] {
        let e = TimeZone::parse(bad).unwrap_err();
        assert_eq!(e.sqlstate(), "22023");
        assert_eq!(
            e.to_string(),
            format!("invalid value for parameter \"TimeZone\": \"{bad}\"")
        );
    }
}

#[test]
fn interval_arithmetic_matches_postgres() {
    let t = |s: &str| parse_timestamp(s).unwrap();
    let add = |s: &str, i: &str| ts_text(timestamp_add_interval(t(s), iv(i)).unwrap());
    assert_eq!(add("2024-01-31", "1 month"), "2024-02-29 00:00:00");
    assert_eq!(add("2024-03-31", "-1 month"), "2024-02-29 00:00:00");
    assert_eq!(
        add("2024-01-31 10:00", "1 year 1 mon 1 day 01:00:00"),
        "2025-03-01 11:00:00"
    );
    assert_eq!(add("2024-02-29", "1 year"), "2025-02-28 00:00:00");
    assert_eq!(
        timestamp_diff(t("2024-01-01"), t("2023-01-01 12:00")).to_string(),
        "364 days 12:00:00"
    );
    assert_eq!(
        timestamp_diff(t("2023-01-01"), t("2024-01-01 12:00:00.5")).to_string(),
        "-365 days -12:00:00.5"
    );
    assert_eq!(
        checked_timestamp_diff(TIMESTAMP_INFINITY, 0)
            .unwrap_err()
            .to_string(),
        "cannot subtract infinite timestamps"
    );
    assert_eq!(
        timestamp_add_interval(TIMESTAMP_INFINITY, iv("1 day")),
        Ok(TIMESTAMP_INFINITY)
    );
    assert_eq!(
        timestamp_add_interval(MAX_TIMESTAMP, iv("1 day"))
            .unwrap_err()
            .sqlstate(),
        "22008"
    );

    let ny = zone("America/New_York");
    let tz = |s: &str| parse_timestamptz(s, &ny).unwrap();
    let add_tz =
        |s: &str, i: &str| tstz_text(timestamptz_add_interval(tz(s), iv(i), &ny).unwrap(), &ny);
    assert_eq!(
        add_tz("2024-03-09 12:00", "1 day"),
        "2024-03-10 12:00:00-04"
    );
    assert_eq!(
        add_tz("2024-03-09 12:00", "24 hours"),
        "2024-03-10 13:00:00-04"
    );
    assert_eq!(
        add_tz("2024-01-31 12:00", "1 month"),
        "2024-02-29 12:00:00-05"
    );
}

#[test]
fn date_trunc_matches_postgres() {
    let t = parse_timestamp("2024-05-15 13:45:56.789123").unwrap();
    let cases = [
        ("microseconds", "2024-05-15 13:45:56.789123"),
        ("milliseconds", "2024-05-15 13:45:56.789"),
        ("second", "2024-05-15 13:45:56"),
        ("minute", "2024-05-15 13:45:00"),
        ("hour", "2024-05-15 13:00:00"),
        ("day", "2024-05-15 00:00:00"),
        ("week", "2024-05-13 00:00:00"),
        ("month", "2024-05-01 00:00:00"),
        ("quarter", "2024-04-01 00:00:00"),
        ("year", "2024-01-01 00:00:00"),
        ("decade", "2020-01-01 00:00:00"),
        ("century", "2001-01-01 00:00:00"),
        ("millennium", "2001-01-01 00:00:00"),
        ("MONTH", "2024-05-01 00:00:00"),
    ];
    for (unit, want) in cases {
        assert_eq!(ts_text(date_trunc(unit, t).unwrap()), want, "{unit}");
    }
    let bc = parse_timestamp("0044-03-15 13:45:56 BC").unwrap();
    let cases = [
        ("decade", "0051-01-01 00:00:00 BC"),
        ("century", "0100-01-01 00:00:00 BC"),
        ("millennium", "1000-01-01 00:00:00 BC"),
        ("week", "0044-03-11 00:00:00 BC"),
    ];
    for (unit, want) in cases {
        assert_eq!(ts_text(date_trunc(unit, bc).unwrap()), want, "{unit}");
    }
    for bad in ["foo", "dow", "epoch"] {
        let e = date_trunc(bad, t).unwrap_err();
        assert_eq!(e.sqlstate(), "22023");
        assert_eq!(
            e.to_string(),
            format!("unit \"{bad}\" not recognized for type timestamp without time zone")
        );
    }
    assert_eq!(
        date_trunc("day", TIMESTAMP_INFINITY),
        Ok(TIMESTAMP_INFINITY)
    );

    let ny = zone("America/New_York");
    let tz = |s: &str| parse_timestamptz(s, &ny).unwrap();
    let trunc = |u: &str, s: &str| tstz_text(date_trunc_tz(u, tz(s), &ny).unwrap(), &ny);
    assert_eq!(trunc("day", "2024-03-10 12:00"), "2024-03-10 00:00:00-05");
    assert_eq!(trunc("month", "2024-11-15 12:00"), "2024-11-01 00:00:00-04");
    assert_eq!(
        trunc("hour", "2024-11-03 01:30-05"),
        "2024-11-03 01:00:00-05"
    );
    let kolkata = zone("Asia/Kolkata");
    let k = parse_timestamptz("2024-01-01 00:10+00", &kolkata).unwrap();
    assert_eq!(
        tstz_text(date_trunc_tz("hour", k, &kolkata).unwrap(), &kolkata),
        "2024-01-01 05:00:00+05:30"
    );
    let k = parse_timestamptz("2024-01-01 00:00+00", &kolkata).unwrap();
    assert_eq!(
        tstz_text(date_trunc_tz("day", k, &kolkata).unwrap(), &kolkata),
        "2024-01-01 00:00:00+05:30"
    );
}

fn ex_ts(field: &str, s: &str) -> String {
    extract_timestamp(field, parse_timestamp(s).unwrap()).map_or_else(
        |e| format!("ERROR {}: {e}", e.sqlstate()),
        |n| n.to_string(),
    )
}

fn ex_date(field: &str, s: &str) -> String {
    extract_date(field, parse_date(s).unwrap()).map_or_else(
        |e| format!("ERROR {}: {e}", e.sqlstate()),
        |n| n.to_string(),
    )
}

#[test]
fn extract_matches_postgres() {
    let cases = [
        ("julian", "2024-01-31 12:00", "2460341.50000000000000000000"),
        (
            "julian",
            "2024-01-31 12:34:56.5",
            "2460341.52426504629629629630",
        ),
        ("epoch", "2024-01-01 00:00", "1704067200.000000"),
        ("second", "2024-01-31 12:34:56.5", "56.500000"),
        ("milliseconds", "2024-01-31 12:34:56.5", "56500.000"),
        ("microseconds", "2024-01-31 12:34:56.5", "56500000"),
        ("minute", "2024-01-31 12:34:56.5", "34"),
        ("hour", "2024-01-31 12:34:56.5", "12"),
        ("day", "2024-01-31 12:34:56.5", "31"),
        ("month", "2024-01-31 12:34:56.5", "1"),
        ("year", "2024-01-31 12:34:56.5", "2024"),
        ("epoch", "1969-12-31 23:59:59.5", "-0.500000"),
        (
            "timezone",
            "2024-01-31",
            "ERROR 0A000: unit \"timezone\" not supported for type timestamp without time zone",
        ),
        (
            "foo",
            "2024-01-31",
            "ERROR 22023: unit \"foo\" not recognized for type timestamp without time zone",
        ),
    ];
    for (field, input, want) in cases {
        assert_eq!(ex_ts(field, input), want, "{field} {input}");
    }
    let cases = [
        ("julian", "2024-01-31", "2460341"),
        ("epoch", "2024-01-31", "1706659200"),
        ("year", "0044-03-15 BC", "-44"),
        ("century", "0044-03-15 BC", "-1"),
        ("decade", "0044-03-15 BC", "-5"),
        ("millennium", "2001-01-01", "3"),
        ("millennium", "2000-12-31", "2"),
        ("century", "2000-12-31", "20"),
        ("week", "2024-12-30", "1"),
        ("isoyear", "2024-12-30", "2025"),
        ("week", "2021-01-03", "53"),
        ("isoyear", "2021-01-03", "2020"),
        ("dow", "2024-01-28", "0"),
        ("isodow", "2024-01-28", "7"),
        ("doy", "2024-12-31", "366"),
        ("quarter", "2024-08-01", "3"),
        (
            "hour",
            "2024-01-31",
            "ERROR 0A000: unit \"hour\" not supported for type date",
        ),
        (
            "second",
            "2024-01-31",
            "ERROR 0A000: unit \"second\" not supported for type date",
        ),
        (
            "bogus",
            "2024-01-31",
            "ERROR 22023: unit \"bogus\" not recognized for type date",
        ),
    ];
    for (field, input, want) in cases {
        assert_eq!(ex_date(field, input), want, "{field} {input}");
    }
    let kolkata = zone("Asia/Kolkata");
    let t = parse_timestamptz("2024-01-01 05:30+05:30", &kolkata).unwrap();
    let ex = |f: &str| extract_timestamptz(f, t, &kolkata).unwrap().to_string();
    assert_eq!(ex("epoch"), "1704067200.000000");
    assert_eq!(ex("timezone"), "19800");
    assert_eq!(ex("timezone_hour"), "5");
    assert_eq!(ex("timezone_minute"), "30");
    assert_eq!(ex("hour"), "5");
    let ny = zone("America/New_York");
    let t = parse_timestamptz("2024-03-10 12:00", &ny).unwrap();
    assert_eq!(
        extract_timestamptz("epoch", t, &ny).unwrap().to_string(),
        "1710086400.000000"
    );
    assert_eq!(
        extract_timestamptz("timezone", t, &ny).unwrap().to_string(),
        "-14400"
    );
    assert_eq!(
        extract_timestamp("year", TIMESTAMP_INFINITY)
            .unwrap_err()
            .sqlstate(),
        "0A000"
    );
}

#[test]
fn extract_from_interval_matches_postgres() {
    let ex = |f: &str, s: &str| {
        extract_interval(f, iv(s)).map_or_else(
            |e| format!("ERROR {}: {e}", e.sqlstate()),
            |n: Numeric| n.to_string(),
        )
    };
    assert_eq!(
        ex("epoch", "1 year 2 mons 3 days 04:05:06.5"),
        "37015506.500000"
    );
    assert_eq!(ex("second", "-1 day -00:01:02.5"), "-2.500000");
    assert_eq!(ex("quarter", "5 mons"), "2");
    assert_eq!(ex("century", "250 years"), "2");
    assert_eq!(ex("milliseconds", "1.5 seconds"), "1500.000");
    assert_eq!(ex("hour", "-30 hours"), "-30");
    assert_eq!(
        ex("dow", "1 day"),
        "ERROR 0A000: unit \"dow\" not supported for type interval"
    );
    assert_eq!(
        ex("nope", "1 day"),
        "ERROR 22023: unit \"nope\" not recognized for type interval"
    );
}

#[test]
fn now_is_after_2024() {
    assert!(now_micros() > parse_timestamp("2024-01-01").unwrap());
}

proptest! {
    #[test]
    fn ymd_days_round_trip(days in MIN_DATE..=MAX_DATE) {
        let (y, m, d) = days_to_ymd(days);
        prop_assert_eq!(ymd_to_days(y, m, d), Some(days));
    }

    #[test]
    fn timestamp_text_round_trip(micros in MIN_TIMESTAMP..=MAX_TIMESTAMP) {
        prop_assert_eq!(parse_timestamp(&ts_text(micros)), Ok(micros));
    }

    #[test]
    fn timestamptz_text_round_trip(micros in -4_000_000_000_000_000i64..4_000_000_000_000_000) {
        let berlin = zone("Europe/Berlin");
        prop_assert_eq!(parse_timestamptz(&tstz_text(micros, &berlin), &berlin), Ok(micros));
    }
}

/// The ISO fast path of `parse_date` agrees with the general parser on every form it takes.
#[test]
fn iso_date_fast_path_matches_the_general_parser() {
    for days in (-800_000..800_000).step_by(97) {
        let mut text = String::new();
        format_date(days, &mut text);
        assert_eq!(parse_date(&text).ok(), Some(days), "{text}");
        // The general parser, reached through a form the fast path does not take.
        assert_eq!(parse_date(&format!(" {text}")).ok(), Some(days), "{text}");
    }
    for bad in [
        "2023-02-29",
        "2024-13-01",
        "2024-00-10",
        "2024-04-31",
        "0000-01-01",
    ] {
        assert!(parse_date(bad).is_err(), "{bad}");
        assert_eq!(
            parse_date(bad).unwrap_err().sqlstate(),
            parse_date(&format!(" {bad}")).unwrap_err().sqlstate(),
            "{bad}"
        );
    }
    assert_eq!(date("2024-02-29"), "2024-02-29");
}

/// The ISO fast path's closed formula gives the general calendar's day number for every
/// year, month and day 1..=31 of years 1 to 9999, and refuses exactly the dates that do not
/// exist.
#[test]
fn iso_dates_match_the_calendar_everywhere() {
    for year in 1..=9999u32 {
        for month in 0..=13u32 {
            for day in 0..=32u32 {
                let text = format!("{year:04}-{month:02}-{day:02}");
                let want = if (1..=12).contains(&month) {
                    ymd_to_days(year as i32, month, day)
                } else {
                    None
                };
                assert_eq!(iso_date(&text), want, "{text}");
            }
        }
    }
    for bad in [
        "0000-01-01",
        "1999-1-08",
        "1999-01-8",
        "1999/01/08",
        "19a9-01-08",
        "+999-01-08",
    ] {
        assert_eq!(iso_date(bad), None, "{bad}");
    }
}
