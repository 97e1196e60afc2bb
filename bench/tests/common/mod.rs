//! A child `omendb` server for the bench crate's end-to-end tests (TPC-H and TPC-C): a free
//! port, its own data directory, a memory limit, killed and cleaned up on drop.
//!
//! Why here and not the wire crate's test harness: `CARGO_BIN_EXE_omendb` is given only to the
//! wire crate's tests, so these tests ask cargo to build `omendb` for the same profile and target
//! directory first (a no-op when it is up to date), so they never run a stale server.

#![allow(dead_code)] // each test file uses its own part of this module

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a fresh server may take to accept connections.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
const READY_POLL: Duration = Duration::from_millis(50);
/// The server's data-segment limit: the tests' data are tens of MB, so a server that needs more
/// than this is running away (e.g. a cross product), and must not take the shared machine with it.
const SERVER_MEMORY_LIMIT_KIB: u64 = 2 * 1024 * 1024;

/// A child `omendb` process on a free port with its own data directory; killed on drop.
pub struct Server {
    child: Child,
    port: u16,
    data_dir: PathBuf,
    log: PathBuf,
}

impl Server {
    pub fn start(shards: usize) -> Server {
        let binary = omendb_binary();
        let port = free_port();
        let data_dir =
            std::env::temp_dir().join(format!("omendb-bench-test-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&data_dir).unwrap();
        let log = data_dir.with_extension("log");
        let out = std::fs::File::create(&log).unwrap();
        // `sh -c 'ulimit -d N && exec omendb …'`: the limit applies to the server alone.
        let child = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "ulimit -d {SERVER_MEMORY_LIMIT_KIB} && exec \"$0\" \"$@\""
            ))
            .arg(&binary)
            .args([
                "--port",
                &port.to_string(),
                "--listen",
                "127.0.0.1",
                "--shards",
                &shards.to_string(),
            ])
            .arg("--data-dir")
            .arg(&data_dir)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", binary.display()));
        let mut server = Server {
            child,
            port,
            data_dir,
            log,
        };
        server.wait_ready();
        server
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// The exit status and the last lines of the log, if the process exits within `grace`.
    pub fn exited(&mut self, grace: Duration) -> Option<String> {
        /// Lines of the log worth showing.
        const TAIL: usize = 3;
        let deadline = Instant::now() + grace;
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() < deadline => std::thread::sleep(READY_POLL),
                _ => return None,
            }
        };
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        let tail = lines[lines.len().saturating_sub(TAIL)..].join(" / ");
        Some(format!("{status}; log: {tail}"))
    }

    fn wait_ready(&mut self) {
        let log = &self.log;
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + READY_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "omendb exited with {status}:\n{}",
                    std::fs::read_to_string(log).unwrap_or_default()
                );
            }
            // A connection that really was made: connect_timeout alone can report a refused
            // connection as made (the socket then has no peer), as the wire tests' harness
            // found (`wire/tests/common/mod.rs`, `accepts`).
            if TcpStream::connect_timeout(&addr, READY_POLL).is_ok_and(|s| s.peer_addr().is_ok()) {
                return;
            }
            std::thread::sleep(READY_POLL);
        }
        panic!(
            "omendb not ready on {addr}:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data_dir);
        let _ = std::fs::remove_file(self.data_dir.with_extension("log"));
    }
}

/// A port free a moment ago, bound without listening and never handed out before in this
/// process (see `wire/tests/common/mod.rs`, `free_port`: a listening probe socket inherited by a
/// concurrently forked child accepted readiness checks meant for the server).
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<std::collections::BTreeSet<u16>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    loop {
        let socket =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        socket
            .bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
            .unwrap();
        let port = socket.local_addr().unwrap().as_socket().unwrap().port();
        if GIVEN
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(port)
        {
            return port;
        }
    }
}

/// `OMENDB_BIN` if set; otherwise `omendb` built now by cargo for this test's own profile and
/// target directory (this test runs from `<target>/<profile>/deps/`).
pub fn omendb_binary() -> PathBuf {
    if let Ok(path) = std::env::var("OMENDB_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).unwrap().to_path_buf();
    let target_dir = profile_dir.parent().unwrap();
    let profile = profile_dir.file_name().unwrap().to_str().unwrap();
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut build = Command::new(env!("CARGO"));
    build
        .current_dir(workspace)
        .args([
            "build",
            "--quiet",
            "-p",
            "omendb-wire",
            "--bin",
            "omendb",
            "--target-dir",
        ])
        .arg(target_dir);
    match profile {
        "debug" => {}
        "release" => {
            build.arg("--release");
        }
        other => {
            build.args(["--profile", other]);
        }
    }
    let status = build.status().expect("run cargo build for omendb");
    assert!(
        status.success(),
        "cargo build -p omendb-wire --bin omendb failed"
    );
    let binary = profile_dir.join(format!("omendb{}", std::env::consts::EXE_SUFFIX));
    assert!(
        binary.exists(),
        "{} missing after the build",
        binary.display()
    );
    binary
}
