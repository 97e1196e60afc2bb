//! Distinct-value sketches: a HyperLogLog of each column of a segment, so the planner can
//! estimate a column's number of distinct values (equality selectivity, join sizes) by merging
//! the sketches of every segment on every shard.
//!
//! Estimates only, about 3% standard error: must never decide a result, only a plan's cost.
//! Values hash by their bits, so equal values of different representations (a numeric's
//! scale, `-0.0`) may count twice; the hash is fixed, so sketches built anywhere merge.

use super::column::Column;
use arrow_array::{Array, ArrowPrimitiveType, PrimitiveArray};
use arrow_buffer::NullBuffer;

/// Bits of the hash that pick a register: 2^10 registers, a 1 KiB sketch.
const INDEX_BITS: u32 = 10;
const REGISTERS: usize = 1 << INDEX_BITS;
/// The multiplier of the value hash: 2^64 / the golden ratio (odd, well-mixed bits).
const MIX: u64 = 0x9E37_79B9_7F4A_7C15;
/// HyperLogLog's bias correction for 1024 registers (Flajolet et al., alpha_m).
const ALPHA: f64 = 0.7213 / (1.0 + 1.079 / REGISTERS as f64);

/// A HyperLogLog sketch of a column's non-NULL values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sketch {
    /// Fixed-size, so the register index (< `REGISTERS` by construction) needs no bounds check.
    registers: Box<[u8; REGISTERS]>,
}

impl Default for Sketch {
    fn default() -> Self {
        Sketch {
            registers: Box::new([0; REGISTERS]),
        }
    }
}

fn mix(x: u64) -> u64 {
    let m = u128::from(x) * u128::from(MIX);
    (m as u64) ^ ((m >> 64) as u64)
}

/// MurmurHash3's 64-bit finaliser: every input bit reaches every output bit, so the register
/// index and the rank are independent even for sequential keys (a plain multiply leaves
/// them correlated and overcounts).
fn finish(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    h ^= h >> 33;
    h = h.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
    h ^ (h >> 33)
}

/// A byte string's hash, eight bytes at a time.
fn hash_bytes(b: &[u8]) -> u64 {
    let mut h = b.len() as u64;
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(c);
        h = mix(h ^ u64::from_le_bytes(word));
    }
    let mut tail = [0u8; 8];
    tail[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
    mix(h ^ u64::from_le_bytes(tail))
}

/// A numeric mantissa's bits (the same for both mantissa widths a segment may use).
fn wide(v: i128) -> u64 {
    (v as u64) ^ ((v >> 64) as u64)
}

fn valid(nulls: Option<&NullBuffer>, i: usize) -> bool {
    nulls.is_none_or(|n| n.is_valid(i))
}

/// The dictionary entries (of `len`) that some non-NULL row's code names, in entry order.
pub(crate) fn used_codes(
    codes: &[u16],
    len: usize,
    nulls: Option<&NullBuffer>,
) -> impl Iterator<Item = usize> {
    let mut used = vec![false; len];
    for (i, &c) in codes.iter().enumerate() {
        if valid(nulls, i)
            && let Some(u) = used.get_mut(usize::from(c))
        {
            *u = true;
        }
    }
    used.into_iter()
        .enumerate()
        .filter_map(|(c, u)| u.then_some(c))
}

impl Sketch {
    /// The sketch of `column`'s non-NULL values.
    pub fn of(column: &Column) -> Sketch {
        let mut s = Sketch::default();
        let nulls = column.nulls();
        match column {
            Column::Bool(a) => (0..a.len())
                .filter(|&i| valid(nulls, i))
                .for_each(|i| s.add(mix(u64::from(a.value(i))))),
            Column::Int16(a) => s.primitive(a, nulls, |v| v as u64),
            Column::Int32(a) => s.primitive(a, nulls, |v| v as u64),
            Column::Int64(a) => s.primitive(a, nulls, |v| v as u64),
            Column::Date(a) => s.primitive(a, nulls, |v| v as u64),
            Column::Timestamp(a) | Column::TimestampTz(a) => s.primitive(a, nulls, |v| v as u64),
            Column::Float32(a) => s.primitive(a, nulls, |v| u64::from(v.to_bits())),
            Column::Float64(a) => s.primitive(a, nulls, f64::to_bits),
            Column::Numeric { mantissas, .. } => s.primitive(mantissas, nulls, wide),
            Column::Numeric64 { mantissas, .. } => {
                s.primitive(mantissas, nulls, |v| wide(i128::from(v)));
            }
            // A value counted twice changes nothing: each dictionary entry some row uses is
            // hashed and counted once.
            Column::TextDict { codes, values } => {
                for code in used_codes(codes.values(), values.len(), nulls) {
                    s.add(hash_bytes(values.value(code).as_bytes()));
                }
            }
            Column::Text(a) => (0..a.len())
                .filter(|&i| valid(nulls, i))
                .for_each(|i| s.add(hash_bytes(a.value(i).as_bytes()))),
            Column::Bytea(a) => (0..a.len())
                .filter(|&i| valid(nulls, i))
                .for_each(|i| s.add(hash_bytes(a.value(i)))),
            Column::Interval {
                months,
                days,
                micros,
            } => (0..months.len())
                .filter(|&i| valid(nulls, i))
                .for_each(|i| {
                    let parts = (i64::from(months.value(i)) << 32) ^ i64::from(days.value(i));
                    s.add(mix(mix(parts as u64) ^ micros.value(i) as u64));
                }),
        }
        s
    }

