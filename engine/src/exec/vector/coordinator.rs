//! Running a supported plan tree: scan fragments fan out to the shards (in parallel, the
//! coordinator's own shard last so the others start first), operators above them run here.

use super::data::Vector;
use super::data::{Batch, Kind, batches_size};
use super::expr;
use super::gather::concat_batches;
use super::operator::aggregate::{AggSpec, AggState};
use super::operator::filter;
use super::operator::join::{Prepared, Probe, SemiProbe, Sides, equi_keys, nested_loop, prepare};
use super::operator::key_filter::KeyFilter;
use super::operator::scan::{Fragment, Output, Step, run_fragment};
use super::operator::sort::{limit, sort};
use super::pass;
use super::prune;
use crate::EngineError;
use crate::exec::eval::EvalEnv;
use crate::exec::query::{Executor, limit_count};
use crate::exec::route::{Target, target};
use omendb_planner::Expr;
use omendb_planner::{Access, Plan};
use std::future::Future;
use std::pin::Pin;

type BatchesFuture<'a> = Pin<Box<dyn Future<Output = Result<Vec<Batch>, EngineError>> + 'a>>;

fn kinds(plan: &Plan) -> Result<Vec<Kind>, EngineError> {
    plan.column_types()
        .into_iter()
        .map(|t| {
            Kind::of(t).ok_or_else(|| EngineError::Internal(format!("no vector kind for {t}")))
        })
        .collect()
}

/// A Project/Filter chain down to a scan, as a fragment (with its access path); `output` the
/// columns read above it (`None`: all).
fn fragment_of<'p>(
    plan: &'p Plan,
    aggregate: Option<AggSpec>,
    output: Option<&[bool]>,
    filters: &[KeyFilter],
) -> Option<(Fragment, &'p Access)> {
    let mut steps = Vec::new();
    let mut node = plan;
    loop {
        match node {
            Plan::Filter { input, predicate } => {
                steps.push(Step::Filter(predicate.clone()));
                node = input;
            }
            Plan::Project { input, exprs } => {
                steps.push(Step::Project(exprs.clone()));
                node = input;
            }
            Plan::Scan {
                table,
                filter,
                access,
            } => {
                steps.reverse();
                steps.extend(filters.iter().cloned().map(Step::Keys));
                let fragment = Fragment {
                    table: table.clone(),
                    filter: filter.clone(),
                    steps,
                    aggregate,
                    output: output.map(<[bool]>::to_vec),
                };
                return Some((fragment, access));
            }
            _ => return None,
        }
    }
}

/// The fragment's output from every shard that holds rows for it.
async fn on_shards(
    x: &Executor,
    fragment: Fragment,
    access: &Access,
) -> Result<Vec<Output>, EngineError> {
    let shards = x.shard.count();
    let run = |s: usize, key: Option<Vec<u8>>| {
        let (fragment, env) = (fragment.clone(), x.env.clone());
        async move {
            loop {
                let (fragment, env, key) = (fragment.clone(), env.clone(), key.clone());
                let read = x
                    .shard
                    .run_on(s, move |sh| async move {
                        match crate::exec::scan::prepared_wait(sh.state(), &fragment.table) {
                            Some(wait) => Ok(wait),
                            None => run_fragment(sh.state(), &fragment, key.as_deref(), &env)
                                .map(crate::exec::scan::Read::Done),
                        }
                    })
                    .await
                    .map_err(|e| EngineError::Internal(e.to_string()))??;
                match read {
                    crate::exec::scan::Read::Done(out) => return Ok::<_, EngineError>(out),
                    crate::exec::scan::Read::Wait(ended) => x.wait_prepared(ended).await?,
                }
            }
        }
    };
    match target(&fragment.table, access, &x.env, shards)? {
        Target::Nothing => Ok(Vec::new()),
        Target::One(s, key) => Ok(vec![run(s, key).await?]),
        // Key ranges run on the row executor (`supported`); should one get here, the
        // fragment's filter holds every condition of the range, so a scan is exact.
        Target::Range(Some(s), _) => Ok(vec![run(s, None).await?]),
        Target::All | Target::Range(None, _) => {
            // The coordinator's own shard runs in place when polled: start the others first.
            // Results keep shard order, as the row executor's scans do.
            let me = x.shard.id();
            let order: Vec<usize> = (0..shards).filter(|s| *s != me).chain([me]).collect();
            let parts =
                crate::runtime::join_all(order.iter().map(|s| run(*s, None)).collect()).await;
            let mut by_shard: Vec<(usize, Output)> = Vec::with_capacity(shards);
            for (s, part) in order.into_iter().zip(parts) {
                by_shard.push((s, part?));
            }
            by_shard.sort_by_key(|(s, _)| *s);
            Ok(by_shard.into_iter().map(|(_, p)| p).collect())
        }
    }
}

