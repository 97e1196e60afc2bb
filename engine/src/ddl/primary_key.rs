//! `ALTER TABLE … ADD PRIMARY KEY`: validate the rows, then rewrite the table under a new id.
//!
//! A table without a primary key spreads its rows over the shards round-robin; a table with
//! one places each row by the hash of its leading key column, and reads rely on that. So adding
//! a key moves rows between shards. It is done as PostgreSQL does a table rewrite (a new
//! relfilenode), using only paths that already survive a crash:
//!
//! 1. With the commit gate closed (no commit lands meanwhile, no checkpoint runs), read every
//!    row and check NOT NULL (23502) and uniqueness (23505) of the key columns.
//! 2. Allocate a new table id and make the catalog file durable, so the id is never handed out
//!    again whatever happens next.
//! 3. Insert the rows into the new id as one internal transaction: placed by the key, logged
//!    in each shard's WAL, committed with the usual protocol.
//! 4. Swap the catalog entry (same name, new id, the key) and make the catalog file durable:
//!    that write is the commit point. Then forget the old id's rows on every shard.
//!
//! Recovery replays only records of table ids the catalog file knows: a crash before step 4's
//! write leaves the old table as it was (the new id's records are skipped), a crash after it
//! leaves the new table, rebuilt from records logged on the shards that own its rows — the
//! same placement as before the crash.
//!
//! Must never run while another transaction has uncommitted writes on the table (it waits for
//! them, then gives up with 55P03, like PostgreSQL's lock timeout) and never holds rows of both
//! ids visible under one name.

use crate::EngineError;
use crate::exec::Row;
use crate::exec::dml::{Touched, format_values};
use crate::exec::query::Executor;
use crate::runtime::sleep;
use omendb_planner::{Access, Plan};
use omendb_storage::row::key::encode_primary_key;
use omendb_storage::schema::{TableId, TableSchema, UniqueConstraint};
use omendb_storage::types::Value;
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::AtomicI64;
use std::time::{Duration, Instant};

/// How long to wait for other transactions' uncommitted writes on the table.
const PENDING_WAIT_LIMIT: Duration = Duration::from_secs(10);
const PENDING_POLL: Duration = Duration::from_millis(2);

/// What the statement names, resolved against the current catalog.
pub(crate) struct AddPrimaryKey<'a> {
    pub table: &'a str,
    pub if_exists: bool,
    pub columns: &'a [String],
    pub constraint: &'a str,
}

/// Run the statement; `exec` carries a fresh writer id used for the rewrite's own transaction.
/// Returns a notice when IF EXISTS skipped a missing table.
pub(crate) async fn add_primary_key(
    exec: &Executor,
    stmt: AddPrimaryKey<'_>,
) -> Result<Option<String>, EngineError> {
    let engine = exec.env.engine.clone();
    let Some(old) = engine.catalog().tables.get(stmt.table).cloned() else {
        if stmt.if_exists {
            return Ok(Some(format!(
                "relation \"{}\" does not exist, skipping",
                stmt.table
            )));
        }
        return Err(EngineError::sql(
            "42P01",
            format!("relation \"{}\" does not exist", stmt.table),
        ));
    };
    let columns = key_columns(&old, stmt.columns)?;
    let closed = wait_for_writers(exec, &old).await?;
    let rows = exec
        .run_query(&Plan::Scan {
            table: old.clone(),
            filter: None,
            access: Access::Full,
        })
        .await?;
    check_rows(exec, &old, &columns, stmt.constraint, &rows)?;
    let new = Arc::new(keyed_schema(&old, columns, stmt.constraint, &engine)?);
    let new_id = new.id;
    let rewritten = async {
        crate::durable::persist_catalog(&exec.shard).await?;
        copy_rows(exec, &new, rows).await?;
        swap(exec, &old, new).await
    }
    .await;
    if let Err(e) = rewritten {
        forget(exec, new_id).await?;
        return Err(e);
    }
    drop(closed);
    Ok(None)
}

/// Undo a rewrite that did not reach its commit point: the new id's rows and counter go (its
/// WAL records are never replayed, the catalog file does not name the id).
async fn forget(exec: &Executor, id: TableId) -> Result<(), EngineError> {
    exec.env.engine.change_catalog(|catalog, _| {
        catalog.row_counts.remove(&id);
        Ok(())
    })?;
    drop_on_shards(exec, id).await
}

async fn drop_on_shards(exec: &Executor, id: TableId) -> Result<(), EngineError> {
    for s in 0..exec.shard.count() {
        exec.shard
            .run_on(s, move |sh| async move { sh.state().drop_table(id) })
            .await
            .map_err(|e| EngineError::Internal(e.to_string()))?;
    }
    Ok(())
}

/// Key column positions; the errors PostgreSQL gives for a bad key.
fn key_columns(table: &TableSchema, names: &[String]) -> Result<Vec<usize>, EngineError> {
    if table.primary_key.is_some() {
        return Err(EngineError::sql(
            "42P16",
            format!(
                "multiple primary keys for table \"{}\" are not allowed",
                table.name
            ),
        ));
    }
    names
        .iter()
        .map(|n| {
            table.column_index(n).ok_or_else(|| {
                EngineError::sql(
                    "42703",
                    format!(
                        "column \"{n}\" of relation \"{}\" does not exist",
                        table.name
                    ),
                )
            })
        })
        .collect()
}

