//! Errors, sorted by whose fault they are.
//!
//! * [`ProtocolError`]: the peer broke RFC 6455. Each variant maps to the close code the core
//!   sends ([`ProtocolError::close_code`]); the Close frame is already queued when you see it.
//! * [`CapacityError`]: the peer exceeded a configured limit; close code 1009 (1008 for the
//!   message deadline, 1013 for the shared memory budget, [`CapacityError::close_code`]), also
//!   queued.
//! * [`UsageError`]: the application asked for something impossible (sending after close, a
//!   control payload over 125 bytes). Nothing is sent; the connection is unchanged.
//!
//! A clean close is never an error: it is an [`Event`](crate::Event).

use core::fmt;

use crate::close::CloseCode;

/// Any error returned by a [`Connection`](crate::Connection).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The peer violated the protocol.
    Protocol(ProtocolError),
    /// The peer exceeded a configured limit.
    Capacity(CapacityError),
    /// The application misused the API.
    Usage(UsageError),
}

impl Error {
    /// The close code this error sends to the peer, or `None` for a usage error (which sends
    /// nothing).
    pub fn close_code(&self) -> Option<CloseCode> {
        match self {
            Error::Protocol(e) => Some(e.close_code()),
            Error::Capacity(e) => Some(e.close_code()),
            Error::Usage(_) => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Protocol(e) => write!(f, "protocol error: {e}"),
            Error::Capacity(e) => write!(f, "limit exceeded: {e}"),
            Error::Usage(e) => write!(f, "usage error: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Protocol(e) => Some(e),
            Error::Capacity(e) => Some(e),
            Error::Usage(e) => Some(e),
        }
    }
}

impl From<ProtocolError> for Error {
    fn from(e: ProtocolError) -> Self {
        Error::Protocol(e)
    }
}

impl From<CapacityError> for Error {
    fn from(e: CapacityError) -> Self {
        Error::Capacity(e)
    }
}

impl From<UsageError> for Error {
    fn from(e: UsageError) -> Self {
        Error::Usage(e)
    }
}

/// The peer broke the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolError {
    /// An RSV bit was set that no negotiated extension defines.
    ReservedBits,
    /// An opcode reserved for future use (0x3–0x7, 0xB–0xF).
    ReservedOpcode(u8),
    /// A client sent an unmasked frame to a server.
    UnmaskedFrame,
    /// A server sent a masked frame to a client.
    MaskedFrame,
    /// A control frame without FIN.
    FragmentedControlFrame,
    /// A control frame payload over 125 bytes.
    ControlFrameTooLong,
    /// A 64-bit payload length with the most significant bit set.
    InvalidLength,
    /// A continuation frame with no fragmented message in progress.
    UnexpectedContinuation,
    /// A new text or binary frame while a fragmented message was still open.
    ExpectedContinuation,
    /// A text message (or close reason) that is not valid UTF-8.
    InvalidUtf8,
    /// A Close frame with a 1-byte payload.
    CloseTooShort,
    /// A Close frame with a code that may not be sent (e.g. 1005, 1006, 999, 2000).
    InvalidCloseCode(u16),
    /// A compressed payload that did not inflate (RFC 7692 §6.2).
    InvalidCompressedData,
    /// RSV1 ("compressed") on a control frame or a continuation frame.
    MisplacedCompressionBit,
}

impl ProtocolError {
    /// The close code sent for this error.
    pub fn close_code(&self) -> CloseCode {
        match self {
            ProtocolError::InvalidUtf8 | ProtocolError::InvalidCompressedData => {
                CloseCode::INVALID_PAYLOAD
            }
            _ => CloseCode::PROTOCOL_ERROR,
        }
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::ReservedBits => f.write_str("reserved bits set without an extension"),
            ProtocolError::ReservedOpcode(op) => write!(f, "reserved opcode {op:#x}"),
            ProtocolError::UnmaskedFrame => f.write_str("client frame not masked"),
            ProtocolError::MaskedFrame => f.write_str("server frame masked"),
            ProtocolError::FragmentedControlFrame => f.write_str("fragmented control frame"),
            ProtocolError::ControlFrameTooLong => f.write_str("control frame over 125 bytes"),
            ProtocolError::InvalidLength => f.write_str("payload length has the top bit set"),
            ProtocolError::UnexpectedContinuation => {
                f.write_str("continuation frame without a message in progress")
            }
            ProtocolError::ExpectedContinuation => {
                f.write_str("new data frame inside a fragmented message")
            }
            ProtocolError::InvalidUtf8 => f.write_str("invalid UTF-8 in text"),
            ProtocolError::CloseTooShort => f.write_str("close frame with a 1-byte payload"),
            ProtocolError::InvalidCloseCode(c) => write!(f, "invalid close code {c}"),
            ProtocolError::InvalidCompressedData => f.write_str("compressed data did not inflate"),
            ProtocolError::MisplacedCompressionBit => {
                f.write_str("compression bit on a control or continuation frame")
            }
        }
    }
}

