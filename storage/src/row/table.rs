//! One table's rows on one shard: row-store slots with version chains (see `version.rs`) over
//! the partition's column segments.

use super::RowError;
use super::cold::{COLD, Cold, ColdSegment};
use super::key::{encode_primary_key, encode_value};
use super::range::KeyRange;
use super::secondary::Secondary;
use super::version::{Intent, Pending, Pruned, ReadView, Slot, Ts, Version};
use crate::schema::TableSchema;
use crate::segment::{DeleteVector, SEGMENT_ROWS, Segment, SegmentError};
use crate::types::Value;
use omendb_learned::index::{IndexKind, OrderedIndex};
use std::collections::VecDeque;
use std::ops::Bound;
use std::sync::Arc;

/// A row's slot number within its table on one shard; stable while the row lives.
pub type RowId = u32;

/// A transaction id; every statement outside a block is its own transaction.
pub type WriterId = u64;

/// What a transaction's pending write on a row will do at commit (for its WAL record).
#[derive(Debug, Clone, Copy)]
pub enum Change<'a> {
    /// Insert or replace with this row.
    Put(&'a [Value]),
    /// Delete the row whose committed image this is.
    Delete(&'a [Value]),
}

/// What `lock` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lock {
    /// The writer already held the row (its own intent is what it sees).
    Mine(RowId),
    /// Newly locked; the newest committed version is the one the snapshot sees.
    Locked(RowId),
    /// Newly locked, but a transaction that committed after the snapshot changed the row:
    /// READ COMMITTED re-checks the newest version, REPEATABLE READ must fail (40001).
    Updated(RowId),
    /// A transaction that committed after the snapshot deleted the row; nothing was locked.
    Deleted,
}

/// A transaction's pending intent on a row as it was before a change (`None`: it had none),
/// kept by a savepoint to put back on ROLLBACK TO SAVEPOINT.
#[derive(Debug, Clone)]
pub struct SavedIntent(Option<Intent>);

impl SavedIntent {
    /// No intent: what a row had before its transaction first locked or inserted it.
    pub fn none() -> SavedIntent {
        SavedIntent(None)
    }
}

/// The primary-key index implementation, chosen per table.
type KeyIndex = Box<dyn OrderedIndex<RowId>>;

/// One table's partition on one shard.
pub struct RowTable {
    schema: Arc<TableSchema>,
    slots: Vec<Slot>,
    free: Vec<RowId>,
    primary: Option<KeyIndex>,
    /// Slots whose newest committed version is a row.
    committed: usize,
    /// Reused buffer for encoding keys, so lookups do not allocate.
    key_buf: Vec<u8>,
    /// Checkpointed rows in column segments.
    cold: Cold,
    /// Transactions loading segments in bulk: row writers wait until they end.
    bulk_writers: Vec<WriterId>,
    /// The kind of index over primary keys, in the row store and the segments.
    kind: IndexKind,
    /// Slots a commit left with versions some snapshot may outlive, by that commit's
    /// timestamp (about ascending): `collect` prunes them once the horizon passes it.
    garbage: VecDeque<(Ts, RowId)>,
    /// Secondary indexes (`secondary.rs`): every row version entering the partition adds to them.
    secondary: Vec<Secondary>,
}

/// What a checkpoint froze of one table partition: every segment with the deletes of the
/// committed state at the freeze, which is what the manifest records.
#[derive(Debug, Default)]
pub struct Frozen {
    pub image: Vec<FrozenSegment>,
}

/// Where a row a freeze writes comes from.
enum Source {
    Slot(RowId),
    Cold(Box<[Value]>),
}

/// One segment as of a freeze.
#[derive(Debug)]
pub struct FrozenSegment {
    pub id: u64,
    pub segment: Arc<Segment>,
    pub deletes: DeleteVector,
}

impl RowTable {
    /// An empty table partition whose primary-key index is of `kind`.
    pub fn new(schema: Arc<TableSchema>, kind: IndexKind) -> RowTable {
        let primary: Option<KeyIndex> = schema.primary_key.as_ref().map(|_| kind.build::<RowId>());
        let secondary = schema.indexes.iter().map(Secondary::new).collect();
        RowTable {
            schema,
            slots: Vec::new(),
            free: Vec::new(),
            primary,
            committed: 0,
            key_buf: Vec::new(),
            cold: Cold::default(),
            bulk_writers: Vec::new(),
            kind,
            garbage: VecDeque::new(),
            secondary,
        }
    }

    /// Take `schema` (same table, changed secondary indexes): build the indexes it adds from
    /// every row version here, drop the ones it removes.
    pub fn set_schema(&mut self, schema: Arc<TableSchema>) {
        self.secondary
            .retain(|s| schema.indexes.iter().any(|d| d.name == s.name));
        let new: Vec<Secondary> = schema
            .indexes
            .iter()
            .filter(|d| !self.secondary.iter().any(|s| s.name == d.name))
            .map(Secondary::new)
            .collect();
        self.schema = schema;
        let from = self.secondary.len();
        self.secondary.extend(new);
        self.fill_indexes(from);
    }

    /// Add every row version of the partition to the secondary indexes from `from` on.
    fn fill_indexes(&mut self, from: usize) {
        if from >= self.secondary.len() {
            return;
        }
        let mut buf = Vec::new();
        let (schema, indexes) = (&self.schema, &mut self.secondary[from..]);
        for slot in &self.slots {
            for row in slot.all_rows() {
                indexes
                    .iter_mut()
                    .for_each(|i| i.add(schema, row, &mut buf));
            }
        }
        for c in self.cold.segments() {
            for r in 0..c.segment.rows() {
                if !c.deletes.is_deleted(r as u32) {
                    let row = c.segment.row(r);
                    indexes
                        .iter_mut()
                        .for_each(|i| i.add(schema, &row, &mut buf));
                }
            }
        }
    }

    /// Add a row version to every secondary index.
    fn index_row(&mut self, row: &[Value]) {
        if self.secondary.is_empty() {
            return;
        }
        let mut buf = std::mem::take(&mut self.key_buf);
        for i in &mut self.secondary {
            i.add(&self.schema, row, &mut buf);
        }
        self.key_buf = buf;
    }

    /// Add a segment's live rows to every secondary index.
    fn index_segment(&mut self, c: &ColdSegment) {
        if self.secondary.is_empty() {
            return;
        }
        let mut buf = Vec::new();
        for r in 0..c.segment.rows() {
            if !c.deletes.is_deleted(r as u32) {
                let row = c.segment.row(r);
                for i in &mut self.secondary {
                    i.add(&self.schema, &row, &mut buf);
                }
            }
        }
    }

    /// Whether the partition has the secondary index `name`.
    pub fn has_index(&self, name: &str) -> bool {
        self.secondary.iter().any(|s| s.name == name)
    }

