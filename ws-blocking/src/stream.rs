//! [`MaybeTlsStream`]: plain or TLS, decided at run time.

use std::io::{self, IoSlice, Read, Write};
use std::time::Duration;

use crate::transport::Transport;

/// A stream that is either plain or wrapped in TLS: what [`connect`](crate::connect) returns,
/// and what a server serving both `ws://` and `wss://` can accept on.
///
/// The TLS variants exist with the `tls` feature (on by default).
#[derive(Debug)]
#[non_exhaustive]
pub enum MaybeTlsStream<S: Read + Write> {
    /// No TLS.
    Plain(S),
    /// `wss://`: the client end of a TLS session over the stream.
    #[cfg(feature = "tls")]
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, S>>),
    /// The server end of a TLS session (see [`tls::server_stream`](crate::tls::server_stream)).
    #[cfg(feature = "tls")]
    ServerTls(Box<rustls::StreamOwned<rustls::ServerConnection, S>>),
}

/// Runs `$body` with `$s` bound to whichever stream the variant holds.
macro_rules! each_variant {
    ($stream:expr, $s:ident => $body:expr) => {
        match $stream {
            MaybeTlsStream::Plain($s) => $body,
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls($s) => $body,
            #[cfg(feature = "tls")]
            MaybeTlsStream::ServerTls($s) => $body,
        }
    };
}

impl<S: Read + Write> MaybeTlsStream<S> {
    /// The underlying transport (the socket under TLS).
    pub fn get_ref(&self) -> &S {
        match self {
            MaybeTlsStream::Plain(s) => s,
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls(s) => s.get_ref(),
            #[cfg(feature = "tls")]
            MaybeTlsStream::ServerTls(s) => s.get_ref(),
        }
    }

    /// The underlying transport (the socket under TLS). Reading or writing it directly corrupts
    /// the stream; changing its options is fine.
    pub fn get_mut(&mut self) -> &mut S {
        match self {
            MaybeTlsStream::Plain(s) => s,
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls(s) => s.get_mut(),
            #[cfg(feature = "tls")]
            MaybeTlsStream::ServerTls(s) => s.get_mut(),
        }
    }

    /// True for the TLS variants.
    pub fn is_tls(&self) -> bool {
        !matches!(self, MaybeTlsStream::Plain(_))
    }
}

impl<S: Read + Write> Read for MaybeTlsStream<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        each_variant!(self, s => s.read(buf))
    }
}

impl<S: Read + Write> Write for MaybeTlsStream<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        each_variant!(self, s => s.write(buf))
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        each_variant!(self, s => s.write_vectored(bufs))
    }

    fn flush(&mut self) -> io::Result<()> {
        each_variant!(self, s => s.flush())
    }
}

impl<S: Transport> Transport for MaybeTlsStream<S> {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<bool> {
        each_variant!(self, s => Transport::set_read_timeout(s, timeout))
    }

    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<bool> {
        each_variant!(self, s => Transport::set_write_timeout(s, timeout))
    }

    fn shutdown_write(&mut self) -> io::Result<()> {
        each_variant!(self, s => Transport::shutdown_write(s))
    }
}
