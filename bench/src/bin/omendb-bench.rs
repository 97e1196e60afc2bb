//! `omendb-bench`: OmenDB's benchmark drivers. `omendb-bench tpch --help` for TPC-H.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
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
    Tpch(TpchArgs),
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
        Command::Tpch(args) => runtime.block_on(tpch::run(args)),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("omendb-bench: some queries failed or answered wrongly (see above)");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("omendb-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}
