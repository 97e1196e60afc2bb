//! `CREATE INDEX` / `DROP INDEX`: the catalog entry of the table gains or loses an index (same
//! table id, same rows), the catalog file is made durable, then every shard builds or drops its
//! partition's index from the rows it holds (row store and segments alike). A unique index is
//! also a UNIQUE constraint: `unique_index` builds its keys first; dropping it forgets them.
//!
//! A shard switches in one step (it runs one task at a time), so a read on it sees either no
//! index or a complete one; a read planned with an index a shard does not have (yet, or any
//! more) scans instead (`exec::scan`). Recovery rebuilds indexes from the catalog file as the
//! rows come back. Must never leave the catalog naming an index the file does not.

use crate::EngineError;
use crate::catalog::Catalog;
use crate::exec::query::Executor;
use crate::shard::{Engine, ShardRef};
use omendb_storage::schema::{IndexSchema, TableSchema, UniqueConstraint};
use std::collections::HashMap;
use std::sync::Arc;

/// What `CREATE INDEX` names, resolved by the binder.
pub(crate) struct CreateIndex<'a> {
    pub name: &'a str,
    pub table: &'a str,
    pub columns: &'a [usize],
    pub unique: bool,
    pub if_not_exists: bool,
}

/// CREATE [UNIQUE] INDEX; returns a notice when IF NOT EXISTS skipped it.
pub(crate) async fn create_index(
    exec: &Executor,
    stmt: CreateIndex<'_>,
) -> Result<Option<String>, EngineError> {
    if stmt.unique {
        return super::unique_index::create_unique_index(exec, &stmt).await;
    }
    let changed = exec.env.engine.change_catalog(|catalog, _| {
        let old = match target(catalog, &stmt)? {
            Ok(old) => old,
            Err(notice) => return Ok(Err(notice)),
        };
        let new = Arc::new(with_index(&old, &stmt, None));
        catalog.tables.insert(stmt.table.to_string(), new.clone());
        Ok(Ok(new))
    })?;
    match changed {
        Err(notice) => Ok(Some(notice)),
        Ok(table) => {
            publish(&exec.shard, table).await?;
            Ok(None)
        }
    }
}

/// The table an index is to be created on, or the notice IF NOT EXISTS gives when the name
/// is taken; errors as PostgreSQL raises them.
pub(super) fn target(
    catalog: &Catalog,
    stmt: &CreateIndex<'_>,
) -> Result<Result<Arc<TableSchema>, String>, EngineError> {
    let tables = &catalog.tables;
    let exists = tables.contains_key(stmt.name)
        || catalog.views.contains_key(stmt.name)
        || catalog.sequences.contains_key(stmt.name)
        || owner(tables, stmt.name).is_some()
        || tables.values().any(|t| {
            t.primary_key
                .iter()
                .chain(&t.unique)
                .any(|c| c.name == stmt.name)
        });
    if exists {
        return match stmt.if_not_exists {
            true => Ok(Err(format!(
                "relation \"{}\" already exists, skipping",
                stmt.name
            ))),
            false => Err(EngineError::sql(
                "42P07",
                format!("relation \"{}\" already exists", stmt.name),
            )),
        };
    }
    let Some(old) = tables.get(stmt.table) else {
        return Err(EngineError::sql(
            "42P01",
            format!("relation \"{}\" does not exist", stmt.table),
        ));
    };
    if old.primary_key.is_none() {
        // Entries point at rows through their primary key.
        return Err(EngineError::sql(
            "0A000",
            "indexes on tables without a primary key are not supported",
        ));
    }
    Ok(Ok(old.clone()))
}

/// `old` with the index (and for a unique index, its constraint, after the others) added.
pub(super) fn with_index(
    old: &TableSchema,
    stmt: &CreateIndex<'_>,
    unique_oid: Option<u32>,
) -> TableSchema {
    let mut new = TableSchema::clone(old);
    new.indexes.push(IndexSchema {
        name: stmt.name.to_string(),
        columns: stmt.columns.to_vec(),
    });
    if let Some(oid) = unique_oid {
        new.unique.push(UniqueConstraint {
            name: stmt.name.to_string(),
            columns: stmt.columns.to_vec(),
            index_oid: Some(oid),
        });
    }
    new
}

/// DROP INDEX; returns notices for indexes IF EXISTS skipped.
pub(crate) async fn drop_indexes(
    shard: &ShardRef,
    engine: &Arc<Engine>,
    names: &[String],
    if_exists: bool,
) -> Result<Vec<String>, EngineError> {
    let (changed, notices, forgotten) = engine.change_catalog(|catalog, _| {
        let mut notices = Vec::new();
        let mut forgotten = Vec::new();
        let mut changed: Vec<Arc<TableSchema>> = Vec::new();
        for n in names {
            let Some(table) = owner(&catalog.tables, n) else {
                if if_exists {
                    notices.push(format!("index \"{n}\" does not exist, skipping"));
                    continue;
                }
                return Err(EngineError::sql(
                    "42704",
                    format!("index \"{n}\" does not exist"),
                ));
            };
            let mut new = TableSchema::clone(&catalog.tables[&table]);
            if let Some(oid) = new.unique_index(n).and_then(|u| u.index_oid) {
                forgotten.push(crate::exec::dml::index_constraint_id(oid));
            }
            new.indexes.retain(|i| &i.name != n);
            new.unique
                .retain(|u| !(u.index_oid.is_some() && &u.name == n));
            let new = Arc::new(new);
            changed.retain(|t| t.id != new.id);
            changed.push(new.clone());
            catalog.tables.insert(table, new);
        }
        Ok((changed, notices, forgotten))
    })?;
    for table in changed {
        publish(shard, table).await?;
    }
    // Writers still running with the old schema may reserve keys of a dropped unique index
    // after this; they are inert (no schema names the id, OIDs are never reused).
    for constraint in forgotten {
        forget_keys(shard, constraint).await?;
    }
    Ok(notices)
}

/// The name of the table that has index `name`.
fn owner(tables: &HashMap<String, Arc<TableSchema>>, name: &str) -> Option<String> {
    tables
        .iter()
        .find(|(_, t)| t.indexes.iter().any(|i| i.name == name))
        .map(|(n, _)| n.clone())
}

/// Every shard forgets the keys filed under a unique index's constraint id.
pub(super) async fn forget_keys(shard: &ShardRef, constraint: u64) -> Result<(), EngineError> {
    super::broadcast(shard, move |s| s.forget_unique_keys(constraint)).await
}

/// Make the catalog durable, then have every shard's partition follow the table's indexes.
pub(super) async fn publish(shard: &ShardRef, table: Arc<TableSchema>) -> Result<(), EngineError> {
    crate::durable::persist_catalog(shard).await?;
    super::broadcast(shard, move |s| {
        s.with_table(&table, |t| t.set_schema(table.clone()));
    })
    .await
}
