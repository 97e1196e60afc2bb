//! Expected strings and errors are PostgreSQL 15's for the same input.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap (HELPERS.md)

use super::*;

fn utc() -> TimeZone {
    TimeZone::utc()
}

fn parse(s: &str, ty: DataType) -> Result<Value, TypeError> {
    Value::from_text(s, ty, &utc())
}

/// Parse then print, as `select 'input'::type` does.
fn round_trip(s: &str, ty: DataType) -> String {
    match parse(s, ty) {
        Ok(v) => v.to_text(&utc()),
        Err(e) => format!("ERROR {}: {e}", e.sqlstate()),
    }
}

#[test]
fn integers() {
    assert_eq!(round_trip(" 12 ", DataType::Int32), "12");
    assert_eq!(round_trip("-0", DataType::Int32), "0");
    assert_eq!(round_trip("+5", DataType::Int16), "5");
    assert_eq!(
        round_trip("-9223372036854775808", DataType::Int64),
        "-9223372036854775808"
    );
    assert_eq!(round_trip("-32768", DataType::Int16), "-32768");
    let cases = [
        (
            "abc",
            DataType::Int32,
            "ERROR 22P02: invalid input syntax for type integer: \"abc\"",
        ),
        (
            "",
            DataType::Int32,
            "ERROR 22P02: invalid input syntax for type integer: \"\"",
        ),
        (
            "1.5",
            DataType::Int32,
            "ERROR 22P02: invalid input syntax for type integer: \"1.5\"",
        ),
        (
            "12a",
            DataType::Int64,
            "ERROR 22P02: invalid input syntax for type bigint: \"12a\"",
        ),
        (
            "99999999999",
            DataType::Int32,
            "ERROR 22003: value \"99999999999\" is out of range for type integer",
        ),
        (
            "32768",
            DataType::Int16,
            "ERROR 22003: value \"32768\" is out of range for type smallint",
        ),
        (
            "9223372036854775808",
            DataType::Int64,
            "ERROR 22003: value \"9223372036854775808\" is out of range for type bigint",
        ),
    ];
    for (input, ty, want) in cases {
        assert_eq!(round_trip(input, ty), want, "{input}");
    }
}

#[test]
fn booleans() {
    for t in ["t", "true", "TRUE", " yes ", "y", "on", "1", "TR", "Tru"] {
        assert_eq!(round_trip(t, DataType::Bool), "t", "{t}");
    }
    for f in ["f", "false", "no", "n", "off", "of", "0", "FA"] {
        assert_eq!(round_trip(f, DataType::Bool), "f", "{f}");
    }
    for bad in ["o", "2", "yess", "", "tru e"] {
        assert_eq!(
            round_trip(bad, DataType::Bool),
            format!("ERROR 22P02: invalid input syntax for type boolean: \"{bad}\"")
        );
    }
}

#[test]
fn bytea() {
    assert_eq!(round_trip("\\x01 02", DataType::Bytea), "\\x0102");
    assert_eq!(round_trip("\\xDEADbeef", DataType::Bytea), "\\xdeadbeef");
    assert_eq!(round_trip("ab\\001\\\\c", DataType::Bytea), "\\x6162015c63");
    assert_eq!(round_trip("abc", DataType::Bytea), "\\x616263");
    assert_eq!(round_trip("", DataType::Bytea), "\\x");
    assert_eq!(
        round_trip("\\x0", DataType::Bytea),
        "ERROR 22023: invalid hexadecimal data: odd number of digits"
    );
    assert_eq!(
        round_trip("\\xzz", DataType::Bytea),
        "ERROR 22023: invalid hexadecimal digit: \"z\""
    );
    assert_eq!(
        round_trip("\\9", DataType::Bytea),
        "ERROR 22P02: invalid input syntax for type bytea"
    );
}

#[test]
fn numbers_and_strings() {
    assert_eq!(round_trip("1e20", DataType::Float64), "1e+20");
    assert_eq!(round_trip(" 1.5 ", DataType::Float32), "1.5");
    assert_eq!(round_trip("-12.50", DataType::NUMERIC), "-12.50");
    let n42 = DataType::Numeric {
        precision: Some(4),
        scale: Some(2),
    };
    assert_eq!(round_trip("12.345", n42), "12.35");
    assert_eq!(
        round_trip("123.45", n42),
        "ERROR 22003: numeric field overflow"
    );
    assert_eq!(
        round_trip(" padded  ", DataType::Char(Some(3))),
        " padded  "
    );
    assert_eq!(round_trip("héllo", DataType::Text), "héllo");
    assert_eq!(round_trip("x", DataType::Unknown), "x");
    assert_eq!(Value::Null.to_text(&utc()), "");
    assert_eq!(Value::Bool(false).to_text(&utc()), "f");
    assert_eq!(Value::Float64(-0.0).to_text(&utc()), "-0");
}

#[test]
fn temporal_values() {
    assert_eq!(round_trip("2024-01-31", DataType::Date), "2024-01-31");
    assert_eq!(
        round_trip("2024-01-31 12:34:56.5", DataType::Timestamp),
        "2024-01-31 12:34:56.5"
    );
    assert_eq!(
        round_trip("2024-01-31 12:34:56.5+05:30", DataType::TimestampTz),
        "2024-01-31 07:04:56.5+00"
    );
    assert_eq!(
        round_trip("1 day 02:00:00", DataType::Interval),
        "1 day 02:00:00"
    );
    let kolkata = TimeZone::parse("Asia/Kolkata").unwrap();
    let v = Value::from_text("2024-07-01 00:00", DataType::TimestampTz, &kolkata).unwrap();
    assert_eq!(v.to_text(&kolkata), "2024-07-01 00:00:00+05:30");
    assert_eq!(v.to_text(&utc()), "2024-06-30 18:30:00+00");
}
