//! Real PostgreSQL clients against `omendb` (or the server in `OMENDB_TEST_URL`): psql,
//! psycopg 3, psycopg2, asyncpg, SQLAlchemy, node-pg and pgJDBC run the scripts in
//! `wire/tests/clients/`, and tokio-postgres runs here. Each script prints what it checked and
//! exits non-zero on failure; a missing client is a failure that names the set-up script.

// Tests stop at the first surprise: an unwrap here is an assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{NaiveDate, NaiveDateTime};
use common::{TestServer, unique_name};
use rust_decimal::Decimal;

/// A client script that has not finished by then is hung on the server.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(180);
const POLL: Duration = Duration::from_millis(50);
/// Debian's pgJDBC, from libpostgresql-jdbc-java.
const JDBC_JAR: &str = "/usr/share/java/postgresql.jar";
const SETUP_HINT: &str = "install the client test dependencies with scripts/setup-test-deps.sh";

fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients")
}

fn python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

/// Runs a client program against `server`, echoing its output; panics unless it exits 0.
fn run_client(server: &TestServer, program: &str, args: &[&str]) {
    let jdbc_url = format!(
        "jdbc:postgresql://{}:{}/postgres?user=postgres",
        server.host(),
        server.port()
    );
    let mut child = Command::new(program)
        .args(args)
        .current_dir(clients_dir())
        .env("OMENDB_URL", server.url())
        .env("OMENDB_JDBC_URL", jdbc_url)
        .env("TZ", "UTC")
        .env("PGCONNECT_TIMEOUT", "20")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}; {SETUP_HINT}"));
    let deadline = Instant::now() + SCRIPT_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(POLL);
    };
    let mut stdout = String::new();
    let mut stderr = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    println!("$ {program} {}\n{stdout}{stderr}", args.join(" "));
    match status {
        Some(s) if s.success() => {}
        Some(s) => panic!("{program} {args:?} failed ({s}):\n{stdout}{stderr}"),
        None => panic!("{program} {args:?} hung for {SCRIPT_TIMEOUT:?}:\n{stdout}{stderr}"),
    }
}

/// The seed's examples verbatim through psql, psycopg 3 and psycopg2, each on a fresh server
/// (they all use the seed's table names, so they run one after the other).
#[test]
fn seed_examples_psql_psycopg_psycopg2() {
    {
        let server = TestServer::start();
        run_client(&server, "bash", &["psql/seed_examples.sh"]);
    }
    {
        let server = TestServer::start();
        run_client(&server, &python(), &["python/seed_examples.py", "psycopg"]);
    }
    {
        let server = TestServer::start();
        run_client(&server, &python(), &["python/seed_examples.py", "psycopg2"]);
    }
}

#[test]
fn asyncpg_parameterised_typed() {
    let server = TestServer::start();
    run_client(&server, &python(), &["python/asyncpg_params.py"]);
}

#[test]
fn sqlalchemy_connects_and_queries() {
    let server = TestServer::start();
    run_client(&server, &python(), &["python/sqlalchemy_connect.py"]);
}

#[test]
fn node_pg_parameterised_typed() {
    let server = TestServer::start();
    assert!(
        clients_dir().join("node/node_modules/pg").is_dir(),
        "node-pg is not installed; {SETUP_HINT}"
    );
    run_client(&server, "node", &["node/params.js"]);
}

#[test]
fn pgjdbc_parameterised_typed() {
    assert!(
        Path::new(JDBC_JAR).is_file(),
        "{JDBC_JAR} is missing; {SETUP_HINT}"
    );
    let classes = std::env::temp_dir().join(unique_name("omendb-jdbc-classes"));
    std::fs::create_dir_all(&classes).unwrap();
    let classes_arg = classes.to_string_lossy().into_owned();
    let compiled = Command::new("javac")
        .args(["-d", &classes_arg, "-cp", JDBC_JAR, "java/JdbcParams.java"])
        .current_dir(clients_dir())
        .status()
        .unwrap_or_else(|e| panic!("cannot run javac: {e}; {SETUP_HINT}"));
    assert!(compiled.success(), "javac failed on JdbcParams.java");
    let server = TestServer::start();
    let classpath = format!("{classes_arg}:{JDBC_JAR}");
    run_client(&server, "java", &["-cp", &classpath, "JdbcParams"]);
    let _ = std::fs::remove_dir_all(&classes);
}

