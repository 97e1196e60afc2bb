//! Segment tests: round trips of every type through the file, zone maps against a naive
//! computation, key lookups with both index kinds, corruption and truncation.

use super::*;
use crate::row::key::encode_primary_key;
use crate::types::{Interval, Numeric};
use arrow_array::Array;
use omendb_learned::index::IndexKind;
use proptest::prelude::*;

fn same(a: &[Value], b: &[Value]) -> bool {
    format!("{a:?}") == format!("{b:?}")
}

fn key_of(row: &[Value], pk: &[usize]) -> Vec<u8> {
    let vals: Vec<&Value> = pk.iter().map(|&c| &row[c]).collect();
    let mut out = Vec::new();
    encode_primary_key(&vals, &mut out);
    out
}

fn refs(rows: &[Vec<Value>]) -> Vec<&[Value]> {
    rows.iter().map(Vec::as_slice).collect()
}

/// Build, check rows, encode, decode, check rows again; returns the file.
fn round_trip(types: &[DataType], pk: Option<&[usize]>, rows: &[Vec<Value>]) -> Vec<u8> {
    let seg = Segment::from_rows(types, pk, &refs(rows)).unwrap();
    assert_eq!(seg.rows(), rows.len());
    for (i, r) in rows.iter().enumerate() {
        assert!(same(&seg.row(i), r), "row {i}: {:?} vs {r:?}", seg.row(i));
    }
    let bytes = seg.encode();
    assert_eq!(bytes.len() % 4096, 0);
    let back = Segment::decode(types, pk, &bytes).unwrap();
    assert_eq!(back.rows(), rows.len());
    for (i, r) in rows.iter().enumerate() {
        assert!(
            same(&back.row(i), r),
            "decoded row {i}: {:?} vs {r:?}",
            back.row(i)
        );
    }
    for (a, b) in seg.zones().iter().zip(back.zones()) {
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
    }
    bytes
}

fn all_types() -> Vec<DataType> {
    vec![
        DataType::Bool,
        DataType::Int16,
        DataType::Int32,
        DataType::Int64,
        DataType::Float32,
        DataType::Float64,
        DataType::Numeric {
            precision: Some(15),
            scale: Some(2),
        },
        DataType::NUMERIC,
        DataType::Text,
        DataType::Varchar(Some(10)),
        DataType::Char(Some(3)),
        DataType::Bytea,
        DataType::Date,
        DataType::Timestamp,
        DataType::TimestampTz,
        DataType::Interval,
    ]
}

/// A row of every type from `i`, with extremes mixed in.
fn wide_row(i: usize) -> Vec<Value> {
    let ints = [i64::MIN, -1, 0, 1, i64::MAX];
    let floats = [
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        -0.0,
        0.0,
        1.5e300,
    ];
    let pick = |xs: &[i64]| xs[i % xs.len()];
    vec![
        Value::Bool(i.is_multiple_of(3)),
        Value::Int16(pick(&ints) as i16),
        Value::Int32(pick(&ints) as i32),
        Value::Int64(pick(&ints)),
        Value::Float32(floats[i % floats.len()] as f32),
        Value::Float64(floats[i % floats.len()]),
        Value::Numeric(Numeric::new(i as i128 * 101 - 5000, 2)),
        Value::Numeric(Numeric::new(
            if i.is_multiple_of(4) {
                i128::MAX / 3 - i as i128
            } else {
                -(i as i128)
            },
            (i % 7) as u8,
        )),
        Value::Text(["", "snø ❄", "plain", "𝄞 music"][i % 4].repeat(i % 5)),
        Value::Text(format!("v{}", i % 13)),
        Value::Text(["a  ", "bc ", "é  "][i % 3].into()),
        Value::Bytea(vec![0, (i % 256) as u8, 255]),
        Value::Date(pick(&ints) as i32),
        Value::Timestamp(pick(&ints)),
        Value::TimestampTz(i as i64 * 1_000_000 - 7),
        Value::Interval(Interval {
            months: i as i32,
            days: -(i as i32),
            micros: pick(&ints),
        }),
    ]
}

fn with_nulls(mut row: Vec<Value>, i: usize, every: usize) -> Vec<Value> {
    for (c, v) in row.iter_mut().enumerate() {
        if every > 0 && (i + c).is_multiple_of(every) {
            *v = Value::Null;
        }
    }
    row
}

