//! The key index of a segment: from a primary key's memcomparable bytes
//! (`row::key::encode_primary_key`) to its row, over the segment's sorted key column.
//!
//! Learned by default ([`IndexKind::Learned`] and [`IndexKind::StaticLearned`] both build the
//! static PGM index: a segment never changes, so the updatable index has nothing to do here):
//! - a single integer or date key column maps each key to an order-preserving `u64` (the
//!   integer with its sign bit flipped), one PGM lookup finds the row;
//! - any other key keeps every encoded key in one concatenated buffer with offsets, and a PGM
//!   index over their order-preserving 8-byte prefixes (`learned::index::key::prefix_u64`); keys
//!   sharing a prefix are told apart by a binary search over the full keys of that prefix run.
//!
//! [`IndexKind::BTree`] builds the classical `BTreeMap` baseline instead. The index is derived
//! from the key column in O(n) when a segment is built or read; it is never stored.

use super::column::Column;
use super::error::SegmentError;
use crate::row::key::{encode_primary_key, encode_primary_key_int};
use crate::types::Value;
use omendb_learned::index::key::prefix_u64;
use omendb_learned::index::{BTreeIndex, IndexKind, OrderedIndex, PgmIndex};
use std::cmp::Ordering;

/// Flipping the sign bit maps i64 order onto u64 order.
const SIGN_BIT: u64 = 1 << 63;
/// Header byte of a non-negative primary-key integer with zero significant bytes (see
/// `row::key::encode_varint`): `0x80 + n` for non-negative, `0x7F - n` for negative.
const VARINT_NON_NEGATIVE: u8 = 0x80;
const VARINT_NEGATIVE: u8 = 0x7F;

/// Row lookup by encoded primary key.
#[derive(Debug, Clone)]
pub(crate) enum KeyIndex {
    /// No primary key: rows are in insertion order and cannot be found by key.
    None,
    Int {
        images: Vec<u64>,
        pgm: PgmIndex,
    },
    Bytes {
        keys: KeyBuffer,
        prefixes: Vec<u64>,
        pgm: PgmIndex,
    },
    BTree(BTreeIndex<u32>),
}

/// Encoded keys back to back; key `i` is `buf[offsets[i]..offsets[i + 1]]`.
#[derive(Debug, Clone, Default)]
pub(crate) struct KeyBuffer {
    buf: Vec<u8>,
    offsets: Vec<usize>,
}

impl KeyBuffer {
    fn get(&self, i: usize) -> &[u8] {
        &self.buf[self.offsets[i]..self.offsets[i + 1]]
    }

    fn len(&self) -> usize {
        self.offsets.len() - 1
    }
}

impl KeyIndex {
    /// Check the key columns (no NULLs, strictly ascending) and build the index of `kind`.
    pub(crate) fn build(
        kind: IndexKind,
        columns: &[Column],
        primary_key: Option<&[usize]>,
    ) -> Result<KeyIndex, SegmentError> {
        let Some(pk) = primary_key else {
            return Ok(KeyIndex::None);
        };
        for &c in pk {
            if let Some(row) = columns[c].nulls().and_then(|n| n.iter().position(|v| !v)) {
                return Err(SegmentError::NullKey { row, column: c });
            }
        }
        if let [c] = pk
            && let Some(images) = int_images(&columns[*c])
        {
            check_ascending(images.len(), |i| images[i].cmp(&images[i + 1]))?;
            return Ok(match kind {
                IndexKind::BTree => {
                    let keys = encode_keys(columns, pk);
                    btree(&keys)
                }
                IndexKind::Learned | IndexKind::StaticLearned => {
                    let pgm = pgm(&images)?;
                    KeyIndex::Int { images, pgm }
                }
            });
        }
        let keys = encode_keys(columns, pk);
        check_ascending(keys.len(), |i| keys.get(i).cmp(keys.get(i + 1)))?;
        Ok(match kind {
            IndexKind::BTree => btree(&keys),
            IndexKind::Learned | IndexKind::StaticLearned => {
                let prefixes: Vec<u64> = (0..keys.len()).map(|i| prefix_u64(keys.get(i))).collect();
                let pgm = pgm(&prefixes)?;
                KeyIndex::Bytes {
                    keys,
                    prefixes,
                    pgm,
                }
            }
        })
    }

