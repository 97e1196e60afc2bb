//! Durability: the per-shard WAL writers, the commit protocol across shards, the catalog file,
//! and start-up recovery.
//!
//! ## Commit protocol
//! A transaction's changes are logged on the shards that hold them, when it commits (never
//! before: an aborted transaction leaves nothing in the log).
//! * One shard with changes: its records and a `Commit` record go into one flush unit on that
//!   shard, logged, waited for and applied in one visit to it; durable ⇒ applied in memory ⇒
//!   acknowledged. A row on another shard than the session's is still this case, not 2PC.
//! * Several shards (two-phase, one round of syncs): each participant logs its records and a
//!   `Prepared` marker (*prepared* once durable) while, at the same time, the coordinator (the
//!   session's shard) logs a `Decision` record naming the participants; when all of it is
//!   durable, participants apply in memory; then the client is told. Recovery reads every
//!   shard's log first and replays a transaction's records on any shard only if a `Commit`
//!   record exists somewhere, or a `Decision` exists and every shard it names holds the
//!   `Prepared` marker (a torn write cuts the log before the marker, never after it). A crash
//!   before all of it was durable leaves the decision void: never applied, never acked.
//! * Row locks are held from the first write until the in-memory apply, so on every shard the
//!   log order of two conflicting transactions is their commit order and replay in log order
//!   is correct.
//! * The commit gate keeps checkpoints (and TRUNCATE) out of the window between logging and
//!   applying, so a checkpoint's image always equals its WAL prefix.
//!
//! Must never acknowledge a commit before its records and its decision are durable (unless the
//! operator chose `--sync off`, which every benchmark result reports).

mod catalog_file;
pub mod checkpoint;
pub mod commit;
mod gate;
pub mod log;
mod recovery;

pub use catalog_file::{CatalogWriter, persist_catalog};
pub use checkpoint::checkpoint;
pub use gate::CommitGate;
pub use log::{ShardLog, SyncMode};
pub use recovery::recover;

use std::path::{Path, PathBuf};

/// Where and how the engine keeps its data.
#[derive(Debug, Clone)]
pub struct StorageConfig {
    pub dir: PathBuf,
    pub sync: SyncMode,
}

impl StorageConfig {
    /// A shard's WAL directory.
    pub fn shard_dir(&self, shard: usize) -> PathBuf {
        self.dir.join(format!("shard-{shard}"))
    }

    pub fn catalog_path(&self) -> PathBuf {
        self.dir.join("catalog")
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Graceful shutdown (SIGTERM/SIGINT): checkpoint, let in-flight commits finish, keep new ones
/// out, and make every shard's WAL durable.
pub async fn shutdown(shard: &crate::shard::ShardRef) {
    // A checkpoint first, so the next start-up reads segments instead of replaying the WAL.
    if let Err(e) = checkpoint::checkpoint(shard).await {
        tracing::error!("checkpoint at shutdown failed: {e}");
    }
    let engine = shard.state().engine().clone();
    let _closed = engine.gate().close().await;
    let flushes = (0..shard.count())
        .map(|s| {
            shard.run_on(s, |sh| async move {
                if let Some(log) = sh.state().log()
                    && let Err(e) = log.flush_all().await
                {
                    tracing::error!("shard {}: final WAL flush failed: {e}", sh.id());
                }
            })
        })
        .collect();
    crate::runtime::join_all(flushes).await;
    tracing::info!("shutdown complete");
    // The gate stays closed: the shards stop next.
    std::mem::forget(_closed);
}
