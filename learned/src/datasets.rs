//! Key sets generated in-process for tests and benchmarks: no downloads, deterministic per seed.
//!
//! The shapes follow the usual learned-index test suite (SOSD): smooth synthetic distributions, a
//! heavy-tailed "books-like" set, a clustered "osm-like" set, and an adversarial insert pattern
//! aimed at linear models. This module owns generation only; it never touches an index.

/// A small, fast, deterministic generator (SplitMix64), so datasets need no dependency.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        const MANTISSA_BITS: u32 = 53;
        (self.next_u64() >> (64 - MANTISSA_BITS)) as f64 / (1u64 << MANTISSA_BITS) as f64
    }

    /// Uniform in `[0, n)` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.unit();
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Shuffle `items` in place (Fisher–Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

/// The key distributions the benchmarks and tests run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Distribution {
    /// Uniform over all of u64.
    Uniform,
    /// Normal around 2⁶³ with standard deviation 2⁶⁰.
    Normal,
    /// `exp(N(0, 2))` scaled by 2⁴⁰: dense at the low end, a long right tail.
    Lognormal,
    /// Mostly consecutive integers with occasional gaps of up to a thousand.
    SequentialGaps,
    /// Cumulative Pareto(α = 1.1) gaps: heavy-tailed like the SOSD "books" set.
    BooksLike,
    /// Zipf-weighted dense clusters scattered over the key space, like OSM cell ids.
    OsmLike,
}

impl Distribution {
    /// Every distribution, for tests that sweep them.
    pub const ALL: [Distribution; 6] = [
        Self::Uniform,
        Self::Normal,
        Self::Lognormal,
        Self::SequentialGaps,
        Self::BooksLike,
        Self::OsmLike,
    ];

    /// Short lowercase name used in benchmark ids.
    pub fn name(self) -> &'static str {
        match self {
            Self::Uniform => "uniform",
            Self::Normal => "normal",
            Self::Lognormal => "lognormal",
            Self::SequentialGaps => "seqgaps",
            Self::BooksLike => "books",
            Self::OsmLike => "osm",
        }
    }
}

/// `n` distinct keys of distribution `d`, sorted ascending.
pub fn sorted_keys(d: Distribution, n: usize, seed: u64) -> Vec<u64> {
    let mut rng = Rng::new(seed);
    let mut keys = match d {
        Distribution::SequentialGaps => sequential_gaps(&mut rng, n),
        Distribution::BooksLike => books_like(&mut rng, n),
        _ => Vec::with_capacity(n),
    };
    let osm = (d == Distribution::OsmLike).then(|| OsmClusters::new(&mut rng, n));
    while keys.len() < n {
        let missing = n - keys.len();
        for _ in 0..missing {
            keys.push(match d {
                Distribution::Uniform => rng.next_u64(),
                Distribution::Normal => scaled(2f64.powi(63) + rng.normal() * 2f64.powi(60)),
                Distribution::Lognormal => scaled((2.0 * rng.normal()).exp() * 2f64.powi(40)),
                Distribution::OsmLike => osm.as_ref().map_or(0, |c| c.sample(&mut rng)),
                // Cumulative generators already produced n distinct keys.
                Distribution::SequentialGaps | Distribution::BooksLike => rng.next_u64(),
            });
        }
        keys.sort_unstable();
        keys.dedup();
    }
    keys
}

/// `keys` in a random order (insert order for the updatable index).
pub fn shuffled(keys: &[u64], seed: u64) -> Vec<u64> {
    let mut out = keys.to_vec();
    Rng::new(seed).shuffle(&mut out);
    out
}

/// Keys per poisoned spot in [`adversarial_inserts`].
pub const POISON_SPOT_KEYS: usize = 1024;

/// `m` keys absent from `base` (sorted, distinct) that poison linear models: at spots spread over
/// the key space, each spot gets a geometric sequence toward one existing key (a logarithmic local
/// CDF, the worst shape for a line) followed by a dense run of consecutive keys, and the spots are
/// interleaved so every one keeps growing while the index adapts.
pub fn adversarial_inserts(base: &[u64], m: usize, seed: u64) -> Vec<u64> {
    let mut rng = Rng::new(seed);
    let spots = m.div_ceil(POISON_SPOT_KEYS).max(1);
    let mut per_spot: Vec<Vec<u64>> = Vec::with_capacity(spots);
    let mut total = 0;
    let mut attempts = 0usize;
    let mut used_gaps = std::collections::HashSet::new();
    while total < m && attempts < spots * 64 {
        attempts += 1;
        let (a, b) = spot_gap(base, &mut rng);
        if b - a < 2 || !used_gaps.insert(a) {
            continue;
        }
        let mut run = Vec::with_capacity(POISON_SPOT_KEYS);
        let mut shift = 1;
        while shift < 64 && run.len() < POISON_SPOT_KEYS / 2 {
            let off = (b - a) >> shift;
            if off == 0 {
                break;
            }
            run.push(a + off);
            shift += 1;
        }
        let geometric: std::collections::HashSet<u64> = run.iter().copied().collect();
        let mut next = a + 1;
        while run.len() < POISON_SPOT_KEYS && next < b {
            if !geometric.contains(&next) {
                run.push(next);
            }
            next += 1;
        }
        total += run.len();
        per_spot.push(run);
    }
    interleave(per_spot, m)
}

