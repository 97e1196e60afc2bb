//! Test harness for the protocol state machine: a scripted backend (a tiny fake engine driven by
//! the statement text), an in-memory duplex pipe, frontend message builders and a transcript of
//! backend messages rendered as short strings.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use futures_lite::{AsyncRead, AsyncWrite};
use omendb_engine::{EngineError, Field, Outcome, TxnStatus};
use omendb_storage::types::datetime::TimeZone;
use omendb_storage::types::{DataType, Value};
use omendb_wire::session::PreparedStatement;
use omendb_wire::{Backend, Connector};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

// ---------------------------------------------------------------- the scripted backend

/// What the backends of one test did, for assertions.
#[derive(Default, Debug, Clone)]
pub struct Log {
    pub startup_parameters: Vec<(String, String)>,
    pub connected: Vec<(String, String)>,
    pub cancels: Vec<(i32, i32)>,
    pub executed: Vec<(String, Vec<String>)>,
    pub failed_transactions: usize,
    pub syncs: usize,
}

/// A prepared statement of the script backend: its text decides what it does.
pub struct Prepared {
    param_types: Vec<DataType>,
    fields: Option<Rc<[Field]>>,
    sql: String,
}

impl PreparedStatement for Prepared {
    fn param_types(&self) -> &[DataType] {
        &self.param_types
    }
    fn fields(&self) -> Option<&Rc<[Field]>> {
        self.fields.as_ref()
    }
}

pub type SharedLog = Rc<RefCell<Log>>;

/// Statements, by their text:
/// - `rows N`: N rows of (i int4, s text) = (k, "row k"), tag `SELECT N`
/// - `fail CODE`: fails with that SQLSTATE
/// - `begin` / `commit` / `rollback`: the transaction block
/// - `set tz`: reports TimeZone=Europe/Berlin as changed
/// - `notice`: raises a NOTICE
/// - `echo TYPE…`: returns its parameters as one row, one column per parameter
/// - `insert`: a command, tag `INSERT 0 1`
/// - ``: empty
/// - `badprep`: fails to prepare (42601)
pub struct ScriptBackend {
    log: SharedLog,
    txn: TxnStatus,
    timezone: TimeZone,
    notices: Vec<(&'static str, &'static str, String)>,
    changed: Vec<(String, String)>,
    reject_parameter: Option<String>,
}

impl ScriptBackend {
    fn run(&mut self, sql: &str, params: Vec<Value>) -> Result<Outcome, EngineError> {
        let sql = sql.trim();
        self.log.borrow_mut().executed.push((
            sql.to_string(),
            params.iter().map(|v| format!("{v:?}")).collect(),
        ));
        let word = sql.split_whitespace().next().unwrap_or("");
        if self.txn == TxnStatus::Failed && !matches!(word, "commit" | "rollback") {
            return Err(EngineError::InFailedTransaction);
        }
        let result = self.statement(sql, word, params);
        if result.is_err() && self.txn == TxnStatus::InBlock {
            self.txn = TxnStatus::Failed;
        }
        result
    }

