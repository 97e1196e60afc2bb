//! The updatable learned index (ALEX-style) for the in-memory row store.
//!
//! Keys live in data nodes — gapped arrays with a per-node linear model, keys placed where the
//! model predicts them — routed to by a static learned index over the nodes' first keys. Inserts
//! go to the predicted slot when order allows, else shift to the nearest gap; a node past
//! [`node::MAX_DENSITY`] is retrained and expanded, or split in two when it reaches
//! [`node::MAX_NODE_SLOTS`] or when its retrained model still misses by too much.
//!
//! Worst case, for any keys in any order: a lookup makes at most the router's bound plus
//! `2·⌈log2 MAX_NODE_SLOTS⌉ + 3` key comparisons ([`LearnedMap::worst_case_comparisons`]),
//! because a node whose model stops paying is searched exponentially from a wrong guess, which
//! costs a logarithm of its size, never a scan.

mod node;
mod router;

use super::DuplicateKey;
use super::key::IndexKey;
use super::map::{KeyMap, raw_bounds};
use super::pgm::segment::ConeFitter;
use super::search::Probe;
use node::{DataNode, INIT_DENSITY, InsertOutcome, MAX_NODE_SLOTS};
use router::Router;
use std::marker::PhantomData;
use std::ops::Bound;

/// Bulk load cuts nodes where a line stops fitting the keys within this many positions.
const BULK_NODE_EPSILON: usize = 64;
/// Bulk-loaded nodes are no larger than this, leaving room to expand before a split.
const BULK_NODE_KEYS: usize = 4096;
/// Bulk load merges fitted pieces until a node has at least this many keys (tiny nodes cost
/// router entries and buy nothing: their search is short anyway).
const BULK_MIN_NODE_KEYS: usize = 256;
/// A node whose retrained model still misses by this much (mean `log2` of the miss, i.e. about
/// 16 slots) is split instead of grown: the line no longer fits and halves fit better.
const SPLIT_MISS_COST: f32 = 4.0;
/// Nodes below this many keys are never split for a bad fit: their search is short anyway.
const MIN_SPLIT_KEYS: usize = 512;

/// Why a bulk load was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BulkLoadError {
    /// Keys and values differ in number.
    #[error("{keys} keys but {values} values")]
    LengthMismatch {
        /// Number of keys given.
        keys: usize,
        /// Number of values given.
        values: usize,
    },
    /// Keys are not strictly ascending (index of the first offender).
    #[error("keys are not strictly ascending at index {0}")]
    NotStrictlyAscending(usize),
}

/// An updatable learned index from [`IndexKey`]s to `Copy` values, unique keys.
#[derive(Debug, Clone)]
pub struct LearnedMap<K, V> {
    router: Router,
    nodes: Vec<DataNode<V>>,
    len: usize,
    _key: PhantomData<K>,
}

impl<K: IndexKey, V: Copy> Default for LearnedMap<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: IndexKey, V: Copy> LearnedMap<K, V> {
    /// An empty map.
    pub fn new() -> Self {
        Self {
            router: Router::new(vec![0]),
            nodes: vec![DataNode::empty()],
            len: 0,
            _key: PhantomData,
        }
    }

    /// Build from strictly ascending keys and their values in O(n).
    pub fn bulk_load(keys: &[K], values: &[V]) -> Result<Self, BulkLoadError> {
        if keys.len() != values.len() {
            return Err(BulkLoadError::LengthMismatch {
                keys: keys.len(),
                values: values.len(),
            });
        }
        if let Some(i) = keys.windows(2).position(|w| w[0] >= w[1]) {
            return Err(BulkLoadError::NotStrictlyAscending(i + 1));
        }
        let raw: Vec<u64> = keys.iter().map(|k| k.to_u64()).collect();
        if raw.is_empty() {
            return Ok(Self::new());
        }
        let cuts = node_cuts(&raw);
        let mut pivots = Vec::with_capacity(cuts.len());
        let mut nodes = Vec::with_capacity(cuts.len());
        let mut start = 0;
        for &end in &cuts {
            pivots.push(if start == 0 { 0 } else { raw[start] });
            nodes.push(DataNode::build(&raw[start..end], &values[start..end]));
            start = end;
        }
        Ok(Self {
            router: Router::new(pivots),
            nodes,
            len: raw.len(),
            _key: PhantomData,
        })
    }

    /// [`KeyMap::get`], reporting its key comparisons to `probe`.
    #[inline]
    pub fn get_probed<P: Probe>(&self, key: K, probe: &mut P) -> Option<V> {
        let x = key.to_u64();
        let node = self.router.find(x, probe);
        self.nodes[node].get(x, probe)
    }

