//! Wall-clock (criterion) benchmarks of column segments: building one from a load's columns,
//! its columns' distinct-value sketches, and the encode and decode of the file of one
//! `SEGMENT_ROWS`-row segment shaped like TPC-H `lineitem` (integer keys, numeric(15,2) money,
//! dates, char(1) flags, char(25)/char(10) categories, varchar(44) comments). Throughput is in
//! bytes of the decoded Arrow columns ("raw"); the encoded size is printed beside it.
//!
//! `cargo bench -p omendb-bench --bench segment`

#![allow(clippy::expect_used)] // a benchmark over generated data may panic on a broken invariant

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use omendb_storage::segment::{Column, ColumnBuilder, SEGMENT_ROWS, Segment, Sketch};
use omendb_storage::types::{DataType, Numeric, Value};
use std::hint::black_box;

const PK: [usize; 2] = [0, 1];
const WORDS: [&str; 16] = [
    "furiously",
    "carefully",
    "regular",
    "ironic",
    "final",
    "pending",
    "deposits",
    "accounts",
    "packages",
    "requests",
    "quickly",
    "express",
    "special",
    "bold",
    "even",
    "blithely",
];
const INSTRUCT: [&str; 4] = [
    "DELIVER IN PERSON",
    "COLLECT COD",
    "NONE",
    "TAKE BACK RETURN",
];
const MODES: [&str; 7] = ["REG AIR", "AIR", "RAIL", "SHIP", "TRUCK", "MAIL", "FOB"];
/// 1992-01-01 in days since 2000-01-01.
const FIRST_SHIP_DAY: i32 = -2922;

fn types() -> Vec<DataType> {
    let money = DataType::Numeric {
        precision: Some(15),
        scale: Some(2),
    };
    vec![
        DataType::Int64,             // l_orderkey
        DataType::Int32,             // l_linenumber
        DataType::Int64,             // l_partkey
        DataType::Int32,             // l_suppkey
        money,                       // l_quantity
        money,                       // l_extendedprice
        money,                       // l_discount
        money,                       // l_tax
        DataType::Char(Some(1)),     // l_returnflag
        DataType::Char(Some(1)),     // l_linestatus
        DataType::Date,              // l_shipdate
        DataType::Date,              // l_commitdate
        DataType::Date,              // l_receiptdate
        DataType::Char(Some(25)),    // l_shipinstruct
        DataType::Char(Some(10)),    // l_shipmode
        DataType::Varchar(Some(44)), // l_comment
    ]
}

/// Deterministic pseudo-random numbers (an LCG: no dependency, same data every run).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

fn pad(s: &str, n: usize) -> String {
    format!("{s:<n$}")
}

fn lineitem_rows() -> Vec<Vec<Value>> {
    let mut rng = Lcg(42);
    let mut rows = Vec::with_capacity(SEGMENT_ROWS);
    let mut order = 1i64;
    while rows.len() < SEGMENT_ROWS {
        let lines = 1 + rng.next(7) as i32;
        for line in 1..=lines {
            if rows.len() == SEGMENT_ROWS {
                break;
            }
            let ship = FIRST_SHIP_DAY + rng.next(2500) as i32;
            let comment: Vec<&str> = (0..2 + rng.next(4))
                .map(|_| WORDS[rng.next(16) as usize])
                .collect();
            let mut comment = comment.join(" ");
            comment.truncate(44);
            rows.push(vec![
                Value::Int64(order),
                Value::Int32(line),
                Value::Int64(1 + rng.next(200_000) as i64),
                Value::Int32(1 + rng.next(10_000) as i32),
                Value::Numeric(Numeric::new(100 * (1 + rng.next(50) as i128), 2)),
                Value::Numeric(Numeric::new(90_000 + rng.next(10_000_000) as i128, 2)),
                Value::Numeric(Numeric::new(rng.next(11) as i128, 2)),
                Value::Numeric(Numeric::new(rng.next(9) as i128, 2)),
                Value::Text(["R", "A", "N"][rng.next(3) as usize].into()),
                Value::Text(["O", "F"][rng.next(2) as usize].into()),
                Value::Date(ship),
                Value::Date(ship + rng.next(60) as i32 - 30),
                Value::Date(ship + 1 + rng.next(30) as i32),
                Value::Text(pad(INSTRUCT[rng.next(4) as usize], 25)),
                Value::Text(pad(MODES[rng.next(7) as usize], 10)),
                Value::Text(comment),
            ]);
        }
        // TPC-H order keys are sparse: 8 of every 32 are used.
        order += 1 + i64::from(rng.next(4) == 0) * 24;
    }
    rows
}

