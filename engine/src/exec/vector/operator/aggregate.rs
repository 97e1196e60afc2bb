//! Hash aggregation over batches: groups found through a `hashbrown` table of group ids keyed by
//! the encoded group values, accumulators kept column-wise per group. A shard aggregates its own
//! rows (partial state) and the coordinator merges the shards' states, then finishes them with
//! the row executor's result rules (`aggregate::finish`: sum of int8 is numeric, avg of
//! integers and numerics is `numeric_avg`, empty groups are NULL).

use crate::EngineError;
use crate::exec::eval::{EvalEnv, numeric_avg};
use crate::exec::memory::{CHARGE_EVERY_ROWS, MemoryBudget, row_bytes};
use crate::exec::ops::compare;
use crate::exec::vector::data::{Batch, Vector};
use crate::exec::vector::expr::{self, supported};
use crate::exec::vector::keys::{self, Keys, Order};
use hashbrown::DefaultHashBuilder;
use hashbrown::HashTable;
use omendb_planner::{AggCall, AggFunc, Expr};
use omendb_storage::types::{DataType, Numeric, TypeError, Value};
use std::cmp::Ordering;
use std::hash::BuildHasher;

/// What an Aggregate node computes.
#[derive(Debug, Clone)]
pub struct AggSpec {
    pub groups: Vec<Expr>,
    pub aggs: Vec<AggCall>,
}

impl AggSpec {
    /// Float sums round differently when added in another order: such aggregates run at the
    /// coordinator over the shards' rows in the row executor's order (shard by shard, row by
    /// row) instead of merging per-shard partial sums.
    pub fn order_sensitive(&self) -> bool {
        self.aggs.iter().any(|a| {
            matches!(a.func, AggFunc::Sum | AggFunc::Avg)
                && a.arg.as_ref().is_some_and(|e| e.ty().is_float())
        })
    }
}

/// Whether the vectorized aggregate computes `call` (DISTINCT, ORDER BY inside the call,
/// `bool_and`/`bool_or` and `string_agg` stay on the row executor).
pub fn call_supported(call: &AggCall) -> bool {
    // FILTER (WHERE …) and ORDER BY are evaluated by the row executor only.
    if call.distinct || call.extra.is_some() || call.filter.is_some() || !call.order_by.is_empty() {
        return false;
    }
    let arg_ty = call.arg.as_ref().map(Expr::ty);
    if !call.arg.as_ref().is_none_or(supported) {
        return false;
    }
    match (call.func, arg_ty) {
        (AggFunc::CountStar, _) | (AggFunc::Count, Some(_)) => true,
        (AggFunc::Sum | AggFunc::Avg, Some(t)) => t.is_number(),
        (AggFunc::Min | AggFunc::Max, Some(t)) => t != DataType::Bool,
        _ => false,
    }
}

/// Numeric results past 38 digits: the row executor's error.
fn numeric_overflow() -> EngineError {
    EngineError::Type(TypeError::OutOfRange(
        "value overflows numeric format".into(),
    ))
}

const NUMERIC_LIMIT: i128 = crate::exec::vector::kernels::arith::NUMERIC_LIMIT;

/// One aggregate's state for every group.
#[derive(Debug)]
enum Acc {
    Count(Vec<i64>),
    /// Integer sums and averages, exact in i128.
    Int {
        sum: Vec<i128>,
        count: Vec<i64>,
    },
    /// Numeric sums: mantissa and scale per group (scales differ only for mixed-scale inputs).
    Numeric {
        sum: Vec<i128>,
        scale: Vec<u8>,
        count: Vec<i64>,
    },
    Float {
        sum: Vec<f64>,
        count: Vec<i64>,
        /// An input was infinite or NaN (an infinite sum is then no overflow).
        nonfinite: Vec<bool>,
    },
    /// min/max: the best value so far per group.
    Extreme {
        max: bool,
        best: Vec<Value>,
    },
}

impl Acc {
    fn new(call: &AggCall) -> Acc {
        let arg_ty = call.arg.as_ref().map(Expr::ty);
        match (call.func, arg_ty) {
            (AggFunc::CountStar | AggFunc::Count, _) => Acc::Count(Vec::new()),
            (AggFunc::Sum | AggFunc::Avg, Some(t)) if t.is_integer() => Acc::Int {
                sum: Vec::new(),
                count: Vec::new(),
            },
            (AggFunc::Sum | AggFunc::Avg, Some(t)) if t.is_float() => Acc::Float {
                sum: Vec::new(),
                count: Vec::new(),
                nonfinite: Vec::new(),
            },
            (AggFunc::Sum | AggFunc::Avg, _) => Acc::Numeric {
                sum: Vec::new(),
                scale: Vec::new(),
                count: Vec::new(),
            },
            _ => Acc::Extreme {
                max: call.func == AggFunc::Max,
                best: Vec::new(),
            },
        }
    }

