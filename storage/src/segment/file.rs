//! The segment file: a header (types, key columns, chunk directory, zone maps) and one chunk per
//! column, as one logical byte stream cut into 4 KiB blocks that each end in a CRC32C.
//!
//! Must never trust a byte before its block's checksum passed, and never panic on a file: every
//! failure is a [`SegmentError`] naming the block, or the column and logical offset.

use super::builder::{decimal_array, interval_column};
use super::column::{Column, DICT_MAX_VALUES};
use super::encoding::{
    Bad, StringParts, Strings, expand_dictionary, read_bitmap, read_ints, read_ints_as, read_plain,
    read_strings, read_strings_as_stored, write_bitmap, write_coded_strings, write_ints,
    write_plain, write_string_array,
};
use super::error::SegmentError;
use super::zone::ZoneMap;
use crate::checkpoint::{decode_type, encode_type};
use crate::io::{BLOCK, ByteReader, ByteWriter, checksum, decode_value, encode_value};
use crate::types::{DataType, Value};
use arrow_array::{
    Array, BinaryArray, BooleanArray, Date32Array, Float32Array, Float64Array, Int16Array,
    Int32Array, Int64Array, StringArray, TimestampMicrosecondArray, UInt16Array,
};
use arrow_buffer::{NullBuffer, OffsetBuffer, ScalarBuffer};
use std::sync::Arc;

pub const MAGIC: &[u8; 8] = b"OMENSEG\0";
pub const VERSION: u32 = 1;
/// Bytes of a block's CRC32C, at its end.
const CRC_BYTES: usize = 4;
/// Logical bytes each block carries.
pub const PAYLOAD: usize = BLOCK - CRC_BYTES;
/// Numeric mantissa encodings.
const MANTISSA_INTS: u8 = 0;
const MANTISSA_I128: u8 = 1;
/// Numeric scale encodings.
const SCALE_UNIFORM: u8 = 0;
const SCALE_PER_ROW: u8 = 1;

/// What the header says besides the chunks.
pub(crate) struct Decoded {
    pub columns: Vec<Column>,
    pub zones: Vec<ZoneMap>,
}

/// The whole file for these columns.
pub(crate) fn encode(
    types: &[DataType],
    primary_key: Option<&[usize]>,
    columns: &[Column],
    zones: &[ZoneMap],
) -> Vec<u8> {
    let rows = columns.first().map_or(0, Column::len);
    // Encoded columns are rarely larger than in memory: room up front instead of growing the
    // buffer (and copying it) a doubling at a time.
    let mut chunks = ByteWriter {
        buf: Vec::with_capacity(columns.iter().map(Column::buffer_bytes).sum::<usize>()),
    };
    let mut directory = Vec::with_capacity(columns.len());
    for c in columns {
        let start = chunks.len();
        write_chunk(&mut chunks, c);
        directory.push((start as u64, (chunks.len() - start) as u64));
    }
    let mut w = ByteWriter::new();
    w.buf.extend_from_slice(MAGIC);
    w.u32(VERSION);
    let length_at = w.len();
    w.u64(0);
    w.u32(rows as u32);
    w.u16(types.len() as u16);
    for &t in types {
        encode_type(t, &mut w);
    }
    let pk = primary_key.unwrap_or(&[]);
    w.u16(pk.len() as u16);
    for &c in pk {
        w.u16(c as u16);
    }
    for (z, (offset, len)) in zones.iter().zip(&directory) {
        w.u64(*offset);
        w.u64(*len);
        w.u32(z.nulls);
        encode_value(z.min.as_ref().unwrap_or(&Value::Null), &mut w);
        encode_value(z.max.as_ref().unwrap_or(&Value::Null), &mut w);
    }
    let total = (w.len() + chunks.len()) as u64;
    w.buf[length_at..length_at + 8].copy_from_slice(&total.to_le_bytes());
    into_blocks(&[&w.buf, &chunks.buf])
}

