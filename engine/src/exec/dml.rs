//! INSERT, UPDATE and DELETE across shards.
//!
//! Rows to change are first locked on their shards (a pending write of the transaction), new
//! rows are computed here, unique keys are reserved on the shards that own them, then the
//! writes are applied. A row or key held by another transaction makes the statement wait for
//! it (until that transaction ends, woken by its commit or rollback) and retry; rows a transaction
//! committed a change to after the statement's snapshot are re-checked (READ COMMITTED) or fail
//! the statement with 40001 (REPEATABLE READ) in `scan::lock_rows`.

use super::Row;
use super::eval::eval;
use super::query::Executor;
use super::route::{Target, shard_of_row, target};
use super::scan::{Locked, Scope, lock_rows};
use crate::EngineError;
use crate::runtime::event::{Awaited, Waited};
use crate::shard::{Savepoints, ShardState};
use omendb_planner::{Access, Expr, Plan};
use omendb_storage::row::key::{encode_value, shard_hash};
use omendb_storage::row::{RowError, RowId, SavedIntent, WriterId};
use omendb_storage::schema::{TableSchema, UniqueConstraint};
use omendb_storage::types::Value;
use omendb_storage::types::datetime::TimeZone;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often a waiting statement looks at its cancel flag (a CancelRequest sets the flag, it
/// sends no wake-up).
const CANCEL_CHECK: Duration = Duration::from_millis(50);

/// A write to apply on one shard.
pub(super) enum Write {
    Update(RowId, Row),
    Delete(RowId),
}

/// The shards a transaction has touched (they must commit or roll back).
pub type Touched = Vec<bool>;

/// A statement's wait for the transactions in its way: each wait lasts until the transaction
/// named by `Busy` ends on the shard that refused (its `finish` fires the event), and all of a
/// statement's waits on one shard together last at most the session's lock wait (55P03 after).
/// A wait still going after the session's `deadlock_timeout` (1 s by default: most waits end
/// sooner and never pay for the check) looks at the engine's wait-for graph: if it
/// closes a cycle, the statement fails with 40P01 and its transaction's rows are freed when
/// the client rolls back.
pub(super) struct LockWait {
    deadline: Instant,
}

/// A transaction's edge in the wait-for graph, removed however the wait ends.
struct WaitEdge<'a> {
    engine: &'a crate::shard::Engine,
    waiter: WriterId,
}

impl Drop for WaitEdge<'_> {
    fn drop(&mut self) {
        self.engine.wait_ends(self.waiter);
    }
}

fn deadlock_detected(waiter: WriterId, holder: u64) -> EngineError {
    EngineError::Sql {
        sqlstate: "40P01",
        message: "deadlock detected".into(),
        detail: Some(format!(
            "Transaction {waiter} waits for transaction {holder}, which waits for it."
        )),
        hint: Some("See server log for query details.".into()),
    }
}

impl LockWait {
    pub(super) fn new(exec: &Executor) -> LockWait {
        LockWait {
            deadline: Instant::now() + exec.env.lock_wait,
        }
    }

    /// Wait until `ended` fires; an error once the limit passes or the statement is cancelled.
    pub(super) async fn wait(
        &self,
        exec: &Executor,
        table: &TableSchema,
        mut ended: Awaited,
    ) -> Result<(), EngineError> {
        let (waiter, holder) = (exec.env.reader, ended.txn());
        let engine = &exec.env.engine;
        if holder != 0 {
            engine.wait_begins(waiter, holder);
        }
        let _edge = WaitEdge { engine, waiter };
        let check_at = Instant::now() + exec.env.deadlock_wait;
        let mut checked = holder == 0;
        loop {
            exec.check_cancel()?;
            if !checked && Instant::now() >= check_at {
                checked = true;
                if engine.deadlocked(waiter) {
                    return Err(deadlock_detected(waiter, holder));
                }
            }
            let left = self.deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(EngineError::sql(
                    "55P03",
                    format!(
                        "could not obtain lock on row in relation \"{}\"",
                        table.name
                    ),
                ));
            }
            let step = match check_at.checked_duration_since(Instant::now()) {
                Some(to_check) if !checked => left.min(CANCEL_CHECK).min(to_check),
                _ => left.min(CANCEL_CHECK),
            };
            if ended.wait(step).await == Waited::Fired {
                return Ok(());
            }
        }
    }
}

