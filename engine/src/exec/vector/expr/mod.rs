//! Evaluating bound expressions over a batch.
//!
//! Children are evaluated first, eagerly, on every row of the batch (also the branches of CASE
//! and both sides of AND/OR): this computes a superset of what the row executor computes, so a
//! statement that fails there fails here too, and one that fails only here (a branch the row
//! executor would have skipped) re-runs on the row executor (see `vector::run`). Expressions
//! without column references are evaluated once per batch by the row evaluator and enter the
//! kernels as constants. A node with no kernel for its operand types is evaluated row by row
//! through the row evaluator over the already-evaluated children ("bridge"), so every result
//! is the row executor's by construction.

mod arith;
mod cast;
mod compare;
mod extract;
mod like;
mod logic;
pub mod same;
pub(crate) mod side;
mod text;

use super::build::VectorBuilder;
use super::data::{Batch, Kind, Vector};
use crate::EngineError;
use crate::exec::eval::{EvalEnv, eval as row_eval};
use arrow_array::Array;
use omendb_planner::{BinOp, Expr, Func, UnaryOp};
use omendb_storage::types::{DataType, Value};

/// An evaluated child: a vector, or one value for every row.
#[derive(Debug, Clone)]
pub enum Operand {
    Vector(Vector),
    Scalar(Value),
}

impl Operand {
    pub fn value(&self, i: usize) -> Value {
        match self {
            Operand::Vector(v) => v.value(i),
            Operand::Scalar(s) => s.clone(),
        }
    }

    /// As a vector of `len` rows of `kind`.
    pub fn into_vector(self, kind: Kind, len: usize) -> Result<Vector, EngineError> {
        match self {
            Operand::Vector(v) => Ok(v),
            Operand::Scalar(s) => Vector::constant(&s, kind, len),
        }
    }
}

fn has_subquery(e: &Expr) -> bool {
    let mut found = false;
    e.walk(&mut |x| {
        if matches!(
            x,
            Expr::ScalarSubquery { .. } | Expr::InSubquery { .. } | Expr::Exists { .. }
        ) {
            found = true;
        }
    });
    found
}

/// Evaluated once per batch, by the row evaluator.
fn is_constant(e: &Expr) -> bool {
    e.is_row_independent() && !has_subquery(e)
}

/// Whether `e` can be evaluated to a vector over a batch.
pub fn supported(e: &Expr) -> bool {
    Kind::of(e.ty()).is_some() && operand_supported(e)
}

/// Whether `e` can be evaluated as an operand (a constant of any type, or a vector).
fn operand_supported(e: &Expr) -> bool {
    if has_subquery(e) {
        return false;
    }
    if is_constant(e) {
        return true;
    }
    match e {
        Expr::Column { ty, .. } => Kind::of(*ty).is_some(),
        Expr::Call { func, .. } if func.is_volatile() => false,
        _ => Kind::of(e.ty()).is_some() && children(e).into_iter().all(operand_supported),
    }
}

/// The direct children of a node, in a fixed order.
fn children(e: &Expr) -> Vec<&Expr> {
    let mut out = Vec::new();
    e.for_each_child(&mut |c| out.push(c));
    out
}

/// The same node over a row whose column `k` is its child `k`.
fn over_children(e: &Expr) -> Expr {
    let mut node = e.clone();
    let mut k = 0;
    let mut next = |child: &mut Expr| {
        *child = Expr::Column {
            index: k,
            ty: child.ty(),
        };
        k += 1;
    };
    // Children in the planner's visiting order, the same order `children` lists them in.
    node.for_each_child_mut(&mut next);
    node
}

/// `e` over every row of `batch`, as a vector.
pub fn eval(e: &Expr, batch: &Batch, env: &EvalEnv) -> Result<Vector, EngineError> {
    let kind = Kind::of(e.ty())
        .ok_or_else(|| EngineError::Internal(format!("no vector kind for {}", e.ty())))?;
    eval_operand(e, batch, env)?.into_vector(kind, batch.len)
}

