//! Plain COPY lines parsed a column at a time: a bulk load gathers up to [`BLOCK_ROWS`] lines
//! with their field boundaries, parses each target column's fields in one loop of that
//! column's kind into a typed vector, and hands the vectors to the column builders whole. No
//! `Slot` per field and no branch on the kind per field: a row-at-a-time parse paid both for
//! every one of a load's ~80 million fields at SF 1.
//!
//! Must never produce a value the row-at-a-time path (`direct::parse_line`, then the general
//! parser) would not, nor accept a field it would reject: a block whose every field is not in
//! its plain form is parsed by that path instead, line by line and in order, which also words
//! the errors. Parsing a block has no effect until it has succeeded for every field.

use super::direct::Slot;
use super::direct::{Kind, delimiter_positions, plain_decimal, plain_int, text_pad};
use omendb_storage::types::datetime::iso_date_bytes;

/// Lines a block holds at most: the typed vectors of a block of lineitem (16 columns) stay
/// within the L2 cache.
pub(crate) const BLOCK_ROWS: usize = 1024;

/// One target field's parsed values, of its column's kind.
#[derive(Debug)]
pub(crate) enum Parsed {
    Ints(Vec<i64>),
    /// Days since 2000-01-01.
    Dates(Vec<i32>),
    /// Mantissas at the column's scale.
    Decimals(Vec<i64>),
    /// Blanks each text value is padded with (`char(n)`); its bytes are the field's.
    Pads(Vec<u32>),
}

/// Lines of one chunk gathered for a column-at-a-time parse.
#[derive(Debug)]
pub(crate) struct Block {
    /// Each target field's table column and kind; none is `Kind::General`.
    kinds: Vec<(usize, Kind)>,
    delimiter: u8,
    /// The chunk holds a backslash somewhere: fields must be checked for escapes.
    escaped: bool,
    /// Each line's first byte in the chunk, where its newline is, and its line number.
    starts: Vec<u32>,
    line_ends: Vec<u32>,
    numbers: Vec<u64>,
    /// Field `f` of line `i` ends at `ends[i * fields + f]` (offsets in the chunk, the last
    /// one before any '\r'); it starts one past the end before it, or at the line's start.
    ends: Vec<u32>,
    /// Per target field: the values, and whether each is non-NULL (filled only while
    /// `nulls[f] > 0`).
    values: Vec<Parsed>,
    valid: Vec<Vec<bool>>,
    nulls: Vec<usize>,
}

impl Block {
    /// A block for lines of `kinds` in a chunk of `chunk_len` bytes, or `None` when some
    /// target column needs the general conversion or the chunk is too long for 32-bit
    /// offsets (the row-at-a-time path takes those).
    pub(crate) fn new(kinds: &[(usize, Kind)], delimiter: u8, chunk: &[u8]) -> Option<Block> {
        if kinds.iter().any(|(_, k)| *k == Kind::General) || u32::try_from(chunk.len()).is_err() {
            return None;
        }
        let values = kinds
            .iter()
            .map(|(_, k)| match k {
                Kind::Int { .. } => Parsed::Ints(Vec::with_capacity(BLOCK_ROWS)),
                Kind::Date => Parsed::Dates(Vec::with_capacity(BLOCK_ROWS)),
                Kind::Decimal { .. } => Parsed::Decimals(Vec::with_capacity(BLOCK_ROWS)),
                _ => Parsed::Pads(Vec::with_capacity(BLOCK_ROWS)),
            })
            .collect();
        Some(Block {
            kinds: kinds.to_vec(),
            delimiter,
            escaped: memchr::memchr(b'\\', chunk).is_some(),
            starts: Vec::with_capacity(BLOCK_ROWS),
            line_ends: Vec::with_capacity(BLOCK_ROWS),
            numbers: Vec::with_capacity(BLOCK_ROWS),
            ends: Vec::with_capacity(BLOCK_ROWS * kinds.len()),
            values,
            valid: vec![Vec::new(); kinds.len()],
            nulls: vec![0; kinds.len()],
        })
    }

    pub(crate) fn len(&self) -> usize {
        self.starts.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }

