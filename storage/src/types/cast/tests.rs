//! Expected values and errors are PostgreSQL 15's for the same casts.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap (HELPERS.md)

use super::*;

fn utc() -> TimeZone {
    TimeZone::utc()
}

fn cast(v: Value, to: DataType) -> String {
    match v.cast(to, &utc()) {
        Ok(v) => v.to_text(&utc()),
        Err(e) => format!("ERROR {}: {e}", e.sqlstate()),
    }
}

fn assign(v: Value, to: DataType) -> String {
    match v.assign(to, &utc()) {
        Ok(v) => v.to_text(&utc()),
        Err(e) => format!("ERROR {}: {e}", e.sqlstate()),
    }
}

fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}

fn num(s: &str) -> Value {
    Value::Numeric(Numeric::parse(s).unwrap())
}

#[test]
fn floats_round_half_even_numerics_half_away() {
    assert_eq!(cast(Value::Float64(2.5), DataType::Int32), "2");
    assert_eq!(cast(Value::Float64(3.5), DataType::Int32), "4");
    assert_eq!(cast(Value::Float64(-2.5), DataType::Int32), "-2");
    assert_eq!(cast(Value::Float32(0.5), DataType::Int16), "0");
    assert_eq!(cast(num("2.5"), DataType::Int32), "3");
    assert_eq!(cast(num("-2.5"), DataType::Int32), "-3");
    assert_eq!(cast(num("2.4"), DataType::Int64), "2");
}

#[test]
fn integer_overflow_names_the_target() {
    assert_eq!(
        cast(Value::Int32(32768), DataType::Int16),
        "ERROR 22003: smallint out of range"
    );
    assert_eq!(
        cast(Value::Int64(1 << 40), DataType::Int32),
        "ERROR 22003: integer out of range"
    );
    assert_eq!(
        cast(Value::Float64(f64::NAN), DataType::Int32),
        "ERROR 22003: integer out of range"
    );
    assert_eq!(
        cast(Value::Float64(1e19), DataType::Int64),
        "ERROR 22003: bigint out of range"
    );
    assert_eq!(
        cast(num("1e30"), DataType::Int64),
        "ERROR 22003: bigint out of range"
    );
    assert_eq!(
        cast(num("40000"), DataType::Int16),
        "ERROR 22003: smallint out of range"
    );
    assert_eq!(cast(Value::Int16(-5), DataType::Int64), "-5");
}

#[test]
fn float_and_numeric_conversions() {
    assert_eq!(
        cast(Value::Float32(0.1), DataType::Float64),
        "0.10000000149011612"
    );
    assert_eq!(cast(Value::Float64(0.1), DataType::Float32), "0.1");
    assert_eq!(cast(num("1.5"), DataType::Float32), "1.5");
    assert_eq!(cast(Value::Float64(0.1), DataType::NUMERIC), "0.1");
    assert_eq!(
        cast(Value::Float64(1e300), DataType::Float32),
        "ERROR 22003: value out of range: overflow"
    );
    assert_eq!(
        cast(Value::Float64(1e-300), DataType::Float32),
        "ERROR 22003: value out of range: underflow"
    );
    let n101 = DataType::Numeric {
        precision: Some(10),
        scale: Some(1),
    };
    assert_eq!(cast(num("12.45"), n101), "12.5");
    assert_eq!(cast(Value::Int32(7), n101), "7.0");
    let n42 = DataType::Numeric {
        precision: Some(4),
        scale: Some(2),
    };
    assert_eq!(
        cast(Value::Int32(100), n42),
        "ERROR 22003: numeric field overflow"
    );
    assert_eq!(cast(Value::Int64(3), DataType::Float64), "3");
}

#[test]
fn bool_casts_only_to_int4_and_text() {
    assert_eq!(cast(Value::Bool(true), DataType::Int32), "1");
    assert_eq!(cast(Value::Int32(0), DataType::Bool), "f");
    assert_eq!(cast(Value::Int32(-3), DataType::Bool), "t");
    assert_eq!(cast(Value::Bool(true), DataType::Text), "true");
    assert_eq!(
        cast(Value::Int64(1), DataType::Bool),
        "ERROR 42846: cannot cast type bigint to boolean"
    );
    assert_eq!(
        cast(Value::Bool(true), DataType::Int64),
        "ERROR 42846: cannot cast type boolean to bigint"
    );
}

