//! Bank transfers across shards under SIGKILL, with analytics reading all the while.
//!
//! Accounts spread over the shards of a real `omendb` server. Transfer clients move money
//! between random accounts (often on different shards) in transactions that also log the
//! transfer in a `transfers` table and add it to the client's totals with INSERT … ON CONFLICT
//! DO UPDATE — half through the simple protocol (`BEGIN; UPDATE; UPDATE;
//! INSERT; COMMIT`, every other one after a bogus transfer undone with ROLLBACK TO SAVEPOINT),
//! half through the extended protocol with parameters. Analytic readers run
//! continuously: `sum(balance), count(*)`, a `GROUP BY branch`, and a REPEATABLE READ
//! transaction that checks every balance against the transfer log. A checkpointer runs
//! CHECKPOINT now and then, and the server is SIGKILLed and restarted several times on the
//! same data directory. What must hold:
//! * every analytic read sees the invariant total (a transfer is never half visible), during the
//!   load and after every restart;
//! * after every restart, every acknowledged transfer is in the log, nothing is in the log that
//!   was never sent or was refused, and every balance equals its initial amount plus the
//!   transfers in the log (no transfer is half applied, none applied without its log row);
//!   the upserted per-client totals equal the log's.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::durable::{kill, start};
use rand::{Rng, SeedableRng};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

const SHARDS: usize = 3;
const ROUNDS: usize = 10;
const ACCOUNTS: i32 = 16;
const BRANCHES: i32 = 4;
const INITIAL: i64 = 1_000;
const TOTAL: i64 = INITIAL * ACCOUNTS as i64;
const TRANSFER_CLIENTS: usize = 4;
/// How long the load runs before each kill, at random within this range.
const LOAD_MS: std::ops::Range<u64> = 400..1_200;
/// Pause between checkpoints, at random within this range.
const CHECKPOINT_MS: std::ops::Range<u64> = 50..300;
/// Transfers in opposite directions over the same accounts can deadlock (40P01 after a
/// second); a short lock timeout keeps the load moving faster (the transfer fails with 55P03
/// and is not acknowledged).
const LOCK_TIMEOUT: &str = "300ms";
/// Transfer ids are `client * ID_SPACE + sequence`.
const ID_SPACE: i64 = 1_000_000_000;

/// What the transfer clients know about the transfers they sent.
#[derive(Default)]
struct Ledger {
    /// Transfer id → (from, to, amount), for every transfer ever sent.
    sent: HashMap<i64, (i32, i32, i64)>,
    /// COMMIT returned: the transfer must be there after every restart.
    acked: HashSet<i64>,
    /// A statement before COMMIT was refused with an SQLSTATE: the transfer must never appear.
    refused: HashSet<i64>,
}

/// What went wrong while the load ran (checked at the end, so a reader's failure is not lost
/// in a task nobody awaits).
type Violations = Arc<Mutex<Vec<String>>>;

fn scratch_dir() -> PathBuf {
    std::env::temp_dir().join(format!("omendb-bank-{}", std::process::id()))
}

async fn connect(port: u16) -> Option<Client> {
    let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    let (client, conn) = tokio_postgres::connect(&url, NoTls).await.ok()?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Some(client)
}

/// The text values of the rows of a simple-query answer.
fn text_rows(messages: &[SimpleQueryMessage]) -> Vec<Vec<String>> {
    messages
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some(
                (0..r.len())
                    .map(|i| r.get(i).unwrap_or("NULL").to_string())
                    .collect(),
            ),
            _ => None,
        })
        .collect()
}

/// How a transfer attempt ended.
enum Attempt {
    Acked,
    /// Refused before COMMIT with an SQLSTATE (lock timeout and the like): rolled back.
    Refused,
    /// The connection broke, or COMMIT itself failed: it may or may not have committed.
    Unknown,
}

