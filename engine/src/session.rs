//! A client session: the statements of one connection, run on the shard that accepted it.
//!
//! This is the engine's whole surface toward the wire crate: simple queries, prepared statements
//! with parameters, the transaction status and the session settings. It must never encode
//! protocol messages.
#![allow(unused_variables)]

use crate::EngineError;
use crate::shard::ShardRef;
use omendb_storage::types::datetime::TimeZone;
use omendb_storage::types::{DataType, Value};
use std::rc::Rc;

/// One column of a result, as RowDescription describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    pub ty: DataType,
    /// OID of the table the column comes from, 0 for computed columns.
    pub table_oid: u32,
    /// Attribute number in that table, 0 for computed columns.
    pub column_id: i16,
}

/// What one statement produced.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// A row-returning statement (SELECT, VALUES, SHOW, … RETURNING): fields, rows, command tag.
    Rows {
        fields: Rc<[Field]>,
        rows: Vec<Vec<Value>>,
        tag: String,
    },
    /// A statement without rows: its command tag (`INSERT 0 2`, `CREATE TABLE`, `SET`).
    Command { tag: String },
    /// An empty query string (EmptyQueryResponse).
    Empty,
}

/// A parsed, bound statement ready for Bind/Execute.
#[derive(Debug)]
pub struct Prepared {
    /// The type of each `$n` parameter, inferred where the client sent 0/unspecified.
    pub param_types: Vec<DataType>,
    /// The result columns; `None` for statements that return no rows.
    pub fields: Option<Rc<[Field]>>,
}

/// Where the session stands with respect to a transaction block (ReadyForQuery's status byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxnStatus {
    /// 'I'
    Idle,
    /// 'T'
    InBlock,
    /// 'E'
    Failed,
}

/// Per-connection state. Lives on one shard; not `Send`.
pub struct Session {
    timezone: TimeZone,
}

impl Session {
    /// Start a session for `user` on `database` on the shard that accepted the connection.
    pub fn new(shard: ShardRef, user: &str, database: &str) -> Session {
        todo!()
    }

    /// (process id, secret key) for BackendKeyData; a CancelRequest naming them cancels the
    /// statement this session is running.
    pub fn backend_key(&self) -> (i32, i32) {
        todo!()
    }

    /// A session setting by name (`SHOW`), e.g. for the initial ParameterStatus messages.
    pub fn setting(&self, name: &str) -> Option<String> {
        todo!()
    }

    /// Apply a startup-packet parameter (`application_name`, `TimeZone`, `DateStyle`, `options`…).
    pub fn apply_startup_parameter(&mut self, name: &str, value: &str) -> Result<(), EngineError> {
        todo!()
    }

    /// Run a simple-query message: every statement in order, stopping after the first error
    /// (which is the last element). Several statements outside a block form one implicit
    /// transaction, as in PostgreSQL.
    pub async fn simple_query(&mut self, sql: &str) -> Vec<Result<Outcome, EngineError>> {
        todo!()
    }

    /// Parse and bind one statement (Parse message). `param_types[i]` is the client's type for
    /// `$i+1`, `None` when unspecified (OID 0); more parameters than listed may be used.
    pub fn prepare(
        &mut self,
        sql: &str,
        param_types: &[Option<DataType>],
    ) -> Result<Rc<Prepared>, EngineError> {
        todo!()
    }

    /// Execute a prepared statement with its parameters (already decoded to `param_types`).
    pub async fn execute(
        &mut self,
        stmt: &Prepared,
        params: Vec<Value>,
    ) -> Result<Outcome, EngineError> {
        todo!()
    }

    /// The extended protocol hit an error: a block in progress becomes failed (Sync follows).
    pub fn fail_transaction(&mut self) {
        todo!()
    }

    pub fn txn_status(&self) -> TxnStatus {
        todo!()
    }

    /// The session's time zone, for formatting timestamptz values.
    pub fn timezone(&self) -> &TimeZone {
        &self.timezone
    }

    /// Settings reported through ParameterStatus that changed since the last call (after SET).
    pub fn take_changed_parameters(&mut self) -> Vec<(String, String)> {
        todo!()
    }

    /// Notices raised by the last statement (NoticeResponse): (severity, sqlstate, message).
    pub fn take_notices(&mut self) -> Vec<(&'static str, &'static str, String)> {
        todo!()
    }
}

/// Handle a CancelRequest for (process id, secret key); unknown keys are ignored, as in PostgreSQL.
pub fn cancel_request(pid: i32, secret: i32) {
    let _ = (pid, secret);
    todo!()
}