/// `e` over every row of `batch`: a constant stays one value.
pub fn eval_operand(e: &Expr, batch: &Batch, env: &EvalEnv) -> Result<Operand, EngineError> {
    if let Some(leaf) = leaf(e, batch, env)? {
        return Ok(leaf);
    }
    let ops = children(e)
        .into_iter()
        .map(|c| eval_operand(c, batch, env))
        .collect::<Result<Vec<_>, _>>()?;
    apply(e, &ops, batch.len, env)
}

/// A constant or a column: no children to evaluate.
fn leaf(e: &Expr, batch: &Batch, env: &EvalEnv) -> Result<Option<Operand>, EngineError> {
    if is_constant(e) {
        return Ok(Some(Operand::Scalar(row_eval(e, &[], env)?)));
    }
    if let Expr::Column { index, .. } = e {
        return match batch.columns.get(*index) {
            Some(Vector::Absent(_)) | None => Err(EngineError::Internal(format!(
                "column {index} not materialised in the batch"
            ))),
            Some(v) => Ok(Some(Operand::Vector(v.clone()))),
        };
    }
    Ok(None)
}

/// Several expressions over one batch, each distinct subexpression evaluated once (Q1 sums
/// `price * (1 - discount)` alone and inside `price * (1 - discount) * (1 + tax)`).
pub fn eval_shared(
    exprs: &[&Expr],
    batch: &Batch,
    env: &EvalEnv,
) -> Result<Vec<Vector>, EngineError> {
    let mut memo: Vec<(&Expr, Operand)> = Vec::new();
    exprs
        .iter()
        .map(|e| {
            let kind = Kind::of(e.ty())
                .ok_or_else(|| EngineError::Internal(format!("no vector kind for {}", e.ty())))?;
            eval_memo(e, batch, env, &mut memo)?.into_vector(kind, batch.len)
        })
        .collect()
}

fn eval_memo<'e>(
    e: &'e Expr,
    batch: &Batch,
    env: &EvalEnv,
    memo: &mut Vec<(&'e Expr, Operand)>,
) -> Result<Operand, EngineError> {
    if let Some(leaf) = leaf(e, batch, env)? {
        return Ok(leaf);
    }
    if let Some((_, done)) = memo.iter().find(|(m, _)| same::same(m, e)) {
        return Ok(done.clone());
    }
    let ops = children(e)
        .into_iter()
        .map(|c| eval_memo(c, batch, env, memo))
        .collect::<Result<Vec<_>, _>>()?;
    let out = apply(e, &ops, batch.len, env)?;
    memo.push((e, out.clone()));
    Ok(out)
}

/// Node `e` over its evaluated children: a kernel where one applies, else the bridge.
fn apply(e: &Expr, ops: &[Operand], len: usize, env: &EvalEnv) -> Result<Operand, EngineError> {
    let fast = match e {
        Expr::Binary {
            op: BinOp::And | BinOp::Or,
            ..
        }
        | Expr::Unary {
            op: UnaryOp::Not, ..
        }
        | Expr::IsNull { .. }
        | Expr::IsBool { .. } => logic::kernel(e, ops, len)?,
        Expr::Binary { op, left, .. } if op.is_comparison() => {
            compare::kernel(*op, left.ty(), &ops[0], &ops[1], len)?
        }
        Expr::InList { expr, negated, .. } => logic::in_list(expr.ty(), ops, *negated, len)?,
        Expr::Binary {
            op,
            left,
            right,
            ty,
            ..
        } => arith::kernel(*op, (left.ty(), right.ty(), *ty), &ops[0], &ops[1], len)?,
        Expr::Unary {
            op: UnaryOp::Neg,
            ty,
            ..
        } => arith::negate(*ty, &ops[0], len)?,
        Expr::Like {
            negated,
            case_insensitive: false,
            ..
        } => like::kernel(&ops[0], &ops[1], *negated, len)?,
        Expr::Case {
            operand: None, ty, ..
        } => logic::case(*ty, ops, len)?,
        Expr::Cast { expr, ty }
            if matches!(expr.ty(), DataType::Char(_)) && *ty == DataType::Text =>
        {
            text::char_to_text(&ops[0])
        }
        Expr::Cast { expr, ty } => cast::kernel(expr.ty(), *ty, &ops[0], len)?,
        Expr::Call {
            func: Func::Substring,
            ..
        } => text::substring(ops)?,
        Expr::Call {
            func: Func::Extract,
            ..
        } => extract::date(ops)?,
        _ => None,
    };
    match fast {
        Some(v) => Ok(Operand::Vector(v)),
        None => bridge(e, ops, len, env).map(Operand::Vector),
    }
}

