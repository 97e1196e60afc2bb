//! The shard side: a fragment (scan, filters, projections, optionally a partial aggregate) run
//! over this shard's partition of a table, batch by batch.
//!
//! Only the columns the fragment reads are materialised; rows are those visible to the
//! statement's reader. Runs synchronously inside the shard's borrow of the table: must never
//! await or reach another shard.

use super::aggregate::{AggSpec, AggState};
use super::key_filter::KeyFilter;
use super::{filter, project};
use crate::EngineError;
use crate::exec::eval::EvalEnv;
use crate::exec::vector::build::VectorBuilder;
use crate::exec::vector::data::{BATCH_SIZE, Batch, Kind, Vector};
use crate::exec::vector::gather::take_batch;
use crate::exec::vector::segment::{may_match, vector_of};
use crate::shard::ShardState;
use omendb_planner::Expr;
use omendb_storage::row::ColdSegment;
use omendb_storage::schema::TableSchema;
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

/// A fragment's result on one shard.
pub enum Output {
    Batches(Vec<Batch>),
    Partial(AggState),
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
    env: &'a EvalEnv,
    batches: Vec<Batch>,
    partial: Option<AggState>,
    selection: Vec<u32>,
    gids: Vec<u32>,
}

impl Pipeline<'_> {
    fn push(&mut self, batch: Batch) -> Result<(), EngineError> {
        let mut b = batch;
        if let Some(p) = &self.fragment.filter {
            b = filter(b, p, self.env, &mut self.selection)?;
        }
        for step in &self.fragment.steps {
            if b.len == 0 {
                return Ok(());
            }
            b = match step {
                Step::Filter(p) => filter(b, p, self.env, &mut self.selection)?,
                Step::Project(exprs) => project(&b, exprs, self.env)?,
                Step::Keys(f) => f.apply(b, &mut self.selection)?,
            };
        }
        if b.len == 0 {
            return Ok(());
        }
        match (&mut self.partial, &self.fragment.aggregate) {
            (Some(state), Some(spec)) => state.update(spec, &b, self.env, &mut self.gids),
            _ => {
                self.batches.push(b);
                Ok(())
            }
        }
    }
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

/// Push a segment's live rows through the pipeline as zero-copy batches, unless its zone
/// maps rule the fragment's filter out.
fn scan_segment(
    c: &ColdSegment,
    needed: &[bool],
    pipeline: &mut Pipeline<'_>,
) -> Result<(), EngineError> {
    let segment = &c.segment;
    if let Some(f) = &pipeline.fragment.filter
        && !may_match(f, segment.zones())
    {
        return Ok(());
    }
    let columns = segment.columns();
    let rows = segment.rows();
    let mut live = Vec::new();
    let mut start = 0;
    while start < rows {
        let len = BATCH_SIZE.min(rows - start);
        let vectors = needed
            .iter()
            .zip(columns)
            .map(|(&n, col)| {
                if n {
                    vector_of(col, start, len)
                } else {
                    Ok(Vector::Absent(len))
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut batch = Batch::new(vectors, len);
        if c.deletes.count() > 0 {
            live.clear();
            live.extend((0..len as u32).filter(|&i| !c.deletes.is_deleted(start as u32 + i)));
            if live.len() < len {
                batch = take_batch(&batch, &live)?;
            }
        }
        if batch.len > 0 {
            pipeline.push(batch)?;
        }
        start += len;
    }
    Ok(())
}

/// Run `fragment` over this shard's rows of its table (one row when `key` names it).
pub fn run_fragment(
    shard: &ShardState,
    fragment: &Fragment,
    key: Option<&[u8]>,
    env: &EvalEnv,
) -> Result<Output, EngineError> {
    let needed = needed_columns(fragment);
    let mut scanner = Scanner::new(&fragment.table, &needed)?;
    let mut pipeline = Pipeline {
        fragment,
        env,
        batches: Vec::new(),
        partial: fragment.aggregate.as_ref().map(AggState::new),
        selection: Vec::with_capacity(BATCH_SIZE),
        gids: Vec::with_capacity(BATCH_SIZE),
    };
    shard.with_table(&fragment.table, |t| -> Result<(), EngineError> {
        if key.is_none() {
            for c in t.cold().segments() {
                scan_segment(c, &needed, &mut pipeline)?;
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
                if let Some(id) = t.lookup(k, env.reader)
                    && let Some(row) = t.get(id, env.reader)
                {
                    visit(row);
                }
            }
            None => t.scan_hot(env.reader, |_, row| visit(row)),
        }
        if let Some(e) = error {
            return Err(e);
        }
        if scanner.rows > 0 {
            pipeline.push(scanner.take()?)?;
        }
        Ok(())
    })?;
    Ok(match pipeline.partial {
        Some(state) => Output::Partial(state),
        None => Output::Batches(pipeline.batches),
    })
}
