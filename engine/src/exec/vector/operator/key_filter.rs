//! Join key filters (sideways information passing): once one input of a hash join is known, the
//! set of its integer join keys travels down the other input, to the shards' scans, where rows
//! whose key is not in the set are dropped before they are shipped to the coordinator, grouped
//! or joined. TPC-H's joins of a few hundred parts with six million line items (Q17, Q20, Q9)
//! then move thousands of rows instead of millions.
//!
//! A filter only ever removes rows the join above would discard: rows of an inner side whose
//! key no row of the other side has (a NULL key never matches). Where it may not go (the
//! preserved side of an outer join, below a LIMIT, through a computed column) it is dropped,
//! which is always correct.

use super::range_test::Raw;
use crate::EngineError;
use crate::exec::vector::data::{Batch, Vector};
use crate::exec::vector::gather::take_batch;
use arrow_array::{ArrowPrimitiveType, PrimitiveArray};
use arrow_buffer::NullBuffer;
use hashbrown::HashSet;
use omendb_storage::segment::Column;
use std::sync::Arc;

/// A join input with more rows than this does not make a filter: its key set would cost more
/// to build and probe than the rows it could remove.
pub const MAX_FILTER_ROWS: usize = 1 << 20;

/// A key range at most this many times the number of keys is held as a bitmap (one bit per
/// value in the range: a test is one load), a sparser one as a hash set.
const BITMAP_SPREAD: u64 = 64;
/// The largest bitmap, in bits (32 MiB).
const MAX_BITMAP_BITS: u64 = 1 << 28;
/// A bitmap this small (1 MiB, within a core's L2) is used however sparse the keys are: a
/// bit test beats a hash probe (Q8's 1,451 part keys over a 200k range: 25 KiB of bits
/// instead of a hash set probed six million times).
const SMALL_BITMAP_BITS: u64 = 1 << 23;

/// How the keys are held.
#[derive(Debug)]
enum Members {
    /// Bit `k - min` set for each key `k`.
    Bits(Vec<u64>),
    Hash(HashSet<i64>),
}

/// The integer keys one join input holds, with their range as a cheap first test.
#[derive(Debug)]
pub struct KeySet {
    members: Members,
    min: i64,
    max: i64,
}

impl KeySet {
    /// The non-NULL integer keys of column `column` of `batches`; `None` when the column is not
    /// integer-like.
    pub fn of(batches: &[Batch], column: usize) -> Option<KeySet> {
        let mut keys = Vec::new();
        for b in batches {
            let v = b.columns.get(column)?;
            let nulls = v.nulls();
            let mut add = |i: usize, k: i64| {
                if nulls.is_none_or(|n| n.is_valid(i)) {
                    keys.push(k);
                }
            };
            match v {
                Vector::Int16(a) => each(a, &mut add),
                Vector::Int32(a) => each(a, &mut add),
                Vector::Int64(a) => each(a, &mut add),
                Vector::Date(a) => each(a, &mut add),
                Vector::Timestamp(a) | Vector::TimestampTz(a) => each(a, &mut add),
                _ => return None,
            }
        }
        let min = keys.iter().copied().min().unwrap_or(i64::MAX);
        let max = keys.iter().copied().max().unwrap_or(i64::MIN);
        let span = (max as i128 - min as i128 + 1).max(0) as u64;
        let dense = span <= BITMAP_SPREAD * keys.len() as u64 || span <= SMALL_BITMAP_BITS;
        let members = if span <= MAX_BITMAP_BITS && dense {
            let mut bits = vec![0u64; span.div_ceil(64) as usize];
            for k in &keys {
                let at = k.wrapping_sub(min) as u64;
                bits[(at / 64) as usize] |= 1 << (at % 64);
            }
            Members::Bits(bits)
        } else {
            Members::Hash(keys.into_iter().collect())
        };
        Some(KeySet { members, min, max })
    }

    /// Bytes the set holds, for the statement's memory budget.
    pub fn memory_size(&self) -> usize {
        match &self.members {
            Members::Bits(b) => b.len() * size_of::<u64>(),
            Members::Hash(h) => h.capacity() * (size_of::<i64>() + 1),
        }
    }

    #[inline]
    fn contains(&self, k: i64) -> bool {
        if k < self.min || k > self.max {
            return false;
        }
        match &self.members {
            Members::Bits(b) => {
                let at = k.wrapping_sub(self.min) as u64;
                b[(at / 64) as usize] & (1 << (at % 64)) != 0
            }
            Members::Hash(h) => h.contains(&k),
        }
    }
}

