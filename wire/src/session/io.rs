//! The connection's byte pipes: an input buffer feeding the decoder and an output buffer that
//! is written to the socket only when it must be.
//!
//! Output is flushed when the protocol asks for it (ReadyForQuery, Flush, the end of the startup
//! exchange), but only once every complete message already received has been handled, so a
//! pipelined batch is answered with one write; and whenever it grows past [`FLUSH_AT`], so a large
//! result streams instead of piling up.

use crate::codec::{Decoded, Decoder};
use crate::error::WireError;
use bytes::BytesMut;
use futures_lite::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Bytes read from the socket at a time, at first and after any read that did not fill them.
const READ_CHUNK: usize = 16 * 1024;
/// The most read at a time: reads that keep filling their buffer (a COPY streaming in) double
/// up to this, so a bulk load takes 16 times fewer `recv` calls and buffer refills.
const READ_MAX: usize = 256 * 1024;
/// Output size that is written out even before the protocol asks for a flush.
pub const FLUSH_AT: usize = 64 * 1024;

/// The most a message's header alone may make a read reserve: a header is only a claim, and a
/// client must not get a gigabyte allocated per connection by sending one. A larger message
/// grows the buffer as its bytes arrive.
const RESERVE_MAX: usize = 4 << 20;

/// Bytes to reserve for the rest of a `frame`-byte message of which `filled` bytes are in.
fn room_for(frame: usize, filled: usize) -> usize {
    frame.saturating_sub(filled).min(RESERVE_MAX)
}

pub(crate) struct Io<S> {
    stream: S,
    input: BytesMut,
    pub out: BytesMut,
    decoder: Decoder,
    /// ReadyForQuery or Flush was written: send everything before waiting for input.
    flush_pending: bool,
    /// Bytes the next read asks for.
    read_size: usize,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Io<S> {
    pub fn new(stream: S) -> Io<S> {
        Io {
            stream,
            input: BytesMut::with_capacity(READ_CHUNK),
            out: BytesMut::with_capacity(READ_CHUNK),
            decoder: Decoder::new(),
            flush_pending: false,
            read_size: READ_CHUNK,
        }
    }

    /// The next frontend message; `None` when the client closed the connection.
    pub async fn next(&mut self) -> Result<Option<Decoded>, WireError> {
        loop {
            if let Some(decoded) = self.decoder.decode(&mut self.input)? {
                return Ok(Some(decoded));
            }
            if self.flush_pending {
                self.flush().await?;
            }
            if !self.read_more().await? {
                return Ok(None);
            }
        }
    }

    async fn read_more(&mut self) -> Result<bool, WireError> {
        let filled = self.input.len();
        // A large message (a COPY's CopyData) gets its room at once: growing the buffer a read
        // at a time reallocated and copied what it held again and again.
        if let Some(frame) = self.decoder.frame_len(&self.input) {
            self.input.reserve(room_for(frame, filled) + self.read_size);
        }
        self.input.resize(filled + self.read_size, 0);
        let n = self.stream.read(&mut self.input[filled..]).await;
        let got = *n.as_ref().unwrap_or(&0);
        self.input.truncate(filled + got);
        self.read_size = if got == self.read_size {
            (self.read_size * 2).min(READ_MAX)
        } else {
            READ_CHUNK
        };
        Ok(n? > 0)
    }

    /// Send the output at the next wait for input.
    pub fn flush_soon(&mut self) {
        self.flush_pending = true;
    }

    /// Write all output now.
    pub async fn flush(&mut self) -> Result<(), WireError> {
        self.flush_pending = false;
        if !self.out.is_empty() {
            self.stream.write_all(&self.out).await?;
            self.out.clear();
        }
        self.stream.flush().await?;
        Ok(())
    }

    /// Write the output if it has grown large.
    pub async fn flush_if_large(&mut self) -> Result<(), WireError> {
        if self.out.len() >= FLUSH_AT {
            self.stream.write_all(&self.out).await?;
            self.out.clear();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A header's claim reserves the rest of its message, never more than `RESERVE_MAX`.
    #[test]
    fn a_header_reserves_at_most_a_few_mebibytes() {
        assert_eq!(room_for(1 << 20, 100), (1 << 20) - 100);
        assert_eq!(room_for(100, 500), 0);
        assert_eq!(room_for(1 << 30, 5), RESERVE_MAX);
    }
}
