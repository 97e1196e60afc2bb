//! Order-preserving ("memcomparable") key encoding: comparing encoded bytes compares the SQL
//! values, so any byte-ordered index can serve a composite, typed key.
//!
//! Must never be used for values whose order differs from their SQL order (collations other
//! than C are not supported).

use crate::types::{Numeric, Value};

const NULL_TAG: u8 = 0x00;
const VALUE_TAG: u8 = 0x01;
const NEGATIVE: u8 = 0x01;
const ZERO: u8 = 0x02;
const POSITIVE: u8 = 0x03;
/// Bytes of string keys are escaped so that the terminator sorts below every content byte.
const ESCAPE: u8 = 0x00;
const ESCAPED_ZERO: u8 = 0xFF;
const TERMINATOR: u8 = 0x01;

/// Append the encoding of `values` (one key) to `out`.
pub fn encode_key(values: &[&Value], out: &mut Vec<u8>) {
    for v in values {
        encode_value(v, out);
    }
}

/// Append one value's encoding. NULL sorts first.
pub fn encode_value(v: &Value, out: &mut Vec<u8>) {
    if v.is_null() {
        out.push(NULL_TAG);
        return;
    }
    out.push(VALUE_TAG);
    match v {
        Value::Null => {}
        Value::Bool(b) => out.push(u8::from(*b)),
        Value::Int16(i) => encode_i64(i64::from(*i), out),
        Value::Int32(i) => encode_i64(i64::from(*i), out),
        Value::Int64(i) => encode_i64(*i, out),
        Value::Date(d) => encode_i64(i64::from(*d), out),
        Value::Timestamp(t) | Value::TimestampTz(t) => encode_i64(*t, out),
        Value::Float32(f) => encode_f64(f64::from(*f), out),
        Value::Float64(f) => encode_f64(*f, out),
        Value::Numeric(n) => encode_numeric(*n, out),
        Value::Text(s) => encode_bytes(s.as_bytes(), out),
        Value::Bytea(b) => encode_bytes(b, out),
        Value::Interval(iv) => out
            .extend_from_slice(&((iv.normalized_micros() as u128) ^ (1u128 << 127)).to_be_bytes()),
        Value::TextArray(items) => encode_text_array(items, out),
    }
}

/// Element by element, then an end mark below both element marks, so a prefix sorts first;
/// NULL elements sort after values, as in PostgreSQL's array comparison.
fn encode_text_array(items: &[Option<String>], out: &mut Vec<u8>) {
    const END: u8 = 0x01;
    const ELEMENT: u8 = 0x02;
    const NULL_ELEMENT: u8 = 0x03;
    for item in items {
        match item {
            Some(s) => {
                out.push(ELEMENT);
                encode_bytes(s.as_bytes(), out);
            }
            None => out.push(NULL_ELEMENT),
        }
    }
    out.push(END);
}

fn encode_i64(i: i64, out: &mut Vec<u8>) {
    out.extend_from_slice(&((i as u64) ^ (1 << 63)).to_be_bytes());
}

fn encode_f64(f: f64, out: &mut Vec<u8>) {
    // PostgreSQL orders NaN above everything and -0 equal to 0.
    let f = if f == 0.0 { 0.0 } else { f };
    let bits = if f.is_nan() { u64::MAX } else { f.to_bits() };
    let ordered = if bits >> 63 == 1 && !f.is_nan() {
        !bits
    } else {
        bits | (1 << 63)
    };
    out.extend_from_slice(&ordered.to_be_bytes());
}

/// Sign, then decimal exponent and significant digits, so 1.0 and 1.00 encode alike.
fn encode_numeric(n: Numeric, out: &mut Vec<u8>) {
    let m = n.mantissa();
    if m == 0 {
        out.push(ZERO);
        return;
    }
    let mut digits = m.unsigned_abs().to_string().into_bytes();
    let exponent = digits.len() as i16 - i16::from(n.scale());
    while digits.last() == Some(&b'0') {
        digits.pop();
    }
    let start = out.len();
    out.push(if m < 0 { NEGATIVE } else { POSITIVE });
    let body = out.len();
    out.extend_from_slice(&((exponent as u16) ^ (1 << 15)).to_be_bytes());
    out.extend_from_slice(&digits);
    out.push(0);
    if m < 0 {
        // Complementing every byte (terminator included) reverses the order for negatives.
        out[body..].iter_mut().for_each(|b| *b = !*b);
    }
    debug_assert!(out.len() > start);
}

