//! The closed set of SQL data types and their PostgreSQL identities (OIDs, names, sizes).

use std::fmt;

/// A SQL data type as the catalog stores it and the planner types expressions with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataType {
    Bool,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    /// Exact decimal. `precision`/`scale` are `None` for an unconstrained `numeric`.
    Numeric {
        precision: Option<u8>,
        scale: Option<u8>,
    },
    Text,
    /// `varchar(n)`; `None` is an unbounded `varchar`.
    Varchar(Option<u32>),
    /// `char(n)` (PostgreSQL's `bpchar`), blank-padded to `n`.
    Char(Option<u32>),
    Bytea,
    Date,
    Timestamp,
    TimestampTz,
    Interval,
    /// `text[]`: a one-dimensional array of nullable text (what `current_schemas` returns).
    /// Computed by expressions only; no table column has it.
    TextArray,
    /// The type of a bare string literal or an untyped parameter before inference settles it.
    Unknown,
}

/// PostgreSQL's OID of `text[]` (`_text`).
pub const TEXT_ARRAY_OID: u32 = 1009;

impl DataType {
    /// PostgreSQL's type OID, used in RowDescription and ParameterDescription.
    pub fn oid(self) -> u32 {
        match self {
            DataType::Bool => 16,
            DataType::Int16 => 21,
            DataType::Int32 => 23,
            DataType::Int64 => 20,
            DataType::Float32 => 700,
            DataType::Float64 => 701,
            DataType::Numeric { .. } => 1700,
            DataType::Text => 25,
            DataType::Varchar(_) => 1043,
            DataType::Char(_) => 1042,
            DataType::Bytea => 17,
            DataType::Date => 1082,
            DataType::Timestamp => 1114,
            DataType::TimestampTz => 1184,
            DataType::Interval => 1186,
            DataType::TextArray => TEXT_ARRAY_OID,
            DataType::Unknown => 705,
        }
    }

    /// The type a client names by OID in Parse or a cast, if OmenDB has it.
    pub fn from_oid(oid: u32) -> Option<DataType> {
        Some(match oid {
            16 => DataType::Bool,
            21 => DataType::Int16,
            23 => DataType::Int32,
            20 => DataType::Int64,
            700 => DataType::Float32,
            701 => DataType::Float64,
            1700 => DataType::Numeric {
                precision: None,
                scale: None,
            },
            25 | 19 => DataType::Text,
            1043 => DataType::Varchar(None),
            1042 => DataType::Char(None),
            17 => DataType::Bytea,
            1082 => DataType::Date,
            1114 => DataType::Timestamp,
            1184 => DataType::TimestampTz,
            1186 => DataType::Interval,
            TEXT_ARRAY_OID => DataType::TextArray,
            705 | 0 => DataType::Unknown,
            _ => return None,
        })
    }

    /// `typlen` as pg_type reports it: fixed width in bytes, or -1 for variable length.
    pub fn type_len(self) -> i16 {
        match self {
            DataType::Bool => 1,
            DataType::Int16 => 2,
            DataType::Int32 | DataType::Float32 | DataType::Date => 4,
            DataType::Int64 | DataType::Float64 | DataType::Timestamp | DataType::TimestampTz => 8,
            DataType::Interval => 16,
            DataType::Unknown => -2,
            _ => -1,
        }
    }

    /// `atttypmod` as PostgreSQL encodes it (-1 when there is none).
    pub fn type_modifier(self) -> i32 {
        const VARHDRSZ: i32 = 4;
        match self {
            DataType::Varchar(Some(n)) | DataType::Char(Some(n)) => n as i32 + VARHDRSZ,
            DataType::Numeric {
                precision: Some(p),
                scale,
            } => ((i32::from(p) << 16) | i32::from(scale.unwrap_or(0))) + VARHDRSZ,
            _ => -1,
        }
    }

    pub fn is_integer(self) -> bool {
        matches!(self, DataType::Int16 | DataType::Int32 | DataType::Int64)
    }

    pub fn is_float(self) -> bool {
        matches!(self, DataType::Float32 | DataType::Float64)
    }

    pub fn is_numeric(self) -> bool {
        matches!(self, DataType::Numeric { .. })
    }

    /// Any of the number types: integers, floats, numeric.
    pub fn is_number(self) -> bool {
        self.is_integer() || self.is_float() || self.is_numeric()
    }

    pub fn is_string(self) -> bool {
        matches!(
            self,
            DataType::Text | DataType::Varchar(_) | DataType::Char(_) | DataType::Unknown
        )
    }

    pub fn is_temporal(self) -> bool {
        matches!(
            self,
            DataType::Date | DataType::Timestamp | DataType::TimestampTz
        )
    }

    /// The unconstrained numeric type.
    pub const NUMERIC: DataType = DataType::Numeric {
        precision: None,
        scale: None,
    };
}

impl fmt::Display for DataType {
    /// The name PostgreSQL prints (format_type), as error messages and `\d` show it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataType::Bool => f.write_str("boolean"),
            DataType::Int16 => f.write_str("smallint"),
            DataType::Int32 => f.write_str("integer"),
            DataType::Int64 => f.write_str("bigint"),
            DataType::Float32 => f.write_str("real"),
            DataType::Float64 => f.write_str("double precision"),
            DataType::Numeric {
                precision: Some(p),
                scale,
            } => write!(f, "numeric({},{})", p, scale.unwrap_or(0)),
            DataType::Numeric { .. } => f.write_str("numeric"),
            DataType::Text => f.write_str("text"),
            DataType::Varchar(Some(n)) => write!(f, "character varying({n})"),
            DataType::Varchar(None) => f.write_str("character varying"),
            DataType::Char(Some(n)) => write!(f, "character({n})"),
            DataType::Char(None) => f.write_str("character"),
            DataType::Bytea => f.write_str("bytea"),
            DataType::Date => f.write_str("date"),
            DataType::Timestamp => f.write_str("timestamp without time zone"),
            DataType::TimestampTz => f.write_str("timestamp with time zone"),
            DataType::Interval => f.write_str("interval"),
            DataType::TextArray => f.write_str("text[]"),
            DataType::Unknown => f.write_str("unknown"),
        }
    }
}