async fn transfer_simple(client: &Client, id: i64, from: i32, to: i32, amount: i64) -> Attempt {
    // Every other transfer first makes a bogus move (and logs it under a negative id) after a
    // savepoint, and rolls back to it: none of that may ever be seen or survive.
    let bogus = if id % 2 == 0 {
        format!(
            "SAVEPOINT before_transfer;\
             UPDATE accounts SET balance = balance + 1000000 WHERE id = {from};\
             INSERT INTO transfers VALUES ({}, {from}, {to}, 1000000);\
             ROLLBACK TO SAVEPOINT before_transfer;",
            -id
        )
    } else {
        String::new()
    };
    let body = format!(
        "BEGIN;{bogus}\
         UPDATE accounts SET balance = balance - {amount} WHERE id = {from};\
         UPDATE accounts SET balance = balance + {amount} WHERE id = {to};\
         INSERT INTO transfers VALUES ({id}, {from}, {to}, {amount});\
         INSERT INTO client_totals VALUES ({}, {amount}, 1) ON CONFLICT (client) DO UPDATE \
             SET moved = client_totals.moved + excluded.moved, n = client_totals.n + 1;",
        id / ID_SPACE
    );
    match client.batch_execute(&body).await {
        Ok(()) => {}
        Err(e) if e.code().is_none() => return Attempt::Unknown,
        Err(_) => {
            let _ = client.batch_execute("ROLLBACK").await;
            return Attempt::Refused;
        }
    }
    match client.batch_execute("COMMIT").await {
        Ok(()) => Attempt::Acked,
        Err(_) => Attempt::Unknown,
    }
}

async fn transfer_extended(
    client: &mut Client,
    id: i64,
    from: i32,
    to: i32,
    amount: i64,
) -> Attempt {
    let Ok(tx) = client.transaction().await else {
        return Attempt::Unknown;
    };
    let steps = async {
        tx.execute(
            "UPDATE accounts SET balance = balance - $1 WHERE id = $2",
            &[&amount, &from],
        )
        .await?;
        tx.execute(
            "UPDATE accounts SET balance = balance + $1 WHERE id = $2",
            &[&amount, &to],
        )
        .await?;
        tx.execute(
            "INSERT INTO transfers VALUES ($1, $2, $3, $4)",
            &[&id, &from, &to, &amount],
        )
        .await?;
        tx.execute(
            "INSERT INTO client_totals VALUES ($1, $2, 1) ON CONFLICT (client) DO UPDATE \
             SET moved = client_totals.moved + excluded.moved, n = client_totals.n + 1",
            &[&(id / ID_SPACE), &amount],
        )
        .await
    };
    match steps.await {
        Ok(_) => {}
        Err(e) if e.code().is_none() => return Attempt::Unknown,
        Err(_) => {
            let _ = tx.rollback().await;
            return Attempt::Refused;
        }
    }
    match tx.commit().await {
        Ok(()) => Attempt::Acked,
        Err(_) => Attempt::Unknown,
    }
}

/// One transfer client until its connection breaks.
async fn transfer_load(mut client: Client, who: i64, next: i64, ledger: Arc<Mutex<Ledger>>) {
    if client
        .batch_execute(&format!("SET lock_timeout = '{LOCK_TIMEOUT}'"))
        .await
        .is_err()
    {
        return;
    }
    let mut rng = rand::rngs::StdRng::from_os_rng();
    let mut seq = next;
    loop {
        seq += 1;
        let id = who * ID_SPACE + seq;
        let from = rng.random_range(0..ACCOUNTS);
        let to = (from + rng.random_range(1..ACCOUNTS)) % ACCOUNTS;
        let amount = rng.random_range(1..=50);
        ledger.lock().unwrap().sent.insert(id, (from, to, amount));
        let attempt = if who % 2 == 0 {
            transfer_simple(&client, id, from, to, amount).await
        } else {
            transfer_extended(&mut client, id, from, to, amount).await
        };
        match attempt {
            Attempt::Acked => {
                ledger.lock().unwrap().acked.insert(id);
            }
            Attempt::Refused => {
                ledger.lock().unwrap().refused.insert(id);
            }
            Attempt::Unknown => return,
        }
    }
}