/// Probe rows below which a join's probe stays on the coordinator: sending the build side's
/// handle and a share of the batches to another core costs more than probing them.
const PARALLEL_PROBE_ROWS: usize = 32 * 1024;

/// `batches` in contiguous runs of about equal rows, one per shard at most.
fn split_runs(batches: Vec<Batch>, shards: usize) -> Vec<Vec<Batch>> {
    let total: usize = batches.iter().map(|b| b.len).sum();
    let per_part = total.div_ceil(shards.max(1));
    let mut parts: Vec<Vec<Batch>> = vec![Vec::new()];
    let mut rows = 0;
    for b in batches {
        if rows >= per_part && parts.len() < shards {
            parts.push(Vec::new());
            rows = 0;
        }
        rows += b.len;
        if let Some(last) = parts.last_mut() {
            last.push(b);
        }
    }
    parts
}

/// Run `work` over each of `parts` on its own shard, in parallel: part i on shard
/// (me + i) % shards, part 0 here and last, so the others start first. Results in part order.
async fn on_every_shard<T, W>(
    x: &Executor,
    parts: Vec<Vec<Batch>>,
    work: std::sync::Arc<W>,
) -> Result<Vec<T>, EngineError>
where
    T: Send + 'static,
    W: Fn(&[Batch], &EvalEnv, &dyn Fn() -> Result<(), EngineError>) -> Result<T, EngineError>
        + Send
        + Sync
        + 'static,
{
    let shards = x.shard.count();
    let me = x.shard.id();
    let mut runs = Vec::with_capacity(parts.len());
    for (i, part) in parts.into_iter().enumerate().rev() {
        let (work, env, cancel) = (work.clone(), x.env.clone(), x.cancel.clone());
        let target = (me + i) % shards;
        runs.push(async move {
            x.shard
                .run_on(target, move |_| async move {
                    // Only the coordinator consumes the cancel flag; runs just look at it.
                    let cancelled = || {
                        if cancel.load(std::sync::atomic::Ordering::Relaxed) {
                            Err(EngineError::Cancelled)
                        } else {
                            Ok(())
                        }
                    };
                    work(&part, &env, &cancelled)
                })
                .await
                .map_err(|e| EngineError::Internal(e.to_string()))?
        });
    }
    let mut results = crate::runtime::join_all(runs)
        .await
        .into_iter()
        .collect::<Result<Vec<T>, EngineError>>()?;
    results.reverse();
    x.check_cancel()?;
    Ok(results)
}

/// Whether probe work of this many rows is worth spreading over the shards.
fn spread(x: &Executor, batches: &[Batch]) -> bool {
    x.shard.count() >= 2 && batches.iter().map(|b| b.len).sum::<usize>() >= PARALLEL_PROBE_ROWS
}

/// Probe `batches` against a built hash join, in runs on every shard; the output keeps the
/// batches' order.
async fn probe_on_shards(
    x: &Executor,
    probe: Box<Probe>,
    batches: Vec<Batch>,
) -> Result<Vec<Batch>, EngineError> {
    if !spread(x, &batches) {
        let (mut out, matched) = probe.run(&batches, &x.env, &|| x.check_cancel())?;
        out.extend(probe.unmatched(&matched)?);
        return Ok(out);
    }
    let probe: std::sync::Arc<Probe> = std::sync::Arc::from(probe);
    let parts = split_runs(batches, x.shard.count());
    let shared = probe.clone();
    let work = std::sync::Arc::new(
        move |part: &[Batch], env: &EvalEnv, cancelled: &dyn Fn() -> Result<(), EngineError>| {
            shared.run(part, env, cancelled)
        },
    );
    let mut out = Vec::new();
    let mut matched: Vec<bool> = Vec::new();
    for (batches, marks) in on_every_shard(x, parts, work).await? {
        out.extend(batches);
        if matched.is_empty() {
            matched = marks;
        } else {
            matched.iter_mut().zip(marks).for_each(|(m, k)| *m |= k);
        }
    }
    out.extend(probe.unmatched(&matched)?);
    Ok(out)
}

