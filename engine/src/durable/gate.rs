//! The commit gate: lets a checkpoint or TRUNCATE see a state in which no commit is between
//! logging and applying, so that what is in memory equals what the WAL holds.
//!
//! Commits pass the gate (a counter, no lock); a closer stops new commits, waits for the ones
//! inside to finish, does its work, and reopens. Closing is rare (checkpoints, TRUNCATE,
//! shutdown), so waiting polls.

use crate::runtime::sleep;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

const POLL: Duration = Duration::from_micros(500);

#[derive(Debug, Default)]
pub struct CommitGate {
    inside: AtomicUsize,
    closers: AtomicUsize,
}

/// A commit inside the gate; leaves on drop.
pub struct Pass<'a>(&'a CommitGate);

impl Drop for Pass<'_> {
    fn drop(&mut self) {
        self.0.inside.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The gate held closed; reopens on drop.
pub struct Closed<'a>(&'a CommitGate);

impl Drop for Closed<'_> {
    fn drop(&mut self) {
        self.0.closers.fetch_sub(1, Ordering::SeqCst);
    }
}

impl CommitGate {
    /// Enter to commit; waits while the gate is closed.
    pub async fn enter(&self) -> Pass<'_> {
        loop {
            if self.closers.load(Ordering::SeqCst) == 0 {
                self.inside.fetch_add(1, Ordering::SeqCst);
                if self.closers.load(Ordering::SeqCst) == 0 {
                    return Pass(self);
                }
                self.inside.fetch_sub(1, Ordering::SeqCst);
            }
            sleep(POLL).await;
        }
    }

    /// Close the gate (one closer at a time: checkpoints and TRUNCATEs never overlap) and wait
    /// until no commit is inside.
    pub async fn close(&self) -> Closed<'_> {
        while self
            .closers
            .compare_exchange(0, 1, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            sleep(POLL).await;
        }
        while self.inside.load(Ordering::SeqCst) != 0 {
            sleep(POLL).await;
        }
        Closed(self)
    }
}
