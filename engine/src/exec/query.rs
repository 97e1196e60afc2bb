//! Running a plan tree at the coordinator: scans fan out to the shards, everything above them
//! runs here.

use super::Row;
use super::aggregate::aggregate;
use super::eval::{EvalEnv, eval, eval_predicate};
use super::join::join;
use super::memory::{is_out_of_memory, rows_bytes};
use super::route::{Target, target};
use super::scan::{Read, Scope, scan_rows};
use super::series::{SERIES_BATCH, SeriesCursor};
use super::sort::{distinct, set_operation, sort};
use super::system::system_rows;
use super::vector;
use crate::EngineError;
use crate::runtime::event::{Awaited, Waited};
use crate::shard::ShardRef;
use omendb_planner::{Access, BinOp, Expr, JoinKind, Plan};
use omendb_storage::schema::TableSchema;
use omendb_storage::types::{DataType, Value};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// `x op ANY (values)` as an OR of comparisons, `x op ALL (values)` as an AND: three-valued
/// logic then gives PostgreSQL's NULL results; no values make ANY false and ALL true.
fn quantified(
    expr: Expr,
    op: omendb_planner::BinOp,
    all: bool,
    values: Vec<Row>,
    ty: omendb_storage::types::DataType,
) -> Expr {
    let joiner = if all {
        omendb_planner::BinOp::And
    } else {
        omendb_planner::BinOp::Or
    };
    let bool_ty = omendb_storage::types::DataType::Bool;
    let mut result: Option<Expr> = None;
    for row in values {
        let value = row.into_iter().next().unwrap_or(Value::Null);
        let cmp = Expr::Binary {
            op,
            left: Box::new(expr.clone()),
            right: Box::new(Expr::Literal { value, ty }),
            ty: bool_ty,
        };
        result = Some(match result {
            None => cmp,
            Some(acc) => Expr::Binary {
                op: joiner,
                left: Box::new(acc),
                right: Box::new(cmp),
                ty: bool_ty,
            },
        });
    }
    result.unwrap_or_else(|| Expr::literal(Value::Bool(all)))
}

/// Evaluate every row-independent subexpression once (parameters, `now()`, date arithmetic on
/// literals…) so it is not recomputed per row. A subexpression whose evaluation fails is left as
/// it is: the error then surfaces only if a row actually evaluates it.
pub fn fold_constants(e: &mut Expr, env: &EvalEnv) {
    if matches!(e, Expr::Literal { .. } | Expr::Column { .. }) {
        return;
    }
    if e.is_row_independent()
        && let Ok(value) = eval(e, &[], env)
    {
        *e = Expr::Literal { value, ty: e.ty() };
        return;
    }
    e.for_each_child_mut(&mut |child| fold_constants(child, env));
    date_comparison(e);
}

