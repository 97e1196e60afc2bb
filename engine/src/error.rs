//! The error a statement ends with, carrying the SQLSTATE the client sees.

use omendb_storage::types::TypeError;
use thiserror::Error;

/// A statement failed. Every variant maps to one SQLSTATE.
#[derive(Debug, Clone, Error)]
#[non_exhaustive]
pub enum EngineError {
    /// A planner or binder error (undefined table, syntax, type mismatch, …) with its SQLSTATE.
    #[error("{message}")]
    Sql {
        sqlstate: &'static str,
        message: String,
        detail: Option<String>,
        hint: Option<String>,
    },
    #[error(transparent)]
    Type(#[from] TypeError),
    /// The statement was cancelled by a CancelRequest (57014).
    #[error("canceling statement due to user request")]
    Cancelled,
    /// Statements after an error inside a transaction block (25P02).
    #[error("current transaction is aborted, commands ignored until end of transaction block")]
    InFailedTransaction,
    /// The WAL or a data file could not be written (58030): the commit is not durable and was
    /// rolled back.
    #[error("could not write to the write-ahead log: {0}")]
    Io(String),
    /// Shard or runtime failure the client can retry on another connection (58000).
    #[error("internal error: {0}")]
    Internal(String),
}

impl EngineError {
    pub fn sqlstate(&self) -> &'static str {
        match self {
            EngineError::Sql { sqlstate, .. } => sqlstate,
            EngineError::Type(e) => e.sqlstate(),
            EngineError::Cancelled => "57014",
            EngineError::InFailedTransaction => "25P02",
            EngineError::Io(_) => "58030",
            EngineError::Internal(_) => "XX000",
        }
    }

    pub fn detail(&self) -> Option<&str> {
        match self {
            EngineError::Sql { detail, .. } => detail.as_deref(),
            _ => None,
        }
    }

    pub fn hint(&self) -> Option<&str> {
        match self {
            EngineError::Sql { hint, .. } => hint.as_deref(),
            _ => None,
        }
    }

    pub fn sql(sqlstate: &'static str, message: impl Into<String>) -> EngineError {
        EngineError::Sql {
            sqlstate,
            message: message.into(),
            detail: None,
            hint: None,
        }
    }
}