/// Cut the logical stream — `parts` one after the other, not copied together first — into
/// blocks of `PAYLOAD` bytes (the last zero-padded), each followed by the CRC32C of its
/// payload.
fn into_blocks(parts: &[&[u8]]) -> Vec<u8> {
    let logical: usize = parts.iter().map(|p| p.len()).sum();
    let blocks = logical.div_ceil(PAYLOAD).max(1);
    let mut out = Vec::with_capacity(blocks * BLOCK);
    let mut pieces = parts.iter().flat_map(|p| p.chunks(PAYLOAD));
    let mut pending: Option<&[u8]> = None;
    for _ in 0..blocks {
        let start = out.len();
        while out.len() - start < PAYLOAD {
            let Some(piece) = pending.take().or_else(|| pieces.next()) else {
                break;
            };
            let room = PAYLOAD - (out.len() - start);
            let (now, later) = piece.split_at(piece.len().min(room));
            out.extend_from_slice(now);
            pending = (!later.is_empty()).then_some(later);
        }
        out.resize(start + PAYLOAD, 0);
        let crc = checksum(&out[start..]);
        out.extend_from_slice(&crc.to_le_bytes());
    }
    out
}

/// Check every block and return the logical stream.
fn from_blocks(bytes: &[u8]) -> Result<Vec<u8>, SegmentError> {
    if bytes.is_empty() || !bytes.len().is_multiple_of(BLOCK) {
        return Err(SegmentError::Truncated {
            needed: crate::io::align_up(bytes.len()).max(BLOCK),
            found: bytes.len(),
        });
    }
    let mut logical = Vec::with_capacity(bytes.len() / BLOCK * PAYLOAD);
    for (b, block) in bytes.chunks_exact(BLOCK).enumerate() {
        let (payload, crc) = block.split_at(PAYLOAD);
        let mut stored = [0u8; CRC_BYTES];
        stored.copy_from_slice(crc);
        if checksum(payload) != u32::from_le_bytes(stored) {
            return Err(SegmentError::Checksum {
                block: b,
                offset: b * BLOCK,
            });
        }
        logical.extend_from_slice(payload);
    }
    Ok(logical)
}

