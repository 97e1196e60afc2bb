//! OmenDB's learned models: indexes, cost model, workload router and temperature model.
//!
//! Pure algorithms: no I/O, no async, no knowledge of SQL or of storage formats. Every learned
//! model sits behind a trait with an exact classical implementation, so tests and experiments can
//! switch learning off and compare.

#![warn(missing_docs)]

pub mod datasets;
pub mod index;
