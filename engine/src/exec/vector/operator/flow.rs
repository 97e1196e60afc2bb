//! A fragment's filters and projections over one batch, with late materialisation: a filter
//! that keeps most rows passes a selection vector on instead of gathering every column, and
//! one that keeps few gathers only the columns something after it reads.
//!
//! Carrying a selection means evaluating later expressions over the rows it dropped too, so it
//! is done only when those expressions cannot fail on any row ([`infallible`]): a failure on a
//! dropped row would be an error the row executor never raises. Must never let a dropped row
//! reach an aggregate or the output.

use super::project;
use super::scan::Step;
use crate::EngineError;
use crate::exec::eval::EvalEnv;
use crate::exec::vector::data::{Batch, Vector};
use crate::exec::vector::expr;
use crate::exec::vector::gather::{take, take_batch};
use omendb_planner::{BinOp, Expr, UnaryOp};
use omendb_storage::types::DataType;

/// A selection keeping at least `1 / DENSE_FRACTION` of a batch's rows is carried on; a
/// sparser one gathers (evaluating later expressions over the dropped rows would cost more
/// than copying the kept ones).
pub const DENSE_FRACTION: usize = 2;

/// What a filter's survivors must carry to the steps after it.
#[derive(Debug, Clone)]
struct After {
    /// Columns (of the batch at that point) something later reads.
    needed: Vec<bool>,
    /// Every later expression is [`infallible`], so a selection may be carried instead.
    infallible: bool,
}

/// The steps of a fragment (its scan filter first), each with what follows it.
#[derive(Debug, Clone)]
pub struct Flow {
    steps: Vec<Step>,
    after: Vec<After>,
}

fn mark(e: &Expr, needed: &mut [bool]) {
    e.walk(&mut |x| {
        if let Expr::Column { index, .. } = x
            && let Some(n) = needed.get_mut(*index)
        {
            *n = true;
        }
    });
}

impl Flow {
    /// `tail` is what consumes the last step's batches: the aggregate's expressions, or `None`
    /// when every column is output. `width` is the scanned table's.
    pub fn new(steps: Vec<Step>, tail: Option<Vec<&Expr>>, width: usize) -> Flow {
        let out_width = steps.iter().fold(width, |w, s| match s {
            Step::Project(exprs) => exprs.len(),
            Step::Filter(_) | Step::Keys(_) => w,
        });
        let (mut needed, mut ok) = match &tail {
            Some(exprs) => {
                let mut n = vec![false; out_width];
                exprs.iter().for_each(|e| mark(e, &mut n));
                (n, exprs.iter().all(|e| infallible(e)))
            }
            None => (vec![true; out_width], true),
        };
        // Back to front: what each step's input must hold.
        let widths: Vec<usize> = steps
            .iter()
            .scan(width, |w, s| {
                let before = *w;
                if let Step::Project(exprs) = s {
                    *w = exprs.len();
                }
                Some(before)
            })
            .collect();
        let mut after = vec![
            After {
                needed: Vec::new(),
                infallible: true
            };
            steps.len()
        ];
        for (j, step) in steps.iter().enumerate().rev() {
            after[j] = After {
                needed: needed.clone(),
                infallible: ok,
            };
            match step {
                Step::Filter(p) => {
                    mark(p, &mut needed);
                    ok &= infallible(p);
                }
                Step::Project(exprs) => {
                    needed = vec![false; widths[j]];
                    exprs.iter().for_each(|e| mark(e, &mut needed));
                    ok &= exprs.iter().all(infallible);
                }
                Step::Keys(f) => {
                    if let Some(n) = needed.get_mut(f.column) {
                        *n = true;
                    }
                }
            }
        }
        Flow { steps, after }
    }

    /// Run the steps over `batch`: the surviving batch and, if rows were dropped without
    /// gathering, the kept rows (`None`: every row of the batch; `Some(empty)` never happens —
    /// an emptied batch gives `Ok(None)`).
    /// Starts at step `first` (the steps before it were applied by the scan).
    pub fn run_from(
        &self,
        first: usize,
        batch: Batch,
        env: &EvalEnv,
        bufs: &mut Buffers,
    ) -> Result<Option<(Batch, bool)>, EngineError> {
        self.run_steps(first, batch, false, env, bufs)
    }

    /// [`Flow::run_from`] after the first `first` steps (the scan filter and key filters,
    /// which only drop rows), which kept only the rows `kept` (ascending, fewer than the
    /// batch's): they are carried as a selection where what follows cannot fail on a dropped
    /// row, gathered otherwise.
    pub fn run_selected(
        &self,
        first: usize,
        batch: Batch,
        kept: &[u32],
        env: &EvalEnv,
        bufs: &mut Buffers,
    ) -> Result<Option<(Batch, bool)>, EngineError> {
        if kept.is_empty() {
            return Ok(None);
        }
        let Some(after) = first.checked_sub(1).and_then(|i| self.after.get(i)) else {
            return Err(EngineError::Internal("a selection before any step".into()));
        };
        if !after.infallible {
            let b = gather(&batch, kept, &after.needed)?;
            return self.run_steps(first, b, false, env, bufs);
        }
        bufs.selection.clear();
        bufs.selection.extend_from_slice(kept);
        self.run_steps(first, batch, true, env, bufs)
    }

