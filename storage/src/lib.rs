//! OmenDB storage: types and values, the per-shard row store, and (later) the column store,
//! WAL, checkpoints and tiering.
//!
//! Owns every byte of table data and how it is laid out in memory and on disk. Must never parse
//! SQL, plan queries or know about sessions and the wire protocol; it must never block an
//! executor thread on I/O (disk I/O goes through io_uring).

pub mod checkpoint;
pub mod io;
pub mod row;
pub mod schema;
pub mod segment;
pub mod types;
pub mod wal;