/// Stream a semi or anti join's right batches past its built left side, in runs on every
/// shard; the marks of all runs decide which left rows leave.
async fn semi_on_shards(
    x: &Executor,
    semi: Box<SemiProbe>,
    right: Vec<Batch>,
) -> Result<Vec<Batch>, EngineError> {
    if !spread(x, &right) {
        return semi.finish(&semi.run(&right, &x.env, &|| x.check_cancel())?);
    }
    let semi: std::sync::Arc<SemiProbe> = std::sync::Arc::from(semi);
    let parts = split_runs(right, x.shard.count());
    let shared = semi.clone();
    let work = std::sync::Arc::new(
        move |part: &[Batch], env: &EvalEnv, cancelled: &dyn Fn() -> Result<(), EngineError>| {
            shared.run(part, env, cancelled)
        },
    );
    let mut runs = on_every_shard(x, parts, work).await?.into_iter();
    let Some(mut marks) = runs.next() else {
        return semi.finish(&semi.run(&[], &x.env, &|| x.check_cancel())?);
    };
    runs.for_each(|m| marks.absorb(m));
    semi.finish(&marks)
}

/// Every batch `plan` produces, all columns materialised.
pub fn exec_all<'a>(x: &'a Executor, plan: &'a Plan) -> BatchesFuture<'a> {
    Box::pin(async move {
        let needed = prune::all(plan.column_types().len());
        exec(x, plan, &needed, &[]).await
    })
}

/// Every batch `plan` produces; columns not `needed` above may be absent, and rows `filters`
/// reject may be missing (a join above would drop them). What the node charged to the
/// statement's memory budget while it ran (its inputs, its working state) is replaced by the
/// size of its batches.
fn exec<'a>(
    x: &'a Executor,
    plan: &'a Plan,
    needed: &'a [bool],
    filters: &'a [KeyFilter],
) -> BatchesFuture<'a> {
    Box::pin(async move {
        let memory = &x.env.memory;
        let mark = memory.used();
        let out = coalesce(exec_node(x, plan, needed, filters).await?)?;
        memory.release_to(mark);
        memory.charge(batches_size(&out))?;
        Ok(out)
    })
}

/// Rows a batch of merged small batches holds at least (see `coalesce`).
const COALESCE_ROWS: usize = 1024;

/// `batches` with runs of small ones merged, in order, into batches of about `COALESCE_ROWS`
/// rows, when they average under a quarter of that. A filtered scan or a selective join
/// yields a batch per input block, often of a handful of rows, and every operator above pays
/// per batch and per column: TPC-H Q8's joins passed 2,603 rows in 1,717 batches.
fn coalesce(batches: Vec<Batch>) -> Result<Vec<Batch>, EngineError> {
    let rows: usize = batches.iter().map(|b| b.len).sum();
    if batches.len() < 2 || rows == 0 || rows * 4 >= batches.len() * COALESCE_ROWS {
        return Ok(batches);
    }
    let width = batches[0].columns.len();
    let mut out = Vec::with_capacity(rows / COALESCE_ROWS + 1);
    let mut group: Vec<Batch> = Vec::new();
    let mut held = 0;
    for b in batches.into_iter().filter(|b| b.len > 0) {
        held += b.len;
        group.push(b);
        if held >= COALESCE_ROWS {
            out.push(concat_batches(&group, width)?);
            group.clear();
            held = 0;
        }
    }
    if !group.is_empty() {
        out.push(concat_batches(&group, width)?);
    }
    Ok(out)
}

