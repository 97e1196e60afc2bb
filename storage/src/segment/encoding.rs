//! The light encodings of column chunks: frame-of-reference + bit-packing for integers, plain
//! little-endian values, bitmaps, and plain or dictionary strings.
//!
//! Encoders choose by size; decoders are tight loops into plain vectors (no allocation per value)
//! and never panic on bad bytes: every length is checked before it is used, and a bad stream is
//! a [`Bad`] naming the logical offset. Byte layouts are in `storage/FORMAT.md`.

use super::column::DICT_SAMPLE;
use crate::io::{ByteReader, ByteWriter, IoFormatError};
use arrow_buffer::{BooleanBuffer, Buffer, NullBuffer};
use hashbrown::HashMap;

/// Integer stream encodings.
const INT_PLAIN: u8 = 0;
const INT_FOR: u8 = 1;
/// String stream encodings.
const STR_PLAIN: u8 = 0;
const STR_DICT: u8 = 1;
/// A dictionary is not even tried once it holds more distinct values than 1/`DICT_MAX_FRACTION`
/// of the rows: it could not pay for its codes.
const DICT_MAX_FRACTION: usize = 2;
/// Bytes an unpacking step loads: a value of up to 64 bits at any bit shift (0..8) fits in 16.
const UNPACK_LOAD: usize = 16;

/// A stream that does not decode: what is wrong and where (logical offset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Bad {
    pub offset: usize,
    pub what: String,
}

impl Bad {
    pub(crate) fn at(offset: usize, what: impl Into<String>) -> Bad {
        Bad {
            offset,
            what: what.into(),
        }
    }
}

impl From<IoFormatError> for Bad {
    fn from(e: IoFormatError) -> Bad {
        match e {
            IoFormatError::Truncated(at) => Bad::at(at, "chunk ends early"),
            other => Bad::at(0, other.to_string()),
        }
    }
}

/// A fixed-width value stored little-endian.
pub(crate) trait Fixed: Copy + Default {
    const BYTES: usize;
    fn from_le(b: &[u8]) -> Self;
    fn put_le(self, out: &mut Vec<u8>);
}

/// An integer type an integer stream decodes into.
pub(crate) trait Int: Fixed {
    fn to_i64(self) -> i64;
    /// Wrapping: a corrupt stream gives wrong values, never a panic.
    fn from_i64(v: i64) -> Self;
}

