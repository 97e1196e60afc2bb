//! Bulk loads and checkpoints on the real binary through psql: `COPY … FROM STDIN` outside a
//! transaction block writes column segments directly; the rows answer queries, take updates
//! and deletes, survive SIGKILL and restarts with and without a checkpoint in between; a
//! duplicate key anywhere in the load (within it or against the table) fails the whole COPY
//! with 23505 and leaves nothing behind; COPY inside a transaction block stays on the row path.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// More than one segment's worth per shard (65,536 rows), so loads cut several segments.
const ROWS: i64 = 150_000;

fn start(dir: &Path, log: &Path) -> (common::durable::Server, u16) {
    common::durable::start(dir, log, 2, "info")
}

fn psql(port: u16, sql: &str, input: Option<&[u8]>) -> Output {
    let mut child = Command::new("psql")
        .args(["-X", "-A", "-t", "-h", "127.0.0.1", "-p", &port.to_string()])
        .args(["-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1"])
        .args(["-c", sql])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    if let Some(data) = input {
        stdin.write_all(data).unwrap();
    }
    drop(stdin);
    child.wait_with_output().unwrap()
}

fn query(port: u16, sql: &str) -> String {
    let out = psql(port, sql, None);
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Run a psql script (from stdin).
fn script_output(port: u16, script: &str) -> Output {
    let mut child = Command::new("psql")
        .args(["-X", "-A", "-t", "-h", "127.0.0.1", "-p", &port.to_string()])
        .args([
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-v",
            "ON_ERROR_STOP=1",
            "-f",
            "-",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(script.as_bytes()).unwrap();
    drop(stdin);
    child.wait_with_output().unwrap()
}

/// COPY `data` into `table`; Ok(command output) or Err(stderr).
fn copy(port: u16, table: &str, data: &str) -> Result<String, String> {
    let out = psql(
        port,
        &format!("COPY {table} FROM STDIN"),
        Some(data.as_bytes()),
    );
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).to_string())
    }
}

fn rows(range: std::ops::Range<i64>) -> String {
    let mut s = String::new();
    for k in range {
        // Every 7th text is NULL; amounts have two decimals.
        let text = if k % 7 == 0 {
            "\\N".to_string()
        } else {
            format!("item {k}")
        };
        s.push_str(&format!(
            "{k}\t{text}\t{}.{:02}\t2024-01-{:02}\n",
            k / 100,
            k % 100,
            k % 28 + 1
        ));
    }
    s
}

use common::durable::kill;

fn scratch(name: &str) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("omendb-bulk-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    (dir.clone(), dir.with_extension("log"))
}

/// (count, sum of k, count of NULL texts, sum of amounts, max date)
fn summary(port: u16) -> String {
    query(
        port,
        "SELECT count(*), sum(k), count(*) - count(t), sum(amount), max(d) FROM items",
    )
}

fn expected_summary(keys: impl Iterator<Item = i64> + Clone) -> String {
    let count = keys.clone().count();
    let sum: i64 = keys.clone().sum();
    let nulls = keys.clone().filter(|k| k % 7 == 0).count();
    let cents: i64 = keys.clone().map(|k| (k / 100) * 100 + k % 100).sum();
    let max_day = keys.map(|k| k % 28 + 1).max().unwrap();
    format!(
        "{count}|{sum}|{nulls}|{}.{:02}|2024-01-{max_day:02}",
        cents / 100,
        cents % 100
    )
}

#[test]
fn copied_segments_answer_queries_take_writes_and_survive_restarts() {
    let (dir, log) = scratch("load");
    let (child, port) = start(&dir, &log);
    query(
        port,
        "CREATE TABLE items (k bigint PRIMARY KEY, t text, amount numeric(12,2), d date)",
    );
    assert_eq!(
        copy(port, "items", &rows(0..ROWS)).unwrap(),
        format!("COPY {ROWS}")
    );
    let all = expected_summary(0..ROWS);
    assert_eq!(summary(port), all);
    // The rows are in segments, not the WAL: one Segment record per file.
    let segments: usize = ["shard-0", "shard-1"]
        .iter()
        .map(|s| {
            std::fs::read_dir(dir.join(s).join("segments"))
                .unwrap()
                .count()
        })
        .sum();
    assert!(segments >= 3, "{segments} segment files");
    assert_eq!(
        query(port, "SELECT t FROM items WHERE k = 12345"),
        "item 12345"
    );
    assert_eq!(
        query(
            port,
            "SELECT count(*) FROM items WHERE k BETWEEN 1000 AND 1999"
        ),
        "1000"
    );

    // Writes to loaded rows: an update, a delete, a re-insert of a deleted key.
    query(port, "UPDATE items SET t = 'changed' WHERE k = 5");
    query(port, "DELETE FROM items WHERE k >= 100 AND k < 200");
    query(
        port,
        "INSERT INTO items VALUES (150, 'back', 1.00, '2024-02-01')",
    );
    let err = psql(
        port,
        "INSERT INTO items VALUES (7, 'dup', 1, '2024-01-01')",
        None,
    );
    assert!(String::from_utf8_lossy(&err.stderr).contains("duplicate key"));
    let check = |port: u16| {
        assert_eq!(query(port, "SELECT t FROM items WHERE k = 5"), "changed");
        assert_eq!(
            query(
                port,
                "SELECT count(*) FROM items WHERE k >= 100 AND k < 200"
            ),
            "1"
        );
        assert_eq!(query(port, "SELECT t FROM items WHERE k = 150"), "back");
        assert_eq!(
            query(port, "SELECT count(*) FROM items"),
            (ROWS - 99).to_string()
        );
    };
    check(port);

    // SIGKILL: the loaded segments come back from the WAL's segment records.
    kill(child);
    let (child, port) = start(&dir, &log);
    check(port);
    // A checkpoint folds the row-store changes into segments; restart from the manifest.
    query(port, "CHECKPOINT");
    check(port);
    kill(child);
    let (child, port) = start(&dir, &log);
    check(port);
    // A second load into the same table, then a graceful stop (SIGTERM checkpoints).
    assert_eq!(
        copy(port, "items", &rows(ROWS..ROWS + 1000)).unwrap(),
        "COPY 1000"
    );
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let mut child = child;
    child.wait().unwrap();
    let (child, port) = start(&dir, &log);
    check_after_second_load(port);
    kill(child);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(&log);
}