fn exec_node<'a>(
    x: &'a Executor,
    plan: &'a Plan,
    needed: &'a [bool],
    filters: &'a [KeyFilter],
) -> BatchesFuture<'a> {
    Box::pin(async move {
        x.check_cancel()?;
        let env = &x.env;
        if let Some((fragment, access)) = fragment_of(plan, None, Some(needed), filters) {
            let mut out = Vec::new();
            for part in on_shards(x, fragment, access).await? {
                if let Output::Batches(b) = part {
                    env.memory.charge(batches_size(&b))?;
                    out.extend(b);
                }
            }
            return Ok(out);
        }
        match plan {
            Plan::Shared { id, input } => {
                if let Some(batches) = x.shared.batches(*id, &kinds(plan)?) {
                    return batches;
                }
                // Every column and every row: other references may need what this one does not.
                // The kept batches share their arrays with the ones returned.
                let batches = exec_all(x, input).await?;
                x.shared.keep_batches(*id, batches.clone());
                Ok(batches)
            }
            Plan::Aggregate {
                input,
                groups,
                aggs,
            } => {
                let spec = AggSpec {
                    groups: groups.clone(),
                    aggs: aggs.clone(),
                };
                let mut state = AggState::new(&spec)?;
                let below = pass::aggregate(groups, filters);
                let partial = if spec.order_sensitive() {
                    None
                } else {
                    fragment_of(input, Some(spec.clone()), None, &below)
                };
                if let Some((fragment, access)) = partial {
                    let finished = fragment.groups_stay_on_shards();
                    let mut out = Vec::new();
                    for part in on_shards(x, fragment, access).await? {
                        match part {
                            Output::Partial(p) => {
                                state.merge(*p)?;
                                state.charge_groups(&env.memory)?;
                            }
                            Output::Batches(b) => {
                                env.memory.charge(batches_size(&b))?;
                                out.extend(b);
                            }
                        }
                    }
                    if finished {
                        return Ok(out);
                    }
                } else {
                    let width = input.column_types().len();
                    let wanted = prune::aggregate(groups, aggs, width);
                    for b in exec(x, input, &wanted, &below).await? {
                        x.check_cancel()?;
                        state.update(&spec, &b, env, None)?;
                        state.charge_groups(&env.memory)?;
                    }
                }
                state.finish(&spec)
            }
            Plan::Filter { input, predicate } => {
                let mut sel = Vec::new();
                let mut out = Vec::new();
                let wanted = prune::filter(predicate, needed);
                for b in exec(x, input, &wanted, filters).await? {
                    let f = filter(b, predicate, env, &mut sel)?;
                    if f.len > 0 {
                        out.push(f);
                    }
                }
                Ok(out)
            }
            Plan::Project { input, exprs } => {
                let wanted = prune::project(exprs, needed, input.column_types().len());
                let below = pass::project(exprs, filters);
                exec(x, input, &wanted, &below)
                    .await?
                    .iter()
                    .map(|b| project_needed(b, exprs, needed, env))
                    .collect()
            }
            Plan::Join {
                left,
                right,
                kind,
                on,
            } => {
                let (left_kinds, right_kinds) = (kinds(left)?, kinds(right)?);
                let (lw, rw) = (left_kinds.len(), right_kinds.len());
                let (wl, wr) = prune::join(*kind, on.as_ref(), needed, lw, rw);
                let (left, right) = join_inputs(x, plan, (&wl, &wr), filters).await?;
                let sides = Sides {
                    left,
                    right,
                    left_kinds,
                    right_kinds,
                };
                let width = sides.left_kinds.len();
                let cancelled = || x.check_cancel();
                match on {
                    Some(on) if !equi_keys(on, width).0.is_empty() => {
                        match prepare(sides, *kind, on, env, &cancelled)? {
                            Prepared::Done(out) => Ok(out),
                            Prepared::Probe(probe, batches) => {
                                probe_on_shards(x, probe, batches).await
                            }
                            Prepared::SemiByLeft(semi, right) => {
                                semi_on_shards(x, semi, right).await
                            }
                        }
                    }
                    _ => nested_loop(sides, on.as_ref(), env, &cancelled),
                }
            }
            Plan::Sort { input, keys } => {
                let width = input.column_types().len();
                let wanted = prune::sort(keys, needed);
                sort(
                    &exec(x, input, &wanted, filters).await?,
                    width,
                    keys,
                    None,
                    env,
                )
            }
            Plan::Limit {
                input,
                limit: count,
                offset,
            } => {
                let offset = limit_count(offset, "OFFSET", env)?.unwrap_or(0);
                let count = limit_count(count, "LIMIT", env)?.unwrap_or(usize::MAX);
                let rows = match input.as_ref() {
                    // Top-N: only the first offset + count rows need ordering.
                    Plan::Sort { input, keys } => {
                        let width = input.column_types().len();
                        let wanted = offset.saturating_add(count);
                        let columns = prune::sort(keys, needed);
                        sort(
                            &exec(x, input, &columns, &[]).await?,
                            width,
                            keys,
                            Some(wanted),
                            env,
                        )?
                    }
                    other => exec(x, other, needed, &[]).await?,
                };
                limit(rows, offset, count)
            }
            other => Err(EngineError::Internal(format!(
                "plan node reached the vectorized executor unsupported: {}",
                node_name(other)
            ))),
        }
    })
}

