//! Which shard holds a row: hash of the encoded shard-key value.

use super::eval::{EvalEnv, eval};
use crate::EngineError;
use omendb_planner::{Access, Expr};
use omendb_storage::row::key::{encode_primary_key, encode_value, shard_hash};
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
    /// The key cannot match any row (e.g. a value that does not fit the column type).
    Nothing,
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
