//! Files through io_uring with O_DIRECT (glommio DMA files): the only file I/O the engine does
//! on a shard. Offsets and lengths of writes are multiples of `BLOCK`; data is copied into
//! DMA buffers of at most `CHUNK` bytes (registered io_uring memory when the pool has room, heap
//! otherwise), so the 8 MiB locked-memory limit is never the bound.
//!
//! Must never block the executor: metadata operations that io_uring cannot do (listing a
//! directory) are only used at start-up and checkpoint, where they are brief; a WAL flush's
//! write and fdatasync run on the executor's blocking-thread pool (`write_sync_blocking`).

use glommio::io::{DmaFile, OpenOptions};
use omendb_storage::io::BLOCK;
use std::io;
use std::path::{Path, PathBuf};

/// Largest single write or read submitted: big enough for sequential bandwidth, small enough
/// that a DMA buffer never claims the registered pool for long.
const CHUNK: usize = 1024 * 1024;

/// A block-aligned copy of a WAL unit that a blocking thread may write with O_DIRECT.
struct AlignedBuf {
    ptr: std::ptr::NonNull<u8>,
    layout: std::alloc::Layout,
}

// SAFETY: the buffer is owned memory, moved to the blocking thread and freed there.
unsafe impl Send for AlignedBuf {}

impl AlignedBuf {
    fn copy_of(data: &[u8]) -> Option<AlignedBuf> {
        let layout = std::alloc::Layout::from_size_align(data.len().max(BLOCK), BLOCK).ok()?;
        // SAFETY: the layout has a non-zero size.
        let ptr = std::ptr::NonNull::new(unsafe { std::alloc::alloc(layout) })?;
        // SAFETY: `ptr` holds `layout.size() >= data.len()` bytes and does not overlap `data`.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), ptr.as_ptr(), data.len()) };
        Some(AlignedBuf { ptr, layout })
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        // SAFETY: allocated in `copy_of` with this layout.
        unsafe { std::alloc::dealloc(self.ptr.as_ptr(), self.layout) }
    }
}