    /// Entries in secondary index `name` (stale ones included), for tests and monitoring.
    pub fn index_len(&self, name: &str) -> Option<usize> {
        self.secondary
            .iter()
            .find(|s| s.name == name)
            .map(Secondary::len)
    }

    /// Visit the rows visible to `view` whose entries in secondary index `name` lie in `range`
    /// (in entry order when the range asks for one) until `visit` returns false. Returns false,
    /// visiting nothing, when the partition has no such index.
    pub fn scan_index(
        &self,
        name: &str,
        range: &KeyRange,
        view: ReadView,
        mut visit: impl FnMut(RowId, &[Value]) -> bool,
    ) -> bool {
        let (Some(index), Some(primary)) = (
            self.secondary.iter().find(|s| s.name == name),
            self.primary.as_deref(),
        ) else {
            return false;
        };
        index.visit(
            &self.schema,
            primary,
            &self.slots,
            &self.cold,
            range,
            view,
            &mut visit,
        );
        true
    }

    /// The kind of primary-key index this partition uses (segments built for it use it too).
    pub fn index_kind(&self) -> IndexKind {
        self.kind
    }

    pub fn schema(&self) -> &Arc<TableSchema> {
        &self.schema
    }

    /// Rows whose newest committed version is live (in the row store or a segment).
    pub fn committed_len(&self) -> usize {
        self.committed + self.cold.live()
    }

    /// The partition's column segments.
    pub fn cold(&self) -> &Cold {
        &self.cold
    }

    /// Recovery: add a checkpointed segment.
    pub fn install_segment(&mut self, segment: ColdSegment) {
        self.index_segment(&segment);
        self.cold.push(segment);
    }

    /// Whether a checkpoint has anything to turn into segments.
    pub fn has_hot_rows(&self) -> bool {
        self.committed > 0
    }

    /// Row-store slots in use and committed versions they hold (for tests of garbage
    /// collection and for monitoring).
    pub fn version_stats(&self) -> (usize, usize) {
        let used = self.slots.len() - self.free.len();
        let versions = self
            .slots
            .iter()
            .map(|s| usize::from(s.head.is_some()) + s.older.len())
            .sum();
        (used, versions)
    }

    /// The slot holding the key's row versions: its row-store slot, or a segment row taken
    /// over into the row store.
    fn slot_of_key(&mut self, key: &[u8]) -> Result<Option<RowId>, RowError> {
        if let Some(id) = self.primary.as_ref().and_then(|index| index.get(key)) {
            return Ok(Some(id));
        }
        match self.cold.find(key) {
            Some(cold) => self.promote(cold).map(Some),
            None => Ok(None),
        }
    }

    /// Move a live segment row into a row-store slot. The move is not a change: the segment
    /// row becomes invisible to every snapshot and the slot's version carries the segment's
    /// own timestamp, so every snapshot sees the row in exactly one place.
    fn promote(&mut self, cold: RowId) -> Result<RowId, RowError> {
        let (row, since) = self.cold.row(cold).ok_or(RowError::Missing(cold))?;
        self.cold.remove(cold, 0);
        let id = self.allocate();
        if self.primary.is_some() {
            let key = primary_key_bytes(&self.schema, &row, &mut self.key_buf).to_vec();
            if let Some(index) = self.primary.as_mut() {
                // The key was live only in the segment; a failure here is an index bug.
                if index.insert(&key, id).is_err() {
                    return Err(RowError::Missing(id));
                }
            }
        }
        self.slots[id as usize].head = Some(Version {
            ts: since,
            row: Some(row.into_boxed_slice()),
        });
        self.committed += 1;
        Ok(id)
    }

    /// Let `writer` load segments in bulk: no transaction may have a pending row write here
    /// now (`Busy` names one), and none can start one until `end_bulk`. Several loads may run
    /// at once; they check each other's segments for duplicates.
    pub fn begin_bulk(&mut self, writer: WriterId) -> Result<(), RowError> {
        if self.bulk_writers.contains(&writer) {
            return Ok(());
        }
        if let Some(p) = self
            .slots
            .iter()
            .filter_map(|s| s.pending.as_ref())
            .find(|p| p.writer != writer)
        {
            return Err(RowError::Busy(p.writer));
        }
        self.bulk_writers.push(writer);
        Ok(())
    }

    /// The bulk load ended; with `segments` (committed) its segments join the table, visible
    /// to snapshots from their `since` timestamp on.
    pub fn end_bulk(&mut self, writer: WriterId, segments: Vec<ColdSegment>) {
        self.bulk_writers.retain(|&w| w != writer);
        for s in segments {
            self.index_segment(&s);
            self.cold.push(s);
        }
    }

    /// `Busy` while a transaction other than `writer` loads in bulk.
    fn bulk_guard(&self, writer: WriterId) -> Result<(), RowError> {
        match self.bulk_writers.iter().find(|&&w| w != writer) {
            Some(&w) => Err(RowError::Busy(w)),
            None => Ok(()),
        }
    }

    /// Whether the slot's key is taken: a live newest version or a pending intent.
    fn taken(&self, id: RowId) -> bool {
        self.slots
            .get(id as usize)
            .is_some_and(|s| s.pending.is_some() || s.newest().is_some())
    }

    /// The first of `keys` (encoded primary keys, ascending, the last one `hi` … first `lo`)
    /// that a row here holds, committed or pending (for bulk loads' duplicate checks). Only
    /// segments whose key range meets `[lo, hi]` are searched.
    pub fn first_taken<'k>(
        &self,
        keys: impl Iterator<Item = (usize, &'k [u8])>,
        lo: &[u8],
        hi: &[u8],
    ) -> Option<usize> {
        let mut hot = false;
        if let Some(index) = self.primary.as_ref() {
            index.range(Bound::Included(lo), Bound::Included(hi), &mut |_, _| {
                hot = true;
                false
            });
        }
        let mut key_buf = Vec::new();
        let cold: Vec<&ColdSegment> = self
            .cold
            .segments()
            .iter()
            .filter(|c| {
                let (first, last) = segment_key_range(&self.schema, c, &mut key_buf);
                first.as_slice() <= hi && last.as_slice() >= lo
            })
            .collect();
        if !hot && cold.is_empty() {
            return None;
        }
        let mut keys = keys;
        keys.find(|(_, key)| {
            (hot && self
                .primary
                .as_ref()
                .and_then(|i| i.get(key))
                .is_some_and(|id| self.taken(id)))
                || cold.iter().any(|c| {
                    c.segment
                        .find(key)
                        .is_some_and(|r| !c.deletes.is_deleted(r))
                })
        })
        .map(|(i, _)| i)
    }

