//! Calendar, parsing, formatting, arithmetic and field tests against PostgreSQL 15 output.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap (HELPERS.md)

use super::*;

#[test]
fn parses_and_prints_a_day_and_time() {
    assert_eq!(
        Interval::parse("1 day 02:00:00").unwrap().to_string(),
        "1 day 02:00:00"
    );
}
