//! Binding INSERT, UPDATE and DELETE (with RETURNING).

use super::expr::{ExprBinder, coerce, coerce_bool};
use super::scope::Scope;
use super::select::{bind_query, choose_access, table_scope};
use super::{BindContext, ident_name, object_name, table_name};
use crate::error::PlanError;
use crate::expr::Expr;
use crate::plan::{Access, Plan, Returning, Statement};
use crate::types::assignable;
use omendb_storage::schema::{ColumnSchema, TableSchema};
use omendb_storage::types::DataType;
use sqlparser::ast;
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;
use std::sync::Arc;

fn lookup_table(
    ctx: &BindContext<'_>,
    name: &ast::ObjectName,
) -> Result<Arc<TableSchema>, PlanError> {
    let name = table_name(name);
    ctx.catalog
        .table(&name)
        .ok_or(PlanError::UndefinedTable(name))
}

pub(crate) fn bind_insert(
    ctx: &mut BindContext<'_>,
    insert: &ast::Insert,
) -> Result<Statement, PlanError> {
    let ast::TableObject::TableName(name) = &insert.table else {
        return Err(PlanError::not_supported("INSERT INTO a table function"));
    };
    let table = lookup_table(ctx, name)?;
    let qualifier = insert
        .table_alias
        .as_ref()
        .map(|a| ident_name(&a.alias))
        .unwrap_or_else(|| table.name.clone());
    let targets: Vec<usize> = if insert.columns.is_empty() {
        // Without a column list, values fill the leading columns; the rest take defaults.
        let given = match insert.source.as_deref().map(|q| q.body.as_ref()) {
            Some(ast::SetExpr::Values(v)) => v.rows.first().map_or(0, |r| r.content.len()),
            _ => table.columns.len(),
        };
        (0..given.min(table.columns.len())).collect()
    } else {
        let mut targets = Vec::with_capacity(insert.columns.len());
        for c in &insert.columns {
            let name = object_name(c);
            let i = table.column_index(&name).ok_or_else(|| {
                PlanError::UndefinedColumn(format!("{name}\" of relation \"{}", table.name))
            })?;
            if targets.contains(&i) {
                return Err(PlanError::syntax(format!(
                    "column \"{name}\" specified more than once"
                )));
            }
            targets.push(i);
        }
        targets
    };
    let Some(source) = &insert.source else {
        return Err(PlanError::not_supported("INSERT without a source"));
    };
    let source = match source.body.as_ref() {
        ast::SetExpr::Values(values)
            if source.order_by.is_none() && source.limit_clause.is_none() =>
        {
            insert_values(ctx, &table, &targets, values)?
        }
        _ => insert_select(ctx, &table, &targets, source)?,
    };
    let on_conflict = match &insert.on {
        Some(on) => Some(super::on_conflict::bind_on_conflict(
            ctx, &table, &qualifier, on,
        )?),
        None => None,
    };
    let returning = bind_returning(ctx, &table, &qualifier, insert.returning.as_deref())?;
    Ok(Statement::Insert {
        table,
        source,
        returning,
        on_conflict,
    })
}

fn insert_values(
    ctx: &mut BindContext<'_>,
    table: &TableSchema,
    targets: &[usize],
    values: &ast::Values,
) -> Result<Plan, PlanError> {
    let empty = Scope::default();
    let mut rows = Vec::with_capacity(values.rows.len());
    for row in &values.rows {
        if row.content.len() > targets.len() {
            return Err(PlanError::syntax(
                "INSERT has more expressions than target columns",
            ));
        }
        if row.content.len() < targets.len() {
            return Err(PlanError::syntax(
                "INSERT has more target columns than expressions",
            ));
        }
        let mut full: Vec<Option<Expr>> = vec![None; table.columns.len()];
        for (&col, e) in targets.iter().zip(&row.content) {
            let column = &table.columns[col];
            if is_default_keyword(e) {
                continue;
            }
            let bound = ExprBinder {
                ctx: &mut *ctx,
                scope: &empty,
                agg: None,
                clause: "VALUES",
            }
            .bind(e)?;
            full[col] = Some(assign(ctx, bound, column)?);
        }
        rows.push(fill_defaults(ctx, table, full)?);
    }
    let types = table.columns.iter().map(|c| c.ty).collect();
    Ok(Plan::Values { rows, types })
}