fn check_after_second_load(port: u16) {
    assert_eq!(
        query(port, "SELECT count(*) FROM items"),
        (ROWS - 99 + 1000).to_string()
    );
    assert_eq!(
        query(port, &format!("SELECT t FROM items WHERE k = {}", ROWS + 1)),
        format!("item {}", ROWS + 1)
    );
}

#[test]
fn a_duplicate_key_fails_the_whole_copy() {
    let (dir, log) = scratch("dup");
    let (child, port) = start(&dir, &log);
    query(
        port,
        "CREATE TABLE items (k bigint PRIMARY KEY, t text, amount numeric(12,2), d date)",
    );
    // A duplicate inside the load.
    let mut data = rows(0..1000);
    data.push_str(&rows(500..501));
    let err = copy(port, "items", &data).unwrap_err();
    assert!(
        err.contains("duplicate key") && err.contains("(k)=(500)"),
        "{err}"
    );
    assert_eq!(query(port, "SELECT count(*) FROM items"), "0");
    // A duplicate of a row already in the table (inserted on the row path).
    query(port, "INSERT INTO items VALUES (42, 'x', 1, '2024-01-01')");
    let err = copy(port, "items", &rows(0..100_000)).unwrap_err();
    assert!(err.contains("(k)=(42)"), "{err}");
    assert_eq!(query(port, "SELECT count(*) FROM items"), "1");
    // The failed loads released the table: writes and new loads go on.
    query(port, "INSERT INTO items VALUES (43, 'y', 1, '2024-01-01')");
    assert_eq!(copy(port, "items", &rows(1000..2000)).unwrap(), "COPY 1000");
    // A duplicate of a row loaded earlier (now in a segment).
    let err = copy(port, "items", &rows(1999..2001)).unwrap_err();
    assert!(err.contains("(k)=(1999)"), "{err}");
    assert_eq!(query(port, "SELECT count(*) FROM items"), "1002");
    // A bad value deep in the stream (past the first chunks, on whichever shard parses it)
    // is reported with its line number; nothing of the load stays.
    let mut data = rows(10_000..80_000);
    data.push_str("80000\tbad\t1.00\t2024-02-30\n");
    data.push_str(&rows(80_001..90_000));
    let err = copy(port, "items", &data).unwrap_err();
    assert!(
        err.contains("line 70001") && err.contains("2024-02-30"),
        "{err}"
    );
    assert_eq!(query(port, "SELECT count(*) FROM items"), "1002");
    kill(child);
    let (child, port) = start(&dir, &log);
    assert_eq!(query(port, "SELECT count(*) FROM items"), "1002");
    kill(child);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(&log);
}

/// Rows are routed to their shard by the key field alone; a key written with escapes takes
/// the whole-line parse and must still land on its own shard (a point lookup finds it), and a
/// malformed or NULL key deep in the stream fails the COPY with its line number.
#[test]
fn rows_route_by_key_even_when_the_key_is_escaped_or_malformed() {
    let (dir, log) = scratch("route");
    let (child, port) = start(&dir, &log);
    query(
        port,
        "CREATE TABLE items (k bigint PRIMARY KEY, t text, amount numeric(12,2), d date)",
    );
    // 7\x30 is 70 and \061\0613 is 113 once unescaped.
    let mut data = rows(0..70);
    data.push_str("7\\x30\tescaped\t1.00\t2024-01-01\n");
    data.push_str(&rows(71..113));
    data.push_str("\\061\\0613\tescaped too\t2.00\t2024-01-02\n");
    data.push_str(&rows(114..ROWS));
    assert_eq!(copy(port, "items", &data).unwrap(), format!("COPY {ROWS}"));
    for k in [70, 113, 5, ROWS - 1] {
        let found = query(port, &format!("SELECT k, t FROM items WHERE k = {k}"));
        assert!(found.starts_with(&format!("{k}|")), "k = {k}: {found:?}");
    }
    assert_eq!(summary(port), expected_summary_except(0..ROWS, &[70, 113]));
    // A malformed key and a NULL key past the first chunks: 22P02 / 23502 naming the line.
    for (bad, what) in [("x1", "invalid input syntax"), ("\\N", "null value")] {
        query(port, "DELETE FROM items");
        let mut data = rows(200_000..260_000);
        data.push_str(&format!("{bad}\tbad key\t1.00\t2024-01-01\n"));
        data.push_str(&rows(260_001..270_000));
        let err = copy(port, "items", &data).unwrap_err();
        assert!(err.contains(what) && err.contains("line 60001"), "{err}");
        assert_eq!(query(port, "SELECT count(*) FROM items"), "0");
    }
    kill(child);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(&log);
}

/// Integer keys of each width are routed from their field as they are parsed; every row must
/// be on the shard a point lookup of its key goes to: negative keys, each type's bounds, and
/// a COPY whose NULL string is a number (that field is NULL, not the number).
#[test]
fn integer_keys_of_every_width_land_where_lookups_look() {
    let (dir, log) = scratch("int-keys");
    let (child, port) = start(&dir, &log);
    for (ty, lo, hi) in [
        ("smallint", i64::from(i16::MIN), i64::from(i16::MAX)),
        ("integer", i64::from(i32::MIN), i64::from(i32::MAX)),
        ("bigint", i64::MIN, i64::MAX),
    ] {
        let table = format!("keys_{ty}");
        query(
            port,
            &format!("CREATE TABLE {table} (k {ty} PRIMARY KEY, v int)"),
        );
        let keys: Vec<i64> = [lo, lo + 1, hi - 1, hi]
            .into_iter()
            .chain((-20_000..20_000).step_by(7))
            .collect();
        let data: String = keys.iter().map(|k| format!("{k}\t1\n")).collect();
        assert_eq!(
            copy(port, &table, &data).unwrap(),
            format!("COPY {}", keys.len())
        );
        let lookups: String = keys
            .iter()
            .step_by(37)
            .chain(&[lo, hi, -1, -20_000])
            .map(|k| format!("SELECT k FROM {table} WHERE k = {k};\n"))
            .collect();
        let out = script_output(port, &lookups);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let found: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect();
        let expected: Vec<String> = keys
            .iter()
            .step_by(37)
            .chain(&[lo, hi, -1, -20_000])
            .map(|k| k.to_string())
            .collect();
        assert_eq!(found, expected, "{ty}");
    }
    let out = psql(
        port,
        "COPY keys_integer FROM STDIN WITH (NULL '5')",
        Some(b"100001\t1\n5\t1\n"),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("null value"), "{err}");
    kill(child);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(&log);
}

