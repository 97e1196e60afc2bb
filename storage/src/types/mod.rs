//! SQL types and values: the vocabulary every other crate speaks.
//!
//! Owns the closed set of SQL data types OmenDB stores, the in-memory `Value` of one datum, and
//! the exact representations behind them (scaled-integer numerics, PostgreSQL-epoch dates and
//! timestamps, month/day/microsecond intervals). Must never do I/O or know about the wire format
//! beyond the type OIDs PostgreSQL clients expect.

mod datatype;
pub mod datetime;
mod error;
pub mod interval;
pub mod numeric;
mod value;

pub use datatype::DataType;
pub use error::TypeError;
pub use interval::Interval;
pub use numeric::Numeric;
pub use value::Value;
mod cast;
mod float_text;
mod text;
mod wide;
