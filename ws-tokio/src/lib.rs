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
//!   [`tls::accept`] for `wss://`.
//! * [`WebSocket`]: `recv`/`send`/`close`, [`Stream`](futures_core::Stream) +
//!   [`Sink`](futures_sink::Sink), [`split`](WebSocket::split) into halves for two tasks.
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
//! * **Cancel-safe receive.** [`WebSocket::recv`] keeps all state in the socket; dropping
//!   the future (in `tokio::select!`) loses nothing.
//! * **Receive drives the connection.** Automatic pongs, close replies, keepalive pings and
//!   the pong/idle/close timeouts of [`Config`] happen while `recv` (or the stream, or the
//!   read half) is polled. Keep receiving, even in a sending-only application.
//! * **Backpressure.** `send*` return once the bytes are written to the transport;
//!   [`feed`](WebSocket::feed) and the `Sink` queue and wait only above
//!   [`Config::write_buffer_high_water`]. Receiving stops taking input while more than that
//!   is queued, so a peer that never reads cannot make memory grow.
//! * **Errors.** A clean close is `None`, never an error; see [`Error`] for the rest.
//! * **Closing.** Once the core is done, the write side is shut down and unread input is
//!   drained (bounded by `close_timeout`) so the peer gets our Close frame, not a reset.
//! * **Memory.** An idle connection holds no receive buffer: bytes that start a frame are
//!   read into a stack buffer and copied into the core, bytes inside a large frame go straight
//!   into the core's buffer.
//!
//! ## Features
//!
//! * `tls` (default): `wss://` through tokio-rustls with the `ring` provider; the [`tls`]
//!   module.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod api;
mod client;
mod driver;
mod error;
mod server;
mod split;
mod stream;
#[cfg(feature = "tls")]
pub mod tls;
mod websocket;

pub use client::{ClientSocket, ClientTlsConfig, client, connect, connect_with};
pub use error::Error;
pub use server::{accept, accept_with};
pub use split::{ReadHalf, ReuniteError, WriteHalf, reunite};
pub use stream::MaybeTlsStream;
pub use websocket::WebSocket;

pub use ws_proto::deflate::{self, DeflateConfig};
pub use ws_proto::handshake::{self, Accept, ClientRequest, Rejection, Request, Response};
pub use ws_proto::{
    Bytes, CloseCode, CloseFrame, CloseInfo, Compression, Config, Connection, Event, Message,
    MessageKind, Payload, PreparedFrame, Role, State, TextPayload, Utf8Bytes,
};
