//! The protocol state machine driven by a real client library (tokio-postgres) over TCP, with a
//! scripted backend: SCRAM as a real client computes it, the extended protocol with binary
//! parameters and results (tokio-postgres uses binary for everything), NULLs, errors with
//! SQLSTATEs, and the simple protocol.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod protocol_support;

use omendb_wire::WireConfig;
use omendb_wire::auth::AuthConfig;
use protocol_support::ScriptConnector;
use std::rc::Rc;
use std::time::{Duration, SystemTime};
use tokio_postgres::error::SqlState;
use tokio_postgres::{NoTls, SimpleQueryMessage};
use tokio_util::compat::TokioAsyncReadCompatExt;

/// Serve connections on an ephemeral port inside the current LocalSet; returns the port.
async fn start_server(config: WireConfig) -> (u16, Rc<ScriptConnector>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let config = Rc::new(config);
    let connector = Rc::new(ScriptConnector::new());
    let shared = connector.clone();
    tokio::task::spawn_local(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let (config, connector) = (config.clone(), connector.clone());
            tokio::task::spawn_local(async move {
                let _ = omendb_wire::session::run(stream.compat(), &*connector, &config).await;
            });
        }
    });
    (port, shared)
}

fn run_local<F: std::future::Future<Output = ()>>(f: F) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tokio::task::LocalSet::new().block_on(&rt, f);
}

async fn connect(
    port: u16,
    user: &str,
    password: &str,
) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let dsn = format!(
        "host=127.0.0.1 port={port} user={user} password={password} dbname=db application_name=tp"
    );
    let (client, connection) = tokio_postgres::connect(&dsn, NoTls).await?;
    tokio::task::spawn_local(async move {
        let _ = connection.await;
    });
    Ok(client)
}

#[test]
fn scram_and_binary_round_trips() {
    run_local(async {
        let config = WireConfig::new(AuthConfig::with_passwords(Some("pw"), &[]));
        let (port, connector) = start_server(config).await;
        let client = connect(port, "alice", "pw").await.unwrap();
        let when = SystemTime::UNIX_EPOCH + Duration::from_micros(1_700_000_000_123_456);
        let row = client
            .query_one(
                "echo int2 int4 int8 float4 float8 bool text bytea timestamp timestamptz",
                &[
                    &-3i16,
                    &7i32,
                    &i64::MIN,
                    &1.25f32,
                    &-0.1f64,
                    &true,
                    &"héllo",
                    &vec![0u8, 255, 10],
                    &when,
                    &when,
                ],
            )
            .await
            .unwrap();
        assert_eq!(row.get::<_, i16>(0), -3);
        assert_eq!(row.get::<_, i32>(1), 7);
        assert_eq!(row.get::<_, i64>(2), i64::MIN);
        assert_eq!(row.get::<_, f32>(3), 1.25);
        assert_eq!(row.get::<_, f64>(4), -0.1);
        assert!(row.get::<_, bool>(5));
        assert_eq!(row.get::<_, &str>(6), "héllo");
        assert_eq!(row.get::<_, Vec<u8>>(7), vec![0, 255, 10]);
        assert_eq!(row.get::<_, SystemTime>(8), when);
        assert_eq!(row.get::<_, SystemTime>(9), when);

        let row = client
            .query_one("echo int4 text", &[&None::<i32>, &None::<&str>])
            .await
            .unwrap();
        assert_eq!(row.get::<_, Option<i32>>(0), None);
        assert_eq!(row.get::<_, Option<&str>>(1), None);

        // A prepared statement reused with new parameters.
        let stmt = client.prepare("echo int8").await.unwrap();
        for i in 0..7i64 {
            let row = client.query_one(&stmt, &[&i]).await.unwrap();
            assert_eq!(row.get::<_, i64>(0), i);
        }

        let log = connector.log.borrow();
        assert_eq!(log.connected, vec![("alice".to_string(), "db".to_string())]);
        assert!(
            log.startup_parameters
                .contains(&("application_name".into(), "tp".into()))
        );
    });
}

