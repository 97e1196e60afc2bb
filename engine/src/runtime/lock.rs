//! The data directory lock: one server per directory.

use super::StartupError;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::path::Path;

/// Holds an exclusive `flock` on `DATA_DIR/omendb.lock` for the life of the process.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

impl DataDirLock {
    /// Create the directory if needed and lock it; fails if another process holds it.
    pub fn acquire(dir: &Path) -> Result<DataDirLock, StartupError> {
        std::fs::create_dir_all(dir).map_err(|e| {
            StartupError::DataDir(format!(
                "cannot create data directory {}: {e}",
                dir.display()
            ))
        })?;
        let path = dir.join("omendb.lock");
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| StartupError::DataDir(format!("cannot open {}: {e}", path.display())))?;
        // SAFETY: flock on a descriptor we own; it does not touch our memory.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            return Err(StartupError::DataDir(format!(
                "data directory {} is in use by another omendb process (lock {} is held)",
                dir.display(),
                path.display()
            )));
        }
        let _ = file.set_len(0);
        let _ = writeln!(file, "{}", std::process::id());
        Ok(DataDirLock { _file: file })
    }
}
