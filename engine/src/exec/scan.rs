//! The shard side of reading and locking rows: reads at the statement's snapshot, locks with
//! PostgreSQL's rules for rows changed after it.

use super::Row;
use super::eval::{EvalEnv, eval_predicate};
use super::route::RangeProbe;
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

/// Which of a table partition's rows a read looks at.
#[derive(Clone, Copy)]
pub enum Probe<'a> {
    /// Every row.
    Scan,
    /// The row with this encoded primary key.
    Key(&'a [u8]),
    /// The rows in a primary-key range (in its order, up to its limit).
    Range(&'a RangeProbe),
    /// The rows with these encoded primary keys (a lookup join's batch).
    Keys(&'a [Vec<u8>]),
}

/// An owned [`Probe`] to send to a shard (`None` is a scan).
#[derive(Clone)]
pub enum Scope {
    Key(Vec<u8>),
    Range(Box<RangeProbe>),
    Keys(Vec<Vec<u8>>),
}

impl Scope {
    pub fn probe(scope: Option<&Scope>) -> Probe<'_> {
        match scope {
            None => Probe::Scan,
            Some(Scope::Key(k)) => Probe::Key(k),
            Some(Scope::Range(r)) => Probe::Range(r),
            Some(Scope::Keys(k)) => Probe::Keys(k),
        }
    }
}

/// Rows of `table` on this shard visible to the statement, filtered; only the `columns`
/// asked for (in that order) when the statement projects plain columns, so a row's other
/// values (a wide text column) are never copied.
pub fn scan_rows(
    shard: &ShardState,
    table: &Arc<TableSchema>,
    probe: Probe<'_>,
    filter: Option<&Expr>,
    columns: Option<&[usize]>,
    env: &EvalEnv,
) -> Result<Read<Vec<Row>>, EngineError> {
    if let Some(wait) = prepared_wait(shard, table) {
        return Ok(wait);
    }
    let probe = effective(shard, table, probe);
    let mut out = Vec::new();
    let limit = match probe {
        Probe::Range(r) => r.limit,
        _ => None,
    };
    visit_matching(shard, table, probe, filter, env, |_, row| {
        out.push(match columns {
            Some(columns) => columns.iter().map(|&c| row[c].clone()).collect(),
            None => row.to_vec(),
        });
        limit.is_none_or(|n| out.len() < n)
    })?;
    Ok(Read::Done(out))
}

/// The probe to run here: a range over a secondary index this partition does not have (dropped
/// after the statement was planned) becomes a scan, unlimited and unordered; the filter still
/// holds every condition, and the Sort and Limit above the scan still apply.
fn effective<'a>(shard: &ShardState, table: &Arc<TableSchema>, probe: Probe<'a>) -> Probe<'a> {
    match probe {
        Probe::Range(RangeProbe {
            index: Some(name), ..
        }) if !shard.with_table(table, |t| t.has_index(name)) => Probe::Scan,
        other => other,
    }
}

/// Visit the rows visible to the statement that match `filter` (those `probe` selects) until
/// `found` returns false.
fn visit_matching(
    shard: &ShardState,
    table: &Arc<TableSchema>,
    probe: Probe<'_>,
    filter: Option<&Expr>,
    env: &EvalEnv,
    mut found: impl FnMut(RowId, &[Value]) -> bool,
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
            _ => found(id, row),
        };
        match probe {
            Probe::Key(k) => {
                if let Some(id) = t.lookup(k, view)
                    && let Some(row) = t.get(id, view)
                {
                    visit(id, row);
                }
            }
            Probe::Range(r) => match &r.index {
                None => t.scan_range(&r.range, view, &mut visit),
                Some(name) => {
                    // `effective` turned a range over a missing index into a scan.
                    t.scan_index(name, &r.range, view, &mut visit);
                }
            },
            Probe::Keys(keys) => {
                for k in keys {
                    if let Some(id) = t.lookup(k, view)
                        && let Some(row) = t.get(id, view)
                        && !visit(id, row)
                    {
                        break;
                    }
                }
            }
            Probe::Scan => t.scan(view, &mut visit),
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
    probe: Probe<'_>,
    filter: Option<&Expr>,
    env: &EvalEnv,
) -> Result<Locked, EngineError> {
    if let Some(Read::Wait(w)) = prepared_wait::<()>(shard, table) {
        return Ok(Locked::Wait(w));
    }
    let probe = effective(shard, table, probe);
    let writer = env.reader;
    let mut matches: Vec<RowId> = Vec::new();
    // Every candidate, in order: a limited range locks the first `limit` that still qualify
    // once locked (a row deleted meanwhile gives way to the next, as in PostgreSQL).
    visit_matching(shard, table, probe, filter, env, |id, _| {
        matches.push(id);
        true
    })?;
    let limit = match probe {
        Probe::Range(r) => r.limit.unwrap_or(usize::MAX),
        _ => usize::MAX,
    };
    let repeatable = env.isolation.snapshot_per_transaction();
    let newest = ReadView::latest(writer);
    let mut rows = Vec::with_capacity(matches.len().min(limit));
    for id in matches {
        if rows.len() >= limit {
            break;
        }
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
