//! FROM and WHERE of one query block: relations, join conditions, subqueries in WHERE turned
//! into joins, and the join order.
//!
//! Subqueries in a WHERE conjunct are decorrelated where their shape allows:
//! `[NOT] EXISTS (…)` becomes a semi (anti) join whose condition is the subquery's correlated
//! conjuncts; `x [NOT] IN (uncorrelated …)` a semi (null-aware anti) join on `x = column`;
//! `lhs op (correlated aggregate subquery)` a left join with the subquery grouped by its
//! correlation keys, whose value then stands in for the subquery. Other subqueries must be
//! uncorrelated and run once per statement.

use super::BindContext;
use super::expr::{ExprBinder, coerce_bool};
use super::scope::{Scope, ScopeColumn};
use super::select::{bind_factor, bind_join, bind_query, bind_select};
use crate::catalog::Catalog;
use crate::error::PlanError;
use crate::expr::{BinOp, Expr};
use crate::optimizer::join_order::{MAX_RELATIONS, Relation, and_all, order_joins};
use crate::plan::{JoinKind, Plan};
use sqlparser::ast;

/// A join to put on top of the FROM clause's joins.
pub(crate) enum PostJoin {
    /// Semi / anti join; `on` is over (outer ++ inner) columns.
    Filtering {
        kind: JoinKind,
        inner: Plan,
        on: Option<Expr>,
    },
    /// Left join with a grouped subquery; adds `width` hidden columns to the scope.
    Scalar {
        inner: Plan,
        on: Expr,
        columns: Vec<ScopeColumn>,
    },
    /// Mark join: every outer row plus whether the subquery matched it (EXISTS under OR, in
    /// the SELECT list…); adds one hidden boolean column.
    Mark { inner: Plan, on: Option<Expr> },
}

/// Put the joins that replace subqueries on top of `plan`; with a `catalog` to estimate by, a
/// semi join may go further down (`optimizer::semi_join`).
pub(crate) fn apply_post_joins(
    mut plan: Plan,
    joins: Vec<PostJoin>,
    catalog: Option<&dyn Catalog>,
) -> Plan {
    for join in joins {
        plan = match join {
            PostJoin::Filtering {
                kind: JoinKind::Semi,
                inner,
                on: Some(on),
            } => match catalog {
                Some(c) => crate::optimizer::semi_join::place(plan, inner, on, c),
                None => Plan::Join {
                    left: Box::new(plan),
                    right: Box::new(inner),
                    kind: JoinKind::Semi,
                    on: Some(on),
                },
            },
            PostJoin::Filtering { kind, inner, on } => Plan::Join {
                left: Box::new(plan),
                right: Box::new(inner),
                kind,
                on,
            },
            PostJoin::Scalar { inner, on, .. } => Plan::Join {
                left: Box::new(plan),
                right: Box::new(inner),
                kind: JoinKind::Left,
                on: Some(on),
            },
            PostJoin::Mark { inner, on } => Plan::Join {
                left: Box::new(plan),
                right: Box::new(inner),
                kind: JoinKind::Mark,
                on,
            },
        };
    }
    plan
}

