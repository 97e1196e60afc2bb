//! Row lock waiters that have waited a while are served first come, first served: statements
//! that line up for a row another transaction holds get it in the order they arrived, one at a
//! time, once the first of them has waited `row_queues::STARVATION_LIMIT` (fresh waiters race).
//! (PostgreSQL 15 does not promise this order: run against it, the test reports another one.)
//!
//! Each waiter appends its number to the row in its own transaction and holds the row a moment
//! before committing, so an overtaking waiter would show in the row's final value.

// Tests stop at the first surprise: an unwrap here is an assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{TestServer, rows, unique_name};
use std::time::Duration;

/// Waiters lining up; with two shards, their sessions run on both.
const WAITERS: usize = 6;
/// Gap between two waiters' arrivals: enough for each to reach the row before the next.
const ARRIVAL_GAP: Duration = Duration::from_millis(150);
/// How long each waiter keeps the row before it commits.
const HOLD: Duration = Duration::from_millis(40);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn waiters_get_a_row_in_arrival_order() {
    let server = TestServer::start();
    if server.is_external() {
        return; // The order is OmenDB's promise, not PostgreSQL's.
    }
    let holder = server.connect().await;
    let t = unique_name("lockq");
    holder
        .batch_execute(&format!(
            "CREATE TABLE {t} (id integer PRIMARY KEY, log text NOT NULL); \
             INSERT INTO {t} VALUES (1, 'h')"
        ))
        .await
        .unwrap();
    holder
        .batch_execute(&format!("BEGIN; UPDATE {t} SET log = log WHERE id = 1"))
        .await
        .unwrap();
    let mut waiters = Vec::new();
    for k in 1..=WAITERS {
        let client = server.connect().await;
        let t = t.clone();
        waiters.push(tokio::spawn(async move {
            client
                .batch_execute(&format!(
                    "BEGIN; UPDATE {t} SET log = log || ',{k}' WHERE id = 1"
                ))
                .await
                .unwrap();
            tokio::time::sleep(HOLD).await;
            client.batch_execute("COMMIT").await.unwrap();
        }));
        tokio::time::sleep(ARRIVAL_GAP).await;
    }
    holder.batch_execute("COMMIT").await.unwrap();
    for w in waiters {
        w.await.unwrap();
    }
    let expected: Vec<String> = std::iter::once("h".to_string())
        .chain((1..=WAITERS).map(|k| k.to_string()))
        .collect();
    assert_eq!(
        rows(&holder, &format!("SELECT log FROM {t}")).await,
        [expected.join(",")]
    );
}
