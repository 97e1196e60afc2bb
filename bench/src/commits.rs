//! Commit rate: N clients each committing single-row INSERTs (autocommit, prepared statement) as
//! fast as they can, against OmenDB and PostgreSQL alternately in the same run.
//!
//! Both servers run with durable commits (OmenDB `--sync on`, PostgreSQL `synchronous_commit
//! = on`) unless the caller says otherwise, and the report says which.

use anyhow::{Context, Result};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// One measured run.
#[derive(Debug, Clone)]
pub struct Measurement {
    pub server: String,
    pub clients: usize,
    pub commits: u64,
    pub seconds: f64,
}

impl Measurement {
    pub fn rate(&self) -> f64 {
        self.commits as f64 / self.seconds
    }
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

/// Run `clients` connections inserting into a fresh table for `duration`.
pub async fn measure(
    server: &str,
    url: &str,
    clients: usize,
    duration: Duration,
    table: &str,
) -> Result<Measurement> {
    let admin = connect(url).await?;
    admin
        .batch_execute(&format!(
            "DROP TABLE IF EXISTS {table}; CREATE TABLE {table} (id bigint PRIMARY KEY, client int, payload text)"
        ))
        .await?;
    let stop = Arc::new(AtomicBool::new(false));
    let commits = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for c in 0..clients {
        let client = connect(url).await?;
        let (stop, commits, table) = (stop.clone(), commits.clone(), table.to_string());
        tasks.push(tokio::spawn(async move {
            let stmt = client
                .prepare(&format!(
                    "INSERT INTO {table} (id, client, payload) VALUES ($1, $2, $3)"
                ))
                .await?;
            let mut n: i64 = 0;
            let client_id = c as i32;
            while !stop.load(Ordering::Relaxed) {
                let id = (c as i64) << 40 | n;
                client
                    .execute(&stmt, &[&id, &client_id, &"commit-rate payload"])
                    .await?;
                commits.fetch_add(1, Ordering::Relaxed);
                n += 1;
            }
            anyhow::Ok(())
        }));
    }
    let start = Instant::now();
    let before = commits.load(Ordering::Relaxed);
    tokio::time::sleep(duration).await;
    let done = commits.load(Ordering::Relaxed) - before;
    let seconds = start.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await??;
    }
    // Answer check: every counted commit is in the table.
    let stored: i64 = admin
        .query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .await?
        .get(0);
    anyhow::ensure!(
        stored as u64 >= done,
        "{server}: {stored} rows stored but {done} commits counted"
    );
    admin.batch_execute(&format!("DROP TABLE {table}")).await?;
    Ok(Measurement {
        server: server.to_string(),
        clients,
        commits: done,
        seconds,
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// A markdown table of medians (and min/max) per server and client count, with the ratio.
pub fn report(results: &[Measurement], header: &str) -> String {
    let mut out = String::from(header);
    out.push_str(
        "\n| clients | OmenDB commits/s (median, min–max) | PostgreSQL commits/s (median, min–max) | ratio |\n|---:|---:|---:|---:|\n",
    );
    let mut clients: Vec<usize> = results.iter().map(|m| m.clients).collect();
    clients.sort_unstable();
    clients.dedup();
    for c in clients {
        let rates = |server: &str| -> Vec<f64> {
            results
                .iter()
                .filter(|m| m.clients == c && m.server == server)
                .map(Measurement::rate)
                .collect()
        };
        let (o, p) = (rates("omendb"), rates("postgres"));
        if o.is_empty() || p.is_empty() {
            continue;
        }
        let span = |v: &[f64]| {
            let lo = v.iter().cloned().fold(f64::MAX, f64::min);
            let hi = v.iter().cloned().fold(0.0, f64::max);
            format!("{lo:.0}–{hi:.0}")
        };
        let (mo, mp) = (median(o.clone()), median(p.clone()));
        out.push_str(&format!(
            "| {c} | {mo:.0} ({}) | {mp:.0} ({}) | {:.2}x |\n",
            span(&o),
            span(&p),
            mo / mp
        ));
    }
    out
}

/// Client counts measured.
const CLIENT_COUNTS: [usize; 3] = [1, 8, 64];

/// Measure both servers `rounds` times per client count, alternating which goes first, and
/// print the markdown table.
pub async fn run(omendb: &str, postgres: &str, seconds: u64, rounds: usize) -> Result<()> {
    let mut results = Vec::new();
    for &clients in &CLIENT_COUNTS {
        for round in 0..rounds {
            // Alternate which goes first, so drift in the disk's flush latency hits both.
            let order = if round % 2 == 0 {
                [("postgres", postgres), ("omendb", omendb)]
            } else {
                [("omendb", omendb), ("postgres", postgres)]
            };
            for (server, url) in order {
                let m = measure(
                    server,
                    url,
                    clients,
                    Duration::from_secs(seconds),
                    "bench_commits",
                )
                .await?;
                eprintln!(
                    "{server:8} clients {clients:2} round {round}: {:.0} commits/s",
                    m.rate()
                );
                results.push(m);
            }
        }
    }
    println!("{}", report(&results, ""));
    Ok(())
}
