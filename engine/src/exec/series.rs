//! `generate_series` in FROM: the values of a `Plan::Series`, produced in order a batch at a
//! time, so a LIMIT above the series stops its generation and a cancel stops it between
//! batches.
//!
//! Semantics are PostgreSQL's: NULL arguments give no rows, a zero step is 22023, an integer
//! series ends quietly where the next value would overflow its type, a timestamp series adds
//! the interval to the previous value (so month steps clamp cumulatively: Jan 31, Feb 29,
//! Mar 29). Must never produce more rows than its consumer asks for.

use super::Row;
use super::eval::EvalEnv;
use super::ops::compare;
use crate::EngineError;
use omendb_storage::types::datetime::{self, TimeZone};
use omendb_storage::types::{DataType, Interval, Value};
use std::cmp::Ordering;

/// Rows produced between two cancellation checks.
pub(crate) const SERIES_BATCH: usize = 4096;

/// Where a series stands: the next value to produce, or done.
pub(crate) struct SeriesCursor<'e> {
    next: Option<Value>,
    stop: Value,
    step: Step<'e>,
    /// Stepping towards larger values (a positive step).
    ascending: bool,
}

enum Step<'e> {
    Int(i64),
    Interval {
        step: Interval,
        /// The session zone, for `timestamptz` series (day and month steps follow local time).
        tz: Option<&'e TimeZone>,
    },
}

impl<'e> SeriesCursor<'e> {
    /// A cursor at `start`; `None` when an argument is NULL (the series is empty).
    pub fn new(
        start: Value,
        stop: Value,
        step: Value,
        ty: DataType,
        env: &'e EvalEnv,
    ) -> Result<Option<SeriesCursor<'e>>, EngineError> {
        if start.is_null() || stop.is_null() || step.is_null() {
            return Ok(None);
        }
        let (step, ascending) = match step {
            Value::Interval(iv) => {
                let tz = (ty == DataType::TimestampTz).then_some(&env.tz);
                let sign = iv.cmp(&Interval::default());
                (Step::Interval { step: iv, tz }, sign)
            }
            other => {
                let n = int_value(&other)?;
                (Step::Int(n), n.cmp(&0))
            }
        };
        if ascending == Ordering::Equal {
            return Err(EngineError::sql("22023", "step size cannot equal zero"));
        }
        Ok(Some(SeriesCursor {
            next: Some(start),
            stop,
            step,
            ascending: ascending == Ordering::Greater,
        }))
    }

    pub fn is_done(&self) -> bool {
        self.next.is_none()
    }

    /// Append up to `max` more values to `out`, one row each.
    pub fn fill(&mut self, out: &mut Vec<Row>, max: usize) -> Result<(), EngineError> {
        for _ in 0..max {
            let Some(current) = self.next.take() else {
                return Ok(());
            };
            let past_stop = match compare(&current, &self.stop) {
                Some(Ordering::Greater) => self.ascending,
                Some(Ordering::Less) => !self.ascending,
                _ => false,
            };
            if past_stop {
                return Ok(());
            }
            self.next = self.advance(&current)?;
            out.push(vec![current]);
        }
        Ok(())
    }

    /// The value after `current`, or `None` where the series must end: an integer past its
    /// type's range, or a timestamp the step no longer moves (infinity).
    fn advance(&self, current: &Value) -> Result<Option<Value>, EngineError> {
        Ok(match (&self.step, current) {
            (Step::Int(step), Value::Int32(n)) => i32::try_from(*step)
                .ok()
                .and_then(|s| n.checked_add(s))
                .map(Value::Int32),
            (Step::Int(step), Value::Int64(n)) => n.checked_add(*step).map(Value::Int64),
            (Step::Interval { step, tz: None }, Value::Timestamp(t)) => {
                let next = datetime::timestamp_add_interval(*t, *step)?;
                (next != *t).then_some(Value::Timestamp(next))
            }
            (Step::Interval { step, tz: Some(tz) }, Value::TimestampTz(t)) => {
                let next = datetime::timestamptz_add_interval(*t, *step, tz)?;
                (next != *t).then_some(Value::TimestampTz(next))
            }
            (_, other) => {
                return Err(EngineError::Internal(format!(
                    "generate_series over {}",
                    other.data_type()
                )));
            }
        })
    }
}

fn int_value(v: &Value) -> Result<i64, EngineError> {
    match v {
        Value::Int16(n) => Ok(i64::from(*n)),
        Value::Int32(n) => Ok(i64::from(*n)),
        Value::Int64(n) => Ok(*n),
        other => Err(EngineError::Internal(format!(
            "generate_series step of type {}",
            other.data_type()
        ))),
    }
}
