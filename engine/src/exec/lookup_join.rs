//! Lookup join: an inner join one of whose sides is a table scan whose whole primary key is
//! bound, column by column, either by the scan's own equalities with constants or by the join
//! condition's equalities with the other side's columns (TPC-C Stock-Level: `stock` rows of a
//! warehouse by `s_i_id = ol_i_id` for the ~200 order lines of the last 20 orders). The other
//! side runs first; the scan becomes point lookups of the keys its rows name, one batch per
//! shard, instead of reading the whole partition.
//!
//! The looked-up rows are exactly the scan's rows that can meet the join condition (a row that
//! joins has the key its partner names), and both sides then go through the ordinary join, so
//! the result is the same as scanning. Must never apply to outer, semi or anti joins (rows
//! without partners matter there).

use super::Row;
use super::eval::eval;
use super::query::Executor;
use super::route::shard_of_value;
use super::scan::Scope;
use crate::EngineError;
use omendb_planner::{Access, BinOp, Expr, Plan};
use omendb_storage::row::key::encode_primary_key;
use omendb_storage::schema::TableSchema;
use omendb_storage::types::Value;
use std::collections::BTreeSet;
use std::sync::Arc;

/// Most rows on the other side for which lookups beat a scan (beyond, the scan runs).
const MAX_LOOKUPS: usize = 4096;

/// Where a key column's value comes from.
enum KeyPart<'p> {
    Constant(&'p Expr),
    /// A column of the other side's rows.
    Partner(usize),
}

/// The scan side of a lookup join.
struct Lookup<'p> {
    table: &'p Arc<TableSchema>,
    filter: Option<&'p Expr>,
    parts: Vec<KeyPart<'p>>,
}

impl Executor {
    /// Both sides' rows (left, right) of an inner join, the scan side by lookups, when one side
    /// qualifies; `None` when neither does.
    pub(super) async fn lookup_join(
        &self,
        left: &Plan,
        right: &Plan,
        on: Option<&Expr>,
    ) -> Result<Option<(Vec<Row>, Vec<Row>)>, EngineError> {
        let Some(on) = on else {
            return Ok(None);
        };
        let lw = left.column_types().len();
        let rw = right.column_types().len();
        if let Some(lookup) = lookup_side(right, on, lw..lw + rw, 0..lw) {
            let l = self.run(left).await?;
            let r = self.fetch(right, &lookup, &l).await?;
            return Ok(Some((l, r)));
        }
        if let Some(lookup) = lookup_side(left, on, 0..lw, lw..lw + rw) {
            let r = self.run(right).await?;
            let l = self.fetch(left, &lookup, &r).await?;
            return Ok(Some((l, r)));
        }
        Ok(None)
    }

    /// The scan side's rows that `partners` name (all of them, by a scan, when too many).
    async fn fetch(
        &self,
        scan: &Plan,
        lookup: &Lookup<'_>,
        partners: &[Row],
    ) -> Result<Vec<Row>, EngineError> {
        if partners.len() > MAX_LOOKUPS {
            return self.run(scan).await;
        }
        let shards = self.shard.count();
        let Some(keys) = self.keys_by_shard(lookup, partners, shards)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for (s, keys) in keys.into_iter().enumerate() {
            if keys.is_empty() {
                continue;
            }
            let scope = Scope::Keys(keys.into_iter().collect());
            out.extend(
                self.scan_on(s, lookup.table, Some(scope), lookup.filter, None)
                    .await?,
            );
        }
        Ok(out)
    }

