//! # ws-proto: the WebSocket protocol as a pure state machine
//!
//! `ws-proto` implements RFC 6455 with no IO at all: no sockets, no clock, no threads, no async
//! runtime. Bytes and the current time go in; events, bytes to send and the next deadline come
//! out. Tokio, futures-io (async-std, smol), blocking sockets, a hand-written epoll or io_uring
//! loop, a test harness and a fuzzer all drive the same code.
//!
//! ```text
//!             bytes in ──► ┌──────────────────────────────┐ ──► events (data frames, Ping, Pong,
//!   now: Instant ────────► │   ws_proto::Connection       │         CloseReceived, Closed)
//!   app commands ────────► │ (frames, masking, UTF-8,     │ ──► bytes to send (poll_transmit)
//!   (send, ping, close)    │  fragments, close, timers)   │ ──► next deadline (poll_timeout)
//!                          └──────────────────────────────┘
//! ```
//!
//! * [`handshake`]: the opening handshake, client and server, as pure parsers and builders.
//! * [`Connection`]: everything after the handshake.
//! * [`MessageAssembler`]: optional, joins fragments into whole [`Message`]s.
//!
//! ## The run loop
//!
//! After **every** input or command, drain the outputs in this order: events, bytes to send,
//! the next deadline, and whether to close the transport. Here is a complete exchange between a
//! client and a server, with the "network" being two in-memory buffers:
//!
//! ```
//! use std::time::Instant;
//! use ws_proto::{Config, Connection, Event, Message, MessageAssembler, Role};
//! use ws_proto::handshake::{Accept, ClientRequest, RequestParser};
//! use ws_proto::rng::ChaChaRandom;
//!
//! let now = Instant::now();
//! let mut rng = ChaChaRandom::from_os();
//!
//! // Opening handshake.
//! let (request, mut client_hs) = ClientRequest::new("localhost", "/").build(&mut rng).unwrap();
//! let mut parser = RequestParser::new(Default::default());
//! let req = parser.feed(&request).unwrap().expect("complete request");
//! let response = req.accept(&Accept::new()).unwrap();
//! client_hs.feed(&response).unwrap().expect("accepted");
//!
//! let mut client = Connection::new(Role::Client, Config::default(), now);
//! let mut server = Connection::new(Role::Server, Config::default(), now);
//!
//! // A command, then drain: write what the client queued into the server.
//! client.send_text("hello").unwrap();
//! while let Some(bytes) = client.poll_transmit() {
//!     server.handle_data(now, &bytes).unwrap();
//! }
//! // The server's loop: events first, then echo.
//! let mut assembler = MessageAssembler::new(server.config().max_message_size);
//! while let Some(event) = server.poll_event() {
//!     if let Some(Message::Text(text)) = assembler.push(event).unwrap() {
//!         assert_eq!(text, "hello");
//!         server.send_text(text).unwrap();
//!     }
//! }
//! assert_eq!(server.poll_timeout(), None); // no timers configured
//! assert!(server.poll_transmit().is_some());
//! ```
//!
//! A real adapter's loop, in outline:
//!
//! ```text
//! loop {
//!     while let Some(ev) = conn.poll_event() { deliver(ev) }
//!     write_all_vectored(conn.transmit_chunks()); conn.advance_transmit(written);
//!     if conn.should_close_transport() && conn.transmit_len() == 0 { close socket; break }
//!     select {
//!         n = socket.read(conn.recv_buf()) => if n == 0 { conn.handle_eof(now) }
//!                                             else { conn.commit(now, n)? }
//!         _ = sleep_until(conn.poll_timeout()) => conn.handle_timeout(now),
//!         cmd = app.recv() => conn.send_text(cmd)?,
//!     }
//! }
//! ```
//!
//! ## Guarantees
//!
//! * **Strict**: every RFC 6455 rule a peer can break fails the connection with the right close
//!   code ([`ProtocolError::close_code`]); text is validated incrementally and fails at the
//!   first bad byte, even mid-frame.
//! * **Bounded**: frame, message and handshake sizes are limited by default ([`Config`],
//!   [`handshake::HandshakeLimits`]); oversize input is refused when its header arrives.
//! * **Chunking-independent**: events and output do not depend on how input was split.
//! * **No panics** on any input from the network; no `unsafe` code.
//! * **Zero-copy receive**: payloads are `Bytes` slices of the receive buffer, unmasked in place.
//!
//! Randomness for client mask keys is injected ([`Connection::with_rng`]); the default is
//! ChaCha12 seeded from the operating system.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod close;
mod config;
mod connection;
#[cfg(feature = "deflate")]
pub mod deflate;
pub mod error;
mod event;
pub mod frame;
pub mod handshake;
pub mod mask;
mod message;
mod prepared;
pub mod rng;
pub mod utf8;

pub use bytes::{self, Bytes};

pub use close::{CloseCode, CloseFrame};
pub use config::{Config, Role};
pub use connection::{Connection, State, TransmitChunks};
pub use error::{CapacityError, Error, ProtocolError, UsageError};
pub use event::{CloseCause, CloseInfo, Event, Initiator};
pub use message::{
    Compression, Message, MessageAssembler, MessageKind, Payload, TextPayload, Utf8Bytes,
};
pub use prepared::PreparedFrame;
