//! Which shard holds a row: hash of the encoded shard-key value.

use super::eval::{EvalEnv, eval};
use crate::EngineError;
use omendb_planner::{Access, Expr};
use omendb_storage::row::KeyRange;
use omendb_storage::row::key::{encode_primary_key, encode_value, shard_hash, shard_hash_int};
use omendb_storage::schema::TableSchema;
use omendb_storage::types::Value;

/// The shard of a row with this shard-key value.
pub fn shard_of_value(v: &Value, shards: usize) -> usize {
    shard_of_value_in(v, shards, &mut Vec::with_capacity(16))
}

/// [`shard_of_value`] encoding into `buf` (cleared first), so a loop over rows allocates once.
pub fn shard_of_value_in(v: &Value, shards: usize, buf: &mut Vec<u8>) -> usize {
    buf.clear();
    encode_value(v, buf);
    (shard_hash(buf) % shards as u64) as usize
}

/// [`shard_of_value`] of an integer value of any width, without encoding it.
pub fn shard_of_int(v: i64, shards: usize) -> usize {
    (shard_hash_int(v) % shards as u64) as usize
}

/// The shard a full row belongs on (`None` for tables without a shard key).
pub fn shard_of_row(table: &TableSchema, row: &[Value], shards: usize) -> Option<usize> {
    table
        .shard_column()
        .map(|c| shard_of_value(&row[c], shards))
}

/// Where a scan must look: every shard, or one shard and maybe one primary key.
pub enum Target {
    All,
    /// One shard; `Some(key)` when the whole primary key is known (an index probe).
    One(usize, Option<Vec<u8>>),
    /// A primary-key range: on one shard when its equalities bind the shard column, else on
    /// every shard.
    Range(Option<usize>, Box<RangeProbe>),
    /// The key cannot match any row (e.g. a value that does not fit the column type).
    Nothing,
}

/// A key range with its row budget, evaluated for one statement execution.
#[derive(Debug, Clone)]
pub struct RangeProbe {
    /// The secondary index to read; `None` for the primary key.
    pub index: Option<String>,
    pub range: KeyRange,
    /// Stop after this many rows that pass the filter (in key order).
    pub limit: Option<usize>,
}

/// Evaluate an access path's key values (they do not depend on the row).
pub fn target(
    table: &TableSchema,
    access: &Access,
    env: &EvalEnv,
    shards: usize,
) -> Result<Target, EngineError> {
    let key_value = |col: usize, e: &Expr| -> Result<Option<Value>, EngineError> {
        let v = eval(e, &[], env)?;
        if v.is_null() {
            return Ok(None);
        }
        // Stored values carry the column's exact representation (char(n) padding, numeric scale).
        Ok(v.assign(table.columns[col].ty, &env.tz).ok())
    };
    match access {
        Access::Full => Ok(if shards == 1 {
            Target::One(0, None)
        } else {
            Target::All
        }),
        Access::ShardKey(e) => {
            let Some(col) = table.shard_column() else {
                return Ok(Target::All);
            };
            Ok(match key_value(col, e)? {
                Some(v) => Target::One(shard_of_value(&v, shards), None),
                None => Target::Nothing,
            })
        }
        Access::KeyRange(r) => {
            let mut values = Vec::with_capacity(r.eq.len());
            for (&col, e) in r.columns.iter().zip(&r.eq) {
                match key_value(col, e)? {
                    Some(v) => values.push(v),
                    None => return Ok(Target::Nothing),
                }
            }
            let shard = table
                .shard_column()
                .and_then(|sc| r.columns[..values.len()].iter().position(|&c| c == sc))
                .map(|i| shard_of_value(&values[i], shards));
            let next = r.columns.get(values.len()).copied();
            let bound = |b: &Option<omendb_planner::plan::RangeBound>| match (b, next) {
                (Some(b), Some(col)) => match key_value(col, &b.value)? {
                    Some(v) => Ok(Some((v, b.inclusive))),
                    // `col < NULL` matches no row.
                    None => Err(None),
                },
                _ => Ok(None),
            };
            let (lower, upper) = match (bound(&r.lower), bound(&r.upper)) {
                (Ok(l), Ok(u)) => (l, u),
                (Err(None), _) | (_, Err(None)) => return Ok(Target::Nothing),
                (Err(Some(e)), _) | (_, Err(Some(e))) => return Err(e),
            };
            let limit = super::query::limit_count(&r.limit, "LIMIT", env)?;
            if limit == Some(0) {
                return Ok(Target::Nothing);
            }
            // Secondary-index entries encode values with NULL tags (their columns may be NULL).
            let encode: fn(&Value, &mut Vec<u8>) = match r.index {
                Some(_) => encode_value,
                None => |v, out| encode_primary_key(&[v], out),
            };
            let range = encode_range(encode, &values, lower, upper, r.descending);
            Ok(Target::Range(
                shard,
                Box::new(RangeProbe {
                    index: r.index.clone(),
                    range,
                    limit,
                }),
            ))
        }
        Access::PrimaryKey(values) => {
            let Some(pk) = &table.primary_key else {
                return Ok(Target::All);
            };
            let mut owned = Vec::with_capacity(values.len());
            for (&col, e) in pk.columns.iter().zip(values) {
                match key_value(col, e)? {
                    Some(v) => owned.push(v),
                    None => return Ok(Target::Nothing),
                }
            }
            let shard = shard_of_value(&owned[0], shards);
            let mut key = Vec::with_capacity(16 * owned.len());
            encode_primary_key(&owned.iter().collect::<Vec<_>>(), &mut key);
            Ok(Target::One(shard, Some(key)))
        }
    }
}

/// The byte range of index keys with these leading values and bounds on the next column.
fn encode_range(
    encode: fn(&Value, &mut Vec<u8>),
    values: &[Value],
    lower: Option<(Value, bool)>,
    upper: Option<(Value, bool)>,
    descending: Option<bool>,
) -> KeyRange {
    let mut prefix = Vec::with_capacity(16 * (values.len() + 1));
    values.iter().for_each(|v| encode(v, &mut prefix));
    let with = |v: &Value| {
        let mut k = prefix.clone();
        encode(v, &mut k);
        k
    };
    // An exclusive lower bound still starts at the bound's keys: the filter drops them.
    let start = lower
        .as_ref()
        .map_or_else(|| prefix.clone(), |(v, _)| with(v));
    let stop = upper.as_ref().map(|(v, inclusive)| (with(v), *inclusive));
    KeyRange {
        prefix,
        start,
        stop,
        descending,
    }
}
