//! The manifest: per shard, which segment files hold each table's column store, their delete
//! vectors, and where WAL replay starts. Written at every checkpoint and replaced atomically;
//! recovery = manifest + replay of the WAL generations from `wal_from`.

use super::{open_envelope, seal_envelope};
use crate::io::{ByteReader, ByteWriter, IoFormatError};
use crate::segment::DeleteVector;

const MAGIC: &[u8; 8] = b"OMENMAN\0";
const VERSION: u32 = 1;

/// One shard's checkpoint state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub shard: u32,
    /// Checkpoint sequence number (increases with every checkpoint of this shard).
    pub checkpoint: u64,
    /// WAL generations below this are fully in the segments and never replayed.
    pub wal_from: u64,
    /// Largest transaction id whose effects the segments hold.
    pub max_txn: u64,
    pub tables: Vec<TableSegments>,
}

/// The segments of one table on this shard, in key order of their first rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSegments {
    pub table: u32,
    pub segments: Vec<SegmentEntry>,
}

/// One segment file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentEntry {
    /// Path relative to the shard directory, e.g. `segments/<table>-<id>.seg`.
    pub file: String,
    pub rows: u32,
    /// File length (a multiple of 4096).
    pub bytes: u64,
    pub deletes: DeleteVector,
}

pub fn encode_manifest(m: &Manifest) -> Vec<u8> {
    let mut w = ByteWriter::new();
    w.u32(m.shard);
    w.u64(m.checkpoint);
    w.u64(m.wal_from);
    w.u64(m.max_txn);
    w.u32(m.tables.len() as u32);
    for t in &m.tables {
        w.u32(t.table);
        w.u32(t.segments.len() as u32);
        for s in &t.segments {
            w.str(&s.file);
            w.u32(s.rows);
            w.u64(s.bytes);
            s.deletes.encode(&mut w);
        }
    }
    seal_envelope(MAGIC, VERSION, &w.buf)
}

pub fn decode_manifest(data: &[u8]) -> Result<Manifest, IoFormatError> {
    let body = open_envelope(data, MAGIC, "manifest", VERSION)?;
    let mut r = ByteReader::new(body);
    let shard = r.u32()?;
    let checkpoint = r.u64()?;
    let wal_from = r.u64()?;
    let max_txn = r.u64()?;
    let n = r.u32()?;
    let mut tables = Vec::new();
    for _ in 0..n {
        tables.push(decode_table(&mut r)?);
    }
    if r.remaining() != 0 {
        return Err(IoFormatError::Invalid(format!(
            "manifest: {} bytes after the last table",
            r.remaining()
        )));
    }
    Ok(Manifest {
        shard,
        checkpoint,
        wal_from,
        max_txn,
        tables,
    })
}

fn decode_table(r: &mut ByteReader<'_>) -> Result<TableSegments, IoFormatError> {
    let table = r.u32()?;
    let n = r.u32()?;
    let mut segments = Vec::new();
    for _ in 0..n {
        let file = r.str()?.to_string();
        let rows = r.u32()?;
        let bytes = r.u64()?;
        let deletes = DeleteVector::decode(r, rows as usize)?;
        segments.push(SegmentEntry {
            file,
            rows,
            bytes,
            deletes,
        });
    }
    Ok(TableSegments { table, segments })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        let mut deletes = DeleteVector::new(1000);
        deletes.delete(7, 42);
        deletes.delete(999, 43);
        Manifest {
            shard: 3,
            checkpoint: 9,
            wal_from: 5,
            max_txn: 77,
            tables: vec![
                TableSegments {
                    table: 16384,
                    segments: vec![
                        SegmentEntry {
                            file: "segments/16384-1.seg".into(),
                            rows: 1000,
                            bytes: 8192,
                            deletes,
                        },
                        SegmentEntry {
                            file: "segments/16384-2.seg".into(),
                            rows: 1,
                            bytes: 4096,
                            deletes: DeleteVector::new(1),
                        },
                    ],
                },
                TableSegments {
                    table: 16390,
                    segments: vec![],
                },
            ],
        }
    }

    #[test]
    fn manifest_round_trips() {
        let m = sample();
        assert_eq!(decode_manifest(&encode_manifest(&m)).unwrap(), m);
        let empty = Manifest {
            tables: vec![],
            ..sample()
        };
        assert_eq!(decode_manifest(&encode_manifest(&empty)).unwrap(), empty);
    }

    #[test]
    fn every_flipped_byte_and_truncation_is_an_error() {
        let bytes = encode_manifest(&sample());
        for at in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[at] ^= 0x10;
            assert!(decode_manifest(&bad).is_err(), "byte {at}");
        }
        for len in 0..bytes.len() {
            assert!(decode_manifest(&bytes[..len]).is_err(), "length {len}");
        }
    }
}
