//! Backend messages the session sends, built from engine values with pgwire's encoders (and the
//! hand-written DataRow encoder for rows). Appends to the output buffer; never writes to a socket.

use crate::codec::{self, begin_data_row, end_data_row};
use crate::error::WireError;
use crate::types::{Format, wire_oid, wire_type_size, write_value};
use bytes::BytesMut;
use omendb_engine::{Field, TxnStatus};
use omendb_storage::types::Value;
use omendb_storage::types::datetime::TimeZone;
use pgwire::messages::data::{FieldDescription, NoData, ParameterDescription, RowDescription};
use pgwire::messages::extendedquery::{
    BindComplete, CloseComplete, ParseComplete, PortalSuspended,
};
use pgwire::messages::response::{
    CommandComplete, EmptyQueryResponse, ErrorResponse, NoticeResponse, ReadyForQuery,
    TransactionStatus,
};
use pgwire::messages::startup::ParameterStatus;

/// Encoders of fixed messages cannot fail (they are far below every size cap); the `Result`
/// pgwire returns is dropped only for those.
fn put<M: pgwire::messages::Message>(out: &mut BytesMut, message: &M) {
    let _ = codec::encode(out, message);
}

pub fn parse_complete(out: &mut BytesMut) {
    put(out, &ParseComplete::new());
}

pub fn bind_complete(out: &mut BytesMut) {
    put(out, &BindComplete::new());
}

pub fn close_complete(out: &mut BytesMut) {
    put(out, &CloseComplete::new());
}

pub fn no_data(out: &mut BytesMut) {
    put(out, &NoData::new());
}

pub fn portal_suspended(out: &mut BytesMut) {
    put(out, &PortalSuspended::new());
}

pub fn empty_query(out: &mut BytesMut) {
    put(out, &EmptyQueryResponse::new());
}

pub fn ready_for_query(out: &mut BytesMut, status: TxnStatus) {
    let status = match status {
        TxnStatus::Idle => TransactionStatus::Idle,
        TxnStatus::InBlock => TransactionStatus::Transaction,
        TxnStatus::Failed => TransactionStatus::Error,
    };
    put(out, &ReadyForQuery::new(status));
}

pub fn command_complete(out: &mut BytesMut, tag: &str) -> Result<(), WireError> {
    codec::encode(out, &CommandComplete::new(tag.to_string()))
}

pub fn parameter_status(out: &mut BytesMut, name: &str, value: &str) -> Result<(), WireError> {
    codec::encode(
        out,
        &ParameterStatus::new(name.to_string(), value.to_string()),
    )
}

pub fn parameter_description(out: &mut BytesMut, oids: Vec<u32>) -> Result<(), WireError> {
    codec::encode(out, &ParameterDescription::new(oids))
}

/// RowDescription for `fields`, each sent in `formats[i]` (text where none is given).
pub fn row_description(
    out: &mut BytesMut,
    fields: &[Field],
    formats: &[Format],
) -> Result<(), WireError> {
    let described = fields
        .iter()
        .enumerate()
        .map(|(i, f)| {
            FieldDescription::new(
                f.name.clone(),
                f.table_oid as i32,
                f.column_id,
                wire_oid(f.ty),
                wire_type_size(f.ty),
                f.ty.type_modifier(),
                formats.get(i).copied().unwrap_or(Format::Text).code(),
            )
        })
        .collect();
    codec::encode(out, &RowDescription::new(described))
}

/// One DataRow.
pub fn data_row(
    out: &mut BytesMut,
    row: &[Value],
    formats: &[Format],
    tz: &TimeZone,
    scratch: &mut String,
) {
    let start = begin_data_row(out, row.len());
    for (i, value) in row.iter().enumerate() {
        let format = formats.get(i).copied().unwrap_or(Format::Text);
        write_value(out, value, format, tz, scratch);
    }
    end_data_row(out, start);
}

/// ErrorResponse for `error`: severity, SQLSTATE, message, detail and hint.
pub fn error(out: &mut BytesMut, error: &WireError) {
    let severity = error.severity();
    let mut fields = vec![
        (b'S', severity.to_string()),
        (b'V', severity.to_string()),
        (b'C', error.sqlstate().to_string()),
        (b'M', error.to_string()),
    ];
    if let Some(detail) = error.detail() {
        fields.push((b'D', detail.to_string()));
    }
    if let Some(hint) = error.hint() {
        fields.push((b'H', hint.to_string()));
    }
    put(out, &ErrorResponse::new(fields));
}

/// NoticeResponse (NOTICE, WARNING, …).
pub fn notice(out: &mut BytesMut, severity: &str, sqlstate: &str, message: &str) {
    let fields = vec![
        (b'S', severity.to_string()),
        (b'V', severity.to_string()),
        (b'C', sqlstate.to_string()),
        (b'M', message.to_string()),
    ];
    put(out, &NoticeResponse::new(fields));
}

/// CopyInResponse: text format for the whole COPY and every column.
pub fn copy_in_response(out: &mut BytesMut, columns: usize) {
    let columns = i16::try_from(columns).unwrap_or(i16::MAX);
    put(
        out,
        &pgwire::messages::copy::CopyInResponse::new(0, columns, vec![0; columns as usize]),
    );
}
