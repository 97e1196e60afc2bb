//! Binding queries: FROM and joins, WHERE, GROUP BY/HAVING, the SELECT list, DISTINCT,
//! ORDER BY, LIMIT/OFFSET, VALUES and set operations.

use super::expr::{AggState, ExprBinder, binary, coerce, coerce_bool, contains_aggregate};
use super::scope::{Scope, ScopeColumn};
use super::{BindContext, ident_name, object_name, system, table_name};
use crate::error::PlanError;
use crate::expr::{BinOp, Expr};
use crate::plan::{Access, JoinKind, KeyRange, OutputColumn, Plan, RangeBound, SetOpKind, SortKey};
use crate::types::common_type;
use omendb_storage::schema::TableSchema;
use omendb_storage::types::{DataType, Value};
use sqlparser::ast;
use std::sync::Arc;

/// Bind a whole query (with ORDER BY and LIMIT) to a plan and its output columns.
pub(crate) fn bind_query(
    ctx: &mut BindContext<'_>,
    q: &ast::Query,
) -> Result<(Plan, Vec<OutputColumn>), PlanError> {
    let first_shared = ctx.shared.len();
    let pushed = match &q.with {
        Some(with) if with.recursive => {
            return Err(PlanError::not_supported(
                "WITH RECURSIVE is not supported yet",
            ));
        }
        Some(with) => {
            // Only a top-level WITH is materialized: a CTE inside a subquery may refer to the
            // enclosing query's row, so one result per statement would be wrong for it.
            let top_level = ctx.outer_scopes.is_empty();
            for cte in &with.cte_tables {
                let columns = cte
                    .alias
                    .columns
                    .iter()
                    .map(|c| ident_name(&c.name))
                    .collect();
                let share = top_level.then(|| {
                    ctx.shared.push(SharedUse {
                        uses: 0,
                        volatile: false,
                        materialized: cte.materialized,
                        bound: None,
                    });
                    ctx.shared.len() - 1
                });
                ctx.ctes.push(CteDef {
                    name: ident_name(&cte.alias.name),
                    columns,
                    query: cte.query.as_ref().clone(),
                    share,
                });
            }
            with.cte_tables.len()
        }
        None => 0,
    };
    let result = bind_query_body(ctx, q);
    ctx.ctes.truncate(ctx.ctes.len() - pushed);
    let (mut plan, columns) = result?;
    // PostgreSQL's rule: a CTE is folded into the query when it is referenced once (or
    // declared NOT MATERIALIZED) and calls no volatile function; otherwise it is computed once.
    let inline = |id: usize| {
        ctx.shared.get(id).is_some_and(|u| {
            !u.volatile
                && match u.materialized {
                    Some(ast::CteAsMaterialized::Materialized) => false,
                    Some(ast::CteAsMaterialized::NotMaterialized) => true,
                    None => u.uses <= 1,
                }
        })
    };
    if ctx.shared.len() > first_shared {
        inline_shared(&mut plan, &|id| id >= first_shared && inline(id));
    }
    Ok((plan, columns))
}

/// A common table expression in scope.
#[derive(Clone)]
pub(crate) struct CteDef {
    name: String,
    /// Column aliases given with the CTE (`WITH x (a, b) AS …`).
    columns: Vec<String>,
    query: ast::Query,
    /// Its `Plan::Shared` id when it may be materialized.
    share: Option<usize>,
}

/// What decides whether a CTE is materialized, gathered while its references are bound.
pub(crate) struct SharedUse {
    uses: usize,
    volatile: bool,
    materialized: Option<ast::CteAsMaterialized>,
    /// The CTE's plan and columns, once its first reference bound it.
    bound: Option<(Plan, Vec<OutputColumn>)>,
}

/// Replace every `Plan::Shared` node whose id `inline` accepts by its input, in `plan` and in
/// the subquery plans of its expressions.
fn inline_shared(plan: &mut Plan, inline: &dyn Fn(usize) -> bool) {
    inline_nodes(plan, inline);
    plan.exprs_mut(&mut |e| {
        e.walk_mut(&mut |e| match e {
            Expr::ScalarSubquery { plan, .. }
            | Expr::InSubquery { plan, .. }
            | Expr::Exists { plan, .. }
            | Expr::Quantified { plan, .. } => inline_shared(plan, inline),
            _ => {}
        })
    });
}

fn inline_nodes(plan: &mut Plan, inline: &dyn Fn(usize) -> bool) {
    while let Plan::Shared { id, input } = plan
        && inline(*id)
    {
        let input = std::mem::replace(
            input.as_mut(),
            Plan::Values {
                rows: Vec::new(),
                types: Vec::new(),
            },
        );
        *plan = input;
    }
    for input in plan.inputs_mut() {
        inline_nodes(input, inline);
    }
}

/// Whether `plan` (outside its subqueries) calls a function whose value changes per call.
fn calls_volatile(plan: &mut Plan) -> bool {
    let mut volatile = false;
    plan.exprs_mut(&mut |e| {
        e.walk_mut(&mut |e| {
            volatile |= matches!(e, Expr::Call { func, .. } if func.is_volatile());
        })
    });
    volatile
}

fn bind_query_body(
    ctx: &mut BindContext<'_>,
    q: &ast::Query,
) -> Result<(Plan, Vec<OutputColumn>), PlanError> {
    if !q.locks.is_empty() {
        return Err(PlanError::not_supported(
            "SELECT ... FOR UPDATE/SHARE is not supported yet",
        ));
    }
    let order_by: &[ast::OrderByExpr] = match &q.order_by {
        None => &[],
        Some(ast::OrderBy {
            kind: ast::OrderByKind::Expressions(e),
            ..
        }) => e,
        Some(_) => return Err(PlanError::not_supported("ORDER BY ALL")),
    };
    let (plan, columns) = match q.body.as_ref() {
        ast::SetExpr::Select(select) => bind_select(ctx, select, order_by)?,
        body => {
            let (plan, columns) = bind_set_expr(ctx, body)?;
            order_outputs(ctx, plan, columns, order_by)?
        }
    };
    let plan = bind_limit(ctx, plan, q)?;
    Ok((plan, columns))
}

