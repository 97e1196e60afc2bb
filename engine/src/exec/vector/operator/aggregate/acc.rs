//! Accumulators: one aggregate's state for every group, kept column-wise (a vector per field,
//! indexed by group id), folded in batch by batch and finished with the row executor's result
//! rules (`aggregate::finish`: sum of int8 is numeric, avg of integers and numerics is
//! `numeric_avg`, empty groups are NULL).
//!
//! Each update dispatches once per batch on the argument's vector kind and validity, so the
//! per-row loops are monomorphic and test no NULLs where the batch has none.

use super::rows::Rows;
use crate::EngineError;
use crate::exec::eval::numeric_avg;
use crate::exec::ops::compare;
use crate::exec::vector::data::{NumericVector, Scale, Vector, nulls_from_valid};
use crate::exec::vector::expr::same::same;
use arrow_array::Int64Array;
use arrow_buffer::NullBuffer;
use arrow_buffer::ScalarBuffer;
use omendb_planner::{AggCall, AggFunc, Expr};
use omendb_storage::types::{DataType, Numeric, TypeError, Value};
use std::cmp::Ordering;

const NUMERIC_LIMIT: i128 = crate::exec::vector::kernels::arith::NUMERIC_LIMIT;

/// Numeric results past 38 digits: the row executor's error.
fn numeric_overflow() -> EngineError {
    EngineError::Type(TypeError::OutOfRange(
        "value overflows numeric format".into(),
    ))
}

fn kind_error() -> EngineError {
    EngineError::Internal("aggregate input of unexpected vector kind".into())
}