    /// Insert a row as a pending write of `writer`. Uniqueness is checked against the newest
    /// committed versions (as PostgreSQL's unique indexes do), not the writer's snapshot.
    pub fn insert(&mut self, row: Box<[Value]>, writer: WriterId) -> Result<RowId, RowError> {
        self.bulk_guard(writer)?;
        self.index_row(&row);
        if self.primary.is_some() {
            let key = primary_key_bytes(&self.schema, &row, &mut self.key_buf).to_vec();
            if let Some(id) = self.slot_of_key(&key)? {
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
                intent: Intent::Put(row),
            });
            return Ok(id);
        }
        let id = self.allocate();
        self.slots[id as usize].pending = Some(Pending {
            writer,
            intent: Intent::Put(row),
        });
        Ok(id)
    }

    /// Whether `insert` would succeed, without changing anything: `Busy` if another writer holds
    /// the key, a unique violation if the key is taken.
    pub fn check_insert(&mut self, row: &[Value], writer: WriterId) -> Result<(), RowError> {
        self.bulk_guard(writer)?;
        if self.primary.is_none() {
            return Ok(());
        }
        let key = primary_key_bytes(&self.schema, row, &mut self.key_buf);
        let Some(id) = self.primary.as_ref().and_then(|index| index.get(key)) else {
            // A live segment row is committed and visible to everyone.
            return match self.cold.find(key) {
                Some(_) => Err(duplicate(&self.schema)),
                None => Ok(()),
            };
        };
        let slot = &self.slots[id as usize];
        match &slot.pending {
            Some(p) if p.writer != writer => Err(RowError::Busy(p.writer)),
            Some(p) if matches!(p.intent, Intent::Delete) => Ok(()),
            Some(_) => Err(duplicate(&self.schema)),
            None if slot.newest().is_some() => Err(duplicate(&self.schema)),
            None => Ok(()),
        }
    }

    /// The key exists in slot `id`: a duplicate, unless its newest version is a tombstone or
    /// `writer` deleted that row itself.
    fn insert_over(
        &mut self,
        id: RowId,
        row: Box<[Value]>,
        writer: WriterId,
    ) -> Result<RowId, RowError> {
        let slot = &mut self.slots[id as usize];
        let live = slot.newest().is_some();
        match &mut slot.pending {
            Some(p) if p.writer != writer => Err(RowError::Busy(p.writer)),
            Some(p) if matches!(p.intent, Intent::Delete) => {
                p.intent = Intent::Put(row);
                Ok(id)
            }
            Some(_) => Err(duplicate(&self.schema)),
            None if live => Err(duplicate(&self.schema)),
            None => {
                slot.pending = Some(Pending {
                    writer,
                    intent: Intent::Put(row),
                });
                Ok(id)
            }
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

    /// The row in a row-store slot as `view` sees it (`None` for cold ids: `lookup` and
    /// `lock` bring segment rows into slots).
    pub fn get(&self, id: RowId, view: ReadView) -> Option<&[Value]> {
        self.slots.get(id as usize).and_then(|s| s.visible(view))
    }

    /// Find the slot of an encoded primary key, if its row is visible to `view`. A row found
    /// in a segment moves into the row store (a point access makes it hot).
    pub fn lookup(&mut self, key: &[u8], view: ReadView) -> Option<RowId> {
        self.primary.as_ref()?;
        let id = self.slot_of_key(key).ok()??;
        self.get(id, view).map(|_| id)
    }

    /// Take the write lock on a row `writer` saw at snapshot `at` (a cold id from `scan`
    /// moves the row into the row store). `Busy` names the transaction holding it.
    pub fn lock(&mut self, id: RowId, writer: WriterId, at: Ts) -> Result<Lock, RowError> {
        self.bulk_guard(writer)?;
        let id = if id & COLD != 0 {
            self.promote(id)?
        } else {
            id
        };
        let slot = self
            .slots
            .get_mut(id as usize)
            .ok_or(RowError::Missing(id))?;
        match &slot.pending {
            Some(p) if p.writer == writer => return Ok(Lock::Mine(id)),
            Some(p) => return Err(RowError::Busy(p.writer)),
            None => {}
        }
        let newer = slot.newest_ts() > at;
        if slot.newest().is_none() {
            return Ok(Lock::Deleted);
        }
        slot.pending = Some(Pending {
            writer,
            intent: Intent::Lock,
        });
        Ok(if newer {
            Lock::Updated(id)
        } else {
            Lock::Locked(id)
        })
    }

    /// Release a lock `writer` took but did not write through (a READ COMMITTED re-check
    /// that no longer matched).
    pub fn unlock(&mut self, id: RowId, writer: WriterId) {
        if let Some(slot) = self.slots.get_mut(id as usize)
            && slot
                .pending_of(writer)
                .is_some_and(|p| matches!(p.intent, Intent::Lock))
        {
            slot.pending = None;
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
        if let Some(r) = &row {
            self.index_row(r);
        }
        let slot = self
            .slots
            .get_mut(id as usize)
            .ok_or(RowError::Missing(id))?;
        let Some(p) = slot
            .pending
            .as_mut()
            .filter(|p| p.writer == writer && !matches!(p.intent, Intent::Delete))
        else {
            return Err(RowError::Missing(id));
        };
        match row {
            Some(row) => p.intent = Intent::Put(row),
            None if slot.head.as_ref().is_some_and(|v| v.row.is_some()) => {
                p.intent = Intent::Delete;
            }
            None => {
                // Deleting a row this transaction inserted: it never existed for anyone else.
                let old = slot.pending.take();
                if slot.is_empty()
                    && let Some(Pending {
                        intent: Intent::Put(old),
                        ..
                    }) = old
                {
                    self.forget(id, &old);
                }
            }
        }
        Ok(())
    }

    /// Make `writer`'s pending intent on the row a committed version at `ts`. Returns the
    /// change in the number of live rows (-1, 0 or 1).
    pub fn commit(&mut self, id: RowId, writer: WriterId, ts: Ts) -> i64 {
        let Some(slot) = self.slots.get_mut(id as usize) else {
            return 0;
        };
        if slot.pending_of(writer).is_none() {
            return 0;
        }
        let (delta, garbage) = slot.commit(ts);
        self.committed = self.committed.saturating_add_signed(delta as isize);
        if garbage {
            self.garbage.push_back((ts, id));
        }
        delta
    }

    /// Garbage collection: prune the slots commits left with old versions or tombstones, once
    /// no snapshot older than `horizon` (the oldest active one) is left to see them. Returns
    /// the number of slots freed.
    pub fn collect(&mut self, horizon: Ts) -> usize {
        let mut freed = 0;
        while let Some(&(ts, id)) = self.garbage.front() {
            if ts > horizon {
                break;
            }
            self.garbage.pop_front();
            let Some(slot) = self.slots.get_mut(id as usize) else {
                continue;
            };
            if slot.is_empty() {
                // Freed through an earlier entry (and not reused since).
                continue;
            }
            if let Pruned::Dead(row) = slot.prune(horizon) {
                match row {
                    Some(row) => self.forget(id, &row),
                    None => self.free.push(id),
                }
                freed += 1;
            }
        }
        freed
    }

    /// Garbage entries waiting for the horizon to pass them.
    pub fn garbage_len(&self) -> usize {
        self.garbage.len()
    }

    /// `writer`'s pending change of the row, if it has one that changes anything at commit.
    pub fn change(&self, id: RowId, writer: WriterId) -> Option<Change<'_>> {
        let slot = self.slots.get(id as usize)?;
        match &slot.pending_of(writer)?.intent {
            Intent::Put(row) => Some(Change::Put(row)),
            Intent::Delete => slot.newest().map(Change::Delete),
            Intent::Lock => None,
        }
    }

    /// Recovery: make `row` committed, replacing the row with the same primary key (tables
    /// without a key just gain the row).
    pub fn replay_put(&mut self, row: Box<[Value]>) {
        self.index_row(&row);
        let version = |row| {
            Some(Version {
                ts: 0,
                row: Some(row),
            })
        };
        if self.primary.is_some() {
            let key = primary_key_bytes(&self.schema, &row, &mut self.key_buf).to_vec();
            if let Some(id) = self.primary.as_ref().and_then(|index| index.get(&key)) {
                let slot = &mut self.slots[id as usize];
                if slot.newest().is_none() {
                    self.committed += 1;
                }
                slot.head = version(row);
                slot.older.clear();
                return;
            }
            if let Some(cold) = self.cold.find(&key) {
                self.cold.remove(cold, 0);
            }
            let id = self.allocate();
            if let Some(index) = self.primary.as_mut() {
                let _ = index.insert(&key, id);
            }
            self.slots[id as usize].head = version(row);
            self.committed += 1;
            return;
        }
        let id = self.allocate();
        self.slots[id as usize].head = version(row);
        self.committed += 1;
    }

    /// Recovery: delete the committed row with `row`'s primary key (for tables without a key,
    /// one row equal to `row`). Returns whether a row was found.
    pub fn replay_delete(&mut self, row: &[Value]) -> bool {
        let id = if self.primary.is_some() {
            let key = primary_key_bytes(&self.schema, row, &mut self.key_buf);
            let id = self.primary.as_ref().and_then(|index| index.get(key));
            if id.is_none()
                && let Some(cold) = self.cold.find(key)
            {
                return self.cold.remove(cold, 0);
            }
            id
        } else {
            // No key: the first committed row with the same values (memcomparable encoding
            // makes equal values equal bytes). A linear search; keyless tables rarely delete.
            let mut wanted = Vec::new();
            row.iter().for_each(|v| encode_value(v, &mut wanted));
            let mut probe = Vec::new();
            self.slots
                .iter()
                .position(|s| {
                    s.newest().is_some_and(|r| {
                        probe.clear();
                        r.iter().for_each(|v| encode_value(v, &mut probe));
                        probe == wanted
                    })
                })
                .map(|i| i as RowId)
                .or_else(|| {
                    let mut found = None;
                    self.cold.scan(Ts::MAX, |id, r| {
                        probe.clear();
                        r.iter().for_each(|v| encode_value(v, &mut probe));
                        if probe == wanted {
                            found = Some(id);
                        }
                        found.is_none()
                    });
                    found
                })
        };
        let Some(id) = id else {
            return false;
        };
        if id & COLD != 0 {
            return self.cold.remove(id, 0);
        }
        let slot = &mut self.slots[id as usize];
        slot.older.clear();
        if let Some(Version { row: Some(old), .. }) = slot.head.take() {
            self.committed -= 1;
            self.forget(id, &old);
            return true;
        }
        false
    }

    /// Drop `writer`'s pending intent on the row (a slot left without versions is freed).
    pub fn rollback(&mut self, id: RowId, writer: WriterId) {
        let Some(slot) = self.slots.get_mut(id as usize) else {
            return;
        };
        if slot.pending_of(writer).is_none() {
            return;
        }
        let pending = slot.pending.take();
        if slot.is_empty()
            && let Some(Pending {
                intent: Intent::Put(row),
                ..
            }) = pending
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

    /// Visit every row visible to `view` until `visit` returns false: segment rows first
    /// (with cold ids, in segment order), then the row store's (in slot order).
    pub fn scan(&self, view: ReadView, mut visit: impl FnMut(RowId, &[Value]) -> bool) {
        if self.cold.scan(view.at, &mut visit) {
            self.scan_hot(view, visit);
        }
    }

    /// Visit the rows visible to `view` whose primary key lies in `range` (in key order when
    /// the range asks for one) until `visit` returns false. Segment rows keep their cold ids:
    /// nothing moves into the row store for a read. A table without a primary key has no range.
    pub fn scan_range(
        &self,
        range: &KeyRange,
        view: ReadView,
        mut visit: impl FnMut(RowId, &[Value]) -> bool,
    ) {
        if let Some(index) = self.primary.as_deref() {
            super::range::visit_range(index, &self.slots, &self.cold, range, view, &mut visit);
        }
    }

    /// Visit the row-store rows visible to `view` (in slot order), not the segments', until
    /// `visit` returns false.
    pub fn scan_hot(&self, view: ReadView, mut visit: impl FnMut(RowId, &[Value]) -> bool) {
        for (id, slot) in self.slots.iter().enumerate() {
            if let Some(row) = slot.visible(view)
                && !visit(id as RowId, row)
            {
                return;
            }
        }
    }

    /// Checkpoint: turn every committed row-store row into column segments sorted by primary
    /// key (numbered from `next_id`). Rows every snapshot from `horizon` (the oldest active
    /// one) on sees in their newest version, and nobody is writing, leave the row store; any
    /// other row stays there, its segment copy marked gone in memory but live in the returned
    /// image, which is the committed state the manifest must record.
    pub fn freeze(&mut self, next_id: &mut u64, horizon: Ts) -> Result<Frozen, SegmentError> {
        self.collect(horizon);
        let merged = self.segments_to_merge(horizon);
        let order = self.freeze_order(&merged);
        let chunks = order.len().div_ceil(SEGMENT_ROWS);
        if self.cold.segments().len() - merged.len() + chunks > super::cold::MAX_SEGMENTS {
            return Err(SegmentError::TooMany(super::cold::MAX_SEGMENTS));
        }
        let types: Vec<_> = self.schema.columns.iter().map(|c| c.ty).collect();
        let pk = self.schema.primary_key.as_ref().map(|k| k.columns.clone());
        let mut built = Vec::with_capacity(chunks);
        for chunk in order.chunks(SEGMENT_ROWS) {
            let rows: Vec<&[Value]> = chunk
                .iter()
                .filter_map(|source| match source {
                    Source::Slot(id) => self.slots[*id as usize].newest(),
                    Source::Cold(row) => Some(&row[..]),
                })
                .collect();
            built.push(Segment::from_rows_with(
                self.kind,
                &types,
                pk.as_deref(),
                &rows,
            )?);
        }
        self.cold.remove_segments(&merged);
        let mut new_ids = Vec::with_capacity(built.len());
        for (segment, chunk) in built.into_iter().zip(order.chunks(SEGMENT_ROWS)) {
            let id = *next_id;
            *next_id += 1;
            let segment = Arc::new(segment);
            let mut deletes = DeleteVector::new(segment.rows());
            for (pos, source) in chunk.iter().enumerate() {
                if let Source::Slot(slot) = source {
                    let s = &self.slots[*slot as usize];
                    if s.pending.is_some() || !s.older.is_empty() || s.newest_ts() > horizon {
                        deletes.delete(pos as u32, 0);
                    } else {
                        self.evict(*slot);
                    }
                }
            }
            new_ids.push(id);
            self.cold.push(ColdSegment {
                id,
                segment,
                deletes,
                since: 0,
            });
        }
        if self.slots.iter().all(Slot::is_empty) {
            self.slots = Vec::new();
            self.free = Vec::new();
        }
        let mut frozen = Frozen::default();
        for c in self.cold.segments() {
            let deletes = if new_ids.contains(&c.id) {
                // Rows kept hot for a pending write are still committed in the segment.
                DeleteVector::new(c.segment.rows())
            } else {
                c.deletes.clone()
            };
            frozen.image.push(FrozenSegment {
                id: c.id,
                segment: c.segment.clone(),
                deletes,
            });
        }
        Ok(frozen)
    }

    /// Segments worth rewriting with the row store's rows: those less than half full (of
    /// live rows), when there are at least two of them or hot rows to join. This keeps the
    /// number of small segments — and so the cost of a key lookup — bounded.
    /// Segments some active snapshot (older than `horizon`) must not see yet stay as they are.
    fn segments_to_merge(&self, horizon: Ts) -> Vec<u64> {
        let small: Vec<u64> = self
            .cold
            .segments()
            .iter()
            .filter(|c| c.live() < SEGMENT_ROWS / 2 && c.since <= horizon)
            .map(|c| c.id)
            .collect();
        if small.len() >= 2 || (!small.is_empty() && self.committed > 0) {
            small
        } else {
            Vec::new()
        }
    }

    /// The rows a freeze writes, in primary-key order: committed row-store rows and the live
    /// rows of the segments being merged (those first, then slots, for tables without a key).
    fn freeze_order(&self, merged: &[u64]) -> Vec<Source> {
        if merged.is_empty() {
            return self
                .committed_in_key_order()
                .into_iter()
                .map(Source::Slot)
                .collect();
        }
        let mut keyed: Vec<(Vec<u8>, Source)> = Vec::new();
        let mut key_buf = Vec::new();
        for c in self
            .cold
            .segments()
            .iter()
            .filter(|c| merged.contains(&c.id))
        {
            for r in 0..c.segment.rows() {
                if !c.deletes.is_deleted(r as u32) {
                    let row = c.segment.row(r);
                    let key = primary_key_bytes(&self.schema, &row, &mut key_buf).to_vec();
                    keyed.push((key, Source::Cold(row.into_boxed_slice())));
                }
            }
        }
        for (id, slot) in self.slots.iter().enumerate() {
            if let Some(row) = slot.newest() {
                let key = primary_key_bytes(&self.schema, row, &mut key_buf).to_vec();
                keyed.push((key, Source::Slot(id as RowId)));
            }
        }
        // Stable: keyless rows keep their order.
        keyed.sort_by(|a, b| a.0.cmp(&b.0));
        keyed.into_iter().map(|(_, s)| s).collect()
    }

    /// Slots with a committed row, in primary-key order (slot order without a key).
    fn committed_in_key_order(&self) -> Vec<RowId> {
        let committed = |id: RowId| {
            self.slots
                .get(id as usize)
                .is_some_and(|s| s.newest().is_some())
        };
        match self.primary.as_ref() {
            Some(index) => {
                let mut ids = Vec::with_capacity(self.committed);
                index.range(Bound::Unbounded, Bound::Unbounded, &mut |_, id| {
                    if committed(id) {
                        ids.push(id);
                    }
                    true
                });
                ids
            }
            None => (0..self.slots.len() as RowId)
                .filter(|&id| committed(id))
                .collect(),
        }
    }

    /// A committed row nobody is writing has moved into a segment: free its slot.
    fn evict(&mut self, id: RowId) {
        if let Some(Version { row: Some(row), .. }) = self.slots[id as usize].head.take() {
            self.committed -= 1;
            self.forget(id, &row);
        }
    }

    /// `writer`'s pending intent on the row, to put back with `restore_intent`.
    pub fn save_intent(&self, id: RowId, writer: WriterId) -> SavedIntent {
        SavedIntent(
            self.slots
                .get(id as usize)
                .and_then(|s| s.pending_of(writer))
                .map(|p| p.intent.clone()),
        )
    }

    /// Before `insert` of `row`: the slot it will land in if its key has one, and `writer`'s
    /// intent there (a fresh slot has none).
    pub fn save_intent_of_key(
        &mut self,
        row: &[Value],
        writer: WriterId,
    ) -> Option<(RowId, SavedIntent)> {
        self.primary.as_ref()?;
        let key = primary_key_bytes(&self.schema, row, &mut self.key_buf).to_vec();
        let id = self.primary.as_ref().and_then(|index| index.get(&key))?;
        Some((id, self.save_intent(id, writer)))
    }

    /// Put `writer`'s intent on the row back as `saved` (savepoint rollback). A row this
    /// transaction inserted and then deleted has left its slot: it is inserted again, and the
    /// slot it now occupies returned (`Busy` if another transaction took its key meanwhile).
    pub fn restore_intent(
        &mut self,
        id: RowId,
        writer: WriterId,
        saved: SavedIntent,
    ) -> Result<Option<RowId>, RowError> {
        let Some(slot) = self.slots.get_mut(id as usize) else {
            return Err(RowError::Missing(id));
        };
        let mine = slot.pending_of(writer).is_some();
        match saved.0 {
            None => {
                if mine {
                    self.rollback(id, writer);
                }
                Ok(None)
            }
            Some(intent) if mine => {
                if let Some(p) = slot.pending.as_mut() {
                    p.intent = intent;
                }
                Ok(None)
            }
            Some(Intent::Put(row)) => self.insert(row, writer).map(Some),
            // A locked or deleted row holds a committed version: its slot stays.
            Some(intent) if slot.pending.is_none() && slot.head.is_some() => {
                slot.pending = Some(Pending { writer, intent });
                Ok(None)
            }
            Some(_) => Err(RowError::Missing(id)),
        }
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

/// The encoded primary keys of a segment's first and last rows (its key range: rows are
/// sorted by key).
pub fn segment_key_range(
    schema: &TableSchema,
    c: &ColdSegment,
    buf: &mut Vec<u8>,
) -> (Vec<u8>, Vec<u8>) {
    let rows = c.segment.rows();
    let first = primary_key_bytes(schema, &c.segment.row(0), buf).to_vec();
    let last = primary_key_bytes(schema, &c.segment.row(rows.saturating_sub(1)), buf).to_vec();
    (first, last)
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
                    index_oid: None,
                }),
                unique: Vec::new(),
                indexes: Vec::new(),
            }),
            kind,
        )
    }

    fn row(k: i32, v: i32) -> Box<[Value]> {
        vec![Value::Int32(k), Value::Int32(v)].into()
    }

    /// Lock a row for `writer` at the newest snapshot; its slot.
    fn locked(t: &mut RowTable, id: RowId, writer: WriterId) -> RowId {
        match t.lock(id, writer, Ts::MAX).unwrap() {
            Lock::Mine(id) | Lock::Locked(id) | Lock::Updated(id) => id,
            Lock::Deleted => panic!("row {id} deleted"),
        }
    }

    fn key(k: i32) -> Vec<u8> {
        let mut out = Vec::new();
        encode_primary_key(&[&Value::Int32(k)], &mut out);
        out
    }

    fn v(t: &RowTable, id: RowId, reader: WriterId) -> Option<i32> {
        t.get(id, ReadView::latest(reader)).map(|r| match r[1] {
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
            t.commit(id, 7, 7);
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
            assert_eq!(t.lookup(&key(1), ReadView::latest(8)), None);
            let id2 = t.insert(row(1, 12), 8).unwrap();
            t.commit(id2, 8, 8);
            let id = t.lookup(&key(1), ReadView::latest(9)).unwrap();
            assert_eq!(v(&t, id, 9), Some(12));
        }
    }

    #[test]
    fn update_and_delete_stay_private_until_commit() {
        for kind in IndexKind::ALL {
            let mut t = table_of(kind);
            let id = t.insert(row(1, 10), 1).unwrap();
            t.commit(id, 1, 1);
            locked(&mut t, id, 2);
            assert_eq!(t.lock(id, 3, Ts::MAX), Err(RowError::Busy(2)));
            t.write(id, 2, Some(row(1, 20))).unwrap();
            assert_eq!((v(&t, id, 2), v(&t, id, 3)), (Some(20), Some(10)));
            t.commit(id, 2, 2);
            locked(&mut t, id, 4);
            t.write(id, 4, None).unwrap();
            assert_eq!((v(&t, id, 4), v(&t, id, 5)), (None, Some(20)));
            t.rollback(id, 4);
            assert_eq!(v(&t, id, 5), Some(20));
            locked(&mut t, id, 6);
            t.write(id, 6, None).unwrap();
            t.commit(id, 6, 6);
            assert_eq!(t.lookup(&key(1), ReadView::latest(7)), None);
            assert_eq!(t.committed_len(), 0);
        }
    }

    #[test]
    fn restored_intents_undo_inserts_updates_and_deletes() {
        for kind in IndexKind::ALL {
            let mut t = table_of(kind);
            let id = t.insert(row(1, 10), 1).unwrap();
            t.commit(id, 1, 1);
            // An update: lock, then write; restoring the lock's image gives the old row back.
            let before_lock = t.save_intent(id, 2);
            locked(&mut t, id, 2);
            let before_write = t.save_intent(id, 2);
            t.write(id, 2, Some(row(1, 20))).unwrap();
            assert_eq!(t.restore_intent(id, 2, before_write), Ok(None));
            assert_eq!(v(&t, id, 2), Some(10));
            assert_eq!(t.restore_intent(id, 2, before_lock), Ok(None));
            assert_eq!(t.lock(id, 3, Ts::MAX), Ok(Lock::Locked(id)));
            t.unlock(id, 3);
            // An insert into a fresh slot: restoring "nothing" frees the key.
            let fresh = t.insert(row(2, 5), 2).unwrap();
            t.restore_intent(fresh, 2, SavedIntent(None)).unwrap();
            assert_eq!(t.lookup(&key(2), ReadView::latest(2)), None);
            // An insert the transaction then deleted left its slot; restoring brings it back.
            let again = t.insert(row(3, 7), 2).unwrap();
            let saved = t.save_intent(again, 2);
            t.write(again, 2, None).unwrap();
            assert_eq!(t.lookup(&key(3), ReadView::latest(2)), None);
            let back = t.restore_intent(again, 2, saved).unwrap().unwrap();
            assert_eq!(v(&t, back, 2), Some(7));
            assert_eq!(v(&t, back, 4), None);
            t.commit(back, 2, 2);
            assert_eq!(v(&t, back, 4), Some(7));
        }
    }

    #[test]
    fn a_writer_may_delete_and_reinsert_the_same_key() {
        for kind in IndexKind::ALL {
            let mut t = table_of(kind);
            let id = t.insert(row(1, 10), 1).unwrap();
            t.commit(id, 1, 1);
            locked(&mut t, id, 2);
            t.write(id, 2, None).unwrap();
            let again = t.insert(row(1, 30), 2).unwrap();
            assert_eq!(again, id);
            t.commit(id, 2, 2);
            assert_eq!(v(&t, id, 3), Some(30));
        }
    }

    #[test]
    fn deleting_an_own_insert_frees_it_immediately() {
        for kind in IndexKind::ALL {
            let mut t = table_of(kind);
            let id = t.insert(row(1, 10), 2).unwrap();
            t.write(id, 2, None).unwrap();
            t.commit(id, 2, 2);
            assert_eq!(t.lookup(&key(1), ReadView::latest(3)), None);
            assert_eq!(t.committed_len(), 0);
        }
    }

    /// Committed rows of keys `keys` (value = key * 10), inserted and committed by writer 1.
    fn committed(kind: IndexKind, keys: impl Iterator<Item = i32>) -> RowTable {
        let mut t = table_of(kind);
        for k in keys {
            let id = t.insert(row(k, k * 10), 1).unwrap();
            t.commit(id, 1, 1);
        }
        t
    }

    /// (key, value) of every row `reader` sees, sorted.
    fn contents(t: &RowTable, reader: WriterId) -> Vec<(i32, i32)> {
        let mut out = Vec::new();
        t.scan(ReadView::latest(reader), |_, r| {
            if let (Value::Int32(k), Value::Int32(v)) = (&r[0], &r[1]) {
                out.push((*k, *v));
            }
            true
        });
        out.sort_unstable();
        out
    }

    #[test]
    fn freeze_moves_committed_rows_into_segments_and_keeps_answers() {
        for kind in IndexKind::ALL {
            let mut t = committed(kind, (0..200_000).rev());
            let before = contents(&t, 9);
            let mut next = 0;
            let frozen = t.freeze(&mut next, 5).unwrap();
            // 200,000 rows make 4 segments of at most SEGMENT_ROWS, in key order.
            assert_eq!(frozen.image.len(), 200_000usize.div_ceil(SEGMENT_ROWS));
            assert_eq!(t.cold().live(), 200_000);
            assert!(!t.has_hot_rows());
            assert_eq!(t.committed_len(), 200_000);
            assert_eq!(contents(&t, 9), before);
            // A point lookup finds a segment row and takes it into the row store.
            let id = t.lookup(&key(123_456), ReadView::latest(9)).unwrap();
            assert_eq!(v(&t, id, 9), Some(1_234_560));
            assert_eq!(t.cold().live(), 199_999);
            assert_eq!(t.committed_len(), 200_000);
            assert_eq!(contents(&t, 9), before);
            // Duplicates are refused against segment rows too.
            assert!(matches!(
                t.insert(row(7, 0), 3),
                Err(RowError::UniqueViolation { .. })
            ));
            assert!(matches!(
                t.check_insert(&row(8, 0), 3),
                Err(RowError::UniqueViolation { .. })
            ));
        }
    }

    #[test]
    fn writes_to_segment_rows_through_cold_ids() {
        for kind in IndexKind::ALL {
            let mut t = committed(kind, 0..1000);
            let mut next = 0;
            t.freeze(&mut next, 5).unwrap();
            // A scan hands out cold ids; lock moves the row into a slot.
            let mut cold = None;
            t.scan(ReadView::latest(2), |id, r| {
                if matches!(r[0], Value::Int32(500)) {
                    cold = Some(id);
                }
                true
            });
            let cold = cold.unwrap();
            assert!(cold & crate::row::COLD != 0);
            let id = locked(&mut t, cold, 2);
            t.write(id, 2, Some(row(500, -1))).unwrap();
            // Others still see the committed value until the commit.
            let others = contents(&t, 3);
            assert!(others.contains(&(500, 5000)));
            assert_eq!(t.commit(id, 2, 2), 0);
            assert!(contents(&t, 3).contains(&(500, -1)));
            // Delete a segment row; insert the key again.
            let id = t.lookup(&key(10), ReadView::latest(4)).unwrap();
            locked(&mut t, id, 4);
            t.write(id, 4, None).unwrap();
            assert_eq!(t.commit(id, 4, 4), -1);
            assert_eq!(t.committed_len(), 999);
            let id = t.insert(row(10, 1), 4).unwrap();
            t.commit(id, 4, 4);
            assert!(contents(&t, 3).contains(&(10, 1)));
            assert_eq!(t.committed_len(), 1000);
        }
    }

    #[test]
    fn a_pending_write_survives_a_freeze_and_the_image_keeps_the_committed_row() {
        for kind in IndexKind::ALL {
            let mut t = committed(kind, 0..100);
            let id = t.lookup(&key(42), ReadView::latest(2)).unwrap();
            locked(&mut t, id, 2);
            t.write(id, 2, Some(row(42, 0))).unwrap();
            let mut next = 0;
            let frozen = t.freeze(&mut next, 5).unwrap();
            // The image (what the manifest records) has every committed row live.
            let live: usize = frozen
                .image
                .iter()
                .map(|s| s.segment.rows() - s.deletes.count())
                .sum();
            assert_eq!(live, 100);
            // In memory the row being written stays hot; nobody sees it twice.
            assert_eq!(contents(&t, 3).len(), 100);
            assert!(contents(&t, 3).contains(&(42, 420)));
            t.commit(id, 2, 2);
            assert!(contents(&t, 3).contains(&(42, 0)));
            assert_eq!(t.committed_len(), 100);
            // A second freeze merges the small segments with the hot row.
            let frozen = t.freeze(&mut next, 6).unwrap();
            assert_eq!(frozen.image.len(), 1);
            assert_eq!(contents(&t, 3).len(), 100);
            assert!(contents(&t, 3).contains(&(42, 0)));
        }
    }

    #[test]
    fn replay_finds_keys_in_segments() {
        for kind in IndexKind::ALL {
            let mut t = committed(kind, 0..50);
            let mut next = 0;
            t.freeze(&mut next, 5).unwrap();
            t.replay_put(row(5, 99));
            assert!(t.replay_delete(&row(6, 60)));
            assert!(!t.replay_delete(&row(6, 60)));
            let c = contents(&t, 3);
            assert_eq!(c.len(), 49);
            assert!(c.contains(&(5, 99)) && !c.contains(&(5, 50)));
        }
    }

    fn at(t: &RowTable, ts: Ts) -> Vec<(i32, i32)> {
        let mut out = Vec::new();
        t.scan(ReadView { at: ts, txn: 0 }, |_, r| {
            if let (Value::Int32(k), Value::Int32(v)) = (&r[0], &r[1]) {
                out.push((*k, *v));
            }
            true
        });
        out.sort_unstable();
        out
    }

    #[test]
    fn snapshots_see_the_versions_committed_at_or_before_them() {
        for kind in IndexKind::ALL {
            let mut t = table_of(kind);
            let id = t.insert(row(1, 10), 1).unwrap();
            t.commit(id, 1, 10);
            let id = locked(&mut t, id, 2);
            t.write(id, 2, Some(row(1, 20))).unwrap();
            t.commit(id, 2, 20);
            let id2 = t.insert(row(2, 5), 3).unwrap();
            t.commit(id2, 3, 25);
            assert_eq!(locked(&mut t, id, 4), id);
            t.write(id, 4, None).unwrap();
            t.commit(id, 4, 30);
            assert_eq!(at(&t, 9), vec![]);
            assert_eq!(at(&t, 10), vec![(1, 10)]);
            assert_eq!(at(&t, 25), vec![(1, 20), (2, 5)]);
            assert_eq!(at(&t, 30), vec![(2, 5)]);
            assert_eq!(t.committed_len(), 1);
            // A write to a row changed after the snapshot is reported; a deleted one too.
            assert_eq!(t.lock(id2, 5, 20), Ok(Lock::Updated(id2)));
            t.unlock(id2, 5);
            assert_eq!(t.lock(id2, 5, 25), Ok(Lock::Locked(id2)));
            assert_eq!(t.lock(id, 6, 25), Ok(Lock::Deleted));
        }
    }

    #[test]
    fn a_segment_row_deleted_after_a_snapshot_is_still_seen_by_it() {
        for kind in IndexKind::ALL {
            let mut t = committed(kind, 0..100);
            let mut next = 0;
            t.freeze(&mut next, 1).unwrap();
            assert!(!t.has_hot_rows());
            let id = t.lookup(&key(7), ReadView::latest(2)).unwrap();
            let id = locked(&mut t, id, 2);
            t.write(id, 2, None).unwrap();
            t.commit(id, 2, 50);
            assert_eq!(at(&t, 49).len(), 100);
            assert!(at(&t, 49).contains(&(7, 70)));
            assert_eq!(at(&t, 50).len(), 99);
            // A segment loaded in bulk at 60 is invisible to older snapshots.
            let segment = Segment::from_rows_with(
                kind,
                &[DataType::Int32, DataType::Int32],
                Some(&[0]),
                &[&row(1000, 1)[..]],
            )
            .unwrap();
            t.end_bulk(
                9,
                vec![ColdSegment {
                    id: 99,
                    deletes: DeleteVector::new(1),
                    segment: Arc::new(segment),
                    since: 60,
                }],
            );
            assert_eq!((at(&t, 59).len(), at(&t, 60).len()), (99, 100));
            let id = t.lookup(&key(1000), ReadView { at: 59, txn: 3 });
            assert_eq!(id, None);
            let id = t.lookup(&key(1000), ReadView { at: 60, txn: 3 }).unwrap();
            assert_eq!(t.lock(id, 3, 59), Ok(Lock::Updated(id)));
        }
    }

    #[test]
    fn garbage_collection_keeps_versions_bounded() {
        for kind in IndexKind::ALL {
            let mut t = committed(kind, 0..10);
            let mut ts = 10;
            // With the oldest snapshot at 10 every newer version is kept (as PostgreSQL's
            // xmin horizon does); once it moves, each row is back to one version.
            for round in 0..1000 {
                for k in 0..10 {
                    let id = t.lookup(&key(k), ReadView::latest(2)).unwrap();
                    let id = locked(&mut t, id, 2);
                    t.write(id, 2, Some(row(k, round))).unwrap();
                    ts += 1;
                    t.commit(id, 2, ts);
                }
                t.collect(10);
            }
            assert_eq!(t.version_stats(), (10, 10 + 10 * 1000));
            assert_eq!(at(&t, 10), (0..10).map(|k| (k, k * 10)).collect::<Vec<_>>());
            t.collect(ts - 10);
            assert_eq!(t.version_stats(), (10, 20));
            assert_eq!(
                at(&t, ts - 10),
                (0..10).map(|k| (k, 998)).collect::<Vec<_>>()
            );
            t.collect(ts);
            assert_eq!(t.version_stats(), (10, 10));
            assert_eq!(t.garbage_len(), 0);
            // Deleted rows leave once no snapshot sees them; their keys are free again.
            for k in 0..10 {
                let id = t.lookup(&key(k), ReadView::latest(3)).unwrap();
                let id = locked(&mut t, id, 3);
                t.write(id, 3, None).unwrap();
                t.commit(id, 3, ts + 1);
            }
            t.collect(ts);
            assert_eq!(t.version_stats().0, 10);
            assert_eq!(at(&t, ts).len(), 10);
            t.collect(ts + 1);
            assert_eq!(t.version_stats(), (0, 0));
            assert_eq!(t.committed_len(), 0);
            let id = t.insert(row(3, 3), 4).unwrap();
            t.commit(id, 4, ts + 2);
            assert_eq!(at(&t, ts + 2), vec![(3, 3)]);
        }
    }
}

