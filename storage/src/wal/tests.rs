use super::*;
use crate::io::BLOCK;

fn log_with(units: &[&[Record]]) -> Vec<u8> {
    let mut file = header_block(3, 9);
    for unit in units {
        let mut buf = Vec::new();
        let mut a = Appender::new(&mut buf);
        for r in *unit {
            match r {
                Record::Put { txn, table, row } => a.put(*txn, *table, row),
                Record::Delete { txn, table, row } => a.delete(*txn, *table, row),
                Record::Key {
                    txn,
                    constraint,
                    key,
                    present,
                } => a.key(*txn, *constraint, key, *present),
                Record::Commit { txn } => a.commit(*txn),
                Record::Prepared { txn } => a.prepared(*txn),
                Record::Decision { txn, participants } => a.decision(*txn, participants),
                Record::Truncate { table } => a.truncate(*table),
                Record::Sequence { name, next } => a.sequence(name, *next),
                Record::Segment { txn, table, file } => a.segment(*txn, *table, file),
            }
        }
        pad_to_block(&mut buf);
        file.extend_from_slice(&buf);
    }
    file
}

fn sample() -> Vec<Record> {
    vec![
        Record::Put {
            txn: 5,
            table: 16384,
            row: vec![Value::Int32(1), Value::Text("a".into())],
        },
        Record::Delete {
            txn: 5,
            table: 16384,
            row: vec![Value::Int32(2), Value::Null],
        },
        Record::Key {
            txn: 5,
            constraint: 7,
            key: vec![1, 2],
            present: true,
        },
        Record::Commit { txn: 5 },
        Record::Truncate { table: 16384 },
        Record::Sequence {
            name: "t_id_seq".into(),
            next: 1025,
        },
        Record::Segment {
            txn: 6,
            table: 16385,
            file: "seg-1".into(),
        },
        Record::Prepared { txn: 7 },
        Record::Decision {
            txn: 7,
            participants: vec![0, 1, 3],
        },
    ]
}

#[test]
fn records_round_trip_across_flush_units() {
    let recs = sample();
    let file = log_with(&[&recs[..3], &recs[3..]]);
    assert_eq!(file.len() % BLOCK, 0);
    let read = read_log(&file).unwrap();
    assert_eq!((read.shard, read.generation), (3, 9));
    assert_eq!(format!("{:?}", read.records), format!("{recs:?}"));
    assert_eq!(read.cut, None);
}

#[test]
fn a_flipped_byte_in_the_tail_cuts_the_log_there() {
    let recs = sample();
    let mut file = log_with(&[&recs[..4], &recs[4..]]);
    // Corrupt the payload of the first record of the second unit.
    file[2 * BLOCK + FRAME_HEADER + 2] ^= 0x40;
    let read = read_log(&file).unwrap();
    assert_eq!(format!("{:?}", read.records), format!("{:?}", &recs[..4]));
    assert!(read.cut.unwrap().contains("checksum"));
}

#[test]
fn a_torn_unit_and_a_missing_block_are_cut() {
    let recs = sample();
    let file = log_with(&[&recs[..4], &recs[4..]]);
    let torn = &file[..2 * BLOCK + 5];
    let read = read_log(torn).unwrap();
    assert_eq!(format!("{:?}", read.records), format!("{:?}", &recs[..4]));
    assert!(read.cut.is_some());
    // A zeroed block followed by a written one: the flush never completed.
    let mut gap = log_with(&[&recs[..4], &recs[4..5], &recs[5..]]);
    gap[2 * BLOCK..3 * BLOCK].fill(0);
    let read = read_log(&gap).unwrap();
    assert_eq!(format!("{:?}", read.records), format!("{:?}", &recs[..4]));
    assert!(read.cut.is_some());
}

#[test]
fn a_bad_header_is_an_error() {
    let mut file = log_with(&[&sample()]);
    file[9] ^= 1;
    assert!(read_log(&file).is_err());
    assert!(read_log(b"short").is_err());
}