#[test]
fn refused_casts_are_42846() {
    assert_eq!(
        cast(
            Value::Interval(crate::types::Interval::new(0, 1, 0)),
            DataType::Int32
        ),
        "ERROR 42846: cannot cast type interval to integer"
    );
    assert_eq!(
        cast(Value::Date(0), DataType::Int32),
        "ERROR 42846: cannot cast type date to integer"
    );
    assert_eq!(
        cast(Value::Int32(1), DataType::Date),
        "ERROR 42846: cannot cast type integer to date"
    );
    assert_eq!(
        cast(Value::Bytea(vec![1]), DataType::Int32),
        "ERROR 42846: cannot cast type bytea to integer"
    );
}

#[test]
fn null_casts_to_null() {
    assert!(Value::Null.cast(DataType::Int32, &utc()).unwrap().is_null());
    assert!(
        Value::Null
            .assign(DataType::Char(Some(3)), &utc())
            .unwrap()
            .is_null()
    );
}

#[test]
fn text_parses_like_input() {
    assert_eq!(cast(text("42"), DataType::Int64), "42");
    assert_eq!(
        cast(text("abc"), DataType::Date),
        "ERROR 22007: invalid input syntax for type date: \"abc\""
    );
    assert_eq!(cast(text("yes"), DataType::Bool), "t");
    assert_eq!(cast(text("abc"), DataType::Bytea), "\\x616263");
    assert_eq!(cast(Value::Int32(-7), DataType::Text), "-7");
    assert_eq!(cast(num("12.50"), DataType::Varchar(None)), "12.50");
    assert_eq!(cast(Value::Date(0), DataType::Text), "2000-01-01");
}

#[test]
fn string_lengths_explicit_and_assignment() {
    assert_eq!(cast(text("abcdef"), DataType::Varchar(Some(3))), "abc");
    assert_eq!(cast(text("abcdefg"), DataType::Char(Some(3))), "abc");
    assert_eq!(cast(text("ab"), DataType::Char(Some(5))), "ab   ");
    assert_eq!(cast(text("ab "), DataType::Varchar(Some(5))), "ab ");
    assert_eq!(
        cast(text("héllo wörld"), DataType::Varchar(Some(5))),
        "héllo"
    );
    assert_eq!(assign(text("abc   "), DataType::Varchar(Some(5))), "abc  ");
    assert_eq!(
        assign(text("abcdefg"), DataType::Varchar(Some(5))),
        "ERROR 22001: value too long for type character varying(5)"
    );
    assert_eq!(
        assign(text("abcd"), DataType::Char(Some(3))),
        "ERROR 22001: value too long for type character(3)"
    );
    assert_eq!(assign(text("a"), DataType::Char(Some(3))), "a  ");
    assert_eq!(
        assign(Value::Int32(123456), DataType::Varchar(Some(3))),
        "ERROR 22001: value too long for type character varying(3)"
    );
    let padded = Value::Text("ab   ".into());
    assert_eq!(
        padded
            .cast_from(DataType::Char(Some(5)), DataType::Text, &utc())
            .unwrap()
            .to_text(&utc()),
        "ab"
    );
}

#[test]
fn dates_and_timestamps_convert_through_the_zone() {
    let kolkata = TimeZone::parse("Asia/Kolkata").unwrap();
    let day = Value::from_text("2024-01-31", DataType::Date, &utc()).unwrap();
    assert_eq!(
        cast(day.clone(), DataType::Timestamp),
        "2024-01-31 00:00:00"
    );
    assert_eq!(
        cast(day.clone(), DataType::TimestampTz),
        "2024-01-31 00:00:00+00"
    );
    let tz = day.cast(DataType::TimestampTz, &kolkata).unwrap();
    assert_eq!(tz.to_text(&utc()), "2024-01-30 18:30:00+00");
    let instant = Value::from_text("2024-01-31 23:30+00", DataType::TimestampTz, &utc()).unwrap();
    assert_eq!(cast(instant.clone(), DataType::Date), "2024-01-31");
    assert_eq!(
        instant
            .clone()
            .cast(DataType::Date, &kolkata)
            .unwrap()
            .to_text(&utc()),
        "2024-02-01"
    );
    assert_eq!(
        instant
            .cast(DataType::Timestamp, &kolkata)
            .unwrap()
            .to_text(&utc()),
        "2024-02-01 05:00:00"
    );
    let ts = Value::from_text("2024-01-31 12:34:56.5", DataType::Timestamp, &utc()).unwrap();
    assert_eq!(cast(ts.clone(), DataType::Date), "2024-01-31");
    assert_eq!(
        ts.cast(DataType::TimestampTz, &kolkata)
            .unwrap()
            .to_text(&kolkata),
        "2024-01-31 12:34:56.5+05:30"
    );
    assert_eq!(cast(text("infinity"), DataType::Date), "infinity");
    let inf = Value::Date(datetime::DATE_INFINITY);
    assert_eq!(cast(inf, DataType::Timestamp), "infinity");
}