/// Validate and decode a file; the header must name exactly `types` and `primary_key`.
pub(crate) fn decode(
    types: &[DataType],
    primary_key: Option<&[usize]>,
    bytes: &[u8],
) -> Result<(usize, Decoded), SegmentError> {
    let logical = from_blocks(bytes)?;
    let header = |at: usize, what: &str| SegmentError::Encoding {
        column: None,
        offset: at,
        what: what.to_string(),
    };
    let mut r = ByteReader::new(&logical);
    let io = |e: crate::io::IoFormatError| {
        let b = Bad::from(e);
        header(b.offset, &format!("header: {}", b.what))
    };
    if r.take(MAGIC.len()).map_err(io)? != MAGIC {
        return Err(SegmentError::Magic);
    }
    let version = r.u32().map_err(io)?;
    if version != VERSION {
        return Err(SegmentError::Version {
            found: version,
            supported: VERSION,
        });
    }
    let length = r.u64().map_err(io)?;
    let length = usize::try_from(length).unwrap_or(usize::MAX);
    if length > logical.len() {
        return Err(SegmentError::Truncated {
            needed: length.div_ceil(PAYLOAD) * BLOCK,
            found: bytes.len(),
        });
    }
    let rows = r.u32().map_err(io)? as usize;
    let n = usize::from(r.u16().map_err(io)?);
    if n != types.len() {
        return Err(SegmentError::ColumnCount {
            expected: types.len(),
            found: n,
        });
    }
    for (column, &expected) in types.iter().enumerate() {
        let found = decode_type(&mut r).map_err(io)?;
        if found != expected {
            return Err(SegmentError::TypeMismatch {
                column,
                expected,
                found: found.to_string(),
            });
        }
    }
    let at = r.position();
    let k = usize::from(r.u16().map_err(io)?);
    let mut pk = Vec::with_capacity(k);
    for _ in 0..k {
        pk.push(usize::from(r.u16().map_err(io)?));
    }
    if pk.as_slice() != primary_key.unwrap_or(&[]) {
        return Err(SegmentError::PrimaryKey(format!(
            "columns {pk:?} in the file (at logical offset {at}), {primary_key:?} expected"
        )));
    }
    let mut directory = Vec::with_capacity(n);
    let mut zones = Vec::with_capacity(n);
    for _ in 0..n {
        let offset = r.u64().map_err(io)?;
        let len = r.u64().map_err(io)?;
        directory.push((offset, len));
        let nulls = r.u32().map_err(io)?;
        let min = decode_value(&mut r).map_err(io)?;
        let max = decode_value(&mut r).map_err(io)?;
        zones.push(ZoneMap {
            min: (!min.is_null()).then_some(min),
            max: (!max.is_null()).then_some(max),
            nulls,
        });
    }
    let chunks_at = r.position();
    let chunks = &logical[chunks_at..length.max(chunks_at)];
    let mut columns = Vec::with_capacity(n);
    for (column, (&ty, &(offset, len))) in types.iter().zip(&directory).enumerate() {
        let bad = |b: Bad| SegmentError::Encoding {
            column: Some(column),
            offset: chunks_at + b.offset,
            what: b.what,
        };
        let range = usize::try_from(offset)
            .ok()
            .zip(usize::try_from(len).ok())
            .and_then(|(o, l)| Some(o..o.checked_add(l)?))
            .filter(|r| r.end <= chunks.len())
            .ok_or_else(|| bad(Bad::at(0, format!("chunk {offset}+{len} outside the file"))))?;
        // Offsets in `Bad` are relative to the chunk area: reading from a sub-slice would make
        // them relative to the chunk, so read from the area and skip to the chunk instead.
        let mut cr = ByteReader::new(&chunks[..range.end]);
        cr.take(range.start).map_err(|e| bad(e.into()))?;
        let c = read_chunk(&mut cr, ty, rows).map_err(bad)?;
        if cr.remaining() != 0 {
            return Err(bad(Bad::at(
                cr.position(),
                "bytes left over after the chunk",
            )));
        }
        columns.push(c);
    }
    Ok((rows, Decoded { columns, zones }))
}

/// Validity flag and bitmap, then the values.
fn write_chunk(w: &mut ByteWriter, c: &Column) {
    let nulls = c.nulls();
    match nulls {
        Some(n) => {
            w.u8(1);
            write_bitmap(w, n.inner());
        }
        None => w.u8(0),
    }
    match c {
        Column::Bool(a) => write_bitmap(w, a.values()),
        Column::Int16(a) => write_ints(w, a.values(), nulls),
        Column::Int32(a) => write_ints(w, a.values(), nulls),
        Column::Int64(a) => write_ints(w, a.values(), nulls),
        Column::Date(a) => write_ints(w, a.values(), nulls),
        Column::Timestamp(a) | Column::TimestampTz(a) => write_ints(w, a.values(), nulls),
        Column::Float32(a) => write_plain(w, a.values()),
        Column::Float64(a) => write_plain(w, a.values()),
        Column::Numeric {
            mantissas,
            scale,
            scales,
        } => write_numeric(w, mantissas.values(), *scale, scales.as_deref(), nulls),
        Column::Numeric64 { mantissas, scale } => {
            w.u8(SCALE_UNIFORM);
            w.u8(*scale);
            w.u8(MANTISSA_INTS);
            write_ints(w, mantissas.values(), nulls);
        }
        Column::Text(a) => write_string_array(w, a.value_offsets(), a.value_data(), nulls),
        Column::TextDict { codes, values } => write_coded_strings(
            w,
            codes.values(),
            |c| values.value(c).as_bytes(),
            values.len(),
            nulls,
        ),
        Column::Bytea(a) => write_string_array(w, a.value_offsets(), a.value_data(), nulls),
        Column::Interval {
            months,
            days,
            micros,
        } => {
            write_ints(w, months.values(), nulls);
            write_ints(w, days.values(), nulls);
            write_ints(w, micros.values(), nulls);
        }
    }
}

