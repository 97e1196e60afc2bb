//! Lock waits end when the holder's transaction ends, not at the next poll: a statement
//! waiting for a row or unique key another transaction holds is woken by that transaction's
//! commit or rollback (on whichever shard the waiter's session runs), re-reads the row as READ
//! COMMITTED does, and still gives up with 55P03 at `lock_timeout` or stops on a cancel.
//!
//! Timing bounds are generous (hundreds of milliseconds against a holder that keeps its lock
//! for seconds): they tell a wake-up from a timeout, not a fast machine from a slow one.

// Tests stop at the first surprise: an unwrap here is an assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{TestServer, sqlstate, unique_name};
use tokio_postgres::Client;

/// How long the holder keeps its row or key before it ends its transaction.
const HOLD: Duration = Duration::from_secs(2);
/// A waiter must be done this soon after the holder's COMMIT/ROLLBACK returns.
const WAKE_BOUND: Duration = Duration::from_millis(500);
/// Waiters at once: with two shards, some sessions run on the other shard than the row's.
const WAITERS: i64 = 4;

async fn table_with_row(client: &Client, n: i64) -> String {
    let table = unique_name("lockwait");
    client
        .batch_execute(&format!(
            "CREATE TABLE {table} (id bigint PRIMARY KEY, n bigint NOT NULL);
             INSERT INTO {table} VALUES (1, {n})"
        ))
        .await
        .unwrap();
    table
}

/// Start `WAITERS` connections each running `sql`; returns when all have been sent, with the
/// tasks that yield (result, instant it returned).
async fn start_waiters(
    server: &TestServer,
    sql: String,
) -> tokio::task::JoinSet<(Result<u64, tokio_postgres::Error>, Instant)> {
    let mut waiters = tokio::task::JoinSet::new();
    for _ in 0..WAITERS {
        let client = server.connect().await;
        let sql = sql.clone();
        waiters.spawn(async move {
            let result = client.execute(sql.as_str(), &[]).await;
            (result, Instant::now())
        });
    }
    // Let every waiter reach the lock before the holder ends.
    tokio::time::sleep(HOLD).await;
    waiters
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn update_waiters_wake_at_commit_and_see_the_new_value() {
    let server = TestServer::start();
    let holder = server.connect().await;
    let table = table_with_row(&holder, 0).await;
    holder.batch_execute("BEGIN").await.unwrap();
    holder
        .batch_execute(&format!("UPDATE {table} SET n = n + 100 WHERE id = 1"))
        .await
        .unwrap();
    let mut waiters = start_waiters(
        &server,
        format!("UPDATE {table} SET n = n + 1 WHERE id = 1"),
    )
    .await;
    assert!(
        waiters.try_join_next().is_none(),
        "a waiter finished while the row was held"
    );
    holder.batch_execute("COMMIT").await.unwrap();
    let committed = Instant::now();
    while let Some(done) = waiters.join_next().await {
        let (result, at) = done.unwrap();
        assert_eq!(
            result.unwrap(),
            1,
            "the waiter must update the committed row"
        );
        let late = at.saturating_duration_since(committed);
        println!("a waiter returned {late:?} after the commit");
        assert!(
            late < WAKE_BOUND,
            "a waiter returned {late:?} after the commit"
        );
    }
    // Every waiter re-read the row after the commit: none of the increments is lost.
    let n: i64 = holder
        .query_one(&format!("SELECT n FROM {table} WHERE id = 1"), &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 100 + WAITERS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn insert_waiter_wakes_at_rollback_of_the_same_key() {
    let server = TestServer::start();
    let holder = server.connect().await;
    let table = table_with_row(&holder, 0).await;
    holder.batch_execute("BEGIN").await.unwrap();
    holder
        .batch_execute(&format!("INSERT INTO {table} VALUES (2, 7)"))
        .await
        .unwrap();
    let waiter = server.connect().await;
    let sql = format!("INSERT INTO {table} VALUES (2, 8)");
    let insert = tokio::spawn(async move {
        let result = waiter.execute(sql.as_str(), &[]).await;
        (result, Instant::now())
    });
    tokio::time::sleep(HOLD).await;
    assert!(!insert.is_finished(), "the insert did not wait for the key");
    holder.batch_execute("ROLLBACK").await.unwrap();
    let rolled_back = Instant::now();
    let (result, at) = insert.await.unwrap();
    assert_eq!(result.unwrap(), 1);
    let late = at.saturating_duration_since(rolled_back);
    assert!(
        late < WAKE_BOUND,
        "the insert returned {late:?} after the rollback"
    );
    let n: i64 = holder
        .query_one(&format!("SELECT n FROM {table} WHERE id = 2"), &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lock_timeout_still_ends_a_wait_for_a_holder_that_never_ends() {
    const TIMEOUT: Duration = Duration::from_millis(300);
    let server = TestServer::start();
    let holder = server.connect().await;
    let table = table_with_row(&holder, 0).await;
    holder.batch_execute("BEGIN").await.unwrap();
    holder
        .batch_execute(&format!("UPDATE {table} SET n = 5 WHERE id = 1"))
        .await
        .unwrap();
    let waiter = server.connect().await;
    waiter
        .batch_execute("SET lock_timeout = '300ms'")
        .await
        .unwrap();
    let shown: String = waiter
        .query_one("SHOW lock_timeout", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(shown, "300ms");
    let started = Instant::now();
    let err = waiter
        .execute(&format!("UPDATE {table} SET n = 6 WHERE id = 1"), &[])
        .await
        .unwrap_err();
    let waited = started.elapsed();
    assert_eq!(sqlstate(&err), "55P03", "{err:?}");
    assert!(waited >= TIMEOUT, "gave up after {waited:?}");
    assert!(waited < TIMEOUT + HOLD, "gave up only after {waited:?}");
    // The waiter's session is usable and the holder's write is intact.
    holder.batch_execute("COMMIT").await.unwrap();
    let n: i64 = waiter
        .query_one(&format!("SELECT n FROM {table} WHERE id = 1"), &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancel_stops_a_lock_wait() {
    let server = TestServer::start();
    let holder = server.connect().await;
    let table = table_with_row(&holder, 0).await;
    holder.batch_execute("BEGIN").await.unwrap();
    holder
        .batch_execute(&format!("UPDATE {table} SET n = 5 WHERE id = 1"))
        .await
        .unwrap();
    let waiter = server.connect().await;
    let cancel = waiter.cancel_token();
    let sql = format!("UPDATE {table} SET n = 6 WHERE id = 1");
    let update = tokio::spawn(async move { waiter.execute(sql.as_str(), &[]).await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let cancelled = Instant::now();
    cancel.cancel_query(tokio_postgres::NoTls).await.unwrap();
    let err = update.await.unwrap().unwrap_err();
    assert_eq!(sqlstate(&err), "57014", "{err:?}");
    assert!(
        cancelled.elapsed() < HOLD,
        "the cancel took {:?}",
        cancelled.elapsed()
    );
    holder.batch_execute("ROLLBACK").await.unwrap();
}
