//! Binding `CREATE [UNIQUE] INDEX [IF NOT EXISTS] name ON t (c1, c2, …)` and
//! `DROP INDEX [IF EXISTS] name, …`: plain column lists over the default ordered index. Index
//! features OmenDB does not have (expressions, partial indexes, INCLUDE, other access methods,
//! NULLS NOT DISTINCT) are refused with 0A000 rather than built as something else.

use super::{BindContext, ident_name, table_name};
use crate::error::PlanError;
use crate::plan::Statement;
use sqlparser::ast;

pub(crate) fn bind_create_index(
    ctx: &mut BindContext<'_>,
    create: &ast::CreateIndex,
) -> Result<Statement, PlanError> {
    refuse_features(create)?;
    let table = table_name(&create.table_name);
    let schema = ctx
        .catalog
        .table(&table)
        .ok_or_else(|| PlanError::UndefinedTable(table.clone()))?;
    let mut columns = Vec::with_capacity(create.columns.len());
    for c in &create.columns {
        let ast::Expr::Identifier(id) = &c.column.expr else {
            return Err(PlanError::not_supported(
                "indexes on expressions are not supported",
            ));
        };
        let name = ident_name(id);
        let index = schema
            .column_index(&name)
            .ok_or_else(|| PlanError::UndefinedColumn(name.clone()))?;
        columns.push(index);
    }
    let name = match &create.name {
        Some(n) => table_name(n),
        None => default_name(&table, &create.columns),
    };
    Ok(Statement::CreateIndex {
        name,
        table,
        columns,
        unique: create.unique,
        if_not_exists: create.if_not_exists,
    })
}

fn refuse_features(create: &ast::CreateIndex) -> Result<(), PlanError> {
    let refused = if create.nulls_distinct == Some(false) {
        Some("NULLS NOT DISTINCT is not supported")
    } else if create.predicate.is_some() {
        Some("partial indexes are not supported")
    } else if !create.include.is_empty() {
        Some("INCLUDE columns are not supported")
    } else if create
        .using
        .as_ref()
        .is_some_and(|u| !u.to_string().eq_ignore_ascii_case("btree"))
    {
        Some("index access methods other than btree are not supported")
    } else if create.columns.is_empty() {
        Some("an index needs at least one column")
    } else {
        None
    };
    refused.map_or(Ok(()), |what| Err(PlanError::not_supported(what)))
}

/// PostgreSQL's name for an unnamed index: `t_c1_c2_idx`.
fn default_name(table: &str, columns: &[ast::IndexColumn]) -> String {
    let mut name = table.to_string();
    for c in columns {
        name.push('_');
        name.push_str(&c.column.expr.to_string().to_ascii_lowercase());
    }
    name.push_str("_idx");
    name
}

pub(crate) fn bind_drop_index(names: &[ast::ObjectName], if_exists: bool) -> Statement {
    Statement::DropIndex {
        names: names.iter().map(table_name).collect(),
        if_exists,
    }
}
