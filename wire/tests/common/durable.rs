//! Servers on a data directory the test controls, for tests that kill and restart them
//! (bulk loads, checkpoints, crashes): start on a free port with `--data-dir`, wait until it
//! accepts connections (or fail with its own output), SIGKILL. A [`Server`] is killed when it
//! is dropped, so a test that panics does not leave its server running.

use std::net::SocketAddr;
use std::ops::{Deref, DerefMut};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a restart (recovery included) may take before the test fails.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// A server process, SIGKILLed when dropped.
pub struct Server(Child);

impl Deref for Server {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl DerefMut for Server {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start `omendb` with `shards` shards on `dir`, its output appended to `log`; returns the
/// process and its port once it accepts connections.
pub fn start(dir: &Path, log: &Path, shards: usize, level: &str) -> (Server, u16) {
    let port = super::free_port();
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("open the server log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_omendb"))
        .args(["--port", &port.to_string(), "--listen", "127.0.0.1"])
        .arg("--data-dir")
        .arg(dir)
        .args(["--shards", &shards.to_string(), "--log", level])
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("log handle"))
        .stderr(out)
        .spawn()
        .expect("spawn omendb");
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "omendb exited with {status}: {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        if super::accepts(
            SocketAddr::from(([127, 0, 0, 1], port)),
            Duration::from_millis(50),
        ) {
            return (Server(child), port);
        }
        assert!(Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// SIGKILL: no shutdown work at all.
pub fn kill(server: Server) {
    drop(server);
}

/// `sql` through psql (unaligned, tuples only), its trimmed output; panics if psql fails.
pub fn psql(port: u16, sql: &str) -> String {
    let out = Command::new("psql")
        .args(["-X", "-A", "-t", "-h", "127.0.0.1", "-p", &port.to_string()])
        .args(["-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1"])
        .args(["-c", sql])
        .output()
        .expect("run psql");
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// `COPY table FROM STDIN` with `data` (text format) through psql; psql's error output, empty
/// when the COPY succeeded.
#[allow(dead_code)] // not every test binary that includes `common` copies
pub fn psql_copy(port: u16, table: &str, data: &str) -> String {
    use std::io::Write;
    let mut child = Command::new("psql")
        .args(["-X", "-A", "-t", "-h", "127.0.0.1", "-p", &port.to_string()])
        .args(["-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1"])
        .args(["-c", &format!("COPY {table} FROM STDIN")])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run psql");
    child
        .stdin
        .take()
        .expect("psql's stdin")
        .write_all(data.as_bytes())
        .expect("write COPY data");
    let out = child.wait_with_output().expect("wait for psql");
    String::from_utf8_lossy(&out.stderr).into_owned()
}