/// Close the commit gate once no other transaction has uncommitted writes on the table: those
/// would commit into the old id after the swap. Waiting happens with the gate open, since they
/// need it to commit.
pub(super) async fn wait_for_writers<'e>(
    exec: &'e Executor,
    table: &TableSchema,
) -> Result<impl Sized + 'e, EngineError> {
    let started = Instant::now();
    loop {
        let closed = exec.env.engine.gate().close().await;
        if !pending_writes(exec, table.id).await? {
            return Ok(closed);
        }
        drop(closed);
        exec.check_cancel()?;
        if started.elapsed() > PENDING_WAIT_LIMIT {
            return Err(EngineError::sql(
                "55P03",
                format!("could not obtain lock on relation \"{}\"", table.name),
            ));
        }
        sleep(PENDING_POLL).await;
    }
}

pub(super) async fn pending_writes(exec: &Executor, table: TableId) -> Result<bool, EngineError> {
    let me = exec.env.reader;
    for s in 0..exec.shard.count() {
        let busy = exec
            .shard
            .run_on(s, move |sh| async move {
                sh.state().has_pending_rows(table, me)
            })
            .await
            .map_err(|e| EngineError::Internal(e.to_string()))?;
        if busy {
            return Ok(true);
        }
    }
    Ok(false)
}

/// NOT NULL first, then uniqueness, as PostgreSQL checks them.
fn check_rows(
    exec: &Executor,
    table: &TableSchema,
    columns: &[usize],
    constraint: &str,
    rows: &[Row],
) -> Result<(), EngineError> {
    for &c in columns {
        if rows.iter().any(|r| r[c].is_null()) {
            return Err(EngineError::sql(
                "23502",
                format!(
                    "column \"{}\" of relation \"{}\" contains null values",
                    table.columns[c].name, table.name
                ),
            ));
        }
    }
    let mut seen: HashSet<Vec<u8>> = HashSet::with_capacity(rows.len());
    let mut key_values: Vec<&Value> = Vec::with_capacity(columns.len());
    for r in rows {
        key_values.clear();
        key_values.extend(columns.iter().map(|&c| &r[c]));
        let mut key = Vec::with_capacity(16);
        encode_primary_key(&key_values, &mut key);
        if !seen.insert(key) {
            let names: Vec<&str> = columns
                .iter()
                .map(|&c| table.columns[c].name.as_str())
                .collect();
            return Err(EngineError::Sql {
                sqlstate: "23505",
                message: format!("could not create unique index \"{constraint}\""),
                detail: Some(format!(
                    "Key ({})=({}) is duplicated.",
                    names.join(", "),
                    format_values(key_values.iter().copied(), &exec.env.tz)
                )),
                hint: None,
            });
        }
    }
    Ok(())
}

/// The table as it will be: a new id, the key, its columns NOT NULL. The new id gets a row
/// counter now so the copy's commit counts into it.
fn keyed_schema(
    old: &TableSchema,
    columns: Vec<usize>,
    constraint: &str,
    engine: &crate::shard::Engine,
) -> Result<TableSchema, EngineError> {
    let mut schema = old.clone();
    for &c in &columns {
        schema.columns[c].nullable = false;
    }
    schema.primary_key = Some(UniqueConstraint {
        name: constraint.to_string(),
        columns,
        index_oid: None,
    });
    schema.id = engine.change_catalog(|catalog, engine| {
        let id = engine.allocate_oid();
        catalog.row_counts.insert(id, Arc::new(AtomicI64::new(0)));
        Ok(id)
    })?;
    Ok(schema)
}

/// Insert the rows under the new id and commit them durably. The gate is held closed by the
/// caller, so the commit does not pass it.
async fn copy_rows(
    exec: &Executor,
    table: &Arc<TableSchema>,
    rows: Vec<Row>,
) -> Result<(), EngineError> {
    let writer = exec.env.reader;
    let mut touched: Touched = vec![false; exec.shard.count()];
    let inserted = exec.insert_values(table, rows, &mut touched).await;
    let logged = match inserted {
        Ok(_) => crate::durable::commit::log_commit(&exec.shard, writer, &touched).await,
        Err(e) => Err(e),
    };
    exec.settle(writer, &touched, logged).await
}

/// Publish the new table under the old name, durably, then forget the old rows.
async fn swap(
    exec: &Executor,
    old: &Arc<TableSchema>,
    new: Arc<TableSchema>,
) -> Result<(), EngineError> {
    let engine = exec.env.engine.clone();
    engine.change_catalog(|catalog, _| {
        if catalog.tables.get(&old.name).map(|t| t.id) != Some(old.id) {
            return Err(EngineError::sql(
                "40001",
                format!("relation \"{}\" was changed concurrently", old.name),
            ));
        }
        catalog.row_counts.remove(&old.id);
        catalog.tables.insert(old.name.clone(), new);
        Ok(())
    })?;
    crate::durable::persist_catalog(&exec.shard).await?;
    drop_on_shards(exec, old.id).await
}
