//! The catalog image: every table schema, every sequence's restart value, the id counters and
//! the shard count the data was partitioned for.

use super::{open_envelope, seal_envelope};
use crate::io::{ByteReader, ByteWriter, IoFormatError};
use crate::schema::{ColumnSchema, IndexSchema, TableSchema, UniqueConstraint};
use crate::types::DataType;

const MAGIC: &[u8; 8] = b"OMENCAT\0";
const VERSION: u32 = 1;
/// Marks an absent optional number in the encoding of type parameters.
const NONE_U32: u32 = u32::MAX;

/// Everything the catalog must remember across a restart.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogImage {
    /// Rows are placed by hash modulo this: the data only makes sense with this many shards.
    pub shards: u32,
    pub next_oid: u32,
    pub tables: Vec<TableSchema>,
    /// (name, first value not yet handed out for sure).
    pub sequences: Vec<(String, i64)>,
    /// (name, defining query text).
    pub views: Vec<(String, String)>,
}

pub fn encode_catalog(image: &CatalogImage) -> Vec<u8> {
    let mut w = ByteWriter::new();
    w.u32(image.shards);
    w.u32(image.next_oid);
    w.u32(image.tables.len() as u32);
    for t in &image.tables {
        encode_table(t, &mut w);
    }
    w.u32(image.sequences.len() as u32);
    for (name, next) in &image.sequences {
        w.str(name);
        w.i64(*next);
    }
    w.u32(image.views.len() as u32);
    for (name, sql) in &image.views {
        w.str(name);
        w.str(sql);
    }
    encode_indexes(&image.tables, &mut w);
    encode_unique_indexes(&image.tables, &mut w);
    seal_envelope(MAGIC, VERSION, &w.buf)
}

pub fn decode_catalog(data: &[u8]) -> Result<CatalogImage, IoFormatError> {
    let body = open_envelope(data, MAGIC, "catalog", VERSION)?;
    let mut r = ByteReader::new(body);
    let shards = r.u32()?;
    let next_oid = r.u32()?;
    let n = r.u32()?;
    let mut tables = Vec::new();
    for _ in 0..n {
        tables.push(decode_table(&mut r)?);
    }
    let n = r.u32()?;
    let mut sequences = Vec::new();
    for _ in 0..n {
        let name = r.str()?.to_string();
        sequences.push((name, r.i64()?));
    }
    let n = r.u32()?;
    let mut views = Vec::new();
    for _ in 0..n {
        let name = r.str()?.to_string();
        views.push((name, r.str()?.to_string()));
    }
    decode_indexes(&mut r, &mut tables)?;
    decode_unique_indexes(&mut r, &mut tables)?;
    Ok(CatalogImage {
        shards,
        next_oid,
        tables,
        sequences,
        views,
    })
}

/// Secondary indexes come last, after the views, so catalogs written before indexes existed
/// (which end there) still decode: (table id, name, column count, columns) per index.
fn encode_indexes(tables: &[TableSchema], w: &mut ByteWriter) {
    let all: Vec<(u32, &IndexSchema)> = tables
        .iter()
        .flat_map(|t| t.indexes.iter().map(move |i| (t.id, i)))
        .collect();
    w.u32(all.len() as u32);
    for (table, index) in all {
        w.u32(table);
        w.str(&index.name);
        w.u16(index.columns.len() as u16);
        for &c in &index.columns {
            w.u16(c as u16);
        }
    }
}

fn decode_indexes(r: &mut ByteReader<'_>, tables: &mut [TableSchema]) -> Result<(), IoFormatError> {
    if r.remaining() == 0 {
        return Ok(());
    }
    for _ in 0..r.u32()? {
        let table = r.u32()?;
        let name = r.str()?.to_string();
        let mut columns = Vec::new();
        for _ in 0..r.u16()? {
            columns.push(usize::from(r.u16()?));
        }
        let owner = tables.iter_mut().find(|t| t.id == table);
        match owner {
            Some(t) if columns.iter().all(|&c| c < t.columns.len()) => {
                t.indexes.push(IndexSchema { name, columns });
            }
            _ => {
                return Err(IoFormatError::Invalid(format!(
                    "index {name} of unknown table or column"
                )));
            }
        }
    }
    Ok(())
}

