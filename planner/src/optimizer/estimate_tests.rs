use super::*;
use omendb_storage::types::DataType;

fn col(index: usize, ty: DataType) -> Expr {
    Expr::Column { index, ty }
}

fn lit(value: Value) -> Expr {
    Expr::literal(value)
}

fn bin(op: BinOp, left: Expr, right: Expr) -> Expr {
    Expr::Binary {
        op,
        left: Box::new(left),
        right: Box::new(right),
        ty: DataType::Bool,
    }
}

/// Column 0: dates 0..=100 (days), 10 of 100 rows NULL; column 1: text with 25 distinct values;
/// column 2: integers 1..=50 with no distinct count.
fn stats(c: usize) -> Option<ColumnStats> {
    match c {
        0 => Some(ColumnStats {
            rows: 100.0,
            nulls: Some(10.0),
            min: Some(Value::Date(0)),
            max: Some(Value::Date(100)),
            distinct: None,
        }),
        1 => Some(ColumnStats {
            rows: 100.0,
            nulls: Some(0.0),
            distinct: Some(25.0),
            ..ColumnStats::default()
        }),
        2 => Some(ColumnStats {
            rows: 1000.0,
            nulls: Some(0.0),
            min: Some(Value::Int32(1)),
            max: Some(Value::Int32(50)),
            distinct: None,
        }),
        _ => None,
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn bounds_on_one_column_narrow_one_range() {
    let d = || col(0, DataType::Date);
    let e = bin(
        BinOp::And,
        bin(BinOp::GtEq, d(), lit(Value::Date(20))),
        bin(BinOp::Lt, d(), lit(Value::Date(70))),
    );
    // Half the span, times the 90% that is not NULL.
    assert!(close(selectivity_with(&e, &stats), 0.5 * 0.9));
    // A literal on the left is the same bound.
    let flipped = bin(BinOp::Gt, lit(Value::Date(75)), d());
    assert!(close(selectivity_with(&flipped, &stats), 0.75 * 0.9));
    // Without statistics: the fixed guess per comparison.
    assert!(close(selectivity(&flipped), RANGE));
}

#[test]
fn equality_is_one_over_the_distinct_count() {
    let text = bin(
        BinOp::Eq,
        col(1, DataType::Text),
        lit(Value::Text("x".into())),
    );
    assert!(close(selectivity_with(&text, &stats), 1.0 / 25.0));
    // Integers without a distinct count: at most max - min + 1 values.
    let int = bin(BinOp::Eq, col(2, DataType::Int32), lit(Value::Int32(7)));
    assert!(close(selectivity_with(&int, &stats), 1.0 / 50.0));
    // Outside [min, max]: nothing (the floor).
    let outside = bin(BinOp::Eq, col(2, DataType::Int32), lit(Value::Int32(99)));
    assert!(close(selectivity_with(&outside, &stats), MIN_SELECTIVITY));
    let in_list = Expr::InList {
        expr: Box::new(col(1, DataType::Text)),
        list: vec![lit(Value::Text("a".into())), lit(Value::Text("b".into()))],
        negated: false,
    };
    assert!(close(selectivity_with(&in_list, &stats), 2.0 / 25.0));
}

#[test]
fn null_tests_use_the_null_count() {
    let is_null = |negated| Expr::IsNull {
        expr: Box::new(col(0, DataType::Date)),
        negated,
    };
    assert!(close(selectivity_with(&is_null(false), &stats), 0.1));
    assert!(close(selectivity_with(&is_null(true), &stats), 0.9));
}

#[test]
fn values_of_other_units_are_not_interpolated() {
    // A timestamp literal against a date column's range: no interpolation, the fixed guess.
    let e = bin(
        BinOp::Lt,
        col(0, DataType::Date),
        lit(Value::Timestamp(1_000_000)),
    );
    assert!(close(selectivity_with(&e, &stats), RANGE));
}
