//! `INSERT … ON CONFLICT DO NOTHING | DO UPDATE`, row by row, with PostgreSQL's rules.
//!
//! For each proposed row: probe the arbiter constraints (the primary key on the row's shard,
//! unique keys on the shards that own them). A key another transaction holds makes the row
//! wait for that transaction and probe again (READ COMMITTED: a concurrent inserter of the
//! same key is waited for, then its row is the conflict). No conflict: the row is inserted,
//! unique keys first; if another inserter took a key between the probe and the insert, what
//! this row reserved is given back and the row is probed again (PostgreSQL's speculative
//! insertion). A conflict: `DO NOTHING` skips the row; `DO UPDATE` locks the existing row's
//! newest version (under REPEATABLE READ one changed after the snapshot is 40001), evaluates
//! `WHERE` and `SET` over (existing row, proposed row) and writes it like UPDATE. A row this
//! statement already inserted or updated cannot be updated again (21000).
//!
//! Must never leave a key reserved for a row that was not inserted.

use super::Row;
use super::dml::{
    LockWait, Refused, Touched, Write, constraint_id, insert_one_on_shard, key_changes,
    prepare_row, primary_key_changed, refused, shard_error, unique_key, unique_violation,
};
use super::eval::{eval, eval_predicate};
use super::query::Executor;
use super::route::shard_of_row;
use crate::EngineError;
use crate::runtime::event::Awaited;
use crate::shard::{Savepoints, ShardState};
use omendb_planner::Plan;
use omendb_planner::plan::{Arbiter, ConflictAction, OnConflict};
use omendb_storage::row::key::encode_value;
use omendb_storage::row::{Lock, ReadView, RowError, RowId, SavedIntent, WriterId};
use omendb_storage::schema::{TableSchema, UniqueConstraint};
use omendb_storage::types::Value;
use std::sync::Arc;
use std::time::Duration;

/// How long a row whose conflicting row is not yet visible (its multi-shard commit is being
/// applied) waits before it probes again.
const REPROBE_PAUSE: Duration = Duration::from_millis(1);
/// Probes a row may repeat without waiting for anyone (10 s at the pause when the
/// conflicting row is not found): past it, the keys and the rows disagree (`disagree`).
const MAX_REPROBES: u32 = 10_000;

/// A row kept finding a conflict that was not there (or the reverse) without waiting for
/// anyone: the keys and the rows disagree, an engine bug, reported rather than looping.
fn disagree(table: &TableSchema) -> EngineError {
    EngineError::Internal(format!(
        "ON CONFLICT: the keys of \"{}\" and its rows disagree",
        table.name
    ))
}

/// What probing the arbiters found.
enum Probe {
    Free,
    Conflict(Arbiter),
    Wait(Awaited),
}

/// How inserting a probed-free row ended.
enum Inserted {
    Done(usize, RowId),
    /// Another inserter got a key first: probe again.
    Raced,
    Wait(Awaited),
}

/// How updating a conflicting row ended.
enum Updated {
    Row(Row),
    /// `DO UPDATE … WHERE` was false: the row stays as it was (and locked).
    Skipped,
    /// The conflicting row went away: probe again.
    Gone,
    Wait(Awaited),
}

/// What locking the conflicting row found, on its shard.
enum Found {
    Row(RowId, Row),
    Gone,
    Wait(Awaited),
    /// REPEATABLE READ: the row changed after the snapshot (40001).
    Changed,
}

/// A statement's rows inserted or updated so far, by `identity`.
type Affected = std::collections::HashSet<Vec<u8>>;

/// What makes a row the same row within one statement: its primary key (which DO UPDATE may
/// change: the row then goes by its new key), or for a table without one, where it is stored.
fn identity(table: &TableSchema, shard: usize, id: RowId, row: &[Value]) -> Vec<u8> {
    let mut out = Vec::new();
    match table.primary_key.as_ref() {
        Some(pk) => pk
            .columns
            .iter()
            .for_each(|&c| encode_value(&row[c], &mut out)),
        None => {
            out.extend_from_slice(&(shard as u64).to_be_bytes());
            out.extend_from_slice(&id.to_be_bytes());
        }
    }
    out
}