/// `CAST(d AS timestamp) op t` for a date column `d` and a timestamp constant `t` (what
/// `d <= date '…' - interval '…'` binds to) becomes `d op' day` on the date itself: no cast
/// per row, a vector kernel instead of the row evaluator, and zone maps apply. Exact for every
/// finite `t`: `d::timestamp < t` ⇔ `d < ⌈t⌉`, `<=` ⇔ `d <= ⌊t⌋`, `>` ⇔ `d > ⌊t⌋`, `>=` ⇔
/// `d >= ⌈t⌉` (in days); `=`/`<>` only when `t` is a midnight. Like PostgreSQL's cross-type
/// date/timestamp operators, it never fails on dates beyond the timestamp range.
fn date_comparison(e: &mut Expr) {
    use omendb_storage::types::datetime::MICROS_PER_DAY;
    let Expr::Binary {
        op, left, right, ..
    } = e
    else {
        return;
    };
    if !op.is_comparison() {
        return;
    }
    let (column, micros, op) = match (left.as_ref(), right.as_ref()) {
        (Expr::Cast { expr, ty }, Expr::Literal { value, .. })
            if *ty == DataType::Timestamp && expr.ty() == DataType::Date =>
        {
            (expr, value, *op)
        }
        (Expr::Literal { value, .. }, Expr::Cast { expr, ty })
            if *ty == DataType::Timestamp && expr.ty() == DataType::Date =>
        {
            (expr, value, op.flipped())
        }
        _ => return,
    };
    let Value::Timestamp(t) = micros else {
        return;
    };
    if *t == i64::MAX || *t == i64::MIN {
        return;
    }
    let floor = t.div_euclid(MICROS_PER_DAY);
    let exact = t.rem_euclid(MICROS_PER_DAY) == 0;
    let ceil = if exact { floor } else { floor + 1 };
    let (op, day) = match op {
        BinOp::Lt => (BinOp::Lt, ceil),
        BinOp::LtEq => (BinOp::LtEq, floor),
        BinOp::Gt => (BinOp::Gt, floor),
        BinOp::GtEq => (BinOp::GtEq, ceil),
        BinOp::Eq | BinOp::NotEq if exact => (op, floor),
        _ => return,
    };
    // Day numbers a finite timestamp yields always fit an i32 date, and never reach the
    // ±infinity sentinels (they lie far outside the timestamp range).
    let Ok(day) = i32::try_from(day) else {
        return;
    };
    let column = column.as_ref().clone();
    *e = Expr::Binary {
        op,
        left: Box::new(column),
        right: Box::new(Expr::Literal {
            value: Value::Date(day),
            ty: DataType::Date,
        }),
        ty: DataType::Bool,
    };
}

/// Calls its argument on every expression of something (a plan, a filter…).
pub type ExprVisitor<'a> = dyn FnMut(&mut dyn FnMut(&mut Expr)) + 'a;

/// Runs plans for one statement.
pub struct Executor {
    pub shard: ShardRef,
    pub env: Arc<EvalEnv>,
    pub cancel: Arc<AtomicBool>,
    /// Materialized CTEs computed so far by this statement.
    pub shared: super::shared::SharedResults,
}

impl Executor {
    pub(crate) fn check_cancel(&self) -> Result<(), EngineError> {
        if self.cancel.swap(false, Ordering::Relaxed) {
            return Err(EngineError::Cancelled);
        }
        Ok(())
    }

    /// Every row of a statement's plan: its uncorrelated subqueries run first, once.
    pub async fn run_query(&self, plan: &Plan) -> Result<Vec<Row>, EngineError> {
        let mut plan = plan.clone();
        self.resolve_subqueries(&mut |visit| plan.exprs_mut(visit))
            .await?;
        plan.exprs_mut(&mut |e| fold_constants(e, &self.env));
        self.run(&plan).await
    }

