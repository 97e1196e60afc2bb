//! Expected strings are PostgreSQL 15's output for the same input and expressions.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap (HELPERS.md)

use super::*;
use std::hash::{BuildHasher, RandomState};

fn show(s: &str) -> String {
    match Interval::parse(s) {
        Ok(iv) => iv.to_string(),
        Err(e) => format!("ERROR {}: {e}", e.sqlstate()),
    }
}

fn iv(s: &str) -> Interval {
    Interval::parse(s).unwrap()
}

#[test]
fn input_and_output_match_postgres() {
    let cases = [
        ("5 minutes", "00:05:00"),
        ("1 hour", "01:00:00"),
        ("1 day 02:00:00", "1 day 02:00:00"),
        ("-1 year 3 mons", "-9 mons"),
        ("1.5 hours", "01:30:00"),
        ("P1DT2H", "1 day 02:00:00"),
        ("2 weeks ago", "-14 days"),
        ("00:05:00", "00:05:00"),
        ("1h30m", "01:30:00"),
        ("1 year 2 mons", "1 year 2 mons"),
        ("-00:00:01.5", "-00:00:01.5"),
        ("3 days", "3 days"),
        ("5", "00:00:05"),
        ("1.5", "00:00:01.5"),
        ("1-2", "1 year 2 mons"),
        ("@ 1 day", "1 day"),
        ("1.5 years", "1 year 6 mons"),
        ("1.5 months", "1 mon 15 days"),
        ("1 day -1 hour", "1 day -01:00:00"),
        ("-1 day +02:00", "-1 days +02:00:00"),
        ("1 day ago", "-1 days"),
        ("-1 days 2 hours ago", "1 day -02:00:00"),
        ("100 hours", "100:00:00"),
        ("1:30", "01:30:00"),
        ("05:00.5", "00:05:00.5"),
        ("P1Y2M3DT4H5M6.5S", "1 year 2 mons 3 days 04:05:06.5"),
        ("PT1.5H", "01:30:00"),
        ("P1W", "7 days"),
        ("P-1D", "-1 days"),
        ("1 week 2 days", "9 days"),
        ("0", "00:00:00"),
        ("1 mon -1 day", "1 mon -1 days"),
        ("1 millisecond", "00:00:00.001"),
        ("1.5 microseconds", "00:00:00.000001"),
        ("1 decade", "10 years"),
        ("2 centuries", "200 years"),
        ("1 yr 3 hrs 5 mins 2 secs", "1 year 03:05:02"),
        ("3 d", "3 days"),
        ("1 y 2 mon", "1 year 2 mons"),
        ("1 02:00:00", "1 day 02:00:00"),
        ("-1 02:00:00", "-1 days +02:00:00"),
        ("1 -02:00:00", "1 day -02:00:00"),
        ("+1 day", "1 day"),
        ("1.5 weeks", "10 days 12:00:00"),
        ("1 week 1 day", "8 days"),
        ("1 hour 30 minutes", "01:30:00"),
        ("  1 day  ", "1 day"),
        ("1 DAY", "1 day"),
        ("178000000 years", "178000000 years"),
        ("1 second 500 ms", "00:00:01.5"),
    ];
    for (input, want) in cases {
        assert_eq!(show(input), want, "{input}");
    }
}

#[test]
fn errors_match_postgres() {
    for bad in [
        "abc",
        "1 fortnight",
        "1 day 1 day",
        "1 hour 00:30:00",
        "p1d",
        "-P1D",
        "1 day 00:00:00 00:00:00",
        "",
        "day",
    ] {
        assert_eq!(
            show(bad),
            format!("ERROR 22007: invalid input syntax for type interval: \"{bad}\""),
            "{bad}"
        );
    }
    assert_eq!(
        show("2147483648 days"),
        "ERROR 22008: interval field value out of range: \"2147483648 days\""
    );
}

#[test]
fn multiplication_and_division_spill_like_postgres() {
    let mul = |s: &str, f: f64| iv(s).checked_mul(f).unwrap().to_string();
    let div = |s: &str, f: f64| iv(s).checked_div(f).unwrap().to_string();
    assert_eq!(mul("1 day", 1.5), "1 day 12:00:00");
    assert_eq!(mul("1 mon", 0.5), "15 days");
    assert_eq!(div("1 mon", 3.0), "10 days");
    assert_eq!(div("1 hour", 7.0), "00:08:34.285714");
    assert_eq!(mul("1 year 1 day", 2.5), "2 years 6 mons 2 days 12:00:00");
    assert_eq!(mul("-1 mon", 0.3), "-9 days");
    assert_eq!(
        iv("1 hour").checked_div(0.0).unwrap_err().sqlstate(),
        "22012"
    );
    assert_eq!(
        iv("178000000 years")
            .checked_mul(100.0)
            .unwrap_err()
            .to_string(),
        "interval out of range"
    );
    assert_eq!(
        iv("1 day").checked_mul(f64::NAN).unwrap_err().sqlstate(),
        "22008"
    );
}

#[test]
fn addition_and_comparison() {
    assert_eq!(
        iv("1 days 2 hours")
            .checked_sub(iv("3 days"))
            .unwrap()
            .to_string(),
        "-2 days +02:00:00"
    );
    assert_eq!(
        iv("1 mon").checked_add(iv("1 day")).unwrap().to_string(),
        "1 mon 1 day"
    );
    assert_eq!(iv("1 day").checked_neg().unwrap().to_string(), "-1 days");
    assert_eq!(
        Interval::new(i32::MAX, 0, 0)
            .checked_add(iv("1 mon"))
            .unwrap_err()
            .to_string(),
        "interval out of range"
    );
    assert_eq!(
        Interval::new(i32::MIN, 0, 0)
            .checked_neg()
            .unwrap_err()
            .sqlstate(),
        "22008"
    );
    // A month is 30 days and a day 24 hours when comparing, as in PostgreSQL.
    assert_eq!(iv("1 mon"), iv("30 days"));
    assert_eq!(iv("1 day"), iv("24 hours"));
    assert!(iv("1 mon") < iv("31 days"));
    let h = RandomState::new();
    assert_eq!(h.hash_one(iv("1 mon")), h.hash_one(iv("720 hours")));
}