#[test]
fn every_type_round_trips_with_no_some_and_all_nulls() {
    let types = all_types();
    for every in [0, 3, 1] {
        for n in [1, 2, 7, 100, 1000] {
            let rows: Vec<_> = (0..n).map(|i| with_nulls(wide_row(i), i, every)).collect();
            round_trip(&types, None, &rows);
        }
    }
}

#[test]
fn boundaries_of_rows_and_blocks() {
    // One int column: each extra row adds bytes, so some count crosses each block boundary.
    let types = [DataType::Int64, DataType::Text];
    let payload = file::PAYLOAD;
    let mut crossed = 0;
    let mut last_len = 0;
    for n in (1..1200).step_by(7) {
        let rows: Vec<_> = (0..n)
            .map(|i| {
                vec![
                    Value::Int64(i as i64 * 7919 % 1_000_003),
                    Value::Text(format!("{i:x}")),
                ]
            })
            .collect();
        let bytes = round_trip(&types, None, &rows);
        if bytes.len() != last_len {
            crossed += 1;
            last_len = bytes.len();
        }
    }
    assert!(crossed >= 2, "never crossed a block boundary ({payload})");
}

#[test]
fn segment_rows_round_trip() {
    let types = [DataType::Int64, DataType::Float64, DataType::Text];
    let rows: Vec<_> = (0..SEGMENT_ROWS)
        .map(|i| {
            vec![
                Value::Int64(i as i64 * 3),
                Value::Float64(i as f64 / 7.0),
                Value::Text(format!("row {}", i % 100)),
            ]
        })
        .collect();
    let bytes = round_trip(&types, Some(&[0]), &rows);
    let seg = Segment::decode(&types, Some(&[0]), &bytes).unwrap();
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(seg.find(&key_of(r, &[0])), Some(i as u32));
    }
}

#[test]
fn empty_segment_is_an_error() {
    assert!(matches!(
        Segment::from_rows(&[DataType::Int32], None, &[]),
        Err(SegmentError::RowCount { .. })
    ));
}

#[test]
fn find_every_key_and_no_absent_key_with_each_index_kind() {
    let int_types = [DataType::Int32, DataType::Text];
    let int_rows: Vec<_> = (0..5000)
        .map(|i| vec![Value::Int32(i * 3 - 7000), Value::Text(format!("{i}"))])
        .collect();
    let pair_types = [DataType::Int32, DataType::Int32, DataType::Float64];
    let pair_rows: Vec<_> = (0..3000)
        .map(|i| {
            vec![
                Value::Int32(i / 100),
                Value::Int32((i % 100) * 1000),
                Value::Float64(1.0),
            ]
        })
        .collect();
    let text_types = [DataType::Varchar(None), DataType::Int64];
    let mut texts: Vec<String> = (0..3000)
        .map(|i| format!("customer#{:09}", i * 7))
        .chain(["", "a", "a\0", "ab", "é"].map(String::from))
        .collect();
    texts.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    let text_rows: Vec<_> = texts
        .iter()
        .enumerate()
        .map(|(i, s)| vec![Value::Text(s.clone()), Value::Int64(i as i64)])
        .collect();
    let absent_int = |r: &Vec<Value>| match r[0] {
        Value::Int32(i) => vec![Value::Int32(i + 1), Value::Null],
        _ => unreachable!(),
    };
    let absent_pair = |r: &Vec<Value>| match (&r[0], &r[1]) {
        (Value::Int32(a), Value::Int32(b)) => vec![Value::Int32(*a), Value::Int32(b + 1)],
        _ => unreachable!(),
    };
    let absent_text = |r: &Vec<Value>| match &r[0] {
        Value::Text(s) => vec![Value::Text(format!("{s}\u{7f}\u{7f}"))],
        _ => unreachable!(),
    };
    for kind in IndexKind::ALL {
        check_find(kind, &int_types, &[0], &int_rows, absent_int);
        check_find(kind, &pair_types, &[0, 1], &pair_rows, absent_pair);
        check_find(kind, &text_types, &[0], &text_rows, absent_text);
    }
}

