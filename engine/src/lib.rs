//! OmenDB engine: the shard runtime, the catalog service, sessions, transactions and the executor.
//!
//! Owns where work runs (one glommio executor per core, nothing shared but the catalog snapshot
//! and the commit clock) and how plans execute against the shards' storage. Must never speak
//! the wire protocol or parse SQL text itself (the planner does), and must never block an executor
//! thread.

pub mod catalog;
pub mod copy;
mod ddl;
pub mod durable;
pub mod error;
pub mod exec;
pub mod runtime;
pub mod session;
pub mod settings;
pub mod shard;
mod statement_cache;

pub use error::EngineError;
pub use session::{Field, Outcome, Prepared, Session, TxnStatus};
pub use shard::{Engine, ShardRef, ShardState};

/// What `version()` returns: PostgreSQL-shaped so drivers that parse it are satisfied.
pub fn version_string() -> String {
    format!(
        "PostgreSQL 15.0 (OmenDB {}) on {}-linux, compiled by rustc, 64-bit",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::ARCH
    )
}