fn insert_select(
    ctx: &mut BindContext<'_>,
    table: &TableSchema,
    targets: &[usize],
    source: &ast::Query,
) -> Result<Plan, PlanError> {
    let (plan, columns) = bind_query(ctx, source)?;
    if columns.len() > targets.len() {
        return Err(PlanError::syntax(
            "INSERT has more expressions than target columns",
        ));
    }
    let mut full: Vec<Option<Expr>> = vec![None; table.columns.len()];
    for (i, (&col, out)) in targets.iter().zip(&columns).enumerate() {
        full[col] = Some(assign(
            ctx,
            Expr::Column {
                index: i,
                ty: out.ty,
            },
            &table.columns[col],
        )?);
    }
    let exprs = fill_defaults(ctx, table, full)?;
    Ok(Plan::Project {
        input: Box::new(plan),
        exprs,
    })
}

/// `DEFAULT` in a VALUES row (sqlparser reads it as an identifier).
pub(super) fn is_default_keyword(e: &ast::Expr) -> bool {
    matches!(e, ast::Expr::Identifier(id) if id.quote_style.is_none() && id.value.eq_ignore_ascii_case("default"))
}

/// Columns without a value get their DEFAULT (or NULL).
fn fill_defaults(
    ctx: &mut BindContext<'_>,
    table: &TableSchema,
    full: Vec<Option<Expr>>,
) -> Result<Vec<Expr>, PlanError> {
    full.into_iter()
        .zip(&table.columns)
        .map(|(e, c)| match e {
            Some(e) => Ok(e),
            None => default_value(ctx, c),
        })
        .collect()
}

/// A column's DEFAULT expression, bound, or a typed NULL.
pub(crate) fn default_value(
    ctx: &mut BindContext<'_>,
    column: &ColumnSchema,
) -> Result<Expr, PlanError> {
    let Some(text) = &column.default else {
        return Ok(Expr::null(column.ty));
    };
    let ast = Parser::new(&PostgreSqlDialect {})
        .try_with_sql(text)
        .and_then(|mut p| p.parse_expr())
        .map_err(|e| {
            PlanError::syntax(format!(
                "invalid default for column \"{}\": {e}",
                column.name
            ))
        })?;
    let empty = Scope::default();
    let bound = ExprBinder {
        ctx: &mut *ctx,
        scope: &empty,
        agg: None,
        clause: "DEFAULT expressions",
    }
    .bind(&ast)?;
    assign(ctx, bound, column)
}

/// Check that a value may be stored into `column` (the engine applies the assignment cast).
pub(crate) fn assign(
    ctx: &mut BindContext<'_>,
    e: Expr,
    column: &ColumnSchema,
) -> Result<Expr, PlanError> {
    let from = e.ty();
    if from == DataType::Unknown {
        return coerce(ctx, e, column.ty);
    }
    if !assignable(from, column.ty) {
        return Err(PlanError::DatatypeMismatch(format!(
            "column \"{}\" is of type {} but expression is of type {}",
            column.name, column.ty, from
        )));
    }
    Ok(e)
}

/// RETURNING items over the affected row, its table named `qualifier` (the alias, if any).
fn bind_returning(
    ctx: &mut BindContext<'_>,
    table: &Arc<TableSchema>,
    qualifier: &str,
    items: Option<&[ast::SelectItem]>,
) -> Result<Option<Returning>, PlanError> {
    let Some(items) = items else {
        return Ok(None);
    };
    let scope = table_scope(table, qualifier.to_string());
    let (plan, columns) = super::select::bind_projection(ctx, &scope, items)?;
    Ok(Some(Returning {
        exprs: plan,
        columns,
    }))
}

