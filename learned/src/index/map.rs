//! The fixed-width-key map interface both learned indexes implement, so the byte-key adapter and
//! the benchmarks can use either without dynamic dispatch.

use super::DuplicateKey;
use super::key::IndexKey;
use std::ops::Bound;

/// An ordered map from fixed-width keys to `Copy` values with unique keys.
///
/// Like [`super::OrderedIndex`], but over [`IndexKey`]s and with a generic visitor, so a range
/// scan costs no dynamic call per key.
pub trait KeyMap<K: IndexKey, V: Copy> {
    /// The value stored under `key`.
    fn get(&self, key: K) -> Option<V>;
    /// Insert a new key; a present key is left unchanged and reported.
    fn insert(&mut self, key: K, value: V) -> Result<(), DuplicateKey>;
    /// Replace the value of a present key in place, returning the old one.
    fn update(&mut self, key: K, value: V) -> Option<V>;
    /// Remove a key, returning its value.
    fn remove(&mut self, key: K) -> Option<V>;
    /// Visit the keys within the bounds in ascending order until `visit` returns false.
    fn range<F: FnMut(K, V) -> bool>(&self, lo: Bound<K>, hi: Bound<K>, visit: F);
    /// Number of keys.
    fn len(&self) -> usize;
    /// Whether the map is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Heap and inline bytes used, keys and values included.
    fn size_in_bytes(&self) -> usize;
}

/// `(lo, hi)` as inclusive raw bounds, or `None` when the range is empty.
pub(crate) fn raw_bounds<K: IndexKey>(lo: Bound<K>, hi: Bound<K>) -> Option<(u64, u64)> {
    let lo = match lo {
        Bound::Unbounded => 0,
        Bound::Included(k) => k.to_u64(),
        Bound::Excluded(k) => k.to_u64().checked_add(1)?,
    };
    let hi = match hi {
        Bound::Unbounded => u64::MAX,
        Bound::Included(k) => k.to_u64(),
        Bound::Excluded(k) => k.to_u64().checked_sub(1)?,
    };
    (lo <= hi).then_some((lo, hi))
}
