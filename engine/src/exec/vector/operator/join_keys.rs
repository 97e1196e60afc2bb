//! Hash-join keys of a batch of rows, in the cheapest form that still equals exactly when the
//! row executor's join finds the values equal.
//!
//! Integer-like keys (the usual case: TPC-H joins on integer keys) are widened to `i64` and
//! hashed directly; every other type keeps the memcomparable encoding of [`keys`], which
//! normalises what must compare equal (`-0.0` and `0.0`, numerics of different scales). Both
//! sides of an equi key have the same SQL type, so they always choose the same form.

use crate::exec::vector::data::Vector;
use crate::exec::vector::keys::{self, Order};
use arrow_array::{ArrowPrimitiveType, PrimitiveArray};
use hashbrown::DefaultHashBuilder;
use std::hash::BuildHasher;

/// The multiplier of the integer hash: 2^64 / the golden ratio, odd, well-mixed bits.
const MIX: u64 = 0x9E37_79B9_7F4A_7C15;

/// Spread all 64 bits of `x` over the result (hashbrown reads both the low bits and the top 7).
fn mix(x: u64) -> u64 {
    let m = u128::from(x) * u128::from(MIX);
    (m as u64) ^ ((m >> 64) as u64)
}

/// The keys of the rows of one batch (or of the whole build side).
pub enum KeyData {
    /// Integer-like key columns widened to `i64`, one vector per key column.
    Ints(Vec<Vec<i64>>),
    /// Any other key: the memcomparable encoding of all key columns.
    Bytes(keys::Keys),
}

fn widen<T: ArrowPrimitiveType>(a: &PrimitiveArray<T>, f: impl Fn(T::Native) -> i64) -> Vec<i64> {
    a.values().iter().map(|v| f(*v)).collect()
}

/// An integer-like vector as `i64`s (values under NULLs unspecified), `None` for other types.
fn ints(v: &Vector) -> Option<Vec<i64>> {
    Some(match v {
        Vector::Int16(a) => widen(a, i64::from),
        Vector::Int32(a) => widen(a, i64::from),
        Vector::Int64(a) => a.values().to_vec(),
        Vector::Date(a) => widen(a, i64::from),
        Vector::Timestamp(a) | Vector::TimestampTz(a) => a.values().to_vec(),
        Vector::Bool(a) => (0..a.len()).map(|i| i64::from(a.value(i))).collect(),
        _ => return None,
    })
}

impl KeyData {
    /// The keys of `len` rows over the key `columns`.
    pub fn of(columns: &[&Vector], len: usize) -> KeyData {
        let widened: Option<Vec<Vec<i64>>> = columns.iter().map(|c| ints(c)).collect();
        match widened {
            Some(cols) => KeyData::Ints(cols),
            None => KeyData::Bytes(keys::encode(
                columns,
                &vec![Order::default(); columns.len()],
                len,
            )),
        }
    }

    /// The hash of every row's key, into `out` (byte keys hashed by `hasher`, which the build
    /// and probe sides must share).
    pub fn hashes(&self, len: usize, hasher: &DefaultHashBuilder, out: &mut Vec<u64>) {
        out.clear();
        match self {
            KeyData::Ints(cols) => {
                out.extend(cols[0][..len].iter().map(|v| mix(*v as u64)));
                for c in &cols[1..] {
                    for (h, v) in out.iter_mut().zip(c) {
                        *h = mix(h.rotate_left(29) ^ *v as u64);
                    }
                }
            }
            KeyData::Bytes(k) => out.extend((0..len).map(|i| hasher.hash_one(k.get(i)))),
        }
    }

    /// Whether row `i` here and row `j` of `other` have equal keys.
    #[inline]
    pub fn eq(&self, i: usize, other: &KeyData, j: usize) -> bool {
        match (self, other) {
            (KeyData::Ints(a), KeyData::Ints(b)) => a.iter().zip(b).all(|(a, b)| a[i] == b[j]),
            (KeyData::Bytes(a), KeyData::Bytes(b)) => a.get(i) == b.get(j),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::vector::build::from_rows;
    use crate::exec::vector::data::Kind;
    use omendb_storage::types::Value;

    fn keys_of(rows: &[Vec<Value>], kinds: &[Kind]) -> (KeyData, Vec<u64>) {
        let b = &from_rows(rows, kinds).unwrap()[0];
        let cols: Vec<&Vector> = b.columns.iter().collect();
        let k = KeyData::of(&cols, b.len);
        let mut h = Vec::new();
        k.hashes(b.len, &DefaultHashBuilder::default(), &mut h);
        (k, h)
    }

    #[test]
    fn equal_integer_keys_hash_and_compare_equal() {
        let rows = vec![
            vec![Value::Int32(7), Value::Int64(1 << 40)],
            vec![Value::Int32(7), Value::Int64(1 << 40)],
            vec![Value::Int32(7), Value::Int64(1)],
        ];
        let (k, h) = keys_of(&rows, &[Kind::Int32, Kind::Int64]);
        assert!(matches!(k, KeyData::Ints(_)));
        assert!(k.eq(0, &k, 1) && h[0] == h[1]);
        assert!(!k.eq(0, &k, 2) && h[0] != h[2]);
    }

    #[test]
    fn float_keys_use_the_normalising_encoding() {
        let rows = vec![vec![Value::Float64(0.0)], vec![Value::Float64(-0.0)]];
        let (k, h) = keys_of(&rows, &[Kind::Float64]);
        assert!(matches!(k, KeyData::Bytes(_)));
        assert!(k.eq(0, &k, 1) && h[0] == h[1]);
    }
}
