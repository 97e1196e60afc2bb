//! One-shot events that cross shards: a shard arms an event, keeps its `Fire` side and hands the
//! `Awaited` side to a task that may run on any shard; firing wakes that task on its own
//! executor at once. Lock waits use them to wake a statement when the transaction it waits
//! for ends.
//!
//! Must never block a thread: waiting is an `await` bounded by a timer.

use futures_channel::oneshot;
use std::time::Duration;

/// The side that fires (kept where the awaited thing happens).
pub struct Fire(oneshot::Sender<()>);

/// The side that waits (may be sent to another shard), with what it waits for: a
/// transaction id (0: not a transaction), for deadlock detection.
pub struct Awaited(oneshot::Receiver<()>, u64);

/// A new, unfired event.
pub fn event() -> (Fire, Awaited) {
    let (tx, rx) = oneshot::channel();
    (Fire(tx), Awaited(rx, 0))
}

/// A new, unfired event that fires when transaction `txn` ends.
pub fn end_of(txn: u64) -> (Fire, Awaited) {
    let (tx, rx) = oneshot::channel();
    (Fire(tx), Awaited(rx, txn))
}

impl Fire {
    /// Wake the waiter (nothing happens if it stopped waiting).
    pub fn fire(self) {
        let _ = self.0.send(());
    }
}

/// How a bounded wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waited {
    /// The event fired, or its `Fire` side was dropped (nothing will fire it: look again).
    Fired,
    /// The time passed first.
    TimedOut,
}

impl Awaited {
    /// The transaction whose end fires the event (0: not a transaction's end).
    pub fn txn(&self) -> u64 {
        self.1
    }

    /// Wait for the event, at most `limit`. Usable again after `TimedOut`.
    pub async fn wait(&mut self, limit: Duration) -> Waited {
        use futures_lite::FutureExt;
        let fired = async {
            let _ = (&mut self.0).await;
            Waited::Fired
        };
        let timeout = async {
            glommio::timer::sleep(limit).await;
            Waited::TimedOut
        };
        fired.or(timeout).await
    }
}
