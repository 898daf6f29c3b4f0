//! The WebSocket state machine.
//!
//! See the [crate documentation](crate) for the run loop. The implementation is split by concern:
//! `recv` (bytes in, events out), `send` (commands in, bytes out), `transmit` (the outgoing
//! queue), `timers` (deadlines) and `close` (the closing handshake).

mod close;
mod in_place;
mod lifecycle;
mod owned;
mod recv;
mod send;
mod timers;
mod transmit;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::BytesMut;

use crate::budget::Charge;
use crate::config::{Config, Role};
use crate::event::{CloseInfo, Event};
use crate::message::MessageKind;
use crate::rng::{ChaChaRandom, RandomSource};
use crate::utf8::Utf8Validator;

pub use lifecycle::Transport;
pub use transmit::TransmitChunks;

use close::CloseState;
use lifecycle::Phase;
use recv::{InFrame, InMessage};
use timers::Timers;
use transmit::TxQueue;

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Messages flow both ways.
    Open,
    /// We sent a Close frame and wait for the peer's. Incoming messages are still delivered;
    /// nothing more can be sent.
    Closing,
    /// The closing handshake is over (or the connection failed). Only the queued output remains.
    Closed,
}

/// A sans-IO WebSocket connection (RFC 6455), after the opening handshake.
///
/// It never performs IO and never reads a clock. Feed it what arrives and the current time,
/// give it commands, and after **every** input or command drain its outputs:
///
/// 1. [`poll_event`](Self::poll_event) until `None` (messages, pings, closes; the last event,
///    [`Event::Closed`], says how it ended and reports a peer's failure),
/// 2. [`poll_transmit`](Self::poll_transmit) (or [`transmit_chunks`](Self::transmit_chunks) +
///    [`advance_transmit`](Self::advance_transmit) for vectored writes) and write the bytes,
/// 3. [`transport`](Self::transport): what to do with the transport (keep going, shut the write
///    side down, drain, close),
/// 4. [`poll_timeout`](Self::poll_timeout): call [`handle_timeout`](Self::handle_timeout) when
///    that instant comes.
///
/// Inputs: [`handle_data`](Self::handle_data) (or the zero-copy pair
/// [`recv_buf`](Self::recv_buf) + [`commit`](Self::commit), or [`recv_into`](Self::recv_into)
/// for transports that read into a `BufMut`; or, for completion-based IO,
/// [`handle_bytes`](Self::handle_bytes) and [`take_recv_room`](Self::take_recv_room) +
/// [`give_recv_room`](Self::give_recv_room)), [`handle_eof`](Self::handle_eof),
/// [`handle_write_shutdown`](Self::handle_write_shutdown),
/// [`handle_transport_error`](Self::handle_transport_error),
/// [`handle_timeout`](Self::handle_timeout). Partial input is never an error, and neither is
/// bad input: the connection fails, and says so through its events.
///
/// Commands: [`send_text`](Self::send_text), [`send_binary`](Self::send_binary),
/// [`send_fragment`](Self::send_fragment), [`send_prepared`](Self::send_prepared),
/// [`ping`](Self::ping), [`pong`](Self::pong), [`close`](Self::close).
pub struct Connection {
    role: Role,
    config: Config,
    state: State,

    // Receiving. `rbuf[..filled]` holds received bytes; `rbuf[filled..]` is zeroed spare room
    // handed out by `recv_buf` (`recv_into` reads into the uninitialized capacity past it).
    rbuf: BytesMut,
    filled: usize,
    /// The receive buffer grew past the normal read size for a large frame; release it once it
    /// is empty.
    rbuf_large: bool,
    /// Header and payload length of the last complete frame: a large one keeps its buffer for
    /// the next, and one of half a read or more has the next read go straight into the buffer.
    last_frame_len: usize,
    /// The capacity of the room [`take_recv_room`](Self::take_recv_room) handed out, until it
    /// is given back (charged to the memory budget meanwhile).
    room_out: Option<usize>,
    frame: Option<InFrame>,
    /// The incoming data message in progress.
    in_msg: Option<InMessage>,
    recv_utf8: Utf8Validator,
    /// No more input is processed (peer's Close received, EOF, or the connection failed).
    input_done: bool,
    events: VecDeque<Event>,

