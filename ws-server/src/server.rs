//! The server: listeners, accept loops, the registry of connections, graceful shutdown.

use std::collections::HashMap;
use std::future::Future;
use std::hash::{BuildHasherDefault, Hasher};
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use ws_proto::CloseCode;

use crate::conn::{ConnId, Handle, Publish};
use crate::hub::{Hub, LocalHub};
use crate::metrics::{Metrics, MetricsSnapshot};
use crate::route::{BoxFuture, PathMatch, Route, Router};
use crate::session::serve_stream;
use crate::settings::ServerSettings;
use crate::{PeerAddr, ServerStream};

/// Serves a connection that is not a WebSocket upgrade (see the HTTP fallback).
pub(crate) type Fallback =
    Arc<dyn Fn(ServerStream, PeerAddr, Arc<Shared>) -> BoxFuture<()> + Send + Sync>;
type OnShutdown = Arc<dyn Fn(&ServerHandle) + Send + Sync>;

/// What every connection and listener of a server shares.
pub(crate) struct Shared {
    pub(crate) settings: ServerSettings,
    pub(crate) router: Router,
    pub(crate) hub: Arc<dyn Hub>,
    pub(crate) metrics: Metrics,
    pub(crate) fallback: Option<Fallback>,
    registry: Mutex<HashMap<ConnId, Handle, BuildHasherDefault<IdHasher>>>,
    pub(crate) next_id: AtomicU64,
    /// New upgrades are answered 503; listeners stop.
    pub(crate) shutting_down: AtomicBool,
    /// The shutdown deadline passed: connections stop where they are.
    pub(crate) killed: AtomicBool,
    pub(crate) shutdown: watch::Sender<Option<CloseCode>>,
    tasks: AtomicUsize,
    tasks_done: Notify,
    on_shutdown: Option<OnShutdown>,
}

impl Shared {
    pub(crate) fn register(&self, handle: &Handle) {
        self.lock_registry().insert(handle.id(), handle.clone());
    }

    /// Takes the connection out of the registry; its traffic goes to the server's totals.
    pub(crate) fn unregister(&self, id: ConnId) {
        let mut registry = self.lock_registry();
        if let Some(handle) = registry.remove(&id) {
            handle.core.counts.add_to(&self.metrics.ended);
        }
    }

    pub(crate) fn snapshot(&self) -> MetricsSnapshot {
        let registry = self.lock_registry();
        let mut snapshot = self.metrics.snapshot(registry.values().map(|h| &h.core.counts));
        if let Some(budget) = &self.settings.memory_budget {
            snapshot.memory_budget_used = budget.used();
            snapshot.memory_budget_refusals = budget.refusals();
        }
        snapshot
    }

    fn lock_registry(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<ConnId, Handle, BuildHasherDefault<IdHasher>>> {
        self.registry.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn handles(&self) -> Vec<Handle> {
        self.lock_registry().values().cloned().collect()
    }
}

/// Hashes the registry's keys: connection ids the server numbers itself (no peer chooses them,
/// so no flooding of one bucket to defend against), spread by one multiplication (SipHash,
/// the default, costs more than the rest of a registration).
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Counts a spawned task for the shutdown's wait.
pub(crate) struct TaskGuard(Arc<Shared>);

impl TaskGuard {
    pub(crate) fn new(shared: &Arc<Shared>) -> Self {
        shared.tasks.fetch_add(1, Ordering::Relaxed);
        TaskGuard(Arc::clone(shared))
    }
}

impl Drop for TaskGuard {
    fn drop(&mut self) {
        if self.0.tasks.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.tasks_done.notify_waiters();
        }
    }
}

enum Bind {
    Tcp(String),
    Listener(TcpListener),
    #[cfg(unix)]
    Unix(PathBuf),
    #[cfg(feature = "tls")]
    Tls(String, Arc<rustls::ServerConfig>),
    #[cfg(feature = "tls")]
    TlsPem(String, PathBuf, PathBuf),
}

/// Builds a [`Server`]: listeners, routes, settings. See the crate docs for an example.
#[must_use]
pub struct ServerBuilder {
    binds: Vec<Bind>,
    router: Router,
    settings: ServerSettings,
    hub: Option<Arc<dyn Hub>>,
    fallback: Option<Fallback>,
    on_shutdown: Option<OnShutdown>,
    /// The HTTP side, made into the fallback when the server is built.
    #[cfg(feature = "http")]
    pub(crate) http: crate::http::HttpConfig,
}

impl ServerBuilder {
    /// Listens on a TCP address, IPv4 or IPv6 (`"127.0.0.1:9001"`, `"[::1]:9001"`,
    /// `"0.0.0.0:0"` for a free port; see [`Server::local_addrs`]).
    pub fn bind(mut self, addr: impl Into<String>) -> Self {
        self.binds.push(Bind::Tcp(addr.into()));
        self
    }