/// Replace every correlated subquery in `e` (outside nested subqueries) by a column of a join
/// added to `joins`: a scalar aggregate subquery by its grouped value, an EXISTS by a mark.
/// `scope` grows by the joins' hidden columns. Returns whether anything was replaced.
pub(crate) fn decorrelate(
    ctx: &mut BindContext<'_>,
    e: &mut ast::Expr,
    joins: &mut Vec<PostJoin>,
    scope: &mut Scope,
) -> Result<bool, PlanError> {
    match e {
        ast::Expr::Subquery(q) if is_correlated(ctx, q)? => {
            let n = next_hidden(scope);
            let (join, value_name, counts) = scalar_join(ctx, q, scope, n)?;
            if let PostJoin::Scalar { columns, .. } = &join {
                scope.columns.extend(columns.iter().cloned());
            }
            joins.push(join);
            let value = ast::Expr::Identifier(ast::Ident::with_quote('"', value_name));
            *e = if counts { coalesce_zero(value) } else { value };
            Ok(true)
        }
        ast::Expr::Exists { subquery, negated } if is_correlated(ctx, subquery)? => {
            let negated = *negated;
            let PostJoin::Filtering { inner, on, .. } = exists_join(ctx, subquery, false, scope)?
            else {
                return Err(PlanError::not_supported(
                    "this EXISTS shape is not supported yet",
                ));
            };
            let name = format!("?mk{}", next_hidden(scope));
            scope.columns.push(ScopeColumn {
                qualifier: None,
                name: name.clone(),
                ty: omendb_storage::types::DataType::Bool,
                table_oid: 0,
                column_id: 0,
                hidden: true,
                qualified_only: false,
            });
            joins.push(PostJoin::Mark { inner, on });
            let mark = ast::Expr::Identifier(ast::Ident::with_quote('"', name));
            *e = if negated {
                ast::Expr::UnaryOp {
                    op: ast::UnaryOperator::Not,
                    expr: Box::new(mark),
                }
            } else {
                mark
            };
            Ok(true)
        }
        _ => {
            let mut changed = false;
            for child in super::ast_walk::children_mut(e) {
                changed |= decorrelate(ctx, child, joins, scope)?;
            }
            Ok(changed)
        }
    }
}

/// A fresh number for hidden columns: one more than the hidden columns already in scope.
fn next_hidden(scope: &Scope) -> usize {
    scope.columns.iter().filter(|c| c.hidden).count() + 1
}

/// Whether the subquery names columns it does not have (so must come from an outer query).
fn is_correlated(ctx: &mut BindContext<'_>, q: &ast::Query) -> Result<bool, PlanError> {
    match bind_query(ctx, q) {
        Ok(_) => Ok(false),
        Err(e) if is_missing_name(&e) => Ok(true),
        Err(e) => Err(e),
    }
}

/// Bind FROM and WHERE: the filtered, joined input of a query block and its scope.
pub(crate) fn bind_from_where(
    ctx: &mut BindContext<'_>,
    select: &ast::Select,
) -> Result<(Plan, Scope), PlanError> {
    let (relations, scope, on_conditions) = bind_relations(ctx, &select.from)?;
    let mut predicates = Vec::new();
    for on in &on_conditions {
        let bound = ExprBinder {
            ctx: &mut *ctx,
            scope: &scope,
            agg: None,
            clause: "JOIN conditions",
        }
        .bind(on)?;
        predicates.push(coerce_bool(ctx, bound, "JOIN/ON")?);
    }
    let mut post = Vec::new();
    let mut deferred: Vec<ast::Expr> = Vec::new();
    let mut scope = scope;
    if let Some(selection) = &select.selection {
        let mut parts = Vec::new();
        split_and(selection, &mut parts);
        for part in parts {
            match classify(ctx, part, &scope)? {
                Classified::Plain => {
                    let mut rewritten = part.clone();
                    if contains_subquery_anywhere(part)
                        && decorrelate(ctx, &mut rewritten, &mut post, &mut scope)?
                    {
                        deferred.push(rewritten);
                        continue;
                    }
                    let bound = ExprBinder {
                        ctx: &mut *ctx,
                        scope: &scope,
                        agg: None,
                        clause: "WHERE",
                    }
                    .bind(part)?;
                    predicates.push(coerce_bool(ctx, bound, "WHERE")?);
                }
                Classified::Join(join) => post.push(join),
                Classified::Rewritten(join, rewritten) => {
                    if let PostJoin::Scalar { columns, .. } = &join {
                        scope.columns.extend(columns.iter().cloned());
                    }
                    post.push(join);
                    deferred.push(*rewritten);
                }
            }
        }
    }
    let mut plan = order_joins(relations, predicates, ctx.catalog);
    plan = apply_post_joins(plan, post, Some(ctx.catalog));
    let mut filters = Vec::new();
    for part in &deferred {
        let bound = ExprBinder {
            ctx: &mut *ctx,
            scope: &scope,
            agg: None,
            clause: "WHERE",
        }
        .bind(part)?;
        filters.push(coerce_bool(ctx, bound, "WHERE")?);
    }
    if let Some(f) = and_all(filters) {
        plan = Plan::Filter {
            input: Box::new(plan),
            predicate: f,
        };
    }
    Ok((plan, scope))
}

