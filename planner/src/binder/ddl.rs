//! Binding DDL and utility statements: CREATE/DROP/TRUNCATE TABLE, SET/SHOW, transaction control.

use super::expr::string_value;
use super::{BindContext, ident_name, object_name, table_name};
use crate::error::PlanError;
use crate::plan::{IsolationLevel, SequenceDef, Statement};
use crate::types::parse_type_name;
use omendb_storage::schema::{ColumnSchema, UniqueConstraint};
use sqlparser::ast;

pub(crate) fn bind_create_table(
    ctx: &mut BindContext<'_>,
    create: &ast::CreateTable,
) -> Result<Statement, PlanError> {
    if create.query.is_some() {
        return Err(PlanError::not_supported(
            "CREATE TABLE ... AS is not supported yet",
        ));
    }
    if create.temporary {
        return Err(PlanError::not_supported(
            "temporary tables are not supported yet",
        ));
    }
    if create.like.is_some() || create.inherits.is_some() || create.partition_of.is_some() {
        return Err(PlanError::not_supported(
            "CREATE TABLE ... LIKE/INHERITS/PARTITION OF is not supported yet",
        ));
    }
    let _ = &ctx.params;
    let name = table_name(&create.name);
    if name.contains('.') {
        return Err(PlanError::not_supported(format!(
            "schema \"{}\" does not exist",
            name.split('.').next().unwrap_or("")
        )));
    }
    let mut columns: Vec<ColumnSchema> = Vec::with_capacity(create.columns.len());
    let mut sequences = Vec::new();
    let mut primary: Option<Vec<usize>> = None;
    let mut unique: Vec<Vec<usize>> = Vec::new();
    for def in &create.columns {
        let col_name = ident_name(&def.name);
        if columns.iter().any(|c| c.name == col_name) {
            return Err(PlanError::DuplicateColumn(col_name));
        }
        let ty = parse_type_name(&def.data_type.to_string())?;
        let index = columns.len();
        let mut column = ColumnSchema {
            name: col_name.clone(),
            ty: ty.ty,
            nullable: true,
            default: None,
        };
        if ty.serial {
            let seq = format!("{name}_{col_name}_seq");
            column.default = Some(format!("nextval('{seq}')"));
            column.nullable = false;
            sequences.push(SequenceDef { name: seq });
        }
        for opt in &def.options {
            match &opt.option {
                ast::ColumnOption::Null => column.nullable = true,
                ast::ColumnOption::NotNull => column.nullable = false,
                ast::ColumnOption::Default(e) => {
                    if ty.serial {
                        return Err(PlanError::syntax(format!(
                            "multiple default values specified for column \"{col_name}\" of table \"{name}\""
                        )));
                    }
                    column.default = Some(e.to_string());
                }
                ast::ColumnOption::PrimaryKey(_) => {
                    if primary.is_some() {
                        return Err(multiple_primary_keys(&name));
                    }
                    primary = Some(vec![index]);
                }
                ast::ColumnOption::Unique(_) => unique.push(vec![index]),
                other => {
                    return Err(PlanError::not_supported(format!(
                        "column constraint not supported yet: {other}"
                    )));
                }
            }
        }
        columns.push(column);
    }
    let position = |c: &ast::IndexColumn| -> Result<usize, PlanError> {
        let n = match &c.column.expr {
            ast::Expr::Identifier(id) => ident_name(id),
            other => {
                return Err(PlanError::not_supported(format!(
                    "constraint on expression {other}"
                )));
            }
        };
        columns.iter().position(|col| col.name == n).ok_or_else(|| {
            PlanError::UndefinedColumn(format!("{n}\" named in key does not exist (table \"{name}"))
        })
    };
    for constraint in &create.constraints {
        match constraint {
            ast::TableConstraint::PrimaryKey(pk) => {
                if primary.is_some() {
                    return Err(multiple_primary_keys(&name));
                }
                primary = Some(pk.columns.iter().map(position).collect::<Result<_, _>>()?);
            }
            ast::TableConstraint::Unique(u) => {
                unique.push(u.columns.iter().map(position).collect::<Result<_, _>>()?)
            }
            other => {
                return Err(PlanError::not_supported(format!(
                    "table constraint not supported yet: {other}"
                )));
            }
        }
    }
    if let Some(pk) = &primary {
        for &c in pk {
            columns[c].nullable = false;
        }
        unique.retain(|u| u != pk);
    }
    let primary_key = primary.map(|cols| UniqueConstraint {
        name: format!("{name}_pkey"),
        columns: cols,
        index_oid: None,
    });
    let unique = unique
        .into_iter()
        .map(|cols| {
            let names: Vec<&str> = cols.iter().map(|&c| columns[c].name.as_str()).collect();
            UniqueConstraint {
                name: format!("{name}_{}_key", names.join("_")),
                columns: cols,
                index_oid: None,
            }
        })
        .collect();
    Ok(Statement::CreateTable {
        name,
        columns,
        primary_key,
        unique,
        sequences,
        if_not_exists: create.if_not_exists,
    })
}

fn multiple_primary_keys(table: &str) -> PlanError {
    PlanError::InvalidTableDefinition(format!(
        "multiple primary keys for table \"{table}\" are not allowed"
    ))
}