fn violation(violations: &Violations, what: String) {
    eprintln!("VIOLATION: {what}");
    violations.lock().unwrap().push(what);
}

/// `sum(balance), count(*)` and the per-branch sums, again and again.
async fn total_reader(client: Client, reads: Arc<AtomicUsize>, violations: Violations) {
    loop {
        let total = client
            .simple_query("SELECT sum(balance)::bigint, count(*) FROM accounts")
            .await;
        let Ok(total) = total else { return };
        let rows = text_rows(&total);
        let want = vec![vec![TOTAL.to_string(), ACCOUNTS.to_string()]];
        if rows != want {
            violation(&violations, format!("sum, count: {rows:?}"));
        }
        let branches = client
            .query(
                "SELECT branch, sum(balance)::bigint, count(*) FROM accounts GROUP BY branch",
                &[],
            )
            .await;
        let Ok(branches) = branches else { return };
        let sum: i64 = branches.iter().map(|r| r.get::<_, i64>(1)).sum();
        let count: i64 = branches.iter().map(|r| r.get::<_, i64>(2)).sum();
        if (sum, count, branches.len()) != (TOTAL, i64::from(ACCOUNTS), BRANCHES as usize) {
            violation(
                &violations,
                format!(
                    "GROUP BY branch: total {sum}, {count} accounts in {} branches",
                    branches.len()
                ),
            );
        }
        reads.fetch_add(1, Ordering::Relaxed);
    }
}

/// Every account's balance against the transfer log, as one snapshot sees both tables.
/// `None` when the connection broke.
async fn ledger_check(client: &Client) -> Option<Result<(), String>> {
    let messages = client
        .simple_query(
            "BEGIN ISOLATION LEVEL REPEATABLE READ;\
             SELECT id, balance FROM accounts ORDER BY id;\
             SELECT src, dst, sum(amount)::bigint FROM transfers GROUP BY src, dst;\
             COMMIT",
        )
        .await;
    let messages = match messages {
        Ok(m) => m,
        Err(e) if e.code().is_none() => return None,
        Err(e) => return Some(Err(format!("ledger check failed: {e}"))),
    };
    // The two SELECTs' rows arrive in order; a CommandComplete separates them.
    let mut sets: Vec<Vec<Vec<String>>> = vec![Vec::new()];
    for m in &messages {
        match m {
            SimpleQueryMessage::Row(_) => {
                let row = text_rows(std::slice::from_ref(m)).remove(0);
                if let Some(last) = sets.last_mut() {
                    last.push(row);
                }
            }
            SimpleQueryMessage::CommandComplete(_) => sets.push(Vec::new()),
            _ => {}
        }
    }
    // BEGIN, SELECT, SELECT, COMMIT: the rows are in sets 1 and 2.
    let (accounts, moves) = (&sets[1], &sets[2]);
    let mut expected: HashMap<i32, i64> = (0..ACCOUNTS).map(|a| (a, INITIAL)).collect();
    for m in moves {
        let (src, dst, amount): (i32, i32, i64) =
            (m[0].parse().ok()?, m[1].parse().ok()?, m[2].parse().ok()?);
        *expected.entry(src).or_default() -= amount;
        *expected.entry(dst).or_default() += amount;
    }
    let seen: HashMap<i32, i64> = accounts
        .iter()
        .filter_map(|r| Some((r[0].parse().ok()?, r[1].parse().ok()?)))
        .collect();
    if seen != expected {
        return Some(Err(format!(
            "balances do not match the transfer log: saw {seen:?}, log says {expected:?}"
        )));
    }
    Some(Ok(()))
}

async fn ledger_reader(client: Client, reads: Arc<AtomicUsize>, violations: Violations) {
    loop {
        match ledger_check(&client).await {
            None => return,
            Some(Ok(())) => {
                reads.fetch_add(1, Ordering::Relaxed);
            }
            Some(Err(what)) => violation(&violations, what),
        }
    }
}