pub(crate) fn bind_update(
    ctx: &mut BindContext<'_>,
    update: &ast::Update,
) -> Result<Statement, PlanError> {
    if update.from.is_some() {
        return Err(PlanError::not_supported(
            "UPDATE ... FROM is not supported yet",
        ));
    }
    if !update.table.joins.is_empty() {
        return Err(PlanError::not_supported("UPDATE of a join"));
    }
    let ast::TableFactor::Table { name, alias, .. } = &update.table.relation else {
        return Err(PlanError::not_supported("UPDATE of a derived table"));
    };
    let table = lookup_table(ctx, name)?;
    let qualifier = alias
        .as_ref()
        .map(|a| ident_name(&a.name))
        .unwrap_or_else(|| table.name.clone());
    let scope = table_scope(&table, qualifier.clone());
    let assignments = bind_assignments(ctx, &table, &scope, &update.assignments)?;
    let (filter, access) = bind_where(ctx, &table, &scope, update.selection.as_ref())?;
    let returning = bind_returning(ctx, &table, &qualifier, update.returning.as_deref())?;
    Ok(Statement::Update {
        table,
        filter,
        access,
        assignments,
        returning,
    })
}

pub(crate) fn bind_delete(
    ctx: &mut BindContext<'_>,
    delete: &ast::Delete,
) -> Result<Statement, PlanError> {
    if delete.using.is_some() {
        return Err(PlanError::not_supported(
            "DELETE ... USING is not supported yet",
        ));
    }
    let from = match &delete.from {
        ast::FromTable::WithFromKeyword(f) | ast::FromTable::WithoutKeyword(f) => f,
    };
    let [twj] = from.as_slice() else {
        return Err(PlanError::not_supported("DELETE from several tables"));
    };
    let ast::TableFactor::Table { name, alias, .. } = &twj.relation else {
        return Err(PlanError::not_supported("DELETE from a derived table"));
    };
    let table = lookup_table(ctx, name)?;
    let qualifier = alias
        .as_ref()
        .map(|a| ident_name(&a.name))
        .unwrap_or_else(|| table.name.clone());
    let scope = table_scope(&table, qualifier.clone());
    let (filter, access) = bind_where(ctx, &table, &scope, delete.selection.as_ref())?;
    let returning = bind_returning(ctx, &table, &qualifier, delete.returning.as_deref())?;
    Ok(Statement::Delete {
        table,
        filter,
        access,
        returning,
    })
}

fn bind_where(
    ctx: &mut BindContext<'_>,
    table: &TableSchema,
    scope: &Scope,
    selection: Option<&ast::Expr>,
) -> Result<(Option<Expr>, Access), PlanError> {
    let Some(selection) = selection else {
        return Ok((None, Access::Full));
    };
    let bound = ExprBinder {
        ctx: &mut *ctx,
        scope,
        agg: None,
        clause: "WHERE",
    }
    .bind(selection)?;
    let predicate = coerce_bool(ctx, bound, "WHERE")?;
    let access = choose_access(table, &predicate);
    Ok((Some(predicate), access))
}

/// `SET col = expr, …` of an UPDATE (or of ON CONFLICT DO UPDATE) over `scope`: each value
/// bound and coerced to its column (`DEFAULT` to the column's default), 42703 for an unknown
/// column, 42601 for one assigned twice.
pub(super) fn bind_assignments(
    ctx: &mut BindContext<'_>,
    table: &TableSchema,
    scope: &Scope,
    set: &[ast::Assignment],
) -> Result<Vec<(usize, Expr)>, PlanError> {
    let mut assignments = Vec::with_capacity(set.len());
    for a in set {
        let ast::AssignmentTarget::ColumnName(col) = &a.target else {
            return Err(PlanError::not_supported("UPDATE of a column tuple"));
        };
        let col_name = object_name(col);
        let col_name = col_name.rsplit('.').next().unwrap_or(&col_name).to_string();
        let index = table.column_index(&col_name).ok_or_else(|| {
            PlanError::UndefinedColumn(format!("{col_name}\" of relation \"{}", table.name))
        })?;
        if assignments.iter().any(|(i, _)| *i == index) {
            return Err(PlanError::syntax(format!(
                "multiple assignments to same column \"{col_name}\""
            )));
        }
        let column = &table.columns[index];
        let value = if is_default_keyword(&a.value) {
            default_value(ctx, column)?
        } else {
            let bound = ExprBinder {
                ctx: &mut *ctx,
                scope,
                agg: None,
                clause: "UPDATE",
            }
            .bind(&a.value)?;
            assign(ctx, bound, column)?
        };
        assignments.push((index, value));
    }
    Ok(assignments)
}
