//! Ordered indexes from keys to row slots: the trait the row store uses, the classical B-tree
//! baseline, and the learned implementations that must beat it.
//!
//! - [`pgm::PgmIndex`]: static, error-bounded index over a sorted `u64` column (column segments).
//! - [`updatable::LearnedMap`]: updatable gapped-array index (row store).
//! - [`static_map::StaticMap`]: the static index plus a write delta, as a map.
//! - [`bytes::PrefixIndex`]: byte keys over either map (prefix + full-key tie-break).
//!
//! [`IndexKind`] picks one by configuration behind [`OrderedIndex`].

mod btree;
pub mod bytes;
pub mod key;
pub mod map;
pub mod pgm;
pub mod search;
pub mod static_map;
pub mod updatable;

pub use btree::BTreeIndex;
pub use bytes::PrefixIndex;
pub use key::IndexKey;
pub use map::KeyMap;
pub use pgm::PgmIndex;
pub use static_map::StaticMap;
pub use updatable::LearnedMap;

/// Byte-key updatable learned index (the row store's learned choice).
pub type LearnedIndex<V> = PrefixIndex<LearnedMap<u64, u32>, V>;
/// Byte-key static learned index with a write delta.
pub type StaticLearnedIndex<V> = PrefixIndex<StaticMap<u64, u32>, V>;

/// Which ordered index to build: the configuration switch between classical and learned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IndexKind {
    /// `BTreeMap` baseline.
    BTree,
    /// Updatable learned index ([`LearnedIndex`]).
    #[default]
    Learned,
    /// Static learned index with a write delta ([`StaticLearnedIndex`]).
    StaticLearned,
}

impl IndexKind {
    /// Every kind, for tests that must pass with each.
    pub const ALL: [IndexKind; 3] = [Self::BTree, Self::Learned, Self::StaticLearned];

    /// A new, empty index of this kind.
    pub fn build<V: Copy + 'static>(self) -> Box<dyn OrderedIndex<V>> {
        match self {
            Self::BTree => Box::new(BTreeIndex::<V>::default()),
            Self::Learned => Box::new(LearnedIndex::<V>::new()),
            Self::StaticLearned => Box::new(StaticLearnedIndex::<V>::new()),
        }
    }
}

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
    /// Whether there are no keys.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
