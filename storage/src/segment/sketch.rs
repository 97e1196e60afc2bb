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

/// A byte string's hash: sixteen bytes at a time, each block's two words multiplied into
/// one 128-bit product folded to 64 bits. The products do not depend on each other, only a
/// rotate and an xor chain them, so the multiplies overlap: one multiply chained per eight
/// bytes was most of a load's sketch time (the comment columns are ~400 MB at SF 1).
fn hash_bytes(b: &[u8]) -> u64 {
    let word = |at: usize| {
        let mut w = [0u8; 8];
        if let Some(s) = b.get(at..at + 8) {
            w.copy_from_slice(s);
        }
        u64::from_le_bytes(w)
    };
    let len = b.len();
    let (first, last) = if len >= 16 {
        let mut h = len as u64;
        let mut at = 0;
        // Every whole block before the last sixteen bytes, which go in below.
        while at + 16 < len {
            h = h.rotate_left(23) ^ fold(word(at) ^ BLOCK.0, word(at + 8) ^ BLOCK.1);
            at += 16;
        }
        return h.rotate_left(23) ^ fold(word(len - 16) ^ TAIL.0, word(len - 8) ^ TAIL.1);
    } else if len >= 8 {
        // Overlapping words cover 8–16 bytes.
        (word(0), word(len - 8))
    } else {
        let mut w = [0u8; 8];
        w[..len].copy_from_slice(b);
        (u64::from_le_bytes(w), 0)
    };
    fold(first ^ TAIL.0, last ^ TAIL.1 ^ len as u64)
}

/// Constants of `hash_bytes` (digits of pi): any odd, well-mixed pair works.
const BLOCK: (u64, u64) = (0x243F_6A88_85A3_08D3, 0x1319_8A2E_0370_7345);
const TAIL: (u64, u64) = (0xA409_3822_299F_31D1, 0x082E_FA98_EC4E_6C89);

/// The 128-bit product of `a` and `b` folded to 64 bits.
fn fold(a: u64, b: u64) -> u64 {
    let m = u128::from(a) * u128::from(b);
    (m as u64) ^ ((m >> 64) as u64)
}

/// A numeric mantissa's bits (the same for both mantissa widths a segment may use).
fn wide(v: i128) -> u64 {
    (v as u64) ^ ((v >> 64) as u64)
}

