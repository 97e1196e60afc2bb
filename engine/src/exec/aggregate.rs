//! Hash aggregation: groups keyed by the memcomparable encoding of their values.

use super::Row;
use super::eval::{EvalEnv, eval, numeric_avg};
use super::memory::{CHARGE_EVERY_ROWS, row_bytes};
use super::ops::compare;
use super::sort::compare_keys;
use crate::EngineError;
use hashbrown::{HashMap, HashSet};
use omendb_planner::{AggCall, AggFunc, Expr};
use omendb_storage::row::key::encode_value;
use omendb_storage::types::{DataType, Interval, Numeric, TypeError, Value};
use std::cmp::Ordering;

/// One aggregate's running state.
enum Acc {
    Count(i64),
    /// Integer sums and averages: exact in i128.
    Int {
        sum: i128,
        count: i64,
    },
    Numeric {
        sum: Option<Numeric>,
        count: i64,
    },
    Float {
        sum: f64,
        count: i64,
    },
    Interval {
        sum: Option<Interval>,
        count: i64,
    },
    Extreme(Option<Value>),
    Bool(Option<bool>),
    Strings(Option<String>),
}

struct GroupState {
    key_values: Row,
    accs: Vec<Acc>,
    /// Per DISTINCT aggregate: the encoded arguments seen.
    seen: Vec<HashSet<Vec<u8>>>,
    /// Per aggregate (when any has an ORDER BY; else empty): the inputs of an ordered
    /// aggregate in arrival order, sorted and fed to its accumulator when the group finishes.
    pending: Vec<Vec<Pending>>,
}

/// One input of an aggregate with ORDER BY, held until its group finishes.
struct Pending {
    keys: Vec<Value>,
    arg: Value,
    extra: Option<Value>,
}

impl GroupState {
    fn new(key_values: Row, aggs: &[AggCall]) -> GroupState {
        let distinct = aggs.iter().filter(|a| a.distinct).count();
        let ordered = aggs.iter().any(|a| !a.order_by.is_empty());
        GroupState {
            key_values,
            accs: aggs.iter().map(new_acc).collect(),
            seen: (0..distinct).map(|_| HashSet::new()).collect(),
            pending: if ordered {
                aggs.iter().map(|_| Vec::new()).collect()
            } else {
                Vec::new()
            },
        }
    }

    /// The group's output row: its key values, then every aggregate's result.
    fn finish(mut self, aggs: &[AggCall]) -> Result<Row, EngineError> {
        let mut out = self.key_values;
        for (i, (mut acc, call)) in self.accs.into_iter().zip(aggs).enumerate() {
            if let Some(inputs) = self.pending.get_mut(i) {
                let mut inputs = std::mem::take(inputs);
                // Stable: inputs with equal keys keep their arrival order, one of the orders
                // PostgreSQL (whose sort is not stable) may produce.
                inputs.sort_by(|a, b| compare_keys(&a.keys, &b.keys, &call.order_by));
                for p in inputs {
                    update(&mut acc, call.func, p.arg, p.extra)?;
                }
            }
            out.push(finish(acc, call)?);
        }
        Ok(out)
    }
}

fn new_acc(call: &AggCall) -> Acc {
    let arg_ty = call.arg.as_ref().map(Expr::ty);
    match (call.func, arg_ty) {
        (AggFunc::CountStar | AggFunc::Count, _) => Acc::Count(0),
        (
            AggFunc::Sum | AggFunc::Avg,
            Some(DataType::Int16 | DataType::Int32 | DataType::Int64),
        ) => Acc::Int { sum: 0, count: 0 },
        (AggFunc::Sum | AggFunc::Avg, Some(DataType::Float32 | DataType::Float64)) => {
            Acc::Float { sum: 0.0, count: 0 }
        }
        (AggFunc::Sum | AggFunc::Avg, Some(DataType::Interval)) => Acc::Interval {
            sum: None,
            count: 0,
        },
        (AggFunc::Sum | AggFunc::Avg, _) => Acc::Numeric {
            sum: None,
            count: 0,
        },
        (AggFunc::Min | AggFunc::Max, _) => Acc::Extreme(None),
        (AggFunc::BoolAnd | AggFunc::BoolOr, _) => Acc::Bool(None),
        (AggFunc::StringAgg, _) => Acc::Strings(None),
    }
}

