//! The ws-server harness: server role only (ws-server has no client). The scenario's listener
//! goes to [`ServerBuilder::listener`](ws_server::ServerBuilder::listener), the [`App`] runs
//! as the route's async per-connection function
//! ([`Route::handle`](ws_server::Route::handle)), the way ws-server's README tells
//! applications to write one, and the scenario's [`Config`] becomes the route's and the
//! server's settings ([`route_settings`], [`server_settings`]).
//!
//! How the applications map onto ws-server's API:
//!
//! * the whole socket is the [`Socket`](ws_server::Socket): `recv`, `send` (waits until
//!   written), `close`, `close_info`; `last_rtt` is the connection's lag
//!   ([`Handle::lag`](ws_server::Handle::lag), from the Pong that answered its Ping);
//! * `split`: ws-server has no halves. The read half is the `Socket` itself (receiving drives
//!   the connection), the write half is its [`Conn`] send handle, used from another task as
//!   the README says: `send_async` under [`Backpressure::Wait`] (a send waits for room in the
//!   connection's bounded queue, as the other adapters' `send` waits for the socket) and
//!   `close`, which queues the Close behind what was queued before it;
//! * the application's panic: caught around the application only to hand its text to the
//!   harness, then re-raised in ws-server's task, so ws-server sees the panic as it would a
//!   real handler's ([`Harness::panic_close_code`]: 1011).
//!
//! ws-server's `recv` returns text and binary messages only (Pings, Pongs and the peer's
//! Close are handled inside it, the Close reported by `close_info`), so
//! [`Harness::control_messages`] is false: the scenarios check the peer's Close in
//! `close_info` and the Ping's Pong on the wire instead of in the received messages.

use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::panic::{AssertUnwindSafe, resume_unwind};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_lite::FutureExt;
use ws_proto::{CloseInfo, Config, Message};
use ws_server::{Backpressure, Conn, RouteSettings, Sent, ServerSettings};

use super::apps::{self, Recv, Sender, Socket};
use super::tokio::{TokioRt, end, runtime};
use super::{App, AppHandle, End, ErrKind, Harness, Op, Report};

/// How long the server waits for its one connection's application to end (the scenario's own
/// bounds fail the test long before).
const APP_WITHIN: Duration = Duration::from_secs(60);
/// How long the connection may take to leave the server once its application has ended.
const FREE_WITHIN: Duration = Duration::from_secs(3);

/// ws-server, one route (`/` and below) with an async per-connection function, on a
/// two-worker tokio runtime.
#[derive(Debug, Clone, Copy, Default)]
pub struct WsServer;

/// The route's settings for a scenario's `config`: its limits and timers as they are.
/// `write_buffer_high_water` is the connection's queue bound (`max_backpressure`; ws-server's
/// core then stops reading at twice that), and the policy is [`Backpressure::Wait`] so a
/// writer's sends wait for room instead of dropping. (ws-server always sends its Pings
/// whatever the traffic, `keepalive_while_busy`; no scenario tells the two apart.)
pub fn route_settings(config: &Config) -> RouteSettings {
    let mut s = RouteSettings::default();
    s.max_message_size = config.max_message_size;
    s.max_frame_size = config.max_frame_size;
    s.max_backpressure = config.write_buffer_high_water;
    s.backpressure = Backpressure::Wait;
    s.ping_interval = config.keepalive_interval;
    s.pong_timeout = config.pong_timeout;
    s.idle_timeout = config.idle_timeout;
    s.message_timeout = config.message_timeout;
    s.max_lifetime = config.max_lifetime;
    s.compression = config.deflate.is_some();
    s.close_timeout = config.close_timeout;
    s
}

/// The server's settings for a scenario's `config`: its handshake bounds and memory budget.
pub fn server_settings(config: &Config) -> ServerSettings {
    let mut s = ServerSettings::default();
    s.handshake_timeout = config.handshake_timeout;
    s.max_request_bytes = config.handshake_limits.max_bytes;
    s.memory_budget = config.memory_budget.clone();
    s
}

/// How the connection's application ended: its report, or the text of its panic.
pub(crate) type Outcome = Result<Report, String>;

impl Harness for WsServer {
    fn name(&self) -> &'static str {
        "ws-server"
    }

    fn is_async(&self) -> bool {
        true
    }

    fn panic_close_code(&self) -> Option<u16> {
        Some(1011)
    }

    fn control_messages(&self) -> bool {
        false
    }

    fn serve(&self, listener: TcpListener, config: Config, app: App) -> AppHandle {
        AppHandle::spawn("ws-server", move || runtime().block_on(serve(listener, config, app)))
    }

    fn connect(&self, _addr: SocketAddr, _config: Config, _app: App) -> AppHandle {
        panic!("ws-server is a server only: the kit runs it in the server role")
    }
}

