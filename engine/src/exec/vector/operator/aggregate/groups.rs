//! Finding each row's group: packed integer keys where the group columns fit in 128 bits (or
//! 64, for a smaller table), with text inline or, when a value is too long for its slot, as
//! interned ids; byte keys (`keys::encode`) otherwise. Group ids are dense, in the order groups
//! were first seen, and never change: switching from inline to interned text or to byte keys
//! keeps every id.
//!
//! Hot path: one hash and one probe per row, skipped when a row repeats the previous row's key
//! (sorted or clustered input); no allocation per row, only per new group in byte mode.

use super::packed::Layout;
use super::rows::Rows;
use crate::EngineError;
use crate::exec::vector::build::VectorBuilder;
use crate::exec::vector::data::{Kind, Vector};
use crate::exec::vector::keys::{self, Order};
use hashbrown::{DefaultHashBuilder, HashTable};
use omendb_storage::types::Value;
use std::hash::{BuildHasher, Hash};

/// A packed key's integer type.
pub trait Key: Copy + Eq + Hash + Into<u128> + std::fmt::Debug {
    fn from_code(code: u128) -> Self;
}

impl Key for u64 {
    #[inline(always)]
    fn from_code(code: u128) -> u64 {
        code as u64
    }
}

impl Key for u128 {
    #[inline(always)]
    fn from_code(code: u128) -> u128 {
        code
    }
}

/// Groups keyed by packed integers.
#[derive(Debug)]
pub struct Packed<K: Key> {
    layout: Layout,
    hasher: DefaultHashBuilder,
    /// (key, group id): the key beside the id so a probe touches one slot.
    table: HashTable<(K, u32)>,
    /// Each group's key, by id.
    keys: Vec<K>,
    /// The current batch's keys.
    scratch: Vec<u128>,
}

impl<K: Key> Packed<K> {
    fn new(layout: Layout) -> Packed<K> {
        Packed {
            layout,
            hasher: DefaultHashBuilder::default(),
            table: HashTable::new(),
            keys: Vec::new(),
            scratch: Vec::new(),
        }
    }

    #[inline(always)]
    fn group_of(&mut self, key: K) -> u32 {
        let h = self.hasher.hash_one(key);
        if let Some(&(_, g)) = self.table.find(h, |e| e.0 == key) {
            return g;
        }
        let g = self.keys.len() as u32;
        let hasher = &self.hasher;
        self.table
            .insert_unique(h, (key, g), |e| hasher.hash_one(e.0));
        self.keys.push(key);
        g
    }

    /// Group ids of `rows`; false (nothing assigned) when a key does not pack.
    fn assign<R: Rows>(
        &mut self,
        cols: &[&Vector],
        len: usize,
        rows: R,
        gids: &mut Vec<u32>,
    ) -> bool {
        let mut scratch = std::mem::take(&mut self.scratch);
        let packed = self.layout.pack(cols, len, &mut scratch);
        if packed {
            let mut last: Option<(K, u32)> = None;
            for k in 0..rows.count() {
                let key = K::from_code(scratch[rows.at(k)]);
                let g = match last {
                    Some((prev, g)) if prev == key => g,
                    _ => self.group_of(key),
                };
                last = Some((key, g));
                gids.push(g);
            }
        }
        self.scratch = scratch;
        packed
    }

    /// The ids here of `other`'s groups, by their ids (same layout form); `None` when an
    /// interned key does not pack here.
    fn absorb(&mut self, other: &Packed<K>) -> Result<Option<Vec<u32>>, EngineError> {
        if !self.layout.is_interned() {
            return Ok(Some(other.keys.iter().map(|&k| self.group_of(k)).collect()));
        }
        // Ids are the other interners': its groups are packed again through the values.
        let cols = other.columns()?;
        let refs: Vec<&Vector> = cols.iter().collect();
        let n = other.keys.len();
        let mut gids = Vec::with_capacity(n);
        Ok(self
            .assign(&refs, n, super::rows::All(n), &mut gids)
            .then_some(gids))
    }

    fn columns(&self) -> Result<Vec<Vector>, EngineError> {
        self.layout.unpack(&self.keys)
    }
}

/// Groups keyed by the byte encoding, with each group's values as first seen.
#[derive(Debug)]
pub struct Bytes {
    hasher: DefaultHashBuilder,
    table: HashTable<u32>,
    hashes: Vec<u64>,
    /// Encoded keys, group after group.
    key_bytes: Vec<u8>,
    key_offsets: Vec<usize>,
    /// `width` values per group.
    values: Vec<Value>,
    width: usize,
}

impl Bytes {
    fn new(width: usize) -> Bytes {
        Bytes {
            hasher: DefaultHashBuilder::default(),
            table: HashTable::new(),
            hashes: Vec::new(),
            key_bytes: Vec::new(),
            key_offsets: vec![0],
            values: Vec::new(),
            width,
        }
    }

