//! Start-up recovery: catalog file, then every shard's WAL read in full, then the records of
//! committed transactions replayed on their shards, then a fresh WAL generation opened.
//!
//! A torn or corrupt WAL tail is cut at the last valid record and logged; a catalog or WAL
//! header that fails validation stops the start-up with an error naming the file.

use super::catalog_file::catalog_of;
use super::log::{SyncMode, wal_generation};
use crate::runtime::file::{create_dir_all, list_dir, read_file};
use crate::runtime::{join_all, sleep, spawn_local};
use crate::shard::ShardRef;
use omendb_storage::checkpoint::decode_catalog;
use omendb_storage::wal::{Record, read_log};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often a `--sync off` shard writes its WAL buffer.
const SYNC_OFF_INTERVAL: Duration = Duration::from_millis(5);

/// What one shard's logs held.
struct ShardScan {
    committed: HashSet<u64>,
    max_txn: u64,
    max_generation: u64,
    records: usize,
    /// The newest readable WAL file: (generation, block-aligned end of its valid part, cut).
    last: Option<(u64, u64, bool)>,
}

/// Recover the engine's state from its data directory. Runs on one shard before any client is
/// served; returns a message for the operator when the data cannot be trusted.
pub async fn recover(shard: &ShardRef) -> Result<(), String> {
    let engine = shard.state().engine().clone();
    let Some(storage) = engine.storage().cloned() else {
        return Ok(());
    };
    let started = Instant::now();
    create_dir_all(&storage.dir).map_err(|e| e.to_string())?;
    load_catalog(shard).await?;
    let scans = join_all(
        (0..shard.count())
            .map(|s| shard.run_on(s, |sh| async move { scan_shard(&sh).await }))
            .collect(),
    )
    .await;
    let mut committed = HashSet::new();
    let (mut max_txn, mut max_generation, mut records) = (0, 0, 0);
    let mut lasts = Vec::new();
    for scan in scans {
        let scan = scan.map_err(|e| e.to_string())??;
        lasts.push(scan.last);
        committed.extend(scan.committed);
        max_txn = max_txn.max(scan.max_txn);
        max_generation = max_generation.max(scan.max_generation);
        records += scan.records;
    }
    engine.raise_txn(max_txn + 1);
    let committed = Arc::new(committed);
    let transactions = committed.len();
    let replays = join_all(
        (0..shard.count())
            .map(|s| {
                let committed = committed.clone();
                let last = lasts.get(s).copied().flatten();
                shard.run_on(s, move |sh| async move {
                    let catalog = sh.state().engine().catalog();
                    sh.state().replay(&catalog, &committed);
                    start_log(&sh, last, max_generation + 1).await
                })
            })
            .collect(),
    )
    .await;
    for r in replays {
        r.map_err(|e| e.to_string())??;
    }
    tracing::info!(
        "recovered {} in {:.2?}: {records} WAL records, {transactions} committed transactions",
        storage.dir.display(),
        started.elapsed()
    );
    Ok(())
}

async fn load_catalog(shard: &ShardRef) -> Result<(), String> {
    let engine = shard.state().engine();
    let Some(storage) = engine.storage() else {
        return Ok(());
    };
    let path = storage.catalog_path();
    if !path.exists() {
        return Ok(());
    }
    let data = read_file(&path).await.map_err(|e| e.to_string())?;
    let image =
        decode_catalog(&data).map_err(|e| format!("catalog file {}: {e}", path.display()))?;
    if image.shards as usize != engine.shard_count() && !image.tables.is_empty() {
        return Err(format!(
            "the data in {} is partitioned for {} shards: start with --shards {}",
            storage.dir.display(),
            image.shards,
            image.shards
        ));
    }
    engine.install_catalog(catalog_of(&image), image.next_oid);
    Ok(())
}

/// Read every WAL file of this shard in generation order and hold its records.
async fn scan_shard(shard: &ShardRef) -> Result<ShardScan, String> {
    let state = shard.state();
    let Some(log) = state.log() else {
        return Err("a durable engine without a WAL".into());
    };
    let dir = log.dir().to_path_buf();
    let mut generations: Vec<u64> = list_dir(&dir)
        .map_err(|e| e.to_string())?
        .iter()
        .filter_map(|n| wal_generation(n))
        .collect();
    generations.sort_unstable();
    let mut scan = ShardScan {
        committed: HashSet::new(),
        max_txn: 0,
        max_generation: 0,
        records: 0,
        last: None,
    };
    for generation in generations {
        scan.max_generation = scan.max_generation.max(generation);
        let path = dir.join(super::log::wal_file_name(generation));
        let data = read_file(&path).await.map_err(|e| e.to_string())?;
        if data.iter().all(|&b| b == 0) {
            // Created but its header never became durable (a crash while rotating): empty.
            tracing::warn!("{}: empty WAL file ignored", path.display());
            continue;
        }
        let contents = read_log(&data).map_err(|e| format!("WAL file {}: {e}", path.display()))?;
        if let Some(why) = &contents.cut {
            tracing::warn!(
                "{}: WAL cut at byte {} ({why}); later bytes were never acknowledged",
                path.display(),
                contents.valid_end
            );
        }
        for r in &contents.records {
            if let Some(t) = r.txn() {
                scan.max_txn = scan.max_txn.max(t);
            }
            if let Record::Commit { txn } = r {
                scan.committed.insert(*txn);
            }
        }
        scan.records += contents.records.len();
        scan.last = Some((
            generation,
            omendb_storage::io::align_up(contents.valid_end) as u64,
            contents.cut.is_some(),
        ));
        state.hold_recovered(contents.records);
    }
    Ok(scan)
}

/// Open this shard's WAL for appends: after the valid part of its newest file, or in a new
/// file of generation `next`; with `--sync off`, start its writer task.
async fn start_log(
    shard: &ShardRef,
    last: Option<(u64, u64, bool)>,
    next: u64,
) -> Result<(), String> {
    let Some(log) = shard.state().log() else {
        return Ok(());
    };
    match last {
        Some((generation, tail, cut)) if tail < super::log::WAL_FILE_BYTES => {
            log.resume(generation, tail, cut).await
        }
        _ => log.rotate(next).await,
    }
    .map_err(|e| e.to_string())?;
    if log.sync_mode() == SyncMode::Off {
        let shard = shard.clone();
        spawn_local(async move {
            loop {
                sleep(SYNC_OFF_INTERVAL).await;
                if let Some(log) = shard.state().log()
                    && let Err(e) = log.flush_all().await
                {
                    tracing::error!("WAL writer stopped: {e}");
                    return;
                }
            }
        })
        .detach();
    }
    Ok(())
}