async fn serve(listener: TcpListener, config: Config, app: App) -> Report {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Outcome>();
    // The route's function is called per connection; the scenario serves one.
    let once = Arc::new(Mutex::new(Some((app, tx))));
    let route = ws_server::Route::new().settings(route_settings(&config)).handle(move |socket| {
        let taken = once.lock().unwrap_or_else(|e| e.into_inner()).take();
        async move {
            let (app, tx) = taken.expect("ws-server: a second connection reached the route");
            let run = apps::run::<TokioRt, _>(KitSocket(socket), app);
            match AssertUnwindSafe(run).catch_unwind().await {
                Ok(report) => drop(tx.send(Ok(report))),
                Err(panic) => {
                    let _ = tx.send(Err(panic_text(&*panic)));
                    resume_unwind(panic);
                }
            }
        }
    });
    run_server(listener, &config, route, async move { rx.recv().await }).await
}

/// Serves `route` on `listener` with the server settings of `config` until `outcome` says
/// how the one connection's application ended; then waits for the connection to leave the
/// server (at most [`FREE_WITHIN`]), shuts the server down, and returns the report or
/// re-raises the application's panic.
pub(crate) async fn run_server<D: Send + Sync + 'static>(
    listener: TcpListener,
    config: &Config,
    route: ws_server::Route<D>,
    outcome: impl Future<Output = Option<Outcome>>,
) -> Report {
    listener.set_nonblocking(true).expect("non-blocking listener");
    let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
    let server = ws_server::Server::builder()
        .listener(listener)
        .settings(server_settings(config))
        .route_prefix("/", route)
        .build()
        .await
        .expect("ws-server did not build");
    let handle = server.handle();
    let serving = tokio::spawn(server.serve());
    let outcome = tokio::time::timeout(APP_WITHIN, outcome).await;
    let until = Instant::now() + FREE_WITHIN;
    while handle.count() > 0 && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let open = handle.count();
    handle.shutdown();
    serving.await.expect("the server's task").expect("ws-server's serve failed");
    let outcome = outcome.expect("ws-server: the application did not end").expect("no outcome");
    assert_eq!(open, 0, "ws-server: the connection did not end within {FREE_WITHIN:?}");
    match outcome {
        Ok(report) => report,
        Err(text) => resume_unwind(Box::new(text)),
    }
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default()
}

/// The route's [`ws_server::Socket`]: the whole socket, and the read half.
struct KitSocket(ws_server::Socket);

/// The write half: the connection's send handle.
pub(crate) struct KitWriter(pub(crate) Conn);

/// A send handle's refusal as the kit's [`End`].
pub(crate) fn refused(op: Op, sent: Sent) -> End {
    let kind = if sent == Sent::Closed { ErrKind::Usage } else { ErrKind::Other };
    End::Err { op, close_code: None, kind, text: format!("not queued: {sent:?}") }
}

impl Recv for KitSocket {
    async fn next(&mut self) -> Option<Result<Message, End>> {
        self.0.recv().await.map(|r| r.map_err(|e| end(Op::Recv, &e)))
    }

    fn info(&self) -> (Option<CloseInfo>, Option<Duration>) {
        (self.0.close_info().cloned(), self.0.conn().lag())
    }
}

impl Sender for KitSocket {
    async fn send(&mut self, message: Message) -> Result<(), End> {
        self.0.send(message).await.map_err(|e| end(Op::Send, &e))
    }

    async fn close(&mut self, code: u16, reason: &str) -> Result<(), End> {
        self.0.close(code, reason).await.map_err(|e| end(Op::Close, &e))
    }
}

impl Socket for KitSocket {
    type R = KitSocket;
    type W = KitWriter;

    fn split(self) -> (KitSocket, KitWriter) {
        let conn = self.0.conn().clone();
        (self, KitWriter(conn))
    }
}

impl Sender for KitWriter {
    async fn send(&mut self, message: Message) -> Result<(), End> {
        match self.0.send_async(message).await {
            Sent::Queued => Ok(()),
            other => Err(refused(Op::Send, other)),
        }
    }

    async fn close(&mut self, code: u16, reason: &str) -> Result<(), End> {
        match self.0.close(code, reason) {
            Sent::Queued => Ok(()),
            other => Err(refused(Op::Close, other)),
        }
    }
}
