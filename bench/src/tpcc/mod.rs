//! `omendb-bench tpcc`: TPC-C on any PostgreSQL-wire server.
//!
//! The life of a run: create the schema of `bench/tpcc/schema.sql` and load N warehouses of the
//! spec's initial population (COPY, or multi-row INSERTs where the server has no COPY), then the
//! secondary indexes of `bench/tpcc/indexes.sql` where the server can build them; open one
//! connection per terminal, bound to a home warehouse, and prepare every statement on it; run the
//! terminals back to back (no keying or think time) through a warm-up and a measured interval;
//! cancel what is still running at the end; check consistency conditions 1–4; report tpmC,
//! per-transaction throughput and response-time percentiles, as JSON and markdown.
//!
//! Owns the run's flow. It must never report a throughput without saying what it left out of the
//! spec (think times, deferred Delivery) and whether the database stayed consistent.

pub mod consistency;
pub mod generate;
pub mod load;
pub mod numeric;
pub mod random;
pub mod report;
pub mod statements;
pub mod stats;
pub mod terminal;
pub mod txn;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tokio_postgres::NoTls;

use crate::tpch::client;
use random::{Constants, Rng};
use report::Report;
use statements::Statements;
use stats::Stats;
use terminal::Window;
use txn::Home;

/// How long terminals may take to finish their last transaction after the interval ends before
/// they are cancelled.
const FINISH_GRACE: Duration = Duration::from_secs(10);
/// How long cancelled terminals may take to give up.
const CANCEL_GRACE: Duration = Duration::from_secs(10);

/// Options of `omendb-bench tpcc`.
#[derive(Debug, Clone, clap::Args)]
pub struct TpccArgs {
    /// The server, e.g. postgres://postgres@127.0.0.1:5432/postgres (OmenDB) or
    /// postgres://postgres@127.0.0.1:55432/tpcc (PostgreSQL; the database is created if missing).
    #[arg(long)]
    pub url: String,
    /// Warehouses to load (with --skip-load, the loaded count is read from the database).
    #[arg(long, default_value_t = 1)]
    pub warehouses: u32,
    /// Terminals, one connection each; terminal t's home warehouse is t mod W + 1.
    #[arg(long, default_value_t = 1)]
    pub terminals: u32,
    /// Seconds of measurement.
    #[arg(long, default_value_t = 60)]
    pub duration: u64,
    /// Seconds of warm-up before the measurement (run, not counted).
    #[arg(long, default_value_t = 10)]
    pub warmup: u64,
    /// Drop, recreate and load the tables first (the default).
    #[arg(long, conflicts_with = "skip_load")]
    pub load: bool,
    /// Run on the tables already loaded.
    #[arg(long)]
    pub skip_load: bool,
    /// Connections loading in parallel.
    #[arg(long, default_value_t = 2)]
    pub load_connections: usize,
    /// Name of the system in the report (default: from its version).
    #[arg(long)]
    pub label: Option<String>,
    /// Where to write tpcc-<label>-w<W>.json and .md.
    #[arg(long, default_value_os_t = default_out_dir())]
    pub out: PathBuf,
}

fn default_out_dir() -> PathBuf {
    let bench = Path::new(env!("CARGO_MANIFEST_DIR"));
    bench.parent().unwrap_or(bench).join("target").join("tpcc")
}

/// Runs the benchmark; `Ok(true)` when every consistency condition holds and transactions ran.
pub async fn run(args: TpccArgs) -> Result<bool> {
    let report = execute(&args).await?;
    print!("{}", report.markdown());
    let paths = report.write(&args.out)?;
    for path in paths {
        println!("wrote {}", path.display());
    }
    Ok(report.passed())
}

