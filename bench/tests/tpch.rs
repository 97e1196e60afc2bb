//! TPC-H end to end on the real `omendb` server: load SF 0.01 with the harness's own loader, run
//! the 22 queries, and check every answer against the committed PostgreSQL 15 references in
//! `bench/tpch/answers/sf0.01/`, with 1 shard and with 2 (sharding must not change answers).
//!
//! Why here and not in `wire/tests/`: the generator, loader and checker under test live in this
//! crate with their heavy dependencies (tpchgen, csv, indicatif), and a test in wire would pull
//! them into the server crate's test build. The price is finding the server binary ourselves
//! (`CARGO_BIN_EXE_omendb` is given only to the wire crate's tests): the test asks cargo to build
//! `omendb` for the same profile and target directory first, a no-op when it is up to date, so it
//! never runs a stale server.
//!
//! `OMENDB_TEST_URL=postgres://postgres@127.0.0.1:55432/tpch_test` runs the same checks against
//! any PostgreSQL-wire server instead — against PostgreSQL itself it shows the checker passes a
//! correct system.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::ProgressBar;
use omendb_bench::tpch::answer::Answer;
use omendb_bench::tpch::load::{self, LoadMode, LoadOptions};
use omendb_bench::tpch::run::{self, RunOptions};
use omendb_bench::tpch::tables::Table;
use omendb_bench::tpch::{client, committed_answers_dir, queries};

const SF: f64 = 0.01;
const TEST_URL_ENV: &str = "OMENDB_TEST_URL";
/// How long a fresh server may take to accept connections.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
const READY_POLL: Duration = Duration::from_millis(50);
/// A query slower than this at SF 0.01 is broken, not slow.
const QUERY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a server that dropped a connection may take to finish dying.
const CRASH_GRACE: Duration = Duration::from_secs(5);
/// An external server is shared by the tests of this file, which load the same tables: one at a time.
static EXTERNAL: Mutex<()> = Mutex::new(());
/// Lineitem's rows at SF 0.01 (the other tables' counts follow from the scale factor exactly).
const LINEITEM_ROWS: u64 = 60_175;
/// The server's data-segment limit: SF 0.01 is about 10 MB, so a server that needs more than
/// this is running away (e.g. a cross product), and must not take the shared machine with it.
const SERVER_MEMORY_LIMIT_KIB: u64 = 2 * 1024 * 1024;

#[test]
fn all_22_answers_are_right_with_1_shard() {
    check_all_22(1);
}

#[test]
fn all_22_answers_are_right_with_2_shards() {
    check_all_22(2);
}

/// The load path works today: every table arrives with exactly the rows tpchgen produced.
#[test]
fn loads_sf_0_01_with_exact_row_counts() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let target = Target::start(2);
    let _one_at_a_time = target.exclusive();
    runtime.block_on(async {
        let report = load_sf(&target.url()).await;
        let client = client::connect(&target.url()).await.unwrap();
        let mut total = 0;
        for table in Table::ALL {
            let sql = format!("SELECT count(*) FROM {table}");
            let answer = Answer::from_messages(&client.simple_query(&sql).await.unwrap());
            let count: u64 = answer.rows[0][0].as_deref().unwrap().parse().unwrap();
            let expected = if table == Table::LineItem {
                LINEITEM_ROWS
            } else {
                table.estimated_rows(SF)
            };
            assert_eq!(count, expected, "{table}");
            total += count;
        }
        assert_eq!(report.rows, total);
    });
}

/// Loads SF 0.01, runs each query once and checks it; a query that kills the server is reported
/// with the server's last words, and the server is restarted and reloaded for the next query.
fn check_all_22(shards: usize) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut target = Target::start(shards);
    let _one_at_a_time = target.exclusive();
    runtime.block_on(load_sf(&target.url()));
    let queries = queries::load(&queries::default_dir(), &[]).unwrap();
    let references = run::read_references(&committed_answers_dir(SF), &queries).unwrap();
    assert_eq!(
        references.len(),
        queries::QUERY_COUNT,
        "committed reference answers"
    );
    let options = RunOptions {
        runs: 0,
        timeout: QUERY_TIMEOUT,
        trim_values: false,
    };
    let mut failed = Vec::new();
    for query in &queries {
        let outcome = runtime
            .block_on(run::run_queries(
                &target.url(),
                std::slice::from_ref(query),
                &options,
                &references,
                |_| {},
            ))
            .remove(0);
        let mut status = match (&outcome.error, &outcome.verdict) {
            (Some(e), _) => format!("FAIL error {e}"),
            (None, Some(v)) if v.passed() => format!("pass ({v})"),
            (None, Some(v)) => format!("FAIL {v}"),
            (None, None) => "FAIL no reference".to_owned(),
        };
        // A query that killed the server fails before the process is gone: give it a moment,
        // so the crash is charged to this query, not the next.
        let grace = if outcome.error.is_some() {
            CRASH_GRACE
        } else {
            Duration::ZERO
        };
        let timed_out = outcome
            .error
            .as_deref()
            .is_some_and(|e| e.starts_with("timed out"));
        if let Some(last_words) = target.crashed(grace) {
            status = format!("FAIL the server died: {last_words}");
            target = Target::start(shards);
            runtime.block_on(load_sf(&target.url()));
        } else if timed_out && target.is_child() {
            // The server may still be working on the cancelled query: a fresh one keeps the
            // next queries' timeouts honest.
            target = Target::start(shards);
            runtime.block_on(load_sf(&target.url()));
        }
        println!("{shards} shard(s) {}: {status}", query.name());
        if !status.starts_with("pass") {
            failed.push(query.name());
        }
    }
    let passed = queries.len() - failed.len();
    println!(
        "{shards} shard(s): {passed} of {} queries pass",
        queries.len()
    );
    assert!(
        failed.is_empty(),
        "with {shards} shard(s) these queries fail: {}",
        failed.join(" ")
    );
}