fn bind_set_expr(
    ctx: &mut BindContext<'_>,
    body: &ast::SetExpr,
) -> Result<(Plan, Vec<OutputColumn>), PlanError> {
    match body {
        ast::SetExpr::Select(select) => bind_select(ctx, select, &[]),
        ast::SetExpr::Query(q) => bind_query(ctx, q),
        ast::SetExpr::Values(values) => bind_values(ctx, values),
        ast::SetExpr::SetOperation {
            left,
            op,
            set_quantifier,
            right,
        } => {
            let (l, lcols) = bind_set_expr(ctx, left)?;
            let (r, rcols) = bind_set_expr(ctx, right)?;
            let kind = match op {
                ast::SetOperator::Union => SetOpKind::Union,
                ast::SetOperator::Intersect => SetOpKind::Intersect,
                ast::SetOperator::Except | ast::SetOperator::Minus => SetOpKind::Except,
            };
            let all = matches!(set_quantifier, ast::SetQuantifier::All);
            if lcols.len() != rcols.len() {
                return Err(PlanError::syntax(format!(
                    "each {} query must have the same number of columns",
                    op.to_string().to_ascii_uppercase()
                )));
            }
            let mut types = Vec::with_capacity(lcols.len());
            for (a, b) in lcols.iter().zip(&rcols) {
                let t = common_type(a.ty, b.ty).ok_or_else(|| {
                    PlanError::DatatypeMismatch(format!(
                        "{} types {} and {} cannot be matched",
                        op, a.ty, b.ty
                    ))
                })?;
                types.push(if t == DataType::Unknown {
                    DataType::Text
                } else {
                    t
                });
            }
            let l = cast_columns(ctx, l, &types)?;
            let r = cast_columns(ctx, r, &types)?;
            let columns = lcols
                .into_iter()
                .zip(&types)
                .map(|(c, ty)| OutputColumn {
                    ty: *ty,
                    table_oid: 0,
                    column_id: 0,
                    ..c
                })
                .collect();
            Ok((
                Plan::SetOp {
                    op: kind,
                    all,
                    left: Box::new(l),
                    right: Box::new(r),
                },
                columns,
            ))
        }
        other => Err(PlanError::not_supported(format!(
            "query form not supported: {other}"
        ))),
    }
}