/// pwrite all of `buf` at `pos`, then fdatasync (runs on a blocking thread).
fn write_sync(fd: std::os::fd::RawFd, pos: u64, buf: &AlignedBuf) -> io::Result<()> {
    let mut done = 0usize;
    let len = buf.layout.size();
    while done < len {
        // SAFETY: the range lies inside `buf`'s allocation; `fd` is open while the caller waits.
        let n = unsafe {
            libc::pwrite(
                fd,
                buf.ptr.as_ptr().add(done).cast(),
                len - done,
                (pos + done as u64) as libc::off_t,
            )
        };
        match n {
            n if n > 0 => done += n as usize,
            0 => return Err(io::Error::other("write made no progress")),
            _ => {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
        }
    }
    // SAFETY: plain syscall on an open descriptor.
    if unsafe { libc::fdatasync(fd) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// An open O_DIRECT file.
pub struct DirectFile {
    file: DmaFile,
    path: PathBuf,
}

fn with_path(path: &Path, e: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("{}: {e}", path.display()))
}

impl DirectFile {
    /// Create (or truncate) `path` for writing and reading.
    pub async fn create(path: &Path) -> io::Result<DirectFile> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .dma_open(path)
            .await
            .map_err(|e| with_path(path, e))?;
        Ok(DirectFile {
            file,
            path: path.to_path_buf(),
        })
    }

    /// Open an existing file for writing and reading, keeping its contents.
    pub async fn open_write(path: &Path) -> io::Result<DirectFile> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .dma_open(path)
            .await
            .map_err(|e| with_path(path, e))?;
        Ok(DirectFile {
            file,
            path: path.to_path_buf(),
        })
    }

    /// Write zeros over `[0, size)`, so later writes into the file change no metadata (and an
    /// fdatasync after them has no journal commit to wait for).
    pub async fn zero_fill(&self, size: u64) -> io::Result<()> {
        let zeros = vec![0u8; CHUNK];
        let mut pos = 0;
        while pos < size {
            let n = (size - pos).min(CHUNK as u64) as usize;
            self.write_at(pos, &zeros[..n]).await?;
            pos += n as u64;
        }
        Ok(())
    }

    /// Open an existing file for reading.
    pub async fn open(path: &Path) -> io::Result<DirectFile> {
        let file = DmaFile::open(path).await.map_err(|e| with_path(path, e))?;
        Ok(DirectFile {
            file,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Write `data` at `pos`; both must be multiples of `BLOCK`.
    pub async fn write_at(&self, pos: u64, data: &[u8]) -> io::Result<()> {
        if !pos.is_multiple_of(BLOCK as u64) || !data.len().is_multiple_of(BLOCK) {
            return Err(with_path(&self.path, "unaligned O_DIRECT write"));
        }
        let mut done = 0;
        while done < data.len() {
            let n = (data.len() - done).min(CHUNK);
            let mut buf = self.file.alloc_dma_buffer(n);
            buf.as_bytes_mut().copy_from_slice(&data[done..done + n]);
            let written = self
                .file
                .write_at(buf, pos + done as u64)
                .await
                .map_err(|e| with_path(&self.path, e))?;
            if written == 0 {
                return Err(with_path(&self.path, "write made no progress"));
            }
            // A short O_DIRECT write still ends on a block boundary.
            done += written - written % BLOCK;
        }
        Ok(())
    }

    /// Write `data` at `pos` and fdatasync, both on the executor's blocking-thread pool: one
    /// hand-off per flush, and no fdatasync on the io_uring (which punts it to an io-wq worker
    /// that every later io_uring cancellation on this shard then has to walk).
    pub async fn write_sync_blocking(&self, pos: u64, data: &[u8]) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        if !pos.is_multiple_of(BLOCK as u64) || !data.len().is_multiple_of(BLOCK) {
            return Err(with_path(&self.path, "unaligned O_DIRECT write"));
        }
        let buf =
            AlignedBuf::copy_of(data).ok_or_else(|| with_path(&self.path, "out of memory"))?;
        let fd = self.file.as_raw_fd();
        let done = glommio::executor()
            .spawn_blocking(move || write_sync(fd, pos, &buf))
            .await;
        done.map_err(|e| with_path(&self.path, e))
    }

    /// fdatasync: everything written so far is durable when this returns.
    pub async fn sync(&self) -> io::Result<()> {
        self.file
            .fdatasync()
            .await
            .map_err(|e| with_path(&self.path, e))
    }

    pub async fn size(&self) -> io::Result<u64> {
        self.file
            .file_size()
            .await
            .map_err(|e| with_path(&self.path, e))
    }

    /// The whole file.
    pub async fn read_all(&self) -> io::Result<Vec<u8>> {
        let size = self.size().await? as usize;
        let mut out = Vec::with_capacity(size);
        while out.len() < size {
            let n = (size - out.len()).min(CHUNK);
            let got = self
                .file
                .read_at(out.len() as u64, n)
                .await
                .map_err(|e| with_path(&self.path, e))?;
            if got.is_empty() {
                break;
            }
            out.extend_from_slice(&got);
        }
        Ok(out)
    }

    pub async fn close(self) -> io::Result<()> {
        let path = self.path;
        self.file.close().await.map_err(|e| with_path(&path, e))
    }
}

/// Write `data` (padded to whole blocks with zeros) to a new file at `path` and make it
/// durable: create, write, fdatasync, close.
pub async fn write_file(path: &Path, data: &[u8]) -> io::Result<()> {
    let file = DirectFile::create(path).await?;
    if data.len().is_multiple_of(BLOCK) {
        file.write_at(0, data).await?;
    } else {
        let mut padded = data.to_vec();
        padded.resize(omendb_storage::io::align_up(data.len()), 0);
        file.write_at(0, &padded).await?;
    }
    file.sync().await?;
    file.close().await
}

/// Read a whole file.
pub async fn read_file(path: &Path) -> io::Result<Vec<u8>> {
    let file = DirectFile::open(path).await?;
    let data = file.read_all().await?;
    file.close().await?;
    Ok(data)
}

/// Atomically replace `path` with `data`: write a temporary file, fsync it, rename it over
/// `path`, fsync the directory.
pub async fn replace_file(path: &Path, data: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    write_file(&tmp, data).await?;
    glommio::io::rename(&tmp, path)
        .await
        .map_err(|e| with_path(path, e))?;
    sync_dir(path.parent().unwrap_or(Path::new("."))).await
}

/// fsync a directory, so the names created or renamed in it are durable.
pub async fn sync_dir(dir: &Path) -> io::Result<()> {
    let d = glommio::io::Directory::open(dir)
        .await
        .map_err(|e| with_path(dir, e))?;
    d.sync().await.map_err(|e| with_path(dir, e))?;
    d.close().await.map_err(|e| with_path(dir, e))
}

/// Rename a file (the caller fsyncs the directory when the new name must be durable).
pub async fn rename(from: &Path, to: &Path) -> io::Result<()> {
    glommio::io::rename(from, to)
        .await
        .map_err(|e| with_path(to, e))
}

pub async fn remove_file(path: &Path) -> io::Result<()> {
    glommio::io::remove(path)
        .await
        .map_err(|e| with_path(path, e))
}

/// Create a directory (and its parents); start-up only.
pub fn create_dir_all(dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| with_path(dir, e))
}

/// File names in a directory (empty if it does not exist); start-up and checkpoint only.
pub fn list_dir(dir: &Path) -> io::Result<Vec<String>> {
    match std::fs::read_dir(dir) {
        Ok(entries) => Ok(entries
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().into_string().ok())
            .collect()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(with_path(dir, e)),
    }
}
