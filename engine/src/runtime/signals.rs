//! SIGTERM and SIGINT become a graceful shutdown: the signals are blocked in every thread and
//! received by one waiting thread, which asks shard 0 to run the shutdown work and then stops
//! every shard.

use super::{Job, Mesh, Message, Shard};
use std::future::Future;
use std::rc::Rc;
use std::sync::{Arc, Mutex};

/// The blocked signal set (to wait on), or `None` if blocking failed (then the default
/// handlers stay: the process dies on the signal and recovery handles it).
#[derive(Clone, Copy)]
pub(super) struct Blocked(libc::sigset_t);

/// Block SIGTERM and SIGINT in this thread and every thread it starts afterwards.
pub(super) fn block_termination() -> Option<Blocked> {
    // SAFETY: sigset_t is plain data that sigemptyset initialises; pthread_sigmask changes only
    // this thread's signal mask.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        if libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
            return None;
        }
        Some(Blocked(set))
    }
}

/// Start the thread that waits for a signal and runs `shutdown` on shard 0 of `mesh`.
///
/// `recovered` tells whether start-up recovery has finished: a signal before that stops the
/// shards without the shutdown work, as a crash would (the next start recovers again). The
/// shutdown work checkpoints, and a checkpoint of a half-recovered state would record it as
/// the whole database.
pub(super) fn forward_to<S, D, DFut>(
    blocked: Option<Blocked>,
    mesh: Arc<Mesh<S>>,
    shutdown: Arc<Mutex<Option<D>>>,
    recovered: impl Fn() -> bool + Send + 'static,
) where
    S: 'static,
    D: FnOnce(Rc<Shard<S>>) -> DFut + Send + 'static,
    DFut: Future<Output = ()> + 'static,
{
    let Some(Blocked(set)) = blocked else {
        return;
    };
    let spawned = std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let mut signal = 0;
            // SAFETY: sigwait reads the set we own and writes the signal number.
            let rc = unsafe { libc::sigwait(&set, &mut signal) };
            if rc != 0 {
                return;
            }
            tracing::info!("signal {signal} received: shutting down");
            let Some(work) = shutdown.lock().ok().and_then(|mut s| s.take()) else {
                return;
            };
            let stop_all = mesh.clone();
            let job: Job<S> = Box::new(move |shard| {
                Box::pin(async move {
                    // Checked on shard 0, where recovery runs: it cannot finish in between.
                    if recovered() {
                        work(shard).await;
                    } else {
                        tracing::warn!(
                            "signal during start-up recovery: stopping without a checkpoint"
                        );
                    }
                    for inbox in &stop_all.inboxes {
                        let _ = inbox.send(Message::Stop);
                    }
                })
            });
            if let Some(inbox) = mesh.inboxes.first() {
                let _ = inbox.send(Message::Run(job));
            }
        });
    if let Err(e) = spawned {
        tracing::warn!("cannot start the signal thread ({e}): SIGTERM will not shut down cleanly");
    }
}
