//! Inputs shared by the kernel benchmarks: one batch (2048 rows) of deterministic values.
// Each benchmark binary includes this module and uses only part of it.
#![allow(dead_code)]

use arrow_buffer::BooleanBuffer;
use omendb_storage::types::{Numeric, Value};

pub const ROWS: usize = 2048;

fn xorshift(seed: u64) -> impl FnMut() -> u64 {
    let mut x = seed | 1;
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }
}

/// A filter bitmap with about `percent`% of its bits set.
pub fn mask(percent: u64) -> BooleanBuffer {
    let mut r = xorshift(7);
    BooleanBuffer::collect_bool(ROWS, |_| r() % 100 < percent)
}

pub fn ints() -> Vec<i32> {
    let mut r = xorshift(11);
    (0..ROWS).map(|_| (r() % 20_000) as i32 - 10_000).collect()
}

/// Mantissas of numeric(15,2)-like values.
pub fn mantissas() -> Vec<i128> {
    let mut r = xorshift(13);
    (0..ROWS)
        .map(|_| i128::from((r() % 10_000_000) as i64))
        .collect()
}

pub fn int_values(v: &[i32]) -> Vec<Value> {
    v.iter().map(|x| Value::Int32(*x)).collect()
}

pub fn numeric_values(v: &[i128], scale: u8) -> Vec<Value> {
    v.iter()
        .map(|m| Value::Numeric(Numeric::new(*m, scale)))
        .collect()
}

pub fn longs() -> Vec<i64> {
    let mut r = xorshift(17);
    (0..ROWS)
        .map(|_| (r() % 2_000_000_000) as i64 - 1_000_000_000)
        .collect()
}

/// `n` distinct join keys (what a build side inserts into a bloom filter), and as many keys
/// of which about half are among them (what a probe side looks up).
pub fn join_keys(n: usize) -> (Vec<i64>, Vec<i64>) {
    let build: Vec<i64> = (0..n as i64).map(|i| i * 2).collect();
    let mut r = xorshift(19);
    let probe = (0..ROWS).map(|_| (r() % (4 * n as u64)) as i64).collect();
    (build, probe)
}