/// Project `plan` so its columns have `types` (no-op when they already do).
fn cast_columns(
    ctx: &mut BindContext<'_>,
    plan: Plan,
    types: &[DataType],
) -> Result<Plan, PlanError> {
    let current = plan.column_types();
    if current.iter().zip(types).all(|(a, b)| a == b) {
        return Ok(plan);
    }
    let exprs = current
        .iter()
        .zip(types)
        .enumerate()
        .map(|(i, (from, to))| {
            coerce(
                ctx,
                Expr::Column {
                    index: i,
                    ty: *from,
                },
                *to,
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Plan::Project {
        input: Box::new(plan),
        exprs,
    })
}

fn bind_values(
    ctx: &mut BindContext<'_>,
    values: &ast::Values,
) -> Result<(Plan, Vec<OutputColumn>), PlanError> {
    let empty = Scope::default();
    let mut rows = Vec::with_capacity(values.rows.len());
    for row in &values.rows {
        let mut b = ExprBinder {
            ctx: &mut *ctx,
            scope: &empty,
            agg: None,
            clause: "VALUES",
        };
        rows.push(
            row.content
                .iter()
                .map(|e| b.bind(e))
                .collect::<Result<Vec<_>, _>>()?,
        );
    }
    let width = rows.first().map_or(0, Vec::len);
    if rows.iter().any(|r| r.len() != width) {
        return Err(PlanError::syntax(
            "VALUES lists must all be the same length",
        ));
    }
    let mut types = vec![DataType::Unknown; width];
    for row in &rows {
        for (t, e) in types.iter_mut().zip(row) {
            *t = common_type(*t, e.ty()).ok_or_else(|| {
                PlanError::DatatypeMismatch(format!(
                    "VALUES types {} and {} cannot be matched",
                    t,
                    e.ty()
                ))
            })?;
        }
    }
    for t in &mut types {
        if *t == DataType::Unknown {
            *t = DataType::Text;
        }
    }
    let rows = rows
        .into_iter()
        .map(|row| {
            row.into_iter()
                .zip(&types)
                .map(|(e, t)| coerce(ctx, e, *t))
                .collect::<Result<Vec<_>, _>>()
        })
        .collect::<Result<Vec<_>, _>>()?;
    let columns = types
        .iter()
        .enumerate()
        .map(|(i, ty)| OutputColumn {
            name: format!("column{}", i + 1),
            ty: *ty,
            table_oid: 0,
            column_id: 0,
        })
        .collect();
    Ok((Plan::Values { rows, types }, columns))
}

/// ORDER BY over the output of a set operation or VALUES: names, ordinals or expressions over the outputs.
fn order_outputs(
    ctx: &mut BindContext<'_>,
    plan: Plan,
    columns: Vec<OutputColumn>,
    order_by: &[ast::OrderByExpr],
) -> Result<(Plan, Vec<OutputColumn>), PlanError> {
    if order_by.is_empty() {
        return Ok((plan, columns));
    }
    let scope = Scope {
        inner_from: 0,
        columns: columns
            .iter()
            .map(|c| ScopeColumn {
                qualifier: None,
                name: c.name.clone(),
                ty: c.ty,
                table_oid: 0,
                column_id: 0,
                hidden: false,
                qualified_only: false,
            })
            .collect(),
    };
    let mut keys = Vec::with_capacity(order_by.len());
    for o in order_by {
        let expr = match output_reference(&o.expr, &columns)? {
            Some(i) => Expr::Column {
                index: i,
                ty: columns[i].ty,
            },
            None => ExprBinder {
                ctx: &mut *ctx,
                scope: &scope,
                agg: None,
                clause: "ORDER BY",
            }
            .bind(&o.expr)?,
        };
        keys.push(sort_key(expr, &o.options));
    }
    Ok((
        Plan::Sort {
            input: Box::new(plan),
            keys,
        },
        columns,
    ))
}

pub(crate) fn sort_key(expr: Expr, options: &ast::OrderByOptions) -> SortKey {
    let descending = matches!(options.sort, Some(ast::OrderBySort::Desc));
    // PostgreSQL: NULLs sort as larger than every value unless told otherwise.
    let nulls_first = options.nulls_first.unwrap_or(descending);
    SortKey {
        expr,
        descending,
        nulls_first,
    }
}

/// `ORDER BY 2` or `ORDER BY alias`: the output column meant, if any.
fn output_reference(e: &ast::Expr, columns: &[OutputColumn]) -> Result<Option<usize>, PlanError> {
    match e {
        ast::Expr::Value(v) => match &v.value {
            ast::Value::Number(n, _) => {
                let pos: usize = n.parse().unwrap_or(0);
                if pos == 0 || pos > columns.len() {
                    return Err(PlanError::InvalidColumnReference(format!(
                        "ORDER BY position {n} is not in select list"
                    )));
                }
                Ok(Some(pos - 1))
            }
            _ => Ok(None),
        },
        ast::Expr::Identifier(id) => {
            let name = ident_name(id);
            let matches: Vec<usize> = (0..columns.len())
                .filter(|&i| columns[i].name == name)
                .collect();
            match matches.as_slice() {
                [i] => Ok(Some(*i)),
                [] => Ok(None),
                _ => Err(PlanError::AmbiguousColumn(name)),
            }
        }
        _ => Ok(None),
    }
}

fn bind_limit(ctx: &mut BindContext<'_>, plan: Plan, q: &ast::Query) -> Result<Plan, PlanError> {
    let (limit, offset) = match &q.limit_clause {
        None => (None, None),
        Some(ast::LimitClause::LimitOffset {
            limit,
            offset,
            limit_by,
        }) if limit_by.is_empty() => (limit.as_ref(), offset.as_ref().map(|o| &o.value)),
        Some(ast::LimitClause::OffsetCommaLimit { offset, limit }) => (Some(limit), Some(offset)),
        Some(_) => return Err(PlanError::not_supported("LIMIT BY")),
    };
    let limit = match &q.fetch {
        Some(fetch) if limit.is_none() => fetch.quantity.as_ref(),
        _ => limit,
    };
    if limit.is_none() && offset.is_none() {
        return Ok(plan);
    }
    let empty = Scope::default();
    let mut bind_count = |e: &ast::Expr| -> Result<Option<Expr>, PlanError> {
        let bound = ExprBinder {
            ctx: &mut *ctx,
            scope: &empty,
            agg: None,
            clause: "LIMIT",
        }
        .bind(e)?;
        if matches!(
            bound,
            Expr::Literal {
                value: Value::Null,
                ..
            }
        ) {
            return Ok(None);
        }
        Ok(Some(coerce(ctx, bound, DataType::Int64)?))
    };
    let limit = limit.map(&mut bind_count).transpose()?.flatten();
    let offset = offset.map(&mut bind_count).transpose()?.flatten();
    let mut plan = Plan::Limit {
        input: Box::new(plan),
        limit,
        offset,
    };
    crate::optimizer::range_order::push_limit_into_range(&mut plan);
    Ok(plan)
}

/// One SELECT block with the ORDER BY that belongs to it.
pub(crate) fn bind_select(
    ctx: &mut BindContext<'_>,
    select: &ast::Select,
    order_by: &[ast::OrderByExpr],
) -> Result<(Plan, Vec<OutputColumn>), PlanError> {
    if select.into.is_some() {
        return Err(PlanError::not_supported("SELECT INTO is not supported yet"));
    }
    let (mut plan, mut scope) = super::from_where::bind_from_where(ctx, select)?;
    let projection = decorrelate_projection(ctx, &select.projection, &mut plan, &mut scope)?;
    let group_exprs: &[ast::Expr] = match &select.group_by {
        ast::GroupByExpr::Expressions(exprs, modifiers) if modifiers.is_empty() => exprs,
        _ => {
            return Err(PlanError::not_supported(
                "GROUP BY ALL / ROLLUP / CUBE are not supported yet",
            ));
        }
    };
    let aggregating = !group_exprs.is_empty()
        || select.having.is_some()
        || projection.iter().any(|item| match item {
            ast::SelectItem::UnnamedExpr(e) | ast::SelectItem::ExprWithAlias { expr: e, .. } => {
                contains_aggregate(e)
            }
            _ => false,
        })
        || order_by.iter().any(|o| contains_aggregate(&o.expr));

    let mut agg_state = if aggregating {
        Some(bind_groups(ctx, &scope, group_exprs, &projection)?)
    } else {
        None
    };

    // The SELECT list.
    let mut exprs = Vec::new();
    let mut columns = Vec::new();
    for item in &projection {
        bind_select_item(
            ctx,
            item,
            &scope,
            agg_state.as_mut(),
            &mut exprs,
            &mut columns,
        )?;
    }
    let having = match &select.having {
        Some(h) => {
            let mut b = ExprBinder {
                ctx: &mut *ctx,
                scope: &scope,
                agg: agg_state.as_mut(),
                clause: "HAVING",
            };
            let bound = b.bind(h)?;
            Some(coerce_bool(ctx, bound, "HAVING")?)
        }
        None => None,
    };
    // ORDER BY: output names and ordinals first, then expressions (hidden columns if new).
    let visible = exprs.len();
    let mut keys = Vec::with_capacity(order_by.len());
    for o in order_by {
        let expr = match output_reference(&o.expr, &columns)? {
            Some(i) => Expr::Column {
                index: i,
                ty: columns[i].ty,
            },
            None => {
                let mut b = ExprBinder {
                    ctx: &mut *ctx,
                    scope: &scope,
                    agg: agg_state.as_mut(),
                    clause: "ORDER BY",
                };
                let bound = b.bind(&o.expr)?;
                let key = format!("{bound:?}");
                let pos = exprs
                    .iter()
                    .position(|e| format!("{e:?}") == key)
                    .unwrap_or_else(|| {
                        exprs.push(bound.clone());
                        exprs.len() - 1
                    });
                Expr::Column {
                    index: pos,
                    ty: bound.ty(),
                }
            }
        };
        keys.push(sort_key(expr, &o.options));
    }
    if let Some(state) = agg_state {
        plan = crate::optimizer::distinct_agg::aggregate(
            plan,
            state.groups.into_iter().map(|(e, _)| e).collect(),
            state.aggs,
        );
    }
    if let Some(h) = having {
        plan = Plan::Filter {
            input: Box::new(plan),
            predicate: h,
        };
    }
    plan = Plan::Project {
        input: Box::new(plan),
        exprs,
    };
    match &select.distinct {
        None | Some(ast::Distinct::All) => {}
        Some(ast::Distinct::Distinct) => {
            if keys
                .iter()
                .any(|k| matches!(k.expr, Expr::Column { index, .. } if index >= visible))
            {
                return Err(PlanError::InvalidColumnReference(
                    "for SELECT DISTINCT, ORDER BY expressions must appear in select list".into(),
                ));
            }
            plan = Plan::Distinct {
                input: Box::new(plan),
            };
        }
        Some(ast::Distinct::On(_)) => {
            return Err(PlanError::not_supported("DISTINCT ON is not supported yet"));
        }
    }
    if !keys.is_empty() {
        plan = Plan::Sort {
            input: Box::new(plan),
            keys,
        };
    }
    if plan.column_types().len() > visible {
        let types = plan.column_types();
        let exprs = (0..visible)
            .map(|i| Expr::Column {
                index: i,
                ty: types[i],
            })
            .collect();
        plan = Plan::Project {
            input: Box::new(plan),
            exprs,
        };
    }
    Ok((plan, columns))
}

/// Correlated subqueries in the SELECT list become joins under `plan`; the items read their
/// values (keeping the names PostgreSQL would give the subqueries). Aggregating blocks keep
/// their items as they are.
fn decorrelate_projection(
    ctx: &mut BindContext<'_>,
    items: &[ast::SelectItem],
    plan: &mut Plan,
    scope: &mut Scope,
) -> Result<Vec<ast::SelectItem>, PlanError> {
    let mut joins = Vec::new();
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let rewritten = match item {
            ast::SelectItem::UnnamedExpr(e) if !super::expr::contains_aggregate(e) => {
                let mut e2 = e.clone();
                if super::from_where::decorrelate(ctx, &mut e2, &mut joins, scope)? {
                    ast::SelectItem::ExprWithAlias {
                        expr: e2,
                        alias: ast::Ident::with_quote('"', output_name(e)),
                    }
                } else {
                    item.clone()
                }
            }
            ast::SelectItem::ExprWithAlias { expr, alias }
                if !super::expr::contains_aggregate(expr) =>
            {
                let mut e2 = expr.clone();
                super::from_where::decorrelate(ctx, &mut e2, &mut joins, scope)?;
                ast::SelectItem::ExprWithAlias {
                    expr: e2,
                    alias: alias.clone(),
                }
            }
            other => other.clone(),
        };
        out.push(rewritten);
    }
    if !joins.is_empty() {
        let input = std::mem::replace(
            plan,
            Plan::Values {
                rows: Vec::new(),
                types: Vec::new(),
            },
        );
        *plan = super::from_where::apply_post_joins(input, joins, None);
    }
    Ok(out)
}

/// Bind GROUP BY expressions (which may name SELECT-list aliases or ordinals).
fn bind_groups(
    ctx: &mut BindContext<'_>,
    scope: &Scope,
    group_exprs: &[ast::Expr],
    projection: &[ast::SelectItem],
) -> Result<AggState, PlanError> {
    let mut groups = Vec::with_capacity(group_exprs.len());
    for g in group_exprs {
        let target = group_target(g, projection, scope)?;
        let bound = ExprBinder {
            ctx: &mut *ctx,
            scope,
            agg: None,
            clause: "GROUP BY",
        }
        .bind(target)?;
        let key = format!("{bound:?}");
        groups.push((bound, key));
    }
    Ok(AggState {
        input: scope.clone(),
        groups,
        aggs: Vec::new(),
    })
}

/// `GROUP BY 1` and `GROUP BY alias` refer to SELECT-list expressions (an input column of the
/// same name wins over an alias, as in PostgreSQL).
fn group_target<'a>(
    g: &'a ast::Expr,
    projection: &'a [ast::SelectItem],
    scope: &Scope,
) -> Result<&'a ast::Expr, PlanError> {
    match g {
        ast::Expr::Value(v) => {
            if let ast::Value::Number(n, _) = &v.value {
                let pos: usize = n.parse().unwrap_or(0);
                return match projection.get(pos.wrapping_sub(1)) {
                    Some(
                        ast::SelectItem::UnnamedExpr(e)
                        | ast::SelectItem::ExprWithAlias { expr: e, .. },
                    ) => Ok(e),
                    _ => Err(PlanError::InvalidColumnReference(format!(
                        "GROUP BY position {n} is not in select list"
                    ))),
                };
            }
            Ok(g)
        }
        ast::Expr::Identifier(id) => {
            let name = ident_name(id);
            if scope.resolve(None, &name).is_ok() {
                return Ok(g);
            }
            for item in projection {
                if let ast::SelectItem::ExprWithAlias { expr, alias } = item
                    && ident_name(alias) == name
                {
                    return Ok(expr);
                }
            }
            Ok(g)
        }
        _ => Ok(g),
    }
}

