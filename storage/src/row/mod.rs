//! The in-memory row store of one table on one shard: rows in slots, a primary-key index over
//! their memcomparable keys, and one pending (uncommitted) version per row.
//!
//! Each slot holds the committed row and at most one pending write (insert, update or delete)
//! by one transaction. Readers see the committed row, the writer sees its own pending one; a
//! second writer of the same row is told who holds it and waits. This gives READ COMMITTED
//! without dirty reads until full MVCC version chains replace it.
//!
//! Must never reach across shards or evaluate SQL.

mod cold;
pub mod key;
mod table;
mod unique;

pub use cold::{COLD, Cold, ColdSegment};
pub use table::{Change, Frozen, FrozenSegment, RowId, RowTable, WriterId};
pub use unique::UniqueKeys;

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
