//! Calendar, parsing, formatting, arithmetic and field tests against PostgreSQL 15 output.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap (HELPERS.md)

use super::*;

#[test]
fn calendar_round_trips_known_dates() {
    assert_eq!(ymd_to_days(2000, 1, 1), Some(0));
    assert_eq!(ymd_to_days(2024, 2, 30), None);
    assert_eq!(
        days_to_ymd(ymd_to_days(2024, 2, 29).unwrap()),
        (2024, 2, 29)
    );
}
