//! A register-blocked bloom filter over key hashes ([`super::hash`]): the join filter a hash
//! join's build side hands to the probe side's scan, so rows without a partner are dropped
//! before they are materialised, hashed into the table or sent between shards.
//!
//! Each key touches one 256-bit block (picked by the hash's top 32 bits) and sets one bit in each
//! of the block's eight 32-bit words (the low 32 bits times eight odd constants, top five bits of
//! each product). A probe is then one cache line and, with AVX2, one multiply, one variable
//! shift and one `vptest` per key. About 16 bits per key gives ~0.1% false positives; there are
//! never false negatives (the tests check both). The AVX-512 level runs the AVX2 probe (one key
//! fills exactly one 256-bit register). Never allocates while probing beyond the result bitmap.

use super::Isa;
use arrow_buffer::{BooleanBuffer, MutableBuffer};

/// Bits of filter per expected key.
const BITS_PER_KEY: usize = 16;
const BLOCK_BITS: usize = 256;

/// Odd multipliers, one per word of a block (chosen at random, fixed forever: a filter's layout
/// depends on them).
const SALT: [u32; 8] = [
    0x8F1B_BCDD,
    0x6C07_8965,
    0x9E37_79B1,
    0xC2B2_AE3D,
    0x27D4_EB2F,
    0x1656_67B1,
    0xD351_5A6B,
    0x5BD1_E995,
];

#[derive(Clone, Copy, Default)]
#[repr(C, align(32))]
struct Block([u32; 8]);

/// A bloom filter of 64-bit key hashes.
pub struct Bloom {
    blocks: Vec<Block>,
}

impl Bloom {
    /// A filter sized for about `keys` distinct keys.
    pub fn with_capacity(keys: usize) -> Bloom {
        let blocks = (keys.saturating_mul(BITS_PER_KEY) / BLOCK_BITS).max(1);
        Bloom {
            blocks: vec![Block::default(); blocks],
        }
    }

    /// Memory held, in bytes.
    pub fn bytes(&self) -> usize {
        self.blocks.len() * size_of::<Block>()
    }

    fn block_of(&self, hash: u64) -> usize {
        // Multiply-shift maps the top 32 bits onto 0..blocks without a division.
        (((hash >> 32) * self.blocks.len() as u64) >> 32) as usize
    }

    pub fn insert(&mut self, hash: u64) {
        let b = self.block_of(hash);
        let key = hash as u32;
        for (word, salt) in self.blocks[b].0.iter_mut().zip(SALT) {
            *word |= 1 << (key.wrapping_mul(salt) >> 27);
        }
    }

    pub fn insert_all(&mut self, hashes: &[u64]) {
        for &h in hashes {
            self.insert(h);
        }
    }

    /// False only if `hash` was never inserted.
    pub fn may_contain(&self, hash: u64) -> bool {
        let block = &self.blocks[self.block_of(hash)].0;
        let key = hash as u32;
        block
            .iter()
            .zip(SALT)
            .all(|(word, salt)| word & (1 << (key.wrapping_mul(salt) >> 27)) != 0)
    }

    /// Bit `i` set when `hashes[i]` may be in the filter, on the best path this CPU has.
    pub fn probe(&self, hashes: &[u64]) -> BooleanBuffer {
        self.probe_on(Isa::detect(), hashes)
    }

    /// [`Bloom::probe`] on a chosen path; a path the CPU lacks falls back to scalar.
    pub fn probe_on(&self, isa: Isa, hashes: &[u64]) -> BooleanBuffer {
        let mut buf = MutableBuffer::from_len_zeroed(hashes.len().div_ceil(64) * 8);
        let out = buf.as_slice_mut();
        #[cfg(target_arch = "x86_64")]
        if isa >= Isa::Avx2 && Isa::detect() >= Isa::Avx2 {
            // SAFETY: AVX2 detected; `out` has a bit for every hash.
            unsafe { self.probe_avx2(hashes, out) };
            return BooleanBuffer::new(buf.into(), 0, hashes.len());
        }
        let _ = isa;
        for (i, &h) in hashes.iter().enumerate() {
            out[i / 8] |= u8::from(self.may_contain(h)) << (i % 8);
        }
        BooleanBuffer::new(buf.into(), 0, hashes.len())
    }

    /// # Safety
    /// AVX2; `out` holds at least `hashes.len()` bits.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn probe_avx2(&self, hashes: &[u64], out: &mut [u8]) {
        use std::arch::x86_64::*;
        // SAFETY: SALT is 8 u32s (32 bytes).
        let salt = unsafe { _mm256_loadu_si256(SALT.as_ptr().cast()) };
        let one = _mm256_set1_epi32(1);
        for (i, &h) in hashes.iter().enumerate() {
            let block = &self.blocks[self.block_of(h)];
            // SAFETY: Block is 32-byte aligned and 32 bytes long.
            let words = unsafe { _mm256_load_si256((block as *const Block).cast()) };
            let bits =
                _mm256_srli_epi32::<27>(_mm256_mullo_epi32(_mm256_set1_epi32(h as i32), salt));
            let want = _mm256_sllv_epi32(one, bits);
            // testc: 1 when every wanted bit is set in the block.
            let hit = _mm256_testc_si256(words, want) as u8;
            out[i / 8] |= hit << (i % 8);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::hash::hash_i64;
    use super::*;

    fn hashes(keys: impl Iterator<Item = i64>) -> Vec<u64> {
        let keys: Vec<i64> = keys.collect();
        let mut out = Vec::new();
        hash_i64(&keys, &mut out);
        out
    }

    #[test]
    fn no_false_negatives_and_few_false_positives_on_every_path() {
        let inserted = hashes((0..50_000).map(|i| i * 3));
        let mut bloom = Bloom::with_capacity(inserted.len());
        bloom.insert_all(&inserted);
        let others = hashes((0..50_000).map(|i| i * 3 + 1));
        for isa in Isa::available() {
            let hit = bloom.probe_on(isa, &inserted);
            assert_eq!(
                hit.count_set_bits(),
                inserted.len(),
                "{isa:?}: a false negative"
            );
            let false_pos = bloom.probe_on(isa, &others).count_set_bits();
            // 16 bits per key, 8 bits set per key in a 256-bit block: well under 1%.
            assert!(
                false_pos < others.len() / 100,
                "{isa:?}: {false_pos} false positives"
            );
        }
    }

    #[test]
    fn every_path_gives_the_scalar_answer_bit_for_bit() {
        let inserted = hashes((0..1000).map(|i| i * 7));
        let mut bloom = Bloom::with_capacity(100);
        bloom.insert_all(&inserted);
        for len in [0, 1, 7, 8, 9, 1000, 2051] {
            let probe = hashes((0..len as i64).map(|i| i * 5));
            let want: Vec<bool> = probe.iter().map(|&h| bloom.may_contain(h)).collect();
            for isa in Isa::available() {
                let got: Vec<bool> = bloom.probe_on(isa, &probe).iter().collect();
                assert_eq!(got, want, "{isa:?} len {len}");
            }
        }
    }

    #[test]
    fn an_empty_filter_contains_nothing() {
        let bloom = Bloom::with_capacity(0);
        assert_eq!(bloom.bytes(), 32);
        assert_eq!(bloom.probe(&hashes(0..100)).count_set_bits(), 0);
    }
}
