//! Expected strings are PostgreSQL 15's output for the same expressions.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap (HELPERS.md)

use super::*;
use proptest::prelude::*;
use std::hash::{BuildHasher, RandomState};

fn n(s: &str) -> Numeric {
    Numeric::parse(s).unwrap()
}

fn text(v: Result<Numeric, TypeError>) -> String {
    v.map(|x| x.to_string())
        .unwrap_or_else(|e| format!("ERROR {e}"))
}

#[test]
fn input_matches_postgres() {
    let cases = [
        ("  -12.50 ", "-12.50"),
        ("1e3", "1000"),
        (".5", "0.5"),
        ("-0.0", "0.0"),
        ("1.50e1", "15.0"),
        ("1e-3", "0.001"),
        ("5.", "5"),
        ("+3", "3"),
        ("0", "0"),
        ("-1.5E+2", "-150"),
        (
            "99999999999999999999999999999999999999",
            "99999999999999999999999999999999999999",
        ),
        (
            "0.00000000000000000000000000000000000001",
            "0.00000000000000000000000000000000000001",
        ),
    ];
    for (input, want) in cases {
        assert_eq!(n(input).to_string(), want, "{input}");
    }
}

#[test]
fn bad_input_is_22p02_and_wide_input_22003() {
    for bad in ["abc", "1e", "", " ", "1.2.3", "--1", "1 2", "e5", "."] {
        let e = Numeric::parse(bad).unwrap_err();
        assert_eq!(e.sqlstate(), "22P02", "{bad}");
        assert_eq!(
            e.to_string(),
            format!("invalid input syntax for type numeric: \"{bad}\"")
        );
    }
    let e = Numeric::parse("123456789012345678901234567890123456789").unwrap_err();
    assert_eq!(
        (e.sqlstate(), e.to_string().as_str()),
        ("22003", "value overflows numeric format")
    );
    assert_eq!(Numeric::parse("NaN").unwrap_err().sqlstate(), "0A000");
    assert_eq!(Numeric::parse("-Infinity").unwrap_err().sqlstate(), "0A000");
}

#[test]
fn division_uses_select_div_scale() {
    let cases = [
        ("1", "3", "0.33333333333333333333"),
        ("10.00", "4", "2.5000000000000000"),
        ("0", "3", "0.00000000000000000000"),
        ("1e30", "7", "142857142857142857142857142857"),
        ("2", "0.0003", "6666.6666666666666667"),
        ("1e-10", "3", "0.0000000000333333333333333333"),
        ("1.5", "3", "0.50000000000000000000"),
        ("-7", "2", "-3.5000000000000000"),
        ("43200000000", "86400000000", "0.50000000000000000000"),
    ];
    for (a, b, want) in cases {
        assert_eq!(text(n(a).checked_div(n(b))), want, "{a}/{b}");
    }
    assert_eq!(n("1").checked_div(n("0")).unwrap_err().sqlstate(), "22012");
    assert_eq!(
        n("1").checked_rem(n("0.0")).unwrap_err().sqlstate(),
        "22012"
    );
}

#[test]
fn arithmetic_scales_match_postgres() {
    assert_eq!(text(n("123.456").checked_rem(n("10"))), "3.456");
    assert_eq!(text(n("-7.5").checked_rem(n("2"))), "-1.5");
    assert_eq!(text(n("1.5").checked_mul(n("2.25"))), "3.375");
    assert_eq!(text(n("1.10").checked_add(n("2.205"))), "3.305");
    assert_eq!(text(n("1.10").checked_sub(n("2.2"))), "-1.10");
    assert_eq!(text(n("0.10").checked_mul(n("0.10"))), "0.0100");
    let max = n("99999999999999999999999999999999999999");
    assert_eq!(max.checked_add(n("1")).unwrap_err().sqlstate(), "22003");
    assert_eq!(max.checked_mul(n("10")).unwrap_err().sqlstate(), "22003");
    // PostgreSQL: 1524157875323883675.049533479957338669120562399025 (49 digits); beyond 38
    // digits the fraction is rounded, which PostgreSQL's round(…, 19) confirms.
    assert_eq!(
        text(n("1234567890.123456789012345").checked_mul(n("1234567890.123456789012345"))),
        "1524157875323883675.0495334799573386691"
    );
}