/// Group `rows` by `groups` and compute `aggs`; output rows are group values then aggregates.
pub fn aggregate(
    rows: Vec<Row>,
    groups: &[Expr],
    aggs: &[AggCall],
    env: &EvalEnv,
) -> Result<Vec<Row>, EngineError> {
    let mut index: HashMap<Vec<u8>, usize> = HashMap::new();
    let mut states: Vec<GroupState> = Vec::new();
    let mut key = Vec::new();
    for row in &rows {
        key.clear();
        let mut key_values = Vec::with_capacity(groups.len());
        for g in groups {
            let v = eval(g, row, env)?;
            encode_value(&v, &mut key);
            key_values.push(v);
        }
        let slot = match index.get(key.as_slice()) {
            Some(&i) => i,
            None => {
                if states.len().is_multiple_of(CHARGE_EVERY_ROWS) {
                    // The next thousand groups, sized like this one: index key, values, state.
                    let group = 2 * key.len() + row_bytes(&key_values) + size_of::<GroupState>();
                    env.memory.charge(group * CHARGE_EVERY_ROWS)?;
                }
                index.insert(key.clone(), states.len());
                states.push(GroupState::new(key_values, aggs));
                states.len() - 1
            }
        };
        accumulate(&mut states[slot], row, aggs, env)?;
    }
    // Without GROUP BY, an empty input still has one (empty) group.
    if states.is_empty() && groups.is_empty() {
        states.push(GroupState::new(Vec::new(), aggs));
    }
    states.into_iter().map(|s| s.finish(aggs)).collect()
}

/// Feed one input row to every aggregate of its group.
fn accumulate(
    state: &mut GroupState,
    row: &Row,
    aggs: &[AggCall],
    env: &EvalEnv,
) -> Result<(), EngineError> {
    let mut distinct_i = 0;
    for (i, call) in aggs.iter().enumerate() {
        let seen = if call.distinct {
            distinct_i += 1;
            state.seen.get_mut(distinct_i - 1)
        } else {
            None
        };
        if let Some(f) = &call.filter
            && !super::eval::eval_predicate(f, row, env)?
        {
            continue;
        }
        let arg = match &call.arg {
            Some(a) => eval(a, row, env)?,
            None => Value::Bool(true),
        };
        let extra = match &call.extra {
            Some(e) => Some(eval(e, row, env)?),
            None => None,
        };
        // DISTINCT covers every argument (string_agg's delimiter too), as in PostgreSQL.
        if let Some(seen) = seen
            && !arg.is_null()
        {
            let mut k = Vec::new();
            encode_value(&arg, &mut k);
            if let Some(e) = &extra {
                encode_value(e, &mut k);
            }
            if !seen.insert(k) {
                continue;
            }
        }
        if call.order_by.is_empty() {
            update(&mut state.accs[i], call.func, arg, extra)?;
            continue;
        }
        let keys = call
            .order_by
            .iter()
            .map(|k| eval(&k.expr, row, env))
            .collect::<Result<Vec<_>, _>>()?;
        // NULL inputs are skipped by every aggregate; their keys were still evaluated so an
        // error in them surfaces as in PostgreSQL.
        if !arg.is_null()
            && let Some(pending) = state.pending.get_mut(i)
        {
            pending.push(Pending { keys, arg, extra });
        }
    }
    Ok(())
}

