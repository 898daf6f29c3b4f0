//! Whole messages: the [`Message`] type, payload conversions and the IO-free [`MessageAssembler`].

use core::fmt;

use bytes::{Bytes, BytesMut};

use crate::close::CloseFrame;
use crate::event::Event;

/// The two kinds of data message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MessageKind {
    /// UTF-8 text.
    Text,
    /// Arbitrary bytes.
    #[default]
    Binary,
}

/// Whether to compress an outgoing message (with permessage-deflate negotiated).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// Compress when the message is at least `DeflateConfig::min_size` bytes (the default
    /// policy of `send_text` and `send_binary`).
    #[default]
    Auto,
    /// Compress whatever the size.
    Always,
    /// Send uncompressed (e.g. data that is already compressed).
    Never,
}

/// Bytes that are guaranteed to be valid UTF-8: a cheaply clonable, zero-copy string.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Utf8Bytes(Bytes);

impl Utf8Bytes {
    /// An empty string.
    pub const fn new() -> Self {
        Utf8Bytes(Bytes::new())
    }

    /// A `'static` string without copying.
    pub const fn from_static(s: &'static str) -> Self {
        Utf8Bytes(Bytes::from_static(s.as_bytes()))
    }

    /// Wraps bytes already known to be valid UTF-8 (validated by the connection).
    pub(crate) fn from_validated(bytes: Bytes) -> Self {
        debug_assert!(std::str::from_utf8(&bytes).is_ok());
        Utf8Bytes(bytes)
    }

    /// The text. (Re-checked with SIMD validation; the core forbids `unsafe`.)
    pub fn as_str(&self) -> &str {
        simdutf8::basic::from_utf8(&self.0).unwrap_or_default()
    }

    /// The underlying bytes.
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }

    /// The underlying bytes, by value.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True if empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl TryFrom<Bytes> for Utf8Bytes {
    type Error = std::str::Utf8Error;
    fn try_from(bytes: Bytes) -> Result<Self, Self::Error> {
        std::str::from_utf8(&bytes)?;
        Ok(Utf8Bytes(bytes))
    }
}

impl From<String> for Utf8Bytes {
    fn from(s: String) -> Self {
        Utf8Bytes(Bytes::from(s))
    }
}

impl From<&str> for Utf8Bytes {
    fn from(s: &str) -> Self {
        Utf8Bytes(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl From<Utf8Bytes> for Bytes {
    fn from(s: Utf8Bytes) -> Self {
        s.0
    }
}

impl AsRef<str> for Utf8Bytes {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq<str> for Utf8Bytes {
    fn eq(&self, other: &str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl PartialEq<&str> for Utf8Bytes {
    fn eq(&self, other: &&str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl fmt::Debug for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A payload to send: borrowed (copied into the transmit buffer) or shared (`Bytes`, queued
/// without copying where the role allows).
#[derive(Debug, Clone)]
pub enum Payload<'a> {
    /// Borrowed bytes; copied when queued.
    Borrowed(&'a [u8]),
    /// Shared bytes; a server queues large ones without copying.
    Shared(Bytes),
}

impl Payload<'_> {
    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        match self {
            Payload::Borrowed(b) => b,
            Payload::Shared(b) => b,
        }
    }
}

impl<'a> From<&'a [u8]> for Payload<'a> {
    fn from(b: &'a [u8]) -> Self {
        Payload::Borrowed(b)
    }
}

impl<'a, const N: usize> From<&'a [u8; N]> for Payload<'a> {
    fn from(b: &'a [u8; N]) -> Self {
        Payload::Borrowed(b)
    }
}

impl<'a> From<&'a Vec<u8>> for Payload<'a> {
    fn from(b: &'a Vec<u8>) -> Self {
        Payload::Borrowed(b)
    }
}

impl From<Vec<u8>> for Payload<'_> {
    fn from(b: Vec<u8>) -> Self {
        Payload::Shared(b.into())
    }
}

impl<'a> From<&'a str> for Payload<'a> {
    fn from(s: &'a str) -> Self {
        Payload::Borrowed(s.as_bytes())
    }
}

impl From<String> for Payload<'_> {
    fn from(s: String) -> Self {
        Payload::Shared(s.into())
    }
}

impl From<Utf8Bytes> for Payload<'_> {
    fn from(s: Utf8Bytes) -> Self {
        Payload::Shared(s.0)
    }
}

impl From<Bytes> for Payload<'_> {
    fn from(b: Bytes) -> Self {
        Payload::Shared(b)
    }
}

/// A text payload to send: anything that is already a string.
#[derive(Debug, Clone)]
pub struct TextPayload<'a>(pub(crate) Payload<'a>);

impl<'a> From<&'a str> for TextPayload<'a> {
    fn from(s: &'a str) -> Self {
        TextPayload(Payload::Borrowed(s.as_bytes()))
    }
}

impl<'a> From<&'a String> for TextPayload<'a> {
    fn from(s: &'a String) -> Self {
        TextPayload(Payload::Borrowed(s.as_bytes()))
    }
}

impl From<String> for TextPayload<'_> {
    fn from(s: String) -> Self {
        TextPayload(Payload::Shared(s.into()))
    }
}

impl From<Utf8Bytes> for TextPayload<'_> {
    fn from(s: Utf8Bytes) -> Self {
        TextPayload(Payload::Shared(s.0))
    }
}

/// A whole message, as adapters hand them to applications.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message.
    Text(Utf8Bytes),
    /// A binary message.
    Binary(Bytes),
    /// A Ping (already answered when `auto_pong` is on).
    Ping(Bytes),
    /// A Pong.
    Pong(Bytes),
    /// The peer's Close frame (`None`: no status code). The reply is already queued.
    Close(Option<CloseFrame>),
}

