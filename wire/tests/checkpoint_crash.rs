//! A crash in the middle of a checkpoint's last steps, rebuilt on disk: one shard has installed
//! its new manifest, the other still has its old manifest and WAL. Transactions that spanned
//! both shards must come back whole: the first shard's commit records sit in WAL generations its
//! new manifest covers, and recovery must still read them to replay the second shard's records.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

const TRANSACTIONS: i64 = 12;
const ROWS: i64 = 100;

fn start(dir: &Path, log: &Path) -> (common::durable::Server, u16) {
    common::durable::start(dir, log, 2, "warn")
}

fn query(port: u16, sql: &str) -> String {
    let out = Command::new("psql")
        .args(["-X", "-A", "-t", "-h", "127.0.0.1", "-p", &port.to_string()])
        .args(["-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1"])
        .args(["-c", sql])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

use common::durable::kill;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn wal_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wal"))
        .collect()
}

#[test]
fn transactions_across_shards_survive_a_crash_between_manifest_installs() {
    let base = std::env::temp_dir().join(format!("omendb-ckcrash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let (dir, before, log) = (base.join("data"), base.join("before"), base.join("log"));
    std::fs::create_dir_all(&base).unwrap();

    let (child, port) = start(&dir, &log);
    query(port, "CREATE TABLE t (k int PRIMARY KEY, tx int NOT NULL)");
    // One connection per transaction: coordinators land on both shards.
    for tx in 0..TRANSACTIONS {
        query(
            port,
            &format!(
                "BEGIN; INSERT INTO t SELECT g, {tx} FROM generate_series({}, {}) g; COMMIT",
                tx * ROWS,
                tx * ROWS + ROWS - 1
            ),
        );
    }
    kill(child);
    copy_dir(&dir, &before);

    let (child, port) = start(&dir, &log);
    query(port, "CHECKPOINT");
    kill(child);
    // Shard 1 as if its manifest install never happened; shard 0 installed, its old WAL not
    // yet deleted (the checkpoint deletes WAL only after every shard installed).
    std::fs::remove_dir_all(dir.join("shard-1")).unwrap();
    copy_dir(&before.join("shard-1"), &dir.join("shard-1"));
    for wal in wal_files(&before.join("shard-0")) {
        let target = dir.join("shard-0").join(wal.file_name().unwrap());
        if !target.exists() {
            std::fs::copy(&wal, target).unwrap();
        }
    }

    let (child, port) = start(&dir, &log);
    assert_eq!(
        query(port, "SELECT count(*), count(DISTINCT tx) FROM t"),
        format!("{}|{TRANSACTIONS}", TRANSACTIONS * ROWS)
    );
    let partial = query(
        port,
        &format!("SELECT count(*) FROM (SELECT tx FROM t GROUP BY tx HAVING count(*) <> {ROWS}) x"),
    );
    assert_eq!(partial, "0", "a transaction came back half there");
    kill(child);
    let _ = std::fs::remove_dir_all(&base);
}
