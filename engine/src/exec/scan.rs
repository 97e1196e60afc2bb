//! The shard side of reading and locking rows: reads at the statement's snapshot, locks with
//! PostgreSQL's rules for rows changed after it.

use super::Row;
use super::eval::{EvalEnv, eval_predicate};
use crate::EngineError;
use crate::runtime::event::Awaited;
use crate::shard::ShardState;
use omendb_planner::Expr;
use omendb_storage::row::{Lock, ReadView, RowError, RowId, SavedIntent};
use omendb_storage::schema::TableSchema;
use omendb_storage::types::Value;
use std::sync::Arc;

/// A shard read's answer, or the end of a prepared multi-shard commit to wait for first (its
/// commit timestamp may be within the snapshot while its rows are not applied here yet).
pub enum Read<T> {
    Done(T),
    Wait(Awaited),
}

/// `Wait` for the prepared transaction in the way of readers of `table` here, if any.
pub fn prepared_wait<T>(shard: &ShardState, table: &TableSchema) -> Option<Read<T>> {
    shard
        .prepared_in_way(table.id)
        .map(|w| Read::Wait(shard.when_ended(w)))
}

/// Rows of `table` on this shard visible to the statement, filtered.
pub fn scan_rows(
    shard: &ShardState,
    table: &Arc<TableSchema>,
    key: Option<&[u8]>,
    filter: Option<&Expr>,
    env: &EvalEnv,
) -> Result<Read<Vec<Row>>, EngineError> {
    if let Some(wait) = prepared_wait(shard, table) {
        return Ok(wait);
    }
    let mut out = Vec::new();
    visit_matching(shard, table, key, filter, env, |_, row| {
        out.push(row.to_vec())
    })?;
    Ok(Read::Done(out))
}

/// Visit the rows visible to the statement that match `filter` (the one with `key`, if given).
fn visit_matching(
    shard: &ShardState,
    table: &Arc<TableSchema>,
    key: Option<&[u8]>,
    filter: Option<&Expr>,
    env: &EvalEnv,
    mut found: impl FnMut(RowId, &[Value]),
) -> Result<(), EngineError> {
    let view = env.view();
    shard.with_table(table, |t| {
        let mut error = None;
        let mut visit = |id: RowId, row: &[Value]| match filter.map(|f| eval_predicate(f, row, env))
        {
            Some(Err(e)) => {
                error = Some(e);
                false
            }
            Some(Ok(false)) => true,
            _ => {
                found(id, row);
                true
            }
        };
        match key {
            Some(k) => {
                if let Some(id) = t.lookup(k, view)
                    && let Some(row) = t.get(id, view)
                {
                    visit(id, row);
                }
            }
            None => t.scan(view, &mut visit),
        }
        error.map_or(Ok(()), Err)
    })
}

/// What a locking read found: the rows now locked by the writer, or the end of the transaction
/// that holds one it needs, to wait for.
pub enum Locked {
    Rows(Vec<(RowId, Row)>),
    Wait(Awaited),
}

/// 40001: a REPEATABLE READ transaction may not write a row another transaction changed
/// after its snapshot.
fn serialization_failure(what: &str) -> EngineError {
    EngineError::sql(
        "40001",
        format!("could not serialize access due to concurrent {what}"),
    )
}

/// Lock the rows an UPDATE or DELETE will change: those visible at the statement's snapshot
/// that match `filter`. A row a transaction committed a change to after the snapshot is, under
/// READ COMMITTED, re-checked in its newest version (PostgreSQL's EvalPlanQual: kept if it
/// still matches, skipped if not or deleted); under REPEATABLE READ it fails the statement
/// with 40001. A row another transaction holds makes the statement wait for it and retry.
pub fn lock_rows(
    shard: &ShardState,
    table: &Arc<TableSchema>,
    key: Option<&[u8]>,
    filter: Option<&Expr>,
    env: &EvalEnv,
) -> Result<Locked, EngineError> {
    if let Some(Read::Wait(w)) = prepared_wait::<()>(shard, table) {
        return Ok(Locked::Wait(w));
    }
    let writer = env.reader;
    let mut matches: Vec<RowId> = Vec::new();
    visit_matching(shard, table, key, filter, env, |id, _| matches.push(id))?;
    let repeatable = env.isolation.snapshot_per_transaction();
    let newest = ReadView::latest(writer);
    let mut rows = Vec::with_capacity(matches.len());
    for id in matches {
        let locked = shard.with_table(table, |t| t.lock(id, writer, env.snapshot));
        if let Ok(Lock::Locked(id) | Lock::Updated(id)) = locked {
            shard.remember_row(writer, env.savepoint, table.id, id, SavedIntent::none());
        }
        let id = match locked {
            Ok(Lock::Mine(id) | Lock::Locked(id)) => id,
            Ok(Lock::Updated(id)) if repeatable => {
                // The lock is released when the failed transaction rolls back.
                shard.record_row(writer, table.id, id);
                return Err(serialization_failure("update"));
            }
            Ok(Lock::Updated(id)) => {
                let still = shard.with_table(table, |t| match (t.get(id, newest), filter) {
                    (Some(row), Some(f)) => eval_predicate(f, row, env),
                    (Some(_), None) => Ok(true),
                    (None, _) => Ok(false),
                });
                match still {
                    Ok(true) => id,
                    other => {
                        shard.with_table(table, |t| t.unlock(id, writer));
                        other?;
                        continue;
                    }
                }
            }
            Ok(Lock::Deleted) if repeatable => return Err(serialization_failure("delete")),
            Ok(Lock::Deleted) => continue,
            Err(RowError::Busy(holder)) => return Ok(Locked::Wait(shard.when_ended(holder))),
            Err(e) => return Err(EngineError::Internal(e.to_string())),
        };
        shard.record_row(writer, table.id, id);
        if let Some(row) = shard.with_table(table, |t| t.get(id, newest).map(<[Value]>::to_vec)) {
            rows.push((id, row));
        }
    }
    Ok(Locked::Rows(rows))
}
