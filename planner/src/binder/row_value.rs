//! Row-value IN lists, `(a, b) IN ((1, 2), (3, 4))` (TPC-C drivers batch stock and order-line
//! lookups with them), rewritten before binding into `(a = 1 AND b = 2) OR (a = 3 AND b = 4)`.
//!
//! Three-valued logic makes the rewrite exact: a row equality is the AND of its column
//! equalities (false if one is false, else NULL if one is NULL), IN is the OR of row equalities,
//! NOT IN the NOT of that — PostgreSQL's rules for row comparisons. Must never accept rows of
//! different widths (42601, as PostgreSQL).

use crate::error::PlanError;
use sqlparser::ast;

/// `(left…) [NOT] IN (list…)` as comparisons; every list item must be a row of `left`'s width.
pub(super) fn in_list_as_comparisons(
    left: &[ast::Expr],
    list: &[ast::Expr],
    negated: bool,
) -> Result<ast::Expr, PlanError> {
    let mut any: Option<ast::Expr> = None;
    for item in list {
        let right = match item {
            ast::Expr::Tuple(right) => right.as_slice(),
            // `((1, 2))` parses as a parenthesised row.
            ast::Expr::Nested(inner) => match inner.as_ref() {
                ast::Expr::Tuple(right) => right.as_slice(),
                _ => std::slice::from_ref(item),
            },
            _ => std::slice::from_ref(item),
        };
        if right.len() != left.len() {
            return Err(PlanError::syntax(
                "unequal number of entries in row expressions",
            ));
        }
        let row_equal = left
            .iter()
            .zip(right)
            .map(|(l, r)| ast::Expr::BinaryOp {
                left: Box::new(l.clone()),
                op: ast::BinaryOperator::Eq,
                right: Box::new(r.clone()),
            })
            .reduce(|acc, eq| combine(acc, ast::BinaryOperator::And, eq))
            .ok_or_else(|| PlanError::syntax("syntax error at or near \")\""))?;
        any = Some(match any {
            None => row_equal,
            Some(acc) => combine(acc, ast::BinaryOperator::Or, row_equal),
        });
    }
    let any = any.ok_or_else(|| PlanError::syntax("syntax error at or near \")\""))?;
    Ok(if negated {
        ast::Expr::UnaryOp {
            op: ast::UnaryOperator::Not,
            expr: Box::new(ast::Expr::Nested(Box::new(any))),
        }
    } else {
        any
    })
}

fn combine(left: ast::Expr, op: ast::BinaryOperator, right: ast::Expr) -> ast::Expr {
    ast::Expr::BinaryOp {
        left: Box::new(ast::Expr::Nested(Box::new(left))),
        op,
        right: Box::new(ast::Expr::Nested(Box::new(right))),
    }
}
