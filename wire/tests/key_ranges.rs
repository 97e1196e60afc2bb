//! Primary-key range access over the wire: EXPLAIN names the range, answers equal a full scan's
//! for rows in the row store and in checkpointed segments (after a restart), and the range
//! honours snapshots (uncommitted and rolled-back writes never show, a limited ordered range
//! skips rows deleted under it).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::durable::psql;
use common::{TestServer, rows};
use std::path::Path;
use tokio_postgres::Client;

async fn explain(c: &Client, sql: &str) -> String {
    rows(c, &format!("EXPLAIN {sql}")).await.join("\n")
}

const SETUP: &str = "CREATE TABLE {t} (w integer, d integer, o integer, v integer, \
    PRIMARY KEY (w, d, o)); \
    INSERT INTO {t} SELECT w, d, o, w * 10000 + d * 100 + o \
    FROM generate_series(1, 4) AS w, generate_series(1, 5) AS d, generate_series(1, 30) AS o";

/// Each query as a range and as a full scan (`+ 0` defeats the key), which must agree.
const QUERIES: [&str; 6] = [
    "SELECT count(*), sum(v) FROM {t} WHERE w{z} = 2 AND d{z} = 3",
    "SELECT count(*), sum(v) FROM {t} WHERE w{z} = 4 AND d{z} = 1 AND o{z} >= 7 AND o{z} < 12",
    "SELECT o FROM {t} WHERE w{z} = 3 AND d{z} = 5 ORDER BY o LIMIT 1",
    "SELECT o, v FROM {t} WHERE w{z} = 1 AND d{z} = 2 ORDER BY o DESC LIMIT 3",
    "SELECT o FROM {t} WHERE w{z} = 1 AND d{z} = 4 AND o{z} > 28 ORDER BY o",
    "SELECT o FROM {t} WHERE w{z} = 2 AND d{z} = 2 AND v % 4 = 1 ORDER BY o DESC LIMIT 2",
];

async fn check_same_as_scan(c: &Client, t: &str) {
    for q in QUERIES {
        let ranged = q.replace("{t}", t).replace("{z}", "");
        let scanned = q.replace("{t}", t).replace("{z}", " + 0");
        let plan = explain(c, &ranged).await;
        assert!(plan.contains("primary key range"), "{ranged}: {plan}");
        assert!(!explain(c, &scanned).await.contains("key range"));
        let got = rows(c, &ranged).await;
        assert!(!got.is_empty(), "{ranged}");
        assert_eq!(got, rows(c, &scanned).await, "{ranged}");
    }
}

#[tokio::test]
async fn ranges_answer_like_scans_and_explain_says_so() {
    let server = TestServer::start();
    let c = server.connect().await;
    let t = common::unique_name("kr_wire");
    c.batch_execute(&SETUP.replace("{t}", &t)).await.unwrap();
    check_same_as_scan(&c, &t).await;
    let plan = explain(
        &c,
        &format!(
            "SELECT o FROM {t} WHERE w = 1 AND d = 2 AND o >= 3 AND o < 9 ORDER BY o DESC LIMIT 2"
        ),
    )
    .await;
    assert!(
        plan.contains("primary key range (w, d) = (1, 2), o >= 3, o < 9, order desc, limit 2"),
        "{plan}"
    );
    // A full key is still a point lookup; the shard column alone is not a range.
    assert!(
        explain(
            &c,
            &format!("SELECT * FROM {t} WHERE w = 1 AND d = 2 AND o = 3")
        )
        .await
        .contains("primary key = ")
    );
    assert!(
        !explain(&c, &format!("SELECT * FROM {t} WHERE w = 1"))
            .await
            .contains("range")
    );
}

