//! `CREATE UNIQUE INDEX` over the wire: PostgreSQL's messages for a build over duplicates and
//! for a duplicate write (INSERT, UPDATE, COPY), a second inserter of a key that waits for the
//! first to commit or roll back, a prepared write refused once the constraints changed,
//! features refused with 0A000, and an index that survives kill -9, checkpoints and DROP INDEX
//! across restarts.

// Tests stop at the first surprise: an unwrap here is an assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::durable::{psql, psql_copy as copy_in};
use common::{TestServer, rows, sqlstate, unique_name};
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use tokio_postgres::Client;

/// How long the first inserter keeps its key before it ends its transaction.
const HOLD: Duration = Duration::from_millis(800);

/// The error `sql` fails with: (SQLSTATE, message, detail).
async fn failure(c: &Client, sql: &str) -> (String, String, String) {
    let e = c.batch_execute(sql).await.expect_err(sql);
    let db = e.as_db_error().unwrap_or_else(|| panic!("{sql}: {e:?}"));
    (
        db.code().code().to_string(),
        db.message().to_string(),
        db.detail().unwrap_or_default().to_string(),
    )
}

async fn keyed_table(c: &Client) -> String {
    let t = unique_name("uidx");
    c.batch_execute(&format!(
        "CREATE TABLE {t} (id integer PRIMARY KEY, a integer, b text); \
         INSERT INTO {t} SELECT i, i, 'r' || i FROM generate_series(1, 40) AS i; \
         INSERT INTO {t} VALUES (41, 7, 'dup'), (42, NULL, 'n'), (43, NULL, 'n')"
    ))
    .await
    .unwrap();
    t
}

#[tokio::test]
async fn errors_carry_postgres_messages() {
    let server = TestServer::start();
    let c = server.connect().await;
    let t = keyed_table(&c).await;
    let build = format!("CREATE UNIQUE INDEX {t}_a ON {t} (a)");
    assert_eq!(
        failure(&c, &build).await,
        (
            "23505".into(),
            format!("could not create unique index \"{t}_a\""),
            "Key (a)=(7) is duplicated.".into()
        )
    );
    c.batch_execute(&format!("DELETE FROM {t} WHERE id = 41"))
        .await
        .unwrap();
    c.batch_execute(&build).await.unwrap();
    let dup = (
        "23505".to_string(),
        format!("duplicate key value violates unique constraint \"{t}_a\""),
        "Key (a)=(7) already exists.".to_string(),
    );
    assert_eq!(
        failure(&c, &format!("INSERT INTO {t} VALUES (50, 7, 'x')")).await,
        dup
    );
    assert_eq!(
        failure(&c, &format!("UPDATE {t} SET a = 7 WHERE id = 8")).await,
        dup
    );
    let copied = copy_in(server.port(), &t, "51\t7\tcopied\n");
    assert!(copied.contains(&dup.1), "{copied}");
    // The failed COPY left no row behind; a COPY of fresh keys goes in.
    assert!(copy_in(server.port(), &t, "51\t500\tcopied\n52\t\\N\tcopied\n").is_empty());
    assert_eq!(
        rows(
            &c,
            &format!("SELECT id FROM {t} WHERE b = 'copied' ORDER BY id")
        )
        .await,
        ["51", "52"]
    );
}

