//! `--data-dir` given as a relative path (as in `omendb --data-dir target/tpcc-data`) works like
//! an absolute one: the shards' io_uring directory opens must not see a path relative to a
//! working directory they know nothing of (they failed with EBADF before).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const READY_TIMEOUT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(50);

#[test]
fn a_relative_data_dir_starts_and_stores() {
    let work = std::env::temp_dir().join(format!("omendb-reldir-{}", std::process::id()));
    std::fs::create_dir_all(&work).unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_omendb"))
        .current_dir(&work)
        .args(["--port", &port.to_string(), "--listen", "127.0.0.1"])
        .args([
            "--data-dir",
            "nested/data",
            "--shards",
            "2",
            "--log",
            "warn",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let output = child.wait_with_output().unwrap();
            panic!(
                "omendb exited with {status}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        // A connection that really was made (see `common::accepts`: connect_timeout alone
        // can report a refused connection as made).
        if TcpStream::connect_timeout(&addr, POLL).is_ok_and(|s| s.peer_addr().is_ok()) {
            break;
        }
        assert!(Instant::now() < deadline, "omendb not ready on {addr}");
        std::thread::sleep(POLL);
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
        let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        client
            .batch_execute(
                "CREATE TABLE reldir (id integer PRIMARY KEY); INSERT INTO reldir VALUES (1)",
            )
            .await
            .unwrap();
        let n: i64 = client
            .query_one("SELECT count(*) FROM reldir", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 1);
    });
    let _ = child.kill();
    let _ = child.wait();
    assert!(work.join("nested/data/shard-0").is_dir());
    let _ = std::fs::remove_dir_all(&work);
}