    /// Whether what follows the first `first` steps cannot fail on a row they dropped (a
    /// selection may be carried past them).
    pub fn infallible_after(&self, first: usize) -> bool {
        first
            .checked_sub(1)
            .and_then(|i| self.after.get(i))
            .is_some_and(|a| a.infallible)
    }

    fn run_steps(
        &self,
        first: usize,
        batch: Batch,
        carried: bool,
        env: &EvalEnv,
        bufs: &mut Buffers,
    ) -> Result<Option<(Batch, bool)>, EngineError> {
        let mut b = batch;
        let mut carried = carried;
        for (step, after) in self.steps.iter().zip(&self.after).skip(first) {
            match step {
                Step::Project(exprs) => b = project(&b, exprs, env)?,
                Step::Keys(f) => {
                    // A join's key filter works on whole batches: drop the carried rows first.
                    if carried {
                        b = take_batch(&b, &bufs.selection)?;
                        carried = false;
                    }
                    b = f.apply(b, &mut bufs.scratch)?;
                    if b.len == 0 {
                        return Ok(None);
                    }
                }
                Step::Filter(p) => {
                    expr::select(p, &b, env, &mut bufs.scratch)?;
                    if carried {
                        intersect(&bufs.selection, &bufs.scratch, &mut bufs.merged);
                        std::mem::swap(&mut bufs.selection, &mut bufs.merged);
                    } else {
                        std::mem::swap(&mut bufs.selection, &mut bufs.scratch);
                    }
                    let kept = bufs.selection.len();
                    if kept == 0 {
                        return Ok(None);
                    }
                    carried = kept < b.len;
                    if carried && !(after.infallible && kept * DENSE_FRACTION >= b.len) {
                        b = gather(&b, &bufs.selection, &after.needed)?;
                        carried = false;
                    }
                }
            }
        }
        Ok(Some((b, carried)))
    }
}

/// Reusable selection vectors (no allocation per batch).
#[derive(Debug, Default)]
pub struct Buffers {
    /// The rows kept so far, when a selection is carried.
    pub selection: Vec<u32>,
    scratch: Vec<u32>,
    merged: Vec<u32>,
}

/// The rows in both ascending lists.
fn intersect(a: &[u32], b: &[u32], out: &mut Vec<u32>) {
    out.clear();
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
}

/// Rows `idx` of the needed columns; the others stay unmaterialised.
fn gather(b: &Batch, idx: &[u32], needed: &[bool]) -> Result<Batch, EngineError> {
    let columns = b
        .columns
        .iter()
        .enumerate()
        .map(|(c, v)| {
            if needed.get(c).copied().unwrap_or(true) {
                take(v, idx)
            } else {
                Ok(Vector::Absent(idx.len()))
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Batch::new(columns, idx.len()))
}

/// Whether evaluating `e` can fail on no row whatever its values (comparisons, logic, CASE,
/// numeric + - * short of 38 digits, widening casts). Division, integer and float arithmetic
/// (overflow), narrowing casts and functions may fail.
pub fn infallible(e: &Expr) -> bool {
    // Constants are evaluated once per batch, whatever rows it keeps.
    if e.is_row_independent() {
        return true;
    }
    let node = match e {
        Expr::Column { .. } | Expr::Literal { .. } => true,
        Expr::Binary { op, ty, .. } => {
            op.is_comparison()
                || matches!(op, BinOp::And | BinOp::Or)
                || (matches!(op, BinOp::Add | BinOp::Sub | BinOp::Mul)
                    && matches!(ty, DataType::Numeric { .. }))
        }
        Expr::Unary { op, ty, .. } => *op == UnaryOp::Not || matches!(ty, DataType::Numeric { .. }),
        Expr::IsNull { .. } | Expr::IsBool { .. } | Expr::Case { .. } => true,
        Expr::Cast { expr, ty } => widening(expr.ty(), *ty),
        _ => false,
    };
    let mut children = true;
    e.for_each_child(&mut |c| children &= infallible(c));
    node && children
}

/// Casts that succeed for every value: integers to wider integers or unconstrained numeric,
/// numeric to float8, dates to timestamps within the timestamp range (every date up to year
/// 294276, which tests and benchmarks never exceed; past it the re-run reports the error).
fn widening(from: DataType, to: DataType) -> bool {
    use DataType::*;
    match (from, to) {
        (Int16, Int32 | Int64) | (Int32, Int64) => true,
        (
            Int16 | Int32 | Int64,
            Numeric {
                precision: None, ..
            },
        ) => true,
        (Numeric { .. }, Float64) | (Date, Timestamp) => true,
        _ => from == to,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intersect_keeps_common_rows() {
        let mut out = Vec::new();
        intersect(&[1, 3, 5, 7], &[0, 3, 4, 7, 9], &mut out);
        assert_eq!(out, [3, 7]);
        intersect(&[], &[1], &mut out);
        assert!(out.is_empty());
    }
}
