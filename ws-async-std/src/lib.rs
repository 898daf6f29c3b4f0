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
//! Under async-std the same code runs with `async_std::task::block_on`, `async_std::task::spawn`
//! and `async_std::net::TcpListener`; its `TcpStream` works with [`accept`] and [`client`]
//! directly. One caveat: its `AsyncWrite::poll_close` only flushes and does not shut the socket
//! down, so the FIN goes out when the [`WebSocket`] is dropped rather than when `recv` returns
//! `None`. For the shutdown at the right moment use [`TcpStream`] (`async_net`'s, the type smol
//! uses, which runs under async-std's executor too).
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
//! Each `poll` reads straight into the core's buffer (`recv_buf` + `commit`), takes the events,
//! writes what the core queued with vectored writes (`transmit_chunks` + `advance_transmit`),
//! sleeps until `poll_timeout`, and closes the transport gracefully (shutdown, then a bounded
//! drain) when the core says so. There is no protocol logic here: framing, masking, UTF-8,
//! limits, the closing handshake and the timers' meaning all live in `ws-proto`.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod api;
mod connect;
mod driver;
mod error;
mod io;
mod split;
#[cfg(feature = "tls")]
pub mod tls;
mod upgrade;
mod websocket;

pub use connect::{
    ClientSocket, ClientTlsConfig, MaybeTlsStream, TcpStream, connect, connect_with,
};
pub use error::Error;
pub use split::{ReadHalf, ReuniteError, WriteHalf, reunite};
pub use upgrade::{accept, accept_with, client};
pub use websocket::WebSocket;

pub use ws_proto::deflate::{self, DeflateConfig};
pub use ws_proto::handshake::{
    self, Accept, ClientRequest, HandshakeError, HandshakeLimits, Rejection, Request, Response,
};
pub use ws_proto::{
    Bytes, CloseCause, CloseCode, CloseFrame, CloseInfo, Compression, Config, Connection, Event,
    Initiator, Message, MessageKind, Payload, PreparedFrame, Role, State, TextPayload, Utf8Bytes,
};