/// tokio-postgres sends parameters and reads results in binary: int, bigint, numeric, text,
/// bool, date, timestamp and float, plus NULL parameters and NULL results.
#[tokio::test]
async fn tokio_postgres_parameterised_typed() {
    let server = TestServer::start();
    let client = server.connect().await;
    let table = unique_name("tokio_typed");
    client
        .batch_execute(&format!(
            "CREATE TABLE {table} (id integer PRIMARY KEY, big bigint, amount numeric(10,2), label text,
             flag boolean, day date, at timestamp, score double precision, small smallint)"
        ))
        .await
        .unwrap();
    let insert = client
        .prepare(&format!(
            "INSERT INTO {table} VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .await
        .unwrap();
    let day = NaiveDate::from_ymd_opt(2024, 2, 29).unwrap();
    let at: NaiveDateTime = day.and_hms_micro_opt(13, 14, 15, 500_000).unwrap();
    let amount = Decimal::new(1234, 2);
    let inserted = client
        .execute(
            &insert,
            &[
                &1i32,
                &9_007_199_254_740_993i64,
                &amount,
                &"hello, world",
                &true,
                &day,
                &at,
                &0.25f64,
                &7i16,
            ],
        )
        .await
        .unwrap();
    assert_eq!(inserted, 1);
    client
        .execute(
            &insert,
            &[
                &2i32,
                &None::<i64>,
                &None::<Decimal>,
                &None::<&str>,
                &None::<bool>,
                &None::<NaiveDate>,
                &None::<NaiveDateTime>,
                &None::<f64>,
                &None::<i16>,
            ],
        )
        .await
        .unwrap();

    let select = format!(
        "SELECT id, big, amount, label, flag, day, at, score, small FROM {table} WHERE id = $1"
    );
    let row = client.query_one(&select, &[&1i32]).await.unwrap();
    assert_eq!(row.get::<_, i32>(0), 1);
    assert_eq!(row.get::<_, i64>(1), 9_007_199_254_740_993);
    assert_eq!(row.get::<_, Decimal>(2), amount);
    assert_eq!(row.get::<_, &str>(3), "hello, world");
    assert!(row.get::<_, bool>(4));
    assert_eq!(row.get::<_, NaiveDate>(5), day);
    assert_eq!(row.get::<_, NaiveDateTime>(6), at);
    assert_eq!(row.get::<_, f64>(7), 0.25);
    assert_eq!(row.get::<_, i16>(8), 7);
    println!("ok tokio-postgres: typed row {row:?}");

    let nulls = client.query_one(&select, &[&2i32]).await.unwrap();
    assert_eq!(nulls.get::<_, Option<i64>>(1), None);
    assert_eq!(nulls.get::<_, Option<Decimal>>(2), None);
    assert_eq!(nulls.get::<_, Option<&str>>(3), None);
    assert_eq!(nulls.get::<_, Option<bool>>(4), None);
    assert_eq!(nulls.get::<_, Option<NaiveDate>>(5), None);
    assert_eq!(nulls.get::<_, Option<NaiveDateTime>>(6), None);
    assert_eq!(nulls.get::<_, Option<f64>>(7), None);
    println!("ok tokio-postgres: NULL parameters stored and read back as NULL");

    let by_null = client
        .query(
            &format!("SELECT id FROM {table} WHERE label = $1"),
            &[&None::<&str>],
        )
        .await
        .unwrap();
    assert!(by_null.is_empty(), "= NULL parameter must match nothing");
    let inferred: i32 = client
        .query_one("SELECT $1::integer + 1", &[&41i32])
        .await
        .unwrap()
        .get(0);
    assert_eq!(inferred, 42);
    let total: Decimal = client
        .query_one(
            &format!("SELECT sum(amount) FROM {table} WHERE day <= $1 AND big > $2"),
            &[&day, &0i64],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(total, amount);
    let statement = client
        .prepare(&format!("SELECT count(*) FROM {table} WHERE at < $1"))
        .await
        .unwrap();
    for _ in 0..3 {
        let n: i64 = client.query_one(&statement, &[&at]).await.unwrap().get(0);
        assert_eq!(n, 0);
    }
    let updated = client
        .execute(
            &format!("UPDATE {table} SET label = $1 WHERE id = $2"),
            &[&None::<&str>, &1i32],
        )
        .await
        .unwrap();
    assert_eq!(updated, 1);
    println!("ok tokio-postgres: parameter inference, aggregates, prepared reuse, NULL update");
    client
        .batch_execute(&format!("DROP TABLE {table}"))
        .await
        .unwrap();
}
