//! Checkpoints: what only the row store and the WAL hold becomes column segments, a manifest
//! replaced atomically records them, and the WAL before it is deleted.
//!
//! 1. Close the commit gate, so no transaction is between logging and applying.
//! 2. On every shard: rotate the WAL to a new generation, then (synchronously, so nothing
//!    interleaves) freeze every table — committed row-store rows become segments — and take
//!    the unique keys' committed set. The frozen image is exactly the WAL prefix before the
//!    new generation.
//! 3. Reopen the gate: commits go on into the new generation while files are written.
//! 4. On every shard: write segment files not yet on disk (temporary name, fsync, rename) and
//!    the unique-key file; then the catalog file (sequences' restart values, which the WAL
//!    held until now); then every shard's manifest (write, fsync, rename, fsync the directory).
//! 5. Only then — once *every* shard's manifest is durable — delete WAL generations below the
//!    manifests', and segment files the new manifest no longer names.
//!
//! Must never delete a WAL file before the manifests of all shards are durable (a commit record
//! in one shard's WAL decides whether another shard's records are replayed, so recovery reads
//! the commit records of older generations too), and never rewrite a segment file in place.

use super::catalog_file::persist_catalog_now;
use crate::EngineError;
use crate::runtime::file::{create_dir_all, list_dir, remove_file, rename, sync_dir, write_file};
use crate::runtime::join_all;
use crate::shard::{ShardRef, ShardState};
use omendb_storage::checkpoint::{
    Manifest, SegmentEntry, TableSegments, encode_manifest, encode_unique_keys,
};
use omendb_storage::row::Frozen;
use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The manifest file in a shard's directory.
pub const MANIFEST: &str = "manifest";
const MANIFEST_TMP: &str = "manifest.tmp";
/// Where a shard keeps its segment files.
pub const SEGMENT_DIR: &str = "segments";
const TMP_SUFFIX: &str = ".tmp";

/// A checkpoint starts on its own once a shard has written this many WAL files since the last.
pub const AUTO_CHECKPOINT_WAL_FILES: u64 = 8;
/// How often the automatic checkpoint looks.
pub const AUTO_CHECKPOINT_POLL: Duration = Duration::from_secs(1);

/// A segment's file name, relative to its shard directory.
pub fn segment_file(table: u32, id: u64) -> String {
    format!("{SEGMENT_DIR}/{table}-{id}.seg")
}

/// The unique-key file of checkpoint `n`, relative to its shard directory.
pub fn unique_file(n: u64) -> String {
    format!("unique-{n:016}")
}

/// Per-shard checkpoint bookkeeping.
#[derive(Debug, Default)]
pub struct ShardCheckpoint {
    /// Next segment number on this shard.
    pub next_segment: Cell<u64>,
    /// The first WAL generation the last manifest needs.
    pub wal_from: Cell<u64>,
    /// The segment files the last manifest names.
    pub manifest_files: RefCell<HashSet<String>>,
}

/// What one checkpoint did, for the log.
#[derive(Debug, Default)]
pub struct CheckpointStats {
    pub segments_written: usize,
    pub bytes_written: u64,
    pub elapsed: Duration,
    /// How long commits waited at the closed gate: the WAL rotations and the freezes, which
    /// run without yielding on every shard (what a transaction's worst latency shows).
    pub commits_paused: Duration,
}

/// One shard's frozen state, waiting to be written.
struct ShardFreeze {
    tables: Vec<(u32, Frozen)>,
    unique: Vec<u8>,
    wal_from: u64,
}

fn io(e: std::io::Error) -> EngineError {
    EngineError::Io(e.to_string())
}

