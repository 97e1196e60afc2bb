//! The shard side of a bulk load: COPY rows become column segments directly instead of
//! row-store rows, and the WAL logs one `Segment` record per file instead of one record per row.
//!
//! While a transaction loads a table on a shard, other writers of that table there wait (the
//! row store answers `Busy`), so its duplicate checks — within the load, against the table and
//! against the load's earlier segments — stay true until it commits. Rows are cut into
//! segments of `SEGMENT_ROWS` sorted by primary key; the files are written and made durable
//! before the commit logs them; the segments join the table when the commit is applied.
//!
//! Must never make a loaded row visible before its transaction commits, nor log a segment
//! whose file is not durable.

use crate::EngineError;
use crate::copy::CopyParser;
use crate::copy::block::{BLOCK_ROWS, Block, Parsed};
use crate::copy::direct::{self, Kind, Slot, slot_value};
use crate::durable::checkpoint::{SEGMENT_DIR, segment_file, write_new_file};
use crate::exec::Row;
use crate::exec::dml::{check_not_null, unique_violation};
use crate::exec::route::{shard_of_int, shard_of_value_in};
use crate::runtime::file::{create_dir_all, remove_file, sync_dir};
use crate::shard::ShardRef;
use crate::shard::ShardState;
use omendb_storage::row::key::{
    encode_primary_key, encode_primary_key_bytes, encode_primary_key_int,
};
use omendb_storage::row::{ColdSegment, RowError, WriterId};
use omendb_storage::schema::TableSchema;
use omendb_storage::segment::{
    Column, ColumnBuilder, DeleteVector, SEGMENT_ROWS, Segment, SegmentError,
};
use omendb_storage::types::Value;
use omendb_storage::types::datetime::TimeZone;
use std::sync::Arc;

/// Rows a load's column builders make room for up front: every shard's load is begun even
/// for a COPY of a few rows, so they start small and grow (by doubling) to a segment's size.
const BUFFER_START_ROWS: usize = 4096;

/// Buffers after the first are sized to what the one before held plus 1/`SIZE_MARGIN`.
const SIZE_MARGIN: usize = 8;

/// A chunk's lines for another shard are reserved its even share plus 1/`REMOTE_MARGIN` of
/// the chunk, enough for the usual imbalance of hashed keys.
const REMOTE_MARGIN: usize = 8;

/// One transaction's load of one table on one shard.
pub struct BulkLoad {
    pub table: Arc<TableSchema>,
    /// Rows not yet cut into a segment, already in columns: one buffer per shard the rows
    /// were split on (created when its first row arrives). Each shard splits its chunks in
    /// order and its batches arrive in order, so with input in key order every buffer is in
    /// key order and its cuts need no reordering, while one shared buffer would interleave
    /// the sources and reorder nearly every cut.
    buffers: Vec<Option<RowBuffer>>,
    pub segments: Vec<PendingSegment>,
}

/// Rows on their way into a segment: column builders and the rows' encoded primary keys.
struct RowBuffer {
    builders: Vec<ColumnBuilder>,
    keys: Keys,
    len: usize,
}

impl RowBuffer {
    fn new(table: &TableSchema) -> RowBuffer {
        RowBuffer::with_capacity(table, BUFFER_START_ROWS)
    }

    fn with_capacity(table: &TableSchema, rows: usize) -> RowBuffer {
        RowBuffer::sized(table, rows, &[], 0)
    }

