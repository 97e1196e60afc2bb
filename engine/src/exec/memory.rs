//! The per-statement memory budget (`omendb.query_memory`): one [`MemoryBudget`] per statement,
//! shared by every operator that materialises data in proportion to its input, so a runaway
//! query fails with 53200 instead of growing until the process is killed.
//!
//! Accounting is an estimate, charged in chunks (a batch, a thousand rows), never per value:
//! row sizes are sampled, Arrow arrays report their buffers. A node's charges are replaced by
//! the size of its result when it finishes (its inputs and working state are dropped then), so
//! the counter follows what a statement holds at once rather than everything it ever built.
//! Must never allocate or lock on the hot path; it holds only an atomic counter.

use crate::EngineError;
use omendb_storage::types::Value;
use std::mem::size_of;
use std::sync::atomic::{AtomicU64, Ordering};

use super::Row;

/// Operators that build rows one at a time charge after this many rows.
pub const CHARGE_EVERY_ROWS: usize = 1_000;

/// How many rows of a result are measured to estimate the size of all of them.
const SAMPLED_ROWS: usize = 16;

/// Bytes a statement may hold at once, and the bytes it holds now.
#[derive(Debug)]
pub struct MemoryBudget {
    limit: u64,
    used: AtomicU64,
}

impl MemoryBudget {
    pub fn new(limit: u64) -> MemoryBudget {
        MemoryBudget {
            limit,
            used: AtomicU64::new(0),
        }
    }

    /// Bytes charged and not yet released.
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    /// Take `bytes` more, or fail with 53200 when that passes the limit.
    pub fn charge(&self, bytes: usize) -> Result<(), EngineError> {
        let bytes = bytes as u64;
        let now = self.used.fetch_add(bytes, Ordering::Relaxed) + bytes;
        if now > self.limit {
            return Err(self.exceeded());
        }
        Ok(())
    }

    /// Forget everything charged since `mark` (a value of [`used`](Self::used)): the data it
    /// paid for has been dropped.
    pub fn release_to(&self, mark: u64) {
        // Saturating: branches of one statement may interleave at awaits and release each other.
        let _ = self
            .used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |u| Some(u.min(mark)));
    }

    fn exceeded(&self) -> EngineError {
        EngineError::Sql {
            sqlstate: "53200",
            message: format!(
                "out of memory: query needs more than {} (omendb.query_memory)",
                show_bytes(self.limit)
            ),
            detail: Some(format!(
                "The statement's intermediate results passed the per-query memory budget of {} bytes.",
                self.limit
            )),
            hint: Some(
                "Raise the budget with SET omendb.query_memory = '…', or make the query hold less (filters, LIMIT, fewer columns)."
                    .into(),
            ),
        }
    }
}

/// Charges the rows appended to a growing result, [`CHARGE_EVERY_ROWS`] at a time.
pub struct RowCharger<'a> {
    budget: &'a MemoryBudget,
    charged: usize,
}

