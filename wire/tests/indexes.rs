//! Secondary indexes over the wire: EXPLAIN names the index, answers equal a full scan's,
//! snapshots hide uncommitted and rolled-back writes and updates that move the indexed value,
//! and an index built over checkpointed rows survives a restart (persisted, rebuilt from rows).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::durable::psql;
use common::{TestServer, rows};
use std::path::Path;
use tokio_postgres::Client;

const SETUP: &str = "CREATE TABLE {t} (w integer, d integer, o integer, c integer, \
    note text, PRIMARY KEY (w, d, o)); \
    INSERT INTO {t} SELECT w, d, o, (o * 7) % 13, 'n' || o \
    FROM generate_series(1, 3) AS w, generate_series(1, 4) AS d, generate_series(1, 50) AS o";
const INDEX: &str = "CREATE INDEX {t}_by_c ON {t} (w, d, c, o)";

/// Each query through the index and as a full scan (`+ 0` defeats it): they must agree.
const QUERIES: [&str; 5] = [
    "SELECT o, note FROM {t} WHERE w{z} = 2 AND d{z} = 3 AND c{z} = 5 ORDER BY o",
    "SELECT o FROM {t} WHERE w{z} = 1 AND d{z} = 4 AND c{z} = 2 ORDER BY o DESC LIMIT 1",
    "SELECT count(*) FROM {t} WHERE w{z} = 3 AND d{z} = 1 AND c{z} = 0 AND o{z} >= 20",
    "SELECT o FROM {t} WHERE w{z} = 3 AND d{z} = 2 AND c{z} = 7 ORDER BY o LIMIT 2",
    "SELECT count(*), sum(o) FROM {t} WHERE w{z} = 2 AND d{z} = 2 AND c{z} = 11",
];

async fn explain(c: &Client, sql: &str) -> String {
    rows(c, &format!("EXPLAIN {sql}")).await.join("\n")
}

#[tokio::test]
async fn index_answers_like_a_scan_and_explain_names_it() {
    let server = TestServer::start();
    let c = server.connect().await;
    let t = common::unique_name("ix_wire");
    c.batch_execute(&SETUP.replace("{t}", &t)).await.unwrap();
    // Built over existing rows.
    c.batch_execute(&INDEX.replace("{t}", &t)).await.unwrap();
    for q in QUERIES {
        let via = q.replace("{t}", &t).replace("{z}", "");
        let scan = q.replace("{t}", &t).replace("{z}", " + 0");
        let plan = explain(&c, &via).await;
        assert!(
            plan.contains(&format!("index {t}_by_c range")),
            "{via}: {plan}"
        );
        let got = rows(&c, &via).await;
        assert!(!got.is_empty(), "{via}");
        assert_eq!(got, rows(&c, &scan).await, "{via}");
    }
    let plan = explain(
        &c,
        &format!("SELECT o FROM {t} WHERE w = 1 AND d = 4 AND c = 2 ORDER BY o DESC LIMIT 1"),
    )
    .await;
    assert!(
        plan.contains(&format!(
            "index {t}_by_c range (w, d, c) = (1, 4, 2), order desc, limit 1"
        )),
        "{plan}"
    );
    c.batch_execute(&format!("DROP INDEX {t}_by_c"))
        .await
        .unwrap();
    let via = QUERIES[0].replace("{t}", &t).replace("{z}", "");
    assert!(!explain(&c, &via).await.contains("index"));
}

