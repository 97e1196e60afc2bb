//! The vectorized executor: plans run over columnar batches of ~2048 rows (Arrow arrays) instead
//! of one `Vec<Value>` at a time.
//!
//! Life of a query here: the row executor (`query.rs`) asks [`applies`] for each plan node it is
//! about to run; for the largest subtree [`supported`] accepts, [`run`] takes over. Scan →
//! filter → project (→ partial aggregate) chains become a [`operator::scan::Fragment`] that runs
//! on every shard holding the table, in parallel, materialising only the columns it reads;
//! everything above runs at the coordinator over the shards' batches (hash joins, the final
//! aggregate merge, sort / top-N, limit). The result returns to the row executor as rows.
//!
//! Invariant: results are identical to the row executor's (ARCHITECTURE invariant 3). Kernels
//! follow the row executor's semantics exactly; where one is missing, a node is evaluated row by
//! row by the row evaluator itself. Expressions are evaluated eagerly (all CASE branches, both
//! sides of AND/OR), a superset of what the row executor evaluates, so any error the row
//! executor would raise is raised here too; when this executor fails, the statement re-runs on
//! the row executor, which then reports its own result or error (setting
//! `omendb.vectorize = strict` turns the re-run off for tests, `off` disables this executor).
//! Must never change a result's values, types, scales or row multiset.

pub mod build;
mod coordinator;
pub mod data;
pub mod expr;
pub mod gather;
pub mod kernels;
pub mod keys;
pub mod operator;
mod pass;
mod prune;
pub mod segment;

use super::Row;
use super::query::Executor;
use crate::EngineError;
use crate::exec::eval::EvalEnv;
use data::Kind;
use omendb_planner::{Access, JoinKind, Plan};
use std::sync::atomic::{AtomicU64, Ordering};

/// The session setting that controls this executor: `on` (default), `off`, or `strict`.
pub const SETTING: &str = "omendb.vectorize";

/// How the session wants plans run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Off,
    On,
    /// Vectorized without falling back on errors (tests: errors surface instead of hiding).
    Strict,
}

pub fn mode(env: &EvalEnv) -> Mode {
    match env
        .settings
        .iter()
        .find(|(n, _)| n == SETTING)
        .map(|(_, v)| v.to_ascii_lowercase())
        .as_deref()
    {
        Some("off" | "false" | "0") => Mode::Off,
        Some("strict") => Mode::Strict,
        _ => Mode::On,
    }
}

/// `Some(strict)` when this executor should run `plan`.
pub fn applies(plan: &Plan, env: &EvalEnv) -> Option<bool> {
    let mode = mode(env);
    (mode != Mode::Off && supported(plan)).then_some(mode == Mode::Strict)
}

/// Whether every node of `plan` has a vectorized operator and every expression can be
/// evaluated over batches. New plan variants fall back to the row executor.
pub fn supported(plan: &Plan) -> bool {
    match plan {
        Plan::Scan {
            table,
            filter,
            access,
        } => {
            matches!(access, Access::Full | Access::ShardKey(_))
                && table.columns.iter().all(|c| Kind::of(c.ty).is_some())
                && filter.as_ref().is_none_or(expr::supported)
        }
        Plan::Filter { input, predicate } => supported(input) && expr::supported(predicate),
        Plan::Shared { input, .. } => supported(input),
        Plan::Project { input, exprs } => supported(input) && exprs.iter().all(expr::supported),
        Plan::Aggregate {
            input,
            groups,
            aggs,
        } => {
            supported(input)
                && groups.iter().all(expr::supported)
                && aggs.iter().all(operator::aggregate::call_supported)
        }
        Plan::Join {
            left,
            right,
            kind,
            on,
        } => {
            let keyed = on.as_ref().is_some_and(|on| {
                !operator::join::equi_keys(on, left.column_types().len())
                    .0
                    .is_empty()
            });
            let kind_ok = match kind {
                JoinKind::Inner | JoinKind::Cross => true,
                JoinKind::Left
                | JoinKind::Right
                | JoinKind::Semi
                | JoinKind::Anti
                | JoinKind::AntiNullAware => keyed,
                _ => false,
            };
            kind_ok
                && on.as_ref().is_none_or(expr::supported)
                && supported(left)
                && supported(right)
        }
        Plan::Sort { input, keys } => {
            supported(input) && keys.iter().all(|k| expr::supported(&k.expr))
        }
        Plan::Limit {
            input,
            limit,
            offset,
        } => {
            supported(input)
                && limit
                    .iter()
                    .chain(offset.iter())
                    .all(|e| e.is_row_independent())
        }
        _ => false,
    }
}

/// Plans (subtrees) this process has run to completion on the vectorized executor, so tests
/// and benchmarks can tell which executor answered.
pub static VECTORIZED_PLANS: AtomicU64 = AtomicU64::new(0);

/// Every row `plan` produces, computed over batches.
pub async fn run(exec: &Executor, plan: &Plan) -> Result<Vec<Row>, EngineError> {
    let batches = coordinator::exec_all(exec, plan).await?;
    VECTORIZED_PLANS.fetch_add(1, Ordering::Relaxed);
    Ok(build::to_rows(&batches))
}