    /// Room for group ids below `groups`.
    fn grow(&mut self, groups: usize) {
        match self {
            Acc::Count(c) => c.resize(groups, 0),
            Acc::Int { sum, count } => {
                sum.resize(groups, 0);
                count.resize(groups, 0);
            }
            Acc::Numeric { sum, scale, count } => {
                sum.resize(groups, 0);
                scale.resize(groups, 0);
                count.resize(groups, 0);
            }
            Acc::Float {
                sum,
                count,
                nonfinite,
            } => {
                sum.resize(groups, 0.0);
                count.resize(groups, 0);
                nonfinite.resize(groups, false);
            }
            Acc::Extreme { best, .. } => best.resize(groups, Value::Null),
        }
    }

    /// Fold the rows of one batch in: row `i` belongs to group `gids[i]`.
    fn update(&mut self, gids: &[u32], arg: Option<&Vector>) -> Result<(), EngineError> {
        let valid = |i: usize| arg.is_none_or(|a| !a.is_null(i));
        match (self, arg) {
            (Acc::Count(c), None) => {
                for &g in gids {
                    c[g as usize] += 1;
                }
            }
            (Acc::Count(c), Some(a)) => match a.nulls() {
                None => gids.iter().for_each(|&g| c[g as usize] += 1),
                Some(n) => {
                    for (i, &g) in gids.iter().enumerate() {
                        c[g as usize] += i64::from(n.is_valid(i));
                    }
                }
            },
            (Acc::Int { sum, count }, Some(a)) => {
                let mut add = |i: usize, x: i128| {
                    if valid(i) {
                        let g = gids[i] as usize;
                        sum[g] += x;
                        count[g] += 1;
                    }
                };
                match a {
                    Vector::Int16(v) => (0..gids.len()).for_each(|i| add(i, v.value(i).into())),
                    Vector::Int32(v) => (0..gids.len()).for_each(|i| add(i, v.value(i).into())),
                    Vector::Int64(v) => (0..gids.len()).for_each(|i| add(i, v.value(i).into())),
                    _ => return Err(kind_error()),
                }
            }
            (
                Acc::Float {
                    sum,
                    count,
                    nonfinite,
                },
                Some(a),
            ) => {
                let mut add = |i: usize, x: f64| {
                    if valid(i) {
                        let g = gids[i] as usize;
                        sum[g] += x;
                        count[g] += 1;
                        nonfinite[g] |= !x.is_finite();
                    }
                };
                match a {
                    Vector::Float32(v) => (0..gids.len()).for_each(|i| add(i, v.value(i).into())),
                    Vector::Float64(v) => (0..gids.len()).for_each(|i| add(i, v.value(i))),
                    _ => return Err(kind_error()),
                }
            }
            (Acc::Numeric { sum, scale, count }, Some(Vector::Numeric(n))) => {
                let m = n.mantissas();
                for (i, &g) in gids.iter().enumerate() {
                    if !valid(i) {
                        continue;
                    }
                    let g = g as usize;
                    let s = n.scale_at(i);
                    if count[g] == 0 {
                        (sum[g], scale[g]) = (m[i], s);
                    } else if scale[g] == s {
                        sum[g] = sum[g]
                            .checked_add(m[i])
                            .filter(|v| v.unsigned_abs() < NUMERIC_LIMIT as u128)
                            .ok_or_else(numeric_overflow)?;
                    } else {
                        let r = Numeric::new(sum[g], scale[g]).checked_add(n.numeric(i))?;
                        (sum[g], scale[g]) = (r.mantissa(), r.scale());
                    }
                    count[g] += 1;
                }
            }
            (Acc::Extreme { max, best }, Some(a)) => {
                for (i, &g) in gids.iter().enumerate() {
                    if valid(i) {
                        offer(&mut best[g as usize], *max, || a.value(i));
                    }
                }
            }
            _ => return Err(kind_error()),
        }
        Ok(())
    }

