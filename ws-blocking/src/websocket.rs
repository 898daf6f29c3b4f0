//! [`WebSocket`]: a connection after the opening handshake, driven by blocking reads and writes.

use std::io;
use std::time::{Duration, Instant};

use ws_proto::{CloseInfo, Config, Connection, Event, Message, Role, State, UsageError};

use crate::Error;
use crate::io::{
    ReadTimeouts, SCRATCH_LEN, end_after_write_error, is_timeout, write_outbox, write_timeout_for,
};
use crate::pump::{Pump, RecvState};
use crate::send::Outgoing;
use crate::transport::Transport;

/// A WebSocket connection over a blocking stream `S`.
///
/// Get one from [`connect`](crate::connect), [`client`](crate::client),
/// [`accept`](crate::accept) or [`accept_with`](crate::accept_with).
///
/// # Receiving
///
/// [`recv`](Self::recv) returns whole messages, Ping and Pong notifications (Pings are answered
/// automatically), the peer's Close, and then `None` once the connection is over and the
/// transport closed. [`recv_event`](Self::recv_event) gives the same stream as frame-level
/// [`Event`]s, for processing huge fragmented messages piece by piece.
///
/// Before waiting for input, `recv` writes out everything queued, so pongs, close replies and
/// keepalive pings leave even when the application only receives. (If a write timeout cuts
/// that short because the peer is not reading, `recv` reads meanwhile and retries next turn.)
///
/// # Timers and timeouts
///
/// The timers of [`Config`] (keepalive ping, pong timeout, idle timeout, close timeout) run
/// **while `recv` is being called**: `recv` sets the stream's read timeout to the next deadline.
/// On a stream without read timeouts ([`AnyStream`](crate::AnyStream)) they only run when bytes
/// arrive. [`set_read_timeout`](Self::set_read_timeout) bounds how long one `recv` call waits;
/// [`set_write_timeout`](Self::set_write_timeout) bounds each write. A timed-out call returns an
/// error for which [`Error::is_timeout`] holds and **loses nothing**: a partly received frame
/// stays buffered and a partly written one resumes where it stopped, so the call can simply be
/// repeated.
///
/// # Sending and backpressure
///
/// [`send`](Self::send) and the `send_*` methods block until the message is written to the
/// stream. [`feed`](Self::feed) queues without waiting, and blocks only while more than
/// `Config::write_buffer_high_water` bytes are queued (memory stays bounded when the peer
/// stops reading); the rest goes out with [`flush`](Self::flush), the next `send*`, or before
/// `recv` waits for input. Use it to batch many small messages into few writes.
///
/// Without a write timeout, a single thread that both sends and receives can deadlock with a
/// peer that does the same while both directions are full; use [`split`](Self::split) to send
/// and receive from two threads.
#[derive(Debug)]
pub struct WebSocket<S> {
    pub(crate) io: Io<S>,
    pub(crate) rx: RecvState,
}

/// The stream and the protocol state of a whole connection.
#[derive(Debug)]
pub(crate) struct Io<S> {
    pub(crate) stream: S,
    pub(crate) conn: Connection,
    pub(crate) timeouts: ReadTimeouts,
    /// The application's write timeout.
    pub(crate) write_timeout: Option<Duration>,
    /// The write timeout last set on the stream (`None`: unknown).
    pub(crate) applied_write: Option<Option<Duration>>,
    /// The transport failure that ended the connection, reported in place of its end.
    io_error: Option<io::Error>,
}

impl<S: Transport> WebSocket<S> {
    /// A connection over a stream whose opening handshake was performed elsewhere (e.g. by an
    /// HTTP server that handled the upgrade itself). Bytes that server read past the request
    /// must not be lost: prefer servers that hand the stream over with none buffered.
    pub fn from_raw(stream: S, role: Role, config: Config) -> Self {
        Self::after_handshake(stream, Connection::new(role, config, Instant::now()))
    }

    /// A connection over `stream` whose handshake is done (by a handshake driver, or by hand
    /// for a stream upgraded elsewhere: feed the connection the bytes read past the request).
    pub fn after_handshake(stream: S, conn: Connection) -> Self {
        WebSocket { io: Io::new(stream, conn, None), rx: RecvState::default() }
    }