fn bind_select_item(
    ctx: &mut BindContext<'_>,
    item: &ast::SelectItem,
    scope: &Scope,
    mut agg: Option<&mut AggState>,
    exprs: &mut Vec<Expr>,
    columns: &mut Vec<OutputColumn>,
) -> Result<(), PlanError> {
    let (e, alias) = match item {
        ast::SelectItem::UnnamedExpr(e) => (e, None),
        ast::SelectItem::ExprWithAlias { expr, alias } => (expr, Some(ident_name(alias))),
        ast::SelectItem::ExprWithAliases { .. } => {
            return Err(PlanError::not_supported(
                "multiple aliases for one expression",
            ));
        }
        ast::SelectItem::Wildcard(_) | ast::SelectItem::QualifiedWildcard(..) => {
            let qualifier = match item {
                ast::SelectItem::QualifiedWildcard(
                    ast::SelectItemQualifiedWildcardKind::ObjectName(n),
                    _,
                ) => Some(table_name(n)),
                _ => None,
            };
            let positions = scope.expand(qualifier.as_deref());
            if positions.is_empty() {
                return match qualifier {
                    Some(q) => Err(PlanError::MissingFrom(q)),
                    None => Err(PlanError::syntax(
                        "SELECT * with no tables specified is not valid",
                    )),
                };
            }
            for i in positions {
                let c = &scope.columns[i];
                let column_ast = ast::Expr::Identifier(ast::Ident::with_quote('"', c.name.clone()));
                let bound = match agg.as_deref_mut() {
                    Some(state) => {
                        let mut b = ExprBinder {
                            ctx: &mut *ctx,
                            scope,
                            agg: Some(state),
                            clause: "SELECT",
                        };
                        b.bind(&column_ast)?
                    }
                    None => Expr::Column { index: i, ty: c.ty },
                };
                columns.push(OutputColumn {
                    name: c.name.clone(),
                    ty: c.ty,
                    table_oid: c.table_oid,
                    column_id: c.column_id,
                });
                exprs.push(bound);
            }
            return Ok(());
        }
    };
    let mut b = ExprBinder {
        ctx: &mut *ctx,
        scope,
        agg,
        clause: "SELECT",
    };
    let mut bound = b.bind(e)?;
    if bound.ty() == DataType::Unknown {
        bound = coerce(ctx, bound, DataType::Text)?;
    }
    let (table_oid, column_id) = match (&bound, e) {
        (
            Expr::Column { index, .. },
            ast::Expr::Identifier(_) | ast::Expr::CompoundIdentifier(_),
        ) => scope
            .columns
            .get(*index)
            .map_or((0, 0), |c| (c.table_oid, c.column_id)),
        _ => (0, 0),
    };
    columns.push(OutputColumn {
        name: alias.unwrap_or_else(|| output_name(e)),
        ty: bound.ty(),
        table_oid,
        column_id,
    });
    exprs.push(bound);
    Ok(())
}

