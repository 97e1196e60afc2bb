//! The extended query protocol: prepared statements, portals, row-limited execution.
//!
//! A portal runs its statement on its first Execute and keeps the materialised rows and its
//! position, so an Execute with a row limit sends the next rows and PortalSuspended, and the next
//! Execute resumes where it stopped. The unnamed statement and portal are replaced by each
//! Parse/Bind; portals end with their transaction (at Sync outside a block), as in PostgreSQL.

use super::{Backend, PreparedStatement, Session, reply};
use crate::codec::FrontendMessage;
use crate::error::WireError;
use crate::types::{Format, decode_param, expand_formats, wire_oid};
use futures_lite::{AsyncRead, AsyncWrite};
use omendb_engine::{Field, Outcome, TxnStatus};
use omendb_storage::types::{DataType, Value};
use pgwire::messages::extendedquery::{Bind, Describe, Execute, Parse};
use std::collections::HashMap;
use std::rc::Rc;

/// Close/Describe target: a prepared statement.
const TARGET_STATEMENT: u8 = b'S';

/// Statements and portals of one connection.
pub(super) struct Extended<P> {
    statements: HashMap<String, Rc<P>>,
    portals: HashMap<String, Portal<P>>,
    /// An error happened: discard messages until Sync.
    pub skipping: bool,
}

struct Portal<P> {
    statement: Rc<P>,
    /// One format per result column.
    formats: Vec<Format>,
    state: PortalState,
}

enum PortalState {
    /// Bound, not executed yet.
    Ready(Vec<Value>),
    /// Executed; rows from `next` on are still to be sent.
    Rows {
        fields: Rc<[Field]>,
        rows: Vec<Vec<Value>>,
        next: usize,
        tag: String,
    },
    /// Ran to completion; executing it again reports this tag.
    Done(String),
}

impl<P: PreparedStatement> Extended<P> {
    pub fn new() -> Extended<P> {
        Extended {
            statements: HashMap::new(),
            portals: HashMap::new(),
            skipping: false,
        }
    }

    /// SQL `DEALLOCATE name` (or `ALL` with `None`) drops named statements.
    pub fn deallocate(&mut self, name: Option<&str>) {
        match name {
            Some(name) => {
                self.statements.remove(name);
            }
            None => self.statements.retain(|name, _| name.is_empty()),
        }
    }

    /// A simple Query drops the unnamed statement and portal, as PostgreSQL does.
    pub fn forget_unnamed(&mut self) {
        self.statements.remove("");
        self.portals.remove("");
    }

    /// Sync ends the implicit transaction: portals outside a block end with it.
    pub fn end_of_sync(&mut self, status: TxnStatus) {
        if status == TxnStatus::Idle {
            self.portals.clear();
        }
    }

    fn statement(&self, name: &str) -> Result<Rc<P>, WireError> {
        self.statements.get(name).cloned().ok_or_else(|| {
            let message = if name.is_empty() {
                "unnamed prepared statement does not exist".to_string()
            } else {
                format!("prepared statement \"{name}\" does not exist")
            };
            WireError::sql("26000", message)
        })
    }