fn update(acc: &mut Acc, func: AggFunc, v: Value, extra: Option<Value>) -> Result<(), EngineError> {
    if v.is_null() {
        return Ok(());
    }
    match acc {
        Acc::Count(n) => *n += 1,
        Acc::Int { sum, count } => {
            let x = match v {
                Value::Int16(i) => i128::from(i),
                Value::Int32(i) => i128::from(i),
                Value::Int64(i) => i128::from(i),
                other => return Err(type_error(&other)),
            };
            *sum += x;
            *count += 1;
        }
        Acc::Numeric { sum, count } => {
            let Value::Numeric(x) = v else {
                return Err(type_error(&v));
            };
            *sum = Some(match sum {
                Some(s) => s.checked_add(x)?,
                None => x,
            });
            *count += 1;
        }
        Acc::Float { sum, count } => {
            let x = match v {
                Value::Float32(f) => f64::from(f),
                Value::Float64(f) => f,
                other => return Err(type_error(&other)),
            };
            let next = *sum + x;
            // Finite inputs that sum past the largest double are an error, as in PostgreSQL.
            if next.is_infinite() && sum.is_finite() && x.is_finite() {
                return Err(EngineError::Type(TypeError::OutOfRange(
                    "value out of range: overflow".into(),
                )));
            }
            *sum = next;
            *count += 1;
        }
        Acc::Interval { sum, count } => {
            let Value::Interval(x) = v else {
                return Err(type_error(&v));
            };
            *sum = Some(match sum {
                Some(s) => s.checked_add(x)?,
                None => x,
            });
            *count += 1;
        }
        Acc::Extreme(best) => {
            let replace = match best {
                None => true,
                Some(b) => {
                    let o = compare(&v, b).unwrap_or(Ordering::Equal);
                    if func == AggFunc::Min {
                        o == Ordering::Less
                    } else {
                        o == Ordering::Greater
                    }
                }
            };
            if replace {
                *best = Some(v);
            }
        }
        Acc::Bool(state) => {
            let Value::Bool(b) = v else {
                return Err(type_error(&v));
            };
            *state = Some(match (*state, func) {
                (None, _) => b,
                (Some(s), AggFunc::BoolAnd) => s && b,
                (Some(s), _) => s || b,
            });
        }
        Acc::Strings(state) => {
            let Value::Text(s) = v else {
                return Err(type_error(&v));
            };
            match state {
                None => *state = Some(s),
                Some(out) => {
                    if let Some(Value::Text(d)) = &extra {
                        out.push_str(d);
                    }
                    out.push_str(&s);
                }
            }
        }
    }
    Ok(())
}

fn type_error(v: &Value) -> EngineError {
    EngineError::Internal(format!(
        "aggregate input of unexpected type {}",
        v.data_type()
    ))
}

fn finish(acc: Acc, call: &AggCall) -> Result<Value, EngineError> {
    let avg = call.func == AggFunc::Avg;
    Ok(match acc {
        Acc::Count(n) => Value::Int64(n),
        Acc::Int { count: 0, .. }
        | Acc::Numeric { count: 0, .. }
        | Acc::Float { count: 0, .. }
        | Acc::Interval { count: 0, .. } => Value::Null,
        Acc::Int { sum, count } => {
            let exact = || -> Result<Numeric, EngineError> {
                if sum.unsigned_abs() >= 10u128.pow(u32::from(Numeric::MAX_PRECISION)) {
                    return Err(EngineError::Type(TypeError::OutOfRange(
                        "numeric field overflow".into(),
                    )));
                }
                Ok(Numeric::new(sum, 0))
            };
            match (avg, call.ty) {
                (true, _) => numeric_avg(exact()?, count)?,
                (false, DataType::Int64) => Value::Int64(
                    i64::try_from(sum)
                        .map_err(|_| TypeError::OutOfRange("bigint out of range".into()))?,
                ),
                (false, _) => Value::Numeric(exact()?),
            }
        }
        Acc::Numeric {
            sum: Some(s),
            count,
        } if avg => numeric_avg(s, count)?,
        Acc::Numeric { sum, .. } => sum.map_or(Value::Null, Value::Numeric),
        Acc::Float { sum, count } if avg => Value::Float64(sum / count as f64),
        Acc::Float { sum, .. } if call.ty == DataType::Float32 => Value::Float32(sum as f32),
        Acc::Float { sum, .. } => Value::Float64(sum),
        Acc::Interval {
            sum: Some(s),
            count,
        } if avg => Value::Interval(s.checked_div(count as f64)?),
        Acc::Interval { sum, .. } => sum.map_or(Value::Null, Value::Interval),
        Acc::Extreme(v) => v.unwrap_or(Value::Null),
        Acc::Bool(b) => b.map_or(Value::Null, Value::Bool),
        Acc::Strings(s) => s.map_or(Value::Null, Value::Text),
    })
}
