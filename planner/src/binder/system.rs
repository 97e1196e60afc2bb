//! The `pg_catalog` and `information_schema` relations clients and drivers query: their names
//! and columns. The engine fills their rows from the catalog snapshot at scan time.

use crate::plan::SystemTable;
use omendb_storage::types::DataType;

pub(crate) struct SystemRelation {
    pub table: SystemTable,
    pub columns: Vec<(String, DataType)>,
}

/// The system relation a (possibly schema-qualified) name refers to.
pub(crate) fn lookup(name: &str) -> Option<SystemRelation> {
    use DataType::{Bool, Int16, Int32, Int64, Text};
    let (schema, rel) = name.rsplit_once('.').unwrap_or(("pg_catalog", name));
    let (table, columns): (SystemTable, &[(&str, DataType)]) = match (schema, rel) {
        ("pg_catalog", "pg_type") => (
            SystemTable::PgType,
            &[
                ("oid", Int64),
                ("typname", Text),
                ("typnamespace", Int64),
                ("typlen", Int16),
                ("typtype", Text),
                ("typcategory", Text),
                ("typdelim", Text),
                ("typelem", Int64),
                ("typarray", Int64),
                ("typbasetype", Int64),
                ("typrelid", Int64),
                ("typnotnull", Bool),
                ("typtypmod", Int32),
            ],
        ),
        ("pg_catalog", "pg_namespace") => (
            SystemTable::PgNamespace,
            &[("oid", Int64), ("nspname", Text)],
        ),
        ("pg_catalog", "pg_class") => (
            SystemTable::PgClass,
            &[
                ("oid", Int64),
                ("relname", Text),
                ("relnamespace", Int64),
                ("relkind", Text),
                ("reltuples", DataType::Float32),
            ],
        ),
        ("pg_catalog", "pg_attribute") => (
            SystemTable::PgAttribute,
            &[
                ("attrelid", Int64),
                ("attname", Text),
                ("atttypid", Int64),
                ("attnum", Int16),
                ("attnotnull", Bool),
                ("atttypmod", Int32),
                ("attisdropped", Bool),
                ("atthasdef", Bool),
            ],
        ),
        ("pg_catalog", "pg_database") => (
            SystemTable::PgDatabase,
            &[("oid", Int64), ("datname", Text)],
        ),
        ("pg_catalog", "pg_settings") => (
            SystemTable::PgSettings,
            &[("name", Text), ("setting", Text)],
        ),
        ("pg_catalog", "pg_inherits") => (
            SystemTable::PgInherits,
            &[
                ("inhrelid", Int64),
                ("inhparent", Int64),
                ("inhseqno", Int32),
                ("inhdetachpending", Bool),
            ],
        ),
        // partattrs (int2vector), partclass, partcollation and partexprs are left out: OmenDB
        // has no vector or pg_node_tree types, and the relation has no rows anyway.
        ("pg_catalog", "pg_partitioned_table") => (
            SystemTable::PgPartitionedTable,
            &[
                ("partrelid", Int64),
                ("partstrat", Text),
                ("partnatts", Int16),
                ("partdefid", Int64),
            ],
        ),
        ("information_schema", "tables") => (
            SystemTable::InformationSchemaTables,
            &[
                ("table_catalog", Text),
                ("table_schema", Text),
                ("table_name", Text),
                ("table_type", Text),
            ],
        ),
        ("information_schema", "columns") => (
            SystemTable::InformationSchemaColumns,
            &[
                ("table_catalog", Text),
                ("table_schema", Text),
                ("table_name", Text),
                ("column_name", Text),
                ("ordinal_position", Int32),
                ("column_default", Text),
                ("is_nullable", Text),
                ("data_type", Text),
            ],
        ),
        _ => return None,
    };
    Some(SystemRelation {
        table,
        columns: columns.iter().map(|(n, t)| (n.to_string(), *t)).collect(),
    })
}
