//! The engine's process-wide state (catalog, clocks, cancel keys) and what one shard owns: its
//! partition of every table and of the unique keys, and the writes each transaction has pending
//! on it.
//!
//! Shard state is touched only by its own thread (`RefCell`, never a lock); other shards reach
//! it through `runtime::Shard::run_on`.

use crate::EngineError;
use crate::catalog::{Catalog, Sequence};
use crate::durable::{CommitGate, ShardLog, StorageConfig};
use crate::runtime::Shard;
use crate::runtime::event::{Awaited, Fire, end_of};
use arc_swap::ArcSwap;
use omendb_learned::index::IndexKind;
use omendb_storage::row::{
    Change, RowError, RowId, RowTable, SavedIntent, Ts, UniqueKeys, WriterId,
};
use omendb_storage::schema::{TableId, TableSchema};
use omendb_storage::wal::Record;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

fn io_error(e: std::io::Error) -> EngineError {
    EngineError::Io(e.to_string())
}

/// First OID handed to user tables (PostgreSQL's FirstNormalObjectId).
const FIRST_USER_OID: u32 = 16_384;

/// Process-wide engine state shared by all shards.
pub struct Engine {
    catalog: ArcSwap<Catalog>,
    /// Serialises DDL (rare; never taken by DML or queries).
    ddl: Mutex<()>,
    next_oid: AtomicU32,
    next_txn: AtomicU64,
    next_pid: AtomicI32,
    /// Round-robin placement of insert batches into tables without a primary key.
    spread: AtomicUsize,
    /// Which ordered index backs primary keys (learned by default; B-tree for comparison).
    index_kind: IndexKind,
    shards: usize,
    /// Where data lives on disk; `None` for an in-memory engine (tests).
    storage: Option<StorageConfig>,
    /// Commits pass it; checkpoints and TRUNCATE close it.
    gate: CommitGate,
    /// Bumped by every catalog change, so the catalog file is rewritten only when stale.
    catalog_version: AtomicU64,
    /// Set while a checkpoint runs (one at a time).
    checkpointing: AtomicBool,
    /// Number of the next checkpoint.
    next_checkpoint: AtomicU64,
    /// The last commit timestamp drawn: a snapshot taken now reads at it.
    clock: AtomicU64,
    /// Per shard, the oldest snapshot its sessions hold (`Ts::MAX`: none), for the garbage
    /// collection horizon.
    oldest_snapshot: Box<[AtomicU64]>,
    /// The wait-for graph: each transaction waiting for a row or key, and the transaction it
    /// waits for (a statement waits for one at a time). Locked only by waits that outlast
    /// the deadlock timeout, and at their start and end.
    waits: Mutex<HashMap<WriterId, WriterId>>,
}

/// A running checkpoint's claim; released on drop.
pub struct CheckpointClaim<'a>(&'a AtomicBool);

impl Drop for CheckpointClaim<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

impl Engine {
    /// A new, empty, in-memory engine with `shards` shards.
    pub fn new(shards: usize) -> Arc<Engine> {
        Engine::build(shards, None)
    }

    /// An engine that keeps its data in `storage.dir`, primary keys indexed by `kind`:
    /// recovered by `durable::recover` before serving, every commit durable before it is
    /// acknowledged.
    pub fn durable(shards: usize, storage: StorageConfig, kind: IndexKind) -> Arc<Engine> {
        let mut engine = Engine::build(shards, Some(storage));
        if let Some(e) = Arc::get_mut(&mut engine) {
            e.index_kind = kind;
        }
        engine
    }

    fn build(shards: usize, storage: Option<StorageConfig>) -> Arc<Engine> {
        Arc::new(Engine {
            catalog: ArcSwap::from_pointee(Catalog::default()),
            ddl: Mutex::new(()),
            next_oid: AtomicU32::new(FIRST_USER_OID),
            next_txn: AtomicU64::new(1),
            next_pid: AtomicI32::new(1000),
            spread: AtomicUsize::new(0),
            index_kind: IndexKind::default(),
            shards: shards.max(1),
            storage,
            gate: CommitGate::default(),
            catalog_version: AtomicU64::new(0),
            checkpointing: AtomicBool::new(false),
            next_checkpoint: AtomicU64::new(1),
            clock: AtomicU64::new(0),
            oldest_snapshot: (0..shards.max(1))
                .map(|_| AtomicU64::new(Ts::MAX))
                .collect(),
            waits: Mutex::new(HashMap::new()),
        })
    }

    /// The newest commit timestamp: what a snapshot taken now reads at.
    pub fn clock(&self) -> Ts {
        self.clock.load(Ordering::SeqCst)
    }

