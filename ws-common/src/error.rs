//! [`Error`]: one error type for every adapter, sorted by whose fault it is.

use core::fmt;
use std::io;

use ws_proto::CloseCode;
use ws_proto::handshake::HandshakeError;

/// Everything that can go wrong on a WebSocket connection or its opening handshake, in every
/// adapter (`ws-tokio`, `ws-async-std`, `ws-blocking` re-export it).
///
/// A clean close is never an error: receiving returns the peer's `Message::Close` and then
/// `None`. A peer that vanished (end of stream without a Close) also ends with `None`; the
/// connection's `close_info` tells how it ended.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The transport failed (reset, broken pipe, DNS or connect failure, …), or a blocking read
    /// or write timed out ([`is_timeout`](Self::is_timeout); the connection is then intact).
    Io(io::Error),
    /// The peer broke RFC 6455 or exceeded a configured limit. By the time a receive returns
    /// it, the Close frame with [`close_code`](Self::close_code) has been written (or
    /// `close_timeout` gave up on a peer that did not read it) and the write side is shut down:
    /// an application that stops at this error loses nothing.
    Protocol(ws_proto::Error),
    /// The opening handshake failed: a bad request (a server answered it with
    /// [`status`](Self::status) first), a refusal in either role
    /// ([`is_rejection`](Self::is_rejection)), a response that broke the protocol, or the
    /// deadline ([`HandshakeError::Timeout`]).
    Handshake(HandshakeError),
    /// TLS failed (certificate not trusted, handshake failure, bad PEM data, corrupt record).
    #[cfg(feature = "tls")]
    Tls(rustls::Error),
    /// The application asked for something the connection state forbids (sending after close,
    /// a control payload over 125 bytes, …). Nothing was sent; the connection is unchanged.
    Usage(ws_proto::UsageError),
    /// A `wss://` URL was given but the adapter was built without its `tls` feature.
    TlsNotEnabled,
}

impl Error {
    /// The close code sent to the peer because of this error (1002, 1007, 1009), for
    /// [`Error::Protocol`].
    pub fn close_code(&self) -> Option<CloseCode> {
        match self {
            Error::Protocol(e) => e.close_code(),
            _ => None,
        }
    }

    /// The HTTP status of a refused handshake: the server's status a client was refused with,
    /// or the status a server answered a bad or rejected request with.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Handshake(e) => e.status(),
            _ => None,
        }
    }

    /// True if the handshake was refused (by the server's application, or on a server by ours).
    pub fn is_rejection(&self) -> bool {
        matches!(self, Error::Handshake(e) if e.is_rejection())
    }

    /// True for a blocking read or write that timed out (or would block on a non-blocking
    /// stream): the connection is intact and the call can be repeated.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Io(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut))
    }

    /// An IO error saying the connection ended before queued data could be written.
    pub fn unsent() -> Error {
        Error::Io(io::Error::new(
            io::ErrorKind::BrokenPipe,
            "connection closed before queued data was written",
        ))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "io error: {e}"),
            Error::Protocol(e) => write!(f, "websocket {e}"),
            Error::Handshake(e) => write!(f, "handshake failed: {e}"),
            #[cfg(feature = "tls")]
            Error::Tls(e) => write!(f, "tls error: {e}"),
            Error::Usage(e) => write!(f, "{e}"),
            Error::TlsNotEnabled => f.write_str("wss:// needs the `tls` feature"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            Error::Protocol(e) => Some(e),
            Error::Handshake(e) => Some(e),
            #[cfg(feature = "tls")]
            Error::Tls(e) => Some(e),
            Error::Usage(e) => Some(e),
            Error::TlsNotEnabled => None,
        }
    }
}

impl From<io::Error> for Error {
    /// Unwraps the TLS errors that rustls streams (std, tokio-rustls, futures-rustls) report
    /// inside an `io::Error`.
    fn from(e: io::Error) -> Self {
        #[cfg(feature = "tls")]
        if let Some(tls) = e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
            return Error::Tls(tls.clone());
        }
        Error::Io(e)
    }
}

impl From<ws_proto::Error> for Error {
    fn from(e: ws_proto::Error) -> Self {
        match e {
            ws_proto::Error::Usage(u) => Error::Usage(u),
            other => Error::Protocol(other),
        }
    }
}

impl From<ws_proto::UsageError> for Error {
    fn from(e: ws_proto::UsageError) -> Self {
        Error::Usage(e)
    }
}

impl From<HandshakeError> for Error {
    fn from(e: HandshakeError) -> Self {
        Error::Handshake(e)
    }
}

#[cfg(feature = "tls")]
impl From<rustls::Error> for Error {
    fn from(e: rustls::Error) -> Self {
        Error::Tls(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ws_proto::handshake::{Handshake, Rejection};
    use ws_proto::{ProtocolError, UsageError};

    #[test]
    fn codes_statuses_and_rejections() {
        let e = Error::from(ws_proto::Error::Protocol(ProtocolError::InvalidUtf8));
        assert_eq!(e.close_code(), Some(CloseCode::INVALID_PAYLOAD));
        assert!(matches!(Error::from(ws_proto::Error::Usage(UsageError::Closed)), Error::Usage(_)));
        assert_eq!(Error::from(HandshakeError::UnsupportedVersion).status(), Some(426));
        assert!(!Error::from(HandshakeError::UnsupportedVersion).is_rejection());
        assert_eq!(Error::from(HandshakeError::Timeout).status(), None);
        // One shape for a refusal in both roles: a server's own rejection looks like a client's.
        let now = std::time::Instant::now();
        let mut hs = ws_proto::handshake::ServerHandshake::new(Default::default(), now);
        hs.handle_data(
            now,
            b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        );
        hs.reject(now, Rejection::new(403));
        hs.handle_write_shutdown(now);
        hs.handle_eof(now);
        let e = Error::from(hs.finish().unwrap_err());
        assert!(e.is_rejection());
        assert_eq!(e.status(), Some(403));
        assert!(Error::Io(io::ErrorKind::TimedOut.into()).is_timeout());
    }

    #[cfg(feature = "tls")]
    #[test]
    fn tls_errors_are_unwrapped_from_io() {
        let io = io::Error::new(io::ErrorKind::InvalidData, rustls::Error::DecryptError);
        assert!(matches!(Error::from(io), Error::Tls(rustls::Error::DecryptError)));
        assert!(matches!(Error::from(io::Error::other("x")), Error::Io(_)));
    }
}
