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
//! * [`handshake`]: the opening handshake, client and server: drivers, parsers and builders.
//! * [`Connection`]: everything after the handshake, the transport's end included.
//! * [`MessageAssembler`]: optional, joins fragments into whole [`Message`]s.
//! * [`MemoryBudget`]: optional, bounds what all the connections of a server hold, summed.
//!
//! ## The run loop
//!
//! After **every** input or command, drain the outputs in this order: events, bytes to send,
//! then what to do with the transport, then the next deadline. Here is a complete exchange
//! between a client and a server, with the "network" being two in-memory buffers:
//!
//! ```
//! use std::time::Instant;
//! use ws_proto::handshake::{Accept, ClientHandshake, ClientRequest, Handshake, ServerHandshake};
//! use ws_proto::{Config, Event, Message, MessageAssembler, Transport};
//!
//! let now = Instant::now();
//!
//! // Opening handshake: each driver says what to write and what it needs next.
//! let mut client_hs = ClientHandshake::new(ClientRequest::new("localhost", "/"), Config::default(), now)?;
//! let mut server_hs = ServerHandshake::new(Config::default(), now);
//! server_hs.handle_data(now, client_hs.transmit());
//! server_hs.accept(now, Accept::new()); // after looking at server_hs.request()
//! client_hs.handle_data(now, server_hs.transmit());
//! let n = server_hs.transmit().len();
//! server_hs.advance_transmit(n);
//! let (mut client, _response) = client_hs.finish()?;
//! let (mut server, _request) = server_hs.finish()?;
//!
//! // A command, then drain: write what the client queued into the server.
//! client.send_text("hello")?;
//! while let Some(bytes) = client.poll_transmit() {
//!     server.handle_data(now, &bytes);
//! }
//! // The server's loop: events first, then echo.
//! let mut assembler = MessageAssembler::new();
//! while let Some(event) = server.poll_event() {
//!     if let Some(Message::Text(text)) = assembler.push(event) {
//!         assert_eq!(text, "hello");
//!         server.send_text(text)?;
//!     }
//! }
//! assert!(server.poll_transmit().is_some());
//! assert_eq!(server.transport(), Transport::Open);
//! // With no timer configured, the only deadline is giving the idle buffers back.
//! assert_eq!(server.poll_timeout(), Some(now + Config::default().release_buffers_after.unwrap()));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A real adapter's loop, in outline (`examples/echo_server.rs` is a complete one):
//!
//! ```text
//! loop {
//!     while let Some(ev) = conn.poll_event() { deliver(ev) }     // Event::Closed comes last
//!     write_vectored(conn.transmit_chunks()); conn.advance_transmit(written);
//!     match conn.transport() {
//!         Transport::Close => { close the socket; break }
//!         Transport::Shutdown if all written => { shutdown(Write); conn.handle_write_shutdown(now) }
//!         _ => {}
//!     }
//!     select {
//!         n = socket.read(conn.recv_buf()) => match n { Ok(0) => conn.handle_eof(now),
//!                                                        Ok(n) => conn.commit(now, n),
//!                                                        Err(_) => conn.handle_transport_error(now) }
//!         _ = sleep_until(conn.poll_timeout()) => conn.handle_timeout(now),
//!         cmd = app.recv() => conn.send_text(cmd)?,
//!     }
//! }
//! ```
//!
//! ## In your own event loop
//!
//! `examples/mio_server.rs` is one thread serving thousands of connections on `mio`, written
//! as a tutorial; its test runs 500 connections, and Autobahn checks it as an agent. What a
//! loop of your own needs:
//!
//! * **Readiness IO** (epoll, kqueue, mio): read into [`Connection::recv_buf`], then
//!   [`Connection::commit`] (or, where the read can fill uninitialized memory safely, as
//!   tokio's `read_buf` does, through [`Connection::recv_into`]: no zero-fill of the room);
//!   write with one vectored write from
//!   [`Connection::transmit_io_slices`] (fills a caller's `IoSlice` array, allocates nothing),
//!   then [`Connection::advance_transmit`].
//! * **Completion IO** (io_uring, IOCP), where the kernel owns a buffer until the read
//!   completes: hand the filled buffer over with [`Connection::handle_bytes`] (it becomes the
//!   receive buffer; payloads are slices of it), or, inside a large frame
//!   ([`Connection::recv_frame_missing`]), read straight into the connection's buffer: take its
//!   room with [`Connection::take_recv_room`], submit the read into it, and give it back
//!   with [`Connection::give_recv_room`] once it completed; take the output owned with
//!   [`Connection::poll_transmit`] (shared `Bytes`, no copy of payloads) to keep it alive
//!   across the write's submission.
//! * **Messages where they lie**: a loop that reads into a buffer of its own (a stack array,
//!   an io_uring provided buffer) can hand it to [`Connection::handle_data_with`], which
//!   calls back with every event as it arises ([`EventRef`]), with the connection to answer
//!   on: a data frame that lies whole in the buffer is unmasked in place and handed out as a
//!   slice of it (no copy, allocation or reference count per message); everything else goes
//!   through the connection's buffer as with `handle_data`.
//! * **Deadlines of many connections in one timer heap or wheel**: after draining a
//!   connection, compare its [`Connection::poll_timeout`] with the entry it has in the heap.
//!   Most changes push the deadline later (every input moves the idle and buffer-release
//!   deadlines): keep the earlier entry, and when it fires call
//!   [`Connection::handle_timeout`] (calling it early is harmless) and re-arm. Push a new
//!   entry only for an earlier deadline, tagged with a generation number the connection
//!   remembers, so entries it superseded (or those of a closed connection whose slot was
//!   reused) are recognized and skipped in O(1) when they reach the top. The heap then holds
//!   about one entry per connection, whatever the traffic.
//!
//! ## One contract for every loop
//!
//! * **A failure is reported once, in order.** A peer's protocol violation or exceeded limit
//!   never comes back from `handle_data`: it takes effect after the events that arrived before
//!   it have been taken (so their replies go out first), queues the Close with the right code,
//!   and is reported by the last event, [`Event::Closed`], through [`CloseInfo::error`].
//! * **The core owns the transport's end.** When to shut the write side down, how long to wait
//!   for the peer's end of stream and when to give up on a peer that does not read are values:
//!   [`Connection::transport`] and [`Connection::poll_timeout`]. An adapter that does what they
//!   say has, by the time `Event::Closed` comes out, written our Close (or given up after
//!   `close_timeout`) and shut the write side down.
//! * **The handshake too**: [`handshake::ServerHandshake`] and [`handshake::ClientHandshake`]
//!   own the opening handshake's deadline, refusals and drain.
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

pub mod budget;
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

pub use budget::{DEFAULT_FLOOR, MemoryBudget};
pub use close::{CloseCode, CloseFrame};
pub use config::{Config, Role};
pub use connection::{Connection, State, TransmitChunks, Transport};
pub use error::{CapacityError, Error, ProtocolError, UsageError};
pub use event::{CloseCause, CloseInfo, Event, EventRef, Initiator};
pub use message::{
    Compression, Message, MessageAssembler, MessageKind, Payload, TextPayload, Utf8Bytes,
};
pub use prepared::PreparedFrame;
