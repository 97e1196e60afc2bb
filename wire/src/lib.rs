//! OmenDB's PostgreSQL front door: the v3 wire protocol, authentication, value formats and the
//! server's connection handling.
//!
//! Owns everything between a client's bytes and an engine `Session`: framing and decoding
//! (`codec`, around pgwire's message codec), the per-connection state machine (`session`),
//! SCRAM-SHA-256 (`auth`) and the text/binary formats of values (`types`). Must never parse SQL,
//! plan or execute anything (the engine does), and must never panic on what a client sends.

// Tests may unwrap: a panic there is a failed test, not a crashed server.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod auth;
pub mod codec;
pub mod error;
pub mod server;
pub mod session;
pub mod types;

pub use codec::decode_frontend;
pub use error::WireError;
pub use session::{Backend, Connector, WireConfig};