    /// The next message: text, binary, a Ping or Pong notification, or the peer's Close.
    ///
    /// `None` once the connection is over and the transport closed, whether the close handshake
    /// completed or the peer vanished ([`close_info`](Self::close_info) tells which). A
    /// protocol error by the peer is returned after the messages that preceded it, once our Close
    /// frame is written and the write side shut down (stopping at this error loses nothing);
    /// `None` follows. A transport failure is [`Error::Io`].
    ///
    /// An error for which [`Error::is_timeout`] holds (the read timeout passed) leaves the
    /// connection intact: call `recv` again. Writing the queue before a read is retried on
    /// every turn when a write timeout cuts it short, so receiving goes on meanwhile.
    pub fn recv(&mut self) -> Option<Result<Message, Error>> {
        self.rx.next_message(&mut self.io)
    }

    /// The next frame-level event: each data frame as it arrives ([`Event::Data`] with `first`
    /// and `fin`), Pings, Pongs, the peer's Close and finally [`Event::Closed`], then `None`.
    ///
    /// Use it to process a large fragmented message fragment by fragment without assembling it.
    /// Do not switch to [`recv`](Self::recv) in the middle of a fragmented message.
    pub fn recv_event(&mut self) -> Option<Result<Event, Error>> {
        self.rx.next_event(&mut self.io)
    }

    /// Bounds how long one [`recv`](Self::recv) call waits for input (`None`, the default:
    /// indefinitely). Timers still fire in between. As with `std`'s `set_read_timeout`, a zero
    /// duration is refused ([`io::ErrorKind::InvalidInput`]).
    pub fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.rx.read_timeout = checked_timeout(timeout)?;
        Ok(())
    }

    /// The read timeout set by [`set_read_timeout`](Self::set_read_timeout).
    pub fn read_timeout(&self) -> Option<Duration> {
        self.rx.read_timeout
    }

    /// Bounds how long each write may block (`None`, the default: indefinitely). Fails if the
    /// stream cannot time writes out ([`io::ErrorKind::Unsupported`]), and, as with `std`, for a
    /// zero duration.
    pub fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        let timeout = checked_timeout(timeout)?;
        let supported = self.io.stream.set_write_timeout(timeout)?;
        self.io.applied_write = Some(timeout);
        if !supported && timeout.is_some() {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "this stream cannot time writes out",
            ));
        }
        self.io.write_timeout = timeout;
        Ok(())
    }

    /// The write timeout set by [`set_write_timeout`](Self::set_write_timeout).
    pub fn write_timeout(&self) -> Option<Duration> {
        self.io.write_timeout
    }
}

impl<S> WebSocket<S> {
    /// The subprotocol agreed in the handshake.
    pub fn protocol(&self) -> Option<&str> {
        self.io.conn.protocol()
    }

    /// How the connection ended, once it has.
    pub fn close_info(&self) -> Option<&CloseInfo> {
        self.io.conn.close_info()
    }

    /// The round-trip time measured by the last answered Ping (keepalive or [`ping`](Self::ping)).
    pub fn last_rtt(&self) -> Option<Duration> {
        self.io.conn.last_rtt()
    }

    /// The connection's configuration.
    pub fn config(&self) -> &Config {
        self.io.conn.config()
    }

    /// Where the connection is in its life (open, closing, closed).
    pub fn state(&self) -> State {
        self.io.conn.state()
    }

    /// The protocol state machine, for inspection.
    pub fn connection(&self) -> &Connection {
        &self.io.conn
    }

    /// Bytes queued but not yet written.
    pub fn buffered_amount(&self) -> usize {
        self.io.conn.transmit_len()
    }

    /// True once the connection is over and its transport closed (`recv` returns `None`).
    pub fn is_closed(&self) -> bool {
        self.rx.is_closed()
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &S {
        &self.io.stream
    }

    /// The underlying stream. Reading or writing it directly corrupts the connection; changing
    /// its options is fine.
    pub fn get_mut(&mut self) -> &mut S {
        self.io.timeouts.forget();
        self.io.applied_write = None;
        &mut self.io.stream
    }
}

impl<S: Transport> Outgoing for WebSocket<S> {
    fn command<R>(
        &mut self,
        f: impl FnOnce(&mut Connection, Instant) -> Result<R, UsageError>,
    ) -> Result<R, Error> {
        Ok(f(&mut self.io.conn, Instant::now())?)
    }