    /// The row whose encoded primary key is `key`.
    /// The first of `keys` (encoded, in ascending order) this index holds, by its position in
    /// `keys`. Integer keys are merged against the sorted images in one pass — a bulk load
    /// checks a whole cut against each earlier segment whose range it overlaps — other kinds
    /// are looked up one by one.
    pub(crate) fn first_held<'k>(&self, keys: impl Iterator<Item = &'k [u8]>) -> Option<usize> {
        let images = match self {
            KeyIndex::Int { images, .. } => images,
            KeyIndex::Bytes { keys: held, .. } => return first_held_bytes(held, keys),
            _ => {
                return keys
                    .enumerate()
                    .find(|(_, k)| self.find(k).is_some())
                    .map(|(i, _)| i);
            }
        };
        let mut at = 0;
        for (i, key) in keys.enumerate() {
            let x = match decode_varint(key) {
                Some(v) => (v as u64) ^ SIGN_BIT,
                None => continue,
            };
            // Galloping would skip faster over long gaps; one forward pass is already linear.
            while at < images.len() && images[at] < x {
                at += 1;
            }
            if at == images.len() {
                return None;
            }
            if images[at] == x {
                return Some(i);
            }
        }
        None
    }

    pub(crate) fn find(&self, key: &[u8]) -> Option<u32> {
        match self {
            KeyIndex::None => None,
            KeyIndex::Int { images, pgm } => {
                let x = (decode_varint(key)? as u64) ^ SIGN_BIT;
                pgm.find(images, x).map(|i| i as u32)
            }
            KeyIndex::Bytes {
                keys,
                prefixes,
                pgm,
            } => find_bytes(keys, prefixes, pgm, key),
            KeyIndex::BTree(b) => b.get(key),
        }
    }
}

/// `KeyIndex::first_held` for byte keys: one merge of the ascending `keys` with the held keys
/// (sorted), a byte comparison a step.
fn first_held_bytes<'k>(held: &KeyBuffer, keys: impl Iterator<Item = &'k [u8]>) -> Option<usize> {
    let mut at = 0;
    for (i, key) in keys.enumerate() {
        loop {
            if at == held.len() {
                return None;
            }
            match held.get(at).cmp(key) {
                Ordering::Less => at += 1,
                Ordering::Equal => return Some(i),
                Ordering::Greater => break,
            }
        }
    }
    None
}

fn find_bytes(keys: &KeyBuffer, prefixes: &[u64], pgm: &PgmIndex, key: &[u8]) -> Option<u32> {
    let p = prefix_u64(key);
    let lo = pgm.lower_bound(prefixes, p);
    if prefixes.get(lo) != Some(&p) {
        return None;
    }
    match keys.get(lo).cmp(key) {
        Ordering::Equal => return Some(lo as u32),
        Ordering::Greater => return None,
        Ordering::Less => {}
    }
    // Several keys share this prefix: binary search the rest of the run on full keys.
    let run = prefixes[lo..].partition_point(|&x| x == p);
    let (mut a, mut b) = (lo + 1, lo + run);
    while a < b {
        let mid = a + (b - a) / 2;
        match keys.get(mid).cmp(key) {
            Ordering::Equal => return Some(mid as u32),
            Ordering::Less => a = mid + 1,
            Ordering::Greater => b = mid,
        }
    }
    None
}

fn btree(keys: &KeyBuffer) -> KeyIndex {
    let mut b = BTreeIndex::default();
    for i in 0..keys.len() {
        // Keys were checked strictly ascending, so no insert can collide.
        let _ = b.insert(keys.get(i), i as u32);
    }
    KeyIndex::BTree(b)
}

fn pgm(sorted: &[u64]) -> Result<PgmIndex, SegmentError> {
    PgmIndex::build(sorted).map_err(|_| SegmentError::PrimaryKey("index build failed".into()))
}

