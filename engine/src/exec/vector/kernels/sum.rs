//! Exact sums of 64-bit integers (bigint columns, decimals whose mantissas fit 64 bits) into an
//! `i128`, over a whole slice or over the rows a filter bitmap keeps — the inner loop of an
//! ungrouped `sum` and of a filter fused into an aggregate.
//!
//! SIMD lanes cannot carry 128-bit sums, so each value is split: `x = hi·2³² + lo` with `lo` its
//! low 32 bits (unsigned) and `hi` its high 32 bits (signed). Lanes add `lo`s and `hi`s into
//! 64-bit accumulators, which cannot overflow for fewer than 2³¹ values per lane, and the halves
//! are joined in 128 bits at the end. AVX2 lacks a 64-bit arithmetic shift, so its `hi` is the
//! unsigned top half and the sign is put back from a count of negative values.
//!
//! Never allocates; every path returns exactly the scalar sum (the tests check all of them).

use super::Isa;
use arrow_buffer::BooleanBuffer;

/// Lane accumulators stay exact for this many values per call of a block loop.
const BLOCK: usize = 1 << 30;

/// `Σ values` exactly, on the best path this CPU has.
pub fn sum_i64(values: &[i64]) -> i128 {
    sum_i64_on(Isa::detect(), values)
}

/// `Σ values[i]` over the set bits of `mask` (`mask.len() == values.len()`), best path.
pub fn sum_i64_masked(values: &[i64], mask: &BooleanBuffer) -> i128 {
    sum_i64_masked_on(Isa::detect(), values, mask)
}

/// [`sum_i64`] on a chosen path; a path the CPU lacks falls back to scalar.
pub fn sum_i64_on(isa: Isa, values: &[i64]) -> i128 {
    let best = Isa::detect();
    values
        .chunks(BLOCK)
        .map(|block| {
            #[cfg(target_arch = "x86_64")]
            {
                if isa == Isa::Avx512 && best >= Isa::Avx512 {
                    // SAFETY: AVX-512F detected.
                    return unsafe { x86::sum_avx512(block, None) };
                }
                if isa >= Isa::Avx2 && best >= Isa::Avx2 {
                    // SAFETY: AVX2 detected.
                    return unsafe { x86::sum_avx2(block, None) };
                }
            }
            let _ = (isa, best);
            block.iter().map(|&x| i128::from(x)).sum::<i128>()
        })
        .sum()
}

/// [`sum_i64_masked`] on a chosen path; a path the CPU lacks falls back to scalar.
pub fn sum_i64_masked_on(isa: Isa, values: &[i64], mask: &BooleanBuffer) -> i128 {
    assert_eq!(values.len(), mask.len(), "one mask bit per value");
    #[cfg(target_arch = "x86_64")]
    if mask.offset() == 0 && values.len() <= BLOCK {
        let best = Isa::detect();
        let bits = &mask.values()[..values.len().div_ceil(8)];
        if isa == Isa::Avx512 && best >= Isa::Avx512 {
            // SAFETY: AVX-512F detected; `bits` covers every value.
            return unsafe { x86::sum_avx512(values, Some(bits)) };
        }
        if isa >= Isa::Avx2 && best >= Isa::Avx2 {
            // SAFETY: AVX2 detected; `bits` covers every value.
            return unsafe { x86::sum_avx2(values, Some(bits)) };
        }
    }
    let _ = isa;
    mask.set_indices().map(|i| i128::from(values[i])).sum()
}

