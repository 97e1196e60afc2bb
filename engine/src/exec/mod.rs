//! Statement execution: plans run at the session's shard (the coordinator), table scans and
//! writes run on the shards that hold the rows.
//!
//! This executor is row-at-a-time; the vectorized morsel pipelines replace its scan, join and
//! aggregate operators for analytics. Must never block its thread or hold a shard's state across
//! an await.

mod aggregate;
pub mod dml;
pub mod eval;
mod join;
pub mod ops;
pub mod query;
pub mod route;
mod scan;
mod sort;
mod system;

/// One result row.
pub type Row = Vec<omendb_storage::types::Value>;
