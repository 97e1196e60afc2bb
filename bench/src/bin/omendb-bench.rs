//! `omendb-bench`: benchmark drivers that talk to servers over the wire.
//!
//! `omendb-bench commits OMENDB_URL POSTGRES_URL [SECONDS] [ROUNDS]`: single-row INSERT commit
//! rate with 1, 8 and 64 clients, OmenDB and PostgreSQL alternately; prints a markdown table.
//! `omendb-bench copy OMENDB_URL POSTGRES_URL FILE TABLE_DDL`: see `omendb_bench::copy`.

use anyhow::{Context, Result, bail};
use omendb_bench::commits::{measure, report};
use std::time::Duration;

const CLIENT_COUNTS: [usize; 3] = [1, 8, 64];

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    match args.first().map(String::as_str) {
        Some("commits") => rt.block_on(commits(&args[1..])),
        Some("copy") => rt.block_on(omendb_bench::copy::run(&args[1..])),
        _ => {
            bail!("usage: omendb-bench commits OMENDB_URL POSTGRES_URL [SECONDS] [ROUNDS] | copy …")
        }
    }
}

async fn commits(args: &[String]) -> Result<()> {
    let omendb = args.first().context("OMENDB_URL")?;
    let postgres = args.get(1).context("POSTGRES_URL")?;
    let seconds: u64 = args.get(2).map_or(Ok(5), |s| s.parse())?;
    let rounds: usize = args.get(3).map_or(Ok(3), |s| s.parse())?;
    let mut results = Vec::new();
    for &clients in &CLIENT_COUNTS {
        for round in 0..rounds {
            // Alternate which goes first, so drift in the disk's flush latency hits both.
            let order: [(&str, &String); 2] = if round % 2 == 0 {
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