    /// Serves on a TCP listener bound elsewhere.
    pub fn listener(mut self, listener: TcpListener) -> Self {
        self.binds.push(Bind::Listener(listener));
        self
    }

    /// Listens on a Unix socket at `path` (an existing socket file there is replaced).
    #[cfg(unix)]
    pub fn bind_unix(mut self, path: impl Into<PathBuf>) -> Self {
        self.binds.push(Bind::Unix(path.into()));
        self
    }

    /// Listens for `wss://` on a TCP address with a rustls configuration.
    #[cfg(feature = "tls")]
    pub fn bind_tls(mut self, addr: impl Into<String>, config: Arc<rustls::ServerConfig>) -> Self {
        self.binds.push(Bind::Tls(addr.into(), config));
        self
    }

    /// Listens for `wss://` with the certificate chain and private key from PEM files.
    #[cfg(feature = "tls")]
    pub fn bind_tls_pem(
        mut self,
        addr: impl Into<String>,
        cert: impl Into<PathBuf>,
        key: impl Into<PathBuf>,
    ) -> Self {
        self.binds.push(Bind::TlsPem(addr.into(), cert.into(), key.into()));
        self
    }

    /// Serves `route` at exactly `path` (the query is not part of the match).
    pub fn route<D: Send + Sync + 'static>(mut self, path: &str, route: Route<D>) -> Self {
        self.router.add(PathMatch::Exact(path.to_owned()), Arc::new(route));
        self
    }

