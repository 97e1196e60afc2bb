use super::*;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn binary(value: &Value) -> Vec<u8> {
    let mut out = BytesMut::new();
    write_binary(&mut out, value);
    out.to_vec()
}

fn num(mantissa: i128, scale: u8) -> Numeric {
    Numeric::new(mantissa, scale)
}

/// (mantissa, scale, what PostgreSQL 15's numeric_send produces for it).
const NUMERIC_VECTORS: &[(i128, u8, &str)] = &[
    (0, 0, "0000000000000000"),
    (0, 2, "0000000000000002"),
    (1, 0, "00010000000000000001"),
    (12_345_678, 3, "0003000100000003000109291a7c"),
    (-1, 4, "0001ffff400000040001"),
    (10_000, 0, "00010001000000000001"),
    (5, 1, "0001ffff000000011388"),
    (150, 2, "000200000000000200011388"),
    (
        -12_345_678_901_234_567_890_123_456_789_012_345_678,
        8,
        "000a000740000008000c0d801ed204d2162e23340d801ed204d2162e",
    ),
    (
        99_999_999_999_999_999_999_999_999_999_999_999_999,
        0,
        "000a0009000000000063270f270f270f270f270f270f270f270f270f",
    ),
    (1, 38, "0001fff6000000260064"),
    (100_000_000_000_000_000_000, 0, "00010005000000000001"),
    (-7000, 3, "00010000400000030007"),
];

#[test]
fn numeric_binary_matches_postgres() {
    for &(mantissa, scale, expected) in NUMERIC_VECTORS {
        let n = num(mantissa, scale);
        assert_eq!(
            binary(&Value::Numeric(n)),
            hex(expected),
            "{mantissa}e-{scale}"
        );
        let Value::Numeric(back) = decode_binary(DataType::NUMERIC, &hex(expected), 1).unwrap()
        else {
            panic!()
        };
        assert_eq!(
            (back.mantissa(), back.scale()),
            (mantissa, scale),
            "{expected}"
        );
    }
}

#[test]
fn numeric_round_trips() {
    let mut values = vec![i128::MAX / 2, -(10i128.pow(37)), 1, -1, 9999, 10001];
    let mut x: i128 = 7;
    for _ in 0..120 {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407)
            % 10i128.pow(38);
        values.push(x);
        values.push(x / 1_000_003);
    }
    for &mantissa in &values {
        for scale in [0u8, 1, 2, 3, 4, 5, 7, 8, 13, 20, 38] {
            let n = num(mantissa, scale);
            let bytes = binary(&Value::Numeric(n));
            let Value::Numeric(back) = decode_binary(DataType::NUMERIC, &bytes, 1).unwrap() else {
                panic!()
            };
            assert_eq!((back.mantissa(), back.scale()), (mantissa, scale));
        }
    }
}

#[test]
fn numeric_digits_below_dscale_are_truncated() {
    // 1.2345 sent with dscale 2 (what numeric_recv would do: 1.23).
    let bytes = hex("000200000000000200010929");
    let Value::Numeric(n) = decode_binary(DataType::NUMERIC, &bytes, 1).unwrap() else {
        panic!()
    };
    assert_eq!((n.mantissa(), n.scale()), (123, 2));
}

#[test]
fn bad_numerics_are_errors() {
    let code = |h: &str| {
        decode_binary(DataType::NUMERIC, &hex(h), 3)
            .unwrap_err()
            .sqlstate()
    };
    assert_eq!(code("0000000000"), "22P03"); // too short
    assert_eq!(code("00010000000000000001ff"), "22P03"); // trailing byte
    assert_eq!(code("0001000000000000"), "22P03"); // digit missing
    assert_eq!(code("00010000000000002710"), "22P03"); // digit 10000
    assert_eq!(code("00010000123400000001"), "22P03"); // bad sign
    assert_eq!(code("ffff000000000000"), "22P03"); // negative ndigits
    assert_eq!(code("00000000c0000000"), "0A000"); // NaN
    assert_eq!(code("00000000d0000000"), "0A000"); // +Infinity
    assert_eq!(code("00010064000000000001"), "22003"); // 10^400
    assert_eq!(code("0000000000000027"), "22003"); // dscale 39
}

