//! Start-up checks: kernel, locked-memory limit, port. Each failure says what to change.

use socket2::{Domain, Protocol, Socket, Type};
use std::net::SocketAddr;
use thiserror::Error;

/// The server cannot start; the message tells the operator what to change.
#[derive(Debug, Error)]
pub enum StartupError {
    #[error("Linux {found} is too old: OmenDB needs io_uring from Linux {need} or newer")]
    Kernel { found: String, need: &'static str },
    #[error(
        "the locked-memory limit (ulimit -l) is {limit_kib} KiB, but {shards} shard(s) need at least {need_kib} KiB for io_uring buffers: raise it (ulimit -l, or LimitMEMLOCK= in systemd) or use fewer --shards"
    )]
    LockedMemory {
        limit_kib: u64,
        shards: usize,
        need_kib: u64,
    },
    #[error("cannot listen on {0}: {1} (is another server already using this port?)")]
    Bind(SocketAddr, String),
    #[error("{0}")]
    DataDir(String),
    #[error("recovery failed: {0}")]
    Recovery(String),
    #[error("shard {0} failed to start: {1}")]
    Executor(usize, String),
}

/// Smallest io_uring buffer area glommio accepts per executor.
const MIN_IO_MEMORY: u64 = 512 * 1024;
/// What glommio would register by default; more buys nothing for us yet.
const MAX_IO_MEMORY: u64 = 10 * 1024 * 1024;
/// glommio registers its buffer area on its rings and pins a little more besides; keep headroom.
const LOCKED_MEMORY_SHARE: u64 = 2;
const MIN_KERNEL: (u32, u32) = (5, 8);

/// Check the kernel and the locked-memory limit, and that `listen` is free. Returns the io_memory
/// each shard may register.
pub fn check_environment(shards: usize, listen: SocketAddr) -> Result<usize, StartupError> {
    check_kernel()?;
    let io_memory = io_memory_per_shard(shards)?;
    check_port_free(listen)?;
    Ok(io_memory)
}

fn check_kernel() -> Result<(), StartupError> {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut parts = release
        .trim()
        .split(['.', '-'])
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let version = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    if version < MIN_KERNEL {
        return Err(StartupError::Kernel {
            found: release.trim().to_string(),
            need: "5.8",
        });
    }
    Ok(())
}

fn io_memory_per_shard(shards: usize) -> Result<usize, StartupError> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own; no other memory is touched.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut limit) };
    let shards_u64 = shards.max(1) as u64;
    if rc != 0 || limit.rlim_cur == libc::RLIM_INFINITY {
        return Ok(MAX_IO_MEMORY as usize);
    }
    let per_shard = limit.rlim_cur / shards_u64 / LOCKED_MEMORY_SHARE;
    if per_shard < MIN_IO_MEMORY {
        return Err(StartupError::LockedMemory {
            limit_kib: limit.rlim_cur / 1024,
            shards,
            need_kib: MIN_IO_MEMORY * LOCKED_MEMORY_SHARE * shards_u64 / 1024,
        });
    }
    Ok(per_shard.min(MAX_IO_MEMORY) as usize)
}

/// glommio's listeners set SO_REUSEPORT, so a second server would silently share the port. A
/// plain bind without SO_REUSEPORT fails if anyone holds it.
fn check_port_free(listen: SocketAddr) -> Result<(), StartupError> {
    let probe = || -> std::io::Result<()> {
        let socket = Socket::new(
            Domain::for_address(listen),
            Type::STREAM,
            Some(Protocol::TCP),
        )?;
        // SO_REUSEADDR lets a restarted server bind past its old connections in TIME_WAIT, but
        // never past a live listener.
        socket.set_reuse_address(true)?;
        socket.bind(&listen.into())
    };
    probe().map_err(|e| StartupError::Bind(listen, e.to_string()))
}

/// Backlog of pending connections per shard listener.
const LISTEN_BACKLOG: i32 = 1024;

/// A listening socket for one shard: SO_REUSEPORT so every shard listens on the port (the kernel
/// spreads connections), SO_REUSEADDR so a restart is not refused by TIME_WAIT connections.
pub(crate) fn listener_socket(listen: SocketAddr) -> std::io::Result<Socket> {
    let socket = Socket::new(
        Domain::for_address(listen),
        Type::STREAM,
        Some(Protocol::TCP),
    )?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.bind(&listen.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    Ok(socket)
}
