//! What the binder may know about the database: a read-only view of a catalog snapshot.

use omendb_storage::schema::TableSchema;
use omendb_storage::types::Value;
use std::sync::Arc;

/// Rows assumed for a table whose size is unknown.
pub const DEFAULT_ROW_ESTIMATE: f64 = 1000.0;

/// A catalog snapshot as the binder sees it. Implemented by the engine's catalog.
pub trait Catalog {
    /// A user table by (lower-cased or quoted) name.
    fn table(&self, name: &str) -> Option<Arc<TableSchema>>;
    /// Whether a sequence of that name exists.
    fn sequence_exists(&self, name: &str) -> bool;
    /// A view's defining query, if `name` is a view.
    fn view(&self, name: &str) -> Option<String> {
        let _ = name;
        None
    }
    /// Approximate number of rows in a table, for join ordering.
    fn row_estimate(&self, table: &TableSchema) -> f64 {
        let _ = table;
        DEFAULT_ROW_ESTIMATE
    }
    /// What is known about the values of column `column` (schema position) of `table`, for
    /// selectivity estimates; `None` when nothing is. Estimates only: a stale or partial answer
    /// may change a plan's cost, never its result.
    fn column_stats(&self, table: &TableSchema, column: usize) -> Option<ColumnStats> {
        let _ = (table, column);
        None
    }
}

/// Statistics of one column. Every field is optional but `rows`: a source reports what it has
/// (zone maps give `nulls`, `min` and `max`; a distinct-count sketch gives `distinct`).
#[derive(Debug, Clone, Default)]
pub struct ColumnStats {
    /// Rows the statistics describe (NULLs included).
    pub rows: f64,
    pub nulls: Option<f64>,
    /// Smallest and largest non-NULL value, in the column's type.
    pub min: Option<Value>,
    pub max: Option<Value>,
    /// Estimated number of distinct non-NULL values.
    pub distinct: Option<f64>,
}

impl ColumnStats {
    /// The fraction of rows that are NULL (0 when unknown).
    pub fn null_fraction(&self) -> f64 {
        match self.nulls {
            Some(n) if self.rows > 0.0 => (n / self.rows).clamp(0.0, 1.0),
            _ => 0.0,
        }
    }

    /// Distinct non-NULL values: the reported estimate, else — for integer-like types, whose
    /// values are whole steps apart — at most `max - min + 1`, capped by the non-NULL rows.
    pub fn distinct_estimate(&self) -> Option<f64> {
        let non_null = (self.rows - self.nulls.unwrap_or(0.0)).max(1.0);
        if let Some(d) = self.distinct {
            return Some(d.clamp(1.0, non_null));
        }
        let (lo, hi) = (self.min.as_ref()?, self.max.as_ref()?);
        if !is_stepped(lo) || !is_stepped(hi) {
            return None;
        }
        let span = ordinal(hi)? - ordinal(lo)? + 1.0;
        Some(span.clamp(1.0, non_null))
    }
}

/// Types whose distinct values are at least one unit apart.
fn is_stepped(v: &Value) -> bool {
    matches!(
        v,
        Value::Int16(_) | Value::Int32(_) | Value::Int64(_) | Value::Date(_) | Value::Bool(_)
    )
}

/// Whether two values' ordinals are in the same unit (days, microseconds or plain numbers), so
/// one can be placed inside the other's range.
pub fn comparable(a: &Value, b: &Value) -> bool {
    fn unit(v: &Value) -> u8 {
        match v {
            Value::Date(_) => 1,
            Value::Timestamp(_) | Value::TimestampTz(_) => 2,
            _ => 0,
        }
    }
    unit(a) == unit(b)
}

/// A value's position on a number line, for range interpolation; `None` for types without one
/// (text, bytea, intervals, arrays).
pub fn ordinal(v: &Value) -> Option<f64> {
    match v {
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        Value::Int16(n) => Some(f64::from(*n)),
        Value::Int32(n) | Value::Date(n) => Some(f64::from(*n)),
        Value::Int64(n) | Value::Timestamp(n) | Value::TimestampTz(n) => Some(*n as f64),
        Value::Float32(x) => Some(f64::from(*x)).filter(|x| x.is_finite()),
        Value::Float64(x) => Some(*x).filter(|x| x.is_finite()),
        Value::Numeric(n) => Some(n.to_f64()),
        _ => None,
    }
}