/// `cmp(i)` compares key `i` with key `i + 1`; every one must be `Less`.
fn check_ascending(n: usize, cmp: impl Fn(usize) -> Ordering) -> Result<(), SegmentError> {
    for i in 0..n.saturating_sub(1) {
        match cmp(i) {
            Ordering::Less => {}
            Ordering::Equal => return Err(SegmentError::DuplicateKey { row: i + 1 }),
            Ordering::Greater => return Err(SegmentError::Unsorted { row: i + 1 }),
        }
    }
    Ok(())
}

/// Order-preserving `u64` images of a non-NULL integer-like key column.
fn int_images(column: &Column) -> Option<Vec<u64>> {
    let image = |v: i64| (v as u64) ^ SIGN_BIT;
    Some(match column {
        Column::Int16(a) => a.values().iter().map(|&v| image(v.into())).collect(),
        Column::Int32(a) => a.values().iter().map(|&v| image(v.into())).collect(),
        Column::Int64(a) => a.values().iter().map(|&v| image(v)).collect(),
        Column::Date(a) => a.values().iter().map(|&v| image(v.into())).collect(),
        _ => return None,
    })
}

/// Every row's `encode_primary_key` bytes, back to back.
fn encode_keys(columns: &[Column], pk: &[usize]) -> KeyBuffer {
    let rows = columns.first().map_or(0, Column::len);
    let mut keys = KeyBuffer {
        buf: Vec::with_capacity(rows * pk.len() * size_of::<u64>()),
        offsets: Vec::with_capacity(rows + 1),
    };
    keys.offsets.push(0);
    for row in 0..rows {
        for &c in pk {
            encode_key_part(&columns[c], row, &mut keys.buf);
        }
        keys.offsets.push(keys.buf.len());
    }
    keys
}

/// One column's part of a row's key, without building a `Value` (and its allocation) for
/// strings and integers.
fn encode_key_part(column: &Column, row: usize, out: &mut Vec<u8>) {
    match column {
        Column::Text(a) => crate::row::key::encode_primary_key_bytes(a.value(row).as_bytes(), out),
        Column::TextDict { codes, values } => crate::row::key::encode_primary_key_bytes(
            values.value(usize::from(codes.value(row))).as_bytes(),
            out,
        ),
        Column::Bytea(a) => crate::row::key::encode_primary_key_bytes(a.value(row), out),
        Column::Int16(a) => encode_primary_key_int(a.value(row).into(), out),
        Column::Int32(a) => encode_primary_key_int(a.value(row).into(), out),
        Column::Int64(a) => encode_primary_key_int(a.value(row), out),
        Column::Date(a) => encode_primary_key_int(a.value(row).into(), out),
        other => {
            let v: Value = other.value(row);
            encode_primary_key(&[&v], out);
        }
    }
}

/// The integer a single-integer primary key encodes, if `key` is exactly one canonical
/// `row::key` varint.
fn decode_varint(key: &[u8]) -> Option<i64> {
    let (&header, body) = key.split_first()?;
    let negative = header < VARINT_NON_NEGATIVE;
    let n = if negative {
        VARINT_NEGATIVE.checked_sub(header)?
    } else {
        header - VARINT_NON_NEGATIVE
    } as usize;
    if n > size_of::<u64>() || body.len() != n {
        return None;
    }
    let mut bytes = [0u8; 8];
    for (dst, &b) in bytes[8 - n..].iter_mut().zip(body) {
        *dst = if negative { !b } else { b };
    }
    let magnitude = u64::from_be_bytes(bytes);
    // Canonical: exactly the significant bytes, so equal keys have equal bytes.
    if (8 - (magnitude.leading_zeros() / 8) as usize) != n {
        return None;
    }
    if negative {
        // A negative key's magnitude is `!v`, below 2^63.
        i64::try_from(magnitude).ok().map(|m| !m)
    } else {
        i64::try_from(magnitude).ok()
    }
}