impl Message {
    /// A text message.
    pub fn text(s: impl Into<Utf8Bytes>) -> Self {
        Message::Text(s.into())
    }

    /// A binary message.
    pub fn binary(b: impl Into<Bytes>) -> Self {
        Message::Binary(b.into())
    }

    /// True for Text and Binary.
    pub fn is_data(&self) -> bool {
        matches!(self, Message::Text(_) | Message::Binary(_))
    }
}

/// Joins [`Event::Data`] fragments into whole [`Message`]s. It needs no IO and no connection:
/// feed it a connection's events, get messages.
///
/// It enforces no limit of its own: the [`Connection`](crate::Connection) it is fed from has
/// already refused (with 1009, when the frame header arrived or while inflating) any message
/// over `max_message_size`, so what it joins is bounded by that one limit.
///
/// A message that arrived in one frame is passed through without copying; fragmented messages
/// are copied once into a buffer that grows only as fragments arrive.
///
/// ```
/// use ws_proto::{Event, Message, MessageAssembler, MessageKind};
/// use bytes::Bytes;
/// let mut asm = MessageAssembler::new();
/// let frag = |p: &'static str, first, fin| Event::Data {
///     kind: MessageKind::Text, payload: Bytes::from_static(p.as_bytes()), first, fin,
/// };
/// assert_eq!(asm.push(frag("Hel", true, false)), None);
/// assert_eq!(asm.push(frag("lo", false, true)), Some(Message::text("Hello")));
/// ```
#[derive(Debug, Default)]
pub struct MessageAssembler {
    kind: MessageKind,
    first: Option<Bytes>,
    buf: BytesMut,
}

impl MessageAssembler {
    /// An empty assembler.
    pub fn new() -> Self {
        MessageAssembler::default()
    }

    /// True while a fragmented message is partly assembled.
    pub fn in_progress(&self) -> bool {
        self.first.is_some() || !self.buf.is_empty()
    }

    /// Feeds one event. Returns a message when one is complete; `None` for a fragment that
    /// does not end its message and for [`Event::Closed`], which has no message form.
    ///
    /// Text is trusted to be valid UTF-8 as a whole: the connection validated it.
    #[inline]
    pub fn push(&mut self, event: Event) -> Option<Message> {
        match event {
            Event::Data { kind, payload, first, fin } => self.push_data(kind, payload, first, fin),
            Event::Ping(p) => Some(Message::Ping(p)),
            Event::Pong(p) => Some(Message::Pong(p)),
            Event::CloseReceived(f) => Some(Message::Close(f)),
            Event::Closed(_) => None,
        }
    }

    #[inline]
    fn push_data(
        &mut self,
        kind: MessageKind,
        payload: Bytes,
        first: bool,
        fin: bool,
    ) -> Option<Message> {
        if first && fin && self.first.is_none() && self.buf.is_empty() {
            // The common case: a whole message in one frame, passed through.
            return Some(Self::message(kind, payload));
        }
        self.push_fragment(kind, payload, first, fin)
    }

    fn push_fragment(
        &mut self,
        kind: MessageKind,
        payload: Bytes,
        first: bool,
        fin: bool,
    ) -> Option<Message> {
        if first {
            self.first = None;
            self.buf.clear();
            self.kind = kind;
        }
        let whole = if first && fin {
            payload
        } else {
            if let Some(f) = self.first.take() {
                self.buf.reserve(f.len() + payload.len());
                self.buf.extend_from_slice(&f);
            }
            if self.buf.is_empty() && !fin {
                // Keep the first fragment without copying until a second one arrives.
                self.first = Some(payload);
                return None;
            }
            self.buf.extend_from_slice(&payload);
            if !fin {
                return None;
            }
            std::mem::take(&mut self.buf).freeze()
        };
        Some(Self::message(self.kind, whole))
    }

    fn message(kind: MessageKind, payload: Bytes) -> Message {
        match kind {
            MessageKind::Text => Message::Text(Utf8Bytes::from_validated(payload)),
            MessageKind::Binary => Message::Binary(payload),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(p: &[u8], first: bool, fin: bool) -> Event {
        Event::Data { kind: MessageKind::Binary, payload: Bytes::copy_from_slice(p), first, fin }
    }

    #[test]
    fn assembles() {
        let mut a = MessageAssembler::new();
        assert_eq!(a.push(data(b"ab", true, false)), None);
        assert!(a.in_progress());
        assert_eq!(a.push(data(b"cd", false, false)), None);
        assert_eq!(a.push(data(b"e", false, true)), Some(Message::binary(&b"abcde"[..])));
        assert!(!a.in_progress());
        assert_eq!(a.push(data(b"abc", true, false)), None);
        // A new message abandons the unfinished one (the connection never does that).
        assert_eq!(a.push(data(b"xy", true, true)), Some(Message::binary(&b"xy"[..])));
        assert_eq!(a.push(data(b"", true, true)), Some(Message::binary(Bytes::new())));
    }

    #[test]
    fn single_frame_is_zero_copy() {
        let payload = Bytes::from_static(b"static");
        let mut a = MessageAssembler::new();
        let Some(Message::Binary(out)) = a.push(data(b"", true, true)) else { panic!() };
        assert!(out.is_empty());
        let ev = Event::Data {
            kind: MessageKind::Binary,
            payload: payload.clone(),
            first: true,
            fin: true,
        };
        let Some(Message::Binary(out)) = a.push(ev) else { panic!() };
        assert_eq!(out.as_ptr(), payload.as_ptr());
    }
}