fn check_find(
    kind: IndexKind,
    types: &[DataType],
    pk: &[usize],
    rows: &[Vec<Value>],
    absent: impl Fn(&Vec<Value>) -> Vec<Value>,
) {
    let seg = Segment::from_rows_with(kind, types, Some(pk), &refs(rows)).unwrap();
    let decoded = Segment::decode_with(kind, types, Some(pk), &seg.encode()).unwrap();
    for s in [&seg, &decoded] {
        for (i, r) in rows.iter().enumerate() {
            assert_eq!(s.find(&key_of(r, pk)), Some(i as u32), "{kind:?} row {i}");
            let a = absent(r);
            let key_cols: Vec<usize> = (0..pk.len()).collect();
            assert_eq!(
                s.find(&key_of(&a, &key_cols)),
                None,
                "{kind:?} absent {a:?}"
            );
        }
        assert_eq!(s.find(&[]), None);
        assert_eq!(s.find(&[0xFF; 20]), None);
        // The first held of ascending keys: none among the absent ones, then each of three
        // present keys placed among them.
        let key_cols: Vec<usize> = (0..pk.len()).collect();
        let mut absent_keys: Vec<Vec<u8>> =
            rows.iter().map(|r| key_of(&absent(r), &key_cols)).collect();
        absent_keys.sort();
        absent_keys.dedup();
        assert_eq!(
            s.first_held(absent_keys.iter().map(Vec::as_slice)),
            None,
            "{kind:?}"
        );
        for r in [&rows[0], &rows[rows.len() / 2], &rows[rows.len() - 1]] {
            let mut keys = absent_keys.clone();
            let present = key_of(r, pk);
            let at = keys.partition_point(|k| *k < present);
            keys.insert(at, present);
            assert_eq!(
                s.first_held(keys.iter().map(Vec::as_slice)),
                Some(at),
                "{kind:?} {r:?}"
            );
        }
    }
}

#[test]
fn unsorted_duplicate_and_null_keys_are_errors() {
    let types = [DataType::Int64];
    let rows = |xs: &[Option<i64>]| -> Vec<Vec<Value>> {
        xs.iter()
            .map(|x| vec![x.map_or(Value::Null, Value::Int64)])
            .collect()
    };
    let build = |r: &[Vec<Value>]| Segment::from_rows(&types, Some(&[0]), &refs(r));
    assert!(matches!(
        build(&rows(&[Some(1), Some(0)])),
        Err(SegmentError::Unsorted { row: 1 })
    ));
    assert!(matches!(
        build(&rows(&[Some(1), Some(2), Some(2)])),
        Err(SegmentError::DuplicateKey { row: 2 })
    ));
    assert!(matches!(
        build(&rows(&[Some(1), None])),
        Err(SegmentError::NullKey { row: 1, column: 0 })
    ));
    // Without a key, any order and NULLs are fine.
    assert!(Segment::from_rows(&types, None, &refs(&rows(&[Some(2), None, Some(1)]))).is_ok());
}

#[test]
fn wrong_values_and_types_are_errors() {
    let mut b = ColumnBuilder::new(DataType::Int32, 1);
    assert!(matches!(
        b.push(&Value::Int64(1)),
        Err(SegmentError::WrongValue { .. })
    ));
    assert!(b.push(&Value::Int32(1)).is_ok());
    let rows = vec![vec![Value::Int32(1), Value::Text("x".into())]];
    let types = [DataType::Int32, DataType::Text];
    let bytes = Segment::from_rows(&types, None, &refs(&rows))
        .unwrap()
        .encode();
    let err = Segment::decode(&[DataType::Int64, DataType::Text], None, &bytes).unwrap_err();
    assert!(
        matches!(err, SegmentError::TypeMismatch { column: 0, .. }),
        "{err}"
    );
    let err = Segment::decode(&[DataType::Int32], None, &bytes).unwrap_err();
    assert!(matches!(err, SegmentError::ColumnCount { .. }), "{err}");
    let err = Segment::decode(&types, Some(&[0]), &bytes).unwrap_err();
    assert!(matches!(err, SegmentError::PrimaryKey(_)), "{err}");
    let bad = Segment::from_rows(&[DataType::Bool], None, &refs(&[vec![Value::Int16(1)]]));
    assert!(matches!(
        bad,
        Err(SegmentError::BadRow {
            row: 0,
            column: 0,
            ..
        })
    ));
}

