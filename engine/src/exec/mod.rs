//! Statement execution: plans run at the session's shard (the coordinator), table scans and
//! writes run on the shards that hold the rows.
//!
//! `query.rs` runs plans row at a time; `vector/` runs the plans it supports over columnar
//! batches and hands back the same rows. Must never block its thread or hold a shard's state across
//! an await.

mod aggregate;
mod bulk;
pub mod dml;
pub mod eval;
pub mod fold;
mod join;
mod locking;
mod lookup_join;
pub mod memory;
pub mod ops;
pub mod query;
pub mod route;
mod scan;
mod series;
pub mod shared;
mod sort;
mod system;
mod upsert;
pub mod vector;

/// One result row.
pub type Row = Vec<omendb_storage::types::Value>;
