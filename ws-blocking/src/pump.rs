//! The receive loop, written once for the whole connection and for the read half.
//!
//! Each turn: hand out the core's next event; otherwise write what the core queued (pongs, close
//! replies, keepalive pings, application data), close the transport when the core says so, run a
//! due timer, and finally block on one read, bounded by the nearest deadline.

use std::io;
use std::time::{Duration, Instant};

use ws_proto::{CapacityError, CloseCode, Connection, Event, Message, MessageAssembler};

use crate::error::Error;
use crate::io::{MIN_WAIT, fail_transport, is_timeout};

/// The IO a receive loop drives: the whole connection, or the read half of a split one.
pub(crate) trait Pump {
    /// Runs `f` on the connection state (under the lock, for a split connection).
    fn with_conn<R>(&mut self, f: impl FnOnce(&mut Connection) -> R) -> R;

    /// Writes the output the core has queued before blocking on a read. A failure other than a
    /// timeout (or any failure while closing) has already ended the connection.
    fn flush_queued(&mut self) -> Result<(), Error>;

    /// If the core asks for the transport to close and everything is written: shuts down the
    /// write side, drains input briefly, and returns `true`.
    fn close_if_due(&mut self) -> bool;

    /// One read, blocking at most `wait` (`None`: indefinitely), fed to the core (end of stream
    /// included). Returns the protocol error the input caused, if any.
    fn read_once(&mut self, wait: Option<Duration>) -> io::Result<Option<ws_proto::Error>>;
}

/// What the receiving side keeps between calls: everything needed to resume exactly where a
/// timed-out call stopped.
#[derive(Debug)]
pub(crate) struct RecvState {
    assembler: MessageAssembler,
    /// A failure to report once the events before it are delivered and the transport is closed.
    pending: Option<Error>,
    /// The transport is closed: only `pending`, then `None`, remain.
    closed: bool,
    /// How long one `recv` may wait for input in total.
    pub(crate) read_timeout: Option<Duration>,
}

impl RecvState {
    pub(crate) fn new(max_message_size: usize, early: Option<ws_proto::Error>) -> Self {
        RecvState {
            assembler: MessageAssembler::new(max_message_size),
            pending: early.map(Error::from),
            closed: false,
            read_timeout: None,
        }
    }

    /// The next whole message (or Ping, Pong, Close notification).
    pub(crate) fn next_message<P: Pump>(&mut self, p: &mut P) -> Option<Result<Message, Error>> {
        loop {
            match self.next_event(p)? {
                Err(e) => return Some(Err(e)),
                Ok(event) => match self.assembler.push(event) {
                    Ok(Some(message)) => return Some(Ok(message)),
                    Ok(None) => {}
                    Err(e) => self.refuse(p, e),
                },
            }
        }
    }

    /// A message outgrew the assembler (only possible if it was given a smaller limit than the
    /// core): close with 1009 and report the error once the connection is over.
    fn refuse<P: Pump>(&mut self, p: &mut P, e: CapacityError) {
        let _ = p.with_conn(|c| c.close(Instant::now(), CloseCode::MESSAGE_TOO_BIG, ""));
        self.pending.get_or_insert(Error::Protocol(e.into()));
    }

    /// The next event from the core, doing IO until there is one.
    pub(crate) fn next_event<P: Pump>(&mut self, p: &mut P) -> Option<Result<Event, Error>> {
        let give_up = self.read_timeout.map(|t| Instant::now() + t);
        loop {
            if let Some(event) = p.with_conn(Connection::poll_event) {
                if matches!(event, Event::CloseReceived(_)) {
                    // Send our reply now: an application that stops receiving at the peer's
                    // Close still completes the handshake. A failure shows on the next call.
                    let _ = p.flush_queued();
                }
                return Some(Ok(event));
            }
            if self.closed {
                return self.pending.take().map(Err);
            }
            match p.flush_queued() {
                // The peer is not reading right now: read meanwhile (that may be what it waits
                // for) and try again next turn. Nothing queued is lost.
                Err(e) if e.is_timeout() => {}
                Err(e) => return Some(Err(e)),
                Ok(()) => {}
            }
            if p.close_if_due() {
                self.closed = true;
                continue;
            }
            let now = Instant::now();
            let timer = p.with_conn(|c| c.poll_timeout());
            if timer.is_some_and(|t| t <= now) {
                p.with_conn(|c| c.handle_timeout(now));
                continue;
            }
            if give_up.is_some_and(|t| t <= now) {
                return Some(Err(Error::Io(io::ErrorKind::TimedOut.into())));
            }
            let wait = timer.into_iter().chain(give_up).min().map(|t| (t - now).max(MIN_WAIT));
            match p.read_once(wait) {
                Ok(None) => {}
                Ok(Some(e)) => {
                    self.pending.get_or_insert(e.into());
                }
                // A timer is due, the caller's timeout passed, or the OS woke us early: the next
                // turn decides. Without any deadline this is a non-blocking stream with nothing
                // to read.
                Err(e) if is_timeout(&e) && wait.is_some() => {}
                Err(e) if is_timeout(&e) => return Some(Err(Error::Io(e))),
                Err(e) => {
                    p.with_conn(fail_transport);
                    return Some(Err(e.into()));
                }
            }
        }
    }

    /// Reports `e` once the events before it are delivered and the transport is closed.
    pub(crate) fn fail_later(&mut self, e: Error) {
        self.pending.get_or_insert(e);
    }

    /// True once the transport is closed.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed
    }
}
