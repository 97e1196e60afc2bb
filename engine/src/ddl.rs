//! DDL: catalog changes and their effect on every shard.
//!
//! DDL takes effect immediately and is not undone by ROLLBACK (transactional DDL comes with
//! MVCC). Must never run concurrently with itself: `Engine::change_catalog` serialises it.

mod index;
mod primary_key;
mod unique_index;
pub(crate) use index::{CreateIndex, create_index, drop_indexes};
pub(crate) use primary_key::{AddPrimaryKey, add_primary_key};

use crate::EngineError;
use crate::session::Session;
use crate::shard::{Engine, ShardRef};
use omendb_planner::Statement;
use omendb_storage::schema::TableSchema;
use std::sync::Arc;

/// CREATE TABLE; returns a notice when IF NOT EXISTS skipped it.
pub(crate) fn create_table(
    session: &Session,
    stmt: &Statement,
) -> Result<Option<String>, EngineError> {
    let Statement::CreateTable {
        name,
        columns,
        primary_key,
        unique,
        sequences,
        if_not_exists,
    } = stmt
    else {
        return Err(EngineError::Internal(
            "create_table called with another statement".into(),
        ));
    };
    session.engine().change_catalog(|catalog, engine| {
        if catalog.tables.contains_key(name) || catalog.views.contains_key(name) {
            if *if_not_exists {
                return Ok(Some(format!(
                    "relation \"{name}\" already exists, skipping"
                )));
            }
            return Err(EngineError::sql(
                "42P07",
                format!("relation \"{name}\" already exists"),
            ));
        }
        for seq in sequences {
            if catalog.sequences.contains_key(&seq.name) {
                return Err(EngineError::sql(
                    "42P07",
                    format!("relation \"{}\" already exists", seq.name),
                ));
            }
        }
        for seq in sequences {
            catalog
                .sequences
                .insert(seq.name.clone(), Engine::new_sequence());
        }
        let schema = TableSchema {
            id: engine.allocate_oid(),
            name: name.clone(),
            columns: columns.clone(),
            primary_key: primary_key.clone(),
            unique: unique.clone(),
            indexes: Vec::new(),
        };
        catalog
            .row_counts
            .insert(schema.id, Arc::new(std::sync::atomic::AtomicI64::new(0)));
        catalog.tables.insert(name.clone(), Arc::new(schema));
        Ok(None)
    })
}

/// DROP TABLE; returns notices for tables IF EXISTS skipped.
pub(crate) async fn drop_tables(
    shard: &ShardRef,
    engine: &Arc<Engine>,
    names: &[String],
    if_exists: bool,
) -> Result<Vec<String>, EngineError> {
    let names: Vec<String> = names
        .iter()
        .map(|n| n.strip_prefix("public.").unwrap_or(n).to_string())
        .collect();
    let (dropped, notices) = engine.change_catalog(|catalog, _| {
        let mut notices = Vec::new();
        for n in &names {
            if !catalog.tables.contains_key(n) {
                if if_exists {
                    notices.push(format!("table \"{n}\" does not exist, skipping"));
                    continue;
                }
                return Err(EngineError::sql(
                    "42P01",
                    format!("table \"{n}\" does not exist"),
                ));
            }
        }
        let mut dropped = Vec::new();
        for n in &names {
            if let Some(t) = catalog.tables.remove(n) {
                // Sequences owned by the table's serial columns go with it.
                let prefix = format!("{n}_");
                catalog
                    .sequences
                    .retain(|s, _| !(s.starts_with(&prefix) && s.ends_with("_seq")));
                catalog.row_counts.remove(&t.id);
                catalog.stats.forget(t.id);
                dropped.push(t.id);
            }
        }
        Ok((dropped, notices))
    })?;
    // The catalog file forgets the tables first: WAL records of a table id the catalog does not
    // know are skipped by recovery, and ids are never reused.
    crate::durable::persist_catalog(shard).await?;
    for id in dropped {
        broadcast(shard, move |s| s.drop_table(id)).await?;
    }
    Ok(notices)
}

/// TRUNCATE: empty the tables on every shard.
pub(crate) async fn truncate(
    shard: &ShardRef,
    tables: &[Arc<TableSchema>],
) -> Result<(), EngineError> {
    // With the gate closed no commit is between logging and applying, so the truncate record
    // lands after every record of rows it removes, on every shard.
    let engine = shard.state().engine().clone();
    let _closed = engine.gate().close().await;
    for t in tables {
        let id = t.id;
        for s in 0..shard.count() {
            shard
                .run_on(
                    s,
                    move |sh| async move { sh.state().truncate_table(id).await },
                )
                .await
                .map_err(|e| EngineError::Internal(e.to_string()))??;
        }
        if let Some(count) = shard.state().engine().catalog().row_counts.get(&id) {
            count.store(0, std::sync::atomic::Ordering::Relaxed);
        }
    }
    Ok(())
}

async fn broadcast(
    shard: &ShardRef,
    f: impl Fn(&crate::shard::ShardState) + Send + Sync + Clone + 'static,
) -> Result<(), EngineError> {
    for s in 0..shard.count() {
        let f = f.clone();
        shard
            .run_on(s, move |sh| async move { f(sh.state()) })
            .await
            .map_err(|e| EngineError::Internal(e.to_string()))?;
    }
    Ok(())
}

/// CREATE [OR REPLACE] VIEW.
pub(crate) fn create_view(
    engine: &Engine,
    name: &str,
    sql: &str,
    or_replace: bool,
) -> Result<(), EngineError> {
    engine.change_catalog(|catalog, _| {
        if catalog.tables.contains_key(name) || (catalog.views.contains_key(name) && !or_replace) {
            return Err(EngineError::sql(
                "42P07",
                format!("relation \"{name}\" already exists"),
            ));
        }
        catalog.views.insert(name.to_string(), sql.to_string());
        Ok(())
    })
}

/// DROP VIEW; returns notices for views IF EXISTS skipped.
pub(crate) fn drop_views(
    engine: &Engine,
    names: &[String],
    if_exists: bool,
) -> Result<Vec<String>, EngineError> {
    engine.change_catalog(|catalog, _| {
        let mut notices = Vec::new();
        for n in names {
            if !catalog.views.contains_key(n) {
                if if_exists {
                    notices.push(format!("view \"{n}\" does not exist, skipping"));
                    continue;
                }
                return Err(EngineError::sql(
                    "42P01",
                    format!("view \"{n}\" does not exist"),
                ));
            }
        }
        for n in names {
            catalog.views.remove(n);
        }
        Ok(notices)
    })
}
