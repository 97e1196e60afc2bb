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
use crate::durable::checkpoint::{SEGMENT_DIR, segment_file, write_new_file};
use crate::exec::Row;
use crate::runtime::file::{create_dir_all, remove_file, sync_dir};
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
}

/// Add rows to `writer`'s load of `table` on this shard, cutting full segments. `Busy` if
/// another transaction is writing the table here (wait and retry).
pub fn bulk_add(
    state: &ShardState,
    table: &Arc<TableSchema>,
    rows: &mut Vec<Row>,
    writer: WriterId,
) -> Result<(), Refusal> {
    let mut loads = state.bulk_loads().borrow_mut();
    let load = match loads.entry(writer) {
        std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
        std::collections::hash_map::Entry::Vacant(e) => {
            state
                .with_table(table, |t| t.begin_bulk(writer))
                .map_err(|e| match e {
                    RowError::Busy(w) => Refusal::Busy(w),
                    other => Refusal::Row(other),
                })?;
            e.insert(BulkLoad {
                table: table.clone(),
                rows: Vec::new(),
                segments: Vec::new(),
            })
        }
    };
    load.rows.append(rows);
    while load.rows.len() >= SEGMENT_ROWS {
        let rest = load.rows.split_off(SEGMENT_ROWS);
        let chunk = std::mem::replace(&mut load.rows, rest);
        cut_segment(state, load, chunk)?;
    }
    Ok(())
}

/// Cut what is left of `writer`'s load into a segment.
pub fn bulk_cut(state: &ShardState, writer: WriterId) -> Result<(), Refusal> {
    let mut loads = state.bulk_loads().borrow_mut();
    let Some(load) = loads.get_mut(&writer) else {
        return Ok(());
    };
    let chunk = std::mem::take(&mut load.rows);
    if chunk.is_empty() {
        return Ok(());
    }
    cut_segment(state, load, chunk)
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

/// Sort `rows` by primary key, refuse duplicates (within them, in the table, in the load's
/// earlier segments) and add them to the load as a segment.
fn cut_segment(state: &ShardState, load: &mut BulkLoad, mut rows: Vec<Row>) -> Result<(), Refusal> {
    let table = load.table.clone();
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
        let taken = state.with_table(&table, |t| {
            order.iter().copied().find(|&i| {
                t.key_taken(key(i))
                    || load
                        .segments
                        .iter()
                        .any(|s| s.segment.find(key(i)).is_some())
            })
        });
        if let Some(i) = taken {
            return Err(Refusal::Duplicate(std::mem::take(&mut rows[i])));
        }
        rows = permute(rows, &order);
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
