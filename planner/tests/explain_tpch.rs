//! Golden EXPLAIN tests for the 22 TPC-H queries: the plan of each query (join order, pushed
//! filters, decorrelated subqueries) is compared with `tests/explain/qNN.plan`.
//!
//! The schema and query texts are the benchmark's own (`bench/tpch/schema.sql`,
//! `bench/tpch/queries/`); table sizes are TPC-H's at SF 1, so join ordering is deterministic.
//! After an intended planner change, regenerate with `UPDATE_GOLDEN=1 cargo test -p
//! omendb-planner --test explain_tpch` and review the diff.

use omendb_planner::parse::{Parsed, parse};
use omendb_planner::{BindContext, Catalog, Statement, bind};
use omendb_storage::schema::TableSchema;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Default)]
struct TestCatalog {
    tables: HashMap<String, Arc<TableSchema>>,
    views: HashMap<String, String>,
}

impl Catalog for TestCatalog {
    fn table(&self, name: &str) -> Option<Arc<TableSchema>> {
        self.tables.get(name).cloned()
    }
    fn sequence_exists(&self, _: &str) -> bool {
        false
    }
    fn row_estimate(&self, table: &TableSchema) -> f64 {
        match table.name.as_str() {
            "lineitem" => 6_001_215.0,
            "orders" => 1_500_000.0,
            "partsupp" => 800_000.0,
            "part" => 200_000.0,
            "customer" => 150_000.0,
            "supplier" => 10_000.0,
            "nation" => 25.0,
            "region" => 5.0,
            _ => 1000.0,
        }
    }
    fn view(&self, name: &str) -> Option<String> {
        self.views.get(name).cloned()
    }
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn bind_all(catalog: &TestCatalog, sql: &str) -> Vec<Statement> {
    parse(sql)
        .unwrap_or_else(|e| panic!("parse: {e}"))
        .into_iter()
        .map(|p| match p {
            Parsed::Bound(s) => *s,
            Parsed::Sql(ast) => {
                let mut ctx = BindContext::new(catalog, Vec::new());
                bind(&mut ctx, &ast).unwrap_or_else(|e| panic!("bind {ast}: {e}"))
            }
        })
        .collect()
}

fn tpch_catalog() -> TestCatalog {
    let mut catalog = TestCatalog::default();
    let schema = std::fs::read_to_string(repo().join("bench/tpch/schema.sql"))
        .unwrap_or_else(|e| panic!("bench/tpch/schema.sql: {e}"));
    for (id, stmt) in bind_all(&TestCatalog::default(), &schema)
        .into_iter()
        .enumerate()
    {
        if let Statement::CreateTable {
            name,
            columns,
            primary_key,
            unique,
            ..
        } = stmt
        {
            let table = TableSchema {
                id: 16_384 + id as u32,
                name: name.clone(),
                columns,
                primary_key,
                unique,
                indexes: Vec::new(),
            };
            catalog.tables.insert(name, Arc::new(table));
        }
    }
    catalog
}

#[test]
fn tpch_plans_match_golden_files() {
    let mut catalog = tpch_catalog();
    assert_eq!(catalog.tables.len(), 8, "the TPC-H schema has 8 tables");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut failures = Vec::new();
    for q in 1..=22 {
        let path = repo().join(format!("bench/tpch/queries/q{q:02}.sql"));
        let sql =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut plans = String::new();
        // Statements bind in order, so a view created by the file is visible to its query.
        for p in parse(&sql).unwrap_or_else(|e| panic!("q{q:02}: {e}")) {
            let Parsed::Sql(ast) = p else { continue };
            let stmt = {
                let mut ctx = BindContext::new(&catalog, Vec::new());
                bind(&mut ctx, &ast).unwrap_or_else(|e| panic!("q{q:02}: {e}"))
            };
            match stmt {
                Statement::Query { plan, .. } => plans.push_str(&plan.explain()),
                Statement::CreateView { name, sql, .. } => {
                    catalog.views.insert(name, sql);
                }
                Statement::DropView { names, .. } => names.iter().for_each(|n| {
                    catalog.views.remove(n);
                }),
                _ => {}
            }
        }
        let golden =
            Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/explain/q{q:02}.plan"));
        if update {
            std::fs::write(&golden, &plans).unwrap_or_else(|e| panic!("write golden: {e}"));
            continue;
        }
        match std::fs::read_to_string(&golden) {
            Ok(expected) if expected == plans => {}
            Ok(expected) => failures.push(format!(
                "q{q:02}: plan changed\n--- expected\n{expected}--- actual\n{plans}"
            )),
            Err(_) => failures.push(format!(
                "q{q:02}: no golden file {} (run with UPDATE_GOLDEN=1)",
                golden.display()
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
