//! PostgreSQL 15's pgbench against `omendb` (or the server in `OMENDB_TEST_URL`): `pgbench -i`
//! (CREATE TABLE … WITH (fillfactor), TRUNCATE in a transaction, COPY … WITH (FREEZE ON),
//! VACUUM ANALYZE, ALTER TABLE … ADD PRIMARY KEY), then the TPC-B-like script in every query
//! mode and a custom script, then the TPC-B invariant: every transaction moved the same delta
//! into one account, one teller, one branch and one history row.
//!
//! Skipped, with the reason printed, only when the pgbench binary is missing
//! (scripts/setup-test-deps.sh installs it).

// Tests stop at the first surprise: an unwrap here is an assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::TestServer;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Debian's postgresql-15 package puts pgbench here (not on PATH); `PGBENCH` overrides it.
const PGBENCH: &str = "/usr/lib/postgresql/15/bin/pgbench";
const CLIENTS: &str = "4";
const THREADS: &str = "2";
const TRANSACTIONS_PER_CLIENT: i64 = 200;
const MODES: [&str; 3] = ["simple", "extended", "prepared"];
/// A pgbench run that has not finished by then is hung on the server.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);
const POLL: Duration = Duration::from_millis(50);

/// Read-only custom script: `\set`, a hint comment, `BEGIN READ WRITE` … `END`.
const CUSTOM_SCRIPT: &str = "\\set aid random(1, 100000 * :scale)\n\
\\set bid random(1, 1 * :scale)\n\
BEGIN READ WRITE;\n\
/*+ IndexScan(pgbench_accounts) */ SELECT abalance FROM pgbench_accounts WHERE aid = :aid;\n\
SELECT bbalance FROM pgbench_branches WHERE bid = :bid;\n\
END;\n";

fn pgbench_binary() -> Option<PathBuf> {
    let path = std::env::var("PGBENCH").unwrap_or_else(|_| PGBENCH.to_owned());
    let path = PathBuf::from(path);
    path.is_file().then_some(path)
}

/// Run pgbench with `args` and the server's URL as the database; its output, or a panic with it.
fn pgbench(binary: &Path, server: &TestServer, args: &[&str]) -> String {
    let mut child = Command::new(binary)
        .args(args)
        .arg(server.url())
        .env("PGCONNECT_TIMEOUT", "20")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", binary.display()));
    let deadline = Instant::now() + RUN_TIMEOUT;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(POLL);
    }
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("$ pgbench {}\n{text}", args.join(" "));
    assert!(
        out.status.success(),
        "pgbench {} failed:\n{text}",
        args.join(" ")
    );
    text
}

/// The number after `label` on the line that starts with it.
fn reported(output: &str, label: &str) -> i64 {
    let line = output
        .lines()
        .find(|l| l.starts_with(label))
        .unwrap_or_else(|| panic!("no '{label}' in pgbench output:\n{output}"));
    let value = line[label.len()..].trim_start();
    let digits: String = value.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().unwrap()
}

fn check_run(output: &str, expected: i64) {
    assert_eq!(
        reported(output, "number of transactions actually processed:"),
        expected,
        "{output}"
    );
    assert_eq!(
        reported(output, "number of failed transactions:"),
        0,
        "{output}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pgbench_init_then_every_mode_keeps_the_tpcb_invariant() {
    let Some(binary) = pgbench_binary() else {
        println!(
            "SKIPPED: no pgbench at {PGBENCH} (set PGBENCH, or run scripts/setup-test-deps.sh)"
        );
        return;
    };
    let server = TestServer::start();
    let init = pgbench(&binary, &server, &["-i", "-s", "1"]);
    assert!(init.contains("creating primary keys"), "{init}");
    // The first run also does pgbench's VACUUM and TRUNCATE pgbench_history; the next ones
    // skip them (-n) so history keeps one row per transaction of every run.
    let per_run = TRANSACTIONS_PER_CLIENT * CLIENTS.parse::<i64>().unwrap();
    let t = TRANSACTIONS_PER_CLIENT.to_string();
    for (i, mode) in MODES.iter().enumerate() {
        let mut args = vec![
            "-c",
            CLIENTS,
            "-j",
            THREADS,
            "-t",
            &t,
            "-M",
            mode,
            "-b",
            "tpcb-like",
        ];
        if i > 0 {
            args.insert(0, "-n");
        }
        check_run(&pgbench(&binary, &server, &args), per_run);
    }
    let mut script = tempfile(&server);
    script.1.write_all(CUSTOM_SCRIPT.as_bytes()).unwrap();
    let script_path = script.0.to_str().unwrap().to_owned();
    let custom = pgbench(
        &binary,
        &server,
        &[
            "-n",
            "-c",
            "2",
            "-t",
            "50",
            "-M",
            "extended",
            "-f",
            &script_path,
        ],
    );
    check_run(&custom, 100);
    let _ = std::fs::remove_file(&script.0);

    let client = server.connect().await;
    let row = client
        .query_one(
            "SELECT (SELECT sum(abalance) FROM pgbench_accounts), \
                    (SELECT sum(bbalance) FROM pgbench_branches), \
                    (SELECT sum(tbalance) FROM pgbench_tellers), \
                    (SELECT sum(delta) FROM pgbench_history), \
                    (SELECT count(*) FROM pgbench_history), \
                    (SELECT count(*) FROM pgbench_accounts)",
            &[],
        )
        .await
        .unwrap();
    let (accounts, branches, tellers, history): (i64, i64, i64, i64) =
        (row.get(0), row.get(1), row.get(2), row.get(3));
    println!(
        "sums: accounts {accounts}, branches {branches}, tellers {tellers}, history {history}"
    );
    assert_eq!(accounts, branches);
    assert_eq!(accounts, tellers);
    assert_eq!(accounts, history);
    assert_eq!(row.get::<_, i64>(4), per_run * MODES.len() as i64);
    assert_eq!(row.get::<_, i64>(5), 100_000);
}

/// A script file of this test's own (pgbench reads scripts from files).
fn tempfile(server: &TestServer) -> (PathBuf, std::fs::File) {
    let path = std::env::temp_dir().join(format!(
        "omendb-pgbench-{}-{}.sql",
        std::process::id(),
        server.port()
    ));
    let file = std::fs::File::create(&path).unwrap();
    (path, file)
}
