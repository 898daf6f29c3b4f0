//! Routes: a path's settings, origin policy, upgrade hook and handlers.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use ws_proto::{CloseInfo, Message};

use crate::conn::Conn;
use crate::settings::{Backpressure, RouteSettings};
use crate::socket::Socket;
use crate::{Origins, Reject, Upgrade, UpgradeRequest};

pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;
type HookFn<D> = Arc<dyn Fn(UpgradeRequest) -> BoxFuture<Result<Upgrade<D>, Reject>> + Send + Sync>;

/// How a route decides an upgrade once its checks passed.
pub(crate) enum Hook<D> {
    /// Accept every request ([`Route::new`]): no future, no copy of the request.
    Accept(fn() -> Upgrade<D>),
    /// The application's async hook ([`Route::with_upgrade`]).
    Async(HookFn<D>),
}
pub(crate) type OnConn<D> = Arc<dyn Fn(&Conn<D>) + Send + Sync>;
pub(crate) type OnMessage<D> = Arc<dyn Fn(&Conn<D>, Message) + Send + Sync>;
pub(crate) type OnFragment<D> = Arc<dyn Fn(&Conn<D>, Fragment) + Send + Sync>;
pub(crate) type OnClose<D> = Arc<dyn Fn(&Conn<D>, &CloseInfo) + Send + Sync>;
pub(crate) type OnPong<D> = Arc<dyn Fn(&Conn<D>, Duration) + Send + Sync>;
type Task<D> = Arc<dyn Fn(Socket<D>) -> BoxFuture<()> + Send + Sync>;
type SelectProtocol = Arc<dyn Fn(&[String]) -> Option<String> + Send + Sync>;
pub(crate) type PingPayload = Arc<dyn Fn(u64) -> Vec<u8> + Send + Sync>;

/// One frame of a data message, for routes that take messages piece by piece
/// ([`Route::on_fragment`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fragment {
    /// Text or binary.
    pub kind: ws_proto::MessageKind,
    /// This frame's payload (text fragments are UTF-8 only when joined).
    pub payload: bytes::Bytes,
    /// The first frame of its message.
    pub first: bool,
    /// The last frame of its message.
    pub fin: bool,
}

/// What a path does: its settings, origin policy, subprotocols, upgrade hook and handlers.
///
/// `D` is the per-connection data the upgrade hook returns ([`Route::with_upgrade`]); routes
/// made with [`Route::new`] have none (`()`).
///
/// Handlers are plain closures run on the connection's task, in order, one at a time per
/// connection: keep them short, and `tokio::spawn` with a cloned [`Conn`] for slow work.
/// Sends from a handler never wait (they queue; see [`Sent`](crate::Sent)). For a connection
/// written as one async function instead, see [`Route::handle`].
pub struct Route<D: Send + Sync + 'static = ()> {
    pub(crate) settings: RouteSettings,
    pub(crate) origins: Origins,
    pub(crate) select_protocol: Option<SelectProtocol>,
    pub(crate) hook: Hook<D>,
    pub(crate) on_open: Option<OnConn<D>>,
    pub(crate) on_message: Option<OnMessage<D>>,
    pub(crate) on_fragment: Option<OnFragment<D>>,
    pub(crate) on_close: Option<OnClose<D>>,
    pub(crate) on_pong: Option<OnPong<D>>,
    pub(crate) task: Option<Task<D>>,
    pub(crate) ping_payload: Option<PingPayload>,
    /// Connections open on this route (upgrades reserve a place before the `101`).
    pub(crate) open: Arc<AtomicUsize>,
}

impl Route<()> {
    /// A route with the default settings, any origin, no subprotocol, no per-connection data.
    pub fn new() -> Self {
        Route::with_hook(Hook::Accept(Upgrade::accept))
    }
}

impl Default for Route<()> {
    fn default() -> Self {
        Route::new()
    }
}