fn write_numeric(
    w: &mut ByteWriter,
    mantissas: &[i128],
    scale: u8,
    scales: Option<&[u8]>,
    nulls: Option<&NullBuffer>,
) {
    match scales {
        None => {
            w.u8(SCALE_UNIFORM);
            w.u8(scale);
        }
        Some(s) => {
            w.u8(SCALE_PER_ROW);
            write_ints(w, s, nulls);
        }
    }
    let valid = |i: usize| nulls.is_none_or(|n| n.is_valid(i));
    let fits = mantissas
        .iter()
        .enumerate()
        .all(|(i, &m)| !valid(i) || i64::try_from(m).is_ok());
    if fits {
        w.u8(MANTISSA_INTS);
        // Values under NULL may be anything; they are written as 0 so they fit.
        let small: Vec<i64> = mantissas
            .iter()
            .enumerate()
            .map(|(i, &m)| if valid(i) { m as i64 } else { 0 })
            .collect();
        write_ints(w, &small, nulls);
    } else {
        w.u8(MANTISSA_I128);
        write_plain(w, mantissas);
    }
}

fn read_chunk(r: &mut ByteReader<'_>, ty: DataType, rows: usize) -> Result<Column, Bad> {
    let at = r.position();
    let nulls = match r.u8()? {
        0 => None,
        1 => Some(NullBuffer::new(read_bitmap(r, rows)?)),
        f => return Err(Bad::at(at, format!("validity flag {f}"))),
    };
    Ok(match ty {
        DataType::Bool => Column::Bool(BooleanArray::new(read_bitmap(r, rows)?, nulls)),
        DataType::Int16 => Column::Int16(Int16Array::new(ints(r, rows)?, nulls)),
        DataType::Int32 => Column::Int32(Int32Array::new(ints(r, rows)?, nulls)),
        DataType::Int64 => Column::Int64(Int64Array::new(ints(r, rows)?, nulls)),
        DataType::Date => Column::Date(Date32Array::new(ints(r, rows)?, nulls)),
        DataType::Timestamp => {
            Column::Timestamp(TimestampMicrosecondArray::new(ints(r, rows)?, nulls))
        }
        DataType::TimestampTz => {
            Column::TimestampTz(TimestampMicrosecondArray::new(ints(r, rows)?, nulls))
        }
        DataType::Float32 => Column::Float32(Float32Array::new(plain(r, rows)?, nulls)),
        DataType::Float64 => Column::Float64(Float64Array::new(plain(r, rows)?, nulls)),
        DataType::Numeric { .. } => read_numeric(r, rows, nulls)?,
        DataType::Text | DataType::Varchar(_) | DataType::Char(_) | DataType::Unknown => {
            let at = r.position();
            let strings = |s: StringParts, nulls: Option<NullBuffer>| {
                let offsets = OffsetBuffer::new(ScalarBuffer::from(s.offsets));
                StringArray::try_new(offsets, s.bytes.into(), nulls)
                    .map_err(|e| Bad::at(at, format!("strings: {e}")))
            };
            match read_strings_as_stored(r, rows)? {
                // A stored dictionary stays one in memory (codes checked in range on read).
                Strings::Dict { dict, codes } if dict.offsets.len() - 1 <= DICT_MAX_VALUES => {
                    Column::TextDict {
                        codes: UInt16Array::new(
                            codes.into_iter().map(|c| c as u16).collect(),
                            nulls,
                        ),
                        values: strings(dict, None)?,
                    }
                }
                Strings::Dict { dict, codes } => {
                    let parts = expand_dictionary(&dict, &codes)
                        .ok_or_else(|| Bad::at(at, "expanded strings exceed 2 GiB"))?;
                    Column::Text(strings(parts, nulls)?)
                }
                Strings::Plain(parts) => Column::Text(strings(parts, nulls)?),
            }
        }
        DataType::TextArray => return Err(Bad::at(at, "a text[] column".to_string())),
        DataType::Bytea => {
            let at = r.position();
            let s = read_strings(r, rows)?;
            let offsets = OffsetBuffer::new(ScalarBuffer::from(s.offsets));
            Column::Bytea(
                BinaryArray::try_new(offsets, s.bytes.into(), nulls)
                    .map_err(|e| Bad::at(at, format!("bytes: {e}")))?,
            )
        }
        DataType::Interval => {
            let months = read_ints(r, rows)?;
            let days = read_ints(r, rows)?;
            let micros = read_ints(r, rows)?;
            interval_column(months, days, micros, nulls)
        }
    })
}