/// Why a shard refused a write: another transaction is in the way (wait for the event of its
/// end on that shard, armed in the same job so the end cannot be missed), or an error.
pub(super) enum Refused {
    Wait(Awaited),
    Row(RowError),
}

/// A row store refusal as a shard job hands it back.
pub(super) fn refused(shard: &ShardState, e: RowError) -> Refused {
    match e {
        RowError::Busy(holder) => Refused::Wait(shard.when_ended(holder)),
        other => Refused::Row(other),
    }
}

pub(super) fn shard_error(e: impl std::fmt::Display) -> EngineError {
    EngineError::Internal(e.to_string())
}

/// Apply assignment casts and NOT NULL to a row about to be stored.
pub(super) fn prepare_row(
    table: &TableSchema,
    row: Row,
    tz: &TimeZone,
) -> Result<Row, EngineError> {
    let mut out = Vec::with_capacity(row.len());
    for (v, c) in row.into_iter().zip(&table.columns) {
        let v = v.assign(c.ty, tz)?;
        out.push(v);
    }
    check_not_null(table, &out, tz)?;
    Ok(out)
}

/// NOT NULL of a row whose values already have the table's types.
pub(crate) fn check_not_null(
    table: &TableSchema,
    row: &[Value],
    tz: &TimeZone,
) -> Result<(), EngineError> {
    for (v, c) in row.iter().zip(&table.columns) {
        if v.is_null() && !c.nullable {
            return Err(EngineError::Sql {
                sqlstate: "23502",
                message: format!(
                    "null value in column \"{}\" of relation \"{}\" violates not-null constraint",
                    c.name, table.name
                ),
                detail: Some(format!(
                    "Failing row contains ({}).",
                    format_values(row, tz)
                )),
                hint: None,
            });
        }
    }
    Ok(())
}

