//! The in-memory row store of one table on one shard: rows in slots, a primary-key index over
//! their memcomparable keys, and a per-row writer mark for transactions.
//!
//! Must never reach across shards or evaluate SQL; uniqueness beyond the shard-local primary key
//! is the engine's job.

pub mod key;
mod table;

pub use table::{RowId, RowTable, WriterId};

use thiserror::Error;

/// A row-store operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RowError {
    /// The primary key is already present (23505).
    #[error("duplicate key value violates unique constraint \"{constraint}\"")]
    UniqueViolation {
        constraint: String,
        columns: Vec<usize>,
    },
    /// An update named a row that is gone: an engine bug, reported rather than panicking.
    #[error("row {0} does not exist")]
    Missing(u32),
}
