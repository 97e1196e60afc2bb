//! The envelope of a small metadata file: magic, version, body length, CRC32C of the body,
//! then the body.

use crate::io::{ByteReader, ByteWriter, IoFormatError, checksum};

/// Wrap `body` with `magic`, `version`, its length and checksum.
pub fn seal_envelope(magic: &[u8; 8], version: u32, body: &[u8]) -> Vec<u8> {
    let mut w = ByteWriter::new();
    w.buf.extend_from_slice(magic);
    w.u32(version);
    w.u32(body.len() as u32);
    w.u32(checksum(body));
    w.buf.extend_from_slice(body);
    w.buf
}

/// Check the envelope and return the body. Trailing bytes (block padding) are ignored.
pub fn open_envelope<'a>(
    data: &'a [u8],
    magic: &[u8; 8],
    what: &'static str,
    version: u32,
) -> Result<&'a [u8], IoFormatError> {
    let mut r = ByteReader::new(data);
    if r.take(8)? != magic {
        return Err(IoFormatError::Magic(what));
    }
    let found = r.u32()?;
    if found != version {
        return Err(IoFormatError::Version {
            found,
            supported: version,
        });
    }
    let len = r.u32()? as usize;
    let crc = r.u32()?;
    let at = r.position();
    let body = r.take(len)?;
    if checksum(body) != crc {
        return Err(IoFormatError::Checksum { what, offset: at });
    }
    Ok(body)
}
