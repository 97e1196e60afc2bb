//! Key-range reads over a table partition's primary key: the row-store index's keys in a range
//! plus the segment rows in it, each row in exactly one place (see `cold.rs`), optionally in
//! key order.
//!
//! A [`KeyRange`] is a byte range over memcomparable primary keys: every key starts with
//! `prefix` (the encoded equalities), is at least `start`, and at most `stop`. Bounds are
//! conservative: callers always re-check their predicate on the visible row, so a range may
//! include keys its SQL predicate excludes (an exclusive bound), never the other way round.
//!
//! Must never return a version the view cannot see, nor a row twice.

use super::RowId;
use super::cold::{COLD, Cold};
use super::key::encode_primary_key;
use super::version::{ReadView, Slot};
use crate::types::Value;
use omendb_learned::index::OrderedIndex;
use std::ops::Bound;

/// A range of encoded primary keys, and in which order to visit them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyRange {
    /// Every key in the range starts with these bytes (the encoded equality prefix).
    pub prefix: Vec<u8>,
    /// The smallest key in the range (`prefix`, or `prefix` plus a lower bound).
    pub start: Vec<u8>,
    /// The largest key: keys above `stop` are out; with `inclusive`, keys that extend `stop`
    /// (the bound column equal, later columns anything) are in.
    pub stop: Option<(Vec<u8>, bool)>,
    /// Visit in ascending (`Some(false)`) or descending (`Some(true)`) key order; `None`: any.
    pub descending: Option<bool>,
}

impl KeyRange {
    /// Whether `key` (at or after `start`) lies beyond the range's end.
    fn past_end(&self, key: &[u8]) -> bool {
        if !key.starts_with(&self.prefix) {
            return true;
        }
        match &self.stop {
            None => false,
            Some((stop, inclusive)) => {
                key > stop.as_slice() && !(*inclusive && key.starts_with(stop))
            }
        }
    }

    /// Whether `key` is in the range.
    pub fn contains(&self, key: &[u8]) -> bool {
        key >= self.start.as_slice() && !self.past_end(key)
    }
}

/// One row found in a range: a row-store slot or a segment row (cold id).
enum Found {
    Hot(RowId),
    Cold(RowId),
}

/// Visit the rows of the range visible to `view` until `visit` returns false.
pub(super) fn visit_range(
    index: &dyn OrderedIndex<RowId>,
    slots: &[Slot],
    cold: &Cold,
    range: &KeyRange,
    view: ReadView,
    visit: &mut dyn FnMut(RowId, &[Value]) -> bool,
) {
    let cold_rows = cold_candidates(cold, range, view);
    if cold_rows.is_empty() && range.descending != Some(true) {
        // Only row-store keys: stream them in index order, stopping as soon as asked.
        index.range(
            Bound::Included(&range.start),
            Bound::Unbounded,
            &mut |key, id| {
                if range.past_end(key) {
                    return false;
                }
                match slots.get(id as usize).and_then(|s| s.visible(view)) {
                    Some(row) => visit(id, row),
                    None => true,
                }
            },
        );
        return;
    }
    let mut found: Vec<(Vec<u8>, Found)> = cold_rows
        .into_iter()
        .map(|(k, id)| (k, Found::Cold(id)))
        .collect();
    index.range(
        Bound::Included(&range.start),
        Bound::Unbounded,
        &mut |key, id| {
            if range.past_end(key) {
                return false;
            }
            found.push((key.to_vec(), Found::Hot(id)));
            true
        },
    );
    if range.descending.is_some() {
        found.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    }
    if range.descending == Some(true) {
        found.reverse();
    }
    for (_, f) in found {
        let keep_going = match f {
            Found::Hot(id) => match slots.get(id as usize).and_then(|s| s.visible(view)) {
                Some(row) => visit(id, row),
                None => true,
            },
            Found::Cold(id) => match cold.row(id) {
                Some((row, _)) => visit(id, &row),
                None => true,
            },
        };
        if !keep_going {
            return;
        }
    }
}

/// The live segment rows in the range that `view` sees, with their keys, in key order per
/// segment. Segments are sorted by primary key, so each one's rows in the range are one run
/// found by binary search.
fn cold_candidates(cold: &Cold, range: &KeyRange, view: ReadView) -> Vec<(Vec<u8>, RowId)> {
    let mut out = Vec::new();
    let mut key = Vec::new();
    for (s, c) in cold.segments().iter().enumerate() {
        if c.since > view.at {
            continue;
        }
        let Some(pk) = c.segment.primary_key() else {
            continue;
        };
        let columns = c.segment.columns();
        let key_of = |row: usize, key: &mut Vec<u8>| {
            key.clear();
            for &col in pk {
                encode_primary_key(&[&columns[col].value(row)], key);
            }
        };
        let rows = c.segment.rows();
        let (mut lo, mut hi) = (0, rows);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            key_of(mid, &mut key);
            if key.as_slice() < range.start.as_slice() {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        for row in lo..rows {
            key_of(row, &mut key);
            if range.past_end(&key) {
                break;
            }
            if !c.deletes.is_deleted(row as u32) {
                out.push((key.clone(), super::cold::join(s, row as u32)));
            }
        }
    }
    debug_assert!(out.iter().all(|(_, id)| id & COLD != 0));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(prefix: &[u8], start: &[u8], stop: Option<(&[u8], bool)>) -> KeyRange {
        KeyRange {
            prefix: prefix.to_vec(),
            start: start.to_vec(),
            stop: stop.map(|(s, i)| (s.to_vec(), i)),
            descending: None,
        }
    }

    #[test]
    fn prefix_bounds_the_range() {
        let r = range(&[1, 2], &[1, 2], None);
        assert!(r.contains(&[1, 2]));
        assert!(r.contains(&[1, 2, 9, 9]));
        assert!(!r.contains(&[1, 3]));
        assert!(!r.contains(&[1, 1, 9]));
    }

    #[test]
    fn stop_inclusive_keeps_extensions_exclusive_does_not() {
        let inclusive = range(&[1], &[1, 5], Some((&[1, 7], true)));
        assert!(inclusive.contains(&[1, 7, 3]));
        assert!(!inclusive.contains(&[1, 8]));
        assert!(!inclusive.contains(&[1, 4, 9]));
        let exclusive = range(&[1], &[1], Some((&[1, 7], false)));
        assert!(exclusive.contains(&[1, 6, 255]));
        assert!(!exclusive.contains(&[1, 7, 0]));
    }
}
