//! ORDER BY over batches (stable, as the row executor's sort), and top-N when a LIMIT bounds
//! the rows wanted: rows are ordered by their encoded sort keys, ties by input position.

use crate::EngineError;
use crate::exec::eval::EvalEnv;
use crate::exec::vector::data::{Batch, Vector};
use crate::exec::vector::expr;
use crate::exec::vector::gather::{concat_batches, take_batch};
use crate::exec::vector::keys::{self, Order};
use omendb_planner::SortKey;

/// The rows of `batches` (of `width` columns) ordered by `keys`; only the first `limit` if given.
pub fn sort(
    batches: &[Batch],
    width: usize,
    sort_keys: &[SortKey],
    limit: Option<usize>,
    env: &EvalEnv,
) -> Result<Vec<Batch>, EngineError> {
    let all = concat_batches(batches, width)?;
    let n = all.len;
    if n == 0 {
        return Ok(Vec::new());
    }
    let vectors = sort_keys
        .iter()
        .map(|k| expr::eval(&k.expr, &all, env))
        .collect::<Result<Vec<_>, _>>()?;
    // The concatenated copy of the input and the sort keys, alongside the input batches.
    let keys_size: usize = vectors.iter().map(Vector::memory_size).sum();
    env.memory.charge(all.memory_size() + keys_size)?;
    let cols: Vec<&Vector> = vectors.iter().collect();
    let orders: Vec<Order> = sort_keys
        .iter()
        .map(|k| Order {
            descending: k.descending,
            nulls_first: k.nulls_first,
        })
        .collect();
    let encoded = keys::encode(&cols, &orders, n);
    let mut idx: Vec<u32> = (0..n as u32).collect();
    let by_key = |a: &u32, b: &u32| {
        encoded
            .get(*a as usize)
            .cmp(encoded.get(*b as usize))
            .then(a.cmp(b))
    };
    match limit {
        Some(0) => return Ok(Vec::new()),
        Some(k) if k < n => {
            idx.select_nth_unstable_by(k - 1, by_key);
            idx.truncate(k);
            idx.sort_unstable_by(by_key);
        }
        _ => idx.sort_unstable_by(by_key),
    }
    Ok(vec![take_batch(&all, &idx)?])
}

/// Rows `offset..offset + limit` of the batches in order.
pub fn limit(batches: Vec<Batch>, offset: usize, limit: usize) -> Result<Vec<Batch>, EngineError> {
    let mut out = Vec::new();
    let (mut skip, mut left) = (offset, limit);
    for b in batches {
        if left == 0 {
            break;
        }
        if skip >= b.len {
            skip -= b.len;
            continue;
        }
        let end = b.len.min(skip.saturating_add(left));
        let rows = end - skip;
        if skip == 0 && rows == b.len {
            out.push(b);
        } else {
            let idx: Vec<u32> = (skip as u32..end as u32).collect();
            out.push(take_batch(&b, &idx)?);
        }
        left -= rows;
        skip = 0;
    }
    Ok(out)
}
