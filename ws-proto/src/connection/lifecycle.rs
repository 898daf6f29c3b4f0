//! The transport's life around the WebSocket: when to shut the write side down, how long to
//! wait for the peer's end of stream, when to give up on a peer that does not read.
//!
//! This is policy, so it lives here and nowhere else: adapters only carry out what
//! [`Connection::transport`] says and report back with `handle_write_shutdown`, `handle_eof`,
//! `handle_transport_error` and `handle_timeout`.
//!
//! | how the WebSocket ended | then |
//! |---|---|
//! | close handshake, server | write the rest, shut down, close |
//! | close handshake, client | wait for the server's end of stream (RFC 6455 §7.1.1: the server closes TCP first), at most `close_timeout`; then shut down and close |
//! | the peer broke the protocol or a limit | write the rest (our Close), shut down, read and discard until the peer's end of stream, so unread input cannot turn our FIN into a reset that destroys the Close in flight |
//! | Pong timeout, close timeout, end of stream | write the rest, shut down, close |
//! | transport error | close at once; queued bytes are dropped |
//!
//! Writing the rest, shutting down and draining together take at most `close_timeout`; after
//! that the transport is closed whatever is left.

use std::time::Instant;

use super::{Connection, State};
use crate::config::Role;
use crate::event::{CloseCause, Event};

/// What to do with the transport now: from [`Connection::transport`].
///
/// Check it after draining events and before waiting for input. `Drain` and `Open` ask for the
/// same IO (keep reading and feeding the connection, write what is queued); they differ only in
/// whether the write side is still open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Read and write as usual (after the close handshake a client still reads here, waiting
    /// for the server's end of stream; what arrives is discarded).
    Open,
    /// Write everything [`poll_transmit`](Connection::poll_transmit) holds, then shut down the
    /// write side (TCP FIN, or TLS `close_notify` then FIN) and call
    /// [`handle_write_shutdown`](Connection::handle_write_shutdown). Keep reading meanwhile.
    Shutdown,
    /// The write side is shut down: keep reading (input is discarded) until the end of stream
    /// ([`handle_eof`](Connection::handle_eof)) or the deadline
    /// ([`poll_timeout`](Connection::poll_timeout)).
    Drain,
    /// Close the transport: nothing more will be read or written. [`Event::Closed`] is the last
    /// event in the queue.
    Close,
}

/// Where the transport is, as the connection sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Open,
    /// A client after the close handshake, waiting for the server to close first.
    AwaitEof,
    /// Writing what is left, then shutting down; `drain`: wait for the peer's end of stream after.
    Shutdown {
        drain: bool,
    },
    Drain,
    Done,
}

impl Connection {
    /// What the adapter should do with the transport now (see [`Transport`]).
    #[must_use]
    pub fn transport(&self) -> Transport {
        match self.phase {
            Phase::Open | Phase::AwaitEof => Transport::Open,
            Phase::Shutdown { .. } => Transport::Shutdown,
            Phase::Drain => Transport::Drain,
            Phase::Done => Transport::Close,
        }
    }

    /// True once the transport should be closed and [`Event::Closed`] has been queued.
    pub fn is_finished(&self) -> bool {
        self.phase == Phase::Done
    }

    /// Declares that the write side was shut down, after everything queued was written (in
    /// answer to [`Transport::Shutdown`]).
    pub fn handle_write_shutdown(&mut self, now: Instant) {
        let _ = now;
        if let Phase::Shutdown { drain } = self.phase {
            if drain && !self.close.eof {
                self.phase = Phase::Drain;
            } else {
                self.done();
            }
        }
    }

    /// Declares that the transport reached end of stream. Without a completed close handshake
    /// the connection ends abnormally (1006; nothing is sent, what is queued is still written).
    pub fn handle_eof(&mut self, now: Instant) {
        self.stop_input();
        self.close.eof = true;
        if self.deferred.is_some() {
            // A Close or failure waits for the events before it; it will end the connection.
            return;
        }
        match self.phase {
            Phase::Open if self.state != State::Closed => {
                self.finish(now, CloseCause::EndOfStream);
            }
            Phase::Open | Phase::AwaitEof => self.start_shutdown(now, false),
            Phase::Drain => self.done(),
            Phase::Shutdown { .. } | Phase::Done => {}
        }
    }

    /// Declares that the transport failed (a reset, a broken pipe: the adapter's IO error).
    /// Nothing more can be written: queued bytes are dropped, and the connection ends at once.
    pub fn handle_transport_error(&mut self, now: Instant) {
        self.stop_input();
        self.close.eof = true;
        self.deferred = None;
        self.discard_transmit();
        if self.state != State::Closed {
            self.finish(now, CloseCause::TransportError);
        }
        self.done();
    }

    /// The WebSocket is closed (`cause`): starts the transport's end as the table in the
    /// module docs says.
    pub(crate) fn after_close(&mut self, now: Instant, cause: CloseCause) {
        if self.phase != Phase::Open {
            return;
        }
        match cause {
            CloseCause::TransportError => self.done(),
            CloseCause::Handshake if self.role == Role::Client && !self.close.eof => {
                self.phase = Phase::AwaitEof;
                self.linger_until = Some(now + self.config.close_timeout);
            }
            CloseCause::Protocol(_) | CloseCause::Capacity(_) => {
                self.start_shutdown(now, !self.close.eof);
            }
            _ => self.start_shutdown(now, false),
        }
    }

    fn start_shutdown(&mut self, now: Instant, drain: bool) {
        self.phase = Phase::Shutdown { drain };
        self.linger_until = Some(now + self.config.close_timeout);
    }

    /// The deadline of the transport's end, if it is ending.
    pub(crate) fn linger_deadline(&self) -> Option<Instant> {
        match self.phase {
            Phase::Open | Phase::Done => None,
            _ => self.linger_until,
        }
    }

    /// `handle_timeout` at or after the transport's deadline.
    pub(crate) fn linger_expired(&mut self, now: Instant) {
        match self.phase {
            // The server did not close first: close from our side.
            Phase::AwaitEof => self.start_shutdown(now, false),
            // The peer does not read what is left, or does not end its stream: give up on it.
            Phase::Shutdown { .. } => {
                self.discard_transmit();
                self.done();
            }
            Phase::Drain => self.done(),
            Phase::Open | Phase::Done => {}
        }
    }

    /// The end: the adapter closes the transport; [`Event::Closed`] is the last event.
    fn done(&mut self) {
        if self.phase == Phase::Done {
            return;
        }
        self.phase = Phase::Done;
        self.linger_until = None;
        self.stop_input();
        self.pinned = 0;
        if let Some(info) = self.close.info.clone() {
            self.events.push_back(Event::Closed(Box::new(info)));
        }
        self.release_buffers();
    }

    fn discard_transmit(&mut self) {
        let n = self.transmit_len();
        self.advance_transmit(n);
    }
}