/// Bind a SELECT list without aggregation over `scope` (RETURNING uses this).
pub(crate) fn bind_projection(
    ctx: &mut BindContext<'_>,
    scope: &Scope,
    items: &[ast::SelectItem],
) -> Result<(Vec<Expr>, Vec<OutputColumn>), PlanError> {
    let mut exprs = Vec::new();
    let mut columns = Vec::new();
    for item in items {
        bind_select_item(ctx, item, scope, None, &mut exprs, &mut columns)?;
    }
    Ok((exprs, columns))
}

/// The column name PostgreSQL gives an unaliased SELECT-list expression.
pub(crate) fn output_name(e: &ast::Expr) -> String {
    match e {
        ast::Expr::Identifier(id) => ident_name(id),
        ast::Expr::CompoundIdentifier(parts) => parts.last().map(ident_name).unwrap_or_default(),
        ast::Expr::Nested(inner) => output_name(inner),
        ast::Expr::Function(f) => {
            let name = object_name(&f.name);
            name.rsplit('.').next().unwrap_or(&name).to_string()
        }
        ast::Expr::Cast {
            expr, data_type, ..
        } => match output_name(expr).as_str() {
            "?column?" => pg_type_name(&data_type.to_string()),
            name => name.to_string(),
        },
        ast::Expr::Case { .. } => "case".into(),
        ast::Expr::Subquery(q) => match q.body.as_ref() {
            ast::SetExpr::Select(s) => match s.projection.as_slice() {
                [ast::SelectItem::ExprWithAlias { alias, .. }] => ident_name(alias),
                [ast::SelectItem::UnnamedExpr(e)] => output_name(e),
                _ => "?column?".into(),
            },
            _ => "?column?".into(),
        },
        ast::Expr::Exists { .. } => "exists".into(),
        ast::Expr::Extract { .. } => "extract".into(),
        ast::Expr::Substring { .. } => "substring".into(),
        ast::Expr::Position { .. } => "position".into(),
        ast::Expr::Trim { .. } => "btrim".into(),
        ast::Expr::Ceil { .. } => "ceil".into(),
        ast::Expr::Floor { .. } => "floor".into(),
        ast::Expr::Interval(_) => "interval".into(),
        ast::Expr::TypedString(ts) => pg_type_name(&ts.data_type.to_string()),
        _ => "?column?".into(),
    }
}

/// PostgreSQL's internal type name, used for the column name of a cast literal (`int4`, `text`).
fn pg_type_name(sql: &str) -> String {
    let lower = sql.to_ascii_lowercase();
    let base = lower.split('(').next().unwrap_or("").trim();
    match base {
        "integer" | "int" | "int4" | "serial" => "int4",
        "bigint" | "int8" => "int8",
        "smallint" | "int2" => "int2",
        "real" | "float4" => "float4",
        "double precision" | "float8" | "float" => "float8",
        "decimal" | "numeric" => "numeric",
        "boolean" | "bool" => "bool",
        "character varying" | "varchar" => "varchar",
        "character" | "char" | "bpchar" => "bpchar",
        "timestamp" | "timestamp without time zone" => "timestamp",
        "timestamptz" | "timestamp with time zone" => "timestamptz",
        other => other,
    }
    .to_string()
}

/// A primary-key or shard-key equality in the predicate's conjuncts narrows the scan to one
/// shard; equalities on a prefix of the primary key (and a range on the next key column) read
/// a key range instead of the whole partition.
pub(crate) fn choose_access(table: &TableSchema, predicate: &Expr) -> Access {
    let mut conditions: Vec<KeyCondition<'_>> = Vec::new();
    collect_key_conditions(predicate, &mut conditions);
    let value_of = |col: usize| {
        conditions
            .iter()
            .find(|k| k.column == col && k.op == BinOp::Eq)
            .map(|k| k.value.clone())
    };
    if let Some(pk) = &table.primary_key {
        let values: Option<Vec<Expr>> = pk.columns.iter().map(|&c| value_of(c)).collect();
        if let Some(values) = values {
            return Access::PrimaryKey(values);
        }
        // The range binding the most columns; the primary key wins a tie (no indirection).
        let primary = key_range(table, None, &pk.columns, &conditions);
        let best = table
            .indexes
            .iter()
            .filter_map(|i| key_range(table, Some(&i.name), &i.columns, &conditions))
            .fold(primary, |best, r| match &best {
                Some(b) if bound_columns(b) >= bound_columns(&r) => best,
                _ => Some(r),
            });
        if let Some(range) = best {
            return Access::KeyRange(Box::new(range));
        }
    }
    match table.shard_column().and_then(value_of) {
        Some(v) => Access::ShardKey(v),
        None => Access::Full,
    }
}