/// Unique indexes come after the indexes, so catalogs written before they existed (which end
/// there) still decode: (table id, index name, index OID) per unique index, in the table's
/// constraint order; the index's columns are its entry among the indexes. Each is a UNIQUE
/// constraint after the table's own ones.
fn encode_unique_indexes(tables: &[TableSchema], w: &mut ByteWriter) {
    let all: Vec<(u32, &UniqueConstraint, u32)> = tables
        .iter()
        .flat_map(|t| {
            t.unique
                .iter()
                .filter_map(move |u| u.index_oid.map(|oid| (t.id, u, oid)))
        })
        .collect();
    w.u32(all.len() as u32);
    for (table, unique, oid) in all {
        w.u32(table);
        w.str(&unique.name);
        w.u32(oid);
    }
}

fn decode_unique_indexes(
    r: &mut ByteReader<'_>,
    tables: &mut [TableSchema],
) -> Result<(), IoFormatError> {
    if r.remaining() == 0 {
        return Ok(());
    }
    for _ in 0..r.u32()? {
        let table = r.u32()?;
        let name = r.str()?.to_string();
        let oid = r.u32()?;
        let owner = tables.iter_mut().find(|t| t.id == table);
        let columns = owner
            .as_ref()
            .and_then(|t| t.indexes.iter().find(|i| i.name == name))
            .map(|i| i.columns.clone());
        match (owner, columns) {
            (Some(t), Some(columns)) => t.unique.push(UniqueConstraint {
                name,
                columns,
                index_oid: Some(oid),
            }),
            _ => {
                return Err(IoFormatError::Invalid(format!(
                    "unique index {name} of unknown table or index"
                )));
            }
        }
    }
    Ok(())
}

fn encode_table(t: &TableSchema, w: &mut ByteWriter) {
    w.u32(t.id);
    w.str(&t.name);
    w.u16(t.columns.len() as u16);
    for c in &t.columns {
        w.str(&c.name);
        encode_type(c.ty, w);
        w.u8(u8::from(c.nullable));
        match &c.default {
            Some(d) => {
                w.u8(1);
                w.str(d);
            }
            None => w.u8(0),
        }
    }
    match &t.primary_key {
        Some(pk) => {
            w.u8(1);
            encode_constraint(pk, w);
        }
        None => w.u8(0),
    }
    // Unique indexes are written with the indexes (see `encode_unique_indexes`).
    let constraints: Vec<&UniqueConstraint> =
        t.unique.iter().filter(|u| u.index_oid.is_none()).collect();
    w.u16(constraints.len() as u16);
    for u in constraints {
        encode_constraint(u, w);
    }
}

fn decode_table(r: &mut ByteReader<'_>) -> Result<TableSchema, IoFormatError> {
    let id = r.u32()?;
    let name = r.str()?.to_string();
    let n = r.u16()?;
    let mut columns = Vec::new();
    for _ in 0..n {
        let name = r.str()?.to_string();
        let ty = decode_type(r)?;
        let nullable = r.u8()? != 0;
        let default = match r.u8()? {
            0 => None,
            _ => Some(r.str()?.to_string()),
        };
        columns.push(ColumnSchema {
            name,
            ty,
            nullable,
            default,
        });
    }
    let primary_key = match r.u8()? {
        0 => None,
        _ => Some(decode_constraint(r, columns.len())?),
    };
    let n = r.u16()?;
    let mut unique = Vec::new();
    for _ in 0..n {
        unique.push(decode_constraint(r, columns.len())?);
    }
    Ok(TableSchema {
        id,
        name,
        columns,
        primary_key,
        unique,
        indexes: Vec::new(),
    })
}

fn encode_constraint(c: &UniqueConstraint, w: &mut ByteWriter) {
    w.str(&c.name);
    w.u16(c.columns.len() as u16);
    for &col in &c.columns {
        w.u16(col as u16);
    }
}

fn decode_constraint(
    r: &mut ByteReader<'_>,
    width: usize,
) -> Result<UniqueConstraint, IoFormatError> {
    let name = r.str()?.to_string();
    let n = r.u16()?;
    let mut columns = Vec::new();
    for _ in 0..n {
        let c = r.u16()? as usize;
        if c >= width {
            return Err(IoFormatError::Invalid(format!(
                "constraint {name} names column {c} of {width}"
            )));
        }
        columns.push(c);
    }
    Ok(UniqueConstraint {
        name,
        columns,
        index_oid: None,
    })
}

fn opt(v: Option<u32>) -> u32 {
    v.unwrap_or(NONE_U32)
}