    fn statement(
        &mut self,
        sql: &str,
        word: &str,
        params: Vec<Value>,
    ) -> Result<Outcome, EngineError> {
        let arg = sql.split_whitespace().nth(1).unwrap_or("");
        match word {
            "" => Ok(Outcome::Empty),
            "rows" => {
                let n: i32 = arg.parse().unwrap();
                Ok(Outcome::Rows {
                    fields: rows_fields(),
                    rows: (1..=n)
                        .map(|k| vec![Value::Int32(k), Value::Text(format!("row {k}"))])
                        .collect(),
                    tag: format!("SELECT {n}"),
                })
            }
            "fail" => Err(EngineError::Sql {
                sqlstate: Box::leak(arg.to_string().into_boxed_str()),
                message: "forced failure".into(),
                detail: Some("some detail".into()),
                hint: Some("some hint".into()),
            }),
            "begin" => {
                self.txn = TxnStatus::InBlock;
                Ok(command("BEGIN"))
            }
            "commit" | "rollback" => {
                let tag = if word == "commit" && self.txn != TxnStatus::Failed {
                    "COMMIT"
                } else {
                    "ROLLBACK"
                };
                self.txn = TxnStatus::Idle;
                Ok(command(tag))
            }
            "set" => {
                self.changed
                    .push(("TimeZone".into(), "Europe/Berlin".into()));
                Ok(command("SET"))
            }
            "notice" => {
                self.notices
                    .push(("NOTICE", "00000", "just so you know".into()));
                Ok(command("DO"))
            }
            "insert" => Ok(command("INSERT 0 1")),
            "echo" => {
                let fields = echo_fields(sql, &vec![None; params.len()]);
                Ok(Outcome::Rows {
                    fields,
                    rows: vec![params],
                    tag: "SELECT 1".into(),
                })
            }
            _ => Err(EngineError::sql(
                "42601",
                format!("syntax error at or near \"{word}\""),
            )),
        }
    }
}

fn command(tag: &str) -> Outcome {
    Outcome::Command { tag: tag.into() }
}

fn field(name: &str, ty: DataType) -> Field {
    Field {
        name: name.into(),
        ty,
        table_oid: 0,
        column_id: 0,
    }
}

fn rows_fields() -> Rc<[Field]> {
    vec![field("i", DataType::Int32), field("s", DataType::Text)].into()
}

fn type_named(name: &str) -> DataType {
    match name {
        "bool" => DataType::Bool,
        "int2" => DataType::Int16,
        "int4" => DataType::Int32,
        "int8" => DataType::Int64,
        "float4" => DataType::Float32,
        "float8" => DataType::Float64,
        "numeric" => DataType::NUMERIC,
        "bytea" => DataType::Bytea,
        "date" => DataType::Date,
        "timestamp" => DataType::Timestamp,
        "timestamptz" => DataType::TimestampTz,
        "interval" => DataType::Interval,
        "varchar" => DataType::Varchar(None),
        _ => DataType::Text,
    }
}

/// `echo TYPE…`: the parameter types (the client's where given, else those named).
fn echo_types(sql: &str, client: &[Option<DataType>]) -> Vec<DataType> {
    sql.split_whitespace()
        .skip(1)
        .enumerate()
        .map(|(i, name)| {
            client
                .get(i)
                .copied()
                .flatten()
                .unwrap_or_else(|| type_named(name))
        })
        .collect()
}

fn echo_fields(sql: &str, client: &[Option<DataType>]) -> Rc<[Field]> {
    echo_types(sql, client)
        .into_iter()
        .enumerate()
        .map(|(i, ty)| field(&format!("p{}", i + 1), ty))
        .collect::<Vec<_>>()
        .into()
}

impl Backend for ScriptBackend {
    type Prepared = Prepared;

    fn backend_key(&self) -> (i32, i32) {
        (4242, 777)
    }

    fn setting(&self, name: &str) -> Option<String> {
        match name {
            "application_name" => self
                .log
                .borrow()
                .startup_parameters
                .iter()
                .rev()
                .find(|(k, _)| k == "application_name")
                .map(|(_, v)| v.clone()),
            _ => None,
        }
    }

    fn reported_settings(&self) -> Vec<(String, String)> {
        vec![("TimeZone".into(), self.timezone.name().into())]
    }

    fn apply_startup_parameter(&mut self, name: &str, value: &str) -> Result<(), EngineError> {
        if self.reject_parameter.as_deref() == Some(name) {
            return Err(EngineError::sql(
                "42704",
                format!("unrecognized configuration parameter \"{name}\""),
            ));
        }
        self.log
            .borrow_mut()
            .startup_parameters
            .push((name.to_string(), value.to_string()));
        Ok(())
    }