impl<D: Send + Sync + 'static> Route<D> {
    /// A route whose upgrade hook decides every request before the `101`: it sees the
    /// method, path, query, headers, cookies and peer address, may take as long as it likes
    /// within the handshake timeout (a database lookup fits), and accepts with the
    /// connection's data (and optionally a subprotocol and response headers) or refuses with
    /// any status, headers and body. The route's origin policy and connection caps are checked
    /// before it runs.
    ///
    /// ```
    /// use ws_server::{Reject, Route, Upgrade};
    /// let route = Route::with_upgrade(|req| async move {
    ///     match req.query_param("token") {
    ///         Some("secret") => Ok(Upgrade::with_data("alice".to_string())),
    ///         _ => Err(Reject::new(401).body("bad token")),
    ///     }
    /// })
    /// .on_message(|conn, msg| {
    ///     let _ = conn.send(msg);
    ///     println!("message from {}", conn.data());
    /// });
    /// # let _ = route;
    /// ```
    pub fn with_upgrade<F, Fut>(hook: F) -> Self
    where
        F: Fn(UpgradeRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Upgrade<D>, Reject>> + Send + 'static,
    {
        Route::with_hook(Hook::Async(Arc::new(move |req| Box::pin(hook(req)))))
    }

    fn with_hook(hook: Hook<D>) -> Self {
        Route {
            settings: RouteSettings::default(),
            origins: Origins::any(),
            select_protocol: None,
            hook,
            on_open: None,
            on_message: None,
            on_fragment: None,
            on_close: None,
            on_pong: None,
            task: None,
            ping_payload: None,
            open: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Replaces all settings at once.
    pub fn settings(mut self, settings: RouteSettings) -> Self {
        self.settings = settings;
        self
    }

    /// The origin policy (default: any origin). A refused request gets 403.
    pub fn origins(mut self, origins: Origins) -> Self {
        self.origins = origins;
        self
    }

    /// Selects the first of `supported` (in the server's order of preference) that the
    /// client offered; none: the handshake succeeds without a subprotocol.
    pub fn protocols<I: IntoIterator<Item = S>, S: Into<String>>(self, supported: I) -> Self {
        let supported: Vec<String> = supported.into_iter().map(Into::into).collect();
        self.select_protocol(move |offered| {
            supported.iter().find(|s| offered.iter().any(|o| o == *s)).cloned()
        })
    }

    /// Chooses the subprotocol from the client's offers (in its order); `None`: no
    /// subprotocol. The upgrade hook's choice, if it makes one, wins.
    pub fn select_protocol(
        mut self,
        select: impl Fn(&[String]) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.select_protocol = Some(Arc::new(select));
        self
    }

    /// Largest message (default 1 MiB) and largest frame (default 1 MiB); past them, 1009.
    pub fn max_message_size(mut self, message: usize, frame: usize) -> Self {
        self.settings.max_message_size = message;
        self.settings.max_frame_size = frame;
        self
    }

    /// Most connections open on this route at once (past it: 503).
    pub fn max_connections(mut self, max: usize) -> Self {
        self.settings.max_connections = Some(max);
        self
    }

    /// Accept permessage-deflate when the client offers it (default off).
    pub fn compression(mut self, on: bool) -> Self {
        self.settings.compression = on;
        self
    }

    /// Ping every `interval` whatever the traffic (`None`: never), and give up on a peer
    /// silent for `pong_timeout` after one (1011). Defaults: 20 s and 20 s.
    pub fn keepalive(mut self, interval: Option<Duration>, pong_timeout: Duration) -> Self {
        self.settings.ping_interval = interval;
        self.settings.pong_timeout = pong_timeout;
        self
    }

    /// The payload of keepalive Ping number `n` (from 1); truncated to 125 bytes.
    pub fn ping_payload(mut self, make: impl Fn(u64) -> Vec<u8> + Send + Sync + 'static) -> Self {
        self.ping_payload = Some(Arc::new(make));
        self
    }

    /// Close (1001) connections that received nothing for `timeout` (default 60 s; `None`:
    /// never).
    pub fn idle_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.settings.idle_timeout = timeout.into();
        self
    }

    /// Close (1008) a connection whose data message is not complete `timeout` after its first
    /// frame arrived (default 30 s; `None`: no deadline).
    pub fn message_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.settings.message_timeout = timeout.into();
        self
    }

    /// Close (1001) connections this long after they opened.
    pub fn max_lifetime(mut self, lifetime: Duration) -> Self {
        self.settings.max_lifetime = Some(lifetime);
        self
    }

    /// How long a closing handshake may take before the transport is closed anyway (default
    /// 5 s): bounds a peer that does not read our Close.
    pub fn close_timeout(mut self, timeout: Duration) -> Self {
        self.settings.close_timeout = timeout;
        self
    }

    /// Each connection's bound on queued bytes (default 64 KiB) and what happens past it.
    pub fn backpressure(mut self, max_bytes: usize, policy: Backpressure) -> Self {
        self.settings.max_backpressure = max_bytes;
        self.settings.backpressure = policy;
        self
    }

    /// Called once the connection is open (after the `101`), before any message.
    ///
    /// The handlers (`on_open`, `on_message`, `on_fragment`) run on the connection's task: one
    /// that panics ends that connection only, with Close 1011 (internal error), and
    /// `on_close` still runs (with a `panic = "abort"` build the process ends instead).
    pub fn on_open(mut self, f: impl Fn(&Conn<D>) + Send + Sync + 'static) -> Self {
        self.on_open = Some(Arc::new(f));
        self
    }

    /// Called with every whole text or binary message.
    pub fn on_message(mut self, f: impl Fn(&Conn<D>, Message) + Send + Sync + 'static) -> Self {
        self.on_message = Some(Arc::new(f));
        self
    }

    /// Called with every frame of every data message instead of whole messages (for messages
    /// too large to hold whole); `on_message` is then not called.
    pub fn on_fragment(mut self, f: impl Fn(&Conn<D>, Fragment) + Send + Sync + 'static) -> Self {
        self.on_fragment = Some(Arc::new(f));
        self
    }

    /// Called once when the connection has ended, however it ended: the close code and
    /// reason, whether the closing handshake completed, who started it, and the error if the
    /// peer broke the protocol.
    pub fn on_close(mut self, f: impl Fn(&Conn<D>, &CloseInfo) + Send + Sync + 'static) -> Self {
        self.on_close = Some(Arc::new(f));
        self
    }

    /// Called with the round trip measured by each Pong that answers a Ping (also available as
    /// [`Handle::lag`](crate::Handle::lag)).
    pub fn on_pong(mut self, f: impl Fn(&Conn<D>, Duration) + Send + Sync + 'static) -> Self {
        self.on_pong = Some(Arc::new(f));
        self
    }

    /// Runs each connection as one async function instead of callbacks: it receives the
    /// [`Socket`] (receive, send, close; its [`Conn`] for the handle and data) and the
    /// connection ends when it returns. `on_open`, `on_message` and `on_fragment` are then not
    /// used; `on_close` and `on_pong` still are.
    ///
    /// ```
    /// use ws_server::Route;
    /// let echo = Route::new().handle(|mut socket| async move {
    ///     while let Some(Ok(message)) = socket.recv().await {
    ///         let _ = socket.conn().send(message);
    ///     }
    /// });
    /// # let _ = echo;
    /// ```
    pub fn handle<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(Socket<D>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.task = Some(Arc::new(move |socket| Box::pin(f(socket))));
        self
    }
}