    /// Draw the commit timestamp of a transaction whose changes are about to be applied. Every
    /// shard it wrote must already hold them as prepared (multi-shard) or apply them in the
    /// same shard job (single shard), so no snapshot at or after the timestamp can miss them.
    pub fn draw_commit_ts(&self) -> Ts {
        self.clock.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// The garbage-collection horizon: the oldest snapshot any session holds, or the clock.
    /// The clock is read first: a snapshot published after this read is at least that clock
    /// (see `ShardState::pin_snapshot`).
    pub fn horizon(&self) -> Ts {
        let clock = self.clock();
        self.oldest_snapshot
            .iter()
            .map(|s| s.load(Ordering::SeqCst))
            .fold(clock, Ts::min)
    }

    pub fn storage(&self) -> Option<&StorageConfig> {
        self.storage.as_ref()
    }

    pub fn gate(&self) -> &CommitGate {
        &self.gate
    }

    pub fn catalog_version(&self) -> u64 {
        self.catalog_version.load(Ordering::SeqCst)
    }

    /// Replace the catalog wholesale (recovery) and the id counters it implies.
    pub fn install_catalog(&self, catalog: Catalog, next_oid: u32) {
        self.catalog.store(Arc::new(catalog));
        self.next_oid.fetch_max(next_oid, Ordering::Relaxed);
        self.catalog_version.fetch_add(1, Ordering::SeqCst);
    }

    /// The next OID to hand out (for the catalog file).
    pub fn peek_oid(&self) -> u32 {
        self.next_oid.load(Ordering::Relaxed)
    }

    /// Recovery: transaction ids continue after every id found in the WAL.
    /// Wait until no other checkpoint runs, and claim the turn.
    pub async fn checkpoint_lock(&self) -> CheckpointClaim<'_> {
        const POLL: std::time::Duration = std::time::Duration::from_millis(1);
        while self
            .checkpointing
            .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            crate::runtime::sleep(POLL).await;
        }
        CheckpointClaim(&self.checkpointing)
    }

    /// Take the next checkpoint number.
    pub fn next_checkpoint_number(&self) -> u64 {
        self.next_checkpoint.fetch_add(1, Ordering::SeqCst)
    }

    /// Recovery: checkpoint numbers continue after `last`.
    pub fn raise_checkpoint(&self, last: u64) {
        self.next_checkpoint.fetch_max(last + 1, Ordering::SeqCst);
    }

    /// The next transaction id that will be handed out (every id below it is taken).
    pub fn current_txn(&self) -> u64 {
        self.next_txn.load(Ordering::Relaxed)
    }

    pub fn raise_txn(&self, next: u64) {
        self.next_txn.fetch_max(next, Ordering::Relaxed);
    }

    /// The state a new shard starts with.
    pub fn shard_state(self: &Arc<Engine>, id: usize) -> ShardState {
        ShardState {
            id,
            engine: self.clone(),
            tables: RefCell::new(HashMap::new()),
            unique: RefCell::new(UniqueKeys::default()),
            touched: RefCell::new(HashMap::new()),
            log: self
                .storage
                .as_ref()
                .map(|s| Rc::new(ShardLog::new(s.shard_dir(id), id as u32, s.sync))),
            recovered: RefCell::new(Vec::new()),
            catalog_writer: crate::durable::CatalogWriter::default(),
            checkpoint: Default::default(),
            bulk: RefCell::new(HashMap::new()),
            waiters: RefCell::new(HashMap::new()),
            recovered_segments: RefCell::new(HashMap::new()),
            snapshots: RefCell::new(Vec::new()),
            prepared: RefCell::new(Vec::new()),
            undo: RefCell::new(HashMap::new()),
        }
    }

    /// The same engine with primary keys indexed by `kind`.
    pub fn with_index_kind(shards: usize, kind: IndexKind) -> Arc<Engine> {
        let mut engine = Engine::new(shards);
        if let Some(e) = Arc::get_mut(&mut engine) {
            e.index_kind = kind;
        }
        engine
    }

    pub fn index_kind(&self) -> IndexKind {
        self.index_kind
    }

    pub fn shard_count(&self) -> usize {
        self.shards
    }

    /// `waiter` now waits for `holder` to end.
    pub fn wait_begins(&self, waiter: WriterId, holder: WriterId) {
        if let Ok(mut waits) = self.waits.lock() {
            waits.insert(waiter, holder);
        }
    }

    /// `waiter` no longer waits.
    pub fn wait_ends(&self, waiter: WriterId) {
        if let Ok(mut waits) = self.waits.lock() {
            waits.remove(&waiter);
        }
    }

    /// Whether `waiter`'s wait closes a cycle of waits: then it is the one to give up (its
    /// edge leaves the graph at once, so the others of the cycle, checking later, go on).
    pub fn deadlocked(&self, waiter: WriterId) -> bool {
        let Ok(mut waits) = self.waits.lock() else {
            return false;
        };
        let mut at = waiter;
        // Each transaction waits for at most one other: following the edges either comes
        // back to the waiter or ends within as many steps as there are waiters.
        for _ in 0..=waits.len() {
            match waits.get(&at) {
                Some(&next) if next == waiter => {
                    waits.remove(&waiter);
                    return true;
                }
                Some(&next) => at = next,
                None => return false,
            }
        }
        false
    }

    /// The current catalog snapshot.
    pub fn catalog(&self) -> Arc<Catalog> {
        self.catalog.load_full()
    }

    /// Apply a catalog change under the DDL lock and publish the new snapshot.
    pub fn change_catalog<R>(
        &self,
        change: impl FnOnce(&mut Catalog, &Engine) -> Result<R, EngineError>,
    ) -> Result<R, EngineError> {
        let _guard = self
            .ddl
            .lock()
            .map_err(|_| EngineError::Internal("catalog lock poisoned".into()))?;
        let mut next = Catalog::clone(&self.catalog.load());
        let result = change(&mut next, self)?;
        self.catalog.store(Arc::new(next));
        self.catalog_version.fetch_add(1, Ordering::SeqCst);
        Ok(result)
    }

    pub fn allocate_oid(&self) -> u32 {
        self.next_oid.fetch_add(1, Ordering::Relaxed)
    }

    pub fn begin_transaction(&self) -> WriterId {
        self.next_txn.fetch_add(1, Ordering::Relaxed)
    }

    pub fn spread_shard(&self) -> usize {
        self.spread.fetch_add(1, Ordering::Relaxed) % self.shards
    }

    /// `nextval(seq)`.
    pub fn next_sequence_value(&self, name: &str) -> Result<i64, EngineError> {
        let catalog = self.catalog.load();
        let seq = catalog.sequences.get(name).ok_or_else(|| {
            EngineError::sql("42P01", format!("relation \"{name}\" does not exist"))
        })?;
        seq.next_value().ok_or_else(|| {
            EngineError::sql(
                "2200H",
                format!("nextval: reached maximum value of sequence \"{name}\""),
            )
        })
    }

    pub fn new_sequence() -> Arc<Sequence> {
        Arc::new(Sequence::new())
    }

    /// Register a session's cancel key; returns (pid, secret).
    pub fn register_session(&self, cancel: Arc<AtomicBool>) -> (i32, i32) {
        let pid = self.next_pid.fetch_add(1, Ordering::Relaxed);
        let secret = random_secret(pid);
        if let Ok(mut keys) = cancel_keys().lock() {
            keys.insert((pid, secret), cancel);
        }
        (pid, secret)
    }

    pub fn unregister_session(&self, key: (i32, i32)) {
        if let Ok(mut keys) = cancel_keys().lock() {
            keys.remove(&key);
        }
    }
}

