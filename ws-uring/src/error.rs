//! The errors: io_uring unavailable, an IO failure outside any one connection, and (client)
//! why a connection could not be opened.

use std::fmt;
use std::io;

/// Why a [`Server`](crate::Server) or [`Client`](crate::Client) could not start or stopped,
/// or why a client connection could not be opened.
///
/// Errors of an open connection (a peer's protocol violation, a reset) never end the server
/// or client: they end that connection, and the handler hears of them through
/// [`Handler::on_close`](crate::Handler::on_close). A client connection that never opened
/// (refused, timed out, handshake refused) reaches
/// [`Handler::on_connect_failed`](crate::Handler::on_connect_failed) with `Io` or `Handshake`.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// io_uring cannot be used here: not Linux, a kernel without io_uring or without a feature
    /// this server needs (provided buffer rings, Linux 5.19), io_uring disabled
    /// (`kernel.io_uring_disabled`) or refused by a seccomp filter (containers often refuse
    /// `io_uring_setup` with `EPERM` or `ENOSYS`). The message says which; the source, if
    /// any, is the kernel's error.
    Unsupported {
        /// What is missing.
        reason: String,
        /// The kernel's error, if there was one.
        source: Option<io::Error>,
    },
    /// Binding the listener, starting a thread or running the ring failed; or (client)
    /// resolving the host or connecting failed (`ConnectionRefused`, ...).
    Io(io::Error),
    /// (Client) The opening handshake failed: an invalid URL (before any IO), a refused
    /// upgrade ([`HandshakeError::status`](ws_proto::handshake::HandshakeError::status) is the
    /// server's HTTP status), a bad response, or no response within `Config::handshake_timeout`
    /// (which bounds connecting and the handshake together).
    Handshake(ws_proto::handshake::HandshakeError),
    /// (Client) A `wss://` URL: ws-uring has no TLS. Use an adapter with TLS (ws-tokio,
    /// ws-blocking) for `wss://`, or terminate TLS in front of the server.
    TlsUnsupported,
}

impl Error {
    /// True for [`Error::Unsupported`]: io_uring is not usable on this system (tests and
    /// applications may fall back to another adapter).
    pub fn is_unsupported(&self) -> bool {
        matches!(self, Error::Unsupported { .. })
    }

    /// Classifies an error from setting a ring up: the kernel refusing io_uring is
    /// `Unsupported`, anything else is `Io`.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    pub(crate) fn from_setup(e: io::Error) -> Error {
        let refused = matches!(
            e.raw_os_error(),
            Some(code) if code == ENOSYS || code == EPERM || code == EACCES || code == EINVAL
        ) || e.kind() == io::ErrorKind::Unsupported;
        if refused {
            Error::Unsupported {
                reason: format!(
                    "io_uring is unavailable here (the kernel refused to set a ring up: {e}); \
                     it needs Linux 5.19 or later, io_uring enabled (sysctl \
                     kernel.io_uring_disabled=0) and no seccomp filter refusing io_uring_setup"
                ),
                source: Some(e),
            }
        } else {
            Error::Io(e)
        }
    }
}

const EPERM: i32 = 1;
const EACCES: i32 = 13;
const EINVAL: i32 = 22;
const ENOSYS: i32 = 38;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Unsupported { reason, .. } => write!(f, "io_uring unsupported: {reason}"),
            Error::Io(e) => write!(f, "io error: {e}"),
            Error::Handshake(e) => write!(f, "handshake failed: {e}"),
            Error::TlsUnsupported => f.write_str(
                "wss:// is not supported: ws-uring has no TLS (use ws:// or a TLS adapter)",
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Unsupported { source, .. } => source.as_ref().map(|e| e as _),
            Error::Io(e) => Some(e),
            Error::Handshake(e) => Some(e),
            Error::TlsUnsupported => None,
        }
    }
}

impl From<ws_proto::handshake::HandshakeError> for Error {
    fn from(e: ws_proto::handshake::HandshakeError) -> Self {
        Error::Handshake(e)
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setup_refusals_are_unsupported_and_say_why() {
        for code in [ENOSYS, EPERM, EACCES, EINVAL] {
            let e = Error::from_setup(io::Error::from_raw_os_error(code));
            assert!(e.is_unsupported(), "{e}");
            assert!(e.to_string().contains("io_uring is unavailable here"), "{e}");
            assert!(std::error::Error::source(&e).is_some());
        }
        let other = Error::from_setup(io::Error::from_raw_os_error(12)); // ENOMEM
        assert!(!other.is_unsupported() && matches!(other, Error::Io(_)), "{other}");
    }
}
