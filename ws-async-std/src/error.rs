//! The adapter's error type.

use core::fmt;
use std::io;

use ws_proto::handshake::HandshakeError;
use ws_proto::{CloseCode, UsageError};

/// Anything that can go wrong on a WebSocket connection or during its opening handshake.
///
/// A clean close is never an error: [`recv`](crate::WebSocket::recv) returns the peer's
/// [`Message::Close`](crate::Message::Close) and then `None`.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The transport failed (connection reset, broken pipe, DNS failure, …).
    Io(io::Error),
    /// The peer broke the protocol or exceeded a configured limit. The Close frame with
    /// [`close_code`](Self::close_code) was sent and the transport closed before this error was
    /// returned.
    Protocol(ws_proto::Error),
    /// The opening handshake failed: a malformed or hostile request (server side, answered with
    /// the matching HTTP status before the error is returned) or an unacceptable response (client
    /// side; a server's refusal is [`HandshakeError::Rejected`], see [`status`](Self::status)).
    Handshake(HandshakeError),
    /// TLS failed (certificate not trusted, handshake failure, bad PEM data, …).
    #[cfg(feature = "tls")]
    Tls(rustls::Error),
    /// The application asked for something the connection state forbids (sending after close,
    /// a control payload over 125 bytes, …). Nothing was sent.
    Usage(UsageError),
    /// The opening handshake (TLS included where the helpers run it) did not complete within
    /// `Config::handshake_timeout`; the connection was dropped.
    HandshakeTimeout,
    /// Server side: the `accept_with` callback refused the request, and the refusal (this status,
    /// its headers and body) was sent to the client.
    Rejected {
        /// The HTTP status that was sent.
        status: u16,
    },
    /// A `wss://` URL was given but the crate was built without the `tls` feature.
    TlsNotEnabled,
}

impl Error {
    /// The close code sent to the peer for a protocol or limit error (1002, 1007, 1009, …).
    pub fn close_code(&self) -> Option<CloseCode> {
        match self {
            Error::Protocol(e) => e.close_code(),
            _ => None,
        }
    }

    /// The HTTP status of a failed handshake: the server's status when it refused our request
    /// (client side), or the status we answered a bad or refused request with (server side).
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Handshake(HandshakeError::Rejected(response)) => Some(response.status),
            Error::Handshake(e) => e.status(),
            Error::Rejected { status } => Some(*status),
            _ => None,
        }
    }

    /// Wraps an IO error, unwrapping the TLS error that `futures-rustls` reports inside one.
    pub(crate) fn from_io(e: io::Error) -> Error {
        #[cfg(feature = "tls")]
        if e.get_ref().is_some_and(|inner| inner.is::<rustls::Error>()) {
            if let Some(inner) = e.into_inner() {
                if let Ok(tls) = inner.downcast::<rustls::Error>() {
                    return Error::Tls(*tls);
                }
            }
            return Error::Io(io::Error::other("TLS error"));
        }
        Error::Io(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "IO error: {e}"),
            Error::Protocol(e) => write!(f, "{e}"),
            Error::Handshake(e) => write!(f, "handshake failed: {e}"),
            #[cfg(feature = "tls")]
            Error::Tls(e) => write!(f, "TLS error: {e}"),
            Error::Usage(e) => write!(f, "usage error: {e}"),
            Error::HandshakeTimeout => f.write_str("opening handshake timed out"),
            Error::Rejected { status } => write!(f, "handshake refused with status {status}"),
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
            Error::HandshakeTimeout | Error::Rejected { .. } | Error::TlsNotEnabled => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::from_io(e)
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

impl From<UsageError> for Error {
    fn from(e: UsageError) -> Self {
        Error::Usage(e)
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
        assert_eq!(e.status(), None);
        let e = Error::from(ws_proto::Error::Usage(UsageError::Closed));
        assert!(matches!(e, Error::Usage(UsageError::Closed)));
        assert_eq!(Error::Rejected { status: 403 }.status(), Some(403));
        assert_eq!(Error::Handshake(HandshakeError::InvalidKey).status(), Some(400));
        assert_eq!(Error::HandshakeTimeout.close_code(), None);
    }

    #[cfg(feature = "tls")]
    #[test]
    fn tls_errors_are_unwrapped_from_io() {
        let io = io::Error::new(io::ErrorKind::InvalidData, rustls::Error::DecryptError);
        assert!(matches!(Error::from(io), Error::Tls(rustls::Error::DecryptError)));
        let plain = io::Error::new(io::ErrorKind::ConnectionReset, "reset");
        assert!(
            matches!(Error::from(plain), Error::Io(e) if e.kind() == io::ErrorKind::ConnectionReset)
        );
    }
}