/// `summary` of the rows `keys` as `rows` writes them, except that the rows of `escaped`
/// carry the texts, amounts and dates of the escaped lines above.
fn expected_summary_except(keys: std::ops::Range<i64>, escaped: &[i64]) -> String {
    let plain = keys.clone().filter(|k| !escaped.contains(k));
    let count = keys.clone().count();
    let sum: i64 = keys.clone().sum();
    let nulls = plain.clone().filter(|k| k % 7 == 0).count();
    let cents: i64 = plain
        .clone()
        .map(|k| (k / 100) * 100 + k % 100)
        .sum::<i64>()
        + 100
        + 200;
    let max_day = plain.map(|k| k % 28 + 1).max().unwrap();
    format!(
        "{count}|{sum}|{nulls}|{}.{:02}|2024-01-{max_day:02}",
        cents / 100,
        cents % 100
    )
}

#[test]
fn copy_in_a_transaction_block_is_visible_to_it_and_rolls_back() {
    let (dir, log) = scratch("txn");
    let (child, port) = start(&dir, &log);
    query(
        port,
        "CREATE TABLE items (k bigint PRIMARY KEY, t text, amount numeric(12,2), d date)",
    );
    // psql sends each statement of the script on its own; the data follows the COPY line.
    let script = format!(
        "BEGIN;\nCOPY items FROM STDIN;\n{}\\.\nSELECT count(*) FROM items;\nROLLBACK;\n",
        rows(0..500)
    );
    let out = script_output(port, &script);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("500"));
    assert_eq!(query(port, "SELECT count(*) FROM items"), "0");
    // A table without a primary key loads in insertion order's segments too.
    query(
        port,
        "CREATE TABLE log (k bigint, t text, amount numeric(12,2), d date)",
    );
    assert_eq!(copy(port, "log", &rows(0..3000)).unwrap(), "COPY 3000");
    assert_eq!(copy(port, "log", &rows(0..10)).unwrap(), "COPY 10");
    assert_eq!(
        query(port, "SELECT count(*), count(DISTINCT k) FROM log"),
        "3010|3000"
    );
    kill(child);
    let (child, port) = start(&dir, &log);
    assert_eq!(
        query(port, "SELECT count(*), count(DISTINCT k) FROM log"),
        "3010|3000"
    );
    kill(child);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(&log);
}

/// tokio-postgres sends COPY through the extended protocol (Parse/Bind/Execute, CopyData,
/// CopyDone, then Sync); errors skip to the Sync and the connection goes on.
#[test]
fn copy_through_the_extended_protocol() {
    use futures_util::SinkExt;
    let (dir, log) = scratch("extended");
    let (child, port) = start(&dir, &log);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        client
            .batch_execute(
                "CREATE TABLE items (k bigint PRIMARY KEY, t text, amount numeric(12,2), d date)",
            )
            .await
            .unwrap();
        let send = |data: String| {
            let client = &client;
            async move {
                let sink = client.copy_in("COPY items FROM STDIN").await?;
                futures_util::pin_mut!(sink);
                sink.send(bytes::Bytes::from(data)).await?;
                sink.finish().await
            }
        };
        assert_eq!(send(rows(0..20_000)).await.unwrap(), 20_000);
        let err = send(rows(19_999..20_001)).await.unwrap_err();
        assert_eq!(err.code().map(|c| c.code()), Some("23505"), "{err}");
        let n: i64 = client
            .query_one("SELECT count(*) FROM items", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 20_000);

        // Concurrent loads of one table (the TPC-H loader sends parts in parallel): disjoint
        // keys all load; a key two loads share loads once.
        let mut clients = Vec::new();
        for _ in 0..3 {
            let (c, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(conn);
            clients.push(c);
        }
        let (a, b, c) = tokio::join!(
            load(&clients[0], rows(100_000..200_000)),
            load(&clients[1], rows(200_000..300_000)),
            load(&clients[2], rows(300_000..400_000)),
        );
        assert_eq!(
            (a.unwrap(), b.unwrap(), c.unwrap()),
            (100_000, 100_000, 100_000)
        );
        let (a, b) = tokio::join!(
            load(&clients[0], rows(500_000..600_000)),
            load(&clients[1], rows(599_999..700_000)),
        );
        assert!(
            a.is_ok() != b.is_ok(),
            "exactly one of two loads sharing key 599999 commits: {a:?} {b:?}"
        );
        let failed = a.err().or(b.err()).unwrap();
        assert_eq!(failed.code().map(|c| c.code()), Some("23505"), "{failed}");
        let (n, distinct): (i64, i64) = {
            let r = client
                .query_one("SELECT count(*), count(DISTINCT k) FROM items", &[])
                .await
                .unwrap();
            (r.get(0), r.get(1))
        };
        assert_eq!(n, distinct);
        assert!(n == 320_000 + 100_000 || n == 320_000 + 100_001, "{n}");
    });
    kill(child);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(&log);
}

/// COPY `data` through tokio-postgres in 50 kB messages; the row count.
async fn load(c: &tokio_postgres::Client, data: String) -> Result<u64, tokio_postgres::Error> {
    use futures_util::SinkExt;
    let sink = c.copy_in("COPY items FROM STDIN").await?;
    futures_util::pin_mut!(sink);
    for piece in data.as_bytes().chunks(50_000) {
        sink.send(bytes::Bytes::copy_from_slice(piece)).await?;
    }
    sink.finish().await
}

