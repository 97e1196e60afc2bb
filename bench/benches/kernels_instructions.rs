//! Instruction counts (gungraun / callgrind) of the vectorized executor's kernels over one
//! 2048-row batch, SIMD path beside scalar path: deterministic, so a regression in a kernel's
//! vectorization shows as a jump in instructions regardless of machine noise.
//!
//! `cargo bench -p omendb-bench --bench kernels_instructions` (needs valgrind and
//! `gungraun-runner` 0.20). Callgrind runs on a CPU model that reports AVX2 when the host has it.

use arrow_buffer::BooleanBuffer;
use gungraun::prelude::*;
use omendb_engine::exec::vector::kernels::arith::{ArithOp, int_arith, numeric_arith};
use omendb_engine::exec::vector::kernels::bloom::Bloom;
use omendb_engine::exec::vector::kernels::compare::{CmpOp, compare};
use omendb_engine::exec::vector::kernels::compare_const::{i32_const_on, i64_const_on};
use omendb_engine::exec::vector::kernels::hash::{hash_i64, hash_i64_on};
use omendb_engine::exec::vector::kernels::select::{selection, selection_scalar};
use omendb_engine::exec::vector::kernels::sum::{sum_i64_masked_on, sum_i64_on};
use omendb_engine::exec::vector::kernels::{Isa, Splat};
use std::hint::black_box;

mod kernels_common;
use kernels_common::*;

fn half_mask() -> BooleanBuffer {
    mask(50)
}

#[library_benchmark]
#[bench::half(setup = half_mask)]
fn selection_scalar_path(m: BooleanBuffer) -> usize {
    let mut out = Vec::with_capacity(ROWS + 8);
    selection_scalar(black_box(&m.values()[..ROWS / 8]), ROWS, &mut out);
    out.len()
}

#[library_benchmark]
#[bench::half(setup = half_mask)]
fn selection_dispatched_path(m: BooleanBuffer) -> usize {
    let mut out = Vec::with_capacity(ROWS + 8);
    selection(black_box(&m), &mut out);
    out.len()
}

#[library_benchmark]
#[bench::batch(setup = ints)]
fn compare_i32_lt_const(v: Vec<i32>) -> usize {
    compare(CmpOp::Lt, black_box(&v[..]), Splat(1234), ROWS).count_set_bits()
}

#[library_benchmark]
#[bench::batch(setup = ints)]
fn add_i32_checked(v: Vec<i32>) -> bool {
    let mut out = Vec::with_capacity(ROWS);
    int_arith(ArithOp::Add, black_box(&v[..]), &v[..], ROWS, &mut out)
}

#[library_benchmark]
#[bench::batch(setup = mantissas)]
fn mul_numeric_i128(m: Vec<i128>) -> bool {
    let mut out = Vec::with_capacity(ROWS);
    numeric_arith(
        ArithOp::Mul,
        (black_box(&m[..]), 1),
        (Splat(100i128), 1),
        ROWS,
        &mut out,
    )
}

/// The explicit SIMD kernels, one benchmark per path: `Isa::Scalar`, `Avx2`, `Avx512` (a path the
/// CPU lacks runs scalar, so its count equals the scalar one).
#[library_benchmark]
#[bench::scalar(Isa::Scalar, ints())]
#[bench::avx2(Isa::Avx2, ints())]
#[bench::avx512(Isa::Avx512, ints())]
fn simd_compare_i32(isa: Isa, v: Vec<i32>) -> usize {
    i32_const_on(isa, CmpOp::Lt, black_box(&v), 1234).count_set_bits()
}

#[library_benchmark]
#[bench::scalar(Isa::Scalar, longs())]
#[bench::avx2(Isa::Avx2, longs())]
#[bench::avx512(Isa::Avx512, longs())]
fn simd_compare_i64(isa: Isa, v: Vec<i64>) -> usize {
    i64_const_on(isa, CmpOp::GtEq, black_box(&v), 1234).count_set_bits()
}

#[library_benchmark]
#[bench::scalar(Isa::Scalar, longs())]
#[bench::avx2(Isa::Avx2, longs())]
#[bench::avx512(Isa::Avx512, longs())]
fn simd_sum_i64(isa: Isa, v: Vec<i64>) -> i128 {
    sum_i64_on(isa, black_box(&v))
}

#[library_benchmark]
#[bench::scalar(Isa::Scalar, longs())]
#[bench::avx2(Isa::Avx2, longs())]
#[bench::avx512(Isa::Avx512, longs())]
fn simd_sum_i64_masked(isa: Isa, v: Vec<i64>) -> i128 {
    sum_i64_masked_on(isa, black_box(&v), &half_mask())
}

#[library_benchmark]
#[bench::scalar(Isa::Scalar, longs())]
#[bench::avx2(Isa::Avx2, longs())]
#[bench::avx512(Isa::Avx512, longs())]
fn simd_hash_i64(isa: Isa, v: Vec<i64>) -> usize {
    let mut out = Vec::with_capacity(ROWS);
    hash_i64_on(isa, black_box(&v), &mut out);
    out.len()
}

fn bloom_and_probe() -> (Bloom, Vec<u64>) {
    let (build, probe) = join_keys(1 << 16);
    let mut hashes = Vec::new();
    hash_i64(&build, &mut hashes);
    let mut bloom = Bloom::with_capacity(build.len());
    bloom.insert_all(&hashes);
    hash_i64(&probe, &mut hashes);
    (bloom, hashes)
}

#[library_benchmark]
#[bench::scalar(Isa::Scalar, bloom_and_probe())]
#[bench::avx2(Isa::Avx2, bloom_and_probe())]
fn simd_bloom_probe(isa: Isa, (bloom, hashes): (Bloom, Vec<u64>)) -> usize {
    bloom.probe_on(isa, black_box(&hashes)).count_set_bits()
}

library_benchmark_group!(
    name = kernels,
    benchmarks = [
        selection_scalar_path,
        selection_dispatched_path,
        compare_i32_lt_const,
        add_i32_checked,
        mul_numeric_i128,
        simd_compare_i32,
        simd_compare_i64,
        simd_sum_i64,
        simd_sum_i64_masked,
        simd_hash_i64,
        simd_bloom_probe
    ]
);

main!(library_benchmark_groups = kernels);