/// Loads (unless told not to), runs and checks; the report of it all.
pub async fn execute(args: &TpccArgs) -> Result<Report> {
    let admin = client::connect_creating_db(&args.url).await?;
    let version = client::server_version(&admin).await;
    let load = if args.skip_load {
        None
    } else {
        eprintln!("loading {} warehouse(s)", args.warehouses);
        let report =
            load::load(&args.url, i64::from(args.warehouses), args.load_connections).await?;
        eprintln!(
            "loaded {} rows by {} in {:.1} s; secondary indexes: {}",
            report.rows,
            report.method,
            report.load_s,
            report.indexes.error.as_deref().unwrap_or("created")
        );
        Some(report)
    };
    let warehouses = loaded_warehouses(&admin).await?;
    if !args.skip_load && warehouses != args.warehouses {
        bail!(
            "loaded {} warehouses but found {warehouses}",
            args.warehouses
        );
    }
    let constants = Constants::for_run(&mut Rng::from_time(0));
    let stats = run_terminals(args, warehouses, constants).await?;
    eprintln!("checking consistency conditions 1-4");
    let conditions = consistency::check(&admin).await;
    Ok(Report::new(
        args,
        version,
        warehouses,
        constants,
        load,
        stats.summarize(args.duration as f64),
        conditions,
    ))
}

async fn loaded_warehouses(client: &tokio_postgres::Client) -> Result<u32> {
    let row = client
        .query_one("SELECT count(*) FROM warehouse", &[])
        .await
        .map_err(|e| anyhow::anyhow!("count warehouses: {}", load::describe(&e)))?;
    let count: i64 = row.try_get(0)?;
    if count == 0 {
        bail!("no warehouses loaded: run with --load");
    }
    Ok(u32::try_from(count)?)
}

/// Connects and prepares every terminal, runs them through warm-up and measurement, cancels any
/// still busy after the grace period, and merges their stats.
async fn run_terminals(args: &TpccArgs, warehouses: u32, constants: Constants) -> Result<Stats> {
    let mut prepared = Vec::new();
    for t in 0..args.terminals {
        let client = client::connect(&args.url).await?;
        let statements = Statements::prepare(&client)
            .await
            .with_context(|| format!("terminal {t}"))?;
        prepared.push((client, statements));
    }
    eprintln!(
        "running {} terminal(s): {} s warm-up, {} s measured",
        args.terminals, args.warmup, args.duration
    );
    let start = Instant::now() + Duration::from_secs(args.warmup);
    let window = Window {
        start,
        end: start + Duration::from_secs(args.duration),
    };
    let mut tasks = tokio::task::JoinSet::new();
    let mut cancels = Vec::new();
    for (t, (client, statements)) in prepared.into_iter().enumerate() {
        let t = t as u32;
        let home = Home {
            w_id: (t % warehouses + 1) as i32,
            d_id: ((t / warehouses) % 10 + 1) as i32,
            warehouses: warehouses as i32,
            constants,
        };
        cancels.push(client.cancel_token());
        tasks.spawn(terminal::run(
            client,
            statements,
            home,
            window,
            u64::from(t),
        ));
    }
    let mut stats = Stats::default();
    let finish_by = tokio::time::Instant::from_std(window.end + FINISH_GRACE);
    let mut cancelled = false;
    loop {
        let next = if cancelled {
            tokio::time::timeout(CANCEL_GRACE, tasks.join_next()).await
        } else {
            tokio::time::timeout_at(finish_by, tasks.join_next()).await
        };
        match next {
            Ok(Some(done)) => stats.merge(done.context("a terminal panicked")?),
            Ok(None) => break,
            Err(_) if !cancelled => {
                eprintln!(
                    "{} terminal(s) still busy: cancelling their statements",
                    tasks.len()
                );
                for token in &cancels {
                    // A terminal that already finished has nothing to cancel; an error here
                    // only means the server did not take the request.
                    if let Err(e) = token.cancel_query(NoTls).await {
                        eprintln!("cancel request failed: {e}");
                    }
                }
                cancelled = true;
            }
            Err(_) => bail!(
                "{} terminal(s) did not stop after being cancelled",
                tasks.len()
            ),
        }
    }
    Ok(stats)
}