pub(crate) fn bind_truncate(
    ctx: &mut BindContext<'_>,
    t: &ast::Truncate,
) -> Result<Statement, PlanError> {
    let mut tables = Vec::with_capacity(t.table_names.len());
    for target in &t.table_names {
        let name = table_name(&target.name);
        tables.push(
            ctx.catalog
                .table(&name)
                .ok_or(PlanError::UndefinedTable(name))?,
        );
    }
    Ok(Statement::Truncate { tables })
}

/// The isolation level among `BEGIN`/`SET TRANSACTION` modes; SERIALIZABLE is refused (0A000)
/// rather than silently run weaker.
pub(crate) fn transaction_isolation(
    modes: &[ast::TransactionMode],
) -> Result<Option<IsolationLevel>, PlanError> {
    let mut level = None;
    for mode in modes {
        if let ast::TransactionMode::IsolationLevel(l) = mode {
            level = Some(isolation(&l.to_string())?);
        }
    }
    Ok(level)
}

fn isolation(name: &str) -> Result<IsolationLevel, PlanError> {
    // sqlparser only accepts the four standard names, so a refusal here is SERIALIZABLE's.
    IsolationLevel::parse(name).map_err(|(_, message)| PlanError::not_supported(message))
}

pub(crate) fn bind_set(set: &ast::Set) -> Result<Statement, PlanError> {
    match set {
        ast::Set::SingleAssignment {
            variable, values, ..
        } => {
            let name = object_name(variable);
            let value = set_value(values)?;
            Ok(Statement::Set {
                name: canonical_setting(&name),
                value,
            })
        }
        ast::Set::SetTimeZone { value, .. } => Ok(Statement::Set {
            name: "timezone".into(),
            value: set_value(std::slice::from_ref(value))?,
        }),
        ast::Set::SetNames { charset_name, .. } => Ok(Statement::Set {
            name: "client_encoding".into(),
            value: Some(charset_name.value.clone()),
        }),
        // SET SESSION CHARACTERISTICS AS TRANSACTION …: the session's default.
        ast::Set::SetTransaction {
            modes,
            session: true,
            ..
        } => Ok(match transaction_isolation(modes)? {
            Some(level) => Statement::Set {
                name: "default_transaction_isolation".into(),
                value: Some(level.name().into()),
            },
            None => Statement::NoOp { tag: "SET".into() },
        }),
        ast::Set::SetTransaction { modes, .. } => Ok(Statement::SetTransaction {
            isolation: transaction_isolation(modes)?,
        }),
        other => Err(PlanError::not_supported(format!("{other}"))),
    }
}

/// The values of a SET as PostgreSQL renders them: strings unquoted, lists comma-separated.
fn set_value(values: &[ast::Expr]) -> Result<Option<String>, PlanError> {
    let mut parts = Vec::with_capacity(values.len());
    for v in values {
        let text = match v {
            ast::Expr::Value(value) => match string_value(&value.value) {
                Some(s) => s.to_string(),
                None => value.value.to_string(),
            },
            ast::Expr::Identifier(id)
                if id.quote_style.is_none() && id.value.eq_ignore_ascii_case("default") =>
            {
                return Ok(None);
            }
            ast::Expr::Identifier(id) => id.value.clone(),
            ast::Expr::UnaryOp {
                op: ast::UnaryOperator::Minus,
                expr,
            } => format!("-{expr}"),
            other => other.to_string(),
        };
        parts.push(text);
    }
    Ok(Some(parts.join(", ")))
}

pub(crate) fn bind_show(variable: &[ast::Ident]) -> Result<Statement, PlanError> {
    let parts: Vec<String> = variable
        .iter()
        .map(|i| i.value.to_ascii_lowercase())
        .collect();
    let spaced = parts.join(" ");
    let canonical = canonical_setting(&spaced);
    // The parser splits `omendb.vectorize` into two words like `time zone`: words that are
    // not one of the multi-word spellings are a dotted (custom) setting name.
    let name = if canonical == spaced && parts.len() > 1 {
        parts.join(".")
    } else {
        canonical
    };
    Ok(Statement::Show { name })
}

/// Settings have several spellings (`TIME ZONE`, `transaction isolation level`).
pub(crate) fn canonical_setting(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    match lower.as_str() {
        "time zone" | "time_zone" => "timezone".into(),
        "transaction isolation level" => "transaction_isolation".into(),
        "session authorization" => "session_authorization".into(),
        _ => lower,
    }
}

/// CREATE VIEW: check that the query binds now, keep its text (column aliases folded in as a
/// derived-table alias list) for binding at each use.
pub(crate) fn bind_create_view(
    ctx: &mut BindContext<'_>,
    view: &ast::CreateView,
) -> Result<Statement, PlanError> {
    if view.materialized {
        return Err(PlanError::not_supported(
            "materialized views are not supported yet",
        ));
    }
    let name = table_name(&view.name);
    let (_, columns) = super::select::bind_query(ctx, &view.query)?;
    let aliases: Vec<String> = view.columns.iter().map(|c| ident_name(&c.name)).collect();
    if aliases.len() > columns.len() {
        return Err(PlanError::syntax(
            "CREATE VIEW specifies more column names than columns",
        ));
    }
    let sql = if aliases.is_empty() {
        view.query.to_string()
    } else {
        let names: Vec<String> = columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                format!(
                    "\"{}\"",
                    aliases.get(i).unwrap_or(&c.name).replace('"', "\"\"")
                )
            })
            .collect();
        format!("SELECT * FROM ({}) AS v ({})", view.query, names.join(", "))
    };
    Ok(Statement::CreateView {
        name,
        sql,
        or_replace: view.or_replace,
    })
}
