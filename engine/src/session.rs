//! A client session: the statements of one connection, run on the shard that accepted it.
//!
//! This is the engine's whole surface toward the wire crate: simple queries, prepared statements
//! with parameters, the transaction status and the session settings. It must never encode
//! protocol messages.

use crate::EngineError;
use crate::copy::CopyIn;
use crate::exec::dml::Touched;
use crate::exec::eval::EvalEnv;
use crate::exec::memory::MemoryBudget;
use crate::exec::query::Executor;
use crate::settings::Settings;
use crate::shard::{Engine, Pinned, Savepoints, ShardRef};
use crate::statement_cache::{StatementCache, literal_template};
use omendb_planner::parse::{Parsed, parse};
use omendb_planner::{BindContext, IsolationLevel, OutputColumn, PlanError, Statement, bind};
use omendb_storage::row::{Ts, WriterId};
use omendb_storage::types::datetime::{TimeZone, now_micros};
use omendb_storage::types::{DataType, Value};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

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
    /// The bound statement (`None` for an empty query or a COPY).
    statement: Option<Statement>,
    /// `COPY … FROM STDIN` (extended protocol): the protocol layer starts copy-in mode with it.
    pub copy: Option<String>,
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

/// An open transaction.
struct Txn {
    id: WriterId,
    start: i64,
    touched: Touched,
    /// Opened by BEGIN (else implicit: one statement, or one multi-statement query string).
    explicit: bool,
    failed: bool,
    /// Statements that wrote rows so far; a savepoint remembers the count at its creation.
    writes: u64,
    /// Open savepoints, oldest first: (name, `writes` at its creation, its number).
    savepoints: Vec<(String, u64, u32)>,
    /// The number of the last savepoint opened (numbers only grow within a transaction: the
    /// shards tag what writes replace with the innermost open savepoint's number).
    savepoint_seq: u32,
    isolation: IsolationLevel,
    /// REPEATABLE READ: the transaction's snapshot, taken by its first statement that reads.
    snapshot: Option<Pinned>,
    /// READ COMMITTED: the running statement's snapshot.
    statement: Option<Pinned>,
    /// A statement that reads has run (the isolation level can no longer change).
    queried: bool,
}

impl Txn {
    /// Give back the snapshots the transaction holds (so garbage collection can pass them).
    fn release_snapshots(&mut self, shard: &ShardRef) {
        for pinned in [self.snapshot.take(), self.statement.take()]
            .into_iter()
            .flatten()
        {
            shard.state().unpin_snapshot(pinned);
        }
    }
}

/// Per-connection state. Lives on one shard; not `Send`.
pub struct Session {
    shard: ShardRef,
    engine: Arc<Engine>,
    user: Arc<str>,
    database: Arc<str>,
    key: (i32, i32),
    cancel: Arc<AtomicBool>,
    settings: Settings,
    changed: Vec<(String, String)>,
    notices: Vec<(&'static str, &'static str, String)>,
    deallocations: Vec<Option<String>>,
    txn: Option<Txn>,
    statements: StatementCache,
}

fn fields_of(columns: &[OutputColumn]) -> Rc<[Field]> {
    columns
        .iter()
        .map(|c| Field {
            name: c.name.clone(),
            ty: c.ty,
            table_oid: c.table_oid,
            column_id: c.column_id,
        })
        .collect()
}

fn plan_error(e: PlanError) -> EngineError {
    match e {
        PlanError::Type(t) => EngineError::Type(t),
        other => EngineError::sql(other.sqlstate(), other.to_string()),
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.engine.unregister_session(self.key);
        // A connection that vanishes mid-transaction must not leave its rows locked, nor hold
        // back garbage collection with its snapshots.
        if let Some(mut txn) = self.txn.take() {
            txn.release_snapshots(&self.shard);
            let shard = self.shard.clone();
            let touched = txn.touched;
            crate::runtime::spawn_local(async move {
                for (s, t) in touched.iter().enumerate() {
                    if *t {
                        let _ = shard
                            .run_on(s, move |sh| async move { sh.state().finish(txn.id, None) })
                            .await;
                    }
                }
            })
            .detach();
        }
    }
}

impl Session {
    /// Start a session for `user` on `database` on the shard that accepted the connection.
    pub fn new(shard: ShardRef, user: &str, database: &str) -> Session {
        let engine = shard.state().engine().clone();
        let cancel = Arc::new(AtomicBool::new(false));
        let key = engine.register_session(cancel.clone());
        Session {
            shard,
            engine,
            user: user.into(),
            database: database.into(),
            key,
            cancel,
            settings: Settings::new(user),
            changed: Vec::new(),
            notices: Vec::new(),
            deallocations: Vec::new(),
            txn: None,
            statements: StatementCache::default(),
        }
    }

    pub(crate) fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// (process id, secret key) for BackendKeyData.
    pub fn backend_key(&self) -> (i32, i32) {
        self.key
    }

    /// A session setting by name (`SHOW`).
    pub fn setting(&self, name: &str) -> Option<String> {
        self.settings.get(name).map(str::to_string)
    }

    /// Settings reported in ParameterStatus at startup: (name, value).
    pub fn reported_settings(&self) -> Vec<(String, String)> {
        self.settings.reported()
    }

    /// Apply a startup-packet parameter (`application_name`, `TimeZone`, `DateStyle`, `options`…).
    pub fn apply_startup_parameter(&mut self, name: &str, value: &str) -> Result<(), EngineError> {
        match name {
            "user" | "database" | "replication" => Ok(()),
            "options" => {
                // `-c name=value` pairs, as libpq sends for PGOPTIONS.
                let mut words = value.split_whitespace();
                while let Some(w) = words.next() {
                    let pair = match w {
                        "-c" => words.next().unwrap_or(""),
                        other => other
                            .strip_prefix("-c")
                            .or_else(|| other.strip_prefix("--"))
                            .unwrap_or(other),
                    };
                    if let Some((k, v)) = pair.split_once('=') {
                        self.settings.set(&k.replace('-', "_"), Some(v))?;
                    }
                }
                Ok(())
            }
            _ => self.settings.set(name, Some(value)).map(|_| ()),
        }
    }

