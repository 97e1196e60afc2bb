//! TPC-C end to end on the real `omendb` server: load one warehouse with the driver's own loader,
//! run two terminals for about ten seconds, and check that consistency conditions 1–4 of clause
//! 3.3.2 hold afterwards and that every transaction type completed without errors.
//!
//! `OMENDB_TEST_URL=postgres://postgres@127.0.0.1:55432/tpcc_test` runs the same test against
//! any PostgreSQL-wire server instead (it drops and reloads the TPC-C tables there).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod common;

use common::Server;
use omendb_bench::tpcc::{self, TpccArgs};

const TEST_URL_ENV: &str = "OMENDB_TEST_URL";
const SHARDS: usize = 2;
/// Seconds of measurement; every transaction type is drawn within the first few seconds.
const DURATION_S: u64 = 10;
const TERMINALS: u32 = 2;

#[test]
fn one_warehouse_two_terminals_stay_consistent() {
    let server = std::env::var(TEST_URL_ENV)
        .is_err()
        .then(|| Server::start(SHARDS));
    let url = match &server {
        Some(server) => server.url(),
        None => std::env::var(TEST_URL_ENV).unwrap(),
    };
    let out = std::env::temp_dir().join(format!("omendb-tpcc-test-{}", std::process::id()));
    let args = TpccArgs {
        url,
        warehouses: 1,
        terminals: TERMINALS,
        duration: DURATION_S,
        warmup: 0,
        load: true,
        skip_load: false,
        load_connections: 2,
        label: None,
        out: out.clone(),
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let report = runtime.block_on(tpcc::execute(&args)).unwrap();
    println!("{}", report.markdown());
    let load = report.load.as_ref().unwrap();
    // 1 warehouse: 100,000 items and stock rows, 30,000 customers, history rows and orders,
    // 9,000 new orders, 10 districts, 1 warehouse, and 5–15 lines per order.
    let fixed = 100_000 * 2 + 30_000 * 3 + 9_000 + 10 + 1;
    assert!(
        (fixed + 150_000..=fixed + 450_000).contains(&load.rows),
        "loaded {} rows",
        load.rows
    );
    for condition in &report.consistency {
        assert!(
            condition.passed,
            "consistency condition {} ({}) fails: {}",
            condition.number, condition.text, condition.detail
        );
    }
    for t in &report.transactions {
        // New-Order and Payment are 88% of the deck: some always complete. The three 4%
        // transactions may not be dealt at all in a short run on a busy CI machine (a run of
        // 19 transactions dealt no Order-Status), so only their errors are checked here.
        if matches!(t.name.as_str(), "New-Order" | "Payment") {
            assert!(t.completed > 0, "no {} completed", t.name);
        }
        assert_eq!(t.errors, 0, "{} failed: {:?}", t.name, t.error_samples);
    }
    let all: u64 = report.transactions.iter().map(|t| t.completed).sum();
    assert!(all >= 10, "only {all} transactions completed");
    assert!(report.tpmc > 0.0);
    let paths = report.write(&out).unwrap();
    assert!(paths.iter().all(|p| p.exists()));
    let _ = std::fs::remove_dir_all(&out);
}
