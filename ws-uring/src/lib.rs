//! # ws-uring: an io_uring WebSocket server (and client) on the ws-proto core
//!
//! A WebSocket server and client for Linux whose sockets are driven through io_uring, and whose
//! protocol is [`ws_proto`]'s sans-IO core, unchanged: the same handshake driver, the same
//! [`Connection`](ws_proto::Connection), the same policy on closing and failing as every other
//! adapter of this workspace. Only the IO differs.
//!
//! ```no_run
//! use ws_uring::{Config, Conn, Handler, Message, Server};
//!
//! #[derive(Clone)]
//! struct Echo;
//!
//! impl Handler for Echo {
//!     fn on_message(&mut self, conn: &mut Conn<'_>, message: Message) {
//!         if let Message::Text(_) | Message::Binary(_) = message {
//!             let _ = conn.send(message);
//!         }
//!     }
//! }
//!
//! let server = Server::bind("127.0.0.1:9001")?.threads(2).config(Config::default());
//! println!("listening on ws://{}", server.local_addr()?);
//! server.run(Echo)?;
//! # Ok::<(), ws_uring::Error>(())
//! ```
//!
//! ## How it runs
//!
//! * **Thread per core**, each with its own ring and its own listener on the same address
//!   (`SO_REUSEPORT`): the kernel spreads new connections across the listeners, so a thread
//!   only ever wakes for its own sockets, and no connection is handed between threads. (One
//!   shared listener would wake every thread's accept for each connection and need a
//!   cross-thread handoff; the price of `SO_REUSEPORT` is that a busy thread's waiting
//!   connections are not taken by an idle one.)
//! * **Multishot accept** on each listener, and **multishot receive** into a ring of
//!   provided buffers (one submission per connection delivers every read). The kernel's
//!   support is detected at start, not assumed: where multishot receive is missing (before
//!   Linux 6.0) each read is a single-shot receive from the same buffers.
//! * Received bytes are fed to the core with `handle_data` and the buffer goes back to the
//!   kernel at once (a copy into the connection's buffer, where the payloads are unmasked in
//!   place and handed out as `Bytes`): cheap for small messages, and an idle connection holds
//!   no receive buffer.
//! * **Large frames are read in place**: once the core says a frame still misses 16 KiB or
//!   more ([`recv_frame_missing`](ws_proto::Connection::recv_frame_missing)), the multishot
//!   receive is cancelled and, after its last completion (so bytes stay in order), the rest
//!   of the frame is read by single-shot receives straight into the connection's receive
//!   buffer ([`take_recv_room`](ws_proto::Connection::take_recv_room), given back with
//!   [`give_recv_room`](ws_proto::Connection::give_recv_room) when the read completes): no
//!   copy of ours, and the core's room rule (growing with what arrived, then the rest in one
//!   step) and memory budget apply as for every adapter. The room is owned by the ring while
//!   the read is in flight, whatever happens to the connection meanwhile (reset, timeout,
//!   close): it is dropped only after the read's completion. Then the provided buffers take
//!   over again, with a single-shot receive first (large messages tend to follow large
//!   messages, and a multishot receive would take all of the next one that is there into the
//!   provided buffers, a copy, before its first completion shows the frame is large).
//! * **Sends are batched per loop turn across connections**: every connection that queued
//!   output during a turn gets one send operation (vectored when the core queued several
//!   chunks), and all of them go to the kernel with the turn's single `io_uring_enter`.
//! * **Timers**: the core's [`poll_timeout`](ws_proto::Connection::poll_timeout) of every
//!   connection goes into one heap per thread; one timeout operation on the ring wakes the
//!   loop for the earliest deadline. No syscall per connection.
//! * The transport's end follows the core's [`Transport`](ws_proto::Transport): write the
//!   rest, shut the write side down, drain, close, give up at the deadline: through ring
//!   operations (`shutdown`, `close`; the close once every other operation on the socket has
//!   completed, since they name it by descriptor number).
//!
//! ## Why the `io-uring` crate
//!
//! [`io-uring`](https://docs.rs/io-uring) (tokio-rs) is the maintained, low-level binding:
//! typed submission entries for every opcode this server needs (multishot accept and receive,
//! provided buffer rings, `shutdown`, `close`, timeouts, cancellation), with no runtime and no
//! allocation of its own. Higher-level crates (tokio-uring, monoio, glommio) bring an executor
//! and own the buffers, which is exactly what a loop around a sans-IO core does not want.
//!
//! ## Safety
//!
//! io_uring reads and writes memory after the submitting call returns, so the crate has one
//! module with `unsafe` code (`ring.rs`), which owns every buffer an operation points into
//! until its completion; everything else is safe code.
//!
//! ## Handlers: backpressure and panics
//!
//! Sending only queues, and nothing bounds what a handler queues but the handler: keep
//! [`Conn::buffered`] within `write_buffer_high_water` with [`Conn::has_room`] and
//! [`Handler::on_writable`]. A panic in a handler ends only its connection (closed with 1011);
//! the thread goes on serving the others. See [`Handler`].
//!
//! ## The client
//!
//! [`Client`] runs outgoing connections on one ring on the calling thread, with the same
//! [`Handler`] API: a load generator, a service fanning out to many upstream WebSockets. It is
//! the server's loop: a connection starts with an io_uring `connect` and ws-proto's client
//! handshake (bounded by `Config::handshake_timeout` through the timer heap), and from the
//! `101` on it is driven exactly as an accepted connection. A connection that never opens
//! reaches [`Handler::on_connect_failed`]. No TLS: `wss://` is refused with
//! [`Error::TlsUnsupported`]. See [`Client`] for what it does and does not do.
//!
//! ## Serving on the application's listener
//!
//! [`Server::from_listener`] takes a bound `std::net::TcpListener` (socket activation, a port
//! chosen elsewhere) and serves on it with one thread, or several accepting on that socket.
//!
//! ## Where io_uring is unavailable
//!
//! On other systems, on kernels before 5.19, with io_uring disabled or refused by a seccomp
//! filter, [`Server::start`] fails with [`Error::Unsupported`], whose message says so.

