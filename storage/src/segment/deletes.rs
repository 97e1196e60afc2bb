//! The delete vector of a segment: which rows were deleted (or moved to the row store by an
//! update) and the timestamp (transaction id) of each delete, so a snapshot older than the delete
//! still sees the row.
//!
//! Segments are immutable; their delete vectors are not: they live in the manifest and change
//! at every delete. Must never hold a row number outside the segment.

use crate::io::{ByteReader, ByteWriter, IoFormatError};
use std::collections::BTreeMap;

const WORD_BITS: usize = 64;

/// Deleted rows of one segment with their delete timestamps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteVector {
    rows: usize,
    /// Bit `i % 64` of word `i / 64` set = row `i` live (Arrow's LSB-first bit order); bits past
    /// `rows` are clear. Allocated on the first delete.
    live: Vec<u64>,
    /// Row → delete timestamp, in row order.
    deleted: BTreeMap<u32, u64>,
}

impl DeleteVector {
    /// Nothing deleted in a segment of `rows` rows.
    pub fn new(rows: usize) -> DeleteVector {
        DeleteVector {
            rows,
            live: Vec::new(),
            deleted: BTreeMap::new(),
        }
    }

    /// Rows in the segment.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Mark `row` deleted at `ts`; false (and no change) if it already was or is out of range.
    pub fn delete(&mut self, row: u32, ts: u64) -> bool {
        let i = row as usize;
        if i >= self.rows || self.deleted.contains_key(&row) {
            return false;
        }
        if self.live.is_empty() {
            self.live = all_live(self.rows);
        }
        self.live[i / WORD_BITS] &= !(1 << (i % WORD_BITS));
        self.deleted.insert(row, ts);
        true
    }

    pub fn is_deleted(&self, row: u32) -> bool {
        self.deleted.contains_key(&row)
    }

    /// The timestamp of `row`'s delete, if it was deleted.
    pub fn deleted_at(&self, row: u32) -> Option<u64> {
        self.deleted.get(&row).copied()
    }

    /// Number of deleted rows.
    pub fn count(&self) -> usize {
        self.deleted.len()
    }

    /// (row, delete timestamp) in row order.
    pub fn iter(&self) -> impl Iterator<Item = (u32, u64)> + '_ {
        self.deleted.iter().map(|(&r, &ts)| (r, ts))
    }

    /// Live rows as a bitmap for scans: bit `i % 64` of word `i / 64` set = row `i` not deleted
    /// (Arrow's bit order; bits past the last row are clear). `None` when nothing is deleted.
    pub fn live_mask(&self) -> Option<&[u64]> {
        (!self.deleted.is_empty()).then_some(self.live.as_slice())
    }

    /// `u32 rows`, `u32 count`, then `count ×` (`u32 row`, `u64 ts`) in ascending row order.
    pub fn encode(&self, w: &mut ByteWriter) {
        w.u32(self.rows as u32);
        w.u32(self.deleted.len() as u32);
        for (row, ts) in self.iter() {
            w.u32(row);
            w.u64(ts);
        }
    }

    /// Decode a vector for a segment of `rows` rows (the count stored must agree).
    pub fn decode(r: &mut ByteReader<'_>, rows: usize) -> Result<DeleteVector, IoFormatError> {
        let stored = r.u32()? as usize;
        if stored != rows {
            return Err(IoFormatError::Invalid(format!(
                "delete vector for {stored} rows where the segment has {rows}"
            )));
        }
        let n = r.u32()? as usize;
        if n > rows {
            return Err(IoFormatError::Invalid(format!(
                "delete vector of {n} deletes in {rows} rows"
            )));
        }
        let mut v = DeleteVector::new(rows);
        let mut prev = None;
        for _ in 0..n {
            let at = r.position();
            let row = r.u32()?;
            let ts = r.u64()?;
            if prev.is_some_and(|p| row <= p) || !v.delete(row, ts) {
                return Err(IoFormatError::Invalid(format!(
                    "delete vector entry at byte {at}: row {row}"
                )));
            }
            prev = Some(row);
        }
        Ok(v)
    }
}

fn all_live(rows: usize) -> Vec<u64> {
    let mut words = vec![u64::MAX; rows.div_ceil(WORD_BITS)];
    let tail = rows % WORD_BITS;
    if let (Some(last), true) = (words.last_mut(), tail != 0) {
        *last = (1 << tail) - 1;
    }
    words
}