/// One aggregate's state for every group.
#[derive(Debug)]
pub enum Acc {
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
    pub fn new(call: &AggCall) -> Acc {
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

    /// Whether two calls keep the same state: `sum(x)` and `avg(x)` (a sum and a count), or
    /// the same call twice.
    pub fn shares_state(a: &AggCall, b: &AggCall) -> bool {
        let role = |c: &AggCall| match c.func {
            AggFunc::Sum | AggFunc::Avg => Some(AggFunc::Sum),
            f @ (AggFunc::Count | AggFunc::CountStar | AggFunc::Min | AggFunc::Max) => Some(f),
            _ => None,
        };
        let same_arg = match (&a.arg, &b.arg) {
            (None, None) => true,
            (Some(x), Some(y)) => same(x, y),
            _ => false,
        };
        role(a).is_some() && role(a) == role(b) && same_arg
    }

    /// Room for group ids below `groups`.
    pub fn grow(&mut self, groups: usize) {
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

    /// Fold rows in: the `k`-th of `rows` belongs to group `gids[k]`.
    pub fn update<R: Rows>(
        &mut self,
        gids: &[u32],
        arg: Option<&Vector>,
        rows: R,
    ) -> Result<(), EngineError> {
        debug_assert_eq!(gids.len(), rows.count());
        let Some(a) = arg else {
            return match self {
                Acc::Count(c) => {
                    gids.iter().for_each(|&g| c[g as usize] += 1);
                    Ok(())
                }
                _ => Err(kind_error()),
            };
        };
        let nulls = a.nulls();
        match self {
            Acc::Count(c) => {
                match nulls {
                    None => gids.iter().for_each(|&g| c[g as usize] += 1),
                    Some(n) => {
                        for (k, &g) in gids.iter().enumerate() {
                            c[g as usize] += i64::from(n.is_valid(rows.at(k)));
                        }
                    }
                }
                Ok(())
            }
            Acc::Int { sum, count } => {
                macro_rules! ints {
                    ($v:expr) => {
                        fold(gids, rows, nulls, $v.values(), |g, x| {
                            sum[g] += i128::from(x);
                            count[g] += 1;
                        })
                    };
                }
                match a {
                    Vector::Int16(v) => ints!(v),
                    Vector::Int32(v) => ints!(v),
                    Vector::Int64(v) => ints!(v),
                    _ => return Err(kind_error()),
                }
                Ok(())
            }
            Acc::Float {
                sum,
                count,
                nonfinite,
            } => {
                let mut add = |g: usize, x: f64| {
                    sum[g] += x;
                    count[g] += 1;
                    nonfinite[g] |= !x.is_finite();
                };
                match a {
                    Vector::Float32(v) => {
                        fold(gids, rows, nulls, v.values(), |g, x| add(g, f64::from(x)))
                    }
                    Vector::Float64(v) => fold(gids, rows, nulls, v.values(), add),
                    _ => return Err(kind_error()),
                }
                Ok(())
            }
            Acc::Numeric { sum, scale, count } => {
                let Vector::Numeric(n) = a else {
                    return Err(kind_error());
                };
                numeric_update(sum, scale, count, gids, rows, nulls, n)
            }
            Acc::Extreme { max, best } => {
                for (k, &g) in gids.iter().enumerate() {
                    let i = rows.at(k);
                    if nulls.is_none_or(|n| n.is_valid(i)) {
                        offer(&mut best[g as usize], *max, || a.value(i));
                    }
                }
                Ok(())
            }
        }
    }

    /// Fold group `from` of `other` into group `to` of this state.
    pub fn merge(&mut self, to: usize, other: &Acc, from: usize) -> Result<(), EngineError> {
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

    /// The results for the first `groups` groups as one vector, without a `Value` per group
    /// where the result is a count or a sum of one scale; `None` for the others.
    pub fn finish_fast(
        &self,
        call: &AggCall,
        groups: usize,
    ) -> Result<Option<Vector>, EngineError> {
        let nonempty = |count: &[i64]| {
            nulls_from_valid(&count[..groups].iter().map(|&c| c > 0).collect::<Vec<_>>())
        };
        Ok(Some(match (self, call.func) {
            (Acc::Count(c), _) => Vector::Int64(Int64Array::new(
                ScalarBuffer::from(c[..groups].to_vec()),
                None,
            )),
            (Acc::Numeric { sum, scale, count }, AggFunc::Sum) => {
                let valid = |g: usize| count[g] > 0;
                let mut scales = (0..groups).filter(|&g| valid(g)).map(|g| scale[g]);
                let first = scales.next().unwrap_or(0);
                if !scales.all(|s| s == first) {
                    return Ok(None);
                }
                Vector::Numeric(NumericVector::new(
                    sum[..groups].to_vec(),
                    nonempty(count),
                    Scale::Uniform(first),
                )?)
            }
            _ => return Ok(None),
        }))
    }

    /// The result for group `g`, as `aggregate::finish` computes it.
    pub fn finish(&self, g: usize, call: &AggCall) -> Result<Value, EngineError> {
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

/// `add(group, value)` for every valid one of `rows`; the NULL test only when there are NULLs.
#[inline(always)]
fn fold<T: Copy, R: Rows>(
    gids: &[u32],
    rows: R,
    nulls: Option<&NullBuffer>,
    values: &[T],
    mut add: impl FnMut(usize, T),
) {
    match nulls {
        None => {
            for (k, &g) in gids.iter().enumerate() {
                add(g as usize, values[rows.at(k)]);
            }
        }
        Some(n) => {
            for (k, &g) in gids.iter().enumerate() {
                let i = rows.at(k);
                if n.is_valid(i) {
                    add(g as usize, values[i]);
                }
            }
        }
    }
}

/// Numeric sums: mantissas of one scale add as integers (checked against 38 digits, as
/// `Numeric::checked_add`); a group's first value or a value of another scale goes through
/// [`numeric_add_slow`]. An overflow is reported after the batch (the state is then discarded
/// with the statement).
/// Groups an aggregate may have for its numeric sums to be checked against the limit per batch
/// instead of per row.
const FEW_GROUPS: usize = 16;

fn numeric_update<R: Rows>(
    sum: &mut [i128],
    scale: &mut [u8],
    count: &mut [i64],
    gids: &[u32],
    rows: R,
    nulls: Option<&NullBuffer>,
    n: &NumericVector,
) -> Result<(), EngineError> {
    let m = n.mantissas();
    let mut overflow = false;
    // The common case inline (a macro, not a closure: it stays in the loop).
    macro_rules! add {
        ($g:expr, $x:expr, $s:expr) => {{
            let (g, x, s) = ($g as usize, $x, $s);
            if scale[g] == s && count[g] != 0 {
                let (v, o) = sum[g].overflowing_add(x);
                overflow |= o | (v.unsigned_abs() >= NUMERIC_LIMIT as u128);
                sum[g] = v;
                count[g] += 1;
            } else {
                numeric_add_slow(&mut sum[g], &mut scale[g], &mut count[g], x, s)?;
            }
        }};
    }
    match (&n.scale, nulls) {
        // Few groups (Q1's four): the limit is checked on the sums once the batch is in, not
        // after every row, where the 128-bit compare was ~40% of the aggregate's time. An
        // intermediate sum past the limit is fine (PostgreSQL's numeric has no such limit);
        // the 128-bit wrap is still caught on every add, and a sum left past it is an error.
        (Scale::Uniform(s), None) if sum.len() <= FEW_GROUPS => {
            let s = *s;
            let mut wrapped = false;
            for (k, &g) in gids.iter().enumerate() {
                let (g, x) = (g as usize, m[rows.at(k)]);
                if scale[g] == s && count[g] != 0 {
                    let (v, o) = sum[g].overflowing_add(x);
                    wrapped |= o;
                    sum[g] = v;
                    count[g] += 1;
                } else {
                    numeric_add_slow(&mut sum[g], &mut scale[g], &mut count[g], x, s)?;
                }
            }
            overflow = wrapped
                || sum
                    .iter()
                    .any(|v| v.unsigned_abs() >= NUMERIC_LIMIT as u128);
        }
        (Scale::Uniform(s), None) => {
            for (k, &g) in gids.iter().enumerate() {
                add!(g, m[rows.at(k)], *s);
            }
        }
        _ => {
            for (k, &g) in gids.iter().enumerate() {
                let i = rows.at(k);
                if nulls.is_none_or(|n| n.is_valid(i)) {
                    add!(g, m[i], n.scale_at(i));
                }
            }
        }
    }
    if overflow {
        return Err(numeric_overflow());
    }
    Ok(())
}

/// A group's first value, or one whose scale differs from the group's sum.
#[cold]
#[inline(never)]
fn numeric_add_slow(
    sum: &mut i128,
    scale: &mut u8,
    count: &mut i64,
    x: i128,
    s: u8,
) -> Result<(), EngineError> {
    if *count == 0 {
        (*sum, *scale) = (x, s);
    } else {
        let r = Numeric::new(*sum, *scale).checked_add(Numeric::new(x, s))?;
        (*sum, *scale) = (r.mantissa(), r.scale());
    }
    *count += 1;
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::super::rows::All;
    use super::*;
    use crate::exec::vector::data::Scale;

    /// Sums of `values` (one batch, row `i` in group `gids[i]`) over `groups` groups.
    fn sums(groups: usize, gids: &[u32], values: &[i128]) -> Result<Vec<i128>, EngineError> {
        let mut sum = vec![0i128; groups];
        let mut scale = vec![0u8; groups];
        let mut count = vec![0i64; groups];
        let n = NumericVector::new(values.to_vec(), None, Scale::Uniform(2))?;
        numeric_update(
            &mut sum,
            &mut scale,
            &mut count,
            gids,
            All(values.len()),
            None,
            &n,
        )?;
        Ok(sum)
    }

    #[test]
    fn numeric_sums_fail_past_the_limit_with_few_groups_and_with_many() {
        let big = NUMERIC_LIMIT / 10 * 6; // 0.6 of the limit
        for groups in [2, FEW_GROUPS + 1] {
            // Past the limit at the end of the batch: an error.
            let err = sums(groups, &[0, 1, 0], &[big, 5, big]).unwrap_err();
            assert_eq!(err.sqlstate(), "22003", "{groups}: {err:?}");
            // Past the 128-bit range within the batch: an error too.
            let err = sums(groups, &[0, 0, 0], &[big, big, big]).unwrap_err();
            assert_eq!(err.sqlstate(), "22003", "{groups}: {err:?}");
            // Within it: exact sums.
            assert_eq!(
                sums(groups, &[0, 1, 0, 1], &[big, 7, -big, -3]).unwrap()[..2],
                [0, 4]
            );
        }
        // With few groups the limit holds for what a batch leaves, as PostgreSQL (no such
        // limit) would have it; per row with many.
        assert_eq!(sums(2, &[0, 0, 0], &[big, big, -big]).unwrap()[0], big);
        assert!(sums(FEW_GROUPS + 1, &[0, 0, 0], &[big, big, -big]).is_err());
    }
}
