//! From an accepted transport to a running connection: the request head, the route, the
//! origin policy and caps, the upgrade hook, the `101` and the handlers.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use std::task::Poll;

use tokio::io::AsyncReadExt;
use ws_common::aio::server_handshake;
use ws_proto::Config;
use ws_proto::handshake::{Accept, Handshake, Rejection, Request, RequestStart, ServerHandshake};
use ws_tokio::{Tokio, WebSocket};

use crate::conn::{Conn, ConnId, Core, Handle, Outbox};
use crate::route::{BoxFuture, Hook, Route};
use crate::server::{HandshakeCount, Shared};
use crate::settings::ServerSettings;
use crate::socket::{Registration, Reserved, Socket, run_callbacks};
use crate::{PeerAddr, ServerStream, UpgradeRequest};

/// A route with its data type erased, as the router holds it.
pub(crate) trait ErasedRoute: Send + Sync + 'static {
    /// The core's configuration for this route's connections.
    fn config(&self, server: &ServerSettings) -> Config;

    /// Finishes the handshake `hs` (the request already fed) on `stream`; on success, the
    /// future that runs the connection (returned rather than awaited here, so that the task
    /// polls it directly: one message's polls pass through as few futures as possible).
    fn connect(
        self: Arc<Self>,
        stream: ServerStream,
        hs: ServerHandshake,
        peer: PeerAddr,
        shared: Arc<Shared>,
        handshaking: HandshakeCount,
    ) -> BoxFuture<Option<BoxFuture<()>>>;

    /// Runs the route's policy on a request whose HTTP exchange belongs to someone else (an
    /// upgrade through hyper): the same checks and hook as [`connect`](Self::connect). On yes,
    /// the [`Accept`] to answer with and what runs the connection once it is upgraded.
    #[cfg(feature = "http")]
    fn decide_upgrade(
        self: Arc<Self>,
        request: Request,
        peer: PeerAddr,
        shared: Arc<Shared>,
    ) -> BoxFuture<Result<(Accept, Open), Rejection>>;
}

/// Runs an accepted connection (its handlers) once the transport is upgraded.
#[cfg(feature = "http")]
pub(crate) type Open = Box<dyn FnOnce(WebSocket<ServerStream>) -> BoxFuture<()> + Send>;

impl<D: Send + Sync + 'static> ErasedRoute for Route<D> {
    fn config(&self, server: &ServerSettings) -> Config {
        self.settings.config(server)
    }

    fn connect(
        self: Arc<Self>,
        stream: ServerStream,
        hs: ServerHandshake,
        peer: PeerAddr,
        shared: Arc<Shared>,
        handshaking: HandshakeCount,
    ) -> BoxFuture<Option<BoxFuture<()>>> {
        Box::pin(connect(self, stream, hs, peer, shared, handshaking))
    }

    #[cfg(feature = "http")]
    fn decide_upgrade(
        self: Arc<Self>,
        request: Request,
        peer: PeerAddr,
        shared: Arc<Shared>,
    ) -> BoxFuture<Result<(Accept, Open), Rejection>> {
        let decision = decide(&self, &shared, &request, &peer);
        Box::pin(async move {
            let (accept, decided) = decision.await?;
            let up = decided.request.clone().unwrap_or_else(|| UpgradeRequest::new(request, peer));
            let open: Open = Box::new(move |ws| run(self, Box::new(ws), decided, up, shared));
            Ok((accept, open))
        })
    }
}

/// What the decision leaves for after the `101`.
struct Decided<D> {
    /// The connection's number, given when the upgrade is accepted (before the `101`, so
    /// numbers follow the order of acceptance).
    id: ConnId,
    data: D,
    protocol: Option<String>,
    reserved: Reserved,
    /// The request as the upgrade hook saw it (none without a hook: the handshake's own
    /// request is used, not a copy).
    request: Option<UpgradeRequest>,
}

async fn connect<D: Send + Sync + 'static>(
    route: Arc<Route<D>>,
    stream: ServerStream,
    hs: ServerHandshake,
    peer: PeerAddr,
    shared: Arc<Shared>,
    handshaking: HandshakeCount,
) -> Option<BoxFuture<()>> {
    let mut decided: Option<Decided<D>> = None;
    let slot = &mut decided;
    let result = server_handshake::<_, Tokio, _, _>(stream, hs, |request| {
        let decision = decide(&route, &shared, request, &peer);
        async move {
            let (accept, decided) = decision.await?;
            *slot = Some(decided);
            Ok(accept)
        }
    })
    .await;
    drop(handshaking);
    let (ws, request) = match result {
        Ok(accepted) => accepted,
        Err(e) => {
            crate::log::handshake_failed(&peer, &e);
            shared.metrics.refused.fetch_add(1, Ordering::Relaxed);
            return None;
        }
    };
    let mut decided = decided?;
    let up = decided.request.take().unwrap_or_else(|| UpgradeRequest::new(request, peer));
    Some(run(route, Box::new(ws), decided, up, shared))
}

