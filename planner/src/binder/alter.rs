//! Binding ALTER TABLE: `ADD [CONSTRAINT name] PRIMARY KEY (cols)` (what `pgbench -i` sends);
//! every other action is refused with 0A000 so nothing is silently ignored.

use super::{BindContext, ident_name, table_name};
use crate::error::PlanError;
use crate::plan::Statement;
use sqlparser::ast;

pub(crate) fn bind_alter_table(
    ctx: &mut BindContext<'_>,
    alter: &ast::AlterTable,
) -> Result<Statement, PlanError> {
    let name = table_name(&alter.name);
    let [operation] = alter.operations.as_slice() else {
        return Err(PlanError::not_supported(
            "ALTER TABLE with several actions is not supported yet",
        ));
    };
    let pk = match operation {
        ast::AlterTableOperation::AddConstraint {
            constraint: ast::TableConstraint::PrimaryKey(pk),
            not_valid: false,
        } => pk,
        other => {
            return Err(PlanError::not_supported(format!(
                "ALTER TABLE {} is not supported yet (only ADD PRIMARY KEY is)",
                action_words(other)
            )));
        }
    };
    let _ = &ctx.params;
    if !pk.include.is_empty() || pk.index_type.is_some() || !pk.index_options.is_empty() {
        return Err(PlanError::not_supported(
            "PRIMARY KEY index options are not supported yet",
        ));
    }
    let mut columns: Vec<String> = Vec::with_capacity(pk.columns.len());
    for c in &pk.columns {
        let ast::Expr::Identifier(id) = &c.column.expr else {
            return Err(PlanError::not_supported(format!(
                "constraint on expression {}",
                c.column.expr
            )));
        };
        let col = ident_name(id);
        if columns.contains(&col) {
            return Err(PlanError::DuplicateColumn(col));
        }
        columns.push(col);
    }
    let constraint = pk
        .name
        .as_ref()
        .map(ident_name)
        .unwrap_or_else(|| format!("{name}_pkey"));
    // Resolved against the catalog when it runs: the table is rewritten then, so a statement
    // prepared earlier must not hold a schema that may be gone.
    Ok(Statement::AddPrimaryKey {
        table: name,
        if_exists: alter.if_exists,
        columns,
        constraint,
    })
}

/// The first words of an ALTER TABLE action, for the "not supported" message.
fn action_words(op: &ast::AlterTableOperation) -> String {
    op.to_string()
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}