    /// Serves `route` at `prefix` and every path below it (`/rooms` matches `/rooms` and
    /// `/rooms/a`, not `/roomsx`). Exact routes win, then the longest prefix.
    pub fn route_prefix<D: Send + Sync + 'static>(mut self, prefix: &str, route: Route<D>) -> Self {
        self.router.add(PathMatch::Prefix(prefix.to_owned()), Arc::new(route));
        self
    }

    /// Replaces the server-wide settings.
    pub fn settings(mut self, settings: ServerSettings) -> Self {
        self.settings = settings;
        self
    }

    /// Most connections open at once (default 10 000); past it, 503.
    pub fn max_connections(mut self, max: usize) -> Self {
        self.settings.max_connections = max;
        self
    }

    /// The memory budget shared by all connections (default 256 MiB past 64 KiB each; `None`:
    /// per-connection limits only). See [`ServerSettings::memory_budget`].
    pub fn memory_budget(mut self, bytes: Option<usize>) -> Self {
        self.settings.memory_budget = bytes.map(ws_proto::MemoryBudget::new);
        self
    }

    /// How long a graceful shutdown waits before dropping the connections left (default 10 s).
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.settings.shutdown_timeout = timeout;
        self
    }

    /// The pub/sub backend (default: a [`LocalHub`] in this process).
    pub fn hub(mut self, hub: Arc<dyn Hub>) -> Self {
        self.hub = Some(hub);
        self
    }

    /// Called when a graceful shutdown starts, before the connections are closed.
    pub fn on_shutdown(mut self, f: impl Fn(&ServerHandle) + Send + Sync + 'static) -> Self {
        self.on_shutdown = Some(Arc::new(f));
        self
    }

    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub(crate) fn fallback(mut self, fallback: Fallback) -> Self {
        self.fallback = Some(fallback);
        self
    }

    /// Binds every listener.
    pub async fn build(self) -> io::Result<Server> {
        let this = self.with_http_fallback();
        if this.router.is_empty() && this.fallback.is_none() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "a server needs a route"));
        }
        if this.binds.is_empty() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "a server needs a listener"));
        }
        let (shared, binds) = this.into_shared();
        let mut listeners = Vec::new();
        for bind in binds {
            listeners.push(bind_one(bind).await?);
        }
        Ok(Server { shared, listeners })
    }

    /// A server without listeners, whose connections come from another HTTP stack: mount its
    /// routes there (with the `axum` feature: `ws_server::axum::route` for a [`Route`],
    /// `ws_server::axum::routes` for those given to this builder). Its connections share the
    /// hub, registry, metrics and settings of this builder as any server's do;
    /// [`Server::serve_with_shutdown`] then only waits for the shutdown signal and closes them
    /// gracefully. Listeners and HTTP settings given to the builder are ignored.
    pub fn build_embedded(self) -> Server {
        let (shared, _) = self.into_shared();
        Server { shared, listeners: Vec::new() }
    }

    /// The HTTP side configured (handler, service, static files) as the fallback.
    #[cfg(feature = "http")]
    fn with_http_fallback(mut self) -> Self {
        match std::mem::take(&mut self.http).into_fallback() {
            Some(fallback) => self.fallback(fallback),
            None => self,
        }
    }

    #[cfg(not(feature = "http"))]
    fn with_http_fallback(self) -> Self {
        self
    }

    fn into_shared(self) -> (Arc<Shared>, Vec<Bind>) {
        let (shutdown, _) = watch::channel(None);
        let shared = Arc::new(Shared {
            settings: self.settings,
            router: self.router,
            hub: self.hub.unwrap_or_else(|| Arc::new(LocalHub::new())),
            metrics: Metrics::default(),
            fallback: self.fallback,
            registry: Mutex::new(HashMap::default()),
            next_id: AtomicU64::new(1),
            shutting_down: AtomicBool::new(false),
            killed: AtomicBool::new(false),
            shutdown,
            tasks: AtomicUsize::new(0),
            tasks_done: Notify::new(),
            on_shutdown: self.on_shutdown,
        });
        (shared, self.binds)
    }
}

async fn bind_one(bind: Bind) -> io::Result<Listener> {
    Ok(match bind {
        Bind::Tcp(addr) => Listener::Tcp(TcpListener::bind(addr).await?, None),
        Bind::Listener(listener) => Listener::Tcp(listener, None),
        #[cfg(unix)]
        Bind::Unix(path) => {
            match std::fs::symlink_metadata(&path) {
                Ok(meta) if std::os::unix::fs::FileTypeExt::is_socket(&meta.file_type()) => {
                    std::fs::remove_file(&path)?;
                }
                _ => {}
            }
            Listener::Unix(tokio::net::UnixListener::bind(&path)?)
        }
        #[cfg(feature = "tls")]
        Bind::Tls(addr, config) => {
            Listener::Tcp(TcpListener::bind(addr).await?, Some(config.into()))
        }
        #[cfg(feature = "tls")]
        Bind::TlsPem(addr, cert, key) => {
            let config = ws_common::tls::server_config_from_pem_files(&cert, &key)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
            Listener::Tcp(TcpListener::bind(addr).await?, Some(config.into()))
        }
    })
}

#[cfg(feature = "tls")]
type Acceptor = tokio_rustls::TlsAcceptor;
/// Without TLS there is no acceptor (an empty type, cloned like the real one).
#[cfg(not(feature = "tls"))]
#[derive(Clone)]
enum Acceptor {}

