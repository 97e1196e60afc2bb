//! The per-connection protocol state machine, over any async byte stream and any [`Backend`].
//!
//! ```text
//!  Startup ──SSLRequest/GSSENCRequest──▶ 'N' ──▶ Startup
//!     │ CancelRequest ──▶ forward to the engine, close
//!     ▼ StartupMessage
//!  Authenticating (trust, or SCRAM-SHA-256: SASL → SASLContinue → SASLFinal; 28P01 closes)
//!     ▼ AuthenticationOk, ParameterStatus…, BackendKeyData, ReadyForQuery
//!  Ready ◀──────────────────────────────────────────────┐
//!     │ Query ──▶ results of each statement ──▶ ReadyForQuery
//!     │ Parse/Bind/Describe/Execute/Close ──▶ replies (no ReadyForQuery)
//!     │     └─ error ──▶ ErrorResponse, Skipping: every message up to Sync is discarded
//!     │ Sync ──▶ ReadyForQuery (leaves Skipping)  ─────────┘
//!     │ Flush ──▶ write the output now
//!     ▼ Terminate / end of stream / FATAL error ──▶ close
//! ```
//!
//! A statement-level error is reported and the connection goes on; a broken byte stream
//! (unknown message type, impossible length) is reported as FATAL and closes this connection
//! only. Nothing here panics on input: every length is checked before it is trusted. The session
//! must never parse SQL or touch storage; all of that is the backend's.

mod backend;
mod extended;
mod io;
mod reply;
pub mod startup;

pub use backend::{Backend, Connector, EngineConnector, PreparedStatement};
pub use io::FLUSH_AT;

use crate::auth::AuthConfig;
use crate::codec::{Decoded, FrontendMessage};
use crate::error::WireError;
use crate::types::Format;
use extended::Extended;
use futures_lite::{AsyncRead, AsyncWrite};
use io::Io;
use omendb_engine::copy::CopyIn;
use omendb_engine::{Field, Outcome};
use omendb_storage::types::Value;

/// What every connection of a server shares.
#[derive(Debug)]
pub struct WireConfig {
    pub auth: AuthConfig,
    /// `server_version` as reported at startup (unless the engine reports its own).
    pub server_version: String,
}

impl WireConfig {
    pub fn new(auth: AuthConfig) -> WireConfig {
        WireConfig {
            auth,
            server_version: default_server_version(),
        }
    }
}

/// "15.0 (OmenDB x.y.z)": clients parse the leading PostgreSQL version to pick features.
pub fn default_server_version() -> String {
    format!("15.0 (OmenDB {})", env!("CARGO_PKG_VERSION"))
}

/// Serve one connection to its end. Errors are reported to the client when it can still hear
/// them; the returned error says why the connection ended (for the server's log).
pub async fn run<S, C>(stream: S, connector: &C, config: &WireConfig) -> Result<(), WireError>
where
    S: AsyncRead + AsyncWrite + Unpin,
    C: Connector,
{
    let mut io = Io::new(stream);
    let result = serve(&mut io, connector, config).await;
    if let Err(e) = &result
        && !matches!(e, WireError::Io(_))
    {
        reply::error(&mut io.out, e);
    }
    // Replies to what came before a Terminate (or the end of the stream) still go out.
    let _ = io.flush().await;
    result
}

async fn serve<S, C>(io: &mut Io<S>, connector: &C, config: &WireConfig) -> Result<(), WireError>
where
    S: AsyncRead + AsyncWrite + Unpin,
    C: Connector,
{
    let Some(request) = startup::read_startup(io, connector).await? else {
        return Ok(());
    };
    if !startup::authenticate(io, config, &request.user).await? {
        return Ok(());
    }
    crate::codec::encode(&mut io.out, &pgwire::messages::startup::Authentication::Ok)?;
    let mut backend = connector.connect(&request.user, &request.database);
    startup::start_session(&mut io.out, &mut backend, config, &request)?;
    io.flush().await?;
    let mut session = Session {
        io,
        backend,
        extended: Extended::new(),
        scratch: String::new(),
    };
    session.serve().await
}

/// A connection past startup.
struct Session<'io, S, B: Backend> {
    io: &'io mut Io<S>,
    backend: B,
    extended: Extended<B::Prepared>,
    /// Reused for each value's text form.
    scratch: String,
}

