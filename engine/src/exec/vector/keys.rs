//! Row keys for grouping, joining and sorting: the storage layer's memcomparable encoding
//! (`row::key::encode_value`) built column by column.
//!
//! Two keys are equal exactly when the row executor's grouping and hash join consider the
//! values equal (it uses the same encoding), and comparing key bytes orders rows as its sort
//! does (`compare`, NULLs placed per key, descending keys with inverted bytes).

use super::data::Vector;
use omendb_storage::row::key::encode_value;
use omendb_storage::types::Value;

const NULL_FIRST_TAG: u8 = 0x00;
const VALUE_TAG: u8 = 0x01;
const NULL_LAST_TAG: u8 = 0x02;

/// How one key column orders.
#[derive(Debug, Clone, Copy, Default)]
pub struct Order {
    pub descending: bool,
    pub nulls_first: bool,
}

/// One encoded key per row.
#[derive(Debug, Default)]
pub struct Keys {
    bytes: Vec<u8>,
    offsets: Vec<usize>,
}

impl Keys {
    pub fn get(&self, i: usize) -> &[u8] {
        &self.bytes[self.offsets[i]..self.offsets[i + 1]]
    }
}

/// One column's encodings, row by row.
struct Column {
    bytes: Vec<u8>,
    offsets: Vec<usize>,
}

fn encode_i64_into(v: i64, out: &mut Vec<u8>) {
    out.extend_from_slice(&((v as u64) ^ (1 << 63)).to_be_bytes());
}

fn encode_f64_into(f: f64, out: &mut Vec<u8>) {
    let f = if f == 0.0 { 0.0 } else { f };
    let bits = if f.is_nan() { u64::MAX } else { f.to_bits() };
    let ordered = if bits >> 63 == 1 && !f.is_nan() {
        !bits
    } else {
        bits | (1 << 63)
    };
    out.extend_from_slice(&ordered.to_be_bytes());
}

const ESCAPE: u8 = 0x00;
const ESCAPED_ZERO: u8 = 0xFF;
const TERMINATOR: u8 = 0x01;

fn encode_bytes_into(bytes: &[u8], out: &mut Vec<u8>) {
    if !bytes.contains(&ESCAPE) {
        out.extend_from_slice(bytes);
    } else {
        for &b in bytes {
            if b == ESCAPE {
                out.extend_from_slice(&[ESCAPE, ESCAPED_ZERO]);
            } else {
                out.push(b);
            }
        }
    }
    out.extend_from_slice(&[ESCAPE, TERMINATOR]);
}

fn encode_column(v: &Vector, len: usize, order: Order) -> Column {
    let mut bytes = Vec::with_capacity(len * 9);
    let mut offsets = Vec::with_capacity(len + 1);
    offsets.push(0);
    let nulls = v.nulls();
    let null_tag = if order.nulls_first {
        NULL_FIRST_TAG
    } else {
        NULL_LAST_TAG
    };
    let mut scratch = Vec::new();
    for i in 0..len {
        if nulls.is_some_and(|n| n.is_null(i)) {
            bytes.push(null_tag);
            offsets.push(bytes.len());
            continue;
        }
        bytes.push(VALUE_TAG);
        let start = bytes.len();
        match v {
            Vector::Bool(a) => bytes.push(u8::from(a.value(i))),
            Vector::Int16(a) => encode_i64_into(i64::from(a.value(i)), &mut bytes),
            Vector::Int32(a) => encode_i64_into(i64::from(a.value(i)), &mut bytes),
            Vector::Int64(a) => encode_i64_into(a.value(i), &mut bytes),
            Vector::Date(a) => encode_i64_into(i64::from(a.value(i)), &mut bytes),
            Vector::Timestamp(a) | Vector::TimestampTz(a) => {
                encode_i64_into(a.value(i), &mut bytes)
            }
            Vector::Float32(a) => encode_f64_into(f64::from(a.value(i)), &mut bytes),
            Vector::Float64(a) => encode_f64_into(a.value(i), &mut bytes),
            Vector::Text(a) => encode_bytes_into(a.value(i).as_bytes(), &mut bytes),
            Vector::Numeric(n) => {
                // Rare as a key: reuse the storage encoder (skipping its own tag byte).
                scratch.clear();
                encode_value(&Value::Numeric(n.numeric(i)), &mut scratch);
                bytes.extend_from_slice(&scratch[1..]);
            }
            Vector::Absent(_) => {}
        }
        if order.descending {
            bytes[start..].iter_mut().for_each(|b| *b = !*b);
        }
        offsets.push(bytes.len());
    }
    Column { bytes, offsets }
}

/// The keys of `len` rows over `columns` (one order per column).
pub fn encode(columns: &[&Vector], orders: &[Order], len: usize) -> Keys {
    if let [only] = columns {
        let c = encode_column(only, len, orders[0]);
        return Keys {
            bytes: c.bytes,
            offsets: c.offsets,
        };
    }
    let cols: Vec<Column> = columns
        .iter()
        .zip(orders)
        .map(|(c, o)| encode_column(c, len, *o))
        .collect();
    let total = cols.iter().map(|c| c.bytes.len()).sum();
    let mut keys = Keys {
        bytes: Vec::with_capacity(total),
        offsets: Vec::with_capacity(len + 1),
    };
    keys.offsets.push(0);
    for i in 0..len {
        for c in &cols {
            keys.bytes
                .extend_from_slice(&c.bytes[c.offsets[i]..c.offsets[i + 1]]);
        }
        keys.offsets.push(keys.bytes.len());
    }
    keys
}

/// Rows where some key column is NULL (never equal to anything in a join).
pub fn any_null(columns: &[&Vector], len: usize) -> Vec<bool> {
    let mut out = vec![false; len];
    for c in columns {
        if let Some(n) = c.nulls() {
            for (i, o) in out.iter_mut().enumerate() {
                *o |= n.is_null(i);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::vector::build::from_rows;
    use crate::exec::vector::data::Kind;

    #[test]
    fn ascending_keys_are_the_storage_encoding() {
        let rows: Vec<Vec<Value>> = vec![
            vec![
                Value::Int32(-5),
                Value::Text("a\0b".into()),
                Value::Float64(-0.0),
            ],
            vec![
                Value::Null,
                Value::Text(String::new()),
                Value::Float64(f64::NAN),
            ],
            vec![Value::Int32(7), Value::Null, Value::Float64(2.5)],
        ];
        let kinds = [Kind::Int32, Kind::Text, Kind::Float64];
        let b = &from_rows(&rows, &kinds).unwrap()[0];
        let cols: Vec<&Vector> = b.columns.iter().collect();
        let keys = encode(&cols, &[Order::default(); 3], 3);
        for (i, row) in rows.iter().enumerate() {
            let mut expected = Vec::new();
            for v in row {
                let mut one = Vec::new();
                encode_value(v, &mut one);
                if v.is_null() {
                    one[0] = NULL_LAST_TAG;
                }
                expected.extend(one);
            }
            assert_eq!(keys.get(i), expected.as_slice(), "row {i}");
        }
    }
}
