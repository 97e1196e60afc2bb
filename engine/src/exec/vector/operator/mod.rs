//! Vectorized operators: each consumes and produces batches; one operator per file.

pub mod aggregate;
mod dict_filter;
mod flow;
pub mod join;
mod join_keys;
pub mod key_filter;
mod range_test;
pub mod scan;
pub mod sort;

use super::data::Batch;
use super::expr;
use super::gather::take_batch;
use crate::EngineError;
use crate::exec::eval::EvalEnv;
use omendb_planner::Expr;

/// The rows of `b` where `predicate` is TRUE.
pub fn filter(
    b: Batch,
    predicate: &Expr,
    env: &EvalEnv,
    selection: &mut Vec<u32>,
) -> Result<Batch, EngineError> {
    expr::select(predicate, &b, env, selection)?;
    if selection.len() == b.len {
        return Ok(b);
    }
    take_batch(&b, selection)
}

/// `exprs` over every row of `b`.
pub fn project(b: &Batch, exprs: &[Expr], env: &EvalEnv) -> Result<Batch, EngineError> {
    let columns = exprs
        .iter()
        .map(|e| expr::eval(e, b, env))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Batch::new(columns, b.len))
}
