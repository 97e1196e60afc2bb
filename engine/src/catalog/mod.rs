//! The catalog service: table schemas and sequences as one immutable snapshot, replaced
//! atomically by DDL, plus the fixed set of built-in types.
//!
//! Readers take a snapshot (`Arc<Catalog>`) once per statement and never lock. Must never hold
//! table data.

mod types;

pub use types::{BUILTIN_TYPES, BuiltinType, type_oid_by_name};

use omendb_storage::schema::TableSchema;
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
}

impl omendb_planner::Catalog for Catalog {
    fn table(&self, name: &str) -> Option<Arc<TableSchema>> {
        self.tables.get(name).cloned()
    }

    fn sequence_exists(&self, name: &str) -> bool {
        self.sequences.contains_key(name)
    }
}
