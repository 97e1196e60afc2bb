//! The shard side: a fragment (scan, filters, projections, optionally a partial aggregate) run
//! over this shard's partition of a table, batch by batch.
//!
//! Only the columns the fragment reads are materialised; rows are those visible to the
//! statement's reader. Runs synchronously inside the shard's borrow of the table: must never
//! await or reach another shard.

use super::aggregate::coded::{CodedGroups, Origin};
use super::aggregate::rows::All;
use super::aggregate::{AggSpec, AggState};
use super::dict_filter::{SegmentFilter, SplitFilter};
use super::flow::{Buffers, DENSE_FRACTION, Flow};
use super::key_filter::KeyFilter;
use crate::EngineError;
use crate::exec::eval::EvalEnv;
use crate::exec::fold;
use crate::exec::vector::build::VectorBuilder;
use crate::exec::vector::data::{BATCH_SIZE, Batch, Kind, Vector};
use crate::exec::vector::expr;
use crate::exec::vector::gather::take_batch;
use crate::exec::vector::segment::{may_match, vector_of};
use crate::shard::ShardState;
use omendb_planner::Expr;
use omendb_storage::row::ColdSegment;
use omendb_storage::schema::TableSchema;
use omendb_storage::segment::Column;
use omendb_storage::types::Value;
use std::sync::Arc;

/// One operator applied to the scan's batches, bottom-up.
#[derive(Debug, Clone)]
pub enum Step {
    Filter(Expr),
    Project(Vec<Expr>),
    /// A join's key filter (`key_filter`): rows whose key the join would not match go.
    Keys(KeyFilter),
}

/// What a shard runs for one scan of a plan.
#[derive(Debug, Clone)]
pub struct Fragment {
    pub table: Arc<TableSchema>,
    pub filter: Option<Expr>,
    pub steps: Vec<Step>,
    pub aggregate: Option<AggSpec>,
    /// The output columns read above the fragment, when it ends in neither a projection nor an
    /// aggregate (`None`: all); the others leave as absent vectors, never sliced or gathered.
    pub output: Option<Vec<bool>>,
}

impl Fragment {
    /// Whether no group of the aggregate spans shards: some group expression is the table's
    /// shard column itself (rows with equal values share a shard), so each shard can finish
    /// its own groups and the coordinator only concatenates them, in the order a merge would
    /// give (shard by shard, groups in first-seen order).
    pub fn groups_stay_on_shards(&self) -> bool {
        let (Some(spec), Some(shard_column)) = (&self.aggregate, self.table.shard_column()) else {
            return false;
        };
        spec.groups.iter().any(|g| {
            let Expr::Column { index, .. } = g else {
                return false;
            };
            // Follow the column back through the projections to the scanned table.
            let mut col = *index;
            for step in self.steps.iter().rev() {
                if let Step::Project(exprs) = step {
                    match exprs.get(col) {
                        Some(Expr::Column { index, .. }) => col = *index,
                        _ => return false,
                    }
                }
            }
            col == shard_column
        })
    }
}

/// A fragment's result on one shard.
pub enum Output {
    Batches(Vec<Batch>),
    Partial(Box<AggState>),
}

fn mark_columns(e: &Expr, needed: &mut [bool]) {
    e.walk(&mut |x| {
        if let Expr::Column { index, .. } = x
            && let Some(n) = needed.get_mut(*index)
        {
            *n = true;
        }
    });
}

/// The table columns the fragment reads (everything up to its first projection).
pub fn needed_columns(f: &Fragment) -> Vec<bool> {
    let width = f.table.columns.len();
    let mut needed = vec![false; width];
    if let Some(p) = &f.filter {
        mark_columns(p, &mut needed);
    }
    for step in &f.steps {
        match step {
            Step::Filter(p) => mark_columns(p, &mut needed),
            Step::Keys(f) => {
                if let Some(n) = needed.get_mut(f.column) {
                    *n = true;
                }
            }
            Step::Project(exprs) => {
                exprs.iter().for_each(|e| mark_columns(e, &mut needed));
                return needed;
            }
        }
    }
    match &f.aggregate {
        Some(spec) => {
            spec.groups
                .iter()
                .for_each(|e| mark_columns(e, &mut needed));
            for a in &spec.aggs {
                if let Some(e) = &a.arg {
                    mark_columns(e, &mut needed);
                }
            }
            needed
        }
        None => match &f.output {
            Some(output) => {
                needed.iter_mut().zip(output).for_each(|(n, o)| *n |= *o);
                needed
            }
            None => vec![true; width],
        },
    }
}