impl<'a> RowCharger<'a> {
    pub fn new(budget: &'a MemoryBudget) -> RowCharger<'a> {
        RowCharger { budget, charged: 0 }
    }

    /// Called after rows were pushed to `rows`: charges them once enough have piled up.
    #[inline]
    pub fn grew(&mut self, rows: &[Row]) -> Result<(), EngineError> {
        if rows.len() < self.charged + CHARGE_EVERY_ROWS {
            return Ok(());
        }
        self.budget.charge(rows_bytes(&rows[self.charged..]))?;
        self.charged = rows.len();
        Ok(())
    }
}

/// Whether `e` is a budget overrun, which no other executor would avoid.
pub fn is_out_of_memory(e: &EngineError) -> bool {
    e.sqlstate() == "53200"
}

/// The estimated heap size of `rows`: a sample of rows measured, scaled to all of them.
pub fn rows_bytes(rows: &[Row]) -> usize {
    if rows.is_empty() {
        return 0;
    }
    let step = (rows.len() / SAMPLED_ROWS).max(1);
    let (mut bytes, mut seen) = (0usize, 0usize);
    for row in rows.iter().step_by(step) {
        bytes += row_bytes(row);
        seen += 1;
    }
    bytes / seen * rows.len()
}

/// The heap size of one row: its values plus what they point to.
pub fn row_bytes(row: &[Value]) -> usize {
    size_of::<Row>() + row.iter().map(value_bytes).sum::<usize>()
}

fn value_bytes(v: &Value) -> usize {
    size_of::<Value>()
        + match v {
            Value::Text(s) => s.capacity(),
            Value::Bytea(b) => b.capacity(),
            Value::TextArray(a) => a
                .iter()
                .map(|s| size_of::<Option<String>>() + s.as_ref().map_or(0, String::capacity))
                .sum(),
            _ => 0,
        }
}

/// Bytes as `SHOW` prints them: in the largest unit that divides them, as PostgreSQL.
pub fn show_bytes(bytes: u64) -> String {
    const UNITS: &[(&str, u64)] = &[
        ("TB", 1 << 40),
        ("GB", 1 << 30),
        ("MB", 1 << 20),
        ("kB", 1 << 10),
    ];
    match UNITS
        .iter()
        .find(|(_, scale)| bytes >= *scale && bytes.is_multiple_of(*scale))
    {
        Some((unit, scale)) => format!("{}{unit}", bytes / scale),
        None => format!("{bytes}B"),
    }
}

/// A size setting in bytes: a number with one of PostgreSQL's units `B`, `kB`, `MB`, `GB`,
/// `TB` (a bare number is kilobytes, as PostgreSQL reads `work_mem`).
pub fn parse_bytes(value: &str) -> Option<u64> {
    const UNITS: &[(&str, u64)] = &[
        ("B", 1),
        ("kB", 1 << 10),
        ("MB", 1 << 20),
        ("GB", 1 << 30),
        ("TB", 1 << 40),
    ];
    let v = value.trim().trim_matches(['\'', '"']).trim();
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (number, unit) = v.split_at(split);
    let number: u64 = number.parse().ok()?;
    let unit = unit.trim();
    if unit.is_empty() {
        return number.checked_mul(1 << 10);
    }
    let (_, scale) = UNITS.iter().find(|(u, _)| u.eq_ignore_ascii_case(unit))?;
    number.checked_mul(*scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_in_postgres_units_and_show_in_the_largest() {
        assert_eq!(parse_bytes("'512MB'"), Some(512 << 20));
        assert_eq!(parse_bytes("2GB"), Some(2 << 30));
        assert_eq!(parse_bytes("64"), Some(64 << 10));
        assert_eq!(parse_bytes("soon"), None);
        assert_eq!(parse_bytes("5 parsecs"), None);
        assert_eq!(show_bytes(8 << 20), "8MB");
        assert_eq!(show_bytes(4 << 30), "4GB");
        assert_eq!(show_bytes(1536), "1536B");
    }

    #[test]
    fn charges_fail_past_the_limit_and_release_to_a_mark() {
        let b = MemoryBudget::new(1000);
        b.charge(600).unwrap();
        let mark = b.used();
        b.charge(300).unwrap();
        let e = b.charge(200).unwrap_err();
        assert_eq!(e.sqlstate(), "53200");
        assert!(e.to_string().contains("omendb.query_memory"));
        b.release_to(mark);
        assert_eq!(b.used(), 600);
        b.charge(350).unwrap();
    }

    #[test]
    fn row_estimate_counts_text() {
        let rows: Vec<Row> = (0..100)
            .map(|_| vec![Value::Text("x".repeat(100)), Value::Int32(1)])
            .collect();
        let bytes = rows_bytes(&rows);
        assert!(bytes >= 100 * 100, "{bytes}");
    }
}