    async fn simple_query(&mut self, sql: &str) -> Vec<Result<Outcome, EngineError>> {
        let mut results = Vec::new();
        for statement in sql.split(';') {
            if statement.trim().is_empty() && !results.is_empty() {
                continue;
            }
            let result = self.run(statement, Vec::new());
            let failed = result.is_err();
            results.push(result);
            if failed {
                break;
            }
        }
        results
    }

    fn prepare(
        &mut self,
        sql: &str,
        param_types: &[Option<DataType>],
    ) -> Result<Rc<Prepared>, EngineError> {
        let word = sql.split_whitespace().next().unwrap_or("");
        let (param_types, fields) = match word {
            "badprep" => return Err(EngineError::sql("42601", "syntax error at end of input")),
            "echo" => (
                echo_types(sql, param_types),
                Some(echo_fields(sql, param_types)),
            ),
            "rows" => (Vec::new(), Some(rows_fields())),
            _ => (Vec::new(), None),
        };
        Ok(Rc::new(Prepared {
            param_types,
            fields,
            sql: sql.to_string(),
        }))
    }

    async fn execute(
        &mut self,
        stmt: &Prepared,
        params: Vec<Value>,
    ) -> Result<Outcome, EngineError> {
        let mut outcome = self.run(&stmt.sql, params)?;
        // echo reports the prepared types, as an engine would.
        if let (Outcome::Rows { fields, .. }, Some(prepared)) = (&mut outcome, &stmt.fields) {
            *fields = prepared.clone();
        }
        Ok(outcome)
    }

    fn fail_transaction(&mut self) {
        self.log.borrow_mut().failed_transactions += 1;
        if self.txn == TxnStatus::InBlock {
            self.txn = TxnStatus::Failed;
        }
    }

    async fn sync(&mut self) {
        self.log.borrow_mut().syncs += 1;
    }

    fn txn_status(&self) -> TxnStatus {
        self.txn
    }

    fn timezone(&self) -> &TimeZone {
        &self.timezone
    }

    fn take_changed_parameters(&mut self) -> Vec<(String, String)> {
        std::mem::take(&mut self.changed)
    }

    fn take_notices(&mut self) -> Vec<(&'static str, &'static str, String)> {
        std::mem::take(&mut self.notices)
    }
}

/// Makes script backends that share one log.
pub struct ScriptConnector {
    pub log: SharedLog,
    pub reject_parameter: Option<String>,
}

impl ScriptConnector {
    pub fn new() -> ScriptConnector {
        ScriptConnector {
            log: SharedLog::default(),
            reject_parameter: None,
        }
    }
}

impl Connector for ScriptConnector {
    type Backend = ScriptBackend;

    fn connect(&self, user: &str, database: &str) -> ScriptBackend {
        self.log
            .borrow_mut()
            .connected
            .push((user.to_string(), database.to_string()));
        ScriptBackend {
            log: self.log.clone(),
            txn: TxnStatus::Idle,
            timezone: TimeZone::utc(),
            notices: Vec::new(),
            changed: Vec::new(),
            reject_parameter: self.reject_parameter.clone(),
        }
    }

    fn cancel(&self, pid: i32, secret: i32) {
        self.log.borrow_mut().cancels.push((pid, secret));
    }
}

// ---------------------------------------------------------------- an in-memory duplex stream

#[derive(Default)]
struct Half {
    data: VecDeque<u8>,
    closed: bool,
    reader: Option<Waker>,
}

impl Half {
    fn close(&mut self) {
        self.closed = true;
        if let Some(w) = self.reader.take() {
            w.wake();
        }
    }
}

/// One end of an in-memory connection. Dropping it closes what it writes.
pub struct End {
    incoming: Rc<RefCell<Half>>,
    outgoing: Rc<RefCell<Half>>,
}

pub fn duplex() -> (End, End) {
    let (a, b) = (Rc::default(), Rc::default());
    (
        End {
            incoming: Rc::clone(&a),
            outgoing: Rc::clone(&b),
        },
        End {
            incoming: b,
            outgoing: a,
        },
    )
}

