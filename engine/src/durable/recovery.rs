//! Start-up recovery: catalog file, then every shard's WAL read in full, then the records of
//! committed transactions replayed on their shards, then a fresh WAL generation opened.
//!
//! A torn or corrupt WAL tail is cut at the last valid record and logged; a catalog or WAL
//! header that fails validation stops the start-up with an error naming the file.

use super::catalog_file::catalog_of;
use super::checkpoint::{MANIFEST, SEGMENT_DIR, manifest_files, segment_file, unique_file};
use super::log::{SyncMode, wal_generation};
use crate::runtime::file::{create_dir_all, list_dir, read_file, remove_file};
use crate::runtime::{join_all, sleep, spawn_local};
use crate::shard::ShardRef;
use omendb_storage::checkpoint::{decode_catalog, decode_manifest, decode_unique_keys};
use omendb_storage::row::ColdSegment;
use omendb_storage::segment::Segment;
use omendb_storage::wal::{Record, read_log};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often a `--sync off` shard writes its WAL buffer.
const SYNC_OFF_INTERVAL: Duration = Duration::from_millis(5);

/// What one shard's logs held.
struct ShardScan {
    committed: HashSet<u64>,
    /// Multi-shard transactions whose records here are complete (`Prepared`).
    prepared: HashSet<u64>,
    /// Multi-shard decisions this shard logged as coordinator: (transaction, participants).
    decisions: Vec<(u64, Vec<u32>)>,
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
    let loads = join_all(
        (0..shard.count())
            .map(|s| shard.run_on(s, |sh| async move { load_checkpoint(&sh).await }))
            .collect(),
    )
    .await;
    let (mut max_txn, mut max_generation, mut records) = (0, 0, 0);
    let mut segments = 0;
    for load in loads {
        let load = load.map_err(|e| e.to_string())??;
        if let Some(l) = load {
            max_txn = max_txn.max(l.max_txn);
            max_generation = max_generation.max(l.wal_from);
            segments += l.segments;
            engine.raise_checkpoint(l.checkpoint);
        }
    }
    let scans = join_all(
        (0..shard.count())
            .map(|s| shard.run_on(s, |sh| async move { scan_shard(&sh).await }))
            .collect(),
    )
    .await;
    let mut committed = HashSet::new();
    let mut lasts = Vec::new();
    let mut prepared = Vec::new();
    let mut decisions = Vec::new();
    for scan in scans {
        let scan = scan.map_err(|e| e.to_string())??;
        lasts.push(scan.last);
        committed.extend(scan.committed);
        prepared.push(scan.prepared);
        decisions.extend(scan.decisions);
        max_txn = max_txn.max(scan.max_txn);
        max_generation = max_generation.max(scan.max_generation);
        records += scan.records;
    }
    committed.extend(decided(&decisions, &prepared));
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
                    load_logged_segments(&sh, &catalog, &committed).await?;
                    sh.state().replay(&catalog, &committed);
                    sh.state().publish_all_stats();
                    remove_orphan_segments(&sh).await?;
                    start_log(&sh, last, max_generation + 1).await
                })
            })
            .collect(),
    )
    .await;
    for r in replays {
        r.map_err(|e| e.to_string())??;
    }
    spawn_local(super::checkpoint::auto_checkpoints(shard.clone())).detach();
    tracing::info!(
        "recovered {} in {:.2?}: {segments} segments, {records} WAL records, \
         {transactions} committed transactions",
        storage.dir.display(),
        started.elapsed()
    );
    Ok(())
}

