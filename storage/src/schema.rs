//! Table schemas as the catalog stores them and every shard shares them (immutable, `Arc`ed).

use crate::types::DataType;

/// A catalog-wide table id (also its `pg_class` OID). Never reused, so a dropped table's
/// leftovers on a shard can never be mistaken for a new table's.
pub type TableId = u32;

/// One column of a table.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnSchema {
    pub name: String,
    pub ty: DataType,
    pub nullable: bool,
    /// The DEFAULT expression as SQL text (re-bound by the planner), e.g. `nextval('t_id_seq')`.
    pub default: Option<String>,
}

/// A unique constraint (PRIMARY KEY or UNIQUE) over column positions.
#[derive(Debug, Clone, PartialEq)]
pub struct UniqueConstraint {
    /// Constraint name, as in PostgreSQL: `t_pkey`, `t_a_key`.
    pub name: String,
    pub columns: Vec<usize>,
    /// The OID of the unique index (`CREATE UNIQUE INDEX`) the constraint is, if it is one
    /// (`None`: a table constraint). Such an index can be dropped while the table's other
    /// constraints stay, so its keys are filed under this never-reused id rather than under
    /// its position among the table's constraints.
    pub index_oid: Option<u32>,
}

/// A table: its columns, keys and how its rows are spread over shards.
#[derive(Debug, Clone, PartialEq)]
pub struct TableSchema {
    pub id: TableId,
    pub name: String,
    pub columns: Vec<ColumnSchema>,
    pub primary_key: Option<UniqueConstraint>,
    /// UNIQUE constraints other than the primary key.
    pub unique: Vec<UniqueConstraint>,
    /// Secondary indexes (`CREATE INDEX`), each partition keeps its own.
    pub indexes: Vec<IndexSchema>,
}

/// A secondary index over column positions (`CREATE INDEX name ON t (cols)`).
#[derive(Debug, Clone, PartialEq)]
pub struct IndexSchema {
    pub name: String,
    pub columns: Vec<usize>,
}

impl TableSchema {
    /// The column whose value picks a row's shard: the leading primary-key column, so rows that
    /// share it (a TPC-C warehouse and everything under it) share a shard.
    pub fn shard_column(&self) -> Option<usize> {
        self.primary_key
            .as_ref()
            .and_then(|pk| pk.columns.first().copied())
    }

    /// The UNIQUE constraint that unique index `name` enforces, if `name` is a unique index.
    pub fn unique_index(&self, name: &str) -> Option<&UniqueConstraint> {
        self.unique
            .iter()
            .find(|u| u.index_oid.is_some() && u.name == name)
    }

    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }
}
