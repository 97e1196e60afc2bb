//! Instruction counts (gungraun / callgrind) of the vectorized executor's kernels over one
//! 2048-row batch, SIMD path beside scalar path: deterministic, so a regression in a kernel's
//! vectorization shows as a jump in instructions regardless of machine noise.
//!
//! `cargo bench -p omendb-bench --bench kernels_instructions` (needs valgrind and
//! `gungraun-runner` 0.20). Callgrind runs on a CPU model that reports AVX2 when the host has it.

use arrow_buffer::BooleanBuffer;
use gungraun::prelude::*;
use omendb_engine::exec::vector::kernels::Splat;
use omendb_engine::exec::vector::kernels::arith::{ArithOp, int_arith, numeric_arith};
use omendb_engine::exec::vector::kernels::compare::{CmpOp, compare};
use omendb_engine::exec::vector::kernels::select::{selection, selection_scalar};
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

library_benchmark_group!(
    name = kernels,
    benchmarks = [
        selection_scalar_path,
        selection_dispatched_path,
        compare_i32_lt_const,
        add_i32_checked,
        mul_numeric_i128
    ]
);

main!(library_benchmark_groups = kernels);