    fn key(&self, g: usize) -> &[u8] {
        &self.key_bytes[self.key_offsets[g]..self.key_offsets[g + 1]]
    }

    /// The group of `key`, created with `values` if new.
    fn group_of(&mut self, key: &[u8], values: impl FnOnce() -> Vec<Value>) -> u32 {
        let h = self.hasher.hash_one(key);
        let (bytes, offsets) = (&self.key_bytes, &self.key_offsets);
        let found = self
            .table
            .find(h, |&g| {
                &bytes[offsets[g as usize]..offsets[g as usize + 1]] == key
            })
            .copied();
        if let Some(g) = found {
            return g;
        }
        let g = self.hashes.len() as u32;
        let hashes = &self.hashes;
        self.table.insert_unique(h, g, |&x| hashes[x as usize]);
        self.hashes.push(h);
        self.key_bytes.extend_from_slice(key);
        self.key_offsets.push(self.key_bytes.len());
        self.values.extend(values());
        g
    }

    fn assign<R: Rows>(&mut self, cols: &[&Vector], len: usize, rows: R, gids: &mut Vec<u32>) {
        let keys = keys::encode(cols, &vec![Order::default(); cols.len()], len);
        for k in 0..rows.count() {
            let i = rows.at(k);
            gids.push(self.group_of(keys.get(i), || cols.iter().map(|c| c.value(i)).collect()));
        }
    }

    /// Byte keys for groups given as columns (ids in order).
    fn from_columns(cols: &[Vector], groups: usize) -> Bytes {
        let mut b = Bytes::new(cols.len());
        let refs: Vec<&Vector> = cols.iter().collect();
        b.assign(&refs, groups, super::rows::All(groups), &mut Vec::new());
        b
    }

    fn columns(&self, kinds: &[Kind]) -> Result<Vec<Vector>, EngineError> {
        let groups = self.hashes.len();
        let mut out = Vec::with_capacity(kinds.len());
        for (c, &kind) in kinds.iter().enumerate() {
            let mut b = VectorBuilder::new(kind, groups);
            for g in 0..groups {
                b.push(&self.values[g * self.width + c])?;
            }
            out.push(b.finish()?);
        }
        Ok(out)
    }

    /// Bytes one group holds (its key and values), for the memory budget.
    pub fn group_bytes(&self, g: usize) -> usize {
        let values = &self.values[g * self.width..(g + 1) * self.width];
        self.key(g).len() + crate::exec::memory::row_bytes(values)
    }
}

/// The groups of an aggregate.
#[derive(Debug)]
pub enum Groups {
    /// No GROUP BY: every row in group 0, which exists once created.
    Single(bool),
    Narrow(Packed<u64>),
    Wide(Packed<u128>),
    Bytes(Bytes),
}

/// Bytes a packed group holds besides its accumulators: its key twice (by id and in the table)
/// and the id.
const PACKED_GROUP_BYTES: usize = 2 * size_of::<u128>() + size_of::<u32>();

impl Groups {
    pub fn new(kinds: &[Kind]) -> Groups {
        if kinds.is_empty() {
            return Groups::Single(false);
        }
        match Layout::new(kinds) {
            Some(l) if l.narrow() => Groups::Narrow(Packed::new(l)),
            Some(l) => Groups::Wide(Packed::new(l)),
            None => Groups::Bytes(Bytes::new(kinds.len())),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Groups::Single(exists) => usize::from(*exists),
            Groups::Narrow(p) => p.keys.len(),
            Groups::Wide(p) => p.keys.len(),
            Groups::Bytes(b) => b.hashes.len(),
        }
    }

    /// Make sure the single group of an aggregate without GROUP BY exists.
    pub fn ensure_single(&mut self) {
        if let Groups::Single(exists) = self {
            *exists = true;
        }
    }

    /// The group id of each of `rows` (rows of the group columns `cols`, `len` rows long),
    /// appended to `gids`.
    pub fn assign<R: Rows>(
        &mut self,
        cols: &[&Vector],
        len: usize,
        rows: R,
        gids: &mut Vec<u32>,
        kinds: &[Kind],
    ) -> Result<(), EngineError> {
        gids.clear();
        let packed = match self {
            Groups::Single(exists) => {
                *exists = true;
                gids.resize(rows.count(), 0);
                return Ok(());
            }
            Groups::Narrow(p) => p.assign(cols, len, rows, gids),
            Groups::Wide(p) => p.assign(cols, len, rows, gids),
            Groups::Bytes(b) => {
                b.assign(cols, len, rows, gids);
                return Ok(());
            }
        };
        if packed {
            return Ok(());
        }
        gids.clear();
        if self.switch_to_interned(kinds)? {
            let packed = match self {
                Groups::Narrow(p) => p.assign(cols, len, rows, gids),
                Groups::Wide(p) => p.assign(cols, len, rows, gids),
                _ => false,
            };
            if packed {
                return Ok(());
            }
            gids.clear();
        }
        self.switch_to_bytes(kinds)?;
        if let Groups::Bytes(b) = self {
            b.assign(cols, len, rows, gids);
        }
        Ok(())
    }