async fn load_sf(url: &str) -> load::LoadReport {
    let options = LoadOptions {
        sf: SF,
        mode: LoadMode::Auto,
        connections: 2,
        pregenerate: false,
        pg_indexes: false,
    };
    load::load(url, &options, &ProgressBar::hidden())
        .await
        .unwrap()
}

/// The server under test: a fresh child `omendb`, or the external server of `OMENDB_TEST_URL`.
enum Target {
    Child(Server),
    External(String),
}

impl Target {
    fn start(shards: usize) -> Target {
        match std::env::var(TEST_URL_ENV) {
            Ok(url) => Target::External(url),
            Err(_) => Target::Child(Server::start(shards)),
        }
    }

    fn url(&self) -> String {
        match self {
            Target::Child(server) => server.url(),
            Target::External(url) => url.clone(),
        }
    }

    fn is_child(&self) -> bool {
        matches!(self, Target::Child(_))
    }

    /// Serializes the tests on a shared external server (they load the same tables).
    fn exclusive(&self) -> Option<std::sync::MutexGuard<'static, ()>> {
        matches!(self, Target::External(_))
            .then(|| EXTERNAL.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// The end of the server's log if the child server has exited (or does within `grace`).
    fn crashed(&mut self, grace: Duration) -> Option<String> {
        match self {
            Target::Child(server) => server.exited(grace),
            Target::External(_) => None,
        }
    }
}

/// A child `omendb` process on a free port with its own data directory; killed on drop.
struct Server {
    child: Child,
    port: u16,
    data_dir: PathBuf,
    log: PathBuf,
}

impl Server {
    fn start(shards: usize) -> Server {
        let binary = omendb_binary();
        let port = free_port();
        let data_dir =
            std::env::temp_dir().join(format!("omendb-tpch-test-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&data_dir).unwrap();
        let log = data_dir.with_extension("log");
        let out = std::fs::File::create(&log).unwrap();
        // `sh -c 'ulimit -d N && exec omendb …'`: the limit applies to the server alone.
        let child = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "ulimit -d {SERVER_MEMORY_LIMIT_KIB} && exec \"$0\" \"$@\""
            ))
            .arg(&binary)
            .args([
                "--port",
                &port.to_string(),
                "--listen",
                "127.0.0.1",
                "--shards",
                &shards.to_string(),
            ])
            .arg("--data-dir")
            .arg(&data_dir)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", binary.display()));
        let mut server = Server {
            child,
            port,
            data_dir,
            log,
        };
        server.wait_ready();
        server
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// The exit status and the last lines of the log, if the process exits within `grace`.
    fn exited(&mut self, grace: Duration) -> Option<String> {
        /// Lines of the log worth showing.
        const TAIL: usize = 3;
        let deadline = Instant::now() + grace;
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() < deadline => std::thread::sleep(READY_POLL),
                _ => return None,
            }
        };
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let tail = lines[lines.len().saturating_sub(TAIL)..].join(" / ");
        Some(format!("{status}; log: {tail}"))
    }

    fn wait_ready(&mut self) {
        let log = &self.log;
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + READY_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "omendb exited with {status}:\n{}",
                    std::fs::read_to_string(log).unwrap_or_default()
                );
            }
            if TcpStream::connect_timeout(&addr, READY_POLL).is_ok() {
                return;
            }
            std::thread::sleep(READY_POLL);
        }
        panic!(
            "omendb not ready on {addr}:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data_dir);
        let _ = std::fs::remove_file(self.data_dir.with_extension("log"));
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// `OMENDB_BIN` if set; otherwise `omendb` built now by cargo for this test's own profile and
/// target directory (this test runs from `<target>/<profile>/deps/`).
fn omendb_binary() -> PathBuf {
    if let Ok(path) = std::env::var("OMENDB_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).unwrap().to_path_buf();
    let target_dir = profile_dir.parent().unwrap();
    let profile = profile_dir.file_name().unwrap().to_str().unwrap();
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut build = Command::new(env!("CARGO"));
    build
        .current_dir(workspace)
        .args([
            "build",
            "--quiet",
            "-p",
            "omendb-wire",
            "--bin",
            "omendb",
            "--target-dir",
        ])
        .arg(target_dir);
    match profile {
        "debug" => {}
        "release" => {
            build.arg("--release");
        }
        other => {
            build.args(["--profile", other]);
        }
    }
    let status = build.status().expect("run cargo build for omendb");
    assert!(
        status.success(),
        "cargo build -p omendb-wire --bin omendb failed"
    );
    let binary = profile_dir.join(format!("omendb{}", std::env::consts::EXE_SUFFIX));
    assert!(
        binary.exists(),
        "{} missing after the build",
        binary.display()
    );
    binary
}
