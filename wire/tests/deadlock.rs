//! Deadlocks end with 40P01 for one of the transactions after `deadlock_timeout` (a second
//! unless the session sets it), not with a lock timeout: two sessions updating two rows in opposite
//! order (rows on different shards and on the same one), three sessions in a ring, and a
//! unique key against a row. The other transactions go on once the victim rolls back. Run
//! against PostgreSQL with `OMENDB_TEST_URL`, the same outcomes hold.

// Tests stop at the first surprise: an unwrap here is an assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{TestServer, sqlstate, unique_name};
use tokio_postgres::Client;

/// Time for a statement that does not wait to finish, so the next one finds its lock held.
const SETTLE: Duration = Duration::from_millis(300);
/// A deadlock must be reported well before the 10 s lock wait limit.
const DETECT_BOUND: Duration = Duration::from_secs(5);

async fn accounts(server: &TestServer, rows: i64) -> String {
    let table = unique_name("deadlock");
    server
        .connect()
        .await
        .batch_execute(&format!(
            "CREATE TABLE {table} (id bigint PRIMARY KEY, name text UNIQUE, n bigint NOT NULL);\
             INSERT INTO {table} SELECT g, 'n' || g, 0 FROM generate_series(1, {rows}) g"
        ))
        .await
        .unwrap();
    table
}