    // Sending.
    tx: TxQueue,
    /// The outgoing fragmented message in progress, and whether it is compressed.
    out_msg: Option<(MessageKind, bool)>,
    send_utf8: Utf8Validator,
    rng: Option<Box<dyn RandomSource>>,

    /// A Close or a failure caused by the peer, waiting for the events received before it to
    /// be drained (so the application can still answer those messages), with their count.
    deferred: Option<(Deferred, usize)>,
    close: CloseState,
    timers: Timers,
    /// The transport's life after the WebSocket closed (`lifecycle`).
    phase: Phase,
    /// When the transport's end gives up (shutdown, drain, or a client awaiting the server's
    /// end of stream).
    linger_until: Option<Instant>,
    /// The subprotocol the opening handshake selected.
    protocol: Option<String>,
    /// permessage-deflate state, when negotiated.
    #[cfg(feature = "deflate")]
    deflate: Option<Box<crate::deflate::DeflateState>>,
    /// This connection's charge against `config.memory_budget`.
    budget: Option<Charge>,
    /// The part of a message in progress already delivered when input stopped: the adapter
    /// still holds it (and stays charged for it) until the connection is done.
    pinned: u64,
}

/// What the peer did that takes effect in order with the events before it.
#[derive(Debug)]
enum Deferred {
    /// The peer broke the protocol or a limit (at this instant).
    Fail(Instant, crate::error::Error),
    /// The peer's Close frame arrived.
    CloseReceived(Instant, Option<crate::close::CloseFrame>),
}

impl Connection {
    /// A connection in the `Open` state, as after a successful opening handshake.
    ///
    /// `now` starts the keepalive and idle timers. Client connections seed their mask-key
    /// generator from the operating system on first use; see [`with_rng`](Self::with_rng).
    pub fn new(role: Role, config: Config, now: Instant) -> Self {
        let timers = Timers::new(&config, now);
        let budget = config.memory_budget.clone().map(Charge::new);
        Connection {
            role,
            config,
            state: State::Open,
            rbuf: BytesMut::new(),
            room_out: None,
            filled: 0,
            rbuf_large: false,
            last_frame_len: 0,
            frame: None,
            in_msg: None,
            recv_utf8: Utf8Validator::new(),
            input_done: false,
            events: VecDeque::new(),
            tx: TxQueue::default(),
            out_msg: None,
            send_utf8: Utf8Validator::new(),
            rng: None,
            deferred: None,
            close: CloseState::default(),
            timers,
            phase: Phase::Open,
            linger_until: None,
            protocol: None,
            #[cfg(feature = "deflate")]
            deflate: None,
            budget,
            pinned: 0,
        }
    }

    /// Replaces the source of mask keys (clients). Use a seeded source in tests and fuzzing.
    pub fn with_rng(mut self, rng: Box<dyn RandomSource>) -> Self {
        self.rng = Some(rng);
        self
    }

    /// Enables what the opening handshake negotiated: the subprotocol (reported by
    /// [`protocol`](Self::protocol)) and permessage-deflate, whose compression settings (level,
    /// threshold) come from `config.deflate`, or its defaults.
    ///
    /// The handshake drivers ([`handshake::ServerHandshake`](crate::handshake::ServerHandshake),
    /// [`handshake::ClientHandshake`](crate::handshake::ClientHandshake)) call it for you.
    pub fn with_negotiated(mut self, negotiated: &crate::handshake::Negotiated) -> Self {
        self.protocol = negotiated.protocol.clone();
        #[cfg(feature = "deflate")]
        if let Some(params) = negotiated.deflate {
            let local = self.config.deflate.clone().unwrap_or_default();
            let state = crate::deflate::DeflateState::new(self.role, params, &local);
            self.deflate = Some(Box::new(state));
        }
        #[cfg(not(feature = "deflate"))]
        let _ = negotiated;
        self
    }