impl Executor {
    /// INSERT … ON CONFLICT: returns the rows inserted or updated (for RETURNING and the count).
    pub async fn insert_on_conflict(
        &self,
        table: &Arc<TableSchema>,
        source: &Plan,
        on: &OnConflict,
        touched: &mut Touched,
    ) -> Result<Vec<Row>, EngineError> {
        let rows = self.run_query(source).await?;
        let mut out = Vec::new();
        let mut affected = Affected::new();
        for row in rows {
            self.check_cancel()?;
            let row = prepare_row(table, row, &self.env.tz)?;
            if let Some(r) = self
                .upsert_row(table, on, row, &mut affected, touched)
                .await?
            {
                out.push(r);
            }
        }
        Ok(out)
    }

    async fn upsert_row(
        &self,
        table: &Arc<TableSchema>,
        on: &OnConflict,
        row: Row,
        affected: &mut Affected,
        touched: &mut Touched,
    ) -> Result<Option<Row>, EngineError> {
        let lock_wait = LockWait::new(self);
        let mut reprobes = 0;
        // Without UNIQUE constraints the only arbiter is the primary key, and inserting the
        // row is one shard job that either succeeds or finds the conflict: no probe first.
        let insert_first = table.unique.is_empty();
        loop {
            self.check_cancel()?;
            let probe = if insert_first {
                match self.insert_one(table, on, &row, touched).await? {
                    Inserted::Done(shard, id) => {
                        affected.insert(identity(table, shard, id, &row));
                        return Ok(Some(row));
                    }
                    Inserted::Raced => Probe::Conflict(Arbiter::PrimaryKey),
                    Inserted::Wait(ended) => Probe::Wait(ended),
                }
            } else {
                self.probe(table, on, &row).await?
            };
            let arbiter = match probe {
                Probe::Wait(ended) => {
                    lock_wait.wait(self, table, ended).await?;
                    continue;
                }
                Probe::Free => match self.insert_one(table, on, &row, touched).await? {
                    Inserted::Done(shard, id) => {
                        affected.insert(identity(table, shard, id, &row));
                        return Ok(Some(row));
                    }
                    Inserted::Raced if reprobes < MAX_REPROBES => {
                        reprobes += 1;
                        continue;
                    }
                    Inserted::Raced => return Err(disagree(table)),
                    Inserted::Wait(ended) => {
                        lock_wait.wait(self, table, ended).await?;
                        continue;
                    }
                },
                Probe::Conflict(arbiter) => arbiter,
            };
            let ConflictAction::Update {
                assignments,
                filter,
            } = &on.action
            else {
                self.check_skip_visible(table, arbiter, &row).await?;
                return Ok(None);
            };
            let update = ConflictUpdate {
                arbiter,
                excluded: &row,
                assignments,
                filter: filter.as_ref(),
            };
            match self
                .update_conflict(table, update, affected, touched)
                .await?
            {
                Updated::Row(r) => return Ok(Some(r)),
                Updated::Skipped => return Ok(None),
                Updated::Gone if reprobes < MAX_REPROBES => {
                    reprobes += 1;
                    crate::runtime::sleep(REPROBE_PAUSE).await;
                }
                Updated::Gone => return Err(disagree(table)),
                Updated::Wait(ended) => lock_wait.wait(self, table, ended).await?,
            }
        }
    }

    /// The first arbiter the row conflicts with, or a transaction to wait for first.
    async fn probe(
        &self,
        table: &Arc<TableSchema>,
        on: &OnConflict,
        row: &Row,
    ) -> Result<Probe, EngineError> {
        let shards = self.shard.count();
        let writer = self.env.reader;
        for &arbiter in &on.arbiters {
            let (shard, what) = match arbiter {
                Arbiter::PrimaryKey => {
                    let Some(shard) = shard_of_row(table, row, shards) else {
                        continue;
                    };
                    (shard, None)
                }
                Arbiter::Unique(i) => match unique_key(&table.unique[i], row, shards) {
                    Some((shard, key)) => (shard, Some((constraint_id(table, i), key))),
                    None => continue,
                },
            };
            let (t, r) = (table.clone(), row.clone());
            let found = self
                .shard
                .run_on(shard, move |s| async move {
                    let s = s.state();
                    let checked = match &what {
                        None => s.with_table(&t, |rt| rt.check_insert(&r, writer)),
                        Some((c, key)) => s.check_key(writer, *c, key),
                    };
                    checked.map_err(|e| refused(s, e))
                })
                .await
                .map_err(shard_error)?;
            match found {
                Ok(()) => {}
                Err(Refused::Wait(ended)) => return Ok(Probe::Wait(ended)),
                Err(Refused::Row(RowError::UniqueViolation { .. })) => {
                    return Ok(Probe::Conflict(arbiter));
                }
                Err(Refused::Row(e)) => return Err(shard_error(e)),
            }
        }
        Ok(Probe::Free)
    }

