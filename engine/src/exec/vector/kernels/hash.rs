//! Hashes of integer key columns, a batch at a time, for hash joins, hash aggregates and join
//! filters: the 64-bit finalizer of MurmurHash3 (xor-shift, multiply, xor-shift, multiply,
//! xor-shift), whose output bits all depend on all input bits, so the top bits pick a bloom block
//! and the low bits a bucket.
//!
//! AVX-512DQ multiplies 64-bit lanes natively; AVX2 has only 32×32→64 multiplies, so a 64-bit
//! product by a constant is built from three of them. Every path returns bit-identical hashes
//! (the tests check), so a table built with one path is probed with another. Never allocates
//! beyond the caller's output vector.

use super::Isa;

const K1: u64 = 0xff51_afd7_ed55_8ccd;
const K2: u64 = 0xc4ce_b9fe_1a85_ec53;

/// The hash of one key (what every batch path computes per lane).
#[inline(always)]
pub fn hash_one(key: i64) -> u64 {
    let mut h = key as u64;
    h ^= h >> 33;
    h = h.wrapping_mul(K1);
    h ^= h >> 33;
    h = h.wrapping_mul(K2);
    h ^ (h >> 33)
}

/// The hashes of `keys` into `out` (cleared first), on the best path this CPU has.
pub fn hash_i64(keys: &[i64], out: &mut Vec<u64>) {
    hash_i64_on(Isa::detect(), keys, out)
}

/// The hashes of 32-bit keys, equal to the hashes of the same values as `i64` (an `int` key
/// joins a `bigint` key).
pub fn hash_i32(keys: &[i32], out: &mut Vec<u64>) {
    hash_i32_on(Isa::detect(), keys, out)
}

/// [`hash_i64`] on a chosen path; a path the CPU lacks falls back to scalar.
pub fn hash_i64_on(isa: Isa, keys: &[i64], out: &mut Vec<u64>) {
    out.clear();
    out.reserve(keys.len());
    #[cfg(target_arch = "x86_64")]
    {
        let best = Isa::detect();
        if isa == Isa::Avx512 && best >= Isa::Avx512 {
            // SAFETY: AVX-512F/DQ detected; `out` has room for every key.
            unsafe { x86::i64_avx512(keys, out) };
            return;
        }
        if isa >= Isa::Avx2 && best >= Isa::Avx2 {
            // SAFETY: AVX2 detected; `out` has room for every key.
            unsafe { x86::i64_avx2(keys, out) };
            return;
        }
    }
    let _ = isa;
    out.extend(keys.iter().map(|&k| hash_one(k)));
}

