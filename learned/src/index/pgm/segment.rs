//! One-pass piecewise-linear segmentation with a guaranteed maximum error (the "shrinking cone").
//!
//! Each segment starts at a point and keeps the interval of slopes that still predicts every point
//! seen so far within `ε`; a point that empties the interval starts the next segment. O(n) time,
//! O(1) extra space. The result is greedy rather than optimal (an optimal convex-hull fit gives
//! fewer segments for the same `ε`), which costs index bytes, never correctness.

/// One fitted segment: predicts `y + slope · (x − x0)` for `x ≥ x0`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Segment {
    /// First x covered by the segment.
    pub x0: u64,
    /// Exact y at `x0` (the line passes through the segment's first point).
    pub y0: u64,
    /// Non-negative slope, so predictions are monotone in x.
    pub slope: f64,
}

/// Margin kept below `ε` so that floating-point rounding in the fit and in the prediction (both
/// far below 10⁻⁶ positions for up to 2³² points) can never push an error past `ε`.
const ROUNDING_MARGIN: f64 = 0.5;

/// Greedy shrinking-cone fitter fed with points in strictly increasing x, non-decreasing y.
pub(crate) struct ConeFitter {
    eps: f64,
    start: Option<(u64, u64)>,
    slope_lo: f64,
    slope_hi: f64,
    out: Vec<Segment>,
}

impl ConeFitter {
    /// A fitter whose segments predict every point within `eps` (≥ 1) positions.
    pub fn new(eps: usize) -> Self {
        debug_assert!(eps >= 1);
        Self {
            eps: eps as f64 - ROUNDING_MARGIN,
            start: None,
            slope_lo: 0.0,
            slope_hi: f64::INFINITY,
            out: Vec::new(),
        }
    }

    /// Add the next point.
    pub fn push(&mut self, x: u64, y: u64) {
        let Some((x0, y0)) = self.start else {
            self.open(x, y);
            return;
        };
        debug_assert!(x > x0 && y >= y0);
        let dx = (x - x0) as f64;
        let dy = (y - y0) as f64;
        let lo = self.slope_lo.max((dy - self.eps) / dx);
        let hi = self.slope_hi.min((dy + self.eps) / dx);
        if lo <= hi {
            self.slope_lo = lo;
            self.slope_hi = hi;
        } else {
            self.close();
            self.open(x, y);
        }
    }

    /// The segments, in x order.
    pub fn finish(mut self) -> Vec<Segment> {
        if self.start.is_some() {
            self.close();
        }
        self.out
    }

    fn open(&mut self, x: u64, y: u64) {
        self.start = Some((x, y));
        self.slope_lo = 0.0;
        self.slope_hi = f64::INFINITY;
    }

    fn close(&mut self) {
        if let Some((x0, y0)) = self.start.take() {
            let slope = if self.slope_hi.is_finite() {
                (self.slope_lo + self.slope_hi) / 2.0
            } else {
                self.slope_lo
            };
            self.out.push(Segment { x0, y0, slope });
        }
    }
}

/// Feed `fitter` the points whose fit makes `lower_bound` exact within `ε` for every u64, present
/// or absent, over a sorted slice that may hold duplicates.
///
/// For each distinct key `k` first seen at position `f` with `c` copies the points are `(k, f)`
/// and, when `c > 1` and `k + 1` is not the next key, `(k + 1, f + c)`; after the last key comes
/// `(last + 1, n)`. Between two consecutive points the true lower bound then equals the right
/// point's y and differs from the left point's by at most one, which is why a window of
/// `[pred − ε, pred + ε + 1]` always holds the answer (see the crate README).
pub(crate) fn feed_lower_bound_points(keys: &[u64], fitter: &mut ConeFitter) {
    let n = keys.len();
    let mut i = 0;
    while i < n {
        let k = keys[i];
        let mut j = i + 1;
        while j < n && keys[j] == k {
            j += 1;
        }
        fitter.push(k, i as u64);
        let after = k.checked_add(1);
        match (after, keys.get(j)) {
            (Some(a), Some(&next)) if j - i > 1 && a < next => fitter.push(a, j as u64),
            (Some(a), None) => fitter.push(a, j as u64),
            _ => {}
        }
        i = j;
    }
}