    /// The encoded keys `partners` name, per shard; `None` when a constant part is NULL (no
    /// row can match).
    fn keys_by_shard(
        &self,
        lookup: &Lookup<'_>,
        partners: &[Row],
        shards: usize,
    ) -> Result<Option<Vec<BTreeSet<Vec<u8>>>>, EngineError> {
        let env = &self.env;
        let Some(pk) = &lookup.table.primary_key else {
            return Ok(None);
        };
        let assign = |col: usize, v: Value| -> Option<Value> {
            if v.is_null() {
                return None;
            }
            v.assign(lookup.table.columns[col].ty, &env.tz).ok()
        };
        let mut constants: Vec<Option<Value>> = Vec::with_capacity(pk.columns.len());
        for (&col, part) in pk.columns.iter().zip(&lookup.parts) {
            constants.push(match part {
                KeyPart::Constant(e) => match assign(col, eval(e, &[], env)?) {
                    Some(v) => Some(v),
                    None => return Ok(None),
                },
                KeyPart::Partner(_) => None,
            });
        }
        let mut by_shard = vec![BTreeSet::new(); shards];
        let mut values: Vec<Value> = Vec::with_capacity(pk.columns.len());
        'rows: for row in partners {
            values.clear();
            for ((&col, part), constant) in pk.columns.iter().zip(&lookup.parts).zip(&constants) {
                let v = match (part, constant) {
                    (_, Some(c)) => c.clone(),
                    (KeyPart::Partner(i), None) => match assign(col, row[*i].clone()) {
                        Some(v) => v,
                        // A NULL (or unrepresentable) key joins nothing.
                        None => continue 'rows,
                    },
                    (KeyPart::Constant(_), None) => continue 'rows,
                };
                values.push(v);
            }
            let mut key = Vec::with_capacity(16 * values.len());
            encode_primary_key(&values.iter().collect::<Vec<_>>(), &mut key);
            by_shard[shard_of_value(&values[0], shards)].insert(key);
        }
        Ok(Some(by_shard))
    }
}

/// `plan` as the lookup side of a join: a scan (not already a point lookup) whose every key
/// column is bound by a constant equality of its filter or an `on` equality with a partner
/// column, at least one of them by the join. `own` and `partner` are the two sides' column
/// ranges in the join's output.
fn lookup_side<'p>(
    plan: &'p Plan,
    on: &'p Expr,
    own: std::ops::Range<usize>,
    partner: std::ops::Range<usize>,
) -> Option<Lookup<'p>> {
    let Plan::Scan {
        table,
        filter,
        access,
    } = plan
    else {
        return None;
    };
    if matches!(access, Access::PrimaryKey(_)) {
        return None;
    }
    let pk = table.primary_key.as_ref()?;
    let mut joined: Vec<(usize, usize)> = Vec::new();
    for_each_equality(on, &mut |a, b| {
        if let (Expr::Column { index: x, .. }, Expr::Column { index: y, .. }) = (a, b) {
            if own.contains(x) && partner.contains(y) {
                joined.push((x - own.start, y - partner.start));
            } else if own.contains(y) && partner.contains(x) {
                joined.push((y - own.start, x - partner.start));
            }
        }
    });
    let mut constants: Vec<(usize, &Expr)> = Vec::new();
    if let Some(f) = filter {
        for_each_equality(f, &mut |a, b| match (a, b) {
            (Expr::Column { index, .. }, v) | (v, Expr::Column { index, .. })
                if v.is_row_independent() =>
            {
                constants.push((*index, v));
            }
            _ => {}
        });
    }
    let parts: Option<Vec<KeyPart<'p>>> = pk
        .columns
        .iter()
        .map(|&c| {
            constants
                .iter()
                .find(|(col, _)| *col == c)
                .map(|(_, e)| KeyPart::Constant(e))
                .or_else(|| {
                    joined
                        .iter()
                        .find(|(col, _)| *col == c)
                        .map(|(_, p)| KeyPart::Partner(*p))
                })
        })
        .collect();
    let parts = parts?;
    parts
        .iter()
        .any(|p| matches!(p, KeyPart::Partner(_)))
        .then_some(Lookup {
            table,
            filter: filter.as_ref(),
            parts,
        })
}

/// Call `f` with the two sides of every `a = b` conjunct of `e`.
fn for_each_equality<'e>(e: &'e Expr, f: &mut dyn FnMut(&'e Expr, &'e Expr)) {
    match e {
        Expr::Binary {
            op: BinOp::And,
            left,
            right,
            ..
        } => {
            for_each_equality(left, f);
            for_each_equality(right, f);
        }
        Expr::Binary {
            op: BinOp::Eq,
            left,
            right,
            ..
        } => f(left, right),
        _ => {}
    }
}
