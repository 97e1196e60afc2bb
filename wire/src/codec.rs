//! Framing and decoding of frontend messages, encoding of backend messages, around `pgwire`'s
//! message codec.
//!
//! Every frontend message is framed here first: its length is checked against a per-type cap
//! (1 GiB for queries and binds as in PostgreSQL, 10 000 bytes for startup packets and small
//! control messages, 64 KiB for authentication tokens) before any byte of its body is awaited, and
//! nothing is ever allocated from a declared length. `pgwire`'s body decoders trust the layout
//! (a short body makes `bytes` panic, a wrong count reads into the next message), so each body is
//! walked with a bounds-checked [`Cursor`] first and only then handed to `pgwire`, isolated in its
//! own buffer. This module must never touch a socket or know about sessions.

use crate::error::WireError;
use bytes::{BufMut, BytesMut};
use pgwire::messages::startup::SslRequest;
use pgwire::messages::{DecodeContext, Message, PgWireFrontendMessage, ProtocolVersion};

pub use pgwire::messages::PgWireFrontendMessage as FrontendMessage;

/// PostgreSQL's PQ_LARGE_MESSAGE_LIMIT: the longest query, Parse, Bind or CopyData message.
pub const MAX_LARGE_MESSAGE: usize = 0x3fff_ffff - 1;
/// PostgreSQL's PQ_SMALL_MESSAGE_LIMIT: every other message, and the startup packet.
pub const MAX_SMALL_MESSAGE: usize = 10_000;
/// PostgreSQL's PG_MAX_AUTH_TOKEN_LENGTH: password and SASL messages.
pub const MAX_AUTH_MESSAGE: usize = 65_535;
/// A startup-phase packet: length and request code.
const STARTUP_HEADER: usize = 8;
/// A regular message's header: type byte and length.
const HEADER: usize = 5;
/// Bytes the length field counts for itself.
const LENGTH_FIELD: usize = 4;

const CANCEL_REQUEST_CODE: i32 = 80_877_102;
const GSSENC_REQUEST_CODE: i32 = 80_877_104;
const CANCEL_REQUEST_LEN: usize = 16;
/// The only major protocol version there is.
pub const PROTOCOL_MAJOR: u16 = 3;

/// What one frame turned out to be.
#[derive(Debug)]
pub enum Decoded {
    Message(FrontendMessage),
    /// The frame (of message type `kind`) was intact but its body was not: report the error
    /// and go on.
    Malformed {
        kind: u8,
        error: WireError,
    },
}

/// Splits a byte stream into frontend messages, in the startup phase or after it.
#[derive(Debug)]
pub struct Decoder {
    ctx: DecodeContext,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new()
    }
}

impl Decoder {
    /// A decoder for a fresh connection (expecting SSLRequest, GSSENCRequest, CancelRequest or
    /// StartupMessage).
    pub fn new() -> Decoder {
        Decoder {
            ctx: DecodeContext::new(ProtocolVersion::PROTOCOL3_0),
        }
    }

    /// Whether the startup packet has not arrived yet.
    pub fn in_startup(&self) -> bool {
        self.ctx.awaiting_frontend_startup
    }

    /// The whole length of the regular message at the front of `buf` once its header is in
    /// and valid (`None` before that, during startup, or for a header `decode` will refuse):
    /// room a read can make once instead of growing the buffer a read at a time.
    pub fn frame_len(&self, buf: &BytesMut) -> Option<usize> {
        if self.ctx.awaiting_frontend_startup {
            return None;
        }
        let max_len = max_message_len(*buf.first()?)?;
        let len = usize::try_from(peek_i32(buf, 1)?).ok()?;
        (LENGTH_FIELD..=max_len).contains(&len).then_some(1 + len)
    }

    /// Take the next complete message off `buf`. `Ok(None)`: more bytes are needed. `Err`: the
    /// stream is broken beyond repair (the connection must close).
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Decoded>, WireError> {
        if self.ctx.awaiting_frontend_startup {
            self.decode_startup(buf)
        } else {
            self.decode_regular(buf)
        }
    }