#[test]
fn large_insert_select_loads_segments() {
    let (dir, log) = scratch("insert-select");
    let (child, port) = start(&dir, &log);
    query(port, "CREATE TABLE src (k bigint PRIMARY KEY, t text)");
    query(
        port,
        "INSERT INTO src SELECT g, 'row ' || g FROM generate_series(1, 50000) g",
    );
    let files = || -> usize {
        ["shard-0", "shard-1"]
            .iter()
            .map(|s| {
                std::fs::read_dir(dir.join(s).join("segments"))
                    .map(|d| d.count())
                    .unwrap_or(0)
            })
            .sum()
    };
    assert!(files() >= 2, "50,000 rows became segments");
    query(port, "CREATE TABLE dst (k bigint PRIMARY KEY, t text)");
    query(
        port,
        "INSERT INTO dst SELECT k * 2, t FROM src WHERE k <= 30000",
    );
    assert_eq!(
        query(port, "SELECT count(*), max(k) FROM dst"),
        "30000|60000"
    );
    // Overlapping keys: the whole statement fails, nothing of it stays.
    let out = psql(port, "INSERT INTO dst SELECT k, t FROM src", None);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("duplicate key"), "{err}");
    assert_eq!(query(port, "SELECT count(*) FROM dst"), "30000");
    // A small INSERT … SELECT takes the row path.
    query(
        port,
        "INSERT INTO dst SELECT k * 2 + 1, t FROM src WHERE k <= 10",
    );
    assert_eq!(query(port, "SELECT count(*) FROM dst"), "30010");
    kill(child);
    let (child, port) = start(&dir, &log);
    assert_eq!(
        query(port, "SELECT count(*), sum(k) FROM src"),
        "50000|1250025000"
    );
    assert_eq!(query(port, "SELECT count(*) FROM dst"), "30010");
    assert_eq!(query(port, "SELECT t FROM dst WHERE k = 21"), "row 10");
    kill(child);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(&log);
}

/// Filtered scans of segments read the filter's columns first and the others only for the rows
/// kept (late materialisation), through dictionary and 64-bit numeric columns, with deleted
/// rows: the vectorized answers equal the row executor's.
#[test]
fn filtered_scans_of_compact_segments_with_deletes_match_the_row_executor() {
    let (dir, log) = scratch("late-materialise");
    let (child, port) = start(&dir, &log);
    query(
        port,
        "CREATE TABLE lm (k int PRIMARY KEY, d date, v numeric(12,2), mode char(10), note text)",
    );
    query(
        port,
        "INSERT INTO lm SELECT g, date '2000-01-01' + (g % 400), g * 0.25,
                'm' || (g % 5), CASE WHEN g % 11 = 0 THEN NULL ELSE 'note ' || g END
           FROM generate_series(1, 60000) g",
    );
    query(port, "DELETE FROM lm WHERE k % 3 = 0 AND k < 50000");
    let queries = [
        "SELECT count(*), sum(v), min(note), max(mode) FROM lm WHERE d < date '2000-02-01'",
        "SELECT count(*), sum(v) FROM lm WHERE mode = 'm3' AND v > 1000",
        "SELECT mode, count(note), sum(v) FROM lm WHERE k % 7 = 1 GROUP BY mode ORDER BY mode",
        "SELECT k, mode, note FROM lm WHERE d = date '2000-03-01' ORDER BY k LIMIT 5",
        "SELECT count(*), sum(b.v) FROM lm a JOIN lm b ON a.k = b.k WHERE a.mode = 'm1' AND b.d < date '2000-06-01'",
    ];
    assert_vectorized_like_rows(port, &queries);
    kill(child);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(&log);
}

/// Comparisons of fixed-width columns with constants are tested on the stored values, with
/// constants folded first and rounded into the column's unit: every form must keep exactly the
/// rows the row executor keeps (NULLs, deletes, ranges past the type, a dense selection with
/// fallible expressions after it).
#[test]
fn range_tests_on_stored_columns_match_the_row_executor() {
    let (dir, log) = scratch("range-test");
    let (child, port) = start(&dir, &log);
    query(
        port,
        "CREATE TABLE rt (k int PRIMARY KEY, sm smallint, b bigint, d date, v numeric(12,2),
                          ts timestamp, note text)",
    );
    query(
        port,
        "INSERT INTO rt SELECT g,
                CASE WHEN g % 17 = 0 THEN NULL ELSE (g % 201) - 100 END,
                CAST(g AS bigint) * 100000007,
                CASE WHEN g % 19 = 0 THEN NULL ELSE date '2000-01-01' + (g % 400) END,
                CASE WHEN g % 23 = 0 THEN NULL ELSE (g % 1000) * 0.01 END,
                timestamp '2000-01-01 00:00' + g * interval '7 minutes',
                'note ' || g
           FROM generate_series(1, 60000) g",
    );
    query(port, "DELETE FROM rt WHERE k % 3 = 0 AND k < 40000");
    // Small join inputs: their keys reach rt's scan as key tests on the stored columns.
    query(
        port,
        "CREATE TABLE pick (p int PRIMARY KEY, day date);
         INSERT INTO pick SELECT g, date '2000-01-01' + g * 3 FROM generate_series(-20, 90) g",
    );
    let queries = [
        "SELECT count(*), sum(rt.v) FROM rt JOIN pick ON rt.sm = pick.p WHERE rt.v > 1",
        "SELECT count(*), sum(rt.v) FROM rt JOIN pick ON rt.sm = pick.p",
        "SELECT count(*), min(rt.k) FROM rt JOIN pick ON rt.d = pick.day WHERE pick.p < 40 AND rt.sm > 0",
        "SELECT count(*) FROM rt JOIN pick ON rt.k = pick.p * 300 WHERE rt.d > date '2000-02-01'",
        "SELECT count(*), sum(v) FROM rt WHERE v >= 0.055 AND v < 5.005",
        "SELECT count(*), sum(v) FROM rt WHERE v > 0.055 AND v <= 5.005",
        "SELECT count(*) FROM rt WHERE v = 2.5",
        "SELECT count(*) FROM rt WHERE v = 2.505",
        "SELECT count(*) FROM rt WHERE 3 > v AND v BETWEEN 0.06 - 0.01 AND 0.06 + 0.01",
        "SELECT count(*) FROM rt WHERE v > 1 AND v < 0",
        "SELECT count(*), min(k) FROM rt WHERE v < 24 AND v > -1",
        "SELECT count(*), sum(v) FROM rt WHERE d >= date '2000-02-01' AND d < date '2000-02-01' + interval '1' month",
        "SELECT count(*) FROM rt WHERE d <= date '2001-01-01' - interval '90' day",
        "SELECT count(*) FROM rt WHERE CAST(d AS timestamp) > timestamp '2000-03-01 12:00'",
        "SELECT count(*) FROM rt WHERE CAST(d AS timestamp) >= timestamp '2000-03-01 12:00'",
        "SELECT count(*) FROM rt WHERE d = date '2000-03-01' AND sm > 0",
        "SELECT count(*), sum(sm) FROM rt WHERE sm BETWEEN -5 AND 5",
        "SELECT count(*) FROM rt WHERE sm < 100000 AND sm > -40000",
        "SELECT count(*) FROM rt WHERE b > 4000000000000 AND b <= 5000000000000",
        "SELECT count(*) FROM rt WHERE ts >= timestamp '2000-01-02' AND ts < timestamp '2000-01-03'",
        "SELECT count(*) FROM rt WHERE v > 9 AND note LIKE 'note 1%'",
        "SELECT count(*), sum(v * 2), sum(1000 / (k % 50 + 1)) FROM rt WHERE d >= date '2000-01-05'",
        "SELECT k, v, d FROM rt WHERE v >= 9.98 AND d > date '2000-06-01' ORDER BY k LIMIT 5",
    ];
    assert_vectorized_like_rows(port, &queries);
    kill(child);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(&log);
}

