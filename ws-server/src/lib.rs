//! # ws-server: WebSocket servers on ws-tokio, with what every server needs built in
//!
//! Routes by path, origin checks, connection caps, an async upgrade hook, handlers, send
//! handles with bounded queues, pub/sub that encodes a frame once, keepalive that measures lag,
//! graceful shutdown and metrics, over TCP (IPv4, IPv6), Unix sockets and TLS. Every protocol
//! decision (framing, limits, close codes, timers) is made by the `ws-proto` core, exactly as in
//! `ws-tokio`, so a `ws-server` connection is as strict as any other in this workspace.
//!
//! A chat room: every text message goes to every member, the sender included.
//!
//! ```no_run
//! use ws_server::{Message, Origins, Route, Server};
//!
//! #[tokio::main]
//! async fn main() -> std::io::Result<()> {
//!     let chat = Route::new()
//!         .origins(Origins::exact(["http://localhost:8000"]).allow_missing(true))
//!         .max_connections(100) // the 101st gets 503
//!         .on_open(|conn| conn.subscribe("chat"))
//!         .on_message(|conn, msg| {
//!             if let Message::Text(text) = msg {
//!                 conn.publish("chat", text);
//!             }
//!         })
//!         .on_pong(|conn, lag| println!("{} lag {lag:?}", conn.peer_addr()));
//!     Server::builder()
//!         .bind("127.0.0.1:9001")
//!         .route("/chat", chat) // other paths: 404
//!         .build()
//!         .await?
//!         .serve_with_shutdown(async { tokio::signal::ctrl_c().await.unwrap() }) // 1001 to all
//!         .await
//! }
//! ```
//!
//! ## The parts
//!
//! * [`Server::builder`]: listeners ([`bind`](ServerBuilder::bind),
//!   [`bind_unix`](ServerBuilder::bind_unix), [`bind_tls_pem`](ServerBuilder::bind_tls_pem)),
//!   routes ([`route`](ServerBuilder::route) for an exact path,
//!   [`route_prefix`](ServerBuilder::route_prefix)), server-wide [`ServerSettings`].
//! * [`Route`]: per path, its [`RouteSettings`] (limits, keepalive, compression, caps,
//!   [`Backpressure`]), [`Origins`] policy (403), subprotocol selection, an async upgrade hook
//!   ([`Route::with_upgrade`]: accept with per-connection data, or [`Reject`] with any status),
//!   and handlers: `on_open`, `on_message` (whole messages) or `on_fragment`, `on_close`,
//!   `on_pong` (lag); or one async function per connection ([`Route::handle`], [`Socket`]).
//! * [`Conn`] / [`Handle`]: the connection's send handle, cloneable and usable from any task:
//!   send (never waits; the queue is bounded in bytes and [`Sent`] says what happened), ping,
//!   close, subscribe, publish, request details, lag.
//! * [`ServerHandle`]: publish to a topic or to all, count, iterate, metrics, shutdown.
//! * [`Hub`]: where topics live; [`LocalHub`] in this process by default, or with the `redis`
//!   feature `redis::RedisHub`, across servers through Redis.
//!
//! ## Defaults
//!
//! Limits are on by default: messages and frames of 1 MiB, a 10 s handshake timeout (the
//! upgrade hook included), request heads of 8 KiB, 10 000 connections per server (503 past
//! it), 64 KiB of queued data per connection (then messages are dropped and counted), a Ping
//! every 20 s whatever the traffic and 20 s of silence before a peer is dropped (1011),
//! compression off, a 10 s graceful-shutdown deadline.
//!
//! ## HTTP on the same port
//!
//! With the `http` feature (default), [`ServerBuilder::http`] (an async function from
//! [`HttpRequest`](http::HttpRequest) to [`HttpResponse`](http::HttpResponse)),
//! [`ServerBuilder::http_service`] (a tower service, an axum `Router` for instance) and
//! [`ServerBuilder::static_dir`] answer every request that is not a WebSocket upgrade to a
//! route, through hyper: keep-alive, chunked bodies and pipelining are hyper's, request bodies
//! are read with a limit ([`ServerBuilder::max_body_size`], 1 MiB by default; 413 past it).
//! An upgrade arriving later on a keep-alive connection still reaches its route, with the
//! same policy, hook and negotiation. A connection whose first request is an upgrade to a
//! route never touches hyper, so the WebSocket path costs what it costs without HTTP. Without
//! an HTTP side, other requests are refused by the handshake as before. See [`http`].
//!
//! ## axum
//!
//! With the `axum` feature, both ways: a route mounted in an axum `Router`
//! ([`axum::route`], with the upgrade and negotiation still this crate's, and
//! [`ServerBuilder::build_embedded`] for a server without listeners), and an axum app serving
//! the HTTP side of a server ([`ServerBuilder::http_service`]). See [`axum`](mod@axum).

#[cfg(feature = "axum")]
pub mod axum;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "redis")]
pub mod redis;

mod conn;
mod direct;
mod hub;
mod log;
mod metrics;
mod origin;
mod request;
mod route;
mod server;
mod session;
mod settings;
mod socket;
mod stream;

pub use conn::{Conn, ConnId, Handle, Publish, Sent};
pub use hub::{Hub, LocalHub};
pub use metrics::{LAG_BUCKETS_MS, MetricsSnapshot};
pub use origin::Origins;
pub use request::{Reject, Upgrade, UpgradeRequest};
pub use route::{Fragment, Route};
pub use server::{Server, ServerBuilder, ServerHandle};
pub use settings::{Backpressure, RouteSettings, ServerSettings};
pub use socket::Socket;
pub use stream::{Io, PeerAddr, Rewind, ServerStream};

pub use ws_proto::{
    CloseCause, CloseCode, CloseInfo, Initiator, MemoryBudget, Message, MessageKind, PreparedFrame,
    Utf8Bytes,
};
pub use ws_tokio::Error;
