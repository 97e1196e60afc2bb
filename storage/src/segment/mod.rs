//! The column store's unit: an immutable *segment* of up to [`SEGMENT_ROWS`] rows of one table
//! on one shard, sorted by primary key, one Arrow array per column, with zone maps, a key index
//! and a checksummed, 4 KiB-block file form (`storage/FORMAT.md`, "Column segment file").
//!
//! Life of a segment: the engine builds one from sorted rows or columns ([`Segment::from_rows`],
//! [`Segment::from_columns`]), which checks the types and the key order and derives the zone maps
//! and the key index; [`Segment::encode`] gives the file the engine writes with O_DIRECT;
//! [`Segment::decode`] checks every block and rebuilds the same segment. Deletes do not touch a
//! segment: they go to its [`DeleteVector`], kept in the checkpoint manifest.
//!
//! Must never do I/O, never change a segment once built, and never panic on a file's bytes.

mod builder;
mod column;
mod deletes;
mod encoding;
mod error;
mod file;
mod keys;
mod sketch;
mod zone;

#[cfg(test)]
mod tests;

pub use builder::{BLANKS, ColumnBuilder};
pub use column::Column;
pub use deletes::DeleteVector;
pub use error::SegmentError;
pub use file::{MAGIC, VERSION};
pub use sketch::Sketch;
pub use zone::{ZoneMap, pg_float_cmp};

use crate::types::{DataType, Value};
use keys::KeyIndex;
use omendb_learned::index::IndexKind;
use std::sync::OnceLock;

/// Target rows per segment: the engine cuts sorted runs into segments of this many rows.
pub const SEGMENT_ROWS: usize = 65536;

/// An immutable, key-sorted run of rows in columns.
#[derive(Debug, Clone)]
pub struct Segment {
    types: Vec<DataType>,
    primary_key: Option<Vec<usize>>,
    rows: usize,
    columns: Vec<Column>,
    zones: Vec<ZoneMap>,
    index: KeyIndex,
    kind: IndexKind,
    /// Distinct-value sketches per column, built on first use (planner statistics only).
    sketches: OnceLock<Vec<Sketch>>,
}

impl Segment {
    /// Columns already sorted by the primary key (if any); builds zone maps and the key index
    /// (learned). Error if columns differ in length, don't match `types`, a key column holds a
    /// NULL, or the keys are not strictly ascending. A segment has at least one row.
    pub fn from_columns(
        types: &[DataType],
        primary_key: Option<&[usize]>,
        columns: Vec<Column>,
    ) -> Result<Segment, SegmentError> {
        Segment::from_columns_with(IndexKind::default(), types, primary_key, columns)
    }

    /// [`Segment::from_columns`] with the key index of `kind` (`BTree` for the classical
    /// baseline; both learned kinds build the static learned index).
    pub fn from_columns_with(
        kind: IndexKind,
        types: &[DataType],
        primary_key: Option<&[usize]>,
        columns: Vec<Column>,
    ) -> Result<Segment, SegmentError> {
        let rows = check_columns(types, &columns)?;
        // Segments live in memory for good: the smallest form of each column.
        let columns: Vec<Column> = columns.into_iter().map(Column::compact).collect();
        let zones = columns.iter().map(ZoneMap::of).collect();
        Segment::assemble(kind, types, primary_key, rows, columns, zones)
    }

    /// Rows (already sorted by key) → segment.
    pub fn from_rows(
        types: &[DataType],
        primary_key: Option<&[usize]>,
        rows: &[&[Value]],
    ) -> Result<Segment, SegmentError> {
        Segment::from_columns(types, primary_key, columns_of_rows(types, rows)?)
    }

    /// [`Segment::from_rows`] with the key index of `kind`.
    pub fn from_rows_with(
        kind: IndexKind,
        types: &[DataType],
        primary_key: Option<&[usize]>,
        rows: &[&[Value]],
    ) -> Result<Segment, SegmentError> {
        Segment::from_columns_with(kind, types, primary_key, columns_of_rows(types, rows)?)
    }

