//! Mutable access to the direct sub-expressions of sqlparser expressions, for rewrites such as
//! replacing correlated subqueries with the columns of the joins that replace them.
//!
//! Covers the expression forms the binder supports; subquery bodies are never entered.

use sqlparser::ast;

/// The direct child expressions of `e`.
pub(crate) fn children_mut(e: &mut ast::Expr) -> Vec<&mut ast::Expr> {
    use ast::Expr as E;
    match e {
        E::BinaryOp { left, right, .. }
        | E::IsDistinctFrom(left, right)
        | E::IsNotDistinctFrom(left, right)
        | E::AnyOp { left, right, .. }
        | E::AllOp { left, right, .. } => vec![left, right],
        E::UnaryOp { expr, .. }
        | E::Nested(expr)
        | E::Cast { expr, .. }
        | E::IsNull(expr)
        | E::IsNotNull(expr)
        | E::IsTrue(expr)
        | E::IsNotTrue(expr)
        | E::IsFalse(expr)
        | E::IsNotFalse(expr)
        | E::Extract { expr, .. }
        | E::Ceil { expr, .. }
        | E::Floor { expr, .. } => vec![expr],
        E::Between {
            expr, low, high, ..
        } => vec![expr, low, high],
        E::Like { expr, pattern, .. } | E::ILike { expr, pattern, .. } => vec![expr, pattern],
        E::In { expr, target, .. } => {
            let mut out: Vec<&mut ast::Expr> = vec![expr];
            if let ast::InTarget::List(list) = target {
                out.extend(list.iter_mut());
            }
            out
        }
        E::Case {
            operand,
            conditions,
            else_result,
            ..
        } => {
            let mut out: Vec<&mut ast::Expr> = Vec::new();
            if let Some(o) = operand {
                out.push(o);
            }
            for c in conditions.iter_mut() {
                out.push(&mut c.condition);
                out.push(&mut c.result);
            }
            if let Some(e) = else_result {
                out.push(e);
            }
            out
        }
        E::Function(f) => match &mut f.args {
            ast::FunctionArguments::List(list) => list
                .args
                .iter_mut()
                .filter_map(|a| match a {
                    ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(x))
                    | ast::FunctionArg::Named {
                        arg: ast::FunctionArgExpr::Expr(x),
                        ..
                    } => Some(x),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        },
        E::Substring {
            expr,
            substring_from,
            substring_for,
            ..
        } => {
            let mut out: Vec<&mut ast::Expr> = vec![expr];
            out.extend(substring_from.as_deref_mut());
            out.extend(substring_for.as_deref_mut());
            out
        }
        E::Trim {
            expr, trim_what, ..
        } => {
            let mut out: Vec<&mut ast::Expr> = vec![expr];
            out.extend(trim_what.as_deref_mut());
            out
        }
        E::Position { expr, r#in } => vec![expr, r#in],
        _ => Vec::new(),
    }
}
