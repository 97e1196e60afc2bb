use super::*;
use crate::catalog::ColumnStats;
use omendb_storage::types::DataType;

fn eq(a: usize, b: usize) -> Expr {
    Expr::Binary {
        op: BinOp::Eq,
        left: Box::new(Expr::Column {
            index: a,
            ty: DataType::Int32,
        }),
        right: Box::new(Expr::Column {
            index: b,
            ty: DataType::Int32,
        }),
        ty: DataType::Bool,
    }
}

/// Relations of two columns each: relation i has columns 2i and 2i+1.
fn rel_of(col: usize) -> usize {
    col / 2
}

fn rel(rows: f64, base: f64, keys: Vec<Vec<usize>>) -> RelInfo {
    RelInfo {
        rows,
        base_rows: Some(base),
        keys,
    }
}

#[test]
fn a_key_join_keeps_one_row_per_base_row_of_the_key_side() {
    // 0: a fact table (1000 rows, column 0 refers to relation 1's key, column 2);
    // 1: a dimension filtered from 100 to 10 rows.
    let rels = [rel(1000.0, 1000.0, vec![]), rel(10.0, 100.0, vec![vec![2]])];
    let e = eq(0, 2);
    let g = JoinGraph::new(&rels, &[(&e, 0b11)], &rel_of, &|_| None);
    // Each fact row meets its dimension row with probability 10/100.
    assert!((g.cardinality(0b11) - 100.0).abs() < 1e-9);
    assert_eq!(g.neighbours, vec![0b10, 0b01]);
}

#[test]
fn a_composite_key_needs_all_its_columns() {
    // Relation 1's key is (2, 3): one equality on column 2 alone is not a key join.
    let rels = [
        rel(1000.0, 1000.0, vec![]),
        rel(100.0, 100.0, vec![vec![2, 3]]),
    ];
    let (one, two) = (eq(0, 2), eq(1, 3));
    let partial = JoinGraph::new(&rels, &[(&one, 0b11)], &rel_of, &|_| None);
    assert!((partial.cardinality(0b11) - 1000.0 * 100.0 * MANY_TO_MANY).abs() < 1e-6);
    let full = JoinGraph::new(&rels, &[(&one, 0b11), (&two, 0b11)], &rel_of, &|_| None);
    assert!((full.cardinality(0b11) - 1000.0).abs() < 1e-9);
}

#[test]
fn other_equalities_use_the_larger_distinct_count() {
    let rels = [rel(1000.0, 1000.0, vec![]), rel(500.0, 500.0, vec![])];
    let stats = |c: usize| {
        let distinct = match c {
            0 => 25.0,
            2 => 50.0,
            _ => return None,
        };
        Some(ColumnStats {
            rows: 1000.0,
            distinct: Some(distinct),
            ..ColumnStats::default()
        })
    };
    let e = eq(0, 2);
    let g = JoinGraph::new(&rels, &[(&e, 0b11)], &rel_of, &stats);
    assert!((g.cardinality(0b11) - 1000.0 * 500.0 / 50.0).abs() < 1e-6);
}