fn spot_gap(base: &[u64], rng: &mut Rng) -> (u64, u64) {
    match base.len() {
        0 => (0, u64::MAX),
        1 => (base[0], u64::MAX),
        n => {
            let i = rng.below(n as u64 - 1) as usize;
            (base[i], base[i + 1])
        }
    }
}

/// Round-robin over the spots, each spot in its own (poisoning) order, dropping repeats.
fn interleave(mut per_spot: Vec<Vec<u64>>, m: usize) -> Vec<u64> {
    let mut out = Vec::with_capacity(m);
    let mut seen = std::collections::HashSet::with_capacity(m);
    for run in &mut per_spot {
        run.reverse();
    }
    while out.len() < m && per_spot.iter().any(|r| !r.is_empty()) {
        for run in &mut per_spot {
            if let Some(k) = run.pop()
                && out.len() < m
                && seen.insert(k)
            {
                out.push(k);
            }
        }
    }
    out
}

fn scaled(v: f64) -> u64 {
    // `as` saturates: out-of-range draws land on the ends, which only adds two repeated keys.
    v.max(0.0) as u64
}

fn sequential_gaps(rng: &mut Rng, n: usize) -> Vec<u64> {
    const GAP_PERCENT: u64 = 10;
    const MAX_GAP: u64 = 1000;
    let mut keys = Vec::with_capacity(n);
    let mut k = rng.below(MAX_GAP);
    for _ in 0..n {
        keys.push(k);
        k += if rng.below(100) < GAP_PERCENT {
            2 + rng.below(MAX_GAP)
        } else {
            1
        };
    }
    keys
}

fn books_like(rng: &mut Rng, n: usize) -> Vec<u64> {
    const ALPHA: f64 = 1.1;
    const SCALE: f64 = 64.0;
    let mut keys = Vec::with_capacity(n);
    let mut k: u64 = 0;
    for _ in 0..n {
        let pareto = (1.0 - rng.unit()).powf(-1.0 / ALPHA);
        k = k.saturating_add(1 + (pareto * SCALE) as u64);
        keys.push(k);
    }
    keys
}

/// Cluster centres, widths and Zipf cumulative weights for the osm-like set.
struct OsmClusters {
    centres: Vec<u64>,
    widths: Vec<f64>,
    cumulative: Vec<f64>,
}

impl OsmClusters {
    const KEYS_PER_CLUSTER: usize = 4096;

    fn new(rng: &mut Rng, n: usize) -> Self {
        let count = (n / Self::KEYS_PER_CLUSTER).max(1);
        let mut cumulative = Vec::with_capacity(count);
        let mut sum = 0.0;
        for rank in 1..=count {
            sum += 1.0 / rank as f64;
            cumulative.push(sum);
        }
        Self {
            centres: (0..count).map(|_| rng.next_u64() >> 2).collect(),
            widths: (0..count)
                .map(|_| 2f64.powi(24 + rng.below(20) as i32))
                .collect(),
            cumulative,
        }
    }

    fn sample(&self, rng: &mut Rng) -> u64 {
        let total = self.cumulative.last().copied().unwrap_or(1.0);
        let target = rng.unit() * total;
        let c = self
            .cumulative
            .partition_point(|&w| w < target)
            .min(self.centres.len() - 1);
        let offset = rng.normal() * self.widths[c];
        scaled(self.centres[c] as f64 + offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_distribution_gives_n_sorted_distinct_keys() {
        for d in Distribution::ALL {
            let keys = sorted_keys(d, 20_000, 3);
            assert_eq!(keys.len(), 20_000, "{d:?}");
            assert!(keys.windows(2).all(|w| w[0] < w[1]), "{d:?}");
            assert_eq!(keys, sorted_keys(d, 20_000, 3), "{d:?} not deterministic");
        }
    }

    #[test]
    fn adversarial_keys_are_new_and_distinct() {
        let base = sorted_keys(Distribution::Uniform, 10_000, 1);
        let adv = adversarial_inserts(&base, 5_000, 2);
        assert_eq!(adv.len(), 5_000);
        let set: std::collections::HashSet<u64> = adv.iter().copied().collect();
        assert_eq!(set.len(), adv.len());
        assert!(adv.iter().all(|k| base.binary_search(k).is_err()));
    }
}