#[tokio::test]
async fn index_reads_honour_snapshots() {
    let server = TestServer::start();
    let (a, b) = (server.connect().await, server.connect().await);
    let t = common::unique_name("ix_mvcc");
    a.batch_execute(&SETUP.replace("{t}", &t)).await.unwrap();
    a.batch_execute(&INDEX.replace("{t}", &t)).await.unwrap();
    let by_c = |c: i32| format!("SELECT o FROM {t} WHERE w = 1 AND d = 1 AND c = {c} ORDER BY o");
    let five = rows(&b, &by_c(5)).await;
    assert!(five.len() > 2);
    let moved = five[0].clone();
    // Uncommitted: an update moving a row from c = 5 to c = 12, a delete, an insert.
    a.batch_execute(&format!(
        "BEGIN; UPDATE {t} SET c = 12 WHERE w = 1 AND d = 1 AND o = {moved}; \
         DELETE FROM {t} WHERE w = 1 AND d = 1 AND o = {}; \
         INSERT INTO {t} VALUES (1, 1, 500, 5, 'new')",
        five[1]
    ))
    .await
    .unwrap();
    assert_eq!(rows(&b, &by_c(5)).await, five);
    assert!(!rows(&b, &by_c(12)).await.contains(&moved));
    assert!(rows(&a, &by_c(12)).await.contains(&moved));
    assert!(!rows(&a, &by_c(5)).await.contains(&moved));
    a.batch_execute("ROLLBACK").await.unwrap();
    assert_eq!(rows(&a, &by_c(5)).await, five);
    assert!(!rows(&a, &by_c(12)).await.contains(&moved));
    // Committed: found under the new value only.
    a.batch_execute(&format!(
        "UPDATE {t} SET c = 12 WHERE w = 1 AND d = 1 AND o = {moved}"
    ))
    .await
    .unwrap();
    assert!(rows(&b, &by_c(12)).await.contains(&moved));
    assert!(!rows(&b, &by_c(5)).await.contains(&moved));
    // An ordered, limited read skips the stale entry rather than returning the moved row.
    let first = rows(
        &b,
        &format!("SELECT o FROM {t} WHERE w = 1 AND d = 1 AND c = 5 ORDER BY o LIMIT 1"),
    )
    .await;
    assert_eq!(first, vec![five[1].clone()]);
}

/// `COPY table FROM STDIN` with `data` (text format); panics if it fails.
fn copy_in(port: u16, table: &str, data: &str) {
    let errors = common::durable::psql_copy(port, table, data);
    assert!(errors.is_empty(), "{errors}");
}

fn start(data: &Path) -> (common::durable::Server, u16) {
    common::durable::start(data, &data.with_extension("log"), 2, "warn")
}

fn check_queries(port: u16, t: &str) {
    for q in QUERIES {
        let via = q.replace("{t}", t).replace("{z}", "");
        let scan = q.replace("{t}", t).replace("{z}", " + 0");
        assert!(
            psql(port, &format!("EXPLAIN {via}")).contains("index"),
            "{via}"
        );
        let got = psql(port, &via);
        assert!(!got.is_empty(), "{via}");
        assert_eq!(got, psql(port, &scan), "{via}");
    }
}

#[test]
fn index_over_checkpointed_rows_survives_restarts() {
    let dir = std::env::temp_dir().join(format!("omendb-indexes-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let data = dir.join("data");
    let (server, port) = start(&data);
    psql(port, &SETUP.replace("{t}", "ix_cold"));
    psql(port, "CHECKPOINT");
    common::durable::kill(server);
    // Rows are in segments now; the index is built over them.
    let (server, port) = start(&data);
    psql(port, &INDEX.replace("{t}", "ix_cold"));
    check_queries(port, "ix_cold");
    // A bulk load into the indexed table (segments written directly) is indexed too.
    let copied: String = (1000..1100)
        .map(|o| format!("1\t1\t{o}\t3\tcopied\n"))
        .collect();
    copy_in(port, "ix_cold", &copied);
    let by_index = "SELECT count(*) FROM ix_cold WHERE w = 1 AND d = 1 AND c = 3";
    assert!(psql(port, &format!("EXPLAIN {by_index}")).contains("index"));
    let expected = psql(
        port,
        "SELECT count(*) FROM ix_cold WHERE w + 0 = 1 AND d + 0 = 1 AND c + 0 = 3",
    );
    assert_eq!(psql(port, by_index), expected);
    assert!(expected.parse::<i64>().unwrap() >= 100);
    psql(
        port,
        "UPDATE ix_cold SET c = 99 WHERE w = 2 AND d = 3 AND o = 10",
    );
    common::durable::kill(server);
    // Restart from WAL: the catalog names the index, rebuilt from segments and replay.
    let (server, port) = start(&data);
    check_queries(port, "ix_cold");
    assert_eq!(
        psql(
            port,
            "SELECT o FROM ix_cold WHERE w = 2 AND d = 3 AND c = 99"
        ),
        "10"
    );
    psql(port, "CHECKPOINT");
    common::durable::kill(server);
    let (server, port) = start(&data);
    check_queries(port, "ix_cold");
    assert_eq!(
        psql(
            port,
            "SELECT o FROM ix_cold WHERE w = 2 AND d = 3 AND c = 99"
        ),
        "10"
    );
    psql(port, "DROP INDEX ix_cold_by_c");
    common::durable::kill(server);
    let (server, port) = start(&data);
    let via = QUERIES[0].replace("{t}", "ix_cold").replace("{z}", "");
    assert!(!psql(port, &format!("EXPLAIN {via}")).contains("index"));
    common::durable::kill(server);
    let _ = std::fs::remove_dir_all(&dir);
}
