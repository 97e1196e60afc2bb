//! `omendb-bench tpch`: TPC-H on any PostgreSQL-wire server.
//!
//! The life of a run: generate the data in-process with `tpchgen` (dbgen-identical), optionally
//! write it as `.tbl` files for the peers (DuckDB, PostgreSQL's own COPY); take reference
//! answers from a PostgreSQL server loaded with the same data (`--reference-url`) or from the
//! committed CSVs of `bench/tpch/answers/sf<SF>/`; create the schema on the server under test,
//! load it (COPY, or INSERT where COPY is refused); run the 22 queries (one warm-up, then N timed
//! runs, whole answers fetched); check every answer; print and write the report.
//!
//! Owns the harness's flow. It must never time an unchecked answer silently: the report says
//! what was checked against what.

pub mod answer;
pub mod check;
pub mod client;
pub mod files;
pub mod generate;
pub mod load;
pub mod queries;
pub mod report;
pub mod run;
pub mod tables;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};

use load::{LoadMode, LoadOptions};
use report::{QueryReport, Report};
use run::{References, RunOptions};

/// Options of `omendb-bench tpch`.
#[derive(Debug, Clone, clap::Args)]
pub struct TpchArgs {
    /// The server to benchmark, e.g. postgres://postgres@127.0.0.1:5432/postgres (OmenDB) or
    /// postgres://postgres@127.0.0.1:55432/tpch (PostgreSQL; the database is created if missing).
    #[arg(long)]
    pub url: Option<String>,
    /// Scale factor (1 = about 1 GB of data).
    #[arg(long, default_value_t = 0.01)]
    pub sf: f64,
    /// How to load: auto = COPY if the server accepts it, else INSERT; skip = already loaded.
    #[arg(long, value_enum, default_value_t = LoadMode::Auto)]
    pub load: LoadMode,
    /// Connections loading in parallel. Eight rather than four: at SF 1 on 2 cores OmenDB's load
    /// took 3.84–4.19 s with eight against 3.99–4.32 s with four (four alternating pairs), its
    /// server spending less CPU too; sixteen was no better than eight.
    #[arg(long, default_value_t = 8)]
    pub connections: usize,
    /// Generate all data in memory before loading, so the load time excludes generation.
    #[arg(long)]
    pub pregenerate: bool,
    /// Load by COPY from the existing dbgen `.tbl` files in this directory (as written by
    /// --write-tbl) instead of generating: the load time excludes generation, like DuckDB's
    /// COPY from the same files.
    #[arg(long, conflicts_with = "pregenerate")]
    pub from_tbl: Option<PathBuf>,
    /// After loading, create bench/tpch/pg_indexes.sql's foreign-key indexes and ANALYZE
    /// (what a DBA gives PostgreSQL).
    #[arg(long)]
    pub pg_indexes: bool,
    /// Load (and report the load), but run no queries.
    #[arg(long, conflicts_with = "queries")]
    pub load_only: bool,
    /// Timed runs per query after one warm-up; the report gives their min, median and max.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Only these queries (comma-separated numbers), e.g. --queries 1,6,14.
    #[arg(long, value_delimiter = ',')]
    pub queries: Vec<usize>,
    /// Directory of q01.sql … q22.sql.
    #[arg(long)]
    pub query_dir: Option<PathBuf>,
    /// Seconds after which a query is cancelled and reported as failed.
    #[arg(long, default_value_t = 600)]
    pub timeout: u64,
    /// Also write the data as dbgen .tbl files into this directory (for DuckDB and friends).
    #[arg(long)]
    pub write_tbl: Option<PathBuf>,
    /// A PostgreSQL server to load with the same data and take the reference answers from.
    #[arg(long)]
    pub reference_url: Option<String>,
    /// Write the reference server's answers as CSV into this directory (with --reference-url).
    #[arg(long, requires = "reference_url")]
    pub write_answers: Option<PathBuf>,
    /// Reference answers to check against (default: bench/tpch/answers/sf<SF> when present).
    #[arg(long)]
    pub answers: Option<PathBuf>,
    /// Check against the official SF 1 answers of the TPC-H tools (only with --sf 1; values are
    /// compared trimmed, since those answers pad their own way).
    #[arg(long, conflicts_with_all = ["answers", "reference_url"])]
    pub official_answers: bool,
    /// Name of the system in the report and the result files (default: from its version).
    #[arg(long)]
    pub label: Option<String>,
    /// Where to write tpch-<label>-sf<SF>.json and .csv.
    #[arg(long, default_value_os_t = default_out_dir())]
    pub out: PathBuf,
    /// Shards of the server under test, for the report.
    #[arg(long)]
    pub shards: Option<usize>,
    /// The server's durability setting (e.g. "wal sync on", "synchronous_commit=on"), for the report.
    #[arg(long)]
    pub durability: Option<String>,
    /// The OmenDB commit measured (default: this source tree's HEAD when the server is OmenDB).
    #[arg(long)]
    pub omendb_commit: Option<String>,
}

