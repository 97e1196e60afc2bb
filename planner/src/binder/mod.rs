//! The binder: sqlparser's AST to bound statements, resolving names against a catalog snapshot.
//!
//! Must never execute anything; it may only read the catalog through the `Catalog` trait.

mod alter;
mod ast_walk;
mod ddl;
pub(crate) use ddl::canonical_setting;
pub(crate) use select::choose_access;
mod dml;
mod expr;
mod from_where;
mod index;
mod lateral;
mod locking;
mod on_conflict;
mod row_value;
mod scope;
mod select;
mod system;
mod table_function;

use crate::catalog::Catalog;
use crate::error::PlanError;
use crate::expr::Expr;
use crate::plan::Statement;
use omendb_storage::types::DataType;
use sqlparser::ast;

/// What binding one statement needs besides the AST, and what it learns about parameters.
pub struct BindContext<'c> {
    pub catalog: &'c dyn Catalog,
    /// Common table expressions in scope, innermost last.
    ctes: Vec<select::CteDef>,
    /// Per materializable CTE (by its `Plan::Shared` id): how often it was referenced, and
    /// whether its plan calls a volatile function.
    shared: Vec<select::SharedUse>,
    /// Scopes of the queries enclosing the subquery being bound, outermost first.
    outer_scopes: Vec<scope::Scope>,
    /// Types of `$1..$n`: given by the client or inferred (`None` until known).
    pub params: Vec<Option<DataType>>,
}