    /// The session's time zone, for formatting timestamptz values.
    pub fn timezone(&self) -> &TimeZone {
        self.settings.timezone()
    }

    /// Settings reported through ParameterStatus that changed since the last call (after SET).
    pub fn take_changed_parameters(&mut self) -> Vec<(String, String)> {
        std::mem::take(&mut self.changed)
    }

    /// Notices raised by the last statements: (severity, sqlstate, message).
    pub fn take_notices(&mut self) -> Vec<(&'static str, &'static str, String)> {
        std::mem::take(&mut self.notices)
    }

    /// Prepared statements dropped by SQL `DEALLOCATE` since the last call (`None`: all).
    pub fn take_deallocations(&mut self) -> Vec<Option<String>> {
        std::mem::take(&mut self.deallocations)
    }

    pub fn txn_status(&self) -> TxnStatus {
        match &self.txn {
            Some(t) if t.explicit && t.failed => TxnStatus::Failed,
            Some(t) if t.explicit => TxnStatus::InBlock,
            _ => TxnStatus::Idle,
        }
    }

    /// The extended protocol hit an error: a block in progress becomes failed.
    pub fn fail_transaction(&mut self) {
        if let Some(t) = self.txn.as_mut() {
            t.failed = true;
        }
    }

    /// End an implicit transaction at Sync in the extended protocol (nothing to do for blocks).
    pub async fn sync(&mut self) {
        if self.txn.as_ref().is_some_and(|t| !t.explicit) {
            let failed = self.txn.as_ref().is_some_and(|t| t.failed);
            let _ = self.end_transaction(!failed).await;
        }
    }

    /// Run a simple-query message: every statement in order, stopping after the first error
    /// (which is the last element). Several statements outside a block form one implicit
    /// transaction, as in PostgreSQL.
    pub async fn simple_query(&mut self, sql: &str) -> Vec<Result<Outcome, EngineError>> {
        if let Some((prepared, params)) = self.templated(sql)
            && let Some(stmt) = &prepared.statement
        {
            let result = self.run(stmt, params, prepared.fields.as_ref()).await;
            return self.end_simple_query(vec![result]).await;
        }
        let parsed = match parse(sql) {
            Ok(p) => p,
            Err(e) => {
                self.fail_transaction();
                return vec![Err(plan_error(e))];
            }
        };
        if parsed.is_empty() {
            return vec![Ok(Outcome::Empty)];
        }
        let mut results = Vec::with_capacity(parsed.len());
        for p in parsed {
            let result = match self.bind_parsed(&p, &[]) {
                Ok((stmt, _)) => self.run(&stmt, Vec::new(), None).await,
                Err(e) => {
                    self.fail_transaction();
                    Err(e)
                }
            };
            let failed = result.is_err();
            results.push(result);
            if failed {
                break;
            }
        }
        self.end_simple_query(results).await
    }

    /// The implicit transaction of a query string ends with it.
    async fn end_simple_query(
        &mut self,
        mut results: Vec<Result<Outcome, EngineError>>,
    ) -> Vec<Result<Outcome, EngineError>> {
        let failed = results.last().is_some_and(Result::is_err);
        if self.txn.as_ref().is_some_and(|t| !t.explicit)
            && let Err(e) = self.end_transaction(!failed).await
        {
            results.push(Err(e));
        }
        results
    }

    /// A one-statement query string as its cached template's statement and the values of its
    /// integer literals (see `statement_cache`): `None` to parse and bind the text itself.
    fn templated(&mut self, sql: &str) -> Option<(Rc<Prepared>, Vec<Value>)> {
        let (template, values) = literal_template(sql)?;
        let version = self.engine.catalog_version();
        if let Some(known) = self.statements.template(&template, version) {
            return known.map(|p| (p, values));
        }
        // Usable only if each parameter takes the literal's own type, `int4`: then the
        // statement is the one the literal text binds to.
        let usable = self.prepare_uncached(&template, &[]).ok().filter(|p| {
            p.statement.is_some()
                && p.param_types.len() == values.len()
                && p.param_types.iter().all(|&t| t == DataType::Int32)
        });
        self.statements
            .insert_template(template, version, usable.clone());
        usable.map(|p| (p, values))
    }

    /// Start `COPY … FROM STDIN` if `sql` is one (alone in its query string): `None` if it is
    /// not a COPY. Opens an implicit transaction if none is open.
    pub fn copy_start(&mut self, sql: &str) -> Result<Option<CopyIn>, EngineError> {
        let Some(stmt) = crate::copy::parse_copy(sql)? else {
            return Ok(None);
        };
        if self.txn.as_ref().is_some_and(|t| t.failed) {
            return Err(EngineError::InFailedTransaction);
        }
        let catalog = self.engine.catalog();
        let table = catalog.tables.get(&stmt.table).cloned().ok_or_else(|| {
            EngineError::sql(
                "42P01",
                format!("relation \"{}\" does not exist", stmt.table),
            )
        })?;
        let targets = crate::copy::targets(&table, stmt.columns.as_deref())?;
        let columns = targets.len();
        let parser = crate::copy::CopyParser::new(
            stmt,
            targets,
            table.columns.len(),
            self.settings.timezone().clone(),
        );
        // Outside a transaction block, a COPY into a table without other unique constraints
        // loads column segments directly (its rows are invisible until it commits, which only
        // a transaction block could observe).
        let bulk = self.txn.is_none()
            && table.unique.is_empty()
            && self.engine.storage().is_some()
            && self.settings.bulk_load();
        if self.txn.is_none() {
            self.txn = Some(self.new_txn(false));
        }
        let parallel = bulk && parser.splittable();
        Ok(Some(CopyIn {
            parser,
            parallel,
            claimed: false,
            inflight: Default::default(),
            next_shard: self.shard.id(),
            bulk,
            table,
            rows: Vec::new(),
            count: 0,
            columns,
            error: None,
        }))
    }