/// A join's key filter tested on a segment's stored keys keeps few rows of most windows and
/// every or half the rows of some: the sparse survivors of several windows are read together,
/// before the dense windows that follow them, and every form must keep the row executor's
/// rows (with deletes, NULL keys on the other side, and a test on another column as well).
#[test]
fn sparse_key_test_survivors_gathered_across_windows_match_the_row_executor() {
    let (dir, log) = scratch("sparse-keys");
    let (child, port) = start(&dir, &log);
    query(
        port,
        "CREATE TABLE sk (k int PRIMARY KEY, g int, v numeric(12,2), note text)",
    );
    query(
        port,
        "INSERT INTO sk SELECT i, i % 10, i * 0.5, 'n' || i FROM generate_series(1, 60000) i",
    );
    query(
        port,
        "DELETE FROM sk WHERE k % 7 = 0 AND k BETWEEN 20000 AND 40000",
    );
    // Every 97th key, a dense run (whole windows), a half-dense run, and NULLs.
    query(
        port,
        "CREATE TABLE picks (id int PRIMARY KEY, key int);
         INSERT INTO picks SELECT i, i FROM generate_series(97, 60000, 97) i;
         INSERT INTO picks SELECT 100000 + i, i FROM generate_series(10001, 14500) i WHERE i % 97 <> 0;
         INSERT INTO picks SELECT 200000 + i, i FROM generate_series(30000, 32000, 2) i WHERE i % 97 <> 0;
         INSERT INTO picks VALUES (900001, NULL), (900002, 999999)",
    );
    let queries = [
        "SELECT count(*), sum(sk.v), min(sk.note), max(sk.note) FROM sk JOIN picks ON sk.k = picks.key",
        "SELECT string_agg(sk.note, ',' ORDER BY sk.k) FROM sk JOIN picks ON sk.k = picks.key WHERE sk.k % 1000 < 3",
        "SELECT sk.g, count(*), sum(sk.v) FROM sk JOIN picks ON sk.k = picks.key WHERE sk.g < 5 GROUP BY sk.g ORDER BY sk.g",
        "SELECT count(*) FROM sk WHERE k IN (SELECT key FROM picks) AND v > 10000",
        "SELECT sk.k, sk.note FROM sk JOIN picks ON sk.k = picks.key ORDER BY sk.k DESC LIMIT 7",
    ];
    assert_vectorized_like_rows(port, &queries);
    kill(child);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(&log);
}

/// Group keys with text too long to pack inline switch to interned text ids part way through
/// a scan (on one shard and not the other, so partial states of both forms merge), and
/// `count(DISTINCT …)` groups twice (TPC-H Q16's shape): the row executor's groups and counts.
#[test]
fn grouping_by_long_text_columns_matches_the_row_executor() {
    let (dir, log) = scratch("long-text-groups");
    let (child, port) = start(&dir, &log);
    query(
        port,
        "CREATE TABLE lt (k int PRIMARY KEY, brand char(10), kind varchar(25), size int, supp int)",
    );
    // Short values first; long ones only in the last rows; NULLs and a multibyte value.
    query(
        port,
        "INSERT INTO lt SELECT i, 'B' || (i % 5),
                CASE WHEN i % 17 = 0 THEN NULL
                     WHEN i > 45000 THEN 'PROMO BURNISHED COPPER ' || (i % 3)
                     WHEN i % 1000 = 1 THEN 'é' || (i % 4)
                     ELSE 'T' || (i % 4) END,
                i % 50, i % 400
           FROM generate_series(1, 50000) i",
    );
    query(port, "DELETE FROM lt WHERE k % 9 = 0 AND k > 40000");
    let queries = [
        "SELECT brand, kind, size, count(DISTINCT supp) AS n FROM lt WHERE size IN (1, 7, 13, 49) GROUP BY brand, kind, size ORDER BY n DESC, brand, kind, size",
        "SELECT kind, brand, count(*), min(k), max(supp) FROM lt GROUP BY kind, brand ORDER BY kind, brand",
        "SELECT kind, count(*) FROM lt WHERE k > 44000 GROUP BY kind ORDER BY kind",
        "SELECT brand, kind, size, supp, count(*) FROM lt WHERE k % 7 = 0 GROUP BY brand, kind, size, supp ORDER BY 1, 2, 3, 4 LIMIT 40",
    ];
    assert_vectorized_like_rows(port, &queries);
    kill(child);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(&log);
}

