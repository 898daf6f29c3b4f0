//! # ws-tokio: WebSockets for tokio, driven by the `ws-proto` state machine
//!
//! A thin tokio adapter around [`ws_proto::Connection`]: it reads bytes from any
//! [`AsyncRead`](tokio::io::AsyncRead) + [`AsyncWrite`](tokio::io::AsyncWrite) transport into
//! the protocol core, writes what the core queues with vectored writes, sleeps until the
//! core's next deadline, and closes the transport when the core says so. All of RFC 6455
//! (framing, masking, UTF-8 validation, fragmentation, automatic pongs, the closing handshake,
//! keepalive and timeouts) lives in `ws-proto`.
//!
//! * Clients: [`connect`] (`ws://` and `wss://`), [`connect_with`] (headers, subprotocols,
//!   config, custom TLS), [`client`] over a transport you connected yourself.
//! * Servers: [`accept`], [`accept_with`] (inspect the request, pick a subprotocol or reject),
//!   [`accept_async`] (decide asynchronously, e.g. after a database lookup), [`tls::accept`]
//!   for `wss://`.
//! * [`WebSocket`]: `recv`/`send`/`close`, `Stream` +
//!   `Sink`, [`split`](WebSocket::split) into halves for two tasks.
//!
//! ```
//! use ws_tokio::{CloseCode, Message};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), ws_tokio::Error> {
//! // An echo server on an ephemeral loopback port.
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let addr = listener.local_addr()?;
//! tokio::spawn(async move {
//!     let (tcp, _) = listener.accept().await?;
//!     let mut ws = ws_tokio::accept(tcp).await?;
//!     while let Some(message) = ws.recv().await {
//!         let message = message?;
//!         if message.is_data() {
//!             ws.send(message).await?;
//!         }
//!     }
//!     Ok::<_, ws_tokio::Error>(())
//! });
//!
//! // A client.
//! let (mut ws, _response) = ws_tokio::connect(&format!("ws://{addr}/")).await?;
//! ws.send_text("hello").await?;
//! assert_eq!(ws.recv().await.transpose()?, Some(Message::text("hello")));
//!
//! // Close: send ours, then receive until the end to see the reply.
//! ws.close(CloseCode::NORMAL, "done").await?;
//! while let Some(message) = ws.recv().await {
//!     println!("{:?}", message?); // Message::Close(Some(1000))
//! }
//! assert!(ws.close_info().is_some_and(|info| info.clean));
//! # Ok(())
//! # }
//! ```
//!
//! ## How it behaves
//!
//! This crate is the tokio binding of `ws-common`'s async driver; every adapter of this
//! workspace behaves the same way, because the behaviour is written once (in `ws-proto` and
//! `ws-common`) and tested once, through every adapter (the `ws-kit` crate).
//!
//! * **Stopping at the first `Err` loses nothing.** When `recv` returns a peer's protocol
//!   error ([`Error::Protocol`]), the Close frame with its code has been written (or
//!   `close_timeout` gave up on a peer that did not read it) and the write side is shut down.
//! * **Cancel-safe receive.** [`WebSocket::recv`] keeps all state in the socket; dropping the
//!   future (in `tokio::select!`) loses nothing.
//! * **Receive drives the connection.** Automatic pongs, close replies, keepalive pings, the
//!   pong/idle/close timeouts of [`Config`] and the transport's end happen while `recv` (or the
//!   stream, or the read half) is polled. Keep receiving, even in a sending-only application.
//! * **Backpressure.** `send*` return once the bytes are written to the transport;
//!   [`feed`](WebSocket::feed) and the `Sink` queue and wait only above
//!   [`Config::write_buffer_high_water`]. Receiving stops taking input while more than that
//!   is queued, so a peer that never reads cannot make memory grow.
//! * **Errors.** A clean close, and a peer that vanished, end with `None`, never an error;
//!   see [`Error`] for the rest.
//! * **Memory.** Reads at a frame boundary go through a stack buffer; a connection that has
//!   received nothing for `Config::release_buffers_after` holds no buffers.
//!
//! ## Features
//!
//! * `tls` (default): `wss://` through tokio-rustls with the `ring` provider; the [`tls`]
//!   module.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod client;
mod server;
#[cfg(feature = "tls")]
pub mod tls;

pub use client::{ClientSocket, ClientTlsConfig, client, connect, connect_with};
pub use server::{accept, accept_async, accept_with};
pub use ws_common::Error;
pub use ws_common::rt::Tokio;

/// A WebSocket connection over a tokio transport `S` (a `TcpStream`, a TLS stream, …), after
/// the opening handshake: `ws-common`'s driver on the tokio binding. See
/// [`ws_common::aio::WebSocket`] for every method.
pub type WebSocket<S> = ws_common::aio::WebSocket<S, Tokio>;

/// The receiving half of a split [`WebSocket`].
pub type ReadHalf<S> = ws_common::aio::ReadHalf<S, Tokio>;

/// The sending half of a split [`WebSocket`].
pub type WriteHalf<S> = ws_common::aio::WriteHalf<S, Tokio>;

pub use ws_common::aio::ReuniteError;

/// Puts the halves of one [`WebSocket`] back together.
pub fn reunite<S>(
    read: ReadHalf<S>,
    write: WriteHalf<S>,
) -> Result<WebSocket<S>, ReuniteError<S, Tokio>> {
    ws_common::aio::reunite(read, write)
}

/// A transport that is either plain (`ws://`) or TLS (`wss://`), as [`connect`] returns.
#[cfg(feature = "tls")]
pub type MaybeTlsStream<S> = ws_common::MaybeTls<S, tokio_rustls::client::TlsStream<S>>;

/// A transport that is either plain (`ws://`) or TLS (`wss://`), as [`connect`] returns.
/// (Built without the `tls` feature: always plain.)
#[cfg(not(feature = "tls"))]
pub type MaybeTlsStream<S> = ws_common::MaybeTls<S, ws_common::NoTls>;

pub use ws_proto::deflate::{self, DeflateConfig};
pub use ws_proto::handshake::{self, Accept, ClientRequest, Rejection, Request, Response};
pub use ws_proto::{
    Bytes, CloseCode, CloseFrame, CloseInfo, Compression, Config, Connection, Event, MemoryBudget,
    Message, MessageKind, Payload, PreparedFrame, Role, State, TextPayload, Transport, Utf8Bytes,
};
