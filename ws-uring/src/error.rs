//! The server's errors: io_uring unavailable, or an IO failure outside any one connection.

use std::fmt;
use std::io;

/// Why a [`Server`](crate::Server) could not start or stopped.
///
/// Errors of one connection (a peer's protocol violation, a reset) never end the server: they
/// end that connection, and the handler hears of them through
/// [`Handler::on_close`](crate::Handler::on_close).
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
    /// Binding the listener, starting a thread or running the ring failed.
    Io(io::Error),
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
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Unsupported { source, .. } => source.as_ref().map(|e| e as _),
            Error::Io(e) => Some(e),
        }
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
