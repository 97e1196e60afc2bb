//! The built-in types `pg_type` lists: OmenDB's own and the few that drivers look up by name.

/// One `pg_type` row.
#[derive(Debug, Clone, Copy)]
pub struct BuiltinType {
    pub oid: u32,
    pub name: &'static str,
    pub len: i16,
    pub category: &'static str,
    /// OID of the array type over this one (0 if none).
    pub array: u32,
}

/// Types OmenDB stores, plus those catalog queries and drivers name.
pub const BUILTIN_TYPES: &[BuiltinType] = &[
    BuiltinType {
        oid: 16,
        name: "bool",
        len: 1,
        category: "B",
        array: 1000,
    },
    BuiltinType {
        oid: 17,
        name: "bytea",
        len: -1,
        category: "U",
        array: 1001,
    },
    BuiltinType {
        oid: 19,
        name: "name",
        len: 64,
        category: "S",
        array: 1003,
    },
    BuiltinType {
        oid: 20,
        name: "int8",
        len: 8,
        category: "N",
        array: 1016,
    },
    BuiltinType {
        oid: 21,
        name: "int2",
        len: 2,
        category: "N",
        array: 1005,
    },
    BuiltinType {
        oid: 23,
        name: "int4",
        len: 4,
        category: "N",
        array: 1007,
    },
    BuiltinType {
        oid: 25,
        name: "text",
        len: -1,
        category: "S",
        array: 1009,
    },
    BuiltinType {
        oid: 26,
        name: "oid",
        len: 4,
        category: "N",
        array: 1028,
    },
    BuiltinType {
        oid: 700,
        name: "float4",
        len: 4,
        category: "N",
        array: 1021,
    },
    BuiltinType {
        oid: 701,
        name: "float8",
        len: 8,
        category: "N",
        array: 1022,
    },
    BuiltinType {
        oid: 705,
        name: "unknown",
        len: -2,
        category: "X",
        array: 0,
    },
    BuiltinType {
        oid: 1042,
        name: "bpchar",
        len: -1,
        category: "S",
        array: 1014,
    },
    BuiltinType {
        oid: 1043,
        name: "varchar",
        len: -1,
        category: "S",
        array: 1015,
    },
    BuiltinType {
        oid: 1082,
        name: "date",
        len: 4,
        category: "D",
        array: 1182,
    },
    BuiltinType {
        oid: 1114,
        name: "timestamp",
        len: 8,
        category: "D",
        array: 1115,
    },
    BuiltinType {
        oid: 1184,
        name: "timestamptz",
        len: 8,
        category: "D",
        array: 1185,
    },
    BuiltinType {
        oid: 1186,
        name: "interval",
        len: 16,
        category: "T",
        array: 1187,
    },
    BuiltinType {
        oid: 1700,
        name: "numeric",
        len: -1,
        category: "N",
        array: 1231,
    },
];

/// The OID of a type by any of its SQL names (`integer`, `int4`, `character varying`, …).
pub fn type_oid_by_name(name: &str) -> Option<u32> {
    let lower = name.trim().to_ascii_lowercase();
    let lower = lower.strip_prefix("pg_catalog.").unwrap_or(&lower);
    let canonical = match lower {
        "boolean" => "bool",
        "smallint" => "int2",
        "integer" | "int" => "int4",
        "bigint" => "int8",
        "real" => "float4",
        "double precision" => "float8",
        "character varying" => "varchar",
        "character" | "char" => "bpchar",
        "decimal" => "numeric",
        "timestamp without time zone" => "timestamp",
        "timestamp with time zone" => "timestamptz",
        other => other,
    };
    BUILTIN_TYPES
        .iter()
        .find(|t| t.name == canonical)
        .map(|t| t.oid)
}
