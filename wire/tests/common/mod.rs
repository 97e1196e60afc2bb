//! Shared harness for the end-to-end tests: a real `omendb` server process per test (or an
//! external server named by `OMENDB_TEST_URL`) and tokio-postgres connections to it.
//!
//! Owns process start-up, readiness, and teardown. It must never fake a server: when the
//! binary fails to start, the test fails with the server's own output.
//!
//! `OMENDB_TEST_URL=postgres://postgres@127.0.0.1:55432/postgres` runs the same tests against
//! any PostgreSQL-compatible server, which is how the expected behaviour is checked against
//! PostgreSQL 15 itself.
#![allow(dead_code)] // each test binary uses a different subset of the helpers

pub mod durable;

use std::fs::{self, File};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Environment variable naming an external server to test instead of starting `omendb`.
pub const TEST_URL_ENV: &str = "OMENDB_TEST_URL";
/// How long a freshly started server may take to accept connections.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How often readiness is probed.
const READY_POLL: Duration = Duration::from_millis(50);
/// Start attempts: another process may grab the free port between our probe and the bind.
const START_ATTEMPTS: u32 = 5;
/// How long a client connection attempt may take before the test gives up.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// Distinguishes data directories of servers started by one test process.
static SERVER_SEQ: AtomicU32 = AtomicU32::new(0);

/// A running server under test: either a child `omendb` process (killed on drop) or an
/// external server from `OMENDB_TEST_URL`.
pub struct TestServer {
    child: Option<Child>,
    url: String,
    host: String,
    port: u16,
    data_dir: Option<PathBuf>,
}

impl TestServer {
    /// A server with the default shard count of the tests (2, so that multi-shard paths run).
    pub fn start() -> TestServer {
        TestServer::start_with_shards(2)
    }

    /// A server with `shards` shards, or the external server named by `OMENDB_TEST_URL`.
    pub fn start_with_shards(shards: usize) -> TestServer {
        if let Ok(url) = std::env::var(TEST_URL_ENV) {
            return TestServer::external(url);
        }
        let mut last_error = String::new();
        for _ in 0..START_ATTEMPTS {
            match TestServer::spawn(shards) {
                Ok(server) => return server,
                Err(e) => last_error = e,
            }
        }
        panic!("could not start omendb after {START_ATTEMPTS} attempts: {last_error}");
    }

    /// Whether the tests run against an external server rather than a child `omendb`.
    pub fn is_external(&self) -> bool {
        self.child.is_none()
    }

    /// `postgres://user@host:port/db` for clients that take a URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// A new tokio-postgres connection; its connection task runs on the current runtime.
    pub async fn connect(&self) -> tokio_postgres::Client {
        let connecting = tokio_postgres::connect(&self.url, tokio_postgres::NoTls);
        let (client, connection) = tokio::time::timeout(CONNECT_TIMEOUT, connecting)
            .await
            .unwrap_or_else(|_| panic!("connecting to {} timed out", self.url))
            .unwrap_or_else(|e| panic!("connecting to {}: {e}", self.url));
        tokio::spawn(async move {
            // The connection ends with an error when the server closes it; the client's next
            // call then reports that error to the test, so nothing is lost here.
            let _ = connection.await;
        });
        client
    }

    fn external(url: String) -> TestServer {
        let config: tokio_postgres::Config = url
            .parse()
            .unwrap_or_else(|e| panic!("{TEST_URL_ENV}={url} is not a connection URL: {e}"));
        let host = match config.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
            _ => "127.0.0.1".to_owned(),
        };
        let port = config.get_ports().first().copied().unwrap_or(5432);
        TestServer {
            child: None,
            url,
            host,
            port,
            data_dir: None,
        }
    }

    fn spawn(shards: usize) -> Result<TestServer, String> {
        let port = free_port();
        let data_dir = unique_data_dir();
        fs::create_dir_all(&data_dir).map_err(|e| format!("create {data_dir:?}: {e}"))?;
        let log_path = data_dir.with_extension("log");
        let log = File::create(&log_path).map_err(|e| format!("create {log_path:?}: {e}"))?;
        let log_err = log.try_clone().map_err(|e| e.to_string())?;
        let child = Command::new(env!("CARGO_BIN_EXE_omendb"))
            .args(["--port", &port.to_string(), "--listen", "127.0.0.1"])
            .arg("--data-dir")
            .arg(&data_dir)
            .args(["--shards", &shards.to_string()])
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(|e| format!("spawn omendb: {e}"))?;
        let mut server = TestServer {
            child: Some(child),
            url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
            host: "127.0.0.1".to_owned(),
            port,
            data_dir: Some(data_dir),
        };
        server.wait_ready(&log_path)?;
        Ok(server)
    }

    /// Polls until the port accepts connections; fails early when the process exits.
    fn wait_ready(&mut self, log_path: &PathBuf) -> Result<(), String> {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + READY_TIMEOUT;
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                let output = fs::read_to_string(log_path).unwrap_or_default();
                return Err(format!(
                    "omendb exited with {status} at start-up:\n{output}"
                ));
            }
            if TcpStream::connect_timeout(&addr, READY_POLL).is_ok() {
                return Ok(());
            }
            std::thread::sleep(READY_POLL);
        }
        let output = fs::read_to_string(log_path).unwrap_or_default();
        Err(format!(
            "omendb did not accept connections on {addr} within {READY_TIMEOUT:?}:\n{output}"
        ))
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Some(dir) = self.data_dir.take() {
            let _ = fs::remove_dir_all(&dir);
            let _ = fs::remove_file(dir.with_extension("log"));
        }
    }
}

/// A port that was free a moment ago (bind port 0, read what the kernel chose, release it),
/// never handed out before in this process. A test binary's tests run at once, and the kernel
/// may give port 0's bind a port another test was just given and has not bound yet: that test's
/// readiness check then reached the other test's server, and its queries were refused once
/// the other test stopped it ("connection refused" right after start-up, seen twice in CI).
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<std::collections::BTreeSet<u16>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("bind port 0");
        if GIVEN
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(port)
        {
            return port;
        }
    }
}

fn unique_data_dir() -> PathBuf {
    let seq = SERVER_SEQ.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("omendb-test-{}-{seq}", std::process::id()))
}

/// The SQLSTATE of a tokio-postgres error, or a panic naming the error when it has none
/// (a closed connection, an I/O error): every server-reported error must carry one.
pub fn sqlstate(e: &tokio_postgres::Error) -> String {
    match e.code() {
        Some(code) => code.code().to_owned(),
        None => panic!("error without a SQLSTATE: {e:?}"),
    }
}

/// A name unique to this test process and call, so parallel tests never share tables.
pub fn unique_name(prefix: &str) -> String {
    let seq = SERVER_SEQ.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}_{}_{seq}", std::process::id())
}

/// Every row `sql` returns through the simple protocol, its values joined by `|` (NULL as
/// `NULL`); panics on an error.
pub async fn rows(c: &tokio_postgres::Client, sql: &str) -> Vec<String> {
    c.simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
        .into_iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => Some(
                (0..r.len())
                    .map(|i| r.get(i).unwrap_or("NULL").to_string())
                    .collect::<Vec<_>>()
                    .join("|"),
            ),
            _ => None,
        })
        .collect()
}
