//! The shard side of reading and locking rows.

use super::Row;
use super::eval::{EvalEnv, eval_predicate};
use crate::EngineError;
use crate::runtime::event::Awaited;
use crate::shard::ShardState;
use omendb_planner::Expr;
use omendb_storage::row::{RowError, RowId};
use omendb_storage::schema::TableSchema;
use std::sync::Arc;

/// Rows of `table` on this shard visible to the statement, filtered.
pub fn scan_rows(
    shard: &ShardState,
    table: &Arc<TableSchema>,
    key: Option<&[u8]>,
    filter: Option<&Expr>,
    env: &EvalEnv,
) -> Result<Vec<Row>, EngineError> {
    shard.with_table(table, |t| {
        let mut out = Vec::new();
        let mut error = None;
        let mut visit = |_: RowId, row: &[omendb_storage::types::Value]| match filter
            .map(|f| eval_predicate(f, row, env))
        {
            Some(Err(e)) => {
                error = Some(e);
                false
            }
            Some(Ok(false)) => true,
            _ => {
                out.push(row.to_vec());
                true
            }
        };
        match key {
            Some(k) => {
                if let Some(id) = t.lookup(k, env.reader)
                    && let Some(row) = t.get(id, env.reader)
                {
                    visit(id, row);
                }
            }
            None => t.scan(env.reader, &mut visit),
        }
        error.map_or(Ok(out), Err)
    })
}

/// What a locking read found: the rows now locked by the writer, or the end of the transaction
/// that holds one it needs, to wait for.
pub enum Locked {
    Rows(Vec<(RowId, Row)>),
    Wait(Awaited),
}

/// Lock the rows an UPDATE or DELETE will change (visible to `writer`, matching `filter`).
pub fn lock_rows(
    shard: &ShardState,
    table: &Arc<TableSchema>,
    key: Option<&[u8]>,
    filter: Option<&Expr>,
    env: &EvalEnv,
) -> Result<Locked, EngineError> {
    let writer = env.reader;
    let mut matches: Vec<RowId> = Vec::new();
    shard.with_table(table, |t| -> Result<(), EngineError> {
        let mut error = None;
        let mut visit = |id: RowId, row: &[omendb_storage::types::Value]| match filter
            .map(|f| eval_predicate(f, row, env))
        {
            Some(Err(e)) => {
                error = Some(e);
                false
            }
            Some(Ok(false)) => true,
            _ => {
                matches.push(id);
                true
            }
        };
        match key {
            Some(k) => {
                if let Some(id) = t.lookup(k, writer)
                    && let Some(row) = t.get(id, writer)
                {
                    visit(id, row);
                }
            }
            None => t.scan(writer, &mut visit),
        }
        error.map_or(Ok(()), Err)
    })?;
    let mut rows = Vec::with_capacity(matches.len());
    for id in matches {
        let locked = shard.with_table(table, |t| {
            t.lock(id, writer)
                .map(|id| t.get(id, writer).map(|row| (id, row.to_vec())))
        });
        match locked {
            Ok(Some((id, row))) => {
                shard.record_row(writer, table.id, id);
                rows.push((id, row));
            }
            Ok(None) => {}
            Err(RowError::Busy(holder)) => return Ok(Locked::Wait(shard.when_ended(holder))),
            Err(e) => return Err(EngineError::Internal(e.to_string())),
        }
    }
    Ok(Locked::Rows(rows))
}