impl Drop for End {
    fn drop(&mut self) {
        self.outgoing.borrow_mut().close();
    }
}

impl AsyncRead for End {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut half = self.incoming.borrow_mut();
        if half.data.is_empty() {
            if half.closed {
                return Poll::Ready(Ok(0));
            }
            half.reader = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = buf.len().min(half.data.len());
        for (slot, byte) in buf.iter_mut().zip(half.data.drain(..n)) {
            *slot = byte;
        }
        Poll::Ready(Ok(n))
    }
}

impl AsyncWrite for End {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut half = self.outgoing.borrow_mut();
        if half.closed {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        half.data.extend(buf);
        if let Some(w) = half.reader.take() {
            w.wake();
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.outgoing.borrow_mut().close();
        Poll::Ready(Ok(()))
    }
}

// ---------------------------------------------------------------- the client side

pub struct Client {
    pub end: End,
    buf: Vec<u8>,
}

impl Client {
    pub fn new(end: End) -> Client {
        Client {
            end,
            buf: Vec::new(),
        }
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        use futures_lite::AsyncWriteExt;
        // The server may have closed already; the transcript will show why.
        let _ = self.end.write_all(bytes).await;
    }

    /// Stop sending (EOF for the server), keep receiving.
    pub async fn close_write(&mut self) {
        use futures_lite::AsyncWriteExt;
        let _ = self.end.close().await;
    }

    async fn fill(&mut self, want: usize) -> bool {
        use futures_lite::AsyncReadExt;
        while self.buf.len() < want {
            let mut chunk = [0u8; 4096];
            match self.end.read(&mut chunk).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
        true
    }

    /// One byte that is not a message (the answer to SSLRequest).
    pub async fn recv_byte(&mut self) -> Option<u8> {
        self.fill(1).await.then(|| self.buf.remove(0))
    }

    pub async fn recv_raw(&mut self) -> Option<(u8, Vec<u8>)> {
        if !self.fill(5).await {
            return None;
        }
        let len = i32::from_be_bytes(self.buf[1..5].try_into().unwrap()) as usize;
        if !self.fill(1 + len).await {
            return None;
        }
        let kind = self.buf[0];
        let body = self.buf[5..1 + len].to_vec();
        self.buf.drain(..1 + len);
        Some((kind, body))
    }

    pub async fn recv(&mut self) -> Option<String> {
        let (kind, body) = self.recv_raw().await?;
        Some(render(kind, &body))
    }

    /// Messages up to and including the next ReadyForQuery (or the end of the stream).
    pub async fn recv_until_ready(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(m) = self.recv().await {
            let ready = m.starts_with("Z ");
            out.push(m);
            if ready {
                break;
            }
        }
        out
    }

    pub async fn recv_all(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(m) = self.recv().await {
            out.push(m);
        }
        out
    }
}

/// A backend message as a short string: `Z I`, `C SELECT 2`, `D 1|row 1`, `E ERROR 42601 msg`.
pub fn render(kind: u8, body: &[u8]) -> String {
    let mut cur = Reader(body);
    match kind {
        b'R' => format!("R{}", cur.i32()),
        b'S' => {
            let name = cur.cstr();
            format!("S {name}={}", cur.cstr())
        }
        b'K' => format!("K {} {}", cur.i32(), cur.i32()),
        b'Z' => format!("Z {}", cur.u8() as char),
        b'C' => format!("C {}", cur.cstr()),
        b'T' => {
            let n = cur.i16();
            let cols: Vec<String> = (0..n)
                .map(|_| {
                    let name = cur.cstr();
                    let (_table, _col) = (cur.i32(), cur.i16());
                    let oid = cur.i32();
                    let (_len, _typmod) = (cur.i16(), cur.i32());
                    format!("{name}:{oid}:{}", cur.i16())
                })
                .collect();
            format!("T {}", cols.join(","))
        }
        b'D' => {
            let n = cur.i16();
            let values: Vec<String> = (0..n)
                .map(|_| {
                    let len = cur.i32();
                    if len < 0 {
                        "NULL".to_string()
                    } else {
                        printable(cur.bytes(len as usize))
                    }
                })
                .collect();
            format!("D {}", values.join("|"))
        }
        b'E' | b'N' => {
            let mut fields = std::collections::BTreeMap::new();
            loop {
                let code = cur.u8();
                if code == 0 {
                    break;
                }
                fields.insert(code, cur.cstr());
            }
            let mut s = format!(
                "{} {} {} {}",
                kind as char, fields[&b'S'], fields[&b'C'], fields[&b'M']
            );
            if let Some(d) = fields.get(&b'D') {
                s += &format!(" [detail: {d}]");
            }
            if let Some(h) = fields.get(&b'H') {
                s += &format!(" [hint: {h}]");
            }
            s
        }
        b't' => {
            let n = cur.i16();
            let oids: Vec<String> = (0..n).map(|_| cur.i32().to_string()).collect();
            format!("t {}", oids.join(","))
        }
        b'v' => {
            let version = cur.i32();
            let n = cur.i32();
            let opts: Vec<String> = (0..n).map(|_| cur.cstr()).collect();
            format!(
                "v {}.{} {}",
                version >> 16,
                version & 0xffff,
                opts.join(",")
            )
        }
        _ if body.is_empty() => (kind as char).to_string(),
        _ => format!("{} {}", kind as char, printable(body)),
    }
}

fn printable(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) if s.chars().all(|c| !c.is_control()) => s.to_string(),
        _ => format!(
            "\\x{}",
            bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
        ),
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn bytes(&mut self, n: usize) -> &'a [u8] {
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        head
    }
    fn u8(&mut self) -> u8 {
        self.bytes(1)[0]
    }
    fn i16(&mut self) -> i16 {
        i16::from_be_bytes(self.bytes(2).try_into().unwrap())
    }
    fn i32(&mut self) -> i32 {
        i32::from_be_bytes(self.bytes(4).try_into().unwrap())
    }
    fn cstr(&mut self) -> String {
        let nul = self.0.iter().position(|&b| b == 0).unwrap();
        let s = String::from_utf8(self.bytes(nul).to_vec()).unwrap();
        self.bytes(1);
        s
    }
}