/// Fewest key columns a range must bind to be read through the index rather than scanned: one
/// bound column (the shard column alone) selects a whole warehouse-sized share, which the
/// vectorized scan reads faster than row-by-row index probes.
const MIN_RANGE_COLUMNS: usize = 2;

/// Key columns a range binds (its equalities, and its range column counted once).
fn bound_columns(r: &KeyRange) -> usize {
    r.eq.len() + usize::from(r.lower.is_some() || r.upper.is_some())
}

/// The key range of index `columns` the conditions bind: equalities on a prefix, then bounds
/// on the next column when its type matches theirs exactly (so encoding the bound keeps its
/// order). An index led by the shard column needs [`MIN_RANGE_COLUMNS`] bound columns, another
/// one.
fn key_range(
    table: &TableSchema,
    index: Option<&String>,
    columns: &[usize],
    conds: &[KeyCondition<'_>],
) -> Option<KeyRange> {
    let mut eq = Vec::new();
    for &c in columns {
        match conds.iter().find(|k| k.column == c && k.op == BinOp::Eq) {
            Some(k) => eq.push(k.value.clone()),
            None => break,
        }
    }
    let (mut lower, mut upper) = (None, None);
    if let Some(&next) = columns.get(eq.len()) {
        let ty = table.columns[next].ty;
        for k in conds
            .iter()
            .filter(|k| k.column == next && k.value.ty() == ty)
        {
            let bound = Some(RangeBound {
                value: k.value.clone(),
                inclusive: matches!(k.op, BinOp::LtEq | BinOp::GtEq),
            });
            match k.op {
                BinOp::Gt | BinOp::GtEq if lower.is_none() => lower = bound,
                BinOp::Lt | BinOp::LtEq if upper.is_none() => upper = bound,
                _ => {}
            }
        }
    }
    let bound = eq.len() + usize::from(lower.is_some() || upper.is_some());
    let needed = if columns.first() == table.shard_column().as_ref() {
        MIN_RANGE_COLUMNS
    } else {
        1
    };
    (bound >= needed).then(|| KeyRange {
        index: index.cloned(),
        columns: columns.to_vec(),
        eq,
        lower,
        upper,
        descending: None,
        limit: None,
    })
}

/// `column op value` with a value that does not depend on the row.
struct KeyCondition<'e> {
    column: usize,
    op: BinOp,
    value: &'e Expr,
}

fn collect_key_conditions<'e>(e: &'e Expr, out: &mut Vec<KeyCondition<'e>>) {
    match e {
        Expr::Binary {
            op: BinOp::And,
            left,
            right,
            ..
        } => {
            collect_key_conditions(left, out);
            collect_key_conditions(right, out);
        }
        Expr::Binary {
            op, left, right, ..
        } if matches!(
            op,
            BinOp::Eq | BinOp::Lt | BinOp::LtEq | BinOp::Gt | BinOp::GtEq
        ) =>
        {
            match (left.as_ref(), right.as_ref()) {
                (Expr::Column { index, .. }, v) if v.is_row_independent() => {
                    out.push(KeyCondition {
                        column: *index,
                        op: *op,
                        value: v,
                    });
                }
                (v, Expr::Column { index, .. }) if v.is_row_independent() => {
                    out.push(KeyCondition {
                        column: *index,
                        op: op.flipped(),
                        value: v,
                    });
                }
                _ => {}
            }
        }
        _ => {}
    }
}

pub(crate) fn bind_join(
    ctx: &mut BindContext<'_>,
    left: Plan,
    lscope: Scope,
    join: &ast::Join,
) -> Result<(Plan, Scope), PlanError> {
    use ast::JoinOperator as J;
    if let Some((query, alias)) = super::lateral::lateral_projection(join) {
        return super::lateral::bind_lateral_projection(ctx, left, lscope, query, alias);
    }
    let (right, rscope) = bind_factor(ctx, &join.relation)?;
    let (kind, constraint) = match &join.join_operator {
        J::Join(c) | J::Inner(c) => (JoinKind::Inner, Some(c)),
        J::Left(c) | J::LeftOuter(c) => (JoinKind::Left, Some(c)),
        J::Right(c) | J::RightOuter(c) => (JoinKind::Right, Some(c)),
        J::FullOuter(c) => (JoinKind::Full, Some(c)),
        J::CrossJoin(_) => (JoinKind::Cross, None),
        other => return Err(PlanError::not_supported(format!("join type {other:?}"))),
    };
    let left_width = lscope.len();
    let mut using_pairs: Vec<(usize, usize, String)> = Vec::new();
    let scope = lscope.concat(rscope);
    let on = match constraint {
        None | Some(ast::JoinConstraint::None) => None,
        Some(ast::JoinConstraint::On(e)) => {
            let bound = ExprBinder {
                ctx: &mut *ctx,
                scope: &scope,
                agg: None,
                clause: "JOIN conditions",
            }
            .bind(e)?;
            Some(coerce_bool(ctx, bound, "JOIN/ON")?)
        }
        Some(ast::JoinConstraint::Using(names)) => {
            let mut cond: Option<Expr> = None;
            using_pairs.clear();
            for n in names {
                let name = table_name(n);
                let l = Scope {
                    inner_from: 0,
                    columns: scope.columns[..left_width].to_vec(),
                }
                .resolve(None, &name)?;
                let r = Scope {
                    inner_from: 0,
                    columns: scope.columns[left_width..].to_vec(),
                }
                .resolve(None, &name)?
                    + left_width;
                using_pairs.push((l, r, name.clone()));
                let eq = binary(
                    ctx,
                    BinOp::Eq,
                    Expr::Column {
                        index: l,
                        ty: scope.columns[l].ty,
                    },
                    Expr::Column {
                        index: r,
                        ty: scope.columns[r].ty,
                    },
                )?;
                cond = Some(match cond {
                    None => eq,
                    Some(c) => binary(ctx, BinOp::And, c, eq)?,
                });
            }
            cond
        }
        Some(other) => {
            return Err(PlanError::not_supported(format!(
                "join constraint {other:?}"
            )));
        }
    };
    if on.is_none() && kind != JoinKind::Cross && kind != JoinKind::Inner {
        return Err(PlanError::syntax(
            "syntax error: JOIN requires an ON or USING condition",
        ));
    }
    let (left, right, on) = push_outer_join_conditions(kind, left, right, on, left_width);
    let join = Plan::Join {
        left: Box::new(left),
        right: Box::new(right),
        kind,
        on,
    };
    if using_pairs.is_empty() {
        return Ok((join, scope));
    }
    merge_using_columns(ctx, join, scope, kind, &using_pairs)
}