#[tokio::test]
async fn unsupported_index_features_are_refused() {
    let server = TestServer::start();
    if server.is_external() {
        return; // PostgreSQL has them all.
    }
    let c = server.connect().await;
    let t = keyed_table(&c).await;
    for what in [
        format!("CREATE UNIQUE INDEX {t}_p ON {t} (a) WHERE a > 0"),
        format!("CREATE UNIQUE INDEX {t}_i ON {t} (a) INCLUDE (b)"),
        format!("CREATE UNIQUE INDEX {t}_n ON {t} (a) NULLS NOT DISTINCT"),
        format!("CREATE UNIQUE INDEX {t}_e ON {t} ((a + 1))"),
    ] {
        assert_eq!(failure(&c, &what).await.0, "0A000", "{what}");
    }
    // Nothing was created: the table takes duplicates still.
    c.batch_execute(&format!("INSERT INTO {t} VALUES (60, 1, 'x')"))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_prepared_insert_is_refused_after_the_constraints_change() {
    let server = TestServer::start();
    if server.is_external() {
        return; // PostgreSQL re-plans instead.
    }
    let c = server.connect().await;
    let t = keyed_table(&c).await;
    c.batch_execute(&format!("DELETE FROM {t} WHERE id = 41"))
        .await
        .unwrap();
    let insert = c
        .prepare(&format!("INSERT INTO {t} VALUES ($1, $2, 'p')"))
        .await
        .unwrap();
    c.batch_execute(&format!("CREATE UNIQUE INDEX {t}_a ON {t} (a)"))
        .await
        .unwrap();
    let e = c.execute(&insert, &[&70i32, &7i32]).await.unwrap_err();
    assert_eq!(sqlstate(&e), "0A000");
    let again = c
        .prepare(&format!("INSERT INTO {t} VALUES ($1, $2, 'p')"))
        .await
        .unwrap();
    let e = c.execute(&again, &[&70i32, &7i32]).await.unwrap_err();
    assert_eq!(sqlstate(&e), "23505");
}

/// The second inserter of a key waits for the first: a duplicate once it commits, in once it
/// rolls back. The two rows' primary keys differ, so they may live on different shards.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_second_inserter_waits_for_the_first() {
    let server = TestServer::start();
    let first = server.connect().await;
    let t = keyed_table(&first).await;
    for sql in [
        format!("DELETE FROM {t} WHERE id = 41"),
        format!("CREATE UNIQUE INDEX {t}_a ON {t} (a)"),
    ] {
        first.batch_execute(&sql).await.unwrap();
    }
    for (end, outcome) in [("COMMIT", Some("23505")), ("ROLLBACK", None)] {
        let key = if outcome.is_some() { 1000 } else { 1001 };
        first
            .batch_execute(&format!(
                "BEGIN; INSERT INTO {t} VALUES ({key}, {key}, 'first')"
            ))
            .await
            .unwrap();
        let second = server.connect().await;
        let sql = format!("INSERT INTO {t} VALUES ({}, {key}, 'second')", key + 1000);
        let waiter = tokio::spawn(async move { second.batch_execute(&sql).await });
        tokio::time::sleep(HOLD).await;
        assert!(!waiter.is_finished(), "the second inserter did not wait");
        first.batch_execute(end).await.unwrap();
        let result = tokio::time::timeout(Duration::from_secs(10), waiter)
            .await
            .expect("the waiter woke")
            .unwrap();
        assert_eq!(result.as_ref().err().map(sqlstate).as_deref(), outcome);
        let holders = rows(&first, &format!("SELECT b FROM {t} WHERE a = {key}")).await;
        let expected = if outcome.is_some() { "first" } else { "second" };
        assert_eq!(holders, [expected]);
    }
}

fn start(data: &Path) -> (common::durable::Server, u16) {
    common::durable::start(data, &data.with_extension("log"), 2, "warn")
}

fn fails(port: u16, sql: &str) -> String {
    let out = Command::new("psql")
        .args(["-X", "-A", "-t", "-h", "127.0.0.1", "-p", &port.to_string()])
        .args(["-U", "postgres", "-d", "postgres", "-c", sql])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success() || !err.is_empty(), "{sql} succeeded");
    err
}