    /// Room for `rows` rows, `text_bytes[c]` bytes of column `c`'s strings (a default where
    /// not given) and `key_bytes` of encoded keys: a load's later buffers are sized from the
    /// one before, so their strings and keys are not grown (and copied) by doubling.
    fn sized(
        table: &TableSchema,
        rows: usize,
        text_bytes: &[usize],
        key_bytes: usize,
    ) -> RowBuffer {
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0);
        RowBuffer {
            builders: table
                .columns
                .iter()
                .enumerate()
                .map(|(c, col)| match text_bytes.get(c) {
                    Some(&bytes) => ColumnBuilder::with_bytes(col.ty, rows, bytes),
                    None => ColumnBuilder::new(col.ty, rows),
                })
                .collect(),
            keys: Keys {
                bytes: Vec::with_capacity(key_bytes),
                offsets,
            },
            len: 0,
        }
    }

    fn push(&mut self, row: &[Value], pk: Option<&[usize]>) -> Result<(), Refusal> {
        for (b, v) in self.builders.iter_mut().zip(row) {
            b.push(v).map_err(Refusal::Segment)?;
        }
        if let Some(pk) = pk {
            for &c in pk {
                encode_primary_key(&[&row[c]], &mut self.keys.bytes);
            }
            self.keys.offsets.push(self.keys.bytes.len());
        }
        self.len += 1;
        Ok(())
    }

    /// Append one row parsed directly (`direct::parse_line`): `slots` per column, `text` the
    /// line its text slots point into, `row` the values of general-kind columns.
    fn push_slots(
        &mut self,
        table: &TableSchema,
        text: &str,
        slots: &[Slot],
        row: &[Value],
        pk: Option<&[usize]>,
    ) -> Result<(), Refusal> {
        // A `match` rather than `ok_or`: the eager refusal's drop glue was 0.9% of a load.
        let field = |start: u32, end: u32| match text.get(start as usize..end as usize) {
            Some(f) => Ok(f),
            None => Err(Refusal::Internal("a text slot outside its line")),
        };
        for ((b, &slot), v) in self.builders.iter_mut().zip(slots).zip(row) {
            match slot {
                Slot::Null => b.push(&Value::Null),
                Slot::Int(x) => b.push_int(x),
                Slot::Date(d) => b.push_date(d),
                Slot::Decimal(m) => b.push_decimal(m),
                Slot::Text { start, end, pad } => b.push_str(field(start, end)?, pad as usize),
                Slot::Value => b.push(v),
            }
            .map_err(Refusal::Segment)?;
        }
        if let Some(pk) = pk {
            for &c in pk {
                push_key(&mut self.keys.bytes, slots[c], table, c, text, &row[c])?;
            }
            self.keys.offsets.push(self.keys.bytes.len());
        }
        self.len += 1;
        Ok(())
    }

    /// Append the lines of `block`, parsed (`Block::parse` succeeded); `text` is the chunk
    /// its offsets index.
    fn push_block(
        &mut self,
        table: &TableSchema,
        block: &Block,
        text: &str,
        pk: Option<&[usize]>,
    ) -> Result<(), Refusal> {
        let rows = block.len();
        for (f, (col, parsed, valid)) in block.columns().enumerate() {
            let b = self
                .builders
                .get_mut(col)
                .ok_or(Refusal::Internal("a block column outside the table"))?;
            match parsed {
                Parsed::Ints(v) => b.push_ints(v, valid),
                Parsed::Dates(d) => b.push_dates(d, valid),
                Parsed::Decimals(m) => b.push_decimals(m, valid),
                Parsed::Pads(pads) => {
                    for (i, &pad) in pads.iter().enumerate() {
                        if valid.is_some_and(|v| !v[i]) {
                            b.push(&Value::Null).map_err(Refusal::Segment)?;
                            continue;
                        }
                        let (start, end) = block.field_range(i, f);
                        let Some(s) = text.get(start..end) else {
                            return Err(Refusal::Internal("a block field outside its chunk"));
                        };
                        b.push_str(s, pad as usize).map_err(Refusal::Segment)?;
                    }
                    Ok(())
                }
            }
            .map_err(Refusal::Segment)?;
        }
        // Columns the COPY does not list are NULL.
        for (c, b) in self.builders.iter_mut().enumerate() {
            if block.field_of_column(c).is_none() {
                b.push_nulls(rows).map_err(Refusal::Segment)?;
            }
        }
        if let Some(pk) = pk {
            let fields: Vec<Option<usize>> = pk.iter().map(|&c| block.field_of_column(c)).collect();
            // Integer key columns without NULLs (TPC-H's and most keys) encode from their
            // values directly.
            let ints: Vec<Option<&[i64]>> = fields.iter().map(|&f| block.ints(f?)).collect();
            for i in 0..rows {
                for ((&c, &f), ints) in pk.iter().zip(&fields).zip(&ints) {
                    if let Some(&v) = ints.and_then(|v| v.get(i)) {
                        encode_primary_key_int(v, &mut self.keys.bytes);
                        continue;
                    }
                    let slot = match f {
                        Some(f) => block
                            .slot(i, f)
                            .ok_or(Refusal::Internal("a key outside its block"))?,
                        None => Slot::Null,
                    };
                    push_key(&mut self.keys.bytes, slot, table, c, text, &Value::Null)?;
                }
                self.keys.offsets.push(self.keys.bytes.len());
            }
        }
        self.len += rows;
        Ok(())
    }

    /// The buffered rows as columns with their keys; the buffer starts over, sized for a whole
    /// segment when this one filled one (a large load goes on).
    fn take(&mut self, table: &TableSchema) -> (Vec<Column>, Keys) {
        let next = if self.len >= SEGMENT_ROWS {
            // A margin over what this buffer held: the next segment's strings may run longer.
            let grown = |bytes: usize| bytes + bytes / SIZE_MARGIN;
            let text: Vec<usize> = self.builders.iter().map(|b| grown(b.bytes())).collect();
            RowBuffer::sized(table, SEGMENT_ROWS, &text, grown(self.keys.bytes.len()))
        } else {
            RowBuffer::new(table)
        };
        let full = std::mem::replace(self, next);
        (
            full.builders
                .into_iter()
                .map(ColumnBuilder::finish)
                .collect(),
            full.keys,
        )
    }
}

