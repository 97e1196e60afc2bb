//! A data node of the updatable index: a gapped array of keys and values with its own linear
//! model, searched exponentially from the model's prediction.
//!
//! Gaps are not empty: every gap holds a copy of the key and value of the nearest occupied slot to
//! its left (or, before the first key, to its right). The key array therefore stays sorted, a
//! lookup never reads the occupancy bitmap, and each distinct key's run of equal slots holds
//! exactly one occupied slot. Every mutation below restores that invariant before it returns.

use crate::index::search::{Probe, lower_bound_from, prefetch};

/// Density a node is (re)built at: room for 3 inserts per 7 keys before the next rebuild.
pub(crate) const INIT_DENSITY: f64 = 0.7;
/// Density that triggers expansion (or a split): past it, shifts to the nearest gap grow long.
pub(crate) const MAX_DENSITY: f64 = 0.8;
/// Density under which a node shrinks after deletes, so memory follows the live keys.
pub(crate) const MIN_DENSITY: f64 = 0.25;
/// Smallest capacity worth a model.
pub(crate) const MIN_SLOTS: usize = 16;
/// Largest capacity: bounds a node search at `2·14 + 3` comparisons and a shift at 16K moves.
pub(crate) const MAX_NODE_SLOTS: usize = 1 << 14;

/// What an insert into a node did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InsertOutcome {
    /// The key is now in the node.
    Inserted,
    /// The key was already there; nothing changed.
    Duplicate,
    /// The node is at its maximum density; nothing changed — grow or split it first.
    Full,
}

/// Linear model `slot = intercept + slope · (x − base)`, with `base` the smallest key at training
/// time so the subtraction keeps full precision.
#[derive(Debug, Clone, Copy, PartialEq)]
struct NodeModel {
    base: u64,
    slope: f64,
    intercept: f64,
}

impl NodeModel {
    /// Least-squares fit of rank against key, scaled from `keys.len()` ranks to `slots` slots.
    fn train(keys: &[u64], slots: usize) -> Self {
        let base = keys.first().copied().unwrap_or(0);
        let m = keys.len() as f64;
        let scale = slots as f64 / m.max(1.0);
        let mean_x = keys.iter().map(|&k| (k - base) as f64).sum::<f64>() / m;
        let mean_y = (m - 1.0) / 2.0;
        let (mut sxy, mut sxx) = (0.0, 0.0);
        for (i, &k) in keys.iter().enumerate() {
            let dx = (k - base) as f64 - mean_x;
            sxy += dx * (i as f64 - mean_y);
            sxx += dx * dx;
        }
        let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
        Self {
            base,
            slope: slope * scale,
            intercept: (mean_y - slope * mean_x) * scale,
        }
    }

    #[inline(always)]
    fn predict(&self, x: u64, slots: usize) -> usize {
        let p = self.intercept + self.slope * x.saturating_sub(self.base) as f64;
        // `as` saturates negatives and NaN to 0.
        (p as usize).min(slots.saturating_sub(1))
    }
}

/// A gapped array with a per-node model.
#[derive(Debug, Clone)]
pub(crate) struct DataNode<V> {
    keys: Vec<u64>,
    vals: Vec<V>,
    occupied: Vec<u64>,
    num_keys: usize,
    model: NodeModel,
    /// Mean `log2(|predicted − actual| + 1)` over the keys at build time: what a lookup pays for
    /// the model's misses, used to decide when retraining no longer helps and a split is due.
    miss_cost: f32,
}

impl<V: Copy> DataNode<V> {
    /// A node with no keys and no slots.
    pub fn empty() -> Self {
        Self {
            keys: Vec::new(),
            vals: Vec::new(),
            occupied: Vec::new(),
            num_keys: 0,
            model: NodeModel {
                base: 0,
                slope: 0.0,
                intercept: 0.0,
            },
            miss_cost: 0.0,
        }
    }

    /// Build from sorted, distinct keys at [`INIT_DENSITY`], placing each key where the freshly
    /// trained model predicts it (model-based placement: lookups then mostly hit the first probe).
    pub fn build(keys: &[u64], vals: &[V]) -> Self {
        debug_assert_eq!(keys.len(), vals.len());
        debug_assert!(keys.windows(2).all(|w| w[0] < w[1]));
        let m = keys.len();
        if m == 0 {
            return Self::empty();
        }
        let slots = ((m as f64 / INIT_DENSITY).ceil() as usize).max(MIN_SLOTS);
        let model = NodeModel::train(keys, slots);
        let mut positions = Vec::with_capacity(m);
        let mut next_free = 0usize;
        let mut miss_sum = 0.0f64;
        for (i, &k) in keys.iter().enumerate() {
            let predicted = model.predict(k, slots);
            // Leave one slot for each key still to come.
            let p = predicted.clamp(next_free, slots - (m - i));
            miss_sum += ((p.abs_diff(predicted) + 1) as f64).log2();
            positions.push(p);
            next_free = p + 1;
        }
        let mut node = Self {
            keys: Vec::with_capacity(slots),
            vals: Vec::with_capacity(slots),
            occupied: vec![0; slots.div_ceil(64)],
            num_keys: m,
            model,
            miss_cost: (miss_sum / m as f64) as f32,
        };
        let mut source = 0usize;
        let mut placed = 0usize;
        for slot in 0..slots {
            if placed < m && positions[placed] == slot {
                source = placed;
                placed += 1;
                node.occupied[slot / 64] |= 1 << (slot % 64);
            }
            node.keys.push(keys[source]);
            node.vals.push(vals[source]);
        }
        node
    }