/// The batches flowing out of the scan, through the steps, into the output.
struct Pipeline<'a> {
    fragment: &'a Fragment,
    flow: Flow,
    env: &'a EvalEnv,
    batches: Vec<Batch>,
    partial: Option<AggState>,
    buffers: Buffers,
    /// The scan filter's conjuncts, for testing dictionary columns on their codes.
    split: Option<SplitFilter>,
    /// When the column tests leave nothing for the flow and the aggregate groups by table
    /// columns only: those columns, whose dictionary codes can give the groups.
    coded: Option<CodedScan>,
}

/// An aggregate over tested segment rows that may group by dictionary codes.
struct CodedScan {
    /// The table columns the aggregate groups by.
    groups: Vec<usize>,
    /// The table columns its arguments read (the only ones a batch needs then).
    args: Vec<bool>,
}

impl CodedScan {
    fn of(f: &Fragment, split: Option<&SplitFilter>) -> Option<CodedScan> {
        let spec = f.aggregate.as_ref()?;
        // Every step must be a key filter the tests apply.
        if split.map_or(0, SplitFilter::key_filters) != f.steps.len() {
            return None;
        }
        let groups = spec
            .groups
            .iter()
            .map(|g| match g {
                Expr::Column { index, .. } => Some(*index),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()?;
        let mut args = vec![false; f.table.columns.len()];
        for a in spec.aggs.iter().filter_map(|a| a.arg.as_ref()) {
            mark_columns(a, &mut args);
        }
        Some(CodedScan { groups, args })
    }
}

impl Pipeline<'_> {
    fn push(&mut self, batch: Batch) -> Result<(), EngineError> {
        self.push_from(batch, 0)
    }

    /// How many of the flow's first steps the column tests apply: the scan filter and the
    /// key filters right after it.
    fn tested_steps(&self) -> usize {
        usize::from(self.fragment.filter.is_some())
            + self.split.as_ref().map_or(0, SplitFilter::key_filters)
    }

    /// `skip`: the flow's first steps the scan already applied to `batch` (late
    /// materialisation in [`scan_segment`]), so the flow starts after them.
    fn push_from(&mut self, batch: Batch, skip: usize) -> Result<(), EngineError> {
        let ran = self
            .flow
            .run_from(skip, batch, self.env, &mut self.buffers)?;
        self.finish(ran)
    }

    /// `batch` of whose rows the first `skip` steps kept only `kept` (ascending, fewer than
    /// all).
    fn push_selected(
        &mut self,
        batch: Batch,
        kept: &[u32],
        skip: usize,
    ) -> Result<(), EngineError> {
        let ran = self
            .flow
            .run_selected(skip, batch, kept, self.env, &mut self.buffers)?;
        self.finish(ran)
    }

    /// Fold the segment rows `kept` (ascending, within `start..start + len`, past every step)
    /// into the aggregate, their groups found by dictionary codes.
    fn fold_coded(
        &mut self,
        columns: &[Column],
        start: usize,
        len: usize,
        kept: &mut [u32],
        groups: &mut CodedGroups<'_>,
    ) -> Result<(), EngineError> {
        let (Some(state), Some(coded)) = (self.partial.as_mut(), self.coded.as_ref()) else {
            return Err(EngineError::Internal(
                "coded groups without an aggregate".into(),
            ));
        };
        let args = &|i: usize| coded.args[i];
        if kept.is_empty() {
            return Ok(());
        }
        if kept.len() == len {
            let batch = read_range(columns, args, start, len)?;
            return state.update_coded(&batch, self.env, All(len), Origin::Range(start), groups);
        }
        let skip = usize::from(self.fragment.filter.is_some()) + self.fragment.steps.len();
        if kept.len() * DENSE_FRACTION >= len && self.flow.infallible_after(skip) {
            let batch = read_range(columns, args, start, len)?;
            let base = start as u32;
            kept.iter_mut().for_each(|r| *r -= base);
            return state.update_coded(&batch, self.env, &*kept, Origin::Range(start), groups);
        }
        let batch = read_rows(columns, args, start, len, kept)?;
        state.update_coded(
            &batch,
            self.env,
            All(kept.len()),
            Origin::Rows(kept),
            groups,
        )
    }

    /// Hand what the flow left of a batch to the aggregate or the output.
    fn finish(&mut self, ran: Option<(Batch, bool)>) -> Result<(), EngineError> {
        let Some((b, carried)) = ran else {
            return Ok(());
        };
        let selection = carried.then_some(self.buffers.selection.as_slice());
        match (&mut self.partial, &self.fragment.aggregate) {
            (Some(state), Some(spec)) => state.update(spec, &b, self.env, selection),
            _ => {
                let mut b = b;
                // Columns only the filter read leave as absent: neither gathered here nor
                // copied again by the joins and concatenations above (Q13's o_comment).
                if let Some(output) = &self.fragment.output
                    && output.len() == b.columns.len()
                {
                    for (v, &read) in b.columns.iter_mut().zip(output) {
                        if !read && !matches!(v, Vector::Absent(_)) {
                            *v = Vector::Absent(v.len());
                        }
                    }
                }
                self.batches.push(match selection {
                    Some(s) => take_batch(&b, s)?,
                    None => b,
                });
                Ok(())
            }
        }
    }
}

/// The fragment's scan filter and steps as one flow, ending in its aggregate or its output.
fn flow_of(f: &Fragment) -> Flow {
    let steps = f
        .filter
        .iter()
        .map(|p| Step::Filter(p.clone()))
        .chain(f.steps.iter().cloned())
        .collect();
    let tail = f.aggregate.as_ref().map(|spec| {
        spec.groups
            .iter()
            .chain(spec.aggs.iter().filter_map(|a| a.arg.as_ref()))
            .collect()
    });
    Flow::new(steps, tail, f.table.columns.len())
}

/// Accumulates rows into the needed columns' builders.
struct Scanner {
    /// (table column, builder) for the needed columns.
    builders: Vec<(usize, VectorBuilder)>,
    kinds: Vec<(usize, Kind)>,
    width: usize,
    rows: usize,
}

impl Scanner {
    fn new(table: &TableSchema, needed: &[bool]) -> Result<Scanner, EngineError> {
        let mut kinds = Vec::new();
        for (i, c) in table.columns.iter().enumerate() {
            if needed[i] {
                let kind = Kind::of(c.ty).ok_or_else(|| {
                    EngineError::Internal(format!("column {} has no vector kind", c.name))
                })?;
                kinds.push((i, kind));
            }
        }
        let mut s = Scanner {
            builders: Vec::new(),
            kinds,
            width: table.columns.len(),
            rows: 0,
        };
        s.reset();
        Ok(s)
    }

