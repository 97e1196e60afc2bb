//! The only place that names glommio: shard executors pinned to cores, the channel mesh between
//! them, and TCP listeners. Everything else in OmenDB asks this module to run work on a shard.
//!
//! Keeping glommio behind this door means a move to another io_uring runtime touches one
//! module. This module must never know about tables, SQL or the wire protocol.

mod checks;
pub mod event;
pub mod file;
mod lock;
mod signals;

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

/// What a shard's inbox carries.
enum Message<S> {
    Run(Job<S>),
    /// Stop the shard's inbox loop (test and tool runs; the server runs until killed).
    Stop,
}

/// Senders into every shard's inbox; shared by all shards.
struct Mesh<S> {
    inboxes: Vec<flume::Sender<Message<S>>>,
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
        inbox
            .send(Message::Run(job))
            .map_err(|_| ShardGone(target))?;
        rx.await.map_err(|_| ShardGone(target))
    }
}

/// Spawn a task on the current shard.
/// A spawned task; awaiting it gives its output.
pub type Task<T> = glommio::Task<T>;

pub fn spawn_local<F: Future + 'static>(fut: F) -> glommio::Task<F::Output> {
    glommio::spawn_local(fut)
}

/// Start `config.shards` executors, each pinned to a core, each with state from `make_state`.
/// `prepare` runs first on shard 0 (recovery); only when it succeeds does every shard accept
/// connections on `config.listen` (SO_REUSEPORT) and hand them to `on_connection`. On SIGTERM
/// or SIGINT, `shutdown` runs on shard 0 and then every shard stops. Returns when every shard
/// has stopped; a start-up error (including `prepare`'s) is returned.
pub fn serve<S, M, P, PFut, D, DFut, C, Fut>(
    config: RuntimeConfig,
    make_state: M,
    prepare: P,
    shutdown: D,
    on_connection: C,
) -> Result<(), StartupError>
where
    S: 'static,
    M: Fn(usize) -> S + Send + Sync + 'static,
    P: FnOnce(Rc<Shard<S>>) -> PFut + Send + 'static,
    PFut: Future<Output = Result<(), String>> + 'static,
    D: FnOnce(Rc<Shard<S>>) -> DFut + Send + 'static,
    DFut: Future<Output = ()> + 'static,
    C: Fn(Rc<Shard<S>>, TcpStream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + 'static,
{
    let signals = signals::block_termination();
    let on_connection = Arc::new(on_connection);
    let listen = config.listen;
    let prepare = std::sync::Mutex::new(Some(prepare));
    let shutdown = Arc::new(std::sync::Mutex::new(Some(shutdown)));
    let ready = Arc::new(std::sync::atomic::AtomicU8::new(PREPARING));
    start(config.shards, config.io_memory, make_state, move |shard| {
        let on_connection = on_connection.clone();
        let prepare = if shard.id == 0 {
            prepare.lock().ok().and_then(|mut p| p.take())
        } else {
            None
        };
        if shard.id == 0 {
            let ready = ready.clone();
            let recovered = move || ready.load(std::sync::atomic::Ordering::SeqCst) == READY;
            signals::forward_to(signals, shard.mesh.clone(), shutdown.clone(), recovered);
        }
        let ready = ready.clone();
        async move {
            if let Some(prepare) = prepare {
                if let Err(e) = prepare(shard.clone()).await {
                    ready.store(FAILED, std::sync::atomic::Ordering::SeqCst);
                    for inbox in &shard.mesh.inboxes {
                        let _ = inbox.send(Message::Stop);
                    }
                    return Err(StartupError::Recovery(e));
                }
                ready.store(READY, std::sync::atomic::Ordering::SeqCst);
            }
            loop {
                match ready.load(std::sync::atomic::Ordering::SeqCst) {
                    READY => break,
                    FAILED => return Ok(()),
                    _ => sleep(READY_POLL).await,
                }
            }
            accept_loop(shard, listen, on_connection).await
        }
    })
    .map(|_| ())
}

const PREPARING: u8 = 0;
const READY: u8 = 1;
const FAILED: u8 = 2;
const READY_POLL: std::time::Duration = std::time::Duration::from_millis(5);

/// Run `main` on shard 0 of `shards` executors without listening (tests and tools); the other
/// shards serve `run_on` requests until `main` finishes. Returns `main`'s result.
pub fn run<S, M, F, Fut, R>(
    shards: usize,
    io_memory: usize,
    make_state: M,
    main: F,
) -> Result<R, StartupError>
where
    S: 'static,
    R: Send + 'static,
    M: Fn(usize) -> S + Send + Sync + 'static,
    F: FnOnce(Rc<Shard<S>>) -> Fut + Send + 'static,
    Fut: Future<Output = R> + 'static,
{
    let main = std::sync::Mutex::new(Some(main));
    let result = Arc::new(std::sync::Mutex::new(None));
    let out = result.clone();
    start(shards, io_memory, make_state, move |shard: Rc<Shard<S>>| {
        let main = if shard.id == 0 {
            main.lock().ok().and_then(|mut m| m.take())
        } else {
            None
        };
        let out = out.clone();
        async move {
            if let Some(main) = main {
                let r = main(shard.clone()).await;
                if let Ok(mut slot) = out.lock() {
                    *slot = Some(r);
                }
                for inbox in &shard.mesh.inboxes {
                    let _ = inbox.send(Message::Stop);
                }
            }
            Ok(())
        }
    })?;
    let r = result.lock().ok().and_then(|mut r| r.take());
    r.ok_or_else(|| StartupError::Executor(0, "the main task did not finish".into()))
}

/// Start the executors; `per_shard` runs on each beside its inbox loop. Returns when every
/// shard's inbox loop has stopped (or one failed).
fn start<S, M, P, PFut>(
    shards: usize,
    io_memory: usize,
    make_state: M,
    per_shard: P,
) -> Result<(), StartupError>
where
    S: 'static,
    M: Fn(usize) -> S + Send + Sync + 'static,
    P: Fn(Rc<Shard<S>>) -> PFut + Send + Sync + 'static,
    PFut: Future<Output = Result<(), StartupError>> + 'static,
{
    let cores = core_affinity::get_core_ids().unwrap_or_default();
    let mut receivers = Vec::with_capacity(shards);
    let mut inboxes = Vec::with_capacity(shards);
    for _ in 0..shards {
        let (tx, rx) = flume::unbounded::<Message<S>>();
        inboxes.push(tx);
        receivers.push(rx);
    }
    let mesh = Arc::new(Mesh { inboxes });
    let make_state = Arc::new(make_state);
    let per_shard = Arc::new(per_shard);
    let mut handles = Vec::with_capacity(shards);
    for (id, inbox) in receivers.into_iter().enumerate() {
        let placement = match cores.get(id) {
            Some(core) if shards <= cores.len() => Placement::Fixed(core.id),
            _ => Placement::Unbound,
        };
        let (mesh, make_state, per_shard) = (mesh.clone(), make_state.clone(), per_shard.clone());
        let handle = LocalExecutorBuilder::new(placement)
            .name(&format!("shard-{id}"))
            .io_memory(io_memory)
            .spawn(move || async move {
                let shard = Rc::new(Shard {
                    id,
                    state: make_state(id),
                    mesh,
                });
                let task = glommio::spawn_local(per_shard(shard.clone()));
                inbox_loop(shard, inbox).await;
                // A per-shard task that already failed (e.g. bind) reports its error; a running
                // one (an accept loop) is dropped with the executor.
                match futures_lite::future::poll_once(task).await {
                    Some(result) => result,
                    None => Ok(()),
                }
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

async fn inbox_loop<S: 'static>(shard: Rc<Shard<S>>, inbox: flume::Receiver<Message<S>>) {
    while let Ok(message) = inbox.recv_async().await {
        match message {
            Message::Run(job) => {
                glommio::spawn_local(contain_panic(job(shard.clone()), "shard job")).detach();
            }
            Message::Stop => break,
        }
    }
}

async fn accept_loop<S, C, Fut>(
    shard: Rc<Shard<S>>,
    listen: SocketAddr,
    on_connection: Arc<C>,
) -> Result<(), StartupError>
where
    S: 'static,
    C: Fn(Rc<Shard<S>>, TcpStream) -> Fut + 'static,
    Fut: Future<Output = ()> + 'static,
{
    let listener = checks::listener_socket(listen).map_err(|e| {
        // Without a listener this shard cannot serve: stop it so the error surfaces.
        let _ = shard.mesh.inboxes[shard.id].send(Message::Stop);
        StartupError::Bind(listen, e.to_string())
    })?;
    use std::os::fd::{FromRawFd, IntoRawFd};
    // SAFETY: the descriptor is a bound, listening TCP socket we own; ownership moves to glommio.
    let listener = unsafe { glommio::net::TcpListener::from_raw_fd(listener.into_raw_fd()) };
    loop {
        match listener.accept().await {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                glommio::spawn_local(contain_panic(
                    on_connection(shard.clone(), stream),
                    "connection",
                ))
                .detach();
            }
            Err(e) => {
                // Out of file descriptors and the like: log, back off briefly, keep serving.
                tracing::warn!(shard = shard.id, "accept failed: {e}");
                glommio::timer::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    }
}

/// Run a task so that a panic in it (a bug) ends only that task: the connection closes or the
/// requester's reply channel drops, and the shard keeps serving everyone else.
async fn contain_panic<F: Future<Output = ()>>(fut: F, what: &'static str) {
    use futures_lite::FutureExt;
    if let Err(panic) = std::panic::AssertUnwindSafe(fut).catch_unwind().await {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        tracing::error!("a {what} task panicked and was stopped: {message}");
    }
}

/// Await several futures concurrently on this shard; results in input order.
pub async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut pending: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut results: Vec<Option<F::Output>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut all_done = true;
        for (fut, slot) in pending.iter_mut().zip(results.iter_mut()) {
            if slot.is_none() {
                match fut.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *slot = Some(v),
                    std::task::Poll::Pending => all_done = false,
                }
            }
        }
        if all_done {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    results.into_iter().flatten().collect()
}

/// Sleep on the current shard without blocking it.
pub async fn sleep(duration: std::time::Duration) {
    glommio::timer::sleep(duration).await;
}