#[tokio::test]
async fn ranges_honour_snapshots() {
    let server = TestServer::start();
    let (a, b) = (server.connect().await, server.connect().await);
    let t = common::unique_name("kr_mvcc");
    a.batch_execute(&SETUP.replace("{t}", &t)).await.unwrap();
    let oldest = format!("SELECT o FROM {t} WHERE w = 1 AND d = 1 ORDER BY o LIMIT 1");
    let count = format!("SELECT count(*), sum(v) FROM {t} WHERE w = 1 AND d = 1 AND o <= 40");
    let before = rows(&b, &count).await;
    // Uncommitted delete, update and insert by `a` are invisible to `b`.
    a.batch_execute(&format!(
        "BEGIN; DELETE FROM {t} WHERE w = 1 AND d = 1 AND o = 1; \
         UPDATE {t} SET v = 0 WHERE w = 1 AND d = 1 AND o = 2; \
         INSERT INTO {t} VALUES (1, 1, 31, 5), (1, 1, 0, 5)"
    ))
    .await
    .unwrap();
    assert_eq!(rows(&b, &oldest).await, vec!["1"]);
    assert_eq!(rows(&b, &count).await, before);
    // `a` sees its own writes through the range.
    assert_eq!(rows(&a, &oldest).await, vec!["0"]);
    a.batch_execute("ROLLBACK").await.unwrap();
    // Rolled back: nothing of it appears, to anyone.
    assert_eq!(rows(&a, &oldest).await, vec!["1"]);
    assert_eq!(rows(&b, &count).await, before);
    // A REPEATABLE READ snapshot keeps seeing a row deleted after it began.
    b.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        .await
        .unwrap();
    assert_eq!(rows(&b, &oldest).await, vec!["1"]);
    a.batch_execute(&format!("DELETE FROM {t} WHERE w = 1 AND d = 1 AND o = 1"))
        .await
        .unwrap();
    assert_eq!(rows(&b, &oldest).await, vec!["1"]);
    b.batch_execute("COMMIT").await.unwrap();
    assert_eq!(rows(&b, &oldest).await, vec!["2"]);
}

#[tokio::test]
async fn limited_locking_range_takes_the_next_row_when_the_first_goes() {
    let server = TestServer::start();
    let (a, b) = (server.connect().await, server.connect().await);
    let t = common::unique_name("kr_lock");
    a.batch_execute(&SETUP.replace("{t}", &t)).await.unwrap();
    let first = format!("SELECT o FROM {t} WHERE w = 2 AND d = 2 ORDER BY o LIMIT 1 FOR UPDATE");
    a.batch_execute("BEGIN").await.unwrap();
    assert_eq!(rows(&a, &first).await, vec!["1"]);
    let waiter = {
        let first = first.clone();
        tokio::spawn(async move {
            b.batch_execute("BEGIN").await.unwrap();
            let got = rows(&b, &first).await;
            b.batch_execute("COMMIT").await.unwrap();
            got
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    a.batch_execute(&format!(
        "DELETE FROM {t} WHERE w = 2 AND d = 2 AND o = 1; COMMIT"
    ))
    .await
    .unwrap();
    assert_eq!(waiter.await.unwrap(), vec!["2"]);
}

fn start(data: &Path) -> (common::durable::Server, u16) {
    let log = data.with_extension("log");
    common::durable::start(data, &log, 2, "warn")
}

#[test]
fn ranges_find_checkpointed_rows_after_a_restart() {
    let dir = std::env::temp_dir().join(format!("omendb-keyranges-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let data = dir.join("data");
    let (server, port) = start(&data);
    psql(port, &SETUP.replace("{t}", "kr_cold"));
    psql(port, "CHECKPOINT");
    // Some rows change after the checkpoint: row store and segments both answer.
    psql(port, "DELETE FROM kr_cold WHERE w = 3 AND d = 5 AND o < 4");
    psql(
        port,
        "UPDATE kr_cold SET v = -v WHERE w = 1 AND d = 2 AND o > 25",
    );
    psql(port, "INSERT INTO kr_cold VALUES (4, 1, 9999, 1)");
    common::durable::kill(server);
    let (server, port) = start(&data);
    for q in QUERIES {
        let ranged = q.replace("{t}", "kr_cold").replace("{z}", "");
        let scanned = q.replace("{t}", "kr_cold").replace("{z}", " + 0");
        let got = psql(port, &ranged);
        assert!(!got.is_empty(), "{ranged}");
        assert_eq!(got, psql(port, &scanned), "{ranged}");
    }
    assert_eq!(
        psql(
            port,
            "SELECT o FROM kr_cold WHERE w = 3 AND d = 5 ORDER BY o LIMIT 1"
        ),
        "4"
    );
    assert_eq!(
        psql(
            port,
            "SELECT o FROM kr_cold WHERE w = 4 AND d = 1 ORDER BY o DESC LIMIT 1"
        ),
        "9999"
    );
    common::durable::kill(server);
    let _ = std::fs::remove_dir_all(&dir);
}
