//! `SELECT … FOR UPDATE/SHARE` over one table: lock the rows the scan's filter matches (the same
//! row lock UPDATE takes, waiting out other holders), then run the rest of the plan — sort,
//! limit, projection — over exactly the rows locked, so the answer is the locked versions.
//!
//! Must never return a row it did not lock, nor lock a row whose transaction it did not mark as
//! touched (its lock would outlive the transaction).

use super::Row;
use super::dml::Touched;
use super::query::{Executor, fold_constants};
use crate::EngineError;
use omendb_planner::{Expr, Plan};

impl Executor {
    /// The rows of a locking query whose only table scan reads `plan`'s locked table.
    pub async fn run_locking_query(
        &self,
        plan: &Plan,
        touched: &mut Touched,
    ) -> Result<Vec<Row>, EngineError> {
        let mut plan = plan.clone();
        self.resolve_subqueries(&mut |visit| plan.exprs_mut(visit))
            .await?;
        plan.exprs_mut(&mut |e| fold_constants(e, &self.env));
        let Some(scan) = scan_mut(&mut plan) else {
            return Err(EngineError::Internal(
                "a locking query without its table scan".into(),
            ));
        };
        let Plan::Scan {
            table,
            filter,
            access,
        } = scan
        else {
            return Err(EngineError::Internal("scan_mut found no scan".into()));
        };
        let table = table.clone();
        let locked = self
            .lock_matching(&table, filter.as_ref(), access, touched)
            .await?;
        let types: Vec<_> = table.columns.iter().map(|c| c.ty).collect();
        let rows = locked
            .into_iter()
            .map(|(_, _, row)| {
                row.into_iter()
                    .zip(&types)
                    .map(|(value, &ty)| Expr::Literal { value, ty })
                    .collect()
            })
            .collect();
        // The locked rows stand in for the scan; the operators above it run unchanged.
        *scan = Plan::Values { rows, types };
        self.run(&plan).await
    }
}

/// The table scan under a locking query's filters, projections, sorts and limits.
fn scan_mut(plan: &mut Plan) -> Option<&mut Plan> {
    match plan {
        Plan::Scan { .. } => Some(plan),
        Plan::Filter { input, .. }
        | Plan::Project { input, .. }
        | Plan::Sort { input, .. }
        | Plan::Limit { input, .. } => scan_mut(input),
        _ => None,
    }
}