fn split_and<'a>(e: &'a ast::Expr, out: &mut Vec<&'a ast::Expr>) {
    match e {
        ast::Expr::BinaryOp {
            left,
            op: ast::BinaryOperator::And,
            right,
        } => {
            split_and(left, out);
            split_and(right, out);
        }
        ast::Expr::Nested(inner)
            if matches!(
                inner.as_ref(),
                ast::Expr::BinaryOp {
                    op: ast::BinaryOperator::And,
                    ..
                }
            ) =>
        {
            split_and(inner, out)
        }
        other => out.push(other),
    }
}

/// The FROM clause as flat relations (inner and cross joins flattened, with their ON
/// conditions returned) and its scope.
fn bind_relations(
    ctx: &mut BindContext<'_>,
    from: &[ast::TableWithJoins],
) -> Result<(Vec<Relation>, Scope, Vec<ast::Expr>), PlanError> {
    let mut relations = Vec::new();
    let mut scope = Scope::default();
    let mut on_conditions = Vec::new();
    for twj in from {
        let flat = twj.joins.iter().all(|j| {
            matches!(
                &j.join_operator,
                ast::JoinOperator::Join(ast::JoinConstraint::On(_) | ast::JoinConstraint::None)
                    | ast::JoinOperator::Inner(
                        ast::JoinConstraint::On(_) | ast::JoinConstraint::None
                    )
                    | ast::JoinOperator::CrossJoin(_)
            ) && super::lateral::lateral_projection(j).is_none()
        });
        if flat {
            let (plan, s) = bind_factor(ctx, &twj.relation)?;
            relations.push(Relation {
                plan,
                width: s.len(),
            });
            scope = scope.concat(s);
            for join in &twj.joins {
                let (plan, s) = bind_factor(ctx, &join.relation)?;
                relations.push(Relation {
                    plan,
                    width: s.len(),
                });
                scope = scope.concat(s);
                if let ast::JoinOperator::Join(ast::JoinConstraint::On(e))
                | ast::JoinOperator::Inner(ast::JoinConstraint::On(e)) = &join.join_operator
                {
                    on_conditions.push(e.clone());
                }
            }
        } else {
            let (mut plan, mut s) = bind_factor(ctx, &twj.relation)?;
            for join in &twj.joins {
                (plan, s) = bind_join(ctx, plan, s, join)?;
            }
            relations.push(Relation {
                plan,
                width: s.len(),
            });
            scope = scope.concat(s);
        }
    }
    if relations.is_empty() {
        relations.push(Relation {
            plan: Plan::Values {
                rows: vec![Vec::new()],
                types: Vec::new(),
            },
            width: 0,
        });
    }
    if relations.len() > MAX_RELATIONS {
        return Err(PlanError::not_supported(format!(
            "more than {MAX_RELATIONS} relations in one FROM clause"
        )));
    }
    Ok((relations, scope, on_conditions))
}

enum Classified {
    Plain,
    Join(PostJoin),
    /// A join plus the conjunct rewritten to read the join's value.
    Rewritten(PostJoin, Box<ast::Expr>),
}

fn is_missing_name(e: &PlanError) -> bool {
    matches!(e, PlanError::UndefinedColumn(_) | PlanError::MissingFrom(_))
}