    fn assemble(
        kind: IndexKind,
        types: &[DataType],
        primary_key: Option<&[usize]>,
        rows: usize,
        columns: Vec<Column>,
        zones: Vec<ZoneMap>,
    ) -> Result<Segment, SegmentError> {
        check_primary_key(types, primary_key)?;
        let index = KeyIndex::build(kind, &columns, primary_key)?;
        Ok(Segment {
            types: types.to_vec(),
            primary_key: primary_key.map(<[usize]>::to_vec),
            rows,
            columns,
            zones,
            index,
            kind,
            sketches: OnceLock::new(),
        })
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn types(&self) -> &[DataType] {
        &self.types
    }

    pub fn primary_key(&self) -> Option<&[usize]> {
        self.primary_key.as_deref()
    }

    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    pub fn zones(&self) -> &[ZoneMap] {
        &self.zones
    }

    /// A distinct-value sketch per column (computed on the first call, then kept).
    pub fn sketches(&self) -> &[Sketch] {
        self.sketches
            .get_or_init(|| self.columns.iter().map(Sketch::of).collect())
    }

    /// The kind of key index this segment was built with.
    pub fn index_kind(&self) -> IndexKind {
        self.kind
    }

    /// Rebuild the key index as `kind` (for experiments comparing learned and B-tree lookups).
    pub fn set_index_kind(&mut self, kind: IndexKind) -> Result<(), SegmentError> {
        self.index = KeyIndex::build(kind, &self.columns, self.primary_key.as_deref())?;
        self.kind = kind;
        Ok(())
    }

    /// Row `i` as values. Panics if `i >= rows()`.
    pub fn row(&self, i: usize) -> Vec<Value> {
        self.columns.iter().map(|c| c.value(i)).collect()
    }

    /// Position of the row whose `encode_primary_key` bytes equal `key` (`None` without a
    /// primary key).
    pub fn find(&self, key: &[u8]) -> Option<u32> {
        self.index.find(key)
    }

    /// The first of `keys` (encoded primary keys in ascending order) this segment holds, by
    /// its position among them: a merge for integer keys, lookups otherwise.
    pub fn first_held<'k>(&self, keys: impl Iterator<Item = &'k [u8]>) -> Option<usize> {
        self.index.first_held(keys)
    }

    /// The whole file: a multiple of 4096 bytes, each 4 KiB block ending in the CRC32C of its
    /// first 4092 bytes.
    pub fn encode(&self) -> Vec<u8> {
        file::encode(
            &self.types,
            self.primary_key.as_deref(),
            &self.columns,
            &self.zones,
        )
    }

    /// Validate every block checksum and the header (magic, version, column types equal to
    /// `types`, key columns equal to `primary_key`), decode the columns and rebuild the key
    /// index (learned).
    pub fn decode(
        types: &[DataType],
        primary_key: Option<&[usize]>,
        bytes: &[u8],
    ) -> Result<Segment, SegmentError> {
        Segment::decode_with(IndexKind::default(), types, primary_key, bytes)
    }

    /// [`Segment::decode`] with the key index of `kind`.
    pub fn decode_with(
        kind: IndexKind,
        types: &[DataType],
        primary_key: Option<&[usize]>,
        bytes: &[u8],
    ) -> Result<Segment, SegmentError> {
        let (rows, decoded) = file::decode(types, primary_key, bytes)?;
        let found = check_columns(types, &decoded.columns)?;
        if found != rows {
            return Err(SegmentError::Length {
                column: 0,
                expected: rows,
                found,
            });
        }
        Segment::assemble(
            kind,
            types,
            primary_key,
            rows,
            decoded.columns,
            decoded.zones,
        )
    }
}

/// Every column holds its type and has the same length, 1 ..= u32::MAX rows; returns it.
fn check_columns(types: &[DataType], columns: &[Column]) -> Result<usize, SegmentError> {
    if columns.len() != types.len() || types.is_empty() || types.len() > usize::from(u16::MAX) {
        return Err(SegmentError::ColumnCount {
            expected: types.len(),
            found: columns.len(),
        });
    }
    let rows = columns[0].len();
    if rows == 0 || rows > u32::MAX as usize {
        return Err(SegmentError::RowCount {
            found: rows,
            max: u32::MAX as usize,
        });
    }
    for (column, (c, &ty)) in columns.iter().zip(types).enumerate() {
        if !c.holds(ty) || !c.is_consistent() {
            return Err(SegmentError::TypeMismatch {
                column,
                expected: ty,
                found: c.kind_name().to_string(),
            });
        }
        if c.len() != rows {
            return Err(SegmentError::Length {
                column,
                expected: rows,
                found: c.len(),
            });
        }
    }
    Ok(rows)
}

fn check_primary_key(
    types: &[DataType],
    primary_key: Option<&[usize]>,
) -> Result<(), SegmentError> {
    let Some(pk) = primary_key else {
        return Ok(());
    };
    if pk.is_empty() || pk.len() > usize::from(u16::MAX) {
        return Err(SegmentError::PrimaryKey(format!("of {} columns", pk.len())));
    }
    if let Some(c) = pk.iter().find(|&&c| c >= types.len()) {
        return Err(SegmentError::PrimaryKey(format!(
            "column {c} of a {}-column table",
            types.len()
        )));
    }
    Ok(())
}

fn columns_of_rows(types: &[DataType], rows: &[&[Value]]) -> Result<Vec<Column>, SegmentError> {
    let mut builders: Vec<ColumnBuilder> = types
        .iter()
        .map(|&t| ColumnBuilder::new(t, rows.len()))
        .collect();
    for (r, row) in rows.iter().enumerate() {
        if row.len() != types.len() {
            return Err(SegmentError::ColumnCount {
                expected: types.len(),
                found: row.len(),
            });
        }
        for (c, (b, v)) in builders.iter_mut().zip(row.iter()).enumerate() {
            b.push(v).map_err(|_| SegmentError::BadRow {
                row: r,
                column: c,
                expected: types[c],
                found: v.data_type(),
            })?;
        }
    }
    Ok(builders.into_iter().map(ColumnBuilder::finish).collect())
}
