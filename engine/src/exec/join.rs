//! Joins: hash join on the equality conjuncts between the two sides, nested loops otherwise;
//! inner, left, right, full and cross.

use super::Row;
use super::eval::{EvalEnv, eval_predicate};
use super::memory::RowCharger;
use crate::EngineError;
use hashbrown::HashMap;
use omendb_planner::{BinOp, Expr, JoinKind};
use omendb_storage::row::key::encode_value;
use omendb_storage::types::Value;

/// Split `on` into (left column, right column) equalities and the rest.
fn equi_keys(on: &Expr, left_width: usize, keys: &mut Vec<(usize, usize)>) {
    match on {
        Expr::Binary {
            op: BinOp::And,
            left,
            right,
            ..
        } => {
            equi_keys(left, left_width, keys);
            equi_keys(right, left_width, keys);
        }
        Expr::Binary {
            op: BinOp::Eq,
            left,
            right,
            ..
        } => {
            if let (Expr::Column { index: a, ty: ta }, Expr::Column { index: b, ty: tb }) =
                (left.as_ref(), right.as_ref())
            {
                // Only same-typed columns: their encodings compare like their values.
                if ta == tb {
                    match (*a < left_width, *b < left_width) {
                        (true, false) => keys.push((*a, *b - left_width)),
                        (false, true) => keys.push((*b, *a - left_width)),
                        _ => {}
                    }
                }
            }
        }
        _ => {}
    }
}

fn key_of(row: &Row, cols: impl Iterator<Item = usize>) -> Option<Vec<u8>> {
    let mut k = Vec::new();
    for c in cols {
        let v = &row[c];
        if v.is_null() {
            return None;
        }
        encode_value(v, &mut k);
    }
    Some(k)
}

pub fn join(
    left: Vec<Row>,
    right: Vec<Row>,
    (left_width, right_width): (usize, usize),
    kind: JoinKind,
    on: Option<&Expr>,
    env: &EvalEnv,
) -> Result<Vec<Row>, EngineError> {
    let mut keys = Vec::new();
    if let Some(on) = on {
        equi_keys(on, left_width, &mut keys);
    }
    // Candidate right rows per left row: by hash on the equi keys, or all of them.
    let table: Option<HashMap<Vec<u8>, Vec<usize>>> = (!keys.is_empty()).then(|| {
        let mut t: HashMap<Vec<u8>, Vec<usize>> = HashMap::new();
        for (i, r) in right.iter().enumerate() {
            if let Some(k) = key_of(r, keys.iter().map(|k| k.1)) {
                t.entry(k).or_default().push(i);
            }
        }
        t
    });
    if matches!(
        kind,
        JoinKind::Semi | JoinKind::Anti | JoinKind::AntiNullAware | JoinKind::Mark
    ) {
        return filtering_join(left, &right, &keys, table.as_ref(), kind, on, env);
    }
    let all_right: Vec<usize> = if table.is_none() {
        (0..right.len()).collect()
    } else {
        Vec::new()
    };
    let mut right_matched = vec![false; right.len()];
    let mut out = Vec::new();
    let mut charger = RowCharger::new(&env.memory);
    let mut combined: Row = Vec::with_capacity(left_width + right_width);
    for l in &left {
        let candidates: &[usize] = match &table {
            Some(t) => match key_of(l, keys.iter().map(|k| k.0)) {
                Some(k) => t.get(&k).map_or(&[], Vec::as_slice),
                None => &[],
            },
            None => &all_right,
        };
        let mut matched = false;
        for &ri in candidates {
            combined.clear();
            combined.extend_from_slice(l);
            combined.extend_from_slice(&right[ri]);
            let ok = match on {
                Some(p) => eval_predicate(p, &combined, env)?,
                None => true,
            };
            if ok {
                matched = true;
                right_matched[ri] = true;
                out.push(combined.clone());
                charger.grew(&out)?;
            }
        }
        if !matched && matches!(kind, JoinKind::Left | JoinKind::Full) {
            let mut row = l.clone();
            row.extend(std::iter::repeat_n(Value::Null, right_width));
            out.push(row);
        }
    }
    if matches!(kind, JoinKind::Right | JoinKind::Full) {
        for (ri, r) in right.iter().enumerate() {
            if !right_matched[ri] {
                let mut row: Row = std::iter::repeat_n(Value::Null, left_width).collect();
                row.extend_from_slice(r);
                out.push(row);
            }
        }
    }
    Ok(out)
}

/// Semi and anti joins: keep (or drop) each left row by whether some right row matches.
fn filtering_join(
    left: Vec<Row>,
    right: &[Row],
    keys: &[(usize, usize)],
    table: Option<&HashMap<Vec<u8>, Vec<usize>>>,
    kind: JoinKind,
    on: Option<&Expr>,
    env: &EvalEnv,
) -> Result<Vec<Row>, EngineError> {
    if kind == JoinKind::AntiNullAware
        && right.iter().any(|r| keys.iter().any(|k| r[k.1].is_null()))
    {
        // x NOT IN (…) with a NULL inside is never true.
        return Ok(Vec::new());
    }
    let all: Vec<usize> = (0..right.len()).collect();
    let mut out = Vec::new();
    let mut combined: Row = Vec::new();
    for l in left {
        if kind == JoinKind::AntiNullAware
            && !right.is_empty()
            && keys.iter().any(|k| l[k.0].is_null())
        {
            continue;
        }
        let candidates: &[usize] = match table {
            Some(t) => match key_of(&l, keys.iter().map(|k| k.0)) {
                Some(k) => t.get(&k).map_or(&[], Vec::as_slice),
                None => &[],
            },
            None => &all,
        };
        let mut matched = false;
        for &ri in candidates {
            let ok = match on {
                Some(p) => {
                    combined.clear();
                    combined.extend_from_slice(&l);
                    combined.extend_from_slice(&right[ri]);
                    eval_predicate(p, &combined, env)?
                }
                None => true,
            };
            if ok {
                matched = true;
                break;
            }
        }
        if kind == JoinKind::Mark {
            let mut row = l;
            row.push(omendb_storage::types::Value::Bool(matched));
            out.push(row);
        } else if matched == (kind == JoinKind::Semi) {
            out.push(l);
        }
    }
    Ok(out)
}