    /// One CopyData message. After an error the rest of the data is ignored; the error is
    /// reported by `copy_done`.
    pub async fn copy_data(&mut self, copy: &mut CopyIn, data: bytes::Bytes) {
        if copy.error.is_some() {
            return;
        }
        if copy.parallel {
            if let Err(e) = self.copy_dispatch(copy, data, false).await {
                copy.error = Some(e);
            }
            return;
        }
        let result = match copy.parser.feed(&data, &mut copy.rows) {
            Ok(()) if copy.rows.len() >= crate::copy::BATCH_ROWS => self.copy_flush(copy).await,
            other => other,
        };
        if let Err(e) = result {
            copy.error = Some(e);
        }
    }

    /// Begin the bulk load on every shard (once per COPY): other writers of the table wait
    /// from here until the transaction ends.
    async fn copy_claim(&mut self, copy: &mut CopyIn) -> Result<(), EngineError> {
        if copy.claimed {
            return Ok(());
        }
        let Some(txn) = self.txn.as_mut() else {
            return Err(EngineError::Internal("COPY outside a transaction".into()));
        };
        let (id, start) = (txn.id, txn.start);
        let mut touched = std::mem::take(&mut txn.touched);
        let exec = self.executor(Vec::new(), id, start);
        let claimed = exec.bulk_claim(&copy.table, &mut touched).await;
        if let Some(txn) = self.txn.as_mut() {
            txn.touched = touched;
            txn.writes += 1;
        }
        claimed?;
        copy.claimed = true;
        Ok(())
    }

    /// Whether a write into `table` may take the bulk path: outside a transaction block (its
    /// rows stay invisible until it commits), no UNIQUE constraints besides the key, durable
    /// storage, and `omendb.bulk_load` not off.
    fn bulk_allowed(&self, table: &omendb_storage::schema::TableSchema) -> bool {
        self.txn.as_ref().is_some_and(|t| !t.explicit)
            && table.unique.is_empty()
            && self.engine.storage().is_some()
            && self.settings.bulk_load()
    }

    /// Parallel bulk load: cut the stream into chunks of whole lines and have the shards parse
    /// them, round-robin, with at most `CHUNKS_IN_FLIGHT` per shard outstanding.
    async fn copy_dispatch(
        &mut self,
        copy: &mut CopyIn,
        data: bytes::Bytes,
        last: bool,
    ) -> Result<(), EngineError> {
        self.copy_claim(copy).await?;
        let Some(txn) = self.txn.as_ref() else {
            return Err(EngineError::Internal("COPY outside a transaction".into()));
        };
        let id = txn.id;
        let shards = self.shard.count();
        let mut input = data;
        while let Some((chunk, line)) =
            copy.parser
                .split_lines(input, crate::copy::CHUNK_BYTES, last)
        {
            input = bytes::Bytes::new();
            let parser = copy.parser.fork(line);
            let (table, target) = (copy.table.clone(), copy.next_shard % shards);
            copy.next_shard += 1;
            let shard = self.shard.clone();
            copy.inflight
                .push_back(crate::runtime::spawn_local(async move {
                    shard
                        .run_on(target, move |sh| async move {
                            crate::copy::bulk::load_chunk(&sh, parser, chunk, table, id).await
                        })
                        .await
                        .map_err(|e| EngineError::Internal(e.to_string()))?
                }));
            while copy.inflight.len() > crate::copy::CHUNKS_IN_FLIGHT * shards {
                if let Some(task) = copy.inflight.pop_front() {
                    copy.count += task.await? as u64;
                }
            }
        }
        Ok(())
    }

    async fn copy_flush(&mut self, copy: &mut CopyIn) -> Result<(), EngineError> {
        if copy.bulk {
            self.copy_claim(copy).await?;
        }
        let rows = std::mem::take(&mut copy.rows);
        let Some(txn) = self.txn.as_mut() else {
            return Err(EngineError::Internal("COPY outside a transaction".into()));
        };
        let mut touched = std::mem::take(&mut txn.touched);
        let (id, start) = (txn.id, txn.start);
        let exec = self.executor(Vec::new(), id, start);
        let result = if copy.bulk {
            exec.bulk_values(&copy.table, rows, &mut touched).await
        } else {
            exec.insert_values(&copy.table, rows, &mut touched).await
        };
        if let Some(txn) = self.txn.as_mut() {
            txn.touched = touched;
            txn.writes += 1;
        }
        copy.count += result? as u64;
        Ok(())
    }

    /// CopyDone: insert what is left, end an implicit transaction, report `COPY n`.
    pub async fn copy_done(&mut self, mut copy: CopyIn) -> Result<Outcome, EngineError> {
        let mut result = match copy.error.take() {
            Some(e) => Err(e),
            None if copy.parallel => {
                self.copy_dispatch(&mut copy, bytes::Bytes::new(), true)
                    .await
            }
            None => copy.parser.finish(&mut copy.rows),
        };
        // Every chunk must be done (loaded or failed) before the load ends either way.
        while let Some(task) = copy.inflight.pop_front() {
            match task.await {
                Ok(n) => copy.count += n as u64,
                Err(e) => {
                    if result.is_ok() {
                        result = Err(e);
                    }
                }
            }
        }
        if result.is_ok() && !copy.rows.is_empty() {
            result = self.copy_flush(&mut copy).await;
        }
        if result.is_ok()
            && copy.bulk
            && let Some(txn) = self.txn.as_ref()
        {
            let exec = self.executor(Vec::new(), txn.id, txn.start);
            result = exec.bulk_finish(&copy.table, &txn.touched).await;
        }
        if result.is_err() {
            self.fail_transaction();
        }
        if self.txn.as_ref().is_some_and(|t| !t.explicit) {
            self.end_transaction(result.is_ok()).await?;
        }
        result.map(|()| Outcome::Command {
            tag: format!("COPY {}", copy.count),
        })
    }

