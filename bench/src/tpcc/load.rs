//! Creating the TPC-C schema and loading the initial population over the wire: `COPY … FROM
//! STDIN` where the server accepts it, multi-row INSERTs where it does not, several units of work
//! on several connections at once; then the secondary indexes, where the server can build them.
//!
//! Owns the load. It must never report a load as done unless every statement succeeded, and
//! never hide that an index could not be created.

use crate::tpch::tables::split_statements;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use bytes::Bytes;
use futures_util::SinkExt;
use serde::Serialize;
use tokio_postgres::Client;

use super::generate::{TableRows, Unit};
use crate::tpch::client;
pub use crate::tpch::load::describe;
use crate::tpch::load::{DbError, copy_unsupported, unsupported};

pub const SCHEMA_SQL: &str = include_str!("../../tpcc/schema.sql");
pub const INDEXES_SQL: &str = include_str!("../../tpcc/indexes.sql");
/// The nine tables, in the order they are dropped.
pub const TABLES: [&str; 9] = [
    "order_line",
    "new_order",
    "orders",
    "history",
    "customer",
    "district",
    "stock",
    "item",
    "warehouse",
];
/// Bytes of COPY text per message sent.
const COPY_CHUNK_BYTES: usize = 1 << 20;

/// What the load did.
#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    /// "copy" or "insert".
    pub method: String,
    pub rows: u64,
    pub load_s: f64,
    pub indexes: IndexReport,
}

/// Whether the secondary indexes of `indexes.sql` exist, and if not, why.
#[derive(Debug, Clone, Serialize)]
pub struct IndexReport {
    pub created: bool,
    /// The server's error when it could not create them (the transactions then scan).
    pub error: Option<String>,
    pub seconds: f64,
}

/// Drops and recreates the tables on `url`, loads `warehouses` warehouses on `connections`
/// connections, then creates the secondary indexes.
pub async fn load(url: &str, warehouses: i64, connections: usize) -> Result<LoadReport> {
    let client = client::connect_creating_db(url).await?;
    create_schema(&client).await?;
    let now: &'static str = Box::leak(timestamp_literal(SystemTime::now()).into_boxed_str());
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let started = Instant::now();
    let mut units: VecDeque<Unit> = Unit::all(warehouses).into();
    // The first unit probes COPY; a server without it gets INSERTs for everything.
    let first = units
        .pop_front()
        .ok_or_else(|| anyhow!("nothing to load"))?;
    let tables = generate(first, seed, now).await?;
    let (method, mut rows) = match copy_tables(&client, &tables).await {
        Ok(rows) => (Method::Copy, rows),
        Err(e) if copy_unsupported(&e) => {
            eprintln!("server refused COPY ({e:#}); loading with INSERT");
            (Method::Insert, insert_tables(&client, &tables).await?)
        }
        Err(e) => return Err(e),
    };
    rows += run_workers(url, units, method, seed, now, connections).await?;
    let load_s = started.elapsed().as_secs_f64();
    let indexes = create_indexes(&client).await?;
    Ok(LoadReport {
        method: match method {
            Method::Copy => "copy",
            Method::Insert => "insert",
        }
        .to_owned(),
        rows,
        load_s,
        indexes,
    })
}

#[derive(Debug, Clone, Copy)]
enum Method {
    Copy,
    Insert,
}

/// Drops the TPC-C tables if present and creates them from schema.sql.
async fn create_schema(client: &Client) -> Result<()> {
    for table in TABLES {
        execute(client, &format!("DROP TABLE IF EXISTS {table}")).await?;
    }
    for statement in split_statements(SCHEMA_SQL) {
        execute(client, &statement).await?;
    }
    Ok(())
}

/// Creates indexes.sql's indexes. A server that cannot (SQLSTATE 0A000 or a syntax error) is
/// reported, not failed: the same queries then scan.
async fn create_indexes(client: &Client) -> Result<IndexReport> {
    let started = Instant::now();
    for statement in split_statements(INDEXES_SQL) {
        if let Err(e) = client.batch_execute(&statement).await {
            if unsupported(&e) {
                return Ok(IndexReport {
                    created: false,
                    error: Some(describe(&e)),
                    seconds: started.elapsed().as_secs_f64(),
                });
            }
            bail!("{statement}: {}", describe(&e));
        }
    }
    // Statistics for the planner where the server keeps them; not every server has ANALYZE.
    if let Err(e) = client.batch_execute("ANALYZE").await {
        eprintln!("ANALYZE failed ({}); continuing", describe(&e));
    }
    Ok(IndexReport {
        created: true,
        error: None,
        seconds: started.elapsed().as_secs_f64(),
    })
}

