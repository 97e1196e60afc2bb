//! The static learned index as a map: an immutable sorted base searched through a [`PgmIndex`],
//! plus a small ordered delta for writes, merged into a rebuilt base once it grows.
//!
//! This is what makes the static index interchangeable with the others behind [`KeyMap`] and
//! [`super::OrderedIndex`]; a column segment that never changes uses [`PgmIndex`] directly.
//! Deleted base keys are tombstoned in a bitmap until the next merge.

use super::DuplicateKey;
use super::key::IndexKey;
use super::map::{KeyMap, raw_bounds};
use super::pgm::PgmIndex;
use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::ops::Bound;

/// The delta is merged once it holds more than 1/`DELTA_FRACTION` of the base …
const DELTA_FRACTION: usize = 16;
/// … or more than this many keys when the base is small.
const DELTA_MIN_MERGE: usize = 1024;

/// Immutable learned base plus write delta.
#[derive(Debug, Clone)]
pub struct StaticMap<K, V> {
    keys: Vec<u64>,
    vals: Vec<V>,
    /// Bit set = base key deleted.
    dead: Vec<u64>,
    dead_count: usize,
    index: PgmIndex,
    delta: BTreeMap<u64, V>,
    _key: PhantomData<K>,
}

impl<K: IndexKey, V: Copy> Default for StaticMap<K, V> {
    fn default() -> Self {
        Self::from_sorted_raw(Vec::new(), Vec::new())
    }
}

impl<K: IndexKey, V: Copy> StaticMap<K, V> {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Build from strictly ascending keys and their values; `None` if they are not.
    pub fn from_sorted(keys: &[K], values: &[V]) -> Option<Self> {
        let ok = keys.len() == values.len() && keys.windows(2).all(|w| w[0] < w[1]);
        ok.then(|| {
            Self::from_sorted_raw(keys.iter().map(|k| k.to_u64()).collect(), values.to_vec())
        })
    }

    fn from_sorted_raw(keys: Vec<u64>, vals: Vec<V>) -> Self {
        let index = PgmIndex::build_sorted(
            &keys,
            super::pgm::DEFAULT_EPSILON,
            super::pgm::DEFAULT_EPSILON_RECURSIVE,
        );
        Self {
            dead: vec![0; keys.len().div_ceil(64)],
            dead_count: 0,
            keys,
            vals,
            index,
            delta: BTreeMap::new(),
            _key: PhantomData,
        }
    }

    /// The learned index over the base keys.
    pub fn index(&self) -> &PgmIndex {
        &self.index
    }

    /// Position of a live base key.
    #[inline]
    fn base_find(&self, x: u64) -> Option<usize> {
        let i = self.index.find(&self.keys, x)?;
        (self.dead[i / 64] & (1 << (i % 64)) == 0).then_some(i)
    }

    /// Fold the delta and the tombstones into a new base.
    fn merge(&mut self) {
        let total = self.keys.len() - self.dead_count + self.delta.len();
        let mut keys = Vec::with_capacity(total);
        let mut vals = Vec::with_capacity(total);
        self.range_raw(0, u64::MAX, |k, v| {
            keys.push(k);
            vals.push(v);
            true
        });
        *self = Self::from_sorted_raw(keys, vals);
    }

    fn needs_merge(&self) -> bool {
        let limit = (self.keys.len() / DELTA_FRACTION).max(DELTA_MIN_MERGE);
        self.delta.len() > limit || self.dead_count > limit
    }

    /// Merge the live base keys and the delta in order over `[lo, hi]`.
    fn range_raw<F: FnMut(u64, V) -> bool>(&self, lo: u64, hi: u64, mut visit: F) {
        let mut i = self.index.lower_bound(&self.keys, lo);
        let mut delta = self.delta.range(lo..=hi).peekable();
        loop {
            let base = self.keys.get(i).copied().filter(|&k| k <= hi);
            let take_base = match (base, delta.peek()) {
                (None, None) => return,
                (Some(b), Some(&(&d, _))) => b < d,
                (Some(_), None) => true,
                (None, Some(_)) => false,
            };
            if take_base {
                let dead = self.dead[i / 64] & (1 << (i % 64)) != 0;
                if !dead && !visit(self.keys[i], self.vals[i]) {
                    return;
                }
                i += 1;
            } else if let Some((&k, &v)) = delta.next()
                && !visit(k, v)
            {
                return;
            }
        }
    }
}

impl<K: IndexKey, V: Copy> KeyMap<K, V> for StaticMap<K, V> {
    #[inline]
    fn get(&self, key: K) -> Option<V> {
        let x = key.to_u64();
        if !self.delta.is_empty()
            && let Some(&v) = self.delta.get(&x)
        {
            return Some(v);
        }
        self.base_find(x).map(|i| self.vals[i])
    }

    fn insert(&mut self, key: K, value: V) -> Result<(), DuplicateKey> {
        let x = key.to_u64();
        if self.base_find(x).is_some() || self.delta.contains_key(&x) {
            return Err(DuplicateKey);
        }
        self.delta.insert(x, value);
        if self.needs_merge() {
            self.merge();
        }
        Ok(())
    }

    fn update(&mut self, key: K, value: V) -> Option<V> {
        let x = key.to_u64();
        if let Some(v) = self.delta.get_mut(&x) {
            return Some(std::mem::replace(v, value));
        }
        let i = self.base_find(x)?;
        Some(std::mem::replace(&mut self.vals[i], value))
    }

    fn remove(&mut self, key: K) -> Option<V> {
        let x = key.to_u64();
        if let Some(v) = self.delta.remove(&x) {
            return Some(v);
        }
        let i = self.base_find(x)?;
        self.dead[i / 64] |= 1 << (i % 64);
        self.dead_count += 1;
        let old = self.vals[i];
        if self.needs_merge() {
            self.merge();
        }
        Some(old)
    }

    fn range<F: FnMut(K, V) -> bool>(&self, lo: Bound<K>, hi: Bound<K>, mut visit: F) {
        if let Some((lo, hi)) = raw_bounds(lo, hi) {
            self.range_raw(lo, hi, |k, v| visit(K::from_u64(k), v));
        }
    }

    fn len(&self) -> usize {
        self.keys.len() - self.dead_count + self.delta.len()
    }

    fn size_in_bytes(&self) -> usize {
        // A B-tree leaf entry costs about its key and value plus a share of node overhead; the
        // delta is small, so an estimate of 1.5x its payload is enough here.
        const BTREE_OVERHEAD_NUM: usize = 3;
        const BTREE_OVERHEAD_DEN: usize = 2;
        size_of::<Self>()
            + self.keys.capacity() * size_of::<u64>()
            + self.vals.capacity() * size_of::<V>()
            + self.dead.capacity() * size_of::<u64>()
            + self.index.size_in_bytes()
            + self.delta.len() * (size_of::<u64>() + size_of::<V>()) * BTREE_OVERHEAD_NUM
                / BTREE_OVERHEAD_DEN
    }
}