    /// CopyFail from the client: the COPY (and an implicit transaction) is rolled back.
    pub async fn copy_fail(&mut self, mut copy: CopyIn, message: &str) -> EngineError {
        // Chunks still loading must finish before the load is rolled back.
        while let Some(task) = copy.inflight.pop_front() {
            let _ = task.await;
        }
        self.fail_transaction();
        if self.txn.as_ref().is_some_and(|t| !t.explicit) {
            let _ = self.end_transaction(false).await;
        }
        EngineError::sql("57014", format!("COPY from stdin failed: {message}"))
    }

    fn bind_parsed(
        &self,
        p: &Parsed,
        params: &[Option<DataType>],
    ) -> Result<(Statement, Vec<DataType>), EngineError> {
        match p {
            Parsed::Bound(stmt) => Ok((stmt.as_ref().clone(), Vec::new())),
            Parsed::Sql(ast) => {
                let catalog = self.engine.catalog();
                let mut ctx = BindContext::new(catalog.as_ref(), params.to_vec());
                let stmt = bind(&mut ctx, ast).map_err(plan_error)?;
                Ok((stmt, ctx.param_types()))
            }
        }
    }

    /// Parse and bind one statement (Parse message); the same text with the same declared
    /// types again (and the catalog unchanged) is the statement prepared the first time.
    pub fn prepare(
        &mut self,
        sql: &str,
        param_types: &[Option<DataType>],
    ) -> Result<Rc<Prepared>, EngineError> {
        let version = self.engine.catalog_version();
        if let Some(prepared) = self.statements.get(sql, param_types, version) {
            return Ok(prepared);
        }
        let prepared = self.prepare_uncached(sql, param_types)?;
        if prepared.copy.is_none() {
            self.statements.insert(sql, param_types, version, &prepared);
        }
        Ok(prepared)
    }

    fn prepare_uncached(
        &mut self,
        sql: &str,
        param_types: &[Option<DataType>],
    ) -> Result<Rc<Prepared>, EngineError> {
        if crate::copy::parse_copy(sql)?.is_some() {
            return Ok(Rc::new(Prepared {
                param_types: Vec::new(),
                fields: None,
                statement: None,
                copy: Some(sql.to_string()),
            }));
        }
        let mut parsed = parse(sql).map_err(plan_error)?;
        if parsed.len() > 1 {
            return Err(EngineError::sql(
                "42601",
                "cannot insert multiple commands into a prepared statement",
            ));
        }
        let Some(p) = parsed.pop() else {
            return Ok(Rc::new(Prepared {
                param_types: Vec::new(),
                fields: None,
                statement: None,
                copy: None,
            }));
        };
        let (stmt, mut types) = self.bind_parsed(&p, param_types)?;
        for (i, t) in param_types.iter().enumerate() {
            if let (Some(t), Some(slot)) = (t, types.get_mut(i)) {
                *slot = *t;
            }
        }
        let fields = stmt.output_columns().map(|c| fields_of(&c));
        Ok(Rc::new(Prepared {
            param_types: types,
            fields,
            statement: Some(stmt),
            copy: None,
        }))
    }

    /// Execute a prepared statement with its parameters (already decoded to `param_types`).
    pub async fn execute(
        &mut self,
        stmt: &Prepared,
        params: Vec<Value>,
    ) -> Result<Outcome, EngineError> {
        let Some(statement) = &stmt.statement else {
            return Ok(Outcome::Empty);
        };
        if params.len() != stmt.param_types.len() {
            return Err(EngineError::sql(
                "08P01",
                format!(
                    "bind message supplies {} parameters, but prepared statement requires {}",
                    params.len(),
                    stmt.param_types.len()
                ),
            ));
        }
        let result = self.run(statement, params, stmt.fields.as_ref()).await;
        // Outside a block, each Execute is its own transaction.
        if self.txn.as_ref().is_some_and(|t| !t.explicit) {
            self.end_transaction(result.is_ok()).await?;
        }
        result
    }

    /// Run one bound statement inside the session's transaction (opening an implicit one).
    /// `fields`: its result columns if a prepared statement already described them.
    async fn run(
        &mut self,
        stmt: &Statement,
        params: Vec<Value>,
        fields: Option<&Rc<[Field]>>,
    ) -> Result<Outcome, EngineError> {
        self.cancel.store(false, Ordering::Relaxed);
        match stmt {
            Statement::Begin { isolation } => return Ok(self.begin(*isolation)),
            Statement::SetTransaction { isolation } => {
                return self.set_transaction(*isolation);
            }
            Statement::Set { name, value } if name == "transaction_isolation" => {
                let level = match value {
                    Some(v) => Some(
                        IsolationLevel::parse(v)
                            .map_err(|(code, message)| EngineError::sql(code, message))?,
                    ),
                    None => None,
                };
                return self.set_transaction(level.or(Some(self.default_isolation())));
            }
            Statement::Commit => return self.commit_block().await,
            Statement::Rollback => return self.rollback_block().await,
            // A failed savepoint command fails the block, as any error in one does.
            Statement::Savepoint { name } => {
                let result = self.savepoint(name);
                return self.failing_block(result);
            }
            Statement::ReleaseSavepoint { name } => {
                let result = self.release_savepoint(name);
                return self.failing_block(result);
            }
            Statement::RollbackToSavepoint { name } => {
                let result = self.rollback_to_savepoint(name).await;
                return self.failing_block(result);
            }
            _ => {}
        }
        if self.txn.as_ref().is_some_and(|t| t.failed) {
            return Err(EngineError::InFailedTransaction);
        }
        if self.txn.is_none() {
            self.txn = Some(self.new_txn(false));
        }
        let result = self.run_in_txn(stmt, params, fields).await;
        if result.is_err() {
            self.fail_transaction();
        }
        result
    }

