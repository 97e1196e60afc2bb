//! Ordered indexes from keys to row slots: the trait the row store uses, the classical B-tree
//! baseline, and (in submodules) the learned implementations that must beat it.

mod btree;

pub use btree::BTreeIndex;

use std::ops::Bound;

/// A key was inserted twice into a unique index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DuplicateKey;

/// An ordered map from byte keys to values, unique keys.
///
/// Keys are order-preserving ("memcomparable") encodings: comparing the bytes compares the SQL
/// keys. Implementations are single-threaded (one per shard) and never allocate per lookup.
pub trait OrderedIndex<V: Copy> {
    /// The value stored under `key`.
    fn get(&self, key: &[u8]) -> Option<V>;
    /// Insert a new key; a present key is left unchanged and reported.
    fn insert(&mut self, key: &[u8], value: V) -> Result<(), DuplicateKey>;
    /// Replace the value of a present key, returning the old one (`None`: key absent, no change).
    fn update(&mut self, key: &[u8], value: V) -> Option<V>;
    /// Remove a key, returning its value.
    fn remove(&mut self, key: &[u8]) -> Option<V>;
    /// Visit keys in `[lo, hi]` bounds in ascending order until `visit` returns false.
    fn range(&self, lo: Bound<&[u8]>, hi: Bound<&[u8]>, visit: &mut dyn FnMut(&[u8], V) -> bool);
    /// Number of keys.
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