#[test]
fn unique_index_survives_restarts_and_checkpoints() {
    let dir = std::env::temp_dir().join(format!("omendb-uidx-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let data = dir.join("data");
    let (server, port) = start(&data);
    psql(
        port,
        "CREATE TABLE ur (id integer PRIMARY KEY, a integer, b text); \
         INSERT INTO ur SELECT i, i * 2, 'r' FROM generate_series(1, 200) AS i",
    );
    // The keys of rows already in segments, and of rows only in the WAL.
    psql(port, "CHECKPOINT");
    psql(port, "INSERT INTO ur VALUES (201, 1, 'wal')");
    psql(port, "CREATE UNIQUE INDEX ur_a ON ur (a)");
    psql(port, "INSERT INTO ur VALUES (202, 3, 'after')");
    common::durable::kill(server);
    let dup = "duplicate key value violates unique constraint \"ur_a\"";
    let check = |port: u16| {
        for key in [2, 400, 3] {
            let e = fails(port, &format!("INSERT INTO ur VALUES (999, {key}, 'x')"));
            assert!(e.contains(dup), "key {key}: {e}");
        }
        assert!(psql(port, "EXPLAIN SELECT b FROM ur WHERE a = 3").contains("index ur_a"));
        assert_eq!(psql(port, "SELECT b FROM ur WHERE a = 3"), "after");
        assert_eq!(
            psql(
                port,
                "INSERT INTO ur VALUES (999, 4, 'c') ON CONFLICT (a) DO UPDATE SET b = 'c' \
                 RETURNING id"
            ),
            "2\nINSERT 0 1"
        );
    };
    let (server, port) = start(&data);
    check(port);
    let e = fails(port, "INSERT INTO ur VALUES (999, 1, 'x')");
    assert!(e.contains(dup), "{e}");
    psql(port, "CHECKPOINT");
    psql(port, "UPDATE ur SET a = 5 WHERE id = 201");
    common::durable::kill(server);
    let (server, port) = start(&data);
    check(port);
    let e = fails(port, "INSERT INTO ur VALUES (999, 5, 'x')");
    assert!(e.contains(dup), "{e}");
    // The key the update freed is free after restart too.
    psql(port, "INSERT INTO ur VALUES (203, 1, 'reused')");
    psql(port, "DROP INDEX ur_a");
    common::durable::kill(server);
    let (server, port) = start(&data);
    psql(port, "INSERT INTO ur VALUES (204, 2, 'no index')");
    assert_eq!(psql(port, "SELECT count(*) FROM ur WHERE a = 2"), "2");
    // A new unique index of the same name starts from the rows, not from the dropped keys.
    psql(port, "DELETE FROM ur WHERE id IN (1, 204)");
    psql(port, "CREATE UNIQUE INDEX ur_a ON ur (a)");
    psql(port, "INSERT INTO ur VALUES (205, 2, 'fresh')");
    common::durable::kill(server);
    let (server, port) = start(&data);
    let e = fails(port, "INSERT INTO ur VALUES (206, 2, 'again')");
    assert!(e.contains(dup), "{e}");
    // TRUNCATE takes the keys with the rows, also through a restart (WAL replay).
    psql(port, "TRUNCATE ur");
    common::durable::kill(server);
    let (server, port) = start(&data);
    psql(port, "INSERT INTO ur VALUES (1, 2, 'after truncate')");
    let e = fails(port, "INSERT INTO ur VALUES (2, 2, 'again')");
    assert!(e.contains(dup), "{e}");
    common::durable::kill(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A duplicate inserted while the index is being built either makes the build fail or is
/// refused itself: never do both succeed (a write bound to the table before the index was
/// published makes the build start over).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_duplicate_racing_the_build_never_gets_past_it() {
    let server = TestServer::start();
    let c = server.connect().await;
    for delay_ms in [0u64, 20, 60, 120, 250] {
        let t = unique_name("uidx_race");
        c.batch_execute(&format!(
            "CREATE TABLE {t} (id integer PRIMARY KEY, a integer); \
             INSERT INTO {t} SELECT i, i FROM generate_series(1, 20000) AS i"
        ))
        .await
        .unwrap();
        let builder = server.connect().await;
        let inserter = server.connect().await;
        let build = format!("CREATE UNIQUE INDEX {t}_a ON {t} (a)");
        let insert = format!("INSERT INTO {t} VALUES (20001, 7)");
        let built = tokio::spawn(async move { builder.batch_execute(&build).await });
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        let inserted = inserter.batch_execute(&insert).await;
        let built = built.await.unwrap();
        match (&built, &inserted) {
            (Ok(()), Err(e)) | (Err(e), Ok(())) => assert_eq!(sqlstate(e), "23505"),
            _ => panic!("delay {delay_ms} ms: build {built:?}, insert {inserted:?}"),
        }
        let sevens = rows(&c, &format!("SELECT count(*) FROM {t} WHERE a + 0 = 7")).await;
        assert_eq!(sevens, [if built.is_ok() { "1" } else { "2" }]);
    }
}

/// A COPY still loading when the build starts (its rows may go straight to segments) is waited
/// for, and its duplicate then stops the build.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_copy_in_progress_is_waited_for() {
    use futures_util::SinkExt;
    let server = TestServer::start();
    let c = server.connect().await;
    let t = keyed_table(&c).await;
    c.batch_execute(&format!("DELETE FROM {t} WHERE id = 41"))
        .await
        .unwrap();
    let loader = server.connect().await;
    let sink = loader
        .copy_in(format!("COPY {t} FROM STDIN").as_str())
        .await
        .unwrap();
    futures_util::pin_mut!(sink);
    sink.send(bytes::Bytes::from_static(b"100\t7\tcopied\n"))
        .await
        .unwrap();
    let builder = server.connect().await;
    let build = format!("CREATE UNIQUE INDEX {t}_a ON {t} (a)");
    let built = tokio::spawn(async move { builder.batch_execute(&build).await });
    tokio::time::sleep(HOLD).await;
    assert!(!built.is_finished(), "the build did not wait for the COPY");
    assert_eq!(sink.finish().await.unwrap(), 1);
    let e = built.await.unwrap().unwrap_err();
    assert_eq!(sqlstate(&e), "23505");
}