    /// An error of a statement inside a block leaves the block failed.
    fn failing_block(
        &mut self,
        result: Result<Outcome, EngineError>,
    ) -> Result<Outcome, EngineError> {
        if result.is_err() {
            self.fail_transaction();
        }
        result
    }

    fn new_txn(&self, explicit: bool) -> Txn {
        Txn {
            id: self.engine.begin_transaction(),
            start: now_micros(),
            touched: vec![false; self.shard.count()],
            explicit,
            failed: false,
            writes: 0,
            savepoints: Vec::new(),
            savepoint_seq: 0,
            isolation: self.default_isolation(),
            snapshot: None,
            statement: None,
            queried: false,
        }
    }

    /// `default_transaction_isolation` (validated when set).
    fn default_isolation(&self) -> IsolationLevel {
        self.settings.default_isolation()
    }

    fn begin(&mut self, isolation: Option<IsolationLevel>) -> Outcome {
        match self.txn.as_mut() {
            Some(t) if t.explicit => {
                self.notices.push((
                    "WARNING",
                    "25001",
                    "there is already a transaction in progress".into(),
                ));
            }
            // BEGIN inside a multi-statement query string turns its implicit transaction explicit.
            Some(t) => {
                t.explicit = true;
                if let Some(level) = isolation
                    && !t.queried
                {
                    t.isolation = level;
                }
            }
            None => {
                let mut txn = self.new_txn(true);
                txn.isolation = isolation.unwrap_or(txn.isolation);
                self.txn = Some(txn);
            }
        }
        Outcome::Command {
            tag: "BEGIN".into(),
        }
    }

    /// `SET TRANSACTION ISOLATION LEVEL …` (or `SET transaction_isolation`): only in a block,
    /// before its first query, as in PostgreSQL.
    fn set_transaction(
        &mut self,
        isolation: Option<IsolationLevel>,
    ) -> Result<Outcome, EngineError> {
        let set = Outcome::Command { tag: "SET".into() };
        let Some(txn) = self.txn.as_mut().filter(|t| t.explicit) else {
            self.notices.push((
                "WARNING",
                "25P01",
                "SET TRANSACTION can only be used in transaction blocks".into(),
            ));
            return Ok(set);
        };
        if txn.failed {
            return Err(EngineError::InFailedTransaction);
        }
        let Some(level) = isolation else {
            return Ok(set);
        };
        if txn.queried && level != txn.isolation {
            txn.failed = true;
            return Err(EngineError::sql(
                "25001",
                "SET TRANSACTION ISOLATION LEVEL must be called before any query",
            ));
        }
        txn.isolation = level;
        Ok(set)
    }

    /// The snapshot the next statement reads at: the transaction's (REPEATABLE READ, taken
    /// now if this is its first statement that reads) or a new one (READ COMMITTED).
    fn statement_snapshot(&mut self) -> Ts {
        let shard = self.shard.clone();
        let Some(txn) = self.txn.as_mut() else {
            return Ts::MAX;
        };
        txn.queried = true;
        if txn.isolation.snapshot_per_transaction() {
            return txn
                .snapshot
                .get_or_insert_with(|| shard.state().pin_snapshot())
                .at;
        }
        if let Some(old) = txn.statement.take() {
            shard.state().unpin_snapshot(old);
        }
        txn.statement.insert(shard.state().pin_snapshot()).at
    }

    async fn commit_block(&mut self) -> Result<Outcome, EngineError> {
        match self.txn.as_ref() {
            None => {
                self.notices.push((
                    "WARNING",
                    "25P01",
                    "there is no transaction in progress".into(),
                ));
                Ok(Outcome::Command {
                    tag: "COMMIT".into(),
                })
            }
            Some(t) if t.failed => {
                self.end_transaction(false).await?;
                Ok(Outcome::Command {
                    tag: "ROLLBACK".into(),
                })
            }
            Some(_) => {
                self.end_transaction(true).await?;
                Ok(Outcome::Command {
                    tag: "COMMIT".into(),
                })
            }
        }
    }

    async fn rollback_block(&mut self) -> Result<Outcome, EngineError> {
        if self.txn.is_none() {
            self.notices.push((
                "WARNING",
                "25P01",
                "there is no transaction in progress".into(),
            ));
        }
        self.end_transaction(false).await?;
        Ok(Outcome::Command {
            tag: "ROLLBACK".into(),
        })
    }

    fn block(&mut self, what: &str) -> Result<&mut Txn, EngineError> {
        match self.txn.as_mut() {
            Some(t) if t.explicit => Ok(t),
            _ => Err(EngineError::sql(
                "25P01",
                format!("{what} can only be used in transaction blocks"),
            )),
        }
    }

    fn savepoint(&mut self, name: &str) -> Result<Outcome, EngineError> {
        let txn = self.block("SAVEPOINT")?;
        if txn.failed {
            return Err(EngineError::InFailedTransaction);
        }
        let writes = txn.writes;
        txn.savepoint_seq += 1;
        let number = txn.savepoint_seq;
        txn.savepoints.push((name.to_string(), writes, number));
        Ok(Outcome::Command {
            tag: "SAVEPOINT".into(),
        })
    }