    pub(crate) fn clear(&mut self) {
        self.starts.clear();
        self.line_ends.clear();
        self.numbers.clear();
        self.ends.clear();
    }

    /// Add the line at `start..end` of `chunk` (without its newline), numbered `number`; false,
    /// adding nothing, when it does not have one field per target (the row-at-a-time path
    /// words that error).
    pub(crate) fn add(&mut self, chunk: &[u8], start: usize, end: usize, number: u64) -> bool {
        let line = &chunk[start..end];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        // Offsets fit: `new` checked the chunk's length.
        let base = start as u32;
        let before = self.ends.len();
        delimiter_positions(line, self.delimiter, base, &mut self.ends);
        self.ends.push(base + line.len() as u32);
        if self.ends.len() - before != self.kinds.len() {
            self.ends.truncate(before);
            return false;
        }
        self.starts.push(base);
        self.line_ends.push(end as u32);
        self.numbers.push(number);
        true
    }

    /// The lines, as `(start, end, number)` with `end` at the newline: for the row-at-a-time
    /// path when the block does not parse.
    pub(crate) fn lines(&self) -> impl Iterator<Item = (usize, usize, u64)> + '_ {
        self.starts
            .iter()
            .zip(&self.line_ends)
            .zip(&self.numbers)
            .map(|((&s, &e), &n)| (s as usize, e as usize, n))
    }

    /// Parse every field of every line of `text` (the chunk, known to be UTF-8); false when
    /// one is not in its plain form, is NULL in a column `required` says is NOT NULL, or
    /// is escaped. `null` is the COPY's NULL string.
    pub(crate) fn parse(&mut self, text: &str, null: &str, required: &[bool]) -> bool {
        let fields = self.kinds.len();
        for f in 0..fields {
            let (col, kind) = self.kinds[f];
            let column = Fields {
                text: text.as_bytes(),
                null: null.as_bytes(),
                escaped: self.escaped,
                starts: &self.starts,
                ends: &self.ends,
                fields,
                f,
            };
            let valid = &mut self.valid[f];
            let ok = match (&mut self.values[f], kind) {
                (Parsed::Ints(out), Kind::Int { min, max }) => column.parse(out, valid, |s| {
                    plain_int(s).filter(|v| (min..=max).contains(v))
                }),
                (Parsed::Dates(out), Kind::Date) => column.parse(out, valid, iso_date_bytes),
                (Parsed::Decimals(out), Kind::Decimal { scale, limit }) => {
                    column.parse(out, valid, |s| {
                        plain_decimal(s, scale).filter(|m| m.unsigned_abs() < limit.unsigned_abs())
                    })
                }
                (Parsed::Pads(out), Kind::Text { limit, pad }) => {
                    column.parse(out, valid, |s| text_pad(s, limit, pad))
                }
                _ => None,
            };
            let Some(nulls) = ok else {
                return false;
            };
            self.nulls[f] = nulls;
            if nulls > 0 && required.get(col).copied().unwrap_or(false) {
                return false;
            }
        }
        true
    }

    /// Each target field's table column, parsed values and validity (`None` without NULLs),
    /// after a successful `parse`.
    pub(crate) fn columns(&self) -> impl Iterator<Item = (usize, &Parsed, Option<&[bool]>)> {
        self.kinds
            .iter()
            .zip(&self.values)
            .zip(self.valid.iter().zip(&self.nulls))
            .map(|((&(col, _), values), (valid, &nulls))| {
                (col, values, (nulls > 0).then_some(valid.as_slice()))
            })
    }

    /// Bytes `start..end` in the chunk of field `f` of line `i`.
    pub(crate) fn field_range(&self, i: usize, f: usize) -> (usize, usize) {
        let fields = self.kinds.len();
        let start = if f == 0 {
            self.starts[i] as usize
        } else {
            self.ends[i * fields + f - 1] as usize + 1
        };
        (start, self.ends[i * fields + f] as usize)
    }

    /// Field `f` of line `i` as the row-at-a-time parse makes it (text as chunk offsets), after
    /// a successful `parse`; `None` outside the block.
    pub(crate) fn slot(&self, i: usize, f: usize) -> Option<Slot> {
        if self.nulls[f] > 0 && !*self.valid.get(f)?.get(i)? {
            return Some(Slot::Null);
        }
        Some(match self.values.get(f)? {
            Parsed::Ints(v) => Slot::Int(*v.get(i)?),
            Parsed::Dates(d) => Slot::Date(*d.get(i)?),
            Parsed::Decimals(m) => Slot::Decimal(*m.get(i)?),
            Parsed::Pads(p) => {
                let (start, end) = self.field_range(i, f);
                Slot::Text {
                    start: u32::try_from(start).ok()?,
                    end: u32::try_from(end).ok()?,
                    pad: *p.get(i)?,
                }
            }
        })
    }

    /// Field `f`'s integers when it is an integer field without NULLs, after a successful
    /// `parse`.
    pub(crate) fn ints(&self, f: usize) -> Option<&[i64]> {
        match self.values.get(f)? {
            Parsed::Ints(v) if self.nulls[f] == 0 => Some(v),
            _ => None,
        }
    }

    /// The target field of table column `col`, if the COPY lists it.
    pub(crate) fn field_of_column(&self, col: usize) -> Option<usize> {
        self.kinds.iter().position(|&(c, _)| c == col)
    }
}

