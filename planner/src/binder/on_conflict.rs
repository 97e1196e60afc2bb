//! Binding `INSERT … ON CONFLICT`: the conflict target to arbiter constraints, and `DO UPDATE
//! SET … WHERE …` over the existing row and the proposed one (`EXCLUDED`).
//!
//! Must never decide what conflicts at run time: that is the engine's (`exec/upsert.rs`).

use super::dml::bind_assignments;
use super::expr::{ExprBinder, coerce_bool};
use super::scope::Scope;
use super::select::table_scope;
use super::{BindContext, ident_name, object_name};
use crate::error::PlanError;
use crate::plan::{Arbiter, ConflictAction, OnConflict};
use omendb_storage::schema::TableSchema;
use sqlparser::ast;
use std::sync::Arc;

/// The name the proposed row goes by in `DO UPDATE`.
const EXCLUDED: &str = "excluded";

/// Bind the `ON CONFLICT` clause of an INSERT into `table` (named `qualifier` in expressions).
pub(super) fn bind_on_conflict(
    ctx: &mut BindContext<'_>,
    table: &Arc<TableSchema>,
    qualifier: &str,
    on: &ast::OnInsert,
) -> Result<OnConflict, PlanError> {
    let ast::OnInsert::OnConflict(on) = on else {
        return Err(PlanError::not_supported("ON DUPLICATE KEY UPDATE"));
    };
    let arbiters = match &on.conflict_target {
        None if matches!(on.action, ast::OnConflictAction::DoUpdate(_)) => {
            return Err(PlanError::syntax(
                "ON CONFLICT DO UPDATE requires inference specification or constraint name",
            ));
        }
        None => every_constraint(table),
        Some(target) => arbiters_of(table, target)?,
    };
    let action = match &on.action {
        ast::OnConflictAction::DoNothing => ConflictAction::Nothing,
        ast::OnConflictAction::DoUpdate(update) => bind_do_update(ctx, table, qualifier, update)?,
    };
    Ok(OnConflict { arbiters, action })
}

/// `ON CONFLICT DO NOTHING` without a target: a conflict on any unique constraint.
fn every_constraint(table: &TableSchema) -> Vec<Arbiter> {
    let pk = table.primary_key.iter().map(|_| Arbiter::PrimaryKey);
    pk.chain((0..table.unique.len()).map(Arbiter::Unique))
        .collect()
}

/// The constraints a conflict target names: by name, or every one over exactly the listed
/// columns (PostgreSQL infers all matching unique indexes).
fn arbiters_of(
    table: &TableSchema,
    target: &ast::ConflictTarget,
) -> Result<Vec<Arbiter>, PlanError> {
    let constraints = table
        .primary_key
        .iter()
        .map(|c| (Arbiter::PrimaryKey, c))
        .chain(
            table
                .unique
                .iter()
                .enumerate()
                .map(|(i, c)| (Arbiter::Unique(i), c)),
        );
    match target {
        ast::ConflictTarget::OnConstraint(name) => {
            let name = object_name(name);
            let name = name.rsplit('.').next().unwrap_or(&name).to_string();
            constraints
                .filter(|(_, c)| c.name == name)
                .map(|(a, _)| a)
                .next()
                .map(|a| vec![a])
                .ok_or_else(|| {
                    PlanError::UndefinedObject(format!(
                        "constraint \"{name}\" for table \"{}\" does not exist",
                        table.name
                    ))
                })
        }
        ast::ConflictTarget::Columns {
            predicate: Some(_), ..
        } => Err(PlanError::not_supported(
            "ON CONFLICT with an index predicate (partial unique indexes do not exist here)",
        )),
        ast::ConflictTarget::Columns { columns, .. } => {
            let mut wanted = Vec::with_capacity(columns.len());
            for c in columns {
                let name = ident_name(c);
                let i = table
                    .column_index(&name)
                    .ok_or(PlanError::UndefinedColumn(name))?;
                if !wanted.contains(&i) {
                    wanted.push(i);
                }
            }
            wanted.sort_unstable();
            let found: Vec<Arbiter> = constraints
                .filter(|(_, c)| {
                    let mut cols = c.columns.clone();
                    cols.sort_unstable();
                    cols == wanted
                })
                .map(|(a, _)| a)
                .collect();
            if found.is_empty() {
                return Err(PlanError::InvalidColumnReference(
                    "there is no unique or exclusion constraint matching the ON CONFLICT specification"
                        .into(),
                ));
            }
            Ok(found)
        }
    }
}

/// `DO UPDATE SET … [WHERE …]` over the existing row (`qualifier`) then the proposed one
/// (`excluded`).
fn bind_do_update(
    ctx: &mut BindContext<'_>,
    table: &Arc<TableSchema>,
    qualifier: &str,
    update: &ast::DoUpdate,
) -> Result<ConflictAction, PlanError> {
    let scope: Scope =
        table_scope(table, qualifier.to_string()).concat(table_scope(table, EXCLUDED.into()));
    let assignments = bind_assignments(ctx, table, &scope, &update.assignments)?;
    let filter = match &update.selection {
        Some(selection) => {
            let bound = ExprBinder {
                ctx: &mut *ctx,
                scope: &scope,
                agg: None,
                clause: "WHERE",
            }
            .bind(selection)?;
            Some(coerce_bool(ctx, bound, "WHERE")?)
        }
        None => None,
    };
    Ok(ConflictAction::Update {
        assignments,
        filter,
    })
}
