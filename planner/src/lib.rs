//! OmenDB planner: SQL text to bound, typed plans.
//!
//! Life of a query: `parse` (sqlparser, PostgreSQL dialect, after recognising utility statements
//! sqlparser does not know) → `binder` (names resolved against a catalog snapshot, types checked
//! and coerced, `$n` parameter types inferred) → `plan::Statement` holding a logical `Plan` tree
//! of typed `Expr`s → the engine executes it.
//!
//! Owns SQL semantics up to execution: name resolution, typing rules, output column names.
//! Must never touch table data or sessions' runtime state; it sees the catalog only through the
//! `Catalog` trait.

pub mod binder;
pub mod catalog;
pub mod error;
pub mod explain;
pub mod expr;
pub mod optimizer;
pub mod parse;
pub mod plan;
mod types;

pub use binder::{BindContext, bind};
pub use catalog::Catalog;
pub use error::PlanError;
pub use expr::{AggCall, AggFunc, BinOp, Expr, Func, UnaryOp};
pub use plan::{Access, IsolationLevel, JoinKind, OutputColumn, Plan, SortKey, Statement};
