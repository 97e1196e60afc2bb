//! 200 concurrent connections, each running 100 statements (INSERT, UPDATE and SELECT, through
//! both protocols) on one shared table, against a two-shard server. Every statement must
//! succeed with the right row count or value, and the final table must hold exactly what all
//! connections wrote.
//!
//! Connections are accepted on whichever shard the kernel's SO_REUSEPORT hash picks, so 200
//! of them land on both shards; rows are placed by the hash of their key, so every connection
//! also reads and writes rows owned by the other shard.

// Tests stop at the first surprise: an unwrap here is an assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Instant;

use common::{TestServer, unique_name};
use tokio_postgres::{Client, SimpleQueryMessage};

const CONNECTIONS: i32 = 200;
const STATEMENTS_PER_CONNECTION: i32 = 100;
/// Statements per round: insert, update (extended), read back, update (simple), aggregate.
const ROUND: i32 = 5;
const ROUNDS: i32 = STATEMENTS_PER_CONNECTION / ROUND;
/// Key space of one connection: its rows are `conn * KEY_STRIDE + round`.
const KEY_STRIDE: i64 = 1000;
/// Each round adds 1 through the extended protocol and 10 through the simple one.
const ADDED_PER_ROUND: i64 = 11;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_connections_times_one_hundred_statements() {
    let server = TestServer::start_with_shards(2);
    let admin = server.connect().await;
    let table = unique_name("conc_t");
    admin
        .batch_execute(&format!(
            "CREATE TABLE {table} (id bigint PRIMARY KEY, conn integer NOT NULL, n bigint NOT NULL, note text)"
        ))
        .await
        .unwrap();

    // Connect everything first, so the statements really run concurrently.
    let mut clients = Vec::new();
    for _ in 0..CONNECTIONS {
        clients.push(server.connect().await);
    }
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for (conn, client) in (0..CONNECTIONS).zip(clients) {
        let table = table.clone();
        tasks.spawn(async move { run_connection(client, conn, &table).await });
    }
    let mut statements = 0;
    while let Some(done) = tasks.join_next().await {
        statements += done.expect("a connection task panicked");
    }
    let elapsed = started.elapsed();
    assert_eq!(statements, CONNECTIONS * STATEMENTS_PER_CONNECTION);
    println!(
        "{statements} statements on {CONNECTIONS} connections in {elapsed:?} ({:.0} statements/s)",
        f64::from(statements) / elapsed.as_secs_f64()
    );

    check_final_state(&admin, &table).await;
    admin
        .batch_execute(&format!("DROP TABLE {table}"))
        .await
        .unwrap();
}

/// Runs one connection's statements and returns how many it ran; panics on any wrong answer.
async fn run_connection(client: Client, conn: i32, table: &str) -> i32 {
    let insert = client
        .prepare(&format!(
            "INSERT INTO {table} (id, conn, n, note) VALUES ($1, $2, 0, $3)"
        ))
        .await
        .unwrap();
    let update = client
        .prepare(&format!("UPDATE {table} SET n = n + 1 WHERE id = $1"))
        .await
        .unwrap();
    let read = client
        .prepare(&format!("SELECT n, note FROM {table} WHERE id = $1"))
        .await
        .unwrap();
    let mut ran = 0;
    for round in 0..ROUNDS {
        let id = i64::from(conn) * KEY_STRIDE + i64::from(round);
        let note = format!("conn {conn} round {round}");
        let inserted = client
            .execute(&insert, &[&id, &conn, &note])
            .await
            .unwrap_or_else(|e| panic!("conn {conn} insert {id}: {e:?}"));
        assert_eq!(inserted, 1);
        let updated = client
            .execute(&update, &[&id])
            .await
            .unwrap_or_else(|e| panic!("conn {conn} update {id}: {e:?}"));
        assert_eq!(updated, 1);
        let row = client
            .query_one(&read, &[&id])
            .await
            .unwrap_or_else(|e| panic!("conn {conn} read {id}: {e:?}"));
        assert_eq!(row.get::<_, i64>(0), 1);
        assert_eq!(row.get::<_, String>(1), note);
        let simple_update = client
            .simple_query(&format!(
                "UPDATE {table} SET n = n + 10 WHERE id = {id} AND conn = {conn}"
            ))
            .await
            .unwrap_or_else(|e| panic!("conn {conn} simple update {id}: {e:?}"));
        assert_eq!(command_count(&simple_update), Some(1));
        let totals = client
            .query_one(
                &format!("SELECT count(*), sum(n) FROM {table} WHERE conn = $1"),
                &[&conn],
            )
            .await
            .unwrap_or_else(|e| panic!("conn {conn} aggregate: {e:?}"));
        let rows_so_far = i64::from(round) + 1;
        assert_eq!(totals.get::<_, i64>(0), rows_so_far);
        assert_eq!(
            totals.get::<_, rust_decimal::Decimal>(1),
            rust_decimal::Decimal::from(rows_so_far * ADDED_PER_ROUND)
        );
        ran += ROUND;
    }
    ran
}

fn command_count(messages: &[SimpleQueryMessage]) -> Option<u64> {
    messages.iter().find_map(|m| match m {
        SimpleQueryMessage::CommandComplete(n) => Some(*n),
        _ => None,
    })
}

async fn check_final_state(admin: &Client, table: &str) {
    let row = admin
        .query_one(
            &format!("SELECT count(*), count(DISTINCT conn), sum(n) FROM {table}"),
            &[],
        )
        .await
        .unwrap();
    let rows = i64::from(CONNECTIONS * ROUNDS);
    assert_eq!(row.get::<_, i64>(0), rows, "rows in the table");
    assert_eq!(
        row.get::<_, i64>(1),
        i64::from(CONNECTIONS),
        "distinct connections"
    );
    assert_eq!(
        row.get::<_, rust_decimal::Decimal>(2),
        rust_decimal::Decimal::from(rows * ADDED_PER_ROUND),
        "sum of counters"
    );
    let uneven = admin
        .query(
            &format!("SELECT conn, count(*) FROM {table} GROUP BY conn HAVING count(*) <> $1"),
            &[&i64::from(ROUNDS)],
        )
        .await
        .unwrap();
    assert!(
        uneven.is_empty(),
        "connections with a wrong row count: {}",
        uneven.len()
    );
}
