//! The catalog service: table schemas and sequences as one immutable snapshot, replaced
//! atomically by DDL, plus the fixed set of built-in types.
//!
//! Readers take a snapshot (`Arc<Catalog>`) once per statement and never lock. Must never hold
//! table data.

pub mod stats;
mod types;

pub use types::{BUILTIN_TYPES, BuiltinType, type_oid_by_name};

use omendb_storage::schema::{TableId, TableSchema};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// Values a sequence hands out beyond its durable mark before the mark must move again: the
/// WAL gets one sequence record per this many `nextval`s (PostgreSQL logs every 32).
pub const SEQUENCE_RESERVE: i64 = 1024;

/// A sequence (`serial` columns use one each). Shared by all shards; `nextval` is one atomic add.
#[derive(Debug)]
pub struct Sequence {
    next: AtomicI64,
    /// High-water mark handed to the WAL: after a crash the sequence restarts at the last one
    /// that became durable, so no value a committed row may hold is handed out twice.
    mark: AtomicI64,
    /// The highest mark known durable.
    durable: AtomicI64,
}

impl Sequence {
    pub fn new() -> Sequence {
        Sequence::starting_at(1)
    }

    /// A sequence whose next value is `next` (recovery).
    pub fn starting_at(next: i64) -> Sequence {
        Sequence {
            next: AtomicI64::new(next),
            mark: AtomicI64::new(next),
            durable: AtomicI64::new(next),
        }
    }

    /// The value a restart must begin at, as known durable or about to be.
    pub fn restart_value(&self) -> i64 {
        self.mark
            .load(Ordering::Relaxed)
            .max(self.next.load(Ordering::Relaxed))
    }

    /// If values were handed out past the durable mark, the mark (moved `SEQUENCE_RESERVE`
    /// ahead if needed) that the caller must log before its commit is acknowledged; it then
    /// calls `confirm`. Every commit logs it until one such record is durable.
    pub fn mark_to_log(&self) -> Option<i64> {
        let next = self.next.load(Ordering::Relaxed);
        if next <= self.durable.load(Ordering::Relaxed) {
            return None;
        }
        let wanted = next.saturating_add(SEQUENCE_RESERVE);
        let previous = self.mark.fetch_max(wanted, Ordering::Relaxed);
        Some(previous.max(wanted))
    }

    /// A logged mark became durable.
    pub fn confirm(&self, mark: i64) {
        self.durable.fetch_max(mark, Ordering::Relaxed);
    }

    /// Recovery: never hand out anything below `value` again.
    pub fn raise_to(&self, value: i64) {
        self.next.fetch_max(value, Ordering::Relaxed);
        self.mark.fetch_max(value, Ordering::Relaxed);
        self.durable.fetch_max(value, Ordering::Relaxed);
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
    /// Column statistics, kept by the shards as their segments change; shared by every
    /// snapshot.
    pub stats: Arc<stats::Statistics>,
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

    fn column_stats(
        &self,
        table: &TableSchema,
        column: usize,
    ) -> Option<omendb_planner::catalog::ColumnStats> {
        let rows = omendb_planner::Catalog::row_estimate(self, table);
        self.stats.column(table.id, column, rows)
    }
}
