//! Creating the TPC-H schema on a server and loading the generated data over the wire, with
//! `COPY … FROM STDIN` where the server accepts it and multi-row INSERTs where it does not, on
//! several connections at once.
//!
//! Owns the load pipeline: generator threads produce chunks (one thread per table part in
//! flight), async workers (one connection each) send them. It must never report a load as done
//! unless every statement succeeded.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use bytes::Bytes;
use futures_util::SinkExt;
use indicatif::ProgressBar;
use serde::Serialize;
use tokio::sync::mpsc;
use tokio_postgres::Client;
use tokio_postgres::error::SqlState;

use super::client;
use super::files::{self, FilePart};
use super::generate::{Chunk, Format, generate_chunks};
use super::tables::{self, Table};

/// Chunks a generator may run ahead of its connection: enough to keep the connection busy
/// while the next chunk is formatted, few enough to bound memory.
const CHANNEL_DEPTH: usize = 4;

/// How the data gets into the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LoadMode {
    /// COPY if the server accepts it, else INSERT.
    Auto,
    Copy,
    Insert,
    /// The data is already loaded: run the queries only.
    Skip,
}

/// What to load and how.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub sf: f64,
    pub mode: LoadMode,
    /// Connections (and generator threads) working at once.
    pub connections: usize,
    /// Generate everything into memory before the clock starts, so the load time excludes
    /// generation (needs about the raw data size in memory).
    pub pregenerate: bool,
    /// Send these existing `.tbl` files instead of generating (COPY only; generation excluded).
    pub tbl_dir: Option<std::path::PathBuf>,
    /// Afterwards create `pg_indexes.sql`'s indexes and ANALYZE (for PostgreSQL).
    pub pg_indexes: bool,
}

/// What a load did and how long it took.
#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    /// "copy" or "insert".
    pub method: String,
    pub rows: u64,
    pub connections: usize,
    /// Seconds from the first row sent to the last statement acknowledged (schema creation
    /// excluded).
    pub load_s: f64,
    /// Whether `load_s` includes generating the data (it overlaps with sending unless
    /// pregenerated or read from files).
    pub generation_included: bool,
    /// Whether the rows were read from existing `.tbl` files.
    pub from_files: bool,
    /// Seconds for pg_indexes.sql plus ANALYZE, when asked for.
    pub indexes_and_analyze_s: Option<f64>,
}

/// One part of one table, loaded as one unit (one COPY statement, or its INSERT statements).
struct Item {
    table: Table,
    part: usize,
    parts: usize,
    /// Chunks generated before the clock started, and their format.
    pregenerated: Option<(Format, Vec<Chunk>)>,
    /// The part of an existing `.tbl` file to send instead of generating.
    file: Option<FilePart>,
}

/// Drops and recreates the TPC-H tables on `url`, loads the data, and (if asked) indexes and
/// analyzes it. `progress` counts rows.
pub async fn load(url: &str, options: &LoadOptions, progress: &ProgressBar) -> Result<LoadReport> {
    let client = client::connect_creating_db(url).await?;
    create_schema(&client).await?;
    let total: u64 = Table::ALL
        .iter()
        .map(|t| t.estimated_rows(options.sf))
        .sum();
    progress.set_length(total);
    progress.set_position(0);

    if options.tbl_dir.is_some() && options.mode == LoadMode::Insert {
        bail!("loading from .tbl files needs COPY");
    }
    let mut items = work_items(options)?;
    if options.pregenerate && options.tbl_dir.is_none() {
        progress.set_message("generating");
        pregenerate(&mut items, options, progress).await?;
        progress.set_position(0);
    }
    let started = Instant::now();
    let mut rows = 0;
    let format = match options.mode {
        LoadMode::Copy => Format::Copy,
        LoadMode::Insert => Format::Insert,
        LoadMode::Auto => {
            // Region is tiny: try it with COPY, and fall back to INSERT for everything when the
            // server does not support COPY.
            let Some(first) = items.pop_front() else {
                bail!("nothing to load")
            };
            match load_item(&client, first, Format::Copy, options.sf, progress).await {
                Ok(n) => {
                    rows += n;
                    Format::Copy
                }
                Err(e) if copy_unsupported(&e) => {
                    progress.println(format!("server refused COPY ({e:#}); loading with INSERT"));
                    if options.tbl_dir.is_some() {
                        bail!("the server refused COPY, and .tbl files load only by COPY");
                    }
                    items.push_front(Item {
                        table: Table::Region,
                        part: 1,
                        parts: 1,
                        pregenerated: None,
                        file: None,
                    });
                    Format::Insert
                }
                Err(e) => return Err(e),
            }
        }
        LoadMode::Skip => bail!("load mode skip loads nothing"),
    };
    rows += run_workers(url, items, format, options, progress).await?;
    let load_s = started.elapsed().as_secs_f64();
    progress.finish_with_message("loaded");

    let indexes_and_analyze_s = if options.pg_indexes {
        Some(index_and_analyze(&client).await?)
    } else {
        None
    };
    Ok(LoadReport {
        method: match format {
            Format::Copy => "copy",
            Format::Insert => "insert",
        }
        .to_owned(),
        rows,
        connections: options.connections,
        load_s,
        generation_included: !options.pregenerate && options.tbl_dir.is_none(),
        from_files: options.tbl_dir.is_some(),
        indexes_and_analyze_s,
    })
}

