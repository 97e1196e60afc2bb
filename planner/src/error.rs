//! Planning errors, each with the SQLSTATE PostgreSQL raises for the same mistake.

use omendb_storage::types::TypeError;
use thiserror::Error;

/// Why a statement could not be planned.
#[derive(Debug, Clone, Error)]
#[non_exhaustive]
pub enum PlanError {
    #[error("{message}")]
    Syntax { message: String },
    #[error("relation \"{0}\" does not exist")]
    UndefinedTable(String),
    #[error("missing FROM-clause entry for table \"{0}\"")]
    MissingFrom(String),
    #[error("relation \"{0}\" already exists")]
    DuplicateTable(String),
    #[error("column \"{0}\" does not exist")]
    UndefinedColumn(String),
    #[error("column \"{0}\" specified more than once")]
    DuplicateColumn(String),
    #[error("column reference \"{0}\" is ambiguous")]
    AmbiguousColumn(String),
    #[error("function {0} does not exist")]
    UndefinedFunction(String),
    #[error("type \"{0}\" does not exist")]
    UndefinedType(String),
    #[error("{0}")]
    DatatypeMismatch(String),
    #[error("{0}")]
    Grouping(String),
    #[error("{0}")]
    InvalidColumnReference(String),
    /// An aggregate-only clause (ORDER BY, FILTER) on a plain function, and the like.
    #[error("{0}")]
    WrongObjectType(String),
    #[error("function {0} is not unique")]
    AmbiguousFunction(String),
    #[error("{0}")]
    UndefinedParameter(String),
    #[error("{0}")]
    InvalidTableDefinition(String),
    /// A named object other than a relation, type or setting (a constraint) is missing.
    #[error("{0}")]
    UndefinedObject(String),
    #[error("unrecognized configuration parameter \"{0}\"")]
    UndefinedSetting(String),
    #[error("{0}")]
    NotSupported(String),
    #[error(transparent)]
    Type(#[from] TypeError),
}

impl PlanError {
    pub fn sqlstate(&self) -> &'static str {
        match self {
            PlanError::Syntax { .. } => "42601",
            PlanError::UndefinedTable(_) => "42P01",
            PlanError::DuplicateTable(_) => "42P07",
            PlanError::MissingFrom(_) => "42P01",
            PlanError::UndefinedColumn(_) => "42703",
            PlanError::AmbiguousColumn(_) => "42702",
            PlanError::DuplicateColumn(_) => "42701",
            PlanError::UndefinedFunction(_) => "42883",
            PlanError::UndefinedType(_) => "42704",
            PlanError::DatatypeMismatch(_) => "42804",
            PlanError::Grouping(_) => "42803",
            PlanError::InvalidColumnReference(_) => "42P10",
            PlanError::WrongObjectType(_) => "42809",
            PlanError::AmbiguousFunction(_) => "42725",
            PlanError::UndefinedParameter(_) => "42P02",
            PlanError::InvalidTableDefinition(_) => "42P16",
            PlanError::UndefinedSetting(_) => "42704",
            PlanError::UndefinedObject(_) => "42704",
            PlanError::NotSupported(_) => "0A000",
            PlanError::Type(e) => e.sqlstate(),
        }
    }

    pub fn syntax(message: impl Into<String>) -> PlanError {
        PlanError::Syntax {
            message: message.into(),
        }
    }

    pub fn not_supported(what: impl Into<String>) -> PlanError {
        PlanError::NotSupported(what.into())
    }
}