/// One target field of every line of a block.
struct Fields<'a> {
    /// The chunk: valid UTF-8, so a field between ASCII delimiters is too.
    text: &'a [u8],
    null: &'a [u8],
    escaped: bool,
    starts: &'a [u32],
    ends: &'a [u32],
    fields: usize,
    f: usize,
}

impl Fields<'_> {
    /// Parse the field of each line with `plain` into `out` (a default for NULL), NULLs
    /// marked in `valid` once there is one: the number of NULLs, or `None` when a field is
    /// escaped or `plain` refuses it. Inlined into each kind's loop, `plain` with it.
    #[inline(always)]
    fn parse<T: Default>(
        &self,
        out: &mut Vec<T>,
        valid: &mut Vec<bool>,
        plain: impl Fn(&[u8]) -> Option<T>,
    ) -> Option<usize> {
        out.clear();
        let (fields, f) = (self.fields, self.f);
        // Each line's field ends at `ends[i * fields + f]`; it starts after the end before it,
        // or at the line's start.
        let ends = self
            .ends
            .get(f..)?
            .iter()
            .step_by(fields)
            .map(|&e| e as usize);
        if f == 0 {
            let starts = self.starts.iter().map(|&s| s as usize);
            self.each(starts.zip(ends), out, valid, plain)
        } else {
            let before = self.ends.get(f - 1..)?.iter().step_by(fields);
            let starts = before.map(|&e| e as usize + 1);
            self.each(starts.zip(ends), out, valid, plain)
        }
    }

    #[inline(always)]
    fn each<T: Default>(
        &self,
        ranges: impl Iterator<Item = (usize, usize)>,
        out: &mut Vec<T>,
        valid: &mut Vec<bool>,
        plain: impl Fn(&[u8]) -> Option<T>,
    ) -> Option<usize> {
        let mut nulls = 0;
        for (i, (start, end)) in ranges.enumerate() {
            let field = self.text.get(start..end)?;
            // Lengths first, then bytes inline (a slice comparison calls memcmp).
            if field.len() == self.null.len() && field.iter().zip(self.null).all(|(a, b)| a == b) {
                if nulls == 0 {
                    valid.clear();
                    valid.resize(i, true);
                }
                nulls += 1;
                valid.push(false);
                out.push(T::default());
                continue;
            }
            if nulls > 0 {
                valid.push(true);
            }
            if self.escaped && memchr::memchr(b'\\', field).is_some() {
                return None;
            }
            out.push(plain(field)?);
        }
        Some(nulls)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::copy::direct::{kinds, parse_line, slot_value};
    use crate::copy::{CopyParser, parse_copy};
    use omendb_storage::types::datetime::TimeZone;
    use omendb_storage::types::{DataType, Value};
    use proptest::prelude::*;

    const TYPES: [DataType; 7] = [
        DataType::Int32,
        DataType::Int16,
        DataType::Date,
        DataType::Numeric {
            precision: Some(15),
            scale: Some(2),
        },
        DataType::Char(Some(5)),
        DataType::Varchar(Some(4)),
        DataType::Text,
    ];

    /// Fields in plain forms for each of `TYPES`, NULL among them.
    const PLAIN: [[&str; 4]; 7] = [
        ["7", "-2147483648", "0", "\\N"],
        ["-32768", "32767", "12", "\\N"],
        ["1998-12-01", "2000-02-29", "0001-01-01", "\\N"],
        ["12.5", "-.5", "7.", "\\N"],
        ["abc", "é", "ab ", ""],
        ["abcd", "éé", "", "\\N"],
        ["text", "ünïcode", "", "\\N"],
    ];

    /// Fields of any type, some only the general parser takes or none does.
    const ANY: [&str; 10] = [
        "7", "40000", "abcdef", "\\N", "+3", "1.005", "1999-1-8", "a\\tb", " 1", "12.5",
    ];

    fn parser() -> CopyParser {
        let stmt = parse_copy("copy t from stdin")
            .ok()
            .flatten()
            .expect("a COPY statement");
        let targets = TYPES.iter().copied().enumerate().collect();
        CopyParser::new(stmt, targets, TYPES.len(), TimeZone::utc())
    }

    proptest! {
        /// A block parses exactly when every line parses plainly (with no NULL in column 0
        /// when it is NOT NULL), and then every field is what the row-at-a-time parse makes of it.
        #[test]
        fn a_block_is_what_each_line_parses_to(
            lines in prop::collection::vec(
                prop::collection::vec(
                    (prop::bool::weighted(0.995), 0..PLAIN[0].len(), 0..ANY.len()),
                    TYPES.len() * 20 - 1..=TYPES.len() * 20,
                ),
                1..40,
            ),
            crlf in any::<bool>(),
            not_null in prop::bool::weighted(0.2),
        ) {
            let parser = parser();
            let kinds = kinds(&parser).expect("text format");
            let text: String = lines
                .iter()
                .map(|l| {
                    // One field in 20 lines short now and then: a line with a field missing.
                    let fields: Vec<&str> = l
                        .iter()
                        .take(l.len() / 20)
                        .enumerate()
                        .map(|(f, &(plain, p, a))| if plain { PLAIN[f][p] } else { ANY[a] })
                        .collect();
                    fields.join("\t") + if crlf { "\r\n" } else { "\n" }
                })
                .collect();
            let body = text.strip_suffix('\n').unwrap_or(&text);
            let mut block = Block::new(&kinds, b'\t', body.as_bytes()).expect("plain kinds");
            let mut start = 0;
            let mut joined = true;
            for (i, line) in body.split('\n').enumerate() {
                joined &= block.add(body.as_bytes(), start, start + line.len(), i as u64);
                start += line.len() + 1;
            }
            let mut required = vec![false; TYPES.len()];
            required[0] = not_null;
            let parsed = joined && block.parse(body, "\\N", &required);
            let (mut slots, mut row, mut ends) = (vec![Slot::Null; TYPES.len()], vec![Value::Null; TYPES.len()], Vec::new());
            let mut each_plain = joined;
            for (i, line) in body.split('\n').enumerate() {
                slots.fill(Slot::Null);
                let Some(line_text) = parse_line(&parser, &kinds, line, &mut slots, &mut row, &mut ends) else {
                    each_plain = false;
                    continue;
                };
                each_plain &= !not_null || slots[0] != Slot::Null;
                if !parsed {
                    continue;
                }
                for (f, ty) in TYPES.iter().enumerate() {
                    let from_block = block.slot(i, f).and_then(|s| slot_value(s, *ty, body));
                    let from_line = slot_value(slots[f], *ty, line_text);
                    prop_assert_eq!(format!("{from_block:?}"), format!("{from_line:?}"));
                }
            }
            prop_assert_eq!(parsed, each_plain);
        }
    }
}
