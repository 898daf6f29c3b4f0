//! The opening handshake (RFC 6455 §4), as pure functions and small state machines over bytes.
//!
//! * The drivers: [`ServerHandshake`] and [`ClientHandshake`] run a whole handshake, deadline,
//!   refusals and all, and end with a [`Connection`](crate::Connection). Every adapter uses
//!   them, and so can any event loop: see their docs for the loop.
//! * The parts they are made of: a client builds a request with [`ClientRequest`] and feeds the
//!   response to the returned [`ResponseParser`] until it yields a [`Response`]; a server feeds
//!   the request to a [`RequestParser`] until it yields a [`Request`], and answers with
//!   [`Request::accept_response`] or a [`Rejection`] (or [`HandshakeError::response`] when the
//!   request itself was bad).
//!
//! Both parsers buffer at most [`HandshakeLimits::max_bytes`], scan each byte for the end of the
//! header block once (no quadratic re-parsing), and hand back the bytes that followed the header
//! block: they belong to the WebSocket connection.
//!
//! Frameworks that perform the HTTP upgrade themselves (hyper, axum, HTTP/2 extended CONNECT)
//! skip this module and create a [`Connection`](crate::Connection) directly.

mod client;
mod drive_client;
mod drive_server;
mod error;
mod headers;
mod request_start;
mod server;
mod url;

pub use client::{ClientRequest, Response, ResponseParser};
pub use drive_client::ClientHandshake;
pub use drive_server::ServerHandshake;
pub use error::HandshakeError;
pub use headers::{ExtensionOffer, Headers, parse_extensions};
pub use request_start::RequestStart;
pub use server::{Accept, Rejection, Request, RequestParser, reject};

pub use url::WsUrl;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha1::{Digest, Sha1};

use std::time::Instant;

use crate::rng::RandomSource;

/// What a handshake driver asks for next, after the bytes of its `transmit()` are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandshakeStep {
    /// Read from the transport and feed what arrives (`handle_data`, or `handle_eof` at the end
    /// of the stream); call `handle_timeout` when `poll_timeout()` passes.
    Read,
    /// (Server) The request is complete: decide on it with `respond`.
    Decide,
    /// (Server, after a refusal) Shut down the write side, then call `handle_write_shutdown`.
    Shutdown,
    /// The connection is ready: `finish()`.
    Done,
    /// The handshake failed: `finish()` tells why; close the transport.
    Failed,
}

/// The IO side of a handshake driver, the same for [`ServerHandshake`] and [`ClientHandshake`],
/// so one loop can drive either: write [`transmit`](Self::transmit), then do what
/// [`step`](Self::step) asks, and call [`handle_timeout`](Self::handle_timeout) when
/// [`poll_timeout`](Self::poll_timeout) passes.
pub trait Handshake {
    /// Bytes to write now, before anything else.
    fn transmit(&self) -> &[u8];

    /// Marks `n` bytes of [`transmit`](Self::transmit) as written.
    ///
    /// # Panics
    /// If `n` exceeds what `transmit` holds: that is a bug in the adapter.
    fn advance_transmit(&mut self, n: usize);

    /// What to do next (after writing [`transmit`](Self::transmit)).
    fn step(&self) -> HandshakeStep;

    /// The deadline: call [`handle_timeout`](Self::handle_timeout) when it passes.
    fn poll_timeout(&self) -> Option<Instant>;

    /// Feeds received bytes. Once the step is `Done` (a loop that read once more before it
    /// looked), they go to the connection `finish()` returns, as the bytes that followed the
    /// handshake did: nothing is lost.
    fn handle_data(&mut self, now: Instant, data: &[u8]);

    /// The peer closed its side, or the transport failed, before the handshake finished
    /// (once the step is `Done`: the connection's end of stream, after what it received).
    fn handle_eof(&mut self, now: Instant);

    /// Runs the deadline: past it, the handshake fails with [`HandshakeError::Timeout`].
    fn handle_timeout(&mut self, now: Instant);

    /// Declares that the write side was shut down, as [`HandshakeStep::Shutdown`] asked.
    fn handle_write_shutdown(&mut self, now: Instant);
}

/// What the opening handshake negotiated: pass it to
/// [`Connection::with_negotiated`](crate::Connection::with_negotiated).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Negotiated {
    /// The subprotocol both ends agreed on.
    pub protocol: Option<String>,
    /// permessage-deflate parameters, if compression was agreed.
    #[cfg(feature = "deflate")]
    pub deflate: Option<crate::deflate::DeflateParams>,
}

