//! Errors a client meets most often: each must arrive as an ErrorResponse with the right
//! SQLSTATE and a message a person can act on, through both the simple and the extended query
//! protocol, and the same connection must keep working afterwards.

// Tests stop at the first surprise: an unwrap here is an assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{TestServer, unique_name};
use tokio_postgres::Client;
use tokio_postgres::error::DbError;

/// One error case: the statement, the SQLSTATE it must raise, and words its message must hold
/// (the object it is about, or the standard wording of the condition), compared lower-case.
struct Case {
    sql: String,
    sqlstate: &'static str,
    message_words: Vec<String>,
}

fn case(sql: impl Into<String>, sqlstate: &'static str, words: &[&str]) -> Case {
    Case {
        sql: sql.into(),
        sqlstate,
        message_words: words.iter().map(|w| w.to_lowercase()).collect(),
    }
}

fn cases(table: &str) -> Vec<Case> {
    vec![
        case(
            "SELECT * FROM no_such_table_e1",
            "42P01",
            &["no_such_table_e1"],
        ),
        case(
            format!("SELECT no_such_col FROM {table}"),
            "42703",
            &["no_such_col"],
        ),
        case("SELEC 1", "42601", &["syntax"]),
        case("SELECT (1", "42601", &["syntax"]),
        case(
            format!("INSERT INTO {table} (id, name) VALUES (1, 'dup')"),
            "23505",
            &["duplicate", "unique"],
        ),
        case(
            format!("INSERT INTO {table} (id, name) VALUES (2, NULL)"),
            "23502",
            &["null", "name"],
        ),
        case("SELECT 1 / 0", "22012", &["division by zero"]),
        case(
            format!("SELECT id FROM {table} WHERE name"),
            "42804",
            &["boolean"],
        ),
        case(
            format!("INSERT INTO {table} (id, name) VALUES (true, 'x')"),
            "42804",
            &["integer", "boolean"],
        ),
        case("SELECT 'abc'::integer", "22P02", &["integer", "abc"]),
        case(
            format!("INSERT INTO {table} (id, name) VALUES ('abc', 'x')"),
            "22P02",
            &["integer", "abc"],
        ),
    ]
}

async fn setup(client: &Client) -> String {
    let table = unique_name("errors_t");
    client
        .batch_execute(&format!(
            "CREATE TABLE {table} (id integer PRIMARY KEY, name text NOT NULL);
             INSERT INTO {table} VALUES (1, 'one');"
        ))
        .await
        .unwrap();
    table
}

fn check_error(protocol: &str, case: &Case, result: Result<(), tokio_postgres::Error>) {
    let err = match result {
        Ok(()) => panic!(
            "{protocol}: `{}` succeeded, expected {}",
            case.sql, case.sqlstate
        ),
        Err(e) => e,
    };
    let db: &DbError = err.as_db_error().unwrap_or_else(|| {
        panic!(
            "{protocol}: `{}` failed without an ErrorResponse: {err:?}",
            case.sql
        )
    });
    assert_eq!(
        db.code().code(),
        case.sqlstate,
        "{protocol}: `{}`: {}",
        case.sql,
        db.message()
    );
    assert_eq!(db.severity(), "ERROR", "{protocol}: `{}`", case.sql);
    let message = db.message().to_lowercase();
    for word in &case.message_words {
        assert!(
            message.contains(word.as_str()),
            "{protocol}: `{}`: message {:?} does not mention {word:?}",
            case.sql,
            db.message()
        );
    }
    println!(
        "ok {protocol}: {} -> {} {}",
        case.sql,
        case.sqlstate,
        db.message()
    );
}

/// The connection still answers through both protocols and is not stuck in a failed state.
async fn assert_healthy(client: &Client, after: &str) {
    let rows = client
        .simple_query("SELECT 1")
        .await
        .unwrap_or_else(|e| panic!("simple SELECT 1 after `{after}`: {e:?}"));
    let values: Vec<_> = rows
        .iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_owned),
            _ => None,
        })
        .collect();
    assert_eq!(values, ["1"], "simple SELECT 1 after `{after}`");
    let one: i32 = client
        .query_one("SELECT 1", &[])
        .await
        .unwrap_or_else(|e| panic!("extended SELECT 1 after `{after}`: {e:?}"))
        .get(0);
    assert_eq!(one, 1, "extended SELECT 1 after `{after}`");
}

#[tokio::test]
async fn errors_through_simple_protocol() {
    let server = TestServer::start();
    let client = server.connect().await;
    let table = setup(&client).await;
    for case in cases(&table) {
        let result = client.batch_execute(&case.sql).await;
        check_error("simple", &case, result);
        assert_healthy(&client, &case.sql).await;
    }
    // Nothing the failed statements tried to write is visible.
    let count: i64 = client
        .query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 1);
    client
        .batch_execute(&format!("DROP TABLE {table}"))
        .await
        .unwrap();
}

#[tokio::test]
async fn errors_through_extended_protocol() {
    let server = TestServer::start();
    let client = server.connect().await;
    let table = setup(&client).await;
    for case in cases(&table) {
        let result = client.query(&case.sql, &[]).await.map(|_| ());
        check_error("extended", &case, result);
        assert_healthy(&client, &case.sql).await;
    }
    client
        .batch_execute(&format!("DROP TABLE {table}"))
        .await
        .unwrap();
}

/// A type mismatch on a bound parameter and a NOT NULL violation through a parameter.
#[tokio::test]
async fn errors_with_parameters() {
    let server = TestServer::start();
    let client = server.connect().await;
    let table = setup(&client).await;
    let insert = format!("INSERT INTO {table} (id, name) VALUES ($1, $2)");
    let none: Option<&str> = None;
    let result = client.execute(&insert, &[&2i32, &none]).await.map(|_| ());
    check_error("extended", &case(&insert, "23502", &["null"]), result);
    assert_healthy(&client, &insert).await;
    let result = client
        .execute(&insert, &[&1i32, &"again"])
        .await
        .map(|_| ());
    check_error("extended", &case(&insert, "23505", &["duplicate"]), result);
    assert_healthy(&client, &insert).await;
    let divide = format!("SELECT id / $1 FROM {table}");
    let result = client.query(&divide, &[&0i32]).await.map(|_| ());
    check_error(
        "extended",
        &case(&divide, "22012", &["division by zero"]),
        result,
    );
    assert_healthy(&client, &divide).await;
    client
        .batch_execute(&format!("DROP TABLE {table}"))
        .await
        .unwrap();
}

/// Several statements in one simple query without BEGIN form one implicit transaction: the
/// error stops the rest of the message and rolls back the INSERT before it as well.
#[tokio::test]
async fn error_in_multi_statement_query() {
    let server = TestServer::start();
    let client = server.connect().await;
    let table = setup(&client).await;
    let sql = format!(
        "INSERT INTO {table} VALUES (10, 'a'); SELECT 1 / 0; INSERT INTO {table} VALUES (11, 'b');"
    );
    let result = client.batch_execute(&sql).await;
    check_error(
        "simple",
        &case(&sql, "22012", &["division by zero"]),
        result,
    );
    assert_healthy(&client, &sql).await;
    let count: i64 = client
        .query_one(&format!("SELECT count(*) FROM {table} WHERE id >= 10"), &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        count, 0,
        "a failed multi-statement query is one implicit transaction"
    );
    client
        .batch_execute(&format!("DROP TABLE {table}"))
        .await
        .unwrap();
}