/// Drops the TPC-H tables if present and creates them from schema.sql.
pub async fn create_schema(client: &Client) -> Result<()> {
    for stmt in tables::drop_statements().chain(tables::split_statements(tables::SCHEMA_SQL)) {
        client
            .batch_execute(&stmt)
            .await
            .map_err(|e| anyhow!("{}", describe(&e)))
            .with_context(|| format!("schema: {stmt}"))?;
    }
    Ok(())
}

/// Runs pg_indexes.sql and ANALYZE; returns the seconds it took.
async fn index_and_analyze(client: &Client) -> Result<f64> {
    let started = Instant::now();
    for stmt in tables::split_statements(tables::PG_INDEXES_SQL)
        .into_iter()
        .chain(["ANALYZE".to_owned()])
    {
        client
            .batch_execute(&stmt)
            .await
            .map_err(|e| anyhow!("{}", describe(&e)))
            .with_context(|| stmt.clone())?;
    }
    Ok(started.elapsed().as_secs_f64())
}

/// The table parts to load, largest tables first so the small ones fill the gaps at the end;
/// region first of all when the load starts by probing COPY with it. From `.tbl` files, a
/// table's parts are byte ranges of its file.
fn work_items(options: &LoadOptions) -> Result<VecDeque<Item>> {
    let mut order = Table::ALL.to_vec();
    order.sort_by_key(|t| std::cmp::Reverse(t.estimated_rows(options.sf)));
    if options.mode == LoadMode::Auto {
        order.retain(|&t| t != Table::Region);
        order.insert(0, Table::Region);
    }
    let mut items = VecDeque::new();
    for table in order {
        let parts = table.parts(options.sf, options.connections);
        match &options.tbl_dir {
            Some(dir) => {
                let ranges = files::split(&files::table_file(dir, table), parts)?;
                let parts = ranges.len();
                items.extend(ranges.into_iter().enumerate().map(|(i, file)| Item {
                    table,
                    part: i + 1,
                    parts,
                    pregenerated: None,
                    file: Some(file),
                }));
            }
            None => items.extend((1..=parts).map(|part| Item {
                table,
                part,
                parts,
                pregenerated: None,
                file: None,
            })),
        }
    }
    Ok(items)
}

/// Generates every item into memory, on as many threads as there are connections.
async fn pregenerate(
    items: &mut VecDeque<Item>,
    options: &LoadOptions,
    progress: &ProgressBar,
) -> Result<()> {
    // The format is decided later for Auto; COPY text is what a supporting server takes, and an
    // INSERT fallback regenerates.
    let format = if options.mode == LoadMode::Insert {
        Format::Insert
    } else {
        Format::Copy
    };
    let mut pending = tokio::task::JoinSet::new();
    for (index, item) in items.iter().enumerate() {
        let (table, part, parts, sf, progress) = (
            item.table,
            item.part,
            item.parts,
            options.sf,
            progress.clone(),
        );
        pending.spawn_blocking(move || {
            let mut chunks = Vec::new();
            generate_chunks(table, sf, part, parts, format, |chunk| {
                progress.inc(chunk.rows);
                chunks.push(chunk);
                true
            });
            (index, (format, chunks))
        });
    }
    while let Some(done) = pending.join_next().await {
        let (index, chunks) = done.context("a generator thread panicked")?;
        items[index].pregenerated = Some(chunks);
    }
    Ok(())
}

/// Loads the items on `options.connections` connections; returns the rows loaded.
async fn run_workers(
    url: &str,
    items: VecDeque<Item>,
    format: Format,
    options: &LoadOptions,
    progress: &ProgressBar,
) -> Result<u64> {
    let queue = Arc::new(Mutex::new(items));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..options.connections.max(1) {
        let (queue, url, progress, sf) =
            (queue.clone(), url.to_owned(), progress.clone(), options.sf);
        workers.spawn(async move {
            let client = client::connect(&url).await?;
            let mut rows = 0;
            loop {
                let next = queue
                    .lock()
                    .map_err(|_| anyhow!("a load worker panicked"))?
                    .pop_front();
                let Some(item) = next else {
                    return Ok::<u64, anyhow::Error>(rows);
                };
                rows += load_item(&client, item, format, sf, &progress).await?;
            }
        });
    }
    let mut rows = 0;
    while let Some(done) = workers.join_next().await {
        rows += done.context("a load worker panicked")??;
    }
    Ok(rows)
}