macro_rules! fixed {
    ($($t:ty),*) => {$(
        impl Fixed for $t {
            const BYTES: usize = size_of::<$t>();
            #[inline(always)]
            fn from_le(b: &[u8]) -> Self {
                let mut a = [0u8; size_of::<$t>()];
                a.copy_from_slice(b);
                <$t>::from_le_bytes(a)
            }
            #[inline(always)]
            fn put_le(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
        }
    )*};
}
fixed!(u8, i16, i32, u32, i64, i128, f32, f64);

macro_rules! int {
    ($($t:ty),*) => {$(
        impl Int for $t {
            #[inline(always)]
            fn to_i64(self) -> i64 {
                self as i64
            }
            #[inline(always)]
            fn from_i64(v: i64) -> Self {
                v as $t
            }
        }
    )*};
}
int!(u8, i16, i32, i64, u32);

/// Bits needed for `x` (0 for 0).
fn bit_width(x: u64) -> u32 {
    u64::BITS - x.leading_zeros()
}

/// Bytes of `rows` values packed at `bw` bits.
fn packed_len(rows: usize, bw: u32) -> usize {
    (rows * bw as usize).div_ceil(8)
}

/// Write an integer stream: frame-of-reference + bit-packing when it is smaller than plain.
/// Values under NULL (`valid` false) are written as the base, so they cost no width.
pub(crate) fn write_ints<T: Int>(w: &mut ByteWriter, values: &[T], valid: Option<&NullBuffer>) {
    let is_valid = |i: usize| valid.is_none_or(|n| n.is_valid(i));
    let (base, max) = match valid {
        // The common case, without a NULL: a plain min/max the compiler vectorises.
        None if !values.is_empty() => values.iter().fold((i64::MAX, i64::MIN), |(lo, hi), v| {
            let v = v.to_i64();
            (lo.min(v), hi.max(v))
        }),
        _ => {
            let mut range: Option<(i64, i64)> = None;
            for (i, v) in values.iter().enumerate() {
                if is_valid(i) {
                    let v = v.to_i64();
                    range = Some(range.map_or((v, v), |(lo, hi)| (lo.min(v), hi.max(v))));
                }
            }
            range.unwrap_or((0, 0))
        }
    };
    let bw = bit_width(max.wrapping_sub(base) as u64);
    if packed_len(values.len(), bw) + size_of::<i64>() + 1 >= values.len() * T::BYTES {
        w.u8(INT_PLAIN);
        w.buf.reserve(values.len() * T::BYTES);
        for v in values {
            v.put_le(&mut w.buf);
        }
        return;
    }
    w.u8(INT_FOR);
    w.i64(base);
    w.u8(bw as u8);
    if valid.is_none() {
        let deltas = values.iter().map(|v| v.to_i64().wrapping_sub(base) as u64);
        pack(&mut w.buf, deltas, bw, values.len());
        return;
    }
    let deltas = values.iter().enumerate().map(|(i, v)| {
        if is_valid(i) {
            v.to_i64().wrapping_sub(base) as u64
        } else {
            0
        }
    });
    pack(&mut w.buf, deltas, bw, values.len());
}

/// Append `n` values of `bw` bits each, LSB first, in exactly `packed_len(n, bw)` bytes.
fn pack(out: &mut Vec<u8>, values: impl Iterator<Item = u64>, bw: u32, n: usize) {
    let start = out.len();
    out.reserve(packed_len(n, bw));
    let mut acc: u128 = 0;
    let mut bits = 0u32;
    for v in values {
        acc |= u128::from(v) << bits;
        bits += bw;
        if bits >= u64::BITS {
            out.extend_from_slice(&(acc as u64).to_le_bytes());
            acc >>= u64::BITS;
            bits -= u64::BITS;
        }
    }
    let tail = bits.div_ceil(8) as usize;
    out.extend_from_slice(&(acc as u64).to_le_bytes()[..tail]);
    debug_assert_eq!(out.len() - start, packed_len(n, bw));
}

/// Read an integer stream of `rows` values.
pub(crate) fn read_ints<T: Int>(r: &mut ByteReader<'_>, rows: usize) -> Result<Vec<T>, Bad> {
    read_ints_as::<T, T>(r, rows, T::from_i64)
}

/// Read an integer stream written from `S` values straight into `T`s (e.g. i64-sized numeric
/// mantissas into i128), without an intermediate vector.
pub(crate) fn read_ints_as<S: Int, T: Copy>(
    r: &mut ByteReader<'_>,
    rows: usize,
    widen: impl Fn(i64) -> T + Copy,
) -> Result<Vec<T>, Bad> {
    let at = r.position();
    match r.u8()? {
        INT_PLAIN => {
            let bytes = r.take(rows * S::BYTES)?;
            Ok(bytes
                .chunks_exact(S::BYTES)
                .map(|b| widen(S::from_le(b).to_i64()))
                .collect())
        }
        INT_FOR => {
            let base = r.i64()?;
            let bw = u32::from(r.u8()?);
            if bw > u64::BITS {
                return Err(Bad::at(at, format!("bit width {bw}")));
            }
            let data = r.take(packed_len(rows, bw))?;
            Ok(unpack(data, bw, base, rows, widen))
        }
        e => Err(Bad::at(at, format!("integer encoding {e}"))),
    }
}

/// Plain little-endian values (`bytes.len()` a multiple of the width).
pub(crate) fn read_plain<T: Fixed>(bytes: &[u8]) -> Vec<T> {
    bytes.chunks_exact(T::BYTES).map(T::from_le).collect()
}

pub(crate) fn write_plain<T: Fixed>(w: &mut ByteWriter, values: &[T]) {
    w.buf.reserve(values.len() * T::BYTES);
    for v in values {
        v.put_le(&mut w.buf);
    }
}

/// `rows` values of `bw` bits from `data` (exactly `packed_len(rows, bw)` bytes), plus `base`.
fn unpack<T: Copy>(
    data: &[u8],
    bw: u32,
    base: i64,
    rows: usize,
    widen: impl Fn(i64) -> T + Copy,
) -> Vec<T> {
    if bw == 0 {
        return vec![widen(base); rows];
    }
    let mask = u64::MAX >> (u64::BITS - bw);
    let bw = bw as usize;
    let value = |word: u128, bit: usize| {
        widen(base.wrapping_add(((word >> (bit % 8)) as u64 & mask) as i64))
    };
    // Values whose 16-byte load stays inside `data` take the fast path; the last few do not.
    let fast = if data.len() < UNPACK_LOAD {
        0
    } else {
        rows.min((data.len() - UNPACK_LOAD) * 8 / bw + 1)
    };
    let mut out = Vec::with_capacity(rows);
    out.extend((0..fast).map(|i| {
        let bit = i * bw;
        let byte = bit / 8;
        value(
            <u128 as Fixed>::from_le(&data[byte..byte + UNPACK_LOAD]),
            bit,
        )
    }));
    out.extend((fast..rows).map(|i| {
        let bit = i * bw;
        let byte = bit / 8;
        let mut word = [0u8; UNPACK_LOAD];
        let end = data.len().min(byte + UNPACK_LOAD);
        word[..end - byte].copy_from_slice(&data[byte..end]);
        value(u128::from_le_bytes(word), bit)
    }));
    out
}

impl Fixed for u128 {
    const BYTES: usize = size_of::<u128>();
    #[inline(always)]
    fn from_le(b: &[u8]) -> Self {
        let mut a = [0u8; 16];
        a.copy_from_slice(b);
        u128::from_le_bytes(a)
    }
    fn put_le(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

/// Bytes of a bitmap of `rows` bits.
pub(crate) fn bitmap_len(rows: usize) -> usize {
    rows.div_ceil(8)
}

/// A bitmap's bits, LSB first, in exactly `bitmap_len(len)` bytes (Arrow's bit order).
pub(crate) fn write_bitmap(w: &mut ByteWriter, bits: &BooleanBuffer) {
    let packed = bits.sliced();
    let n = bitmap_len(bits.len());
    w.buf.extend_from_slice(&packed.as_slice()[..n]);
}

pub(crate) fn read_bitmap(r: &mut ByteReader<'_>, rows: usize) -> Result<BooleanBuffer, Bad> {
    let bytes = r.take(bitmap_len(rows))?;
    Ok(BooleanBuffer::new(Buffer::from(bytes), 0, rows))
}

/// A string or byte column as Arrow holds it: `offsets` (rows + 1, from 0) and the bytes.
pub(crate) struct StringParts {
    pub offsets: Vec<i32>,
    pub bytes: Vec<u8>,
}

/// Write `rows` strings (`get(i)`; NULL rows are empty): as a dictionary when that is smaller.
pub(crate) fn write_strings<'a>(
    w: &mut ByteWriter,
    rows: usize,
    get: impl Fn(usize) -> &'a [u8],
    valid: Option<&NullBuffer>,
) {
    let is_valid = |i: usize| valid.is_none_or(|n| n.is_valid(i));
    let total: usize = (0..rows)
        .filter(|&i| is_valid(i))
        .map(|i| get(i).len())
        .sum();
    if write_dictionary_if_smaller(w, rows, &get, &is_valid, total) {
        return;
    }
    w.u8(STR_PLAIN);
    write_string_body(w, rows, get, valid);
}

/// Write the `rows` strings (`get`, valid where `is_valid`) as a dictionary and codes when
/// that is smaller than their `total` plain bytes; false, writing nothing, when it is not.
fn write_dictionary_if_smaller<'a>(
    w: &mut ByteWriter,
    rows: usize,
    get: &impl Fn(usize) -> &'a [u8],
    is_valid: &impl Fn(usize) -> bool,
    total: usize,
) -> bool {
    let Some((dict, codes)) = dictionary(rows, get, is_valid) else {
        return false;
    };
    let dict_bytes: usize = dict.iter().map(|s| s.len()).sum();
    let code_bits = bit_width(dict.len().saturating_sub(1) as u64);
    if dict_bytes + dict.len() * 2 + packed_len(rows, code_bits) >= total {
        return false;
    }
    w.u8(STR_DICT);
    w.u32(dict.len() as u32);
    write_string_body(w, dict.len(), |i| dict[i], None);
    write_ints(w, &codes, None);
    true
}

/// Write Arrow strings (`offsets` into `values`): as `write_strings` does, but without NULLs
/// the lengths come from the offsets and the bytes are copied in one piece rather than one
/// call per value.
pub(crate) fn write_string_array(
    w: &mut ByteWriter,
    offsets: &[i32],
    values: &[u8],
    valid: Option<&NullBuffer>,
) {
    let rows = offsets.len().saturating_sub(1);
    let range = |i: usize| offsets[i] as usize..offsets[i + 1] as usize;
    let get = |i: usize| values.get(range(i)).unwrap_or_default();
    let (Some(&first), Some(&last), None) = (offsets.first(), offsets.last(), valid) else {
        write_strings(w, rows, get, valid);
        return;
    };
    let Some(bytes) = values.get(first as usize..last as usize) else {
        write_strings(w, rows, get, valid);
        return;
    };
    if write_dictionary_if_smaller(w, rows, &get, &|_| true, bytes.len()) {
        return;
    }
    w.u8(STR_PLAIN);
    let lengths: Vec<i32> = offsets.windows(2).map(|o| o[1] - o[0]).collect();
    write_ints(w, &lengths, None);
    w.u32(bytes.len() as u32);
    w.buf.extend_from_slice(bytes);
}

/// Write a column already held as dictionary codes (`codes[i]` into `dict(c)`, `dict_len`
/// entries): the dictionary as it is when that is smaller than the plain strings, without
/// hashing a single row again. A dictionary with more entries than rows (left by a `take`)
/// is rebuilt as `write_strings` would.
pub(crate) fn write_coded_strings<'a>(
    w: &mut ByteWriter,
    codes: &[u16],
    dict: impl Fn(usize) -> &'a [u8],
    dict_len: usize,
    valid: Option<&NullBuffer>,
) {
    let rows = codes.len();
    if dict_len == 0 || dict_len > rows {
        write_strings(w, rows, |i| dict(usize::from(codes[i])), valid);
        return;
    }
    let is_valid = |i: usize| valid.is_none_or(|n| n.is_valid(i));
    let lengths: Vec<usize> = (0..dict_len).map(|c| dict(c).len()).collect();
    let total: usize = (0..rows)
        .filter(|&i| is_valid(i))
        .map(|i| lengths[usize::from(codes[i])])
        .sum();
    let dict_bytes: usize = lengths.iter().sum();
    let code_bits = bit_width(dict_len.saturating_sub(1) as u64);
    if dict_bytes + dict_len * 2 + packed_len(rows, code_bits) < total {
        w.u8(STR_DICT);
        w.u32(dict_len as u32);
        write_string_body(w, dict_len, &dict, None);
        // NULL rows are written with code 0, as `dictionary` gives them.
        let wide: Vec<u32> = (0..rows)
            .map(|i| if is_valid(i) { u32::from(codes[i]) } else { 0 })
            .collect();
        write_ints(w, &wide, None);
        return;
    }
    w.u8(STR_PLAIN);
    write_string_body(w, rows, |i| dict(usize::from(codes[i])), valid);
}

