//! Materialized CTEs through prepared statements (the extended protocol): a CTE referenced
//! twice is computed once per execution, never once per prepared statement, so every execution
//! sees the rows and the parameters of its own moment. Runs against PostgreSQL 15 as well
//! (`OMENDB_TEST_URL`), with the same results.

// Tests stop at the first surprise: an unwrap here is an assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{TestServer, unique_name};

#[tokio::test]
async fn each_execution_of_a_prepared_statement_computes_its_ctes_afresh() {
    let server = TestServer::start();
    let client = server.connect().await;
    let table = unique_name("cte");
    client
        .batch_execute(&format!(
            "CREATE TABLE {table} (k bigint PRIMARY KEY, grp int NOT NULL);
             INSERT INTO {table} SELECT g, g % 3 FROM generate_series(1, 30) g"
        ))
        .await
        .unwrap();
    // The CTE is read by the main query and by a scalar subquery, and takes a parameter.
    let statement = client
        .prepare(&format!(
            "WITH t AS (SELECT grp, count(*) AS n FROM {table} WHERE k <= $1 GROUP BY grp) \
             SELECT grp, n FROM t WHERE n = (SELECT max(n) FROM t) ORDER BY grp"
        ))
        .await
        .unwrap();
    let run = |limit: i64| {
        let (client, statement) = (&client, &statement);
        async move {
            client
                .query(statement, &[&limit])
                .await
                .unwrap()
                .iter()
                .map(|r| (r.get::<_, i32>(0), r.get::<_, i64>(1)))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(run(30).await, vec![(0, 10), (1, 10), (2, 10)]);
    assert_eq!(run(4).await, vec![(1, 2)]);
    client
        .batch_execute(&format!("INSERT INTO {table} VALUES (31, 2), (32, 2)"))
        .await
        .unwrap();
    assert_eq!(run(40).await, vec![(2, 12)]);
    assert_eq!(run(30).await, vec![(0, 10), (1, 10), (2, 10)]);
    client
        .batch_execute(&format!("DROP TABLE {table}"))
        .await
        .unwrap();
}