/// The GUID of RFC 6455 §1.3, appended to the key before hashing.
const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Limits on a handshake's header block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct HandshakeLimits {
    /// Largest header block, request or status line included (default 16 KiB). Longer is
    /// refused with 431 (server) or an error (client) instead of being buffered.
    pub max_bytes: usize,
    /// Most header fields (default 64).
    pub max_headers: usize,
}

impl Default for HandshakeLimits {
    fn default() -> Self {
        HandshakeLimits { max_bytes: 16 << 10, max_headers: 64 }
    }
}

/// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`: base64(SHA-1(key ‖ GUID)).
///
/// ```
/// // RFC 6455 §1.3
/// assert_eq!(
///     ws_proto::handshake::derive_accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
///     "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
/// );
/// ```
pub fn derive_accept_key(key: &[u8]) -> String {
    let mut sha = Sha1::new();
    sha.update(key);
    sha.update(GUID);
    BASE64.encode(sha.finalize())
}

/// A fresh `Sec-WebSocket-Key`: 16 random bytes, base64-encoded.
pub fn generate_key(rng: &mut dyn RandomSource) -> String {
    let mut nonce = [0u8; 16];
    rng.fill(&mut nonce);
    BASE64.encode(nonce)
}

/// True if `key` is a valid `Sec-WebSocket-Key`: base64 of exactly 16 bytes.
pub(crate) fn is_valid_key(key: &[u8]) -> bool {
    key.len() == 24 && BASE64.decode(key).is_ok_and(|k| k.len() == 16)
}

/// Collects a header block incrementally: each byte is scanned once for the terminating blank
/// line, and nothing is parsed until it is found.
#[derive(Debug)]
pub(crate) struct HeaderBuffer {
    buf: Vec<u8>,
    /// Bytes already scanned for the terminator.
    scanned: usize,
    /// Length of the header block including the blank line, once found.
    end: Option<usize>,
    limits: HandshakeLimits,
    /// Total bytes examined by the scanner (for tests proving linear work).
    work: u64,
}

impl HeaderBuffer {
    pub(crate) fn new(limits: HandshakeLimits) -> Self {
        HeaderBuffer { buf: Vec::new(), scanned: 0, end: None, limits, work: 0 }
    }

    /// Appends `data`; returns the complete header block once its end has arrived.
    pub(crate) fn feed(&mut self, data: &[u8]) -> Result<Option<&[u8]>, HandshakeError> {
        if let Some(end) = self.end {
            self.buf.extend_from_slice(data);
            return Ok(Some(&self.buf[..end]));
        }
        // Copy only what fits the limit until the terminator is found: a huge chunk without
        // one is refused without being buffered.
        let take = data.len().min(self.limits.max_bytes.saturating_sub(self.buf.len()));
        self.buf.extend_from_slice(&data[..take]);
        let from = self.scanned.saturating_sub(3);
        let found = self.buf[from..].windows(4).position(|w| w == b"\r\n\r\n");
        self.work += (self.buf.len() - from) as u64;
        match found {
            Some(i) => {
                let end = from + i + 4;
                self.buf.extend_from_slice(&data[take..]);
                self.end = Some(end);
                Ok(Some(&self.buf[..end]))
            }
            None if take < data.len() || self.buf.len() >= self.limits.max_bytes => {
                Err(HandshakeError::HeadersTooLarge)
            }
            None => {
                self.scanned = self.buf.len();
                Ok(None)
            }
        }
    }

    /// The bytes after the header block.
    pub(crate) fn take_remaining(&mut self) -> Vec<u8> {
        match self.end {
            Some(end) => self.buf.split_off(end),
            None => Vec::new(),
        }
    }

    pub(crate) fn work(&self) -> u64 {
        self.work
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_accept_example() {
        assert_eq!(derive_accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert!(is_valid_key(b"dGhlIHNhbXBsZSBub25jZQ=="));
        assert!(!is_valid_key(b"dGhlIHNhbXBsZSBub25jZQ"));
        assert!(!is_valid_key(b"AAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
    }

    #[test]
    fn header_buffer_scans_each_byte_once() {
        let mut hb = HeaderBuffer::new(HandshakeLimits::default());
        let block = b"GET / HTTP/1.1\r\nHost: x\r\n\r\nrest";
        let mut done = false;
        for b in block.iter() {
            if hb.feed(std::slice::from_ref(b)).unwrap().is_some() {
                done = true;
                break;
            }
        }
        assert!(done);
        assert!(hb.work() <= 4 * block.len() as u64);
    }

    #[test]
    fn header_buffer_limit() {
        let mut hb = HeaderBuffer::new(HandshakeLimits { max_bytes: 32, max_headers: 8 });
        assert_eq!(hb.feed(&[b'a'; 33]), Err(HandshakeError::HeadersTooLarge));
    }
}