#[test]
fn errors_carry_sqlstates_and_the_connection_goes_on() {
    run_local(async {
        let (port, _) = start_server(WireConfig::new(AuthConfig::trust())).await;
        let client = connect(port, "u", "").await.unwrap();
        let e = client.query("fail 42P01", &[]).await.unwrap_err();
        assert_eq!(e.code(), Some(&SqlState::UNDEFINED_TABLE));
        let e = client.batch_execute("fail 23505").await.unwrap_err();
        assert_eq!(e.code(), Some(&SqlState::UNIQUE_VIOLATION));
        let rows = client.query("rows 3", &[]).await.unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[2].get::<_, &str>(1), "row 3");
    });
}

#[test]
fn simple_protocol_text_results() {
    run_local(async {
        let (port, _) = start_server(WireConfig::new(AuthConfig::trust())).await;
        let client = connect(port, "u", "").await.unwrap();
        let messages = client.simple_query("rows 2; insert").await.unwrap();
        let mut rows = Vec::new();
        let mut completions = Vec::new();
        for m in messages {
            match m {
                SimpleQueryMessage::Row(r) => {
                    rows.push((r.get(0).unwrap().to_string(), r.get(1).unwrap().to_string()))
                }
                SimpleQueryMessage::CommandComplete(n) => completions.push(n),
                _ => {}
            }
        }
        assert_eq!(
            rows,
            vec![
                ("1".to_string(), "row 1".to_string()),
                ("2".to_string(), "row 2".to_string())
            ]
        );
        assert_eq!(completions, vec![2, 1]);
    });
}

#[test]
fn wrong_password_is_refused() {
    run_local(async {
        let config = WireConfig::new(AuthConfig::with_passwords(Some("pw"), &[]));
        let (port, _) = start_server(config).await;
        let e = connect(port, "alice", "nope").await.err().unwrap();
        assert_eq!(e.code(), Some(&SqlState::INVALID_PASSWORD));
        // The server keeps serving.
        assert!(connect(port, "alice", "pw").await.is_ok());
    });
}

#[test]
fn many_concurrent_connections() {
    run_local(async {
        let (port, connector) = start_server(WireConfig::new(AuthConfig::trust())).await;
        let mut tasks = Vec::new();
        for c in 0..50i32 {
            tasks.push(tokio::task::spawn_local(async move {
                let client = connect(port, "u", "").await.unwrap();
                for i in 0..20i32 {
                    let row = client
                        .query_one("echo int4", &[&(c * 100 + i)])
                        .await
                        .unwrap();
                    assert_eq!(row.get::<_, i32>(0), c * 100 + i);
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(connector.log.borrow().connected.len(), 50);
    });
}

/// libpq (through psql) logs in with SCRAM and runs simple queries; skipped where psql is not
/// installed.
#[test]
fn psql_logs_in_and_queries() {
    if std::process::Command::new("psql")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("psql not installed: skipped");
        return;
    }
    run_local(async {
        let config = WireConfig::new(AuthConfig::with_passwords(Some("pw"), &[]));
        let (port, _) = start_server(config).await;
        let psql = |password: &'static str, sql: &'static str| {
            tokio::process::Command::new("psql")
                .args([
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &port.to_string(),
                    "-U",
                    "alice",
                    "-d",
                    "db",
                ])
                .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql])
                .env("PGPASSWORD", password)
                .env("PGCONNECT_TIMEOUT", "10")
                .output()
        };
        let out = psql("pw", "rows 2").await.unwrap();
        assert!(out.status.success(), "{out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "1|row 1\n2|row 2\n");
        let out = psql("pw", "fail 42P01").await.unwrap();
        assert!(!out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("forced failure"),
            "{out:?}"
        );
        let out = psql("wrong", "rows 1").await.unwrap();
        assert!(!out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stderr)
                .contains("password authentication failed for user \"alice\""),
            "{out:?}"
        );
    });
}