    /// Whether the keys are packed with interned text.
    fn interned(&self) -> bool {
        match self {
            Groups::Narrow(p) => p.layout.is_interned(),
            Groups::Wide(p) => p.layout.is_interned(),
            Groups::Single(_) | Groups::Bytes(_) => false,
        }
    }

    /// Switch packed keys with inline text to interned text, keeping every group id; false
    /// (nothing changed) when already interned, not packed, or the groups do not fit.
    fn switch_to_interned(&mut self, kinds: &[Kind]) -> Result<bool, EngineError> {
        if self.interned() {
            return Ok(false);
        }
        let Some(layout) = Layout::interned(kinds) else {
            return Ok(false);
        };
        let cols = match self {
            Groups::Narrow(p) => p.columns()?,
            Groups::Wide(p) => p.columns()?,
            Groups::Single(_) | Groups::Bytes(_) => return Ok(false),
        };
        let groups = self.len();
        let refs: Vec<&Vector> = cols.iter().collect();
        let all = super::rows::All(groups);
        let mut gids = Vec::with_capacity(groups);
        // Distinct groups in id order get the ids 0, 1, … again.
        let next = if layout.narrow() {
            let mut p = Packed::<u64>::new(layout);
            p.assign(&refs, groups, all, &mut gids)
                .then_some(Groups::Narrow(p))
        } else {
            let mut p = Packed::<u128>::new(layout);
            p.assign(&refs, groups, all, &mut gids)
                .then_some(Groups::Wide(p))
        };
        match next {
            Some(next) => {
                debug_assert!(gids.iter().enumerate().all(|(i, &g)| g as usize == i));
                *self = next;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Switch to byte keys, keeping every group id.
    fn switch_to_bytes(&mut self, kinds: &[Kind]) -> Result<(), EngineError> {
        let groups = self.len();
        let cols = match self {
            Groups::Narrow(p) => p.columns()?,
            Groups::Wide(p) => p.columns()?,
            Groups::Single(_) | Groups::Bytes(_) => return Ok(()),
        };
        debug_assert_eq!(cols.len(), kinds.len());
        *self = Groups::Bytes(Bytes::from_columns(&cols, groups));
        Ok(())
    }

    /// Take in `other`'s groups: the id here of each of its groups, by its id.
    pub fn absorb(&mut self, other: Groups, kinds: &[Kind]) -> Result<Vec<u32>, EngineError> {
        let mut other = other;
        let same_form = |a: &Groups, b: &Groups| {
            a.interned() == b.interned()
                && matches!(
                    (a, b),
                    (Groups::Single(_), Groups::Single(_))
                        | (Groups::Narrow(_), Groups::Narrow(_))
                        | (Groups::Wide(_), Groups::Wide(_))
                        | (Groups::Bytes(_), Groups::Bytes(_))
                )
        };
        // Partial states from the shards may have switched to interned text where this one
        // has not yet: meet there before falling back to byte keys.
        if !same_form(self, &other) && (self.interned() || other.interned()) {
            self.switch_to_interned(kinds)?;
            other.switch_to_interned(kinds)?;
        }
        if !same_form(self, &other) {
            self.switch_to_bytes(kinds)?;
            other.switch_to_bytes(kinds)?;
        }
        let absorbed = match (&mut *self, &other) {
            (Groups::Narrow(a), Groups::Narrow(b)) => Some(a.absorb(b)?),
            (Groups::Wide(a), Groups::Wide(b)) => Some(a.absorb(b)?),
            _ => None,
        };
        match absorbed {
            Some(Some(ids)) => return Ok(ids),
            // An interner full: both to byte keys.
            Some(None) => {
                self.switch_to_bytes(kinds)?;
                other.switch_to_bytes(kinds)?;
            }
            None => {}
        }
        Ok(match (self, other) {
            (Groups::Single(exists), Groups::Single(theirs)) => {
                *exists |= theirs;
                if theirs { vec![0] } else { Vec::new() }
            }
            (Groups::Bytes(a), Groups::Bytes(b)) => (0..b.hashes.len())
                .map(|g| {
                    let values = &b.values[g * b.width..(g + 1) * b.width];
                    a.group_of(b.key(g), || values.to_vec())
                })
                .collect(),
            _ => {
                return Err(EngineError::Internal(
                    "aggregate states of different group forms".into(),
                ));
            }
        })
    }

    /// The group columns, one vector per group column, rows in group id order.
    pub fn columns(&self, kinds: &[Kind]) -> Result<Vec<Vector>, EngineError> {
        match self {
            Groups::Single(_) => Ok(Vec::new()),
            Groups::Narrow(p) => p.columns(),
            Groups::Wide(p) => p.columns(),
            Groups::Bytes(b) => b.columns(kinds),
        }
    }

    /// Bytes the newest group holds besides its accumulators, for the memory budget.
    pub fn newest_group_bytes(&self) -> usize {
        match self {
            Groups::Bytes(b) if !b.hashes.is_empty() => {
                b.group_bytes(b.hashes.len() - 1) + size_of::<u64>() + 2 * size_of::<u32>()
            }
            _ => PACKED_GROUP_BYTES,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::rows::All;
    use super::*;
    use crate::exec::vector::build::from_rows;
    use crate::exec::vector::data::Batch;

    const KINDS: [Kind; 3] = [Kind::Text, Kind::Text, Kind::Int32];

    fn batch(rows: &[(&str, &str, i32)]) -> Batch {
        let rows: Vec<Vec<Value>> = rows
            .iter()
            .map(|&(a, b, n)| {
                let text = |s: &str| match s {
                    "NULL" => Value::Null,
                    s => Value::Text(s.into()),
                };
                vec![text(a), text(b), Value::Int32(n)]
            })
            .collect();
        from_rows(&rows, &KINDS).unwrap().remove(0)
    }

    fn assign(g: &mut Groups, b: &Batch) -> Vec<u32> {
        let cols: Vec<&Vector> = b.columns.iter().collect();
        let mut gids = Vec::new();
        g.assign(&cols, b.len, All(b.len), &mut gids, &KINDS)
            .unwrap();
        gids
    }

    fn rows_of(g: &Groups) -> Vec<String> {
        let cols = g.columns(&KINDS).unwrap();
        (0..g.len())
            .map(|i| format!("{:?}", cols.iter().map(|c| c.value(i)).collect::<Vec<_>>()))
            .collect()
    }

    #[test]
    fn text_too_long_to_pack_inline_is_interned_and_ids_stay() {
        let mut g = Groups::new(&KINDS);
        assert!(matches!(g, Groups::Wide(_)) && !g.interned());
        assert_eq!(
            assign(
                &mut g,
                &batch(&[("a", "b", 1), ("a", "NULL", 1), ("a", "b", 1)])
            ),
            [0, 1, 0]
        );
        // A value longer than its inline slot: the same groups keep their ids.
        let long = "Brand#45 a value far too long to pack";
        let ids = assign(
            &mut g,
            &batch(&[
                (long, "b", 2),
                ("a", "NULL", 1),
                ("a", "b", 1),
                (long, "b", 2),
            ]),
        );
        assert!(g.interned(), "{g:?}");
        assert_eq!(ids, [2, 1, 0, 2]);
        assert_eq!(
            assign(&mut g, &batch(&[("a", "b", 1), ("NULL", "NULL", 3)])),
            [0, 3]
        );
        assert_eq!(
            rows_of(&g),
            [
                r#"[Text("a"), Text("b"), Int32(1)]"#,
                r#"[Text("a"), Null, Int32(1)]"#,
                format!(r#"[Text("{long}"), Text("b"), Int32(2)]"#).as_str(),
                "[Null, Null, Int32(3)]",
            ]
        );
    }

    #[test]
    fn interned_and_inline_states_merge_by_value() {
        let long = "a text value that needs interning";
        // A shard's state that interned, and one that never had to.
        let mut interned = Groups::new(&KINDS);
        assign(&mut interned, &batch(&[(long, "x", 1), ("s", "t", 2)]));
        assert!(interned.interned());
        let mut inline = Groups::new(&KINDS);
        assign(&mut inline, &batch(&[("s", "t", 2), ("u", "v", 3)]));
        assert!(!inline.interned());
        // Either way round, groups meet by value and ids follow first sight.
        let mut at = Groups::new(&KINDS);
        assert_eq!(at.absorb(inline, &KINDS).unwrap(), [0, 1]);
        assert_eq!(at.absorb(interned, &KINDS).unwrap(), [2, 0]);
        assert!(at.interned());
        assert_eq!(rows_of(&at).len(), 3);
        assert_eq!(
            rows_of(&at)[2],
            format!(r#"[Text("{long}"), Text("x"), Int32(1)]"#)
        );
        // Two interned states have their own ids for the same text.
        let mut a = Groups::new(&KINDS);
        assign(&mut a, &batch(&[(long, "x", 1), ("p", "q", 1)]));
        let mut b = Groups::new(&KINDS);
        assign(
            &mut b,
            &batch(&[("p", "q", 1), (long, "y", 1), (long, "x", 1)]),
        );
        assert_eq!(a.absorb(b, &KINDS).unwrap(), [1, 2, 0]);
    }
}