enum Listener {
    Tcp(TcpListener, Option<Acceptor>),
    #[cfg(unix)]
    Unix(tokio::net::UnixListener),
}

/// A WebSocket server: bound listeners and routes, ready to [`serve`](Self::serve).
pub struct Server {
    shared: Arc<Shared>,
    listeners: Vec<Listener>,
}

impl Server {
    /// Starts building a server.
    pub fn builder() -> ServerBuilder {
        ServerBuilder {
            binds: Vec::new(),
            router: Router::default(),
            settings: ServerSettings::default(),
            hub: None,
            fallback: None,
            on_shutdown: None,
            #[cfg(feature = "http")]
            http: Default::default(),
        }
    }

    /// The addresses of the TCP listeners (with the ports chosen for port 0).
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.listeners
            .iter()
            .filter_map(|l| match l {
                Listener::Tcp(l, _) => l.local_addr().ok(),
                #[cfg(unix)]
                Listener::Unix(_) => None,
            })
            .collect()
    }

    /// A handle to publish, count, inspect and shut the server down from anywhere.
    pub fn handle(&self) -> ServerHandle {
        ServerHandle { shared: Arc::clone(&self.shared) }
    }

    /// Serves until [`ServerHandle::shutdown`] is called, then shuts down gracefully.
    pub async fn serve(self) -> io::Result<()> {
        self.serve_with_shutdown(std::future::pending::<()>()).await
    }

    /// Serves until `signal` completes (e.g. `tokio::signal::ctrl_c()`) or
    /// [`ServerHandle::shutdown`] is called, then shuts down gracefully: listeners stop,
    /// handshakes still deciding get 503, `on_shutdown` runs, every connection is closed with
    /// 1001 (1012 after [`ServerHandle::restart`]), and connections get up to the shutdown
    /// timeout to finish their closing handshake before the rest are dropped.
    pub async fn serve_with_shutdown<F: Future>(self, signal: F) -> io::Result<()> {
        let shared = self.shared;
        for listener in self.listeners {
            let shared = Arc::clone(&shared);
            let guard = TaskGuard::new(&shared);
            tokio::spawn(async move {
                accept_loop(listener, shared).await;
                drop(guard);
            });
        }
        let mut stop = shared.shutdown.subscribe();
        tokio::select! {
            _ = signal => {}
            _ = stop.wait_for(Option::is_some) => {}
        }
        let code = shared.shutdown.borrow().unwrap_or(CloseCode::GOING_AWAY);
        shared.shutting_down.store(true, Ordering::Relaxed);
        shared.shutdown.send_replace(Some(code));
        let handle = ServerHandle { shared: Arc::clone(&shared) };
        if let Some(on_shutdown) = &shared.on_shutdown {
            on_shutdown(&handle);
        }
        let reason =
            if code == CloseCode::SERVICE_RESTART { "restarting" } else { "shutting down" };
        for conn in shared.handles() {
            let _ = conn.close(code, reason);
        }
        let deadline = Instant::now() + shared.settings.shutdown_timeout;
        if !wait_for_tasks(&shared, deadline).await {
            // Out of time: every connection stops where it is.
            shared.killed.store(true, Ordering::Relaxed);
            for conn in shared.handles() {
                let waker = conn.take_waker(&mut conn.lock());
                if let Some(waker) = waker {
                    waker.wake();
                }
            }
            wait_for_tasks(&shared, Instant::now() + Duration::from_secs(1)).await;
        }
        Ok(())
    }
}

/// Waits until no task is left (true) or `deadline` (false).
async fn wait_for_tasks(shared: &Shared, deadline: Instant) -> bool {
    loop {
        let done = shared.tasks_done.notified();
        if shared.tasks.load(Ordering::Acquire) == 0 {
            return true;
        }
        if tokio::time::timeout_at(deadline.into(), done).await.is_err() {
            return shared.tasks.load(Ordering::Acquire) == 0;
        }
    }
}