/// Whether `k` is in a bitmap of the keys `min..=min + span` (an empty set's bitmap has no
/// words, so nothing is in it whatever its bounds).
#[inline(always)]
fn in_bits(bits: &[u64], k: i64, min: i64, span: u64) -> bool {
    let at = k.wrapping_sub(min) as u64;
    at <= span
        && bits
            .get((at / 64) as usize)
            .is_some_and(|w| w & (1 << (at % 64)) != 0)
}

fn each<T: ArrowPrimitiveType>(a: &PrimitiveArray<T>, add: &mut impl FnMut(usize, i64))
where
    T::Native: Into<i64>,
{
    for (i, v) in a.values().iter().enumerate() {
        add(i, (*v).into());
    }
}

/// Keep only rows whose key is in the set: column `column` of the batches it filters.
#[derive(Debug, Clone)]
pub struct KeyFilter {
    pub column: usize,
    pub keys: Arc<KeySet>,
}

fn keep_where<T: ArrowPrimitiveType>(a: &PrimitiveArray<T>, keys: &KeySet, out: &mut Vec<u32>)
where
    T::Native: Into<i64>,
{
    let nulls = arrow_array::Array::nulls(a).filter(|n| n.null_count() > 0);
    for (i, v) in a.values().iter().enumerate() {
        if nulls.is_none_or(|n| n.is_valid(i)) && keys.contains((*v).into()) {
            out.push(i as u32);
        }
    }
}

/// A key filter bound to one segment's stored key column: a scan tests it before building any
/// vector, so the other columns are read only for the rows whose key the join can match.
#[derive(Debug)]
pub struct KeyTest<'a> {
    values: Raw<'a>,
    nulls: Option<&'a NullBuffer>,
    keys: Arc<KeySet>,
}