async fn checkpointer(client: Client, done: Arc<AtomicUsize>, violations: Violations) {
    loop {
        let pause = rand::rng().random_range(CHECKPOINT_MS);
        tokio::time::sleep(Duration::from_millis(pause)).await;
        match client.batch_execute("CHECKPOINT").await {
            Ok(()) => {
                done.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) if e.code().is_none() => return,
            Err(e) => violation(&violations, format!("CHECKPOINT failed: {e}")),
        }
    }
}

/// After a restart: the log holds every acknowledged transfer and nothing unsent or refused,
/// and the balances are exactly what the log says.
async fn verify(client: &Client, ledger: &Ledger, round: usize) {
    let rows = client
        .query("SELECT id, src, dst, amount FROM transfers", &[])
        .await
        .unwrap();
    let mut present = HashSet::new();
    for r in &rows {
        let id: i64 = r.get(0);
        let logged = (r.get::<_, i32>(1), r.get::<_, i32>(2), r.get::<_, i64>(3));
        match ledger.sent.get(&id) {
            None => panic!("round {round}: transfer {id} was never sent"),
            Some(sent) => assert_eq!(*sent, logged, "round {round}: transfer {id} changed"),
        }
        assert!(
            !ledger.refused.contains(&id),
            "round {round}: refused transfer {id} is there"
        );
        present.insert(id);
    }
    // The per-client totals, kept with INSERT … ON CONFLICT DO UPDATE in the same
    // transactions, agree with the log.
    let mut totals: HashMap<i64, (i64, i64)> = HashMap::new();
    for r in &rows {
        let total = totals.entry(r.get::<_, i64>(0) / ID_SPACE).or_default();
        total.0 += r.get::<_, i64>(3);
        total.1 += 1;
    }
    let kept: HashMap<i64, (i64, i64)> = client
        .query("SELECT client, moved, n FROM client_totals", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2))))
        .collect();
    assert_eq!(
        kept, totals,
        "round {round}: upserted totals disagree with the log"
    );
    let lost: Vec<&i64> = ledger.acked.difference(&present).collect();
    assert!(
        lost.is_empty(),
        "round {round}: acknowledged transfers lost: {lost:?}"
    );
    match ledger_check(client).await {
        Some(Ok(())) => {}
        Some(Err(what)) => panic!("round {round}: {what}"),
        None => panic!("round {round}: connection lost"),
    }
    let total = client
        .query_one("SELECT sum(balance)::bigint, count(*) FROM accounts", &[])
        .await
        .unwrap();
    assert_eq!(
        (total.get::<_, i64>(0), total.get::<_, i64>(1)),
        (TOTAL, i64::from(ACCOUNTS)),
        "round {round}: the total changed"
    );
}

async fn setup(port: u16) {
    let c = connect(port).await.expect("connect");
    c.batch_execute(
        "CREATE TABLE accounts (id int PRIMARY KEY, branch int NOT NULL, balance bigint NOT NULL);\
         CREATE TABLE transfers (id bigint PRIMARY KEY, src int NOT NULL, dst int NOT NULL, \
                                 amount bigint NOT NULL);\
         CREATE TABLE client_totals (client bigint PRIMARY KEY, moved bigint NOT NULL, \
                                     n bigint NOT NULL);",
    )
    .await
    .unwrap();
    c.batch_execute(&format!(
        "INSERT INTO accounts SELECT g, g % {BRANCHES}, {INITIAL} FROM generate_series(0, {}) g",
        ACCOUNTS - 1
    ))
    .await
    .unwrap();
}

/// Counters of the whole run, for the closing sanity checks.
#[derive(Default)]
struct Counts {
    reads: Arc<AtomicUsize>,
    ledger_reads: Arc<AtomicUsize>,
    checkpoints: Arc<AtomicUsize>,
}

