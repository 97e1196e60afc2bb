//! A column compared with a constant — the shape of almost every scan filter (`l_shipdate <=
//! date '…'`, `l_quantity < 24`) — for 32- and 64-bit integers (dates and timestamps are
//! integers here), with explicit SIMD paths: AVX-512 (one mask register per 16 or 8 lanes, all
//! six orderings native) and AVX2 (compare, then `movemask` gathers the lane signs into bits),
//! chosen at run time, and the portable [`compare`](super::compare::compare) loop as fallback.
//!
//! Every path writes the same packed bitmap, bit `i` for row `i`, so callers cannot tell them
//! apart (the tests run all of them against the scalar one). Never allocates beyond the result.

use super::compare::{CmpOp, compare};
use super::{Isa, Splat};
use arrow_buffer::{BooleanBuffer, MutableBuffer};

/// `a[i] op c` for every row of `a`, on the best path this CPU has.
pub fn i32_const(op: CmpOp, a: &[i32], c: i32) -> BooleanBuffer {
    i32_const_on(Isa::detect(), op, a, c)
}

/// `a[i] op c` for every row of `a`, on the best path this CPU has.
pub fn i64_const(op: CmpOp, a: &[i64], c: i64) -> BooleanBuffer {
    i64_const_on(Isa::detect(), op, a, c)
}

/// [`i32_const`] on a chosen path; a path the CPU lacks falls back to scalar.
pub fn i32_const_on(isa: Isa, op: CmpOp, a: &[i32], c: i32) -> BooleanBuffer {
    #[cfg(target_arch = "x86_64")]
    {
        let best = Isa::detect();
        if isa == Isa::Avx512 && best >= Isa::Avx512 {
            // SAFETY: AVX-512F/BW detected just above.
            return unsafe { x86::i32_avx512(op, a, c) };
        }
        if isa >= Isa::Avx2 && best >= Isa::Avx2 {
            // SAFETY: AVX2 detected just above.
            return unsafe { x86::i32_avx2(op, a, c) };
        }
    }
    let _ = isa;
    compare(op, a, Splat(c), a.len())
}

/// [`i64_const`] on a chosen path; a path the CPU lacks falls back to scalar.
pub fn i64_const_on(isa: Isa, op: CmpOp, a: &[i64], c: i64) -> BooleanBuffer {
    #[cfg(target_arch = "x86_64")]
    {
        let best = Isa::detect();
        if isa == Isa::Avx512 && best >= Isa::Avx512 {
            // SAFETY: AVX-512F/BW detected just above.
            return unsafe { x86::i64_avx512(op, a, c) };
        }
        if isa >= Isa::Avx2 && best >= Isa::Avx2 {
            // SAFETY: AVX2 detected just above.
            return unsafe { x86::i64_avx2(op, a, c) };
        }
    }
    let _ = isa;
    compare(op, a, Splat(c), a.len())
}

/// The bitmap's bytes, zeroed, padded to whole 64-bit words as Arrow likes them.
fn bitmap(len: usize) -> MutableBuffer {
    MutableBuffer::from_len_zeroed(len.div_ceil(64) * 8)
}

/// Sets the bits of rows `from..len` (the tail a vector loop left) with the scalar predicate.
fn tail<T: Copy + PartialOrd>(op: CmpOp, a: &[T], c: T, from: usize, out: &mut [u8]) {
    for (i, &x) in a.iter().enumerate().skip(from) {
        let hit = match op {
            CmpOp::Eq => x == c,
            CmpOp::NotEq => x != c,
            CmpOp::Lt => x < c,
            CmpOp::LtEq => x <= c,
            CmpOp::Gt => x > c,
            CmpOp::GtEq => x >= c,
        };
        out[i / 8] |= u8::from(hit) << (i % 8);
    }
}

/// AVX2 has only `==` and `>`: the other four are one of them with swapped operands and/or the
/// result inverted.
#[derive(Clone, Copy)]
enum Base {
    Eq,
    /// lane > constant
    Gt,
    /// constant > lane
    Lt,
}

