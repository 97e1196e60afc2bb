//! Binder behaviour the SQL corpus cannot pin down against PostgreSQL: EXPLAIN text of ordered
//! aggregates and series, and the features refused with 0A000 where PostgreSQL has them.

use omendb_planner::parse::{Parsed, parse};
use omendb_planner::{BindContext, Catalog, Statement, bind};
use omendb_storage::schema::TableSchema;
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Default)]
struct TestCatalog {
    tables: HashMap<String, Arc<TableSchema>>,
}

impl Catalog for TestCatalog {
    fn table(&self, name: &str) -> Option<Arc<TableSchema>> {
        self.tables.get(name).cloned()
    }
    fn sequence_exists(&self, _: &str) -> bool {
        false
    }
    fn row_estimate(&self, _: &TableSchema) -> f64 {
        1000.0
    }
    fn view(&self, _: &str) -> Option<String> {
        None
    }
}

fn bind_one(catalog: &TestCatalog, sql: &str) -> Result<Statement, String> {
    let mut parsed = parse(sql).map_err(|e| e.sqlstate().to_string())?;
    let Some(Parsed::Sql(ast)) = parsed.pop() else {
        panic!("{sql}: not a plain statement");
    };
    let mut ctx = BindContext::new(catalog, Vec::new());
    bind(&mut ctx, &ast).map_err(|e| e.sqlstate().to_string())
}

fn catalog() -> TestCatalog {
    let mut catalog = TestCatalog::default();
    let Ok(Statement::CreateTable {
        name,
        columns,
        primary_key,
        unique,
        ..
    }) = bind_one(
        &catalog,
        "CREATE TABLE t (id integer PRIMARY KEY, v text, x integer)",
    )
    else {
        panic!("CREATE TABLE did not bind");
    };
    let table = TableSchema {
        id: 16_384,
        name: name.clone(),
        columns,
        primary_key,
        unique,
        indexes: Vec::new(),
    };
    catalog.tables.insert(name, Arc::new(table));
    catalog
}

fn explain(sql: &str) -> String {
    match bind_one(&catalog(), sql) {
        Ok(Statement::Query { plan, .. }) => plan.explain(),
        Ok(_) => panic!("{sql}: not a query"),
        Err(code) => panic!("{sql}: {code}"),
    }
}

fn sqlstate(sql: &str) -> String {
    match bind_one(&catalog(), sql) {
        Ok(_) => panic!("{sql}: bound without error"),
        Err(code) => code,
    }
}

/// How many `Shared CTE` nodes a plan has.
fn shared_nodes(sql: &str) -> usize {
    explain(sql).matches("Shared CTE").count()
}

#[test]
fn ctes_are_materialized_by_postgresqls_rule() {
    // Referenced once: folded into the query.
    assert_eq!(
        shared_nodes("WITH c AS (SELECT * FROM t) SELECT v FROM c WHERE id = 3"),
        0
    );
    // Referenced twice, in the query and in a subquery: one node per reference, one id.
    let twice = "WITH c AS (SELECT id, x FROM t) SELECT id FROM c WHERE x = (SELECT max(x) FROM c)";
    assert_eq!(shared_nodes(twice), 2);
    assert_eq!(explain(twice).matches("Shared CTE #0").count(), 2);
    // The filter above a materialized CTE stays above it.
    let plan = explain("WITH c AS MATERIALIZED (SELECT * FROM t) SELECT v FROM c WHERE id = 3");
    assert_eq!(plan.matches("Shared CTE").count(), 1);
    let (filter, shared) = (plan.find("Filter (#0 = 3)"), plan.find("Shared CTE"));
    assert!(filter.is_some() && filter < shared, "{plan}");
    // NOT MATERIALIZED folds it even when referenced twice, unless it is volatile.
    let folded = "WITH c AS NOT MATERIALIZED (SELECT * FROM t) SELECT 1 FROM c a, c b";
    assert_eq!(shared_nodes(folded), 0);
    let volatile = "WITH c AS NOT MATERIALIZED (SELECT random() AS r) SELECT 1 FROM c a, c b";
    assert_eq!(shared_nodes(volatile), 2);
    let volatile = "WITH c AS (SELECT random() AS r) SELECT r FROM c";
    assert_eq!(shared_nodes(volatile), 1);
    // Two CTEs: ids are per CTE, and a CTE built on another keeps its own decision.
    let two = "WITH a AS (SELECT id FROM t), b AS (SELECT id FROM a) \
               SELECT 1 FROM b x, b y WHERE x.id = y.id";
    let plan = explain(two);
    assert_eq!(plan.matches("Shared CTE #1").count(), 2, "{plan}");
    assert_eq!(plan.matches("Shared CTE #0").count(), 0, "{plan}");
}

