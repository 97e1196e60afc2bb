//! The write-ahead log of one shard: logical records keyed by primary key (a row image per
//! write), each framed with its length and CRC32C, grouped into 4 KiB-aligned flush units.
//!
//! Layout (see `storage/FORMAT.md`): a header block, then flush units; each unit is whole frames
//! followed by zero padding to the next block, so no durable block is ever rewritten. A reader
//! stops at the first frame that is cut short or fails its checksum and reports why: a torn
//! tail is cut, never replayed.
//!
//! Transactions: every data record carries its transaction id; a transaction counts as
//! committed iff a `Commit` record with its id exists in the log of *any* shard (a multi-shard
//! transaction's participants log their records first, then its coordinator logs the commit).
//! This module must never decide what is committed by itself, nor perform I/O.

mod read;
#[cfg(test)]
mod tests;

pub use read::{LogContents, read_log};

use crate::io::{BLOCK, ByteReader, ByteWriter, IoFormatError, checksum, decode_row, encode_row};
use crate::types::Value;

/// `OMENWAL` and a version byte's room: the first bytes of every WAL file.
pub const MAGIC: &[u8; 8] = b"OMENWAL\0";
/// Version of the WAL layout this build writes and reads.
pub const VERSION: u32 = 1;
/// Bytes before a frame's payload: length and checksum.
pub const FRAME_HEADER: usize = 8;
/// A frame longer than this is corruption, not data (COPY batches stay far below it).
pub const MAX_FRAME: usize = 256 * 1024 * 1024;

/// A transaction id (the engine's writer id).
pub type TxnId = u64;

/// One logical change, as replay applies it.
#[derive(Debug, Clone)]
pub enum Record {
    /// Insert or replace the row with this primary key (the whole row for tables without one).
    Put {
        txn: TxnId,
        table: u32,
        row: Vec<Value>,
    },
    /// Delete the row whose image this is (its primary key identifies it; the whole row for
    /// tables without a key).
    Delete {
        txn: TxnId,
        table: u32,
        row: Vec<Value>,
    },
    /// A UNIQUE constraint's key became present or absent (owned by this shard).
    Key {
        txn: TxnId,
        constraint: u64,
        key: Vec<u8>,
        present: bool,
    },
    /// The transaction committed (logged once, by its coordinator).
    Commit { txn: TxnId },
    /// Every record a multi-shard transaction has in this shard's log is before this one
    /// (a torn write stops the reader at its first bad frame, so this marker is never readable
    /// without them).
    Prepared { txn: TxnId },
    /// A multi-shard transaction's decision, logged by its coordinator at the same time as its
    /// participants' records: it committed iff every listed shard's log holds `Prepared` for
    /// it. Saves the wait for the prepares before the decision is written (one fdatasync round
    /// per commit instead of two in a row).
    Decision { txn: TxnId, participants: Vec<u32> },
    /// The table was emptied on this shard (not transactional; applied in log order).
    Truncate { table: u32 },
    /// A sequence may have handed out values below `next`: restart it at least there.
    Sequence { name: String, next: i64 },
    /// A bulk load wrote a whole column segment file for the table, part of `txn`.
    Segment {
        txn: TxnId,
        table: u32,
        file: String,
    },
}

const PUT: u8 = 1;
const DELETE: u8 = 2;
const KEY: u8 = 3;
const COMMIT: u8 = 4;
const TRUNCATE: u8 = 5;
const SEQUENCE: u8 = 6;
const SEGMENT: u8 = 7;
const PREPARED: u8 = 8;
const DECISION: u8 = 9;

impl Record {
    /// The transaction the record belongs to, if it is transactional.
    pub fn txn(&self) -> Option<TxnId> {
        match self {
            Record::Put { txn, .. }
            | Record::Delete { txn, .. }
            | Record::Key { txn, .. }
            | Record::Commit { txn }
            | Record::Prepared { txn }
            | Record::Decision { txn, .. }
            | Record::Segment { txn, .. } => Some(*txn),
            Record::Truncate { .. } | Record::Sequence { .. } => None,
        }
    }

