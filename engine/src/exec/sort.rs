//! Sorting, DISTINCT and set operations over materialised rows.

use super::Row;
use super::eval::{EvalEnv, eval};
use super::memory::{CHARGE_EVERY_ROWS, row_bytes};
use super::ops::compare;
use crate::EngineError;
use hashbrown::HashMap;
use omendb_planner::SortKey;
use omendb_planner::plan::SetOpKind;
use omendb_storage::row::key::encode_value;
use omendb_storage::types::Value;
use std::cmp::Ordering;

/// Sort rows by the keys (stable, NULLs placed as each key says).
pub fn sort(rows: Vec<Row>, keys: &[SortKey], env: &EvalEnv) -> Result<Vec<Row>, EngineError> {
    let mut keyed = Vec::with_capacity(rows.len());
    for row in rows {
        let k = keys
            .iter()
            .map(|k| eval(&k.expr, &row, env))
            .collect::<Result<Vec<_>, _>>()?;
        if keyed.len().is_multiple_of(CHARGE_EVERY_ROWS) {
            // The next thousand rows' sort keys, sized like this row's.
            env.memory.charge(row_bytes(&k) * CHARGE_EVERY_ROWS)?;
        }
        keyed.push((k, row));
    }
    keyed.sort_by(|(a, _), (b, _)| compare_keys(a, b, keys));
    Ok(keyed.into_iter().map(|(_, r)| r).collect())
}

/// PostgreSQL's order of two rows' evaluated sort keys: each key ascending or descending, its
/// NULLs first or last, the next key breaking ties.
pub fn compare_keys(a: &[Value], b: &[Value], keys: &[SortKey]) -> Ordering {
    for (i, key) in keys.iter().enumerate() {
        let o = match (a[i].is_null(), b[i].is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) => {
                if key.nulls_first {
                    Ordering::Less
                } else {
                    Ordering::Greater
                }
            }
            (false, true) => {
                if key.nulls_first {
                    Ordering::Greater
                } else {
                    Ordering::Less
                }
            }
            _ => {
                let o = compare(&a[i], &b[i]).unwrap_or(Ordering::Equal);
                if key.descending { o.reverse() } else { o }
            }
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

fn row_key(row: &Row) -> Vec<u8> {
    let mut k = Vec::new();
    for v in row {
        encode_value(v, &mut k);
    }
    k
}

/// Remove duplicate rows (NULLs equal to each other), keeping first occurrences in order.
pub fn distinct(rows: Vec<Row>) -> Vec<Row> {
    let mut seen = hashbrown::HashSet::with_capacity(rows.len());
    rows.into_iter()
        .filter(|r| seen.insert(row_key(r)))
        .collect()
}

/// UNION / INTERSECT / EXCEPT with or without ALL (multiset semantics for ALL).
pub fn set_operation(op: SetOpKind, all: bool, left: Vec<Row>, right: Vec<Row>) -> Vec<Row> {
    match op {
        SetOpKind::Union => {
            let mut out = left;
            out.extend(right);
            if all { out } else { distinct(out) }
        }
        SetOpKind::Intersect | SetOpKind::Except => {
            let mut counts: HashMap<Vec<u8>, usize> = HashMap::new();
            for r in &right {
                *counts.entry(row_key(r)).or_default() += 1;
            }
            let rows = if all { left } else { distinct(left) };
            rows.into_iter()
                .filter(|r| {
                    let k = row_key(r);
                    let in_right = match counts.get_mut(&k) {
                        Some(c) if *c > 0 => {
                            if all {
                                *c -= 1;
                            }
                            true
                        }
                        _ => false,
                    };
                    (op == SetOpKind::Intersect) == in_right
                })
                .collect()
        }
    }
}