async fn accept_loop(listener: Listener, shared: Arc<Shared>) {
    let mut stop = shared.shutdown.subscribe();
    // One `select!` for the listener's whole life (not one per connection): the shutdown
    // signal is looked at when the task wakes, accepting goes on in the inner loop.
    let accepting = async {
        let mut backoff = Duration::from_millis(5);
        loop {
            match accept_one(&listener).await {
                Ok((stream, peer, tls)) => {
                    backoff = Duration::from_millis(5);
                    if let (AcceptedStream::Tcp(tcp), Some(size)) =
                        (&stream, shared.settings.socket_send_buffer)
                    {
                        let _ = socket2::SockRef::from(tcp).set_send_buffer_size(size);
                    }
                    spawn_connection(stream, peer, tls, &shared);
                }
                // Out of descriptors or memory: pause rather than spin (the connections that
                // end meanwhile free what the next accept needs).
                Err(e) if is_resource_exhaustion(&e) => {
                    crate::log::accept_exhausted(&e, backoff);
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_millis(500));
                }
                // A connection that failed between SYN and accept: nothing to do.
                Err(e) => crate::log::accept_failed(&e),
            }
        }
    };
    tokio::select! {
        biased;
        _ = stop.wait_for(Option::is_some) => {}
        () = accepting => {}
    }
}

fn is_resource_exhaustion(e: &io::Error) -> bool {
    // EMFILE 24, ENFILE 23, ENOBUFS 105, ENOMEM 12 on Linux.
    matches!(e.raw_os_error(), Some(23 | 24 | 105 | 12)) || e.kind() == io::ErrorKind::OutOfMemory
}

type Accepted = (AcceptedStream, PeerAddr, Option<Acceptor>);

enum AcceptedStream {
    Tcp(tokio::net::TcpStream),
    #[cfg(unix)]
    Unix(tokio::net::UnixStream),
}

async fn accept_one(listener: &Listener) -> io::Result<Accepted> {
    match listener {
        Listener::Tcp(l, tls) => {
            let (s, addr) = l.accept().await?;
            let _ = s.set_nodelay(true);
            Ok((AcceptedStream::Tcp(s), PeerAddr::Tcp(addr), tls.clone()))
        }
        #[cfg(unix)]
        Listener::Unix(l) => {
            let (s, addr) = l.accept().await?;
            let path = addr.as_pathname().map(PathBuf::from);
            Ok((AcceptedStream::Unix(s), PeerAddr::Unix(path), None))
        }
    }
}

fn spawn_connection(
    stream: AcceptedStream,
    peer: PeerAddr,
    tls: Option<Acceptor>,
    shared: &Arc<Shared>,
) {
    // Connections still in their handshake are bounded too: past the cap, drop at once.
    if shared.metrics.handshaking.load(Ordering::Relaxed) >= shared.settings.max_connections {
        return;
    }
    let start = Instant::now();
    let guard = TaskGuard::new(shared);
    let shared = Arc::clone(shared);
    shared.metrics.handshaking.fetch_add(1, Ordering::Relaxed);
    tokio::spawn(async move {
        // The setup polled from a function of its own: the task's poll while it runs the
        // connection (every message) stays small, without the setup's code inlined.
        let setup = std::pin::pin!(setup(stream, peer, tls, start, Arc::clone(&shared)));
        if let Some(run) = OutOfLine(setup).await {
            run.await;
        }
        drop(guard);
    });
}