/// Append to `out` the primary-key encoding of column `c`'s value, parsed as `slot` (`text`
/// holds its text; `value` is the row's value when the slot is `Slot::Value`).
fn push_key(
    out: &mut Vec<u8>,
    slot: Slot,
    table: &TableSchema,
    c: usize,
    text: &str,
    value: &Value,
) -> Result<(), Refusal> {
    match slot {
        Slot::Int(x) => encode_primary_key_int(x, out),
        Slot::Date(d) => encode_primary_key_int(i64::from(d), out),
        Slot::Text { start, end, pad: 0 } => match text.get(start as usize..end as usize) {
            Some(f) => encode_primary_key_bytes(f.as_bytes(), out),
            None => return Err(Refusal::Internal("a text slot outside its line")),
        },
        Slot::Value => encode_primary_key(&[value], out),
        // Padded text and decimals: as the value itself is encoded.
        slot => {
            let ty = table
                .columns
                .get(c)
                .ok_or(Refusal::Internal("a key column outside the table"))?
                .ty;
            let v = slot_value(slot, ty, text)
                .ok_or(Refusal::Internal("a key slot without its value"))?;
            encode_primary_key(&[&v], out);
        }
    }
    Ok(())
}

/// A segment built by a load, not yet part of the table.
pub struct PendingSegment {
    pub id: u64,
    pub segment: Arc<Segment>,
    written: bool,
    /// Its first and last encoded primary keys (empty without a key).
    lo: Vec<u8>,
    hi: Vec<u8>,
}

impl BulkLoad {
    /// The buffer of rows split on shard `origin`.
    fn buffer(&mut self, origin: usize) -> Result<&mut RowBuffer, Refusal> {
        let table = &self.table;
        let slot = self
            .buffers
            .get_mut(origin)
            .ok_or(Refusal::Internal("rows from a shard that does not exist"))?;
        Ok(slot.get_or_insert_with(|| RowBuffer::new(table)))
    }

    /// Rows loaded so far.
    pub fn rows(&self) -> usize {
        self.buffers.iter().flatten().map(|b| b.len).sum::<usize>()
            + self
                .segments
                .iter()
                .map(|s| s.segment.rows())
                .sum::<usize>()
    }

    /// The segment file names, for the WAL.
    pub fn files(&self) -> impl Iterator<Item = String> + '_ {
        self.segments
            .iter()
            .map(|s| segment_file(self.table.id, s.id))
    }
}