    fn decode_startup(&mut self, buf: &mut BytesMut) -> Result<Option<Decoded>, WireError> {
        let Some(len) = peek_i32(buf, 0) else {
            return Ok(None);
        };
        let len = usize::try_from(len).unwrap_or(0);
        if !(STARTUP_HEADER..=MAX_SMALL_MESSAGE).contains(&len) {
            return Err(WireError::Protocol(
                "invalid length of startup packet".into(),
            ));
        }
        if buf.len() < len {
            return Ok(None);
        }
        let mut frame = buf.split_to(len);
        let code = peek_i32(&frame, LENGTH_FIELD).unwrap_or(0);
        match code {
            SslRequest::BODY_MAGIC_NUMBER | GSSENC_REQUEST_CODE => {
                if len != STARTUP_HEADER {
                    return Err(WireError::Protocol("invalid length of SSL request".into()));
                }
                // pgwire recognises both requests only while it awaits SSL negotiation.
                self.ctx.awaiting_frontend_ssl = true;
            }
            CANCEL_REQUEST_CODE => {
                if len != CANCEL_REQUEST_LEN {
                    return Err(WireError::Protocol(
                        "invalid length of cancel request".into(),
                    ));
                }
                self.ctx.awaiting_frontend_ssl = false;
            }
            _ => {
                check_startup_packet(code, &frame[STARTUP_HEADER..])?;
                self.ctx.awaiting_frontend_ssl = false;
            }
        }
        let message = self.pgwire_decode(&mut frame)?;
        if matches!(
            message,
            FrontendMessage::Startup(_) | FrontendMessage::CancelRequest(_)
        ) {
            self.ctx.awaiting_frontend_startup = false;
        }
        Ok(Some(Decoded::Message(message)))
    }

    fn decode_regular(&mut self, buf: &mut BytesMut) -> Result<Option<Decoded>, WireError> {
        let Some(&kind) = buf.first() else {
            return Ok(None);
        };
        let Some(max_len) = max_message_len(kind) else {
            return Err(WireError::Protocol(format!(
                "invalid frontend message type {kind}"
            )));
        };
        let Some(len) = peek_i32(buf, 1) else {
            return Ok(None);
        };
        let len = usize::try_from(len).unwrap_or(0);
        if !(LENGTH_FIELD..=max_len).contains(&len) {
            return Err(WireError::Protocol(format!(
                "invalid message length {len} for message type {kind}"
            )));
        }
        if buf.len() < 1 + len {
            return Ok(None);
        }
        let mut frame = buf.split_to(1 + len);
        if let Err(error) = check_body(kind, &frame[HEADER..]) {
            return Ok(Some(Decoded::Malformed { kind, error }));
        }
        match self.pgwire_decode(&mut frame) {
            Ok(message) => Ok(Some(Decoded::Message(message))),
            Err(e) => Ok(Some(Decoded::Malformed {
                kind,
                error: WireError::Malformed(e.to_string()),
            })),
        }
    }

    /// Decode one complete, validated frame with pgwire. `SslNegotiation(None)` consumes nothing
    /// and only says "not an SSL request": switch the flag and decode again.
    fn pgwire_decode(&mut self, frame: &mut BytesMut) -> Result<FrontendMessage, WireError> {
        let message = match PgWireFrontendMessage::decode(frame, &self.ctx) {
            Ok(Some(FrontendMessage::SslNegotiation(
                pgwire::messages::SslNegotiationMetaMessage::None,
            ))) => {
                self.ctx.awaiting_frontend_ssl = false;
                PgWireFrontendMessage::decode(frame, &self.ctx)
            }
            other => other,
        };
        match message {
            Ok(Some(message)) => Ok(message),
            Ok(None) => Err(WireError::Protocol("incomplete message".into())),
            Err(e) => Err(WireError::Protocol(e.to_string())),
        }
    }
}