fn classify(
    ctx: &mut BindContext<'_>,
    part: &ast::Expr,
    outer: &Scope,
) -> Result<Classified, PlanError> {
    match part {
        ast::Expr::Exists { subquery, negated } => {
            exists_join(ctx, subquery, *negated, outer).map(Classified::Join)
        }
        ast::Expr::UnaryOp {
            op: ast::UnaryOperator::Not,
            expr,
        } => match expr.as_ref() {
            ast::Expr::Exists { subquery, negated } => {
                exists_join(ctx, subquery, !negated, outer).map(Classified::Join)
            }
            _ => Ok(Classified::Plain),
        },
        ast::Expr::In {
            expr,
            target: ast::InTarget::Subquery(q),
            negated,
            ..
        } => match bind_query(ctx, q) {
            Ok((inner, columns)) => {
                if columns.len() != 1 {
                    return Err(PlanError::syntax("subquery has too many columns"));
                }
                let inner_scope = Scope {
                    columns: vec![ScopeColumn {
                        qualifier: None,
                        name: "?in".into(),
                        ty: columns[0].ty,
                        table_oid: 0,
                        column_id: 0,
                        hidden: true,
                        qualified_only: false,
                    }],
                    inner_from: 0,
                };
                let combined = Scope::correlated(outer, &inner_scope);
                let cond = ast::Expr::BinaryOp {
                    left: expr.clone(),
                    op: ast::BinaryOperator::Eq,
                    right: Box::new(ast::Expr::Identifier(ast::Ident::with_quote('"', "?in"))),
                };
                let on = ExprBinder {
                    ctx: &mut *ctx,
                    scope: &combined,
                    agg: None,
                    clause: "WHERE",
                }
                .bind(&cond)?;
                let kind = if *negated {
                    JoinKind::AntiNullAware
                } else {
                    JoinKind::Semi
                };
                Ok(Classified::Join(PostJoin::Filtering {
                    kind,
                    inner,
                    on: Some(on),
                }))
            }
            Err(e) if is_missing_name(&e) => Err(PlanError::not_supported(
                "correlated IN subqueries are not supported yet",
            )),
            Err(e) => Err(e),
        },
        ast::Expr::BinaryOp { left, op, right } if is_comparison(op) => {
            let (subquery, flipped) = match (left.as_ref(), right.as_ref()) {
                (_, ast::Expr::Subquery(q)) => (q, false),
                (ast::Expr::Subquery(q), _) => (q, true),
                _ => return Ok(Classified::Plain),
            };
            // Uncorrelated subqueries run once per statement; leave them to the expression binder.
            match bind_query(ctx, subquery) {
                Ok(_) => return Ok(Classified::Plain),
                Err(e) if !is_missing_name(&e) => return Err(e),
                Err(_) => {}
            }
            let (join, value_name, counts) = scalar_join(ctx, subquery, outer, next_hidden(outer))?;
            let mut value = ast::Expr::Identifier(ast::Ident::with_quote('"', value_name));
            if counts {
                // count() over no rows is 0, not the NULL an unmatched left join gives.
                value = coalesce_zero(value);
            }
            let rewritten = if flipped {
                ast::Expr::BinaryOp {
                    left: Box::new(value),
                    op: op.clone(),
                    right: right.clone(),
                }
            } else {
                ast::Expr::BinaryOp {
                    left: left.clone(),
                    op: op.clone(),
                    right: Box::new(value),
                }
            };
            Ok(Classified::Rewritten(join, Box::new(rewritten)))
        }
        _ => Ok(Classified::Plain),
    }
}

fn is_comparison(op: &ast::BinaryOperator) -> bool {
    use ast::BinaryOperator as B;
    matches!(op, B::Eq | B::NotEq | B::Lt | B::LtEq | B::Gt | B::GtEq)
}

fn coalesce_zero(e: ast::Expr) -> ast::Expr {
    let zero = ast::Expr::Value(ast::Value::Number("0".into(), false).into());
    let args = [e, zero]
        .into_iter()
        .map(|a| ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(a)))
        .collect();
    ast::Expr::Function(ast::Function {
        name: ast::ObjectName::from(vec![ast::Ident::new("coalesce")]),
        uses_odbc_syntax: false,
        parameters: ast::FunctionArguments::None,
        args: ast::FunctionArguments::List(ast::FunctionArgumentList {
            duplicate_treatment: None,
            args,
            clauses: Vec::new(),
        }),
        within_group: Vec::new(),
        filter: None,
        null_treatment: None,
        over: None,
    })
}

/// A subquery that is one plain SELECT block.
fn simple_select(q: &ast::Query) -> Option<&ast::Select> {
    if q.with.is_some() || q.order_by.is_some() || q.limit_clause.is_some() || q.fetch.is_some() {
        return None;
    }
    match q.body.as_ref() {
        ast::SetExpr::Select(s) => Some(s),
        _ => None,
    }
}