/// Loads one table part on `client`; returns its row count.
async fn load_item(
    client: &Client,
    item: Item,
    format: Format,
    sf: f64,
    progress: &ProgressBar,
) -> Result<u64> {
    let table = item.table;
    progress.set_message(format!("{table}"));
    let (chunks, reader) = chunk_source(item, format, sf);
    let loaded = match format {
        Format::Copy => copy_chunks(client, table, chunks, progress).await,
        Format::Insert => insert_chunks(client, chunks, progress).await,
    };
    let loaded = loaded.with_context(|| format!("load {table}"))?;
    if let Some(reader) = reader {
        reader.await.context("a file reader panicked")??;
    }
    Ok(loaded)
}

/// A thread reading a `.tbl` file part; its error (an unreadable file) ends the load.
type Reader = tokio::task::JoinHandle<Result<bool>>;

/// The item's chunks: a file part's, pregenerated ones (when their format fits), or a
/// generator thread's.
fn chunk_source(item: Item, format: Format, sf: f64) -> (mpsc::Receiver<Chunk>, Option<Reader>) {
    let (tx, rx) = mpsc::channel(CHANNEL_DEPTH);
    if let Some(file) = item.file {
        let reader = tokio::task::spawn_blocking(move || {
            files::read_chunks(&file, |chunk| tx.blocking_send(chunk).is_ok())
        });
        return (rx, Some(reader));
    }
    match item.pregenerated {
        Some((generated, chunks)) if generated == format => {
            tokio::spawn(async move {
                for chunk in chunks {
                    if tx.send(chunk).await.is_err() {
                        return;
                    }
                }
            });
        }
        _ => {
            let (table, part, parts) = (item.table, item.part, item.parts);
            tokio::task::spawn_blocking(move || {
                generate_chunks(table, sf, part, parts, format, |chunk| {
                    tx.blocking_send(chunk).is_ok()
                })
            });
        }
    }
    (rx, None)
}

async fn copy_chunks(
    client: &Client,
    table: Table,
    mut chunks: mpsc::Receiver<Chunk>,
    progress: &ProgressBar,
) -> Result<u64> {
    let statement = format!("COPY {table} FROM STDIN WITH (FORMAT text, DELIMITER '|')");
    let sink = client
        .copy_in::<_, Bytes>(&statement)
        .await
        .map_err(DbError)?;
    let mut sink = std::pin::pin!(sink);
    let mut rows = 0;
    while let Some(chunk) = chunks.recv().await {
        sink.send(Bytes::from(chunk.data)).await.map_err(DbError)?;
        rows += chunk.rows;
        progress.inc(chunk.rows);
    }
    let acknowledged = sink.finish().await.map_err(DbError)?;
    if acknowledged != rows {
        bail!("the server acknowledged {acknowledged} rows of the {rows} sent");
    }
    Ok(rows)
}

async fn insert_chunks(
    client: &Client,
    mut chunks: mpsc::Receiver<Chunk>,
    progress: &ProgressBar,
) -> Result<u64> {
    let mut rows = 0;
    while let Some(chunk) = chunks.recv().await {
        client.batch_execute(&chunk.data).await.map_err(DbError)?;
        rows += chunk.rows;
        progress.inc(chunk.rows);
    }
    Ok(rows)
}

/// A server error kept as the error's source, so the COPY probe can read its SQLSTATE.
#[derive(Debug)]
pub(crate) struct DbError(pub(crate) tokio_postgres::Error);

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&describe(&self.0))
    }
}

impl std::error::Error for DbError {}

/// Whether a failed COPY means "this server has no COPY" (rather than bad data or a lost
/// connection, which must stop the load).
pub(crate) fn copy_unsupported(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<DbError>()
            .is_some_and(|d| unsupported(&d.0))
    })
}

/// Whether an error means "this server has no such feature" (0A000, or a statement it cannot
/// parse), rather than bad data or a lost connection.
pub(crate) fn unsupported(e: &tokio_postgres::Error) -> bool {
    e.code().is_some_and(|code| {
        *code == SqlState::FEATURE_NOT_SUPPORTED || *code == SqlState::SYNTAX_ERROR
    })
}

/// `SQLSTATE: message` for a server error, the client library's text otherwise.
pub fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => e.to_string(),
    }
}