    fn portal(&mut self, name: &str) -> Result<&mut Portal<P>, WireError> {
        self.portals
            .get_mut(name)
            .ok_or_else(|| WireError::sql("34000", format!("portal \"{name}\" does not exist")))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin, B: Backend> Session<'_, S, B> {
    pub(super) async fn extended_message(
        &mut self,
        message: FrontendMessage,
    ) -> Result<(), WireError> {
        match message {
            FrontendMessage::Parse(parse) => self.parse(parse),
            FrontendMessage::Bind(bind) => self.bind(bind),
            FrontendMessage::Describe(describe) => self.describe(describe),
            FrontendMessage::Execute(execute) => self.execute(execute).await,
            FrontendMessage::Close(close) => {
                let name = close.name.unwrap_or_default();
                if close.target_type == TARGET_STATEMENT {
                    self.extended.statements.remove(&name);
                } else {
                    self.extended.portals.remove(&name);
                }
                reply::close_complete(&mut self.io.out);
                Ok(())
            }
            _ => Err(WireError::Protocol(
                "not an extended-protocol message".into(),
            )),
        }
    }

    fn parse(&mut self, parse: Parse) -> Result<(), WireError> {
        let name = parse.name.unwrap_or_default();
        if !name.is_empty() && self.extended.statements.contains_key(&name) {
            return Err(WireError::sql(
                "42P05",
                format!("prepared statement \"{name}\" already exists"),
            ));
        }
        let types = parse
            .type_oids
            .iter()
            .map(|&oid| param_type(oid))
            .collect::<Result<Vec<_>, _>>()?;
        let prepared = self.backend.prepare(&parse.query, &types);
        self.write_notices();
        self.extended.statements.insert(name, prepared?);
        reply::parse_complete(&mut self.io.out);
        Ok(())
    }

    fn bind(&mut self, bind: Bind) -> Result<(), WireError> {
        let statement_name = bind.statement_name.unwrap_or_default();
        let statement = self.extended.statement(&statement_name)?;
        let portal_name = bind.portal_name.unwrap_or_default();
        if !portal_name.is_empty() && self.extended.portals.contains_key(&portal_name) {
            return Err(WireError::sql(
                "42P03",
                format!("portal \"{portal_name}\" already exists"),
            ));
        }
        let expected = statement.param_types().len();
        if bind.parameters.len() != expected {
            return Err(WireError::Malformed(format!(
                "bind message supplies {} parameters, but prepared statement \"{statement_name}\" requires {expected}",
                bind.parameters.len()
            )));
        }
        let param_formats = expand_formats(&bind.parameter_format_codes, expected, "parameter")?;
        let tz = self.backend.timezone();
        let params = statement
            .param_types()
            .iter()
            .zip(&bind.parameters)
            .zip(param_formats)
            .enumerate()
            .map(|(i, ((&ty, bytes), format))| {
                decode_param(ty, format, bytes.as_deref(), i + 1, tz)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let columns = statement.fields().map_or(0, |f| f.len());
        // A statement without result columns ignores result formats, whatever their number.
        let formats = if columns == 0 {
            Vec::new()
        } else {
            expand_formats(&bind.result_column_format_codes, columns, "result")?
        };
        let portal = Portal {
            statement,
            formats,
            state: PortalState::Ready(params),
        };
        self.extended.portals.insert(portal_name, portal);
        reply::bind_complete(&mut self.io.out);
        Ok(())
    }

    fn describe(&mut self, describe: Describe) -> Result<(), WireError> {
        let name = describe.name.unwrap_or_default();
        let out = &mut self.io.out;
        if describe.target_type == TARGET_STATEMENT {
            let statement = self.extended.statement(&name)?;
            let oids = statement
                .param_types()
                .iter()
                .map(|&t| wire_oid(t))
                .collect();
            reply::parameter_description(out, oids)?;
            match statement.fields() {
                Some(fields) => reply::row_description(out, fields, &[])?,
                None => reply::no_data(out),
            }
        } else {
            let portal = self.extended.portal(&name)?;
            match portal.statement.fields() {
                Some(fields) => reply::row_description(out, fields, &portal.formats)?,
                None => reply::no_data(out),
            }
        }
        Ok(())
    }

    async fn execute(&mut self, execute: Execute) -> Result<(), WireError> {
        let name = execute.name.unwrap_or_default();
        self.extended.portal(&name)?;
        let Some(mut portal) = self.extended.portals.remove(&name) else {
            return Ok(());
        };
        let result = self.run_portal(&mut portal, execute.max_rows).await;
        // A portal whose statement failed is gone, as PostgreSQL drops failed portals.
        if result.is_ok() {
            self.extended.portals.insert(name, portal);
        }
        result
    }

    /// Run the portal's statement on its first Execute; then send its rows.
    async fn run_portal(
        &mut self,
        portal: &mut Portal<B::Prepared>,
        max_rows: i32,
    ) -> Result<(), WireError> {
        if matches!(portal.state, PortalState::Ready(_))
            && let Some(sql) = portal.statement.copy_sql()
        {
            // Extended-protocol COPY: copy-in mode now, CommandComplete after CopyDone; the
            // client's Sync (sent after CopyDone) brings ReadyForQuery. An error goes the
            // extended way: skip to Sync.
            let sql = sql.to_string();
            let copy = self
                .backend
                .copy_start(&sql)?
                .ok_or_else(|| WireError::Protocol("COPY statement is no longer a COPY".into()))?;
            let Some(result) = self.copy_loop(copy).await? else {
                return Err(WireError::Protocol("client went away during COPY".into()));
            };
            self.write_notices();
            self.write_parameter_changes();
            let tag = match result? {
                Outcome::Command { tag } => tag,
                _ => String::from("COPY"),
            };
            reply::command_complete(&mut self.io.out, &tag)?;
            portal.state = PortalState::Done(tag);
            return Ok(());
        }
        if let PortalState::Ready(params) = &mut portal.state {
            let params = std::mem::take(params);
            let outcome = self.backend.execute(&portal.statement, params).await;
            self.write_notices();
            self.write_parameter_changes();
            match outcome? {
                Outcome::Rows { fields, rows, tag } => {
                    portal.state = PortalState::Rows {
                        fields,
                        rows,
                        next: 0,
                        tag,
                    };
                }
                Outcome::Command { tag } => {
                    reply::command_complete(&mut self.io.out, &tag)?;
                    portal.state = PortalState::Done(tag);
                    return Ok(());
                }
                Outcome::Empty => {
                    reply::empty_query(&mut self.io.out);
                    portal.state = PortalState::Done(String::new());
                    return Ok(());
                }
            }
        }
        self.send_rows_of(portal, max_rows).await
    }

    /// Send up to `max_rows` (all when not positive) of an executed portal's rows, then
    /// PortalSuspended if rows remain or CommandComplete if not.
    async fn send_rows_of(
        &mut self,
        portal: &mut Portal<B::Prepared>,
        max_rows: i32,
    ) -> Result<(), WireError> {
        let (fields, rows, next, tag) = match &mut portal.state {
            PortalState::Rows {
                fields,
                rows,
                next,
                tag,
            } => (fields, rows, next, tag),
            PortalState::Done(tag) if tag.is_empty() => {
                reply::empty_query(&mut self.io.out);
                return Ok(());
            }
            PortalState::Done(tag) => {
                let tag = rows_tag(tag, 0);
                return reply::command_complete(&mut self.io.out, &tag);
            }
            PortalState::Ready(_) => return Ok(()),
        };
        let remaining = rows.len() - *next;
        let count = match usize::try_from(max_rows) {
            Ok(limit) if limit > 0 => limit.min(remaining),
            _ => remaining,
        };
        let batch = &rows[*next..*next + count];
        self.write_rows(fields, batch, &portal.formats).await?;
        *next += count;
        if *next < rows.len() {
            reply::portal_suspended(&mut self.io.out);
            return Ok(());
        }
        // The whole result went out in one Execute: the engine's tag as it is; the last piece of
        // a suspended portal: PostgreSQL counts the rows of this Execute only.
        let tag = if count == rows.len() {
            std::mem::take(tag)
        } else {
            rows_tag(tag, count)
        };
        reply::command_complete(&mut self.io.out, &tag)?;
        portal.state = PortalState::Done(tag);
        Ok(())
    }
}

/// A Parse parameter type: 0 (and `unknown`) leave it to inference; an OID we do not have is
/// 42704 as in PostgreSQL.
fn param_type(oid: u32) -> Result<Option<DataType>, WireError> {
    match DataType::from_oid(oid) {
        Some(DataType::Unknown) => Ok(None),
        Some(ty) => Ok(Some(ty)),
        None => Err(WireError::sql(
            "42704",
            format!("type with OID {oid} does not exist"),
        )),
    }
}

/// `SELECT n` with another count; other tags unchanged.
fn rows_tag(tag: &str, count: usize) -> String {
    match tag.strip_prefix("SELECT ") {
        Some(_) => format!("SELECT {count}"),
        None => tag.to_string(),
    }
}