/// Each session in `order` first takes its own row, then (all at once) the next session's:
/// exactly one must fail with 40P01, the rest commit once it rolls back.
async fn ring(server: &TestServer, table: &str, rows: &[i64]) {
    let mut sessions: Vec<Client> = Vec::new();
    for &r in rows {
        let c = server.connect().await;
        c.batch_execute(&format!(
            "BEGIN; UPDATE {table} SET n = n + 1 WHERE id = {r}"
        ))
        .await
        .unwrap();
        sessions.push(c);
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (i, c) in sessions.into_iter().enumerate() {
        let next = rows[(i + 1) % rows.len()];
        let sql = format!("UPDATE {table} SET n = n + 10 WHERE id = {next}");
        tasks.push(tokio::spawn(async move {
            let result = c.batch_execute(&sql).await;
            let code = result.as_ref().err().map(sqlstate);
            // The victim gives its rows back; the others commit.
            let end = if code.is_some() { "ROLLBACK" } else { "COMMIT" };
            c.batch_execute(end).await.unwrap();
            (code, Instant::now())
        }));
        tokio::time::sleep(SETTLE / 3).await;
    }
    let mut victims = 0;
    for t in tasks {
        let (code, at) = t.await.unwrap();
        assert!(
            at - started < DETECT_BOUND,
            "the deadlock took {:?} to resolve",
            at - started
        );
        match code.as_deref() {
            None => {}
            Some("40P01") => victims += 1,
            Some(other) => panic!("a deadlocked statement failed with {other}"),
        }
    }
    assert_eq!(victims, 1, "exactly one transaction must be chosen");
    // The survivors' both updates are there; the victim's none.
    let total: i64 = server
        .connect()
        .await
        .query_one(&format!("SELECT sum(n)::bigint FROM {table}"), &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(total, 11 * (rows.len() as i64 - 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sessions_updating_two_rows_in_opposite_order() {
    let server = TestServer::start();
    // Several pairs: with two shards some pairs share a shard, some do not.
    for pair in [[1, 2], [3, 4], [5, 6], [7, 8]] {
        let table = accounts(&server, 8).await;
        ring(&server, &table, &pair).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_sessions_in_a_ring() {
    let server = TestServer::start();
    let table = accounts(&server, 3).await;
    ring(&server, &table, &[1, 2, 3]).await;
}

/// Run `sql` on a session in the middle of a transaction: the victim rolls back at once (so
/// the others can go on), the others commit. Returns the SQLSTATE of its failure, if any.
fn finish_in_background(c: Client, sql: String) -> tokio::task::JoinHandle<Option<String>> {
    tokio::spawn(async move {
        let code = c.batch_execute(&sql).await.err().map(|e| sqlstate(&e));
        let end = if code.is_some() { "ROLLBACK" } else { "COMMIT" };
        c.batch_execute(end).await.unwrap();
        code
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unique_key_and_a_row() {
    let server = TestServer::start();
    let table = accounts(&server, 2).await;
    let a = server.connect().await;
    let b = server.connect().await;
    a.batch_execute(&format!(
        "BEGIN; INSERT INTO {table} VALUES (100, 'taken', 0)"
    ))
    .await
    .unwrap();
    b.batch_execute(&format!("BEGIN; UPDATE {table} SET n = 1 WHERE id = 1"))
        .await
        .unwrap();
    let a_done = finish_in_background(a, format!("UPDATE {table} SET n = 2 WHERE id = 1"));
    tokio::time::sleep(SETTLE).await;
    let b_done = finish_in_background(b, format!("INSERT INTO {table} VALUES (101, 'taken', 0)"));
    let codes = [a_done.await.unwrap(), b_done.await.unwrap()];
    // One is the victim; the other goes on after the victim's rollback.
    let victims = codes
        .iter()
        .filter(|c| c.as_deref() == Some("40P01"))
        .count();
    assert_eq!(victims, 1, "{codes:?}");
    assert!(
        codes
            .iter()
            .all(|c| c.is_none() || c.as_deref() == Some("40P01")),
        "{codes:?}"
    );
}

/// `deadlock_timeout` is the session's, as in PostgreSQL: with a `lock_timeout` below it, the
/// first session of a deadlock to wait gives up with 55P03 without looking for the cycle (and
/// the other then goes on); with a short
/// `deadlock_timeout` under a long `lock_timeout`, one is chosen with 40P01. `SHOW` prints the
/// value in PostgreSQL's units and a value out of range is refused with 22023.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadlock_timeout_is_a_session_setting() {
    let server = TestServer::start();
    let c = server.connect().await;
    let shown = |rows: Vec<tokio_postgres::SimpleQueryMessage>| {
        rows.into_iter()
            .find_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
                _ => None,
            })
            .unwrap()
    };
    assert_eq!(
        shown(c.simple_query("SHOW deadlock_timeout").await.unwrap()),
        "1s"
    );
    c.batch_execute("SET deadlock_timeout = '250ms'")
        .await
        .unwrap();
    assert_eq!(
        shown(c.simple_query("SHOW deadlock_timeout").await.unwrap()),
        "250ms"
    );
    for bad in ["0", "'soon'"] {
        let err = c
            .batch_execute(&format!("SET deadlock_timeout = {bad}"))
            .await
            .unwrap_err();
        assert_eq!(sqlstate(&err), "22023", "{bad}");
    }

    for (lock_timeout, deadlock_timeout, want) in [
        ("1500ms", "5s", ["55P03"].as_slice()),
        ("5s", "100ms", ["40P01"].as_slice()),
    ] {
        let table = accounts(&server, 2).await;
        let (a, b) = (server.connect().await, server.connect().await);
        for (c, row) in [(&a, 1), (&b, 2)] {
            c.batch_execute(&format!(
                "SET lock_timeout = '{lock_timeout}'; SET deadlock_timeout = '{deadlock_timeout}'; \
                 BEGIN; UPDATE {table} SET n = n + 1 WHERE id = {row}"
            ))
            .await
            .unwrap();
        }
        let a_done = finish_in_background(a, format!("UPDATE {table} SET n = 2 WHERE id = 2"));
        tokio::time::sleep(SETTLE / 3).await;
        let b_done = finish_in_background(b, format!("UPDATE {table} SET n = 2 WHERE id = 1"));
        let codes = [a_done.await.unwrap(), b_done.await.unwrap()];
        let mut failed: Vec<&str> = codes.iter().flatten().map(String::as_str).collect();
        failed.sort_unstable();
        assert_eq!(
            failed, want,
            "lock_timeout {lock_timeout}, deadlock_timeout {deadlock_timeout}"
        );
    }
}
