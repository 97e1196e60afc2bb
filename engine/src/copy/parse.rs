//! Turning COPY data (text or CSV format, arriving in arbitrary chunks) into rows of values
//! typed for the target columns.
//!
//! Must never trust the input: a bad field is an error naming the line and column
//! (22P02/22P04 like PostgreSQL), never a panic.

use super::statement::{CopyFormat, CopyStatement};
use crate::EngineError;
use bytes::Bytes;
use omendb_storage::segment::BLANKS;
use omendb_storage::types::datetime::TimeZone;
use omendb_storage::types::{DataType, Value};

/// Parses a stream of COPY data into rows of `width` values (columns not listed stay NULL).
pub struct CopyParser {
    stmt: CopyStatement,
    /// (position in the table row, type) of each field of a line, in order.
    targets: Vec<(usize, DataType)>,
    width: usize,
    table: String,
    tz: TimeZone,
    carry: Vec<u8>,
    skip_header: bool,
    /// `\.` was seen: later data is ignored.
    ended: bool,
    line: u64,
    field: String,
}

fn bad_copy(sqlstate: &'static str, message: String) -> EngineError {
    EngineError::sql(sqlstate, message)
}

impl CopyParser {
    pub fn new(
        stmt: CopyStatement,
        targets: Vec<(usize, DataType)>,
        width: usize,
        tz: TimeZone,
    ) -> CopyParser {
        CopyParser {
            skip_header: stmt.header,
            table: stmt.table.clone(),
            stmt,
            targets,
            width,
            tz,
            carry: Vec::new(),
            ended: false,
            line: 0,
            field: String::new(),
        }
    }

    /// Whether this stream can be cut into independent chunks of whole lines (text format: a
    /// newline always ends a record; in CSV one may sit inside quotes).
    pub fn splittable(&self) -> bool {
        self.stmt.format == CopyFormat::Text
    }

    /// Text format: take the complete lines of the stream so far (with `data`) as one chunk once
    /// they reach `min` bytes (any amount when `last`), without parsing them; the header line
    /// and everything from a `\.` line on are left out. Returns the chunk and the number of
    /// the line before its first (for `fork`).
    ///
    /// A message that is a chunk by itself — nothing carried, whole lines, at least half of
    /// `min`, no backslash (so no `\.` line) — is the chunk as it is, not copied.
    pub fn split_lines(&mut self, data: Bytes, min: usize, last: bool) -> Option<(Bytes, u64)> {
        if self.ended {
            return None;
        }
        if self.carry.is_empty()
            && !self.skip_header
            && data.len() >= min / 2
            && data.ends_with(b"\n")
            && memchr::memchr(b'\\', &data).is_none()
        {
            let first = self.line;
            self.line += memchr::memchr_iter(b'\n', &data).count() as u64;
            return Some((data, first));
        }
        self.split_carried(&data, min, last)
            .map(|(c, l)| (Bytes::from(c), l))
    }