    fn decode(payload: &[u8]) -> Result<Record, IoFormatError> {
        let mut r = ByteReader::new(payload);
        let record = match r.u8()? {
            PUT => Record::Put {
                txn: r.u64()?,
                table: r.u32()?,
                row: decode_row(&mut r)?,
            },
            DELETE => Record::Delete {
                txn: r.u64()?,
                table: r.u32()?,
                row: decode_row(&mut r)?,
            },
            KEY => Record::Key {
                txn: r.u64()?,
                constraint: r.u64()?,
                key: r.bytes()?.to_vec(),
                present: r.u8()? != 0,
            },
            COMMIT => Record::Commit { txn: r.u64()? },
            TRUNCATE => Record::Truncate { table: r.u32()? },
            SEQUENCE => Record::Sequence {
                name: r.str()?.to_string(),
                next: r.i64()?,
            },
            SEGMENT => Record::Segment {
                txn: r.u64()?,
                table: r.u32()?,
                file: r.str()?.to_string(),
            },
            PREPARED => Record::Prepared { txn: r.u64()? },
            DECISION => {
                let txn = r.u64()?;
                let count = r.u32()?;
                let mut participants = Vec::new();
                for _ in 0..count {
                    participants.push(r.u32()?);
                }
                Record::Decision { txn, participants }
            }
            kind => return Err(IoFormatError::Invalid(format!("record kind {kind}"))),
        };
        if r.remaining() != 0 {
            return Err(IoFormatError::Invalid("bytes after a record".into()));
        }
        Ok(record)
    }
}

/// Appends framed records to a flush buffer without building `Record` values (the commit path
/// borrows rows straight from the row store).
pub struct Appender<'a> {
    out: &'a mut Vec<u8>,
}

impl<'a> Appender<'a> {
    pub fn new(out: &'a mut Vec<u8>) -> Appender<'a> {
        Appender { out }
    }

    fn frame(&mut self, body: impl FnOnce(&mut ByteWriter)) {
        let start = self.out.len();
        self.out.extend_from_slice(&[0; FRAME_HEADER]);
        let mut w = ByteWriter {
            buf: std::mem::take(self.out),
        };
        body(&mut w);
        *self.out = w.buf;
        let len = (self.out.len() - start - FRAME_HEADER) as u32;
        let crc = checksum(&self.out[start + FRAME_HEADER..]);
        self.out[start..start + 4].copy_from_slice(&len.to_le_bytes());
        self.out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    }

    pub fn put(&mut self, txn: TxnId, table: u32, row: &[Value]) {
        self.row_record(PUT, txn, table, row);
    }

    pub fn delete(&mut self, txn: TxnId, table: u32, row: &[Value]) {
        self.row_record(DELETE, txn, table, row);
    }

    fn row_record(&mut self, kind: u8, txn: TxnId, table: u32, row: &[Value]) {
        self.frame(|w| {
            w.u8(kind);
            w.u64(txn);
            w.u32(table);
            encode_row(row, w);
        });
    }

    pub fn key(&mut self, txn: TxnId, constraint: u64, key: &[u8], present: bool) {
        self.frame(|w| {
            w.u8(KEY);
            w.u64(txn);
            w.u64(constraint);
            w.bytes(key);
            w.u8(u8::from(present));
        });
    }

    pub fn commit(&mut self, txn: TxnId) {
        self.frame(|w| {
            w.u8(COMMIT);
            w.u64(txn);
        });
    }

    pub fn prepared(&mut self, txn: TxnId) {
        self.frame(|w| {
            w.u8(PREPARED);
            w.u64(txn);
        });
    }

    pub fn decision(&mut self, txn: TxnId, participants: &[u32]) {
        self.frame(|w| {
            w.u8(DECISION);
            w.u64(txn);
            w.u32(participants.len() as u32);
            for &p in participants {
                w.u32(p);
            }
        });
    }

    pub fn truncate(&mut self, table: u32) {
        self.frame(|w| {
            w.u8(TRUNCATE);
            w.u32(table);
        });
    }

    pub fn sequence(&mut self, name: &str, next: i64) {
        self.frame(|w| {
            w.u8(SEQUENCE);
            w.str(name);
            w.i64(next);
        });
    }

    pub fn segment(&mut self, txn: TxnId, table: u32, file: &str) {
        self.frame(|w| {
            w.u8(SEGMENT);
            w.u64(txn);
            w.u32(table);
            w.str(file);
        });
    }
}

/// The header block of a WAL file: magic, version, shard, generation, checksum.
pub fn header_block(shard: u32, generation: u64) -> Vec<u8> {
    let mut w = ByteWriter::new();
    w.buf.extend_from_slice(MAGIC);
    w.u32(VERSION);
    w.u32(shard);
    w.u64(generation);
    let crc = checksum(&w.buf);
    w.u32(crc);
    w.buf.resize(BLOCK, 0);
    w.buf
}

/// Pad a flush unit with zeros to the next block boundary (the padding tells readers to skip
/// to the next block).
pub fn pad_to_block(buf: &mut Vec<u8>) {
    buf.resize(crate::io::align_up(buf.len()), 0);
}