    fn find_savepoint(txn: &Txn, name: &str) -> Result<usize, EngineError> {
        txn.savepoints
            .iter()
            .rposition(|(n, _, _)| n == name)
            .ok_or_else(|| {
                EngineError::sql("3B001", format!("savepoint \"{name}\" does not exist"))
            })
    }

    fn release_savepoint(&mut self, name: &str) -> Result<Outcome, EngineError> {
        let txn = self.block("RELEASE SAVEPOINT")?;
        if txn.failed {
            return Err(EngineError::InFailedTransaction);
        }
        let at = Self::find_savepoint(txn, name)?;
        txn.savepoints.truncate(at);
        Ok(Outcome::Command {
            tag: "RELEASE".into(),
        })
    }

    /// ROLLBACK TO SAVEPOINT: every shard the transaction wrote undoes what it changed since
    /// the savepoint (rows' intents and unique keys, newest first); the savepoint stays open
    /// and the transaction, failed or not, goes on.
    async fn rollback_to_savepoint(&mut self, name: &str) -> Result<Outcome, EngineError> {
        let txn = self.block("ROLLBACK TO SAVEPOINT")?;
        let at = Self::find_savepoint(txn, name)?;
        let (_, writes, number) = txn.savepoints[at];
        let (writer, touched) = (txn.id, txn.touched.clone());
        if txn.writes > writes {
            for (s, _) in touched.iter().enumerate().filter(|(_, t)| **t) {
                let undone = self
                    .shard
                    .run_on(s, move |sh| async move {
                        sh.state().rollback_to(writer, number)
                    })
                    .await
                    .map_err(|e| EngineError::Internal(e.to_string()))
                    .and_then(|r| r.map_err(|e| EngineError::sql("40001", e.to_string())));
                if let Err(e) = undone {
                    self.fail_transaction();
                    return Err(e);
                }
            }
        }
        let Some(txn) = self.txn.as_mut() else {
            return Err(EngineError::Internal(
                "savepoint without a transaction".into(),
            ));
        };
        txn.savepoints.truncate(at + 1);
        txn.writes = writes;
        txn.failed = false;
        Ok(Outcome::Command {
            tag: "ROLLBACK".into(),
        })
    }

    async fn end_transaction(&mut self, commit: bool) -> Result<(), EngineError> {
        let Some(txn) = self.txn.take() else {
            return Ok(());
        };
        let commit = commit && !txn.failed;
        let mut txn = txn;
        txn.release_snapshots(&self.shard);
        if !commit {
            let exec = self.executor(Vec::new(), txn.id, txn.start);
            return exec.finish(txn.id, &txn.touched, false).await;
        }
        // Durable before applied, applied before acknowledged; the gate keeps checkpoints out
        // of the window in between.
        let engine = self.engine.clone();
        let _pass = match engine.storage() {
            Some(_) => Some(engine.gate().enter().await),
            None => None,
        };
        crate::durable::commit::commit(&self.shard, txn.id, &txn.touched).await
    }

    /// An executor that reads the newest committed versions (COPY, DDL rewrites, commit and
    /// rollback: no snapshot).
    fn executor(&self, params: Vec<Value>, txn_id: WriterId, txn_start: i64) -> Executor {
        self.executor_at(
            params,
            txn_id,
            txn_start,
            Ts::MAX,
            IsolationLevel::ReadCommitted,
        )
    }

    fn executor_at(
        &self,
        params: Vec<Value>,
        txn_id: WriterId,
        txn_start: i64,
        snapshot: Ts,
        isolation: IsolationLevel,
    ) -> Executor {
        let env = EvalEnv {
            params,
            tz: self.settings.timezone().clone(),
            txn_start,
            reader: txn_id,
            snapshot,
            isolation,
            savepoint: self
                .txn
                .as_ref()
                .map_or_else(Default::default, |t| Savepoints {
                    innermost: t.savepoints.last().map_or(0, |s| s.2),
                    outermost: t.savepoints.first().map_or(0, |s| s.2),
                }),
            user: self.user.clone(),
            database: self.database.clone(),
            backend_pid: self.key.0,
            settings: self.settings.all(),
            lock_wait: self.settings.lock_wait(),
            deadlock_wait: self.settings.deadlock_wait(),
            memory: Arc::new(MemoryBudget::new(self.settings.query_memory())),
            engine: self.engine.clone(),
        };
        Executor {
            shard: self.shard.clone(),
            env: Arc::new(env),
            cancel: self.cancel.clone(),
            shared: Default::default(),
        }
    }

    async fn run_in_txn(
        &mut self,
        stmt: &Statement,
        params: Vec<Value>,
        fields: Option<&Rc<[Field]>>,
    ) -> Result<Outcome, EngineError> {
        let Some(txn) = self.txn.as_mut() else {
            return Err(EngineError::Internal(
                "statement outside a transaction".into(),
            ));
        };
        check_write_target(&self.engine, stmt)?;
        let mut touched = std::mem::take(&mut txn.touched);
        let (id, start, isolation) = (txn.id, txn.start, txn.isolation);
        let reads = matches!(
            stmt,
            Statement::Query { .. }
                | Statement::Insert { .. }
                | Statement::Update { .. }
                | Statement::Delete { .. }
        );
        let at = if reads {
            self.statement_snapshot()
        } else {
            Ts::MAX
        };
        let exec = self.executor_at(params, id, start, at, isolation);
        let result = self.dispatch(&exec, stmt, &mut touched, fields).await;
        if let Some(txn) = self.txn.as_mut() {
            if let Some(done) = txn.statement.take() {
                self.shard.state().unpin_snapshot(done);
            }
            txn.touched = touched;
            if matches!(
                stmt,
                Statement::Insert { .. } | Statement::Update { .. } | Statement::Delete { .. }
            ) {
                txn.writes += 1;
            }
        }
        result
    }