    fn reset(&mut self) {
        self.builders = self
            .kinds
            .iter()
            .map(|(i, k)| (*i, VectorBuilder::new(*k, BATCH_SIZE)))
            .collect();
        self.rows = 0;
    }

    fn push(&mut self, row: &[Value]) -> Result<(), EngineError> {
        for (i, b) in &mut self.builders {
            b.push(&row[*i])?;
        }
        self.rows += 1;
        Ok(())
    }

    fn take(&mut self) -> Result<Batch, EngineError> {
        let len = self.rows;
        let builders = std::mem::take(&mut self.builders);
        self.reset();
        let mut columns: Vec<Vector> = (0..self.width).map(|_| Vector::Absent(len)).collect();
        for (i, b) in builders {
            columns[i] = b.finish()?;
        }
        Ok(Batch::new(columns, len))
    }
}

/// Push a segment's live rows through the pipeline, unless its zone maps rule the fragment's
/// filter out. With a filter, only the filter's columns are read for every row; the other
/// columns are read for the rows it keeps (late materialisation: a dictionary column is not
/// expanded, nor a 64-bit numeric widened, for rows the filter drops). Without one, batches
/// are zero-copy slices where the representations agree.
fn scan_segment(
    c: &ColdSegment,
    needed: &[bool],
    pipeline: &mut Pipeline<'_>,
) -> Result<(), EngineError> {
    let segment = &c.segment;
    let filter = pipeline.fragment.filter.as_ref();
    if let Some(f) = filter
        && !may_match(f, segment.zones())
    {
        return Ok(());
    }
    let mut in_filter = vec![false; needed.len()];
    if let Some(f) = filter {
        mark_columns(f, &mut in_filter);
    }
    let columns = segment.columns();
    if let Some(bound) = pipeline
        .split
        .as_ref()
        .and_then(|split| split.bind(columns, needed.len(), pipeline.env))
        && !bound.tests.is_empty()
    {
        return scan_segment_by_tests(c, needed, &bound, pipeline);
    }
    let rows = segment.rows();
    let mut live = Vec::new();
    let mut kept = Vec::new();
    let mut selected = Vec::with_capacity(BATCH_SIZE);
    let mut start = 0;
    while start < rows {
        let len = BATCH_SIZE.min(rows - start);
        let read = |wanted: &dyn Fn(usize) -> bool| read_range(columns, wanted, start, len);
        let has_deletes = c.deletes.count() > 0;
        if has_deletes {
            live.clear();
            live.extend((0..len as u32).filter(|&i| !c.deletes.is_deleted(start as u32 + i)));
        }
        let Some(f) = filter else {
            let mut batch = read(&|i| needed[i])?;
            if has_deletes && live.len() < len {
                batch = take_batch(&batch, &live)?;
            }
            if batch.len > 0 {
                pipeline.push(batch)?;
            }
            start += len;
            continue;
        };
        let mut narrow = read(&|i| needed[i] && in_filter[i])?;
        if has_deletes && live.len() < len {
            narrow = take_batch(&narrow, &live)?;
        }
        let selection = &mut selected;
        expr::select(f, &narrow, pipeline.env, selection)?;
        if selection.is_empty() {
            start += len;
            continue;
        }
        if selection.len() * DENSE_FRACTION >= narrow.len && selection.len() < len {
            // Most rows kept: the flow carries a selection over zero-copy slices instead.
            let mut batch = read(&|i| needed[i])?;
            if has_deletes && live.len() < len {
                batch = take_batch(&batch, &live)?;
            }
            pipeline.push(batch)?;
            start += len;
            continue;
        }
        let batch = if selection.len() == len {
            // Every row kept (and none deleted): the other columns as slices too.
            read(&|i| needed[i])?
        } else {
            // Segment rows of the kept rows.
            kept.clear();
            kept.extend(selection.iter().map(|&s| {
                let row = if has_deletes && live.len() < len {
                    live[s as usize]
                } else {
                    s
                };
                start as u32 + row
            }));
            let narrow = take_batch(&narrow, selection)?;
            let vectors = narrow
                .columns
                .into_iter()
                .enumerate()
                .map(|(i, v)| {
                    if needed[i] && !in_filter[i] {
                        rows_of(&columns[i], &kept)
                    } else {
                        Ok(v)
                    }
                })
                .collect::<Result<Vec<_>, _>>()?;
            Batch::new(vectors, kept.len())
        };
        pipeline.push_from(batch, 1)?;
        start += len;
    }
    Ok(())
}

/// [`scan_segment`] for a filter with conjuncts tested on stored columns (dictionary codes,
/// raw ranges): those pick the candidate rows without building a vector, the remaining
/// conjuncts run over the candidates only, and the needed columns are read for the survivors.
fn scan_segment_by_tests(
    c: &ColdSegment,
    needed: &[bool],
    filter: &SegmentFilter<'_>,
    pipeline: &mut Pipeline<'_>,
) -> Result<(), EngineError> {
    let columns = c.segment.columns();
    let rows = c.segment.rows();
    let mut in_rest = vec![false; needed.len()];
    if let Some(rest) = &filter.rest {
        mark_columns(rest, &mut in_rest);
    }
    let has_deletes = c.deletes.count() > 0;
    let skip = pipeline.tested_steps();
    let mut coded = pipeline
        .coded
        .as_ref()
        .and_then(|g| CodedGroups::new(columns, &g.groups));
    let mut kept = Vec::with_capacity(BATCH_SIZE);
    let mut survivors = Vec::with_capacity(BATCH_SIZE);
    let mut selection = Vec::with_capacity(BATCH_SIZE);
    // Few survivors per window are gathered together, from several windows at once: a
    // selective key filter kept ~60 of each 2,048 rows of TPC-H Q5's lineitem scan, and the
    // 2,940 tiny batches cost more per batch above the scan (and to merge) than per row.
    let mut sparse = Sparse {
        rows: Vec::with_capacity(BATCH_SIZE),
        from: 0,
    };
    let mut start = 0;
    while start < rows {
        let len = BATCH_SIZE.min(rows - start);
        let (first, others) = filter
            .tests
            .split_first()
            .ok_or_else(|| EngineError::Internal("no column test to scan by".into()))?;
        first.collect(start, len, &mut kept);
        for t in others {
            if kept.is_empty() {
                break;
            }
            t.retain(&mut kept);
        }
        if has_deletes {
            kept.retain(|&r| !c.deletes.is_deleted(r));
        }
        if let (Some(rest), false) = (&filter.rest, kept.is_empty()) {
            let narrow = read_rows(columns, &|i| in_rest[i], start, len, &kept)?;
            expr::select(rest, &narrow, pipeline.env, &mut selection)?;
            if selection.len() < kept.len() {
                survivors.clear();
                survivors.extend(selection.iter().map(|&s| kept[s as usize]));
                std::mem::swap(&mut kept, &mut survivors);
            }
        }
        if let Some(groups) = coded.as_mut() {
            pipeline.fold_coded(columns, start, len, &mut kept, groups)?;
        } else if kept.len() * DENSE_FRACTION >= len {
            // The sparse rows held go first, so the scan still yields rows in segment order.
            sparse.flush(columns, needed, start, pipeline, skip)?;
            if kept.len() == len {
                pipeline.push_from(read_range(columns, &|i| needed[i], start, len)?, skip)?;
            } else {
                // Most rows kept: zero-copy slices with the kept rows as a selection, instead
                // of gathering every column.
                let batch = read_range(columns, &|i| needed[i], start, len)?;
                let base = start as u32;
                kept.iter_mut().for_each(|r| *r -= base);
                pipeline.push_selected(batch, &kept, skip)?;
            }
        } else if !kept.is_empty() {
            if sparse.rows.is_empty() {
                sparse.from = start;
            }
            sparse.rows.extend_from_slice(&kept);
            if sparse.rows.len() >= BATCH_SIZE {
                sparse.flush(columns, needed, start + len, pipeline, skip)?;
            }
        }
        start += len;
    }
    sparse.flush(columns, needed, rows, pipeline, skip)
}

/// Segment rows kept by a scan's tests, not yet read: ascending, from row `from` on.
struct Sparse {
    rows: Vec<u32>,
    from: usize,
}

impl Sparse {
    /// Read the `needed` columns of the held rows (all below `to`) and pass them on.
    fn flush(
        &mut self,
        columns: &[Column],
        needed: &[bool],
        to: usize,
        pipeline: &mut Pipeline<'_>,
        skip: usize,
    ) -> Result<(), EngineError> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let len = to.saturating_sub(self.from);
        let batch = read_rows(columns, &|i| needed[i], self.from, len, &self.rows)?;
        self.rows.clear();
        pipeline.push_from(batch, skip)
    }
}