/// Row by row through the row evaluator, over the evaluated children.
fn bridge(e: &Expr, ops: &[Operand], len: usize, env: &EvalEnv) -> Result<Vector, EngineError> {
    let kind = Kind::of(e.ty())
        .ok_or_else(|| EngineError::Internal(format!("no vector kind for {}", e.ty())))?;
    let node = over_children(e);
    let mut b = VectorBuilder::new(kind, len);
    let mut row = Vec::with_capacity(ops.len());
    for i in 0..len {
        row.clear();
        row.extend(ops.iter().map(|o| o.value(i)));
        b.push(&row_eval(&node, &row, env)?)?;
    }
    b.finish()
}

/// A predicate's rows that are TRUE (NULL counts as false), as a selection vector.
pub fn select(
    e: &Expr,
    batch: &Batch,
    env: &EvalEnv,
    out: &mut Vec<u32>,
) -> Result<(), EngineError> {
    match eval_operand(e, batch, env)? {
        Operand::Scalar(Value::Bool(true)) => {
            out.clear();
            out.extend(0..batch.len as u32);
        }
        Operand::Scalar(_) => out.clear(),
        Operand::Vector(Vector::Bool(a)) => {
            let mask = match a.nulls() {
                Some(n) => a.values() & n.inner(),
                None => a.values().clone(),
            };
            super::kernels::select::selection(&mask, out);
        }
        Operand::Vector(_) => {
            return Err(EngineError::Internal(
                "predicate is not a boolean vector".into(),
            ));
        }
    }
    Ok(())
}

/// A NULL of `kind` in every row.
pub fn all_null(kind: Kind, len: usize) -> Result<Vector, EngineError> {
    Vector::constant(&Value::Null, kind, len)
}

/// Whether `v`'s variant is what a vector of `kind` holds (NULL fits every kind).
pub fn value_fits(v: &Value, kind: Kind) -> bool {
    matches!(
        (v, kind),
        (Value::Null, _)
            | (Value::Bool(_), Kind::Bool)
            | (Value::Int16(_), Kind::Int16)
            | (Value::Int32(_), Kind::Int32)
            | (Value::Int64(_), Kind::Int64)
            | (Value::Float32(_), Kind::Float32)
            | (Value::Float64(_), Kind::Float64)
            | (Value::Numeric(_), Kind::Numeric)
            | (Value::Text(_), Kind::Text)
            | (Value::Date(_), Kind::Date)
            | (Value::Timestamp(_), Kind::Timestamp)
            | (Value::TimestampTz(_), Kind::TimestampTz)
    )
}

/// The kind of a vector's variant.
pub fn kind_of(v: &Vector) -> Option<Kind> {
    Some(match v {
        Vector::Bool(_) => Kind::Bool,
        Vector::Int16(_) => Kind::Int16,
        Vector::Int32(_) => Kind::Int32,
        Vector::Int64(_) => Kind::Int64,
        Vector::Float32(_) => Kind::Float32,
        Vector::Float64(_) => Kind::Float64,
        Vector::Numeric(_) => Kind::Numeric,
        Vector::Text(_) => Kind::Text,
        Vector::Date(_) => Kind::Date,
        Vector::Timestamp(_) => Kind::Timestamp,
        Vector::TimestampTz(_) => Kind::TimestampTz,
        Vector::Absent(_) => return None,
    })
}

/// Whether an operand holds values of `kind`.
pub fn operand_fits(o: &Operand, kind: Kind) -> bool {
    match o {
        Operand::Vector(v) => kind_of(v) == Some(kind),
        Operand::Scalar(s) => value_fits(s, kind),
    }
}