/// How a path is matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PathMatch {
    Exact(String),
    Prefix(String),
}

impl PathMatch {
    fn matches(&self, path: &str) -> bool {
        match self {
            PathMatch::Exact(p) => p == path,
            PathMatch::Prefix(p) => {
                path.starts_with(p.as_str())
                    && (p.ends_with('/')
                        || path.len() == p.len()
                        || path.as_bytes()[p.len()] == b'/')
            }
        }
    }
}

/// The routes of a server: exact paths first, then the longest matching prefix.
#[derive(Default)]
pub(crate) struct Router {
    routes: Vec<(PathMatch, Arc<dyn crate::session::ErasedRoute>)>,
}

impl Router {
    pub(crate) fn add(&mut self, at: PathMatch, route: Arc<dyn crate::session::ErasedRoute>) {
        self.routes.push((at, route));
    }

    pub(crate) fn find(&self, path: &str) -> Option<&Arc<dyn crate::session::ErasedRoute>> {
        let exact =
            self.routes.iter().find(|(m, _)| matches!(m, PathMatch::Exact(_)) && m.matches(path));
        exact
            .or_else(|| {
                self.routes
                    .iter()
                    .filter(|(m, _)| matches!(m, PathMatch::Prefix(_)) && m.matches(path))
                    .max_by_key(|(m, _)| match m {
                        PathMatch::Prefix(p) | PathMatch::Exact(p) => p.len(),
                    })
            })
            .map(|(_, r)| r)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::PathMatch;

    #[test]
    fn prefixes_match_at_segment_boundaries() {
        let p = PathMatch::Prefix("/rooms".into());
        assert!(p.matches("/rooms") && p.matches("/rooms/a") && !p.matches("/roomsx"));
        let slash = PathMatch::Prefix("/".into());
        assert!(slash.matches("/") && slash.matches("/anything"));
        assert!(PathMatch::Exact("/chat".into()).matches("/chat"));
        assert!(!PathMatch::Exact("/chat".into()).matches("/chat/"));
    }
}
