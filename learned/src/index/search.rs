//! Search kernels shared by the learned indexes: a branch-free lower bound over a short window and
//! an exponential (galloping) search from a predicted position.
//!
//! These are the only places that look at keys one by one. They never scan linearly: every search
//! costs a logarithm of the window (or of the model's error), which is what gives the learned
//! indexes their worst-case bound. Each kernel reports its key comparisons to a [`Probe`], so tests
//! and benchmarks can check the bound without a second, divergent copy of the search.

/// Receives the number of key comparisons a search made. `()` ignores them at zero cost.
pub trait Probe {
    /// Record `n` more key comparisons.
    fn add(&mut self, n: u32);
}

impl Probe for () {
    #[inline(always)]
    fn add(&mut self, _n: u32) {}
}

/// Counts key comparisons (for tests and the robustness benchmark).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ProbeCount(pub u32);

impl Probe for ProbeCount {
    #[inline]
    fn add(&mut self, n: u32) {
        self.0 += n;
    }
}

/// Comparisons a branch-free lower bound makes over `len` keys: `⌈log2 len⌉ + 1` (0 when empty).
pub const fn lower_bound_cost(len: usize) -> u32 {
    if len == 0 {
        0
    } else {
        usize::BITS - (len - 1).leading_zeros() + 1
    }
}

/// First index `i` with `keys[i] >= x` (`keys.len()` when there is none). `keys` must be sorted.
///
/// Branch-free: the loop runs `⌈log2 len⌉` times whatever the data, and the compare compiles to a
/// conditional move, so a short window costs no branch mispredictions.
#[inline]
pub fn lower_bound<P: Probe>(keys: &[u64], x: u64, probe: &mut P) -> usize {
    let mut len = keys.len();
    if len == 0 {
        return 0;
    }
    probe.add(lower_bound_cost(len));
    let mut base = 0usize;
    while len > 1 {
        let half = len / 2;
        // SAFETY: the loop keeps `base + len <= keys.len()` and `half < len`, so
        // `base + half < keys.len()`.
        let probe_key = unsafe { *keys.get_unchecked(base + half) };
        base = if probe_key < x { base + half } else { base };
        len -= half;
    }
    // SAFETY: `len == 1` here and `base + len <= keys.len()`, so `base < keys.len()`.
    let last = unsafe { *keys.get_unchecked(base) };
    base + usize::from(last < x)
}

/// Bytes per cache line, the prefetch stride.
const CACHE_LINE: usize = 64;

/// Ask the CPU to start loading every cache line of `keys`, so that a search over a window that
/// is not cached pays about one memory latency instead of one per binary-search step.
#[inline(always)]
pub fn prefetch<T>(keys: &[T]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        let start = keys.as_ptr().cast::<i8>();
        let bytes = size_of_val(keys);
        let mut offset = 0;
        while offset < bytes {
            // SAFETY: a prefetch is a hint that never faults or reads into the program; the
            // address is inside `keys` (offset < its size in bytes), and SSE, which
            // `_mm_prefetch` needs, is part of the x86_64 baseline.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(start.add(offset)) };
            offset += CACHE_LINE;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = keys;
}

/// First index `i` with `keys[i] >= x`, searched outward from `hint` by doubling steps and then a
/// binary search inside the bracket found.
///
/// Costs at most `2⌈log2(d + 1)⌉ + 2` comparisons where `d` is the distance from `hint` to the
/// answer, so a good model makes it nearly free and a useless one makes it no worse than about
/// twice a binary search of the whole array.
#[inline]
pub fn lower_bound_from<P: Probe>(keys: &[u64], x: u64, hint: usize, probe: &mut P) -> usize {
    let n = keys.len();
    if n == 0 {
        return 0;
    }
    let hint = hint.min(n - 1);
    probe.add(1);
    if keys[hint] < x {
        // The answer is in (hint, n]: gallop right until a key >= x brackets it.
        let mut below = hint;
        let mut step = 1usize;
        loop {
            let probe_at = hint.saturating_add(step);
            if probe_at >= n {
                return below + 1 + lower_bound(&keys[below + 1..n], x, probe);
            }
            probe.add(1);
            if keys[probe_at] >= x {
                return below + 1 + lower_bound(&keys[below + 1..probe_at], x, probe);
            }
            below = probe_at;
            step *= 2;
        }
    } else {
        // The answer is in [0, hint]: gallop left until a key < x brackets it.
        let mut at_or_above = hint;
        let mut step = 1usize;
        loop {
            if step > hint {
                return lower_bound(&keys[..at_or_above], x, probe);
            }
            let probe_at = hint - step;
            probe.add(1);
            if keys[probe_at] < x {
                return probe_at + 1 + lower_bound(&keys[probe_at + 1..at_or_above], x, probe);
            }
            at_or_above = probe_at;
            step *= 2;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(keys: &[u64], x: u64) -> usize {
        keys.partition_point(|&k| k < x)
    }

    #[test]
    fn lower_bound_matches_partition_point() {
        let keys: Vec<u64> = (0..200u64).map(|i| i * 3 + (i % 7)).collect();
        let mut keys = keys;
        keys.sort_unstable();
        for len in 0..keys.len() {
            let slice = &keys[..len];
            for x in 0..keys.last().copied().unwrap_or(0) + 3 {
                assert_eq!(
                    lower_bound(slice, x, &mut ()),
                    reference(slice, x),
                    "len {len} x {x}"
                );
            }
        }
    }

    #[test]
    fn exponential_search_matches_from_every_hint() {
        let keys: Vec<u64> = vec![1, 1, 2, 5, 5, 5, 9, 12, 40, 41, 41, 100];
        for hint in 0..keys.len() + 3 {
            for x in 0..105 {
                let mut count = ProbeCount::default();
                let got = lower_bound_from(&keys, x, hint, &mut count);
                assert_eq!(got, reference(&keys, x), "hint {hint} x {x}");
                let d = got.abs_diff(hint.min(keys.len() - 1)) as u32;
                let bound = 2 * (u32::BITS - d.leading_zeros()) + 3;
                assert!(count.0 <= bound, "hint {hint} x {x}: {} > {bound}", count.0);
            }
        }
    }

    #[test]
    fn cost_formula() {
        assert_eq!(lower_bound_cost(0), 0);
        assert_eq!(lower_bound_cost(1), 1);
        assert_eq!(lower_bound_cost(2), 2);
        assert_eq!(lower_bound_cost(129), 9);
    }
}