fn base(op: CmpOp) -> (Base, bool) {
    match op {
        CmpOp::Eq => (Base::Eq, false),
        CmpOp::NotEq => (Base::Eq, true),
        CmpOp::Gt => (Base::Gt, false),
        CmpOp::LtEq => (Base::Gt, true),
        CmpOp::Lt => (Base::Lt, false),
        CmpOp::GtEq => (Base::Lt, true),
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{Base, CmpOp, base, bitmap, tail};
    use arrow_buffer::BooleanBuffer;
    use std::arch::x86_64::*;

    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    pub unsafe fn i32_avx2(op: CmpOp, a: &[i32], c: i32) -> BooleanBuffer {
        const LANES: usize = 8;
        let (base, invert) = base(op);
        let flip = if invert { 0xFF } else { 0 };
        let mut buf = bitmap(a.len());
        let out = buf.as_slice_mut();
        let cv = _mm256_set1_epi32(c);
        let chunks = a.len() / LANES;
        for (i, byte) in out.iter_mut().enumerate().take(chunks) {
            // SAFETY: `i * 8 + 8 <= a.len()`; unaligned loads are allowed.
            let v = unsafe { _mm256_loadu_si256(a.as_ptr().add(i * LANES).cast()) };
            let m = match base {
                Base::Eq => _mm256_cmpeq_epi32(v, cv),
                Base::Gt => _mm256_cmpgt_epi32(v, cv),
                Base::Lt => _mm256_cmpgt_epi32(cv, v),
            };
            *byte = (_mm256_movemask_ps(_mm256_castsi256_ps(m)) as u8) ^ flip;
        }
        tail(op, a, c, chunks * LANES, out);
        BooleanBuffer::new(buf.into(), 0, a.len())
    }

    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    pub unsafe fn i64_avx2(op: CmpOp, a: &[i64], c: i64) -> BooleanBuffer {
        const LANES: usize = 8;
        let (base, invert) = base(op);
        let flip = if invert { 0xFF } else { 0 };
        let mut buf = bitmap(a.len());
        let out = buf.as_slice_mut();
        let cv = _mm256_set1_epi64x(c);
        let cmp = |v: __m256i| match base {
            Base::Eq => _mm256_cmpeq_epi64(v, cv),
            Base::Gt => _mm256_cmpgt_epi64(v, cv),
            Base::Lt => _mm256_cmpgt_epi64(cv, v),
        };
        // Two 4-lane registers make one output byte.
        let chunks = a.len() / LANES;
        for (i, byte) in out.iter_mut().enumerate().take(chunks) {
            // SAFETY: `i * 8 + 8 <= a.len()`; unaligned loads are allowed.
            let (lo, hi) = unsafe {
                let p = a.as_ptr().add(i * LANES);
                (
                    _mm256_loadu_si256(p.cast()),
                    _mm256_loadu_si256(p.add(4).cast()),
                )
            };
            let lo = _mm256_movemask_pd(_mm256_castsi256_pd(cmp(lo))) as u8;
            let hi = _mm256_movemask_pd(_mm256_castsi256_pd(cmp(hi))) as u8;
            *byte = (lo | hi << 4) ^ flip;
        }
        tail(op, a, c, chunks * LANES, out);
        BooleanBuffer::new(buf.into(), 0, a.len())
    }

    /// # Safety
    /// The CPU must support AVX-512F and AVX-512BW.
    #[target_feature(enable = "avx512f,avx512bw")]
    pub unsafe fn i32_avx512(op: CmpOp, a: &[i32], c: i32) -> BooleanBuffer {
        const LANES: usize = 16;
        let mut buf = bitmap(a.len());
        let out = buf.as_slice_mut();
        let cv = _mm512_set1_epi32(c);
        let chunks = a.len() / LANES;
        macro_rules! run {
            ($pred:ident) => {
                for i in 0..chunks {
                    // SAFETY: `i * 16 + 16 <= a.len()`; unaligned loads are allowed.
                    let v = unsafe { _mm512_loadu_si512(a.as_ptr().add(i * LANES).cast()) };
                    let m = _mm512_cmp_epi32_mask::<$pred>(v, cv);
                    out[i * 2..i * 2 + 2].copy_from_slice(&m.to_le_bytes());
                }
            };
        }
        match op {
            CmpOp::Eq => run!(_MM_CMPINT_EQ),
            CmpOp::NotEq => run!(_MM_CMPINT_NE),
            CmpOp::Lt => run!(_MM_CMPINT_LT),
            CmpOp::LtEq => run!(_MM_CMPINT_LE),
            CmpOp::Gt => run!(_MM_CMPINT_NLE),
            CmpOp::GtEq => run!(_MM_CMPINT_NLT),
        }
        tail(op, a, c, chunks * LANES, out);
        BooleanBuffer::new(buf.into(), 0, a.len())
    }

    /// # Safety
    /// The CPU must support AVX-512F and AVX-512BW.
    #[target_feature(enable = "avx512f,avx512bw")]
    pub unsafe fn i64_avx512(op: CmpOp, a: &[i64], c: i64) -> BooleanBuffer {
        const LANES: usize = 8;
        let mut buf = bitmap(a.len());
        let out = buf.as_slice_mut();
        let cv = _mm512_set1_epi64(c);
        let chunks = a.len() / LANES;
        macro_rules! run {
            ($pred:ident) => {
                for i in 0..chunks {
                    // SAFETY: `i * 8 + 8 <= a.len()`; unaligned loads are allowed.
                    let v = unsafe { _mm512_loadu_si512(a.as_ptr().add(i * LANES).cast()) };
                    out[i] = _mm512_cmp_epi64_mask::<$pred>(v, cv);
                }
            };
        }
        match op {
            CmpOp::Eq => run!(_MM_CMPINT_EQ),
            CmpOp::NotEq => run!(_MM_CMPINT_NE),
            CmpOp::Lt => run!(_MM_CMPINT_LT),
            CmpOp::LtEq => run!(_MM_CMPINT_LE),
            CmpOp::Gt => run!(_MM_CMPINT_NLE),
            CmpOp::GtEq => run!(_MM_CMPINT_NLT),
        }
        tail(op, a, c, chunks * LANES, out);
        BooleanBuffer::new(buf.into(), 0, a.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPS: [CmpOp; 6] = [
        CmpOp::Eq,
        CmpOp::NotEq,
        CmpOp::Lt,
        CmpOp::LtEq,
        CmpOp::Gt,
        CmpOp::GtEq,
    ];

    fn values(len: usize) -> Vec<i64> {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        (0..len)
            .map(|i| match i % 7 {
                // Extremes and the constant itself, where an off-by-one in a path would show.
                0 => i64::MIN,
                1 => i64::MAX,
                2 => 5,
                _ => {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (x % 21) as i64 - 5
                }
            })
            .collect()
    }

    #[test]
    fn every_path_matches_scalar_for_every_operator_and_length() {
        for len in [0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 2048, 2049] {
            let v64 = values(len);
            let v32: Vec<i32> = v64.iter().map(|&x| x.clamp(-100, 100) as i32).collect();
            for op in OPS {
                let want64: Vec<bool> = compare(op, &v64[..], Splat(5i64), len).iter().collect();
                let want32: Vec<bool> = compare(op, &v32[..], Splat(5i32), len).iter().collect();
                for isa in Isa::available() {
                    let got: Vec<bool> = i64_const_on(isa, op, &v64, 5).iter().collect();
                    assert_eq!(got, want64, "i64 {op:?} {isa:?} len {len}");
                    let got: Vec<bool> = i32_const_on(isa, op, &v32, 5).iter().collect();
                    assert_eq!(got, want32, "i32 {op:?} {isa:?} len {len}");
                }
            }
        }
    }

    #[test]
    fn extremes_as_the_constant() {
        let v: Vec<i64> = vec![i64::MIN, -1, 0, 1, i64::MAX, i64::MIN, i64::MAX, 0, 3];
        for c in [i64::MIN, i64::MAX, 0] {
            for op in OPS {
                let want: Vec<bool> = compare(op, &v[..], Splat(c), v.len()).iter().collect();
                for isa in Isa::available() {
                    let got: Vec<bool> = i64_const_on(isa, op, &v, c).iter().collect();
                    assert_eq!(got, want, "{op:?} {c} {isa:?}");
                }
            }
        }
    }
}
