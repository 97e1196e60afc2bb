//! Fixed-width group keys: every group column packed into one 128-bit integer, so finding a
//! row's group is one integer hash and compare instead of a byte encoding per row.
//!
//! Each column owns a slot of bits: a validity bit (0 for NULL, when the rest of the slot is
//! zero too) above which sits its value, sign bits and all, or for text its length and above
//! that its bytes.
//! Two rows pack to the same integer exactly when every column's values are equal in the byte
//! encoding (`keys::encode`): the same integer, the same text bytes, or both NULL. Text longer
//! than its slot does not pack; the caller then tries an interned layout, where each text slot
//! holds a small id its column's [`Interner`] gives each distinct value, and falls back to byte
//! keys when that does not fit either. Must never pack two distinct keys alike.

use crate::EngineError;
use crate::exec::vector::data::{Kind, Vector, nulls_from_valid};
use arrow_array::builder::StringBuilder;
use arrow_array::types::{Date32Type, Int16Type, Int32Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{Array, ArrowPrimitiveType, BooleanArray, PrimitiveArray, StringArray};
use arrow_buffer::{BooleanBuffer, ScalarBuffer};

/// Bits in a packed key.
const KEY_BITS: u32 = u128::BITS;
/// The validity bit at the bottom of every slot.
const VALID_BITS: u32 = 1;
/// Bits holding a text value's byte length (up to [`MAX_TEXT_BYTES`]).
const TEXT_LEN_BITS: u32 = 4;
const MAX_TEXT_BYTES: u32 = (1 << TEXT_LEN_BITS) - 1;
/// Bits of an interned text value's id: enough distinct values for any grouping that repeats
/// its text, few enough that two text columns and two integers fit one key (TPC-H Q16).
const ID_BITS: u32 = 24;
/// Bytes of distinct text an interner holds at most before the key falls back to byte
/// encoding (whose groups the memory budget counts one by one).
const MAX_INTERNED_BYTES: usize = 64 << 20;

/// One column's place in the key.
#[derive(Debug, Clone, Copy)]
struct Slot {
    kind: Kind,
    /// The slot's lowest bit.
    shift: u32,
    /// Bytes a text value may have (0 for other kinds).
    text_bytes: u32,
    /// A text slot holding interned ids instead of bytes.
    interned: bool,
}

impl Slot {
    /// Value bits (without the validity bit).
    fn value_bits(&self) -> u32 {
        if self.interned {
            return ID_BITS;
        }
        value_bits(self.kind).unwrap_or(8 * self.text_bytes + TEXT_LEN_BITS)
    }

    fn mask(&self) -> u128 {
        (1u128 << self.value_bits()) - 1
    }
}

/// Bits a value of a fixed-width kind needs; `None` for text and the kinds that do not pack
/// (floats: -0 and NaN group by value, not bits; numerics: scales differ).
fn value_bits(kind: Kind) -> Option<u32> {
    Some(match kind {
        Kind::Bool => 1,
        Kind::Int16 => 16,
        Kind::Int32 | Kind::Date => 32,
        Kind::Int64 | Kind::Timestamp | Kind::TimestampTz => 64,
        Kind::Text | Kind::Float32 | Kind::Float64 | Kind::Numeric => return None,
    })
}

/// Where each group column sits in the key.
#[derive(Debug, Clone)]
pub struct Layout {
    slots: Vec<Slot>,
    /// Per slot, the ids of an interned text slot's values (empty for the others).
    interners: Vec<Interner>,
}

/// Distinct text values by id, in the order first seen.
#[derive(Debug, Clone, Default)]
struct Interner {
    hasher: hashbrown::DefaultHashBuilder,
    table: hashbrown::HashTable<u32>,
    hashes: Vec<u64>,
    bytes: Vec<u8>,
    /// Value `id` is `bytes[ends[id - 1]..ends[id]]` (from 0 for the first).
    ends: Vec<usize>,
}

impl Interner {
    fn value(&self, id: u32) -> &[u8] {
        let id = id as usize;
        let start = if id == 0 { 0 } else { self.ends[id - 1] };
        &self.bytes[start..self.ends[id]]
    }

    /// The id of `s`, given a new one if unseen; `None` when the interner is full.
    #[inline]
    fn intern(&mut self, s: &[u8]) -> Option<u32> {
        use std::hash::BuildHasher;
        let h = self.hasher.hash_one(s);
        let (bytes, ends) = (&self.bytes, &self.ends);
        let found = self.table.find(h, |&id| {
            let id = id as usize;
            let start = if id == 0 { 0 } else { ends[id - 1] };
            &bytes[start..ends[id]] == s
        });
        if let Some(&id) = found {
            return Some(id);
        }
        let id = self.ends.len();
        if id >= 1 << ID_BITS || self.bytes.len() + s.len() > MAX_INTERNED_BYTES {
            return None;
        }
        self.bytes.extend_from_slice(s);
        self.ends.push(self.bytes.len());
        self.hashes.push(h);
        let hashes = &self.hashes;
        self.table
            .insert_unique(h, id as u32, |&x| hashes[x as usize]);
        Some(id as u32)
    }
}

impl Layout {
    /// The layout for group columns of these kinds, if they fit in one key. Text columns share
    /// the bits the fixed-width ones leave.
    pub fn new(kinds: &[Kind]) -> Option<Layout> {
        let mut fixed = 0;
        let mut texts = 0;
        for &k in kinds {
            match k {
                Kind::Text => texts += 1,
                _ => fixed += value_bits(k)? + VALID_BITS,
            }
        }
        if fixed > KEY_BITS {
            return None;
        }
        let text_bytes = match texts {
            0 => 0,
            n => {
                let per = (KEY_BITS - fixed) / n;
                let bytes = per.saturating_sub(VALID_BITS + TEXT_LEN_BITS) / 8;
                if bytes == 0 {
                    return None;
                }
                bytes.min(MAX_TEXT_BYTES)
            }
        };
        Some(Layout::place(kinds, text_bytes, false))
    }

    /// The layout with every text column's values interned, if it fits one key (and has text).
    pub fn interned(kinds: &[Kind]) -> Option<Layout> {
        let mut bits = 0;
        for &k in kinds {
            bits += match k {
                Kind::Text => ID_BITS,
                _ => value_bits(k)?,
            } + VALID_BITS;
        }
        (bits <= KEY_BITS && kinds.contains(&Kind::Text)).then(|| Layout::place(kinds, 0, true))
    }

    fn place(kinds: &[Kind], text_bytes: u32, interned: bool) -> Layout {
        let mut shift = 0;
        let mut slots = Vec::with_capacity(kinds.len());
        for &kind in kinds {
            let text = kind == Kind::Text;
            let slot = Slot {
                kind,
                shift,
                text_bytes: if text && !interned { text_bytes } else { 0 },
                interned: text && interned,
            };
            shift += slot.value_bits() + VALID_BITS;
            slots.push(slot);
        }
        debug_assert!(shift <= KEY_BITS);
        Layout {
            interners: vec![Interner::default(); slots.len()],
            slots,
        }
    }

    /// Whether text slots hold interned ids (keys then mean nothing outside this layout).
    pub fn is_interned(&self) -> bool {
        self.slots.iter().any(|s| s.interned)
    }

    /// Whether every key fits in 64 bits.
    pub fn narrow(&self) -> bool {
        self.slots
            .last()
            .is_none_or(|s| s.shift + s.value_bits() + VALID_BITS <= u64::BITS)
    }

    /// The keys of the first `len` rows of `cols` into `keys`; false if some value does not fit
    /// its slot (text too long, an interner full, or a vector not of the slot's kind).
    pub fn pack(&mut self, cols: &[&Vector], len: usize, keys: &mut Vec<u128>) -> bool {
        keys.clear();
        keys.resize(len, 0);
        self.slots
            .iter()
            .zip(self.interners.iter_mut())
            .zip(cols)
            .all(|((slot, interner), col)| match (slot.interned, col) {
                (true, Vector::Text(a)) => pack_interned(slot, interner, a, &mut keys[..len]),
                (true, _) => false,
                (false, _) => pack_column(slot, col, &mut keys[..len]),
            })
    }

    /// The group columns of `keys`, one vector per slot.
    pub fn unpack<K: Copy + Into<u128>>(&self, keys: &[K]) -> Result<Vec<Vector>, EngineError> {
        self.slots
            .iter()
            .zip(&self.interners)
            .map(|(s, interner)| match s.interned {
                true => unpack_interned(s, interner, keys),
                false => unpack_column(s, keys),
            })
            .collect()
    }
}

/// A slot's bits for one valid value.
#[inline(always)]
fn code(slot: &Slot, value: u128) -> u128 {
    ((value << VALID_BITS) | 1) << slot.shift
}

fn pack_column(slot: &Slot, col: &Vector, keys: &mut [u128]) -> bool {
    macro_rules! prim {
        ($a:expr, $unsigned:ty) => {{
            let values = $a.values();
            match $a.nulls().filter(|n| n.null_count() > 0) {
                None => {
                    for (k, &v) in keys.iter_mut().zip(values.iter()) {
                        *k |= code(slot, u128::from(v as $unsigned));
                    }
                }
                Some(n) => {
                    for (i, (k, &v)) in keys.iter_mut().zip(values.iter()).enumerate() {
                        if n.is_valid(i) {
                            *k |= code(slot, u128::from(v as $unsigned));
                        }
                    }
                }
            }
            true
        }};
    }
    match (slot.kind, col) {
        (Kind::Int16, Vector::Int16(a)) => prim!(a, u16),
        (Kind::Int32, Vector::Int32(a)) => prim!(a, u32),
        (Kind::Date, Vector::Date(a)) => prim!(a, u32),
        (Kind::Int64, Vector::Int64(a)) => prim!(a, u64),
        (Kind::Timestamp, Vector::Timestamp(a)) | (Kind::TimestampTz, Vector::TimestampTz(a)) => {
            prim!(a, u64)
        }
        (Kind::Bool, Vector::Bool(a)) => {
            let nulls = a.nulls().filter(|n| n.null_count() > 0);
            for (i, k) in keys.iter_mut().enumerate() {
                if nulls.is_none_or(|n| n.is_valid(i)) {
                    *k |= code(slot, u128::from(a.value(i)));
                }
            }
            true
        }
        (Kind::Text, Vector::Text(a)) => pack_text(slot, a, keys),
        _ => false,
    }
}

/// Masks keeping the low `n` bytes, by `n`.
const BYTE_MASKS: [u128; 17] = {
    let mut t = [0u128; 17];
    let mut n = 1;
    while n < 16 {
        t[n] = (1u128 << (8 * n)) - 1;
        n += 1;
    }
    t[16] = u128::MAX;
    t
};

/// A text slot's value: the length in the low [`TEXT_LEN_BITS`], the bytes above.
fn pack_text(slot: &Slot, a: &StringArray, keys: &mut [u128]) -> bool {
    let offsets = a.value_offsets();
    let bytes = a.value_data();
    let nulls = a.nulls().filter(|n| n.null_count() > 0);
    let width = slot.text_bytes as usize;
    for (i, k) in keys.iter_mut().enumerate() {
        if nulls.is_some_and(|n| n.is_null(i)) {
            continue;
        }
        let (start, end) = (offsets[i] as usize, offsets[i + 1] as usize);
        let n = end - start;
        if n > width {
            return false;
        }
        // One fixed 16-byte load, masked to the value's bytes, where the buffer allows.
        let mut buf = [0u8; 16];
        let raw = match bytes.get(start..start + buf.len()) {
            Some(wide) => {
                buf.copy_from_slice(wide);
                u128::from_le_bytes(buf) & BYTE_MASKS[n]
            }
            None => {
                buf[..n].copy_from_slice(&bytes[start..end]);
                u128::from_le_bytes(buf)
            }
        };
        let value = (raw << TEXT_LEN_BITS) | n as u128;
        *k |= code(slot, value);
    }
    true
}

/// An interned text slot's ids: a run of equal values (clustered input) is looked up once.
fn pack_interned(slot: &Slot, interner: &mut Interner, a: &StringArray, keys: &mut [u128]) -> bool {
    let nulls = a.nulls().filter(|n| n.null_count() > 0);
    let mut last: Option<(&[u8], u32)> = None;
    for (i, k) in keys.iter_mut().enumerate() {
        if nulls.is_some_and(|n| n.is_null(i)) {
            continue;
        }
        let s = a.value(i).as_bytes();
        let id = match last {
            Some((prev, id)) if prev == s => id,
            _ => match interner.intern(s) {
                Some(id) => id,
                None => return false,
            },
        };
        last = Some((s, id));
        *k |= code(slot, u128::from(id));
    }
    true
}

fn unpack_interned<K: Copy + Into<u128>>(
    slot: &Slot,
    interner: &Interner,
    keys: &[K],
) -> Result<Vector, EngineError> {
    let mask = slot.mask();
    let mut b = StringBuilder::with_capacity(keys.len(), keys.len() * 16);
    for &k in keys {
        let k = k.into() >> slot.shift;
        if k & 1 == 0 {
            b.append_null();
            continue;
        }
        let id = ((k >> VALID_BITS) & mask) as u32;
        if id as usize >= interner.ends.len() {
            return Err(EngineError::Internal(
                "interned group key without its value".into(),
            ));
        }
        let s = std::str::from_utf8(interner.value(id))
            .map_err(|_| EngineError::Internal("interned text key is not UTF-8".into()))?;
        b.append_value(s);
    }
    Ok(Vector::Text(b.finish()))
}

fn unpack_column<K: Copy + Into<u128>>(slot: &Slot, keys: &[K]) -> Result<Vector, EngineError> {
    let mask = slot.mask();
    let valid: Vec<bool> = keys
        .iter()
        .map(|&k| (k.into() >> slot.shift) & 1 == 1)
        .collect();
    let value = |k: K| (k.into() >> (slot.shift + VALID_BITS)) & mask;
    fn prim<T: ArrowPrimitiveType, K: Copy>(
        keys: &[K],
        valid: &[bool],
        f: impl Fn(K) -> T::Native,
    ) -> PrimitiveArray<T> {
        let values: Vec<T::Native> = keys.iter().map(|&k| f(k)).collect();
        PrimitiveArray::new(ScalarBuffer::from(values), nulls_from_valid(valid))
    }
    Ok(match slot.kind {
        Kind::Bool => Vector::Bool(BooleanArray::new(
            BooleanBuffer::collect_bool(keys.len(), |i| value(keys[i]) == 1),
            nulls_from_valid(&valid),
        )),
        Kind::Int16 => Vector::Int16(prim::<Int16Type, K>(keys, &valid, |k| {
            value(k) as u16 as i16
        })),
        Kind::Int32 => Vector::Int32(prim::<Int32Type, K>(keys, &valid, |k| {
            value(k) as u32 as i32
        })),
        Kind::Date => Vector::Date(prim::<Date32Type, K>(keys, &valid, |k| {
            value(k) as u32 as i32
        })),
        Kind::Int64 => Vector::Int64(prim::<Int64Type, K>(keys, &valid, |k| {
            value(k) as u64 as i64
        })),
        Kind::Timestamp => {
            Vector::Timestamp(prim::<TimestampMicrosecondType, K>(keys, &valid, |k| {
                value(k) as u64 as i64
            }))
        }
        Kind::TimestampTz => {
            Vector::TimestampTz(prim::<TimestampMicrosecondType, K>(keys, &valid, |k| {
                value(k) as u64 as i64
            }))
        }
        Kind::Text => unpack_text(slot, keys, &valid, value)?,
        Kind::Float32 | Kind::Float64 | Kind::Numeric => {
            return Err(EngineError::Internal(
                "packed group key of an unpackable kind".into(),
            ));
        }
    })
}

fn unpack_text<K: Copy>(
    slot: &Slot,
    keys: &[K],
    valid: &[bool],
    value: impl Fn(K) -> u128,
) -> Result<Vector, EngineError> {
    let width = slot.text_bytes as usize;
    let mut b = StringBuilder::with_capacity(keys.len(), keys.len() * width);
    for (&k, &ok) in keys.iter().zip(valid) {
        if !ok {
            b.append_null();
            continue;
        }
        let v = value(k);
        let n = (v & u128::from(MAX_TEXT_BYTES)) as usize;
        let bytes = (v >> TEXT_LEN_BITS).to_le_bytes();
        let s = std::str::from_utf8(&bytes[..n])
            .map_err(|_| EngineError::Internal("packed text key is not UTF-8".into()))?;
        b.append_value(s);
    }
    Ok(Vector::Text(b.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::vector::build::from_rows;
    use omendb_storage::types::Value;

    #[test]
    fn layouts_share_the_bits_left_to_text() {
        assert!(Layout::new(&[Kind::Int32]).is_some_and(|l| l.narrow()));
        assert!(Layout::new(&[Kind::Int64]).is_some_and(|l| !l.narrow()));
        assert!(Layout::new(&[Kind::Int64, Kind::Int64]).is_none());
        assert!(Layout::new(&[Kind::Numeric]).is_none());
        let two_texts = Layout::new(&[Kind::Text, Kind::Text]).unwrap();
        assert_eq!(two_texts.slots[1].text_bytes, 7);
        let one_text = Layout::new(&[Kind::Text]).unwrap();
        assert_eq!(one_text.slots[0].text_bytes, MAX_TEXT_BYTES);
    }

    #[test]
    fn keys_round_trip_and_tell_values_apart() {
        let rows = vec![
            vec![Value::Int32(-1), Value::Text("A".into()), Value::Bool(true)],
            vec![
                Value::Int32(0),
                Value::Text(String::new()),
                Value::Bool(false),
            ],
            vec![Value::Null, Value::Null, Value::Null],
            vec![
                Value::Int32(i32::MIN),
                Value::Text("Aé ".into()),
                Value::Bool(true),
            ],
            vec![Value::Int32(-1), Value::Text("A".into()), Value::Bool(true)],
        ];
        let kinds = [Kind::Int32, Kind::Text, Kind::Bool];
        let b = &from_rows(&rows, &kinds).unwrap()[0];
        let cols: Vec<&Vector> = b.columns.iter().collect();
        let mut layout = Layout::new(&kinds).unwrap();
        assert_round_trip(&mut layout, &cols, &rows);
    }

    /// `rows` (all distinct but the last, a repeat of the first) pack to keys equal exactly
    /// where the rows are, and unpack to themselves; returns the keys.
    fn assert_round_trip(layout: &mut Layout, cols: &[&Vector], rows: &[Vec<Value>]) -> Vec<u128> {
        let mut keys = Vec::new();
        assert!(layout.pack(cols, rows.len(), &mut keys));
        let last = rows.len() - 1;
        assert_eq!(keys[0], keys[last]);
        for i in 0..last {
            for j in 0..i {
                assert_ne!(keys[i], keys[j], "rows {i} and {j}");
            }
        }
        let back = layout.unpack(&keys).unwrap();
        for (i, row) in rows.iter().enumerate() {
            let got: Vec<Value> = back.iter().map(|c| c.value(i)).collect();
            assert_eq!(format!("{got:?}"), format!("{row:?}"));
        }
        keys
    }

    #[test]
    fn text_longer_than_its_slot_does_not_pack() {
        let rows = vec![vec![Value::Text("x".repeat(16))]];
        let b = &from_rows(&rows, &[Kind::Text]).unwrap()[0];
        let mut layout = Layout::new(&[Kind::Text]).unwrap();
        assert!(!layout.pack(&[&b.columns[0]], 1, &mut Vec::new()));
    }

    #[test]
    fn interned_text_keys_round_trip_and_tell_values_apart() {
        // Q16's shape: two long text columns and two integers.
        let kinds = [Kind::Text, Kind::Text, Kind::Int32, Kind::Int32];
        assert!(Layout::interned(&kinds).is_some_and(|l| !l.narrow() && l.is_interned()));
        assert!(
            Layout::interned(&[Kind::Int32]).is_none(),
            "no text, nothing to intern"
        );
        assert!(Layout::interned(&[Kind::Text; 5]).is_some());
        assert!(
            Layout::interned(&[Kind::Text; 6]).is_none(),
            "six ids do not fit"
        );
        let long = "a text value far longer than any inline slot";
        let text = |s: &str| Value::Text(s.into());
        let row = |a: Value, b: Value, size: Value, supp: i32| vec![a, b, size, Value::Int32(supp)];
        let rows = vec![
            row(text(long), text("Brand#45"), Value::Int32(1), 7),
            row(text(long), text("Brand#45"), Value::Int32(1), 8),
            row(Value::Null, text("Brand#45"), Value::Int32(1), 7),
            row(text(""), Value::Null, Value::Null, -7),
            row(
                text(&format!("{long}é")),
                text("Brand#45"),
                Value::Int32(1),
                7,
            ),
            row(text(long), text("Brand#45"), Value::Int32(1), 7),
        ];
        let b = &from_rows(&rows, &kinds).unwrap()[0];
        let cols: Vec<&Vector> = b.columns.iter().collect();
        assert!(
            !Layout::new(&kinds)
                .unwrap()
                .pack(&cols, rows.len(), &mut Vec::new())
        );
        let mut layout = Layout::interned(&kinds).unwrap();
        let keys = assert_round_trip(&mut layout, &cols, &rows);
        // A second batch finds the same ids.
        let mut again = Vec::new();
        assert!(layout.pack(&cols, rows.len(), &mut again));
        assert_eq!(keys, again);
    }

    #[test]
    fn a_full_interner_refuses_to_pack() {
        let mut interner = Interner::default();
        let big = vec![b'x'; MAX_INTERNED_BYTES / 2 + 1];
        assert_eq!(interner.intern(&big), Some(0));
        assert_eq!(
            interner.intern(&big),
            Some(0),
            "a known value still has its id"
        );
        assert_eq!(interner.intern(&big[1..]), None, "no room for another");
        assert_eq!(interner.intern(b"small"), Some(1));
    }
}