fn encode_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    for &b in bytes {
        if b == ESCAPE {
            out.extend_from_slice(&[ESCAPE, ESCAPED_ZERO]);
        } else {
            out.push(b);
        }
    }
    out.extend_from_slice(&[ESCAPE, TERMINATOR]);
}

/// Append the encoding of a primary key: like `encode_key` but without NULL tags (key columns
/// are never NULL) and with integers in an order-preserving variable-length form, so the
/// leading 8 bytes a learned index models carry as much of the key as possible: a TPC-C
/// (warehouse, district, order) key fits in 7 bytes.
pub fn encode_primary_key(values: &[&Value], out: &mut Vec<u8>) {
    for v in values {
        match v {
            Value::Int16(i) => encode_varint(i64::from(*i), out),
            Value::Int32(i) => encode_varint(i64::from(*i), out),
            Value::Int64(i) => encode_varint(*i, out),
            Value::Date(d) => encode_varint(i64::from(*d), out),
            other => {
                let start = out.len();
                encode_value(other, out);
                // Drop the NULL/value tag: every key column has a value.
                out.remove(start);
            }
        }
    }
}

/// Append the primary-key encoding of one string or bytea key column's bytes: what
/// `encode_primary_key` appends for a `Value::Text`/`Value::Bytea`, without building the value.
pub fn encode_primary_key_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    encode_bytes(bytes, out);
}

/// Append the primary-key encoding of one integer or date key column: what
/// `encode_primary_key` appends for `Value::Int16/Int32/Int64/Date` holding `v`.
pub fn encode_primary_key_int(v: i64, out: &mut Vec<u8>) {
    encode_varint(v, out);
}

/// Order-preserving signed varint: a header byte holding sign and length (0x80 + n for
/// non-negative, 0x7F - n for negative), then the n significant big-endian bytes (complemented
/// for negatives, so longer and larger magnitudes sort first).
fn encode_varint(v: i64, out: &mut Vec<u8>) {
    let (magnitude, negative) = if v >= 0 {
        (v as u64, false)
    } else {
        (!(v as u64), true)
    };
    let bytes = magnitude.to_be_bytes();
    let skip = (magnitude.leading_zeros() / 8) as usize;
    let n = (8 - skip) as u8;
    if negative {
        out.push(0x7F - n);
        out.extend(bytes[skip..].iter().map(|b| !b));
    } else {
        out.push(0x80 + n);
        out.extend_from_slice(&bytes[skip..]);
    }
}

/// A stable 64-bit hash of an encoded key, for picking shards (must not change between
/// releases: it decides where rows live).
pub fn shard_hash(key: &[u8]) -> u64 {
    const SEED: u64 = 0x9E37_79B9_7F4A_7C15;
    const MULTIPLIER: u64 = 0xFF51_AFD7_ED55_8CCD;
    let mut h = SEED;
    for chunk in key.chunks(8) {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        h = (h ^ u64::from_le_bytes(word)).wrapping_mul(MULTIPLIER);
        h ^= h >> 33;
    }
    h ^ key.len() as u64
}