/// CancelRequest keys of live sessions, process-wide: a cancel arrives on a new connection that
/// may land on any shard. Locked at connect, disconnect and cancel only.
type CancelKeys = Mutex<HashMap<(i32, i32), Arc<AtomicBool>>>;

fn cancel_keys() -> &'static CancelKeys {
    static KEYS: std::sync::OnceLock<CancelKeys> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Flag the session with this key (if any) to stop its running statement.
pub(crate) fn cancel_session(key: (i32, i32)) {
    if let Ok(keys) = cancel_keys().lock()
        && let Some(flag) = keys.get(&key)
    {
        flag.store(true, Ordering::Relaxed);
    }
}

/// A secret that a client cannot guess from its pid: clock and address entropy mixed.
fn random_secret(pid: i32) -> i32 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mut x = t ^ (pid as u64).rotate_left(32) ^ (&t as *const u64 as u64);
    x ^= x >> 33;
    x = x.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    x ^= x >> 33;
    x as i32
}

/// Something a transaction has pending on a shard, to commit or roll back there.
#[derive(Debug, Clone)]
enum Touch {
    Row(TableId, RowId),
    Key(u64, Box<[u8]>),
}

/// A change a transaction made here while a savepoint was open, with what it replaced.
#[derive(Debug)]
enum Undo {
    Row {
        table: TableId,
        id: RowId,
        before: SavedIntent,
    },
    Key {
        constraint: u64,
        key: Box<[u8]>,
        before: Option<bool>,
    },
}

/// The savepoints a transaction has open when it writes: the numbers of the innermost and
/// the outermost (0: none). Numbers only grow within a transaction, so a change made under
/// savepoint n is undone by a rollback to any savepoint numbered n or less.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Savepoints {
    pub innermost: u32,
    pub outermost: u32,
}

impl Savepoints {
    /// Whether any savepoint is open (else nothing needs to be kept for undo).
    pub fn open(&self) -> bool {
        self.innermost > 0
    }
}