#[test]
fn every_flipped_byte_and_truncation_is_an_error() {
    let types = all_types();
    let rows: Vec<_> = (0..300).map(|i| with_nulls(wide_row(i), i, 5)).collect();
    let bytes = Segment::from_rows(&types, None, &refs(&rows))
        .unwrap()
        .encode();
    assert!(
        bytes.len() >= 3 * 4096,
        "want several blocks, got {}",
        bytes.len()
    );
    // Every byte of the first block and the last; a stride through the rest.
    let positions = (0..4096)
        .chain(bytes.len() - 4096..bytes.len())
        .chain((0..bytes.len()).step_by(97));
    for at in positions {
        let mut bad = bytes.clone();
        bad[at] ^= 1 << (at % 8);
        let err = Segment::decode(&types, None, &bad).unwrap_err();
        assert!(
            matches!(err, SegmentError::Checksum { block, .. } if block == at / 4096),
            "byte {at}: {err}"
        );
    }
    for len in [0, 1, 4095, 4096, bytes.len() - 4096, bytes.len() - 1] {
        let err = Segment::decode(&types, None, &bytes[..len]).unwrap_err();
        assert!(
            matches!(err, SegmentError::Truncated { .. }),
            "length {len}: {err}"
        );
    }
}

#[test]
fn delete_vector_tracks_rows_and_round_trips() {
    let mut d = DeleteVector::new(130);
    assert!(d.live_mask().is_none());
    assert!(d.delete(3, 10));
    assert!(!d.delete(3, 11));
    assert!(d.delete(129, 12));
    assert!(d.delete(64, 13));
    assert!(!d.delete(130, 1));
    assert_eq!(d.count(), 3);
    assert!(d.is_deleted(64) && !d.is_deleted(65));
    assert_eq!(d.deleted_at(3), Some(10));
    assert_eq!(d.iter().collect::<Vec<_>>(), [(3, 10), (64, 13), (129, 12)]);
    let mask = d.live_mask().unwrap();
    assert_eq!(mask.len(), 3);
    let live = |i: usize| mask[i / 64] >> (i % 64) & 1 == 1;
    assert!((0..130).all(|i| live(i) != d.is_deleted(i as u32)));
    assert_eq!(mask[2] >> 2, 0, "bits past the last row are clear");
    let mut w = crate::io::ByteWriter::new();
    d.encode(&mut w);
    let back = DeleteVector::decode(&mut crate::io::ByteReader::new(&w.buf), 130).unwrap();
    assert_eq!(back, d);
    assert!(DeleteVector::decode(&mut crate::io::ByteReader::new(&w.buf), 131).is_err());
}

/// A random value of `ty` (or NULL).
fn value_strategy(ty: DataType) -> BoxedStrategy<Value> {
    let v: BoxedStrategy<Value> = match ty {
        DataType::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
        DataType::Int16 => any::<i16>().prop_map(Value::Int16).boxed(),
        DataType::Int32 => prop_oneof![any::<i32>(), -100..100i32]
            .prop_map(Value::Int32)
            .boxed(),
        DataType::Int64 => any::<i64>().prop_map(Value::Int64).boxed(),
        DataType::Float32 => any::<f32>().prop_map(Value::Float32).boxed(),
        DataType::Float64 => any::<f64>().prop_map(Value::Float64).boxed(),
        DataType::Numeric { scale: Some(s), .. } => (-10i128.pow(15)..10i128.pow(15))
            .prop_map(move |m| Value::Numeric(Numeric::new(m, s)))
            .boxed(),
        DataType::Numeric { .. } => (any::<i128>(), 0..=38u8)
            .prop_map(|(m, s)| Value::Numeric(Numeric::new(m / 10, s)))
            .boxed(),
        DataType::Bytea => proptest::collection::vec(any::<u8>(), 0..20)
            .prop_map(Value::Bytea)
            .boxed(),
        DataType::Date => any::<i32>().prop_map(Value::Date).boxed(),
        DataType::Timestamp => any::<i64>().prop_map(Value::Timestamp).boxed(),
        DataType::TimestampTz => any::<i64>().prop_map(Value::TimestampTz).boxed(),
        DataType::Interval => (any::<i32>(), any::<i32>(), any::<i64>())
            .prop_map(|(months, days, micros)| {
                Value::Interval(Interval {
                    months,
                    days,
                    micros,
                })
            })
            .boxed(),
        _ => prop_oneof!["[a-c]{0,3}", ".{0,12}"]
            .prop_map(Value::Text)
            .boxed(),
    };
    prop_oneof![1 => Just(Value::Null), 4 => v].boxed()
}

