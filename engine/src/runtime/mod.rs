//! The only place that names glommio: shard executors pinned to cores, the channel mesh between
//! them, and TCP listeners. Everything else in OmenDB asks this module to run work on a shard.
//!
//! Keeping glommio behind this door means a move to another io_uring runtime touches one
//! module. This module must never know about tables, SQL or the wire protocol.

mod checks;
mod lock;

pub use checks::{StartupError, check_environment};
pub use lock::DataDirLock;

use futures_channel::oneshot;
use glommio::{LocalExecutorBuilder, Placement};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;

/// A TCP connection accepted on a shard.
pub type TcpStream = glommio::net::TcpStream;

/// Work sent to a shard: runs on that shard's thread with its state.
type Job<S> = Box<dyn FnOnce(Rc<Shard<S>>) -> Pin<Box<dyn Future<Output = ()>>> + Send>;

/// How the shards start.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    pub shards: usize,
    pub listen: SocketAddr,
    /// Bytes of io_uring registered buffers per shard (sized to the locked-memory limit).
    pub io_memory: usize,
}

/// Senders into every shard's inbox; shared by all shards.
struct Mesh<S> {
    inboxes: Vec<flume::Sender<Job<S>>>,
}

/// One shard as its own thread sees it: its id, its state and the way to reach the others.
pub struct Shard<S> {
    id: usize,
    state: S,
    mesh: Arc<Mesh<S>>,
}

/// The target shard is gone (its executor stopped).
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("shard {0} is not running")]
pub struct ShardGone(pub usize);

impl<S: 'static> Shard<S> {
    pub fn id(&self) -> usize {
        self.id
    }

    pub fn count(&self) -> usize {
        self.mesh.inboxes.len()
    }

    pub fn state(&self) -> &S {
        &self.state
    }

    /// Run `work` on shard `target` and wait for its result. Work for this shard runs in place,
    /// without a channel hop.
    pub async fn run_on<R, F, Fut>(self: &Rc<Self>, target: usize, work: F) -> Result<R, ShardGone>
    where
        R: Send + 'static,
        F: FnOnce(Rc<Shard<S>>) -> Fut + Send + 'static,
        Fut: Future<Output = R> + 'static,
    {
        if target == self.id {
            return Ok(work(self.clone()).await);
        }
        let (tx, rx) = oneshot::channel();
        let job: Job<S> = Box::new(move |shard| {
            Box::pin(async move {
                // The requester may have gone away (connection closed); nothing to do then.
                let _ = tx.send(work(shard).await);
            })
        });
        let inbox = self.mesh.inboxes.get(target).ok_or(ShardGone(target))?;
        inbox.send(job).map_err(|_| ShardGone(target))?;
        rx.await.map_err(|_| ShardGone(target))
    }
}

/// Spawn a task on the current shard.
pub fn spawn_local<F: Future + 'static>(fut: F) -> glommio::Task<F::Output> {
    glommio::spawn_local(fut)
}

/// Start `config.shards` executors, each pinned to a core, each with state from `make_state`,
/// each accepting connections on `config.listen` (SO_REUSEPORT) and handing them to
/// `on_connection`. Returns when every shard has stopped; a shard's start-up error is returned.
pub fn serve<S, M, C, Fut>(
    config: RuntimeConfig,
    make_state: M,
    on_connection: C,
) -> Result<(), StartupError>
where
    S: 'static,
    M: Fn(usize) -> S + Send + Sync + 'static,
    C: Fn(Rc<Shard<S>>, TcpStream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + 'static,
{
    let cores = core_affinity::get_core_ids().unwrap_or_default();
    let mut receivers = Vec::with_capacity(config.shards);
    let mut inboxes = Vec::with_capacity(config.shards);
    for _ in 0..config.shards {
        let (tx, rx) = flume::unbounded::<Job<S>>();
        inboxes.push(tx);
        receivers.push(rx);
    }
    let mesh = Arc::new(Mesh { inboxes });
    let make_state = Arc::new(make_state);
    let on_connection = Arc::new(on_connection);
    let mut handles = Vec::with_capacity(config.shards);
    for (id, inbox) in receivers.into_iter().enumerate() {
        let placement = match cores.get(id % cores.len().max(1)) {
            Some(core) if config.shards <= cores.len() => Placement::Fixed(core.id),
            _ => Placement::Unbound,
        };
        let (mesh, make_state, on_connection) =
            (mesh.clone(), make_state.clone(), on_connection.clone());
        let listen = config.listen;
        let handle = LocalExecutorBuilder::new(placement)
            .name(&format!("shard-{id}"))
            .io_memory(config.io_memory)
            .spawn(move || async move {
                let shard = Rc::new(Shard {
                    id,
                    state: make_state(id),
                    mesh,
                });
                run_shard(shard, inbox, listen, on_connection).await
            })
            .map_err(|e| StartupError::Executor(id, e.to_string()))?;
        handles.push(handle);
    }
    let mut first_error = None;
    for (id, handle) in handles.into_iter().enumerate() {
        let result = match handle.join() {
            Ok(result) => result,
            Err(e) => Err(StartupError::Executor(id, e.to_string())),
        };
        if let Err(e) = result {
            first_error.get_or_insert(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}

async fn run_shard<S, C, Fut>(
    shard: Rc<Shard<S>>,
    inbox: flume::Receiver<Job<S>>,
    listen: SocketAddr,
    on_connection: Arc<C>,
) -> Result<(), StartupError>
where
    S: 'static,
    C: Fn(Rc<Shard<S>>, TcpStream) -> Fut + 'static,
    Fut: Future<Output = ()> + 'static,
{
    let listener = glommio::net::TcpListener::bind(listen)
        .map_err(|e| StartupError::Bind(listen, e.to_string()))?;
    let worker = shard.clone();
    glommio::spawn_local(async move {
        while let Ok(job) = inbox.recv_async().await {
            glommio::spawn_local(job(worker.clone())).detach();
        }
    })
    .detach();
    loop {
        match listener.accept().await {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                glommio::spawn_local(on_connection(shard.clone(), stream)).detach();
            }
            Err(e) => {
                // Out of file descriptors and the like: log, back off briefly, keep serving.
                tracing::warn!(shard = shard.id, "accept failed: {e}");
                glommio::timer::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    }
}
