//! What the binder may know about the database: a read-only view of a catalog snapshot.

use omendb_storage::schema::TableSchema;
use std::sync::Arc;

/// A catalog snapshot as the binder sees it. Implemented by the engine's catalog.
pub trait Catalog {
    /// A user table by (lower-cased or quoted) name.
    fn table(&self, name: &str) -> Option<Arc<TableSchema>>;
    /// Whether a sequence of that name exists.
    fn sequence_exists(&self, name: &str) -> bool;
}
