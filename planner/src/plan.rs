//! Logical plans and bound statements.

use crate::expr::{AggCall, Expr};
use omendb_storage::schema::{ColumnSchema, TableSchema, UniqueConstraint};
use omendb_storage::types::DataType;
use std::sync::Arc;

/// How a scan reaches its table's rows.
#[derive(Debug, Clone)]
pub enum Access {
    /// Every row on every shard.
    Full,
    /// Rows whose primary key equals these values (one per key column, in key order): one shard,
    /// one index probe.
    PrimaryKey(Vec<Expr>),
    /// Rows whose shard column equals this value: one shard, filtered scan.
    ShardKey(Expr),
    /// Rows in a key range of the primary key: equalities on a prefix of its columns, maybe
    /// a range on the next one; one shard when the shard column is among the equalities.
    KeyRange(Box<KeyRange>),
}

/// A key range of an ordered index (the primary key or a secondary index): the scan's filter still holds every
/// condition, so the range only narrows which rows are read, never which qualify.
#[derive(Debug, Clone)]
pub struct KeyRange {
    /// The secondary index read, by name; `None` for the primary key.
    pub index: Option<String>,
    /// The index's key columns (table column numbers), in key order.
    pub columns: Vec<usize>,
    /// Values of the leading `eq.len()` key columns.
    pub eq: Vec<Expr>,
    /// Bounds on the key column after the equalities.
    pub lower: Option<RangeBound>,
    pub upper: Option<RangeBound>,
    /// Rows must come in key order, ascending (`Some(false)`) or descending (`Some(true)`).
    pub descending: Option<bool>,
    /// At most this many rows that pass the filter (taken in key order), when `descending` is set.
    pub limit: Option<Expr>,
}

#[derive(Debug, Clone)]
pub struct RangeBound {
    pub value: Expr,
    pub inclusive: bool,
}

