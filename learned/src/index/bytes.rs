//! Byte-string keys over a fixed-width learned map: the key's order-preserving 8-byte prefix finds
//! a bucket, and the bucket breaks ties on the full key.
//!
//! Composite SQL keys arrive memcomparable-encoded from the storage layer, so comparing bytes
//! compares keys. Keys with distinct prefixes (most integer-led keys) cost one learned lookup and
//! one comparison; keys sharing a prefix cost a binary search over the bucket in addition, which
//! bounds the tie-break at `⌈log2 b⌉ + 1` comparisons for a bucket of `b` keys.

use super::key::prefix_u64;
use super::map::KeyMap;
use super::{DuplicateKey, OrderedIndex};
use std::ops::Bound;

type Bucket<V> = Vec<(Box<[u8]>, V)>;

/// [`OrderedIndex`] over byte keys on top of any [`KeyMap`] from prefixes to bucket ids.
#[derive(Debug, Clone)]
pub struct PrefixIndex<M, V> {
    map: M,
    buckets: Vec<Bucket<V>>,
    free: Vec<u32>,
    len: usize,
}

impl<M: KeyMap<u64, u32> + Default, V: Copy> Default for PrefixIndex<M, V> {
    fn default() -> Self {
        Self {
            map: M::default(),
            buckets: Vec::new(),
            free: Vec::new(),
            len: 0,
        }
    }
}

impl<M: KeyMap<u64, u32> + Default, V: Copy> PrefixIndex<M, V> {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// The prefix map underneath.
    pub fn prefix_map(&self) -> &M {
        &self.map
    }

    fn bucket(&self, key: &[u8]) -> Option<&Bucket<V>> {
        let id = self.map.get(prefix_u64(key))?;
        self.buckets.get(id as usize)
    }

    fn new_bucket(&mut self, key: &[u8], value: V) -> u32 {
        let bucket = vec![(Box::from(key), value)];
        if let Some(id) = self.free.pop() {
            self.buckets[id as usize] = bucket;
            id
        } else {
            self.buckets.push(bucket);
            // More than u32::MAX distinct prefixes would not fit a shard's memory.
            (self.buckets.len() - 1) as u32
        }
    }
}

impl<M: KeyMap<u64, u32> + Default, V: Copy> OrderedIndex<V> for PrefixIndex<M, V> {
    fn get(&self, key: &[u8]) -> Option<V> {
        let bucket = self.bucket(key)?;
        if let [(k, v)] = bucket.as_slice() {
            return (**k == *key).then_some(*v);
        }
        let i = bucket.binary_search_by(|(k, _)| (**k).cmp(key)).ok()?;
        Some(bucket[i].1)
    }

    fn insert(&mut self, key: &[u8], value: V) -> Result<(), DuplicateKey> {
        let prefix = prefix_u64(key);
        match self.map.get(prefix) {
            Some(id) => {
                let bucket = &mut self.buckets[id as usize];
                match bucket.binary_search_by(|(k, _)| (**k).cmp(key)) {
                    Ok(_) => return Err(DuplicateKey),
                    Err(at) => bucket.insert(at, (Box::from(key), value)),
                }
            }
            None => {
                let id = self.new_bucket(key, value);
                self.map.insert(prefix, id)?;
            }
        }
        self.len += 1;
        Ok(())
    }

    fn update(&mut self, key: &[u8], value: V) -> Option<V> {
        let id = self.map.get(prefix_u64(key))?;
        let bucket = &mut self.buckets[id as usize];
        let i = bucket.binary_search_by(|(k, _)| (**k).cmp(key)).ok()?;
        Some(std::mem::replace(&mut bucket[i].1, value))
    }

    fn remove(&mut self, key: &[u8]) -> Option<V> {
        let prefix = prefix_u64(key);
        let id = self.map.get(prefix)?;
        let bucket = &mut self.buckets[id as usize];
        let i = bucket.binary_search_by(|(k, _)| (**k).cmp(key)).ok()?;
        let (_, old) = bucket.remove(i);
        if bucket.is_empty() {
            self.map.remove(prefix);
            self.free.push(id);
        }
        self.len -= 1;
        Some(old)
    }

    fn range(&self, lo: Bound<&[u8]>, hi: Bound<&[u8]>, visit: &mut dyn FnMut(&[u8], V) -> bool) {
        let lo_prefix = match lo {
            Bound::Included(k) | Bound::Excluded(k) => Bound::Included(prefix_u64(k)),
            Bound::Unbounded => Bound::Unbounded,
        };
        let hi_prefix = match hi {
            Bound::Included(k) | Bound::Excluded(k) => Bound::Included(prefix_u64(k)),
            Bound::Unbounded => Bound::Unbounded,
        };
        let above_lo = |k: &[u8]| match lo {
            Bound::Included(l) => k >= l,
            Bound::Excluded(l) => k > l,
            Bound::Unbounded => true,
        };
        let below_hi = |k: &[u8]| match hi {
            Bound::Included(h) => k <= h,
            Bound::Excluded(h) => k < h,
            Bound::Unbounded => true,
        };
        self.map.range(lo_prefix, hi_prefix, |_, id| {
            for (k, v) in &self.buckets[id as usize] {
                if !above_lo(k) {
                    continue;
                }
                if !below_hi(k) || !visit(k, *v) {
                    return false;
                }
            }
            true
        });
    }

    fn len(&self) -> usize {
        self.len
    }
}