pub(crate) fn format_values<'a>(
    values: impl IntoIterator<Item = &'a Value>,
    tz: &TimeZone,
) -> String {
    values
        .into_iter()
        .map(|v| {
            if v.is_null() {
                "null".to_string()
            } else {
                let mut s = String::new();
                v.write_text(&mut s, tz);
                s
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn unique_violation(
    table: &TableSchema,
    constraint: &UniqueConstraint,
    row: &[Value],
    tz: &TimeZone,
) -> EngineError {
    EngineError::Sql {
        sqlstate: "23505",
        message: format!(
            "duplicate key value violates unique constraint \"{}\"",
            constraint.name
        ),
        detail: Some(format!(
            "{} already exists.",
            key_detail(table, constraint, row, tz)
        )),
        hint: None,
    }
}

/// `Key (a, b)=(1, x)`: a constraint's columns and `row`'s values of them, as PostgreSQL's
/// unique-key DETAIL lines start.
pub(crate) fn key_detail(
    table: &TableSchema,
    constraint: &UniqueConstraint,
    row: &[Value],
    tz: &TimeZone,
) -> String {
    let names: Vec<&str> = constraint
        .columns
        .iter()
        .map(|&c| table.columns[c].name.as_str())
        .collect();
    format!(
        "Key ({})=({})",
        names.join(", "),
        format_values(constraint.columns.iter().map(|&c| &row[c]), tz)
    )
}

/// Id of a UNIQUE constraint across the engine: table id and its position, or for a unique
/// index its OID (positions shift when one is dropped; OIDs are never reused).
pub(crate) fn constraint_id(table: &TableSchema, position: usize) -> u64 {
    match table.unique[position].index_oid {
        Some(oid) => index_constraint_id(oid),
        None => (u64::from(table.id) << 16) | position as u64,
    }
}

/// Marks a unique index's constraint id: no table has this many constraints.
const INDEX_CONSTRAINT_SLOT: u64 = 0xFFFF;

/// The constraint id of the unique index with OID `oid`.
pub(crate) fn index_constraint_id(oid: u32) -> u64 {
    (u64::from(oid) << 16) | INDEX_CONSTRAINT_SLOT
}

/// A unique key's encoding and owning shard; `None` when a column is NULL (NULLs never clash).
pub(crate) fn unique_key(
    c: &UniqueConstraint,
    row: &[Value],
    shards: usize,
) -> Option<(usize, Vec<u8>)> {
    let mut key = Vec::new();
    for &col in &c.columns {
        if row[col].is_null() {
            return None;
        }
        encode_value(&row[col], &mut key);
    }
    Some(((shard_hash(&key) % shards as u64) as usize, key))
}

/// One reservation or release of a unique key.
pub(super) struct KeyChange {
    shard: usize,
    constraint: usize,
    key: Vec<u8>,
    reserve: bool,
    row: usize,
}

pub(super) fn key_changes(
    table: &TableSchema,
    old: Option<&[Value]>,
    new: Option<&[Value]>,
    row: usize,
    shards: usize,
    out: &mut Vec<KeyChange>,
) {
    for (i, c) in table.unique.iter().enumerate() {
        let before = old.and_then(|r| unique_key(c, r, shards));
        let after = new.and_then(|r| unique_key(c, r, shards));
        if before.as_ref().map(|k| &k.1) == after.as_ref().map(|k| &k.1) {
            continue;
        }
        if let Some((shard, key)) = before {
            out.push(KeyChange {
                shard,
                constraint: i,
                key,
                reserve: false,
                row,
            });
        }
        if let Some((shard, key)) = after {
            out.push(KeyChange {
                shard,
                constraint: i,
                key,
                reserve: true,
                row,
            });
        }
    }
}

impl Executor {
    /// Reserve and release unique keys on their owning shards, waiting out other writers.
    pub(super) async fn apply_key_changes(
        &self,
        table: &Arc<TableSchema>,
        changes: Vec<KeyChange>,
        rows: &[Row],
        touched: &mut Touched,
    ) -> Result<(), EngineError> {
        let (writer, savepoint) = (self.env.reader, self.env.savepoint);
        for (shard, touched_shard) in touched.iter_mut().enumerate() {
            let mine: Vec<&KeyChange> = changes.iter().filter(|c| c.shard == shard).collect();
            if mine.is_empty() {
                continue;
            }
            *touched_shard = true;
            let mut done = 0;
            let lock_wait = LockWait::new(self);
            while done < mine.len() {
                let batch: Vec<(u64, Vec<u8>, bool)> = mine[done..]
                    .iter()
                    .map(|c| (constraint_id(table, c.constraint), c.key.clone(), c.reserve))
                    .collect();
                let result = self
                    .shard
                    .run_on(shard, move |s| async move {
                        let mut applied = 0;
                        for change in &batch {
                            s.state()
                                .change_keys(writer, savepoint, std::slice::from_ref(change))
                                .map_err(|e| (applied, refused(s.state(), e)))?;
                            applied += 1;
                        }
                        Ok::<usize, (usize, Refused)>(applied)
                    })
                    .await
                    .map_err(shard_error)?;
                match result {
                    Ok(n) => done += n,
                    Err((n, Refused::Wait(ended))) => {
                        done += n;
                        lock_wait.wait(self, table, ended).await?;
                    }
                    Err((n, Refused::Row(_))) => {
                        let c = mine[done + n];
                        return Err(unique_violation(
                            table,
                            &table.unique[c.constraint],
                            &rows[c.row],
                            &self.env.tz,
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// Insert prepared rows on their shards, waiting out other writers of the same keys.
    pub(super) async fn insert_rows(
        &self,
        table: &Arc<TableSchema>,
        rows: Vec<Row>,
        touched: &mut Touched,
    ) -> Result<(), EngineError> {
        let shards = self.shard.count();
        let spread = self.env.engine.spread_shard();
        let mut by_shard: Vec<Vec<Row>> = (0..shards).map(|_| Vec::new()).collect();
        for row in rows {
            let s = shard_of_row(table, &row, shards).unwrap_or(spread);
            by_shard[s].push(row);
        }
        let (writer, savepoint) = (self.env.reader, self.env.savepoint);
        for (shard, rows) in by_shard.into_iter().enumerate() {
            if rows.is_empty() {
                continue;
            }
            touched[shard] = true;
            let rows = Arc::new(rows);
            let lock_wait = LockWait::new(self);
            loop {
                let (t, batch) = (table.clone(), rows.clone());
                let result = self
                    .shard
                    .run_on(shard, move |s| async move {
                        insert_on_shard(s.state(), &t, &batch, writer, savepoint)
                    })
                    .await
                    .map_err(shard_error)?;
                match result {
                    Ok(()) => break,
                    Err((_, Refused::Wait(ended))) => lock_wait.wait(self, table, ended).await?,
                    Err((i, Refused::Row(RowError::UniqueViolation { .. }))) => {
                        let pk = table
                            .primary_key
                            .as_ref()
                            .ok_or_else(|| shard_error("duplicate without key"))?;
                        return Err(unique_violation(table, pk, &rows[i], &self.env.tz));
                    }
                    Err((_, Refused::Row(e))) => return Err(shard_error(e)),
                }
            }
        }
        Ok(())
    }

    /// INSERT: returns the stored rows (for RETURNING and the row count).
    pub async fn insert(
        &self,
        table: &Arc<TableSchema>,
        source: &Plan,
        touched: &mut Touched,
    ) -> Result<Vec<Row>, EngineError> {
        let rows = self.run_query(source).await?;
        let rows = self.checked_rows(table, rows, touched).await?;
        self.insert_rows(table, rows.clone(), touched).await?;
        Ok(rows)
    }

    /// Insert rows of values (COPY): no RETURNING, so no copy of them is kept. Returns the count.
    pub async fn insert_values(
        &self,
        table: &Arc<TableSchema>,
        rows: Vec<Row>,
        touched: &mut Touched,
    ) -> Result<usize, EngineError> {
        let rows = self.checked_rows(table, rows, touched).await?;
        let n = rows.len();
        self.insert_rows(table, rows, touched).await?;
        Ok(n)
    }

    /// Rows cast to the table's types, NOT NULL checked, unique keys reserved.
    async fn checked_rows(
        &self,
        table: &Arc<TableSchema>,
        rows: Vec<Row>,
        touched: &mut Touched,
    ) -> Result<Vec<Row>, EngineError> {
        let rows = rows
            .into_iter()
            .map(|r| prepare_row(table, r, &self.env.tz))
            .collect::<Result<Vec<_>, _>>()?;
        if !table.unique.is_empty() {
            let mut changes = Vec::new();
            for (i, r) in rows.iter().enumerate() {
                key_changes(table, None, Some(r), i, self.shard.count(), &mut changes);
            }
            self.apply_key_changes(table, changes, &rows, touched)
                .await?;
        }
        Ok(rows)
    }

    /// Lock the rows an UPDATE/DELETE changes, on every shard the access path reaches.
    pub(super) async fn lock_matching(
        &self,
        table: &Arc<TableSchema>,
        filter: Option<&Expr>,
        access: &Access,
        touched: &mut Touched,
    ) -> Result<Vec<(usize, RowId, Row)>, EngineError> {
        let shards = self.shard.count();
        let (targets, key): (Vec<usize>, Option<Scope>) =
            match target(table, access, &self.env, shards)? {
                Target::Nothing => return Ok(Vec::new()),
                Target::All => ((0..shards).collect(), None),
                Target::One(s, key) => (vec![s], key.map(Scope::Key)),
                Target::Range(Some(s), r) => (vec![s], Some(Scope::Range(r))),
                Target::Range(None, r) => ((0..shards).collect(), Some(Scope::Range(r))),
            };
        let mut out = Vec::new();
        for shard in targets {
            touched[shard] = true;
            let lock_wait = LockWait::new(self);
            loop {
                let (t, f, env, k) = (
                    table.clone(),
                    filter.cloned(),
                    self.env.clone(),
                    key.clone(),
                );
                let locked = self
                    .shard
                    .run_on(shard, move |s| async move {
                        lock_rows(s.state(), &t, Scope::probe(k.as_ref()), f.as_ref(), &env)
                    })
                    .await
                    .map_err(shard_error)??;
                match locked {
                    Locked::Rows(rows) => {
                        out.extend(rows.into_iter().map(|(id, r)| (shard, id, r)));
                        break;
                    }
                    Locked::Wait(ended) => lock_wait.wait(self, table, ended).await?,
                }
            }
        }
        Ok(out)
    }

    pub(super) async fn write_on(
        &self,
        table: &Arc<TableSchema>,
        shard: usize,
        writes: Vec<Write>,
    ) -> Result<(), EngineError> {
        if writes.is_empty() {
            return Ok(());
        }
        let (t, writer, savepoint) = (table.clone(), self.env.reader, self.env.savepoint);
        self.shard
            .run_on(shard, move |s| async move {
                let s = s.state();
                s.with_table(&t, |rt| {
                    for w in writes {
                        let (id, row) = match w {
                            Write::Update(id, row) => (id, Some(row.into_boxed_slice())),
                            Write::Delete(id) => (id, None),
                        };
                        let before = savepoint.open().then(|| rt.save_intent(id, writer));
                        rt.write(id, writer, row)?;
                        if let Some(before) = before {
                            s.remember_row(writer, savepoint, t.id, id, before);
                        }
                    }
                    Ok::<(), RowError>(())
                })
            })
            .await
            .map_err(shard_error)?
            .map_err(shard_error)
    }

    /// UPDATE: returns the new rows.
    pub async fn update(
        &self,
        table: &Arc<TableSchema>,
        filter: Option<&Expr>,
        access: &Access,
        assignments: &[(usize, Expr)],
        touched: &mut Touched,
    ) -> Result<Vec<Row>, EngineError> {
        let shards = self.shard.count();
        let (mut filter, mut assignments) = (filter.cloned(), assignments.to_vec());
        self.resolve_subqueries(&mut |visit| {
            filter.iter_mut().for_each(&mut *visit);
            assignments.iter_mut().for_each(|(_, e)| visit(e));
        })
        .await?;
        let (filter, assignments) = (filter.as_ref(), assignments.as_slice());
        let locked = self.lock_matching(table, filter, access, touched).await?;
        let mut writes: Vec<Vec<Write>> = (0..shards).map(|_| Vec::new()).collect();
        let mut moved = Vec::new();
        let mut new_rows = Vec::with_capacity(locked.len());
        let mut old_rows = Vec::with_capacity(locked.len());
        for (shard, id, old) in locked {
            let mut new = old.clone();
            for (col, e) in assignments {
                new[*col] = eval(e, &old, &self.env)?;
            }
            let new = prepare_row(table, new, &self.env.tz)?;
            if primary_key_changed(table, &old, &new) {
                writes[shard].push(Write::Delete(id));
                moved.push(new.clone());
            } else {
                writes[shard].push(Write::Update(id, new.clone()));
            }
            old_rows.push(old);
            new_rows.push(new);
        }
        if !table.unique.is_empty() {
            let mut changes = Vec::new();
            for (i, (old, new)) in old_rows.iter().zip(&new_rows).enumerate() {
                key_changes(table, Some(old), Some(new), i, shards, &mut changes);
            }
            self.apply_key_changes(table, changes, &new_rows, touched)
                .await?;
        }
        for (shard, w) in writes.into_iter().enumerate() {
            self.write_on(table, shard, w).await?;
        }
        self.insert_rows(table, moved, touched).await?;
        Ok(new_rows)
    }

    /// DELETE: returns the deleted rows.
    pub async fn delete(
        &self,
        table: &Arc<TableSchema>,
        filter: Option<&Expr>,
        access: &Access,
        touched: &mut Touched,
    ) -> Result<Vec<Row>, EngineError> {
        let shards = self.shard.count();
        let mut filter = filter.cloned();
        self.resolve_subqueries(&mut |visit| filter.iter_mut().for_each(&mut *visit))
            .await?;
        let locked = self
            .lock_matching(table, filter.as_ref(), access, touched)
            .await?;
        let mut writes: Vec<Vec<Write>> = (0..shards).map(|_| Vec::new()).collect();
        let mut old_rows = Vec::with_capacity(locked.len());
        for (shard, id, old) in locked {
            writes[shard].push(Write::Delete(id));
            old_rows.push(old);
        }
        if !table.unique.is_empty() {
            let mut changes = Vec::new();
            for (i, old) in old_rows.iter().enumerate() {
                key_changes(table, Some(old), None, i, shards, &mut changes);
            }
            self.apply_key_changes(table, changes, &old_rows, touched)
                .await?;
        }
        for (shard, w) in writes.into_iter().enumerate() {
            self.write_on(table, shard, w).await?;
        }
        Ok(old_rows)
    }

    /// Apply (at a fresh commit timestamp) or roll back a transaction on every shard it
    /// touched, concurrently. For writes no other transaction can read yet (a table being
    /// rebuilt before it is published) and for rollbacks; a session's commit goes through
    /// `durable::commit::commit`, which keeps multi-shard commits atomic for snapshots.
    pub async fn finish(
        &self,
        writer: WriterId,
        touched: &Touched,
        commit: bool,
    ) -> Result<(), EngineError> {
        let ts = commit.then(|| self.env.engine.draw_commit_ts());
        let participants = crate::durable::commit::participants(touched);
        crate::durable::commit::finish_on(&self.shard, writer, &participants, ts).await
    }

    /// [`Executor::finish`] by how the transaction's work went: commit after `Ok`, roll back
    /// after an error, which is then returned (unless the rollback itself fails).
    pub async fn settle(
        &self,
        writer: WriterId,
        touched: &Touched,
        outcome: Result<(), EngineError>,
    ) -> Result<(), EngineError> {
        if let Err(e) = outcome {
            self.finish(writer, touched, false).await?;
            return Err(e);
        }
        self.finish(writer, touched, true).await
    }
}

pub(super) fn primary_key_changed(table: &TableSchema, old: &[Value], new: &[Value]) -> bool {
    let Some(pk) = &table.primary_key else {
        return false;
    };
    pk.columns.iter().any(|&c| {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        encode_value(&old[c], &mut a);
        encode_value(&new[c], &mut b);
        a != b
    })
}

/// The shard side of INSERT: check every row first, so a wait leaves nothing half-inserted,
/// then insert. Errors carry the index of the offending row.
fn insert_on_shard(
    shard: &ShardState,
    table: &Arc<TableSchema>,
    rows: &[Row],
    writer: WriterId,
    savepoint: Savepoints,
) -> Result<(), (usize, Refused)> {
    shard
        .with_table(table, |t| {
            for (i, row) in rows.iter().enumerate() {
                if let Err(e @ RowError::Busy(_)) = t.check_insert(row, writer) {
                    return Err((i, e));
                }
            }
            Ok(())
        })
        .map_err(|(i, e)| (i, refused(shard, e)))?;
    for (i, row) in rows.iter().enumerate() {
        insert_one_on_shard(shard, table, row.clone(), writer, savepoint)
            .map_err(|e| (i, refused(shard, e)))?;
    }
    Ok(())
}

/// Insert one row as `writer`'s pending write, recorded for the transaction's end and, under
/// an open savepoint, with what it replaced.
pub(super) fn insert_one_on_shard(
    shard: &ShardState,
    table: &Arc<TableSchema>,
    row: Row,
    writer: WriterId,
    savepoint: Savepoints,
) -> Result<RowId, RowError> {
    let (id, before) = shard.with_table(table, |t| {
        let before = if savepoint.open() {
            t.save_intent_of_key(&row, writer)
        } else {
            None
        };
        t.insert(row.into_boxed_slice(), writer)
            .map(|id| (id, before))
    })?;
    shard.record_row(writer, table.id, id);
    if savepoint.open() {
        let before = match before {
            Some((slot, saved)) if slot == id => saved,
            _ => SavedIntent::none(),
        };
        shard.remember_row(writer, savepoint, table.id, id, before);
    }
    Ok(id)
}