/// Why rows were not taken.
#[derive(Debug)]
pub enum Refusal {
    /// Another transaction writes the table on this shard: wait and retry.
    Busy(WriterId),
    /// The row's primary key is taken (23505).
    Duplicate(Row),
    /// The rows do not make a segment (an engine bug: rows arrive cast and checked).
    Segment(SegmentError),
    /// The row store refused otherwise (an engine bug).
    Row(RowError),
    /// No load of this table is open for the transaction (it ended).
    Ended,
    /// An engine bug, named.
    Internal(&'static str),
}

/// Start `writer`'s load of `table` on this shard. `Busy` if another transaction is writing
/// the table here (wait and retry).
pub fn bulk_begin(
    state: &ShardState,
    table: &Arc<TableSchema>,
    writer: WriterId,
) -> Result<(), Refusal> {
    let mut loads = state.bulk_loads().borrow_mut();
    if loads.contains_key(&writer) {
        return Ok(());
    }
    state
        .with_table(table, |t| t.begin_bulk(writer))
        .map_err(|e| match e {
            RowError::Busy(w) => Refusal::Busy(w),
            other => Refusal::Row(other),
        })?;
    loads.insert(
        writer,
        BulkLoad {
            table: table.clone(),
            buffers: (0..state.engine().shard_count()).map(|_| None).collect(),
            segments: Vec::new(),
        },
    );
    Ok(())
}

/// Parse one chunk of whole lines on this shard into the loads of the shards that own its
/// rows (every shard's load was begun): rows owned here go straight into this shard's column
/// builders; the lines of rows another shard owns are sent there and parsed again. Returns
/// the rows loaded.
pub async fn load_chunk(
    shard: &ShardRef,
    mut parser: CopyParser,
    chunk: bytes::Bytes,
    table: Arc<TableSchema>,
    writer: WriterId,
) -> Result<usize, EngineError> {
    let first = parser.line();
    let lines = LineBatch {
        bytes: chunk,
        numbers: None,
        first,
    };
    let here = shard.id();
    let (n, remote) = load_lines(shard.state(), &mut parser, &lines, &table, writer, None)?;
    let mut total = n;
    let mut sends = Vec::new();
    for (owner, out) in remote.into_iter().enumerate() {
        if out.bytes.is_empty() {
            continue;
        }
        let batch = LineBatch {
            bytes: bytes::Bytes::from(out.bytes),
            numbers: Some(out.numbers),
            first: 0,
        };
        let (t, mut p) = (table.clone(), parser.fork(0));
        sends.push(shard.run_on(owner, move |sh| async move {
            load_lines(sh.state(), &mut p, &batch, &t, writer, Some(here)).map(|(n, _)| n)
        }));
    }
    for r in crate::runtime::join_all(sends).await {
        total += r.map_err(|e| EngineError::Internal(e.to_string()))??;
    }
    Ok(total)
}

/// Lines of COPY text data with their line numbers (consecutive after `first` when `numbers`
/// is `None`). A chunk is the client's message itself when it could be taken whole.
struct LineBatch {
    bytes: bytes::Bytes,
    numbers: Option<Vec<u64>>,
    first: u64,
}

/// Parse `lines` into `writer`'s load on this shard. Lines split on this shard (`from` is
/// `None`) are routed: lines of rows another shard owns are not loaded but returned, per
/// shard, for that shard to load. Lines `from` another shard are all this shard's.
fn load_lines(
    state: &ShardState,
    parser: &mut CopyParser,
    lines: &LineBatch,
    table: &Arc<TableSchema>,
    writer: WriterId,
    from: Option<usize>,
) -> Result<(usize, Vec<Outgoing>), EngineError> {
    let shards = state.engine().shard_count();
    let here = state.id();
    let route = from.is_none();
    // Rows are routed by their shard column when the chunk is this shard's to split.
    let shard_column = table.shard_column().filter(|_| route && shards > 1);
    // Each other shard gets about its share of the lines: room for that (and a margin) up
    // front instead of growing by copies.
    let share = if shard_column.is_some() {
        lines.bytes.len() / shards + lines.bytes.len() / REMOTE_MARGIN
    } else {
        0
    };
    // Room for about that many line numbers too (lines of at least `SHORT_LINE` bytes).
    let mut remote: Vec<Outgoing> = (0..shards)
        .map(|s| {
            let bytes = if s == here { 0 } else { share };
            Outgoing {
                bytes: Vec::with_capacity(bytes),
                numbers: Vec::with_capacity(bytes / SHORT_LINE),
            }
        })
        .collect();
    let mut loads = state.bulk_loads().borrow_mut();
    // Out of the map while it loads, so cuts can check the other loads beside it.
    let Some(mut load) = loads.remove(&writer) else {
        return Err(EngineError::Internal("the bulk load ended".into()));
    };
    let mut one = OneLine::new(parser, table, here, from.unwrap_or(here), shard_column);
    let body = lines.bytes.strip_suffix(b"\n").unwrap_or(&lines.bytes);
    // A chunk of whole lines is UTF-8 exactly when each line is ('\n' is never inside a
    // character): one check for the chunk instead of one per line. Without it every line
    // takes the general parser, which words the error.
    let body_text = one
        .kinds
        .as_ref()
        .and_then(|_| std::str::from_utf8(body).ok());
    // This shard's lines in plain forms are gathered into blocks parsed a column at a time.
    let mut block = match (&one.kinds, body_text) {
        (Some(kinds), Some(_)) => Block::new(kinds, one.parser.delimiter(), body),
        _ => None,
    };
    let mut to = Target {
        state,
        load: &mut load,
        loads: &loads,
    };
    let mut loaded = 0;
    let mut result = Ok(());
    let mut start = 0;
    // Lines as `split` at '\n' yields them, found by memchr.
    let ends = memchr::memchr_iter(b'\n', body).chain(std::iter::once(body.len()));
    for (i, end) in ends.enumerate() {
        let line_start = start;
        let line = &body[start..end];
        start = end + 1;
        let number = match &lines.numbers {
            Some(n) => n.get(i).copied().unwrap_or(0),
            None => lines.first + 1 + i as u64,
        };
        // Whether the row is known to be this shard's from its key field alone.
        let mut routed = false;
        if let Some(col) = shard_column
            && let Some(owner) = one.owner_of(line, col, shards)
        {
            if owner != here {
                // Another shard's row: only its key field is parsed here.
                send_line(&mut remote[owner], line, number);
                continue;
            }
            routed = true;
        }
        let joined = (shard_column.is_none() || routed)
            && block
                .as_mut()
                .is_some_and(|b| b.add(body, line_start, end, number));
        let step = match (block.as_mut(), body_text) {
            (Some(b), Some(text)) if joined => {
                // A block never holds more than its segment's room, so a cut follows it.
                let held = to.load.buffer(one.origin).map_or(0, |b| b.len);
                if b.len() < BLOCK_ROWS.min(SEGMENT_ROWS.saturating_sub(held)) {
                    continue;
                }
                one.block(&mut to, &mut remote, b, body, text)
            }
            // This line cannot join the block: the block's lines go first, in order.
            (Some(b), Some(text)) if !b.is_empty() => one
                .block(&mut to, &mut remote, b, body, text)
                .and_then(|n| {
                    let line_text = text.get(line_start..end);
                    Ok(n + one.line(&mut to, &mut remote, line, line_text, number, routed)?)
                }),
            _ => {
                let line_text = body_text.and_then(|t| t.get(line_start..end));
                one.line(&mut to, &mut remote, line, line_text, number, routed)
            }
        };
        match step {
            Ok(n) => loaded += n,
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    if result.is_ok()
        && let (Some(b), Some(text)) = (block.as_mut(), body_text)
    {
        match one.block(&mut to, &mut remote, b, body, text) {
            Ok(n) => loaded += n,
            Err(e) => result = Err(e),
        }
    }
    loads.insert(writer, load);
    result.map(|()| (loaded, remote))
}

/// Where a chunk's rows go on this shard: the load, and the shard's other loads (a cut checks
/// its duplicates against them).
struct Target<'a> {
    state: &'a ShardState,
    load: &'a mut BulkLoad,
    loads: &'a std::collections::HashMap<WriterId, BulkLoad>,
}

/// A chunk's lines parsed one at a time, with the scratch kept across them.
struct OneLine<'p> {
    parser: &'p mut CopyParser,
    table: &'p TableSchema,
    here: usize,
    /// The shard that split the lines (whose row buffer they go to).
    origin: usize,
    shard_column: Option<usize>,
    /// Plain forms per target field (`direct`); `None` for CSV.
    kinds: Option<Vec<(usize, Kind)>>,
    slots: Vec<Slot>,
    field_ends: Vec<u32>,
    /// NOT NULL columns, as a list and as a flag per column.
    required: Vec<usize>,
    not_null: Vec<bool>,
    plain_row: Vec<Value>,
    row: Row,
    key_buf: Vec<u8>,
    /// The bounds of the shard column's integer type, when it is one and the format is text.
    int_key: Option<(i64, i64)>,
    pk: Option<Vec<usize>>,
    tz: TimeZone,
}

impl<'p> OneLine<'p> {
    fn new(
        parser: &'p mut CopyParser,
        table: &'p TableSchema,
        here: usize,
        origin: usize,
        shard_column: Option<usize>,
    ) -> OneLine<'p> {
        let columns = table.columns.len();
        let kinds = direct::kinds(parser);
        let int_key = shard_column.filter(|_| kinds.is_some()).and_then(|c| {
            match Kind::of(table.columns.get(c)?.ty) {
                Kind::Int { min, max } => Some((min, max)),
                _ => None,
            }
        });
        OneLine {
            kinds,
            int_key,
            tz: parser.time_zone().clone(),
            parser,
            table,
            here,
            origin,
            shard_column,
            slots: vec![Slot::Null; columns],
            field_ends: Vec::with_capacity(columns),
            required: (0..columns)
                .filter(|&c| !table.columns[c].nullable)
                .collect(),
            not_null: table.columns.iter().map(|c| !c.nullable).collect(),
            plain_row: vec![Value::Null; columns],
            row: Vec::new(),
            key_buf: Vec::new(),
            pk: table.primary_key.as_ref().map(|k| k.columns.clone()),
        }
    }