/// The length cap of each frontend message type; `None` for a type that does not exist.
fn max_message_len(kind: u8) -> Option<usize> {
    match kind {
        b'Q' | b'P' | b'B' | b'd' | b'F' => Some(MAX_LARGE_MESSAGE),
        b'p' => Some(MAX_AUTH_MESSAGE),
        b'C' | b'D' | b'E' | b'H' | b'S' | b'X' | b'c' | b'f' => Some(MAX_SMALL_MESSAGE),
        _ => None,
    }
}

fn peek_i32(buf: &[u8], at: usize) -> Option<i32> {
    let bytes = buf.get(at..at + 4)?;
    Some(i32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
}

/// A StartupMessage: protocol 3.x, then `name\0value\0` pairs ending in one `\0`.
fn check_startup_packet(code: i32, body: &[u8]) -> Result<(), WireError> {
    let (major, minor) = ((code >> 16) as u16, (code & 0xffff) as u16);
    if major != PROTOCOL_MAJOR {
        return Err(WireError::fatal(
            "0A000",
            format!("unsupported frontend protocol {major}.{minor}: server supports 3.0 to 3.0"),
        ));
    }
    let mut cur = Cursor::new(body);
    loop {
        if cur.raw_cstr()?.is_empty() {
            break;
        }
        cur.raw_cstr()?;
    }
    cur.end().map_err(|_| {
        WireError::Protocol(
            "invalid startup packet layout: expected terminator as last byte".into(),
        )
    })
}

/// Walk a message body with the layout its type requires; what pgwire would decode is then safe.
fn check_body(kind: u8, body: &[u8]) -> Result<(), WireError> {
    let mut cur = Cursor::new(body);
    match kind {
        b'Q' | b'f' => {
            cur.cstr()?;
        }
        b'P' => {
            cur.cstr()?;
            cur.cstr()?;
            let n = cur.u16()?;
            for _ in 0..n {
                cur.u32()?;
            }
        }
        b'B' => check_bind(&mut cur)?,
        b'C' | b'D' => {
            let target = cur.u8()?;
            if target != b'S' && target != b'P' {
                return Err(WireError::Malformed(format!(
                    "invalid {} message subtype {target}",
                    if kind == b'C' { "CLOSE" } else { "DESCRIBE" }
                )));
            }
            cur.cstr()?;
        }
        b'E' => {
            cur.cstr()?;
            cur.i32()?;
        }
        b'F' => {
            return Err(WireError::sql(
                "0A000",
                "fastpath function calls are not supported",
            ));
        }
        // Password and SASL messages are parsed by the auth module; CopyData is opaque.
        b'p' | b'd' => return Ok(()),
        _ => {}
    }
    cur.end()
}

fn check_bind(cur: &mut Cursor<'_>) -> Result<(), WireError> {
    cur.cstr()?;
    cur.cstr()?;
    for _ in 0..cur.u16()? {
        cur.i16()?;
    }
    for _ in 0..cur.u16()? {
        let len = cur.i32()?;
        if len >= 0 {
            cur.bytes(len as usize)?;
        } else if len != -1 {
            return Err(WireError::Malformed(format!(
                "invalid parameter length {len} in Bind"
            )));
        }
    }
    for _ in 0..cur.u16()? {
        cur.i16()?;
    }
    Ok(())
}

/// A bounds-checked reader over a message body. Every read fails cleanly past the end.
#[derive(Debug)]
pub struct Cursor<'a> {
    buf: &'a [u8],
}