#[cfg(test)]
mod index_tests {
    use super::*;
    use crate::row::key::encode_value;
    use crate::schema::{ColumnSchema, IndexSchema, UniqueConstraint};
    use crate::types::DataType;

    /// `t (k PRIMARY KEY, v)` with secondary index `t_v` on `v`.
    fn indexed(kind: IndexKind) -> RowTable {
        let col = |name: &str| ColumnSchema {
            name: name.into(),
            ty: DataType::Int32,
            nullable: false,
            default: None,
        };
        let schema = TableSchema {
            id: 1,
            name: "t".into(),
            columns: vec![col("k"), col("v")],
            primary_key: Some(UniqueConstraint {
                name: "t_pkey".into(),
                columns: vec![0],
                index_oid: None,
            }),
            unique: Vec::new(),
            indexes: Vec::new(),
        };
        let mut t = RowTable::new(Arc::new(schema.clone()), kind);
        for k in 0..10 {
            let id = t
                .insert(vec![Value::Int32(k), Value::Int32(k % 3)].into(), 1)
                .unwrap();
            t.commit(id, 1, 1);
        }
        // Built over existing rows, like CREATE INDEX on a loaded table.
        let mut with_index = schema;
        with_index.indexes.push(IndexSchema {
            name: "t_v".into(),
            columns: vec![1],
        });
        t.set_schema(Arc::new(with_index));
        t
    }

