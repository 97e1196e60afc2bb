//! The static learned index (PGM-style) over a sorted, immutable `u64` key array.
//!
//! The index holds only models, never the keys: a column segment keeps its key column and asks
//! [`PgmIndex::lower_bound`] with it. Level 0 fits the keys' positions with error at most `ε`;
//! each level above fits the first keys of the level below with error at most `ε_rec`, until one
//! segment remains. A lookup evaluates one model per level and searches at most `2ε + 1` keys at
//! the bottom and `2ε_rec + 1` first-keys per level above, with a branch-free binary search.

pub(crate) mod segment;

use crate::index::search::{Probe, lower_bound, lower_bound_cost, prefetch};
use segment::{ConeFitter, Segment, feed_lower_bound_points};

/// Default error bound at the key level: a window of 2·32+1 keys spans 65 · 8 bytes, about nine
/// cache lines, of which a binary search touches four or five.
pub const DEFAULT_EPSILON: usize = 32;
/// Default error bound for the levels above, which are small and stay in cache.
pub const DEFAULT_EPSILON_RECURSIVE: usize = 4;
/// Levels stop once one holds at most this many segments; its first keys (8 KiB, cache-resident)
/// are binary-searched, which is cheaper than two more model levels.
const ROOT_MAX_SEGMENTS: usize = 1024;

/// Why a static index could not be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The keys are not sorted ascending (index of the first key smaller than its predecessor).
    #[error("keys are not sorted: key {0} is smaller than the one before it")]
    NotSorted(usize),
    /// An error bound of zero was asked for.
    #[error("the error bound must be at least 1")]
    ZeroEpsilon,
}

/// Where a key can be, as the model predicts it: search `keys[lo..hi]` to finish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApproxPos {
    /// The predicted lower-bound position.
    pub pos: usize,
    /// First position of the window that holds the answer.
    pub lo: usize,
    /// End (exclusive) of the keys to search; the answer may also be `hi` itself.
    pub hi: usize,
}

/// Model of one segment: predicted position `y + slope · (x − x0)`, with `x0` kept in the level's
/// separate first-key array so the last-mile search over first keys stays dense.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Model {
    y: u64,
    slope: f64,
}

/// One level: the segments' first keys and their models, plus a sentinel model whose `y` is the
/// number of positions covered, used to clamp predictions of the last segment.
#[derive(Debug, Clone, PartialEq)]
struct Level {
    first_keys: Vec<u64>,
    models: Vec<Model>,
}

impl Level {
    fn fit(keys: &[u64], eps: usize) -> Self {
        let mut fitter = ConeFitter::new(eps);
        feed_lower_bound_points(keys, &mut fitter);
        let segments: Vec<Segment> = fitter.finish();
        let mut models: Vec<Model> = segments
            .iter()
            .map(|s| Model {
                y: s.y0,
                slope: s.slope,
            })
            .collect();
        models.push(Model {
            y: keys.len() as u64,
            slope: 0.0,
        });
        Self {
            first_keys: segments.iter().map(|s| s.x0).collect(),
            models,
        }
    }

    /// Predicted position of `x` in the array below, for segment `s` (whose first key is ≤ x).
    #[inline(always)]
    fn predict(&self, s: usize, x: u64) -> usize {
        let m = self.models[s];
        let next_y = self.models[s + 1].y as f64;
        let dx = x.wrapping_sub(self.first_keys[s]) as f64;
        // Clamping to the next segment's first position keeps a key that falls after this
        // segment's last point within the window (README, "error bounds"); `as` saturates.
        (m.y as f64 + m.slope * dx).min(next_y) as usize
    }

    fn bytes(&self) -> usize {
        self.first_keys.capacity() * size_of::<u64>() + self.models.capacity() * size_of::<Model>()
    }
}

/// A static, error-bounded learned index over a sorted `u64` array it does not own.
#[derive(Debug, Clone, PartialEq)]
pub struct PgmIndex {
    len: usize,
    first_key: u64,
    eps: usize,
    eps_rec: usize,
    /// `levels[0]` predicts key positions; the last level has exactly one segment.
    levels: Vec<Level>,
}

impl PgmIndex {
    /// Build with the default error bounds. `keys` must be sorted; duplicates are allowed.
    pub fn build(keys: &[u64]) -> Result<Self, BuildError> {
        Self::with_epsilon(keys, DEFAULT_EPSILON, DEFAULT_EPSILON_RECURSIVE)
    }

    /// Build with error bound `eps` at the key level and `eps_rec` above it, in O(n).
    pub fn with_epsilon(keys: &[u64], eps: usize, eps_rec: usize) -> Result<Self, BuildError> {
        if eps == 0 || eps_rec == 0 {
            return Err(BuildError::ZeroEpsilon);
        }
        if let Some(i) = keys.windows(2).position(|w| w[0] > w[1]) {
            return Err(BuildError::NotSorted(i + 1));
        }
        Ok(Self::build_sorted(keys, eps, eps_rec))
    }

