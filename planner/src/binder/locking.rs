//! `SELECT … FOR UPDATE` / `FOR SHARE` over one table (sqlparser 0.64 parses no `FOR NO KEY
//! UPDATE` / `FOR KEY SHARE`):
//! bound as the query without its locking clause plus the table whose rows it locks.
//!
//! Every strength takes the same row lock an UPDATE takes (OmenDB has one kind of row lock), on
//! every row the scan's WHERE clause matches — before ORDER BY and LIMIT, so `ORDER BY … LIMIT 1
//! FOR UPDATE` locks more rows than PostgreSQL, which locks only the rows it returns. That is
//! stricter, never weaker. Must never accept a locking clause it would silently ignore: joins,
//! grouping, DISTINCT, set operations, NOWAIT and SKIP LOCKED are refused with 0A000.

use super::{BindContext, select, table_name};
use crate::error::PlanError;
use crate::plan::{Plan, Statement};
use omendb_storage::schema::TableSchema;
use sqlparser::ast;
use std::sync::Arc;

/// Binds a top-level query that has a locking clause.
pub(super) fn bind_locking_query(
    ctx: &mut BindContext<'_>,
    q: &ast::Query,
) -> Result<Statement, PlanError> {
    if q.locks.iter().any(|l| l.nonblock.is_some()) {
        return Err(PlanError::not_supported(
            "FOR UPDATE/SHARE with NOWAIT or SKIP LOCKED is not supported yet",
        ));
    }
    let mut unlocked = q.clone();
    unlocked.locks.clear();
    let (plan, columns) = select::bind_query(ctx, &unlocked)?;
    let Some(table) = locked_table(&plan)? else {
        // A query over VALUES only: no table, nothing to lock (as in PostgreSQL).
        return Ok(Statement::Query { plan, columns });
    };
    let alias = from_alias(q);
    for lock in &q.locks {
        if let Some(of) = &lock.of
            && table_name(of) != table.name
            && Some(table_name(of)) != alias
        {
            return Err(PlanError::MissingFrom(table_name(of)));
        }
    }
    Ok(Statement::LockingQuery {
        plan,
        columns,
        table,
    })
}

/// The alias of the query's one FROM item, which `FOR UPDATE OF` may name instead of the table.
fn from_alias(q: &ast::Query) -> Option<String> {
    let ast::SetExpr::Select(select) = q.body.as_ref() else {
        return None;
    };
    match select.from.as_slice() {
        [
            ast::TableWithJoins {
                relation:
                    ast::TableFactor::Table {
                        alias: Some(alias), ..
                    },
                joins,
            },
        ] if joins.is_empty() => Some(super::ident_name(&alias.name)),
        _ => None,
    }
}

/// The one table a locking query reads, through filters, projections, sorts and limits only.
fn locked_table(plan: &Plan) -> Result<Option<Arc<TableSchema>>, PlanError> {
    match plan {
        Plan::Scan { table, .. } => Ok(Some(table.clone())),
        Plan::Filter { input, .. }
        | Plan::Project { input, .. }
        | Plan::Sort { input, .. }
        | Plan::Limit { input, .. } => locked_table(input),
        Plan::Values { .. } => Ok(None),
        Plan::Aggregate { .. } => Err(PlanError::not_supported(
            "FOR UPDATE is not allowed with GROUP BY clause or aggregate functions",
        )),
        Plan::Distinct { .. } => Err(PlanError::not_supported(
            "FOR UPDATE is not allowed with DISTINCT clause",
        )),
        Plan::SetOp { .. } => Err(PlanError::not_supported(
            "FOR UPDATE is not allowed with UNION/INTERSECT/EXCEPT",
        )),
        // As in PostgreSQL, a locking clause does not reach into a WITH query.
        Plan::Shared { .. } => Ok(None),
        Plan::Join { .. } | Plan::System { .. } | Plan::Series { .. } => {
            Err(PlanError::not_supported(
                "FOR UPDATE/SHARE is supported on queries over one table only",
            ))
        }
    }
}