impl std::error::Error for ProtocolError {}

/// The peer exceeded a limit from [`Config`](crate::Config). Close code 1009, 1008 for the
/// message deadline, 1013 for the shared memory budget ([`close_code`](Self::close_code)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CapacityError {
    /// A single frame declared a payload over `max_frame_size`.
    FrameTooLarge {
        /// Declared payload size.
        size: u64,
        /// The configured limit.
        max: usize,
    },
    /// A message grew past `max_message_size` (checked as each frame arrives, and while
    /// inflating a compressed message).
    MessageTooLarge {
        /// Size the message would have reached (at least).
        size: u64,
        /// The configured limit.
        max: usize,
    },
    /// A data message was not complete within `message_timeout` of its first frame's header
    /// (a peer that starts a message and stalls, or trickles it, to pin its buffers).
    MessageTimeout {
        /// The configured deadline.
        timeout: core::time::Duration,
    },
    /// The server's shared [`MemoryBudget`](crate::MemoryBudget) had no room for what this
    /// connection needed past its floor (a large frame or message while the budget is spent by
    /// others). Close code 1013: the peer may try again later.
    MemoryBudget {
        /// Bytes the connection would have held.
        held: usize,
        /// The budget, summed over connections.
        limit: usize,
    },
}

impl CapacityError {
    /// The close code sent for this error: 1013 (try again later) when the server's shared
    /// memory budget is spent, since the same message may fit later; 1009 (message too big) for the size limits; 1008
    /// (policy violation) for the message deadline, because the message may be small and
    /// nothing about it is invalid: the peer broke the endpoint's policy on time, which is what
    /// 1008 is for (1001 would tell a well-behaved peer that the server is going away, and 1011
    /// that the server failed).
    pub fn close_code(&self) -> CloseCode {
        match self {
            CapacityError::MessageTimeout { .. } => CloseCode::POLICY_VIOLATION,
            CapacityError::MemoryBudget { .. } => CloseCode::TRY_AGAIN_LATER,
            _ => CloseCode::MESSAGE_TOO_BIG,
        }
    }
}

impl fmt::Display for CapacityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CapacityError::FrameTooLarge { size, max } => {
                write!(f, "frame of {size} bytes exceeds the {max}-byte limit")
            }
            CapacityError::MessageTooLarge { size, max } => {
                write!(f, "message of at least {size} bytes exceeds the {max}-byte limit")
            }
            CapacityError::MessageTimeout { timeout } => {
                write!(f, "message not complete within {timeout:?} of its first frame")
            }
            CapacityError::MemoryBudget { held, limit } => write!(
                f,
                "no room in the {limit}-byte memory budget for this connection to hold {held} bytes"
            ),
        }
    }
}

impl std::error::Error for CapacityError {}

/// The application asked for something the protocol or the connection state forbids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UsageError {
    /// A Close frame was already sent (or the connection failed): no more frames may be sent.
    Closed,
    /// A ping or pong payload over 125 bytes.
    ControlPayloadTooLong,
    /// A close code that may not be sent (see [`CloseCode::is_sendable`]).
    InvalidCloseCode(u16),
    /// A close reason over 123 bytes.
    CloseReasonTooLong,
    /// A text message or fragment that is not valid UTF-8.
    InvalidUtf8,
    /// A new message while a fragmented message is still being sent.
    MessageInProgress,
    /// The operation needs a handshake that negotiated something it did not (e.g. compressing
    /// without permessage-deflate).
    NotNegotiated,
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UsageError::Closed => f.write_str("connection is closing or closed"),
            UsageError::ControlPayloadTooLong => f.write_str("control payload over 125 bytes"),
            UsageError::InvalidCloseCode(c) => write!(f, "close code {c} may not be sent"),
            UsageError::CloseReasonTooLong => f.write_str("close reason over 123 bytes"),
            UsageError::InvalidUtf8 => f.write_str("text is not valid UTF-8"),
            UsageError::MessageInProgress => {
                f.write_str("a fragmented message is in progress; finish it first")
            }
            UsageError::NotNegotiated => f.write_str("extension not negotiated"),
        }
    }
}

impl std::error::Error for UsageError {}
