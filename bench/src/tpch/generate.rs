//! In-process TPC-H data generation with the `tpchgen` crate (dbgen-identical rows), cut into
//! chunks ready to send: COPY text, multi-row INSERT statements, or `.tbl` lines.
//!
//! Owns the turning of generated rows into bytes for a server or a file. It must never alter a
//! value: the COPY and INSERT forms carry exactly the text dbgen would have written.

use std::fmt::{self, Write as _};
use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::Path;

use anyhow::{Context, Result};
use tpchgen::generators::{
    CustomerGenerator, LineItemGenerator, NationGenerator, OrderGenerator, PartGenerator,
    PartSuppGenerator, RegionGenerator, SupplierGenerator,
};

use super::tables::{Literal, Table};

/// A COPY chunk is sent once it holds this many bytes: large enough that per-message overhead
/// vanishes, small enough that generation and sending overlap.
pub const COPY_CHUNK_BYTES: usize = 1 << 20;
/// Rows per INSERT statement: about what bulk-loading tools batch, and small enough that a
/// statement stays well under any server's message limit.
pub const INSERT_ROWS: usize = 1000;

/// What the generated rows become.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// PostgreSQL COPY text format with `|` as the delimiter (dbgen lines without the trailing `|`).
    Copy,
    /// `INSERT INTO table VALUES (...), (...)` statements of `INSERT_ROWS` rows.
    Insert,
}

/// A piece of one table's data, ready to send.
#[derive(Debug)]
pub struct Chunk {
    pub rows: u64,
    pub data: String,
}

/// Calls `row` with every row of part `part` (1-based) of `parts` of `table` at scale factor
/// `sf`, each formatted the dbgen way (`|`-separated, with a trailing `|`).
pub fn for_each_row(
    table: Table,
    sf: f64,
    part: usize,
    parts: usize,
    mut row: impl FnMut(&dyn fmt::Display),
) {
    let (p, n) = (part as i32, parts as i32);
    match table {
        Table::Region => RegionGenerator::new(sf, p, n).iter().for_each(|r| row(&r)),
        Table::Nation => NationGenerator::new(sf, p, n).iter().for_each(|r| row(&r)),
        Table::Supplier => SupplierGenerator::new(sf, p, n)
            .iter()
            .for_each(|r| row(&r)),
        Table::Customer => CustomerGenerator::new(sf, p, n)
            .iter()
            .for_each(|r| row(&r)),
        Table::Part => PartGenerator::new(sf, p, n).iter().for_each(|r| row(&r)),
        Table::PartSupp => PartSuppGenerator::new(sf, p, n)
            .iter()
            .for_each(|r| row(&r)),
        Table::Orders => OrderGenerator::new(sf, p, n).iter().for_each(|r| row(&r)),
        Table::LineItem => LineItemGenerator::new(sf, p, n)
            .iter()
            .for_each(|r| row(&r)),
    }
}

/// Generates one part of a table as chunks in `format`, handing each to `emit`; stops early
/// (returning `false`) when `emit` returns `false` because the receiver went away.
pub fn generate_chunks(
    table: Table,
    sf: f64,
    part: usize,
    parts: usize,
    format: Format,
    mut emit: impl FnMut(Chunk) -> bool,
) -> bool {
    let mut builder = ChunkBuilder::new(table, format);
    let mut line = String::new();
    let mut open = true;
    for_each_row(table, sf, part, parts, |row| {
        if !open {
            return;
        }
        line.clear();
        // Writing to a String cannot fail.
        let _ = write!(line, "{row}");
        builder.push(&line);
        if builder.is_full() {
            open = emit(builder.take());
        }
    });
    if open && builder.rows > 0 {
        open = emit(builder.take());
    }
    open
}

/// Accumulates formatted rows of one table into a chunk.
struct ChunkBuilder {
    table: Table,
    format: Format,
    rows: u64,
    data: String,
}

impl ChunkBuilder {
    fn new(table: Table, format: Format) -> ChunkBuilder {
        ChunkBuilder {
            table,
            format,
            rows: 0,
            data: String::new(),
        }
    }

    fn push(&mut self, tbl_line: &str) {
        match self.format {
            Format::Copy => push_copy_line(&mut self.data, tbl_line),
            Format::Insert => {
                if self.rows == 0 {
                    self.data.push_str("INSERT INTO ");
                    self.data.push_str(self.table.name());
                    self.data.push_str(" VALUES ");
                } else {
                    self.data.push(',');
                }
                push_values(&mut self.data, tbl_line, self.table.literals());
            }
        }
        self.rows += 1;
    }

    fn is_full(&self) -> bool {
        match self.format {
            Format::Copy => self.data.len() >= COPY_CHUNK_BYTES,
            Format::Insert => self.rows as usize >= INSERT_ROWS,
        }
    }

    fn take(&mut self) -> Chunk {
        let rows = std::mem::take(&mut self.rows);
        Chunk {
            rows,
            data: std::mem::take(&mut self.data),
        }
    }
}

/// The fields of a dbgen line (which ends with a `|` that closes the last field).
fn fields(tbl_line: &str) -> impl Iterator<Item = &str> {
    tbl_line.strip_suffix('|').unwrap_or(tbl_line).split('|')
}

/// Appends one COPY text line: the fields `|`-separated, with the characters COPY's text format
/// gives meaning to (backslash, newline, carriage return) escaped.
pub fn push_copy_line(out: &mut String, tbl_line: &str) {
    let body = tbl_line.strip_suffix('|').unwrap_or(tbl_line);
    for c in body.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out.push('\n');
}

