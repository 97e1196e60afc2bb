//! `COPY table FROM STDIN`: recognising the statement, parsing its data stream, and inserting
//! the rows in batches inside the session's transaction (one WAL flush at commit).
//!
//! The wire layer drives it: `Session::copy_start`, then `copy_data` per CopyData message,
//! then `copy_done` (or `copy_fail`). Must never hold the whole input in memory: rows are
//! inserted every `BATCH_ROWS`.

mod block;
pub mod bulk;
mod direct;
mod parse;
mod statement;

pub use parse::CopyParser;
pub use statement::{CopyFormat, CopyStatement, parse_copy};

use crate::EngineError;
use omendb_storage::schema::TableSchema;
use omendb_storage::types::Value;
use std::sync::Arc;

/// Rows parsed before they are handed to the shards.
pub const BATCH_ROWS: usize = 8192;
/// Bytes of whole lines a shard parses at a time in a parallel bulk load.
pub const CHUNK_BYTES: usize = 1 << 20;
/// Chunks in flight per shard before the session waits for the oldest.
pub const CHUNKS_IN_FLIGHT: usize = 2;

/// A COPY in progress.
pub struct CopyIn {
    pub(crate) parser: CopyParser,
    /// Rows go into column segments (`bulk`) rather than the row store.
    pub(crate) bulk: bool,
    pub(crate) table: Arc<TableSchema>,
    pub(crate) rows: Vec<Vec<Value>>,
    pub(crate) count: u64,
    /// Columns the client sends per line (for CopyInResponse).
    pub columns: usize,
    /// Chunks of whole lines are parsed on the shards in parallel (a bulk load of text data).
    pub(crate) parallel: bool,
    /// Every shard's part of the bulk load is begun.
    pub(crate) claimed: bool,
    /// Chunks being parsed and loaded, oldest first; each gives its row count.
    pub(crate) inflight:
        std::collections::VecDeque<crate::runtime::Task<Result<usize, EngineError>>>,
    /// The shard the next chunk goes to.
    pub(crate) next_shard: usize,
    /// A batch failed: the rest of the data is ignored until CopyDone/CopyFail.
    pub(crate) error: Option<EngineError>,
}

/// Resolve the target table and columns of a COPY.
pub(crate) fn targets(
    table: &TableSchema,
    columns: Option<&[String]>,
) -> Result<Vec<(usize, omendb_storage::types::DataType)>, EngineError> {
    let Some(names) = columns else {
        return Ok(table
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| (i, c.ty))
            .collect());
    };
    let mut out = Vec::with_capacity(names.len());
    for n in names {
        let i = table.column_index(n).ok_or_else(|| {
            EngineError::sql(
                "42703",
                format!(
                    "column \"{n}\" of relation \"{}\" does not exist",
                    table.name
                ),
            )
        })?;
        out.push((i, table.columns[i].ty));
    }
    for (i, c) in table.columns.iter().enumerate() {
        if c.default.is_some() && !out.iter().any(|(j, _)| *j == i) {
            return Err(EngineError::sql(
                "0A000",
                format!(
                    "COPY that leaves out column \"{}\" (it has a default) is not supported yet",
                    c.name
                ),
            ));
        }
    }
    Ok(out)
}

/// Byte strings for testing the word-at-a-time searches: 50 pseudo-random strings of every
/// length below 40, over delimiters and the byte values at the edges of the zero-byte tricks
/// (0, 1, 0x7f, 0x80, 0x81, 0xfe, 0xff), with the alphabet they are drawn from.
#[cfg(test)]
pub(crate) fn search_cases() -> (Vec<Vec<u8>>, [u8; 10]) {
    let alphabet = [
        0x00u8, 0x01, b'\t', b'|', 0x7f, 0x80, 0x81, 0xfe, 0xff, b'a',
    ];
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut cases = Vec::new();
    for len in 0..40 {
        for _ in 0..50 {
            cases.push(
                (0..len)
                    .map(|_| {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        alphabet[(state % alphabet.len() as u64) as usize]
                    })
                    .collect(),
            );
        }
    }
    (cases, alphabet)
}
