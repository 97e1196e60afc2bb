//! One table's rows on one shard.

use super::RowError;
use super::key::encode_key;
use crate::schema::TableSchema;
use crate::types::Value;
use omendb_learned::index::{BTreeIndex, OrderedIndex};
use std::ops::Bound;
use std::sync::Arc;

/// A row's slot number within its table on one shard; stable while the row lives.
pub type RowId = u32;

/// The transaction holding a row's write mark; `NO_WRITER` when none does.
pub type WriterId = u64;
const NO_WRITER: WriterId = 0;

#[derive(Debug)]
struct Slot {
    row: Option<Box<[Value]>>,
    writer: WriterId,
}

/// The primary-key index implementation, chosen per table.
type KeyIndex = Box<dyn OrderedIndex<RowId>>;

/// One table's partition on one shard.
pub struct RowTable {
    schema: Arc<TableSchema>,
    slots: Vec<Slot>,
    free: Vec<RowId>,
    primary: Option<KeyIndex>,
    live: usize,
    /// Reused buffer for encoding keys, so lookups do not allocate.
    key_buf: Vec<u8>,
}

impl RowTable {
    /// An empty table partition with the B-tree primary-key index.
    pub fn new(schema: Arc<TableSchema>) -> RowTable {
        let primary: Option<KeyIndex> = schema
            .primary_key
            .as_ref()
            .map(|_| Box::new(BTreeIndex::<RowId>::default()) as KeyIndex);
        RowTable {
            schema,
            slots: Vec::new(),
            free: Vec::new(),
            primary,
            live: 0,
            key_buf: Vec::new(),
        }
    }

    pub fn schema(&self) -> &Arc<TableSchema> {
        &self.schema
    }

    /// Replace the schema (after ALTER-free DDL such as a new default), keeping the rows.
    pub fn set_schema(&mut self, schema: Arc<TableSchema>) {
        self.schema = schema;
    }

    /// Live rows.
    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Insert a row, marking it as written by `writer`.
    pub fn insert(&mut self, row: Box<[Value]>, writer: WriterId) -> Result<RowId, RowError> {
        let id = match self.free.last() {
            Some(&id) => id,
            None => RowId::try_from(self.slots.len()).unwrap_or(RowId::MAX),
        };
        if let Some(index) = self.primary.as_mut() {
            let key = primary_key_bytes(&self.schema, &row, &mut self.key_buf);
            if index.insert(key, id).is_err() {
                return Err(duplicate(&self.schema, &row));
            }
        }
        match self.free.pop() {
            Some(reused) => {
                self.slots[reused as usize] = Slot {
                    row: Some(row),
                    writer,
                }
            }
            None => self.slots.push(Slot {
                row: Some(row),
                writer,
            }),
        }
        self.live += 1;
        Ok(id)
    }

    pub fn get(&self, id: RowId) -> Option<&[Value]> {
        self.slots.get(id as usize).and_then(|s| s.row.as_deref())
    }

    /// The transaction holding a write mark on the row, if any.
    pub fn writer(&self, id: RowId) -> Option<WriterId> {
        self.slots
            .get(id as usize)
            .map(|s| s.writer)
            .filter(|w| *w != NO_WRITER)
    }

    /// Set or clear (`None`) a row's write mark.
    pub fn set_writer(&mut self, id: RowId, writer: Option<WriterId>) {
        if let Some(slot) = self.slots.get_mut(id as usize) {
            slot.writer = writer.unwrap_or(NO_WRITER);
        }
    }

    /// Find a row by its encoded primary key.
    pub fn lookup(&self, key: &[u8]) -> Option<RowId> {
        self.primary.as_ref().and_then(|index| index.get(key))
    }

    /// Replace a row; re-indexes it when the primary key changes. Returns the old row.
    pub fn update(
        &mut self,
        id: RowId,
        row: Box<[Value]>,
        writer: WriterId,
    ) -> Result<Box<[Value]>, RowError> {
        let Some(old) = self.slots.get(id as usize).and_then(|s| s.row.as_ref()) else {
            return Err(RowError::Missing(id));
        };
        if let (Some(index), Some(pk)) = (self.primary.as_mut(), self.schema.primary_key.as_ref()) {
            if pk
                .columns
                .iter()
                .any(|&c| !same_key_value(&old[c], &row[c]))
            {
                let mut new_key = Vec::new();
                encode_key(
                    &pk.columns.iter().map(|&c| &row[c]).collect::<Vec<_>>(),
                    &mut new_key,
                );
                if index.insert(&new_key, id).is_err() {
                    return Err(duplicate(&self.schema, &row));
                }
                let old_key = primary_key_bytes(&self.schema, old, &mut self.key_buf);
                index.remove(old_key);
            }
        }
        let slot = &mut self.slots[id as usize];
        slot.writer = writer;
        Ok(std::mem::replace(&mut slot.row, Some(row)).unwrap_or_default())
    }

    /// Remove a row; returns it.
    pub fn delete(&mut self, id: RowId) -> Option<Box<[Value]>> {
        let row = self.slots.get_mut(id as usize)?.row.take()?;
        if let Some(index) = self.primary.as_mut() {
            let key = primary_key_bytes(&self.schema, &row, &mut self.key_buf);
            index.remove(key);
        }
        self.slots[id as usize].writer = NO_WRITER;
        self.free.push(id);
        self.live -= 1;
        Some(row)
    }

    /// Visit every live row (in slot order) until `visit` returns false.
    pub fn scan(&self, mut visit: impl FnMut(RowId, &[Value]) -> bool) {
        for (id, slot) in self.slots.iter().enumerate() {
            if let Some(row) = slot.row.as_deref() {
                if !visit(id as RowId, row) {
                    return;
                }
            }
        }
    }

    /// Visit rows whose encoded primary key lies within the bounds, in key order.
    pub fn range(
        &self,
        lo: Bound<&[u8]>,
        hi: Bound<&[u8]>,
        mut visit: impl FnMut(RowId, &[Value]) -> bool,
    ) {
        let Some(index) = self.primary.as_ref() else {
            return;
        };
        let slots = &self.slots;
        index.range(
            lo,
            hi,
            &mut |_, id| match slots.get(id as usize).and_then(|s| s.row.as_deref()) {
                Some(row) => visit(id, row),
                None => true,
            },
        );
    }
}

fn primary_key_bytes<'a>(schema: &TableSchema, row: &[Value], buf: &'a mut Vec<u8>) -> &'a [u8] {
    buf.clear();
    if let Some(pk) = schema.primary_key.as_ref() {
        for &c in &pk.columns {
            super::key::encode_value(&row[c], buf);
        }
    }
    buf
}

fn same_key_value(a: &Value, b: &Value) -> bool {
    let (mut ka, mut kb) = (Vec::new(), Vec::new());
    super::key::encode_value(a, &mut ka);
    super::key::encode_value(b, &mut kb);
    ka == kb
}

fn duplicate(schema: &TableSchema, _row: &[Value]) -> RowError {
    let pk = schema.primary_key.as_ref();
    RowError::UniqueViolation {
        constraint: pk.map(|pk| pk.name.clone()).unwrap_or_default(),
        columns: pk.map(|pk| pk.columns.clone()).unwrap_or_default(),
    }
}
