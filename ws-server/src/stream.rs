//! The transports a server accepts on, as one type (static dispatch for the common ones), and
//! the peer's address.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
#[cfg(unix)]
use tokio::net::UnixStream;

/// Where a connection comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PeerAddr {
    /// A TCP peer (plain or TLS).
    Tcp(SocketAddr),
    /// A Unix-socket peer (its path, if it bound one).
    Unix(Option<PathBuf>),
    /// A transport handed over by other code (an HTTP framework's upgrade).
    Other(String),
}

impl PeerAddr {
    /// The IP address, for TCP peers.
    pub fn ip(&self) -> Option<std::net::IpAddr> {
        match self {
            PeerAddr::Tcp(a) => Some(a.ip()),
            _ => None,
        }
    }
}

impl fmt::Display for PeerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerAddr::Tcp(a) => write!(f, "{a}"),
            PeerAddr::Unix(Some(p)) => write!(f, "unix:{}", p.display()),
            PeerAddr::Unix(None) => f.write_str("unix:(unnamed)"),
            PeerAddr::Other(s) => f.write_str(s),
        }
    }
}

/// Any transport that can carry a connection handed to the server by other code.
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

/// The transport of one server connection.
pub enum ServerStream {
    /// Plain TCP.
    Tcp(TcpStream),
    /// A Unix socket.
    #[cfg(unix)]
    Unix(UnixStream),
    /// TLS over TCP.
    #[cfg(feature = "tls")]
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
    /// Anything else (bytes read ahead, an upgraded HTTP connection).
    Boxed(Box<dyn Io>),
}

impl fmt::Debug for ServerStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ServerStream::Tcp(_) => "ServerStream::Tcp",
            #[cfg(unix)]
            ServerStream::Unix(_) => "ServerStream::Unix",
            #[cfg(feature = "tls")]
            ServerStream::Tls(_) => "ServerStream::Tls",
            ServerStream::Boxed(_) => "ServerStream::Boxed",
        })
    }
}

/// Calls `$method` on the transport: plain TCP (the common case) inline, the other variants
/// through one out-of-line function per method (`$slow`), so the connection's loop keeps TCP's
/// IO inlined instead of a jump over every variant.
macro_rules! dispatch {
    ($self:ident, $slow:ident, $method:ident($($arg:ident),*)) => {
        match $self.get_mut() {
            ServerStream::Tcp(s) => Pin::new(s).$method($($arg),*),
            other => other.$slow($($arg),*),
        }
    };
}

/// The out-of-line half of [`dispatch!`]: one function per IO method, every variant.
macro_rules! slow_path {
    ($slow:ident, $method:ident($($arg:ident: $ty:ty),*) -> $out:ty) => {
        #[inline(never)]
        fn $slow(&mut self, $($arg: $ty),*) -> $out {
            match self {
                ServerStream::Tcp(s) => Pin::new(s).$method($($arg),*),
                #[cfg(unix)]
                ServerStream::Unix(s) => Pin::new(s).$method($($arg),*),
                #[cfg(feature = "tls")]
                ServerStream::Tls(s) => Pin::new(s).$method($($arg),*),
                ServerStream::Boxed(s) => Pin::new(s).$method($($arg),*),
            }
        }
    };
}

impl ServerStream {
    slow_path!(read_slow, poll_read(cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>>);
    slow_path!(write_slow, poll_write(cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>>);
    slow_path!(
        write_vectored_slow,
        poll_write_vectored(cx: &mut Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>>
    );
    slow_path!(flush_slow, poll_flush(cx: &mut Context<'_>) -> Poll<io::Result<()>>);
    slow_path!(shutdown_slow, poll_shutdown(cx: &mut Context<'_>) -> Poll<io::Result<()>>);
}

impl AsyncRead for ServerStream {
    #[inline]
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        dispatch!(self, read_slow, poll_read(cx, buf))
    }
}

impl AsyncWrite for ServerStream {
    #[inline]
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        dispatch!(self, write_slow, poll_write(cx, buf))
    }

    #[inline]
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        dispatch!(self, write_vectored_slow, poll_write_vectored(cx, bufs))
    }

    #[inline]
    fn is_write_vectored(&self) -> bool {
        match self {
            ServerStream::Tcp(s) => s.is_write_vectored(),
            #[cfg(unix)]
            ServerStream::Unix(s) => s.is_write_vectored(),
            #[cfg(feature = "tls")]
            ServerStream::Tls(s) => s.is_write_vectored(),
            ServerStream::Boxed(s) => s.is_write_vectored(),
        }
    }

    #[inline]
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        dispatch!(self, flush_slow, poll_flush(cx))
    }

    #[inline]
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        dispatch!(self, shutdown_slow, poll_shutdown(cx))
    }
}

/// A transport with bytes already read from it in front (the request head a server looked at
/// before handing the connection to an HTTP service).
pub struct Rewind<S> {
    prefix: bytes::Bytes,
    inner: S,
}

impl<S> Rewind<S> {
    /// `inner`, reading `prefix` first.
    pub fn new(prefix: impl Into<bytes::Bytes>, inner: S) -> Self {
        Rewind { prefix: prefix.into(), inner }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Rewind<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.prefix.is_empty() {
            let n = self.prefix.len().min(buf.remaining());
            let head = self.prefix.split_to(n);
            buf.put_slice(&head);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Rewind<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
