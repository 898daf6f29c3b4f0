//! The receive loop, written once for the whole connection and for the read half.
//!
//! Each turn: hand out the core's next event; otherwise write what the core queued (pongs, close
//! replies, keepalive pings, application data), carry out what the core says about the
//! transport (shut the write side down; close), run a due timer, and finally block on one read,
//! bounded by the nearest deadline. There is no policy here: when to fail, close, drain or give
//! up is the core's ([`Connection::transport`], [`Connection::poll_timeout`]).

use std::io;
use std::time::{Duration, Instant};

use ws_proto::{CloseCause, Connection, Event, Message, MessageAssembler, Transport};

use crate::Error;
use crate::io::{MIN_WAIT, is_timeout};

/// The IO a receive loop drives: the whole connection, or the read half of a split one.
pub(crate) trait Pump {
    /// Runs `f` on the connection state (under the lock, for a split connection).
    fn with_conn<R>(&mut self, f: impl FnOnce(&mut Connection) -> R) -> R;

    /// Writes the output the core has queued before blocking on a read. A failure other than a
    /// timeout has already been reported to the core (`handle_transport_error`).
    fn flush_queued(&mut self) -> Result<(), Error>;

    /// Shuts the write side down (TLS `close_notify`, then a FIN), everything queued being
    /// written: what [`Transport::Shutdown`] asks for.
    fn shutdown_write(&mut self);

    /// One read, blocking at most `wait` (`None`: indefinitely), fed to the core (end of stream
    /// included).
    fn read_once(&mut self, wait: Option<Duration>) -> io::Result<()>;

    /// The transport failure that ended the connection, if one did (taken once).
    fn take_io_error(&mut self) -> Option<io::Error>;
}

/// What the receiving side keeps between calls: everything needed to resume exactly where a
/// timed-out call stopped.
#[derive(Debug, Default)]
pub(crate) struct RecvState {
    assembler: MessageAssembler,
    /// The end was reported: only `None` remains.
    closed: bool,
    /// How long one `recv` may wait for input in total.
    pub(crate) read_timeout: Option<Duration>,
}

impl RecvState {
    /// The next whole message (or Ping, Pong, Close notification).
    pub(crate) fn next_message<P: Pump>(&mut self, p: &mut P) -> Option<Result<Message, Error>> {
        loop {
            match self.next_event(p)? {
                Err(e) => return Some(Err(e)),
                Ok(event) => {
                    if let Some(message) = self.assembler.push(event) {
                        return Some(Ok(message));
                    }
                }
            }
        }
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
                return Some(self.report(p, event));
            }
            if self.closed {
                return None;
            }
            match p.flush_queued() {
                // The peer is not reading right now: read meanwhile (that may be what it waits
                // for) and try again next turn. Nothing queued is lost.
                Err(e) if e.is_timeout() => {}
                // The core ended the connection: its last event says how.
                Err(_) => continue,
                Ok(()) => {}
            }
            match p.with_conn(|c| (c.transport(), c.transmit_len())) {
                (Transport::Close, _) => {
                    // The end was already reported (an event taken by a previous call).
                    self.closed = true;
                    continue;
                }
                (Transport::Shutdown, 0) => {
                    p.shutdown_write();
                    p.with_conn(|c| c.handle_write_shutdown(Instant::now()));
                    continue;
                }
                _ => {}
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
                Ok(()) => {}
                // A timer is due, the caller's timeout passed, or the OS woke us early: the next
                // turn decides. Without any deadline this is a non-blocking stream with nothing
                // to read.
                Err(e) if is_timeout(&e) && wait.is_some() => {}
                Err(e) if is_timeout(&e) => return Some(Err(Error::Io(e))),
                // The read already ended the connection in the core: its last event says how.
                Err(_) => {}
            }
        }
    }

    /// What the receiving side reports for the core's `event`: a peer's failure as
    /// [`Error::Protocol`], a transport failure as [`Error::Io`], anything else as it is.
    fn report<P: Pump>(&mut self, p: &mut P, event: Event) -> Result<Event, Error> {
        let Event::Closed(info) = &event else { return Ok(event) };
        self.closed = true;
        if info.cause == CloseCause::TransportError {
            if let Some(e) = p.take_io_error() {
                return Err(Error::from(e));
            }
        }
        match info.error() {
            Some(e) => Err(Error::Protocol(e)),
            None => Ok(event),
        }
    }

    /// True once the end was reported.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed
    }
}