    async fn dispatch(
        &mut self,
        exec: &Executor,
        stmt: &Statement,
        touched: &mut Touched,
        fields: Option<&Rc<[Field]>>,
    ) -> Result<Outcome, EngineError> {
        // A prepared statement's fields are shared, not rebuilt (a String per column) each run.
        let fields_of =
            |columns: &[OutputColumn]| fields.cloned().unwrap_or_else(|| fields_of(columns));
        match stmt {
            Statement::Query { plan, columns } => {
                let rows = exec.run_query(plan).await?;
                let tag = format!("SELECT {}", rows.len());
                Ok(Outcome::Rows {
                    fields: fields_of(columns),
                    rows,
                    tag,
                })
            }
            Statement::LockingQuery { plan, columns, .. } => {
                let rows = exec.run_locking_query(plan, touched).await?;
                let tag = format!("SELECT {}", rows.len());
                Ok(Outcome::Rows {
                    fields: fields_of(columns),
                    rows,
                    tag,
                })
            }
            Statement::Insert {
                table,
                source,
                returning,
                on_conflict: Some(on),
            } => {
                let rows = exec.insert_on_conflict(table, source, on, touched).await?;
                returning_outcome(exec, returning.as_ref(), rows, |n| format!("INSERT 0 {n}"))
            }
            Statement::Insert {
                table,
                source,
                returning,
                on_conflict: None,
            } => {
                if returning.is_none() && self.bulk_allowed(table) {
                    let n = exec.insert_select_bulk(table, source, touched).await?;
                    return Ok(Outcome::Command {
                        tag: format!("INSERT 0 {n}"),
                    });
                }
                let rows = exec.insert(table, source, touched).await?;
                returning_outcome(exec, returning.as_ref(), rows, |n| format!("INSERT 0 {n}"))
            }
            Statement::Update {
                table,
                filter,
                access,
                assignments,
                returning,
            } => {
                let rows = exec
                    .update(table, filter.as_ref(), access, assignments, touched)
                    .await?;
                returning_outcome(exec, returning.as_ref(), rows, |n| format!("UPDATE {n}"))
            }
            Statement::Delete {
                table,
                filter,
                access,
                returning,
            } => {
                let rows = exec.delete(table, filter.as_ref(), access, touched).await?;
                returning_outcome(exec, returning.as_ref(), rows, |n| format!("DELETE {n}"))
            }
            Statement::CreateTable { .. } => {
                let notice = crate::ddl::create_table(self, stmt)?;
                crate::durable::persist_catalog(&self.shard).await?;
                if let Some(n) = notice {
                    self.notices.push(("NOTICE", "42P07", n));
                }
                Ok(Outcome::Command {
                    tag: "CREATE TABLE".into(),
                })
            }
            Statement::DropTable { names, if_exists } => {
                let notices =
                    crate::ddl::drop_tables(&self.shard, &self.engine, names, *if_exists).await?;
                for n in notices {
                    self.notices.push(("NOTICE", "00000", n));
                }
                Ok(Outcome::Command {
                    tag: "DROP TABLE".into(),
                })
            }
            Statement::CreateView {
                name,
                sql,
                or_replace,
            } => {
                crate::ddl::create_view(&self.engine, name, sql, *or_replace)?;
                crate::durable::persist_catalog(&self.shard).await?;
                Ok(Outcome::Command {
                    tag: "CREATE VIEW".into(),
                })
            }
            Statement::DropView { names, if_exists } => {
                let notices = crate::ddl::drop_views(&self.engine, names, *if_exists)?;
                crate::durable::persist_catalog(&self.shard).await?;
                for n in notices {
                    self.notices.push(("NOTICE", "00000", n));
                }
                Ok(Outcome::Command {
                    tag: "DROP VIEW".into(),
                })
            }
            Statement::CreateIndex {
                name,
                table,
                columns,
                unique,
                if_not_exists,
            } => {
                let stmt = crate::ddl::CreateIndex {
                    name,
                    table,
                    columns,
                    unique: *unique,
                    if_not_exists: *if_not_exists,
                };
                self.create_index(touched, stmt).await
            }
            Statement::DropIndex { names, if_exists } => {
                let notices =
                    crate::ddl::drop_indexes(&self.shard, &self.engine, names, *if_exists).await?;
                for n in notices {
                    self.notices.push(("NOTICE", "00000", n));
                }
                Ok(Outcome::Command {
                    tag: "DROP INDEX".into(),
                })
            }
            Statement::Truncate { tables } => {
                crate::ddl::truncate(&self.shard, tables).await?;
                Ok(Outcome::Command {
                    tag: "TRUNCATE TABLE".into(),
                })
            }
            Statement::AddPrimaryKey {
                table,
                if_exists,
                columns,
                constraint,
            } => {
                self.add_primary_key(touched, table, *if_exists, columns, constraint)
                    .await
            }
            Statement::Set { name, value } => {
                if let Some(report) = self.settings.set(name, value.as_deref())? {
                    self.changed.push(report);
                }
                Ok(Outcome::Command { tag: "SET".into() })
            }
            Statement::Show { name } => {
                let value = self.show(name)?;
                let fields: Rc<[Field]> = Rc::new([Field {
                    name: name.clone(),
                    ty: DataType::Text,
                    table_oid: 0,
                    column_id: 0,
                }]);
                Ok(Outcome::Rows {
                    fields,
                    rows: vec![vec![Value::Text(value)]],
                    tag: "SHOW".into(),
                })
            }
            Statement::NoOp { tag } => Ok(Outcome::Command { tag: tag.clone() }),
            Statement::Checkpoint => {
                crate::durable::checkpoint(&self.shard).await?;
                Ok(Outcome::Command {
                    tag: "CHECKPOINT".into(),
                })
            }
            Statement::Explain { plan } => {
                let fields: Rc<[Field]> = Rc::new([Field {
                    name: "QUERY PLAN".into(),
                    ty: DataType::Text,
                    table_oid: 0,
                    column_id: 0,
                }]);
                let rows: Vec<Vec<Value>> = plan
                    .explain()
                    .lines()
                    .map(|l| vec![Value::Text(l.to_string())])
                    .collect();
                let tag = format!("EXPLAIN {}", rows.len());
                Ok(Outcome::Rows { fields, rows, tag })
            }
            Statement::Deallocate { name } => {
                self.deallocations.push(name.clone());
                let tag = if name.is_some() {
                    "DEALLOCATE"
                } else {
                    "DEALLOCATE ALL"
                };
                Ok(Outcome::Command { tag: tag.into() })
            }
            Statement::Empty => Ok(Outcome::Empty),
            Statement::Begin { .. }
            | Statement::SetTransaction { .. }
            | Statement::Commit
            | Statement::Rollback
            | Statement::Savepoint { .. }
            | Statement::ReleaseSavepoint { .. }
            | Statement::RollbackToSavepoint { .. } => Err(EngineError::Internal(
                "transaction control reached dispatch".into(),
            )),
        }
    }

