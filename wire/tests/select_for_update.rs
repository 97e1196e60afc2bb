//! `SELECT … FOR UPDATE` takes the row lock an UPDATE takes and keeps it to the end of the
//! transaction: a second locker or writer of the row waits until the first commits, then sees
//! the committed value — what TPC-C's read-modify-write steps (New-Order's district counter and
//! stock rows, Delivery's oldest new order) rely on to lose no update.
//!
//! Timing bounds are generous: they tell a wait from no wait, not a fast machine from a slow one.

// Tests stop at the first surprise: an unwrap here is an assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{TestServer, unique_name};
use tokio_postgres::Client;

/// How long the first locker keeps its lock before it commits.
const HOLD: Duration = Duration::from_millis(1500);
/// Read-modify-write transactions racing on one counter.
const RACERS: i64 = 6;
const ROUNDS: i64 = 10;

async fn counter_table(client: &Client) -> String {
    let table = unique_name("forupdate");
    client
        .batch_execute(&format!(
            "CREATE TABLE {table} (w integer NOT NULL, d integer NOT NULL, next integer NOT NULL, \
             PRIMARY KEY (w, d)); INSERT INTO {table} VALUES (1, 1, 1), (1, 2, 1)"
        ))
        .await
        .unwrap();
    table
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_locked_row_makes_a_writer_wait_until_commit() {
    let server = TestServer::start();
    let holder = server.connect().await;
    let table = counter_table(&holder).await;
    holder.batch_execute("BEGIN").await.unwrap();
    let next: i32 = holder
        .query_one(
            &format!("SELECT next FROM {table} WHERE w = 1 AND d = 1 FOR UPDATE"),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(next, 1);
    let writer = server.connect().await;
    let sql = format!("UPDATE {table} SET next = next * 10 WHERE w = 1 AND d = 1");
    let update = tokio::spawn(async move { writer.execute(sql.as_str(), &[]).await });
    // The other district's row is not locked.
    holder_free_row(&server, &table).await;
    tokio::time::sleep(HOLD).await;
    assert!(
        !update.is_finished(),
        "the UPDATE did not wait for the lock"
    );
    holder
        .batch_execute(&format!(
            "UPDATE {table} SET next = next + 1 WHERE w = 1 AND d = 1; COMMIT"
        ))
        .await
        .unwrap();
    assert_eq!(update.await.unwrap().unwrap(), 1);
    let next: i32 = holder
        .query_one(
            &format!("SELECT next FROM {table} WHERE w = 1 AND d = 1"),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        next, 20,
        "the waiting UPDATE must apply to the committed value"
    );
}

async fn holder_free_row(server: &TestServer, table: &str) {
    let other = server.connect().await;
    let n = tokio::time::timeout(
        HOLD,
        other.execute(
            &format!("UPDATE {table} SET next = next WHERE w = 1 AND d = 2"),
            &[],
        ),
    )
    .await
    .expect("an unlocked row must not wait")
    .unwrap();
    assert_eq!(n, 1);
}

/// The read-modify-write of New-Order's D_NEXT_O_ID from several connections at once: with
/// FOR UPDATE no two transactions read the same value, so no increment is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn read_modify_write_under_for_update_loses_no_increment() {
    let server = TestServer::start_with_shards(2);
    let setup = server.connect().await;
    let table = counter_table(&setup).await;
    let mut racers = tokio::task::JoinSet::new();
    for _ in 0..RACERS {
        let client = server.connect().await;
        let table = table.clone();
        racers.spawn(async move {
            let mut seen = Vec::new();
            for _ in 0..ROUNDS {
                client.batch_execute("BEGIN").await.unwrap();
                let next: i32 = client
                    .query_one(
                        &format!(
                            "SELECT next FROM {table} WHERE w = 1 AND d = 1 \
                             ORDER BY next LIMIT 1 FOR UPDATE"
                        ),
                        &[],
                    )
                    .await
                    .unwrap()
                    .get(0);
                client
                    .execute(
                        &format!("UPDATE {table} SET next = $1 WHERE w = 1 AND d = 1"),
                        &[&(next + 1)],
                    )
                    .await
                    .unwrap();
                client.batch_execute("COMMIT").await.unwrap();
                seen.push(next);
            }
            seen
        });
    }
    let mut all = Vec::new();
    while let Some(seen) = racers.join_next().await {
        all.extend(seen.unwrap());
    }
    all.sort_unstable();
    let expected: Vec<i32> = (1..=(RACERS * ROUNDS) as i32).collect();
    assert_eq!(
        all, expected,
        "every transaction must read a distinct value"
    );
}

/// A rolled-back locker's lock ends with its transaction too.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rollback_releases_the_lock() {
    let server = TestServer::start();
    let holder = server.connect().await;
    let table = counter_table(&holder).await;
    holder.batch_execute("BEGIN").await.unwrap();
    holder
        .query(
            &format!("SELECT * FROM {table} WHERE w = 1 FOR UPDATE"),
            &[],
        )
        .await
        .unwrap();
    holder.batch_execute("ROLLBACK").await.unwrap();
    let other = server.connect().await;
    let n = tokio::time::timeout(
        HOLD,
        other.execute(&format!("UPDATE {table} SET next = 5 WHERE w = 1"), &[]),
    )
    .await
    .expect("the lock must be gone after ROLLBACK")
    .unwrap();
    assert_eq!(n, 2);
}