/// An outer join's ON conjuncts that read only the side whose rows may be null-extended decide
/// nothing but which of its rows can match, so they filter that side before the join (TPC-H Q13:
/// `o_comment NOT LIKE …` is evaluated once per order rather than per match, and reaches the
/// scan). Conjuncts with subqueries or volatile calls stay in the join.
fn push_outer_join_conditions(
    kind: JoinKind,
    left: Plan,
    right: Plan,
    on: Option<Expr>,
    left_width: usize,
) -> (Plan, Plan, Option<Expr>) {
    use crate::optimizer::join_order::{and_all, conjuncts, push_filter};
    let pushes_right = match kind {
        JoinKind::Left => true,
        JoinKind::Right => false,
        _ => return (left, right, on),
    };
    let Some(on) = on else {
        return (left, right, None);
    };
    let mut parts = Vec::new();
    conjuncts(on, &mut parts);
    let (mut pushed, mut kept) = (Vec::new(), Vec::new());
    for part in parts {
        let (mut reads_left, mut reads_right, mut opaque) = (false, false, false);
        part.walk(&mut |e| match e {
            Expr::Column { index, .. } if *index < left_width => reads_left = true,
            Expr::Column { .. } => reads_right = true,
            e => opaque |= e.is_opaque_node(),
        });
        let one_sided = if pushes_right {
            reads_right && !reads_left
        } else {
            reads_left && !reads_right
        };
        if one_sided && !opaque {
            pushed.push(part);
        } else {
            kept.push(part);
        }
    }
    let (mut left, mut right) = (left, right);
    if let Some(mut filter) = and_all(pushed) {
        if pushes_right {
            filter.remap_columns(&|c| c - left_width);
            right = push_filter(right, filter);
        } else {
            left = push_filter(left, filter);
        }
    }
    // An outer join keeps a condition even when every conjunct moved: it still pairs every
    // left row with every remaining right row.
    let on = and_all(kept).unwrap_or_else(|| Expr::literal(Value::Bool(true)));
    (left, right, Some(on))
}

/// `JOIN … USING (k)`: one merged `k` first (the left side's, the right side's for RIGHT JOIN,
/// their COALESCE for FULL JOIN), then every column of both sides, where the per-side copies of
/// `k` answer only to qualified names and `*` skips them, as in PostgreSQL.
fn merge_using_columns(
    ctx: &mut BindContext<'_>,
    join: Plan,
    scope: Scope,
    kind: JoinKind,
    pairs: &[(usize, usize, String)],
) -> Result<(Plan, Scope), PlanError> {
    let mut exprs = Vec::with_capacity(pairs.len() + scope.len());
    let mut columns = Vec::with_capacity(pairs.len() + scope.len());
    for (l, r, name) in pairs {
        let (lc, rc) = (&scope.columns[*l], &scope.columns[*r]);
        let left = Expr::Column {
            index: *l,
            ty: lc.ty,
        };
        let right = Expr::Column {
            index: *r,
            ty: rc.ty,
        };
        let merged = match kind {
            JoinKind::Right => right,
            JoinKind::Full => super::expr::call(ctx, "coalesce", vec![left, right])?,
            _ => left,
        };
        columns.push(ScopeColumn {
            qualifier: None,
            name: name.clone(),
            ty: merged.ty(),
            table_oid: 0,
            column_id: 0,
            hidden: false,
            qualified_only: false,
        });
        exprs.push(merged);
    }
    for (i, c) in scope.columns.iter().enumerate() {
        let mut c = c.clone();
        if pairs.iter().any(|(l, r, _)| *l == i || *r == i) {
            c.hidden = true;
            c.qualified_only = true;
        }
        exprs.push(Expr::Column { index: i, ty: c.ty });
        columns.push(c);
    }
    Ok((
        Plan::Project {
            input: Box::new(join),
            exprs,
        },
        Scope {
            columns,
            inner_from: 0,
        },
    ))
}

