//! # ws-blocking: WebSocket over blocking std sockets
//!
//! A thin adapter that drives the sans-IO [`ws_proto`] state machine with blocking reads and
//! writes: [`std::net::TcpStream`], `UnixStream`, `wss://` through rustls (feature `tls`, on by
//! default), or any other `Read + Write` stream. No async runtime, no background threads: every
//! call does its IO on the calling thread.
//!
//! ```
//! use std::net::TcpListener;
//! use ws_blocking::{CloseCode, Message, accept, connect};
//!
//! // An echo server on an ephemeral port, one thread per connection.
//! let listener = TcpListener::bind("127.0.0.1:0")?;
//! let addr = listener.local_addr()?;
//! let server = std::thread::spawn(move || -> Result<(), ws_blocking::Error> {
//!     let (tcp, _) = listener.accept()?;
//!     let mut ws = accept(tcp)?;
//!     while let Some(message) = ws.recv() {
//!         match message? {
//!             echo @ (Message::Text(_) | Message::Binary(_)) => ws.send(echo)?,
//!             _ => {} // pings are answered and the close handshake completed for us
//!         }
//!     }
//!     Ok(())
//! });
//!
//! let (mut ws, _response) = connect(&format!("ws://{addr}/"))?;
//! ws.send_text("hello")?;
//! assert_eq!(ws.recv().unwrap()?, Message::text("hello"));
//! ws.close(CloseCode::NORMAL, "bye")?;
//! while let Some(message) = ws.recv() {
//!     message?; // the server's Close arrives, then None once TCP is closed
//! }
//! assert!(ws.close_info().unwrap().clean);
//! server.join().unwrap()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## What it offers
//!
//! * Clients: [`connect`] / [`connect_with`] for `ws://` and `wss://` URLs (name resolution,
//!   `TCP_NODELAY`, TLS with the webpki roots or your own `rustls::ClientConfig`), or
//!   [`client`] over a stream you connected yourself.
//! * Servers: [`accept`], or [`accept_with`] whose callback sees the [`Request`] (path, query,
//!   headers, `Origin`, offered subprotocols) and returns an [`Accept`] or a [`Rejection`].
//!   [`tls::server_config_from_pem_files`] with [`tls::accept`] (or [`tls::server_stream`])
//!   serve `wss://`. [`WebSocket::from_raw`] takes over a stream upgraded elsewhere.
//! * [`WebSocket`]: [`recv`](WebSocket::recv) whole messages or
//!   [`recv_event`](WebSocket::recv_event) frame by frame; `send*`, `feed`, `ping`, `close`,
//!   `flush`.
//! * [`split`](WebSocket::split) into a [`ReadHalf`] and a [`WriteHalf`] for two threads, with no
//!   lock held across a blocking read or write; [`reunite`].
//!
//! ## The loop
//!
//! Each `recv` call runs the adapter loop around the core until it has something to return:
//! hand out the next event; write what the core queued (pongs, close replies, keepalive pings
//! and whatever `feed` left queued) with vectored writes; close the transport when the core
//! says so (half-close, then drain input briefly so our Close frame is not destroyed by a
//! reset); run a due timer; otherwise block on one read straight into the core's buffer, with
//! the stream's read timeout set to the next deadline. There is no protocol logic here.
//!
//! ## Timers, timeouts and streams without them
//!
//! Keepalive, pong, idle and close timeouts from [`Config`] run **while `recv` is being
//! called**, through read timeouts on the stream ([`Transport::set_read_timeout`]). Streams
//! that cannot time reads out ([`AnyStream`]) block until bytes arrive, so their timers only run
//! then, and the handshake is not bounded in time. [`WebSocket::set_read_timeout`] and
//! [`WebSocket::set_write_timeout`] bound single calls; a timed-out call loses nothing and can
//! be repeated ([`Error::is_timeout`]).
//!
//! ## Backpressure
//!
//! `send` and `send_*` block until the message is written. [`feed`](WebSocket::feed) queues
//! it and blocks only while more than `Config::write_buffer_high_water` bytes (1 MiB by
//! default) are queued, so memory stays bounded when the peer stops reading and bursts of small
//! messages leave in few writes; [`flush`](WebSocket::flush) or the next `recv` write the rest.
//!
//! ## Errors
//!
//! [`Error`] separates IO ([`Error::Io`]), the peer's protocol and limit violations
//! ([`Error::Protocol`], with [`close_code`](Error::close_code)), handshake failures
//! ([`Error::Handshake`], with the HTTP [`status`](Error::status)), TLS ([`Error::Tls`]) and
//! our own misuse ([`Error::Usage`]). A clean close is never an error: `recv` returns `None`.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod client;
mod io;
mod pump;
mod send;
mod server;
pub mod split;
mod stream;
#[cfg(feature = "tls")]
pub mod tls;
mod transport;
mod upgrade;
mod websocket;

pub use client::{ClientSocket, ClientTlsConfig, client, connect, connect_with};
pub use server::{accept, accept_with};
pub use split::{ReadHalf, ReuniteError, SplitStream, WriteHalf, reunite};
pub use stream::MaybeTlsStream;
pub use transport::{AnyStream, Transport};
pub use websocket::WebSocket;
pub use ws_common::Error;

pub use ws_proto;
pub use ws_proto::deflate::{self, DeflateConfig};
pub use ws_proto::handshake::{
    self, Accept, ClientRequest, HandshakeError, Rejection, Request, Response,
};
pub use ws_proto::{
    Bytes, CloseCause, CloseCode, CloseFrame, CloseInfo, Compression, Config, Connection, Event,
    Initiator, MemoryBudget, Message, MessageKind, Payload, PreparedFrame, Role, State,
    TextPayload, UsageError, Utf8Bytes,
};

#[cfg(feature = "tls")]
pub use rustls;
