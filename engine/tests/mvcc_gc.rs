//! Garbage collection of row versions through the whole engine: updates keep one version per
//! row while no snapshot is older than them; a REPEATABLE READ transaction holds back the
//! versions newer than its snapshot (and still reads its snapshot), and once it ends the next
//! commits bring every row back to one version.

// Tests stop at the first surprise: an unwrap here is an assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use omendb_engine::runtime;
use omendb_engine::shard::ShardRef;
use omendb_engine::{Engine, Outcome, Session};
use omendb_storage::types::Value;
use std::sync::Arc;

const SHARDS: usize = 2;
const IO_MEMORY: usize = 1 << 20;
const ROWS: i64 = 50;
const ROUNDS: i64 = 20;

async fn run(session: &mut Session, sql: &str) -> Vec<Vec<Value>> {
    let mut rows = Vec::new();
    for r in session.simple_query(sql).await {
        match r {
            Ok(Outcome::Rows { rows: r, .. }) => rows = r,
            Ok(_) => {}
            Err(e) => panic!("{sql}: {e}"),
        }
    }
    rows
}

/// (row-store slots in use, committed versions) of table `t` over all shards.
async fn versions(shard: &ShardRef, engine: &Arc<Engine>) -> (usize, usize) {
    let table = engine.catalog().tables.get("t").cloned().unwrap();
    let mut total = (0, 0);
    for s in 0..SHARDS {
        let t = table.clone();
        let (slots, versions) = shard
            .run_on(s, move |sh| async move {
                sh.state().with_table(&t, |rt| rt.version_stats())
            })
            .await
            .unwrap();
        total.0 += slots;
        total.1 += versions;
    }
    total
}

fn sum(rows: &[Vec<Value>]) -> i64 {
    match rows.first().and_then(|r| r.first()) {
        Some(Value::Int64(n)) => *n,
        Some(Value::Numeric(n)) => n.to_string().parse().unwrap(),
        other => panic!("sum: {other:?}"),
    }
}

#[test]
fn versions_stay_bounded_and_old_snapshots_keep_theirs() {
    let engine = Engine::new(SHARDS);
    let state_engine: Arc<Engine> = engine.clone();
    let main_engine = engine.clone();
    runtime::run(
        SHARDS,
        IO_MEMORY,
        move |id| state_engine.shard_state(id),
        move |shard| async move {
            let engine = main_engine;
            let mut writer = Session::new(shard.clone(), "tester", "omendb");
            let mut reader = Session::new(shard.clone(), "tester", "omendb");
            run(
                &mut writer,
                &format!(
                    "CREATE TABLE t (id bigint PRIMARY KEY, v bigint NOT NULL);
                     INSERT INTO t SELECT g, 0 FROM generate_series(1, {ROWS}) g"
                ),
            )
            .await;
            for _ in 0..ROUNDS {
                run(&mut writer, "UPDATE t SET v = v + 1").await;
            }
            assert_eq!(
                versions(&shard, &engine).await,
                (ROWS as usize, ROWS as usize)
            );

            run(&mut reader, "BEGIN ISOLATION LEVEL REPEATABLE READ").await;
            let before = sum(&run(&mut reader, "SELECT sum(v) FROM t").await);
            assert_eq!(before, ROWS * ROUNDS);
            for _ in 0..ROUNDS {
                run(&mut writer, "UPDATE t SET v = v + 1").await;
            }
            let (_, held) = versions(&shard, &engine).await;
            assert_eq!(
                held,
                (ROWS * (ROUNDS + 1)) as usize,
                "the snapshot holds them"
            );
            assert_eq!(sum(&run(&mut reader, "SELECT sum(v) FROM t").await), before);
            run(&mut reader, "COMMIT").await;
            assert_eq!(
                sum(&run(&mut reader, "SELECT sum(v) FROM t").await),
                ROWS * ROUNDS * 2
            );

            run(&mut writer, "UPDATE t SET v = v + 1").await;
            assert_eq!(
                versions(&shard, &engine).await,
                (ROWS as usize, ROWS as usize)
            );
            run(&mut writer, "DELETE FROM t WHERE id % 2 = 0").await;
            assert_eq!(versions(&shard, &engine).await.0, (ROWS / 2) as usize);
        },
    )
    .unwrap();
}
