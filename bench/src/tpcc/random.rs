//! The random functions of TPC-C clause 4.3.2 and 2.1.6: uniform integers and fixed-point
//! numbers, NURand with its C constants, a-strings and n-strings, zip codes, customer last names
//! from syllables, and the "ORIGINAL" marker of item and stock data.
//!
//! Owns the workload's randomness. It must never use a global or shared generator: every
//! terminal and every loader thread has its own, seeded apart, so no lock is ever taken.

use std::time::{SystemTime, UNIX_EPOCH};

/// The syllables of clause 4.3.2.3, indexed by a digit of the last-name number.
const SYLLABLES: [&str; 10] = [
    "BAR", "OUGHT", "ABLE", "PRI", "PRES", "ESE", "ANTI", "CALLY", "ATION", "EING",
];
/// Characters of an a-string (clause 4.3.2.2: at least 26 lower- and upper-case letters; digits
/// too, as the spec allows "a-strings of random alphanumeric characters").
const ALPHANUMERIC: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
/// The marker 10% of item and stock data carry (clause 4.3.3.1).
pub const ORIGINAL: &str = "ORIGINAL";
/// Percentage of item and stock rows whose data carries [`ORIGINAL`].
const ORIGINAL_PERCENT: i64 = 10;

/// NURand's A for customer last names, customer numbers and item numbers (clause 2.1.6).
pub const A_C_LAST: i64 = 255;
pub const A_C_ID: i64 = 1023;
pub const A_OL_I_ID: i64 = 8191;

/// The C constant the loader uses for C_LAST. The run's own C_LAST constant must differ from it
/// by a delta in [65, 119] other than 96 and 112 (clause 2.1.6.1), so the loader's value has to
/// be known to a run that did not load: it is fixed here (picked once at random from [0, 255]).
pub const C_LAST_LOAD: i64 = 157;
/// The deltas clause 2.1.6.1 allows between the load's and the run's C_LAST.
const C_DELTA_MIN: i64 = 65;
const C_DELTA_MAX: i64 = 119;
const C_DELTA_FORBIDDEN: [i64; 2] = [96, 112];

/// The C constants of one run (clause 2.1.6): C_LAST chosen against [`C_LAST_LOAD`], the others
/// uniform in [0, A].
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Constants {
    pub c_last: i64,
    pub c_id: i64,
    pub ol_i_id: i64,
}

impl Constants {
    /// The constants the loader uses (only C_LAST matters while loading).
    pub fn for_load(rng: &mut Rng) -> Constants {
        Constants {
            c_last: C_LAST_LOAD,
            c_id: rng.uniform(0, A_C_ID),
            ol_i_id: rng.uniform(0, A_OL_I_ID),
        }
    }

    /// The constants of a measured run: C_LAST at an allowed distance from the loader's.
    pub fn for_run(rng: &mut Rng) -> Constants {
        let c_last = loop {
            let candidate = rng.uniform(0, A_C_LAST);
            let delta = (candidate - C_LAST_LOAD).abs();
            if (C_DELTA_MIN..=C_DELTA_MAX).contains(&delta) && !C_DELTA_FORBIDDEN.contains(&delta) {
                break candidate;
            }
        };
        Constants {
            c_last,
            c_id: rng.uniform(0, A_C_ID),
            ol_i_id: rng.uniform(0, A_OL_I_ID),
        }
    }
}

/// A small, fast generator (xoshiro256** seeded through SplitMix64): statistical quality far
/// beyond what TPC-C's uniform choices need, and no dependency.
#[derive(Debug, Clone)]
pub struct Rng {
    state: [u64; 4],
}