/// One shard's state.
pub struct ShardState {
    id: usize,
    engine: Arc<Engine>,
    tables: RefCell<HashMap<TableId, RowTable>>,
    unique: RefCell<UniqueKeys>,
    touched: RefCell<HashMap<WriterId, Vec<Touch>>>,
    /// This shard's WAL (`None` in an in-memory engine).
    log: Option<Rc<ShardLog>>,
    /// WAL records read at start-up, held until the set of committed transactions is known.
    recovered: RefCell<Vec<Record>>,
    /// Serialises catalog file writes (used on shard 0).
    pub(crate) catalog_writer: crate::durable::CatalogWriter,
    checkpoint: crate::durable::checkpoint::ShardCheckpoint,
    /// Start-up: segment files committed bulk loads logged, by file name, until replayed.
    recovered_segments: RefCell<HashMap<String, (u64, omendb_storage::segment::Segment)>>,
    /// Bulk loads (COPY into segments) by transaction.
    bulk: RefCell<HashMap<WriterId, crate::copy::bulk::BulkLoad>>,
    /// Statements (on any shard) waiting for a transaction to end here: fired by `finish`.
    waiters: RefCell<HashMap<WriterId, Vec<Fire>>>,
    /// Snapshots held by this shard's sessions, one entry per holder, unordered (a few per
    /// session at most; a vector keeps its capacity, so taking one per statement does not
    /// allocate).
    snapshots: RefCell<Vec<Ts>>,
    /// Multi-shard transactions prepared here whose commit timestamp may already be drawn:
    /// readers wait for them to end here (see `prepared_in_way`).
    prepared: RefCell<Vec<WriterId>>,
    /// Per transaction with an open savepoint: its changes here since the savepoint, each
    /// tagged with the number of the innermost savepoint open when it was made, oldest first.
    undo: RefCell<HashMap<WriterId, Vec<(u32, Undo)>>>,
}

/// A snapshot a session holds: it reads at `at`; `pin` (<= `at`) is what garbage collection
/// was told to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pinned {
    pub at: Ts,
    pin: Ts,
}

/// A shard as sessions hold it.
pub type ShardRef = Rc<Shard<ShardState>>;

