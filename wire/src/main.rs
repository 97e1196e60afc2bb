//! `omendb`: the server binary. Parses the command line, checks the machine, locks the data
//! directory, starts the engine's shards and serves PostgreSQL clients on every one of them.
//!
//! Exit codes: 0 after a clean stop, 1 when the server cannot start (environment, port, data
//! directory), 2 for a bad command line.

use omendb_engine::Engine;
use omendb_engine::durable::{self, StorageConfig, SyncMode};
use omendb_engine::runtime::{self, DataDirLock, RuntimeConfig, check_environment};
use omendb_wire::server::{Command, Options, USAGE, handle_connection, parse_args};
use omendb_wire::session::WireConfig;
use std::process::ExitCode;
use std::sync::Arc;

/// mimalloc instead of glibc malloc: a COPY profile spent ~20% in glibc's free-list upkeep
/// (`unlink_chunk`, `malloc_consolidate`) for rows parsed on one shard and freed on another.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Turn transparent huge pages off for this process. mimalloc asks for them on its arenas,
/// and every first touch of a 2 MiB region then clears the whole huge page: loading TPC-H SF 1
/// spent 23% of the server's CPU in `clear_page_erms`, for buffers that live one segment long.
/// Without them the peak resident set of that load fell from 1.50–1.54 GB to 1.36–1.39 GB; the
/// load's server CPU went from 15.1–16.9 s to 13.2–16.9 s (median 14.4 s; the machine is
/// noisy), and the 22 queries' CPU stayed within noise.
fn disable_transparent_huge_pages() {
    // SAFETY: PR_SET_THP_DISABLE takes plain integer arguments and touches no memory of ours.
    let rc = unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
    if rc != 0 {
        tracing::warn!(
            "cannot disable transparent huge pages ({}): loads may spend more time clearing pages",
            std::io::Error::last_os_error()
        );
    }
}

const BAD_USAGE: u8 = 2;
const CANNOT_START: u8 = 1;

fn main() -> ExitCode {
    match parse_args(std::env::args().skip(1)) {
        Ok(Command::Help) => {
            print!("{USAGE}");
            ExitCode::SUCCESS
        }
        Ok(Command::Version) => {
            println!("omendb {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Ok(Command::Serve(options)) => serve(options),
        Err(e) => {
            eprintln!("omendb: {e}\n\n{USAGE}");
            ExitCode::from(BAD_USAGE)
        }
    }
}

fn serve(options: Options) -> ExitCode {
    let filter = match tracing_subscriber::EnvFilter::try_new(&options.log) {
        Ok(filter) => filter,
        Err(e) => {
            eprintln!("omendb: invalid --log {:?}: {e}", options.log);
            return ExitCode::from(BAD_USAGE);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    disable_transparent_huge_pages();
    let auth = match options.auth() {
        Ok(auth) => auth,
        Err(e) => {
            eprintln!("omendb: {e}");
            return ExitCode::from(BAD_USAGE);
        }
    };
    let shards = options.shards.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    let listen = options.address();
    let io_memory = match check_environment(shards, listen) {
        Ok(io_memory) => io_memory,
        Err(e) => return cannot_start(e),
    };
    // The shards open files through io_uring, which cannot resolve a relative path against the
    // working directory (EBADF): from here on the data directory is absolute.
    let options = match std::path::absolute(&options.data_dir) {
        Ok(data_dir) => Options {
            data_dir,
            ..options
        },
        Err(e) => {
            return cannot_start(format!(
                "data directory {}: {e}",
                options.data_dir.display()
            ));
        }
    };
    let _lock = match DataDirLock::acquire(&options.data_dir) {
        Ok(lock) => lock,
        Err(e) => return cannot_start(e),
    };
    let storage = StorageConfig {
        dir: options.data_dir.clone(),
        sync: if options.sync {
            SyncMode::On
        } else {
            SyncMode::Off
        },
    };
    let engine = Engine::durable(shards, storage, options.index);
    let config = Arc::new(WireConfig::new(auth));
    tracing::info!(
        "OmenDB {} listening on {listen} with {shards} shard(s), data directory {}, WAL sync {}, {} authentication",
        env!("CARGO_PKG_VERSION"),
        options.data_dir.display(),
        if options.sync {
            "on"
        } else {
            "OFF (commits are not durable)"
        },
        if config.auth.is_trust() {
            "trust"
        } else {
            "SCRAM-SHA-256"
        },
    );
    let runtime_config = RuntimeConfig {
        shards,
        listen,
        io_memory,
    };
    let result = runtime::serve(
        runtime_config,
        move |id| engine.shard_state(id),
        |shard| async move { durable::recover(&shard).await },
        |shard| async move { durable::shutdown(&shard).await },
        move |shard, stream| handle_connection(shard, stream, config.clone()),
    );
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => cannot_start(e),
    }
}

fn cannot_start(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("omendb: {e}");
    ExitCode::from(CANNOT_START)
}