/// A join's two inputs' batches. With equi keys, the input that may filter the other runs
/// first, and when small its keys filter the other input at its scans (`pass`).
async fn join_inputs(
    x: &Executor,
    plan: &Plan,
    needed: (&[bool], &[bool]),
    filters: &[KeyFilter],
) -> Result<(Vec<Batch>, Vec<Batch>), EngineError> {
    let Plan::Join {
        left,
        right,
        kind,
        on,
    } = plan
    else {
        return Err(EngineError::Internal("join inputs of a non-join".into()));
    };
    let lw = left.column_types().len();
    let (mut fl, mut fr) = pass::join(*kind, lw, filters);
    let keys = on
        .as_ref()
        .map(|on| equi_keys(on, lw).0)
        .unwrap_or_default();
    if keys.is_empty() {
        let l = exec(x, left, needed.0, &fl).await?;
        return Ok((l, exec(x, right, needed.1, &fr).await?));
    }
    if pass::right_first(*kind) {
        let r = exec(x, right, needed.1, &fr).await?;
        let pairs: Vec<(usize, usize)> = keys.iter().map(|k| (k.1, k.0)).collect();
        if pass::may_filter_left(*kind) {
            fl.extend(key_filter(x, &r, &pairs)?);
        }
        Ok((exec(x, left, needed.0, &fl).await?, r))
    } else {
        let l = exec(x, left, needed.0, &fl).await?;
        if pass::may_filter_right(*kind) {
            fr.extend(key_filter(x, &l, &keys)?);
        }
        Ok((l, exec(x, right, needed.1, &fr).await?))
    }
}

/// The key filters `batches` make for the other input of their join, charged to the budget.
fn key_filter(
    x: &Executor,
    batches: &[Batch],
    pairs: &[(usize, usize)],
) -> Result<Vec<KeyFilter>, EngineError> {
    let filters = pass::from_side(batches, pairs);
    for f in &filters {
        x.env.memory.charge(f.keys.memory_size())?;
    }
    Ok(filters)
}

/// `exprs` over `b`, the ones not `needed` above left absent.
fn project_needed(
    b: &Batch,
    exprs: &[Expr],
    needed: &[bool],
    env: &EvalEnv,
) -> Result<Batch, EngineError> {
    let columns = exprs
        .iter()
        .zip(needed)
        .map(|(e, n)| {
            if *n {
                expr::eval(e, b, env)
            } else {
                Ok(Vector::Absent(b.len))
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Batch::new(columns, b.len))
}

fn node_name(plan: &Plan) -> &'static str {
    match plan {
        Plan::Scan { .. } => "scan",
        Plan::Filter { .. } => "filter",
        Plan::Project { .. } => "project",
        Plan::Aggregate { .. } => "aggregate",
        Plan::Join { .. } => "join",
        Plan::Sort { .. } => "sort",
        Plan::Limit { .. } => "limit",
        Plan::Shared { .. } => "shared",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::{Batch, COALESCE_ROWS, Vector, coalesce};
    use arrow_array::{Int64Array, StringArray};

    /// A batch of rows `from..to`: an integer column (NULL every 7th), a text column and an
    /// absent one.
    fn rows(from: i64, to: i64) -> Batch {
        let ints: Int64Array = (from..to).map(|i| (i % 7 != 0).then_some(i)).collect();
        let texts: StringArray = (from..to).map(|i| Some(format!("t{i}"))).collect();
        let len = (to - from) as usize;
        Batch::new(
            vec![
                Vector::Int64(ints),
                Vector::Text(texts),
                Vector::Absent(len),
            ],
            len,
        )
    }

    fn all_rows(batches: &[Batch]) -> Vec<Vec<String>> {
        batches
            .iter()
            .flat_map(|b| {
                (0..b.len).map(move |i| b.row(i).iter().map(|v| format!("{v:?}")).collect())
            })
            .collect()
    }

    /// Runs of small batches (and empty ones) are merged in order into batches of at least
    /// `COALESCE_ROWS` rows (the last may be smaller) with the same rows, NULLs and absent
    /// columns; batches that are large enough on average, and empty outputs, are left alone.
    #[test]
    fn small_batches_merge_in_order_and_large_ones_stay() {
        let mut small = Vec::new();
        let mut at = 0;
        for n in (0..3000).map(|i| [3, 0, 1, 17, 5][i % 5]) {
            small.push(rows(at, at + n));
            at += n;
        }
        let merged = coalesce(small.clone()).unwrap();
        assert_eq!(all_rows(&merged), all_rows(&small));
        let (last, full) = merged.split_last().unwrap();
        assert!(full.iter().all(|b| b.len >= COALESCE_ROWS));
        assert!(last.len > 0);
        assert!(
            merged
                .iter()
                .all(|b| matches!(b.columns[2], Vector::Absent(n) if n == b.len))
        );

        let large: Vec<Batch> = (0..4).map(|i| rows(i * 1000, i * 1000 + 900)).collect();
        assert_eq!(coalesce(large.clone()).unwrap().len(), large.len());
        let empty = vec![rows(0, 0), rows(5, 5)];
        assert_eq!(coalesce(empty).unwrap().len(), 2);
    }
}