    /// Rebuild at [`INIT_DENSITY`] with a retrained model (expansion or contraction).
    pub fn rebuilt(&self) -> Self {
        let (keys, vals) = self.pairs();
        Self::build(&keys, &vals)
    }

    /// The keys and values in order.
    pub fn pairs(&self) -> (Vec<u64>, Vec<V>) {
        let mut keys = Vec::with_capacity(self.num_keys);
        let mut vals = Vec::with_capacity(self.num_keys);
        self.for_each_occupied(0, |slot| {
            keys.push(self.keys[slot]);
            vals.push(self.vals[slot]);
            true
        });
        (keys, vals)
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.num_keys
    }

    /// Number of slots.
    pub fn capacity(&self) -> usize {
        self.keys.len()
    }

    /// Mean search cost of the model's misses at the last build (see the field).
    pub fn miss_cost(&self) -> f32 {
        self.miss_cost
    }

    /// Heap and inline bytes.
    pub fn size_in_bytes(&self) -> usize {
        size_of::<Self>()
            + self.keys.capacity() * size_of::<u64>()
            + self.vals.capacity() * size_of::<V>()
            + self.occupied.capacity() * size_of::<u64>()
    }

    /// Whether deletes left the node sparse enough to shrink.
    pub fn needs_contraction(&self) -> bool {
        self.capacity() > MIN_SLOTS && (self.num_keys as f64) < self.capacity() as f64 * MIN_DENSITY
    }

    /// First slot whose key is `>= x`.
    #[inline]
    pub fn lower_bound<P: Probe>(&self, x: u64, probe: &mut P) -> usize {
        let hint = self.model.predict(x, self.keys.len());
        lower_bound_from(&self.keys, x, hint, probe)
    }

    /// The value under `x`.
    #[inline]
    pub fn get<P: Probe>(&self, x: u64, probe: &mut P) -> Option<V> {
        if self.num_keys == 0 {
            return None;
        }
        let hint = self.model.predict(x, self.keys.len());
        // The value most likely sits at the predicted slot: start loading it while the keys are
        // searched, so a good model costs one memory latency, not two.
        prefetch(&self.vals[hint..=hint]);
        let p = lower_bound_from(&self.keys, x, hint, probe);
        // A gap copies its run's key and value, so no bitmap check is needed.
        (self.keys.get(p) == Some(&x)).then(|| self.vals[p])
    }

    /// Insert `x` at (or as near as order allows to) its predicted slot.
    pub fn insert(&mut self, x: u64, v: V) -> InsertOutcome {
        if self.num_keys == 0 {
            *self = Self::build(&[x], &[v]);
            return InsertOutcome::Inserted;
        }
        let p = self.lower_bound(x, &mut ());
        if self.keys.get(p) == Some(&x) {
            return InsertOutcome::Duplicate;
        }
        if (self.num_keys + 1) as f64 > self.capacity() as f64 * MAX_DENSITY {
            return InsertOutcome::Full;
        }
        let cap = self.capacity();
        // `p` is the successor's run start; its occupied slot ends the gaps x may take.
        let succ = self.next_set(p).unwrap_or(cap);
        let free_start = self.prev_set(succ).map_or(0, |i| i + 1);
        if free_start < succ {
            let g = self.model.predict(x, cap).clamp(free_start, succ - 1);
            // Gaps after x copy x; when x is the new minimum, so do the gaps before it.
            let from = if free_start == 0 { 0 } else { g };
            self.keys[from..succ].fill(x);
            self.vals[from..succ].fill(v);
            self.set(g);
        } else {
            self.insert_by_shift(succ, x, v);
        }
        self.num_keys += 1;
        InsertOutcome::Inserted
    }

    /// Make room at `succ` (an occupied slot directly after another, or `cap`) by moving the
    /// occupied slots between it and the nearest gap by one.
    fn insert_by_shift(&mut self, succ: usize, x: u64, v: V) {
        let right = self.next_unset(succ);
        let left = self.prev_unset(succ);
        let go_right = match (left, right) {
            (Some(l), Some(r)) => r - succ < succ - l,
            (None, Some(_)) => true,
            (_, None) => false,
        };
        if let (true, Some(r)) = (go_right, right) {
            self.keys.copy_within(succ..r, succ + 1);
            self.vals.copy_within(succ..r, succ + 1);
            self.keys[succ] = x;
            self.vals[succ] = v;
            self.set(r);
        } else if let Some(l) = left {
            self.keys.copy_within(l + 1..succ, l);
            self.vals.copy_within(l + 1..succ, l);
            self.keys[succ - 1] = x;
            self.vals[succ - 1] = v;
            self.set(l);
        } else {
            debug_assert!(false, "insert into a node without a gap");
        }
    }