#[test]
fn fixed_width_types() {
    let cases: Vec<(DataType, Value, &str)> = vec![
        (DataType::Bool, Value::Bool(true), "01"),
        (DataType::Bool, Value::Bool(false), "00"),
        (DataType::Int16, Value::Int16(-2), "fffe"),
        (DataType::Int32, Value::Int32(7), "00000007"),
        (DataType::Int64, Value::Int64(-1), "ffffffffffffffff"),
        (DataType::Float32, Value::Float32(-2.25), "c0100000"),
        (DataType::Float64, Value::Float64(1.5), "3ff8000000000000"),
        (DataType::Date, Value::Date(8796), "0000225c"),
        (
            DataType::Timestamp,
            Value::Timestamp(760_019_696_789_000),
            "0002b33be00ca608",
        ),
        (
            DataType::TimestampTz,
            Value::TimestampTz(-1),
            "ffffffffffffffff",
        ),
        (
            DataType::Interval,
            Value::Interval(Interval::new(14, 3, 14_706_500_000)),
            "000000036c9361a0000000030000000e",
        ),
        (DataType::Bytea, Value::Bytea(vec![0, 255, 10]), "00ff0a"),
        (DataType::Text, Value::Text("hé".into()), "68c3a9"),
        (DataType::Varchar(Some(3)), Value::Text("ab".into()), "6162"),
        (DataType::Char(Some(2)), Value::Text("x ".into()), "7820"),
    ];
    for (ty, value, expected) in cases {
        assert_eq!(binary(&value), hex(expected), "{ty}");
        let back = decode_binary(ty, &hex(expected), 1).unwrap();
        assert_eq!(binary(&back), hex(expected), "{ty}");
        assert_eq!(back.data_type().oid(), value.data_type().oid());
    }
}

#[test]
fn wrong_binary_lengths_are_22p03() {
    for (ty, bytes) in [
        (DataType::Bool, &[][..]),
        (DataType::Bool, &[1, 0]),
        (DataType::Int16, &[0, 0, 0, 1]),
        (DataType::Int32, &[0, 1]),
        (DataType::Int64, &[0, 0, 0, 1]),
        (DataType::Float32, &[0; 8]),
        (DataType::Float64, &[0; 4]),
        (DataType::Date, &[0; 8]),
        (DataType::Timestamp, &[0; 4]),
        (DataType::TimestampTz, &[0; 7]),
        (DataType::Interval, &[0; 12]),
        (DataType::Interval, &[0; 17]),
    ] {
        let e = decode_binary(ty, bytes, 2).unwrap_err();
        assert_eq!(e.sqlstate(), "22P03", "{ty}");
        assert_eq!(
            e.to_string(),
            "incorrect binary data format in bind parameter 2"
        );
    }
    assert_eq!(
        decode_binary(DataType::Text, b"\xff", 1)
            .unwrap_err()
            .sqlstate(),
        "22021"
    );
}

#[test]
fn params_null_text_and_unknown() {
    let tz = TimeZone::utc();
    assert!(
        decode_param(DataType::Int32, Format::Binary, None, 1, &tz)
            .unwrap()
            .is_null()
    );
    let Value::Text(s) =
        decode_param(DataType::Unknown, Format::Text, Some(b"abc"), 1, &tz).unwrap()
    else {
        panic!()
    };
    assert_eq!(s, "abc");
    let Value::Text(s) =
        decode_param(DataType::Unknown, Format::Binary, Some(b"xy"), 1, &tz).unwrap()
    else {
        panic!()
    };
    assert_eq!(s, "xy");
}

#[test]
fn text_output_of_common_types() {
    let tz = TimeZone::utc();
    let mut scratch = String::new();
    let mut out = BytesMut::new();
    for value in [
        Value::Int16(-3),
        Value::Int32(i32::MIN),
        Value::Int64(i64::MAX),
        Value::Bool(true),
        Value::Text("x".into()),
        Value::Null,
    ] {
        write_value(&mut out, &value, Format::Text, &tz, &mut scratch);
    }
    let mut expected = Vec::new();
    for s in ["-3", "-2147483648", "9223372036854775807", "t", "x"] {
        expected.extend_from_slice(&(s.len() as i32).to_be_bytes());
        expected.extend_from_slice(s.as_bytes());
    }
    expected.extend_from_slice(&(-1i32).to_be_bytes());
    assert_eq!(out.to_vec(), expected);
}

#[test]
fn format_codes() {
    assert_eq!(expand_formats(&[], 2, "x").unwrap(), vec![Format::Text; 2]);
    assert_eq!(
        expand_formats(&[1], 3, "x").unwrap(),
        vec![Format::Binary; 3]
    );
    assert_eq!(
        expand_formats(&[0, 1], 2, "x").unwrap(),
        vec![Format::Text, Format::Binary]
    );
    assert_eq!(
        expand_formats(&[0, 1], 3, "x").unwrap_err().sqlstate(),
        "08P01"
    );
    assert_eq!(
        expand_formats(&[2], 1, "x").unwrap_err().sqlstate(),
        "22023"
    );
    assert_eq!(wire_oid(DataType::Unknown), 25);
    assert_eq!(wire_oid(DataType::Int64), 20);
}
