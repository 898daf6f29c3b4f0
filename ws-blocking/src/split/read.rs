//! [`ReadHalf`]: receives, runs the timers, writes the frames receiving obliges.

use std::fmt;
use std::io::{self, Read};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ws_proto::{CloseInfo, Config, Connection, Event, Message};

use super::SplitStream;
use super::shared::Shared;
use super::write::WriteHalf;
use crate::Error;
use crate::io::{MIN_WAIT, ReadTimeouts, SCRATCH_LEN, is_timeout};
use crate::pump::{Pump, RecvState};
use crate::websocket::WebSocket;
use crate::websocket::checked_timeout;

/// The receiving half of a [`split`](WebSocket::split) connection.
///
/// Its [`recv`](Self::recv) behaves like [`WebSocket::recv`]: whole messages, Ping and Pong
/// notifications, the peer's Close, then `None`. It blocks on the socket without holding any
/// lock, runs the connection's timers, and writes the pongs, close replies and keepalive pings
/// they queue (or leaves them to the write half if that one is writing at the moment).
pub struct ReadHalf<S: SplitStream> {
    /// Boxed: the receive state is large, and the half moves into a thread.
    inner: Box<ReadInner<S>>,
}

struct ReadInner<S: SplitStream> {
    side: ReadSide<S>,
    rx: RecvState,
    protocol: Option<String>,
    config: Arc<Config>,
}

/// The IO of the read half, apart from its receive state.
struct ReadSide<S: SplitStream> {
    shared: Arc<Shared<S>>,
    raw: S::Raw,
    timeouts: ReadTimeouts,
}

/// What reuniting takes from a read half.
pub(super) type ReadParts<S> =
    (Arc<Shared<S>>, <S as super::sealed::Split>::Raw, RecvState, Option<String>);

impl<S: SplitStream> ReadHalf<S> {
    pub(super) fn new(
        shared: Arc<Shared<S>>,
        raw: S::Raw,
        rx: RecvState,
        protocol: Option<String>,
        config: &Arc<Config>,
    ) -> Self {
        let timeouts = ReadTimeouts::default();
        let side = ReadSide { shared, raw, timeouts };
        ReadHalf { inner: Box::new(ReadInner { side, rx, protocol, config: config.clone() }) }
    }

    pub(super) fn into_parts(self) -> ReadParts<S> {
        let ReadInner { side, rx, protocol, .. } = *self.inner;
        (side.shared, side.raw, rx, protocol)
    }

    /// The next message; see [`WebSocket::recv`].
    pub fn recv(&mut self) -> Option<Result<Message, Error>> {
        let ReadInner { side, rx, .. } = &mut *self.inner;
        rx.next_message(side)
    }

    /// The next frame-level event; see [`WebSocket::recv_event`].
    pub fn recv_event(&mut self) -> Option<Result<Event, Error>> {
        let ReadInner { side, rx, .. } = &mut *self.inner;
        rx.next_event(side)
    }

    /// True if `write` is the other half of this connection.
    pub fn is_pair_of(&self, write: &WriteHalf<S>) -> bool {
        Arc::ptr_eq(&self.inner.side.shared, write.shared())
    }

    /// Bounds how long one [`recv`](Self::recv) call waits for input (`None`: indefinitely).
    /// A zero duration is refused, as `std` does.
    pub fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.inner.rx.read_timeout = checked_timeout(timeout)?;
        Ok(())
    }

    /// The read timeout set by [`set_read_timeout`](Self::set_read_timeout).
    pub fn read_timeout(&self) -> Option<Duration> {
        self.inner.rx.read_timeout
    }

    /// The subprotocol agreed in the handshake.
    pub fn protocol(&self) -> Option<&str> {
        self.inner.protocol.as_deref()
    }

    /// How the connection ended, once it has.
    pub fn close_info(&self) -> Option<CloseInfo> {
        self.inner.side.shared.lock().conn.close_info().cloned()
    }

    /// The round-trip time measured by the last answered Ping.
    pub fn last_rtt(&self) -> Option<Duration> {
        self.inner.side.shared.lock().conn.last_rtt()
    }

    /// The connection's configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// True once the connection is over and its transport closed (`recv` returns `None`).
    pub fn is_closed(&self) -> bool {
        self.inner.rx.is_closed()
    }

    /// Puts the halves back together; see [`reunite`](super::reunite).
    pub fn reunite(self, write: WriteHalf<S>) -> Result<WebSocket<S>, super::ReuniteError<S>> {
        super::reunite(self, write)
    }
}

impl<S: SplitStream> fmt::Debug for ReadHalf<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadHalf")
            .field("protocol", &self.inner.protocol)
            .field("closed", &self.inner.rx.is_closed())
            .finish_non_exhaustive()
    }
}

impl<S: SplitStream> Pump for ReadSide<S> {
    fn with_conn<R>(&mut self, f: impl FnOnce(&mut Connection) -> R) -> R {
        f(&mut self.shared.lock().conn)
    }

    fn flush_queued(&mut self) -> Result<(), Error> {
        self.shared.write_out(0, false)
    }

    fn shutdown_write(&mut self) {
        // Bounded by the core's deadline for the transport's end.
        let patience = self
            .shared
            .lock()
            .conn
            .poll_timeout()
            .map_or(MIN_WAIT, |t| t.saturating_duration_since(Instant::now()).max(MIN_WAIT));
        self.shared.shutdown(&mut self.raw, patience);
        self.timeouts.forget();
    }

    fn read_once(&mut self, wait: Option<Duration>) -> io::Result<()> {
        self.timeouts.apply(&mut self.raw, wait)?;
        // A stack buffer: the bytes are copied into the core (through the TLS layer, if any)
        // either way, and an idle read half then holds no buffer of its own.
        let mut buf = [0u8; SCRATCH_LEN];
        let result = match self.raw.read(&mut buf) {
            Ok(0) => {
                self.shared.lock().conn.handle_eof(Instant::now());
                Ok(())
            }
            Ok(n) => self.shared.feed(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(()),
            Err(e) => Err(e),
        };
        match result {
            Err(e) if !is_timeout(&e) => {
                self.shared.transport_failed(&e);
                Err(e)
            }
            other => other,
        }
    }

    fn take_io_error(&mut self) -> Option<io::Error> {
        self.shared.lock().io_error.take()
    }
}
