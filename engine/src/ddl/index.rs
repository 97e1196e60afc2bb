//! `CREATE INDEX` / `DROP INDEX`: the catalog entry of the table gains or loses an index (same
//! table id, same rows), the catalog file is made durable, then every shard builds or drops its
//! partition's index from the rows it holds (row store and segments alike).
//!
//! A shard switches in one step (it runs one task at a time), so a read on it sees either no
//! index or a complete one; a read planned with an index a shard does not have (yet, or any
//! more) scans instead (`exec::scan`). Recovery rebuilds indexes from the catalog file as the
//! rows come back. Must never leave the catalog naming an index the file does not.

use crate::EngineError;
use crate::shard::{Engine, ShardRef};
use omendb_storage::schema::{IndexSchema, TableSchema};
use std::sync::Arc;

/// What `CREATE INDEX` names, resolved by the binder.
pub(crate) struct CreateIndex<'a> {
    pub name: &'a str,
    pub table: &'a str,
    pub columns: &'a [usize],
    pub if_not_exists: bool,
}

/// CREATE INDEX; returns a notice when IF NOT EXISTS skipped it.
pub(crate) async fn create_index(
    shard: &ShardRef,
    engine: &Arc<Engine>,
    stmt: CreateIndex<'_>,
) -> Result<Option<String>, EngineError> {
    let changed = engine.change_catalog(|catalog, _| {
        let exists = catalog.tables.contains_key(stmt.name)
            || catalog.views.contains_key(stmt.name)
            || catalog.sequences.contains_key(stmt.name)
            || owner(&catalog.tables, stmt.name).is_some();
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
        let Some(old) = catalog.tables.get(stmt.table) else {
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
        let mut new = TableSchema::clone(old);
        new.indexes.push(IndexSchema {
            name: stmt.name.to_string(),
            columns: stmt.columns.to_vec(),
        });
        let new = Arc::new(new);
        catalog.tables.insert(stmt.table.to_string(), new.clone());
        Ok(Ok(new))
    })?;
    match changed {
        Err(notice) => Ok(Some(notice)),
        Ok(table) => {
            publish(shard, table).await?;
            Ok(None)
        }
    }
}

/// DROP INDEX; returns notices for indexes IF EXISTS skipped.
pub(crate) async fn drop_indexes(
    shard: &ShardRef,
    engine: &Arc<Engine>,
    names: &[String],
    if_exists: bool,
) -> Result<Vec<String>, EngineError> {
    let (changed, notices) = engine.change_catalog(|catalog, _| {
        let mut notices = Vec::new();
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
            new.indexes.retain(|i| &i.name != n);
            let new = Arc::new(new);
            changed.retain(|t| t.id != new.id);
            changed.push(new.clone());
            catalog.tables.insert(table, new);
        }
        Ok((changed, notices))
    })?;
    for table in changed {
        publish(shard, table).await?;
    }
    Ok(notices)
}

/// The name of the table that has index `name`.
fn owner(
    tables: &std::collections::HashMap<String, Arc<TableSchema>>,
    name: &str,
) -> Option<String> {
    tables
        .iter()
        .find(|(_, t)| t.indexes.iter().any(|i| i.name == name))
        .map(|(n, _)| n.clone())
}

/// Make the catalog durable, then have every shard's partition follow the table's indexes.
async fn publish(shard: &ShardRef, table: Arc<TableSchema>) -> Result<(), EngineError> {
    crate::durable::persist_catalog(shard).await?;
    super::broadcast(shard, move |s| {
        s.with_table(&table, |t| t.set_schema(table.clone()));
    })
    .await
}