#![warn(missing_docs)]

mod client;
mod error;
#[cfg(target_os = "linux")]
mod ring;
mod server;
#[cfg(target_os = "linux")]
mod slot;
#[cfg(target_os = "linux")]
mod worker;

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::mpsc::Sender;

pub use client::Client;
pub use error::Error;
pub use server::{Conn, ConnId, Handler, Running, Server};
pub use ws_proto::handshake::{Accept, ClientRequest, HandshakeError, Rejection, Request};
pub use ws_proto::{CloseCause, CloseCode, CloseInfo, Config, MemoryBudget, Message};

/// What a worker thread starts with.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub(crate) struct WorkerSetup {
    pub(crate) listener: TcpListener,
    pub(crate) config: Config,
    /// Multishot receive allowed (used where the kernel has it).
    pub(crate) multishot: bool,
    pub(crate) stats: Arc<server::Stats>,
    /// Readable once the server is told to stop.
    pub(crate) stop: Arc<StopRx>,
    pub(crate) ready: Sender<Result<(), Error>>,
}

/// The stop signal: one end is written to, every thread's ring polls the other (readable
/// from then on, so all of them see it).
#[cfg(target_os = "linux")]
pub(crate) type StopTx = std::os::unix::net::UnixStream;
#[cfg(target_os = "linux")]
pub(crate) type StopRx = std::os::unix::net::UnixStream;
/// No threads run where io_uring does not exist: nothing to signal.
#[cfg(not(target_os = "linux"))]
#[derive(Debug)]
pub(crate) struct StopTx;
#[cfg(not(target_os = "linux"))]
pub(crate) type StopRx = ();

#[cfg(target_os = "linux")]
pub(crate) fn stop_pair() -> std::io::Result<(StopTx, StopRx)> {
    std::os::unix::net::UnixStream::pair()
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn stop_pair() -> std::io::Result<(StopTx, StopRx)> {
    Ok((StopTx, ()))
}

/// Makes the stop signal readable.
pub(crate) fn signal_stop(tx: &mut StopTx) {
    #[cfg(target_os = "linux")]
    {
        use std::io::Write;
        let _ = tx.write_all(b"x");
    }
    #[cfg(not(target_os = "linux"))]
    let _ = tx;
}

/// A listener with `SO_REUSEPORT`, so every thread can have its own on the same address.
pub(crate) fn listen(addr: SocketAddr) -> Result<TcpListener, Error> {
    #[cfg(target_os = "linux")]
    {
        use socket2::{Domain, Socket, Type};
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
        socket.set_reuse_address(true)?;
        socket.set_reuse_port(true)?;
        socket.bind(&addr.into())?;
        socket.listen(1024)?;
        Ok(socket.into())
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = addr;
        Err(unsupported())
    }
}

#[cfg(target_os = "linux")]
pub(crate) fn run_worker<H: Handler>(setup: WorkerSetup, handler: H) -> Result<(), Error> {
    worker::run(setup, handler)
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn run_worker<H: Handler>(setup: WorkerSetup, handler: H) -> Result<(), Error> {
    let _ = (handler, setup.ready.send(Err(unsupported())));
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn unsupported() -> Error {
    Error::Unsupported { reason: "io_uring exists on Linux only".to_owned(), source: None }
}