#[test]
fn rounding_matches_postgres() {
    assert_eq!(text(n("1234.5").round(-2)), "1200");
    assert_eq!(text(n("1.5").round(3)), "1.500");
    assert_eq!(text(n("2.5").round(0)), "3");
    assert_eq!(text(n("-2.5").round(0)), "-3");
    assert_eq!(text(n("-1.57").trunc(1)), "-1.5");
    assert_eq!(text(n("1999").trunc(-3)), "1000");
    assert_eq!(n("-1.5").floor().to_string(), "-2");
    assert_eq!(n("-1.5").ceil().to_string(), "-1");
    assert_eq!(n("1.5").ceil().to_string(), "2");
    assert_eq!(n("7").floor().to_string(), "7");
    assert_eq!(n("2.5").to_i64().unwrap(), 3);
    assert_eq!(n("-2.5").to_i64().unwrap(), -3);
    assert_eq!(
        n("9223372036854775808").to_i64().unwrap_err().to_string(),
        "bigint out of range"
    );
}

#[test]
fn fit_enforces_typmod() {
    assert_eq!(text(n("12.345").fit(4, 2)), "12.35");
    let e = n("123.45").fit(4, 2).unwrap_err();
    assert_eq!(
        (e.sqlstate(), e.to_string().as_str()),
        ("22003", "numeric field overflow")
    );
    assert!(n("0.001").fit(2, 5).is_err());
    assert_eq!(text(n("0.0001").fit(2, 5)), "0.00010");
    assert_eq!(
        text(n("99.995").fit(4, 2)).as_str(),
        "ERROR numeric field overflow"
    );
    assert_eq!(text(n("-5").fit(3, 0)), "-5");
}

#[test]
fn floats_convert_with_15_and_6_digits() {
    assert_eq!(Numeric::from_f64(0.1).unwrap().to_string(), "0.1");
    assert_eq!(
        Numeric::from_f64(1e20).unwrap().to_string(),
        "100000000000000000000"
    );
    assert_eq!(
        Numeric::from_f64(1.234_567_890_123_456_7)
            .unwrap()
            .to_string(),
        "1.23456789012346"
    );
    assert_eq!(
        Numeric::from_f64(1e-20).unwrap().to_string(),
        "0.00000000000000000001"
    );
    assert_eq!(Numeric::from_f32(0.1).unwrap().to_string(), "0.1");
    assert_eq!(Numeric::from_f32(123456.7).unwrap().to_string(), "123457");
    assert_eq!(Numeric::from_f64(-0.0).unwrap().to_string(), "0");
    assert_eq!(Numeric::from_f64(f64::NAN).unwrap_err().sqlstate(), "0A000");
    assert_eq!(n("0.3").to_f64(), 0.3);
    assert_eq!(
        n("-123456789012345678901234.5").to_f64(),
        -123456789012345678901234.5
    );
}

#[test]
fn equality_ordering_and_hash_are_by_value() {
    let h = RandomState::new();
    assert_eq!(n("1.0"), n("1.00"));
    assert_eq!(h.hash_one(n("1.0")), h.hash_one(n("1.00")));
    assert_eq!(h.hash_one(n("0.000")), h.hash_one(n("0")));
    assert!(n("1.01") > n("1.001"));
    assert!(n("-1.01") < n("-1.001"));
    assert!(n("-1") < n("0.5"));
    let big = n("99999999999999999999999999999999999999");
    let tiny = n("0.00000000000000000000000000000000000001");
    assert!(big > tiny);
    assert!(tiny < big);
    assert!(big.neg() < tiny.neg());
}

fn decimal_text() -> impl Strategy<Value = String> {
    (any::<bool>(), "[0-9]{1,20}", "[0-9]{0,18}").prop_map(|(neg, i, f)| {
        let sign = if neg { "-" } else { "" };
        if f.is_empty() {
            format!("{sign}{i}")
        } else {
            format!("{sign}{i}.{f}")
        }
    })
}

