//! The adapter's error type: IO, protocol, handshake, TLS and usage errors in one enum.

use core::fmt;
use std::io;

use ws_proto::CloseCode;
use ws_proto::handshake::HandshakeError;

/// Everything that can go wrong on a blocking WebSocket.
///
/// A clean close is never an error: [`recv`](crate::WebSocket::recv) returns `None` once the
/// connection is over, and [`close_info`](crate::WebSocket::close_info) tells how it ended.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The transport failed, or a read or write timed out (see [`Error::is_timeout`]).
    ///
    /// A timed-out operation leaves the connection usable: nothing was lost and it can be
    /// retried. Any other IO error ends the connection.
    Io(io::Error),
    /// The peer broke the protocol or exceeded a limit. The Close frame with
    /// [`close_code`](Error::close_code) was sent and the transport closed before this error was
    /// returned.
    Protocol(ws_proto::Error),
    /// The opening handshake failed: a bad request (servers; the matching HTTP error response was
    /// sent), or a response that refused or broke the handshake (clients; see
    /// [`status`](Error::status)).
    Handshake(HandshakeError),
    /// The TLS layer failed (bad certificate, handshake failure, corrupt record).
    #[cfg(feature = "tls")]
    Tls(rustls::Error),
    /// The application asked for something the connection state forbids (e.g. sending after
    /// close). Nothing was sent; the connection is unchanged.
    Usage(ws_proto::UsageError),
    /// The opening handshake did not complete within `Config::handshake_timeout`.
    HandshakeTimeout,
    /// Server side: the `accept_with` callback refused the request; the rejection response was
    /// sent.
    Rejected {
        /// The HTTP status sent.
        status: u16,
    },
    /// A `wss://` URL was given but the crate was built without the `tls` feature.
    TlsNotEnabled,
}

impl Error {
    /// The close code that was sent to the peer because of this error, for protocol and limit
    /// errors.
    pub fn close_code(&self) -> Option<CloseCode> {
        match self {
            Error::Protocol(e) => e.close_code(),
            _ => None,
        }
    }

    /// The HTTP status of a failed handshake: the server's status a client was refused with, the
    /// error status a server answered a bad request with, or the status of a rejection by an
    /// `accept_with` callback.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Handshake(HandshakeError::Rejected(response)) => Some(response.status),
            Error::Handshake(e) => e.status(),
            Error::Rejected { status } => Some(*status),
            _ => None,
        }
    }

    /// True for a read or write that timed out (or would block on a non-blocking stream): the
    /// connection is intact and the operation can be retried.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Io(e) if crate::io::is_timeout(e))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "IO error: {e}"),
            Error::Protocol(e) => write!(f, "WebSocket {e}"),
            Error::Handshake(e) => write!(f, "handshake failed: {e}"),
            #[cfg(feature = "tls")]
            Error::Tls(e) => write!(f, "TLS error: {e}"),
            Error::Usage(e) => write!(f, "{e}"),
            Error::HandshakeTimeout => f.write_str("the opening handshake timed out"),
            Error::Rejected { status } => write!(f, "handshake rejected with status {status}"),
            Error::TlsNotEnabled => f.write_str("wss:// needs the `tls` feature of ws-blocking"),
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
            Error::HandshakeTimeout | Error::Rejected { .. } | Error::TlsNotEnabled => None,
        }
    }
}

impl From<io::Error> for Error {
    /// Keeps TLS failures typed: rustls reports them through `io::Error`s that wrap a
    /// `rustls::Error`, which become [`Error::Tls`].
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

    #[test]
    fn codes_and_statuses() {
        let e = Error::from(ws_proto::Error::Protocol(ws_proto::ProtocolError::InvalidUtf8));
        assert_eq!(e.close_code(), Some(CloseCode::INVALID_PAYLOAD));
        assert!(matches!(
            Error::from(ws_proto::Error::Usage(ws_proto::UsageError::Closed)),
            Error::Usage(ws_proto::UsageError::Closed)
        ));
        assert_eq!(Error::Rejected { status: 403 }.status(), Some(403));
        assert_eq!(Error::Handshake(HandshakeError::InvalidKey).status(), Some(400));
        assert_eq!(Error::HandshakeTimeout.status(), None);
        assert!(Error::from(io::Error::from(io::ErrorKind::TimedOut)).is_timeout());
        assert!(!Error::from(io::Error::from(io::ErrorKind::BrokenPipe)).is_timeout());
    }

    #[cfg(feature = "tls")]
    #[test]
    fn tls_errors_stay_typed() {
        let wrapped = io::Error::new(io::ErrorKind::InvalidData, rustls::Error::DecryptError);
        assert!(matches!(Error::from(wrapped), Error::Tls(rustls::Error::DecryptError)));
    }
}