    /// Fold group `from` of `other` into group `to` of this state.
    fn merge(&mut self, to: usize, other: &Acc, from: usize) -> Result<(), EngineError> {
        match (self, other) {
            (Acc::Count(a), Acc::Count(b)) => a[to] += b[from],
            (Acc::Int { sum, count }, Acc::Int { sum: s2, count: c2 }) => {
                sum[to] += s2[from];
                count[to] += c2[from];
            }
            (
                Acc::Float {
                    sum,
                    count,
                    nonfinite,
                },
                Acc::Float {
                    sum: s2,
                    count: c2,
                    nonfinite: n2,
                },
            ) => {
                sum[to] += s2[from];
                count[to] += c2[from];
                nonfinite[to] |= n2[from];
            }
            (
                Acc::Numeric { sum, scale, count },
                Acc::Numeric {
                    sum: s2,
                    scale: sc2,
                    count: c2,
                },
            ) => {
                if c2[from] > 0 {
                    if count[to] == 0 {
                        (sum[to], scale[to]) = (s2[from], sc2[from]);
                    } else {
                        let r = Numeric::new(sum[to], scale[to])
                            .checked_add(Numeric::new(s2[from], sc2[from]))?;
                        (sum[to], scale[to]) = (r.mantissa(), r.scale());
                    }
                    count[to] += c2[from];
                }
            }
            (Acc::Extreme { max, best }, Acc::Extreme { best: b2, .. }) => {
                if !b2[from].is_null() {
                    offer(&mut best[to], *max, || b2[from].clone());
                }
            }
            _ => return Err(kind_error()),
        }
        Ok(())
    }

    /// The result for group `g`, as `aggregate::finish` computes it.
    fn finish(&self, g: usize, call: &AggCall) -> Result<Value, EngineError> {
        let avg = call.func == AggFunc::Avg;
        Ok(match self {
            Acc::Count(c) => Value::Int64(c[g]),
            Acc::Int { count, .. } | Acc::Numeric { count, .. } | Acc::Float { count, .. }
                if count[g] == 0 =>
            {
                Value::Null
            }
            Acc::Int { sum, count } => {
                let sum = sum[g];
                let exact = || -> Result<Numeric, EngineError> {
                    if sum.unsigned_abs() >= NUMERIC_LIMIT as u128 {
                        return Err(EngineError::Type(TypeError::OutOfRange(
                            "numeric field overflow".into(),
                        )));
                    }
                    Ok(Numeric::new(sum, 0))
                };
                match (avg, call.ty) {
                    (true, _) => numeric_avg(exact()?, count[g])?,
                    (false, DataType::Int64) => Value::Int64(
                        i64::try_from(sum)
                            .map_err(|_| TypeError::OutOfRange("bigint out of range".into()))?,
                    ),
                    (false, _) => Value::Numeric(exact()?),
                }
            }
            Acc::Numeric { sum, scale, count } => {
                let n = Numeric::new(sum[g], scale[g]);
                if avg {
                    numeric_avg(n, count[g])?
                } else {
                    Value::Numeric(n)
                }
            }
            Acc::Float {
                sum,
                count,
                nonfinite,
            } => {
                if sum[g].is_infinite() && !nonfinite[g] {
                    return Err(EngineError::Type(TypeError::OutOfRange(
                        "value out of range: overflow".into(),
                    )));
                }
                if avg {
                    Value::Float64(sum[g] / count[g] as f64)
                } else if call.ty == DataType::Float32 {
                    Value::Float32(sum[g] as f32)
                } else {
                    Value::Float64(sum[g])
                }
            }
            Acc::Extreme { best, .. } => best[g].clone(),
        })
    }
}

/// Replace `best` with the candidate if it is strictly better (first wins among equals).
fn offer(best: &mut Value, max: bool, candidate: impl FnOnce() -> Value) {
    let v = candidate();
    let replace = best.is_null()
        || match compare(&v, best).unwrap_or(Ordering::Equal) {
            Ordering::Less => !max,
            Ordering::Greater => max,
            Ordering::Equal => false,
        };
    if replace {
        *best = v;
    }
}

fn kind_error() -> EngineError {
    EngineError::Internal("aggregate input of unexpected vector kind".into())
}

/// Groups and their accumulators: a shard's partial result or the coordinator's merged one.
#[derive(Debug)]
pub struct AggState {
    hasher: DefaultHashBuilder,
    table: HashTable<u32>,
    hashes: Vec<u64>,
    /// Encoded group keys, group after group.
    key_bytes: Vec<u8>,
    key_offsets: Vec<usize>,
    /// The group values as first seen, `groups.len()` per group.
    key_values: Vec<Value>,
    accs: Vec<Acc>,
    width: usize,
    /// Groups already charged to the statement's memory budget.
    charged_groups: usize,
}

/// Bytes per group besides its key and values: hash, key offset, table slot, and a guess of
/// eight bytes of accumulator state per aggregate.
const GROUP_OVERHEAD: usize = size_of::<u64>() + size_of::<usize>() + size_of::<u32>();
const ACC_BYTES_PER_GROUP: usize = 8;

impl AggState {
    /// Charge the groups created since the last charge, once enough have piled up; each is
    /// sized like the newest one.
    pub fn charge_groups(&mut self, budget: &MemoryBudget) -> Result<(), EngineError> {
        let groups = self.groups();
        if groups < self.charged_groups + CHARGE_EVERY_ROWS {
            return Ok(());
        }
        let last = groups - 1;
        let values = &self.key_values[last * self.width..];
        let group = self.key(last).len()
            + row_bytes(values)
            + GROUP_OVERHEAD
            + ACC_BYTES_PER_GROUP * self.accs.len();
        budget.charge(group * (groups - self.charged_groups))?;
        self.charged_groups = groups;
        Ok(())
    }

