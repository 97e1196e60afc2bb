//! `CROSS JOIN LATERAL (SELECT e1, e2 …) AS o(c1, c2 …)` where the subquery has no FROM: it
//! yields exactly one row per left row, so it is a projection that appends the expressions
//! (bound against the left side's columns) to every left row. pgbench's catalog probe uses it.
//!
//! Other LATERAL subqueries (with FROM, WHERE, aggregates, LIMIT …) are refused with 0A000.

use super::expr::ExprBinder;
use super::scope::{Scope, ScopeColumn};
use super::select::output_name;
use super::{BindContext, ident_name};
use crate::error::PlanError;
use crate::expr::Expr;
use crate::plan::Plan;
use sqlparser::ast;

/// The subquery and alias of a join this module handles: a LATERAL derived table joined by
/// CROSS JOIN or an inner join without a condition.
pub(crate) fn lateral_projection(
    join: &ast::Join,
) -> Option<(&ast::Query, Option<&ast::TableAlias>)> {
    use ast::JoinOperator as J;
    let ast::TableFactor::Derived {
        lateral: true,
        subquery,
        alias,
        ..
    } = &join.relation
    else {
        return None;
    };
    matches!(
        &join.join_operator,
        J::CrossJoin(_) | J::Join(ast::JoinConstraint::None) | J::Inner(ast::JoinConstraint::None)
    )
    .then_some((subquery.as_ref(), alias.as_ref()))
}

/// Append the subquery's expressions to `left`'s rows.
pub(crate) fn bind_lateral_projection(
    ctx: &mut BindContext<'_>,
    left: Plan,
    lscope: Scope,
    query: &ast::Query,
    alias: Option<&ast::TableAlias>,
) -> Result<(Plan, Scope), PlanError> {
    let select = single_row_select(query).ok_or_else(|| {
        PlanError::not_supported(
            "LATERAL subqueries other than a SELECT list without FROM are not supported yet",
        )
    })?;
    let qualifier = alias.map(|a| ident_name(&a.name));
    let renames: Vec<String> = alias
        .map(|a| a.columns.iter().map(|c| ident_name(&c.name)).collect())
        .unwrap_or_default();
    let width = lscope.len();
    let mut exprs: Vec<Expr> = (0..width)
        .map(|i| Expr::Column {
            index: i,
            ty: lscope.columns[i].ty,
        })
        .collect();
    let mut added = Vec::with_capacity(select.projection.len());
    for (i, item) in select.projection.iter().enumerate() {
        let (e, name) = match item {
            ast::SelectItem::UnnamedExpr(e) => (e, output_name(e)),
            ast::SelectItem::ExprWithAlias { expr, alias } => (expr, ident_name(alias)),
            _ => {
                return Err(PlanError::not_supported(
                    "* in a LATERAL subquery is not supported yet",
                ));
            }
        };
        let bound = ExprBinder {
            ctx: &mut *ctx,
            scope: &lscope,
            agg: None,
            clause: "FROM",
        }
        .bind(e)?;
        added.push(ScopeColumn {
            qualifier: qualifier.clone(),
            name: renames.get(i).cloned().unwrap_or(name),
            ty: bound.ty(),
            table_oid: 0,
            column_id: 0,
            hidden: false,
            qualified_only: false,
        });
        exprs.push(bound);
    }
    let plan = Plan::Project {
        input: Box::new(left),
        exprs,
    };
    Ok((
        plan,
        lscope.concat(Scope {
            columns: added,
            inner_from: 0,
        }),
    ))
}

/// The SELECT of a query that always yields one row: no FROM, WHERE, grouping, DISTINCT,
/// ORDER BY, LIMIT or WITH.
fn single_row_select(q: &ast::Query) -> Option<&ast::Select> {
    if q.with.is_some() || q.order_by.is_some() || q.limit_clause.is_some() || q.fetch.is_some() {
        return None;
    }
    let ast::SetExpr::Select(s) = q.body.as_ref() else {
        return None;
    };
    let plain = s.from.is_empty()
        && s.selection.is_none()
        && s.having.is_none()
        && s.distinct.is_none()
        && matches!(&s.group_by, ast::GroupByExpr::Expressions(e, _) if e.is_empty());
    plain.then_some(s.as_ref())
}
