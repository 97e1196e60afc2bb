//! Crash test: clients commit numbered rows (single-row and multi-row transactions whose rows
//! land on different shards) and move amounts between accounts on different shards, while the
//! real `omendb` binary is killed with SIGKILL at random moments, again and again on the same
//! data directory. After every restart:
//! * every acknowledged transaction is there, completely;
//! * every transaction present is complete (never some of its rows): a transaction that was in
//!   flight at the kill is either wholly there or wholly absent;
//! * nothing is there that was never sent;
//! * the account balances still sum to zero (transfers are atomic across shards).
//!
//! A client runs CHECKPOINT every 20–200 ms, so kills also land inside checkpoints and restarts
//! read segments and manifests as well as WAL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CRASHES: usize = 30;
const CLIENTS: usize = 4;
const ACCOUNTS: i32 = 8;
/// Rows of a multi-row transaction (odd sequence numbers); even ones insert a single row.
const MULTI_ROWS: i64 = 3;
/// How long the load runs before the kill, at random within this range.
const LOAD_MS: std::ops::Range<u64> = 150..700;
const SHARDS: usize = 2;
const READY_TIMEOUT: Duration = Duration::from_secs(60);

fn rows_of(seq: i64) -> i64 {
    if seq % 2 == 0 { 1 } else { MULTI_ROWS }
}

/// What one client has done: the last sequence number it sent and which it saw acknowledged.
#[derive(Default, Clone)]
struct Progress {
    /// Sequence numbers acknowledged (COMMIT returned).
    acked: Vec<i64>,
    /// The highest sequence number ever sent (acknowledged or not).
    sent: i64,
}

struct Server {
    child: Child,
    port: u16,
}