/// Run one checkpoint over every shard. Returns `None` if the engine keeps no files.
pub async fn checkpoint(shard: &ShardRef) -> Result<Option<CheckpointStats>, EngineError> {
    let engine = shard.state().engine().clone();
    if engine.storage().is_none() {
        return Ok(None);
    }
    let started = Instant::now();
    let _running = engine.checkpoint_lock().await;
    let number = engine.next_checkpoint_number();
    let max_txn = engine.current_txn();
    let mut stats = CheckpointStats::default();
    let frozen = {
        let _closed = engine.gate().close().await;
        let closed_at = Instant::now();
        let freezes = (0..shard.count())
            .map(|s| shard.run_on(s, |sh| async move { freeze_shard(sh.state()).await }))
            .collect();
        let frozen = join_all(freezes).await;
        stats.commits_paused = closed_at.elapsed();
        frozen
    };
    let mut states = Vec::with_capacity(frozen.len());
    for f in frozen {
        states.push(f.map_err(|e| EngineError::Internal(e.to_string()))??);
    }
    let writes = states
        .into_iter()
        .enumerate()
        .map(|(s, freeze)| {
            shard.run_on(s, move |sh| async move {
                write_shard_files(sh.state(), number, &freeze)
                    .await
                    .map(|stats| (stats, freeze))
            })
        })
        .collect();
    let mut written = Vec::new();
    for w in join_all(writes).await {
        let (s, freeze) = w.map_err(|e| EngineError::Internal(e.to_string()))??;
        stats.segments_written += s.segments_written;
        stats.bytes_written += s.bytes_written;
        written.push(freeze);
    }
    persist_catalog_now(shard).await?;
    let installs = written
        .into_iter()
        .enumerate()
        .map(|(s, freeze)| {
            shard.run_on(s, move |sh| async move {
                install_manifest(sh.state(), number, max_txn, &freeze).await
            })
        })
        .collect();
    let mut installed = Vec::new();
    for r in join_all(installs).await {
        installed.push(r.map_err(|e| EngineError::Internal(e.to_string()))??);
    }
    // Only now, with every shard's manifest durable, may any WAL go: a transaction's commit
    // record on one shard decides whether its records on the others are replayed.
    let removals = installed
        .into_iter()
        .enumerate()
        .map(|(s, manifest)| {
            shard.run_on(s, move |sh| async move {
                let dir = shard_dir(sh.state())?;
                remove_old_logs(&dir, manifest.wal_from, number).await?;
                remove_replaced(sh.state(), &dir, &manifest).await
            })
        })
        .collect();
    for r in join_all(removals).await {
        r.map_err(|e| EngineError::Internal(e.to_string()))??;
    }
    stats.elapsed = started.elapsed();
    tracing::info!(
        "checkpoint {number}: {} segments, {} bytes written in {:.2?} (commits paused {:.2?})",
        stats.segments_written,
        stats.bytes_written,
        stats.elapsed,
        stats.commits_paused
    );
    Ok(Some(stats))
}

/// Step 2 on one shard.
async fn freeze_shard(state: &ShardState) -> Result<ShardFreeze, EngineError> {
    let Some(log) = state.log() else {
        return Err(EngineError::Internal(
            "a durable engine without a WAL".into(),
        ));
    };
    let wal_from = log.generation() + 1;
    log.rotate(wal_from).await.map_err(io)?;
    // No await from here on: the freeze is the state at the rotation.
    let tables = state.freeze_tables()?;
    let unique = encode_unique_keys(state.unique_keys_committed());
    Ok(ShardFreeze {
        tables,
        unique,
        wal_from,
    })
}

/// Step 4's segment and unique-key files on one shard.
async fn write_shard_files(
    state: &ShardState,
    number: u64,
    freeze: &ShardFreeze,
) -> Result<CheckpointStats, EngineError> {
    let dir = shard_dir(state)?;
    create_dir_all(&dir.join(SEGMENT_DIR)).map_err(io)?;
    let mut stats = CheckpointStats::default();
    for (table, frozen) in &freeze.tables {
        for s in &frozen.image {
            let path = dir.join(segment_file(*table, s.id));
            if path.exists() {
                continue;
            }
            let bytes = s.segment.encode();
            write_new_file(&path, &bytes).await?;
            stats.segments_written += 1;
            stats.bytes_written += bytes.len() as u64;
        }
    }
    sync_dir(&dir.join(SEGMENT_DIR)).await.map_err(io)?;
    write_new_file(&dir.join(unique_file(number)), &freeze.unique).await?;
    sync_dir(&dir).await.map_err(io)?;
    Ok(stats)
}

