//! PostgreSQL intervals: months, days and microseconds kept apart, as PostgreSQL does.
#![allow(unused_variables)]

use super::TypeError;
use std::cmp::Ordering;
use std::fmt;

/// An interval; comparisons normalise a month to 30 days and a day to 24 hours, as PostgreSQL does.
#[derive(Debug, Clone, Copy, Default)]
pub struct Interval {
    pub months: i32,
    pub days: i32,
    pub micros: i64,
}

impl Interval {
    pub fn new(months: i32, days: i32, micros: i64) -> Interval {
        Interval {
            months,
            days,
            micros,
        }
    }
    /// PostgreSQL interval input: `'5 minutes'`, `'1 day 02:00:00'`, `'-1 year 3 mons'`, `'1h 30m'`,
    /// `'P1DT2H'`, `'00:05:00'`, `'1.5 hours'`, `'2 weeks ago'`.
    pub fn parse(s: &str) -> Result<Interval, TypeError> {
        todo!()
    }
    pub fn checked_add(self, other: Interval) -> Result<Interval, TypeError> {
        todo!()
    }
    pub fn checked_sub(self, other: Interval) -> Result<Interval, TypeError> {
        todo!()
    }
    pub fn checked_neg(self) -> Result<Interval, TypeError> {
        todo!()
    }
    /// interval * float8 with PostgreSQL's spill of fractional months into days and days into time.
    pub fn checked_mul(self, factor: f64) -> Result<Interval, TypeError> {
        todo!()
    }
    pub fn checked_div(self, divisor: f64) -> Result<Interval, TypeError> {
        todo!()
    }
    /// Total microseconds with a month as 30 days (for comparison and hashing).
    pub fn normalized_micros(self) -> i128 {
        todo!()
    }
}

impl PartialEq for Interval {
    fn eq(&self, other: &Interval) -> bool {
        self.normalized_micros() == other.normalized_micros()
    }
}
impl Eq for Interval {}
impl PartialOrd for Interval {
    fn partial_cmp(&self, other: &Interval) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Interval {
    fn cmp(&self, other: &Interval) -> Ordering {
        self.normalized_micros().cmp(&other.normalized_micros())
    }
}
impl std::hash::Hash for Interval {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.normalized_micros().hash(state)
    }
}
impl fmt::Display for Interval {
    /// PostgreSQL's `IntervalStyle = postgres` output: `1 year 2 mons 3 days 04:05:06.5`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        todo!()
    }
}
