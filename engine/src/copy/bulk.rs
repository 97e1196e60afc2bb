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
use crate::durable::checkpoint::{SEGMENT_DIR, segment_file, write_new_file};
use crate::exec::Row;
use crate::exec::dml::{check_not_null, unique_violation};
use crate::exec::route::shard_of_row;
use crate::runtime::file::{create_dir_all, remove_file, sync_dir};
use crate::shard::ShardRef;
use crate::shard::ShardState;
use omendb_storage::row::key::encode_primary_key;
use omendb_storage::row::{ColdSegment, RowError, WriterId};
use omendb_storage::schema::TableSchema;
use omendb_storage::segment::{DeleteVector, SEGMENT_ROWS, Segment, SegmentError};
use omendb_storage::types::Value;
use std::sync::Arc;

/// One transaction's load of one table on one shard.
pub struct BulkLoad {
    pub table: Arc<TableSchema>,
    /// Rows not yet cut into a segment.
    rows: Vec<Row>,
    pub segments: Vec<PendingSegment>,
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
    /// Rows loaded so far.
    pub fn rows(&self) -> usize {
        self.rows.len()
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
            rows: Vec::new(),
            segments: Vec::new(),
        },
    );
    Ok(())
}

/// Parse one chunk of whole lines on this shard and hand its rows to the loads of the shards
/// that own them (every shard's load was begun). Returns the rows parsed.
pub async fn load_chunk(
    shard: &ShardRef,
    mut parser: CopyParser,
    chunk: Vec<u8>,
    table: Arc<TableSchema>,
    writer: WriterId,
) -> Result<usize, EngineError> {
    let mut rows = Vec::new();
    parser.feed(&chunk, &mut rows)?;
    parser.finish(&mut rows)?;
    drop(chunk);
    let tz = parser.time_zone().clone();
    let n = rows.len();
    let shards = shard.count();
    let here = shard.state().id();
    let mut by_shard: Vec<Vec<Row>> = (0..shards).map(|_| Vec::new()).collect();
    for row in rows {
        check_not_null(&table, &row, &tz)?;
        // Rows without a key stay where they were parsed: chunks go round-robin.
        let s = shard_of_row(&table, &row, shards).unwrap_or(here);
        by_shard[s].push(row);
    }
    let mut sends = Vec::new();
    for (s, mut part) in by_shard.into_iter().enumerate() {
        if part.is_empty() {
            continue;
        }
        let t = table.clone();
        sends.push(shard.run_on(s, move |sh| async move {
            bulk_add(sh.state(), &t, &mut part, writer)
        }));
    }
    for r in crate::runtime::join_all(sends).await {
        match r.map_err(|e| EngineError::Internal(e.to_string()))? {
            Ok(()) => {}
            Err(Refusal::Duplicate(row)) => {
                let pk = table
                    .primary_key
                    .as_ref()
                    .ok_or_else(|| EngineError::Internal("duplicate without a key".into()))?;
                return Err(unique_violation(&table, pk, &row, &tz));
            }
            Err(other) => {
                return Err(EngineError::Internal(format!("bulk load: {other:?}")));
            }
        }
    }
    Ok(n)
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
        load.rows.append(rows);
        while result.is_ok() && load.rows.len() >= SEGMENT_ROWS {
            let rest = load.rows.split_off(SEGMENT_ROWS);
            let chunk = std::mem::replace(&mut load.rows, rest);
            result = cut_segment(state, &mut load, &loads, chunk);
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
    let chunk = std::mem::take(&mut load.rows);
    let result = if chunk.is_empty() {
        Ok(())
    } else {
        cut_segment(state, &mut load, &loads, chunk)
    };
    loads.insert(writer, load);
    result
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
pub fn bulk_end(state: &ShardState, writer: WriterId, commit: bool) -> Option<(u32, i64)> {
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
            })
            .collect();
        state.with_table(&load.table, |t| t.end_bulk(writer, segments));
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
    others: &std::collections::HashMap<WriterId, BulkLoad>,
    mut rows: Vec<Row>,
) -> Result<(), Refusal> {
    let table = load.table.clone();
    let mut range = (Vec::new(), Vec::new());
    let types: Vec<_> = table.columns.iter().map(|c| c.ty).collect();
    let pk = table.primary_key.as_ref().map(|k| k.columns.clone());
    if let Some(pk) = &pk {
        let (keys, order) = sorted_keys(&rows, pk);
        let key = |i: usize| &keys.bytes[keys.offsets[i]..keys.offsets[i + 1]];
        for w in order.windows(2) {
            if key(w[0]) == key(w[1]) {
                return Err(Refusal::Duplicate(std::mem::take(&mut rows[w[1]])));
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
                        order
                            .iter()
                            .copied()
                            .find(|&i| s.segment.find(key(i)).is_some())
                    })
            });
        if let Some(i) = taken {
            return Err(Refusal::Duplicate(std::mem::take(&mut rows[i])));
        }
        rows = permute(rows, &order);
        range = (lo, hi);
    }
    let kind = state.with_table(&table, |t| t.index_kind());
    let refs: Vec<&[Value]> = rows.iter().map(Vec::as_slice).collect();
    let segment =
        Segment::from_rows_with(kind, &types, pk.as_deref(), &refs).map_err(Refusal::Segment)?;
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

fn sorted_keys(rows: &[Row], pk: &[usize]) -> (Keys, Vec<usize>) {
    let mut keys = Keys {
        bytes: Vec::with_capacity(rows.len() * 8),
        offsets: Vec::with_capacity(rows.len() + 1),
    };
    keys.offsets.push(0);
    for row in rows {
        for &c in pk {
            encode_primary_key(&[&row[c]], &mut keys.bytes);
        }
        keys.offsets.push(keys.bytes.len());
    }
    let mut order: Vec<usize> = (0..rows.len()).collect();
    let key = |i: usize| &keys.bytes[keys.offsets[i]..keys.offsets[i + 1]];
    order.sort_unstable_by(|&a, &b| key(a).cmp(key(b)));
    (keys, order)
}

/// `rows` in `order`, without copying values.
fn permute(rows: Vec<Row>, order: &[usize]) -> Vec<Row> {
    let mut slots: Vec<Option<Row>> = rows.into_iter().map(Some).collect();
    order.iter().filter_map(|&i| slots[i].take()).collect()
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