/// PostgreSQL prints the digits it read, minus redundant leading zeros.
fn canonical(s: &str) -> String {
    let (sign, body) = s.strip_prefix('-').map_or(("", s), |b| ("-", b));
    let (i, f) = body.split_once('.').unwrap_or((body, ""));
    let i = i.trim_start_matches('0');
    let i = if i.is_empty() { "0" } else { i };
    let zero = i == "0" && f.bytes().all(|b| b == b'0');
    let sign = if zero { "" } else { sign };
    if f.is_empty() {
        format!("{sign}{i}")
    } else {
        format!("{sign}{i}.{f}")
    }
}

proptest! {
    #[test]
    fn parse_format_round_trip(s in decimal_text()) {
        prop_assert_eq!(n(&s).to_string(), canonical(&s));
    }

    #[test]
    fn integer_arithmetic_is_exact(a in -(1i64 << 60)..(1i64 << 60), b in -(1i64 << 60)..(1i64 << 60)) {
        let (x, y) = (Numeric::from_i64(a), Numeric::from_i64(b));
        let (wa, wb) = (i128::from(a), i128::from(b));
        prop_assert_eq!(x.checked_add(y).unwrap().mantissa(), wa + wb);
        prop_assert_eq!(x.checked_sub(y).unwrap().mantissa(), wa - wb);
        prop_assert_eq!(x.checked_mul(y).unwrap().mantissa(), wa * wb);
        prop_assert_eq!(x.cmp(&y), a.cmp(&b));
    }

    #[test]
    fn scaled_arithmetic_matches_i128(a in -(1i64 << 50)..(1i64 << 50), b in -(1i64 << 50)..(1i64 << 50), sa in 0u8..10, sb in 0u8..10) {
        let (x, y) = (Numeric::new(i128::from(a), sa), Numeric::new(i128::from(b), sb));
        let s = sa.max(sb);
        let wa = i128::from(a) * 10i128.pow(u32::from(s - sa));
        let wb = i128::from(b) * 10i128.pow(u32::from(s - sb));
        let sum = x.checked_add(y).unwrap();
        prop_assert_eq!((sum.mantissa(), sum.scale()), (wa + wb, s));
        let p = x.checked_mul(y).unwrap();
        prop_assert_eq!((p.mantissa(), p.scale()), (i128::from(a) * i128::from(b), sa + sb));
    }

    #[test]
    fn division_times_divisor_is_close(a in -(1i64 << 40)..(1i64 << 40), b in 1i64..(1i64 << 30)) {
        let q = Numeric::from_i64(a).checked_div(Numeric::from_i64(b)).unwrap();
        let expected = a as f64 / b as f64;
        prop_assert!((q.to_f64() - expected).abs() <= expected.abs() * 1e-12 + 1e-12);
    }
}

/// The allocation-free fast path of `Numeric::parse` gives exactly the general parser's
/// mantissa and scale on every string it takes.
#[test]
fn plain_decimal_fast_path_matches_the_general_parser() {
    let mut cases: Vec<String> = vec![
        "0",
        "-0",
        "+0",
        "-0.00",
        "1.",
        ".5",
        "-.5",
        "007",
        "12345.67",
        "-12345.670",
        "999999999999999999",
        "-999999999999999999",
        "0.000000000000000001",
        "1.2.3",
        "",
        "+",
        "-",
        ".",
        "1e5",
        " 1",
        "1 ",
        "12a",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..5000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let int = x % 10_000_000_000;
        let frac_digits = (x >> 40) % 6;
        let sign = if x & 1 == 0 { "-" } else { "" };
        let frac = (x >> 20) % 10u64.pow(frac_digits as u32).max(1);
        cases.push(if frac_digits == 0 {
            format!("{sign}{int}")
        } else {
            format!("{sign}{int}.{frac:0width$}", width = frac_digits as usize)
        });
    }
    for s in &cases {
        let fast = super::plain_decimal(s).map(|n| (n.mantissa(), n.scale()));
        let general = super::parse_finite(s.trim())
            .and_then(Result::ok)
            .map(|n| (n.mantissa(), n.scale()));
        if let Some(f) = fast {
            assert_eq!(Some(f), general, "{s:?}");
        }
        let parsed = Numeric::parse(s).ok().map(|n| (n.mantissa(), n.scale()));
        if s.trim() == s.as_str() {
            assert_eq!(parsed, general, "{s:?}");
        }
    }
}