    pub fn new(spec: &AggSpec) -> AggState {
        AggState {
            hasher: DefaultHashBuilder::default(),
            table: HashTable::new(),
            hashes: Vec::new(),
            key_bytes: Vec::new(),
            key_offsets: vec![0],
            key_values: Vec::new(),
            accs: spec.aggs.iter().map(Acc::new).collect(),
            width: spec.groups.len(),
            charged_groups: 0,
        }
    }

    fn groups(&self) -> usize {
        self.hashes.len()
    }

    fn key(&self, g: usize) -> &[u8] {
        &self.key_bytes[self.key_offsets[g]..self.key_offsets[g + 1]]
    }

    /// The group of `key` (hash `h`), created with `values` if new.
    fn group_of(&mut self, key: &[u8], h: u64, values: impl FnOnce() -> Vec<Value>) -> u32 {
        let (bytes, offsets) = (&self.key_bytes, &self.key_offsets);
        let found = self
            .table
            .find(h, |&g| {
                &bytes[offsets[g as usize]..offsets[g as usize + 1]] == key
            })
            .copied();
        if let Some(g) = found {
            return g;
        }
        let g = self.hashes.len() as u32;
        let hashes = &self.hashes;
        self.table.insert_unique(h, g, |&x| hashes[x as usize]);
        self.hashes.push(h);
        self.key_bytes.extend_from_slice(key);
        self.key_offsets.push(self.key_bytes.len());
        self.key_values.extend(values());
        g
    }

    /// Fold one input batch in.
    pub fn update(
        &mut self,
        spec: &AggSpec,
        batch: &Batch,
        env: &EvalEnv,
        gids: &mut Vec<u32>,
    ) -> Result<(), EngineError> {
        let len = batch.len;
        let group_vectors = spec
            .groups
            .iter()
            .map(|g| expr::eval(g, batch, env))
            .collect::<Result<Vec<_>, _>>()?;
        gids.clear();
        if group_vectors.is_empty() {
            if self.groups() == 0 {
                self.group_of(&[], 0, Vec::new);
            }
            gids.resize(len, 0);
        } else {
            let cols: Vec<&Vector> = group_vectors.iter().collect();
            let keys: Keys = keys::encode(&cols, &vec![Order::default(); cols.len()], len);
            for i in 0..len {
                let key = keys.get(i);
                let h = self.hasher.hash_one(key);
                gids.push(self.group_of(key, h, || cols.iter().map(|c| c.value(i)).collect()));
            }
        }
        let groups = self.groups();
        for (acc, call) in self.accs.iter_mut().zip(&spec.aggs) {
            acc.grow(groups);
            let arg = call
                .arg
                .as_ref()
                .map(|a| expr::eval(a, batch, env))
                .transpose()?;
            acc.update(gids, arg.as_ref())?;
        }
        Ok(())
    }

    /// Fold another state (another shard's partial result) in.
    pub fn merge(&mut self, other: AggState) -> Result<(), EngineError> {
        let mut map = Vec::with_capacity(other.groups());
        for g in 0..other.groups() {
            let key = other.key(g);
            let values = &other.key_values[g * other.width..(g + 1) * other.width];
            // Each state hashes with its own random seed: rehash with this one's.
            let h = self.hasher.hash_one(key);
            map.push(self.group_of(key, h, || values.to_vec()));
        }
        let groups = self.groups();
        for (acc, theirs) in self.accs.iter_mut().zip(&other.accs) {
            acc.grow(groups);
            for (from, &to) in map.iter().enumerate() {
                acc.merge(to as usize, theirs, from)?;
            }
        }
        Ok(())
    }

    /// One row per group: the group values, then the aggregates. Without GROUP BY there is
    /// always exactly one row.
    pub fn finish(mut self, spec: &AggSpec) -> Result<Vec<Vec<Value>>, EngineError> {
        if self.groups() == 0 && spec.groups.is_empty() {
            self.group_of(&[], 0, Vec::new);
        }
        let groups = self.groups();
        for acc in &mut self.accs {
            acc.grow(groups);
        }
        let mut rows = Vec::with_capacity(groups);
        for g in 0..groups {
            let mut row = self.key_values[g * self.width..(g + 1) * self.width].to_vec();
            for (acc, call) in self.accs.iter().zip(&spec.aggs) {
                row.push(acc.finish(g, call)?);
            }
            rows.push(row);
        }
        Ok(rows)
    }
}
