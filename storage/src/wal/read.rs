//! Reading a WAL file back: header check, frames in order, and where (and why) the valid part
//! ends.

use super::{FRAME_HEADER, MAGIC, MAX_FRAME, Record, VERSION};
use crate::io::{BLOCK, ByteReader, IoFormatError, align_up, checksum};

/// What a WAL file holds.
#[derive(Debug)]
pub struct LogContents {
    pub shard: u32,
    pub generation: u64,
    pub records: Vec<Record>,
    /// Byte offset just past the last valid frame.
    pub valid_end: usize,
    /// Why reading stopped before the end of the written bytes (a torn or corrupt tail), if it
    /// did: the caller logs it.
    pub cut: Option<String>,
}

/// Parse a whole WAL file. A bad header is an error (the file is not a WAL, or from another
/// version); a bad frame ends the log there and is reported in `cut`.
pub fn read_log(data: &[u8]) -> Result<LogContents, IoFormatError> {
    let (shard, generation) = read_header(data)?;
    let mut out = LogContents {
        shard,
        generation,
        records: Vec::new(),
        valid_end: BLOCK,
        cut: None,
    };
    let mut pos = BLOCK;
    while pos + FRAME_HEADER <= data.len() {
        let len =
            u32::from_le_bytes([data[pos], data[pos + 1], data[pos + 2], data[pos + 3]]) as usize;
        if len == 0 {
            if pos.is_multiple_of(BLOCK) {
                // No flush unit starts here: the log ends, unless a torn flush left later blocks.
                if data[pos..].iter().any(|&b| b != 0) {
                    out.cut = Some(format!(
                        "an unwritten block at byte {pos} is followed by data"
                    ));
                }
                return Ok(out);
            }
            pos = align_up(pos);
            continue;
        }
        let start = pos + FRAME_HEADER;
        if len > MAX_FRAME || start + len > data.len() {
            out.cut = Some(format!("a record at byte {pos} is cut short"));
            return Ok(out);
        }
        let stored =
            u32::from_le_bytes([data[pos + 4], data[pos + 5], data[pos + 6], data[pos + 7]]);
        let payload = &data[start..start + len];
        if checksum(payload) != stored {
            out.cut = Some(format!("checksum mismatch in the record at byte {pos}"));
            return Ok(out);
        }
        match Record::decode(payload) {
            Ok(record) => out.records.push(record),
            Err(e) => {
                out.cut = Some(format!("undecodable record at byte {pos}: {e}"));
                return Ok(out);
            }
        }
        pos = start + len;
        out.valid_end = pos;
    }
    if data.len() > out.valid_end && data[out.valid_end..].iter().any(|&b| b != 0) {
        out.cut = Some(format!("a partial record header at byte {}", out.valid_end));
    }
    Ok(out)
}

fn read_header(data: &[u8]) -> Result<(u32, u64), IoFormatError> {
    let mut r = ByteReader::new(data);
    if r.take(MAGIC.len())? != MAGIC {
        return Err(IoFormatError::Magic("WAL"));
    }
    let version = r.u32()?;
    let shard = r.u32()?;
    let generation = r.u64()?;
    let end = r.position();
    let stored = r.u32()?;
    if checksum(&data[..end]) != stored {
        return Err(IoFormatError::Checksum {
            what: "WAL header",
            offset: 0,
        });
    }
    if version != VERSION {
        return Err(IoFormatError::Version {
            found: version,
            supported: VERSION,
        });
    }
    Ok((shard, generation))
}