fn default_out_dir() -> PathBuf {
    let bench = Path::new(env!("CARGO_MANIFEST_DIR"));
    bench.parent().unwrap_or(bench).join("target").join("tpch")
}

/// The committed reference answers for `sf`, if any: bench/tpch/answers/sf<SF>.
pub fn committed_answers_dir(sf: f64) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tpch")
        .join("answers")
        .join(format!("sf{sf}"))
}

/// Runs the harness; `Ok(true)` when everything asked for ran and every checked answer was right.
pub async fn run(args: TpchArgs) -> Result<bool> {
    if args.url.is_none() && args.reference_url.is_none() && args.write_tbl.is_none() {
        bail!("nothing to do: give --url, --reference-url or --write-tbl");
    }
    if !args.sf.is_finite() || args.sf <= 0.0 {
        bail!("--sf must be positive");
    }
    let query_dir = args.query_dir.clone().unwrap_or_else(queries::default_dir);
    let queries = if args.load_only {
        Vec::new()
    } else {
        queries::load(&query_dir, &args.queries)?
    };
    if let Some(dir) = &args.write_tbl {
        write_tbl(dir, args.sf)?;
    }
    let (references, reference_source) = references(&args, &queries).await?;
    let Some(url) = &args.url else {
        return Ok(true);
    };

    let client = client::connect_creating_db(url).await?;
    let version = client::server_version(&client).await;
    drop(client);
    let load = match args.load {
        LoadMode::Skip => None,
        mode => Some(load_with_progress(url, &load_options(&args, mode)).await?),
    };
    let options = RunOptions {
        runs: args.runs,
        timeout: Duration::from_secs(args.timeout),
        trim_values: args.official_answers,
    };
    println!(
        "running {} queries on {url}: 1 warm-up + {} timed runs each",
        queries.len(),
        args.runs
    );
    let outcomes = run::run_queries(url, &queries, &options, &references, print_progress).await;
    let query_reports: Vec<QueryReport> = outcomes.iter().map(QueryReport::from_outcome).collect();
    let summary = report::summarize(&outcomes, &query_reports);
    let is_omendb = version.contains("OmenDB");
    let report = Report {
        system: args
            .label
            .clone()
            .unwrap_or_else(|| default_label(&version)),
        server_version: version,
        sf: args.sf,
        shards: args.shards,
        durability: args.durability.clone(),
        omendb_commit: args
            .omendb_commit
            .clone()
            .or_else(|| is_omendb.then(source_commit).flatten()),
        reference: reference_source,
        load,
        warmups: 1,
        runs: args.runs,
        client_cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        unix_time: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        queries: query_reports,
        summary,
    };
    report.print();
    let path = report.write(&args.out)?;
    println!("wrote {} and .csv", path.display());
    Ok(outcomes.iter().all(run::QueryOutcome::ok))
}

fn load_options(args: &TpchArgs, mode: LoadMode) -> LoadOptions {
    LoadOptions {
        sf: args.sf,
        mode,
        connections: args.connections.max(1),
        pregenerate: args.pregenerate,
        tbl_dir: args.from_tbl.clone(),
        pg_indexes: args.pg_indexes,
    }
}

