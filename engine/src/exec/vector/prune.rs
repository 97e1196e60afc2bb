//! Late materialisation: which input columns each operator must carry, given which of its
//! output columns the operators above read.
//!
//! A column nobody above reads travels as [`Vector::Absent`](super::data::Vector::Absent): scans
//! never slice it, joins never gather it, projections never compute it. Only the executor's
//! root needs every column. Must never drop a column an expression, key or predicate reads
//! (reading an absent column is an internal error, so a mistake here fails loudly).

use omendb_planner::{AggCall, Expr, JoinKind, SortKey};

/// Mark every column `e` reads.
pub fn mark(e: &Expr, needed: &mut [bool]) {
    e.walk(&mut |x| {
        if let Expr::Column { index, .. } = x
            && let Some(n) = needed.get_mut(*index)
        {
            *n = true;
        }
    });
}

/// Every column of a node `width` wide.
pub fn all(width: usize) -> Vec<bool> {
    vec![true; width]
}

/// A filter's input: what is needed above plus what the predicate reads.
pub fn filter(predicate: &Expr, needed: &[bool]) -> Vec<bool> {
    let mut input = needed.to_vec();
    mark(predicate, &mut input);
    input
}

/// A projection's input: the columns of the needed expressions.
pub fn project(exprs: &[Expr], needed: &[bool], input_width: usize) -> Vec<bool> {
    let mut input = vec![false; input_width];
    for (e, n) in exprs.iter().zip(needed) {
        if *n {
            mark(e, &mut input);
        }
    }
    input
}

/// A sort's input: what is needed above plus its keys.
pub fn sort(keys: &[SortKey], needed: &[bool]) -> Vec<bool> {
    let mut input = needed.to_vec();
    keys.iter().for_each(|k| mark(&k.expr, &mut input));
    input
}

/// An aggregate's input: its groups and everything its calls read.
pub fn aggregate(groups: &[Expr], aggs: &[AggCall], input_width: usize) -> Vec<bool> {
    let mut input = vec![false; input_width];
    groups.iter().for_each(|e| mark(e, &mut input));
    for a in aggs {
        let exprs = a.arg.iter().chain(&a.extra).chain(&a.filter);
        exprs.for_each(|e| mark(e, &mut input));
        a.order_by.iter().for_each(|k| mark(&k.expr, &mut input));
    }
    input
}

/// A join's two inputs. Semi and anti joins output their left side only; the others output
/// left columns then right columns.
pub fn join(
    kind: JoinKind,
    on: Option<&Expr>,
    needed: &[bool],
    left_width: usize,
    right_width: usize,
) -> (Vec<bool>, Vec<bool>) {
    let mut both = vec![false; left_width + right_width];
    let output = match kind {
        JoinKind::Semi | JoinKind::Anti | JoinKind::AntiNullAware => left_width,
        _ => left_width + right_width,
    };
    for (b, n) in both.iter_mut().zip(needed.iter().take(output)) {
        *b = *n;
    }
    if let Some(on) = on {
        mark(on, &mut both);
    }
    let right = both.split_off(left_width);
    (both, right)
}

#[cfg(test)]
mod tests {
    use super::*;
    use omendb_planner::BinOp;
    use omendb_storage::types::DataType;

    fn col(index: usize) -> Expr {
        Expr::Column {
            index,
            ty: DataType::Int32,
        }
    }

    fn eq(a: usize, b: usize) -> Expr {
        Expr::Binary {
            op: BinOp::Eq,
            left: Box::new(col(a)),
            right: Box::new(col(b)),
            ty: DataType::Bool,
        }
    }

    #[test]
    fn join_keeps_keys_and_needed_columns_of_each_side() {
        let (l, r) = join(
            JoinKind::Inner,
            Some(&eq(1, 3)),
            &[true, false, false, false, true],
            3,
            2,
        );
        assert_eq!(l, [true, true, false]);
        assert_eq!(r, [true, true]);
    }

    #[test]
    fn semi_join_reads_only_the_keys_of_its_right_side() {
        let (l, r) = join(JoinKind::Semi, Some(&eq(0, 3)), &[false, true], 2, 3);
        assert_eq!(l, [true, true]);
        assert_eq!(r, [false, true, false]);
    }

    #[test]
    fn unneeded_projections_read_nothing() {
        let input = project(&[col(2), col(0)], &[false, true], 3);
        assert_eq!(input, [true, false, false]);
    }
}