/// Extended-protocol message types: an error in one of them starts skipping until Sync.
fn is_extended(kind: u8) -> bool {
    matches!(kind, b'P' | b'B' | b'D' | b'E' | b'C' | b'H' | b'S')
}

impl<S: AsyncRead + AsyncWrite + Unpin, B: Backend> Session<'_, S, B> {
    async fn serve(&mut self) -> Result<(), WireError> {
        loop {
            let message = match self.io.next().await? {
                None => return Ok(()),
                Some(Decoded::Message(message)) => message,
                Some(Decoded::Malformed { kind, error }) => {
                    self.malformed(kind, error);
                    continue;
                }
            };
            if self.extended.skipping
                && !matches!(
                    message,
                    FrontendMessage::Sync(_) | FrontendMessage::Terminate(_)
                )
            {
                continue;
            }
            match message {
                FrontendMessage::Query(query) => self.simple_query(&query.query).await?,
                FrontendMessage::Sync(_) => self.sync().await,
                FrontendMessage::Flush(_) => self.io.flush().await?,
                FrontendMessage::Terminate(_) => return Ok(()),
                // Outside COPY, PostgreSQL ignores these for the convenience of clients.
                FrontendMessage::CopyData(_)
                | FrontendMessage::CopyDone(_)
                | FrontendMessage::CopyFail(_) => {}
                FrontendMessage::Parse(_)
                | FrontendMessage::Bind(_)
                | FrontendMessage::Describe(_)
                | FrontendMessage::Execute(_)
                | FrontendMessage::Close(_) => {
                    if let Err(e) = self.extended_message(message).await {
                        if e.is_fatal() {
                            return Err(e);
                        }
                        self.extended_error(&e);
                    }
                }
                _ => {
                    return Err(WireError::Protocol(
                        "unexpected message type after startup".into(),
                    ));
                }
            }
        }
    }

    /// A well-framed message with a bad body: an ERROR, not the end of the connection. While
    /// skipping to Sync, bodies are not looked at, as in PostgreSQL.
    fn malformed(&mut self, kind: u8, error: WireError) {
        if self.extended.skipping && kind != b'S' {
            return;
        }
        if is_extended(kind) {
            self.extended_error(&error);
        } else {
            reply::error(&mut self.io.out, &error);
            reply::ready_for_query(&mut self.io.out, self.backend.txn_status());
            self.io.flush_soon();
        }
    }

    /// An extended-protocol message failed: report it, fail the transaction block, skip to Sync.
    fn extended_error(&mut self, error: &WireError) {
        self.write_notices();
        reply::error(&mut self.io.out, error);
        self.backend.fail_transaction();
        self.extended.skipping = true;
    }

    async fn sync(&mut self) {
        self.extended.skipping = false;
        self.backend.sync().await;
        self.write_notices();
        self.extended.end_of_sync(self.backend.txn_status());
        self.write_parameter_changes();
        reply::ready_for_query(&mut self.io.out, self.backend.txn_status());
        self.io.flush_soon();
    }

    /// A simple-query message: each statement's results, then ReadyForQuery.
    async fn simple_query(&mut self, sql: &str) -> Result<(), WireError> {
        self.extended.forget_unnamed();
        match self.backend.copy_start(sql) {
            Ok(Some(copy)) => return self.copy_in(copy).await,
            Ok(None) => {}
            Err(e) => {
                self.backend.fail_transaction();
                reply::error(&mut self.io.out, &WireError::Engine(e));
                reply::ready_for_query(&mut self.io.out, self.backend.txn_status());
                self.io.flush_soon();
                return Ok(());
            }
        }
        let results = self.backend.simple_query(sql).await;
        self.write_notices();
        if results.is_empty() {
            reply::empty_query(&mut self.io.out);
        }
        for result in results {
            match result {
                Ok(outcome) => self.write_outcome(outcome).await?,
                Err(e) => reply::error(&mut self.io.out, &WireError::Engine(e)),
            }
        }
        self.write_parameter_changes();
        reply::ready_for_query(&mut self.io.out, self.backend.txn_status());
        self.io.flush_soon();
        Ok(())
    }

    /// COPY FROM STDIN: CopyInResponse, then CopyData until CopyDone or CopyFail (Flush and
    /// Sync are ignored meanwhile, as PostgreSQL does), then the result and ReadyForQuery.
    async fn copy_in(&mut self, copy: CopyIn) -> Result<(), WireError> {
        let Some(result) = self.copy_loop(copy).await? else {
            return Ok(());
        };
        self.write_notices();
        match result {
            Ok(outcome) => self.write_outcome(outcome).await?,
            Err(e) => reply::error(&mut self.io.out, &e),
        }
        self.write_parameter_changes();
        reply::ready_for_query(&mut self.io.out, self.backend.txn_status());
        self.io.flush_soon();
        Ok(())
    }

    /// Copy-in mode: CopyInResponse, then CopyData until CopyDone or CopyFail. `None` when the
    /// client went away (dropping the backend rolls the COPY back).
    pub(super) async fn copy_loop(
        &mut self,
        mut copy: CopyIn,
    ) -> Result<Option<Result<Outcome, WireError>>, WireError> {
        reply::copy_in_response(&mut self.io.out, copy.columns);
        self.io.flush().await?;
        let result = loop {
            let message = match self.io.next().await? {
                None => return Ok(None),
                Some(Decoded::Message(m)) => m,
                Some(Decoded::Malformed { error, .. }) => {
                    break Err(WireError::Protocol(format!("during COPY: {error}")));
                }
            };
            match message {
                FrontendMessage::CopyData(d) => self.backend.copy_data(&mut copy, d.data).await,
                FrontendMessage::CopyDone(_) => {
                    break self
                        .backend
                        .copy_done(copy)
                        .await
                        .map_err(WireError::Engine);
                }
                FrontendMessage::CopyFail(f) => {
                    break Err(WireError::Engine(
                        self.backend.copy_fail(copy, &f.message).await,
                    ));
                }
                FrontendMessage::Flush(_) | FrontendMessage::Sync(_) => {}
                FrontendMessage::Terminate(_) => return Ok(None),
                _ => {
                    let e = self.backend.copy_fail(copy, "unexpected message").await;
                    break Err(WireError::Protocol(format!(
                        "unexpected message type during COPY from stdin ({e})"
                    )));
                }
            }
        };
        Ok(Some(result))
    }

    /// A whole statement result in text format, as simple query sends it.
    async fn write_outcome(&mut self, outcome: Outcome) -> Result<(), WireError> {
        match outcome {
            Outcome::Rows { fields, rows, tag } => {
                reply::row_description(&mut self.io.out, &fields, &[])?;
                self.write_rows(&fields, &rows, &[]).await?;
                reply::command_complete(&mut self.io.out, &tag)
            }
            Outcome::Command { tag } => reply::command_complete(&mut self.io.out, &tag),
            Outcome::Empty => {
                reply::empty_query(&mut self.io.out);
                Ok(())
            }
        }
    }

    /// DataRows, streamed out whenever the buffer grows large.
    async fn write_rows(
        &mut self,
        fields: &[Field],
        rows: &[Vec<Value>],
        formats: &[Format],
    ) -> Result<(), WireError> {
        // Clients decode binary values by the RowDescription's type: the engine must send what it
        // described.
        debug_assert!(rows.iter().all(|r| {
            r.len() == fields.len()
                && r.iter()
                    .zip(fields)
                    .all(|(v, f)| v.is_null() || crate::types::same_wire_type(v.data_type(), f.ty))
        }));
        let tz = self.backend.timezone();
        for row in rows {
            reply::data_row(&mut self.io.out, row, formats, tz, &mut self.scratch);
            self.io.flush_if_large().await?;
        }
        Ok(())
    }

    fn write_notices(&mut self) {
        for (severity, sqlstate, message) in self.backend.take_notices() {
            reply::notice(&mut self.io.out, severity, sqlstate, &message);
        }
    }

    fn write_parameter_changes(&mut self) {
        // DEALLOCATE run as SQL drops protocol-level prepared statements.
        for name in self.backend.take_deallocations() {
            self.extended.deallocate(name.as_deref());
        }
        for (name, value) in self.backend.take_changed_parameters() {
            // A setting too long for ParameterStatus is not reported rather than failing the
            // statement that set it.
            let _ = reply::parameter_status(&mut self.io.out, &name, &value);
        }
    }
}