/// Conjuncts over one dictionary-encoded column are decided per dictionary value; NULLs,
/// padding, deletes and the remaining conjuncts must give the row executor's answers.
#[test]
fn dictionary_column_filters_match_the_row_executor() {
    let (dir, log) = scratch("dict-filter");
    let (child, port) = start(&dir, &log);
    query(
        port,
        "CREATE TABLE df (k int PRIMARY KEY, mode char(10), kind text, v int, grade text)",
    );
    query(
        port,
        "INSERT INTO df SELECT g,
                CASE WHEN g % 13 = 0 THEN NULL ELSE 'AIR' || (g % 4) END,
                CASE g % 3 WHEN 0 THEN 'small box' WHEN 1 THEN 'large case' ELSE NULL END,
                g % 100, 'g' || (g % 6)
           FROM generate_series(1, 50000) g",
    );
    query(port, "DELETE FROM df WHERE k % 5 = 0 AND k < 30000");
    // Rows in the row store too: their groups must meet the segments' coded groups.
    query(
        port,
        "INSERT INTO df VALUES (60001, 'AIR1', 'new kind', 7, 'g1'), (60002, NULL, NULL, 0, 'g9'),
                               (60003, 'AIR1', 'large case', 3, 'g2')",
    );
    let queries = [
        "SELECT mode, kind, count(*), sum(v), min(k) FROM df WHERE v < 50 GROUP BY mode, kind ORDER BY mode, kind",
        "SELECT mode, count(*), sum(100 / v) FROM df WHERE v > 0 GROUP BY mode ORDER BY mode",
        "SELECT kind, count(*), max(v) FROM df WHERE v BETWEEN 3 AND 7 GROUP BY kind ORDER BY kind",
        "SELECT count(*), sum(v) FROM df WHERE v >= 1",
        "SELECT count(*), sum(v), min(k), max(k) FROM df WHERE grade = 'g3'",
        "SELECT grade, count(*), sum(v) FROM df WHERE grade IN ('g1', 'g2', 'g9') AND v < 50 GROUP BY grade ORDER BY grade",
        "SELECT count(*), sum(v) FROM df WHERE mode = 'AIR1'",
        "SELECT count(*), sum(v) FROM df WHERE mode IN ('AIR1', 'AIR3') AND v < 40",
        "SELECT count(*) FROM df WHERE mode <> 'AIR2'",
        "SELECT count(*) FROM df WHERE mode IS NULL",
        "SELECT count(*) FROM df WHERE kind IS NOT NULL AND mode IS NULL",
        "SELECT count(*), min(k) FROM df WHERE kind LIKE '%box' AND mode NOT IN ('AIR0')",
        "SELECT count(*) FROM df WHERE kind NOT LIKE 'large%' AND (v > 90 OR mode = 'AIR0')",
        "SELECT mode, kind, count(*) FROM df WHERE coalesce(kind, 'none') <> 'small box' GROUP BY mode, kind ORDER BY mode, kind",
        "SELECT k, mode, kind FROM df WHERE mode = 'AIR3' AND kind = 'large case' ORDER BY k LIMIT 5",
        "SELECT count(*) FROM df WHERE mode = 'NOPE'",
        "SELECT substring(CAST(mode AS text), 2, 3) AS s, count(*) FROM df GROUP BY s ORDER BY s",
        "SELECT count(*) FROM df WHERE substring(kind, 3) IN ('all box', 'rge case')",
        "SELECT substring(kind FROM 7), substring(kind, 0, 3), substring(kind, -1), count(*) FROM df GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
        "SELECT CAST(mode AS text) || '|', count(*) FROM df GROUP BY 1 ORDER BY 1",
    ];
    assert_vectorized_like_rows(port, &queries);
    kill(child);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(&log);
}

/// Joins with more probe rows than one core probes alone are probed on every shard at once;
/// each kind must still give the row executor's rows.
#[test]
fn joins_probed_on_every_shard_match_the_row_executor() {
    let (dir, log) = scratch("parallel-probe");
    let (child, port) = start(&dir, &log);
    query(port, "CREATE TABLE pc (ck int PRIMARY KEY, tier int)");
    query(
        port,
        "CREATE TABLE po (ok int PRIMARY KEY, ck int, amount int, note text)",
    );
    query(
        port,
        "INSERT INTO pc SELECT g, g % 7 FROM generate_series(1, 30000) g",
    );
    query(
        port,
        "INSERT INTO po SELECT g, CASE WHEN g % 17 = 0 THEN NULL ELSE (g * 7) % 45000 END, g % 1000,
                CASE WHEN g % 3 = 0 THEN 'special' ELSE 'plain' END
           FROM generate_series(1, 90000) g",
    );
    let queries = [
        "SELECT count(*), sum(o.amount), sum(c.tier) FROM pc c JOIN po o ON c.ck = o.ck",
        "SELECT count(*), count(o.ok), sum(c.ck) FROM po o LEFT JOIN pc c ON c.ck = o.ck AND c.tier > 2",
        "SELECT cnt, count(*) FROM (SELECT c.ck, count(o.ok) AS cnt FROM pc c LEFT JOIN po o ON c.ck = o.ck AND o.note <> 'special' GROUP BY c.ck) t GROUP BY cnt ORDER BY cnt",
        "SELECT count(*), count(c.ck), sum(o.amount) FROM pc c RIGHT JOIN po o ON c.ck = o.ck AND c.tier <> 4",
        "SELECT count(*), count(o.ok), sum(c.tier) FROM po o RIGHT JOIN pc c ON c.ck = o.ck AND o.amount > 500",
        "SELECT count(*), count(o.ok) FROM pc c LEFT JOIN po o ON c.ck = o.ck AND o.amount > 990 AND c.tier = 1",
        "SELECT count(*), sum(amount) FROM po WHERE ck IN (SELECT ck FROM pc WHERE tier = 3)",
        "SELECT count(*), sum(amount) FROM po o WHERE NOT EXISTS (SELECT 1 FROM pc c WHERE c.ck = o.ck)",
        "SELECT count(*) FROM po WHERE ck NOT IN (SELECT ck FROM pc WHERE tier <> 1)",
        "SELECT count(*), sum(tier) FROM pc c WHERE EXISTS (SELECT 1 FROM po o WHERE o.ck = c.ck AND o.amount > 900)",
        "SELECT count(*), sum(tier) FROM pc c WHERE NOT EXISTS (SELECT 1 FROM po o WHERE o.ck = c.ck AND o.amount < 100 AND o.ok <> c.ck)",
        "SELECT count(*) FROM pc WHERE ck NOT IN (SELECT ck FROM po)",
        "SELECT count(*) FROM pc WHERE ck NOT IN (SELECT ck FROM po WHERE ck IS NOT NULL)",
        "SELECT count(*) FROM pc WHERE ck IN (SELECT ck FROM po WHERE amount = 7)",
        "SELECT o.ok, c.tier FROM po o JOIN pc c ON c.ck = o.ck AND o.amount < c.tier * 100 ORDER BY o.ok LIMIT 7",
    ];
    assert_vectorized_like_rows(port, &queries);
    kill(child);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(&log);
}

