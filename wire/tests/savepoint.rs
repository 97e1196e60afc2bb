//! ROLLBACK TO SAVEPOINT gives back what was written since the savepoint to other sessions at
//! once, as PostgreSQL does (run against it with `OMENDB_TEST_URL`): a row updated, a key
//! inserted after the savepoint, with the waiter on either shard.

// Tests stop at the first surprise: an unwrap here is an assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{TestServer, unique_name};

/// Long enough for a statement that does not wait to have finished.
const BLOCK_PROBE: Duration = Duration::from_millis(700);
/// A waiter released by the rollback finishes well within this.
const RELEASE_BOUND: Duration = Duration::from_secs(3);
const KEYS: i64 = 4;

/// The holder writes `held` after a savepoint; a waiter's `sql` blocks on it until the holder
/// rolls back to the savepoint, while the holder's transaction stays open. Returns the
/// waiter's row count.
async fn released_by_rollback_to(held: &str, sql: &str) -> u64 {
    let server = TestServer::start();
    let table = unique_name("savepoint");
    let holder = server.connect().await;
    holder
        .batch_execute(&format!(
            "CREATE TABLE {table} (k bigint PRIMARY KEY, n bigint NOT NULL);\
             INSERT INTO {table} SELECT g, 0 FROM generate_series(1, {KEYS}) g"
        ))
        .await
        .unwrap();
    holder
        .batch_execute(&format!(
            "BEGIN; UPDATE {table} SET n = 1 WHERE k = 1; SAVEPOINT s; {}",
            held.replace("{t}", &table)
        ))
        .await
        .unwrap();
    let waiter = server.connect().await;
    let sql = sql.replace("{t}", &table);
    let waiting = tokio::spawn(async move { waiter.execute(sql.as_str(), &[]).await });
    tokio::time::sleep(BLOCK_PROBE).await;
    assert!(!waiting.is_finished(), "the waiter did not wait");
    holder
        .batch_execute("ROLLBACK TO SAVEPOINT s")
        .await
        .unwrap();
    let count = tokio::time::timeout(RELEASE_BOUND, waiting)
        .await
        .expect("ROLLBACK TO SAVEPOINT did not release the waiter")
        .unwrap()
        .unwrap();
    // The write before the savepoint is still the holder's, and commits.
    holder.batch_execute("COMMIT").await.unwrap();
    let n: i64 = holder
        .query_one(&format!("SELECT n FROM {table} WHERE k = 1"), &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
    count
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_updated_after_the_savepoint_is_released() {
    for k in 2..=KEYS {
        let held = format!("UPDATE {{t}} SET n = 5 WHERE k = {k}");
        let sql = format!("UPDATE {{t}} SET n = n + 1 WHERE k = {k}");
        assert_eq!(released_by_rollback_to(&held, &sql).await, 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_inserted_after_the_savepoint_is_released() {
    let held = "INSERT INTO {t} VALUES (100, 1)";
    let sql = "INSERT INTO {t} VALUES (100, 2)";
    assert_eq!(released_by_rollback_to(held, sql).await, 1);
}