    /// The shard that owns `line`'s row, from its shard-key field (table column `col`) alone;
    /// `None` when that field needs more than the plain case (the whole line is parsed then).
    #[inline]
    fn owner_of(&mut self, line: &[u8], col: usize, shards: usize) -> Option<usize> {
        // A plain integer key (TPC-H's, most tables') is hashed as it is parsed: the same
        // shard its encoded `Value` hashes to, without making one.
        if let Some((min, max)) = self.int_key
            && let Some((_, field)) = self.parser.column_field(line, col)
            && field != self.parser.null().as_bytes()
            && let Some(v) = direct::plain_int(field).filter(|v| (min..=max).contains(v))
        {
            return Some(shard_of_int(v, shards));
        }
        let key = self.parser.column_value(line, col)?;
        Some(shard_of_value_in(&key, shards, &mut self.key_buf))
    }

    /// Load `line` (its text when the chunk is UTF-8), numbered `number`: 1 when its row
    /// went into this shard's load, 0 when it went to `remote` for the shard that owns it
    /// (`routed` says it is known to be this shard's).
    fn line(
        &mut self,
        to: &mut Target<'_>,
        remote: &mut [Outgoing],
        line: &[u8],
        line_text: Option<&str>,
        number: u64,
        routed: bool,
    ) -> Result<usize, EngineError> {
        let table = self.table;
        if let Some(kinds) = self.kinds.as_deref()
            && let Some(line_text) = line_text
            && let Some(text) = direct::parse_line(
                self.parser,
                kinds,
                line_text,
                &mut self.slots,
                &mut self.plain_row,
                &mut self.field_ends,
            )
            && (self.shard_column.is_none() || routed)
            && !self.required.iter().any(|&c| self.slots[c] == Slot::Null)
        {
            // A NULL in a NOT NULL column takes the general path below, which words the error.
            to.load
                .buffer(self.origin)
                .and_then(|b| {
                    b.push_slots(
                        table,
                        text,
                        &self.slots,
                        &self.plain_row,
                        self.pk.as_deref(),
                    )
                })
                .and_then(|()| cut_if_full(to.state, to.load, self.origin, to.loads))
                .map_err(|r| refusal_error(table, r, &self.tz))?;
            return Ok(1);
        }
        self.parser.parse_line_into(line, number, &mut self.row)?;
        if let Some(col) = self.shard_column.filter(|_| !routed) {
            let owner = shard_of_value_in(&self.row[col], remote.len(), &mut self.key_buf);
            if owner != self.here {
                send_line(&mut remote[owner], line, number);
                return Ok(0);
            }
        }
        check_not_null(table, &self.row, &self.tz).map_err(|e| at_line(e, table, number))?;
        to.load
            .buffer(self.origin)
            .and_then(|b| b.push(&self.row, self.pk.as_deref()))
            .and_then(|()| cut_if_full(to.state, to.load, self.origin, to.loads))
            .map_err(|r| refusal_error(table, r, &self.tz))?;
        Ok(1)
    }