fn start(dir: &Path, log: &Path) -> Server {
    let port = common::free_port();
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_omendb"))
        .args(["--port", &port.to_string(), "--listen", "127.0.0.1"])
        .arg("--data-dir")
        .arg(dir)
        .args(["--shards", &SHARDS.to_string(), "--log", "warn"])
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap();
    let mut server = Server { child, port };
    let deadline = Instant::now() + READY_TIMEOUT;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    loop {
        if let Ok(Some(status)) = server.child.try_wait() {
            panic!(
                "omendb exited with {status} at start-up:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        if common::accepts(addr, Duration::from_millis(50)) {
            return server;
        }
        assert!(Instant::now() < deadline, "omendb did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Server {
    fn kill(mut self) {
        // SIGKILL: no shutdown work at all.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    async fn connect(&self) -> Option<tokio_postgres::Client> {
        let url = format!("postgres://postgres@127.0.0.1:{}/postgres", self.port);
        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .ok()?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Some(client)
    }
}

/// One client's load until its connection breaks: numbered inserts, and transfers.
async fn client_load(client: tokio_postgres::Client, id: i64, progress: Arc<Mutex<Progress>>) {
    let mut rng = rand::rngs::StdRng::from_os_rng();
    loop {
        let seq = progress.lock().unwrap().sent + 1;
        progress.lock().unwrap().sent = seq;
        let rows = rows_of(seq);
        let mut sql = String::from("BEGIN;");
        for r in 0..rows {
            // Row ids spread over the key space, so a multi-row transaction spans shards.
            let row_id = (id * 1_000_000_000) + seq * 16 + r;
            sql.push_str(&format!(
                "INSERT INTO nums (id, client, seq, part) VALUES ({row_id}, {id}, {seq}, {r});"
            ));
        }
        if rng.random_bool(0.5) {
            let from = rng.random_range(0..ACCOUNTS);
            let to = (from + 1 + rng.random_range(0..ACCOUNTS - 1)) % ACCOUNTS;
            let amount = rng.random_range(1..100);
            sql.push_str(&format!(
                "UPDATE accounts SET balance = balance - {amount} WHERE id = {from};\
                 UPDATE accounts SET balance = balance + {amount} WHERE id = {to};"
            ));
        }
        sql.push_str("COMMIT;");
        match client.batch_execute(&sql).await {
            Ok(()) => progress.lock().unwrap().acked.push(seq),
            Err(e) if e.code().is_none() => return, // the server is gone
            Err(e) => {
                // Lock timeouts and the like: the transaction did not commit.
                let _ = client.batch_execute("ROLLBACK").await;
                eprintln!("client {id}: {e}");
            }
        }
    }
}

/// Check the invariants against what the clients know.
async fn verify(server: &Server, progress: &[Progress], round: usize) {
    let client = server.connect().await.expect("connect after restart");
    let rows = client
        .query(
            "SELECT client, seq, count(*), min(part), max(part) FROM nums GROUP BY client, seq",
            &[],
        )
        .await
        .unwrap();
    let mut present: HashMap<(i64, i64), i64> = HashMap::new();
    for r in rows {
        let (c, s, n): (i64, i64, i64) = (r.get(0), r.get(1), r.get(2));
        let (lo, hi): (i64, i64) = (r.get(3), r.get(4));
        assert_eq!(
            n,
            rows_of(s),
            "round {round}: client {c} transaction {s} is half there ({n} rows)"
        );
        assert_eq!((lo, hi), (0, rows_of(s) - 1), "round {round}: wrong rows");
        present.insert((c, s), n);
    }
    for (c, p) in progress.iter().enumerate() {
        for s in &p.acked {
            assert!(
                present.contains_key(&(c as i64, *s)),
                "round {round}: acknowledged transaction {s} of client {c} is lost"
            );
        }
    }
    for &(c, s) in present.keys() {
        assert!(
            s <= progress[c as usize].sent,
            "round {round}: transaction {s} of client {c} was never sent"
        );
    }
    let total: i64 = client
        .query_one("SELECT sum(balance)::bigint FROM accounts", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(total, 0, "round {round}: transfers were not atomic");
    let accounts: i64 = client
        .query_one("SELECT count(*) FROM accounts", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(accounts, i64::from(ACCOUNTS));
}

fn scratch_dir() -> PathBuf {
    std::env::temp_dir().join(format!("omendb-crash-{}", std::process::id()))
}

#[test]
fn acknowledged_commits_survive_sigkill() {
    let dir = scratch_dir();
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.with_extension("log");
    let _ = std::fs::remove_file(&log);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let started = Instant::now();
    rt.block_on(async {
        let server = start(&dir, &log);
        let c = server.connect().await.unwrap();
        c.batch_execute(
            "CREATE TABLE nums (id bigint PRIMARY KEY, client bigint, seq bigint, part bigint);\
             CREATE TABLE accounts (id int PRIMARY KEY, balance bigint NOT NULL);",
        )
        .await
        .unwrap();
        for a in 0..ACCOUNTS {
            c.execute("INSERT INTO accounts VALUES ($1, 0)", &[&a])
                .await
                .unwrap();
        }
        drop(c);
        let mut server = Some(server);
        let progress: Vec<Arc<Mutex<Progress>>> = (0..CLIENTS)
            .map(|_| Arc::new(Mutex::new(Progress::default())))
            .collect();
        let mut acked_total = 0;
        let checkpoints = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        for round in 0..CRASHES {
            let s = server.take().unwrap();
            let mut tasks = Vec::new();
            for (id, p) in progress.iter().enumerate() {
                let client = s.connect().await.expect("connect");
                tasks.push(tokio::spawn(client_load(client, id as i64, p.clone())));
            }
            // Checkpoints run during the load, so kills also land in the middle of one and
            // restarts read segments and a manifest as well as the WAL.
            let checkpointer = s.connect().await.expect("connect");
            let done = checkpoints.clone();
            tasks.push(tokio::spawn(async move {
                loop {
                    let pause = rand::rng().random_range(20..200);
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                    match checkpointer.batch_execute("CHECKPOINT").await {
                        Ok(()) => {
                            done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                        Err(e) if e.code().is_none() => return,
                        Err(e) => panic!("CHECKPOINT failed: {e}"),
                    }
                }
            }));
            let pause = rand::rng().random_range(LOAD_MS);
            tokio::time::sleep(Duration::from_millis(pause)).await;
            s.kill();
            for t in tasks {
                let _ = t.await;
            }
            let restarted = start(&dir, &log);
            let snapshot: Vec<Progress> =
                progress.iter().map(|p| p.lock().unwrap().clone()).collect();
            verify(&restarted, &snapshot, round).await;
            acked_total = snapshot.iter().map(|p| p.acked.len()).sum::<usize>();
            server = Some(restarted);
        }
        assert!(acked_total > CRASHES, "the load committed almost nothing");
        let checkpoints = checkpoints.load(std::sync::atomic::Ordering::Relaxed);
        assert!(
            checkpoints > CRASHES,
            "only {checkpoints} checkpoints completed"
        );
        eprintln!(
            "{CRASHES} SIGKILLs survived, {acked_total} acknowledged transactions and \
             {checkpoints} checkpoints checked, {:.1?}",
            started.elapsed()
        );
        server.take().unwrap().kill();
    });
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(&log);
}

/// The harness never gives two tests of one binary the same port: 800 ports from bind(0)
/// alone repeat with near certainty (about 20 expected repeats among ~14,000 ports).
#[test]
fn free_ports_are_never_handed_out_twice_in_a_process() {
    let threads: Vec<_> = (0..4)
        .map(|_| std::thread::spawn(|| (0..200).map(|_| common::free_port()).collect::<Vec<_>>()))
        .collect();
    let mut all: Vec<u16> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    let n = all.len();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), n, "a port was handed out twice");
}