fn unopt(v: u32) -> Option<u32> {
    (v != NONE_U32).then_some(v)
}

/// A type: its tag, then its parameters (absent ones as `NONE_U32`).
pub(crate) fn encode_type(ty: DataType, w: &mut ByteWriter) {
    let (tag, a, b) = match ty {
        DataType::Bool => (1, None, None),
        DataType::Int16 => (2, None, None),
        DataType::Int32 => (3, None, None),
        DataType::Int64 => (4, None, None),
        DataType::Float32 => (5, None, None),
        DataType::Float64 => (6, None, None),
        DataType::Numeric { precision, scale } => {
            (7, precision.map(u32::from), scale.map(u32::from))
        }
        DataType::Text => (8, None, None),
        DataType::Varchar(n) => (9, n, None),
        DataType::Char(n) => (10, n, None),
        DataType::Bytea => (11, None, None),
        DataType::Date => (12, None, None),
        DataType::Timestamp => (13, None, None),
        DataType::TimestampTz => (14, None, None),
        DataType::Interval => (15, None, None),
        DataType::Unknown => (16, None, None),
        DataType::TextArray => (17, None, None),
    };
    w.u8(tag);
    w.u32(opt(a));
    w.u32(opt(b));
}

pub(crate) fn decode_type(r: &mut ByteReader<'_>) -> Result<DataType, IoFormatError> {
    let tag = r.u8()?;
    let (a, b) = (unopt(r.u32()?), unopt(r.u32()?));
    let small = |v: Option<u32>| -> Result<Option<u8>, IoFormatError> {
        v.map(|v| u8::try_from(v).map_err(|_| IoFormatError::Invalid(format!("numeric({v})"))))
            .transpose()
    };
    Ok(match tag {
        1 => DataType::Bool,
        2 => DataType::Int16,
        3 => DataType::Int32,
        4 => DataType::Int64,
        5 => DataType::Float32,
        6 => DataType::Float64,
        7 => DataType::Numeric {
            precision: small(a)?,
            scale: small(b)?,
        },
        8 => DataType::Text,
        9 => DataType::Varchar(a),
        10 => DataType::Char(a),
        11 => DataType::Bytea,
        12 => DataType::Date,
        13 => DataType::Timestamp,
        14 => DataType::TimestampTz,
        15 => DataType::Interval,
        16 => DataType::Unknown,
        17 => DataType::TextArray,
        t => return Err(IoFormatError::Invalid(format!("type tag {t}"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_round_trips_and_detects_corruption() {
        let image = CatalogImage {
            shards: 2,
            next_oid: 16390,
            tables: vec![TableSchema {
                id: 16384,
                name: "t".into(),
                columns: vec![
                    ColumnSchema {
                        name: "id".into(),
                        ty: DataType::Int32,
                        nullable: false,
                        default: Some("nextval('t_id_seq')".into()),
                    },
                    ColumnSchema {
                        name: "price".into(),
                        ty: DataType::Numeric {
                            precision: Some(12),
                            scale: Some(2),
                        },
                        nullable: true,
                        default: None,
                    },
                    ColumnSchema {
                        name: "name".into(),
                        ty: DataType::Varchar(Some(10)),
                        nullable: true,
                        default: None,
                    },
                ],
                primary_key: Some(UniqueConstraint {
                    name: "t_pkey".into(),
                    columns: vec![0],
                    index_oid: None,
                }),
                unique: vec![
                    UniqueConstraint {
                        name: "t_name_key".into(),
                        columns: vec![2],
                        index_oid: None,
                    },
                    UniqueConstraint {
                        name: "t_price_uidx".into(),
                        columns: vec![1],
                        index_oid: Some(1400),
                    },
                ],
                indexes: vec![
                    IndexSchema {
                        name: "t_name_price".into(),
                        columns: vec![2, 1],
                    },
                    IndexSchema {
                        name: "t_price_uidx".into(),
                        columns: vec![1],
                    },
                ],
            }],
            sequences: vec![("t_id_seq".into(), 1025)],
            views: vec![("v".into(), "SELECT 1".into())],
        };
        let bytes = encode_catalog(&image);
        assert_eq!(decode_catalog(&bytes).unwrap(), image);
        let mut bad = bytes.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert!(matches!(
            decode_catalog(&bad),
            Err(IoFormatError::Checksum { .. })
        ));
    }
}
