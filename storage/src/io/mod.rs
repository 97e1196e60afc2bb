//! Byte-level building blocks shared by every on-disk structure: little-endian encoding with
//! bounds-checked decoding, 4 KiB alignment, CRC32C checksums, and the binary form of values
//! and rows.
//!
//! The files themselves are read and written by the engine's runtime (io_uring, O_DIRECT); this
//! module only turns structures into aligned, checksummed bytes and back. It must never perform
//! I/O, and decoding must never panic on bytes from a file: corruption is an `IoFormatError`.

mod bytes;
mod values;

pub use bytes::{ByteReader, ByteWriter};
pub use values::{decode_row, decode_value, encode_row, encode_value};

use thiserror::Error;

/// The unit of O_DIRECT I/O and of checksummed blocks: every file offset and length written is a
/// multiple of it.
pub const BLOCK: usize = 4096;

/// Round `n` up to a multiple of `BLOCK`.
pub fn align_up(n: usize) -> usize {
    n.div_ceil(BLOCK) * BLOCK
}

/// CRC32C (Castagnoli) of `bytes`; hardware-accelerated where the CPU has it.
pub fn checksum(bytes: &[u8]) -> u32 {
    crc32c::crc32c(bytes)
}

/// Bytes that do not decode as the structure they should hold.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum IoFormatError {
    #[error("unexpected end of data at byte {0}")]
    Truncated(usize),
    #[error("bad magic number (not an OmenDB {0} file)")]
    Magic(&'static str),
    #[error("format version {found} is not supported (this build reads version {supported})")]
    Version { found: u32, supported: u32 },
    #[error("checksum mismatch in {what} at byte {offset}")]
    Checksum { what: &'static str, offset: usize },
    #[error("invalid {0}")]
    Invalid(String),
}