#[test]
fn explain_shows_the_order_inside_an_aggregate() {
    let plan = explain("SELECT string_agg(v, ',' ORDER BY x DESC, id NULLS FIRST) FROM t");
    assert!(
        plan.contains("string_agg(#1, ','::text ORDER BY #2 DESC, #0 NULLS FIRST)"),
        "{plan}"
    );
    let plan = explain("SELECT sum(x ORDER BY id DESC NULLS LAST) FROM t");
    assert!(
        plan.contains("sum(#2 ORDER BY #0 DESC NULLS LAST)"),
        "{plan}"
    );
    let plan = explain("SELECT sum(x) FROM t");
    assert!(!plan.contains("ORDER BY"), "{plan}");
}

#[test]
fn ordered_set_aggregates_are_refused_not_misread() {
    assert_eq!(
        sqlstate("SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x) FROM t"),
        "0A000"
    );
    assert_eq!(
        sqlstate("SELECT mode() WITHIN GROUP (ORDER BY x) FROM t"),
        "0A000"
    );
    assert_eq!(
        sqlstate("SELECT lower(v) WITHIN GROUP (ORDER BY x) FROM t"),
        "42883"
    );
    assert_eq!(
        sqlstate("SELECT upper(v) FILTER (WHERE x > 1) FROM t"),
        "42809"
    );
}

#[test]
fn distinct_aggregates_order_only_by_their_arguments() {
    assert_eq!(
        sqlstate("SELECT string_agg(DISTINCT v, ',' ORDER BY id) FROM t"),
        "42P10"
    );
    let plan = explain("SELECT string_agg(DISTINCT v, ',' ORDER BY v) FROM t");
    assert!(
        plan.contains("string_agg(DISTINCT #1, ','::text ORDER BY #1)"),
        "{plan}"
    );
}

#[test]
fn generate_series_is_a_plan_node() {
    let plan = explain("SELECT * FROM generate_series(1, 10) g");
    assert!(plan.contains("Series generate_series(1, 10, 1)"), "{plan}");
    match bind_one(
        &catalog(),
        "SELECT * FROM generate_series(1, 10::bigint, 2) AS s(n)",
    ) {
        Ok(Statement::Query { columns, .. }) => {
            assert_eq!(columns.len(), 1);
            assert_eq!(columns[0].name, "n");
            assert_eq!(columns[0].ty, omendb_storage::types::DataType::Int64);
        }
        other => panic!("{:?}", other.err()),
    }
}

#[test]
fn generate_series_forms_not_supported_say_so() {
    // PostgreSQL has these; OmenDB refuses them instead of guessing.
    assert_eq!(sqlstate("SELECT * FROM generate_series(1.5, 3)"), "0A000");
    assert_eq!(
        sqlstate("SELECT * FROM t, generate_series(1, t.x)"),
        "0A000"
    );
    assert_eq!(
        sqlstate("SELECT * FROM generate_series(1, 3) WITH ORDINALITY"),
        "0A000"
    );
    assert_eq!(sqlstate("SELECT * FROM unnest(1)"), "0A000");
    assert_eq!(sqlstate("SELECT * FROM generate_series(1)"), "42883");
}
