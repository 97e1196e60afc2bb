//! One shard's WAL writer with group commit.
//!
//! Committers append framed records to an in-memory buffer and get a ticket; the first one to
//! wait while no flush is running becomes the leader: it takes everything appended so far (its
//! own records and those of every committer that arrived meanwhile), writes it as one 4 KiB-
//! aligned unit with O_DIRECT, fdatasyncs, and wakes everyone whose ticket it covered. Commits
//! arriving during that flush share the next one.
//!
//! With `SyncMode::On` the unit's pwrite and fdatasync run together on the shard's blocking-
//! thread pool, not on the io_uring: measured on a 2-vCPU virtio VM with two shards, an
//! io_uring O_DIRECT write on a shard that was asleep took ~1 ms to complete (against ~0.1 ms
//! for the fdatasync itself), and io_uring fdatasyncs, which the kernel punts to io-wq
//! workers, made every later io_uring cancellation on the shard (glommio cancels timers each
//! loop) walk those workers: 3x fewer commits/s at 64 clients than with the blocking write.
//!
//! Must never acknowledge a ticket before its bytes are durable (with `SyncMode::On`), and must
//! never write again after a failed write: the log is then poisoned and every commit fails.

use crate::runtime::file::{DirectFile, create_dir_all, rename, sync_dir};
use futures_channel::oneshot;
use omendb_storage::wal::{Appender, header_block, pad_to_block};
use std::cell::{Cell, RefCell};
use std::io;
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// Whether a commit waits for fdatasync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMode {
    /// Acknowledge after fdatasync (the default).
    On,
    /// Acknowledge after appending to memory; a background task writes every few milliseconds
    /// without fdatasync. For benchmarks only: a crash loses recent commits.
    Off,
}

/// Size of a WAL file. Files are zero-filled to this size before use (like PostgreSQL's WAL
/// segments): appends then overwrite blocks that already exist, and fdatasync has only data to
/// flush, no file-size change to journal, which would serialise the shards' syncs.
pub const WAL_FILE_BYTES: u64 = 16 * 1024 * 1024;
/// A zero-filled file prepared in the background for the next generation.
const SPARE: &str = "spare";
const SPARE_TMP: &str = "spare.tmp";

/// Position in the sequence of appends; a ticket is durable once `durable >= ticket`.
pub type Ticket = u64;

/// A shard's WAL.
pub struct ShardLog {
    dir: PathBuf,
    shard: u32,
    sync: SyncMode,
    file: RefCell<Option<Rc<DirectFile>>>,
    generation: Cell<u64>,
    pending: RefCell<Vec<u8>>,
    appended: Cell<Ticket>,
    durable: Cell<Ticket>,
    flushing: Cell<bool>,
    /// Next write offset in the current file (block-aligned).
    tail: Cell<u64>,
    /// Bytes written to WAL files since the last checkpoint.
    written: Cell<u64>,
    failed: RefCell<Option<String>>,
    /// The next file is being (or has been) prepared for the current one.
    spare_requested: Cell<bool>,
    waiters: RefCell<Vec<oneshot::Sender<()>>>,
}

/// WAL file name of a generation: sorts in generation order.
pub fn wal_file_name(generation: u64) -> String {
    format!("{generation:016}.wal")
}

/// The generation a WAL file name holds, if it is one.
pub fn wal_generation(name: &str) -> Option<u64> {
    name.strip_suffix(".wal")?.parse().ok()
}