    /// `split_lines` through the carried bytes.
    fn split_carried(&mut self, data: &[u8], min: usize, last: bool) -> Option<(Vec<u8>, u64)> {
        // A fresh carry gets room for a chunk and this message at once: messages a little
        // under `min` (whole lines of a client's 1 MiB block) would otherwise grow it by
        // reallocation, copying the first message again.
        if self.carry.is_empty() && !data.is_empty() {
            self.carry.reserve(data.len() + min);
        }
        self.carry.extend_from_slice(data);
        let mut end = match memchr::memrchr(b'\n', &self.carry) {
            Some(i) => i + 1,
            None if last => self.carry.len(),
            None => return None,
        };
        if last {
            end = self.carry.len();
        }
        if end == 0 || (end < min && !last) {
            return None;
        }
        // The chunk takes the carried buffer itself when it is all whole lines (the usual case:
        // clients send whole lines); otherwise its lines are copied out once.
        let mut chunk = if end == self.carry.len() {
            std::mem::take(&mut self.carry)
        } else {
            let head = self.carry[..end].to_vec();
            self.carry.drain(..end);
            head
        };
        if last && !chunk.ends_with(b"\n") {
            chunk.push(b'\n');
        }
        let mut start = 0;
        if self.skip_header {
            self.skip_header = false;
            let first = chunk
                .iter()
                .position(|&b| b == b'\n')
                .map_or(chunk.len(), |i| i + 1);
            self.line += 1;
            start = first;
        }
        // A `\.` line ends the data: cut the chunk there. Without a backslash (memchr) there
        // is no such line, and counting newlines is all that is left.
        let mut at = start;
        let mut lines = 0u64;
        if memchr::memchr(b'\\', &chunk[start..]).is_none() {
            lines = memchr::memchr_iter(b'\n', &chunk[start..]).count() as u64;
            at = chunk.len();
        }
        while at < chunk.len() {
            let next = chunk[at..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(chunk.len(), |i| at + i + 1);
            let line = &chunk[at..next];
            let line = line.strip_suffix(b"\n").unwrap_or(line);
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line == b"\\." {
                self.ended = true;
                chunk.truncate(at);
                break;
            }
            lines += 1;
            at = next;
        }
        let first = self.line;
        self.line += lines;
        if start > 0 {
            chunk.drain(..start);
        }
        (!chunk.is_empty()).then_some((chunk, first))
    }

    /// A line's bytes as text, or 22021 naming the line.
    fn utf8<'a>(&self, raw: &'a [u8]) -> Result<&'a str, EngineError> {
        std::str::from_utf8(raw).map_err(|_| {
            bad_copy(
                "22021",
                format!(
                    "invalid byte sequence for encoding \"UTF8\" (COPY {}, line {})",
                    self.table, self.line
                ),
            )
        })
    }

    /// (position in the table row, type) of each field of a line, in order.
    pub(super) fn targets(&self) -> &[(usize, DataType)] {
        &self.targets
    }

    /// Whether lines are text format (CSV lines take the general parser only).
    pub(super) fn is_text(&self) -> bool {
        self.stmt.format == CopyFormat::Text
    }

    pub(super) fn delimiter(&self) -> u8 {
        self.stmt.delimiter
    }

    /// The string that stands for NULL.
    pub(super) fn null(&self) -> &str {
        &self.stmt.null
    }

    /// The number of the last line read.
    pub fn line(&self) -> u64 {
        self.line
    }

    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    /// Text format: parse one line (numbered `line`, without its newline) into `row`, reusing
    /// the strings `row` already holds, so a steady stream of lines allocates nothing for
    /// text columns. Columns the COPY does not list are set to NULL.
    pub fn parse_line_into(
        &mut self,
        raw: &[u8],
        line: u64,
        row: &mut Vec<Value>,
    ) -> Result<(), EngineError> {
        self.line = line;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let text = self.utf8(raw)?;
        if row.len() != self.width {
            row.resize(self.width, Value::Null);
        }
        if self.targets.len() < self.width {
            for (col, v) in row.iter_mut().enumerate() {
                if !self.targets.iter().any(|&(c, _)| c == col) {
                    *v = Value::Null;
                }
            }
        }
        // One memchr for the line instead of one per field.
        let escaped = raw.contains(&b'\\');
        let mut n = 0;
        for field in Fields::new(text, self.stmt.delimiter) {
            let Some(&(col, ty)) = self.targets.get(n) else {
                return Err(bad_copy(
                    "22P04",
                    format!(
                        "extra data after last expected column (COPY {}, line {})",
                        self.table, self.line
                    ),
                ));
            };
            let slot = &mut row[col];
            if is_null(field, &self.stmt.null) {
                *slot = Value::Null;
            } else if escaped && field.contains('\\') {
                *slot = self.convert(n, &unescape_text(field))?;
            } else if !reuse_text(slot, field, ty) {
                *slot = self.convert(n, field)?;
            }
            n += 1;
        }
        self.check_count(n)
    }

    /// Text format: the value of table column `col` in line `raw` (without its newline) alone,
    /// exactly as `parse_line_into` would store it, so a row's owning shard is known without
    /// parsing the whole line. `None` when that takes more than the plain case — the column is
    /// not listed, the field is missing, escaped or not valid — and the whole line must be parsed
    /// (which reports any error).
    pub fn column_value(&self, raw: &[u8], col: usize) -> Option<Value> {
        let (n, field) = self.column_field(raw, col)?;
        if field == self.stmt.null.as_bytes() {
            return Some(Value::Null);
        }
        if memchr::memchr(b'\\', field).is_some() {
            return None;
        }
        let ty = self.targets[n].1;
        if let Some(v) = super::direct::plain_value(field, ty) {
            return Some(v);
        }
        self.convert(n, std::str::from_utf8(field).ok()?).ok()
    }

    /// Text format: the target number and raw bytes of table column `col`'s field in line
    /// `raw` (without its newline or a last field's '\r'), unconverted: it may be the NULL
    /// string or escaped. `None` when the COPY does not list the column or the line has too
    /// few fields.
    pub fn column_field<'r>(&self, raw: &'r [u8], col: usize) -> Option<(usize, &'r [u8])> {
        let n = self.targets.iter().position(|&(c, _)| c == col)?;
        let delimiter = self.stmt.delimiter;
        let mut start = 0;
        for _ in 0..n {
            start = find_byte(raw, start, delimiter);
            if start == raw.len() {
                return None;
            }
            start += 1;
        }
        let field = &raw[start..find_byte(raw, start, delimiter)];
        let field = if n + 1 == self.targets.len() {
            field.strip_suffix(b"\r").unwrap_or(field)
        } else {
            field
        };
        Some((n, field))
    }

    /// A parser for one chunk from `split_lines`, numbering lines after `line`.
    pub fn fork(&self, line: u64) -> CopyParser {
        CopyParser {
            stmt: self.stmt.clone(),
            targets: self.targets.clone(),
            width: self.width,
            table: self.table.clone(),
            tz: self.tz.clone(),
            carry: Vec::new(),
            skip_header: false,
            ended: false,
            line,
            field: String::new(),
        }
    }

    /// Parse every complete line in `data` (plus what earlier chunks left over) into `out`.
    pub fn feed(&mut self, data: &[u8], out: &mut Vec<Vec<Value>>) -> Result<(), EngineError> {
        if self.ended {
            return Ok(());
        }
        self.carry.extend_from_slice(data);
        let carry = std::mem::take(&mut self.carry);
        let mut start = 0;
        while let Some(end) = self.record_end(&carry[start..]) {
            let record = &carry[start..start + end];
            start += end + 1;
            self.record(record, out)?;
            if self.ended {
                break;
            }
        }
        self.carry = carry;
        self.carry.drain(..start);
        Ok(())
    }

    /// The data ended (CopyDone): a last line without a newline still counts.
    pub fn finish(&mut self, out: &mut Vec<Vec<Value>>) -> Result<(), EngineError> {
        if !self.ended && !self.carry.is_empty() {
            let rest = std::mem::take(&mut self.carry);
            if self.stmt.format == CopyFormat::Csv && self.record_end(&rest).is_none() {
                let quoted = rest.iter().filter(|&&b| b == self.stmt.quote).count();
                if quoted % 2 == 1 {
                    return Err(bad_copy(
                        "22P04",
                        format!("unterminated CSV quoted field (COPY {})", self.table),
                    ));
                }
            }
            self.record(&rest, out)?;
        }
        Ok(())
    }

    /// Offset of the newline that ends the first record in `data`, if it is complete. In CSV a
    /// newline inside quotes belongs to the field.
    fn record_end(&self, data: &[u8]) -> Option<usize> {
        if self.stmt.format == CopyFormat::Text {
            return data.iter().position(|&b| b == b'\n');
        }
        let (quote, escape) = (self.stmt.quote, self.stmt.escape);
        let mut in_quotes = false;
        let mut i = 0;
        while i < data.len() {
            let b = data[i];
            if in_quotes {
                if b == escape && escape != quote && data.get(i + 1).is_some() {
                    i += 2;
                    continue;
                }
                if b == quote {
                    in_quotes = false;
                }
            } else if b == quote {
                in_quotes = true;
            } else if b == b'\n' {
                return Some(i);
            }
            i += 1;
        }
        None
    }

    fn record(&mut self, raw: &[u8], out: &mut Vec<Vec<Value>>) -> Result<(), EngineError> {
        self.line += 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw == b"\\." {
            self.ended = true;
            return Ok(());
        }
        if self.skip_header {
            self.skip_header = false;
            return Ok(());
        }
        let text = self.utf8(raw)?;
        let mut row = vec![Value::Null; self.width];
        match self.stmt.format {
            CopyFormat::Text => self.text_fields(text, &mut row)?,
            CopyFormat::Csv => self.csv_fields(text, &mut row)?,
        }
        out.push(row);
        Ok(())
    }

    fn text_fields(&mut self, line: &str, row: &mut [Value]) -> Result<(), EngineError> {
        let mut n = 0;
        for raw in Fields::new(line, self.stmt.delimiter) {
            let value = if is_null(raw, &self.stmt.null) {
                Value::Null
            } else if raw.contains('\\') {
                let unescaped = unescape_text(raw);
                self.convert(n, &unescaped)?
            } else {
                self.convert(n, raw)?
            };
            self.store(n, value, row)?;
            n += 1;
        }
        self.check_count(n)
    }

    fn csv_fields(&mut self, line: &str, row: &mut [Value]) -> Result<(), EngineError> {
        let (delimiter, quote, escape) = (
            self.stmt.delimiter as char,
            self.stmt.quote as char,
            self.stmt.escape as char,
        );
        let mut chars = line.chars().peekable();
        let mut n = 0;
        loop {
            self.field.clear();
            let mut quoted = false;
            let mut in_quotes = false;
            while let Some(c) = chars.next() {
                if in_quotes {
                    if c == escape && chars.peek() == Some(&quote) {
                        self.field.push(quote);
                        chars.next();
                    } else if c == escape && escape != quote && chars.peek() == Some(&escape) {
                        self.field.push(escape);
                        chars.next();
                    } else if c == quote {
                        in_quotes = false;
                    } else {
                        self.field.push(c);
                    }
                } else if c == quote {
                    in_quotes = true;
                    quoted = true;
                } else if c == delimiter {
                    break;
                } else {
                    self.field.push(c);
                }
            }
            let field = std::mem::take(&mut self.field);
            let value = if !quoted && field == self.stmt.null {
                Value::Null
            } else {
                self.convert(n, &field)?
            };
            self.field = field;
            self.store(n, value, row)?;
            n += 1;
            if chars.peek().is_none() && !line.ends_with(delimiter) {
                break;
            }
            if chars.peek().is_none() {
                // A trailing delimiter: one more (empty) field.
                let value = if self.stmt.null.is_empty() {
                    Value::Null
                } else {
                    self.convert(n, "")?
                };
                self.store(n, value, row)?;
                n += 1;
                break;
            }
        }
        self.check_count(n)
    }

    pub(super) fn convert(&self, n: usize, text: &str) -> Result<Value, EngineError> {
        let Some(&(col, ty)) = self.targets.get(n) else {
            return Ok(Value::Null);
        };
        let value = Value::from_text(text, ty, &self.tz).and_then(|v| match ty {
            // Length limits and blank padding: the value is then ready to store as is.
            DataType::Char(Some(_)) | DataType::Varchar(Some(_)) => v.assign(ty, &self.tz),
            _ => Ok(v),
        });
        value.map_err(|e| {
            bad_copy(
                e.sqlstate(),
                format!(
                    "{e} (COPY {}, line {}, column {})",
                    self.table,
                    self.line,
                    col + 1
                ),
            )
        })
    }

    fn store(&self, n: usize, value: Value, row: &mut [Value]) -> Result<(), EngineError> {
        match self.targets.get(n) {
            Some(&(col, _)) => {
                row[col] = value;
                Ok(())
            }
            None => Err(bad_copy(
                "22P04",
                format!(
                    "extra data after last expected column (COPY {}, line {})",
                    self.table, self.line
                ),
            )),
        }
    }

    fn check_count(&self, n: usize) -> Result<(), EngineError> {
        if n < self.targets.len() {
            return Err(bad_copy(
                "22P04",
                format!(
                    "missing data for column {} (COPY {}, line {})",
                    n + 1,
                    self.table,
                    self.line
                ),
            ));
        }
        Ok(())
    }
}