/// Call `f` with each valid value of `values`, widened by `wide`.
#[inline(always)]
fn each_valid<N: Copy>(
    values: &[N],
    nulls: Option<&NullBuffer>,
    wide: impl Fn(N) -> i64,
    mut f: impl FnMut(i64),
) {
    match nulls {
        None => values.iter().for_each(|&v| f(wide(v))),
        Some(n) => {
            for (i, &v) in values.iter().enumerate() {
                if n.is_valid(i) {
                    f(wide(v));
                }
            }
        }
    }
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
            Column::Int16(a) => s.integers(a.values(), nulls, i64::from, |v| v as u64),
            Column::Int32(a) => s.integers(a.values(), nulls, i64::from, |v| v as u64),
            Column::Int64(a) => s.integers(a.values(), nulls, |v| v, |v| v as u64),
            Column::Date(a) => s.integers(a.values(), nulls, i64::from, |v| v as u64),
            Column::Timestamp(a) | Column::TimestampTz(a) => {
                s.integers(a.values(), nulls, |v| v, |v| v as u64);
            }
            Column::Float32(a) => s.primitive(a, nulls, |v| u64::from(v.to_bits())),
            Column::Float64(a) => s.primitive(a, nulls, f64::to_bits),
            Column::Numeric { mantissas, .. } => s.primitive(mantissas, nulls, wide),
            Column::Numeric64 { mantissas, .. } => {
                s.integers(mantissas.values(), nulls, |v| v, |v| wide(i128::from(v)));
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

    /// Count integer `values` (as `i64`s by `wide`) by their `bits`. Over a range narrower
    /// than their count (dates, quantities, flags, a small table's keys) each distinct value
    /// is first flagged and then counted once: a store per row instead of a hash and a
    /// register update, and the same sketch, since counting a value again changes nothing.
    fn integers<N: Copy>(
        &mut self,
        values: &[N],
        nulls: Option<&NullBuffer>,
        wide: impl Fn(N) -> i64 + Copy,
        bits: impl Fn(i64) -> u64,
    ) {
        let (mut lo, mut hi) = (i64::MAX, i64::MIN);
        each_valid(values, nulls, wide, |v| {
            lo = lo.min(v);
            hi = hi.max(v);
        });
        if lo > hi {
            return;
        }
        let span = hi.abs_diff(lo);
        if span >= values.len() as u64 {
            // A value's bits go to `add` as they are: its finaliser alone mixes every input
            // bit into every output bit (a second mix per value was a third of a load's
            // sketch time).
            each_valid(values, nulls, wide, |v| self.add(bits(v)));
            return;
        }
        // `span` is below the values' count here: a flag byte per value of the span (stores
        // only; a bit per value made each row a read-modify-write of a word its neighbours
        // hit too).
        let mut seen = vec![0u8; span as usize + 1];
        each_valid(values, nulls, wide, |v| {
            if let Some(f) = seen.get_mut(v.abs_diff(lo) as usize) {
                *f = 1;
            }
        });
        for (w, chunk) in seen.chunks(8).enumerate() {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            let mut word = u64::from_le_bytes(word);
            while word != 0 {
                let at = w as u64 * 8 + u64::from(word.trailing_zeros() / 8);
                word &= word - 1;
                self.add(bits(lo.wrapping_add_unsigned(at)));
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
        // Stored either way: a branch on it was mispredicted while the registers fill.
        let r = &mut self.registers[index];
        *r = (*r).max(rank);
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
    use arrow_array::{Date32Array, Int16Array, Int64Array, StringArray};
    use proptest::prelude::*;

    /// The sketch made by hashing every valid value, as the wide-range path does.
    fn hashed(values: &[Option<i64>], bits: impl Fn(i64) -> u64) -> Sketch {
        let mut s = Sketch::default();
        values.iter().flatten().for_each(|&v| s.add(bits(v)));
        s
    }

    proptest! {
        /// Integers over a narrow range, counted through the bitmap, make exactly the sketch
        /// hashing each of them makes: for every integer type, with NULLs, at either end of
        /// the range and around zero.
        #[test]
        fn narrow_integers_sketch_as_every_value_hashed(
            base in prop_oneof![Just(i64::MIN), Just(i64::MAX - 4000), -3000i64..3000, any::<i64>()],
            offsets in prop::collection::vec(prop::option::weighted(0.9, 0i64..4000), 1..300),
        ) {
            let values: Vec<Option<i64>> = offsets
                .iter()
                .map(|o| o.and_then(|o| base.checked_add(o)))
                .collect();
            let bits = |v: i64| v as u64;
            let int64 = Column::Int64(Int64Array::from(values.clone()));
            prop_assert_eq!(Sketch::of(&int64), hashed(&values, bits));
            let numeric = Column::Numeric64 {
                mantissas: Int64Array::from(values.clone()),
                scale: 2,
            };
            prop_assert_eq!(Sketch::of(&numeric), hashed(&values, |v| wide(i128::from(v))));
            let small: Vec<Option<i64>> =
                offsets.iter().map(|o| o.map(|o| (base % 20_000) + o)).collect();
            let as_i16 = small.iter().map(|v| v.and_then(|v| i16::try_from(v).ok()));
            let int16 = Column::Int16(Int16Array::from(as_i16.clone().collect::<Vec<_>>()));
            let widened: Vec<Option<i64>> = as_i16.map(|v| v.map(i64::from)).collect();
            prop_assert_eq!(Sketch::of(&int16), hashed(&widened, bits));
            let as_i32 = small.iter().map(|v| v.map(|v| v as i32));
            let date = Column::Date(Date32Array::from(as_i32.clone().collect::<Vec<_>>()));
            let widened: Vec<Option<i64>> = as_i32.map(|v| v.map(i64::from)).collect();
            prop_assert_eq!(Sketch::of(&date), hashed(&widened, bits));
        }
    }

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
    fn counts_distinct_text_of_every_length() {
        // Shared prefixes and suffixes, values differing in one byte of a long string, lengths
        // on each side of the hash's 8- and 16-byte steps, the empty string.
        let shapes: [fn(u32) -> String; 5] = [
            |i| format!("Customer#{i:09}"),
            |i| format!("{i}"),
            |i| format!("{:>40}|{i:x}|{:<40}", "carefully final deposits", "sleep"),
            |i| "x".repeat((i % 70) as usize) + &format!("{}", i / 70),
            |i| format!("{:08}", i).repeat(3),
        ];
        for shape in shapes {
            let values: Vec<String> = (0..60_000).map(|i| shape(i / 2)).collect();
            let s = Sketch::of(&Column::Text(StringArray::from(values)));
            assert!(within(s.estimate(), 30_000.0), "{}", s.estimate());
        }
        let one = Sketch::of(&Column::Text(StringArray::from(vec![""; 100])));
        assert!(within(one.estimate(), 1.0), "{}", one.estimate());
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
