//! Hash aggregation over batches: each row's group found in [`groups`] (packed integer keys
//! where the group columns allow, byte keys otherwise), accumulators ([`acc`]) kept
//! column-wise per group. A shard aggregates its own rows (partial state) and the coordinator
//! merges the shards' states, then finishes them with the row executor's result rules into
//! batches, column by column.

mod acc;
pub mod coded;
mod groups;
mod packed;
pub mod rows;

use crate::EngineError;
use crate::exec::eval::EvalEnv;
use crate::exec::memory::{CHARGE_EVERY_ROWS, MemoryBudget};
use crate::exec::vector::build::VectorBuilder;
use crate::exec::vector::data::{BATCH_SIZE, Batch, Kind, Vector};
use crate::exec::vector::expr::{self, supported};
use acc::Acc;
use coded::{CodedGroups, Origin};
use groups::Groups;
use omendb_planner::{AggCall, AggFunc, Expr};
use omendb_storage::types::DataType;
use rows::{All, Rows};

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

/// Groups and their accumulators: a shard's partial result or the coordinator's merged one.
#[derive(Debug)]
pub struct AggState {
    groups: Groups,
    /// The group columns' kinds.
    kinds: Vec<Kind>,
    /// One accumulator per distinct state the calls need (`sum(x)` and `avg(x)` share one).
    accs: Vec<Acc>,
    /// Each accumulator's argument (`None` for `count(*)`).
    acc_args: Vec<Option<Expr>>,
    /// The accumulator of each call.
    acc_of: Vec<usize>,
    /// Group ids of the batch being folded in.
    gids: Vec<u32>,
    /// Groups already charged to the statement's memory budget.
    charged_groups: usize,
}

/// Bytes per group besides its key: a guess of eight bytes of accumulator state per aggregate.
const ACC_BYTES_PER_GROUP: usize = 8;

fn kind_of(ty: DataType) -> Result<Kind, EngineError> {
    Kind::of(ty).ok_or_else(|| EngineError::Internal(format!("no vector kind for {ty}")))
}

impl AggState {
    pub fn new(spec: &AggSpec) -> Result<AggState, EngineError> {
        let kinds = spec
            .groups
            .iter()
            .map(|g| kind_of(g.ty()))
            .collect::<Result<Vec<_>, _>>()?;
        let mut accs = Vec::new();
        let mut acc_args: Vec<Option<Expr>> = Vec::new();
        let mut owners: Vec<&AggCall> = Vec::new();
        let mut acc_of = Vec::with_capacity(spec.aggs.len());
        for call in &spec.aggs {
            let shared = owners.iter().position(|o| Acc::shares_state(o, call));
            acc_of.push(shared.unwrap_or_else(|| {
                accs.push(Acc::new(call));
                acc_args.push(call.arg.clone());
                owners.push(call);
                accs.len() - 1
            }));
        }
        Ok(AggState {
            groups: Groups::new(&kinds),
            kinds,
            accs,
            acc_args,
            acc_of,
            gids: Vec::new(),
            charged_groups: 0,
        })
    }

    /// Charge the groups created since the last charge, once enough have piled up; each is
    /// sized like the newest one.
    pub fn charge_groups(&mut self, budget: &MemoryBudget) -> Result<(), EngineError> {
        let groups = self.groups.len();
        if groups < self.charged_groups + CHARGE_EVERY_ROWS {
            return Ok(());
        }
        let group = self.groups.newest_group_bytes() + ACC_BYTES_PER_GROUP * self.accs.len();
        budget.charge(group * (groups - self.charged_groups))?;
        self.charged_groups = groups;
        Ok(())
    }

    /// Fold one input batch in: all its rows, or only `selection` (ascending row numbers).
    pub fn update(
        &mut self,
        spec: &AggSpec,
        batch: &Batch,
        env: &EvalEnv,
        selection: Option<&[u32]>,
    ) -> Result<(), EngineError> {
        match selection {
            None => self.update_rows(spec, batch, env, All(batch.len)),
            Some(sel) => self.update_rows(spec, batch, env, sel),
        }
    }

