//! The in-memory row store of one table on one shard: rows in slots, a primary-key index over
//! their memcomparable keys, and per slot an MVCC version chain plus at most one pending
//! (uncommitted) intent.
//!
//! Each slot holds the row's committed versions, newest first, stamped with commit timestamps,
//! and at most one pending intent (lock, put, delete) of one transaction. A reader at snapshot
//! `at` sees the newest version committed at or before `at` (`version.rs`), a writer sees its
//! own intent; a second writer of the same row is told who holds it and waits. Versions no
//! active snapshot can see are garbage-collected (`RowTable::collect`).
//!
//! Must never reach across shards or evaluate SQL.

mod cold;
pub mod key;
mod range;
mod secondary;
mod table;
mod unique;
mod version;

pub use cold::{COLD, Cold, ColdSegment};
pub use range::KeyRange;
pub use table::{Change, Frozen, FrozenSegment, Lock, RowId, RowTable, SavedIntent, WriterId};
pub use unique::UniqueKeys;
pub use version::{ReadView, Ts};

use thiserror::Error;

/// A row-store operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RowError {
    /// The key is already present and visible (23505).
    #[error("duplicate key value violates unique constraint \"{constraint}\"")]
    UniqueViolation {
        constraint: String,
        columns: Vec<usize>,
    },
    /// Another transaction holds a pending write on the row or key: wait for it and retry.
    #[error("row is being written by transaction {0}")]
    Busy(WriterId),
    /// A write named a row that is gone or not locked by the writer: an engine bug, reported
    /// rather than panicking.
    #[error("row {0} is not available for writing")]
    Missing(u32),
}