/// Bytes of the Arrow arrays the segment decodes into (values, offsets; no validity: no NULLs).
fn raw_bytes(columns: &[Column]) -> usize {
    columns
        .iter()
        .map(|c| match c {
            Column::Int32(a) => a.len() * 4,
            Column::Int64(a) => a.len() * 8,
            Column::Date(a) => a.len() * 4,
            Column::Numeric { mantissas, .. } => mantissas.len() * 16,
            // Built narrow (`ColumnBuilder`'s 64-bit form); decoded as 128-bit decimals.
            Column::Numeric64 { mantissas, .. } => mantissas.len() * 16,
            Column::Text(a) => a.values().len() + 4 * a.value_offsets().len(),
            other => panic!("lineitem has no {} column", other.kind_name()),
        })
        .sum()
}

fn segment_files(c: &mut Criterion) {
    let types = types();
    let rows = lineitem_rows();
    let mut builders: Vec<_> = types
        .iter()
        .map(|&t| ColumnBuilder::new(t, rows.len()))
        .collect();
    for r in &rows {
        for (b, v) in builders.iter_mut().zip(r) {
            b.push(v).expect("lineitem values match their types");
        }
    }
    let columns: Vec<Column> = builders.into_iter().map(ColumnBuilder::finish).collect();
    let raw = raw_bytes(&columns);
    let built = columns.clone();
    let segment = Segment::from_columns(&types, Some(&PK), columns).expect("rows sorted by key");
    let file = segment.encode();
    // Check the answer before timing it.
    let back = Segment::decode(&types, Some(&PK), &file).expect("own file decodes");
    for i in (0..rows.len()).step_by(97) {
        assert_eq!(format!("{:?}", back.row(i)), format!("{:?}", rows[i]));
    }
    println!(
        "lineitem segment: {} rows, raw Arrow {:.2} MB, file {:.2} MB ({:.1}% of raw)",
        rows.len(),
        raw as f64 / 1e6,
        file.len() as f64 / 1e6,
        100.0 * file.len() as f64 / raw as f64
    );
    let mut g = c.benchmark_group("segment lineitem 65536 rows");
    g.throughput(Throughput::Bytes(raw as u64));
    // What a bulk load's cut does with its builders' columns: dictionaries, narrowed
    // numerics, zone maps and the key index.
    g.bench_function("build (compact columns, zone maps, key index)", |b| {
        b.iter_batched(
            || built.clone(),
            |cols| Segment::from_columns(&types, Some(&PK), cols).expect("rows sorted by key"),
            BatchSize::LargeInput,
        )
    });
    // The dictionary alone, of a column of short values (l_shipmode's).
    let modes = built[14].clone();
    g.bench_function("dictionary of l_shipmode", |b| {
        b.iter_batched(|| modes.clone(), Column::compact, BatchSize::SmallInput)
    });
    // The distinct-value sketches a load's cut makes of every column.
    g.bench_function("sketch every column", |b| {
        b.iter(|| {
            black_box(&segment)
                .columns()
                .iter()
                .map(Sketch::of)
                .collect::<Vec<_>>()
        })
    });
    g.bench_function("encode", |b| b.iter(|| black_box(&segment).encode()));
    g.bench_function("decode (checksums, columns, key index)", |b| {
        b.iter(|| Segment::decode(&types, Some(&PK), black_box(&file)).expect("own file decodes"))
    });
    g.finish();
}

criterion_group!(benches, segment_files);
criterion_main!(benches);
