//! One table's rows on one shard, with one pending version per row.

use super::RowError;
use super::key::{encode_primary_key, encode_value};
use crate::schema::TableSchema;
use crate::types::Value;
use omendb_learned::index::{IndexKind, OrderedIndex};
use std::ops::Bound;
use std::sync::Arc;

/// A row's slot number within its table on one shard; stable while the row lives.
pub type RowId = u32;

/// A transaction id; every statement outside a block is its own transaction.
pub type WriterId = u64;

/// An uncommitted write: the new row, or `None` for a delete.
#[derive(Debug)]
struct Pending {
    writer: WriterId,
    row: Option<Box<[Value]>>,
}

#[derive(Debug, Default)]
struct Slot {
    committed: Option<Box<[Value]>>,
    pending: Option<Pending>,
}

impl Slot {
    fn visible(&self, reader: WriterId) -> Option<&[Value]> {
        match &self.pending {
            Some(p) if p.writer == reader => p.row.as_deref(),
            _ => self.committed.as_deref(),
        }
    }
}

/// What a transaction's pending write on a row will do at commit (for its WAL record).
#[derive(Debug, Clone, Copy)]
pub enum Change<'a> {
    /// Insert or replace with this row.
    Put(&'a [Value]),
    /// Delete the row whose committed image this is.
    Delete(&'a [Value]),
}

/// The primary-key index implementation, chosen per table.
type KeyIndex = Box<dyn OrderedIndex<RowId>>;

/// One table's partition on one shard.
pub struct RowTable {
    schema: Arc<TableSchema>,
    slots: Vec<Slot>,
    free: Vec<RowId>,
    primary: Option<KeyIndex>,
    /// Rows with a committed version.
    committed: usize,
    /// Reused buffer for encoding keys, so lookups do not allocate.
    key_buf: Vec<u8>,
}

impl RowTable {
    /// An empty table partition whose primary-key index is of `kind`.
    pub fn new(schema: Arc<TableSchema>, kind: IndexKind) -> RowTable {
        let primary: Option<KeyIndex> = schema.primary_key.as_ref().map(|_| kind.build::<RowId>());
        RowTable {
            schema,
            slots: Vec::new(),
            free: Vec::new(),
            primary,
            committed: 0,
            key_buf: Vec::new(),
        }
    }

    pub fn schema(&self) -> &Arc<TableSchema> {
        &self.schema
    }

    /// Rows with a committed version.
    pub fn committed_len(&self) -> usize {
        self.committed
    }

    /// Insert a row as a pending write of `writer`.
    pub fn insert(&mut self, row: Box<[Value]>, writer: WriterId) -> Result<RowId, RowError> {
        if self.primary.is_some() {
            let key = primary_key_bytes(&self.schema, &row, &mut self.key_buf).to_vec();
            if let Some(id) = self.primary.as_ref().and_then(|index| index.get(&key)) {
                return self.insert_over(id, row, writer);
            }
            let id = self.allocate();
            if let Some(index) = self.primary.as_mut() {
                // The key was just looked up as absent; a failure here is an index bug.
                if index.insert(&key, id).is_err() {
                    return Err(RowError::Missing(id));
                }
            }
            self.slots[id as usize].pending = Some(Pending {
                writer,
                row: Some(row),
            });
            return Ok(id);
        }
        let id = self.allocate();
        self.slots[id as usize].pending = Some(Pending {
            writer,
            row: Some(row),
        });
        Ok(id)
    }

    /// Whether `insert` would succeed, without changing anything: `Busy` if another writer holds
    /// the key, a unique violation if the key is visible to `writer`.
    pub fn check_insert(&mut self, row: &[Value], writer: WriterId) -> Result<(), RowError> {
        if self.primary.is_none() {
            return Ok(());
        }
        let key = primary_key_bytes(&self.schema, row, &mut self.key_buf);
        let Some(id) = self.primary.as_ref().and_then(|index| index.get(key)) else {
            return Ok(());
        };
        match &self.slots[id as usize].pending {
            Some(p) if p.writer != writer => Err(RowError::Busy(p.writer)),
            Some(p) if p.row.is_none() => Ok(()),
            _ => Err(duplicate(&self.schema)),
        }
    }

    /// The key exists in slot `id`: a duplicate, unless `writer` deleted that row itself.
    fn insert_over(
        &mut self,
        id: RowId,
        row: Box<[Value]>,
        writer: WriterId,
    ) -> Result<RowId, RowError> {
        let slot = &mut self.slots[id as usize];
        match &mut slot.pending {
            Some(p) if p.writer != writer => Err(RowError::Busy(p.writer)),
            Some(p) if p.row.is_none() => {
                p.row = Some(row);
                Ok(id)
            }
            _ => Err(duplicate(&self.schema)),
        }
    }

    fn allocate(&mut self) -> RowId {
        match self.free.pop() {
            Some(id) => id,
            None => {
                self.slots.push(Slot::default());
                RowId::try_from(self.slots.len() - 1).unwrap_or(RowId::MAX)
            }
        }
    }

    /// The row as `reader` sees it.
    pub fn get(&self, id: RowId, reader: WriterId) -> Option<&[Value]> {
        self.slots.get(id as usize).and_then(|s| s.visible(reader))
    }

    /// Find the slot of an encoded primary key, if its row is visible to `reader`.
    pub fn lookup(&self, key: &[u8], reader: WriterId) -> Option<RowId> {
        let id = self.primary.as_ref()?.get(key)?;
        self.get(id, reader).map(|_| id)
    }

    /// Take the write lock on a visible row for `writer` (a pending write that keeps the row).
    pub fn lock(&mut self, id: RowId, writer: WriterId) -> Result<(), RowError> {
        let slot = self
            .slots
            .get_mut(id as usize)
            .ok_or(RowError::Missing(id))?;
        match &slot.pending {
            Some(p) if p.writer == writer => Ok(()),
            Some(p) => Err(RowError::Busy(p.writer)),
            None => {
                let row = slot.committed.clone().ok_or(RowError::Missing(id))?;
                slot.pending = Some(Pending {
                    writer,
                    row: Some(row),
                });
                Ok(())
            }
        }
    }

    /// Replace (`Some`) or delete (`None`) a row locked by `writer`. The primary key must not
    /// change (a key change is a delete plus an insert).
    pub fn write(
        &mut self,
        id: RowId,
        writer: WriterId,
        row: Option<Box<[Value]>>,
    ) -> Result<(), RowError> {
        let slot = self
            .slots
            .get_mut(id as usize)
            .ok_or(RowError::Missing(id))?;
        let Some(p) = slot
            .pending
            .as_mut()
            .filter(|p| p.writer == writer && p.row.is_some())
        else {
            return Err(RowError::Missing(id));
        };
        if row.is_none() && slot.committed.is_none() {
            // Deleting a row this transaction inserted: it never existed for anyone else.
            let old = p.row.take();
            slot.pending = None;
            if let Some(old) = old {
                self.forget(id, &old);
            }
            return Ok(());
        }
        p.row = row;
        Ok(())
    }

    /// Make `writer`'s pending version of the row the committed one. Returns the change in the
    /// number of committed rows (-1, 0 or 1).
    pub fn commit(&mut self, id: RowId, writer: WriterId) -> i64 {
        let Some(slot) = self.slots.get_mut(id as usize) else {
            return 0;
        };
        if !matches!(&slot.pending, Some(p) if p.writer == writer) {
            return 0;
        }
        let new = slot.pending.take().and_then(|p| p.row);
        let old = std::mem::replace(&mut slot.committed, new);
        match (old, slot.committed.is_some()) {
            (None, true) => {
                self.committed += 1;
                1
            }
            (Some(old), false) => {
                self.committed -= 1;
                self.forget(id, &old);
                -1
            }
            _ => 0,
        }
    }

    /// `writer`'s pending change of the row, if it has one that changes anything at commit.
    pub fn change(&self, id: RowId, writer: WriterId) -> Option<Change<'_>> {
        let slot = self.slots.get(id as usize)?;
        let pending = slot.pending.as_ref().filter(|p| p.writer == writer)?;
        match (&pending.row, &slot.committed) {
            (Some(row), _) => Some(Change::Put(row)),
            (None, Some(old)) => Some(Change::Delete(old)),
            (None, None) => None,
        }
    }

    /// Recovery: make `row` committed, replacing the row with the same primary key (tables
    /// without a key just gain the row).
    pub fn replay_put(&mut self, row: Box<[Value]>) {
        if self.primary.is_some() {
            let key = primary_key_bytes(&self.schema, &row, &mut self.key_buf).to_vec();
            if let Some(id) = self.primary.as_ref().and_then(|index| index.get(&key)) {
                self.slots[id as usize].committed = Some(row);
                return;
            }
            let id = self.allocate();
            if let Some(index) = self.primary.as_mut() {
                let _ = index.insert(&key, id);
            }
            self.slots[id as usize].committed = Some(row);
            self.committed += 1;
            return;
        }
        let id = self.allocate();
        self.slots[id as usize].committed = Some(row);
        self.committed += 1;
    }

    /// Recovery: delete the committed row with `row`'s primary key (for tables without a key,
    /// one row equal to `row`). Returns whether a row was found.
    pub fn replay_delete(&mut self, row: &[Value]) -> bool {
        let id = if self.primary.is_some() {
            let key = primary_key_bytes(&self.schema, row, &mut self.key_buf);
            self.primary.as_ref().and_then(|index| index.get(key))
        } else {
            // No key: the first committed row with the same values (memcomparable encoding
            // makes equal values equal bytes). A linear search; keyless tables rarely delete.
            let mut wanted = Vec::new();
            row.iter().for_each(|v| encode_value(v, &mut wanted));
            let mut probe = Vec::new();
            self.slots
                .iter()
                .position(|s| {
                    s.committed.as_deref().is_some_and(|r| {
                        probe.clear();
                        r.iter().for_each(|v| encode_value(v, &mut probe));
                        probe == wanted
                    })
                })
                .map(|i| i as RowId)
        };
        let Some(id) = id else {
            return false;
        };
        if let Some(old) = self.slots[id as usize].committed.take() {
            self.committed -= 1;
            self.forget(id, &old);
            return true;
        }
        false
    }

    /// Drop `writer`'s pending version of the row.
    pub fn rollback(&mut self, id: RowId, writer: WriterId) {
        let Some(slot) = self.slots.get_mut(id as usize) else {
            return;
        };
        if !matches!(&slot.pending, Some(p) if p.writer == writer) {
            return;
        }
        let pending = slot.pending.take().and_then(|p| p.row);
        if slot.committed.is_none()
            && let Some(row) = pending
        {
            self.forget(id, &row);
        }
    }

    /// The slot's last version is gone: drop its key from the index and reuse the slot.
    fn forget(&mut self, id: RowId, row: &[Value]) {
        if let Some(index) = self.primary.as_mut() {
            let key = primary_key_bytes(&self.schema, row, &mut self.key_buf);
            if index.get(key) == Some(id) {
                index.remove(key);
            }
        }
        self.free.push(id);
    }

    /// Visit every row visible to `reader` (in slot order) until `visit` returns false.
    pub fn scan(&self, reader: WriterId, mut visit: impl FnMut(RowId, &[Value]) -> bool) {
        for (id, slot) in self.slots.iter().enumerate() {
            if let Some(row) = slot.visible(reader)
                && !visit(id as RowId, row)
            {
                return;
            }
        }
    }

    /// Visit rows visible to `reader` whose encoded primary key lies within the bounds, in key order.
    pub fn range(
        &self,
        lo: Bound<&[u8]>,
        hi: Bound<&[u8]>,
        reader: WriterId,
        mut visit: impl FnMut(RowId, &[Value]) -> bool,
    ) {
        let Some(index) = self.primary.as_ref() else {
            return;
        };
        let slots = &self.slots;
        index.range(lo, hi, &mut |_, id| match slots
            .get(id as usize)
            .and_then(|s| s.visible(reader))
        {
            Some(row) => visit(id, row),
            None => true,
        });
    }

    /// Encode a row's primary key (empty for tables without one).
    pub fn primary_key_of(&self, row: &[Value], out: &mut Vec<u8>) {
        out.clear();
        primary_key_bytes(&self.schema, row, out);
    }
}