/// After the `101`: registers the connection; the future that runs its handlers until it ends.
fn run<D: Send + Sync + 'static>(
    route: Arc<Route<D>>,
    mut ws: Box<WebSocket<ServerStream>>,
    decided: Decided<D>,
    request: UpgradeRequest,
    shared: Arc<Shared>,
) -> BoxFuture<()> {
    let Decided { id, data, protocol, reserved, .. } = decided;
    if let Some(make) = &route.ping_payload {
        let make = Arc::clone(make);
        ws.connection_mut().set_ping_payload(move |n| make(n));
    }
    let handle = Handle {
        core: Arc::new(Core {
            id,
            request,
            protocol,
            max_backpressure: route.settings.max_backpressure,
            policy: route.settings.backpressure,
            outbox: Mutex::new(Outbox::default()),
            has_items: AtomicBool::new(false),
            awake: AtomicBool::new(false),
            waker_held: AtomicBool::new(false),
            counts: Default::default(),
            socket_buffered: AtomicUsize::new(0),
            lag_nanos: AtomicU64::new(u64::MAX),
            dropped: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            room: tokio::sync::Notify::new(),
            topics: Mutex::new(Vec::new()),
            server: Arc::clone(&shared),
        }),
    };
    let registration = Registration { handle: handle.clone(), _reserved: reserved };
    shared.register(&handle);
    shared.metrics.accepted.fetch_add(1, Ordering::Relaxed);
    let conn = Conn::new(handle, data);
    let socket = Socket::new(ws, conn, route.on_pong.clone(), route.on_close.clone(), registration);
    match &route.task {
        Some(task) => task(socket),
        None => {
            let (open, message, fragment) =
                (route.on_open.clone(), route.on_message.clone(), route.on_fragment.clone());
            Box::pin(run_callbacks(socket, open, message, fragment))
        }
    }
}

/// The checks in order (shutdown, origin, the server's and the route's caps), then the hook.
/// Everything but the hook runs now, on the borrowed request; the returned future owns what
/// it needs (a copy of the request only if there is a hook to see it).
fn decide<D: Send + Sync + 'static>(
    route: &Arc<Route<D>>,
    shared: &Arc<Shared>,
    request: &Request,
    peer: &PeerAddr,
) -> impl Future<Output = Result<(Accept, Decided<D>), Rejection>> + Send + use<D> {
    let checked = check(route, shared, request);
    let hook = match (&checked, &route.hook) {
        (Ok(_), Hook::Async(hook)) => {
            let up = UpgradeRequest::new(request.clone(), peer.clone());
            Some((hook(up.clone()), up))
        }
        _ => None,
    };
    // Without a hook, the subprotocol is chosen now from the borrowed request.
    let selected = match hook {
        None => route.select_protocol.as_ref().and_then(|select| select(request.protocols())),
        Some(_) => None,
    };
    let (route, shared) = (Arc::clone(route), Arc::clone(shared));
    async move {
        let reserved = checked?;
        let (upgrade, request) = match (hook, &route.hook) {
            (Some((hook, up)), _) => match hook.await {
                Ok(upgrade) => (upgrade, Some(up)),
                Err(reject) => return Err(reject.rejection),
            },
            (None, Hook::Accept(accept)) => (accept(), None),
            (None, Hook::Async(_)) => return Err(Rejection::new(500)), // unreachable
        };
        if shared.shutting_down.load(Ordering::Relaxed) {
            return Err(Rejection::new(503).body("shutting down"));
        }
        let protocol = upgrade.protocol.or(selected).or_else(|| {
            let up = request.as_ref()?;
            route.select_protocol.as_ref().and_then(|select| select(up.protocols()))
        });
        let mut accept = Accept::new();
        if let Some(protocol) = &protocol {
            accept = accept.protocol(protocol.clone());
        }
        for (name, value) in upgrade.headers {
            accept = accept.header(name, value);
        }
        let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
        Ok((accept, Decided { id, data: upgrade.data, protocol, reserved, request }))
    }
}