    /// Replace every subquery expression reachable through `each_expr` by its value: a scalar by
    /// a literal, EXISTS by a boolean, IN (subquery) by an IN list.
    pub fn resolve_subqueries<'a>(
        &'a self,
        each_expr: &'a mut ExprVisitor<'a>,
    ) -> Pin<Box<dyn Future<Output = Result<(), EngineError>> + 'a>> {
        Box::pin(async move {
            let mut plans = Vec::new();
            each_expr(&mut |e| {
                e.walk_mut(&mut |x| match x {
                    Expr::ScalarSubquery { plan, .. }
                    | Expr::InSubquery { plan, .. }
                    | Expr::Exists { plan, .. }
                    | Expr::Quantified { plan, .. } => {
                        plans.push(plan.as_ref().clone());
                    }
                    _ => {}
                })
            });
            if plans.is_empty() {
                return Ok(());
            }
            let mut results = Vec::with_capacity(plans.len());
            for p in &plans {
                results.push(self.run_query(p).await?);
            }
            let mut results = results.into_iter();
            let mut error = None;
            each_expr(&mut |e| {
                e.walk_mut(&mut |x| {
                    let replacement = match x {
                        Expr::ScalarSubquery { ty, .. } => {
                            let rows = results.next().unwrap_or_default();
                            if rows.len() > 1 {
                                error = Some(EngineError::sql("21000", "more than one row returned by a subquery used as an expression"));
                            }
                            let value = rows.into_iter().next().and_then(|r| r.into_iter().next()).unwrap_or(Value::Null);
                            Expr::Literal { value, ty: *ty }
                        }
                        Expr::Exists { negated, .. } => {
                            let found = !results.next().unwrap_or_default().is_empty();
                            Expr::literal(Value::Bool(found != *negated))
                        }
                        Expr::InSubquery { expr, negated, plan } => {
                            let ty = plan.column_types().first().copied().unwrap_or(omendb_storage::types::DataType::Text);
                            let list = results
                                .next()
                                .unwrap_or_default()
                                .into_iter()
                                .map(|r| Expr::Literal { value: r.into_iter().next().unwrap_or(Value::Null), ty })
                                .collect();
                            let expr = std::mem::replace(expr, Box::new(Expr::null(ty)));
                            Expr::InList { expr, list, negated: *negated }
                        }
                        Expr::Quantified { expr, op, all, plan } => {
                            let ty = plan.column_types().first().copied().unwrap_or(omendb_storage::types::DataType::Text);
                            let values = results.next().unwrap_or_default();
                            let expr = std::mem::replace(expr, Box::new(Expr::null(ty)));
                            quantified(*expr, *op, *all, values, ty)
                        }
                        _ => return,
                    };
                    *x = replacement;
                })
            });
            error.map_or(Ok(()), Err)
        })
    }

    /// Every row the plan produces: through the vectorized executor where it supports the
    /// plan, else (or when it fails: the row executor's outcome is authoritative) row by row.
    /// What the node charged to the statement's memory budget while it ran (its inputs, its
    /// working state) is replaced by the size of its result.
    pub fn run<'a>(
        &'a self,
        plan: &'a Plan,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Row>, EngineError>> + 'a>> {
        Box::pin(async move {
            let memory = &self.env.memory;
            let mark = memory.used();
            let rows = self.run_any(plan).await?;
            memory.release_to(mark);
            memory.charge(rows_bytes(&rows))?;
            Ok(rows)
        })
    }

    async fn run_any(&self, plan: &Plan) -> Result<Vec<Row>, EngineError> {
        if let Some(strict) = vector::applies(plan, &self.env) {
            let mark = self.env.memory.used();
            match vector::run(self, plan).await {
                Ok(rows) => return Ok(rows),
                // The row executor would hold at least as much: no use re-running there.
                Err(e) if strict || matches!(e, EngineError::Cancelled) || is_out_of_memory(&e) => {
                    return Err(e);
                }
                Err(_) => self.env.memory.release_to(mark),
            }
        }
        self.run_rows(plan).await
    }

    fn run_rows<'a>(
        &'a self,
        plan: &'a Plan,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Row>, EngineError>> + 'a>> {
        Box::pin(async move {
            self.check_cancel()?;
            let env = &self.env;
            match plan {
                Plan::Scan {
                    table,
                    filter,
                    access,
                } => self.scan(table, filter.as_ref(), access, None).await,
                Plan::System { table, .. } => system_rows(*table, env),
                Plan::Values { rows, .. } => rows
                    .iter()
                    .map(|r| {
                        r.iter()
                            .map(|e| eval(e, &[], env))
                            .collect::<Result<Row, _>>()
                    })
                    .collect(),
                Plan::Series { .. } => self.series(plan, usize::MAX),
                Plan::Shared { id, input } => {
                    if let Some(rows) = self.shared.rows(*id) {
                        return Ok(rows);
                    }
                    let rows = self.run(input).await?;
                    self.shared.keep_rows(*id, rows.clone());
                    Ok(rows)
                }
                Plan::Filter { input, predicate } => {
                    let rows = self.run(input).await?;
                    let mut out = Vec::with_capacity(rows.len());
                    for row in rows {
                        if eval_predicate(predicate, &row, env)? {
                            out.push(row);
                        }
                    }
                    Ok(out)
                }
                Plan::Project { input, exprs } => {
                    if let Plan::Scan {
                        table,
                        filter,
                        access,
                    } = input.as_ref()
                        && let Some(columns) = plain_columns(exprs)
                    {
                        return self
                            .scan(table, filter.as_ref(), access, Some(&columns))
                            .await;
                    }
                    let rows = self.run(input).await?;
                    rows.iter()
                        .map(|row| exprs.iter().map(|e| eval(e, row, env)).collect())
                        .collect()
                }
                Plan::Aggregate {
                    input,
                    groups,
                    aggs,
                } => {
                    let rows = self.run(input).await?;
                    aggregate(rows, groups, aggs, env)
                }
                Plan::Sort { input, keys } => {
                    let rows = self.run(input).await?;
                    sort(rows, keys, env)
                }
                Plan::Limit {
                    input,
                    limit,
                    offset,
                } => {
                    let offset = limit_count(offset, "OFFSET", env)?.unwrap_or(0);
                    let limit = limit_count(limit, "LIMIT", env)?.unwrap_or(usize::MAX);
                    let rows = self
                        .run_limited(input, offset.saturating_add(limit))
                        .await?;
                    Ok(rows.into_iter().skip(offset).take(limit).collect())
                }
                Plan::Distinct { input } => Ok(distinct(self.run(input).await?)),
                Plan::Join {
                    left,
                    right,
                    kind,
                    on,
                } => {
                    let looked_up = match kind {
                        JoinKind::Inner => self.lookup_join(left, right, on.as_ref()).await?,
                        _ => None,
                    };
                    let (l, r) = match looked_up {
                        Some(sides) => sides,
                        None => (self.run(left).await?, self.run(right).await?),
                    };
                    let widths = (left.column_types().len(), right.column_types().len());
                    join(l, r, widths, *kind, on.as_ref(), env)
                }
                Plan::SetOp {
                    op,
                    all,
                    left,
                    right,
                } => {
                    let l = self.run(left).await?;
                    let r = self.run(right).await?;
                    Ok(set_operation(*op, *all, l, r))
                }
            }
        })
    }

    /// The rows of `plan`, of which only the first `max_rows` will be used: a series (under
    /// projections, which keep rows one to one) stops there instead of running to its end.
    fn run_limited<'a>(
        &'a self,
        plan: &'a Plan,
        max_rows: usize,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Row>, EngineError>> + 'a>> {
        Box::pin(async move {
            match plan {
                Plan::Series { .. } => self.series(plan, max_rows),
                Plan::Project { input, exprs } if reaches_series(input) => {
                    let rows = self.run_limited(input, max_rows).await?;
                    rows.iter()
                        .map(|row| exprs.iter().map(|e| eval(e, row, &self.env)).collect())
                        .collect()
                }
                _ => self.run(plan).await,
            }
        })
    }

    /// The first `max_rows` values of a `Plan::Series`, checking for a cancel between batches.
    fn series(&self, plan: &Plan, max_rows: usize) -> Result<Vec<Row>, EngineError> {
        let Plan::Series {
            start,
            stop,
            step,
            ty,
        } = plan
        else {
            return Err(EngineError::Internal("not a series".into()));
        };
        let env = &self.env;
        let (start, stop, step) = (
            eval(start, &[], env)?,
            eval(stop, &[], env)?,
            eval(step, &[], env)?,
        );
        let Some(mut cursor) = SeriesCursor::new(start, stop, step, *ty, env)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        while !cursor.is_done() && out.len() < max_rows {
            self.check_cancel()?;
            let batch = SERIES_BATCH.min(max_rows - out.len());
            let from = out.len();
            cursor.fill(&mut out, batch)?;
            env.memory.charge(rows_bytes(&out[from..]))?;
        }
        Ok(out)
    }

    /// The rows of a table the filter passes, all their columns or only `columns`.
    async fn scan(
        &self,
        table: &Arc<TableSchema>,
        filter: Option<&Expr>,
        access: &Access,
        columns: Option<&[usize]>,
    ) -> Result<Vec<Row>, EngineError> {
        let shards = self.shard.count();
        let on = |s, scope| self.scan_on(s, table, scope, filter, columns);
        match target(table, access, &self.env, shards)? {
            Target::Nothing => Ok(Vec::new()),
            Target::One(s, key) => on(s, key.map(Scope::Key)).await,
            Target::Range(Some(s), range) => on(s, Some(Scope::Range(range))).await,
            Target::All => self.scan_every(shards, table, None, filter, columns).await,
            Target::Range(None, range) => {
                let scope = Some(Scope::Range(range));
                self.scan_every(shards, table, scope, filter, columns).await
            }
        }
    }

    /// Scan every shard's partition, in shard order.
    async fn scan_every(
        &self,
        shards: usize,
        table: &Arc<TableSchema>,
        scope: Option<Scope>,
        filter: Option<&Expr>,
        columns: Option<&[usize]>,
    ) -> Result<Vec<Row>, EngineError> {
        let scans: Vec<_> = (0..shards)
            .map(|s| self.scan_on(s, table, scope.clone(), filter, columns))
            .collect();
        let mut out = Vec::new();
        for part in crate::runtime::join_all(scans).await {
            out.extend(part?);
        }
        Ok(out)
    }

    pub(super) async fn scan_on(
        &self,
        shard: usize,
        table: &Arc<TableSchema>,
        scope: Option<Scope>,
        filter: Option<&Expr>,
        columns: Option<&[usize]>,
    ) -> Result<Vec<Row>, EngineError> {
        loop {
            let read = if shard == self.shard.id() {
                // This shard's rows: read in place, nothing copied to send anywhere.
                let probe = Scope::probe(scope.as_ref());
                scan_rows(self.shard.state(), table, probe, filter, columns, &self.env)?
            } else {
                self.scan_remote(shard, table, scope.clone(), filter, columns)
                    .await?
            };
            match read {
                Read::Done(rows) => return Ok(rows),
                Read::Wait(ended) => self.wait_prepared(ended).await?,
            }
        }
    }

    /// [`scan_rows`] on another shard, with owned copies of what it reads.
    async fn scan_remote(
        &self,
        shard: usize,
        table: &Arc<TableSchema>,
        scope: Option<Scope>,
        filter: Option<&Expr>,
        columns: Option<&[usize]>,
    ) -> Result<Read<Vec<Row>>, EngineError> {
        let (t, f, env) = (table.clone(), filter.cloned(), self.env.clone());
        let c = columns.map(<[usize]>::to_vec);
        self.shard
            .run_on(shard, move |s| async move {
                let probe = Scope::probe(scope.as_ref());
                scan_rows(s.state(), &t, probe, f.as_ref(), c.as_deref(), &env)
            })
            .await
            .map_err(|e| EngineError::Internal(e.to_string()))?
    }

    /// Wait for a prepared multi-shard commit to be applied (it holds no lock a reader could
    /// be part of a cycle with, so this needs no time limit); a cancel still stops it.
    pub(crate) async fn wait_prepared(&self, mut ended: Awaited) -> Result<(), EngineError> {
        loop {
            self.check_cancel()?;
            if ended.wait(PREPARED_CHECK).await == Waited::Fired {
                return Ok(());
            }
        }
    }
}