/// Write a file that did not exist: under a temporary name, durable, then renamed, so a crash
/// never leaves a partial file under the real name.
pub(crate) async fn write_new_file(path: &Path, bytes: &[u8]) -> Result<(), EngineError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(TMP_SUFFIX);
    let tmp = PathBuf::from(tmp);
    write_file(&tmp, bytes).await.map_err(io)?;
    rename(&tmp, path).await.map_err(io)
}

/// Step 4's manifest and step 5 on one shard.
async fn install_manifest(
    state: &ShardState,
    number: u64,
    max_txn: u64,
    freeze: &ShardFreeze,
) -> Result<Manifest, EngineError> {
    let dir = shard_dir(state)?;
    let manifest = Manifest {
        shard: state.id() as u32,
        checkpoint: number,
        wal_from: freeze.wal_from,
        max_txn,
        tables: freeze
            .tables
            .iter()
            .map(|(table, frozen)| TableSegments {
                table: *table,
                segments: frozen
                    .image
                    .iter()
                    .map(|s| SegmentEntry {
                        file: segment_file(*table, s.id),
                        rows: s.segment.rows() as u32,
                        bytes: std::fs::metadata(dir.join(segment_file(*table, s.id)))
                            .map_or(0, |m| m.len()),
                        deletes: s.deletes.clone(),
                    })
                    .collect(),
            })
            .collect(),
    };
    let bytes = encode_manifest(&manifest);
    write_file(&dir.join(MANIFEST_TMP), &bytes)
        .await
        .map_err(io)?;
    rename(&dir.join(MANIFEST_TMP), &dir.join(MANIFEST))
        .await
        .map_err(io)?;
    sync_dir(&dir).await.map_err(io)?;
    state.checkpoint_state().wal_from.set(freeze.wal_from);
    Ok(manifest)
}

/// Delete WAL generations below `wal_from` and unique-key files of other checkpoints than
/// `number`.
pub async fn remove_old_logs(dir: &Path, wal_from: u64, number: u64) -> Result<(), EngineError> {
    for name in list_dir(dir).map_err(io)? {
        let old_wal = super::log::wal_generation(&name).is_some_and(|g| g < wal_from);
        let old_unique = name.starts_with("unique-") && name != unique_file(number);
        if old_wal || old_unique {
            remove_file(&dir.join(&name)).await.map_err(io)?;
        }
    }
    Ok(())
}

/// The segment files a manifest names.
pub fn manifest_files(manifest: &Manifest) -> HashSet<String> {
    manifest
        .tables
        .iter()
        .flat_map(|t| t.segments.iter().map(|s| s.file.clone()))
        .collect()
}

/// Delete the files the previous manifest named and the new one does not (segments of
/// truncated or dropped tables). Files no manifest ever named (a bulk load's) are left alone:
/// a load may be about to commit them; the next start-up removes leftovers.
async fn remove_replaced(
    state: &ShardState,
    dir: &Path,
    manifest: &Manifest,
) -> Result<(), EngineError> {
    let now = manifest_files(manifest);
    let before = state.checkpoint_state().manifest_files.replace(now.clone());
    for file in before.difference(&now) {
        remove_file(&dir.join(file)).await.map_err(io)?;
    }
    Ok(())
}

fn shard_dir(state: &ShardState) -> Result<PathBuf, EngineError> {
    state
        .engine()
        .storage()
        .map(|s| s.shard_dir(state.id()))
        .ok_or_else(|| EngineError::Internal("checkpoint without a data directory".into()))
}

/// Start a checkpoint whenever some shard has filled [`AUTO_CHECKPOINT_WAL_FILES`] WAL files
/// since the last one. Runs until the engine stops.
pub async fn auto_checkpoints(shard: ShardRef) {
    loop {
        crate::runtime::sleep(AUTO_CHECKPOINT_POLL).await;
        let mut due = false;
        for s in 0..shard.count() {
            let behind = shard
                .run_on(s, |sh| async move {
                    let st = sh.state();
                    st.log().map_or(0, |log| {
                        log.generation()
                            .saturating_sub(st.checkpoint_state().wal_from.get())
                    })
                })
                .await
                .unwrap_or(0);
            due |= behind >= AUTO_CHECKPOINT_WAL_FILES;
        }
        if due && let Err(e) = checkpoint(&shard).await {
            tracing::error!("automatic checkpoint failed: {e}");
        }
    }
}