    /// Replace the value under `x` in place.
    pub fn update(&mut self, x: u64, v: V) -> Option<V> {
        let (run, occupied) = self.run_of(x)?;
        let old = self.vals[occupied];
        self.vals[run].fill(v);
        Some(old)
    }

    /// Remove `x`; its run of slots becomes gaps of the neighbouring key.
    pub fn remove(&mut self, x: u64) -> Option<V> {
        let (run, occupied) = self.run_of(x)?;
        let old = self.vals[occupied];
        self.clear(occupied);
        self.num_keys -= 1;
        if self.num_keys == 0 {
            *self = Self::empty();
            return Some(old);
        }
        // Left neighbour's copy (fill-left), or for the removed minimum the new minimum's.
        let source = if run.start > 0 {
            run.start - 1
        } else {
            run.end
        };
        let (k, val) = (self.keys[source], self.vals[source]);
        self.keys[run.clone()].fill(k);
        self.vals[run].fill(val);
        Some(old)
    }

    /// The slots holding `x` (its occupied slot and its gap copies) and the occupied one.
    fn run_of(&self, x: u64) -> Option<(std::ops::Range<usize>, usize)> {
        if self.num_keys == 0 {
            return None;
        }
        let p = self.lower_bound(x, &mut ());
        if self.keys.get(p) != Some(&x) {
            return None;
        }
        let occupied = self.next_set(p)?;
        let end = self.next_set(occupied + 1).unwrap_or(self.capacity());
        Some((p..end, occupied))
    }

    /// Visit occupied slots from `start` in order while `visit` returns true; false if stopped.
    #[inline]
    pub fn for_each_occupied(&self, start: usize, mut visit: impl FnMut(usize) -> bool) -> bool {
        let mut word_idx = start / 64;
        if word_idx >= self.occupied.len() {
            return true;
        }
        let mut word = self.occupied[word_idx] & (!0u64 << (start % 64));
        loop {
            while word != 0 {
                let slot = word_idx * 64 + word.trailing_zeros() as usize;
                if !visit(slot) {
                    return false;
                }
                word &= word - 1;
            }
            word_idx += 1;
            match self.occupied.get(word_idx) {
                Some(&w) => word = w,
                None => return true,
            }
        }
    }

    /// Visit `(key, value)` from the first key `>= lo` up to `hi`; false once the scan must stop.
    #[inline]
    pub fn scan<F: FnMut(u64, V) -> bool>(&self, lo: u64, hi: u64, visit: &mut F) -> bool {
        if self.num_keys == 0 {
            return true;
        }
        let start = self.lower_bound(lo, &mut ());
        self.for_each_occupied(start, |slot| {
            let k = self.keys[slot];
            k <= hi && visit(k, self.vals[slot])
        })
    }

    fn set(&mut self, slot: usize) {
        self.occupied[slot / 64] |= 1 << (slot % 64);
    }

    fn clear(&mut self, slot: usize) {
        self.occupied[slot / 64] &= !(1 << (slot % 64));
    }

    fn next_set(&self, from: usize) -> Option<usize> {
        self.next_matching(from, false)
    }

    fn next_unset(&self, from: usize) -> Option<usize> {
        self.next_matching(from, true)
    }

    fn prev_set(&self, before: usize) -> Option<usize> {
        self.prev_matching(before, false)
    }

    fn prev_unset(&self, before: usize) -> Option<usize> {
        self.prev_matching(before, true)
    }

    /// First slot `>= from` that is occupied (or, with `invert`, free).
    fn next_matching(&self, from: usize, invert: bool) -> Option<usize> {
        let cap = self.capacity();
        if from >= cap {
            return None;
        }
        let mut w = from / 64;
        let mut word = (self.occupied[w] ^ if invert { !0 } else { 0 }) & (!0u64 << (from % 64));
        loop {
            if word != 0 {
                let slot = w * 64 + word.trailing_zeros() as usize;
                return (slot < cap).then_some(slot);
            }
            w += 1;
            let raw = *self.occupied.get(w)?;
            word = raw ^ if invert { !0 } else { 0 };
        }
    }

    /// Last slot `< before` that is occupied (or, with `invert`, free).
    fn prev_matching(&self, before: usize, invert: bool) -> Option<usize> {
        if before == 0 {
            return None;
        }
        let last = before - 1;
        let mut w = last / 64;
        let keep = if last % 64 == 63 {
            !0
        } else {
            (1u64 << (last % 64 + 1)) - 1
        };
        let mut word = (self.occupied[w] ^ if invert { !0 } else { 0 }) & keep;
        loop {
            if word != 0 {
                return Some(w * 64 + 63 - word.leading_zeros() as usize);
            }
            if w == 0 {
                return None;
            }
            w -= 1;
            word = self.occupied[w] ^ if invert { !0 } else { 0 };
        }
    }
}