/// Shutdown, origin and caps; a place reserved under the caps on yes.
fn check<D: Send + Sync + 'static>(
    route: &Route<D>,
    shared: &Arc<Shared>,
    request: &Request,
) -> Result<Reserved, Rejection> {
    if shared.shutting_down.load(Ordering::Relaxed) {
        return Err(Rejection::new(503).body("shutting down"));
    }
    if !route.origins.allows(request.origin(), request.host()) {
        return Err(Rejection::new(403).body("origin not allowed"));
    }
    // Reserve a place (released when dropped, whatever happens next).
    let reserved = Reserved::new(shared, &route.open);
    let server_full = shared.metrics.open.load(Ordering::Relaxed) > shared.settings.max_connections;
    let route_full =
        route.settings.max_connections.is_some_and(|max| route.open.load(Ordering::Relaxed) > max);
    if server_full || route_full {
        return Err(Rejection::new(503).header("Retry-After", "5").body("too many connections"));
    }
    Ok(reserved)
}

/// Reads the request head (up to the server's limit, within the handshake deadline), picks
/// the route by path, and hands the connection on: to the route if it is a WebSocket upgrade
/// to one, else to the HTTP fallback if there is one, else to the core (which refuses a
/// request that is not an upgrade, and answers 404 where no route matches). A connection that
/// became a WebSocket returns the future that runs it.
pub(crate) async fn serve_stream(
    mut stream: ServerStream,
    peer: PeerAddr,
    start: Instant,
    shared: Arc<Shared>,
    handshaking: HandshakeCount,
) -> Option<BoxFuture<()>> {
    let mut head = Vec::with_capacity(1024);
    match read_head(&mut stream, &mut head, &shared.settings, start).await {
        Head::Read => {}
        // The peer left, failed, or was too slow: nothing to answer.
        Head::Closed => {
            crate::log::handshake_failed(&peer, &"the peer closed before a request");
            return None;
        }
        Head::Failed(e) => {
            crate::log::handshake_failed(&peer, &e);
            return None;
        }
        Head::TimedOut => {
            crate::log::handshake_failed(&peer, &"handshake timeout");
            return None;
        }
    }
    // A WebSocket upgrade to a route never goes through the fallback; any other well-formed
    // request does, when there is one (an HTTP handler may have upgrades of its own). Without
    // a fallback only the path matters: it is read off the request line, and the handshake's
    // parser (the one full parse) judges the rest.
    let (route, fallback) = match &shared.fallback {
        Some(fallback) => {
            let inspected = inspect(&head);
            let route = inspected.path.as_deref().and_then(|path| shared.router.find(path));
            let to_route = inspected.upgrade && route.is_some();
            let fallback = (!to_route && inspected.path.is_some()).then_some(fallback);
            (route.cloned(), fallback)
        }
        None => (request_path(&head).and_then(|path| shared.router.find(path)).cloned(), None),
    };
    if let Some(fallback) = fallback {
        let fallback = Arc::clone(fallback);
        let io = ServerStream::Boxed(Box::new(crate::stream::Rewind::new(head, stream)));
        drop(handshaking);
        fallback(io, peer, shared).await;
        return None;
    }
    let Some(route) = route else {
        let hs = fed_handshake(Config::default(), start, &head);
        // Boxed: the connection's task stays small for the common case.
        let _ = Box::pin(server_handshake::<_, Tokio, _, _>(stream, hs, |_| async {
            Err::<Accept, _>(Rejection::new(404).body("no such path"))
        }))
        .await;
        shared.metrics.refused.fetch_add(1, Ordering::Relaxed);
        return None;
    };
    let hs = fed_handshake(route.config(&shared.settings), start, &head);
    route.connect(stream, hs, peer, shared, handshaking).await
}

/// A handshake driver fed with the request head. Made outside the async functions that await
/// after it: a driver borrowed there would take room in their futures (the connection's task)
/// even after it has been moved out.
fn fed_handshake(config: Config, start: Instant, head: &[u8]) -> ServerHandshake {
    let mut hs = ServerHandshake::new(config, start);
    hs.handle_data(Instant::now(), head);
    debug_assert!(hs.poll_timeout().is_some());
    hs
}

/// How reading the request head ended.
enum Head {
    /// The head is complete, over the limit, or cannot be a request: the handshake judges.
    Read,
    /// The peer closed before a request.
    Closed,
    Failed(std::io::Error),
    TimedOut,
}