    /// Build over keys already known to be sorted, with non-zero error bounds.
    pub(crate) fn build_sorted(keys: &[u64], eps: usize, eps_rec: usize) -> Self {
        debug_assert!(eps > 0 && eps_rec > 0);
        debug_assert!(keys.is_sorted());
        let mut levels = Vec::new();
        if !keys.is_empty() {
            levels.push(Level::fit(keys, eps));
            while let Some(below) = levels.last().map(|l| &l.first_keys[..]) {
                if below.len() <= ROOT_MAX_SEGMENTS {
                    break;
                }
                let next = Level::fit(below, eps_rec);
                // Every segment but the last covers two points or more, so levels shrink; the
                // guard only keeps a pathological float case from looping (the root search
                // below handles a top level of several segments).
                if next.first_keys.len() >= below.len() {
                    break;
                }
                levels.push(next);
            }
        }
        Self {
            len: keys.len(),
            first_key: keys.first().copied().unwrap_or(0),
            eps,
            eps_rec,
            levels,
        }
    }

    /// Number of keys indexed.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the indexed array is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of segments at the key level (a measure of how non-linear the data is).
    pub fn segments(&self) -> usize {
        self.levels.first().map_or(0, |l| l.first_keys.len())
    }

    /// Number of model levels evaluated per lookup.
    pub fn height(&self) -> usize {
        self.levels.len()
    }

    /// Heap bytes of the index structure (the keys themselves are not counted: the caller owns
    /// them).
    pub fn size_in_bytes(&self) -> usize {
        size_of::<Self>() + self.levels.iter().map(Level::bytes).sum::<usize>()
    }

    /// Most key comparisons any lookup can make: `⌈log2(2ε+1)⌉ + 1` at the key level plus
    /// `⌈log2(2ε_rec+1)⌉ + 1` per level above (plus a search of the root level, which holds one
    /// segment in practice), whatever the key distribution.
    pub fn worst_case_comparisons(&self) -> u32 {
        let above = self.levels.len().saturating_sub(1) as u32;
        lower_bound_cost(2 * self.eps + 1)
            + above * lower_bound_cost(2 * self.eps_rec + 1)
            + lower_bound_cost(self.root_len())
    }

    fn root_len(&self) -> usize {
        self.levels.last().map_or(0, |l| l.first_keys.len())
    }

    /// The window that must hold `lower_bound(key)`: the approximate position for callers that
    /// search the key column themselves (e.g. over an encoded column).
    pub fn search(&self, key: u64) -> ApproxPos {
        self.search_probed(key, &mut ())
    }

    /// First position `i` with `keys[i] >= key` (`keys.len()` if none). `keys` must be the array
    /// the index was built from.
    #[inline]
    pub fn lower_bound(&self, keys: &[u64], key: u64) -> usize {
        self.lower_bound_probed(keys, key, &mut ())
    }

    /// [`Self::lower_bound`], reporting its key comparisons to `probe`.
    #[inline]
    pub fn lower_bound_probed<P: Probe>(&self, keys: &[u64], key: u64, probe: &mut P) -> usize {
        debug_assert_eq!(keys.len(), self.len);
        let w = self.search_probed(key, probe);
        let window = &keys[w.lo..w.hi];
        // The key window is the one place a lookup misses cache on a large array: load all its
        // lines at once rather than one per search step.
        prefetch(window);
        w.lo + lower_bound(window, key, probe)
    }

    /// Whether `key` is in `keys`, and where its first copy is.
    #[inline]
    pub fn find(&self, keys: &[u64], key: u64) -> Option<usize> {
        let i = self.lower_bound(keys, key);
        (keys.get(i) == Some(&key)).then_some(i)
    }

    #[inline]
    fn search_probed<P: Probe>(&self, key: u64, probe: &mut P) -> ApproxPos {
        if self.len == 0 || key <= self.first_key {
            return ApproxPos {
                pos: 0,
                lo: 0,
                hi: 0,
            };
        }
        let top = self.levels.len() - 1;
        let roots = &self.levels[top].first_keys;
        let mut seg = if roots.len() > 1 {
            let lb = lower_bound(roots, key, probe);
            if roots.get(lb) == Some(&key) {
                lb
            } else {
                lb - 1
            }
        } else {
            0
        };
        for level in (1..=top).rev() {
            let below = &self.levels[level - 1].first_keys;
            let pos = self.levels[level].predict(seg, key);
            let (lo, hi) = window(pos, self.eps_rec, below.len());
            let lb = lo + lower_bound(&below[lo..hi], key, probe);
            // The segment below that covers `key` is the last one whose first key is <= key.
            seg = if below.get(lb) == Some(&key) {
                lb
            } else {
                lb - 1
            };
        }
        let pos = self.levels[0].predict(seg, key);
        let (lo, hi) = window(pos, self.eps, self.len);
        ApproxPos { pos, lo, hi }
    }
}

/// Keys to search around a prediction: `[pos − ε, pos + ε + 1)` clipped to the array, so the
/// answer is in `lo..=hi`.
#[inline(always)]
fn window(pos: usize, eps: usize, len: usize) -> (usize, usize) {
    let lo = pos.saturating_sub(eps).min(len);
    let hi = (pos + eps + 1).min(len);
    (lo, hi)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap (HELPERS.md)
mod tests;
