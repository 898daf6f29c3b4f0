//! [`MaybeTls`]: a transport that is plain (`ws://`) or TLS (`wss://`), decided at run time,
//! with the IO traits of every async runtime binding forwarded once.

/// A transport that is either plain or wrapped in TLS: what `connect` returns for `ws://` and
/// `wss://` URLs. `T` is the runtime's TLS stream over `P` (boxed: it is large, and keeping the
/// enum small keeps plain connections cheap).
#[derive(Debug)]
pub enum MaybeTls<P, T> {
    /// `ws://`: the transport as is.
    Plain(P),
    /// `wss://`: TLS over the transport.
    Tls(Box<T>),
}

impl<P, T> MaybeTls<P, T> {
    /// True for `wss://` connections.
    pub fn is_tls(&self) -> bool {
        matches!(self, MaybeTls::Tls(_))
    }
}

impl<P, T: TlsLayer<P>> MaybeTls<P, T> {
    /// The underlying transport (the socket under the TLS layer).
    pub fn get_ref(&self) -> &P {
        match self {
            MaybeTls::Plain(p) => p,
            MaybeTls::Tls(t) => t.transport(),
        }
    }
}

/// The TLS stream type of an adapter built without TLS: it has no values, so a
/// `MaybeTls<P, NoTls>` is always `Plain`.
#[derive(Debug)]
pub enum NoTls {}

impl<P> TlsLayer<P> for NoTls {
    fn transport(&self) -> &P {
        match *self {}
    }
}

/// A TLS stream over a transport `P`, whose transport can be reached.
pub trait TlsLayer<P> {
    /// The transport under the TLS layer.
    fn transport(&self) -> &P;
}

#[cfg(feature = "tokio-tls")]
impl<P> TlsLayer<P> for tokio_rustls::client::TlsStream<P> {
    fn transport(&self) -> &P {
        self.get_ref().0
    }
}

#[cfg(feature = "futures-tls")]
impl<P> TlsLayer<P> for futures_rustls::client::TlsStream<P> {
    fn transport(&self) -> &P {
        self.get_ref().0
    }
}

/// Runs `$body` with `$s` pinned to whichever stream the variant holds.
#[allow(unused_macros)]
macro_rules! forward {
    ($self:ident, $s:ident => $body:expr) => {
        match $self.get_mut() {
            MaybeTls::Plain($s) => {
                let $s = Pin::new($s);
                $body
            }
            MaybeTls::Tls($s) => {
                let $s = Pin::new(&mut **$s);
                $body
            }
        }
    };
}

#[cfg(feature = "tokio")]
mod tokio_io {
    use std::io::{self, IoSlice};
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use super::{MaybeTls, NoTls};
    use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

    impl AsyncRead for NoTls {
        fn poll_read(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            _: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            match *self {}
        }
    }

    impl AsyncWrite for NoTls {
        fn poll_write(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            _: &[u8],
        ) -> Poll<io::Result<usize>> {
            match *self {}
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            match *self {}
        }

        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            match *self {}
        }
    }

    impl<P, T> AsyncRead for MaybeTls<P, T>
    where
        P: AsyncRead + Unpin,
        T: AsyncRead + Unpin,
    {
        fn poll_read(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            forward!(self, s => s.poll_read(cx, buf))
        }
    }

    impl<P, T> AsyncWrite for MaybeTls<P, T>
    where
        P: AsyncWrite + Unpin,
        T: AsyncWrite + Unpin,
    {
        fn poll_write(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            forward!(self, s => s.poll_write(cx, buf))
        }

        fn poll_write_vectored(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            forward!(self, s => s.poll_write_vectored(cx, bufs))
        }

        fn is_write_vectored(&self) -> bool {
            match self {
                MaybeTls::Plain(s) => s.is_write_vectored(),
                MaybeTls::Tls(s) => s.is_write_vectored(),
            }
        }

        fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            forward!(self, s => s.poll_flush(cx))
        }

        fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            forward!(self, s => s.poll_shutdown(cx))
        }
    }
}

#[cfg(feature = "futures-io")]
mod futures_io_impl {
    use std::io::{self, IoSlice};
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use super::{MaybeTls, NoTls};
    use futures_io::{AsyncRead, AsyncWrite};

    impl AsyncRead for NoTls {
        fn poll_read(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            _: &mut [u8],
        ) -> Poll<io::Result<usize>> {
            match *self {}
        }
    }

    impl AsyncWrite for NoTls {
        fn poll_write(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            _: &[u8],
        ) -> Poll<io::Result<usize>> {
            match *self {}
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            match *self {}
        }

        fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            match *self {}
        }
    }

    impl<P, T> AsyncRead for MaybeTls<P, T>
    where
        P: AsyncRead + Unpin,
        T: AsyncRead + Unpin,
    {
        fn poll_read(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut [u8],
        ) -> Poll<io::Result<usize>> {
            forward!(self, s => s.poll_read(cx, buf))
        }
    }

    impl<P, T> AsyncWrite for MaybeTls<P, T>
    where
        P: AsyncWrite + Unpin,
        T: AsyncWrite + Unpin,
    {
        fn poll_write(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            forward!(self, s => s.poll_write(cx, buf))
        }

        fn poll_write_vectored(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            forward!(self, s => s.poll_write_vectored(cx, bufs))
        }

        fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            forward!(self, s => s.poll_flush(cx))
        }

        fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            forward!(self, s => s.poll_close(cx))
        }
    }
}
