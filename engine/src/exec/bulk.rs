//! The coordinator side of a bulk load (COPY into column segments): rows (already of the
//! columns' types: COPY's parser applies lengths and scales) checked for NOT NULL, routed to their shards, handed to the shards' loads (`copy::bulk`).
//!
//! Also INSERT … SELECT of many rows outside a transaction block.
//!
//! Must never be used inside an explicit transaction block: loaded rows stay invisible, even
//! to their own transaction, until it commits.

use super::Row;
use super::dml::{LockWait, Touched, check_not_null, prepare_row, shard_error, unique_violation};
use super::query::Executor;
use super::route::shard_of_row;
use crate::EngineError;
use crate::copy::bulk::{Refusal, bulk_add, bulk_begin, bulk_cut, bulk_write};
use omendb_planner::Plan;
use omendb_storage::schema::TableSchema;
use std::sync::Arc;

/// Rows from which an INSERT … SELECT outside a transaction block loads segments.
pub const BULK_INSERT_ROWS: usize = 10_000;

impl Executor {
    /// Add rows to the transaction's bulk load of `table`. Returns the count.
    pub async fn bulk_values(
        &self,
        table: &Arc<TableSchema>,
        rows: Vec<Row>,
        touched: &mut Touched,
    ) -> Result<usize, EngineError> {
        let shards = self.shard.count();
        let spread = self.env.engine.spread_shard();
        let mut by_shard: Vec<Vec<Row>> = (0..shards).map(|_| Vec::new()).collect();
        let n = rows.len();
        for row in rows {
            // COPY's parser hands over values of the columns' types, lengths and scales.
            check_not_null(table, &row, &self.env.tz)?;
            let s = shard_of_row(table, &row, shards).unwrap_or(spread);
            by_shard[s].push(row);
        }
        let sends = by_shard
            .into_iter()
            .enumerate()
            .filter(|(_, rows)| !rows.is_empty())
            .map(|(shard, rows)| {
                touched[shard] = true;
                self.add_on(table, shard, rows)
            })
            .collect();
        for r in crate::runtime::join_all(sends).await {
            r?;
        }
        Ok(n)
    }

    /// INSERT … SELECT outside a transaction block: a large result (at least
    /// `BULK_INSERT_ROWS`) loads column segments like COPY; a small one takes the row path.
    /// Returns the count.
    pub async fn insert_select_bulk(
        &self,
        table: &Arc<TableSchema>,
        source: &Plan,
        touched: &mut Touched,
    ) -> Result<usize, EngineError> {
        let rows = self.run_query(source).await?;
        if rows.len() < BULK_INSERT_ROWS {
            return self.insert_values(table, rows, touched).await;
        }
        let rows = rows
            .into_iter()
            .map(|r| prepare_row(table, r, &self.env.tz))
            .collect::<Result<Vec<_>, _>>()?;
        self.bulk_claim(table, touched).await?;
        let n = self.bulk_values(table, rows, touched).await?;
        self.bulk_finish(table, touched).await?;
        Ok(n)
    }

    /// One shard's part.
    async fn add_on(
        &self,
        table: &Arc<TableSchema>,
        shard: usize,
        mut rows: Vec<Row>,
    ) -> Result<(), EngineError> {
        let (t, writer) = (table.clone(), self.env.reader);
        let result = self
            .shard
            .run_on(shard, move |s| async move {
                bulk_add(s.state(), &t, &mut rows, writer)
            })
            .await
            .map_err(shard_error)?;
        match result {
            Ok(()) => Ok(()),
            Err(refusal) => Err(self.refused(table, refusal)),
        }
    }

    /// Begin the load on every shard, waiting while another transaction writes the table.
    pub async fn bulk_claim(
        &self,
        table: &Arc<TableSchema>,
        touched: &mut Touched,
    ) -> Result<(), EngineError> {
        let writer = self.env.reader;
        for (shard, touch) in touched.iter_mut().enumerate().take(self.shard.count()) {
            *touch = true;
            let lock_wait = LockWait::new(self);
            loop {
                let t = table.clone();
                let result = self
                    .shard
                    .run_on(shard, move |s| async move {
                        // The wait is armed in this job, so the holder's end cannot be missed.
                        bulk_begin(s.state(), &t, writer).map_err(|refusal| match refusal {
                            Refusal::Busy(holder) => Ok(s.state().when_ended(holder)),
                            other => Err(other),
                        })
                    })
                    .await
                    .map_err(shard_error)?;
                match result {
                    Ok(()) => break,
                    Err(Ok(ended)) => lock_wait.wait(self, table, ended).await?,
                    Err(Err(other)) => return Err(self.refused(table, other)),
                }
            }
        }
        Ok(())
    }

    /// Cut the loads' last segments and make their files durable, before the commit logs them.
    pub async fn bulk_finish(
        &self,
        table: &Arc<TableSchema>,
        touched: &Touched,
    ) -> Result<(), EngineError> {
        let writer = self.env.reader;
        let jobs = touched
            .iter()
            .enumerate()
            .filter(|(_, t)| **t)
            .map(|(shard, _)| {
                self.shard.run_on(shard, move |s| async move {
                    if let Err(refusal) = bulk_cut(s.state(), writer) {
                        return Ok(Err(refusal));
                    }
                    bulk_write(s.state(), writer).await.map(Ok)
                })
            })
            .collect();
        for r in crate::runtime::join_all(jobs).await {
            if let Err(refusal) = r.map_err(shard_error)?? {
                return Err(self.refused(table, refusal));
            }
        }
        Ok(())
    }

    /// Turn a refusal into the client's error. `Busy` comes only from `bulk_begin` (a claimed
    /// table keeps other writers out), so after the claim it is an engine bug, reported.
    fn refused(&self, table: &TableSchema, refusal: Refusal) -> EngineError {
        match refusal {
            Refusal::Busy(holder) => shard_error(format!(
                "transaction {holder} wrote \"{}\" during a bulk load",
                table.name
            )),
            Refusal::Duplicate(row) => match table.primary_key.as_ref() {
                Some(pk) => unique_violation(table, pk, &row, &self.env.tz),
                None => shard_error("duplicate without a key"),
            },
            Refusal::Segment(e) => shard_error(e),
            Refusal::Row(e) => shard_error(e),
            Refusal::Ended => shard_error("the bulk load ended"),
            Refusal::Internal(what) => shard_error(what),
        }
    }
}