    /// Load the lines of `block` (lines of chunk `body`, whose text is `text`), all this
    /// shard's: parsed a column at a time when every field is in its plain form, else one
    /// line at a time. Returns the rows loaded; the block is left empty.
    fn block(
        &mut self,
        to: &mut Target<'_>,
        remote: &mut [Outgoing],
        block: &mut Block,
        body: &[u8],
        text: &str,
    ) -> Result<usize, EngineError> {
        let rows = block.len();
        let table = self.table;
        let result = if block.parse(text, self.parser.null(), &self.not_null) {
            to.load
                .buffer(self.origin)
                .and_then(|b| b.push_block(table, block, text, self.pk.as_deref()))
                .and_then(|()| cut_if_full(to.state, to.load, self.origin, to.loads))
                .map_err(|r| refusal_error(table, r, &self.tz))
                .map(|()| rows)
        } else {
            block.lines().try_fold(0, |loaded, (start, end, number)| {
                let line_text = text.get(start..end);
                let line = &body[start..end];
                Ok(loaded + self.line(to, remote, line, line_text, number, true)?)
            })
        };
        block.clear();
        result
    }
}

/// `e` naming the COPY line it is about, as the parse errors do (PostgreSQL says it in the
/// error's context).
fn at_line(e: EngineError, table: &TableSchema, line: u64) -> EngineError {
    match e {
        EngineError::Sql {
            sqlstate,
            message,
            detail,
            hint,
        } => EngineError::Sql {
            sqlstate,
            message: format!("{message} (COPY {}, line {line})", table.name),
            detail,
            hint,
        },
        other => other,
    }
}

/// Add `line` (numbered `number`) to the lines another shard is to load.
fn send_line(batch: &mut Outgoing, line: &[u8], number: u64) {
    batch.bytes.extend_from_slice(line);
    batch.bytes.push(b'\n');
    batch.numbers.push(number);
}

/// Lines being gathered for another shard, with their numbers.
struct Outgoing {
    bytes: Vec<u8>,
    numbers: Vec<u64>,
}

/// Bytes a line is assumed to take at least when reserving room for line numbers.
const SHORT_LINE: usize = 32;

/// The client's error for a refused row.
fn refusal_error(table: &TableSchema, refusal: Refusal, tz: &TimeZone) -> EngineError {
    match refusal {
        Refusal::Duplicate(row) => match table.primary_key.as_ref() {
            Some(pk) => unique_violation(table, pk, &row, tz),
            None => EngineError::Internal("duplicate without a key".into()),
        },
        other => EngineError::Internal(format!("bulk load: {other:?}")),
    }
}

/// Add rows to `writer`'s load of `table` on this shard (begun by `bulk_begin`), cutting full
/// segments.
pub fn bulk_add(
    state: &ShardState,
    table: &Arc<TableSchema>,
    rows: &mut Vec<Row>,
    writer: WriterId,
) -> Result<(), Refusal> {
    let mut loads = state.bulk_loads().borrow_mut();
    // Out of the map while it cuts, so the other loads can be checked beside it.
    let Some(mut load) = loads.remove(&writer) else {
        // The load ended (rolled back) while these rows were on their way.
        return Err(Refusal::Ended);
    };
    let mut result = Ok(());
    if load.table.id != table.id {
        result = Err(Refusal::Ended);
    } else {
        let pk = table.primary_key.as_ref().map(|k| k.columns.clone());
        for row in rows.drain(..) {
            let here = state.id();
            result = load
                .buffer(here)
                .and_then(|b| b.push(&row, pk.as_deref()))
                .and_then(|()| cut_if_full(state, &mut load, here, &loads));
            if result.is_err() {
                break;
            }
        }
    }
    loads.insert(writer, load);
    result
}

/// Cut what is left of `writer`'s load into a segment.
pub fn bulk_cut(state: &ShardState, writer: WriterId) -> Result<(), Refusal> {
    let mut loads = state.bulk_loads().borrow_mut();
    let Some(mut load) = loads.remove(&writer) else {
        return Ok(());
    };
    let mut result = Ok(());
    for origin in 0..load.buffers.len() {
        if load.buffers[origin].as_ref().is_some_and(|b| b.len > 0) {
            result = cut_segment(state, &mut load, origin, &loads);
            if result.is_err() {
                break;
            }
        }
    }
    loads.insert(writer, load);
    result
}

/// Cut the buffer of rows from `origin` once it holds a segment's worth.
fn cut_if_full(
    state: &ShardState,
    load: &mut BulkLoad,
    origin: usize,
    others: &std::collections::HashMap<WriterId, BulkLoad>,
) -> Result<(), Refusal> {
    if load.buffer(origin)?.len >= SEGMENT_ROWS {
        cut_segment(state, load, origin, others)
    } else {
        Ok(())
    }
}