/// [`hash_i32`] on a chosen path; a path the CPU lacks falls back to scalar.
pub fn hash_i32_on(isa: Isa, keys: &[i32], out: &mut Vec<u64>) {
    out.clear();
    out.reserve(keys.len());
    #[cfg(target_arch = "x86_64")]
    {
        let best = Isa::detect();
        if isa == Isa::Avx512 && best >= Isa::Avx512 {
            // SAFETY: AVX-512F/DQ detected; `out` has room for every key.
            unsafe { x86::i32_avx512(keys, out) };
            return;
        }
        if isa >= Isa::Avx2 && best >= Isa::Avx2 {
            // SAFETY: AVX2 detected; `out` has room for every key.
            unsafe { x86::i32_avx2(keys, out) };
            return;
        }
    }
    let _ = isa;
    out.extend(keys.iter().map(|&k| hash_one(i64::from(k))));
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{K1, K2, hash_one};
    use std::arch::x86_64::*;

    /// `a * k` per 64-bit lane with AVX2's 32-bit multiplier:
    /// `lo(a)·lo(k) + ((hi(a)·lo(k) + lo(a)·hi(k)) << 32)` (the `hi·hi` term falls off the top).
    #[inline]
    #[target_feature(enable = "avx2")]
    fn mul64_avx2(a: __m256i, k_lo: __m256i, k_hi: __m256i) -> __m256i {
        let low = _mm256_mul_epu32(a, k_lo);
        let cross = _mm256_add_epi64(
            _mm256_mul_epu32(_mm256_srli_epi64::<32>(a), k_lo),
            _mm256_mul_epu32(a, k_hi),
        );
        _mm256_add_epi64(low, _mm256_slli_epi64::<32>(cross))
    }

    #[inline]
    #[target_feature(enable = "avx2")]
    fn fmix_avx2(mut h: __m256i) -> __m256i {
        let k1 = (
            _mm256_set1_epi64x((K1 & 0xFFFF_FFFF) as i64),
            _mm256_set1_epi64x((K1 >> 32) as i64),
        );
        let k2 = (
            _mm256_set1_epi64x((K2 & 0xFFFF_FFFF) as i64),
            _mm256_set1_epi64x((K2 >> 32) as i64),
        );
        h = _mm256_xor_si256(h, _mm256_srli_epi64::<33>(h));
        h = mul64_avx2(h, k1.0, k1.1);
        h = _mm256_xor_si256(h, _mm256_srli_epi64::<33>(h));
        h = mul64_avx2(h, k2.0, k2.1);
        _mm256_xor_si256(h, _mm256_srli_epi64::<33>(h))
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    fn fmix_avx512(mut h: __m512i) -> __m512i {
        h = _mm512_xor_si512(h, _mm512_srli_epi64::<33>(h));
        h = _mm512_mullo_epi64(h, _mm512_set1_epi64(K1 as i64));
        h = _mm512_xor_si512(h, _mm512_srli_epi64::<33>(h));
        h = _mm512_mullo_epi64(h, _mm512_set1_epi64(K2 as i64));
        _mm512_xor_si512(h, _mm512_srli_epi64::<33>(h))
    }

    /// # Safety
    /// AVX2; `out` is empty with capacity for `keys.len()` hashes.
    #[target_feature(enable = "avx2")]
    pub unsafe fn i64_avx2(keys: &[i64], out: &mut Vec<u64>) {
        let chunks = keys.len() / 4;
        let dst = out.as_mut_ptr();
        for i in 0..chunks {
            // SAFETY: in bounds of `keys` and of `out`'s capacity.
            unsafe {
                let v = _mm256_loadu_si256(keys.as_ptr().add(i * 4).cast());
                _mm256_storeu_si256(dst.add(i * 4).cast(), fmix_avx2(v));
            }
        }
        // SAFETY: the first `chunks * 4` slots were written.
        unsafe { out.set_len(chunks * 4) };
        out.extend(keys[chunks * 4..].iter().map(|&k| hash_one(k)));
    }

    /// # Safety
    /// AVX2; `out` is empty with capacity for `keys.len()` hashes.
    #[target_feature(enable = "avx2")]
    pub unsafe fn i32_avx2(keys: &[i32], out: &mut Vec<u64>) {
        let chunks = keys.len() / 4;
        let dst = out.as_mut_ptr();
        for i in 0..chunks {
            // SAFETY: 4 i32s (16 bytes) in bounds of `keys`; 4 u64s within `out`'s capacity.
            unsafe {
                let v = _mm_loadu_si128(keys.as_ptr().add(i * 4).cast());
                let wide = _mm256_cvtepi32_epi64(v);
                _mm256_storeu_si256(dst.add(i * 4).cast(), fmix_avx2(wide));
            }
        }
        // SAFETY: the first `chunks * 4` slots were written.
        unsafe { out.set_len(chunks * 4) };
        out.extend(keys[chunks * 4..].iter().map(|&k| hash_one(i64::from(k))));
    }

    /// # Safety
    /// AVX-512F/DQ; `out` is empty with capacity for `keys.len()` hashes.
    #[target_feature(enable = "avx512f,avx512dq")]
    pub unsafe fn i64_avx512(keys: &[i64], out: &mut Vec<u64>) {
        let chunks = keys.len() / 8;
        let dst = out.as_mut_ptr();
        for i in 0..chunks {
            // SAFETY: in bounds of `keys` and of `out`'s capacity.
            unsafe {
                let v = _mm512_loadu_si512(keys.as_ptr().add(i * 8).cast());
                _mm512_storeu_si512(dst.add(i * 8).cast(), fmix_avx512(v));
            }
        }
        // SAFETY: the first `chunks * 8` slots were written.
        unsafe { out.set_len(chunks * 8) };
        out.extend(keys[chunks * 8..].iter().map(|&k| hash_one(k)));
    }

    /// # Safety
    /// AVX-512F/DQ; `out` is empty with capacity for `keys.len()` hashes.
    #[target_feature(enable = "avx512f,avx512dq")]
    pub unsafe fn i32_avx512(keys: &[i32], out: &mut Vec<u64>) {
        let chunks = keys.len() / 8;
        let dst = out.as_mut_ptr();
        for i in 0..chunks {
            // SAFETY: 8 i32s (32 bytes) in bounds of `keys`; 8 u64s within `out`'s capacity.
            unsafe {
                let v = _mm256_loadu_si256(keys.as_ptr().add(i * 8).cast());
                let wide = _mm512_cvtepi32_epi64(v);
                _mm512_storeu_si512(dst.add(i * 8).cast(), fmix_avx512(wide));
            }
        }
        // SAFETY: the first `chunks * 8` slots were written.
        unsafe { out.set_len(chunks * 8) };
        out.extend(keys[chunks * 8..].iter().map(|&k| hash_one(i64::from(k))));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_gives_the_scalar_hashes() {
        for len in [0, 1, 3, 4, 5, 8, 9, 17, 2048, 2051] {
            let keys: Vec<i64> = (0..len as i64)
                .map(|i| match i % 5 {
                    0 => i64::MIN + i,
                    1 => -i,
                    _ => i.wrapping_mul(0x5851_F42D_4C95_7F2D),
                })
                .collect();
            let narrow: Vec<i32> = keys.iter().map(|&k| k as i32).collect();
            let want: Vec<u64> = keys.iter().map(|&k| hash_one(k)).collect();
            let want32: Vec<u64> = narrow.iter().map(|&k| hash_one(i64::from(k))).collect();
            let mut out = Vec::new();
            for isa in Isa::available() {
                hash_i64_on(isa, &keys, &mut out);
                assert_eq!(out, want, "i64 {isa:?} len {len}");
                hash_i32_on(isa, &narrow, &mut out);
                assert_eq!(out, want32, "i32 {isa:?} len {len}");
            }
        }
    }

    #[test]
    fn int_and_bigint_keys_of_one_value_hash_alike() {
        let mut a = Vec::new();
        let mut b = Vec::new();
        hash_i32(&[-7, 0, 42, i32::MAX, i32::MIN], &mut a);
        hash_i64(
            &[-7, 0, 42, i64::from(i32::MAX), i64::from(i32::MIN)],
            &mut b,
        );
        assert_eq!(a, b);
    }

    #[test]
    fn sequential_keys_spread_over_the_top_bits() {
        // Dense keys (order keys) must not pile into few bloom blocks or buckets.
        let keys: Vec<i64> = (0..4096).collect();
        let mut out = Vec::new();
        hash_i64(&keys, &mut out);
        let mut buckets = [0u32; 64];
        for h in &out {
            buckets[(h >> 58) as usize] += 1;
        }
        assert!(
            buckets.iter().all(|&n| (32..=96).contains(&n)),
            "{buckets:?}"
        );
    }
}
