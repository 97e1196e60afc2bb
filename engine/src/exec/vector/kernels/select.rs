//! Selection vectors: the positions of the set bits of a filter's bitmap.
//!
//! The scalar path walks 64-bit words with trailing-zero counts; LLVM cannot vectorize that
//! compaction, so an AVX2 path expands one bitmap byte at a time through a 256-entry table of
//! lane offsets (one unaligned 8-lane store per byte, advancing by its popcount).

use arrow_buffer::BooleanBuffer;

/// Positions of the set bits of `mask`, ascending, into `out`.
pub fn selection(mask: &BooleanBuffer, out: &mut Vec<u32>) {
    let len = mask.len();
    if mask.offset() != 0 {
        out.clear();
        out.extend(mask.set_indices_u32());
        return;
    }
    let bytes = &mask.values()[..len.div_ceil(8)];
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2 (checked just above).
        unsafe { avx2::selection(bytes, len, out) };
        return;
    }
    selection_scalar(bytes, len, out);
}

/// The portable path (also what the tests compare the AVX2 path with).
pub fn selection_scalar(bytes: &[u8], len: usize, out: &mut Vec<u32>) {
    out.clear();
    for (w, chunk) in bytes.chunks(8).enumerate() {
        let mut word_bytes = [0u8; 8];
        word_bytes[..chunk.len()].copy_from_slice(chunk);
        let mut word = u64::from_le_bytes(word_bytes);
        let base = w * 64;
        if base + 64 > len {
            let keep = len - base;
            word &= (1u64 << keep) - 1;
        }
        while word != 0 {
            out.push((base + word.trailing_zeros() as usize) as u32);
            word &= word - 1;
        }
    }
}

#[cfg(target_arch = "x86_64")]
pub mod avx2 {
    use std::arch::x86_64::{
        __m256i, _mm256_add_epi32, _mm256_loadu_si256, _mm256_set1_epi32, _mm256_storeu_si256,
    };

    /// `OFFSETS[b]` lists the positions of the set bits of byte `b`, padded with zeros.
    static OFFSETS: [[u32; 8]; 256] = {
        let mut t = [[0u32; 8]; 256];
        let mut b = 0;
        while b < 256 {
            let (mut bit, mut n) = (0, 0);
            while bit < 8 {
                if b & (1 << bit) != 0 {
                    t[b][n] = bit as u32;
                    n += 1;
                }
                bit += 1;
            }
            b += 1;
        }
        t
    };

    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    pub unsafe fn selection(bytes: &[u8], len: usize, out: &mut Vec<u32>) {
        const LANES: usize = 8;
        out.clear();
        // Every store writes 8 lanes even when fewer bits are set: keep room for the last one.
        out.reserve(len + LANES);
        let ptr = out.as_mut_ptr();
        let mut n = 0usize;
        for (i, &byte) in bytes.iter().enumerate() {
            let base = i * 8;
            let byte = if base + 8 > len {
                byte & ((1u16 << (len - base)) - 1) as u8
            } else {
                byte
            };
            // SAFETY: OFFSETS rows are 8 u32s (32 bytes); `n + 8 <= len + 8 <= capacity`, so the
            // unaligned store stays inside the allocation.
            unsafe {
                let lanes = _mm256_loadu_si256(OFFSETS[byte as usize].as_ptr().cast::<__m256i>());
                let v = _mm256_add_epi32(lanes, _mm256_set1_epi32(base as i32));
                _mm256_storeu_si256(ptr.add(n).cast::<__m256i>(), v);
            }
            n += byte.count_ones() as usize;
        }
        // SAFETY: the first `n` lanes were written above and `n <= len <= capacity`.
        unsafe { out.set_len(n) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pseudo_random_mask(len: usize, density_per_256: u32, seed: u64) -> BooleanBuffer {
        let mut x = seed | 1;
        BooleanBuffer::collect_bool(len, |_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % 256) < u64::from(density_per_256)
        })
    }

    #[test]
    fn scalar_and_avx2_agree_with_set_indices() {
        for len in [0, 1, 7, 8, 9, 63, 64, 65, 1000, 2048] {
            for density in [0, 1, 128, 255, 256] {
                let mask = pseudo_random_mask(len, density, len as u64 + 7);
                let expected: Vec<u32> = mask.set_indices_u32().collect();
                let bytes = &mask.values()[..len.div_ceil(8)];
                let mut out = Vec::new();
                selection_scalar(bytes, len, &mut out);
                assert_eq!(out, expected, "scalar len {len}");
                #[cfg(target_arch = "x86_64")]
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: AVX2 detected.
                    unsafe { avx2::selection(bytes, len, &mut out) };
                    assert_eq!(out, expected, "avx2 len {len}");
                }
                selection(&mask, &mut out);
                assert_eq!(out, expected);
            }
        }
    }
}