/// The reference answers: from `--reference-url` (loaded and run now), else from `--answers` or
/// the committed set for this SF; with a description of where they came from.
async fn references(args: &TpchArgs, queries: &[queries::Query]) -> Result<(References, String)> {
    if let Some(url) = &args.reference_url {
        let client = client::connect_creating_db(url).await?;
        let version = client::server_version(&client).await;
        drop(client);
        let mode = if args.load == LoadMode::Skip {
            LoadMode::Skip
        } else {
            LoadMode::Auto
        };
        if mode != LoadMode::Skip {
            let options = LoadOptions {
                pg_indexes: true,
                ..load_options(args, mode)
            };
            load_with_progress(url, &options).await?;
        }
        println!("taking reference answers from {version} at {url}");
        let options = RunOptions {
            runs: 0,
            timeout: Duration::from_secs(args.timeout),
            trim_values: false,
        };
        let outcomes =
            run::run_queries(url, queries, &options, &References::new(), print_progress).await;
        if let Some(dir) = &args.write_answers {
            run::write_references(dir, &outcomes)?;
            println!(
                "wrote {} reference answers to {}",
                outcomes.len(),
                dir.display()
            );
        }
        let mut references = References::new();
        for outcome in outcomes {
            match (outcome.answer, outcome.error) {
                (Some(answer), None) => {
                    references.insert(outcome.number, answer);
                }
                (_, error) => bail!(
                    "the reference server failed {}: {}",
                    queries::name(outcome.number),
                    error.unwrap_or_default()
                ),
            }
        }
        return Ok((references, format!("{version} (same data, run now)")));
    }
    if args.official_answers {
        if args.sf != 1.0 {
            bail!("--official-answers exist only for --sf 1");
        }
        let source = "the official SF 1 answers of the TPC-H tools (values trimmed)".to_owned();
        return Ok((run::official_sf1_references(queries), source));
    }
    let dir = args
        .answers
        .clone()
        .unwrap_or_else(|| committed_answers_dir(args.sf));
    if !dir.is_dir() {
        println!(
            "no reference answers for SF {} ({} missing): answers will NOT be checked",
            args.sf,
            dir.display()
        );
        return Ok((References::new(), "none".to_owned()));
    }
    let references = run::read_references(&dir, queries)?;
    Ok((references, format!("the answers in {}", dir.display())))
}

async fn load_with_progress(url: &str, options: &LoadOptions) -> Result<load::LoadReport> {
    println!(
        "loading SF {} into {url} ({:?}, {} connections)",
        options.sf, options.mode, options.connections
    );
    let progress = ProgressBar::new(0).with_style(progress_style());
    let report = load::load(url, options, &progress).await?;
    let generation = if report.generation_included {
        "generation included"
    } else if report.from_files {
        "generation excluded: read from .tbl files"
    } else {
        "generation excluded"
    };
    println!(
        "loaded {} rows by {} in {:.2} s ({generation})",
        report.rows, report.method, report.load_s
    );
    if let Some(s) = report.indexes_and_analyze_s {
        println!("pg_indexes.sql + ANALYZE: {s:.2} s");
    }
    Ok(report)
}

fn write_tbl(dir: &Path, sf: f64) -> Result<()> {
    println!("writing SF {sf} .tbl files to {}", dir.display());
    let total: u64 = tables::Table::ALL
        .iter()
        .map(|t| t.estimated_rows(sf))
        .sum();
    let progress = ProgressBar::new(total).with_style(progress_style());
    generate::write_tbl_files(dir, sf, |table, rows| {
        progress.set_message(table.name());
        progress.inc(rows);
    })?;
    progress.finish_with_message("written");
    Ok(())
}

fn progress_style() -> ProgressStyle {
    ProgressStyle::with_template("{msg:>10} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} rows ({per_sec}, eta {eta})")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
}

fn print_progress(outcome: &run::QueryOutcome) {
    let median = if outcome.times.is_empty() {
        String::new()
    } else {
        let mut sorted = outcome.times.clone();
        sorted.sort_by(f64::total_cmp);
        format!("{:.4} s", report::median(&sorted))
    };
    let status = match (&outcome.error, &outcome.verdict) {
        (Some(e), _) => format!("ERROR {e}"),
        (None, Some(v)) => v.to_string(),
        (None, None) => "unchecked".to_owned(),
    };
    println!(
        "{} {median:>10} {:>6} rows  {status}",
        outcome.name(),
        outcome.rows
    );
}

fn default_label(version: &str) -> String {
    if version.contains("OmenDB") {
        "omendb".to_owned()
    } else if client::is_postgresql(version) {
        "postgresql".to_owned()
    } else {
        "server".to_owned()
    }
}

/// This source tree's `git rev-parse HEAD` (with `-dirty` when it has changes), if git can tell.
fn source_commit() -> Option<String> {
    let dir = env!("CARGO_MANIFEST_DIR");
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .output()
            .ok()
    };
    let head = git(&["rev-parse", "HEAD"]).filter(|o| o.status.success())?;
    let mut commit = String::from_utf8_lossy(&head.stdout).trim().to_owned();
    if git(&["status", "--porcelain"]).is_some_and(|o| !o.stdout.is_empty()) {
        commit.push_str("-dirty");
    }
    Some(commit).context("no commit").ok()
}
