//! Wall-clock (criterion) benchmarks of the vectorized executor's kernels over one 2048-row
//! batch: the AVX2 selection-vector kernel against its scalar fallback, and the auto-vectorized
//! comparison and arithmetic kernels against the row executor's per-value operators they
//! replace (the speed-up a query sees when it leaves the row path).
//!
//! `cargo bench -p omendb-bench --bench kernels`

use criterion::{Criterion, criterion_group, criterion_main};
use omendb_engine::exec::ops::{arithmetic, compare};
use omendb_engine::exec::vector::kernels::arith::{ArithOp, int_arith, numeric_arith};
use omendb_engine::exec::vector::kernels::bloom::Bloom;
use omendb_engine::exec::vector::kernels::compare::{CmpOp, compare as compare_kernel};
use omendb_engine::exec::vector::kernels::compare_const::{i32_const_on, i64_const_on};
use omendb_engine::exec::vector::kernels::hash::{hash_i64, hash_i64_on};
use omendb_engine::exec::vector::kernels::select::{selection, selection_scalar};
use omendb_engine::exec::vector::kernels::sum::{sum_i64_masked_on, sum_i64_on};
use omendb_engine::exec::vector::kernels::{Isa, Splat};
use omendb_planner::BinOp;
use omendb_storage::types::Value;
use omendb_storage::types::datetime::TimeZone;
use std::cmp::Ordering;
use std::hint::black_box;

mod kernels_common;
use kernels_common::*;

fn selection_vectors(c: &mut Criterion) {
    for percent in [5, 50, 95] {
        let m = mask(percent);
        let bytes = &m.values()[..ROWS.div_ceil(8)];
        let mut out = Vec::with_capacity(ROWS + 8);
        let mut g = c.benchmark_group(format!("selection/{percent}pct"));
        g.bench_function("scalar", |b| {
            b.iter(|| selection_scalar(black_box(bytes), ROWS, &mut out))
        });
        g.bench_function("dispatched (avx2 when available)", |b| {
            b.iter(|| selection(black_box(&m), &mut out))
        });
        g.finish();
    }
}

fn comparisons(c: &mut Criterion) {
    let v = ints();
    let values = int_values(&v);
    let bound = Value::Int32(1234);
    let mut g = c.benchmark_group("compare i32 < const");
    g.bench_function("vector kernel", |b| {
        b.iter(|| compare_kernel(CmpOp::Lt, black_box(&v[..]), Splat(1234), ROWS))
    });
    g.bench_function("row operator", |b| {
        b.iter(|| {
            black_box(&values)
                .iter()
                .filter(|x| compare(x, &bound) == Some(Ordering::Less))
                .count()
        })
    });
    g.finish();
}

fn arithmetic_kernels(c: &mut Criterion) {
    let tz = TimeZone::utc();
    let v = ints();
    let values = int_values(&v);
    let mut out = Vec::new();
    let mut g = c.benchmark_group("int4 + int4 (overflow-checked)");
    g.bench_function("vector kernel", |b| {
        b.iter(|| int_arith(ArithOp::Add, black_box(&v[..]), &v[..], ROWS, &mut out))
    });
    g.bench_function("row operator", |b| {
        b.iter(|| {
            black_box(&values)
                .iter()
                .zip(&values)
                .map(|(x, y)| arithmetic(BinOp::Add, x, y, &tz))
                .filter(Result::is_ok)
                .count()
        })
    });
    g.finish();

    let m = mantissas();
    let nums = numeric_values(&m, 2);
    let one = numeric_values(&[100], 2).remove(0);
    let mut out = Vec::new();
    let mut g = c.benchmark_group("numeric(15,2) * numeric (i128 fast path)");
    g.bench_function("vector kernel", |b| {
        b.iter(|| {
            numeric_arith(
                ArithOp::Mul,
                (black_box(&m[..]), 1),
                (Splat(100i128), 1),
                ROWS,
                &mut out,
            )
        })
    });
    g.bench_function("row operator", |b| {
        b.iter(|| {
            black_box(&nums)
                .iter()
                .map(|x| arithmetic(BinOp::Mul, x, &one, &tz))
                .filter(Result::is_ok)
                .count()
        })
    });
    g.finish();
}

/// Each explicit SIMD kernel on every path this CPU has: scalar, AVX2, AVX-512.
fn simd_paths(c: &mut Criterion) {
    let isas = Isa::available();
    let name = |isa: Isa| format!("{isa:?}").to_lowercase();

    let v = ints();
    let mut g = c.benchmark_group("simd/compare i32 < const");
    for &isa in &isas {
        g.bench_function(name(isa), |b| {
            b.iter(|| i32_const_on(isa, CmpOp::Lt, black_box(&v), 1234))
        });
    }
    g.finish();

    let l = longs();
    let mut g = c.benchmark_group("simd/compare i64 >= const");
    for &isa in &isas {
        g.bench_function(name(isa), |b| {
            b.iter(|| i64_const_on(isa, CmpOp::GtEq, black_box(&l), 1234))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("simd/sum i64 exact");
    for &isa in &isas {
        g.bench_function(name(isa), |b| b.iter(|| sum_i64_on(isa, black_box(&l))));
    }
    g.finish();

    let m = mask(50);
    let mut g = c.benchmark_group("simd/sum i64 under a 50% filter");
    for &isa in &isas {
        g.bench_function(name(isa), |b| {
            b.iter(|| sum_i64_masked_on(isa, black_box(&l), &m))
        });
    }
    g.finish();

    let mut out = Vec::with_capacity(ROWS);
    let mut g = c.benchmark_group("simd/hash i64 keys");
    for &isa in &isas {
        g.bench_function(name(isa), |b| {
            b.iter(|| hash_i64_on(isa, black_box(&l), &mut out))
        });
    }
    g.finish();

    // 64 Ki keys: the filter (128 KiB) sits in L2; 4 Mi keys: 8 MiB, beyond it.
    for build_keys in [1usize << 16, 1 << 22] {
        let (build, probe) = join_keys(build_keys);
        let mut hashes = Vec::new();
        hash_i64(&build, &mut hashes);
        let mut bloom = Bloom::with_capacity(build.len());
        bloom.insert_all(&hashes);
        hash_i64(&probe, &mut hashes);
        let mut g = c.benchmark_group(format!("simd/bloom probe, {build_keys} keys"));
        for &isa in &isas {
            g.bench_function(name(isa), |b| {
                b.iter(|| bloom.probe_on(isa, black_box(&hashes)))
            });
        }
        g.finish();
    }
}

/// A join's output gathering a text column of its build side once per probe row (TPC-H Q5's
/// `n_name`, Q10's customer columns): 2,000 values of 10–25 bytes, one 2,048-row batch of
/// random rows.
fn gathers(c: &mut Criterion) {
    use omendb_engine::exec::vector::data::Vector;
    use omendb_engine::exec::vector::gather::take;
    let values: Vec<String> = (0..2_000)
        .map(|i: usize| format!("{i:0>width$}", width = 10 + i % 16))
        .collect();
    let text = Vector::Text(arrow_array::StringArray::from(values));
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let idx: Vec<u32> = (0..ROWS)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % 2_000) as u32
        })
        .collect();
    let mut g = c.benchmark_group("gather text, 2048 random rows of 2000");
    g.bench_function("take", |b| {
        b.iter(|| take(black_box(&text), black_box(&idx)))
    });
    g.finish();
}

criterion_group!(
    benches,
    selection_vectors,
    comparisons,
    arithmetic_kernels,
    simd_paths,
    gathers
);
criterion_main!(benches);