    fn equal_to(v: i32) -> KeyRange {
        let mut prefix = Vec::new();
        encode_value(&Value::Int32(v), &mut prefix);
        KeyRange {
            start: prefix.clone(),
            prefix,
            stop: None,
            descending: Some(false),
        }
    }

    fn keys(t: &RowTable, v: i32, view: ReadView) -> Vec<i32> {
        let mut out = Vec::new();
        assert!(t.scan_index("t_v", &equal_to(v), view, |_, row| {
            if let Value::Int32(k) = row[0] {
                out.push(k);
            }
            true
        }));
        out
    }

    #[test]
    fn index_finds_rows_by_value_at_each_snapshot() {
        for kind in IndexKind::ALL {
            let mut t = indexed(kind);
            let at = |ts| ReadView { at: ts, txn: 0 };
            assert_eq!(keys(&t, 1, at(5)), vec![1, 4, 7]);
            // Move row 4 from v = 1 to v = 2, uncommitted: only its writer sees the move.
            let id = t
                .lookup(
                    &{
                        let mut k = Vec::new();
                        encode_primary_key(&[&Value::Int32(4)], &mut k);
                        k
                    },
                    at(5),
                )
                .unwrap();
            assert!(matches!(t.lock(id, 9, 5), Ok(Lock::Locked(_))));
            t.write(id, 9, Some(vec![Value::Int32(4), Value::Int32(2)].into()))
                .unwrap();
            assert_eq!(keys(&t, 1, at(5)), vec![1, 4, 7]);
            assert_eq!(keys(&t, 2, ReadView::latest(9)), vec![2, 4, 5, 8]);
            assert_eq!(keys(&t, 1, ReadView::latest(9)), vec![1, 7]);
            t.commit(id, 9, 6);
            // Old snapshots keep the old value; new ones see only the new.
            assert_eq!(keys(&t, 1, at(5)), vec![1, 4, 7]);
            assert_eq!(keys(&t, 1, at(6)), vec![1, 7]);
            assert_eq!(keys(&t, 2, at(6)), vec![2, 4, 5, 8]);
            // A rolled-back insert leaves an entry that never yields a row.
            let ghost = t
                .insert(vec![Value::Int32(50), Value::Int32(1)].into(), 11)
                .unwrap();
            t.rollback(ghost, 11);
            assert_eq!(keys(&t, 1, ReadView::latest(12)), vec![1, 7]);
            assert!(t.index_len("t_v").unwrap() >= 12);
            assert!(!t.scan_index("nope", &equal_to(1), at(6), |_, _| true));
        }
    }
}
