//! Constant folding of an expression when a statement runs, with its parameters and session
//! settings known: every subtree that reads no column and calls nothing volatile becomes a
//! literal, and a date column compared with a timestamp constant through a cast compares with
//! a date instead.
//!
//! Folding is what lets a scan see `l_shipdate < date '1995-01-01'` where the query wrote
//! `l_shipdate < date '1994-01-01' + interval '1' year`: zone maps prune on it and the scan
//! tests it on the raw column. Must never change a result or raise an error the unfolded
//! expression would not raise for some row: a subtree whose evaluation fails is left as it was.

use crate::exec::eval::{EvalEnv, eval};
use omendb_planner::{BinOp, Expr};
use omendb_storage::types::datetime::{MICROS_PER_DAY, TIMESTAMP_INFINITY, TIMESTAMP_NEG_INFINITY};
use omendb_storage::types::{DataType, Value};

/// `e` with its constant subtrees evaluated.
pub fn fold(e: &Expr, env: &EvalEnv) -> Expr {
    let mut e = e.clone();
    fold_in_place(&mut e, env);
    e
}

/// Whether [`fold`] would change `e`: some parameter, some operation over constants only, or
/// a date compared with a timestamp constant through a cast.
pub fn folds(e: &Expr) -> bool {
    let mut found = false;
    e.walk(&mut |x| {
        if found || matches!(x, Expr::Column { .. } | Expr::Literal { .. }) {
            return;
        }
        let mut leaves_only = !x.is_opaque_node();
        x.for_each_child(&mut |c| {
            leaves_only &= matches!(c, Expr::Literal { .. } | Expr::Param { .. })
        });
        found = leaves_only || date_comparison(x).is_some();
    });
    found
}

fn fold_in_place(e: &mut Expr, env: &EvalEnv) {
    if matches!(e, Expr::Column { .. } | Expr::Literal { .. }) {
        return;
    }
    if is_constant(e)
        && let Ok(value) = eval(e, &[], env)
    {
        *e = Expr::Literal { value, ty: e.ty() };
        return;
    }
    e.for_each_child_mut(&mut |c| fold_in_place(c, env));
    if let Some(simpler) = date_comparison(e) {
        *e = simpler;
    }
}

/// Whether `e` reads no column and nothing that differs between evaluations in one statement.
fn is_constant(e: &Expr) -> bool {
    let mut constant = true;
    e.walk(&mut |x| constant &= !matches!(x, Expr::Column { .. }) && !x.is_opaque_node());
    constant
}

/// `CAST(d AS timestamp) op t` for a date `d` and a finite timestamp constant `t`, as the
/// equivalent comparison of `d` with a date (PostgreSQL compares a date with a timestamp the
/// same way, as the date's midnight). `None` when there is no such form.
fn date_comparison(e: &Expr) -> Option<Expr> {
    let Expr::Binary {
        op, left, right, ..
    } = e
    else {
        return None;
    };
    if !op.is_comparison() {
        return None;
    }
    let (cast, op, constant) = match (left.as_ref(), right.as_ref()) {
        (c @ Expr::Cast { .. }, Expr::Literal { value, .. }) => (c, *op, value),
        (Expr::Literal { value, .. }, c @ Expr::Cast { .. }) => (c, op.flipped(), value),
        _ => return None,
    };
    let Expr::Cast {
        expr: date,
        ty: DataType::Timestamp,
    } = cast
    else {
        return None;
    };
    let (DataType::Date, Value::Timestamp(t)) = (date.ty(), constant) else {
        return None;
    };
    if *t == TIMESTAMP_INFINITY || *t == TIMESTAMP_NEG_INFINITY {
        return None;
    }
    let day = i32::try_from(t.div_euclid(MICROS_PER_DAY)).ok()?;
    let midnight = t.rem_euclid(MICROS_PER_DAY) == 0;
    // Between two midnights, `<` and `<=` both keep the earlier day, `>` and `>=` the later.
    let op = match (op, midnight) {
        (BinOp::Lt, false) => BinOp::LtEq,
        (BinOp::GtEq, false) => BinOp::Gt,
        (BinOp::Eq | BinOp::NotEq, false) => return None,
        (op, _) => op,
    };
    Some(Expr::Binary {
        op,
        left: date.clone(),
        right: Box::new(Expr::Literal {
            value: Value::Date(day),
            ty: DataType::Date,
        }),
        ty: DataType::Bool,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use omendb_storage::types::datetime::date_to_timestamp;

    fn cmp(op: BinOp, left: Expr, right: Expr) -> Expr {
        Expr::Binary {
            op,
            left: Box::new(left),
            right: Box::new(right),
            ty: DataType::Bool,
        }
    }

    fn holds<T: Ord>(op: BinOp, a: T, b: T) -> bool {
        match op {
            BinOp::Lt => a < b,
            BinOp::LtEq => a <= b,
            BinOp::Gt => a > b,
            BinOp::GtEq => a >= b,
            BinOp::Eq => a == b,
            BinOp::NotEq => a != b,
            _ => unreachable!("{op:?} is not a comparison"),
        }
    }

    #[test]
    fn date_against_timestamp_keeps_exactly_the_same_rows() {
        let day = MICROS_PER_DAY;
        let column = Expr::Column {
            index: 0,
            ty: DataType::Date,
        };
        let cast = Expr::Cast {
            expr: Box::new(column),
            ty: DataType::Timestamp,
        };
        let ops = [
            BinOp::Lt,
            BinOp::LtEq,
            BinOp::Gt,
            BinOp::GtEq,
            BinOp::Eq,
            BinOp::NotEq,
        ];
        for t in [0, day, day / 2, -day / 2, 3 * day + 1, -1] {
            let literal = Expr::Literal {
                value: Value::Timestamp(t),
                ty: DataType::Timestamp,
            };
            for op in ops {
                for flipped in [false, true] {
                    let e = match flipped {
                        false => cmp(op, cast.clone(), literal.clone()),
                        true => cmp(op.flipped(), literal.clone(), cast.clone()),
                    };
                    let Some(simpler) = date_comparison(&e) else {
                        // Only equality with a time of day has no date form.
                        assert!(matches!(op, BinOp::Eq | BinOp::NotEq) && t % day != 0);
                        continue;
                    };
                    let Expr::Binary {
                        op: new_op, right, ..
                    } = &simpler
                    else {
                        panic!("{simpler:?}");
                    };
                    let Expr::Literal {
                        value: Value::Date(bound),
                        ..
                    } = right.as_ref()
                    else {
                        panic!("{simpler:?}");
                    };
                    for d in -3..=4 {
                        let before = holds(op, date_to_timestamp(d).unwrap(), t);
                        let after = holds(*new_op, d, *bound);
                        assert_eq!(before, after, "{op:?} t={t} d={d}: {simpler:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn infinite_timestamps_keep_the_cast() {
        let e = cmp(
            BinOp::Lt,
            Expr::Cast {
                expr: Box::new(Expr::Column {
                    index: 0,
                    ty: DataType::Date,
                }),
                ty: DataType::Timestamp,
            },
            Expr::Literal {
                value: Value::Timestamp(TIMESTAMP_INFINITY),
                ty: DataType::Timestamp,
            },
        );
        assert!(date_comparison(&e).is_none());
    }
}