    fn primitive<T: ArrowPrimitiveType>(
        &mut self,
        a: &PrimitiveArray<T>,
        nulls: Option<&NullBuffer>,
        bits: impl Fn(T::Native) -> u64,
    ) {
        // A value's bits go to `add` as they are: its finaliser alone mixes every input bit
        // into every output bit (a second mix per value was a third of a load's sketch time).
        match nulls {
            None => a.values().iter().for_each(|v| self.add(bits(*v))),
            Some(_) => {
                for (i, v) in a.values().iter().enumerate() {
                    if valid(nulls, i) {
                        self.add(bits(*v));
                    }
                }
            }
        }
    }

    /// Count one value by its hash.
    fn add(&mut self, hash: u64) {
        let hash = finish(hash);
        let index = (hash >> (64 - INDEX_BITS)) as usize;
        // The rank of the first set bit of the rest (a sentinel bit bounds it).
        let rest = (hash << INDEX_BITS) | (1 << (INDEX_BITS - 1));
        let rank = rest.leading_zeros() as u8 + 1;
        if rank > self.registers[index] {
            self.registers[index] = rank;
        }
    }

    /// Add what `other` counted (the sketch of the union).
    pub fn merge(&mut self, other: &Sketch) {
        for (a, b) in self.registers.iter_mut().zip(other.registers.iter()) {
            *a = (*a).max(*b);
        }
    }

    /// The estimated number of distinct values counted.
    pub fn estimate(&self) -> f64 {
        let m = REGISTERS as f64;
        let sum: f64 = self.registers.iter().map(|r| (-f64::from(*r)).exp2()).sum();
        let raw = ALPHA * m * m / sum;
        let empty = self.registers.iter().filter(|r| **r == 0).count();
        // Small cardinalities: linear counting over the empty registers is more exact.
        if raw <= 2.5 * m && empty > 0 {
            m * (m / empty as f64).ln()
        } else {
            raw
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Int64Array, StringArray};

    fn within(estimate: f64, truth: f64) -> bool {
        (estimate - truth).abs() <= truth * 0.1 + 1.0
    }

    #[test]
    fn estimates_distinct_integers_and_ignores_duplicates() {
        let values: Vec<i64> = (0..100_000).map(|i| i % 20_000).collect();
        let s = Sketch::of(&Column::Int64(Int64Array::from(values)));
        assert!(within(s.estimate(), 20_000.0), "{}", s.estimate());
        // Keys in the patterns tables hold (dense, strided by powers of two and by odd steps,
        // negative, and over a high range), with NULLs among them.
        for (n, key) in [
            (50_000i64, (|i| i) as fn(i64) -> i64),
            (50_000, |i| i << 12),
            (30_000, |i| i * 7 + 3),
            (30_000, |i| -i),
            (30_000, |i| (1 << 40) + i * 4),
        ] {
            let values: Vec<Option<i64>> =
                (0..n).map(|i| (i % 10 != 0).then_some(key(i))).collect();
            let truth = values.iter().flatten().count() as f64;
            let s = Sketch::of(&Column::Int64(Int64Array::from(values)));
            assert!(within(s.estimate(), truth), "{} vs {truth}", s.estimate());
        }
    }

    #[test]
    fn small_text_columns_count_exactly_enough() {
        let values: Vec<String> = (0..10_000).map(|i| format!("value {}", i % 3)).collect();
        let s = Sketch::of(&Column::Text(StringArray::from(values)));
        assert!(within(s.estimate(), 3.0), "{}", s.estimate());
    }

    #[test]
    fn merged_sketches_count_the_union() {
        let a = Sketch::of(&Column::Int64(Int64Array::from(
            (0..5000).collect::<Vec<_>>(),
        )));
        let mut b = Sketch::of(&Column::Int64(Int64Array::from(
            (2500..7500).collect::<Vec<_>>(),
        )));
        b.merge(&a);
        assert!(within(b.estimate(), 7500.0), "{}", b.estimate());
        assert_eq!(Sketch::default().estimate(), 0.0);
    }
}