impl<'a> Cursor<'a> {
    pub fn new(buf: &'a [u8]) -> Cursor<'a> {
        Cursor { buf }
    }

    fn short() -> WireError {
        WireError::Malformed("invalid message format".into())
    }

    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if n > self.buf.len() {
            return Err(Self::short());
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let mut out = [0; N];
        out.copy_from_slice(self.bytes(N)?);
        Ok(out)
    }

    pub fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.array::<1>()?[0])
    }

    pub fn u16(&mut self) -> Result<u16, WireError> {
        self.array().map(u16::from_be_bytes)
    }

    pub fn i16(&mut self) -> Result<i16, WireError> {
        self.array().map(i16::from_be_bytes)
    }

    pub fn i32(&mut self) -> Result<i32, WireError> {
        self.array().map(i32::from_be_bytes)
    }

    pub fn u32(&mut self) -> Result<u32, WireError> {
        self.array().map(u32::from_be_bytes)
    }

    /// A NUL-terminated byte string, without its NUL.
    pub fn raw_cstr(&mut self) -> Result<&'a [u8], WireError> {
        let nul = self
            .buf
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(Self::short)?;
        let s = self.bytes(nul)?;
        self.bytes(1)?;
        Ok(s)
    }

    /// A NUL-terminated UTF-8 string (22021 when it is not UTF-8, as PostgreSQL reports it).
    pub fn cstr(&mut self) -> Result<&'a str, WireError> {
        let raw = self.raw_cstr()?;
        std::str::from_utf8(raw).map_err(|e| invalid_utf8(raw, e))
    }

    /// The bytes not read yet.
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.buf)
    }

    /// The body must be fully consumed.
    pub fn end(&self) -> Result<(), WireError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(WireError::Malformed("invalid message format".into()))
        }
    }
}

/// PostgreSQL's message for bytes that are not UTF-8: names the first bad byte.
pub fn invalid_utf8(raw: &[u8], e: std::str::Utf8Error) -> WireError {
    let bad = raw.get(e.valid_up_to()).copied().unwrap_or(0);
    WireError::sql(
        "22021",
        format!("invalid byte sequence for encoding \"UTF8\": 0x{bad:02x}"),
    )
}

/// Append one backend message.
pub fn encode<M: Message>(out: &mut BytesMut, message: &M) -> Result<(), WireError> {
    message
        .encode(out)
        .map_err(|e| WireError::sql("XX000", format!("cannot encode a response: {e}")))
}

/// Start a DataRow of `columns` values; finish it with [`end_data_row`]. Values are written in
/// between as `i32 length` + bytes (-1 for NULL). Written by hand because pgwire's `DataRow`
/// owns a buffer per row, and rows are the hot path.
pub fn begin_data_row(out: &mut BytesMut, columns: usize) -> usize {
    let start = out.len();
    out.put_u8(b'D');
    out.put_i32(0);
    out.put_i16(columns as i16);
    start
}

/// Patch the length of the DataRow begun at `start`.
pub fn end_data_row(out: &mut BytesMut, start: usize) {
    let len = (out.len() - start - 1) as i32;
    out[start + 1..start + HEADER].copy_from_slice(&len.to_be_bytes());
}

/// Reserve a value's length field; fill it with [`end_value`] once the value is written.
pub fn begin_value(out: &mut BytesMut) -> usize {
    let at = out.len();
    out.put_i32(0);
    at
}

pub fn end_value(out: &mut BytesMut, at: usize) {
    let len = (out.len() - at - LENGTH_FIELD) as i32;
    out[at..at + LENGTH_FIELD].copy_from_slice(&len.to_be_bytes());
}

/// Decode a whole frontend byte stream from the first byte of a connection, as a server would:
/// the entry point for fuzzing the decoder. Returns how many messages were decoded and whether the
/// stream ended in a fatal error. Never panics, whatever the bytes.
pub fn decode_frontend(bytes: &[u8]) -> (usize, bool) {
    let mut decoder = Decoder::new();
    let mut buf = BytesMut::from(bytes);
    let mut count = 0;
    loop {
        match decoder.decode(&mut buf) {
            Ok(Some(_)) => count += 1,
            Ok(None) => return (count, false),
            Err(_) => return (count, true),
        }
    }
}

#[cfg(test)]
mod tests;
