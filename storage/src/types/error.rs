//! Errors of value conversion and arithmetic, each with the SQLSTATE PostgreSQL raises for it.

use thiserror::Error;

/// A datum could not be parsed, converted or computed.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum TypeError {
    /// `invalid input syntax for type integer: "abc"` (22P02).
    #[error("invalid input syntax for type {ty}: \"{input}\"")]
    InvalidText { ty: String, input: String },
    /// `integer out of range`, `numeric field overflow`, … (22003).
    #[error("{0}")]
    OutOfRange(String),
    /// 22012.
    #[error("division by zero")]
    DivisionByZero,
    /// `date/time field value out of range: "2024-13-01"` (22008).
    #[error("{0}")]
    DatetimeOverflow(String),
    /// `value too long for type character varying(5)` (22001).
    #[error("value too long for type {0}")]
    StringTooLong(String),
    /// A cast PostgreSQL does not allow: `cannot cast type date to integer` (42846).
    #[error("cannot cast type {from} to {to}")]
    CannotCast { from: String, to: String },
    /// A unit or field name a function does not know (22023).
    #[error("{0}")]
    InvalidParameter(String),
    /// Malformed input whose message names no value, e.g. `invalid input syntax for type bytea` (22P02).
    #[error("{0}")]
    InvalidSyntax(String),
    /// `invalid input syntax for type date: "x"` and other unreadable date/time input (22007).
    #[error("{0}")]
    InvalidDatetimeFormat(String),
    /// `time zone displacement out of range: "…"` (22009).
    #[error("{0}")]
    TimeZoneDisplacement(String),
    /// Valid SQL that OmenDB does not support yet (0A000).
    #[error("{0}")]
    NotSupported(String),
}

impl TypeError {
    /// The SQLSTATE a client sees for this error.
    pub fn sqlstate(&self) -> &'static str {
        match self {
            TypeError::InvalidText { .. } => "22P02",
            TypeError::OutOfRange(_) => "22003",
            TypeError::DivisionByZero => "22012",
            TypeError::DatetimeOverflow(_) => "22008",
            TypeError::StringTooLong(_) => "22001",
            TypeError::CannotCast { .. } => "42846",
            TypeError::InvalidParameter(_) => "22023",
            TypeError::InvalidSyntax(_) => "22P02",
            TypeError::InvalidDatetimeFormat(_) => "22007",
            TypeError::TimeZoneDisplacement(_) => "22009",
            TypeError::NotSupported(_) => "0A000",
        }
    }

    pub fn invalid_text(ty: impl std::fmt::Display, input: &str) -> TypeError {
        TypeError::InvalidText {
            ty: ty.to_string(),
            input: input.to_string(),
        }
    }
}