fn rows_strategy() -> impl Strategy<Value = (Vec<DataType>, Vec<Vec<Value>>)> {
    proptest::sample::subsequence(all_types(), 1..6).prop_flat_map(|types| {
        let row: Vec<_> = types.iter().map(|&t| value_strategy(t)).collect();
        (Just(types), proptest::collection::vec(row, 1..300))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_rows_round_trip_with_correct_zone_maps((types, rows) in rows_strategy()) {
        let bytes = round_trip(&types, None, &rows);
        let seg = Segment::decode(&types, None, &bytes).unwrap();
        for (c, z) in seg.zones().iter().enumerate() {
            let naive = naive_zone(rows.iter().map(|r| &r[c]));
            prop_assert_eq!(format!("{z:?}"), format!("{naive:?}"));
        }
    }

    #[test]
    fn random_keys_are_found_with_each_kind(mut keys in proptest::collection::btree_set(any::<i64>(), 1..400)) {
        keys.insert(0);
        let rows: Vec<_> = keys.iter().map(|&k| vec![Value::Int64(k), Value::Text(k.to_string())]).collect();
        let types = [DataType::Int64, DataType::Text];
        for kind in IndexKind::ALL {
            let seg = Segment::from_rows_with(kind, &types, Some(&[0]), &refs(&rows)).unwrap();
            for (i, r) in rows.iter().enumerate() {
                prop_assert_eq!(seg.find(&key_of(r, &[0])), Some(i as u32));
                if let Value::Int64(k) = r[0]
                    && let Some(k1) = k.checked_add(1)
                    && !keys.contains(&k1)
                {
                    prop_assert_eq!(seg.find(&key_of(&[Value::Int64(k1)], &[0])), None);
                }
            }
        }
    }
}

/// Zone map by sorting (a different algorithm from the one under test).
fn naive_zone<'a>(values: impl Iterator<Item = &'a Value>) -> ZoneMap {
    let mut nulls = 0;
    let mut vals: Vec<&Value> = Vec::new();
    for v in values {
        if v.is_null() {
            nulls += 1;
        } else {
            vals.push(v);
        }
    }
    // A stable sort keeps the first of equal values first, as the zone map does.
    vals.sort_by(|a, b| cmp_values(a, b));
    let first_max = vals
        .iter()
        .position(|v| vals.last().is_some_and(|m| cmp_values(v, m).is_eq()));
    ZoneMap {
        min: vals.first().map(|v| (*v).clone()),
        max: first_max.map(|i| vals[i].clone()),
        nulls,
    }
}

fn cmp_values(a: &Value, b: &Value) -> std::cmp::Ordering {
    match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Int16(x), Value::Int16(y)) => x.cmp(y),
        (Value::Int32(x), Value::Int32(y)) | (Value::Date(x), Value::Date(y)) => x.cmp(y),
        (Value::Int64(x), Value::Int64(y))
        | (Value::Timestamp(x), Value::Timestamp(y))
        | (Value::TimestampTz(x), Value::TimestampTz(y)) => x.cmp(y),
        (Value::Float32(x), Value::Float32(y)) => pg_float_cmp(f64::from(*x), f64::from(*y)),
        (Value::Float64(x), Value::Float64(y)) => pg_float_cmp(*x, *y),
        (Value::Numeric(x), Value::Numeric(y)) => x.cmp(y),
        (Value::Text(x), Value::Text(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Value::Bytea(x), Value::Bytea(y)) => x.cmp(y),
        (Value::Interval(x), Value::Interval(y)) => x.cmp(y),
        _ => unreachable!("mixed types"),
    }
}

#[test]
fn sliced_columns_round_trip() {
    let types = all_types();
    let rows: Vec<_> = (0..100).map(|i| with_nulls(wide_row(i), i, 4)).collect();
    let whole = Segment::from_rows(&types, None, &refs(&rows)).unwrap();
    for (offset, len) in [(3, 50), (0, 1), (9, 91), (64, 8)] {
        let cols: Vec<Column> = whole
            .columns()
            .iter()
            .map(|c| c.slice(offset, len))
            .collect();
        let seg = Segment::from_columns(&types, None, cols).unwrap();
        let back = Segment::decode(&types, None, &seg.encode()).unwrap();
        for i in 0..len {
            assert!(
                same(&back.row(i), &rows[offset + i]),
                "slice {offset}+{len} row {i}"
            );
        }
    }
}