    /// CREATE [UNIQUE] INDEX. A unique index commits its keys in an internal transaction that
    /// waits for every other writer of the table, this session's open one included: refused
    /// when that one has written rows.
    async fn create_index(
        &mut self,
        touched: &Touched,
        stmt: crate::ddl::CreateIndex<'_>,
    ) -> Result<Outcome, EngineError> {
        if stmt.unique && touched.iter().any(|t| *t) {
            return Err(EngineError::sql(
                "0A000",
                "CREATE UNIQUE INDEX in a transaction that has written rows is not supported yet",
            ));
        }
        let exec = self.executor(Vec::new(), self.engine.begin_transaction(), now_micros());
        if let Some(n) = crate::ddl::create_index(&exec, stmt).await? {
            self.notices.push(("NOTICE", "00000", n));
        }
        Ok(Outcome::Command {
            tag: "CREATE INDEX".into(),
        })
    }

    /// ALTER TABLE … ADD PRIMARY KEY rewrites the table in its own internal transaction (DDL
    /// is not undone by ROLLBACK here), so rows this session's open transaction wrote would be
    /// left behind: refused then.
    async fn add_primary_key(
        &mut self,
        touched: &Touched,
        table: &str,
        if_exists: bool,
        columns: &[String],
        constraint: &str,
    ) -> Result<Outcome, EngineError> {
        if touched.iter().any(|t| *t) {
            return Err(EngineError::sql(
                "0A000",
                "ALTER TABLE ADD PRIMARY KEY in a transaction that has written rows is not supported yet",
            ));
        }
        let exec = self.executor(Vec::new(), self.engine.begin_transaction(), now_micros());
        let stmt = crate::ddl::AddPrimaryKey {
            table,
            if_exists,
            columns,
            constraint,
        };
        if let Some(n) = crate::ddl::add_primary_key(&exec, stmt).await? {
            self.notices.push(("NOTICE", "00000", n));
        }
        Ok(Outcome::Command {
            tag: "ALTER TABLE".into(),
        })
    }

    fn show(&self, name: &str) -> Result<String, EngineError> {
        if name == "transaction_isolation" {
            let level = self
                .txn
                .as_ref()
                .map_or(self.default_isolation(), |t| t.isolation);
            return Ok(level.name().to_string());
        }
        self.settings.get(name).map(str::to_string).ok_or_else(|| {
            EngineError::sql(
                "42704",
                format!("unrecognized configuration parameter \"{name}\""),
            )
        })
    }
}

/// A write bound (prepared) before ALTER TABLE rewrote or DROP TABLE removed its table would
/// go to a table id no longer in the catalog, which recovery never replays; one bound before
/// CREATE UNIQUE INDEX or DROP INDEX changed the table's unique constraints would check the
/// wrong ones: refuse both.
fn check_write_target(engine: &Engine, stmt: &Statement) -> Result<(), EngineError> {
    let (Statement::Insert { table, .. }
    | Statement::Update { table, .. }
    | Statement::Delete { table, .. }
    | Statement::LockingQuery { table, .. }) = stmt
    else {
        return Ok(());
    };
    let catalog = engine.catalog();
    let current = catalog.tables.get(&table.name);
    if current
        .is_some_and(|t| Arc::ptr_eq(t, table) || (t.id == table.id && t.unique == table.unique))
    {
        return Ok(());
    }
    Err(EngineError::sql(
        "0A000",
        format!(
            "relation \"{}\" was altered or dropped after this statement was prepared; prepare it again",
            table.name
        ),
    ))
}

fn returning_outcome(
    exec: &Executor,
    returning: Option<&omendb_planner::plan::Returning>,
    rows: Vec<Vec<Value>>,
    tag: impl Fn(usize) -> String,
) -> Result<Outcome, EngineError> {
    let n = rows.len();
    let Some(r) = returning else {
        return Ok(Outcome::Command { tag: tag(n) });
    };
    let out = rows
        .iter()
        .map(|row| {
            r.exprs
                .iter()
                .map(|e| crate::exec::eval::eval(e, row, &exec.env))
                .collect()
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Outcome::Rows {
        fields: fields_of(&r.columns),
        rows: out,
        tag: tag(n),
    })
}

/// Handle a CancelRequest for (process id, secret key); unknown keys are ignored, as in PostgreSQL.
pub fn cancel_request(pid: i32, secret: i32) {
    crate::shard::cancel_session((pid, secret));
}
