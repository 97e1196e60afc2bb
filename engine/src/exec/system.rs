//! Rows of the virtual `pg_catalog` / `information_schema` relations, from the catalog snapshot.
//! Column order matches `omendb_planner`'s definitions of these relations.

use super::Row;
use super::eval::EvalEnv;
use crate::EngineError;
use crate::catalog::BUILTIN_TYPES;
use omendb_planner::plan::SystemTable;
use omendb_storage::types::Value;

const PG_CATALOG_OID: i64 = 11;
const PUBLIC_OID: i64 = 2200;
const INFORMATION_SCHEMA_OID: i64 = 13_000;
const DATABASE_OID: i64 = 5;

fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

pub fn system_rows(table: SystemTable, env: &EvalEnv) -> Result<Vec<Row>, EngineError> {
    let catalog = env.engine.catalog();
    let mut tables: Vec<_> = catalog.tables.values().cloned().collect();
    tables.sort_by_key(|t| t.id);
    Ok(match table {
        SystemTable::PgType => BUILTIN_TYPES
            .iter()
            .map(|t| {
                vec![
                    Value::Int64(i64::from(t.oid)),
                    text(t.name),
                    Value::Int64(PG_CATALOG_OID),
                    Value::Int16(t.len),
                    text("b"),
                    text(t.category),
                    text(","),
                    Value::Int64(0),
                    Value::Int64(i64::from(t.array)),
                    Value::Int64(0),
                    Value::Int64(0),
                    Value::Bool(false),
                    Value::Int32(-1),
                ]
            })
            .collect(),
        SystemTable::PgNamespace => vec![
            vec![Value::Int64(PG_CATALOG_OID), text("pg_catalog")],
            vec![Value::Int64(PUBLIC_OID), text("public")],
            vec![
                Value::Int64(INFORMATION_SCHEMA_OID),
                text("information_schema"),
            ],
        ],
        SystemTable::PgClass => tables
            .iter()
            .map(|t| {
                vec![
                    Value::Int64(i64::from(t.id)),
                    text(&t.name),
                    Value::Int64(PUBLIC_OID),
                    text("r"),
                    Value::Float32(-1.0),
                ]
            })
            .collect(),
        SystemTable::PgAttribute => tables
            .iter()
            .flat_map(|t| {
                t.columns.iter().enumerate().map(move |(i, c)| {
                    vec![
                        Value::Int64(i64::from(t.id)),
                        text(&c.name),
                        Value::Int64(i64::from(c.ty.oid())),
                        Value::Int16(i as i16 + 1),
                        Value::Bool(!c.nullable),
                        Value::Int32(c.ty.type_modifier()),
                        Value::Bool(false),
                        Value::Bool(c.default.is_some()),
                    ]
                })
            })
            .collect(),
        SystemTable::PgDatabase => vec![vec![Value::Int64(DATABASE_OID), text(&env.database)]],
        SystemTable::PgSettings => env
            .settings
            .iter()
            .map(|(n, v)| vec![text(n), text(v)])
            .collect(),
        SystemTable::PgInherits | SystemTable::PgPartitionedTable => Vec::new(),
        SystemTable::InformationSchemaTables => tables
            .iter()
            .map(|t| {
                vec![
                    text(&env.database),
                    text("public"),
                    text(&t.name),
                    text("BASE TABLE"),
                ]
            })
            .collect(),
        SystemTable::InformationSchemaColumns => tables
            .iter()
            .flat_map(|t| {
                let db = env.database.clone();
                t.columns.iter().enumerate().map(move |(i, c)| {
                    vec![
                        text(&db),
                        text("public"),
                        text(&t.name),
                        text(&c.name),
                        Value::Int32(i as i32 + 1),
                        c.default.as_deref().map_or(Value::Null, text),
                        text(if c.nullable { "YES" } else { "NO" }),
                        text(&c.ty.to_string()),
                    ]
                })
            })
            .collect(),
    })
}