// ---------------------------------------------------------------- frontend messages

pub fn msg(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![kind];
    m.extend_from_slice(&((body.len() + 4) as i32).to_be_bytes());
    m.extend_from_slice(body);
    m
}

fn cstr(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(s.as_bytes());
    out.push(0);
}

pub fn startup_version(major: u16, minor: u16, params: &[(&str, &str)]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&major.to_be_bytes());
    body.extend_from_slice(&minor.to_be_bytes());
    for (k, v) in params {
        cstr(&mut body, k);
        cstr(&mut body, v);
    }
    body.push(0);
    let mut packet = ((body.len() + 4) as i32).to_be_bytes().to_vec();
    packet.extend(body);
    packet
}

pub fn startup(params: &[(&str, &str)]) -> Vec<u8> {
    startup_version(3, 0, params)
}

fn special(code: i32, extra: &[i32]) -> Vec<u8> {
    let mut p = ((8 + 4 * extra.len()) as i32).to_be_bytes().to_vec();
    p.extend_from_slice(&code.to_be_bytes());
    for x in extra {
        p.extend_from_slice(&x.to_be_bytes());
    }
    p
}

pub fn ssl_request() -> Vec<u8> {
    special(80_877_103, &[])
}

pub fn gss_request() -> Vec<u8> {
    special(80_877_104, &[])
}

pub fn cancel_request(pid: i32, secret: i32) -> Vec<u8> {
    special(80_877_102, &[pid, secret])
}

pub fn query(sql: &str) -> Vec<u8> {
    let mut body = Vec::new();
    cstr(&mut body, sql);
    msg(b'Q', &body)
}