impl KeyRange {
    /// Every expression of the range (for parameter substitution and the like).
    pub fn exprs_mut(&mut self, f: &mut dyn FnMut(&mut Expr)) {
        self.eq.iter_mut().for_each(&mut *f);
        for b in self.lower.iter_mut().chain(self.upper.iter_mut()) {
            f(&mut b.value);
        }
        if let Some(l) = &mut self.limit {
            f(l);
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinKind {
    Inner,
    Left,
    Right,
    Full,
    Cross,
    /// Left rows with at least one match (EXISTS, IN); outputs the left columns only.
    Semi,
    /// Left rows without a match (NOT EXISTS); outputs the left columns only.
    Anti,
    /// NOT IN: like Anti, but no row qualifies if the right side has a NULL key, and a left row
    /// with a NULL key qualifies only if the right side is empty.
    AntiNullAware,
    /// Every left row plus one boolean column: whether some right row matches.
    Mark,
}

impl JoinKind {
    /// Semi and anti joins output only the left side's columns.
    pub fn keeps_right(self) -> bool {
        !matches!(
            self,
            JoinKind::Semi | JoinKind::Anti | JoinKind::AntiNullAware
        )
    }
}

#[derive(Debug, Clone)]
pub struct SortKey {
    pub expr: Expr,
    pub descending: bool,
    pub nulls_first: bool,
}

/// A virtual `pg_catalog` / `information_schema` table, materialised from the catalog at scan time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SystemTable {
    PgType,
    PgNamespace,
    PgClass,
    PgAttribute,
    PgDatabase,
    PgSettings,
    /// Always empty: OmenDB has no table inheritance.
    PgInherits,
    /// Always empty: OmenDB has no partitioned tables.
    PgPartitionedTable,
    InformationSchemaTables,
    InformationSchemaColumns,
}

/// A logical operator tree. Every operator outputs rows of the columns described by `columns()`.
#[derive(Debug, Clone)]
pub enum Plan {
    /// A user table's rows: all its columns, in table order.
    Scan {
        table: Arc<TableSchema>,
        filter: Option<Expr>,
        access: Access,
    },
    System {
        table: SystemTable,
        columns: Vec<(String, DataType)>,
    },
    /// Literal rows (`VALUES`, a `SELECT` without `FROM` is one empty row).
    Values {
        rows: Vec<Vec<Expr>>,
        types: Vec<DataType>,
    },
    /// `generate_series(start, stop, step)` in FROM: one column of `ty` (an integer type or a
    /// timestamp type, whose `step` is an interval), produced on demand. The arguments depend
    /// on no input row.
    Series {
        start: Expr,
        stop: Expr,
        step: Expr,
        ty: DataType,
    },
    Filter {
        input: Box<Plan>,
        predicate: Expr,
    },
    Project {
        input: Box<Plan>,
        exprs: Vec<Expr>,
    },
    /// Output: the group values, then the aggregates.
    Aggregate {
        input: Box<Plan>,
        groups: Vec<Expr>,
        aggs: Vec<AggCall>,
    },
    Sort {
        input: Box<Plan>,
        keys: Vec<SortKey>,
    },
    Limit {
        input: Box<Plan>,
        limit: Option<Expr>,
        offset: Option<Expr>,
    },
    Distinct {
        input: Box<Plan>,
    },
    /// Output: the left columns, then the right columns.
    Join {
        left: Box<Plan>,
        right: Box<Plan>,
        kind: JoinKind,
        on: Option<Expr>,
    },
    /// UNION / INTERSECT / EXCEPT of inputs with the same column types.
    SetOp {
        op: SetOpKind,
        all: bool,
        left: Box<Plan>,
        right: Box<Plan>,
    },
    /// A materialized common table expression: every node with the same `id` in a statement
    /// (each reference to the CTE, in the main plan or in a subquery's) stands for one result,
    /// computed once per execution from the first reference's `input` and reused by the others,
    /// as PostgreSQL does for a CTE referenced twice or declared `MATERIALIZED`. The inputs of
    /// nodes sharing an id are equal plans. Optimizations never reach across it.
    Shared {
        id: usize,
        input: Box<Plan>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetOpKind {
    Union,
    Intersect,
    Except,
}

impl Plan {
    /// The types of the columns this operator outputs.
    pub fn column_types(&self) -> Vec<DataType> {
        match self {
            Plan::Scan { table, .. } => table.columns.iter().map(|c| c.ty).collect(),
            Plan::System { columns, .. } => columns.iter().map(|c| c.1).collect(),
            Plan::Values { types, .. } => types.clone(),
            Plan::Series { ty, .. } => vec![*ty],
            Plan::Filter { input, .. }
            | Plan::Sort { input, .. }
            | Plan::Limit { input, .. }
            | Plan::Distinct { input }
            | Plan::Shared { input, .. } => input.column_types(),
            Plan::Project { exprs, .. } => exprs.iter().map(Expr::ty).collect(),
            Plan::Aggregate { groups, aggs, .. } => groups
                .iter()
                .map(Expr::ty)
                .chain(aggs.iter().map(|a| a.ty))
                .collect(),
            Plan::Join {
                left, right, kind, ..
            } => {
                let mut t = left.column_types();
                if kind.keeps_right() {
                    t.extend(right.column_types());
                } else if *kind == JoinKind::Mark {
                    t.push(DataType::Bool);
                }
                t
            }
            Plan::SetOp { left, .. } => left.column_types(),
        }
    }
}

/// A plan's inputs, by reference (`as_ref`) or mutably (`as_mut`): one list of the variants
/// for both.
macro_rules! inputs_of {
    ($plan:expr, $get:ident) => {
        match $plan {
            Plan::Scan { .. } | Plan::System { .. } | Plan::Values { .. } | Plan::Series { .. } => {
                Vec::new()
            }
            Plan::Filter { input, .. }
            | Plan::Project { input, .. }
            | Plan::Aggregate { input, .. }
            | Plan::Sort { input, .. }
            | Plan::Limit { input, .. }
            | Plan::Distinct { input }
            | Plan::Shared { input, .. } => vec![input.$get()],
            Plan::Join { left, right, .. } | Plan::SetOp { left, right, .. } => {
                vec![left.$get(), right.$get()]
            }
        }
    };
}

impl Plan {
    /// This operator's input plans (not subquery plans inside its expressions).
    pub fn inputs(&self) -> Vec<&Plan> {
        inputs_of!(self, as_ref)
    }

    /// [`Plan::inputs`], mutable.
    pub fn inputs_mut(&mut self) -> Vec<&mut Plan> {
        inputs_of!(self, as_mut)
    }

    /// Visit every expression of this operator and of its inputs (not inside subquery plans).
    pub fn exprs_mut(&mut self, f: &mut dyn FnMut(&mut Expr)) {
        match self {
            Plan::Scan { filter, access, .. } => {
                if let Some(e) = filter {
                    f(e);
                }
                match access {
                    Access::Full => {}
                    Access::PrimaryKey(values) => values.iter_mut().for_each(&mut *f),
                    Access::ShardKey(e) => f(e),
                    Access::KeyRange(r) => r.exprs_mut(f),
                }
            }
            Plan::System { .. } => {}
            Plan::Values { rows, .. } => rows.iter_mut().flatten().for_each(f),
            Plan::Series {
                start, stop, step, ..
            } => {
                f(start);
                f(stop);
                f(step);
            }
            Plan::Filter { input, predicate } => {
                f(predicate);
                input.exprs_mut(f);
            }
            Plan::Project { input, exprs } => {
                exprs.iter_mut().for_each(&mut *f);
                input.exprs_mut(f);
            }
            Plan::Aggregate {
                input,
                groups,
                aggs,
            } => {
                groups.iter_mut().for_each(&mut *f);
                for a in aggs {
                    if let Some(e) = a.arg.as_mut() {
                        f(e);
                    }
                    if let Some(e) = a.extra.as_mut() {
                        f(e);
                    }
                    if let Some(e) = a.filter.as_mut() {
                        f(e);
                    }
                    a.order_by.iter_mut().for_each(|k| f(&mut k.expr));
                }
                input.exprs_mut(f);
            }
            Plan::Sort { input, keys } => {
                keys.iter_mut().for_each(|k| f(&mut k.expr));
                input.exprs_mut(f);
            }
            Plan::Limit {
                input,
                limit,
                offset,
            } => {
                limit.iter_mut().chain(offset.iter_mut()).for_each(&mut *f);
                input.exprs_mut(f);
            }
            Plan::Distinct { input } => input.exprs_mut(f),
            Plan::Join {
                left, right, on, ..
            } => {
                if let Some(e) = on {
                    f(e);
                }
                left.exprs_mut(f);
                right.exprs_mut(f);
            }
            Plan::SetOp { left, right, .. } => {
                left.exprs_mut(f);
                right.exprs_mut(f);
            }
            Plan::Shared { input, .. } => input.exprs_mut(f),
        }
    }
}

/// One result column as the client will see it.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputColumn {
    pub name: String,
    pub ty: DataType,
    pub table_oid: u32,
    pub column_id: i16,
}

/// `RETURNING` items over the affected table row.
#[derive(Debug, Clone)]
pub struct Returning {
    pub exprs: Vec<Expr>,
    pub columns: Vec<OutputColumn>,
}

/// `INSERT … ON CONFLICT`: the unique constraints that arbitrate, and what a conflict on one
/// of them does instead of an error.
#[derive(Debug, Clone)]
pub struct OnConflict {
    /// Conflicts on these constraints take the action; a conflict on any other is 23505.
    pub arbiters: Vec<Arbiter>,
    pub action: ConflictAction,
}

/// A unique constraint of the target table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arbiter {
    PrimaryKey,
    /// `table.unique[i]`.
    Unique(usize),
}

/// What a conflicting row does.
#[derive(Debug, Clone)]
pub enum ConflictAction {
    /// Skip the proposed row.
    Nothing,
    /// Update the existing row. The expressions read the existing row's columns followed by
    /// the proposed (`EXCLUDED`) row's: positions `0..n` and `n..2n`.
    Update {
        assignments: Vec<(usize, Expr)>,
        filter: Option<Expr>,
    },
}

/// A new sequence created by `serial` columns.
#[derive(Debug, Clone)]
pub struct SequenceDef {
    pub name: String,
}

/// A bound statement, ready for the engine.
#[derive(Debug, Clone)]
pub enum Statement {
    Query {
        plan: Plan,
        columns: Vec<OutputColumn>,
    },
    /// `SELECT … FOR UPDATE/SHARE` over one table: the query, and the table whose rows matching
    /// the scan's filter the statement locks before it reads them.
    LockingQuery {
        plan: Plan,
        columns: Vec<OutputColumn>,
        table: Arc<TableSchema>,
    },
    Insert {
        table: Arc<TableSchema>,
        /// Source rows, one value per table column (defaults and casts already applied in the plan).
        source: Plan,
        returning: Option<Returning>,
        on_conflict: Option<OnConflict>,
    },
    Update {
        table: Arc<TableSchema>,
        filter: Option<Expr>,
        access: Access,
        /// (column, new value over the old row).
        assignments: Vec<(usize, Expr)>,
        returning: Option<Returning>,
    },
    Delete {
        table: Arc<TableSchema>,
        filter: Option<Expr>,
        access: Access,
        returning: Option<Returning>,
    },
    CreateTable {
        name: String,
        columns: Vec<ColumnSchema>,
        primary_key: Option<UniqueConstraint>,
        unique: Vec<UniqueConstraint>,
        sequences: Vec<SequenceDef>,
        if_not_exists: bool,
    },
    /// CREATE [OR REPLACE] VIEW: the query text (with column aliases applied), checked to bind.
    CreateView {
        name: String,
        sql: String,
        or_replace: bool,
    },
    DropView {
        names: Vec<String>,
        if_exists: bool,
    },
    /// `CREATE [UNIQUE] INDEX name ON table (columns)` (column positions).
    CreateIndex {
        name: String,
        table: String,
        columns: Vec<usize>,
        unique: bool,
        if_not_exists: bool,
    },
    DropIndex {
        names: Vec<String>,
        if_exists: bool,
    },
    DropTable {
        names: Vec<String>,
        if_exists: bool,
    },
    Truncate {
        tables: Vec<Arc<TableSchema>>,
    },
    /// `ALTER TABLE [IF EXISTS] table ADD [CONSTRAINT name] PRIMARY KEY (columns)`: names as
    /// written (folded); the engine resolves them when it runs.
    AddPrimaryKey {
        table: String,
        if_exists: bool,
        columns: Vec<String>,
        constraint: String,
    },
    /// `BEGIN [ISOLATION LEVEL …]` (`None`: the session's default).
    Begin {
        isolation: Option<IsolationLevel>,
    },
    /// `SET TRANSACTION ISOLATION LEVEL …` (`None`: other modes only, nothing to change).
    SetTransaction {
        isolation: Option<IsolationLevel>,
    },
    Commit,
    Rollback,
    /// `DEALLOCATE [PREPARE] name | ALL` (`None`: all).
    Deallocate {
        name: Option<String>,
    },
    Savepoint {
        name: String,
    },
    ReleaseSavepoint {
        name: String,
    },
    RollbackToSavepoint {
        name: String,
    },
    /// `SET name = value` (`None`: `DEFAULT`/`RESET`).
    Set {
        name: String,
        value: Option<String>,
    },
    Show {
        name: String,
    },
    /// A statement accepted and ignored because it has no effect here (`VACUUM`, `ANALYZE`, `DISCARD`…)
    /// with its command tag.
    /// EXPLAIN of a query: the plan as text rows.
    Explain {
        plan: Plan,
    },
    NoOp {
        tag: String,
    },
    /// `CHECKPOINT`: write segments and a manifest, truncate the WAL.
    Checkpoint,
    Empty,
}

impl Statement {
    /// The result columns, for Describe.
    pub fn output_columns(&self) -> Option<Vec<OutputColumn>> {
        match self {
            Statement::Query { columns, .. } | Statement::LockingQuery { columns, .. } => {
                Some(columns.clone())
            }
            Statement::Insert { returning, .. }
            | Statement::Update { returning, .. }
            | Statement::Delete { returning, .. } => returning.as_ref().map(|r| r.columns.clone()),
            Statement::Explain { .. } => Some(vec![OutputColumn {
                name: "QUERY PLAN".into(),
                ty: DataType::Text,
                table_oid: 0,
                column_id: 0,
            }]),
            Statement::Show { name } => Some(vec![OutputColumn {
                name: name.clone(),
                ty: DataType::Text,
                table_oid: 0,
                column_id: 0,
            }]),
            _ => None,
        }
    }
}

/// The isolation levels OmenDB runs (SERIALIZABLE is refused when bound, never run weaker).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsolationLevel {
    /// Runs as READ COMMITTED, as in PostgreSQL; `SHOW` still names it.
    ReadUncommitted,
    ReadCommitted,
    RepeatableRead,
}

impl IsolationLevel {
    /// The level named as PostgreSQL's settings spell it (any case); `Err` carries a
    /// PostgreSQL-style refusal: 0A000 for SERIALIZABLE, 22023 for anything else.
    pub fn parse(name: &str) -> Result<IsolationLevel, (&'static str, String)> {
        match name.trim().to_ascii_lowercase().as_str() {
            "read uncommitted" => Ok(IsolationLevel::ReadUncommitted),
            "read committed" => Ok(IsolationLevel::ReadCommitted),
            "repeatable read" => Ok(IsolationLevel::RepeatableRead),
            "serializable" => Err((
                "0A000",
                "isolation level SERIALIZABLE is not supported: OmenDB provides READ COMMITTED \
                 and REPEATABLE READ (snapshot isolation), and will not run SERIALIZABLE \
                 transactions with weaker guarantees"
                    .into(),
            )),
            other => Err((
                "22023",
                format!("invalid value for parameter \"transaction_isolation\": \"{other}\""),
            )),
        }
    }

    /// The name `SHOW transaction_isolation` prints.
    pub fn name(self) -> &'static str {
        match self {
            IsolationLevel::ReadUncommitted => "read uncommitted",
            IsolationLevel::ReadCommitted => "read committed",
            IsolationLevel::RepeatableRead => "repeatable read",
        }
    }

    /// Whether one snapshot serves the whole transaction (else one per statement).
    pub fn snapshot_per_transaction(self) -> bool {
        self == IsolationLevel::RepeatableRead
    }
}