    /// Insert a row the probe found free: its unique keys, then the row. A key or the primary
    /// key taken meanwhile gives back what this row reserved.
    async fn insert_one(
        &self,
        table: &Arc<TableSchema>,
        on: &OnConflict,
        row: &Row,
        touched: &mut Touched,
    ) -> Result<Inserted, EngineError> {
        let shards = self.shard.count();
        let (writer, savepoint) = (self.env.reader, self.env.savepoint);
        let mut reserved: Vec<(usize, u64, Vec<u8>, Option<bool>)> = Vec::new();
        for (i, c) in table.unique.iter().enumerate() {
            let Some((shard, key)) = unique_key(c, row, shards) else {
                continue;
            };
            touched[shard] = true;
            let (cid, k) = (constraint_id(table, i), key.clone());
            let result = self
                .shard
                .run_on(shard, move |s| async move {
                    let s = s.state();
                    s.reserve_key(writer, savepoint, cid, &k)
                        .map_err(|e| refused(s, e))
                })
                .await
                .map_err(shard_error)?;
            let refusal = match result {
                Ok(before) => {
                    reserved.push((shard, cid, key, before));
                    continue;
                }
                Err(r) => r,
            };
            self.give_back(reserved).await?;
            return self.refusal(table, on, Arbiter::Unique(i), c, row, refusal);
        }
        let shard =
            shard_of_row(table, row, shards).unwrap_or_else(|| self.env.engine.spread_shard());
        touched[shard] = true;
        let (t, r) = (table.clone(), row.clone());
        let result = self
            .shard
            .run_on(shard, move |s| async move {
                let s = s.state();
                insert_one_on_shard(s, &t, r, writer, savepoint).map_err(|e| refused(s, e))
            })
            .await
            .map_err(shard_error)?;
        let refusal = match result {
            Ok(id) => return Ok(Inserted::Done(shard, id)),
            Err(r) => r,
        };
        self.give_back(reserved).await?;
        let Some(pk) = table.primary_key.as_ref() else {
            return Err(shard_error("duplicate without key"));
        };
        self.refusal(table, on, Arbiter::PrimaryKey, pk, row, refusal)
    }

    /// What a refused reservation or insert means for the row: wait, probe again (the key is
    /// an arbiter's), or a unique violation.
    fn refusal(
        &self,
        table: &TableSchema,
        on: &OnConflict,
        arbiter: Arbiter,
        constraint: &UniqueConstraint,
        row: &Row,
        refusal: Refused,
    ) -> Result<Inserted, EngineError> {
        match refusal {
            Refused::Wait(ended) => Ok(Inserted::Wait(ended)),
            Refused::Row(RowError::UniqueViolation { .. }) if on.arbiters.contains(&arbiter) => {
                Ok(Inserted::Raced)
            }
            Refused::Row(RowError::UniqueViolation { .. }) => {
                Err(unique_violation(table, constraint, row, &self.env.tz))
            }
            Refused::Row(e) => Err(shard_error(e)),
        }
    }

    /// Undo the unique-key reservations of a row that was not inserted.
    async fn give_back(
        &self,
        reserved: Vec<(usize, u64, Vec<u8>, Option<bool>)>,
    ) -> Result<(), EngineError> {
        let writer = self.env.reader;
        for (shard, cid, key, before) in reserved {
            self.shard
                .run_on(shard, move |s| async move {
                    s.state().restore_key(writer, cid, &key, before)
                })
                .await
                .map_err(shard_error)?;
        }
        Ok(())
    }

