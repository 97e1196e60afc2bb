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

/// A table of (k primary key, u UNIQUE, v) as a model: the committed state plus, inside a
/// transaction, its state and one saved state per open savepoint.
type Rows = std::collections::BTreeMap<i64, (i64, i64)>;

/// What a random step did to the model: `Ok` if it must succeed, `Err` if it must fail.
fn apply_model(rows: &mut Rows, step: &Step) -> Result<(), ()> {
    match *step {
        Step::Insert(k, u, v) => {
            if rows.contains_key(&k) || rows.values().any(|r| r.0 == u) {
                return Err(());
            }
            rows.insert(k, (u, v));
        }
        Step::SetV(k, v) => {
            if let Some(r) = rows.get_mut(&k) {
                r.1 = v;
            }
        }
        Step::SetU(k, u) => {
            if rows.iter().any(|(other, r)| *other != k && r.0 == u) && rows.contains_key(&k) {
                return Err(());
            }
            if let Some(r) = rows.get_mut(&k) {
                r.0 = u;
            }
        }
        Step::Delete(k) => {
            rows.remove(&k);
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Copy)]
enum Step {
    Insert(i64, i64, i64),
    SetV(i64, i64),
    SetU(i64, i64),
    Delete(i64),
}

impl Step {
    fn sql(&self, table: &str) -> String {
        match *self {
            Step::Insert(k, u, v) => format!("INSERT INTO {table} VALUES ({k}, {u}, {v})"),
            Step::SetV(k, v) => format!("UPDATE {table} SET v = {v} WHERE k = {k}"),
            Step::SetU(k, u) => format!("UPDATE {table} SET u = {u} WHERE k = {k}"),
            Step::Delete(k) => format!("DELETE FROM {table} WHERE k = {k}"),
        }
    }
}

async fn contents(client: &tokio_postgres::Client, table: &str) -> Rows {
    client
        .query(&format!("SELECT k, u, v FROM {table}"), &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2))))
        .collect()
}

/// Random writes, savepoints, rollbacks to them and releases, errors included, checkpoints
/// by another session in between, against the model above: after every step the transaction sees exactly the model's rows, and after
/// COMMIT (or ROLLBACK) everyone does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_savepoint_sequences_match_a_model() {
    use rand::{Rng, SeedableRng};
    const TRANSACTIONS: usize = 40;
    const STEPS: usize = 30;
    const SPACE: i64 = 12;
    let server = TestServer::start();
    let table = unique_name("spmodel");
    let client = server.connect().await;
    let other = server.connect().await;
    client
        .batch_execute(&format!(
            "CREATE TABLE {table} (k bigint PRIMARY KEY, u bigint UNIQUE, v bigint)"
        ))
        .await
        .unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut committed = Rows::new();
    for t in 0..TRANSACTIONS {
        client.batch_execute("BEGIN").await.unwrap();
        let mut now = committed.clone();
        // (name, state at the savepoint)
        let mut savepoints: Vec<(String, Rows)> = Vec::new();
        let mut failed = false;
        let mut log = Vec::new();
        for s in 0..STEPS {
            let roll = rng.random_range(0..100);
            if failed || (roll < 15 && !savepoints.is_empty()) {
                if savepoints.is_empty() {
                    break;
                }
                let i = rng.random_range(0..savepoints.len());
                let name = savepoints[i].0.clone();
                log.push(format!("ROLLBACK TO {name}"));
                client
                    .batch_execute(&format!("ROLLBACK TO SAVEPOINT {name}"))
                    .await
                    .unwrap();
                savepoints.truncate(i + 1);
                now = savepoints[i].1.clone();
                failed = false;
            } else if roll < 30 {
                let name = format!("s{t}_{s}");
                log.push(format!("SAVEPOINT {name}"));
                client
                    .batch_execute(&format!("SAVEPOINT {name}"))
                    .await
                    .unwrap();
                savepoints.push((name, now.clone()));
            } else if roll < 33 {
                // Rows move into column segments while the transaction has writes pending.
                log.push("CHECKPOINT (other session)".into());
                other.batch_execute("CHECKPOINT").await.unwrap();
            } else if roll < 38 && !savepoints.is_empty() {
                let i = rng.random_range(0..savepoints.len());
                let name = savepoints[i].0.clone();
                log.push(format!("RELEASE {name}"));
                client
                    .batch_execute(&format!("RELEASE SAVEPOINT {name}"))
                    .await
                    .unwrap();
                savepoints.truncate(i);
            } else {
                let (k, u, v) = (
                    rng.random_range(0..SPACE),
                    rng.random_range(0..SPACE),
                    rng.random_range(0..1000),
                );
                let step = match rng.random_range(0..4) {
                    0 | 1 => Step::Insert(k, u, v),
                    2 => Step::SetV(k, v),
                    _ if roll % 2 == 0 => Step::SetU(k, u),
                    _ => Step::Delete(k),
                };
                log.push(step.sql(&table));
                let expected = apply_model(&mut now, &step);
                let got = client.batch_execute(&step.sql(&table)).await;
                assert_eq!(
                    got.is_ok(),
                    expected.is_ok(),
                    "transaction {t}: {step:?} gave {got:?}; steps: {log:#?}"
                );
                failed = got.is_err();
            }
            if !failed {
                assert_eq!(
                    contents(&client, &table).await,
                    now,
                    "transaction {t} after {log:#?}"
                );
            }
        }
        if failed || rng.random_bool(0.2) {
            client.batch_execute("ROLLBACK").await.unwrap();
        } else {
            client.batch_execute("COMMIT").await.unwrap();
            committed = now;
        }
        assert_eq!(
            contents(&other, &table).await,
            committed,
            "after transaction {t}: {log:#?}"
        );
    }
}
