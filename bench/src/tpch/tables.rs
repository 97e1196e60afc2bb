//! The eight TPC-H tables: their names, the SQL literal kind of each column (for INSERT loading),
//! their expected sizes (for progress and part counts), and the schema DDL in `bench/tpch/schema.sql`.
//!
//! Owns what the harness knows about the tables. It must never disagree with `schema.sql`: a unit
//! test parses the DDL and compares the column lists.

use std::fmt;

/// The TPC-H schema with primary keys, in PostgreSQL types; every system gets this text.
pub const SCHEMA_SQL: &str = include_str!("../../tpch/schema.sql");
/// The foreign-key indexes a DBA gives PostgreSQL (see the file's header).
pub const PG_INDEXES_SQL: &str = include_str!("../../tpch/pg_indexes.sql");

/// How a column's value is written as a SQL literal in an INSERT statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Literal {
    /// Written bare: integers and decimals (tpchgen prints them as plain digits).
    Number,
    /// Written quoted with `'` doubled: char, varchar and date (an untyped literal the column's
    /// type reads, as PostgreSQL does).
    Quoted,
}

/// One TPC-H table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Table {
    Region,
    Nation,
    Supplier,
    Customer,
    Part,
    PartSupp,
    Orders,
    LineItem,
}

use Literal::{Number as N, Quoted as Q};

impl Table {
    /// Every table, in the order the schema creates them.
    pub const ALL: [Table; 8] = [
        Table::Region,
        Table::Nation,
        Table::Supplier,
        Table::Customer,
        Table::Part,
        Table::PartSupp,
        Table::Orders,
        Table::LineItem,
    ];

    /// The table's SQL name (also the `.tbl` file's stem).
    pub fn name(self) -> &'static str {
        match self {
            Table::Region => "region",
            Table::Nation => "nation",
            Table::Supplier => "supplier",
            Table::Customer => "customer",
            Table::Part => "part",
            Table::PartSupp => "partsupp",
            Table::Orders => "orders",
            Table::LineItem => "lineitem",
        }
    }

    /// The literal kind of each column, in schema order.
    pub fn literals(self) -> &'static [Literal] {
        match self {
            Table::Region => &[N, Q, Q],
            Table::Nation => &[N, Q, N, Q],
            Table::Supplier => &[N, Q, Q, N, Q, N, Q],
            Table::Customer => &[N, Q, Q, N, Q, N, Q, Q],
            Table::Part => &[N, Q, Q, Q, Q, N, Q, N, Q],
            Table::PartSupp => &[N, N, N, N, Q],
            Table::Orders => &[N, N, Q, N, Q, Q, Q, N, Q],
            Table::LineItem => &[N, N, N, N, N, N, N, N, Q, Q, Q, Q, Q, Q, Q, Q],
        }
    }

    /// Rows at scale factor 1 (spec clause 4.2.5); the fixed tables do not scale. Lineitem's
    /// count varies slightly with the scale factor, so this is an estimate used for progress only.
    fn rows_at_sf1(self) -> f64 {
        match self {
            Table::Region => 5.0,
            Table::Nation => 25.0,
            Table::Supplier => 10_000.0,
            Table::Customer => 150_000.0,
            Table::Part => 200_000.0,
            Table::PartSupp => 800_000.0,
            Table::Orders => 1_500_000.0,
            Table::LineItem => 6_001_215.0,
        }
    }

    /// Whether the table's size is independent of the scale factor.
    pub fn is_fixed(self) -> bool {
        matches!(self, Table::Region | Table::Nation)
    }

    /// About how many rows the table has at `sf` (exact except for lineitem).
    pub fn estimated_rows(self, sf: f64) -> u64 {
        if self.is_fixed() {
            self.rows_at_sf1() as u64
        } else {
            (self.rows_at_sf1() * sf).round().max(1.0) as u64
        }
    }

    /// Into how many independently generated parts to cut the table so that `workers` loaders
    /// share it, keeping each part at least `MIN_PART_ROWS` rows.
    pub fn parts(self, sf: f64, workers: usize) -> usize {
        /// Below this a part's own statement and generator set-up cost more than they save.
        const MIN_PART_ROWS: u64 = 50_000;
        if self.is_fixed() {
            return 1;
        }
        let by_size = (self.estimated_rows(sf) / MIN_PART_ROWS).max(1) as usize;
        by_size.min(workers.max(1))
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The statements that drop every TPC-H table, children first, so the schema can be recreated.
pub fn drop_statements() -> impl Iterator<Item = String> {
    Table::ALL
        .iter()
        .rev()
        .map(|t| format!("DROP TABLE IF EXISTS {}", t.name()))
}

/// Splits a file of `;`-terminated statements (comments allowed, no `;` inside literals, as in
/// the harness's own SQL files) into the statements.
pub fn split_statements(sql: &str) -> Vec<String> {
    let without_comments: String = sql
        .lines()
        .map(|line| line.split("--").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    without_comments
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (table name, [(column, type)]) from the CREATE TABLE statements of schema.sql.
    fn parsed_schema() -> Vec<(String, Vec<(String, String)>)> {
        split_statements(SCHEMA_SQL)
            .iter()
            .map(|stmt| {
                let head = stmt.split('(').next().unwrap();
                let name = head.split_whitespace().last().unwrap().to_owned();
                let body = &stmt[stmt.find('(').unwrap() + 1..stmt.rfind(')').unwrap()];
                let columns = body
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with("PRIMARY KEY"))
                    .map(|l| {
                        let mut words = l.split_whitespace();
                        let col = words.next().unwrap().to_owned();
                        (col, words.next().unwrap().to_owned())
                    })
                    .collect();
                (name, columns)
            })
            .collect()
    }

    #[test]
    fn literal_kinds_agree_with_schema_sql() {
        let schema = parsed_schema();
        assert_eq!(schema.len(), Table::ALL.len());
        for (table, (name, columns)) in Table::ALL.iter().zip(&schema) {
            assert_eq!(table.name(), name);
            assert_eq!(table.literals().len(), columns.len(), "{name}");
            for (literal, (col, ty)) in table.literals().iter().zip(columns) {
                let numeric = ty.starts_with("integer") || ty.starts_with("numeric");
                assert_eq!(*literal == Literal::Number, numeric, "{name}.{col} {ty}");
            }
        }
    }

    #[test]
    fn every_table_has_a_primary_key_and_every_column_is_not_null() {
        for stmt in split_statements(SCHEMA_SQL) {
            assert!(stmt.contains("PRIMARY KEY ("), "{stmt}");
            let columns = stmt.lines().filter(|l| l.contains(" NOT NULL")).count();
            let defined = stmt.lines().count() - 3; // CREATE line, PRIMARY KEY line, closing line
            assert_eq!(columns, defined, "{stmt}");
        }
    }

    #[test]
    fn pg_indexes_are_create_index_statements() {
        let stmts = split_statements(PG_INDEXES_SQL);
        assert!(!stmts.is_empty());
        assert!(stmts.iter().all(|s| s.starts_with("CREATE INDEX")));
    }

    #[test]
    fn parts_never_exceed_workers_and_fixed_tables_are_whole() {
        assert_eq!(Table::Nation.parts(100.0, 8), 1);
        assert_eq!(Table::LineItem.parts(0.01, 4), 1);
        assert_eq!(Table::LineItem.parts(1.0, 4), 4);
        assert_eq!(Table::Supplier.parts(1.0, 4), 1);
    }
}
