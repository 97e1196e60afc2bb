//! `omendb-bench`: OmenDB's benchmark drivers. `omendb-bench tpch --help` for TPC-H,
//! `omendb-bench tpcc --help` for TPC-C;
//! `commits` and `copy` measure durable commits and bulk loads beside PostgreSQL
//! (`scripts/bench-durability.sh` runs them).

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use omendb_bench::tpcc::{self, TpccArgs};
use omendb_bench::tpch::{self, TpchArgs};

#[derive(Parser)]
#[command(
    name = "omendb-bench",
    version,
    about = "Benchmarks for OmenDB and its peers over the PostgreSQL wire protocol"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// TPC-H: generate, load, run the 22 queries, check every answer, report times.
    Tpch(Box<TpchArgs>),
    /// TPC-C: load N warehouses, run the five transactions from terminals, report tpmC and
    /// response times, check consistency conditions 1-4.
    Tpcc(Box<TpccArgs>),
    /// Single-row INSERT commits/s with 1, 8 and 64 clients, OmenDB and PostgreSQL alternately.
    Commits {
        omendb_url: String,
        postgres_url: String,
        /// Seconds per run.
        #[arg(default_value_t = 5)]
        seconds: u64,
        /// Runs per server and client count.
        #[arg(default_value_t = 3)]
        rounds: usize,
    },
    /// COPY FROM STDIN of TPC-H lineitem into OmenDB and PostgreSQL from the same file.
    Copy {
        omendb_url: String,
        postgres_url: String,
        /// The `|`-separated data file (generated first if missing).
        data_file: std::path::PathBuf,
        /// Scale factor used when generating.
        #[arg(default_value_t = 1.0)]
        sf: f64,
        #[arg(default_value_t = 1)]
        rounds: usize,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("omendb-bench: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        Command::Tpch(args) => runtime.block_on(tpch::run(*args)),
        Command::Tpcc(args) => runtime.block_on(tpcc::run(*args)),
        Command::Commits {
            omendb_url,
            postgres_url,
            seconds,
            rounds,
        } => runtime
            .block_on(omendb_bench::commits::run(
                &omendb_url,
                &postgres_url,
                seconds,
                rounds,
            ))
            .map(|()| true),
        Command::Copy {
            omendb_url,
            postgres_url,
            data_file,
            sf,
            rounds,
        } => runtime
            .block_on(omendb_bench::copy::run(
                &omendb_url,
                &postgres_url,
                &data_file,
                sf,
                rounds,
            ))
            .map(|()| true),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("omendb-bench: some queries or checks failed (see above)");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("omendb-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}