/// Reads the request head into `head`'s spare room (no buffer on the future, nothing zeroed)
/// until it is complete, over the server's limit or cannot be a request (answered at its first
/// wrong byte, not after the limit or the timeout: 400, or closed for a TLS ClientHello), within
/// the handshake's deadline from `start`. The deadline's timer is made only if a read has to
/// wait: a request that is there when the connection's task first runs costs none.
async fn read_head(
    stream: &mut ServerStream,
    head: &mut Vec<u8>,
    settings: &ServerSettings,
    start: Instant,
) -> Head {
    let limit = settings.max_request_bytes;
    let deadline = start + settings.handshake_timeout;
    let mut check = RequestStart::new();
    let mut sleep = std::pin::pin!(None::<tokio::time::Sleep>);
    std::future::poll_fn(|cx| {
        loop {
            if head.len() == head.capacity() {
                head.reserve(1024);
            }
            let before = head.len();
            match std::pin::pin!(stream.read_buf(head)).poll(cx) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Head::Closed),
                Poll::Ready(Ok(_)) => {
                    // A complete head goes to the handshake's parser, which checks it all. It
                    // usually ends what was read (a client sends its request and waits).
                    let scan_from = before.saturating_sub(3);
                    if head.ends_with(b"\r\n\r\n")
                        || head[scan_from..].windows(4).any(|w| w == b"\r\n\r\n")
                        || head.len() > limit
                        || check.check(&head[before..]).is_err()
                    {
                        return Poll::Ready(Head::Read);
                    }
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Head::Failed(e)),
                Poll::Pending => {
                    if sleep.is_none() {
                        sleep.set(Some(tokio::time::sleep_until(deadline.into())));
                    }
                    let fired = sleep.as_mut().as_pin_mut().is_some_and(|s| s.poll(cx).is_ready());
                    return if fired { Poll::Ready(Head::TimedOut) } else { Poll::Pending };
                }
            }
        }
    })
    .await
}

/// The path of the request line's target (without the query), if the line is complete.
fn request_path(head: &[u8]) -> Option<&str> {
    // Method, space, target, then a space or the line's end: only the line's first bytes are
    // looked at (the head was already scanned for its end).
    let space = head.iter().position(|&b| b == b' ' || b == b'\n')?;
    let rest = head.get(space + 1..).filter(|_| head[space] == b' ')?;
    let len = rest.iter().position(|&b| matches!(b, b' ' | b'\r' | b'\n'))?;
    let (target, after) = rest.split_at(len);
    // The line must be complete.
    after.windows(2).position(|w| w == b"\r\n")?;
    let path = target.split(|&b| b == b'?').next()?;
    std::str::from_utf8(path).ok()
}

/// What the server needs from the head before the handshake parser sees it.
struct Inspected {
    path: Option<String>,
    /// `Upgrade: websocket` is present (a WebSocket handshake, valid or not).
    upgrade: bool,
}

fn inspect(head: &[u8]) -> Inspected {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    if !matches!(req.parse(head), Ok(httparse::Status::Complete(_))) {
        return Inspected { path: None, upgrade: true };
    }
    let path = req.path.map(|p| p.split('?').next().unwrap_or(p).to_owned());
    let upgrade = req.headers.iter().any(|h| {
        h.name.eq_ignore_ascii_case("upgrade")
            && h.value
                .split(|&b| b == b',')
                .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"websocket"))
    });
    Inspected { path, upgrade }
}

#[cfg(test)]
mod tests {
    use super::inspect;

    #[test]
    fn reads_the_path_off_the_request_line() {
        use super::request_path;
        assert_eq!(request_path(b"GET /chat?x=1 HTTP/1.1\r\nHost: a\r\n\r\n"), Some("/chat"));
        assert_eq!(request_path(b"GET / HTTP/1.1\r\n"), Some("/"));
        assert_eq!(request_path(b"GET /chat HTTP/1.1"), None); // line not complete
        assert_eq!(request_path(b"GET\r\n"), None);
        assert_eq!(request_path(b"GET /\xff HTTP/1.1\r\n"), None);
        assert_eq!(request_path(b"GET\r\nHost: a b\r\n\r\n"), None); // no target on the line
        assert_eq!(request_path(b"GET /a\r\n"), Some("/a")); // no version: the parser judges
    }

    #[test]
    fn inspects_path_and_upgrade() {
        let ws = inspect(b"GET /chat?x=1 HTTP/1.1\r\nHost: a\r\nUpgrade: WebSocket\r\n\r\n");
        assert_eq!((ws.path.as_deref(), ws.upgrade), (Some("/chat"), true));
        let http = inspect(b"GET /index.html HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!((http.path.as_deref(), http.upgrade), (Some("/index.html"), false));
        let h2c = inspect(b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c, websocket\r\n\r\n");
        assert!(h2c.upgrade);
        // Not HTTP at all: the handshake parser answers it.
        assert!(inspect(b"\x16\x03\x01garbage\r\n\r\n").upgrade);
    }
}