#[test]
fn encodings_shrink_what_they_should() {
    // 4096 small ascending ints and 4096 values of 3 strings: bit-packed and dictionary.
    let types = [DataType::Int64, DataType::Text];
    let rows: Vec<_> = (0..4096)
        .map(|i| {
            vec![
                Value::Int64(1_000_000 + i),
                Value::Text(["alpha", "beta", "gamma"][i as usize % 3].into()),
            ]
        })
        .collect();
    let bytes = Segment::from_rows(&types, Some(&[0]), &refs(&rows))
        .unwrap()
        .encode();
    // Plain would be 32 KiB of ints and ~20 KiB of strings.
    assert!(bytes.len() <= 3 * 4096, "{} bytes", bytes.len());
}

/// Numerics that fit 64 bits and low-cardinality text are held compactly in memory, with the
/// same values, zone maps and key lookups as the plain forms, before and after a file round trip.
#[test]
fn compact_in_memory_forms_hold_the_same_values() {
    let types = vec![
        DataType::Int32,
        DataType::Numeric {
            precision: Some(15),
            scale: Some(2),
        },
        DataType::Char(Some(10)),
        DataType::Numeric {
            precision: None,
            scale: None,
        },
        DataType::Text,
    ];
    let modes = ["AIR       ", "MAIL      ", "SHIP      ", "TRUCK     "];
    let rows: Vec<Vec<Value>> = (0..5000)
        .map(|i| {
            vec![
                Value::Int32(i),
                if i % 97 == 0 {
                    Value::Null
                } else {
                    Value::Numeric(Numeric::new(i128::from(i) * 1_000_003 - 7, 2))
                },
                if i % 89 == 0 {
                    Value::Null
                } else {
                    Value::Text(modes[(i % 4) as usize].into())
                },
                // Beyond 64 bits: stays 128-bit.
                Value::Numeric(Numeric::new(i128::from(i) << 70, 0)),
                // Every value distinct: stays plain.
                Value::Text(format!("comment {i}")),
            ]
        })
        .collect();
    let bytes = round_trip(&types, Some(&[0]), &rows);
    let kinds = |seg: &Segment| -> Vec<&'static str> {
        seg.columns()
            .iter()
            .map(|c| match c {
                Column::Numeric64 { .. } => "numeric64",
                Column::TextDict { .. } => "dict",
                Column::Numeric { .. } => "numeric",
                Column::Text(_) => "text",
                _ => "other",
            })
            .collect()
    };
    let want = ["other", "numeric64", "dict", "numeric", "text"];
    let built = Segment::from_rows(&types, Some(&[0]), &refs(&rows)).unwrap();
    assert_eq!(kinds(&built), want);
    let back = Segment::decode(&types, Some(&[0]), &bytes).unwrap();
    assert_eq!(kinds(&back), want);
    for seg in [&built, &back] {
        for c in seg.columns() {
            assert!(c.is_consistent());
        }
        let dict = &seg.columns()[2];
        let plain = dict.text_rows(10, 100).unwrap();
        for i in 0..100 {
            assert_eq!(plain.is_null(i), rows[10 + i][2].is_null());
            if let Value::Text(s) = &rows[10 + i][2] {
                assert_eq!(plain.value(i), s);
            }
        }
        let taken = dict.take(&[88, 89, 90]).unwrap();
        assert!(same(
            &[taken.value(0), taken.value(1), taken.value(2)],
            &[
                rows[88][2].clone(),
                rows[89][2].clone(),
                rows[90][2].clone()
            ]
        ));
        assert_eq!(
            seg.find(&key_of(&rows[4321], &[0])),
            Some(4321u32),
            "key lookup over compact columns"
        );
    }
}