    /// Most key comparisons any lookup can make in the map as it is now: the router's bound plus
    /// a full exponential search of the largest possible node.
    pub fn worst_case_comparisons(&self) -> u32 {
        const NODE_SEARCH_EXTRA: u32 = 3;
        let log_slots = MAX_NODE_SLOTS.trailing_zeros();
        self.router.worst_case_comparisons() + 2 * log_slots + NODE_SEARCH_EXTRA
    }

    /// Number of data nodes.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Retrain and expand node `i`, or split it when it is at its largest or its fit is poor.
    fn grow(&mut self, i: usize) {
        let wanted_slots = ((self.nodes[i].len() + 1) as f64 / INIT_DENSITY).ceil() as usize;
        if wanted_slots > MAX_NODE_SLOTS {
            self.split(i);
            return;
        }
        let grown = self.nodes[i].rebuilt();
        let poor_fit = grown.miss_cost() > SPLIT_MISS_COST && grown.len() >= MIN_SPLIT_KEYS;
        if poor_fit {
            self.split(i);
        } else {
            self.nodes[i] = grown;
        }
    }

    /// Split node `i` at its median key into two nodes built at the initial density.
    fn split(&mut self, i: usize) {
        let (keys, vals) = self.nodes[i].pairs();
        let mid = keys.len() / 2;
        debug_assert!(mid > 0);
        self.nodes[i] = DataNode::build(&keys[..mid], &vals[..mid]);
        self.nodes
            .insert(i + 1, DataNode::build(&keys[mid..], &vals[mid..]));
        self.router.insert(i + 1, keys[mid]);
    }
}

impl<K: IndexKey, V: Copy> KeyMap<K, V> for LearnedMap<K, V> {
    #[inline]
    fn get(&self, key: K) -> Option<V> {
        self.get_probed(key, &mut ())
    }

    fn insert(&mut self, key: K, value: V) -> Result<(), DuplicateKey> {
        let x = key.to_u64();
        loop {
            let i = self.router.find(x, &mut ());
            match self.nodes[i].insert(x, value) {
                InsertOutcome::Inserted => {
                    self.len += 1;
                    return Ok(());
                }
                InsertOutcome::Duplicate => return Err(DuplicateKey),
                InsertOutcome::Full => self.grow(i),
            }
        }
    }

    fn update(&mut self, key: K, value: V) -> Option<V> {
        let x = key.to_u64();
        let i = self.router.find(x, &mut ());
        self.nodes[i].update(x, value)
    }

    fn remove(&mut self, key: K) -> Option<V> {
        let x = key.to_u64();
        let i = self.router.find(x, &mut ());
        let old = self.nodes[i].remove(x)?;
        self.len -= 1;
        if self.nodes[i].needs_contraction() {
            self.nodes[i] = self.nodes[i].rebuilt();
        }
        Some(old)
    }

    fn range<F: FnMut(K, V) -> bool>(&self, lo: Bound<K>, hi: Bound<K>, mut visit: F) {
        let Some((lo, hi)) = raw_bounds(lo, hi) else {
            return;
        };
        let first = self.router.find(lo, &mut ());
        let mut emit = |k: u64, v: V| visit(K::from_u64(k), v);
        for node in &self.nodes[first..] {
            if !node.scan(lo, hi, &mut emit) {
                return;
            }
        }
    }

    fn len(&self) -> usize {
        self.len
    }

    fn size_in_bytes(&self) -> usize {
        size_of::<Self>()
            + self.router.size_in_bytes()
            + self.nodes.capacity().saturating_sub(self.nodes.len()) * size_of::<DataNode<V>>()
            + self
                .nodes
                .iter()
                .map(DataNode::size_in_bytes)
                .sum::<usize>()
    }
}

/// End offsets of the bulk-loaded nodes: fitted pieces of at most `BULK_NODE_EPSILON` error,
/// merged up to `BULK_MIN_NODE_KEYS` and cut at `BULK_NODE_KEYS`.
fn node_cuts(keys: &[u64]) -> Vec<usize> {
    let mut fitter = ConeFitter::new(BULK_NODE_EPSILON);
    for (i, &k) in keys.iter().enumerate() {
        fitter.push(k, i as u64);
    }
    let mut cuts = Vec::new();
    let mut node_start = 0usize;
    let segments = fitter.finish();
    let piece_ends = segments
        .iter()
        .skip(1)
        .map(|s| s.y0 as usize)
        .chain(std::iter::once(keys.len()));
    for end in piece_ends {
        while end - node_start > BULK_NODE_KEYS {
            node_start += BULK_NODE_KEYS;
            cuts.push(node_start);
        }
        if end - node_start >= BULK_MIN_NODE_KEYS || end == keys.len() {
            cuts.push(end);
            node_start = end;
        }
    }
    cuts
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap (HELPERS.md)
mod tests;