/// Appends `(v1, 'v2', ...)` for one dbgen line, quoting by column kind.
pub fn push_values(out: &mut String, tbl_line: &str, literals: &[Literal]) {
    out.push('(');
    for (i, (value, literal)) in fields(tbl_line).zip(literals).enumerate() {
        if i > 0 {
            out.push(',');
        }
        match literal {
            Literal::Number => out.push_str(value),
            Literal::Quoted => {
                out.push('\'');
                for c in value.chars() {
                    if c == '\'' {
                        out.push('\'');
                    }
                    out.push(c);
                }
                out.push('\'');
            }
        }
    }
    out.push(')');
}

/// Writes `DIR/<table>.tbl` for every table at scale factor `sf`, exactly as dbgen would
/// (lines end with `|`), calling `progress` with the rows written so far.
pub fn write_tbl_files(dir: &Path, sf: f64, mut progress: impl FnMut(Table, u64)) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    for table in Table::ALL {
        let path = dir.join(format!("{}.tbl", table.name()));
        let file = File::create(&path).with_context(|| format!("create {}", path.display()))?;
        let mut out = BufWriter::new(file);
        let mut result = Ok(());
        let mut rows = 0u64;
        for_each_row(table, sf, 1, 1, |row| {
            if result.is_ok() {
                result = writeln!(out, "{row}");
                rows += 1;
                if rows.is_multiple_of(PROGRESS_EVERY_ROWS) {
                    progress(table, PROGRESS_EVERY_ROWS);
                }
            }
        });
        result.with_context(|| format!("write {}", path.display()))?;
        out.flush()
            .with_context(|| format!("write {}", path.display()))?;
        progress(table, rows % PROGRESS_EVERY_ROWS);
    }
    Ok(())
}

/// How often `.tbl` writing reports progress.
const PROGRESS_EVERY_ROWS: u64 = 10_000;

#[cfg(test)]
mod tests {
    use super::*;

    fn count_rows(table: Table, sf: f64, parts: usize) -> u64 {
        (1..=parts)
            .map(|part| {
                let mut rows = 0;
                for_each_row(table, sf, part, parts, |_| rows += 1);
                rows
            })
            .sum()
    }

    #[test]
    fn row_counts_at_sf_0_01_are_the_specs() {
        let expected = [
            (Table::Region, 5),
            (Table::Nation, 25),
            (Table::Supplier, 100),
            (Table::Customer, 1_500),
            (Table::Part, 2_000),
            (Table::PartSupp, 8_000),
            (Table::Orders, 15_000),
            (Table::LineItem, 60_175),
        ];
        for (table, rows) in expected {
            assert_eq!(count_rows(table, 0.01, 1), rows, "{table}");
        }
    }

    #[test]
    fn parts_together_are_the_whole_table() {
        for table in [Table::Orders, Table::LineItem, Table::PartSupp] {
            assert_eq!(
                count_rows(table, 0.01, 3),
                count_rows(table, 0.01, 1),
                "{table}"
            );
        }
    }

    #[test]
    fn first_lineitem_row_is_dbgens() {
        let first = LineItemGenerator::new(1.0, 1, 1)
            .iter()
            .next()
            .unwrap()
            .to_string();
        assert_eq!(
            first,
            "1|155190|7706|1|17|21168.23|0.04|0.02|N|O|1996-03-13|1996-02-12|1996-03-22|DELIVER IN PERSON|TRUCK|egular courts above the|"
        );
    }

    #[test]
    fn copy_lines_drop_the_trailing_bar_and_escape() {
        let mut out = String::new();
        push_copy_line(&mut out, "1|a\\b|c|");
        assert_eq!(out, "1|a\\\\b|c\n");
    }

    #[test]
    fn insert_values_quote_text_and_double_quotes() {
        let mut out = String::new();
        push_values(
            &mut out,
            "7|it's|1.50|1996-01-02|",
            &[
                Literal::Number,
                Literal::Quoted,
                Literal::Number,
                Literal::Quoted,
            ],
        );
        assert_eq!(out, "(7,'it''s',1.50,'1996-01-02')");
    }

    #[test]
    fn insert_chunks_hold_insert_rows_each() {
        let mut chunks = Vec::new();
        assert!(generate_chunks(
            Table::Customer,
            0.01,
            1,
            1,
            Format::Insert,
            |c| {
                chunks.push(c);
                true
            }
        ));
        assert_eq!(chunks.len(), 2);
        assert_eq!(chunks[0].rows, INSERT_ROWS as u64);
        assert_eq!(chunks[1].rows, 500);
        assert!(
            chunks[0]
                .data
                .starts_with("INSERT INTO customer VALUES (1,'Customer#000000001',")
        );
        assert_eq!(chunks[0].data.matches("),(").count(), INSERT_ROWS - 1);
    }

    #[test]
    fn copy_chunks_have_one_line_per_row() {
        let mut lines = 0;
        let mut rows = 0;
        generate_chunks(Table::Orders, 0.01, 1, 1, Format::Copy, |c| {
            lines += c.data.lines().count() as u64;
            rows += c.rows;
            true
        });
        assert_eq!((lines, rows), (15_000, 15_000));
    }

    #[test]
    fn generation_stops_when_the_receiver_leaves() {
        let mut calls = 0;
        let finished = generate_chunks(Table::LineItem, 0.01, 1, 1, Format::Insert, |_| {
            calls += 1;
            false
        });
        assert!(!finished);
        assert_eq!(calls, 1);
    }
}