/// Make every segment file of `writer`'s load durable.
pub async fn bulk_write(state: &ShardState, writer: WriterId) -> Result<(), EngineError> {
    let Some(table) = state
        .bulk_loads()
        .borrow()
        .get(&writer)
        .map(|l| l.table.clone())
    else {
        return Ok(());
    };
    let dir = shard_dir(state)?;
    create_dir_all(&dir.join(SEGMENT_DIR)).map_err(io)?;
    loop {
        // Take one unwritten segment at a time: the borrow must not be held across awaits.
        let next = state.bulk_loads().borrow().get(&writer).and_then(|l| {
            l.segments
                .iter()
                .find(|s| !s.written)
                .map(|s| (s.id, s.segment.clone()))
        });
        let Some((id, segment)) = next else {
            break;
        };
        let bytes = segment.encode();
        write_new_file(&dir.join(segment_file(table.id, id)), &bytes).await?;
        if let Some(s) = state
            .bulk_loads()
            .borrow_mut()
            .get_mut(&writer)
            .and_then(|l| l.segments.iter_mut().find(|s| s.id == id))
        {
            s.written = true;
        }
    }
    sync_dir(&dir.join(SEGMENT_DIR)).await.map_err(io)
}

/// The load ended: on commit its segments join the table (returns the table and the rows
/// added); either
/// way other writers may go on. A rolled-back load's files are deleted.
pub fn bulk_end(
    state: &ShardState,
    writer: WriterId,
    commit: bool,
    ts: omendb_storage::row::Ts,
) -> Option<(u32, i64)> {
    let load = state.bulk_loads().borrow_mut().remove(&writer)?;
    let rows = load.rows() as i64;
    if commit {
        let segments = load
            .segments
            .into_iter()
            .map(|s| ColdSegment {
                id: s.id,
                deletes: DeleteVector::new(s.segment.rows()),
                segment: s.segment,
                since: ts,
            })
            .collect();
        state.with_table(&load.table, |t| t.end_bulk(writer, segments));
        state.publish_stats(load.table.id);
        return Some((load.table.id, rows));
    }
    state.with_table(&load.table, |t| t.end_bulk(writer, Vec::new()));
    if let Ok(dir) = shard_dir(state) {
        let files: Vec<_> = load.files().map(|f| dir.join(f)).collect();
        crate::runtime::spawn_local(async move {
            for f in files {
                // A leftover file is removed at the next start-up; nothing names it.
                let _ = remove_file(&f).await;
            }
        })
        .detach();
    }
    None
}

/// Sort `rows` by primary key, refuse duplicates — within them, in the table, in this load's
/// earlier segments and in other loads' segments of the table on this shard — and add them to
/// the load as a segment.
///
/// Checking at every cut is enough: the shard runs one cut at a time, so of two loads holding
/// the same key the later cut sees the earlier one's segment (or, once that load committed,
/// the table's). A key in a load that later rolls back is still refused (PostgreSQL would
/// wait for that load and then accept it).
fn cut_segment(
    state: &ShardState,
    load: &mut BulkLoad,
    origin: usize,
    others: &std::collections::HashMap<WriterId, BulkLoad>,
) -> Result<(), Refusal> {
    let table = load.table.clone();
    let (mut columns, keys) = load.buffer(origin)?.take(&table);
    let row_of = |columns: &[Column], i: usize| columns.iter().map(|c| c.value(i)).collect::<Row>();
    let mut range = (Vec::new(), Vec::new());
    let types: Vec<_> = table.columns.iter().map(|c| c.ty).collect();
    let pk = table.primary_key.as_ref().map(|k| k.columns.clone());
    if pk.is_some() {
        let order = keys.order();
        let key = |i: usize| keys.get(i);
        for w in order.windows(2) {
            if key(w[0]) == key(w[1]) {
                return Err(Refusal::Duplicate(row_of(&columns, w[1])));
            }
        }
        let (lo, hi) = match (order.first(), order.last()) {
            (Some(&a), Some(&b)) => (key(a).to_vec(), key(b).to_vec()),
            _ => return Ok(()),
        };
        let taken = state
            .with_table(&table, |t| {
                t.first_taken(order.iter().map(|&i| (i, key(i))), &lo, &hi)
            })
            .or_else(|| {
                let pending = load.segments.iter().chain(
                    others
                        .values()
                        .filter(|o| o.table.id == table.id)
                        .flat_map(|o| o.segments.iter()),
                );
                pending
                    .filter(|s| {
                        s.lo.as_slice() <= hi.as_slice() && s.hi.as_slice() >= lo.as_slice()
                    })
                    .find_map(|s| {
                        s.segment
                            .first_held(order.iter().map(|&i| key(i)))
                            .map(|at| order[at])
                    })
            });
        if let Some(i) = taken {
            return Err(Refusal::Duplicate(row_of(&columns, i)));
        }
        // Input that arrives in key order (generated data, dumps) needs no reordering.
        if order.windows(2).any(|w| w[0] > w[1]) {
            let idx: Vec<u32> = order.iter().map(|&i| i as u32).collect();
            columns = columns
                .iter()
                .map(|c| c.take(&idx))
                .collect::<Option<Vec<_>>>()
                // The order is a permutation of the cut's rows: never out of range.
                .ok_or(Refusal::Internal("reordering a cut by key"))?;
        }
        range = (lo, hi);
    }
    let kind = state.with_table(&table, |t| t.index_kind());
    let segment = Segment::from_columns_with(kind, &types, pk.as_deref(), columns)
        .map_err(Refusal::Segment)?;
    // The statistics the commit publishes need every column's sketch: made now, while the
    // cut's columns are still in cache, rather than at the commit from memory.
    segment.sketches();
    let cp = state.checkpoint_state();
    let id = cp.next_segment.get();
    cp.next_segment.set(id + 1);
    load.segments.push(PendingSegment {
        id,
        segment: Arc::new(segment),
        written: false,
        lo: range.0,
        hi: range.1,
    });
    Ok(())
}