    /// `DO NOTHING` under REPEATABLE READ: the row skipped for must be one the snapshot sees
    /// (else 40001, as PostgreSQL).
    async fn check_skip_visible(
        &self,
        table: &Arc<TableSchema>,
        arbiter: Arbiter,
        row: &Row,
    ) -> Result<(), EngineError> {
        if !self.env.isolation.snapshot_per_transaction() {
            return Ok(());
        }
        match self
            .find_conflicting(table, arbiter, row, self.env.view())
            .await?
        {
            Some(_) => Ok(()),
            None => Err(EngineError::sql(
                "40001",
                "could not serialize access due to concurrent update",
            )),
        }
    }

    /// `DO UPDATE`: lock the row the proposed one conflicts with and update it.
    async fn update_conflict(
        &self,
        table: &Arc<TableSchema>,
        update: ConflictUpdate<'_>,
        affected: &mut Affected,
        touched: &mut Touched,
    ) -> Result<Updated, EngineError> {
        let newest = ReadView::latest(self.env.reader);
        // A primary-key conflict's row is on the row's shard: found and locked in one job.
        let (shard, candidate) = match update.arbiter {
            Arbiter::PrimaryKey => (
                shard_of_row(table, update.excluded, self.shard.count()).unwrap_or(0),
                None,
            ),
            Arbiter::Unique(_) => match self
                .find_conflicting(table, update.arbiter, update.excluded, newest)
                .await?
            {
                Some((shard, id)) => (shard, Some(id)),
                None => return Ok(Updated::Gone),
            },
        };
        touched[shard] = true;
        let lock = LockFor {
            writer: self.env.reader,
            at: self.env.snapshot,
            repeatable: self.env.isolation.snapshot_per_transaction(),
            savepoint: self.env.savepoint,
        };
        let (t, excluded) = (table.clone(), update.excluded.clone());
        let found = self
            .shard
            .run_on(shard, move |s| async move {
                let s = s.state();
                let candidate = candidate.or_else(|| find_by_key(s, &t, &excluded, newest));
                match candidate {
                    Some(id) => lock_conflicting(s, &t, id, lock),
                    None => Found::Gone,
                }
            })
            .await
            .map_err(shard_error)?;
        let (id, existing) = match found {
            Found::Row(id, row) => (id, row),
            Found::Gone => return Ok(Updated::Gone),
            Found::Wait(ended) => return Ok(Updated::Wait(ended)),
            Found::Changed => {
                return Err(EngineError::sql(
                    "40001",
                    "could not serialize access due to concurrent update",
                ));
            }
        };
        if affected.contains(&identity(table, shard, id, &existing)) {
            return Err(EngineError::Sql {
                sqlstate: "21000",
                message: "ON CONFLICT DO UPDATE command cannot affect row a second time".into(),
                detail: None,
                hint: Some(
                    "Ensure that no rows proposed for insertion within the same command have duplicate constrained values."
                        .into(),
                ),
            });
        }
        let mut both = existing.clone();
        both.extend(update.excluded.iter().cloned());
        if let Some(f) = update.filter
            && !eval_predicate(f, &both, &self.env)?
        {
            return Ok(Updated::Skipped);
        }
        let mut new = existing.clone();
        for (col, e) in update.assignments {
            new[*col] = eval(e, &both, &self.env)?;
        }
        let new = prepare_row(table, new, &self.env.tz)?;
        if !table.unique.is_empty() {
            let mut changes = Vec::new();
            key_changes(
                table,
                Some(&existing),
                Some(&new),
                0,
                self.shard.count(),
                &mut changes,
            );
            self.apply_key_changes(table, changes, std::slice::from_ref(&new), touched)
                .await?;
        }
        if primary_key_changed(table, &existing, &new) {
            self.write_on(table, shard, vec![Write::Delete(id)]).await?;
            self.insert_rows(table, vec![new.clone()], touched).await?;
        } else {
            self.write_on(table, shard, vec![Write::Update(id, new.clone())])
                .await?;
        }
        affected.insert(identity(table, shard, id, &new));
        Ok(Updated::Row(new))
    }

