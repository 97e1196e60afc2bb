//! Routes a key to its data node: the nodes' first keys (pivots) indexed by a static learned
//! index, rebuilt when a node splits.
//!
//! ALEX routes through model-based inner nodes, whose depth adversarial keys can drive up; a PGM
//! over the pivots has a proven per-lookup bound instead, and splits are rare enough (one per
//! thousands of inserts) that an O(nodes) rebuild costs a few nanoseconds per insert.

use crate::index::pgm::PgmIndex;
use crate::index::search::Probe;

/// Error bound of the pivot index: the pivot array is small and hot, so a wider window than the
/// key level's costs little and keeps the pivot index to a handful of segments.
const ROUTER_EPSILON: usize = 16;
/// Error bound of the pivot index's upper levels.
const ROUTER_EPSILON_RECURSIVE: usize = 4;

/// Sorted pivots (`pivots[0] == 0`) and their learned index.
#[derive(Debug, Clone)]
pub(crate) struct Router {
    pivots: Vec<u64>,
    index: PgmIndex,
}

impl Router {
    /// A router over sorted, distinct pivots starting at 0.
    pub fn new(pivots: Vec<u64>) -> Self {
        debug_assert_eq!(pivots.first(), Some(&0));
        let index = Self::index(&pivots);
        Self { pivots, index }
    }

    fn index(pivots: &[u64]) -> PgmIndex {
        // Pivots are sorted and distinct by construction.
        PgmIndex::build_sorted(pivots, ROUTER_EPSILON, ROUTER_EPSILON_RECURSIVE)
    }

    /// Index of the node whose range holds `x`: the last pivot `<= x`.
    #[inline]
    pub fn find<P: Probe>(&self, x: u64, probe: &mut P) -> usize {
        let lb = self.index.lower_bound_probed(&self.pivots, x, probe);
        if self.pivots.get(lb) == Some(&x) {
            lb
        } else {
            lb - 1
        }
    }

    /// Add the pivot of a node inserted at `at`.
    pub fn insert(&mut self, at: usize, pivot: u64) {
        debug_assert!(self.pivots[at - 1] < pivot);
        debug_assert!(self.pivots.get(at).is_none_or(|&p| pivot < p));
        self.pivots.insert(at, pivot);
        self.index = Self::index(&self.pivots);
    }

    /// Most comparisons [`Router::find`] can make.
    pub fn worst_case_comparisons(&self) -> u32 {
        self.index.worst_case_comparisons()
    }

    /// Heap and inline bytes.
    pub fn size_in_bytes(&self) -> usize {
        size_of::<Self>() + self.pivots.capacity() * size_of::<u64>() + self.index.size_in_bytes()
    }
}