/// One round: load, readers and checkpoints until a SIGKILL at a random moment.
async fn round(
    port: u16,
    ledgers: &[Arc<Mutex<Ledger>>],
    counts: &Counts,
    violations: &Violations,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    for (who, ledger) in ledgers.iter().enumerate() {
        let client = connect(port).await.expect("connect");
        let next = ledger.lock().unwrap().sent.len() as i64;
        tasks.push(tokio::spawn(transfer_load(
            client,
            who as i64,
            next,
            ledger.clone(),
        )));
    }
    let reader = connect(port).await.expect("connect");
    tasks.push(tokio::spawn(total_reader(
        reader,
        counts.reads.clone(),
        violations.clone(),
    )));
    let reader = connect(port).await.expect("connect");
    tasks.push(tokio::spawn(ledger_reader(
        reader,
        counts.ledger_reads.clone(),
        violations.clone(),
    )));
    let c = connect(port).await.expect("connect");
    tasks.push(tokio::spawn(checkpointer(
        c,
        counts.checkpoints.clone(),
        violations.clone(),
    )));
    tasks
}

#[test]
fn transfers_across_shards_survive_sigkill_and_analytics_see_the_invariant() {
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
    let (mut child, mut port) = start(&dir, &log, SHARDS, "warn");
    let ledgers: Vec<Arc<Mutex<Ledger>>> = (0..TRANSFER_CLIENTS)
        .map(|_| Arc::new(Mutex::new(Ledger::default())))
        .collect();
    let counts = Counts::default();
    let violations: Violations = Arc::default();
    rt.block_on(setup(port));
    for r in 0..ROUNDS {
        let tasks = rt.block_on(round(port, &ledgers, &counts, &violations));
        std::thread::sleep(Duration::from_millis(rand::rng().random_range(LOAD_MS)));
        kill(child);
        rt.block_on(async {
            for t in tasks {
                t.await.unwrap();
            }
        });
        (child, port) = start(&dir, &log, SHARDS, "warn");
        let merged = merge(&ledgers);
        rt.block_on(async {
            let client = connect(port).await.expect("connect after restart");
            verify(&client, &merged, r).await;
        });
        let found = violations.lock().unwrap().clone();
        assert!(found.is_empty(), "round {r}: {found:#?}");
    }
    kill(child);
    let merged = merge(&ledgers);
    let (reads, ledger_reads, checkpoints) = (
        counts.reads.load(Ordering::Relaxed),
        counts.ledger_reads.load(Ordering::Relaxed),
        counts.checkpoints.load(Ordering::Relaxed),
    );
    eprintln!(
        "{ROUNDS} SIGKILLs: {} transfers acknowledged, {} refused, {} sent; {reads} total \
         reads, {ledger_reads} ledger reads, {checkpoints} checkpoints; {:.1?}",
        merged.acked.len(),
        merged.refused.len(),
        merged.sent.len(),
        started.elapsed()
    );
    assert!(merged.acked.len() > ROUNDS * 10, "the load did too little");
    assert!(
        reads > ROUNDS && ledger_reads > ROUNDS,
        "the readers did too little"
    );
    assert!(
        checkpoints >= ROUNDS / 2,
        "only {checkpoints} checkpoints completed"
    );
    cleanup(&dir, &log);
}

/// The ledgers of all clients as one (transfer ids never collide: each client has its range).
fn merge(ledgers: &[Arc<Mutex<Ledger>>]) -> Ledger {
    let mut all = Ledger::default();
    for l in ledgers {
        let l = l.lock().unwrap();
        all.sent.extend(l.sent.iter().map(|(k, v)| (*k, *v)));
        all.acked.extend(l.acked.iter().copied());
        all.refused.extend(l.refused.iter().copied());
    }
    all
}

fn cleanup(dir: &Path, log: &Path) {
    let _ = std::fs::remove_dir_all(dir);
    let _ = std::fs::remove_file(log);
}