/// A SIGTERM while the server is still recovering must not run the shutdown checkpoint over
/// the half-recovered state: that checkpoint once wrote a manifest without the segments only
/// the WAL named, and the next start deleted them (committed COPY rows lost).
#[test]
fn sigterm_during_recovery_loses_no_copied_rows() {
    let (dir, log) = scratch("term-recovery");
    let (child, port) = start(&dir, &log);
    query(
        port,
        "CREATE TABLE items (k bigint PRIMARY KEY, t text, amount numeric(12,2), d date)",
    );
    assert_eq!(
        copy(port, "items", &rows(0..ROWS)).unwrap(),
        format!("COPY {ROWS}")
    );
    let all = expected_summary(0..ROWS);
    assert_eq!(summary(port), all);
    // Killed: the segments are named by the WAL only, so every start recovers them.
    kill(child);
    // Terminate starts at several points of their recovery (the first before it begins).
    for delay_ms in [0u64, 5, 20, 60, 150] {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_omendb"))
            .args([
                "--port",
                &unused_port().to_string(),
                "--listen",
                "127.0.0.1",
            ])
            .args(["--shards", "2"])
            .arg("--data-dir")
            .arg(&dir)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let term = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(term.success());
        child.wait().unwrap();
        let (child, port) = start(&dir, &log);
        assert_eq!(
            summary(port),
            all,
            "after SIGTERM {delay_ms} ms into a start"
        );
        kill(child);
    }
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(&log);
}

fn unused_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

/// Each query gives the same non-empty answer through the vectorized and the row executor.
fn assert_vectorized_like_rows(port: u16, queries: &[&str]) {
    for sql in queries {
        let vector = query(port, &format!("SET omendb.vectorize = strict; {sql}"));
        let row = query(port, &format!("SET omendb.vectorize = off; {sql}"));
        assert_eq!(vector, row, "{sql}");
        assert!(!row.is_empty(), "{sql}");
    }
}

/// Load `lines` lines of `data` into `bulk` by COPY outside a transaction block (the bulk path)
/// and into `rows` inside one (the row path and the general parser), then require both tables
/// to hold the same rows.
fn assert_bulk_load_is_the_row_path(port: u16, bulk: &str, rows: &str, data: &str, lines: usize) {
    assert_eq!(copy(port, bulk, data).unwrap(), format!("COPY {lines}"));
    let script = format!("BEGIN;\nCOPY {rows} FROM STDIN;\n{data}\\.\nCOMMIT;\n");
    let out = script_output(port, &script);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all = |t: &str| query(port, &format!("SELECT * FROM {t} ORDER BY k"));
    let (loaded, expected) = (all(bulk), all(rows));
    assert_eq!(loaded.lines().count(), lines);
    for (b, r) in loaded.lines().zip(expected.lines()) {
        assert_eq!(b, r, "the bulk load differs from the row path");
    }
}

/// Fields of each type, in plain forms (parsed straight into the column builders) and forms
/// only the general parser takes (signs, blanks, rounding, other date styles, escapes,
/// multibyte text), NULLs among them.
fn mixed_line(i: usize) -> String {
    let pick = |options: &[&str], salt: usize| options[(i * 7 + salt) % options.len()].to_string();
    [
        i.to_string(),
        pick(&["7", "-32768", "+12", " 42", "\\N", "32767"], 1),
        pick(
            &["-9223372036854775808", "123456789012345678", "0", "-5"],
            2,
        ),
        pick(
            &[
                "12.5",
                "-0.01",
                "3",
                ".75",
                "1.005",
                "99999.999",
                "-.5",
                "\\N",
                "7.",
            ],
            3,
        ),
        pick(&["12345", "-7", "2.5", "-0"], 4),
        pick(&["1.50", "-0.000", "7", "123456789012345678901234"], 5),
        pick(&["1998-12-01", "2000-02-29", "1999-1-8", "\\N"], 6),
        pick(
            &["plain", "tab\\there", "back\\\\slash", "ünïcode", "", "\\N"],
            7,
        ),
        pick(&["abc", "abcdef", "ab  ", "éèêëàa"], 8),
        pick(&["x", "abcde", "é", "ab   "], 9),
        pick(&["1.5", "-0", "1e10", "NaN"], 10),
        pick(&["t", "false"], 11),
        pick(&["2024-01-02 03:04:05", "2024-01-02T03:04:05.123456"], 12),
    ]
    .join("\t")
}

/// Lines parsed straight into the column builders store exactly what the general parser
/// stores (a COPY in a transaction block takes the row path and the general parser), keys
/// of every kind encode the same (point lookups find each row; a key written two ways is a
/// duplicate), and a plain line that breaks NOT NULL or a length limit fails with its line.
#[test]
fn direct_parsed_lines_store_what_the_general_parser_stores() {
    let (dir, log) = scratch("direct");
    let (child, port) = start(&dir, &log);
    let columns = "k int PRIMARY KEY, s smallint, b bigint, n numeric(15,2), n0 numeric(5), \
                   u numeric, d date, t text, v varchar(6), c char(5), f float8, ok boolean, \
                   ts timestamp";
    query(port, &format!("CREATE TABLE direct ({columns})"));
    query(port, &format!("CREATE TABLE general ({columns})"));
    let lines = 3000;
    let data: String = (0..lines).map(|i| mixed_line(i) + "\n").collect();
    assert_bulk_load_is_the_row_path(port, "direct", "general", &data, lines);

    // Keys of text, padded char, decimal and date columns, looked up one by one.
    let key_columns = "c char(4), n numeric(8,2), d date, v text, x int, \
                       PRIMARY KEY (c, n, d, v)";
    query(port, &format!("CREATE TABLE keyed ({key_columns})"));
    let keys: Vec<(String, String, String, String)> = (0..2000)
        .map(|i| {
            (
                ["a", "bb", "ccc", "é"][i % 4].to_string(),
                format!("{}.{}", i / 10, i % 10),
                ["1998-12-01", "1999-1-8"][i % 2].to_string(),
                format!("v{i}"),
            )
        })
        .collect();
    let data: String = keys
        .iter()
        .enumerate()
        .map(|(i, (c, n, d, v))| format!("{c}\t{n}\t{d}\t{v}\t{i}\n"))
        .collect();
    assert_eq!(copy(port, "keyed", &data).unwrap(), "COPY 2000");
    for (i, (c, n, d, v)) in keys.iter().enumerate().step_by(97) {
        let found = query(
            port,
            &format!("SELECT x FROM keyed WHERE c = '{c}' AND n = {n} AND d = '{d}' AND v = '{v}'"),
        );
        assert_eq!(found, i.to_string(), "key {c:?} {n} {d} {v}");
    }
    // The same key twice, once plain and once through the general parser, for each key type.
    for (ty, plain, general) in [
        ("int", "5", "+5"),
        ("text", "abc", "ab\\143"),
        ("char(4)", "ab", "a\\142"),
        ("numeric(8,2)", "1.5", "1.500"),
        ("date", "1999-01-08", "1999-1-8"),
    ] {
        query(port, "DROP TABLE IF EXISTS twice");
        query(
            port,
            &format!("CREATE TABLE twice (k {ty} PRIMARY KEY, t text)"),
        );
        let data = format!("{plain}\tplain\nzz\tother\n{general}\tgeneral\n");
        let data = data.replace("zz", if ty == "date" { "2001-01-01" } else { "7" });
        let err = copy(port, "twice", &data).unwrap_err();
        assert!(err.contains("duplicate key"), "{ty}: {err}");
    }

    // Plain lines that break NOT NULL or varchar(6): the error names the line.
    query(port, "DELETE FROM direct");
    let with_field = |n: usize, value: &str| {
        let line = mixed_line(5);
        let mut fields: Vec<&str> = line.split('\t').collect();
        fields[n] = value;
        fields.join("\t")
    };
    for (bad, what) in [
        (with_field(0, "\\N"), "null value"),
        (with_field(8, "abcdefg"), "too long"),
    ] {
        let mut data: String = (1000..1500).map(|i| mixed_line(i) + "\n").collect();
        data.push_str(&bad);
        data.push('\n');
        let err = copy(port, "direct", &data).unwrap_err();
        assert!(err.contains(what) && err.contains("line 501"), "{err}");
        assert_eq!(query(port, "SELECT count(*) FROM direct"), "0");
    }
    kill(child);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(&log);
}