    fn update_rows<R: Rows>(
        &mut self,
        spec: &AggSpec,
        batch: &Batch,
        env: &EvalEnv,
        rows: R,
    ) -> Result<(), EngineError> {
        let exprs: Vec<&Expr> = spec
            .groups
            .iter()
            .chain(self.acc_args.iter().flatten())
            .collect();
        let vectors = expr::eval_shared(&exprs, batch, env)?;
        let (group_vectors, args) = vectors.split_at(spec.groups.len());
        let cols: Vec<&Vector> = group_vectors.iter().collect();
        self.groups
            .assign(&cols, batch.len, rows, &mut self.gids, &self.kinds)?;
        self.fold_args(args, rows)
    }

    /// [`AggState::update`] for a batch of segment rows (from `origin`) whose groups are
    /// found by their dictionary codes (`coded`); the batch's group columns are not read.
    pub fn update_coded<R: Rows>(
        &mut self,
        batch: &Batch,
        env: &EvalEnv,
        rows: R,
        origin: Origin<'_>,
        coded: &mut CodedGroups<'_>,
    ) -> Result<(), EngineError> {
        let exprs: Vec<&Expr> = self.acc_args.iter().flatten().collect();
        let args = expr::eval_shared(&exprs, batch, env)?;
        coded.assign(&mut self.groups, &self.kinds, origin, rows, &mut self.gids)?;
        self.fold_args(&args, rows)
    }

    /// Fold the accumulators' evaluated arguments in, by the group ids in `self.gids`.
    fn fold_args<R: Rows>(&mut self, args: &[Vector], rows: R) -> Result<(), EngineError> {
        let mut args = args;
        let groups = self.groups.len();
        for (acc, arg_expr) in self.accs.iter_mut().zip(&self.acc_args) {
            acc.grow(groups);
            let arg = match arg_expr {
                Some(_) => {
                    let (first, rest) = args.split_first().ok_or_else(|| {
                        EngineError::Internal("aggregate argument missing".into())
                    })?;
                    args = rest;
                    Some(first)
                }
                None => None,
            };
            acc.update(&self.gids, arg, rows)?;
        }
        Ok(())
    }

    /// Fold another state (another shard's partial result) in.
    pub fn merge(&mut self, other: AggState) -> Result<(), EngineError> {
        let map = self.groups.absorb(other.groups, &self.kinds)?;
        let groups = self.groups.len();
        for (acc, theirs) in self.accs.iter_mut().zip(&other.accs) {
            acc.grow(groups);
            for (from, &to) in map.iter().enumerate() {
                acc.merge(to as usize, theirs, from)?;
            }
        }
        Ok(())
    }

    /// One row per group, as batches: the group values, then the aggregates. Without GROUP BY
    /// there is always exactly one row.
    pub fn finish(mut self, spec: &AggSpec) -> Result<Vec<Batch>, EngineError> {
        self.groups.ensure_single();
        let groups = self.groups.len();
        let mut columns = self.groups.columns(&self.kinds)?;
        for acc in &mut self.accs {
            acc.grow(groups);
        }
        for (call, &a) in spec.aggs.iter().zip(&self.acc_of) {
            if let Some(v) = self.accs[a].finish_fast(call, groups)? {
                columns.push(v);
                continue;
            }
            let mut b = VectorBuilder::new(kind_of(call.ty)?, groups);
            for g in 0..groups {
                b.push(&self.accs[a].finish(g, call)?)?;
            }
            columns.push(b.finish()?);
        }
        let whole = Batch::new(columns, groups);
        Ok((0..groups)
            .step_by(BATCH_SIZE)
            .map(|start| whole.slice(start, BATCH_SIZE.min(groups - start)))
            .collect())
    }
}
