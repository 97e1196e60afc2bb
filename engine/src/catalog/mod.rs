//! The catalog service: table schemas and sequences as one immutable snapshot, replaced
//! atomically by DDL, plus the fixed set of built-in types.
//!
//! Readers take a snapshot (`Arc<Catalog>`) once per statement and never lock. Must never hold
//! table data.

mod types;

pub use types::{BUILTIN_TYPES, BuiltinType, type_oid_by_name};

use omendb_storage::schema::{TableId, TableSchema};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// A sequence (`serial` columns use one each). Shared by all shards; `nextval` is one atomic add.
#[derive(Debug)]
pub struct Sequence {
    next: AtomicI64,
}

impl Sequence {
    pub fn new() -> Sequence {
        Sequence {
            next: AtomicI64::new(1),
        }
    }

    /// The next value; 2200H when the sequence is exhausted.
    pub fn next_value(&self) -> Option<i64> {
        let v = self.next.fetch_add(1, Ordering::Relaxed);
        (v > 0).then_some(v)
    }
}

impl Default for Sequence {
    fn default() -> Self {
        Sequence::new()
    }
}

/// One immutable catalog snapshot.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    pub tables: HashMap<String, Arc<TableSchema>>,
    pub sequences: HashMap<String, Arc<Sequence>>,
    /// Committed rows per table, kept by the shards at commit; shared by every snapshot.
    pub row_counts: HashMap<TableId, Arc<AtomicI64>>,
    /// Views: name → defining query text.
    pub views: HashMap<String, String>,
}

impl omendb_planner::Catalog for Catalog {
    fn table(&self, name: &str) -> Option<Arc<TableSchema>> {
        self.tables.get(name).cloned()
    }

    fn sequence_exists(&self, name: &str) -> bool {
        self.sequences.contains_key(name)
    }

    fn row_estimate(&self, table: &TableSchema) -> f64 {
        self.row_counts
            .get(&table.id)
            .map_or(omendb_planner::catalog::DEFAULT_ROW_ESTIMATE, |c| {
                c.load(Ordering::Relaxed).max(0) as f64
            })
    }

    fn view(&self, name: &str) -> Option<String> {
        self.views.get(name).cloned()
    }
}