pub fn parse(name: &str, sql: &str, oids: &[u32]) -> Vec<u8> {
    let mut body = Vec::new();
    cstr(&mut body, name);
    cstr(&mut body, sql);
    body.extend_from_slice(&(oids.len() as u16).to_be_bytes());
    for oid in oids {
        body.extend_from_slice(&oid.to_be_bytes());
    }
    msg(b'P', &body)
}

pub fn bind(
    portal: &str,
    statement: &str,
    param_formats: &[i16],
    params: &[Option<&[u8]>],
    result_formats: &[i16],
) -> Vec<u8> {
    let mut body = Vec::new();
    cstr(&mut body, portal);
    cstr(&mut body, statement);
    body.extend_from_slice(&(param_formats.len() as u16).to_be_bytes());
    for f in param_formats {
        body.extend_from_slice(&f.to_be_bytes());
    }
    body.extend_from_slice(&(params.len() as u16).to_be_bytes());
    for p in params {
        match p {
            Some(bytes) => {
                body.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
                body.extend_from_slice(bytes);
            }
            None => body.extend_from_slice(&(-1i32).to_be_bytes()),
        }
    }
    body.extend_from_slice(&(result_formats.len() as u16).to_be_bytes());
    for f in result_formats {
        body.extend_from_slice(&f.to_be_bytes());
    }
    msg(b'B', &body)
}

pub fn describe(kind: u8, name: &str) -> Vec<u8> {
    let mut body = vec![kind];
    cstr(&mut body, name);
    msg(b'D', &body)
}

pub fn execute(portal: &str, max_rows: i32) -> Vec<u8> {
    let mut body = Vec::new();
    cstr(&mut body, portal);
    body.extend_from_slice(&max_rows.to_be_bytes());
    msg(b'E', &body)
}

pub fn close(kind: u8, name: &str) -> Vec<u8> {
    let mut body = vec![kind];
    cstr(&mut body, name);
    msg(b'C', &body)
}

pub fn sync() -> Vec<u8> {
    msg(b'S', b"")
}

pub fn flush() -> Vec<u8> {
    msg(b'H', b"")
}

pub fn terminate() -> Vec<u8> {
    msg(b'X', b"")
}

// ---------------------------------------------------------------- running a connection

/// Run one connection: the server side against `connector`, the client side as `client`.
pub fn connect<T, F, Fut>(
    config: &omendb_wire::WireConfig,
    connector: ScriptConnector,
    client: F,
) -> (T, Result<(), omendb_wire::WireError>, Log)
where
    F: FnOnce(Client) -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let log = connector.log.clone();
    let (server_end, client_end) = duplex();
    let (server, result) = futures_lite::future::block_on(futures_lite::future::zip(
        omendb_wire::session::run(server_end, &connector, config),
        client(Client::new(client_end)),
    ));
    let log = log.borrow().clone();
    (result, server, log)
}

/// Send all of `input`, close, and collect every backend message until the server closes.
pub fn exchange(input: &[u8]) -> (Vec<String>, Result<(), omendb_wire::WireError>, Log) {
    let config = omendb_wire::WireConfig::new(omendb_wire::auth::AuthConfig::trust());
    let input = input.to_vec();
    connect(&config, ScriptConnector::new(), |mut c| async move {
        c.send(&input).await;
        c.close_write().await;
        c.recv_all().await
    })
}

/// A trust startup for user `u`, then `more`.
pub fn session(more: &[&[u8]]) -> Vec<u8> {
    let mut input = startup(&[("user", "u")]);
    for m in more {
        input.extend_from_slice(m);
    }
    input
}

/// The transcript after the first ReadyForQuery.
pub fn after_startup(transcript: &[String]) -> Vec<String> {
    let first = transcript.iter().position(|m| m.starts_with("Z ")).unwrap();
    transcript[first + 1..].to_vec()
}