fn ints<T: super::encoding::Int + arrow_buffer::ArrowNativeType>(
    r: &mut ByteReader<'_>,
    rows: usize,
) -> Result<ScalarBuffer<T>, Bad> {
    Ok(ScalarBuffer::from(read_ints::<T>(r, rows)?))
}

fn plain<T: super::encoding::Fixed + arrow_buffer::ArrowNativeType>(
    r: &mut ByteReader<'_>,
    rows: usize,
) -> Result<ScalarBuffer<T>, Bad> {
    let bytes = r.take(rows * T::BYTES)?;
    Ok(ScalarBuffer::from(read_plain::<T>(bytes)))
}

fn read_numeric(
    r: &mut ByteReader<'_>,
    rows: usize,
    nulls: Option<NullBuffer>,
) -> Result<Column, Bad> {
    let at = r.position();
    let (scale, scales) = match r.u8()? {
        SCALE_UNIFORM => (r.u8()?, None),
        SCALE_PER_ROW => (0, Some(Arc::<[u8]>::from(read_ints::<u8>(r, rows)?))),
        e => return Err(Bad::at(at, format!("numeric scale encoding {e}"))),
    };
    let at = r.position();
    let mantissas: Vec<i128> = match r.u8()? {
        // One scale and 64-bit mantissas: kept narrow in memory (`Column::Numeric64`).
        MANTISSA_INTS if scales.is_none() => {
            return Ok(Column::Numeric64 {
                mantissas: Int64Array::new(ints(r, rows)?, nulls),
                scale,
            });
        }
        MANTISSA_INTS => read_ints_as::<i64, i128>(r, rows, i128::from)?,
        MANTISSA_I128 => read_plain(r.take(rows * size_of::<i128>())?),
        e => return Err(Bad::at(at, format!("numeric mantissa encoding {e}"))),
    };
    Ok(Column::Numeric {
        mantissas: decimal_array(mantissas, nulls, scale),
        scale,
        scales,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Blocks cut from parts are the blocks of the parts written one after the other, for
    /// parts that end inside, at and across block boundaries (and empty ones).
    #[test]
    fn blocks_of_parts_are_the_blocks_of_their_concatenation() {
        let bytes: Vec<u8> = (0..3 * BLOCK).map(|i| (i * 7 + i / 251) as u8).collect();
        for cuts in [
            vec![0, 0],
            vec![10, 10],
            vec![PAYLOAD, PAYLOAD + 1],
            vec![PAYLOAD - 1, 2 * PAYLOAD + 3],
            vec![0, 3 * BLOCK],
            vec![5, 2 * PAYLOAD],
        ] {
            let (a, b) = (cuts[0], cuts[1]);
            let logical = &bytes[..b];
            let split = into_blocks(&[&logical[..a], &[], &logical[a..]]);
            let mut whole = Vec::new();
            for block in logical.chunks(PAYLOAD) {
                let mut payload = block.to_vec();
                payload.resize(PAYLOAD, 0);
                whole.extend_from_slice(&payload);
                whole.extend_from_slice(&checksum(&payload).to_le_bytes());
            }
            if logical.is_empty() {
                let payload = vec![0u8; PAYLOAD];
                whole.extend_from_slice(&payload);
                whole.extend_from_slice(&checksum(&payload).to_le_bytes());
            }
            assert_eq!(split, whole, "cut at {a} of {b}");
            assert_eq!(from_blocks(&split).unwrap()[..b], *logical);
        }
    }
}