impl<'a> KeyTest<'a> {
    /// `None` when the column is not stored as integers.
    pub fn new(column: &'a Column, keys: Arc<KeySet>) -> Option<KeyTest<'a>> {
        // Key sets hold integer values; a numeric column's raw mantissas are not its values.
        if matches!(column, Column::Numeric64 { .. }) {
            return None;
        }
        let (values, nulls, _, _) = Raw::of(column)?;
        Some(KeyTest {
            values,
            nulls,
            keys,
        })
    }

    /// The segment rows `start..start + len` whose key is in the set, into `out`.
    pub fn collect(&self, start: usize, len: usize, out: &mut Vec<u32>) {
        // One loop per representation: the choice is made once, not per row (this test runs
        // over every row of lineitem in half of TPC-H's queries).
        let (min, max) = (self.keys.min, self.keys.max);
        match &self.keys.members {
            Members::Bits(bits) => {
                let span = max.wrapping_sub(min) as u64;
                self.values
                    .collect(start, len, out, |k| in_bits(bits, k, min, span));
            }
            Members::Hash(h) => self
                .values
                .collect(start, len, out, |k| k >= min && k <= max && h.contains(&k)),
        }
        if let Some(nulls) = self.nulls {
            out.retain(|&r| nulls.is_valid(r as usize));
        }
    }

    /// Keep the rows of `rows` (segment row numbers) whose key is in the set.
    pub fn retain(&self, rows: &mut Vec<u32>) {
        let (min, max) = (self.keys.min, self.keys.max);
        match &self.keys.members {
            Members::Bits(bits) => {
                let span = max.wrapping_sub(min) as u64;
                self.values.retain(rows, |k| in_bits(bits, k, min, span));
            }
            Members::Hash(h) => self
                .values
                .retain(rows, |k| k >= min && k <= max && h.contains(&k)),
        }
        if let Some(nulls) = self.nulls {
            rows.retain(|&r| nulls.is_valid(r as usize));
        }
    }
}

impl KeyFilter {
    /// The rows of `b` whose key is in the set (`selection` is scratch space).
    pub fn apply(&self, b: Batch, selection: &mut Vec<u32>) -> Result<Batch, EngineError> {
        selection.clear();
        let keys = &*self.keys;
        match b.columns.get(self.column) {
            Some(Vector::Int16(a)) => keep_where(a, keys, selection),
            Some(Vector::Int32(a)) => keep_where(a, keys, selection),
            Some(Vector::Int64(a)) => keep_where(a, keys, selection),
            Some(Vector::Date(a)) => keep_where(a, keys, selection),
            Some(Vector::Timestamp(a) | Vector::TimestampTz(a)) => {
                keep_where(a, keys, selection);
            }
            _ => {
                return Err(EngineError::Internal(format!(
                    "join key filter on column {} of no integer kind",
                    self.column
                )));
            }
        }
        if selection.len() == b.len {
            return Ok(b);
        }
        take_batch(&b, selection)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::vector::build::from_rows;
    use crate::exec::vector::data::Kind;
    use omendb_storage::types::Value;

    #[test]
    fn keeps_rows_whose_key_the_other_side_has_and_never_nulls() {
        let build = from_rows(
            &[
                vec![Value::Int32(3)],
                vec![Value::Int32(9)],
                vec![Value::Null],
            ],
            &[Kind::Int32],
        )
        .unwrap();
        let keys = Arc::new(KeySet::of(&build, 0).unwrap());
        let probe = from_rows(
            &[
                vec![Value::Int32(9), Value::Int64(1)],
                vec![Value::Int32(4), Value::Int64(2)],
                vec![Value::Null, Value::Int64(3)],
                vec![Value::Int32(3), Value::Int64(4)],
            ],
            &[Kind::Int32, Kind::Int64],
        )
        .unwrap();
        let f = KeyFilter { column: 0, keys };
        let out = f.apply(probe[0].clone(), &mut Vec::new()).unwrap();
        let seconds: Vec<String> = (0..out.len)
            .map(|i| format!("{:?}", out.columns[1].value(i)))
            .collect();
        assert_eq!(seconds, ["Int64(1)", "Int64(4)"]);
    }

    #[test]
    fn sparse_keys_are_held_in_a_hash_set() {
        let build = from_rows(
            &[vec![Value::Int64(-5)], vec![Value::Int64(1 << 40)]],
            &[Kind::Int64],
        )
        .unwrap();
        let keys = KeySet::of(&build, 0).unwrap();
        assert!(matches!(keys.members, Members::Hash(_)));
        assert!(keys.contains(-5) && keys.contains(1 << 40) && !keys.contains(0));
    }

    #[test]
    fn key_tests_on_stored_columns_keep_what_the_set_contains() {
        use arrow_array::Int64Array;
        let stored: Vec<Option<i64>> = (-70..140)
            .map(|k| (k % 13 != 0).then_some(k))
            .chain([Some(i64::MIN), Some(i64::MAX)])
            .collect();
        let column = Column::Int64(Int64Array::from(stored.clone()));
        let sets: [&[i64]; 4] = [&[], &[0], &[-64, -1, 63, 64, 65, 127], &[-5, 1 << 40]];
        for members in sets {
            let rows: Vec<Vec<Value>> = members.iter().map(|&k| vec![Value::Int64(k)]).collect();
            let build = from_rows(&rows, &[Kind::Int64]).unwrap();
            let keys = Arc::new(match build.is_empty() {
                true => KeySet::of(&[], 0).unwrap_or_else(|| unreachable!()),
                false => KeySet::of(&build, 0).unwrap(),
            });
            let test = KeyTest::new(&column, keys.clone()).unwrap();
            let mut collected = Vec::new();
            test.collect(0, stored.len(), &mut collected);
            let mut retained: Vec<u32> = (0..stored.len() as u32).collect();
            test.retain(&mut retained);
            let expected: Vec<u32> = (0..stored.len() as u32)
                .filter(|&r| stored[r as usize].is_some_and(|k| keys.contains(k)))
                .collect();
            assert_eq!(collected, expected, "{members:?}");
            assert_eq!(retained, expected, "{members:?}");
            let direct: Vec<i64> = expected
                .iter()
                .filter_map(|&r| stored[r as usize])
                .collect();
            let mut wanted: Vec<i64> = members
                .iter()
                .copied()
                .filter(|k| stored.contains(&Some(*k)))
                .collect();
            wanted.sort_unstable();
            assert_eq!(direct, wanted, "{members:?}");
        }
    }

    #[test]
    fn text_keys_make_no_filter() {
        let b = from_rows(&[vec![Value::Text("a".into())]], &[Kind::Text]).unwrap();
        assert!(KeySet::of(&b, 0).is_none());
    }
}