/// `shard_hash` of an integer's encoded value (`encode_value` of any integer type), computed
/// on the stack: a bulk load routes each row by its integer key without encoding it.
pub fn shard_hash_int(v: i64) -> u64 {
    const SEED: u64 = 0x9E37_79B9_7F4A_7C15;
    const MULTIPLIER: u64 = 0xFF51_AFD7_ED55_8CCD;
    // The encoding is VALUE_TAG then the 8 bytes of `encode_i64`: two words for `shard_hash`.
    let e = ((v as u64) ^ (1 << 63)).to_be_bytes();
    let first = u64::from_le_bytes([VALUE_TAG, e[0], e[1], e[2], e[3], e[4], e[5], e[6]]);
    let mut h = SEED;
    for word in [first, u64::from(e[7])] {
        h = (h ^ word).wrapping_mul(MULTIPLIER);
        h ^= h >> 33;
    }
    h ^ 9
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The integer shortcut hashes exactly as the encoded value does, for every width.
        #[test]
        fn integer_shard_hash_is_the_encoded_values(
            v in prop_oneof![any::<i64>(), -70_000i64..70_000, Just(i64::MIN), Just(i64::MAX)],
        ) {
            let hash = |v: Value| {
                let mut out = Vec::new();
                encode_value(&v, &mut out);
                shard_hash(&out)
            };
            prop_assert_eq!(shard_hash_int(v), hash(Value::Int64(v)));
            if let Ok(x) = i32::try_from(v) {
                prop_assert_eq!(shard_hash_int(v), hash(Value::Int32(x)));
            }
            if let Ok(x) = i16::try_from(v) {
                prop_assert_eq!(shard_hash_int(v), hash(Value::Int16(x)));
            }
        }
    }

    fn enc(v: Value) -> Vec<u8> {
        let mut out = Vec::new();
        encode_value(&v, &mut out);
        out
    }

    #[test]
    fn integers_order_across_sign() {
        let keys: Vec<_> = [-5i64, -1, 0, 1, 300, i64::MAX]
            .into_iter()
            .map(|i| enc(Value::Int64(i)))
            .collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
        assert!(enc(Value::Null) < enc(Value::Int64(i64::MIN)));
    }

    fn pk(values: &[Value]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_primary_key(&values.iter().collect::<Vec<_>>(), &mut out);
        out
    }

    #[test]
    fn primary_key_integers_are_compact_and_ordered() {
        let samples = [
            i64::MIN,
            -70_000,
            -256,
            -255,
            -2,
            -1,
            0,
            1,
            2,
            255,
            256,
            70_000,
            i64::MAX,
        ];
        let keys: Vec<_> = samples.iter().map(|&i| pk(&[Value::Int64(i)])).collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "{keys:?}");
        assert_eq!(
            pk(&[Value::Int32(1), Value::Int32(5), Value::Int32(3001)]).len(),
            7
        );
        // Composite keys order by the first column, then the next.
        assert!(
            pk(&[Value::Int32(1), Value::Int32(300)]) < pk(&[Value::Int32(2), Value::Int32(1)])
        );
        assert!(
            pk(&[Value::Text("a".into()), Value::Int32(9)])
                < pk(&[Value::Text("ab".into()), Value::Int32(1)])
        );
    }

    #[test]
    fn strings_order_bytewise_with_prefixes_first() {
        let keys: Vec<_> = ["", "a", "a\0", "ab", "b"]
            .into_iter()
            .map(|s| enc(Value::Text(s.into())))
            .collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "{keys:?}");
    }

    #[test]
    fn composite_keys_order_by_first_then_second() {
        let k = |a: &str, b: i32| {
            let mut out = Vec::new();
            encode_key(&[&Value::Text(a.into()), &Value::Int32(b)], &mut out);
            out
        };
        assert!(k("a", 9) < k("ab", 1));
        assert!(k("a", 1) < k("a", 2));
    }

    #[test]
    fn numerics_order_by_value_not_scale() {
        let n = |m: i128, s: u8| enc(Value::Numeric(Numeric::new(m, s)));
        assert_eq!(n(10, 1), n(100, 2));
        let ordered = [
            n(-1235, 1),
            n(-123, 0),
            n(-12, 1),
            n(0, 0),
            n(5, 3),
            n(12, 1),
            n(123, 0),
            n(1235, 1),
        ];
        assert!(ordered.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn floats_order_with_negative_zero_equal() {
        let keys: Vec<_> = [
            f64::NEG_INFINITY,
            -2.5,
            -0.5,
            0.0,
            1e-300,
            3.0,
            f64::INFINITY,
            f64::NAN,
        ]
        .into_iter()
        .map(|f| enc(Value::Float64(f)))
        .collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(enc(Value::Float64(-0.0)), enc(Value::Float64(0.0)));
    }
}