/// Joins the split halves: `Σx = (Σhi)·2³² + Σlo`.
#[cfg(target_arch = "x86_64")]
fn join(hi: i128, lo: u128) -> i128 {
    (hi << 32) + lo as i128
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::join;
    use std::arch::x86_64::*;

    /// Whether row `i` is kept: no mask keeps all.
    #[inline(always)]
    fn kept(mask: Option<&[u8]>, i: usize) -> bool {
        mask.is_none_or(|m| m[i / 8] & (1 << (i % 8)) != 0)
    }

    fn lanes(v: __m256i) -> [u64; 4] {
        // SAFETY: __m256i and [u64; 4] have the same size; every bit pattern is a valid u64.
        unsafe { std::mem::transmute(v) }
    }

    /// # Safety
    /// The CPU must support AVX2; `mask`, when given, has a bit for every value.
    #[target_feature(enable = "avx2")]
    pub unsafe fn sum_avx2(values: &[i64], mask: Option<&[u8]>) -> i128 {
        // For a 4-bit group of mask bits, the lanes to keep (all ones) and to drop (zero).
        static NIBBLE: [[i64; 4]; 16] = {
            let mut t = [[0i64; 4]; 16];
            let mut n = 0;
            while n < 16 {
                let mut lane = 0;
                while lane < 4 {
                    if n & (1 << lane) != 0 {
                        t[n][lane] = -1;
                    }
                    lane += 1;
                }
                n += 1;
            }
            t
        };
        let low32 = _mm256_set1_epi64x(0xFFFF_FFFF);
        let zero = _mm256_setzero_si256();
        let (mut lo, mut hi, mut neg) = (zero, zero, zero);
        let chunks = values.len() / 4;
        for i in 0..chunks {
            // SAFETY: `i * 4 + 4 <= values.len()`; unaligned loads are allowed.
            let mut v = unsafe { _mm256_loadu_si256(values.as_ptr().add(i * 4).cast()) };
            if let Some(m) = mask {
                let nibble = (m[i / 2] >> ((i % 2) * 4)) & 0xF;
                // SAFETY: each table row is 4 i64s (32 bytes).
                let keep = unsafe { _mm256_loadu_si256(NIBBLE[nibble as usize].as_ptr().cast()) };
                v = _mm256_and_si256(v, keep);
            }
            lo = _mm256_add_epi64(lo, _mm256_and_si256(v, low32));
            hi = _mm256_add_epi64(hi, _mm256_srli_epi64::<32>(v));
            // -1 in each lane holding a negative value.
            neg = _mm256_add_epi64(neg, _mm256_cmpgt_epi64(zero, v));
        }
        let lo: u128 = lanes(lo).iter().map(|&x| u128::from(x)).sum();
        let hi: i128 = lanes(hi).iter().map(|&x| i128::from(x)).sum();
        let neg: i128 = lanes(neg).iter().map(|&x| i128::from(x as i64)).sum();
        // The unsigned top half of a negative value is 2³² too large: `neg` is minus their count.
        let mut total = join(hi + (neg << 32), lo);
        for (i, &x) in values.iter().enumerate().skip(chunks * 4) {
            if kept(mask, i) {
                total += i128::from(x);
            }
        }
        total
    }

    /// # Safety
    /// The CPU must support AVX-512F; `mask`, when given, has a bit for every value.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn sum_avx512(values: &[i64], mask: Option<&[u8]>) -> i128 {
        let low32 = _mm512_set1_epi64(0xFFFF_FFFF);
        let (mut lo, mut hi) = (_mm512_setzero_si512(), _mm512_setzero_si512());
        let chunks = values.len() / 8;
        for i in 0..chunks {
            // SAFETY: `i * 8 + 8 <= values.len()`; unaligned loads are allowed.
            let v = unsafe { _mm512_loadu_si512(values.as_ptr().add(i * 8).cast()) };
            let keep = mask.map_or(0xFF, |m| m[i]);
            lo = _mm512_mask_add_epi64(lo, keep, lo, _mm512_and_si512(v, low32));
            hi = _mm512_mask_add_epi64(hi, keep, hi, _mm512_srai_epi64::<32>(v));
        }
        let mut lo_l = [0u64; 8];
        let mut hi_l = [0i64; 8];
        // SAFETY: both arrays are 64 bytes, the width of one register.
        unsafe {
            _mm512_storeu_si512(lo_l.as_mut_ptr().cast(), lo);
            _mm512_storeu_si512(hi_l.as_mut_ptr().cast(), hi);
        }
        let lo: u128 = lo_l.iter().map(|&x| u128::from(x)).sum();
        let hi: i128 = hi_l.iter().map(|&x| i128::from(x)).sum();
        let mut total = join(hi, lo);
        for (i, &x) in values.iter().enumerate().skip(chunks * 8) {
            if kept(mask, i) {
                total += i128::from(x);
            }
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(len: usize, seed: u64) -> Vec<i64> {
        let mut x = seed | 1;
        (0..len)
            .map(|i| match i % 11 {
                0 => i64::MIN,
                1 => i64::MAX,
                2 => -1,
                _ => {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as i64
                }
            })
            .collect()
    }

    #[test]
    fn every_path_sums_exactly() {
        for len in [0, 1, 3, 4, 5, 7, 8, 9, 31, 64, 2048, 2051] {
            let v = values(len, len as u64 + 3);
            let want: i128 = v.iter().map(|&x| i128::from(x)).sum();
            for isa in Isa::available() {
                assert_eq!(sum_i64_on(isa, &v), want, "{isa:?} len {len}");
            }
        }
    }

    #[test]
    fn every_path_sums_exactly_under_a_mask() {
        for len in [0, 1, 4, 8, 9, 63, 64, 65, 2048, 2051] {
            let v = values(len, 99);
            for density in [0u64, 3, 50, 97, 100] {
                let mut x = 12345u64;
                let mask = BooleanBuffer::collect_bool(len, |_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x % 100 < density
                });
                let want: i128 = mask.set_indices().map(|i| i128::from(v[i])).sum();
                for isa in Isa::available() {
                    assert_eq!(
                        sum_i64_masked_on(isa, &v, &mask),
                        want,
                        "{isa:?} len {len} density {density}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_sliced_mask_is_honoured() {
        let v = values(100, 5);
        let full = BooleanBuffer::collect_bool(103, |i| i % 3 == 0);
        let mask = full.slice(3, 100);
        let want: i128 = mask.set_indices().map(|i| i128::from(v[i])).sum();
        assert_eq!(sum_i64_masked(&v, &mask), want);
    }
}
