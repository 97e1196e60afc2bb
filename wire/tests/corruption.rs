//! Corruption tests on the real binary: bytes flipped in the WAL tail are cut (and logged) with
//! every earlier commit intact; a damaged catalog file, WAL header, segment or manifest stops the
//! start-up with an error that names the file.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BLOCK: u64 = 4096;

fn command(dir: &Path, port: u16) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_omendb"));
    c.args(["--port", &port.to_string(), "--listen", "127.0.0.1"])
        .arg("--data-dir")
        .arg(dir)
        .args(["--shards", "1", "--log", "warn"]);
    c
}

/// Start a server; `Err(output)` if it exits during start-up.
fn start(dir: &Path, log: &Path) -> Result<(Child, u16), String> {
    let port = common::free_port();
    let out = std::fs::File::create(log).unwrap();
    let mut child = command(dir, port)
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!(
                "{status}: {}",
                std::fs::read_to_string(log).unwrap_or_default()
            ));
        }
        if common::accepts(
            SocketAddr::from(([127, 0, 0, 1], port)),
            Duration::from_millis(50),
        ) {
            return Ok((child, port));
        }
        assert!(Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn psql(port: u16, sql: &str) -> Output {
    Command::new("psql")
        .args(["-X", "-A", "-t", "-h", "127.0.0.1", "-p", &port.to_string()])
        .args([
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            sql,
        ])
        .output()
        .unwrap()
}

fn query(port: u16, sql: &str) -> String {
    let out = psql(port, sql);
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn scratch(name: &str) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("omendb-corrupt-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    (dir.clone(), dir.with_extension("log"))
}

fn flip(path: &Path, offset: u64) {
    let mut data = std::fs::read(path).unwrap();
    data[offset as usize] ^= 0x5A;
    std::fs::write(path, data).unwrap();
}

fn wal_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("shard-0"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wal"))
        .collect();
    files.sort();
    files
}

/// Three commits, one flush unit each, then SIGKILL: returns the WAL file that holds them.
fn three_commits(dir: &Path, log: &Path) -> PathBuf {
    let (mut child, port) = start(dir, log).unwrap();
    query(port, "CREATE TABLE t (id int PRIMARY KEY, v text)");
    for i in 1..=3 {
        query(port, &format!("INSERT INTO t VALUES ({i}, 'row {i}')"));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    wal_files(dir).pop().unwrap()
}

#[test]
fn a_flipped_byte_in_the_wal_tail_cuts_the_last_commit_only() {
    let (dir, log) = scratch("wal-tail");
    let wal = three_commits(&dir, &log);
    // Block 0 is the header; each commit is one flush unit of one block; then zeros (the file
    // is zero-filled ahead of use).
    let data = std::fs::read(&wal).unwrap();
    assert!(
        data[3 * BLOCK as usize..3 * BLOCK as usize + 8]
            .iter()
            .any(|&b| b != 0)
    );
    assert!(data[4 * BLOCK as usize..].iter().all(|&b| b == 0));
    flip(&wal, 3 * BLOCK + 20);
    let (mut child, port) = start(&dir, &log).unwrap();
    assert_eq!(
        query(port, "SELECT string_agg(v, ',' ORDER BY id) FROM t"),
        "row 1,row 2"
    );
    let output = std::fs::read_to_string(&log).unwrap();
    assert!(
        output.contains("WAL cut at byte") && output.contains(&*wal.to_string_lossy()),
        "the cut is logged with the file: {output}"
    );
    // The server goes on: new commits land after the cut and survive the next restart.
    query(port, "INSERT INTO t VALUES (3, 'again')");
    child.kill().unwrap();
    child.wait().unwrap();
    let (mut child, port) = start(&dir, &log).unwrap();
    assert_eq!(query(port, "SELECT count(*) FROM t"), "3");
    child.kill().unwrap();
    child.wait().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_damaged_catalog_stops_start_up_naming_the_file() {
    let (dir, log) = scratch("catalog");
    three_commits(&dir, &log);
    flip(&dir.join("catalog"), 30);
    let err = start(&dir, &log).unwrap_err();
    assert!(
        err.contains("catalog") && err.contains("checksum"),
        "start-up error names the catalog and the checksum: {err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_damaged_wal_header_stops_start_up_naming_the_file() {
    let (dir, log) = scratch("wal-header");
    let wal = three_commits(&dir, &log);
    flip(&wal, 10);
    let err = start(&dir, &log).unwrap_err();
    assert!(
        err.contains(&*wal.to_string_lossy()) && err.contains("WAL"),
        "start-up error names the WAL file: {err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Rows written into segments by a checkpoint, then SIGKILL: returns the segment file.
fn checkpointed(dir: &Path, log: &Path) -> PathBuf {
    let (mut child, port) = start(dir, log).unwrap();
    query(
        port,
        "CREATE TABLE t (id int PRIMARY KEY, v text, n numeric(8,2))",
    );
    query(
        port,
        "INSERT INTO t VALUES (1, 'a', 1.5), (2, NULL, 2.25), (3, 'c', NULL)",
    );
    query(port, "CHECKPOINT");
    // Later commits live in the WAL only.
    query(port, "UPDATE t SET v = 'b' WHERE id = 2");
    child.kill().unwrap();
    child.wait().unwrap();
    let segments = dir.join("shard-0").join("segments");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&segments)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "one segment: {files:?}");
    files.pop().unwrap()
}

#[test]
fn a_checkpoint_and_the_wal_after_it_restore_everything() {
    let (dir, log) = scratch("checkpoint");
    checkpointed(&dir, &log);
    let (mut child, port) = start(&dir, &log).unwrap();
    assert_eq!(
        query(
            port,
            "SELECT id || ':' || coalesce(v, '-') || ':' || coalesce(n::text, '-') FROM t ORDER BY id"
        ),
        "1:a:1.50\n2:b:2.25\n3:c:-"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_damaged_segment_stops_start_up_naming_the_file() {
    let (dir, log) = scratch("segment");
    let segment = checkpointed(&dir, &log);
    let len = std::fs::metadata(&segment).unwrap().len();
    // Every block is checksummed: the first, and the last (the footer).
    for offset in [100, len - 10] {
        flip(&segment, offset);
        let err = start(&dir, &log).unwrap_err();
        assert!(
            err.contains(&*segment.to_string_lossy()) && err.contains("checksum"),
            "start-up error names the segment and the checksum: {err}"
        );
        flip(&segment, offset);
    }
    let (mut child, _) = start(&dir, &log).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_damaged_manifest_stops_start_up_naming_the_file() {
    let (dir, log) = scratch("manifest");
    checkpointed(&dir, &log);
    let manifest = dir.join("shard-0").join("manifest");
    flip(&manifest, 30);
    let err = start(&dir, &log).unwrap_err();
    assert!(
        err.contains(&*manifest.to_string_lossy()) && err.contains("checksum"),
        "start-up error names the manifest and the checksum: {err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
