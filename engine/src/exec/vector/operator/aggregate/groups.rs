//! Finding each row's group: packed integer keys where the group columns fit in 128 bits (or
//! 64, for a smaller table), byte keys (`keys::encode`) otherwise. Group ids are dense, in the
//! order groups were first seen, and never change: switching from packed to byte keys (a text
//! value too long for its slot) keeps every id.
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

    /// The ids here of `other`'s groups, by their ids.
    fn absorb(&mut self, other: &Packed<K>) -> Vec<u32> {
        other.keys.iter().map(|&k| self.group_of(k)).collect()
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
        if !packed {
            self.switch_to_bytes(kinds)?;
            gids.clear();
            if let Groups::Bytes(b) = self {
                b.assign(cols, len, rows, gids);
            }
        }
        Ok(())
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
        let same_form = matches!(
            (&*self, &other),
            (Groups::Single(_), Groups::Single(_))
                | (Groups::Narrow(_), Groups::Narrow(_))
                | (Groups::Wide(_), Groups::Wide(_))
                | (Groups::Bytes(_), Groups::Bytes(_))
        );
        if !same_form {
            self.switch_to_bytes(kinds)?;
            other.switch_to_bytes(kinds)?;
        }
        Ok(match (self, other) {
            (Groups::Single(exists), Groups::Single(theirs)) => {
                *exists |= theirs;
                if theirs { vec![0] } else { Vec::new() }
            }
            (Groups::Narrow(a), Groups::Narrow(b)) => a.absorb(&b),
            (Groups::Wide(a), Groups::Wide(b)) => a.absorb(&b),
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
