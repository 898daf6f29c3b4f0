//! Handshake errors.

use core::fmt;

use super::client::Response;
use super::server::reject;

/// Why an opening handshake failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The header block exceeded [`HandshakeLimits::max_bytes`](super::HandshakeLimits).
    HeadersTooLarge,
    /// More header fields than [`HandshakeLimits::max_headers`](super::HandshakeLimits).
    TooManyHeaders,
    /// Not parseable as HTTP/1.1.
    MalformedHttp,
    /// The first byte was a TLS handshake record (`0x16`): a `wss://` client on a plain port.
    /// It has no HTTP response: the connection is closed.
    NotHttp,
    /// The request method was not GET.
    MethodNotAllowed,
    /// HTTP/1.0 (or another version below 1.1).
    UnsupportedHttpVersion,
    /// No (or more than one) `Host` header.
    MissingHost,
    /// No `Upgrade: websocket`.
    MissingUpgrade,
    /// No `upgrade` token in `Connection`.
    MissingConnectionUpgrade,
    /// `Sec-WebSocket-Key` missing, repeated or not base64 of 16 bytes.
    InvalidKey,
    /// `Sec-WebSocket-Version` missing or not 13 (answered with 426 and
    /// `Sec-WebSocket-Version: 13`).
    UnsupportedVersion,
    /// The handshake was refused: a client got a status other than 101 (the response head is
    /// kept; its body, if any, starts in the handshake's remaining bytes), or a server's
    /// application rejected the request (the head of the response it sent). Either way
    /// [`status`](Self::status) is the HTTP status and [`is_rejection`](Self::is_rejection)
    /// holds.
    Rejected(Box<Response>),
    /// `Sec-WebSocket-Accept` missing or not derived from our key.
    InvalidAccept,
    /// The server chose a subprotocol we did not offer (or several).
    UnexpectedProtocol,
    /// The server enabled an extension we did not offer, or with parameters we cannot accept.
    UnexpectedExtension,
    /// A header name or value we were asked to send is invalid (e.g. contains CR or LF).
    InvalidHeader,
    /// The server tried to select a subprotocol the client did not offer.
    ProtocolNotOffered,
    /// The URL is not a valid `ws://` or `wss://` URL.
    InvalidUrl,
    /// The handshake did not finish within
    /// [`Config::handshake_timeout`](crate::Config::handshake_timeout).
    Timeout,
    /// The peer closed the connection before the handshake was complete.
    ConnectionClosed,
    /// A handshake driver was asked for its result before it had one (an adapter bug).
    Incomplete,
}

impl HandshakeError {
    /// The HTTP status of the refusal: the one a server answers a request error with, or the
    /// one of a [`Rejected`](Self::Rejected) handshake (either role).
    pub fn status(&self) -> Option<u16> {
        Some(match self {
            HandshakeError::Rejected(response) => response.status,
            HandshakeError::HeadersTooLarge | HandshakeError::TooManyHeaders => 431,
            HandshakeError::MethodNotAllowed => 405,
            HandshakeError::UnsupportedHttpVersion => 505,
            HandshakeError::UnsupportedVersion => 426,
            HandshakeError::MalformedHttp
            | HandshakeError::MissingHost
            | HandshakeError::MissingUpgrade
            | HandshakeError::MissingConnectionUpgrade
            | HandshakeError::InvalidKey => 400,
            _ => return None,
        })
    }

    /// True if the handshake was refused by the other end's application (or by ours, on a
    /// server): [`Rejected`](Self::Rejected).
    pub fn is_rejection(&self) -> bool {
        matches!(self, HandshakeError::Rejected(_))
    }

    /// The complete HTTP response a server sends for this request error (status, the headers
    /// RFC 6455 asks for, a short plain-text body), or `None` for other errors.
    pub fn response(&self) -> Option<Vec<u8>> {
        if self.is_rejection() {
            return None;
        }
        let status = self.status()?;
        let mut headers: Vec<(&str, &str)> = Vec::new();
        match self {
            HandshakeError::UnsupportedVersion => headers.push(("Sec-WebSocket-Version", "13")),
            HandshakeError::MethodNotAllowed => headers.push(("Allow", "GET")),
            _ => {}
        }
        let body = format!("{self}\n");
        Some(reject(status, &headers, body.as_bytes()))
    }
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandshakeError::HeadersTooLarge => f.write_str("handshake headers too large"),
            HandshakeError::TooManyHeaders => f.write_str("too many handshake headers"),
            HandshakeError::MalformedHttp => f.write_str("malformed HTTP"),
            HandshakeError::NotHttp => f.write_str("not HTTP (a TLS handshake on a plain port?)"),
            HandshakeError::MethodNotAllowed => f.write_str("method must be GET"),
            HandshakeError::UnsupportedHttpVersion => f.write_str("HTTP/1.1 or later required"),
            HandshakeError::MissingHost => f.write_str("missing or repeated Host header"),
            HandshakeError::MissingUpgrade => f.write_str("missing Upgrade: websocket"),
            HandshakeError::MissingConnectionUpgrade => f.write_str("missing Connection: upgrade"),
            HandshakeError::InvalidKey => f.write_str("missing or invalid Sec-WebSocket-Key"),
            HandshakeError::UnsupportedVersion => f.write_str("Sec-WebSocket-Version must be 13"),
            HandshakeError::Rejected(r) => write!(f, "handshake rejected with status {}", r.status),
            HandshakeError::InvalidAccept => f.write_str("invalid Sec-WebSocket-Accept"),
            HandshakeError::UnexpectedProtocol => {
                f.write_str("server chose an unoffered subprotocol")
            }
            HandshakeError::UnexpectedExtension => {
                f.write_str("server enabled an unoffered or unacceptable extension")
            }
            HandshakeError::InvalidHeader => f.write_str("invalid header name or value"),
            HandshakeError::ProtocolNotOffered => {
                f.write_str("selected subprotocol was not offered by the client")
            }
            HandshakeError::InvalidUrl => f.write_str("invalid ws:// or wss:// URL"),
            HandshakeError::Timeout => f.write_str("opening handshake timed out"),
            HandshakeError::ConnectionClosed => {
                f.write_str("connection closed during the opening handshake")
            }
            HandshakeError::Incomplete => f.write_str("the handshake is not finished"),
        }
    }
}

impl std::error::Error for HandshakeError {}