fn primary_key_bytes<'a>(schema: &TableSchema, row: &[Value], buf: &'a mut Vec<u8>) -> &'a [u8] {
    buf.clear();
    if let Some(pk) = schema.primary_key.as_ref() {
        for &c in &pk.columns {
            encode_primary_key(&[&row[c]], buf);
        }
    }
    buf
}

fn duplicate(schema: &TableSchema) -> RowError {
    let pk = schema.primary_key.as_ref();
    RowError::UniqueViolation {
        constraint: pk.map(|pk| pk.name.clone()).unwrap_or_default(),
        columns: pk.map(|pk| pk.columns.clone()).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{ColumnSchema, UniqueConstraint};
    use crate::types::DataType;

    fn table_of(kind: IndexKind) -> RowTable {
        let col = |name: &str| ColumnSchema {
            name: name.into(),
            ty: DataType::Int32,
            nullable: false,
            default: None,
        };
        RowTable::new(
            Arc::new(TableSchema {
                id: 1,
                name: "t".into(),
                columns: vec![col("k"), col("v")],
                primary_key: Some(UniqueConstraint {
                    name: "t_pkey".into(),
                    columns: vec![0],
                }),
                unique: Vec::new(),
            }),
            kind,
        )
    }

    fn row(k: i32, v: i32) -> Box<[Value]> {
        vec![Value::Int32(k), Value::Int32(v)].into()
    }

    fn key(k: i32) -> Vec<u8> {
        let mut out = Vec::new();
        encode_primary_key(&[&Value::Int32(k)], &mut out);
        out
    }

    fn v(t: &RowTable, id: RowId, reader: WriterId) -> Option<i32> {
        t.get(id, reader).map(|r| match r[1] {
            Value::Int32(x) => x,
            _ => -1,
        })
    }

    #[test]
    fn pending_insert_is_seen_only_by_its_writer_until_commit() {
        for kind in IndexKind::ALL {
            let mut t = table_of(kind);
            let id = t.insert(row(1, 10), 7).unwrap();
            assert_eq!(v(&t, id, 7), Some(10));
            assert_eq!(v(&t, id, 8), None);
            assert_eq!(t.insert(row(1, 11), 8), Err(RowError::Busy(7)));
            t.commit(id, 7);
            assert_eq!(v(&t, id, 8), Some(10));
            assert!(matches!(
                t.insert(row(1, 11), 8),
                Err(RowError::UniqueViolation { .. })
            ));
            assert_eq!(t.committed_len(), 1);
        }
    }

    #[test]
    fn rolled_back_insert_frees_the_key() {
        for kind in IndexKind::ALL {
            let mut t = table_of(kind);
            let id = t.insert(row(1, 10), 7).unwrap();
            t.rollback(id, 7);
            assert_eq!(t.lookup(&key(1), 8), None);
            let id2 = t.insert(row(1, 12), 8).unwrap();
            t.commit(id2, 8);
            assert_eq!(v(&t, t.lookup(&key(1), 9).unwrap(), 9), Some(12));
        }
    }

    #[test]
    fn update_and_delete_stay_private_until_commit() {
        for kind in IndexKind::ALL {
            let mut t = table_of(kind);
            let id = t.insert(row(1, 10), 1).unwrap();
            t.commit(id, 1);
            t.lock(id, 2).unwrap();
            assert_eq!(t.lock(id, 3), Err(RowError::Busy(2)));
            t.write(id, 2, Some(row(1, 20))).unwrap();
            assert_eq!((v(&t, id, 2), v(&t, id, 3)), (Some(20), Some(10)));
            t.commit(id, 2);
            t.lock(id, 4).unwrap();
            t.write(id, 4, None).unwrap();
            assert_eq!((v(&t, id, 4), v(&t, id, 5)), (None, Some(20)));
            t.rollback(id, 4);
            assert_eq!(v(&t, id, 5), Some(20));
            t.lock(id, 6).unwrap();
            t.write(id, 6, None).unwrap();
            t.commit(id, 6);
            assert_eq!(t.lookup(&key(1), 7), None);
            assert_eq!(t.committed_len(), 0);
        }
    }

    #[test]
    fn a_writer_may_delete_and_reinsert_the_same_key() {
        for kind in IndexKind::ALL {
            let mut t = table_of(kind);
            let id = t.insert(row(1, 10), 1).unwrap();
            t.commit(id, 1);
            t.lock(id, 2).unwrap();
            t.write(id, 2, None).unwrap();
            let again = t.insert(row(1, 30), 2).unwrap();
            assert_eq!(again, id);
            t.commit(id, 2);
            assert_eq!(v(&t, id, 3), Some(30));
        }
    }

    #[test]
    fn deleting_an_own_insert_frees_it_immediately() {
        for kind in IndexKind::ALL {
            let mut t = table_of(kind);
            let id = t.insert(row(1, 10), 2).unwrap();
            t.write(id, 2, None).unwrap();
            t.commit(id, 2);
            assert_eq!(t.lookup(&key(1), 3), None);
            assert_eq!(t.committed_len(), 0);
        }
    }
}
