//! OmenDB's benchmark drivers. They talk to servers over the PostgreSQL wire protocol like any
//! client, so the same driver measures OmenDB and its peers (PostgreSQL, DuckDB's side by script).
//!
//! Owns workload generation, loading, timing and answer checking. It must never reach into the
//! engine: everything it measures goes through the wire.

pub mod commits;
pub mod copy;
pub mod tpcc;
pub mod tpch;