impl Rng {
    pub fn seeded(seed: u64) -> Rng {
        let mut mix = seed;
        let mut next = || {
            mix = mix.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = mix;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        Rng {
            state: [next(), next(), next(), next()],
        }
    }

    /// A generator seeded from the clock and `salt` (e.g. a terminal number).
    pub fn from_time(salt: u64) -> Rng {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Rng::seeded(nanos ^ salt.wrapping_mul(0x2545_F491_4F6C_DD1D))
    }

    fn next_u64(&mut self) -> u64 {
        let s = &mut self.state;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in [low, high], both included.
    pub fn uniform(&mut self, low: i64, high: i64) -> i64 {
        debug_assert!(low <= high);
        let span = (high - low) as u64 + 1;
        // Lemire's multiply-shift: unbiased enough for spans this small against 2^64.
        low + ((u128::from(self.next_u64()) * u128::from(span)) >> 64) as i64
    }

    /// Uniform in [low, high] except `except` (e.g. a remote warehouse other than the home one).
    pub fn uniform_except(&mut self, low: i64, high: i64, except: i64) -> i64 {
        debug_assert!(low < high);
        let value = self.uniform(low, high - 1);
        if value >= except { value + 1 } else { value }
    }

    /// NURand(A, x, y) of clause 2.1.6 with the given C.
    pub fn nurand(&mut self, a: i64, c: i64, low: i64, high: i64) -> i64 {
        (((self.uniform(0, a) | self.uniform(low, high)) + c) % (high - low + 1)) + low
    }

    /// An a-string (random alphanumerics) of a length uniform in [min, max].
    pub fn a_string(&mut self, min: i64, max: i64) -> String {
        let len = self.uniform(min, max);
        (0..len)
            .map(|_| {
                char::from(ALPHANUMERIC[self.uniform(0, ALPHANUMERIC.len() as i64 - 1) as usize])
            })
            .collect()
    }

    /// An n-string (random digits) of a length uniform in [min, max].
    pub fn n_string(&mut self, min: i64, max: i64) -> String {
        let len = self.uniform(min, max);
        (0..len)
            .map(|_| char::from(b'0' + self.uniform(0, 9) as u8))
            .collect()
    }

    /// A zip code: four random digits and "11111" (clause 4.3.2.7).
    pub fn zip(&mut self) -> String {
        let mut zip = self.n_string(4, 4);
        zip.push_str("11111");
        zip
    }

    /// Item or stock data: an a-string of [26, 50] characters, 10% of them with "ORIGINAL" at a
    /// random position (clause 4.3.3.1).
    pub fn data_with_original(&mut self) -> String {
        let mut data = self.a_string(26, 50);
        if self.uniform(1, 100) <= ORIGINAL_PERCENT {
            let at = self.uniform(0, (data.len() - ORIGINAL.len()) as i64) as usize;
            data.replace_range(at..at + ORIGINAL.len(), ORIGINAL);
        }
        data
    }

    /// A random customer last name for a run or a load with constants `c` (NURand(255, 0, 999)).
    pub fn last_name(&mut self, c: &Constants) -> String {
        last_name(self.nurand(A_C_LAST, c.c_last, 0, 999))
    }
}

/// The last name of number `n` in [0, 999]: its three digits' syllables (clause 4.3.2.3).
pub fn last_name(n: i64) -> String {
    debug_assert!((0..=999).contains(&n));
    let digit = |d: i64| SYLLABLES[(d % 10) as usize];
    [digit(n / 100), digit(n / 10), digit(n)].concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_names_follow_the_spec_examples() {
        // Clause 4.3.2.3: 371 is PRICALLYOUGHT; 40 is BARPRESBAR.
        assert_eq!(last_name(371), "PRICALLYOUGHT");
        assert_eq!(last_name(40), "BARPRESBAR");
        assert_eq!(last_name(999), "EINGEINGEING");
    }

    #[test]
    fn uniform_stays_in_range_and_reaches_both_ends() {
        let mut rng = Rng::seeded(7);
        let values: Vec<i64> = (0..10_000).map(|_| rng.uniform(5, 15)).collect();
        assert!(values.iter().all(|v| (5..=15).contains(v)));
        assert!(values.contains(&5) && values.contains(&15));
    }

    #[test]
    fn uniform_except_never_returns_the_exception() {
        let mut rng = Rng::seeded(9);
        for _ in 0..10_000 {
            let v = rng.uniform_except(1, 3, 2);
            assert!(v == 1 || v == 3);
        }
    }

    #[test]
    fn run_constants_keep_the_allowed_distance_from_the_load() {
        let mut rng = Rng::seeded(11);
        for _ in 0..1000 {
            let delta = (Constants::for_run(&mut rng).c_last - C_LAST_LOAD).abs();
            assert!((65..=119).contains(&delta) && delta != 96 && delta != 112);
        }
    }

    #[test]
    fn nurand_stays_in_range() {
        let mut rng = Rng::seeded(3);
        for _ in 0..10_000 {
            let v = rng.nurand(A_C_ID, 259, 1, 3000);
            assert!((1..=3000).contains(&v));
        }
    }

    #[test]
    fn original_appears_in_about_a_tenth_of_the_data() {
        let mut rng = Rng::seeded(5);
        let marked = (0..10_000)
            .filter(|_| rng.data_with_original().contains(ORIGINAL))
            .count();
        assert!((800..1200).contains(&marked), "{marked}");
    }
}
