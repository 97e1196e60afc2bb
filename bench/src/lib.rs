//! OmenDB benchmark drivers: they talk to OmenDB and its peers over the wire like any client,
//! check their answers, and report ratios measured in the same run.
//!
//! Must never link the engine: what is measured is the server a user would run.

pub mod commits;
pub mod copy;
