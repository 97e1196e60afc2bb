//! The errors a connection can meet, each with the SQLSTATE and severity the client sees.
//!
//! A `WireError` is either statement-level (ERROR: reported, the connection goes on) or
//! connection-level (FATAL: reported if possible, then the connection closes). Callers decide
//! with [`WireError::is_fatal`]; nothing here writes to a socket.

use omendb_engine::EngineError;
use omendb_storage::types::TypeError;
use thiserror::Error;

/// Something went wrong on one connection.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum WireError {
    /// A statement failed in the engine.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// A parameter value could not be converted.
    #[error(transparent)]
    Type(#[from] TypeError),
    /// The byte stream breaks the protocol in a way we cannot recover from (08P01, FATAL).
    #[error("{0}")]
    Protocol(String),
    /// A well-framed message whose body is wrong (08P01, ERROR: the framing is intact, so the
    /// connection can go on).
    #[error("{0}")]
    Malformed(String),
    /// A binary parameter whose length or content does not fit its type (22P03).
    #[error("incorrect binary data format in bind parameter {param}")]
    BinaryFormat { param: usize },
    /// A statement-level error raised by the protocol layer itself (unknown statement, …).
    #[error("{message}")]
    Sql {
        sqlstate: &'static str,
        message: String,
    },
    /// A connection-level error raised by the protocol layer (bad startup packet, …).
    #[error("{message}")]
    Fatal {
        sqlstate: &'static str,
        message: String,
    },
    /// Password authentication failed (28P01, FATAL).
    #[error("password authentication failed for user \"{0}\"")]
    AuthFailed(String),
    /// The socket failed or closed; nothing can be reported.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

impl WireError {
    pub fn sql(sqlstate: &'static str, message: impl Into<String>) -> WireError {
        WireError::Sql {
            sqlstate,
            message: message.into(),
        }
    }

    pub fn fatal(sqlstate: &'static str, message: impl Into<String>) -> WireError {
        WireError::Fatal {
            sqlstate,
            message: message.into(),
        }
    }

    pub fn sqlstate(&self) -> &'static str {
        match self {
            WireError::Engine(e) => e.sqlstate(),
            WireError::Type(e) => e.sqlstate(),
            WireError::Protocol(_) | WireError::Malformed(_) => "08P01",
            WireError::BinaryFormat { .. } => "22P03",
            WireError::Sql { sqlstate, .. } | WireError::Fatal { sqlstate, .. } => sqlstate,
            WireError::AuthFailed(_) => "28P01",
            WireError::Io(_) => "08006",
        }
    }

    pub fn detail(&self) -> Option<&str> {
        match self {
            WireError::Engine(e) => e.detail(),
            _ => None,
        }
    }

    pub fn hint(&self) -> Option<&str> {
        match self {
            WireError::Engine(e) => e.hint(),
            _ => None,
        }
    }

    /// Whether the connection must close after reporting this error.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            WireError::Protocol(_)
                | WireError::Fatal { .. }
                | WireError::AuthFailed(_)
                | WireError::Io(_)
        )
    }

    /// `ERROR` or `FATAL`, as the `S`/`V` fields of ErrorResponse say it.
    pub fn severity(&self) -> &'static str {
        if self.is_fatal() { "FATAL" } else { "ERROR" }
    }
}
