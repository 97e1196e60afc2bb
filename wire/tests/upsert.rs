//! `INSERT … ON CONFLICT` under concurrency, as PostgreSQL 15 behaves (run these against it
//! with `OMENDB_TEST_URL`):
//! * READ COMMITTED: a session inserting a key another transaction has inserted but not
//!   committed waits for it; after its COMMIT the row is the conflict (DO NOTHING skips, DO
//!   UPDATE updates the committed row); after its ROLLBACK the row is inserted.
//! * REPEATABLE READ: a conflicting row committed after the snapshot is a serialization
//!   failure (40001) for DO UPDATE.
//! * Many clients upserting the same counters at once lose no increment, on the primary key
//!   and on a UNIQUE column, with keys on every shard.

// Tests stop at the first surprise: an unwrap here is an assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{TestServer, sqlstate, unique_name};

/// Long enough for a statement that does not wait to have finished.
const BLOCK_PROBE: Duration = Duration::from_millis(700);
const CLIENTS: usize = 6;
const ROUNDS: usize = 40;
const KEYS: i64 = 8;

async fn counter_table(server: &TestServer) -> String {
    let table = unique_name("upsert");
    server
        .connect()
        .await
        .batch_execute(&format!(
            "CREATE TABLE {table} (k bigint PRIMARY KEY, name text UNIQUE, n bigint NOT NULL)"
        ))
        .await
        .unwrap();
    table
}

