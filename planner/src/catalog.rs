//! What the binder may know about the database: a read-only view of a catalog snapshot.

use omendb_storage::schema::TableSchema;
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
}