pub(crate) fn bind_factor(
    ctx: &mut BindContext<'_>,
    factor: &ast::TableFactor,
) -> Result<(Plan, Scope), PlanError> {
    match factor {
        ast::TableFactor::Table {
            name,
            alias,
            args: None,
            ..
        } => {
            let full = table_name(name);
            let qualifier = alias.as_ref().map(|a| ident_name(&a.name));
            if let Some(named) = named_query(ctx, &full)? {
                let (plan, columns) = named.bound;
                let renames: Vec<String> = alias
                    .as_ref()
                    .map(|a| a.columns.iter().map(|c| ident_name(&c.name)).collect())
                    .unwrap_or(named.columns);
                let scope = derived_scope(&columns, qualifier.unwrap_or(full), &renames);
                return Ok((plan, scope));
            }
            if let Some(sys) = system::lookup(&full) {
                let short = full.rsplit('.').next().unwrap_or(&full).to_string();
                let scope = Scope {
                    inner_from: 0,
                    columns: sys
                        .columns
                        .iter()
                        .map(|(n, t)| ScopeColumn {
                            qualifier: Some(qualifier.clone().unwrap_or_else(|| short.clone())),
                            name: n.clone(),
                            ty: *t,
                            table_oid: 0,
                            column_id: 0,
                            hidden: false,
                            qualified_only: false,
                        })
                        .collect(),
                };
                return Ok((
                    Plan::System {
                        table: sys.table,
                        columns: sys.columns,
                    },
                    scope,
                ));
            }
            let table = ctx
                .catalog
                .table(&full)
                .ok_or_else(|| PlanError::UndefinedTable(full.clone()))?;
            let scope = table_scope(&table, qualifier.unwrap_or(full));
            Ok((
                Plan::Scan {
                    table,
                    filter: None,
                    access: Access::Full,
                },
                scope,
            ))
        }
        ast::TableFactor::Table {
            name,
            alias,
            args: Some(args),
            with_ordinality,
            ..
        } => super::table_function::bind_table_function(
            ctx,
            name,
            args,
            alias.as_ref(),
            *with_ordinality,
        ),
        ast::TableFactor::Derived {
            lateral: false,
            subquery,
            alias,
            ..
        } => {
            let (plan, columns) = bind_query(ctx, subquery)?;
            let qualifier = alias.as_ref().map(|a| ident_name(&a.name));
            let renames: Vec<String> = alias
                .as_ref()
                .map(|a| a.columns.iter().map(|c| ident_name(&c.name)).collect())
                .unwrap_or_default();
            let scope = Scope {
                inner_from: 0,
                columns: columns
                    .iter()
                    .enumerate()
                    .map(|(i, c)| ScopeColumn {
                        qualifier: qualifier.clone(),
                        name: renames.get(i).cloned().unwrap_or_else(|| c.name.clone()),
                        ty: c.ty,
                        table_oid: c.table_oid,
                        column_id: c.column_id,
                        hidden: false,
                        qualified_only: false,
                    })
                    .collect(),
            };
            Ok((plan, scope))
        }
        ast::TableFactor::NestedJoin {
            table_with_joins,
            alias: None,
        } => {
            let (mut plan, mut scope) = bind_factor(ctx, &table_with_joins.relation)?;
            for join in &table_with_joins.joins {
                (plan, scope) = bind_join(ctx, plan, scope, join)?;
            }
            Ok((plan, scope))
        }
        other => Err(PlanError::not_supported(format!(
            "FROM item not supported yet: {other}"
        ))),
    }
}

/// A CTE or view bound where it is used.
struct NamedQuery {
    bound: (Plan, Vec<OutputColumn>),
    /// Column aliases given with the CTE (`WITH x (a, b) AS …`).
    columns: Vec<String>,
}

/// Resolve a FROM name to a CTE in scope (innermost first) or a view.
fn named_query(ctx: &mut BindContext<'_>, name: &str) -> Result<Option<NamedQuery>, PlanError> {
    if let Some(pos) = ctx.ctes.iter().rposition(|c| c.name == name) {
        let cte = ctx.ctes[pos].clone();
        // A materializable CTE is bound at its first reference only, so the CTEs it reads
        // count one use however often it is referenced.
        let known = cte
            .share
            .and_then(|id| ctx.shared.get(id))
            .and_then(|u| u.bound.clone());
        let (plan, columns) = match known {
            Some(bound) => bound,
            None => {
                // A CTE sees only the CTEs defined before it, and a top-level one none of the
                // scopes of the query that refers to it.
                let saved = ctx.ctes.split_off(pos);
                let outer = match cte.share {
                    Some(_) => std::mem::take(&mut ctx.outer_scopes),
                    None => Vec::new(),
                };
                let bound = bind_query(ctx, &cte.query);
                if cte.share.is_some() {
                    ctx.outer_scopes = outer;
                }
                ctx.ctes.extend(saved);
                let (mut plan, columns) = bound?;
                if let Some(u) = cte.share.and_then(|id| ctx.shared.get_mut(id)) {
                    u.volatile = calls_volatile(&mut plan);
                    u.bound = Some((plan.clone(), columns.clone()));
                }
                (plan, columns)
            }
        };
        let plan = match cte.share {
            Some(id) => {
                if let Some(u) = ctx.shared.get_mut(id) {
                    u.uses += 1;
                }
                Plan::Shared {
                    id,
                    input: Box::new(plan),
                }
            }
            None => plan,
        };
        return Ok(Some(NamedQuery {
            bound: (plan, columns),
            columns: cte.columns,
        }));
    }
    let Some(sql) = ctx.catalog.view(name) else {
        return Ok(None);
    };
    let parsed =
        sqlparser::parser::Parser::parse_sql(&sqlparser::dialect::PostgreSqlDialect {}, &sql)
            .map_err(|e| PlanError::syntax(format!("view \"{name}\" no longer parses: {e}")))?;
    let Some(ast::Statement::Query(q)) = parsed.first() else {
        return Err(PlanError::syntax(format!("view \"{name}\" is not a query")));
    };
    // A view's body does not see the CTEs of the query that uses it.
    let saved = std::mem::take(&mut ctx.ctes);
    let bound = bind_query(ctx, q);
    ctx.ctes = saved;
    Ok(Some(NamedQuery {
        bound: bound?,
        columns: Vec::new(),
    }))
}

/// The scope of a derived table: its output columns under a qualifier, renamed by an alias list.
fn derived_scope(columns: &[OutputColumn], qualifier: String, renames: &[String]) -> Scope {
    Scope {
        inner_from: 0,
        columns: columns
            .iter()
            .enumerate()
            .map(|(i, c)| ScopeColumn {
                qualifier: Some(qualifier.clone()),
                name: renames.get(i).cloned().unwrap_or_else(|| c.name.clone()),
                ty: c.ty,
                table_oid: c.table_oid,
                column_id: c.column_id,
                hidden: false,
                qualified_only: false,
            })
            .collect(),
    }
}

/// The scope of a user table under a qualifier.
pub(crate) fn table_scope(table: &Arc<TableSchema>, qualifier: String) -> Scope {
    Scope {
        inner_from: 0,
        columns: table
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| ScopeColumn {
                qualifier: Some(qualifier.clone()),
                name: c.name.clone(),
                ty: c.ty,
                table_oid: table.id,
                column_id: i as i16 + 1,
                hidden: false,
                qualified_only: false,
            })
            .collect(),
    }
}