#[test]
fn a_text_key_column_held_as_a_dictionary_is_found() {
    // Few distinct key prefixes + a second key column: the first key column becomes a
    // dictionary, and lookups encode keys from its codes.
    let types = vec![DataType::Text, DataType::Int32];
    let rows: Vec<Vec<Value>> = ["alpha", "beta", "gamma"]
        .iter()
        .flat_map(|s| (0..400).map(move |i| vec![Value::Text((*s).into()), Value::Int32(i)]))
        .collect();
    let seg = Segment::from_rows(&types, Some(&[0, 1]), &refs(&rows)).unwrap();
    assert!(matches!(seg.columns()[0], Column::TextDict { .. }));
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(seg.find(&key_of(r, &[0, 1])), Some(i as u32));
    }
    round_trip(&types, Some(&[0, 1]), &rows);
}

/// A dictionary column is encoded, zone-mapped and sketched from its codes and entries: the
/// same values come back, the zone map is the naive one over its rows (also when a slice or a
/// take leaves entries no row uses, or more entries than rows), and the sketch is the plain
/// column's.
#[test]
fn dictionary_columns_encode_and_summarise_from_their_codes() {
    let types = vec![DataType::Int32, DataType::Text];
    let words = ["mango", "apple", "zebra", "kiwi", "fig"];
    let rows: Vec<Vec<Value>> = (0..3000)
        .map(|i| {
            let text = if i % 7 == 0 {
                Value::Null
            } else {
                Value::Text(words[(i as usize * 3) % words.len()].into())
            };
            vec![Value::Int32(i), text]
        })
        .collect();
    round_trip(&types, Some(&[0]), &rows);
    let seg = Segment::from_rows(&types, Some(&[0]), &refs(&rows)).unwrap();
    let dict = &seg.columns()[1];
    assert!(matches!(dict, Column::TextDict { .. }));
    let texts: Vec<Value> = rows.iter().map(|r| r[1].clone()).collect();
    let plain = Column::Text(dict.text_rows(0, rows.len()).unwrap());
    assert_eq!(
        Sketch::of(dict).estimate(),
        Sketch::of(&plain).estimate(),
        "a dictionary column sketches as its plain form"
    );
    // Rows 1..3 use "apple" and "kiwi" only; rows 0 and 7 are NULL.
    for (part, values) in [
        (dict.slice(1, 2), texts[1..3].to_vec()),
        (dict.take(&[0, 7]).unwrap(), vec![Value::Null, Value::Null]),
        (
            dict.take(&[4, 7, 2]).unwrap(),
            vec![texts[4].clone(), Value::Null, texts[2].clone()],
        ),
    ] {
        assert_eq!(
            format!("{:?}", ZoneMap::of(&part)),
            format!("{:?}", naive_zone(values.iter()))
        );
        let n = values.len();
        let ids: Vec<Column> = vec![
            Column::Int32(arrow_array::Int32Array::from_iter_values(0..n as i32)),
            part,
        ];
        let small = Segment::from_columns(&types, Some(&[0]), ids).unwrap();
        let back = Segment::decode(&types, Some(&[0]), &small.encode()).unwrap();
        for (i, v) in values.iter().enumerate() {
            assert!(same(&back.row(i)[1..], std::slice::from_ref(v)), "row {i}");
        }
    }
}

/// A `numeric(p, s)` builder builds the 64-bit form directly and widens, keeping every value
/// pushed before, when a mantissa needs 128 bits or a value arrives at another scale.
#[test]
fn numeric_builders_widen_when_a_value_does_not_fit() {
    let ty = DataType::Numeric {
        precision: Some(38),
        scale: Some(2),
    };
    let narrow = |m: i128| Value::Numeric(Numeric::new(m, 2));
    let cases: Vec<Vec<Value>> = vec![
        vec![narrow(150), Value::Null, narrow(-7)],
        vec![narrow(150), Value::Null, narrow(1_i128 << 80), narrow(-7)],
        vec![
            narrow(150),
            Value::Numeric(Numeric::new(15, 1)),
            Value::Null,
        ],
        vec![Value::Null, Value::Null],
    ];
    for values in cases {
        let mut b = ColumnBuilder::new(ty, 1);
        for v in &values {
            b.push(v).unwrap();
        }
        b.push_decimal(123).unwrap();
        let column = b.finish();
        assert!(column.is_consistent());
        let wide = values.iter().any(|v| match v {
            Value::Numeric(n) => n.scale() != 2 || i64::try_from(n.mantissa()).is_err(),
            _ => false,
        });
        assert_eq!(
            matches!(column, Column::Numeric64 { .. }),
            !wide,
            "{values:?}"
        );
        for (i, v) in values.iter().chain([&narrow(123)]).enumerate() {
            assert!(
                same(&[column.value(i)], std::slice::from_ref(v)),
                "{values:?} row {i}"
            );
        }
    }
}