/// The multi-shard transactions that committed: those whose decision lists only shards that
/// logged them as prepared (`prepared[s]` is shard `s`'s set). A crash before every
/// participant's records were durable leaves the decision without effect: the client was never
/// told, and no shard replays a part of the transaction.
fn decided(decisions: &[(u64, Vec<u32>)], prepared: &[HashSet<u64>]) -> Vec<u64> {
    decisions
        .iter()
        .filter(|(txn, shards)| {
            shards.iter().all(|&s| {
                prepared
                    .get(s as usize)
                    .is_some_and(|set| set.contains(txn))
            })
        })
        .map(|(txn, _)| *txn)
        .collect()
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

/// What a shard's last checkpoint gave back.
struct LoadedCheckpoint {
    checkpoint: u64,
    wal_from: u64,
    max_txn: u64,
    segments: usize,
}

/// Load this shard's manifest, its segments and unique keys. A manifest, segment or key file
/// that fails validation stops the start-up, naming the file.
async fn load_checkpoint(shard: &ShardRef) -> Result<Option<LoadedCheckpoint>, String> {
    let state = shard.state();
    let engine = state.engine();
    let Some(storage) = engine.storage() else {
        return Ok(None);
    };
    let dir = storage.shard_dir(state.id());
    let path = dir.join(MANIFEST);
    if !path.exists() {
        return Ok(None);
    }
    let data = read_file(&path).await.map_err(|e| e.to_string())?;
    let manifest =
        decode_manifest(&data).map_err(|e| format!("manifest {}: {e}", path.display()))?;
    if manifest.shard as usize != state.id() {
        return Err(format!(
            "manifest {} belongs to shard {}",
            path.display(),
            manifest.shard
        ));
    }
    let catalog = engine.catalog();
    let by_id: std::collections::HashMap<u32, _> =
        catalog.tables.values().map(|t| (t.id, t.clone())).collect();
    let mut segments = 0;
    let mut next_segment = 0;
    for table in &manifest.tables {
        let Some(schema) = by_id.get(&table.table) else {
            continue;
        };
        let types: Vec<_> = schema.columns.iter().map(|c| c.ty).collect();
        let pk = schema.primary_key.as_ref().map(|k| k.columns.clone());
        for entry in &table.segments {
            let file = dir.join(&entry.file);
            let bytes = read_file(&file)
                .await
                .map_err(|e| format!("segment {}: {e}", file.display()))?;
            let segment = Segment::decode_with(engine.index_kind(), &types, pk.as_deref(), &bytes)
                .map_err(|e| format!("segment {}: {e}", file.display()))?;
            if segment.rows() != entry.rows as usize {
                return Err(format!(
                    "segment {}: {} rows, the manifest says {}",
                    file.display(),
                    segment.rows(),
                    entry.rows
                ));
            }
            let id = segment_id(&entry.file).ok_or_else(|| {
                format!(
                    "manifest {}: bad segment name {}",
                    path.display(),
                    entry.file
                )
            })?;
            next_segment = next_segment.max(id + 1);
            state.with_table(schema, |t| {
                t.install_segment(ColdSegment {
                    id,
                    segment: Arc::new(segment),
                    deletes: entry.deletes.clone(),
                    since: 0,
                })
            });
            segments += 1;
        }
    }
    let unique = dir.join(unique_file(manifest.checkpoint));
    let data = read_file(&unique)
        .await
        .map_err(|e| format!("unique-key file {}: {e}", unique.display()))?;
    let keys = decode_unique_keys(&data)
        .map_err(|e| format!("unique-key file {}: {e}", unique.display()))?;
    for (constraint, key) in keys {
        state.restore_unique_key(constraint, &key);
    }
    let cp = state.checkpoint_state();
    cp.next_segment.set(next_segment);
    cp.wal_from.set(manifest.wal_from);
    cp.manifest_files.replace(manifest_files(&manifest));
    Ok(Some(LoadedCheckpoint {
        checkpoint: manifest.checkpoint,
        wal_from: manifest.wal_from,
        max_txn: manifest.max_txn,
        segments,
    }))
}

/// Read the segment files that committed bulk loads logged, for the replay to install.
async fn load_logged_segments(
    shard: &ShardRef,
    catalog: &crate::catalog::Catalog,
    committed: &HashSet<u64>,
) -> Result<(), String> {
    let state = shard.state();
    let Some(storage) = state.engine().storage() else {
        return Ok(());
    };
    let dir = storage.shard_dir(state.id());
    let wanted = state.logged_segments(committed);
    for (table, file) in wanted {
        let Some(schema) = catalog.tables.values().find(|t| t.id == table) else {
            continue;
        };
        let types: Vec<_> = schema.columns.iter().map(|c| c.ty).collect();
        let pk = schema.primary_key.as_ref().map(|k| k.columns.clone());
        let path = dir.join(&file);
        let bytes = read_file(&path)
            .await
            .map_err(|e| format!("segment {}: {e}", path.display()))?;
        let kind = state.engine().index_kind();
        let segment = Segment::decode_with(kind, &types, pk.as_deref(), &bytes)
            .map_err(|e| format!("segment {}: {e}", path.display()))?;
        let id = segment_id(&file).ok_or_else(|| format!("WAL names a bad segment file {file}"))?;
        let cp = state.checkpoint_state();
        cp.next_segment.set(cp.next_segment.get().max(id + 1));
        state.hold_segment(file, id, segment);
    }
    Ok(())
}

/// Delete segment files that neither the manifest names nor a table holds (a crash during a
/// checkpoint or before a bulk load committed).
async fn remove_orphan_segments(shard: &ShardRef) -> Result<(), String> {
    let state = shard.state();
    let Some(storage) = state.engine().storage() else {
        return Ok(());
    };
    let dir = storage.shard_dir(state.id()).join(SEGMENT_DIR);
    if !dir.exists() {
        return Ok(());
    }
    let mut keep = state.checkpoint_state().manifest_files.borrow().clone();
    keep.extend(
        state
            .segment_ids()
            .into_iter()
            .map(|(table, id)| segment_file(table, id)),
    );
    for name in list_dir(&dir).map_err(|e| e.to_string())? {
        if !keep.contains(&format!("{SEGMENT_DIR}/{name}")) {
            tracing::info!("removing unreferenced segment file {name}");
            remove_file(&dir.join(&name))
                .await
                .map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

/// The segment number in a manifest's file name (`segments/<table>-<id>.seg`).
fn segment_id(file: &str) -> Option<u64> {
    file.strip_suffix(".seg")?.rsplit('-').next()?.parse().ok()
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
    // Generations below the manifest's are in the segments: only their commit records count
    // (another shard's records may wait on them, if its manifest is older), nothing is replayed.
    let wal_from = state.checkpoint_state().wal_from.get();
    let mut scan = ShardScan {
        committed: HashSet::new(),
        prepared: HashSet::new(),
        decisions: Vec::new(),
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
            match r {
                Record::Commit { txn } => {
                    scan.committed.insert(*txn);
                }
                Record::Prepared { txn } => {
                    scan.prepared.insert(*txn);
                }
                Record::Decision { txn, participants } => {
                    scan.decisions.push((*txn, participants.clone()));
                }
                _ => {}
            }
        }
        if generation < wal_from {
            continue;
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

#[cfg(test)]
mod tests {
    use super::decided;
    use std::collections::HashSet;

    fn set(txns: &[u64]) -> HashSet<u64> {
        txns.iter().copied().collect()
    }

    #[test]
    fn a_decision_commits_only_when_every_participant_prepared() {
        let decisions = vec![(7, vec![0, 1]), (8, vec![0, 1]), (9, vec![1, 2])];
        // Shard 1 crashed before transaction 8's records were durable; shard 2 does not exist.
        let prepared = vec![set(&[7, 8]), set(&[7])];
        assert_eq!(decided(&decisions, &prepared), vec![7]);
    }

    #[test]
    fn prepared_records_without_a_decision_stay_uncommitted() {
        let prepared = vec![set(&[4]), set(&[4])];
        assert!(decided(&[], &prepared).is_empty());
    }
}