    /// True if permessage-deflate is active on this connection.
    pub fn deflate_enabled(&self) -> bool {
        #[cfg(feature = "deflate")]
        return self.deflate.is_some();
        #[cfg(not(feature = "deflate"))]
        false
    }

    /// The subprotocol the opening handshake selected, if any.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// This end's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Where the WebSocket protocol is (open, closing, closed). The transport's own end follows
    /// [`transport`](Self::transport).
    pub fn state(&self) -> State {
        self.state
    }

    /// True once the WebSocket is closed (handshake done, failed or abandoned): nothing more can
    /// be sent. The transport may still be ending; see [`is_finished`](Self::is_finished).
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// How the connection ended, once the WebSocket is closed (before [`Event::Closed`] reports
    /// it, which waits for the transport's end).
    pub fn close_info(&self) -> Option<&CloseInfo> {
        self.close.info.as_ref()
    }

    /// The next event, if any.
    ///
    /// Events come in the order their causes arrived. A peer's Close frame or protocol error
    /// takes effect when the events received before it have been taken: only then is our Close
    /// queued and the state changed, so the application can still answer the messages that
    /// preceded it. Taking an event can therefore queue output: drain
    /// [`poll_transmit`](Self::poll_transmit) after the events, as the run loop does.
    #[must_use]
    #[inline]
    pub fn poll_event(&mut self) -> Option<Event> {
        if self.deferred.is_some() {
            return self.poll_event_deferred();
        }
        self.events.pop_front()
    }

    /// [`poll_event`](Self::poll_event) while a Close or failure waits for its turn.
    #[cold]
    fn poll_event_deferred(&mut self) -> Option<Event> {
        if let Some((_, 0)) = self.deferred {
            if let Some((d, _)) = self.deferred.take() {
                self.apply(d);
            }
        }
        let event = self.events.pop_front()?;
        if let Some((_, before)) = &mut self.deferred {
            *before = before.saturating_sub(1);
        }
        Some(event)
    }

    /// Applies `d` now if no event precedes it, or once the events before it are taken.
    fn defer(&mut self, d: Deferred) {
        self.stop_input();
        match self.events.len() {
            0 => self.apply(d),
            n => self.deferred = Some((d, n)),
        }
    }

    /// No more input will be processed: forget what is buffered.
    pub(crate) fn stop_input(&mut self) {
        self.input_done = true;
        self.timers.on_message_end();
        self.frame = None;
        self.rbuf = BytesMut::new();
        self.filled = 0;
        self.rbuf_large = false;
        if let Some(m) = self.in_msg.take() {
            self.pinned = m.delivered;
        }
        self.give_back_budget();
    }

    fn apply(&mut self, d: Deferred) {
        match d {
            Deferred::Fail(now, err) => self.apply_failure(now, err),
            Deferred::CloseReceived(now, frame) => self.apply_close_received(now, frame),
        }
    }

    /// The round-trip time measured by the most recent answered Ping (keepalive Pings, or
    /// Pings sent with [`ping`](Self::ping)).
    pub fn last_rtt(&self) -> Option<Duration> {
        self.timers.last_rtt
    }

    /// The earliest instant at which [`handle_timeout`](Self::handle_timeout) has work to do,
    /// or `None` if no timer is armed (always `None` with no timers configured and the
    /// connection open).
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next_deadline()
    }

    pub(crate) fn mask_key(&mut self) -> Option<[u8; 4]> {
        if self.role == Role::Server {
            return None;
        }
        let rng = self.rng.get_or_insert_with(|| Box::new(ChaChaRandom::from_os()));
        let mut key = [0u8; 4];
        rng.fill(&mut key);
        Some(key)
    }
}

impl core::fmt::Debug for Connection {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Connection")
            .field("role", &self.role)
            .field("state", &self.state)
            .field("buffered_in", &self.filled)
            .field("buffered_out", &self.tx.len())
            .field("events", &self.events.len())
            .finish_non_exhaustive()
    }
}
