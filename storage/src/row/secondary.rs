//! Secondary indexes of one table partition: for every row version that entered the partition,
//! an entry `(index columns, primary key)` in an ordered index, pointing back to the row
//! through its primary key (so rows moving between the row store and segments never touch it).
//!
//! Entries are only ever added (an update adds the new version's entry, a delete or rollback
//! removes nothing): a read checks each entry against the row version its view sees and skips
//! entries that version no longer carries. So an index may hold stale entries, never miss one;
//! they go when the partition is rebuilt at restart.
//!
//! Must never return a row whose visible version does not carry the entry's key.

use super::RowId;
use super::cold::Cold;
use super::key::{encode_primary_key, encode_value};
use super::range::KeyRange;
use super::version::{ReadView, Slot};
use crate::schema::{IndexSchema, TableSchema};
use crate::types::Value;
use omendb_learned::index::{IndexKind, OrderedIndex};
use std::ops::Bound;

/// One secondary index: entry keys are the encoded index columns followed by the encoded
/// primary key; the value is the length of the index-column part.
pub(super) struct Secondary {
    pub(super) name: String,
    columns: Vec<usize>,
    entries: Box<dyn OrderedIndex<u16>>,
}

impl Secondary {
    /// An empty index. Entry keys share long prefixes (a warehouse, a district, a name), which
    /// the learned byte-key index models poorly; the B-tree serves them.
    pub(super) fn new(def: &IndexSchema) -> Secondary {
        Secondary {
            name: def.name.clone(),
            columns: def.columns.clone(),
            entries: IndexKind::BTree.build::<u16>(),
        }
    }

    /// Add the entry of a row version.
    pub(super) fn add(&mut self, schema: &TableSchema, row: &[Value], buf: &mut Vec<u8>) {
        let len = self.entry(schema, row, buf);
        // Present already: the same version's entry, nothing to do.
        let _ = self.entries.insert(buf, len);
    }

    /// Encode `row`'s entry into `buf`; returns the index-column part's length.
    fn entry(&self, schema: &TableSchema, row: &[Value], buf: &mut Vec<u8>) -> u16 {
        buf.clear();
        for &c in &self.columns {
            encode_value(&row[c], buf);
        }
        let len = u16::try_from(buf.len()).unwrap_or(u16::MAX);
        if let Some(pk) = &schema.primary_key {
            for &c in &pk.columns {
                encode_primary_key(&[&row[c]], buf);
            }
        }
        len
    }

    /// Visit the rows whose entries lie in `range` and whose version `view` sees still carries
    /// that entry, in entry order (descending when asked), until `visit` returns false.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn visit(
        &self,
        schema: &TableSchema,
        primary: &dyn OrderedIndex<RowId>,
        slots: &[Slot],
        cold: &Cold,
        range: &KeyRange,
        view: ReadView,
        visit: &mut dyn FnMut(RowId, &[Value]) -> bool,
    ) {
        let mut buf = Vec::new();
        let mut one = |entry: &[u8], len: u16| -> bool {
            let pk = &entry[usize::from(len).min(entry.len())..];
            match primary.get(pk) {
                Some(id) => match slots.get(id as usize).and_then(|s| s.visible(view)) {
                    Some(row) if self.carries(schema, row, entry, &mut buf) => visit(id, row),
                    _ => true,
                },
                None => match cold.find(pk).and_then(|id| cold.row(id).map(|r| (id, r))) {
                    Some((id, (row, since)))
                        if since <= view.at && self.carries(schema, &row, entry, &mut buf) =>
                    {
                        visit(id, &row)
                    }
                    _ => true,
                },
            }
        };
        if range.descending == Some(true) {
            let mut found: Vec<(Vec<u8>, u16)> = Vec::new();
            self.entries.range(
                Bound::Included(&range.start),
                Bound::Unbounded,
                &mut |k, len| {
                    if !range.contains(k) {
                        return false;
                    }
                    found.push((k.to_vec(), len));
                    true
                },
            );
            for (k, len) in found.iter().rev() {
                if !one(k, *len) {
                    return;
                }
            }
            return;
        }
        self.entries.range(
            Bound::Included(&range.start),
            Bound::Unbounded,
            &mut |k, len| range.contains(k) && one(k, len),
        );
    }

    /// Whether `row`'s entry is exactly `entry`.
    fn carries(
        &self,
        schema: &TableSchema,
        row: &[Value],
        entry: &[u8],
        buf: &mut Vec<u8>,
    ) -> bool {
        self.entry(schema, row, buf);
        buf.as_slice() == entry
    }

    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }
}
