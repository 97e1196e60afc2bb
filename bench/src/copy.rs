//! COPY load speed: TPC-H `lineitem` (dbgen-identical rows from the `tpchgen` crate) loaded with
//! `COPY … FROM STDIN` into OmenDB and PostgreSQL alternately, from the same file.
//!
//! `omendb-bench copy OMENDB_URL POSTGRES_URL DATA_FILE [SF] [ROUNDS]` generates DATA_FILE
//! first if it does not exist (`|`-separated, without dbgen's trailing `|`).

use anyhow::{Context, Result};
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Instant;

/// Bytes per CopyData message.
const CHUNK: usize = 1 << 20;

/// TPC-H lineitem without constraints (the usual load-then-constrain order), same on both.
const LINEITEM_DDL: &str = "CREATE TABLE lineitem (
    l_orderkey bigint NOT NULL, l_partkey bigint NOT NULL, l_suppkey bigint NOT NULL,
    l_linenumber int NOT NULL, l_quantity numeric(15,2) NOT NULL,
    l_extendedprice numeric(15,2) NOT NULL, l_discount numeric(15,2) NOT NULL,
    l_tax numeric(15,2) NOT NULL, l_returnflag char(1) NOT NULL, l_linestatus char(1) NOT NULL,
    l_shipdate date NOT NULL, l_commitdate date NOT NULL, l_receiptdate date NOT NULL,
    l_shipinstruct char(25) NOT NULL, l_shipmode char(10) NOT NULL, l_comment varchar(44) NOT NULL)";

/// Write lineitem at scale factor `sf` to `path`; returns the row count.
pub fn generate(path: &Path, sf: f64) -> Result<u64> {
    let file = std::fs::File::create(path).with_context(|| format!("create {}", path.display()))?;
    let mut out = BufWriter::with_capacity(CHUNK, file);
    let mut rows = 0;
    let mut line = String::new();
    for item in tpchgen::generators::LineItemGenerator::new(sf, 1, 1).iter() {
        use std::fmt::Write as _;
        line.clear();
        write!(line, "{item}")?;
        out.write_all(line.trim_end_matches('|').as_bytes())?;
        out.write_all(b"\n")?;
        rows += 1;
    }
    out.flush()?;
    Ok(rows)
}

async fn connect(url: &str) -> Result<tokio_postgres::Client> {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .with_context(|| format!("connect {url}"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(client)
}

/// COPY the file into a fresh `lineitem` with psql's `\copy` (COPY FROM STDIN through the
/// simple-query protocol, as psql and pgbench send it); returns (seconds, rows reported by
/// COPY, rows counted).
pub async fn load(url: &str, path: &Path) -> Result<(f64, u64, i64)> {
    let client = connect(url).await?;
    client
        .batch_execute(&format!("DROP TABLE IF EXISTS lineitem; {LINEITEM_DDL}"))
        .await?;
    let started = Instant::now();
    let out = std::process::Command::new("psql")
        .args(["-X", "-v", "ON_ERROR_STOP=1", url, "-c"])
        .arg(format!(
            "\\copy lineitem from '{}' with (delimiter '|')",
            path.display()
        ))
        .output()
        .context("run psql")?;
    let seconds = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        out.status.success(),
        "psql \\copy failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let copied: u64 = text
        .split_whitespace()
        .last()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let counted: i64 = client
        .query_one("SELECT count(*) FROM lineitem", &[])
        .await?
        .get(0);
    Ok((seconds, copied, counted))
}

/// Load the file into both servers `rounds` times (generating it first at `sf` if missing).
pub async fn run(omendb: &str, postgres: &str, path: &Path, sf: f64, rounds: usize) -> Result<()> {
    if !path.exists() {
        let started = Instant::now();
        let rows = generate(path, sf)?;
        eprintln!(
            "generated {rows} lineitem rows in {:.1?}",
            started.elapsed()
        );
    }
    let bytes = std::fs::metadata(path)?.len();
    let mut lines = Vec::new();
    for round in 0..rounds {
        for (server, url) in [("postgres", postgres), ("omendb", omendb)] {
            let (seconds, copied, counted) = load(url, path).await?;
            anyhow::ensure!(
                copied as i64 == counted,
                "{server}: COPY reported {copied} rows, SELECT count(*) says {counted}"
            );
            eprintln!("{server:8} round {round}: {copied} rows in {seconds:.2} s");
            lines.push((server, seconds, copied));
        }
    }
    println!("file: {} ({bytes} bytes)", path.display());
    for (server, seconds, rows) in lines {
        println!(
            "| {server} | {rows} | {seconds:.2} s | {:.0} rows/s |",
            rows as f64 / seconds
        );
    }
    Ok(())
}
