//! The catalog file: rewritten atomically after every DDL, read at start-up.

use crate::EngineError;
use crate::catalog::{Catalog, Sequence};
use crate::runtime::file::replace_file;
use crate::runtime::sleep;
use crate::shard::{Engine, ShardRef};
use omendb_storage::checkpoint::{CatalogImage, encode_catalog};
use std::cell::Cell;
use std::sync::Arc;
use std::time::Duration;

/// Which catalog version is on disk, and whether a write is running (shard 0 only).
#[derive(Debug, Default)]
pub struct CatalogWriter {
    persisted: Cell<u64>,
    writing: Cell<bool>,
}

const WAIT: Duration = Duration::from_millis(1);
/// The shard that writes the catalog file, so writes never race on the temporary file.
const CATALOG_SHARD: usize = 0;

/// Make the current catalog durable before the DDL that changed it is acknowledged.
pub async fn persist_catalog(shard: &ShardRef) -> Result<(), EngineError> {
    if shard.state().engine().storage().is_none() {
        return Ok(());
    }
    let wanted = shard.state().engine().catalog_version();
    shard
        .run_on(CATALOG_SHARD, move |s| async move {
            let writer = &s.state().catalog_writer;
            loop {
                if writer.persisted.get() >= wanted {
                    return Ok(());
                }
                if writer.writing.get() {
                    sleep(WAIT).await;
                    continue;
                }
                writer.writing.set(true);
                let engine = s.state().engine().clone();
                let version = engine.catalog_version();
                let result = write_catalog(&engine).await;
                writer.writing.set(false);
                result?;
                writer.persisted.set(version);
            }
        })
        .await
        .map_err(|e| EngineError::Internal(e.to_string()))?
}

/// Write the catalog file now, whatever its version (a checkpoint: sequences' restart values
/// must reach the file before the WAL that held them is deleted).
pub async fn persist_catalog_now(shard: &ShardRef) -> Result<(), EngineError> {
    if shard.state().engine().storage().is_none() {
        return Ok(());
    }
    shard
        .run_on(CATALOG_SHARD, move |s| async move {
            let writer = &s.state().catalog_writer;
            while writer.writing.get() {
                sleep(WAIT).await;
            }
            writer.writing.set(true);
            let engine = s.state().engine().clone();
            let version = engine.catalog_version();
            let result = write_catalog(&engine).await;
            writer.writing.set(false);
            result?;
            writer.persisted.set(writer.persisted.get().max(version));
            Ok(())
        })
        .await
        .map_err(|e| EngineError::Internal(e.to_string()))?
}

async fn write_catalog(engine: &Arc<Engine>) -> Result<(), EngineError> {
    let Some(storage) = engine.storage() else {
        return Ok(());
    };
    let catalog = engine.catalog();
    let image = image_of(engine, &catalog);
    replace_file(&storage.catalog_path(), &encode_catalog(&image))
        .await
        .map_err(|e| EngineError::Io(e.to_string()))?;
    for (name, value) in &image.sequences {
        if let Some(seq) = catalog.sequences.get(name) {
            seq.confirm(*value);
        }
    }
    Ok(())
}

/// The durable form of a catalog snapshot.
pub(crate) fn image_of(engine: &Engine, catalog: &Catalog) -> CatalogImage {
    let mut tables: Vec<_> = catalog.tables.values().map(|t| (**t).clone()).collect();
    tables.sort_by_key(|t| t.id);
    let mut sequences: Vec<_> = catalog
        .sequences
        .iter()
        .map(|(name, s)| (name.clone(), s.restart_value()))
        .collect();
    sequences.sort();
    let mut views: Vec<_> = catalog
        .views
        .iter()
        .map(|(n, q)| (n.clone(), q.clone()))
        .collect();
    views.sort();
    CatalogImage {
        shards: engine.shard_count() as u32,
        next_oid: engine.peek_oid(),
        tables,
        sequences,
        views,
    }
}

/// The in-memory catalog a durable image describes.
pub(crate) fn catalog_of(image: &CatalogImage) -> Catalog {
    let mut catalog = Catalog::default();
    for t in &image.tables {
        catalog.tables.insert(t.name.clone(), Arc::new(t.clone()));
        // Recounted by replay.
        catalog
            .row_counts
            .insert(t.id, Arc::new(std::sync::atomic::AtomicI64::new(0)));
    }
    for (name, sql) in &image.views {
        catalog.views.insert(name.clone(), sql.clone());
    }
    for (name, next) in &image.sequences {
        catalog
            .sequences
            .insert(name.clone(), Arc::new(Sequence::starting_at(*next)));
    }
    catalog
}
