//! Plan rewrites that need no SQL: cardinality estimates, filter placement and join ordering.
//!
//! Must never change a query's result, only how it is computed.

pub mod distinct_agg;
pub mod estimate;
pub mod join_graph;
pub mod join_order;
pub mod join_search;
pub mod range_order;
pub mod semi_join;
