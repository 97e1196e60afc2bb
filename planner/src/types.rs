//! Typing rules: SQL type names, implicit coercions and the result types of operators.

use crate::error::PlanError;
use omendb_storage::types::DataType;

/// A column type as written in DDL; `serial` types also ask for a sequence.
pub(crate) struct ColumnType {
    pub ty: DataType,
    pub serial: bool,
}

/// Parse a SQL type name (`integer`, `varchar(10)`, `numeric(15,2)`, `timestamp with time zone`, `int4`, …).
pub(crate) fn parse_type_name(text: &str) -> Result<ColumnType, PlanError> {
    let lower = text.trim().to_ascii_lowercase();
    let (base, args) = match lower.find('(') {
        Some(open) => {
            let close = lower.rfind(')').unwrap_or(lower.len());
            let rest = lower.get(close + 1..).unwrap_or("").trim().to_string();
            let base = format!("{} {}", lower[..open].trim(), rest);
            (
                base.trim().to_string(),
                parse_type_args(&lower[open + 1..close], text)?,
            )
        }
        None => (lower.clone(), Vec::new()),
    };
    let base = base.split_whitespace().collect::<Vec<_>>().join(" ");
    let base = base.strip_prefix("pg_catalog.").unwrap_or(&base);
    let plain = |ty| Ok(ColumnType { ty, serial: false });
    let length = |args: &[u32]| args.first().copied();
    match base {
        "smallint" | "int2" => plain(DataType::Int16),
        "integer" | "int" | "int4" => plain(DataType::Int32),
        "bigint" | "int8" => plain(DataType::Int64),
        "smallserial" | "serial2" => Ok(ColumnType {
            ty: DataType::Int16,
            serial: true,
        }),
        "serial" | "serial4" => Ok(ColumnType {
            ty: DataType::Int32,
            serial: true,
        }),
        "bigserial" | "serial8" => Ok(ColumnType {
            ty: DataType::Int64,
            serial: true,
        }),
        "real" | "float4" => plain(DataType::Float32),
        "double precision" | "float8" | "double" => plain(DataType::Float64),
        "float" => match args.first() {
            Some(&p) if (1..=24).contains(&p) => plain(DataType::Float32),
            Some(&p) if (25..=53).contains(&p) => plain(DataType::Float64),
            Some(_) => Err(PlanError::DatatypeMismatch(
                "precision for type float must be between 1 and 53 bits".into(),
            )),
            None => plain(DataType::Float64),
        },
        "numeric" | "decimal" | "dec" => numeric_type(&args),
        "boolean" | "bool" => plain(DataType::Bool),
        "text" | "name" => plain(DataType::Text),
        "varchar" | "character varying" | "char varying" => plain(DataType::Varchar(length(&args))),
        "char" | "character" | "bpchar" => plain(DataType::Char(Some(length(&args).unwrap_or(1)))),
        "bytea" => plain(DataType::Bytea),
        "date" => plain(DataType::Date),
        "timestamp" | "timestamp without time zone" => plain(DataType::Timestamp),
        "timestamptz" | "timestamp with time zone" => plain(DataType::TimestampTz),
        "interval" => plain(DataType::Interval),
        "oid" | "regclass" | "regproc" | "regtype" => plain(DataType::Int64),
        _ => Err(PlanError::UndefinedType(text.trim().to_string())),
    }
}

fn parse_type_args(inner: &str, original: &str) -> Result<Vec<u32>, PlanError> {
    inner
        .split(',')
        .map(|a| {
            a.trim()
                .parse::<u32>()
                .map_err(|_| PlanError::syntax(format!("invalid type modifier in \"{original}\"")))
        })
        .collect()
}

fn numeric_type(args: &[u32]) -> Result<ColumnType, PlanError> {
    const MAX: u32 = omendb_storage::types::Numeric::MAX_PRECISION as u32;
    let ty = match args {
        [] => DataType::NUMERIC,
        [p] | [p, _] if *p < 1 || *p > MAX => {
            return Err(PlanError::NotSupported(format!(
                "NUMERIC precision {p} must be between 1 and {MAX}"
            )));
        }
        [p] => DataType::Numeric {
            precision: Some(*p as u8),
            scale: Some(0),
        },
        [p, s] if s > p => {
            return Err(PlanError::DatatypeMismatch(format!(
                "NUMERIC scale {s} must be between 0 and precision {p}"
            )));
        }
        [p, s] => DataType::Numeric {
            precision: Some(*p as u8),
            scale: Some(*s as u8),
        },
        _ => return Err(PlanError::syntax("too many type modifiers for numeric")),
    };
    Ok(ColumnType { ty, serial: false })
}

/// Rank of the numeric types in PostgreSQL's implicit-cast lattice (higher wins).
fn number_rank(ty: DataType) -> Option<u8> {
    Some(match ty {
        DataType::Int16 => 1,
        DataType::Int32 => 2,
        DataType::Int64 => 3,
        DataType::Numeric { .. } => 4,
        DataType::Float32 => 5,
        DataType::Float64 => 6,
        _ => return None,
    })
}

/// The type both operands of a comparison (or branches of a CASE, a UNION column…) are coerced to,
/// or `None` when PostgreSQL would refuse the combination.
pub(crate) fn common_type(a: DataType, b: DataType) -> Option<DataType> {
    use DataType::*;
    if a == b {
        return Some(a);
    }
    // An untyped literal takes the other side's type (char(n) keeps its blank-padded semantics).
    if a == Unknown {
        return Some(b);
    }
    if b == Unknown {
        return Some(a);
    }
    if let (Some(ra), Some(rb)) = (number_rank(a), number_rank(b)) {
        let wider = if ra >= rb { a } else { b };
        // real only survives with real: mixed with integers or numeric, PostgreSQL picks double.
        if wider == Float32 {
            return Some(Float64);
        }
        return Some(match wider {
            Numeric { .. } => DataType::NUMERIC,
            other => other,
        });
    }
    if a.is_string() && b.is_string() {
        return Some(match (a, b) {
            (Char(_), Char(_)) => Char(None),
            (Varchar(_), Varchar(_)) | (Varchar(_), Char(_)) | (Char(_), Varchar(_)) => {
                Varchar(None)
            }
            _ => Text,
        });
    }
    match (a, b) {
        (Date, Timestamp) | (Timestamp, Date) => Some(Timestamp),
        (Date, TimestampTz)
        | (TimestampTz, Date)
        | (Timestamp, TimestampTz)
        | (TimestampTz, Timestamp) => Some(TimestampTz),
        _ => None,
    }
}

/// Whether a value of `from` may be stored into a column of `to` (assignment cast).
pub(crate) fn assignable(from: DataType, to: DataType) -> bool {
    use DataType::*;
    if from == to || from == Unknown {
        return true;
    }
    if from.is_number() && to.is_number() {
        return true;
    }
    if from.is_string() && to.is_string() {
        return true;
    }
    // Any type can be assigned to a string column (PostgreSQL's assignment cast to text).
    if to.is_string() {
        return true;
    }
    matches!(
        (from, to),
        (Date, Timestamp)
            | (Date, TimestampTz)
            | (Timestamp, TimestampTz)
            | (TimestampTz, Timestamp)
            | (Timestamp, Date)
            | (TimestampTz, Date)
    )
}