impl ShardLog {
    pub fn new(dir: PathBuf, shard: u32, sync: SyncMode) -> ShardLog {
        ShardLog {
            dir,
            shard,
            sync,
            file: RefCell::new(None),
            generation: Cell::new(0),
            pending: RefCell::new(Vec::new()),
            appended: Cell::new(0),
            durable: Cell::new(0),
            flushing: Cell::new(false),
            tail: Cell::new(0),
            written: Cell::new(0),
            failed: RefCell::new(None),
            spare_requested: Cell::new(false),
            waiters: RefCell::new(Vec::new()),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn sync_mode(&self) -> SyncMode {
        self.sync
    }

    pub fn generation(&self) -> u64 {
        self.generation.get()
    }

    pub fn written_since_checkpoint(&self) -> u64 {
        self.written.get()
    }

    /// Start writing generation `generation` in a new file (start-up, a full file). Anything
    /// appended before is flushed to the previous file first.
    pub async fn rotate(self: &Rc<Self>, generation: u64) -> io::Result<()> {
        self.flush_all().await?;
        self.switch_to(generation).await
    }

    async fn switch_to(self: &Rc<Self>, generation: u64) -> io::Result<()> {
        create_dir_all(&self.dir)?;
        let path = self.dir.join(wal_file_name(generation));
        let spare = self.dir.join(SPARE);
        let file = if spare.exists() {
            rename(&spare, &path).await?;
            DirectFile::open_write(&path).await?
        } else {
            let file = DirectFile::create(&path).await?;
            file.zero_fill(WAL_FILE_BYTES).await?;
            file
        };
        file.write_at(0, &header_block(self.shard, generation))
            .await?;
        file.sync().await?;
        sync_dir(&self.dir).await?;
        let old = self.file.borrow_mut().replace(Rc::new(file));
        if let Some(old) = old.and_then(|f| Rc::try_unwrap(f).ok()) {
            old.close().await?;
        }
        self.generation.set(generation);
        self.tail.set(omendb_storage::io::BLOCK as u64);
        self.written.set(0);
        self.spare_requested.set(false);
        Ok(())
    }

    /// Start-up: keep appending to generation `generation` at byte `tail` (block-aligned, just
    /// past its last valid record). When the log was cut there, whatever follows is zeroed
    /// first, so that no leftover of an unacknowledged flush can ever follow the new records.
    pub async fn resume(
        self: &Rc<Self>,
        generation: u64,
        tail: u64,
        was_cut: bool,
    ) -> io::Result<()> {
        let path = self.dir.join(wal_file_name(generation));
        let file = DirectFile::open_write(&path).await?;
        let size = file.size().await?;
        if was_cut {
            let zeros = vec![0u8; 1024 * 1024];
            let mut pos = tail;
            while pos < size {
                let n = (size - pos).min(zeros.len() as u64) as usize;
                file.write_at(pos, &zeros[..n]).await?;
                pos += n as u64;
            }
            file.sync().await?;
        }
        let old = self.file.borrow_mut().replace(Rc::new(file));
        if let Some(old) = old.and_then(|f| Rc::try_unwrap(f).ok()) {
            old.close().await?;
        }
        self.generation.set(generation);
        self.tail.set(tail);
        self.spare_requested.set(false);
        Ok(())
    }

    /// Zero-fill the next generation's file in the background, once the current one is half
    /// full (a server that writes little never pays for it).
    fn prepare_spare(self: &Rc<Self>) {
        if self.spare_requested.get() || self.tail.get() < WAL_FILE_BYTES / 2 {
            return;
        }
        self.spare_requested.set(true);
        let log = self.clone();
        crate::runtime::spawn_local(async move {
            let (tmp, spare) = (log.dir.join(SPARE_TMP), log.dir.join(SPARE));
            let result = async {
                let file = DirectFile::create(&tmp).await?;
                file.zero_fill(WAL_FILE_BYTES).await?;
                file.sync().await?;
                file.close().await?;
                rename(&tmp, &spare).await
            }
            .await;
            if let Err(e) = result {
                tracing::warn!(shard = log.shard, "cannot prepare the next WAL file: {e}");
            }
        })
        .detach();
    }

    /// Append records (built by `build`); returns the ticket to wait for.
    pub fn append(&self, build: impl FnOnce(&mut Appender<'_>)) -> Ticket {
        let mut pending = self.pending.borrow_mut();
        build(&mut Appender::new(&mut pending));
        let t = self.appended.get() + 1;
        self.appended.set(t);
        t
    }

    /// Wait until `ticket` is durable (or, with `SyncMode::Off`, return at once).
    pub async fn wait(self: &Rc<Self>, ticket: Ticket) -> io::Result<()> {
        if self.sync == SyncMode::Off {
            return self.check_failed();
        }
        self.wait_durable(ticket).await
    }

    async fn wait_durable(self: &Rc<Self>, ticket: Ticket) -> io::Result<()> {
        loop {
            self.check_failed()?;
            if self.durable.get() >= ticket {
                return Ok(());
            }
            if !self.flushing.get() {
                self.flush().await?;
                continue;
            }
            let (tx, rx) = oneshot::channel();
            self.waiters.borrow_mut().push(tx);
            let _ = rx.await;
        }
    }

    /// Write (and with `SyncMode::On`, sync) everything appended so far.
    pub async fn flush_all(self: &Rc<Self>) -> io::Result<()> {
        if self.file.borrow().is_none() {
            return Ok(());
        }
        self.wait_durable(self.appended.get()).await
    }

    fn check_failed(&self) -> io::Result<()> {
        match &*self.failed.borrow() {
            Some(e) => Err(io::Error::other(format!("the WAL is unusable: {e}"))),
            None => Ok(()),
        }
    }

    /// One flush unit: take the buffer, pad, write at the tail, fdatasync, publish.
    async fn flush(self: &Rc<Self>) -> io::Result<()> {
        let upto = self.appended.get();
        let mut unit = std::mem::take(&mut *self.pending.borrow_mut());
        if unit.is_empty() {
            self.durable.set(upto);
            return Ok(());
        }
        self.flushing.set(true);
        pad_to_block(&mut unit);
        if self.tail.get() + unit.len() as u64 > WAL_FILE_BYTES
            && self.tail.get() > omendb_storage::io::BLOCK as u64
        {
            // This file is full: continue in the next generation (a unit larger than a whole
            // file, a big COPY, simply makes its file larger).
            if let Err(e) = self.switch_to(self.generation.get() + 1).await {
                self.flushing.set(false);
                *self.failed.borrow_mut() = Some(e.to_string());
                for w in self.waiters.borrow_mut().drain(..) {
                    let _ = w.send(());
                }
                return Err(e);
            }
        }
        let Some(file) = self.file.borrow().clone() else {
            self.flushing.set(false);
            return Err(io::Error::other("the WAL is not open"));
        };
        let pos = self.tail.get();
        let result = match self.sync {
            SyncMode::On => file.write_sync_blocking(pos, &unit).await,
            SyncMode::Off => file.write_at(pos, &unit).await,
        };
        self.flushing.set(false);
        match &result {
            Ok(()) => {
                self.tail.set(pos + unit.len() as u64);
                self.written.set(self.written.get() + unit.len() as u64);
                self.prepare_spare();
                self.durable.set(upto);
                // Give the buffer's capacity back for the next unit.
                let mut pending = self.pending.borrow_mut();
                if pending.is_empty() {
                    unit.clear();
                    *pending = unit;
                }
            }
            Err(e) => {
                tracing::error!(shard = self.shard, "WAL write failed: {e}");
                *self.failed.borrow_mut() = Some(e.to_string());
            }
        }
        for w in self.waiters.borrow_mut().drain(..) {
            let _ = w.send(());
        }
        result
    }
}
