//! Column statistics for the planner: per table and shard, a summary of every column of the
//! shard's column segments (rows, NULLs, min and max from the zone maps, a distinct-value
//! sketch), published by the shard whenever its segments change (bulk load, checkpoint,
//! recovery) and merged over the shards when the planner asks.
//!
//! Readers take one atomic snapshot and never lock. Estimates only: rows still in the row
//! store are not summarised (a table's row count scales what the segments say), so a stale or
//! partial answer may change a plan's cost, never a result.

use arc_swap::ArcSwap;
use omendb_planner::catalog::{ColumnStats, ordinal};
use omendb_storage::row::Cold;
use omendb_storage::schema::TableId;
use omendb_storage::segment::Sketch;
use omendb_storage::types::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// A distinct count at most this fraction of the rows is taken as a column's whole domain
/// (a low-cardinality column shows all its values in a sample); above, distinct values are
/// assumed to grow with the rows.
const SATURATED: f64 = 0.1;

/// One column of one shard's segments.
#[derive(Debug, Clone, Default)]
pub struct ColumnSummary {
    rows: u64,
    nulls: u64,
    min: Option<Value>,
    max: Option<Value>,
    sketch: Sketch,
}

type ShardSummaries = Vec<Option<Arc<[ColumnSummary]>>>;

/// Every table's per-shard summaries.
#[derive(Debug, Default)]
pub struct Statistics {
    tables: ArcSwap<HashMap<TableId, ShardSummaries>>,
}

/// The smaller (`want_less`) or larger of two values: numbers by value, text by bytes (the
/// zone maps' order); of other types, the first (the planner reads no bounds of those).
fn pick(a: Option<Value>, b: &Option<Value>, want_less: bool) -> Option<Value> {
    let (a, b) = match (a, b) {
        (None, b) => return b.clone(),
        (Some(a), None) => return Some(a),
        (Some(a), Some(b)) => (a, b),
    };
    let order = match (&a, b) {
        (Value::Text(x), Value::Text(y)) => Some(y.as_bytes().cmp(x.as_bytes())),
        _ => ordinal(b)
            .zip(ordinal(&a))
            .and_then(|(y, x)| y.partial_cmp(&x)),
    };
    let wanted = if want_less {
        std::cmp::Ordering::Less
    } else {
        std::cmp::Ordering::Greater
    };
    if order == Some(wanted) {
        Some(b.clone())
    } else {
        Some(a)
    }
}

impl ColumnSummary {
    fn merge(&mut self, other: &ColumnSummary) {
        self.rows += other.rows;
        self.nulls += other.nulls;
        self.min = pick(self.min.take(), &other.min, true);
        self.max = pick(self.max.take(), &other.max, false);
        self.sketch.merge(&other.sketch);
    }
}

/// The summary of each of `width` columns over a table partition's segments; `None` when it
/// has none.
pub fn summarize(cold: &Cold, width: usize) -> Option<Vec<ColumnSummary>> {
    if cold.is_empty() {
        return None;
    }
    let mut out = vec![ColumnSummary::default(); width];
    for c in cold.segments() {
        let segment = &c.segment;
        let sketches = segment.sketches();
        for (col, summary) in out.iter_mut().enumerate() {
            let (Some(zone), Some(sketch)) = (segment.zones().get(col), sketches.get(col)) else {
                continue;
            };
            summary.merge(&ColumnSummary {
                rows: segment.rows() as u64,
                nulls: u64::from(zone.nulls),
                min: zone.min.clone(),
                max: zone.max.clone(),
                sketch: sketch.clone(),
            });
        }
    }
    Some(out)
}

impl Statistics {
    /// Replace what `shard` (of `shards`) knows of `table`.
    pub fn publish(
        &self,
        table: TableId,
        shard: usize,
        shards: usize,
        summary: Option<Vec<ColumnSummary>>,
    ) {
        let summary: Option<Arc<[ColumnSummary]>> = summary.map(Into::into);
        self.tables.rcu(|tables| {
            let mut tables = HashMap::clone(tables);
            let per_shard = tables.entry(table).or_default();
            per_shard.resize(shards.max(per_shard.len()), None);
            per_shard[shard] = summary.clone();
            tables
        });
    }

    /// Forget a dropped table.
    pub fn forget(&self, table: TableId) {
        self.tables.rcu(|tables| {
            let mut tables = HashMap::clone(tables);
            tables.remove(&table);
            tables
        });
    }

    /// Statistics of `column` of `table`, which holds `rows` rows in all; `None` when no shard
    /// has summarised it.
    pub fn column(&self, table: TableId, column: usize, rows: f64) -> Option<ColumnStats> {
        let tables = self.tables.load();
        let mut merged: Option<ColumnSummary> = None;
        for s in tables.get(&table)?.iter().flatten() {
            let Some(c) = s.get(column) else { continue };
            match &mut merged {
                Some(m) => m.merge(c),
                None => merged = Some(c.clone()),
            }
        }
        let m = merged.filter(|m| m.rows > 0)?;
        let seen = m.rows as f64;
        let rows = rows.max(seen);
        let scale = rows / seen;
        let distinct = m.sketch.estimate().min(seen - m.nulls as f64);
        let distinct = if distinct <= SATURATED * seen {
            distinct
        } else {
            distinct * scale
        };
        Some(ColumnStats {
            rows,
            nulls: Some(m.nulls as f64 * scale),
            min: m.min,
            max: m.max,
            distinct: Some(distinct.max(1.0)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_extremes_by_value() {
        let lo = pick(Some(Value::Int32(5)), &Some(Value::Int32(3)), true);
        let hi = pick(Some(Value::Int32(5)), &Some(Value::Int32(3)), false);
        assert!(matches!(
            (lo, hi),
            (Some(Value::Int32(3)), Some(Value::Int32(5)))
        ));
        let text = pick(
            Some(Value::Text("b".into())),
            &Some(Value::Text("a".into())),
            true,
        );
        assert!(matches!(text, Some(Value::Text(t)) if t == "a"));
        let first = pick(None, &Some(Value::Int32(1)), true);
        assert!(matches!(first, Some(Value::Int32(1))));
    }

    #[test]
    fn unknown_tables_have_no_statistics() {
        let s = Statistics::default();
        assert!(s.column(7, 0, 100.0).is_none());
        s.publish(7, 1, 2, None);
        assert!(s.column(7, 0, 100.0).is_none());
    }
}
