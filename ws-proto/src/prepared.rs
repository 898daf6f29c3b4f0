//! Frames encoded once and sent to many connections.

use bytes::{Bytes, BytesMut};

use crate::frame::{FrameHeader, MAX_HEADER_LEN, OpCode};
use crate::message::{MessageKind, Utf8Bytes};

/// A whole message encoded once as an unmasked (server) frame, for broadcast.
///
/// Sending it with [`Connection::send_prepared`](crate::Connection::send_prepared) on any number
/// of server-side connections queues the same shared bytes: no per-connection encoding or copy.
///
/// ```
/// use std::time::Instant;
/// use ws_proto::{Config, Connection, PreparedFrame, Role};
/// let frame = PreparedFrame::text("tick");
/// let now = Instant::now();
/// let mut clients: Vec<Connection> =
///     (0..3).map(|_| Connection::new(Role::Server, Config::default(), now)).collect();
/// for c in &mut clients {
///     c.send_prepared(&frame).unwrap();
///     assert_eq!(c.poll_transmit().unwrap(), frame.encoded());
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedFrame {
    kind: MessageKind,
    payload: Bytes,
    encoded: Bytes,
}

impl PreparedFrame {
    /// Encodes a message of `kind`. For [`MessageKind::Text`] prefer [`PreparedFrame::text`],
    /// which guarantees UTF-8.
    ///
    /// # Panics
    /// If `kind` is text and `payload` is not UTF-8 (sending invalid text would break the
    /// protocol for every receiver).
    pub fn new(kind: MessageKind, payload: impl Into<Bytes>) -> Self {
        let payload = payload.into();
        assert!(
            kind == MessageKind::Binary || simdutf8::basic::from_utf8(&payload).is_ok(),
            "PreparedFrame text payload must be valid UTF-8"
        );
        let opcode = match kind {
            MessageKind::Text => OpCode::Text,
            MessageKind::Binary => OpCode::Binary,
        };
        let mut header = [0u8; MAX_HEADER_LEN];
        let hlen = FrameHeader::new(opcode, payload.len() as u64).encode(&mut header);
        let mut buf = BytesMut::with_capacity(hlen + payload.len());
        buf.extend_from_slice(&header[..hlen]);
        buf.extend_from_slice(&payload);
        PreparedFrame { kind, payload, encoded: buf.freeze() }
    }

    /// A text frame.
    pub fn text(text: impl Into<Utf8Bytes>) -> Self {
        Self::new(MessageKind::Text, text.into().into_bytes())
    }

    /// A binary frame.
    pub fn binary(data: impl Into<Bytes>) -> Self {
        Self::new(MessageKind::Binary, data)
    }

    /// The message kind.
    pub fn kind(&self) -> MessageKind {
        self.kind
    }

    /// The payload.
    pub fn payload(&self) -> &Bytes {
        &self.payload
    }

    /// The encoded unmasked frame, header included.
    pub fn encoded(&self) -> &Bytes {
        &self.encoded
    }
}