/// The `wanted` columns of segment rows `rows` (ascending, within `start..start + len`): zero-
/// copy slices when every row of the range is there, gathered otherwise.
fn read_rows(
    columns: &[Column],
    wanted: &dyn Fn(usize) -> bool,
    start: usize,
    len: usize,
    rows: &[u32],
) -> Result<Batch, EngineError> {
    if rows.len() == len {
        return read_range(columns, wanted, start, len);
    }
    let vectors = columns
        .iter()
        .enumerate()
        .map(|(i, col)| match wanted(i) {
            false => Ok(Vector::Absent(rows.len())),
            true => rows_of(col, rows),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Batch::new(vectors, rows.len()))
}

/// The `wanted` columns of segment rows `start..start + len`, as zero-copy slices where the
/// representations agree.
fn read_range(
    columns: &[Column],
    wanted: &dyn Fn(usize) -> bool,
    start: usize,
    len: usize,
) -> Result<Batch, EngineError> {
    let vectors = columns
        .iter()
        .enumerate()
        .map(|(i, col)| match wanted(i) {
            false => Ok(Vector::Absent(len)),
            true => vector_of(col, start, len),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Batch::new(vectors, len))
}

/// The segment rows `rows` (ascending) of one column as a vector.
fn rows_of(col: &Column, rows: &[u32]) -> Result<Vector, EngineError> {
    let taken = col
        .take(rows)
        .ok_or_else(|| EngineError::Internal("segment rows out of range".into()))?;
    vector_of(&taken, 0, rows.len())
}

/// The key filters the fragment's steps start with: the scan can test them with its filter.
fn leading_keys(f: &Fragment) -> Vec<KeyFilter> {
    f.steps
        .iter()
        .map_while(|s| match s {
            Step::Keys(k) => Some(k.clone()),
            _ => None,
        })
        .collect()
}

/// Run `fragment` over this shard's rows of its table (one row when `key` names it).
pub fn run_fragment(
    shard: &ShardState,
    fragment: &Fragment,
    key: Option<&[u8]>,
    env: &EvalEnv,
) -> Result<Output, EngineError> {
    let folded;
    let fragment = match key {
        None if fragment.filter.as_ref().is_some_and(fold::folds) => {
            folded = Fragment {
                filter: fragment.filter.as_ref().map(|f| fold::fold(f, env)),
                ..fragment.clone()
            };
            &folded
        }
        _ => fragment,
    };
    let needed = needed_columns(fragment);
    let mut scanner = Scanner::new(&fragment.table, &needed)?;
    let split = Some(SplitFilter::new(
        fragment.filter.as_ref(),
        leading_keys(fragment),
    ))
    .filter(SplitFilter::has_column_tests);
    let mut pipeline = Pipeline {
        coded: CodedScan::of(fragment, split.as_ref()),
        fragment,
        flow: flow_of(fragment),
        env,
        batches: Vec::new(),
        partial: fragment.aggregate.as_ref().map(AggState::new).transpose()?,
        buffers: Buffers::default(),
        split,
    };
    shard.with_table(&fragment.table, |t| -> Result<(), EngineError> {
        if key.is_none() {
            for c in t.cold().segments() {
                if c.since <= env.snapshot {
                    scan_segment(c, &needed, &mut pipeline)?;
                }
            }
        }
        let mut error = None;
        let mut visit = |row: &[Value]| -> bool {
            let step = scanner.push(row).and_then(|()| {
                if scanner.rows == BATCH_SIZE {
                    pipeline.push(scanner.take()?)?;
                }
                Ok(())
            });
            match step {
                Ok(()) => true,
                Err(e) => {
                    error = Some(e);
                    false
                }
            }
        };
        match key {
            Some(k) => {
                if let Some(id) = t.lookup(k, env.view())
                    && let Some(row) = t.get(id, env.view())
                {
                    visit(row);
                }
            }
            None => t.scan_hot(env.view(), |_, row| visit(row)),
        }
        if let Some(e) = error {
            return Err(e);
        }
        if scanner.rows > 0 {
            pipeline.push(scanner.take()?)?;
        }
        Ok(())
    })?;
    Ok(match (pipeline.partial, &fragment.aggregate) {
        (Some(state), Some(spec)) if fragment.groups_stay_on_shards() => {
            Output::Batches(state.finish(spec)?)
        }
        (Some(state), _) => Output::Partial(Box::new(state)),
        (None, _) => Output::Batches(pipeline.batches),
    })
}
