//! Why a segment could not be built or read.

use crate::types::DataType;
use thiserror::Error;

/// A segment that cannot be built from the given columns, or bytes that are not a valid segment
/// file. Decoding errors name the block or the logical byte offset and the column.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SegmentError {
    #[error("segment block {block} (file offset {offset}) fails its checksum")]
    Checksum { block: usize, offset: usize },
    #[error("not an OmenDB segment file (bad magic number)")]
    Magic,
    #[error(
        "segment format version {found} is not supported (this build reads version {supported})"
    )]
    Version { found: u32, supported: u32 },
    #[error("segment column {column}: expected type {expected}, found {found}")]
    TypeMismatch {
        column: usize,
        expected: DataType,
        found: String,
    },
    #[error("segment has {found} columns, the table has {expected}")]
    ColumnCount { expected: usize, found: usize },
    #[error("a {found} value cannot be stored in a {expected} column")]
    WrongValue { expected: DataType, found: DataType },
    #[error("row {row}, column {column}: a {found} value cannot be stored in a {expected} column")]
    BadRow {
        row: usize,
        column: usize,
        expected: DataType,
        found: DataType,
    },
    #[error("segment column {column} has {found} rows, expected {expected}")]
    Length {
        column: usize,
        expected: usize,
        found: usize,
    },
    #[error("a segment holds between 1 and {max} rows, not {found}")]
    RowCount { found: usize, max: usize },
    #[error("a table partition holds at most {0} segments")]
    TooMany(usize),
    #[error("primary key {0}")]
    PrimaryKey(String),
    #[error("primary key column {column} is NULL in row {row}")]
    NullKey { row: usize, column: usize },
    #[error("primary keys are not ascending: row {row} sorts before the row above it")]
    Unsorted { row: usize },
    #[error("duplicate primary key in rows {} and {row}", row - 1)]
    DuplicateKey { row: usize },
    #[error("segment file truncated: {found} bytes, at least {needed} expected")]
    Truncated { needed: usize, found: usize },
    #[error("bad segment encoding{}: {what} (logical offset {offset})", column.map(|c| format!(" in column {c}")).unwrap_or_default())]
    Encoding {
        column: Option<usize>,
        offset: usize,
        what: String,
    },
}

impl SegmentError {
    /// The SQLSTATE a client sees: corruption is `XX001` (data_corrupted), a value of the wrong
    /// type `42804` (datatype_mismatch), a duplicate key `23505`, anything else about the
    /// caller's input `XX000` (an internal error: the engine should never pass it).
    pub fn sqlstate(&self) -> &'static str {
        match self {
            SegmentError::Checksum { .. }
            | SegmentError::Magic
            | SegmentError::Version { .. }
            | SegmentError::Truncated { .. }
            | SegmentError::Encoding { .. } => "XX001",
            SegmentError::WrongValue { .. } | SegmentError::BadRow { .. } => "42804",
            SegmentError::DuplicateKey { .. } => "23505",
            _ => "XX000",
        }
    }
}