/// The inner query's conjuncts split into local ones and correlated ones (which bind only with
/// the outer scope in view).
fn split_correlated(
    ctx: &mut BindContext<'_>,
    select: &ast::Select,
    outer: &Scope,
) -> Result<(Vec<ast::Expr>, Vec<ast::Expr>), PlanError> {
    let (_, inner_scope, _) = bind_relations(ctx, &select.from)?;
    let mut local = Vec::new();
    let mut correlated = Vec::new();
    if let Some(selection) = &select.selection {
        let mut parts = Vec::new();
        split_and(selection, &mut parts);
        for part in parts {
            let alone = ExprBinder {
                ctx: &mut *ctx,
                scope: &inner_scope,
                agg: None,
                clause: "WHERE",
            }
            .bind(part);
            match alone {
                Ok(_) => local.push(part.clone()),
                Err(e) if is_missing_name(&e) && !contains_subquery(part) => {
                    let combined = Scope::correlated(outer, &inner_scope);
                    let bound = ExprBinder {
                        ctx: &mut *ctx,
                        scope: &combined,
                        agg: None,
                        clause: "WHERE",
                    }
                    .bind(part);
                    match bound {
                        Ok(_) => correlated.push(part.clone()),
                        Err(e)
                            if is_missing_name(&e)
                                && binds_further_out(ctx, part, outer, &inner_scope) =>
                        {
                            return Err(PlanError::not_supported(
                                "subqueries that refer to a query more than one level out are not supported yet",
                            ));
                        }
                        Err(e) => return Err(e),
                    }
                }
                // Subqueries nested inside the conjunct are handled when the inner block binds.
                Err(e) if is_missing_name(&e) => local.push(part.clone()),
                Err(e) => return Err(e),
            }
        }
    }
    Ok((local, correlated))
}

/// Whether `part` binds once the scopes of every enclosing query are in view.
fn binds_further_out(
    ctx: &mut BindContext<'_>,
    part: &ast::Expr,
    outer: &Scope,
    inner: &Scope,
) -> bool {
    let mut all = Scope::default();
    for s in ctx.outer_scopes.clone() {
        all = all.concat(s);
    }
    let all = Scope::correlated(&all.concat(outer.clone()), inner);
    ExprBinder {
        ctx,
        scope: &all,
        agg: None,
        clause: "WHERE",
    }
    .bind(part)
    .is_ok()
}

/// Whether a subquery appears anywhere in `e` (outside nested subqueries' bodies).
fn contains_subquery_anywhere(e: &ast::Expr) -> bool {
    let mut copy = e.clone();
    contains_in(&mut copy)
}

fn contains_in(e: &mut ast::Expr) -> bool {
    if matches!(e, ast::Expr::Exists { .. } | ast::Expr::Subquery(_)) {
        return true;
    }
    super::ast_walk::children_mut(e)
        .into_iter()
        .any(contains_in)
}

fn contains_subquery(e: &ast::Expr) -> bool {
    matches!(
        e,
        ast::Expr::Exists { .. }
            | ast::Expr::Subquery(_)
            | ast::Expr::In {
                target: ast::InTarget::Subquery(_),
                ..
            }
    ) || match e {
        ast::Expr::BinaryOp { left, right, .. } => {
            contains_subquery(left) || contains_subquery(right)
        }
        ast::Expr::UnaryOp { expr, .. } | ast::Expr::Nested(expr) => contains_subquery(expr),
        _ => false,
    }
}

fn and_ast(parts: Vec<ast::Expr>) -> Option<ast::Expr> {
    parts.into_iter().reduce(|a, b| ast::Expr::BinaryOp {
        left: Box::new(a),
        op: ast::BinaryOperator::And,
        right: Box::new(b),
    })
}