/// Distinct strings in first-appearance order and each row's code, unless there are too many.
fn dictionary<'a>(
    rows: usize,
    get: &impl Fn(usize) -> &'a [u8],
    is_valid: &impl Fn(usize) -> bool,
) -> Option<(Vec<&'a [u8]>, Vec<u32>)> {
    let limit = rows / DICT_MAX_FRACTION;
    let mut ids: HashMap<&[u8], u32> = HashMap::with_capacity(DICT_SAMPLE.min(rows));
    let mut dict = Vec::new();
    let mut codes = Vec::with_capacity(rows);
    for i in 0..rows {
        if !is_valid(i) {
            codes.push(0);
            continue;
        }
        // A sample without a single repeat means a (nearly) unique column: stop before hashing
        // up to half the rows to find that out (the reasoning at `column::DICT_SAMPLE`).
        if codes.len() == DICT_SAMPLE && dict.len() == DICT_SAMPLE {
            return None;
        }
        let s = get(i);
        let next = dict.len() as u32;
        let code = *ids.entry(s).or_insert(next);
        if code == next {
            dict.push(s);
            if dict.len() > limit {
                return None;
            }
        }
        codes.push(code);
    }
    (!dict.is_empty()).then_some((dict, codes))
}

/// Lengths (an integer stream), `u32` total bytes, then the bytes.
fn write_string_body<'a>(
    w: &mut ByteWriter,
    n: usize,
    get: impl Fn(usize) -> &'a [u8],
    valid: Option<&NullBuffer>,
) {
    let is_valid = |i: usize| valid.is_none_or(|v| v.is_valid(i));
    // Arrow string offsets are i32, so no column's bytes reach 2^31 and lengths fit an i32.
    let lengths: Vec<i32> = (0..n)
        .map(|i| if is_valid(i) { get(i).len() as i32 } else { 0 })
        .collect();
    write_ints(w, &lengths, None);
    let total: i64 = lengths.iter().map(|&l| i64::from(l)).sum();
    w.u32(total as u32);
    for i in (0..n).filter(|&i| is_valid(i)) {
        w.buf.extend_from_slice(get(i));
    }
}