impl<'c> BindContext<'c> {
    pub fn new(catalog: &'c dyn Catalog, params: Vec<Option<DataType>>) -> BindContext<'c> {
        BindContext {
            catalog,
            params,
            ctes: Vec::new(),
            shared: Vec::new(),
            outer_scopes: Vec::new(),
        }
    }

    /// The parameter types after binding; unresolved ones default to text as PostgreSQL's
    /// unknown-typed parameters do when compared with text.
    pub fn param_types(&self) -> Vec<DataType> {
        self.params
            .iter()
            .map(|t| match t {
                Some(DataType::Unknown) | None => DataType::Text,
                Some(t) => *t,
            })
            .collect()
    }

    fn param(&mut self, placeholder: &str) -> Result<Expr, PlanError> {
        let n: usize = placeholder
            .strip_prefix('$')
            .and_then(|d| d.parse().ok())
            .filter(|n| *n >= 1)
            .ok_or_else(|| {
                PlanError::syntax(format!("syntax error at or near \"{placeholder}\""))
            })?;
        const MAX_PARAMS: usize = 65_535;
        if n > MAX_PARAMS {
            return Err(PlanError::UndefinedParameter(format!(
                "there is no parameter ${n}"
            )));
        }
        if self.params.len() < n {
            self.params.resize(n, None);
        }
        let ty = self.params[n - 1].unwrap_or(DataType::Unknown);
        Ok(Expr::Param { index: n - 1, ty })
    }

    fn set_param_type(&mut self, index: usize, ty: DataType) {
        if let Some(slot) = self.params.get_mut(index)
            && (slot.is_none() || *slot == Some(DataType::Unknown))
        {
            *slot = Some(ty);
        }
    }
}

/// Bind one parsed statement.
pub fn bind(ctx: &mut BindContext<'_>, stmt: &ast::Statement) -> Result<Statement, PlanError> {
    match stmt {
        ast::Statement::Query(q) if !q.locks.is_empty() => locking::bind_locking_query(ctx, q),
        ast::Statement::Query(q) => {
            let (plan, columns) = select::bind_query(ctx, q)?;
            Ok(Statement::Query { plan, columns })
        }
        ast::Statement::Insert(insert) => dml::bind_insert(ctx, insert),
        ast::Statement::Update(update) => dml::bind_update(ctx, update),
        ast::Statement::Delete(delete) => dml::bind_delete(ctx, delete),
        ast::Statement::CreateTable(create) => ddl::bind_create_table(ctx, create),
        ast::Statement::CreateView(view) => ddl::bind_create_view(ctx, view),
        ast::Statement::Explain {
            statement,
            analyze: false,
            ..
        } => match bind(ctx, statement)? {
            Statement::Query { plan, .. } | Statement::LockingQuery { plan, .. } => {
                Ok(Statement::Explain { plan })
            }
            _ => Err(PlanError::not_supported(
                "EXPLAIN of statements other than queries is not supported yet",
            )),
        },
        ast::Statement::Explain { .. } => Err(PlanError::not_supported(
            "EXPLAIN ANALYZE is not supported yet",
        )),
        ast::Statement::Drop {
            object_type: ast::ObjectType::View,
            if_exists,
            names,
            ..
        } => Ok(Statement::DropView {
            names: names.iter().map(table_name).collect(),
            if_exists: *if_exists,
        }),
        ast::Statement::Drop {
            object_type: ast::ObjectType::Table,
            if_exists,
            names,
            ..
        } => Ok(Statement::DropTable {
            names: names.iter().map(object_name).collect(),
            if_exists: *if_exists,
        }),
        ast::Statement::CreateIndex(create) => index::bind_create_index(ctx, create),
        ast::Statement::Drop {
            object_type: ast::ObjectType::Index,
            if_exists,
            names,
            ..
        } => Ok(index::bind_drop_index(names, *if_exists)),
        ast::Statement::Truncate(t) => ddl::bind_truncate(ctx, t),
        ast::Statement::AlterTable(a) => alter::bind_alter_table(ctx, a),
        ast::Statement::StartTransaction { modes, .. } => {
            ddl::transaction_isolation(modes).map(|isolation| Statement::Begin { isolation })
        }
        ast::Statement::Commit { chain: false, .. } => Ok(Statement::Commit),
        ast::Statement::Rollback {
            chain: false,
            savepoint: None,
        } => Ok(Statement::Rollback),
        ast::Statement::Rollback {
            chain: false,
            savepoint: Some(name),
        } => Ok(Statement::RollbackToSavepoint {
            name: ident_name(name),
        }),
        ast::Statement::Deallocate { name, .. } => Ok(Statement::Deallocate {
            name: (!(name.quote_style.is_none() && name.value.eq_ignore_ascii_case("all")))
                .then(|| ident_name(name)),
        }),
        ast::Statement::Savepoint { name } => Ok(Statement::Savepoint {
            name: ident_name(name),
        }),
        ast::Statement::ReleaseSavepoint { name } => Ok(Statement::ReleaseSavepoint {
            name: ident_name(name),
        }),
        ast::Statement::Set(set) => ddl::bind_set(set),
        ast::Statement::ShowVariable { variable } => ddl::bind_show(variable),
        other => Err(PlanError::not_supported(format!(
            "statement not supported yet: {}",
            statement_kind(other)
        ))),
    }
}

/// The first words of a statement, for "not supported" messages without echoing data.
fn statement_kind(stmt: &ast::Statement) -> String {
    let text = stmt.to_string();
    text.split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

/// An identifier as PostgreSQL folds it: unquoted names are lower-cased.
pub(crate) fn ident_name(id: &ast::Ident) -> String {
    match id.quote_style {
        Some(_) => id.value.clone(),
        None => id.value.to_ascii_lowercase(),
    }
}

/// A possibly qualified name, folded, parts joined with '.'.
pub(crate) fn object_name(name: &ast::ObjectName) -> String {
    name.0
        .iter()
        .map(|part| match part {
            ast::ObjectNamePart::Identifier(id) => ident_name(id),
            other => other.to_string(),
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// A table name with a `public.` schema qualifier removed; other schemas stay as they are.
pub(crate) fn table_name(name: &ast::ObjectName) -> String {
    let full = object_name(name);
    match full.strip_prefix("public.") {
        Some(rest) => rest.to_string(),
        None => full,
    }
}
