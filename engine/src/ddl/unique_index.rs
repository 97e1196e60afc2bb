//! `CREATE UNIQUE INDEX`: an index that is also a UNIQUE constraint, enforced by the same
//! per-shard key store as the table's own UNIQUE constraints (each key owned by the shard its
//! hash picks, so rows on different shards cannot share it; a second writer of a key waits for
//! the first to end). Its keys are filed under the index's OID, see `exec::dml::constraint_id`.
//!
//! Building it, like PostgreSQL's SHARE lock on the table:
//!
//! 1. With the commit gate closed once no other transaction has uncommitted writes on the table
//!    (nothing commits meanwhile), read every row and check the key for duplicates (rows with
//!    a NULL in the key never clash): 23505 `could not create unique index`, nothing changed.
//! 2. Allocate the index OID and make the catalog file durable, so the OID is never handed out
//!    again (its keys are about to be logged).
//! 3. Reserve every row's key on its owning shard as one internal transaction, logged and
//!    committed durably. No schema names the constraint id yet, so the keys are inert.
//! 4. Publish the table with the index and constraint (catalog file, then every shard).
//! 5. A write that bound the old schema while the gate was closed went unchecked: if any
//!    transaction other than this one has uncommitted writes on the table now, undo steps 3–4
//!    (unpublish, forget the keys) and start again once it has ended.
//!
//! Recovery needs nothing new: the keys come back from unique-key files and WAL `Key` records,
//! the constraint from the catalog file. Must never publish a constraint whose keys are not all
//! committed, nor leave keys behind under an id a later index could get.
//!
//! Known gap: a write statement that bound the table before step 4 and writes its first row
//! only after step 5's check is not checked against the new index.

use super::index::{CreateIndex, forget_keys, publish, target, with_index};
use super::primary_key::{pending_writes, wait_for_writers};
use crate::EngineError;
use crate::exec::Row;
use crate::exec::dml::{Touched, index_constraint_id, key_detail, unique_key};
use crate::exec::query::Executor;
use crate::shard::Savepoints;
use omendb_planner::{Access, Plan};
use omendb_storage::schema::{TableSchema, UniqueConstraint};
use omendb_storage::types::Value;
use std::collections::HashSet;
use std::sync::Arc;

/// Builds undone because a concurrent write slipped in (step 5) before giving up with 55P03.
const MAX_BUILD_ATTEMPTS: usize = 5;

/// One unique key reservation: (constraint id, encoded key, reserve).
type KeyChange = (u64, Vec<u8>, bool);

/// Run `CREATE UNIQUE INDEX`; returns a notice when IF NOT EXISTS skipped it.
pub(super) async fn create_unique_index(
    exec: &Executor,
    stmt: &CreateIndex<'_>,
) -> Result<Option<String>, EngineError> {
    for _ in 0..MAX_BUILD_ATTEMPTS {
        let old = match target(&exec.env.engine.catalog(), stmt)? {
            Ok(old) => old,
            Err(notice) => return Ok(Some(notice)),
        };
        let closed = wait_for_writers(exec, &old).await?;
        let rows = exec
            .run_query(&Plan::Scan {
                table: old.clone(),
                filter: None,
                access: Access::Full,
            })
            .await?;
        let oid = exec
            .env
            .engine
            .change_catalog(|_, engine| Ok(engine.allocate_oid()))?;
        let constraint = UniqueConstraint {
            name: stmt.name.to_string(),
            columns: stmt.columns.to_vec(),
            index_oid: Some(oid),
        };
        let keys = keys_by_shard(exec, &old, &constraint, &rows)?;
        drop(rows);
        crate::durable::persist_catalog(&exec.shard).await?;
        let id = index_constraint_id(oid);
        if let Err(e) = commit_keys(exec, keys).await {
            forget_keys(&exec.shard, id).await?;
            return Err(e);
        }
        let new = Arc::new(with_index(&old, stmt, Some(oid)));
        if let Err(e) = swap(exec, &old, new.clone()).await {
            forget_keys(&exec.shard, id).await?;
            return Err(e);
        }
        if !pending_writes(exec, old.id).await? {
            drop(closed);
            return Ok(None);
        }
        swap(exec, &new, old).await?;
        forget_keys(&exec.shard, id).await?;
        drop(closed);
    }
    Err(EngineError::sql(
        "55P03",
        format!("could not obtain lock on relation \"{}\"", stmt.table),
    ))
}

/// Every row's key of `constraint`, grouped by owning shard; 23505 at the first duplicate.
fn keys_by_shard(
    exec: &Executor,
    table: &TableSchema,
    constraint: &UniqueConstraint,
    rows: &[Row],
) -> Result<Vec<Vec<KeyChange>>, EngineError> {
    let shards = exec.shard.count();
    let id = index_constraint_id(constraint.index_oid.unwrap_or_default());
    let mut by_shard: Vec<Vec<KeyChange>> = (0..shards).map(|_| Vec::new()).collect();
    let mut seen: HashSet<Vec<u8>> = HashSet::with_capacity(rows.len());
    for row in rows {
        let Some((shard, key)) = unique_key(constraint, row, shards) else {
            continue;
        };
        if !seen.insert(key.clone()) {
            return Err(duplicated(exec, table, constraint, row));
        }
        by_shard[shard].push((id, key, true));
    }
    Ok(by_shard)
}

/// PostgreSQL's error for a unique index that cannot be built over the rows.
fn duplicated(
    exec: &Executor,
    table: &TableSchema,
    constraint: &UniqueConstraint,
    row: &[Value],
) -> EngineError {
    EngineError::Sql {
        sqlstate: "23505",
        message: format!("could not create unique index \"{}\"", constraint.name),
        detail: Some(format!(
            "{} is duplicated.",
            key_detail(table, constraint, row, &exec.env.tz)
        )),
        hint: None,
    }
}

/// Reserve the keys on their shards as a transaction of their own (one per build attempt) and
/// commit it durably (the gate is held closed by the caller, so the commit does not pass it).
async fn commit_keys(exec: &Executor, keys: Vec<Vec<KeyChange>>) -> Result<(), EngineError> {
    let writer = exec.env.engine.begin_transaction();
    let mut touched: Touched = vec![false; exec.shard.count()];
    let reserved = async {
        for (shard, batch) in keys.into_iter().enumerate() {
            if batch.is_empty() {
                continue;
            }
            touched[shard] = true;
            exec.shard
                .run_on(shard, move |s| async move {
                    s.state()
                        .change_keys(writer, Savepoints::default(), &batch)
                        .map_err(|e| EngineError::Internal(format!("unique index key: {e:?}")))
                })
                .await
                .map_err(|e| EngineError::Internal(e.to_string()))??;
        }
        crate::durable::commit::log_commit(&exec.shard, writer, &touched).await
    }
    .await;
    exec.settle(writer, &touched, reserved).await
}

/// Replace table `from` by `to` (same table, other indexes) in the catalog, durably and on
/// every shard; 40001 when another DDL changed the table meanwhile.
async fn swap(
    exec: &Executor,
    from: &Arc<TableSchema>,
    to: Arc<TableSchema>,
) -> Result<(), EngineError> {
    exec.env.engine.change_catalog(|catalog, _| {
        match catalog.tables.get(&from.name) {
            Some(current) if Arc::ptr_eq(current, from) => {}
            _ => {
                return Err(EngineError::sql(
                    "40001",
                    format!("relation \"{}\" was changed concurrently", from.name),
                ));
            }
        }
        catalog.tables.insert(from.name.clone(), to.clone());
        Ok(())
    })?;
    publish(&exec.shard, to).await
}