/// A string column as stored: plain, or a dictionary and each row's code into it (every code
/// checked to be in range).
pub(crate) enum Strings {
    Plain(StringParts),
    Dict { dict: StringParts, codes: Vec<u32> },
}

pub(crate) fn read_strings(r: &mut ByteReader<'_>, rows: usize) -> Result<StringParts, Bad> {
    match read_strings_as_stored(r, rows)? {
        Strings::Plain(parts) => Ok(parts),
        Strings::Dict { dict, codes } => expand_dictionary(&dict, &codes)
            .ok_or_else(|| Bad::at(r.position(), "expanded strings exceed 2 GiB")),
    }
}

pub(crate) fn read_strings_as_stored(r: &mut ByteReader<'_>, rows: usize) -> Result<Strings, Bad> {
    let at = r.position();
    match r.u8()? {
        STR_PLAIN => Ok(Strings::Plain(read_string_body(r, rows)?)),
        STR_DICT => {
            let n = r.u32()? as usize;
            if n == 0 || n > rows {
                return Err(Bad::at(
                    at,
                    format!("dictionary of {n} strings for {rows} rows"),
                ));
            }
            let dict = read_string_body(r, n)?;
            let codes_at = r.position();
            let codes: Vec<u32> = read_ints(r, rows)?;
            if codes.iter().any(|&c| c as usize >= n) {
                return Err(Bad::at(codes_at, "dictionary code out of range"));
            }
            Ok(Strings::Dict { dict, codes })
        }
        e => Err(Bad::at(at, format!("string encoding {e}"))),
    }
}