    /// Where the row holding the arbiter's key for `row` is, as `view` shows the table:
    /// (shard, row id as a scan hands it out).
    async fn find_conflicting(
        &self,
        table: &Arc<TableSchema>,
        arbiter: Arbiter,
        row: &Row,
        view: ReadView,
    ) -> Result<Option<(usize, RowId)>, EngineError> {
        let shards = self.shard.count();
        let (columns, targets): (Option<Vec<usize>>, Vec<usize>) = match arbiter {
            Arbiter::PrimaryKey => {
                let shard = shard_of_row(table, row, shards).unwrap_or(0);
                (None, vec![shard])
            }
            // A unique key says nothing of where its row is: look on every shard.
            Arbiter::Unique(i) => (Some(table.unique[i].columns.clone()), (0..shards).collect()),
        };
        let columns = Arc::new(columns);
        for shard in targets {
            let (t, r, c) = (table.clone(), row.clone(), columns.clone());
            let found = self
                .shard
                .run_on(shard, move |s| async move {
                    match c.as_deref() {
                        Some(c) => find_by_columns(s.state(), &t, c, &r, view),
                        None => find_by_key(s.state(), &t, &r, view),
                    }
                })
                .await
                .map_err(shard_error)?;
            if let Some(id) = found {
                return Ok(Some((shard, id)));
            }
        }
        Ok(None)
    }
}

/// The parts of `DO UPDATE` one conflicting row needs.
struct ConflictUpdate<'a> {
    arbiter: Arbiter,
    excluded: &'a Row,
    assignments: &'a [(usize, omendb_planner::Expr)],
    filter: Option<&'a omendb_planner::Expr>,
}

/// The row with `row`'s primary key, if `view` sees it.
fn find_by_key(
    shard: &ShardState,
    table: &Arc<TableSchema>,
    row: &[Value],
    view: ReadView,
) -> Option<RowId> {
    shard.with_table(table, |t| {
        let mut key = Vec::new();
        t.primary_key_of(row, &mut key);
        t.lookup(&key, view)
    })
}

/// The first row whose `columns` equal `row`'s, if `view` sees one (a full scan: unique keys
/// have no index to the rows holding them).
fn find_by_columns(
    shard: &ShardState,
    table: &Arc<TableSchema>,
    columns: &[usize],
    row: &[Value],
    view: ReadView,
) -> Option<RowId> {
    let encoded = |r: &[Value], out: &mut Vec<u8>| {
        out.clear();
        for &c in columns {
            encode_value(&r[c], out);
        }
    };
    let mut wanted = Vec::new();
    encoded(row, &mut wanted);
    let mut probe = Vec::new();
    let mut found = None;
    shard.with_table(table, |t| {
        t.scan(view, |id, r| {
            encoded(r, &mut probe);
            if probe == wanted {
                found = Some(id);
                return false;
            }
            true
        })
    });
    found
}

/// Who locks a conflicting row, with what snapshot and savepoint.
struct LockFor {
    writer: WriterId,
    /// The statement's snapshot.
    at: omendb_storage::row::Ts,
    repeatable: bool,
    savepoint: Savepoints,
}

/// Lock the conflicting row's newest version.
fn lock_conflicting(
    shard: &ShardState,
    table: &Arc<TableSchema>,
    id: RowId,
    lock: LockFor,
) -> Found {
    let LockFor {
        writer,
        at,
        repeatable,
        savepoint,
    } = lock;
    let locked = shard.with_table(table, |t| t.lock(id, writer, at));
    if let Ok(Lock::Locked(id) | Lock::Updated(id)) = locked {
        shard.remember_row(writer, savepoint, table.id, id, SavedIntent::none());
    }
    let id = match locked {
        Ok(Lock::Mine(id) | Lock::Locked(id)) => id,
        Ok(Lock::Updated(id)) => {
            shard.record_row(writer, table.id, id);
            if repeatable {
                // The lock is released when the failed transaction rolls back.
                return Found::Changed;
            }
            id
        }
        Ok(Lock::Deleted) => return Found::Gone,
        Err(RowError::Busy(holder)) => return Found::Wait(shard.when_ended(holder)),
        Err(_) => return Found::Gone,
    };
    shard.record_row(writer, table.id, id);
    match shard.with_table(table, |t| {
        t.get(id, ReadView::latest(writer)).map(<[Value]>::to_vec)
    }) {
        Some(row) => Found::Row(id, row),
        None => Found::Gone,
    }
}