/// How often a reader waiting for a prepared commit looks at its cancel flag.
const PREPARED_CHECK: std::time::Duration = std::time::Duration::from_millis(50);

/// The column of each expression when every one is a plain column reference (a projection a
/// scan can do while it copies rows out).
fn plain_columns(exprs: &[Expr]) -> Option<Vec<usize>> {
    exprs
        .iter()
        .map(|e| match e {
            Expr::Column { index, .. } => Some(*index),
            _ => None,
        })
        .collect()
}

/// Whether `plan` is a series under nothing but projections.
fn reaches_series(plan: &Plan) -> bool {
    match plan {
        Plan::Series { .. } => true,
        Plan::Project { input, .. } => reaches_series(input),
        _ => false,
    }
}

/// A LIMIT or OFFSET count: `None` when absent or NULL, 2201W/2201X when negative.
pub(crate) fn limit_count(
    e: &Option<Expr>,
    what: &str,
    env: &EvalEnv,
) -> Result<Option<usize>, EngineError> {
    match e.as_ref().map(|e| eval(e, &[], env)).transpose()? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Int64(n)) if n < 0 => Err(EngineError::sql(
            if what == "LIMIT" { "2201W" } else { "2201X" },
            format!("{what} must not be negative"),
        )),
        Some(Value::Int64(n)) => Ok(Some(usize::try_from(n).unwrap_or(usize::MAX))),
        Some(other) => Err(EngineError::Internal(format!(
            "{what} of type {}",
            other.data_type()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use omendb_storage::types::datetime::MICROS_PER_DAY;

    fn cmp(op: BinOp, flipped: bool, t: i64) -> Expr {
        let cast = Expr::Cast {
            expr: Box::new(Expr::Column {
                index: 0,
                ty: DataType::Date,
            }),
            ty: DataType::Timestamp,
        };
        let lit = Expr::Literal {
            value: Value::Timestamp(t),
            ty: DataType::Timestamp,
        };
        let (left, right) = if flipped { (lit, cast) } else { (cast, lit) };
        Expr::Binary {
            op,
            left: Box::new(left),
            right: Box::new(right),
            ty: DataType::Bool,
        }
    }

    /// The rewritten comparison answers like the cast one for every date near the constant,
    /// midnight or not, before and after 2000-01-01, either operand order, and NULL.
    #[test]
    fn date_comparisons_drop_the_cast_without_changing_answers() {
        let env = EvalEnv {
            params: Vec::new(),
            tz: omendb_storage::types::datetime::TimeZone::utc(),
            txn_start: 0,
            reader: 1,
            snapshot: omendb_storage::row::Ts::MAX,
            isolation: omendb_planner::IsolationLevel::ReadCommitted,
            savepoint: crate::shard::Savepoints::default(),
            user: "test".into(),
            database: "test".into(),
            backend_pid: 1,
            settings: Arc::new([]),
            engine: crate::shard::Engine::new(1),
            lock_wait: std::time::Duration::from_secs(10),
            deadlock_wait: std::time::Duration::from_secs(1),
            memory: Arc::new(crate::exec::memory::MemoryBudget::new(u64::MAX)),
        };
        let ops = [
            BinOp::Lt,
            BinOp::LtEq,
            BinOp::Gt,
            BinOp::GtEq,
            BinOp::Eq,
            BinOp::NotEq,
        ];
        let constants = [
            0,
            -MICROS_PER_DAY,
            5 * MICROS_PER_DAY,
            5 * MICROS_PER_DAY + 1,
            -3 * MICROS_PER_DAY - 7,
            MICROS_PER_DAY - 1,
        ];
        let mut rewritten = 0;
        for op in ops {
            for flipped in [false, true] {
                for t in constants {
                    let original = cmp(op, flipped, t);
                    let mut folded = original.clone();
                    date_comparison(&mut folded);
                    if !matches!(&folded, Expr::Binary { left, .. } if matches!(left.as_ref(), Expr::Cast { .. }))
                        && !matches!(&folded, Expr::Binary { right, .. } if matches!(right.as_ref(), Expr::Cast { .. }))
                    {
                        rewritten += 1;
                    }
                    let mut rows: Vec<Vec<Value>> = (-8..8).map(|d| vec![Value::Date(d)]).collect();
                    rows.push(vec![Value::Null]);
                    for row in rows {
                        let a = eval(&original, &row, &env).unwrap();
                        let b = eval(&folded, &row, &env).unwrap();
                        assert_eq!(
                            format!("{a:?}"),
                            format!("{b:?}"),
                            "{op:?} flipped={flipped} t={t} row={row:?}"
                        );
                    }
                }
            }
        }
        // Ranges always rewrite; = and <> only for midnights.
        assert_eq!(rewritten, 4 * 2 * 6 + 2 * 2 * 3);
    }
}