/// `EXISTS (SELECT … FROM a WHERE p AND EXISTS (SELECT … FROM b WHERE q))` asks the same as
/// `EXISTS (SELECT … FROM a, b WHERE p AND q)`: only existence matters, so duplicates from the
/// join do not. Flattening lets `q` refer to the outermost query (two levels out) as an
/// ordinary correlated conjunct. Only positive EXISTS without grouping, and only when the
/// table names do not clash.
fn flatten_nested_exists(select: &ast::Select) -> Option<ast::Select> {
    let selection = select.selection.as_ref()?;
    let mut parts = Vec::new();
    split_and(selection, &mut parts);
    let mut from = select.from.clone();
    let mut kept = Vec::new();
    let mut changed = false;
    let names = |f: &[ast::TableWithJoins]| -> Vec<String> {
        f.iter()
            .flat_map(|t| std::iter::once(&t.relation).chain(t.joins.iter().map(|j| &j.relation)))
            .filter_map(|r| match r {
                ast::TableFactor::Table { name, alias, .. } => Some(
                    alias
                        .as_ref()
                        .map(|a| a.name.value.to_ascii_lowercase())
                        .unwrap_or_else(|| name.to_string().to_ascii_lowercase()),
                ),
                _ => None,
            })
            .collect()
    };
    for part in parts {
        if let ast::Expr::Exists {
            subquery,
            negated: false,
        } = part
            && let Some(inner) = simple_select(subquery)
        {
            let plain = matches!(&inner.group_by, ast::GroupByExpr::Expressions(g, _) if g.is_empty())
                && inner.having.is_none()
                && inner.distinct.is_none();
            let clash = names(&inner.from).iter().any(|n| names(&from).contains(n));
            if plain && !clash && !inner.from.is_empty() {
                from.extend(inner.from.iter().cloned());
                if let Some(w) = &inner.selection {
                    kept.push(w.clone());
                }
                changed = true;
                continue;
            }
        }
        kept.push(part.clone());
    }
    if !changed {
        return None;
    }
    let mut out = select.clone();
    out.from = from;
    out.selection = and_ast(kept);
    Some(out)
}

/// `[NOT] EXISTS (subquery)` as a semi or anti join.
fn exists_join(
    ctx: &mut BindContext<'_>,
    q: &ast::Query,
    negated: bool,
    outer: &Scope,
) -> Result<PostJoin, PlanError> {
    let kind = if negated {
        JoinKind::Anti
    } else {
        JoinKind::Semi
    };
    let Some(select) = simple_select(q) else {
        // Not a plain block: it must be uncorrelated; any row makes EXISTS true.
        let (inner, _) = bind_query(ctx, q)?;
        return Ok(PostJoin::Filtering {
            kind,
            inner,
            on: None,
        });
    };
    let has_grouping = !matches!(&select.group_by, ast::GroupByExpr::Expressions(g, _) if g.is_empty())
        || select.having.is_some();
    let flattened = if has_grouping {
        None
    } else {
        flatten_nested_exists(select)
    };
    let select = flattened.as_ref().unwrap_or(select);
    let (local, correlated) = split_correlated(ctx, select, outer)?;
    if correlated.is_empty() || has_grouping {
        let (inner, _) = bind_query(ctx, q)?;
        return Ok(PostJoin::Filtering {
            kind,
            inner,
            on: None,
        });
    }
    let mut inner_select = select.clone();
    inner_select.selection = and_ast(local);
    inner_select.projection = vec![ast::SelectItem::Wildcard(
        ast::WildcardAdditionalOptions::default(),
    )];
    ctx.outer_scopes.push(outer.clone());
    let bound = bind_from_where(ctx, &inner_select);
    ctx.outer_scopes.pop();
    let (inner, inner_scope) = bound?;
    let combined = Scope::correlated(outer, &inner_scope);
    let mut conds = Vec::new();
    for c in &correlated {
        let bound = ExprBinder {
            ctx: &mut *ctx,
            scope: &combined,
            agg: None,
            clause: "WHERE",
        }
        .bind(c)?;
        conds.push(coerce_bool(ctx, bound, "WHERE")?);
    }
    Ok(PostJoin::Filtering {
        kind,
        inner,
        on: and_all(conds),
    })
}