    fn write_down_to(&mut self, keep: usize) -> Result<(), Error> {
        self.io.write_down_to(keep)
    }

    fn high_water(&self) -> usize {
        self.io.conn.config().write_buffer_high_water
    }
}

impl<S: Transport> Io<S> {
    pub(crate) fn new(stream: S, conn: Connection, write_timeout: Option<Duration>) -> Self {
        let timeouts = ReadTimeouts::default();
        Io { stream, conn, timeouts, write_timeout, applied_write: None, io_error: None }
    }

    /// Writes until at most `keep` bytes are queued (then flushes the stream, which pushes out
    /// what a TLS layer buffered). A failure other than a timeout ends the connection, and so
    /// does a timeout while closing.
    fn write_down_to(&mut self, keep: usize) -> Result<(), Error> {
        if keep > 0 && self.conn.transmit_len() <= keep {
            return Ok(());
        }
        let timeout = write_timeout_for(&self.conn, self.write_timeout);
        let result = self.set_write_timeout(timeout).and_then(|()| {
            write_outbox(&mut self.stream, &mut self.conn, keep)?;
            self.stream.flush()
        });
        result.map_err(|e| {
            if !is_timeout(&e) && self.io_error.is_none() && !self.conn.is_finished() {
                self.io_error = Some(io::Error::new(e.kind(), e.to_string()));
            }
            end_after_write_error(&mut self.conn, &e);
            e.into()
        })
    }

    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        if self.applied_write != Some(timeout) {
            self.stream.set_write_timeout(timeout)?;
            self.applied_write = Some(timeout);
        }
        Ok(())
    }
}

impl<S: Transport> Pump for Io<S> {
    fn with_conn<R>(&mut self, f: impl FnOnce(&mut Connection) -> R) -> R {
        f(&mut self.conn)
    }

    fn flush_queued(&mut self) -> Result<(), Error> {
        self.write_down_to(0)
    }

    fn shutdown_write(&mut self) {
        // A failed shutdown changes nothing: the WebSocket is closed either way.
        let _ = self.stream.shutdown_write();
    }

    fn read_once(&mut self, wait: Option<Duration>) -> io::Result<()> {
        self.timeouts.apply(&mut self.stream, wait)?;
        // At a frame boundary through a stack buffer, so an idle connection holds no receive
        // buffer of its own; inside a frame straight into the core's buffer.
        let mut scratch = [0u8; SCRATCH_LEN];
        let at_boundary = self.conn.recv_buffered() == 0;
        let buf = if at_boundary { &mut scratch[..] } else { self.conn.recv_buf() };
        match self.stream.read(buf) {
            Ok(0) => self.conn.handle_eof(Instant::now()),
            Ok(n) if at_boundary => self.conn.handle_data(Instant::now(), &scratch[..n]),
            Ok(n) => self.conn.commit(Instant::now(), n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // A TLS peer that closed TCP without close_notify: most WebSocket peers do.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                self.conn.handle_eof(Instant::now())
            }
            Err(e) if is_timeout(&e) => return Err(e),
            Err(e) => {
                self.io_error.get_or_insert(io::Error::new(e.kind(), e.to_string()));
                self.conn.handle_transport_error(Instant::now());
                return Err(e);
            }
        }
        Ok(())
    }

    fn take_io_error(&mut self) -> Option<io::Error> {
        self.io_error.take()
    }
}

/// A timeout as `std` accepts it: `Some(Duration::ZERO)` is an error, not "no timeout".
pub(crate) fn checked_timeout(timeout: Option<Duration>) -> io::Result<Option<Duration>> {
    match timeout {
        Some(t) if t.is_zero() => {
            Err(io::Error::new(io::ErrorKind::InvalidInput, "cannot set a 0 duration timeout"))
        }
        t => Ok(t),
    }
}
