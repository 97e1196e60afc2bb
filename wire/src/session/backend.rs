//! What the protocol needs from the engine, as a trait: the real `omendb_engine::Session`
//! implements it, and tests drive the state machine with scripted backends.
//!
//! The trait mirrors `Session`'s methods one to one; it must never grow protocol concepts the
//! engine does not have.

use omendb_engine::copy::CopyIn;
use omendb_engine::session::cancel_request;
use omendb_engine::{EngineError, Field, Outcome, Prepared, Session, ShardRef, TxnStatus};
use omendb_storage::types::datetime::TimeZone;
use omendb_storage::types::{DataType, Value};
use std::rc::Rc;

/// What the protocol reads of a prepared statement.
pub trait PreparedStatement {
    /// The type of each `$n` parameter.
    fn param_types(&self) -> &[DataType];
    /// The result columns; `None` for statements that return no rows.
    fn fields(&self) -> Option<&Rc<[Field]>>;
    /// A `COPY … FROM STDIN`: Execute starts copy-in mode with this text.
    fn copy_sql(&self) -> Option<&str> {
        None
    }
}

impl PreparedStatement for Prepared {
    fn param_types(&self) -> &[DataType] {
        &self.param_types
    }
    fn fields(&self) -> Option<&Rc<[Field]>> {
        self.fields.as_ref()
    }
    fn copy_sql(&self) -> Option<&str> {
        self.copy.as_deref()
    }
}

/// One client's statements, run by the engine (or a test double).
#[allow(async_fn_in_trait)] // Sessions live on one shard: the futures need not be Send.
pub trait Backend {
    /// A statement prepared by [`Backend::prepare`].
    type Prepared: PreparedStatement;
    /// (process id, secret key) for BackendKeyData.
    fn backend_key(&self) -> (i32, i32);
    /// A setting's current value (`SHOW name`), if it exists.
    fn setting(&self, name: &str) -> Option<String>;
    /// The settings the backend reports with ParameterStatus at startup.
    fn reported_settings(&self) -> Vec<(String, String)>;
    /// A parameter of the startup packet (`options` already split into `-c` settings).
    fn apply_startup_parameter(&mut self, name: &str, value: &str) -> Result<(), EngineError>;
    /// Every statement of a simple-query message, stopping after the first error.
    async fn simple_query(&mut self, sql: &str) -> Vec<Result<Outcome, EngineError>>;
    /// Parse and bind one statement; `None` types are to be inferred.
    fn prepare(
        &mut self,
        sql: &str,
        param_types: &[Option<DataType>],
    ) -> Result<Rc<Self::Prepared>, EngineError>;
    /// Run a prepared statement with parameters decoded to its `param_types`.
    async fn execute(
        &mut self,
        stmt: &Self::Prepared,
        params: Vec<Value>,
    ) -> Result<Outcome, EngineError>;
    /// An extended-protocol message failed: a transaction block in progress becomes failed.
    fn fail_transaction(&mut self);
    /// Sync: an implicit transaction of the extended protocol ends here.
    async fn sync(&mut self);
    fn txn_status(&self) -> TxnStatus;
    fn timezone(&self) -> &TimeZone;
    /// ParameterStatus-reported settings changed since the last call.
    fn take_changed_parameters(&mut self) -> Vec<(String, String)>;
    /// (severity, sqlstate, message) of notices raised since the last call.
    fn take_notices(&mut self) -> Vec<(&'static str, &'static str, String)>;
    /// Prepared statements dropped by SQL `DEALLOCATE` since the last call (`None`: all).
    fn take_deallocations(&mut self) -> Vec<Option<String>> {
        Vec::new()
    }
    /// Start `COPY … FROM STDIN` if the query string is one (`None`: it is not a COPY).
    fn copy_start(&mut self, _sql: &str) -> Result<Option<CopyIn>, EngineError> {
        Ok(None)
    }
    /// One CopyData message's bytes.
    async fn copy_data(&mut self, _copy: &mut CopyIn, _data: bytes::Bytes) {}
    /// CopyDone: the COPY's result.
    async fn copy_done(&mut self, _copy: CopyIn) -> Result<Outcome, EngineError> {
        Err(EngineError::sql(
            "0A000",
            "COPY is not supported by this backend",
        ))
    }
    /// CopyFail: the error that ends the COPY.
    async fn copy_fail(&mut self, _copy: CopyIn, message: &str) -> EngineError {
        EngineError::sql("57014", format!("COPY from stdin failed: {message}"))
    }
}

/// Makes backends for new connections and forwards cancel requests.
pub trait Connector {
    type Backend: Backend;
    /// A session for an authenticated `user` on `database`.
    fn connect(&self, user: &str, database: &str) -> Self::Backend;
    /// A CancelRequest arrived on its own connection.
    fn cancel(&self, pid: i32, secret: i32);
}

impl Backend for Session {
    type Prepared = Prepared;
    fn backend_key(&self) -> (i32, i32) {
        Session::backend_key(self)
    }
    fn setting(&self, name: &str) -> Option<String> {
        Session::setting(self, name)
    }
    fn reported_settings(&self) -> Vec<(String, String)> {
        Session::reported_settings(self)
    }
    fn apply_startup_parameter(&mut self, name: &str, value: &str) -> Result<(), EngineError> {
        Session::apply_startup_parameter(self, name, value)
    }
    async fn simple_query(&mut self, sql: &str) -> Vec<Result<Outcome, EngineError>> {
        Session::simple_query(self, sql).await
    }
    fn prepare(
        &mut self,
        sql: &str,
        param_types: &[Option<DataType>],
    ) -> Result<Rc<Prepared>, EngineError> {
        Session::prepare(self, sql, param_types)
    }
    async fn execute(
        &mut self,
        stmt: &Prepared,
        params: Vec<Value>,
    ) -> Result<Outcome, EngineError> {
        Session::execute(self, stmt, params).await
    }
    fn fail_transaction(&mut self) {
        Session::fail_transaction(self)
    }
    async fn sync(&mut self) {
        Session::sync(self).await
    }
    fn txn_status(&self) -> TxnStatus {
        Session::txn_status(self)
    }
    fn timezone(&self) -> &TimeZone {
        Session::timezone(self)
    }
    fn take_changed_parameters(&mut self) -> Vec<(String, String)> {
        Session::take_changed_parameters(self)
    }
    fn take_notices(&mut self) -> Vec<(&'static str, &'static str, String)> {
        Session::take_notices(self)
    }
    fn take_deallocations(&mut self) -> Vec<Option<String>> {
        Session::take_deallocations(self)
    }
    fn copy_start(&mut self, sql: &str) -> Result<Option<CopyIn>, EngineError> {
        Session::copy_start(self, sql)
    }
    async fn copy_data(&mut self, copy: &mut CopyIn, data: bytes::Bytes) {
        Session::copy_data(self, copy, data).await
    }
    async fn copy_done(&mut self, copy: CopyIn) -> Result<Outcome, EngineError> {
        Session::copy_done(self, copy).await
    }
    async fn copy_fail(&mut self, copy: CopyIn, message: &str) -> EngineError {
        Session::copy_fail(self, copy, message).await
    }
}

/// Sessions on the shard that accepted the connection.
pub struct EngineConnector {
    pub shard: ShardRef,
}

impl Connector for EngineConnector {
    type Backend = Session;
    fn connect(&self, user: &str, database: &str) -> Session {
        Session::new(self.shard.clone(), user, database)
    }
    fn cancel(&self, pid: i32, secret: i32) {
        cancel_request(pid, secret)
    }
}