/// A holder inserts key 1 in an open transaction; a second session's upsert `sql` must wait
/// until the holder ends with `end`; returns the waiter's affected-row count and the row.
async fn wait_for_holder(sql: &str, end: &str) -> (u64, Vec<(i64, i64)>) {
    let server = TestServer::start();
    let table = counter_table(&server).await;
    let holder = server.connect().await;
    holder
        .batch_execute(&format!(
            "BEGIN; INSERT INTO {table} VALUES (1, 'one', 100)"
        ))
        .await
        .unwrap();
    let waiter = server.connect().await;
    let sql = sql.replace("{t}", &table);
    let waiting = tokio::spawn(async move { waiter.execute(sql.as_str(), &[]).await });
    tokio::time::sleep(BLOCK_PROBE).await;
    assert!(
        !waiting.is_finished(),
        "the upsert did not wait for the holder"
    );
    holder.batch_execute(end).await.unwrap();
    let count = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("the upsert did not finish after the holder ended")
        .unwrap()
        .unwrap();
    let rows = holder
        .query(&format!("SELECT k, n FROM {table} ORDER BY k"), &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    (count, rows)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn do_nothing_waits_for_the_inserter_then_skips() {
    let sql = "INSERT INTO {t} VALUES (1, 'uno', 5) ON CONFLICT DO NOTHING";
    assert_eq!(wait_for_holder(sql, "COMMIT").await, (0, vec![(1, 100)]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn do_nothing_inserts_after_the_inserter_rolls_back() {
    let sql = "INSERT INTO {t} VALUES (1, 'uno', 5) ON CONFLICT (k) DO NOTHING";
    assert_eq!(wait_for_holder(sql, "ROLLBACK").await, (1, vec![(1, 5)]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn do_update_waits_for_the_inserter_then_updates_its_row() {
    let sql = "INSERT INTO {t} VALUES (1, 'uno', 5) ON CONFLICT (k) DO UPDATE \
               SET n = {t}.n + excluded.n";
    assert_eq!(wait_for_holder(sql, "COMMIT").await, (1, vec![(1, 105)]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn do_update_on_a_unique_column_waits_for_the_inserter() {
    let sql = "INSERT INTO {t} VALUES (2, 'one', 5) ON CONFLICT (name) DO UPDATE \
               SET n = {t}.n + excluded.n";
    assert_eq!(wait_for_holder(sql, "COMMIT").await, (1, vec![(1, 105)]));
    let sql = "INSERT INTO {t} VALUES (2, 'one', 5) ON CONFLICT (name) DO UPDATE SET n = 0";
    assert_eq!(wait_for_holder(sql, "ROLLBACK").await, (1, vec![(2, 5)]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeatable_read_refuses_to_update_a_row_committed_after_its_snapshot() {
    let server = TestServer::start();
    let table = counter_table(&server).await;
    let reader = server.connect().await;
    reader
        .batch_execute(&format!(
            "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM {table}"
        ))
        .await
        .unwrap();
    let other = server.connect().await;
    other
        .batch_execute(&format!("INSERT INTO {table} VALUES (1, 'one', 1)"))
        .await
        .unwrap();
    let e = reader
        .batch_execute(&format!(
            "INSERT INTO {table} VALUES (1, 'uno', 2) ON CONFLICT (k) DO UPDATE SET n = 0"
        ))
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "40001", "{e:?}");
    reader.batch_execute("ROLLBACK").await.unwrap();
    // DO NOTHING too: the snapshot cannot see the row it would skip for.
    reader
        .batch_execute(&format!(
            "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM {table}"
        ))
        .await
        .unwrap();
    other
        .batch_execute(&format!("INSERT INTO {table} VALUES (2, 'two', 1)"))
        .await
        .unwrap();
    let e = reader
        .batch_execute(&format!(
            "INSERT INTO {table} VALUES (2, 'dos', 2) ON CONFLICT DO NOTHING"
        ))
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "40001", "{e:?}");
    reader.batch_execute("ROLLBACK").await.unwrap();
    // A row the snapshot sees may be updated.
    reader
        .batch_execute(&format!(
            "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM {table};\
             INSERT INTO {table} VALUES (1, 'uno', 2) ON CONFLICT (k) DO UPDATE SET n = 7;\
             COMMIT"
        ))
        .await
        .unwrap();
    let n: i64 = reader
        .query_one(&format!("SELECT n FROM {table} WHERE k = 1"), &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 7);
}

/// Every client bumps every counter `ROUNDS` times; half the statements name the primary
/// key, half the UNIQUE column, some in multi-statement transactions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_upserts_lose_no_increment() {
    let server = TestServer::start();
    let table = counter_table(&server).await;
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let mut client = server.connect().await;
        let table = table.clone();
        tasks.push(tokio::spawn(async move {
            let by_key = format!(
                "INSERT INTO {table} VALUES ($1, $2, 1) \
                 ON CONFLICT (k) DO UPDATE SET n = {table}.n + 1"
            );
            let by_name = format!(
                "INSERT INTO {table} VALUES ($1, $2, 1) \
                 ON CONFLICT (name) DO UPDATE SET n = {table}.n + excluded.n"
            );
            for round in 0..ROUNDS {
                let sql = if (round + c) % 2 == 0 {
                    &by_key
                } else {
                    &by_name
                };
                if round % 5 == 0 {
                    // Two keys in one transaction, in an order that differs by client.
                    let (a, b) = ((round as i64 + c as i64) % KEYS, (round as i64) % KEYS);
                    let tx = client.transaction().await.unwrap();
                    for k in 0..KEYS {
                        if k != a && k != b {
                            tx.execute(sql.as_str(), &[&k, &format!("key{k}")])
                                .await
                                .unwrap();
                        }
                    }
                    tx.commit().await.unwrap();
                    for k in [a, b].iter().take(if a == b { 1 } else { 2 }) {
                        client
                            .execute(sql.as_str(), &[k, &format!("key{k}")])
                            .await
                            .unwrap();
                    }
                } else {
                    for k in 0..KEYS {
                        client
                            .execute(sql.as_str(), &[&k, &format!("key{k}")])
                            .await
                            .unwrap();
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let check = server.connect().await;
    let rows = check
        .query(&format!("SELECT k, name, n FROM {table} ORDER BY k"), &[])
        .await
        .unwrap();
    let got: Vec<(i64, String, i64)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let want: Vec<(i64, String, i64)> = (0..KEYS)
        .map(|k| (k, format!("key{k}"), (CLIENTS * ROUNDS) as i64))
        .collect();
    assert_eq!(got, want);
}

/// Parameters in VALUES, SET and WHERE of a prepared upsert, their types inferred.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepared_upsert_with_parameters_everywhere() {
    let server = TestServer::start();
    let table = counter_table(&server).await;
    let client = server.connect().await;
    let upsert = client
        .prepare(&format!(
            "INSERT INTO {table} VALUES ($1, $2, $3) ON CONFLICT (k) DO UPDATE \
             SET n = {table}.n + $4, name = excluded.name WHERE {table}.n < $5 \
             RETURNING k, name, n"
        ))
        .await
        .unwrap();
    let run = |k: i64, name: &'static str, n: i64, add: i64, limit: i64| {
        let (client, upsert) = (&client, &upsert);
        async move {
            client
                .query(upsert, &[&k, &name, &n, &add, &limit])
                .await
                .unwrap()
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2)))
                .collect::<Vec<(i64, String, i64)>>()
        }
    };
    assert_eq!(run(1, "a", 5, 0, 0).await, vec![(1, "a".to_string(), 5)]);
    assert_eq!(
        run(1, "b", 0, 10, 100).await,
        vec![(1, "b".to_string(), 15)]
    );
    assert_eq!(run(1, "c", 0, 10, 15).await, vec![]);
    assert_eq!(run(2, "c", 7, 0, 0).await, vec![(2, "c".to_string(), 7)]);
}
