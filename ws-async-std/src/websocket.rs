//! [`WebSocket`]: a connection over any `futures-io` stream.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_io::{AsyncRead, AsyncWrite};
use ws_proto::{CloseInfo, Config, Connection, Role, State};

use crate::api::{impl_recv_api, impl_send_api};
use crate::driver::Inner;
use crate::split::{ReadHalf, WriteHalf};

/// A WebSocket connection over a stream `S` (anything `futures_io::AsyncRead + AsyncWrite`:
/// `smol::net::TcpStream`, `async_std::net::TcpStream`, a TLS stream, …), after the opening
/// handshake.
///
/// Obtain one from [`connect`](crate::connect), [`client`](crate::client),
/// [`accept`](crate::accept) / [`accept_with`](crate::accept_with), or
/// [`from_raw`](Self::from_raw) when the HTTP upgrade was done elsewhere.
///
/// * Receive with [`recv`](Self::recv) (cancel-safe) or as a `futures_core::Stream` of
///   messages; [`recv_event`](Self::recv_event) streams fragments.
/// * Send with [`send`](Self::send), [`send_text`](Self::send_text), … or as a
///   `futures_sink::Sink<Message>`; sends wait while more than
///   `Config::write_buffer_high_water` bytes are queued.
/// * Close with [`close`](Self::close), then keep receiving until `None`.
/// * [`split`](Self::split) into a [`ReadHalf`] and a [`WriteHalf`] for two tasks;
///   [`reunite`](crate::reunite) joins them again.
///
/// While a send waits for the peer to read, nothing is read. If both peers may send large
/// volumes at once, receive concurrently ([`split`](Self::split)) so neither waits forever.
#[derive(Debug)]
pub struct WebSocket<S> {
    inner: Inner<S>,
}

impl<S> WebSocket<S> {
    pub(crate) fn from_inner(inner: Inner<S>) -> Self {
        WebSocket { inner }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocket<S> {
    /// A connection over a stream whose opening handshake was performed elsewhere (e.g. an HTTP
    /// server framework that handled the upgrade). Bytes the framework read past the request
    /// must not be lost: prefer frameworks that hand the stream over with none buffered.
    pub fn from_raw(stream: S, role: Role, config: Config) -> Self {
        let conn = Connection::new(role, config, Instant::now());
        WebSocket { inner: Inner::new(stream, conn, None, &[]) }
    }

    fn with<R>(&mut self, f: impl FnOnce(&mut Inner<S>) -> R) -> R {
        f(&mut self.inner)
    }

    /// Splits the connection into a receiving and a sending half, usable from two tasks at once.
    ///
    /// The halves share the connection behind a mutex that is held only for one non-blocking
    /// step at a time, never while waiting. The read half writes the automatic Pongs and Close
    /// replies itself, so they go out even if the write half is idle, and it runs the timers;
    /// the write half's sends never wait for the reader. [`reunite`](crate::reunite) puts them
    /// back together.
    pub fn split(self) -> (ReadHalf<S>, WriteHalf<S>) {
        let shared = Arc::new(Mutex::new(self.inner));
        (ReadHalf::new(shared.clone()), WriteHalf::new(shared))
    }

    /// The subprotocol the handshake selected, if any.
    pub fn protocol(&self) -> Option<&str> {
        self.inner.protocol.as_deref()
    }

    /// How the connection ended, once it has: who closed, both Close frames, whether it was
    /// clean, and the cause (handshake, peer error, end of stream, timeouts).
    pub fn close_info(&self) -> Option<&CloseInfo> {
        self.inner.conn.close_info()
    }

    /// The round-trip time measured by the most recent answered Ping (keepalive Pings, or
    /// Pings sent with [`ping`](Self::ping)).
    pub fn last_rtt(&self) -> Option<Duration> {
        self.inner.conn.last_rtt()
    }

    /// Bytes queued for sending and not yet written to the stream.
    pub fn buffered_amount(&self) -> usize {
        self.inner.conn.transmit_len()
    }

    /// Where the connection is in its life: open, closing (our Close sent) or closed.
    pub fn state(&self) -> State {
        self.inner.conn.state()
    }

    /// The protocol state machine, for inspection.
    pub fn connection(&self) -> &Connection {
        &self.inner.conn
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        self.inner.config()
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &S {
        &self.inner.stream
    }

    /// The underlying stream, mutably. Reading or writing it directly corrupts the connection;
    /// this is for socket options and the like.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner.stream
    }
}

impl_recv_api!(WebSocket);
impl_send_api!(WebSocket);
