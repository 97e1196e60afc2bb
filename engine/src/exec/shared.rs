//! Results of materialized common table expressions (`Plan::Shared`) within one statement:
//! the first reference computes the CTE, every later one reuses the result, whether it runs on
//! the row executor or the vectorized one.
//!
//! Owns only the per-statement cache. It must never outlive the statement's executor: a
//! prepared statement run again, or a later statement, computes its CTEs afresh.

use super::Row;
use super::vector::build::{from_rows, to_rows};
use super::vector::data::{Batch, Kind};
use crate::EngineError;
use std::cell::RefCell;
use std::collections::HashMap;

/// One CTE's result, in the form of the executor that computed it.
#[derive(Clone)]
enum Result_ {
    Rows(Vec<Row>),
    Batches(Vec<Batch>),
}

/// The CTE results of one statement, by `Plan::Shared` id.
#[derive(Default)]
pub struct SharedResults(RefCell<HashMap<usize, Result_>>);

impl SharedResults {
    /// CTE `id`'s rows, if a reference already computed them.
    pub fn rows(&self, id: usize) -> Option<Vec<Row>> {
        match self.0.borrow().get(&id)? {
            Result_::Rows(rows) => Some(rows.clone()),
            Result_::Batches(batches) => Some(to_rows(batches)),
        }
    }

    /// CTE `id`'s batches (columns of `kinds`), if a reference already computed them.
    pub fn batches(&self, id: usize, kinds: &[Kind]) -> Option<Result<Vec<Batch>, EngineError>> {
        match self.0.borrow().get(&id)? {
            Result_::Rows(rows) => Some(from_rows(rows, kinds)),
            Result_::Batches(batches) => Some(Ok(batches.clone())),
        }
    }

    pub fn keep_rows(&self, id: usize, rows: Vec<Row>) {
        self.0.borrow_mut().insert(id, Result_::Rows(rows));
    }

    pub fn keep_batches(&self, id: usize, batches: Vec<Batch>) {
        self.0.borrow_mut().insert(id, Result_::Batches(batches));
    }
}