impl ShardState {
    pub fn id(&self) -> usize {
        self.id
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// Run `f` on this shard's partition of `table`, creating it on first use.
    pub fn with_table<R>(&self, table: &Arc<TableSchema>, f: impl FnOnce(&mut RowTable) -> R) -> R {
        let mut tables = self.tables.borrow_mut();
        let t = tables
            .entry(table.id)
            .or_insert_with(|| RowTable::new(table.clone(), self.engine.index_kind()));
        f(t)
    }

    /// Tell the planner's statistics what this shard's segments of `table` now hold (after
    /// they changed: a bulk load, a checkpoint, recovery).
    pub fn publish_stats(&self, table: TableId) {
        let tables = self.tables.borrow();
        let Some(t) = tables.get(&table) else {
            return;
        };
        let summary = crate::catalog::stats::summarize(t.cold(), t.schema().columns.len());
        let shards = self.engine.shard_count();
        self.engine
            .catalog()
            .stats
            .publish(table, self.id, shards, summary);
    }

    /// [`ShardState::publish_stats`] for every table partition on this shard.
    pub fn publish_all_stats(&self) {
        let ids: Vec<TableId> = self.tables.borrow().keys().copied().collect();
        ids.into_iter().for_each(|id| self.publish_stats(id));
    }

    /// Bulk loads in progress on this shard.
    pub fn bulk_loads(&self) -> &RefCell<HashMap<WriterId, crate::copy::bulk::BulkLoad>> {
        &self.bulk
    }

    /// Checkpoint bookkeeping of this shard.
    pub fn checkpoint_state(&self) -> &crate::durable::checkpoint::ShardCheckpoint {
        &self.checkpoint
    }

    /// Checkpoint: freeze every table partition on this shard (see `RowTable::freeze`).
    pub fn freeze_tables(
        &self,
    ) -> Result<Vec<(TableId, omendb_storage::row::Frozen)>, EngineError> {
        let horizon = self.engine.horizon();
        let mut next = self.checkpoint.next_segment.get();
        let mut out = Vec::new();
        let mut tables = self.tables.borrow_mut();
        for (id, t) in tables.iter_mut() {
            let frozen = t.freeze(&mut next, horizon);
            self.checkpoint.next_segment.set(next);
            let frozen = frozen
                .map_err(|e| EngineError::Internal(format!("checkpoint of table {id}: {e}")))?;
            out.push((*id, frozen));
        }
        drop(tables);
        for (id, _) in &out {
            self.publish_stats(*id);
        }
        Ok(out)
    }

    /// The committed unique keys this shard owns.
    pub fn unique_keys_committed(&self) -> Vec<(u64, Box<[u8]>)> {
        self.unique
            .borrow()
            .committed()
            .map(|(c, k)| (c, Box::from(k)))
            .collect()
    }

    /// Forget every key of a dropped unique index.
    pub fn forget_unique_keys(&self, constraint: u64) {
        self.unique.borrow_mut().forget(constraint);
    }

    /// Recovery: a unique key the last checkpoint recorded.
    pub(crate) fn restore_unique_key(&self, constraint: u64, key: &[u8]) {
        self.unique.borrow_mut().replay(constraint, key, true);
    }

    /// TRUNCATE on this shard: log it (durably) and forget the rows.
    pub async fn truncate_table(&self, id: TableId) -> Result<(), EngineError> {
        if let Some(log) = self.log.as_ref() {
            let ticket = log.append(|a| a.truncate(id));
            log.wait(ticket).await.map_err(io_error)?;
        }
        self.drop_table(id);
        self.forget_table_keys(&self.engine.catalog(), id);
        Ok(())
    }

    /// TRUNCATE (or its replay): the unique keys this shard owns for the table's UNIQUE
    /// constraints and unique indexes go with its rows.
    fn forget_table_keys(&self, catalog: &Catalog, id: TableId) {
        let Some(table) = catalog.tables.values().find(|t| t.id == id) else {
            return;
        };
        let mut unique = self.unique.borrow_mut();
        for position in 0..table.unique.len() {
            unique.forget(crate::exec::dml::constraint_id(table, position));
        }
    }

    /// Forget a dropped or truncated table's rows on this shard.
    pub fn drop_table(&self, id: TableId) {
        self.tables.borrow_mut().remove(&id);
        let shards = self.engine.shard_count();
        self.engine
            .catalog()
            .stats
            .publish(id, self.id, shards, None);
    }

    /// Whether a transaction other than `except` has uncommitted writes on `table` here.
    /// A bulk load (COPY into segments) in progress counts: its rows commit unchecked.
    pub fn has_pending_rows(&self, table: TableId, except: WriterId) -> bool {
        self.touched.borrow().iter().any(|(w, touches)| {
            *w != except
                && touches
                    .iter()
                    .any(|t| matches!(t, Touch::Row(id, _) if *id == table))
        }) || self
            .bulk
            .borrow()
            .iter()
            .any(|(w, load)| *w != except && load.table.id == table)
    }

    pub fn record_row(&self, writer: WriterId, table: TableId, row: RowId) {
        self.touched
            .borrow_mut()
            .entry(writer)
            .or_default()
            .push(Touch::Row(table, row));
    }

    /// Reserve (`true`) or release unique keys for `writer`; stops at the first refusal.
    /// `savepoint` is the innermost open savepoint's number (0: none).
    pub fn change_keys(
        &self,
        writer: WriterId,
        savepoint: Savepoints,
        keys: &[(u64, Vec<u8>, bool)],
    ) -> Result<(), RowError> {
        let mut unique = self.unique.borrow_mut();
        for (constraint, key, reserve) in keys {
            // Only an open savepoint needs the state before (the lookup allocates).
            let before = savepoint
                .open()
                .then(|| unique.pending_change(*constraint, key, writer));
            if *reserve {
                unique.reserve(*constraint, key, writer)?;
            } else {
                unique.release(*constraint, key, writer)?;
            }
            if let Some(before) = before {
                self.remember_key(writer, savepoint, *constraint, key, before);
            }
            self.touched
                .borrow_mut()
                .entry(writer)
                .or_default()
                .push(Touch::Key(*constraint, key.clone().into_boxed_slice()));
        }
        Ok(())
    }

    /// Whether `writer` could reserve the unique key (`Busy` or a violation if not).
    pub fn check_key(&self, writer: WriterId, constraint: u64, key: &[u8]) -> Result<(), RowError> {
        self.unique.borrow().check(constraint, key, writer)
    }

    /// Reserve a unique key for `writer`; returns the writer's pending change of it before,
    /// for `restore_key`.
    pub fn reserve_key(
        &self,
        writer: WriterId,
        savepoint: Savepoints,
        constraint: u64,
        key: &[u8],
    ) -> Result<Option<bool>, RowError> {
        let mut unique = self.unique.borrow_mut();
        let before = unique.pending_change(constraint, key, writer);
        unique.reserve(constraint, key, writer)?;
        self.remember_key(writer, savepoint, constraint, key, before);
        self.touched
            .borrow_mut()
            .entry(writer)
            .or_default()
            .push(Touch::Key(constraint, key.into()));
        Ok(before)
    }

    /// Undo a `reserve_key` (an INSERT … ON CONFLICT row that lost a race).
    pub fn restore_key(&self, writer: WriterId, constraint: u64, key: &[u8], before: Option<bool>) {
        self.unique
            .borrow_mut()
            .restore(constraint, key, writer, before);
    }

    /// Under an open savepoint (`savepoint` > 0): `writer`'s intent on a row was `before`
    /// until the change just made.
    pub fn remember_row(
        &self,
        writer: WriterId,
        savepoint: Savepoints,
        table: TableId,
        id: RowId,
        before: SavedIntent,
    ) {
        if savepoint.open() {
            let undo = Undo::Row { table, id, before };
            self.log_undo(writer, savepoint, undo);
        }
    }

    fn remember_key(
        &self,
        writer: WriterId,
        savepoint: Savepoints,
        constraint: u64,
        key: &[u8],
        before: Option<bool>,
    ) {
        if savepoint.open() {
            let undo = Undo::Key {
                constraint,
                key: key.into(),
                before,
            };
            self.log_undo(writer, savepoint, undo);
        }
    }

    /// Add to `writer`'s undo log, first dropping what only savepoints released before the
    /// outermost open one was made under (no rollback can reach it any more).
    fn log_undo(&self, writer: WriterId, savepoint: Savepoints, undo: Undo) {
        let mut logs = self.undo.borrow_mut();
        let log = logs.entry(writer).or_default();
        if log.first().is_some_and(|(n, _)| *n < savepoint.outermost) {
            let stale = log
                .iter()
                .position(|(n, _)| *n >= savepoint.outermost)
                .unwrap_or(log.len());
            log.drain(..stale);
        }
        log.push((savepoint.innermost, undo));
    }

    /// ROLLBACK TO SAVEPOINT number `savepoint`: undo, newest first, every change `writer`
    /// made here under it or a savepoint opened after it.
    pub fn rollback_to(&self, writer: WriterId, savepoint: u32) -> Result<(), RowError> {
        let undone: Vec<(u32, Undo)> = {
            let mut undo = self.undo.borrow_mut();
            let Some(log) = undo.get_mut(&writer) else {
                return Ok(());
            };
            let keep = log
                .iter()
                .position(|(n, _)| *n >= savepoint)
                .unwrap_or(log.len());
            log.split_off(keep)
        };
        for (_, change) in undone.into_iter().rev() {
            match change {
                Undo::Row { table, id, before } => {
                    let moved = match self.tables.borrow_mut().get_mut(&table) {
                        Some(t) => t.restore_intent(id, writer, before)?,
                        None => None,
                    };
                    if let Some(id) = moved {
                        self.record_row(writer, table, id);
                    }
                }
                Undo::Key {
                    constraint,
                    key,
                    before,
                } => self
                    .unique
                    .borrow_mut()
                    .restore(constraint, &key, writer, before),
            }
        }
        // Statements waiting for rows or keys given back may take them now; the others find
        // the transaction still in their way and wait again.
        let waiting = self.waiters.borrow_mut().remove(&writer);
        for fire in waiting.into_iter().flatten() {
            fire.fire();
        }
        Ok(())
    }

    pub fn log(&self) -> Option<&Rc<ShardLog>> {
        self.log.as_ref()
    }

    /// Log `writer`'s changes on this shard, its commit record and the sequence marks (a
    /// single-shard commit) and wait until they are durable. Returns whether anything was logged.
    pub async fn log_changes(
        &self,
        writer: WriterId,
        marks: &[(String, i64)],
    ) -> Result<bool, EngineError> {
        let Some(log) = self.log.as_ref() else {
            return Ok(false);
        };
        let mut any = false;
        let ticket = log.append(|a| {
            any = self.append_changes(writer, a);
            for (name, mark) in marks {
                a.sequence(name, *mark);
            }
            if any {
                a.commit(writer);
            }
        });
        if !any && marks.is_empty() {
            return Ok(false);
        }
        log.wait(ticket).await.map_err(io_error)?;
        Ok(any)
    }

    /// Log `writer`'s commit decision with sequence marks; durable on return.
    pub async fn log_decision(
        &self,
        writer: WriterId,
        marks: &[(String, i64)],
    ) -> Result<(), EngineError> {
        let ticket = self.append_decision(writer, &[], marks);
        self.wait_logged(ticket).await
    }

    /// Append `writer`'s commit decision with sequence marks, without waiting; the ticket to
    /// wait for (none without a WAL). `participants`: none for a `Commit` record, else the
    /// shards whose `Prepared` markers the `Decision` needs (see `durable::commit`).
    pub fn append_decision(
        &self,
        writer: WriterId,
        participants: &[u32],
        marks: &[(String, i64)],
    ) -> Option<crate::durable::log::Ticket> {
        let log = self.log.as_ref()?;
        Some(log.append(|a| {
            for (name, mark) in marks {
                a.sequence(name, *mark);
            }
            if participants.is_empty() {
                a.commit(writer);
            } else {
                a.decision(writer, participants);
            }
        }))
    }

    /// Wait until an appended `ticket` is durable.
    pub async fn wait_logged(
        &self,
        ticket: Option<crate::durable::log::Ticket>,
    ) -> Result<(), EngineError> {
        match (self.log.as_ref(), ticket) {
            (Some(log), Some(ticket)) => log.wait(ticket).await.map_err(io_error),
            _ => Ok(()),
        }
    }

    /// Log `writer`'s records here followed by its `Prepared` marker (a participant of a
    /// multi-shard commit); durable on return. The marker is logged even without records: the
    /// decision, written before anyone knows, lists this shard.
    pub async fn log_prepared(&self, writer: WriterId) -> Result<(), EngineError> {
        let Some(log) = self.log.as_ref() else {
            return Ok(());
        };
        let ticket = log.append(|a| {
            self.append_changes(writer, a);
            a.prepared(writer);
        });
        log.wait(ticket).await.map_err(io_error)
    }

    /// Records for every change `writer` will make here at commit; whether there were any.
    fn append_changes(&self, writer: WriterId, a: &mut omendb_storage::wal::Appender<'_>) -> bool {
        let mut any = false;
        if let Some(load) = self.bulk.borrow().get(&writer) {
            for file in load.files() {
                a.segment(writer, load.table.id, &file);
                any = true;
            }
        }
        let touched = self.touched.borrow();
        let Some(touches) = touched.get(&writer) else {
            return any;
        };
        let tables = self.tables.borrow();
        let unique = self.unique.borrow();
        let mut rows: Vec<(TableId, RowId)> = Vec::new();
        let mut keys: Vec<(u64, &[u8])> = Vec::new();
        for t in touches {
            match t {
                Touch::Row(table, row) => rows.push((*table, *row)),
                Touch::Key(c, k) => keys.push((*c, k)),
            }
        }
        // A row touched twice (insert, then update) is logged once, in its final state.
        rows.sort_unstable();
        rows.dedup();
        keys.sort_unstable();
        keys.dedup();
        for (table, row) in rows {
            match tables.get(&table).and_then(|t| t.change(row, writer)) {
                Some(Change::Put(r)) => a.put(writer, table, r),
                Some(Change::Delete(r)) => a.delete(writer, table, r),
                None => continue,
            }
            any = true;
        }
        for (c, k) in keys {
            if let Some(present) = unique.pending_change(c, k, writer) {
                a.key(writer, c, k, present);
                any = true;
            }
        }
        any
    }

    /// Start-up: the (table, file) of every segment a committed transaction logged here.
    pub(crate) fn logged_segments(
        &self,
        committed: &std::collections::HashSet<u64>,
    ) -> Vec<(TableId, String)> {
        self.recovered
            .borrow()
            .iter()
            .filter_map(|r| match r {
                Record::Segment { txn, table, file } if committed.contains(txn) => {
                    Some((*table, file.clone()))
                }
                _ => None,
            })
            .collect()
    }

    /// Start-up: a logged segment, read and checked, for the replay to install.
    pub(crate) fn hold_segment(
        &self,
        file: String,
        id: u64,
        segment: omendb_storage::segment::Segment,
    ) {
        self.recovered_segments
            .borrow_mut()
            .insert(file, (id, segment));
    }

    /// (table, segment number) of every segment the tables hold.
    pub(crate) fn segment_ids(&self) -> Vec<(TableId, u64)> {
        self.tables
            .borrow()
            .iter()
            .flat_map(|(id, t)| t.cold().segments().iter().map(move |c| (*id, c.id)))
            .collect()
    }

    /// Start-up: keep the records read from this shard's WAL until the committed set is known.
    pub(crate) fn hold_recovered(&self, records: Vec<Record>) {
        self.recovered.borrow_mut().extend(records);
    }

    /// Start-up: apply the held records of committed transactions (and the non-transactional
    /// ones) in log order.
    pub(crate) fn replay(
        &self,
        catalog: &Catalog,
        committed: &std::collections::HashSet<u64>,
    ) -> usize {
        let by_id: HashMap<TableId, &Arc<TableSchema>> =
            catalog.tables.values().map(|t| (t.id, t)).collect();
        let records = std::mem::take(&mut *self.recovered.borrow_mut());
        let mut applied = 0;
        for record in records {
            let live = record.txn().is_none_or(|t| committed.contains(&t));
            if !live {
                continue;
            }
            match record {
                Record::Put { table, row, .. } => {
                    if let Some(schema) = by_id.get(&table) {
                        self.with_table(schema, |t| t.replay_put(row.into_boxed_slice()));
                        applied += 1;
                    }
                }
                Record::Delete { table, row, .. } => {
                    if let Some(schema) = by_id.get(&table) {
                        self.with_table(schema, |t| t.replay_delete(&row));
                        applied += 1;
                    }
                }
                Record::Key {
                    constraint,
                    key,
                    present,
                    ..
                } => self.unique.borrow_mut().replay(constraint, &key, present),
                Record::Truncate { table } => {
                    self.drop_table(table);
                    self.forget_table_keys(catalog, table);
                }
                Record::Sequence { name, next } => {
                    if let Some(seq) = catalog.sequences.get(&name) {
                        seq.raise_to(next);
                    }
                }
                Record::Segment { table, file, .. } => {
                    let held = self.recovered_segments.borrow_mut().remove(&file);
                    if let (Some(schema), Some((id, segment))) = (by_id.get(&table), held) {
                        self.with_table(schema, |t| {
                            t.install_segment(omendb_storage::row::ColdSegment {
                                id,
                                deletes: omendb_storage::segment::DeleteVector::new(segment.rows()),
                                segment: Arc::new(segment),
                                since: 0,
                            })
                        });
                        applied += 1;
                    }
                }
                Record::Commit { .. } | Record::Prepared { .. } | Record::Decision { .. } => {}
            }
        }
        for (id, t) in self.tables.borrow().iter() {
            if let Some(count) = catalog.row_counts.get(id) {
                count.fetch_add(t.committed_len() as i64, Ordering::Relaxed);
            }
        }
        applied
    }

    /// An event that fires when `writer` commits or rolls back on this shard. Called in the
    /// same shard job that found `writer` in the way (`Busy`), so the end cannot slip in
    /// between and be missed.
    pub fn when_ended(&self, writer: WriterId) -> Awaited {
        let (fire, awaited) = end_of(writer);
        self.waiters
            .borrow_mut()
            .entry(writer)
            .or_default()
            .push(fire);
        awaited
    }

    /// Take a snapshot for a session of this shard: a timestamp is registered (so garbage
    /// collection keeps what it sees) before the snapshot's own is read from the clock, so a
    /// horizon computed concurrently is never above the snapshot. Release it with
    /// `unpin_snapshot`.
    pub fn pin_snapshot(&self) -> Pinned {
        let pin = self.engine.clock();
        self.snapshots.borrow_mut().push(pin);
        self.publish_oldest();
        Pinned {
            at: self.engine.clock(),
            pin,
        }
    }

    pub fn unpin_snapshot(&self, pinned: Pinned) {
        let mut snapshots = self.snapshots.borrow_mut();
        if let Some(i) = snapshots.iter().position(|&ts| ts == pinned.pin) {
            snapshots.swap_remove(i);
        }
        drop(snapshots);
        self.publish_oldest();
    }

    fn publish_oldest(&self) {
        let oldest = self
            .snapshots
            .borrow()
            .iter()
            .copied()
            .min()
            .unwrap_or(Ts::MAX);
        if let Some(slot) = self.engine.oldest_snapshot.get(self.id) {
            slot.store(oldest, Ordering::SeqCst);
        }
    }

    /// Multi-shard commit, first phase done here: `writer`'s changes are durable (or, without
    /// storage, about to be applied); until `finish`, readers of this shard wait for it.
    pub fn prepare(&self, writer: WriterId) {
        self.prepared.borrow_mut().push(writer);
    }

    /// A prepared transaction a reader of `table` here must wait for (its commit timestamp
    /// may be at or before the reader's snapshot while its changes are not applied yet).
    pub fn prepared_in_way(&self, table: TableId) -> Option<WriterId> {
        let prepared = self.prepared.borrow();
        if prepared.is_empty() {
            return None;
        }
        let touched = self.touched.borrow();
        prepared.iter().copied().find(|w| {
            touched.get(w).is_some_and(|t| {
                t.iter()
                    .any(|t| matches!(t, Touch::Row(id, _) if *id == table))
            }) || self
                .bulk
                .borrow()
                .get(w)
                .is_some_and(|l| l.table.id == table)
        })
    }

    /// Commit (at timestamp `ts`) or roll back (`None`) everything `writer` has pending on
    /// this shard, then wake the statements waiting for it.
    pub fn finish(&self, writer: WriterId, ts: Option<Ts>) {
        self.undo.borrow_mut().remove(&writer);
        self.end_pending(writer, ts);
        self.prepared.borrow_mut().retain(|w| *w != writer);
        let waiting = self.waiters.borrow_mut().remove(&writer);
        for fire in waiting.into_iter().flatten() {
            fire.fire();
        }
    }

    fn end_pending(&self, writer: WriterId, ts: Option<Ts>) {
        let commit = ts.is_some();
        let ts = ts.unwrap_or(0);
        if let Some((table, rows)) = crate::copy::bulk::bulk_end(self, writer, commit, ts)
            && let Some(count) = self.engine.catalog().row_counts.get(&table)
        {
            count.fetch_add(rows, Ordering::Relaxed);
        }
        let Some(touches) = self.touched.borrow_mut().remove(&writer) else {
            return;
        };
        let mut tables = self.tables.borrow_mut();
        let mut unique = self.unique.borrow_mut();
        let mut deltas: Vec<(TableId, i64)> = Vec::new();
        for touch in touches {
            match touch {
                Touch::Row(table, row) => {
                    if let Some(t) = tables.get_mut(&table) {
                        if commit {
                            let d = t.commit(row, writer, ts);
                            match deltas.iter_mut().find(|(id, _)| *id == table) {
                                Some((_, total)) => *total += d,
                                None => deltas.push((table, d)),
                            }
                        } else {
                            t.rollback(row, writer);
                        }
                    }
                }
                Touch::Key(constraint, key) => {
                    if commit {
                        unique.commit(constraint, &key, writer);
                    } else {
                        unique.rollback(constraint, &key, writer);
                    }
                }
            }
        }
        if commit {
            // Garbage collection rides on commits: the tables just written are the ones that
            // gained old versions.
            let horizon = self.engine.horizon();
            for (table, _) in &deltas {
                if let Some(t) = tables.get_mut(table) {
                    t.collect(horizon);
                }
            }
        }
        if !deltas.is_empty() {
            let catalog = self.engine.catalog();
            for (table, d) in deltas {
                if let Some(count) = catalog.row_counts.get(&table) {
                    count.fetch_add(d, Ordering::Relaxed);
                }
            }
        }
    }
}
