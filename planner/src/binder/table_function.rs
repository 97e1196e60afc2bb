//! Functions in FROM: `generate_series(start, stop [, step])` over integers, bigints and
//! timestamps, as a `Plan::Series` the executor produces on demand.
//!
//! Argument types resolve as PostgreSQL's overloads do: bigint if any argument is bigint, else
//! integer; `timestamp` when both ends are timestamps, else `timestamptz` (dates too); a
//! smallint-only or untyped-only call is ambiguous (42725). Arguments may not name columns of
//! other FROM items (an implicit LATERAL reference): that is refused with 0A000.

use super::BindContext;
use super::expr::{ExprBinder, coerce};
use super::scope::{Scope, ScopeColumn};
use super::{ident_name, object_name};
use crate::error::PlanError;
use crate::expr::Expr;
use crate::plan::Plan;
use omendb_storage::types::{DataType, Value};
use sqlparser::ast;

/// The only set-returning function in FROM so far.
const GENERATE_SERIES: &str = "generate_series";

/// A function call in FROM (`name(args) [AS alias [(column)]]`): its plan and scope.
pub(crate) fn bind_table_function(
    ctx: &mut BindContext<'_>,
    name: &ast::ObjectName,
    args: &ast::TableFunctionArgs,
    alias: Option<&ast::TableAlias>,
    with_ordinality: bool,
) -> Result<(Plan, Scope), PlanError> {
    let full = object_name(name);
    let short = full.strip_prefix("pg_catalog.").unwrap_or(&full);
    if short != GENERATE_SERIES {
        return Err(PlanError::not_supported(format!(
            "function {full} in FROM is not supported yet"
        )));
    }
    if with_ordinality || args.settings.is_some() {
        return Err(PlanError::not_supported(
            "WITH ORDINALITY is not supported yet",
        ));
    }
    let plan = bind_series(ctx, &args.args)?;
    let ty = plan
        .column_types()
        .first()
        .copied()
        .unwrap_or(DataType::Int32);
    Ok((plan, series_scope(alias, ty)?))
}

/// The one output column: named by the column alias, else the table alias, else the function.
fn series_scope(alias: Option<&ast::TableAlias>, ty: DataType) -> Result<Scope, PlanError> {
    let qualifier = alias.map_or_else(|| GENERATE_SERIES.to_string(), |a| ident_name(&a.name));
    let name = match alias.map(|a| a.columns.as_slice()) {
        None | Some([]) => qualifier.clone(),
        Some([column]) => ident_name(&column.name),
        Some(_) => {
            return Err(PlanError::InvalidColumnReference(format!(
                "too many column aliases specified for function {GENERATE_SERIES}"
            )));
        }
    };
    Ok(Scope {
        inner_from: 0,
        columns: vec![ScopeColumn {
            qualifier: Some(qualifier),
            name,
            ty,
            table_oid: 0,
            column_id: 0,
            hidden: false,
            qualified_only: false,
        }],
    })
}

fn bind_series(ctx: &mut BindContext<'_>, args: &[ast::FunctionArg]) -> Result<Plan, PlanError> {
    let mut bound = Vec::with_capacity(args.len());
    for a in args {
        let ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) = a else {
            return Err(PlanError::not_supported(format!(
                "function argument {a} in FROM"
            )));
        };
        bound.push(bind_argument(ctx, e)?);
    }
    let types: Vec<DataType> = bound.iter().map(Expr::ty).collect();
    let ty = series_type(&types)?;
    let mut bound = bound.into_iter();
    let mut next = |ty| -> Result<Option<Expr>, PlanError> {
        bound.next().map(|e| coerce(ctx, e, ty)).transpose()
    };
    let (start, stop) = match (next(ty)?, next(ty)?) {
        (Some(start), Some(stop)) => (start, stop),
        _ => return Err(undefined(&types)),
    };
    let step = if ty.is_integer() {
        next(ty)?.unwrap_or(Expr::Literal {
            value: integer_one(ty),
            ty,
        })
    } else {
        next(DataType::Interval)?.ok_or_else(|| undefined(&types))?
    };
    Ok(Plan::Series {
        start,
        stop,
        step,
        ty,
    })
}

/// One argument, bound over no input row: a column name here would be a LATERAL reference.
fn bind_argument(ctx: &mut BindContext<'_>, e: &ast::Expr) -> Result<Expr, PlanError> {
    let empty = Scope::default();
    let bound = ExprBinder {
        ctx: &mut *ctx,
        scope: &empty,
        agg: None,
        clause: "functions in FROM",
    }
    .bind(e);
    match bound {
        Err(e @ (PlanError::UndefinedColumn(_) | PlanError::MissingFrom(_))) => {
            Err(PlanError::not_supported(format!(
                "{e}: arguments of a function in FROM cannot reference other FROM items yet"
            )))
        }
        other => other,
    }
}

/// The overload of generate_series the argument types pick (see the module comment).
fn series_type(types: &[DataType]) -> Result<DataType, PlanError> {
    if !(2..=3).contains(&types.len()) {
        return Err(undefined(types));
    }
    let known: Vec<DataType> = types
        .iter()
        .copied()
        .filter(|t| *t != DataType::Unknown)
        .collect();
    if known.is_empty() || known.iter().all(|t| *t == DataType::Int16) {
        return Err(PlanError::AmbiguousFunction(signature(types)));
    }
    if known.iter().all(|t| t.is_integer()) {
        return Ok(if known.contains(&DataType::Int64) {
            DataType::Int64
        } else {
            DataType::Int32
        });
    }
    if known
        .iter()
        .all(|t| t.is_integer() || matches!(t, DataType::Numeric { .. }))
    {
        return Err(PlanError::not_supported(
            "generate_series over numeric is not supported yet",
        ));
    }
    let ends = &types[..2];
    let is_time = |t: &DataType| {
        matches!(
            t,
            DataType::Timestamp | DataType::TimestampTz | DataType::Date | DataType::Unknown
        )
    };
    if types.len() == 3
        && ends.iter().all(is_time)
        && matches!(types[2], DataType::Interval | DataType::Unknown)
    {
        let known_ends: Vec<&DataType> = ends.iter().filter(|t| **t != DataType::Unknown).collect();
        if known_ends.is_empty() {
            return Err(PlanError::AmbiguousFunction(signature(types)));
        }
        return Ok(if known_ends.iter().all(|t| **t == DataType::Timestamp) {
            DataType::Timestamp
        } else {
            DataType::TimestampTz
        });
    }
    Err(undefined(types))
}

fn integer_one(ty: DataType) -> Value {
    match ty {
        DataType::Int64 => Value::Int64(1),
        _ => Value::Int32(1),
    }
}

fn signature(types: &[DataType]) -> String {
    let names: Vec<String> = types.iter().map(ToString::to_string).collect();
    format!("{GENERATE_SERIES}({})", names.join(", "))
}

fn undefined(types: &[DataType]) -> PlanError {
    PlanError::UndefinedFunction(signature(types))
}
