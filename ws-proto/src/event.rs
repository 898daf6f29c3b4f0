//! What a [`Connection`](crate::Connection) reports: [`Event`]s and how a connection ended.

use bytes::Bytes;

use crate::close::{CloseCode, CloseFrame};
use crate::error::{CapacityError, Error, ProtocolError};
use crate::message::MessageKind;

/// Something that happened on the connection, from [`Connection::poll_event`](crate::Connection::poll_event).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The payload of one data frame.
    ///
    /// An unfragmented message is one event with `first` and `fin` both set. A fragmented
    /// message is a run of events: the first with `first`, the last with `fin`. Text is validated
    /// incrementally, but a fragment boundary may split a code point, so only a whole message is
    /// guaranteed to be UTF-8 on its own ([`MessageAssembler`](crate::MessageAssembler) joins
    /// them).
    Data {
        /// Text or binary (repeated on every fragment for convenience).
        kind: MessageKind,
        /// This frame's payload (unmasked, decompressed), a zero-copy slice of the receive buffer.
        payload: Bytes,
        /// This frame starts a message.
        first: bool,
        /// This frame ends the message.
        fin: bool,
    },
    /// A Ping arrived. With `auto_pong` on (the default) its Pong is already queued.
    Ping(Bytes),
    /// A Pong arrived (solicited or not).
    Pong(Bytes),
    /// The peer's Close frame arrived (`None`: it carried no status code). Our reply, echoing the
    /// code, is already queued; a [`Event::Closed`] follows once the transport is done.
    CloseReceived(Option<CloseFrame>),
    /// The connection is over, transport included: the last event, reported exactly once.
    ///
    /// It comes when [`Connection::transport`](crate::Connection::transport) says
    /// [`Transport::Close`](crate::Transport::Close): our Close frame (if any) was handed out by
    /// `poll_transmit`, the write side was shut down and the peer's end of stream was awaited, or
    /// `close_timeout` gave up on it. A peer's protocol error or exceeded limit is reported here,
    /// and only here: [`CloseInfo::error`]. (Boxed: it is rare, and keeping it small keeps every
    /// event small.)
    Closed(Box<CloseInfo>),
}

/// An [`Event`] borrowed: what [`Connection::handle_data_with`](crate::Connection::handle_data_with)
/// hands its callback. A whole small data message is a slice of the caller's own input buffer
/// (unmasked in place: no copy, no allocation, no reference count); every other event is a
/// view of the [`Event`] the connection queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventRef<'a> {
    /// The payload of one data frame: see [`Event::Data`].
    Data {
        /// Text or binary.
        kind: MessageKind,
        /// This frame's payload (unmasked, decompressed; for text, UTF-8 once the message
        /// is whole).
        payload: &'a [u8],
        /// This frame starts a message.
        first: bool,
        /// This frame ends the message.
        fin: bool,
    },
    /// A Ping arrived: see [`Event::Ping`].
    Ping(&'a [u8]),
    /// A Pong arrived: see [`Event::Pong`].
    Pong(&'a [u8]),
    /// The peer's Close frame arrived: see [`Event::CloseReceived`].
    CloseReceived(Option<&'a CloseFrame>),
    /// The connection is over: see [`Event::Closed`].
    Closed(&'a CloseInfo),
}

impl Event {
    /// This event, borrowed.
    pub fn as_event_ref(&self) -> EventRef<'_> {
        match self {
            Event::Data { kind, payload, first, fin } => {
                EventRef::Data { kind: *kind, payload, first: *first, fin: *fin }
            }
            Event::Ping(p) => EventRef::Ping(p),
            Event::Pong(p) => EventRef::Pong(p),
            Event::CloseReceived(frame) => EventRef::CloseReceived(frame.as_ref()),
            Event::Closed(info) => EventRef::Closed(info),
        }
    }
}

impl EventRef<'_> {
    /// An owned copy, to keep past the callback (payloads are copied into new `Bytes`).
    pub fn to_event(&self) -> Event {
        match *self {
            EventRef::Data { kind, payload, first, fin } => {
                Event::Data { kind, payload: Bytes::copy_from_slice(payload), first, fin }
            }
            EventRef::Ping(p) => Event::Ping(Bytes::copy_from_slice(p)),
            EventRef::Pong(p) => Event::Pong(Bytes::copy_from_slice(p)),
            EventRef::CloseReceived(frame) => Event::CloseReceived(frame.cloned()),
            EventRef::Closed(info) => Event::Closed(Box::new(info.clone())),
        }
    }
}

/// Who started closing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Initiator {
    /// This end: the application called `close`, a timer fired, or the peer broke the protocol.
    Local,
    /// The peer sent the first Close frame or ended the transport.
    Remote,
}

/// Why the connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseCause {
    /// Both Close frames were exchanged.
    Handshake,
    /// The peer violated the protocol; we sent the matching close code and failed the connection.
    Protocol(ProtocolError),
    /// The peer exceeded a limit; we sent 1009 and failed the connection.
    Capacity(CapacityError),
    /// The transport ended before the close handshake completed.
    EndOfStream,
    /// The peer did not answer our Close within `close_timeout`.
    CloseTimeout,
    /// Nothing arrived within `pong_timeout` of a keepalive Ping; we sent 1011.
    PongTimeout,
    /// The transport failed (reset, broken pipe: the adapter's IO error); nothing more could be
    /// sent or received.
    TransportError,
}

/// How a connection ended, reported once by [`Event::Closed`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseInfo {
    /// Who started closing.
    pub initiator: Initiator,
    /// The Close frame we sent, if any (code [`CloseCode::NO_STATUS`] if it had no body).
    pub sent: Option<CloseFrame>,
    /// The Close frame the peer sent, if any (code [`CloseCode::NO_STATUS`] if it had no body).
    pub received: Option<CloseFrame>,
    /// Both Close frames were exchanged.
    pub clean: bool,
    /// Why it ended.
    pub cause: CloseCause,
}

impl CloseInfo {
    /// "The WebSocket Connection Close Code" of RFC 6455 §7.1.5: the peer's code, 1005 if its
    /// Close had none, 1006 if no Close frame was received.
    pub fn code(&self) -> CloseCode {
        self.received.as_ref().map_or(CloseCode::ABNORMAL, |f| f.code)
    }

    /// The peer's close reason, or `""`.
    pub fn reason(&self) -> &str {
        self.received.as_ref().map_or("", |f| f.reason_str())
    }

    /// The peer's fault, if the connection failed because of it: a protocol violation or an
    /// exceeded limit (the Close frame with [`Error::close_code`] was sent). `None` for every
    /// other ending, clean or not.
    pub fn error(&self) -> Option<Error> {
        match self.cause {
            CloseCause::Protocol(e) => Some(Error::Protocol(e)),
            CloseCause::Capacity(e) => Some(Error::Capacity(e)),
            _ => None,
        }
    }
}