/// The fields of a text-format line, split at an ASCII delimiter byte: a plain byte loop,
/// cheaper than a `memchr` call per field for fields a few bytes long.
pub(super) struct Fields<'a> {
    text: &'a str,
    at: usize,
    delimiter: u8,
    done: bool,
}

impl<'a> Fields<'a> {
    pub(super) fn new(text: &'a str, delimiter: u8) -> Fields<'a> {
        debug_assert!(
            delimiter.is_ascii(),
            "COPY checks the delimiter is one byte"
        );
        Fields {
            text,
            at: 0,
            delimiter,
            done: false,
        }
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        if self.done {
            return None;
        }
        let bytes = self.text.as_bytes();
        let start = self.at;
        let i = find_byte(bytes, start, self.delimiter);
        if i == bytes.len() {
            self.done = true;
        }
        self.at = i + 1;
        // An ASCII delimiter always sits on a character boundary.
        self.text.get(start..i)
    }
}

/// The first `byte` in `bytes` from `from`, or `bytes.len()`: eight bytes a step (a word's
/// zero bytes after xor with the byte repeated, found by the borrow trick whose lowest set
/// bit is exact), then one at a time.
#[inline]
fn find_byte(bytes: &[u8], from: usize, byte: u8) -> usize {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    let pattern = ONES * u64::from(byte);
    let mut i = from;
    while let Some(word) = bytes.get(i..i + 8) {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        let x = u64::from_le_bytes(w) ^ pattern;
        let zeros = x.wrapping_sub(ONES) & !x & HIGHS;
        if zeros != 0 {
            return i + (zeros.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < bytes.len() && bytes[i] != byte {
        i += 1;
    }
    i
}

/// Whether `field` is the COPY's NULL string (lengths first: most fields are not).
pub(super) fn is_null(field: &str, null: &str) -> bool {
    field.len() == null.len() && field.bytes().zip(null.bytes()).all(|(a, b)| a == b)
}

/// Store an ASCII `field` of a text column in the string `slot` already holds (padding
/// `char(n)`); false when the fast path does not apply (not ASCII, too long, not text, no
/// string to reuse) and the general conversion must run.
fn reuse_text(slot: &mut Value, field: &str, ty: DataType) -> bool {
    let super::direct::Kind::Text { limit, pad } = super::direct::Kind::of(ty) else {
        return false;
    };
    let limit = limit.map_or(usize::MAX, |n| n as usize);
    if field.len() > limit || !field.is_ascii() {
        return false;
    }
    let Value::Text(s) = slot else {
        return false;
    };
    s.clear();
    s.push_str(field);
    if pad {
        let mut missing = limit - field.len();
        while missing > 0 {
            let n = missing.min(BLANKS.len());
            s.push_str(&BLANKS[..n]);
            missing -= n;
        }
    }
    true
}

/// Undo text-format backslash escapes: \b \f \n \r \t \v, \NNN octal, \xHH hex, \c = c.
fn unescape_text(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b != b'\\' || i + 1 == bytes.len() {
            out.push(b);
            i += 1;
            continue;
        }
        let c = bytes[i + 1];
        i += 2;
        match c {
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(11),
            b'0'..=b'7' => {
                let mut v = u32::from(c - b'0');
                let mut k = 0;
                while k < 2 && i < bytes.len() && (b'0'..=b'7').contains(&bytes[i]) {
                    v = v * 8 + u32::from(bytes[i] - b'0');
                    i += 1;
                    k += 1;
                }
                out.push(v as u8);
            }
            b'x' if i < bytes.len() && bytes[i].is_ascii_hexdigit() => {
                let mut v = 0u32;
                let mut k = 0;
                while k < 2 && i < bytes.len() && bytes[i].is_ascii_hexdigit() {
                    v = v * 16 + (bytes[i] as char).to_digit(16).unwrap_or(0);
                    i += 1;
                    k += 1;
                }
                out.push(v as u8);
            }
            other => out.push(other),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::super::statement::parse_copy;
    use super::*;

    /// The word-at-a-time search finds the first match from every start, for delimiters and
    /// neighbours of every byte value around the borrow trick's edges (0, 1, 0x7f, 0x80, 0xff).
    #[test]
    fn find_byte_finds_the_first_match() {
        let (cases, alphabet) = super::super::search_cases();
        for bytes in &cases {
            let len = bytes.len();
            for &byte in &alphabet {
                for from in 0..=len {
                    let want = bytes[from..]
                        .iter()
                        .position(|&b| b == byte)
                        .map_or(len, |p| from + p);
                    assert_eq!(
                        find_byte(bytes, from, byte),
                        want,
                        "{bytes:?} {from} {byte}"
                    );
                }
            }
        }
    }

    fn parse(sql: &str, chunks: &[&str]) -> Result<Vec<Vec<Value>>, EngineError> {
        let stmt = parse_copy(sql).unwrap().unwrap();
        let targets = vec![
            (0, DataType::Int32),
            (1, DataType::Text),
            (2, DataType::Date),
        ];
        let mut p = CopyParser::new(stmt, targets, 3, TimeZone::utc());
        let mut out = Vec::new();
        for c in chunks {
            p.feed(c.as_bytes(), &mut out)?;
        }
        p.finish(&mut out)?;
        Ok(out)
    }

    /// The same stream through `split_lines` (cut at every `step` bytes) and forked parsers.
    fn parse_split(
        sql: &str,
        data: &str,
        step: usize,
        min: usize,
    ) -> Result<Vec<Vec<Value>>, EngineError> {
        let stmt = parse_copy(sql).unwrap().unwrap();
        let targets = vec![
            (0, DataType::Int32),
            (1, DataType::Text),
            (2, DataType::Date),
        ];
        let mut p = CopyParser::new(stmt, targets, 3, TimeZone::utc());
        let mut out = Vec::new();
        let mut run = |chunk: Option<(Bytes, u64)>, p: &CopyParser| -> Result<(), EngineError> {
            if let Some((bytes, line)) = chunk {
                let mut f = p.fork(line);
                f.feed(&bytes, &mut out)?;
                f.finish(&mut out)?;
            }
            Ok(())
        };
        for piece in data.as_bytes().chunks(step) {
            let chunk = p.split_lines(Bytes::copy_from_slice(piece), min, false);
            run(chunk, &p)?;
        }
        let chunk = p.split_lines(Bytes::new(), min, true);
        run(chunk, &p)?;
        Ok(out)
    }

    #[test]
    fn split_chunks_parse_like_one_stream() {
        let data =
            "1\ta\\tb\t2024-01-01\r\n2\t\\N\t\\N\n3\tc\t2024-03-03\n\\.\n9\tafter\t2024-01-01\n";
        let whole = parse("copy t from stdin", &[data]).unwrap();
        assert_eq!(whole.len(), 3);
        for step in [1, 2, 5, 7, 64] {
            for min in [0, 1, 10, 1000] {
                let split = parse_split("copy t from stdin", data, step, min).unwrap();
                assert_eq!(show(&split), show(&whole), "step {step}, min {min}");
            }
        }
        // No final newline.
        let tail = "1\tx\t2024-01-01\n2\ty\t2024-01-02";
        let whole = parse("copy t from stdin", &[tail]).unwrap();
        assert_eq!(
            show(&parse_split("copy t from stdin", tail, 3, 4).unwrap()),
            show(&whole)
        );
    }

    /// A message of whole lines without a backslash is a chunk as it is (not copied), with
    /// the same rows and line numbers as one stream; a message after a partial one, or with a
    /// backslash, goes through the carry.
    #[test]
    fn whole_line_messages_are_chunks_as_they_are() {
        let data = "1\ta\t2024-01-01\n2\tb\t2024-01-02\n3\tc\t2024-01-03\n4\td\t2024-01-04\n";
        let whole = parse("copy t from stdin", &[data]).unwrap();
        for step in [16, 32, 64] {
            for min in [0, 16, 32, 100] {
                let split = parse_split("copy t from stdin", data, step, min).unwrap();
                assert_eq!(show(&split), show(&whole), "step {step}, min {min}");
            }
        }
        let bad = data.replace("3\tc", "x\tc");
        let whole = parse("copy t from stdin", &[&bad]).unwrap_err().to_string();
        assert!(whole.contains("line 3"), "{whole}");
        let split = parse_split("copy t from stdin", &bad, 16, 16)
            .unwrap_err()
            .to_string();
        assert_eq!(split, whole);

        let stmt = parse_copy("copy t from stdin").unwrap().unwrap();
        let mut p = CopyParser::new(stmt, vec![(0, DataType::Int32)], 1, TimeZone::utc());
        let message = Bytes::from_static(b"1\n2\n");
        let (chunk, line) = p.split_lines(message.clone(), 4, false).unwrap();
        assert_eq!(
            (chunk.as_ptr(), chunk.len(), line),
            (message.as_ptr(), 4, 0)
        );
        assert!(
            p.split_lines(Bytes::from_static(b"3\n4"), 4, false)
                .is_none()
        );
        let carried = Bytes::from_static(b"\n5\n");
        let (chunk, line) = p.split_lines(carried.clone(), 4, false).unwrap();
        assert_ne!(chunk.as_ptr(), carried.as_ptr());
        assert_eq!((&chunk[..], line), (&b"3\n4\n5\n"[..], 2));
    }

    #[test]
    fn split_chunks_report_the_stream_line_number() {
        let data = "1\ta\t2024-01-01\n2\tb\t2024-01-02\n3\tc\t2024-01-03\nx\td\t2024-01-04\n";
        let whole = parse("copy t from stdin", &[data]).unwrap_err().to_string();
        assert!(whole.contains("line 4"), "{whole}");
        for step in [3, 17] {
            let split = parse_split("copy t from stdin", data, step, 5)
                .unwrap_err()
                .to_string();
            assert_eq!(split, whole);
        }
    }

    fn text_parser(sql: &str) -> CopyParser {
        let stmt = parse_copy(sql).unwrap().unwrap();
        let targets = vec![
            (0, DataType::Int32),
            (1, DataType::Text),
            (2, DataType::Date),
        ];
        CopyParser::new(stmt, targets, 3, TimeZone::utc())
    }

    #[test]
    fn column_value_is_what_the_whole_line_parses_to_or_none() {
        let mut p = text_parser("copy t from stdin");
        let lines: [&[u8]; 5] = [
            b"17\tabc\t2024-01-02",
            b"\\N\tx\t2024-01-02",
            b"-3\t\t\\N\r",
            b"8\tmissing date",
            b"9\tone\t2024-01-01\textra",
        ];
        for line in lines {
            let mut row = Vec::new();
            let whole = p.parse_line_into(line, 1, &mut row).map(|()| row);
            for col in 0..3 {
                let alone = p.column_value(line, col);
                if let (Some(v), Ok(row)) = (&alone, &whole) {
                    assert_eq!(show(&[vec![v.clone()]]), show(&[vec![row[col].clone()]]));
                }
            }
        }
        assert!(p.column_value(b"17\tabc\t2024-01-02", 0).is_some());
        assert!(p.column_value(b"\\N\tx\t2024-01-02", 0).unwrap().is_null());
        assert!(p.column_value(b"-3\t\t\\N\r", 2).unwrap().is_null());
        // Escaped, malformed or missing fields are left to the whole-line parse.
        assert!(p.column_value(b"1\\x37\tabc\t2024-01-02", 0).is_none());
        assert!(p.column_value(b"zz\tabc\t2024-01-02", 0).is_none());
        assert!(p.column_value(b"1\tabc", 2).is_none());
        assert!(p.column_value(b"1\tabc\t2024-13-45", 2).is_none());
        assert!(p.column_value(&[b'1', b'\t', 0xff, b'\t'], 1).is_none());
    }

    #[test]
    fn reused_char_values_are_padded_to_their_length() {
        let stmt = parse_copy("copy t from stdin").unwrap().unwrap();
        let targets = vec![(0, DataType::Char(Some(100))), (1, DataType::Char(Some(3)))];
        let mut p = CopyParser::new(stmt, targets, 2, TimeZone::utc());
        let mut row = Vec::new();
        for (n, line) in [&b"first\tab"[..], b"x\tyz", b"\\N\tq"].iter().enumerate() {
            p.parse_line_into(&line[..], n as u64 + 1, &mut row)
                .unwrap();
        }
        // The second and third lines reuse the strings of the first.
        assert!(row[0].is_null());
        assert_eq!(
            show(&[vec![row[1].clone()]]),
            show(&[vec![Value::Text("q  ".into())]])
        );
        p.parse_line_into(b"x\tyz", 4, &mut row).unwrap();
        p.parse_line_into(b"pad me\tyz", 5, &mut row).unwrap();
        let expected = format!("pad me{}", " ".repeat(94));
        assert_eq!(
            show(&[vec![row[0].clone()]]),
            show(&[vec![Value::Text(expected)]])
        );
        let e = p.parse_line_into(b"x\tlong", 6, &mut row).unwrap_err();
        assert!(e.to_string().contains("line 6"), "{e}");
    }

    #[test]
    fn fields_split_like_str_split() {
        for line in ["", "a", "a|b", "|", "a||b|", "||", "é|ü|", "x|y|z"] {
            let ours: Vec<&str> = Fields::new(line, b'|').collect();
            let std: Vec<&str> = line.split('|').collect();
            assert_eq!(ours, std, "{line:?}");
        }
        assert!(is_null("\\N", "\\N") && !is_null("\\n", "\\N") && !is_null("", "\\N"));
        assert!(is_null("", ""));
    }

    fn show(rows: &[Vec<Value>]) -> String {
        format!("{rows:?}")
    }

    #[test]
    fn text_format_with_escapes_nulls_and_split_chunks() {
        let rows = parse(
            "copy t from stdin",
            &[
                "1\ta\\tb\t2024-01-0",
                "2\n2\t\\N\t\\N\r\n3\tlast\t2000-01-01",
            ],
        )
        .unwrap();
        assert_eq!(rows.len(), 3);
        assert!(show(&rows).contains("Text(\"a\\tb\")"));
        assert!(rows[1][1].is_null() && rows[1][2].is_null());
        let ended = parse("copy t from stdin", &["1\tx\t2000-01-01\n\\.\ngarbage\n"]).unwrap();
        assert_eq!(ended.len(), 1);
    }

    #[test]
    fn csv_format_with_quotes_and_embedded_newlines() {
        let rows = parse(
            "copy t from stdin with (format csv, header)",
            &["id,name,d\n1,\"a,\"\"b\"\"\nc\",2024-02-03\n2,,\n"],
        )
        .unwrap();
        assert_eq!(rows.len(), 2);
        assert!(show(&rows).contains("Text(\"a,\\\"b\\\"\\nc\")"));
        assert!(rows[1][1].is_null() && rows[1][2].is_null());
        let quoted_empty = parse("copy t from stdin csv", &["3,\"\",2024-01-01\n"]).unwrap();
        assert!(show(&quoted_empty).contains("Text(\"\")"));
    }

    #[test]
    fn bad_input_names_line_and_column() {
        let e = parse(
            "copy t from stdin",
            &["1\tx\t2000-01-01\nzz\ty\t2000-01-01\n"],
        )
        .unwrap_err();
        assert_eq!(e.sqlstate(), "22P02");
        assert!(e.to_string().contains("line 2, column 1"), "{e}");
        let e = parse("copy t from stdin", &["1\tx\n"]).unwrap_err();
        assert_eq!(e.sqlstate(), "22P04");
        let e = parse("copy t from stdin", &["1\tx\t2000-01-01\t9\n"]).unwrap_err();
        assert_eq!(e.sqlstate(), "22P04");
        let e = parse("copy t from stdin csv", &["1,\"open,2000-01-01\n"]).unwrap_err();
        assert_eq!(e.sqlstate(), "22P04");
    }
}