/// Dictionary values short enough to be looked up as integers and longer ones side by side —
/// at the 15/16-byte boundary, with trailing NUL bytes and blanks that must not merge with the
/// shorter value, multibyte text, and values at the end of the column's bytes (where a 16-byte
/// load would run past them) — come back as they went in, one entry per distinct value.
#[test]
fn dictionaries_keep_short_and_long_values_apart() {
    let words = [
        "",
        "a",
        "a\0",
        "a\0\0",
        "a ",
        "é",
        "ab",
        "fifteen bytes!!",
        "sixteen bytes!!!",
        "fifteen bytes!\0",
        "a much longer value than sixteen bytes",
        "TAKE BACK RETURN",
        "TAKE BACK RETUR",
        "AIR",
        "REG AIR",
    ];
    for last in 0..words.len() {
        let mut values: Vec<&str> = (0..4000).map(|i| words[(i * 7) % words.len()]).collect();
        // Each word in turn is the column's last value, whose bytes end the buffer.
        values.push(words[last]);
        let column = Column::Text(arrow_array::StringArray::from(values.clone())).compact();
        let Column::TextDict {
            values: entries, ..
        } = &column
        else {
            panic!("a dictionary for {} distinct values", words.len());
        };
        assert_eq!(entries.len(), words.len());
        for (i, v) in values.iter().enumerate() {
            assert!(
                same(&[column.value(i)], &[Value::Text((*v).to_string())]),
                "row {i}"
            );
        }
    }
}

proptest! {
    /// Strings written from their Arrow offsets are byte for byte what writing them a value at
    /// a time gives: plain or as a dictionary, with and without NULLs, from a slice of an array.
    #[test]
    fn string_arrays_encode_as_values_one_at_a_time(
        values in proptest::collection::vec(
            prop_oneof![1 => Just(None), 8 => "[ab]{0,2}".prop_map(Some), 4 => ".{0,30}".prop_map(Some)],
            1..400,
        ),
        skip in 0usize..5,
        nulls in any::<bool>(),
    ) {
        use crate::segment::encoding::{write_string_array, write_strings};
        let values: Vec<Option<String>> = values
            .into_iter()
            .map(|v| if nulls { v } else { Some(v.unwrap_or_default()) })
            .collect();
        let all = arrow_array::StringArray::from(values);
        let skip = skip.min(all.len() - 1);
        let a = all.slice(skip, all.len() - skip);
        let mut one = crate::io::ByteWriter::new();
        write_strings(&mut one, a.len(), |i| a.value(i).as_bytes(), a.nulls());
        let mut whole = crate::io::ByteWriter::new();
        write_string_array(&mut whole, a.value_offsets(), a.value_data(), a.nulls());
        prop_assert_eq!(one.buf, whole.buf);
    }
}

proptest! {
    /// A text column compacted into a dictionary reads back as the same values: short and long
    /// values, values differing only by trailing NUL bytes or at the 16th byte, and NULLs.
    #[test]
    fn dictionary_columns_read_back_their_values(
        picks in proptest::collection::vec(prop::option::weighted(0.9, 0usize..8), 1..3000),
    ) {
        const VALUES: [&str; 8] = [
            "", "a", "a\0", "a\0\0", "sixteen bytes..x", "sixteen bytes..y",
            "seventeen bytes..", "a value longer than sixteen bytes",
        ];
        let values: Vec<Option<&str>> = picks.iter().map(|p| p.map(|p| VALUES[p])).collect();
        let compact = Column::Text(arrow_array::StringArray::from(values.clone())).compact();
        if picks.len() > 100 {
            prop_assert!(matches!(compact, Column::TextDict { .. }), "{}", compact.kind_name());
        }
        for (i, v) in values.iter().enumerate() {
            let expected = v.map_or(Value::Null, |s| Value::Text(s.to_string()));
            prop_assert_eq!(format!("{:?}", compact.value(i)), format!("{expected:?}"));
        }
    }
}