/// A line of types the column-at-a-time path takes (no general-kind column): nearly all in
/// plain forms, NULLs in the nullable columns, multibyte and padded text, and every 700th
/// line with one field only the general parser takes, so some blocks parse whole and others
/// fall back to the row path.
fn block_line(i: usize) -> String {
    let pick = |options: &[&str], salt: usize| options[(i * 7 + salt) % options.len()].to_string();
    let odd = i % 700 == 350;
    [
        i.to_string(),
        if odd && i.is_multiple_of(3) {
            "+12".to_string()
        } else {
            pick(&["7", "-32768", "\\N", "32767"], 1)
        },
        pick(&["-9223372036854775808", "123456789012345678", "0"], 2),
        if odd && i % 3 == 1 {
            "1.005".to_string()
        } else {
            pick(&["12.5", "-0.01", "3", ".75", "\\N", "7.", "-.5"], 3)
        },
        pick(&["12345", "-7", "-0"], 4),
        if odd && i % 3 == 2 {
            "1999-1-8".to_string()
        } else {
            pick(&["1998-12-01", "2000-02-29", "\\N", "0001-01-01"], 5)
        },
        pick(&["plain", "ünïcode", "", "\\N", "a longer text value"], 6),
        pick(&["abc", "abcdef", "ab  ", "éèêëàa"], 7),
        pick(&["x", "abcde", "é", "ab   ", ""], 8),
    ]
    .join("\t")
}

/// Blocks of lines parsed a column at a time store exactly what the general parser stores
/// (a COPY in a transaction block takes the row path), blocks with one line outside the plain
/// forms fall back line by line in order, keys of every plain kind encode the same as the row
/// path's (point lookups find each row, a key twice in one block is a duplicate), and a NULL
/// in a NOT NULL column or an over-long value fails with its line number.
#[test]
fn column_at_a_time_blocks_store_what_the_general_parser_stores() {
    let (dir, log) = scratch("blocks");
    let (child, port) = start(&dir, &log);
    let columns = "k int PRIMARY KEY, s smallint, b bigint, n numeric(15,2), n0 numeric(5), \
                   d date, t text, v varchar(6), c char(5)";
    query(port, &format!("CREATE TABLE blocks ({columns})"));
    query(port, &format!("CREATE TABLE rowwise ({columns})"));
    let lines = 5000;
    let data: String = (0..lines).map(|i| block_line(i) + "\n").collect();
    assert_bulk_load_is_the_row_path(port, "blocks", "rowwise", &data, lines);

    // Keys of padded char, decimal, date and text columns, all plain.
    query(
        port,
        "CREATE TABLE keyed_blocks (c char(4), n numeric(8,2), d date, v text, x int, \
         PRIMARY KEY (c, n, d, v))",
    );
    let key = |i: usize| {
        (
            ["a", "bb", "ccc", "é"][i % 4],
            format!("{}.{}", i / 10, i % 10),
            ["1998-12-01", "1999-01-08"][i % 2],
            format!("v{i}"),
        )
    };
    let data: String = (0..3000)
        .map(|i| {
            let (c, n, d, v) = key(i);
            format!("{c}\t{n}\t{d}\t{v}\t{i}\n")
        })
        .collect();
    assert_eq!(copy(port, "keyed_blocks", &data).unwrap(), "COPY 3000");
    for i in (0..3000).step_by(89) {
        let (c, n, d, v) = key(i);
        let found = query(
            port,
            &format!(
                "SELECT x FROM keyed_blocks WHERE c = '{c}' AND n = {n} AND d = '{d}' AND v = '{v}'"
            ),
        );
        assert_eq!(found, i.to_string(), "key {c:?} {n} {d} {v}");
    }
    // The same key twice within one block, plain both times.
    query(
        port,
        "CREATE TABLE twice_blocks (c char(4), n numeric(8,2), PRIMARY KEY (c, n))",
    );
    let mut data: String = (0..100).map(|i| format!("k\t{i}.5\n")).collect();
    data.push_str("k\t42.50\n");
    let err = copy(port, "twice_blocks", &data).unwrap_err();
    assert!(err.contains("duplicate key"), "{err}");

    // A NULL in a NOT NULL column, or a value too long, in the middle of a block.
    query(port, "DELETE FROM blocks");
    let with_field = |i: usize, n: usize, value: &str| {
        let line = block_line(i);
        let mut fields: Vec<&str> = line.split('\t').collect();
        fields[n] = value;
        fields.join("\t")
    };
    for (n, value, what) in [(0, "\\N", "null value"), (7, "abcdefg", "too long")] {
        let data: String = (1000..1600)
            .map(|i| {
                if i == 1300 {
                    with_field(i, n, value) + "\n"
                } else {
                    block_line(i) + "\n"
                }
            })
            .collect();
        let err = copy(port, "blocks", &data).unwrap_err();
        assert!(err.contains(what) && err.contains("line 301"), "{err}");
        assert_eq!(query(port, "SELECT count(*) FROM blocks"), "0");
    }
    kill(child);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(&log);
}