/// Encoded primary keys in one buffer, and the row order that sorts them.
struct Keys {
    bytes: Vec<u8>,
    offsets: Vec<usize>,
}

impl Keys {
    fn get(&self, i: usize) -> &[u8] {
        &self.bytes[self.offsets[i]..self.offsets[i + 1]]
    }

    /// The row order that sorts the keys.
    fn order(&self) -> Vec<usize> {
        let n = self.offsets.len() - 1;
        // Input in key order (generated data, dumps, each source's buffer of a load): one
        // pass proves it, without the sort's keyed copy of every key.
        if (1..n).all(|i| self.get(i - 1) < self.get(i)) {
            return (0..n).collect();
        }
        if let Some(order) = self.order_fixed(n) {
            return order;
        }
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_unstable_by(|&a, &b| self.get(a).cmp(self.get(b)));
        order
    }

    /// Keys of up to 16 bytes (every key of a few integer columns) sort as big-endian
    /// integers padded with zeros, then by length: that orders them exactly as their bytes (a
    /// key that is a prefix of another ties with it padded and is shorter), with one integer
    /// comparison instead of a `memcmp` call per step.
    fn order_fixed(&self, n: usize) -> Option<Vec<usize>> {
        const WIDEST: usize = 16;
        let mut keyed: Vec<(u128, u8, u32)> = Vec::with_capacity(n);
        for i in 0..n {
            let key = self.get(i);
            if key.len() > WIDEST {
                return None;
            }
            let mut padded = [0u8; WIDEST];
            padded[..key.len()].copy_from_slice(key);
            keyed.push((u128::from_be_bytes(padded), key.len() as u8, i as u32));
        }
        keyed.sort_unstable();
        Some(keyed.into_iter().map(|(_, _, i)| i as usize).collect())
    }
}

fn shard_dir(state: &ShardState) -> Result<std::path::PathBuf, EngineError> {
    state
        .engine()
        .storage()
        .map(|s| s.shard_dir(state.id()))
        .ok_or_else(|| EngineError::Internal("bulk load without a data directory".into()))
}

fn io(e: std::io::Error) -> EngineError {
    EngineError::Io(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::Keys;

    fn keys(list: &[&[u8]]) -> Keys {
        let mut k = Keys {
            bytes: Vec::new(),
            offsets: vec![0],
        };
        for key in list {
            k.bytes.extend_from_slice(key);
            k.offsets.push(k.bytes.len());
        }
        k
    }

    fn by_bytes(k: &Keys) -> Vec<usize> {
        let mut order: Vec<usize> = (0..k.offsets.len() - 1).collect();
        order.sort_by(|&a, &b| k.get(a).cmp(k.get(b)));
        order
    }

    /// The integer sort of short keys orders them as their bytes, at every width up to 16 and
    /// past it, and keys that are prefixes of others padded with zeros come first.
    #[test]
    fn key_order_is_the_byte_order() {
        for width in [1usize, 4, 8, 9, 16, 17] {
            let list: Vec<Vec<u8>> = (0..200u32)
                .map(|i| {
                    let x = i.wrapping_mul(2_654_435_761).rotate_left(i % 32);
                    (0..width).map(|b| (x >> ((b * 5) % 32)) as u8).collect()
                })
                .collect();
            let refs: Vec<&[u8]> = list.iter().map(Vec::as_slice).collect();
            let k = keys(&refs);
            let got: Vec<&[u8]> = k.order().into_iter().map(|i| k.get(i)).collect();
            let want: Vec<&[u8]> = by_bytes(&k).into_iter().map(|i| k.get(i)).collect();
            assert_eq!(got, want, "width {width}");
        }
        let mixed = keys(&[
            b"bbbb", b"a", b"ccccccc", b"b", b"a\0", b"", b"a\0\0", b"\0",
        ]);
        assert_eq!(mixed.order(), vec![5, 7, 1, 4, 6, 3, 0, 2]);
        // Already ascending: kept as it is; equal neighbours still come out adjacent.
        let sorted = keys(&[b"a", b"b", b"bb", b"c"]);
        assert_eq!(sorted.order(), vec![0, 1, 2, 3]);
        let equal = keys(&[b"a", b"b", b"b", b"a"]);
        let got: Vec<&[u8]> = equal.order().into_iter().map(|i| equal.get(i)).collect();
        assert_eq!(got, vec![&b"a"[..], b"a", b"b", b"b"]);
    }
}