/// TLS if the listener has it, then the request head, the route and the handshake: the future
/// that runs the connection if it became a WebSocket.
async fn setup(
    stream: AcceptedStream,
    peer: PeerAddr,
    tls: Option<Acceptor>,
    start: Instant,
    shared: Arc<Shared>,
) -> Option<BoxFuture<()>> {
    let stream = match (stream, tls) {
        #[cfg(feature = "tls")]
        (AcceptedStream::Tcp(s), Some(acceptor)) => {
            let deadline = start + shared.settings.handshake_timeout;
            // Boxed: the connection's task stays small for plain TCP.
            match Box::pin(tokio::time::timeout_at(deadline.into(), acceptor.accept(s))).await {
                Ok(Ok(tls)) => Some(ServerStream::Tls(Box::new(tls))),
                _ => None,
            }
        }
        (AcceptedStream::Tcp(s), _) => Some(ServerStream::Tcp(s)),
        #[cfg(unix)]
        (AcceptedStream::Unix(s), _) => Some(ServerStream::Unix(s)),
    };
    let Some(stream) = stream else {
        shared.metrics.handshaking.fetch_sub(1, Ordering::Relaxed);
        return None;
    };
    let handshaking = HandshakeCount(Arc::clone(&shared));
    serve_stream(stream, peer, start, shared, handshaking).await
}

/// Polls the future it holds from a function that is not inlined into its caller's.
struct OutOfLine<F>(F);

impl<F: Future + Unpin> Future for OutOfLine<F> {
    type Output = F::Output;

    #[inline(never)]
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<F::Output> {
        std::pin::Pin::new(&mut self.0).poll(cx)
    }
}

/// Counts a connection in its handshake until dropped.
pub(crate) struct HandshakeCount(Arc<Shared>);

impl Drop for HandshakeCount {
    fn drop(&mut self) {
        self.0.metrics.handshaking.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Publishes, counts, inspects and shuts a server down, from anywhere. Cheap to clone.
#[derive(Clone)]
pub struct ServerHandle {
    pub(crate) shared: Arc<Shared>,
}

impl ServerHandle {
    /// Publishes to every subscriber of `topic`, encoded once; returns how many connections
    /// it was queued for.
    pub fn publish(&self, topic: &str, message: impl Into<Publish>) -> usize {
        self.shared.hub.publish(topic, &message.into().0, None)
    }

    /// Sends to every open connection of the server, encoded once.
    pub fn publish_all(&self, message: impl Into<Publish>) -> usize {
        let frame = message.into().0;
        self.shared.handles().iter().filter(|h| h.send_prepared(&frame).is_queued()).count()
    }

    /// Subscribers of `topic`.
    pub fn subscribers(&self, topic: &str) -> usize {
        self.shared.hub.subscribers(topic)
    }

    /// Open connections.
    pub fn count(&self) -> usize {
        self.shared.lock_registry().len()
    }

    /// Calls `f` with every open connection (on a snapshot: connections may come and go
    /// meanwhile).
    pub fn each(&self, mut f: impl FnMut(&Handle)) {
        for handle in self.shared.handles() {
            f(&handle);
        }
    }

    /// The open connection `id`, if any.
    pub fn get(&self, id: ConnId) -> Option<Handle> {
        self.shared.lock_registry().get(&id).cloned()
    }

    /// The server's counters.
    pub fn metrics(&self) -> MetricsSnapshot {
        self.shared.snapshot()
    }

    /// Starts a graceful shutdown (connections closed with 1001).
    pub fn shutdown(&self) {
        self.start_shutdown(CloseCode::GOING_AWAY);
    }

    /// Starts a graceful shutdown announcing a restart (connections closed with 1012).
    pub fn restart(&self) {
        self.start_shutdown(CloseCode::SERVICE_RESTART);
    }

    fn start_shutdown(&self, close: CloseCode) {
        self.shared.shutdown.send_if_modified(|code| {
            let first = code.is_none();
            code.get_or_insert(close);
            first
        });
    }

    /// True once a shutdown has started.
    pub fn is_shutting_down(&self) -> bool {
        self.shared.shutting_down.load(Ordering::Relaxed)
    }
}

impl std::fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerHandle").field("connections", &self.count()).finish_non_exhaustive()
    }
}
