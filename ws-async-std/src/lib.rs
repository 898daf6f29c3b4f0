//! # ws-async-std: WebSocket for smol, async-std and any `futures-io` runtime
//!
//! A thin adapter that drives the sans-IO [`ws_proto`] state machine (RFC 6455) over any stream
//! implementing `futures_io::AsyncRead + AsyncWrite`. It is not tied to one runtime: timers and
//! sockets come from `async-io`/`async-net` (smol's reactor, which runs its own thread when
//! nothing else drives it), so the same code runs under **smol**, **async-std** or any other
//! executor.
//!
//! **async-std is discontinued upstream** (its maintainers point users to smol). This crate keeps
//! working with it, but new code should use **smol**: the API is the same, only the
//! `block_on`/`spawn` and socket types change.
//!
//! ```
//! use ws_async_std::{CloseCode, Message, accept, connect};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! smol::block_on(async {
//!     let listener = smol::net::TcpListener::bind("127.0.0.1:0").await?;
//!     let url = format!("ws://{}/", listener.local_addr()?);
//!
//!     // A server task echoing every text and binary message.
//!     let server = smol::spawn(async move {
//!         let (tcp, _) = listener.accept().await?;
//!         let mut ws = accept(tcp).await?;
//!         while let Some(message) = ws.recv().await {
//!             match message? {
//!                 Message::Text(text) => ws.send_text(text).await?,
//!                 Message::Binary(data) => ws.send_binary(data).await?,
//!                 _ => {} // Pings are answered and Close frames replied to automatically
//!             }
//!         }
//!         Ok::<_, ws_async_std::Error>(())
//!     });
//!
//!     let (mut ws, _response) = connect(&url).await?;
//!     ws.send_text("hello").await?;
//!     assert_eq!(ws.recv().await.transpose()?, Some(Message::text("hello")));
//!
//!     ws.close(CloseCode::NORMAL, "done").await?;
//!     // The server's Close comes back, then the end of the stream.
//!     assert!(matches!(ws.recv().await.transpose()?, Some(Message::Close(Some(_)))));
//!     assert!(ws.recv().await.is_none());
//!     server.await?;
//!     Ok(())
//! })
//! # }
//! ```
//!
//! Under async-std the same code runs with `async_std::task::block_on` and
//! `async_std::task::spawn`. Use [`TcpListener`] and [`TcpStream`] (`async_net`'s, the types
//! smol uses, which run under async-std's executor too) for the sockets: async-std's own
//! `TcpStream` cannot half-close (its `AsyncWrite::poll_close` only flushes), so the FIN that
//! ends a closing handshake would wait until the socket is dropped, and a failed connection
//! would wait out `close_timeout` for a peer that is itself waiting for that FIN. An
//! async-std stream converts without a copy:
//! `ws_async_std::TcpStream::try_from(std::net::TcpStream::try_from(stream)?)`.
//!
//! ## What it offers
//!
//! * Client: [`connect`] / [`connect_with`] (`ws://` and `wss://`), or [`client`] over any
//!   connected stream. Server: [`accept`] / [`accept_with`] (inspect the request, pick a
//!   subprotocol, or refuse with a [`Rejection`]); TLS helpers in [`tls`] (feature `tls`, on by
//!   default: rustls with the `ring` provider).
//! * [`WebSocket`]: [`recv`](WebSocket::recv) (**cancel-safe**), a `futures_core::Stream` of
//!   messages and a `futures_sink::Sink<Message>`; fragment-level streaming with
//!   [`recv_event`](WebSocket::recv_event); [`split`](WebSocket::split) into owned halves for two
//!   tasks.
//! * Backpressure: sends wait while more than `Config::write_buffer_high_water` bytes are queued.
//! * Timers from [`Config`] (keepalive Ping, Pong timeout, idle timeout, close timeout) run
//!   while the connection is being received from.
//! * Errors by fault ([`Error`]); a clean close is `None`, never an error. Peer errors are
//!   answered with the right close code before they are reported.
//!
//! ## How it works
//!
//! This crate is the futures-io binding of `ws-common`'s async driver, the same driver
//! `ws-tokio` runs: each `poll` reads straight into the core's buffer, takes the events, writes
//! what the core queued with vectored writes, sleeps until the core's deadline and carries out
//! what the core says about the transport (shut down, drain, close). There is no protocol logic
//! and no policy here; framing, masking, UTF-8, limits, the closing handshake, the timers and
//! the transport's end all live in `ws-proto`, and every adapter passes the same test kit
//! (`ws-kit`).
//!
//! When `recv` returns a peer's protocol error, the Close frame with its code has been written
//! (or `close_timeout` gave up on a peer that did not read it) and the write side is shut down:
//! stopping at the first `Err` loses nothing.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod connect;
mod server;
#[cfg(feature = "tls")]
pub mod tls;

pub use connect::{
    ClientSocket, ClientTlsConfig, TcpListener, TcpStream, client, connect, connect_with,
};
pub use server::{accept, accept_async, accept_with};
pub use ws_common::Error;
pub use ws_common::aio::ReuniteError;
pub use ws_common::rt::FuturesIo;

/// A WebSocket connection over a futures-io transport `S`, after the opening handshake:
/// `ws-common`'s driver on the futures-io binding. See [`ws_common::aio::WebSocket`] for every
/// method.
pub type WebSocket<S> = ws_common::aio::WebSocket<S, FuturesIo>;

/// The receiving half of a split [`WebSocket`].
pub type ReadHalf<S> = ws_common::aio::ReadHalf<S, FuturesIo>;

/// The sending half of a split [`WebSocket`].
pub type WriteHalf<S> = ws_common::aio::WriteHalf<S, FuturesIo>;

/// Puts the halves of one [`WebSocket`] back together.
pub fn reunite<S>(
    read: ReadHalf<S>,
    write: WriteHalf<S>,
) -> Result<WebSocket<S>, ReuniteError<S, FuturesIo>> {
    ws_common::aio::reunite(read, write)
}

/// A stream that is either plain or wrapped in TLS, as [`connect`] returns for `ws://` and
/// `wss://` URLs.
#[cfg(feature = "tls")]
pub type MaybeTlsStream<S> = ws_common::MaybeTls<S, futures_rustls::client::TlsStream<S>>;

/// A stream that is either plain or wrapped in TLS, as [`connect`] returns. (Built without the
/// `tls` feature: always plain.)
#[cfg(not(feature = "tls"))]
pub type MaybeTlsStream<S> = ws_common::MaybeTls<S, ws_common::NoTls>;

pub use ws_proto::deflate::{self, DeflateConfig};
pub use ws_proto::handshake::{
    self, Accept, ClientRequest, HandshakeError, HandshakeLimits, Rejection, Request, Response,
};
pub use ws_proto::{
    Bytes, CloseCause, CloseCode, CloseFrame, CloseInfo, Compression, Config, Connection, Event,
    Initiator, MemoryBudget, Message, MessageKind, Payload, PreparedFrame, Role, State,
    TextPayload, Transport, Utf8Bytes,
};