/// A correlated scalar subquery `(SELECT agg(...) FROM ... WHERE inner_key = outer_key AND ...)`
/// as a left join with the subquery grouped by its inner keys. Returns the join, the name of the
/// value column, and whether the value is a bare count (0, not NULL, when nothing matches).
fn scalar_join(
    ctx: &mut BindContext<'_>,
    q: &ast::Query,
    outer: &Scope,
    n: usize,
) -> Result<(PostJoin, String, bool), PlanError> {
    let unsupported =
        || PlanError::not_supported("this correlated subquery shape is not supported yet");
    let select = simple_select(q).ok_or_else(unsupported)?;
    let item = match select.projection.as_slice() {
        [ast::SelectItem::UnnamedExpr(e) | ast::SelectItem::ExprWithAlias { expr: e, .. }] => {
            e.clone()
        }
        _ => return Err(PlanError::syntax("subquery must return only one column")),
    };
    let no_grouping = matches!(&select.group_by, ast::GroupByExpr::Expressions(g, _) if g.is_empty())
        && select.having.is_none();
    if !no_grouping || !super::expr::contains_aggregate(&item) {
        return Err(unsupported());
    }
    let (local, correlated) = split_correlated(ctx, select, outer)?;
    let (_, inner_scope, _) = bind_relations(ctx, &select.from)?;
    // Each correlated conjunct must be inner_expr = outer_expr.
    let mut keys = Vec::new();
    for c in &correlated {
        let ast::Expr::BinaryOp {
            left,
            op: ast::BinaryOperator::Eq,
            right,
        } = c
        else {
            return Err(unsupported());
        };
        let binds_inner = |ctx: &mut BindContext<'_>, e: &ast::Expr| {
            ExprBinder {
                ctx,
                scope: &inner_scope,
                agg: None,
                clause: "WHERE",
            }
            .bind(e)
            .is_ok()
        };
        if binds_inner(ctx, left) {
            keys.push((left.as_ref().clone(), right.as_ref().clone()));
        } else if binds_inner(ctx, right) {
            keys.push((right.as_ref().clone(), left.as_ref().clone()));
        } else {
            return Err(unsupported());
        }
    }
    let key_name = |i: usize| format!("?k{n}_{i}");
    let value_name = format!("?sq{n}");
    let mut grouped = select.clone();
    grouped.selection = and_ast(local);
    grouped.projection = keys
        .iter()
        .enumerate()
        .map(|(i, (inner, _))| ast::SelectItem::ExprWithAlias {
            expr: inner.clone(),
            alias: ast::Ident::with_quote('"', key_name(i)),
        })
        .chain(std::iter::once(ast::SelectItem::ExprWithAlias {
            expr: item.clone(),
            alias: ast::Ident::with_quote('"', value_name.clone()),
        }))
        .collect();
    grouped.group_by = ast::GroupByExpr::Expressions(
        keys.iter().map(|(inner, _)| inner.clone()).collect(),
        Vec::new(),
    );
    ctx.outer_scopes.push(outer.clone());
    let bound = bind_select(ctx, &grouped, &[]);
    ctx.outer_scopes.pop();
    let (inner, columns) = bound?;
    let hidden_columns: Vec<ScopeColumn> = columns
        .iter()
        .map(|c| ScopeColumn {
            qualifier: None,
            name: c.name.clone(),
            ty: c.ty,
            table_oid: 0,
            column_id: 0,
            hidden: true,
            qualified_only: false,
        })
        .collect();
    let inner_scope = Scope {
        columns: hidden_columns.clone(),
        inner_from: 0,
    };
    let combined = Scope::correlated(outer, &inner_scope);
    let mut conds = Vec::new();
    for (i, (_, outer_expr)) in keys.iter().enumerate() {
        let cond = ast::Expr::BinaryOp {
            left: Box::new(outer_expr.clone()),
            op: ast::BinaryOperator::Eq,
            right: Box::new(ast::Expr::Identifier(ast::Ident::with_quote(
                '"',
                key_name(i),
            ))),
        };
        let bound = ExprBinder {
            ctx: &mut *ctx,
            scope: &combined,
            agg: None,
            clause: "WHERE",
        }
        .bind(&cond)?;
        conds.push(bound);
    }
    let on = and_all(conds).ok_or_else(unsupported)?;
    let counts =
        matches!(&item, ast::Expr::Function(f) if f.name.to_string().eq_ignore_ascii_case("count"));
    let _ = BinOp::Eq;
    Ok((
        PostJoin::Scalar {
            inner,
            on,
            columns: hidden_columns,
        },
        value_name,
        counts,
    ))
}