async fn execute(client: &Client, statement: &str) -> Result<()> {
    client
        .batch_execute(statement)
        .await
        .map_err(|e| anyhow!("{statement}: {}", describe(&e)))
}

async fn generate(unit: Unit, seed: u64, now: &'static str) -> Result<Vec<TableRows>> {
    tokio::task::spawn_blocking(move || unit.generate(seed, now))
        .await
        .context("a generator thread panicked")
}

/// Loads the units on `connections` connections; returns the rows loaded.
async fn run_workers(
    url: &str,
    units: VecDeque<Unit>,
    method: Method,
    seed: u64,
    now: &'static str,
    connections: usize,
) -> Result<u64> {
    let queue = Arc::new(Mutex::new(units));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..connections.max(1) {
        let (queue, url) = (queue.clone(), url.to_owned());
        workers.spawn(async move {
            let client = client::connect(&url).await?;
            let mut rows = 0;
            loop {
                let next = queue
                    .lock()
                    .map_err(|_| anyhow!("a load worker panicked"))?
                    .pop_front();
                let Some(unit) = next else {
                    return Ok::<u64, anyhow::Error>(rows);
                };
                let tables = generate(unit, seed, now).await?;
                rows += match method {
                    Method::Copy => copy_tables(&client, &tables).await,
                    Method::Insert => insert_tables(&client, &tables).await,
                }
                .with_context(|| format!("load {unit:?}"))?;
            }
        });
    }
    let mut rows = 0;
    while let Some(done) = workers.join_next().await {
        rows += done.context("a load worker panicked")??;
    }
    Ok(rows)
}

async fn copy_tables(client: &Client, tables: &[TableRows]) -> Result<u64> {
    let mut total = 0;
    for table in tables {
        let statement = format!("COPY {} FROM STDIN", table.table);
        let sink = client
            .copy_in::<_, Bytes>(&statement)
            .await
            .map_err(DbError)?;
        let mut sink = std::pin::pin!(sink);
        let text = table.copy_text();
        let mut rest = text.as_str();
        while !rest.is_empty() {
            // Cut after a newline so each message holds whole rows (not required, but kind).
            let cut = if rest.len() <= COPY_CHUNK_BYTES {
                rest.len()
            } else {
                rest[..COPY_CHUNK_BYTES]
                    .rfind('\n')
                    .map_or(rest.len(), |i| i + 1)
            };
            let (chunk, tail) = rest.split_at(cut);
            sink.send(Bytes::copy_from_slice(chunk.as_bytes()))
                .await
                .map_err(DbError)?;
            rest = tail;
        }
        let acknowledged = sink.finish().await.map_err(DbError)?;
        let rows = table.rows.len() as u64;
        if acknowledged != rows {
            bail!(
                "{}: the server acknowledged {acknowledged} rows of the {rows} sent",
                table.table
            );
        }
        total += rows;
    }
    Ok(total)
}

async fn insert_tables(client: &Client, tables: &[TableRows]) -> Result<u64> {
    let mut total = 0;
    for table in tables {
        for statement in table.insert_statements() {
            client
                .batch_execute(&statement)
                .await
                .map_err(|e| anyhow!("insert into {}: {}", table.table, describe(&e)))?;
        }
        total += table.rows.len() as u64;
    }
    Ok(total)
}

/// `YYYY-MM-DD HH:MM:SS` (UTC) for a timestamp column.
pub fn timestamp_literal(at: SystemTime) -> String {
    const SECONDS_PER_DAY: u64 = 86_400;
    let seconds = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (year, month, day) = civil_from_days((seconds / SECONDS_PER_DAY) as i64);
    let in_day = seconds % SECONDS_PER_DAY;
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        in_day / 3600,
        in_day / 60 % 60,
        in_day % 60
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps_format_in_utc() {
        let at = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(timestamp_literal(at), "2023-11-14 22:13:20");
        assert_eq!(timestamp_literal(UNIX_EPOCH), "1970-01-01 00:00:00");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(timestamp_literal(leap), "2000-02-29 00:00:00");
    }

    #[test]
    fn schema_and_index_files_split_into_statements() {
        assert_eq!(split_statements(SCHEMA_SQL).len(), TABLES.len());
        assert_eq!(split_statements(INDEXES_SQL).len(), 2);
    }
}
