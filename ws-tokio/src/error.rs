//! The adapter's error type: IO, protocol, handshake, TLS and usage errors in one enum.

use core::fmt;
use std::io;

use ws_proto::CloseCode;
use ws_proto::handshake::HandshakeError;

/// Everything that can go wrong on a WebSocket connection driven by this crate.
///
/// A clean close is never an error: [`WebSocket::recv`](crate::WebSocket::recv) returns `None`.
/// An abnormal end (the peer vanished without a Close frame) also ends the stream with `None`;
/// [`WebSocket::close_info`](crate::WebSocket::close_info) tells how it ended.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The transport failed (reset, broken pipe, DNS or connect failure, …).
    Io(io::Error),
    /// The peer broke RFC 6455 or exceeded a configured limit. The matching Close frame has
    /// been queued and is sent before the transport is closed; see [`Error::close_code`].
    Protocol(ws_proto::Error),
    /// The opening handshake failed. On a client, a server's refusal is
    /// [`HandshakeError::Rejected`]; [`Error::status`] gives its HTTP status. On a server, a bad
    /// request was answered with [`HandshakeError::response`] before this was returned.
    Handshake(HandshakeError),
    /// TLS failed (certificate not trusted, handshake failure, …).
    #[cfg(feature = "tls")]
    Tls(rustls::Error),
    /// The application asked for something the connection state forbids (sending after
    /// close, a ping payload over 125 bytes, …). Nothing was sent.
    Usage(ws_proto::UsageError),
    /// The opening handshake (TCP connect, TLS and HTTP upgrade) did not finish within
    /// [`Config::handshake_timeout`](ws_proto::Config::handshake_timeout).
    HandshakeTimeout,
    /// Server side: the accept callback refused the request; the rejection response with this
    /// status was sent.
    Rejected {
        /// The HTTP status sent.
        status: u16,
    },
    /// A `wss://` URL was given but the crate was built without the `tls` feature.
    TlsNotEnabled,
}

impl Error {
    /// The close code this error sent to the peer, for [`Error::Protocol`].
    pub fn close_code(&self) -> Option<CloseCode> {
        match self {
            Error::Protocol(e) => e.close_code(),
            _ => None,
        }
    }

    /// The HTTP status of a failed handshake: the server's status for a refusal seen by a
    /// client, the status we answered with for a bad request or a rejection seen by a server.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Handshake(HandshakeError::Rejected(response)) => Some(response.status),
            Error::Handshake(e) => e.status(),
            Error::Rejected { status } => Some(*status),
            _ => None,
        }
    }

    /// An IO error saying the connection ended before queued data could be written.
    pub(crate) fn unsent() -> Error {
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
            Error::HandshakeTimeout => f.write_str("opening handshake timed out"),
            Error::Rejected { status } => write!(f, "handshake rejected with status {status}"),
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
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    /// Unwraps TLS errors that tokio-rustls reports inside an `io::Error`.
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

impl From<ws_proto::handshake::Refused> for Error {
    fn from(r: ws_proto::handshake::Refused) -> Self {
        match r {
            ws_proto::handshake::Refused::Rejected { status } => Error::Rejected { status },
            ws_proto::handshake::Refused::InvalidAccept(e) => Error::Handshake(e),
        }
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
    use ws_proto::{ProtocolError, UsageError};

    #[test]
    fn codes_and_statuses() {
        let e = Error::from(ws_proto::Error::Protocol(ProtocolError::InvalidUtf8));
        assert_eq!(e.close_code(), Some(CloseCode::INVALID_PAYLOAD));
        assert!(matches!(Error::from(ws_proto::Error::Usage(UsageError::Closed)), Error::Usage(_)));
        assert_eq!(Error::from(HandshakeError::UnsupportedVersion).status(), Some(426));
        assert_eq!(Error::Rejected { status: 403 }.status(), Some(403));
        assert_eq!(Error::HandshakeTimeout.status(), None);
    }

    #[cfg(feature = "tls")]
    #[test]
    fn tls_errors_are_unwrapped_from_io() {
        let io = io::Error::new(io::ErrorKind::InvalidData, rustls::Error::DecryptError);
        assert!(matches!(Error::from(io), Error::Tls(rustls::Error::DecryptError)));
        assert!(matches!(Error::from(io::Error::other("x")), Error::Io(_)));
    }
}
