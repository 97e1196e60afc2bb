//! The column-segment part of one table's partition on one shard: immutable segments, each with
//! its delete vector.
//!
//! A row leaves a segment — a delete-vector entry, never a change to the segment — when the row
//! store takes it over (a write, a point access, or a replayed change of its key) or when a
//! replayed delete removes it. A row is therefore live in exactly one place: a segment or a row
//! store slot. Segment rows are addressed by *cold ids*, row ids with [`COLD`] set, which stay
//! valid until the segments change (a checkpoint, between statements).
//!
//! Snapshots: a segment is visible from its `since` timestamp on (0 for checkpointed segments,
//! the commit timestamp of a bulk load). A row that leaves a segment for the row store is
//! *moved*, not deleted: the delete vector hides it from every snapshot and the row store's
//! version chain (starting at `since`) answers for it from then on, so a row deleted or updated
//! after a snapshot is still seen by that snapshot, in its old version.
//!
//! Must never hold a pending (uncommitted) version: segments hold committed rows only.

use super::RowId;
use crate::segment::{DeleteVector, Segment};
use std::sync::Arc;

/// Set in a [`RowId`] that names a segment row rather than a row-store slot.
pub const COLD: RowId = 1 << 31;
/// Bits of a cold id that hold the row's position within its segment.
const ROW_BITS: u32 = 17;
const ROW_MASK: RowId = (1 << ROW_BITS) - 1;
/// Most segments a table partition can address with cold ids.
pub const MAX_SEGMENTS: usize = 1 << (31 - ROW_BITS);

/// One segment of the table with what has left it.
#[derive(Debug, Clone)]
pub struct ColdSegment {
    /// The segment's number within its shard (its file name); unique per shard.
    pub id: u64,
    pub segment: Arc<Segment>,
    pub deletes: DeleteVector,
    /// Commit timestamp from which snapshots see the segment's rows.
    pub since: u64,
}

impl ColdSegment {
    pub fn live(&self) -> usize {
        self.segment.rows() - self.deletes.count()
    }
}

/// The segments of a table partition.
#[derive(Debug, Default)]
pub struct Cold {
    pub(super) segments: Vec<ColdSegment>,
    live: usize,
}

/// A cold id's segment index and row position.
pub fn split(id: RowId) -> Option<(usize, u32)> {
    (id & COLD != 0).then_some((((id & !COLD) >> ROW_BITS) as usize, id & ROW_MASK))
}

pub(super) fn join(segment: usize, row: u32) -> RowId {
    COLD | ((segment as RowId) << ROW_BITS) | row
}

impl Cold {
    pub fn segments(&self) -> &[ColdSegment] {
        &self.segments
    }

    /// Live rows over all segments.
    pub fn live(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }

    /// Add a segment (with the rows already gone from it).
    pub fn push(&mut self, cold: ColdSegment) {
        self.live += cold.live();
        self.segments.push(cold);
    }

    /// Whether another segment fits the cold-id space.
    pub fn has_room(&self) -> bool {
        self.segments.len() < MAX_SEGMENTS
    }

    /// The live row with this encoded primary key.
    pub fn find(&self, key: &[u8]) -> Option<RowId> {
        self.segments.iter().enumerate().find_map(|(s, c)| {
            c.segment
                .find(key)
                .filter(|&r| !c.deletes.is_deleted(r))
                .map(|r| join(s, r))
        })
    }

    /// Mark a live segment row as gone at `ts`; false if it was not live.
    pub fn remove(&mut self, id: RowId, ts: u64) -> bool {
        let Some((s, r)) = split(id) else {
            return false;
        };
        let Some(c) = self.segments.get_mut(s) else {
            return false;
        };
        if (r as usize) < c.segment.rows() && c.deletes.delete(r, ts) {
            self.live -= 1;
            return true;
        }
        false
    }

    /// The row behind a live cold id, with its segment's `since`.
    pub fn row(&self, id: RowId) -> Option<(Vec<crate::types::Value>, u64)> {
        let (s, r) = split(id)?;
        let c = self.segments.get(s)?;
        ((r as usize) < c.segment.rows() && !c.deletes.is_deleted(r))
            .then(|| (c.segment.row(r as usize), c.since))
    }

    /// Visit every live row of the segments visible at snapshot `at` (materialised into a
    /// reused buffer) until `visit` returns false. Returns false if stopped.
    pub fn scan(
        &self,
        at: u64,
        mut visit: impl FnMut(RowId, &[crate::types::Value]) -> bool,
    ) -> bool {
        let mut buf = Vec::new();
        for (s, c) in self.segments.iter().enumerate() {
            if c.since > at {
                continue;
            }
            let columns = c.segment.columns();
            for r in 0..c.segment.rows() {
                if c.deletes.is_deleted(r as u32) {
                    continue;
                }
                buf.clear();
                buf.extend(columns.iter().map(|col| col.value(r)));
                if !visit(join(s, r as u32), &buf) {
                    return false;
                }
            }
        }
        true
    }

    /// Drop the segments with these ids (merged into new ones). Cold ids of later segments
    /// change: callers hold none across this.
    pub fn remove_segments(&mut self, ids: &[u64]) {
        if ids.is_empty() {
            return;
        }
        self.segments.retain(|c| !ids.contains(&c.id));
        self.live = self.segments.iter().map(ColdSegment::live).sum();
    }

    /// Forget every segment (TRUNCATE).
    pub fn clear(&mut self) {
        self.segments.clear();
        self.live = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cold_ids_round_trip() {
        for (s, r) in [(0, 0), (1, 5), (MAX_SEGMENTS - 1, (1 << ROW_BITS) - 1)] {
            let id = join(s, r);
            assert!(id & COLD != 0);
            assert_eq!(split(id), Some((s, r)));
        }
        assert_eq!(split(7), None);
    }
}