fn read_string_body(r: &mut ByteReader<'_>, n: usize) -> Result<StringParts, Bad> {
    let at = r.position();
    let lengths: Vec<i32> = read_ints(r, n)?;
    let mut offsets = Vec::with_capacity(n + 1);
    offsets.push(0i32);
    let mut end = 0i32;
    for &len in &lengths {
        end = end
            .checked_add(len)
            .filter(|_| len >= 0)
            .ok_or_else(|| Bad::at(at, "string lengths overflow"))?;
        offsets.push(end);
    }
    let total = r.u32()? as usize;
    if total != end as usize {
        return Err(Bad::at(
            at,
            format!("strings total {total} bytes, lengths say {end}"),
        ));
    }
    let bytes = r.take(total)?.to_vec();
    Ok(StringParts { offsets, bytes })
}

/// Each row's dictionary entry, copied out (codes already checked to be in range); `None` if
/// the copies would not fit one Arrow array's i32 offsets.
pub(crate) fn expand_dictionary(dict: &StringParts, codes: &[u32]) -> Option<StringParts> {
    let span = |c: u32| {
        (
            dict.offsets[c as usize] as usize,
            dict.offsets[c as usize + 1] as usize,
        )
    };
    let mut offsets = Vec::with_capacity(codes.len() + 1);
    offsets.push(0i32);
    let mut end = 0i64;
    for &c in codes {
        let (a, b) = span(c);
        end += (b - a) as i64;
        offsets.push(i32::try_from(end).ok()?);
    }
    let mut bytes = Vec::with_capacity(end as usize);
    for &c in codes {
        let (a, b) = span(c);
        bytes.extend_from_slice(&dict.bytes[a..b]);
    }
    Some(StringParts { offsets, bytes })
}
