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

mod common;

use std::sync::Mutex;
use std::time::Duration;

use common::Server;

use indicatif::ProgressBar;
use omendb_bench::tpch::answer::Answer;
use omendb_bench::tpch::load::{self, LoadMode, LoadOptions};
use omendb_bench::tpch::run::{self, RunOptions};
use omendb_bench::tpch::tables::Table;
use omendb_bench::tpch::{client, committed_answers_dir, queries};

const SF: f64 = 0.01;
const TEST_URL_ENV: &str = "OMENDB_TEST_URL";
/// A query slower than this at SF 0.01 is broken, not slow.
const QUERY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a server that dropped a connection may take to finish dying.
const CRASH_GRACE: Duration = Duration::from_secs(5);
/// An external server is shared by the tests of this file, which load the same tables: one at a time.
static EXTERNAL: Mutex<()> = Mutex::new(());
/// Lineitem's rows at SF 0.01 (the other tables' counts follow from the scale factor exactly).
const LINEITEM_ROWS: u64 = 60_175;

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
        tbl_dir: None,
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
