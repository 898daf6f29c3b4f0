//! [`Tokio`]: tokio's `AsyncRead`/`AsyncWrite` and timers.

use std::future::Future;
use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, ready};
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use ws_proto::bytes::BytesMut;
use ws_proto::bytes::buf::Limit;

use crate::aio::{Runtime, StreamIo};

/// Bytes read at a frame boundary before they are handed to the core: large enough that a
/// typical message (up to ~64 KiB) arrives in one read. It lives on the poll's stack and is not
/// zeroed (tokio reads into uninitialized memory safely), so idle connections do not pay for it.
const SCRATCH_LEN: usize = 64 << 10;

/// The tokio binding: streams implementing tokio's `AsyncRead + AsyncWrite + Unpin`, timers
/// from `tokio::time` (a runtime with the time driver enabled must be running).
#[derive(Debug, Clone, Copy)]
pub struct Tokio;

impl Runtime for Tokio {
    type Sleep = Pin<Box<tokio::time::Sleep>>;

    fn sleep_until(deadline: Instant) -> Self::Sleep {
        Box::pin(tokio::time::sleep_until(deadline.into()))
    }

    fn reset(sleep: &mut Self::Sleep, deadline: Instant) {
        sleep.as_mut().reset(deadline.into());
    }

    fn poll_sleep(sleep: &mut Self::Sleep, cx: &mut Context<'_>) -> Poll<()> {
        sleep.as_mut().poll(cx)
    }

    fn is_elapsed(sleep: &Self::Sleep) -> Option<bool> {
        Some(sleep.is_elapsed())
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> StreamIo<S> for Tokio {
    fn poll_read(stream: &mut S, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let mut buf = ReadBuf::new(buf);
        ready!(Pin::new(stream).poll_read(cx, &mut buf))?;
        Poll::Ready(Ok(buf.filled().len()))
    }

    fn poll_read_scratch(
        stream: &mut S,
        cx: &mut Context<'_>,
        consume: &mut dyn FnMut(&[u8]),
    ) -> Option<Poll<io::Result<()>>> {
        let mut scratch = [MaybeUninit::<u8>::uninit(); SCRATCH_LEN];
        let mut buf = ReadBuf::uninit(&mut scratch);
        Some(Pin::new(stream).poll_read(cx, &mut buf).map_ok(|()| consume(buf.filled())))
    }

    // tokio's `read_buf` reads into the spare capacity through `ReadBuf::uninit`, the unsafe
    // part (setting the length after the read) being tokio's, behind its safe API.
    const READS_INTO_SPARE_CAPACITY: bool = true;

    fn poll_read_buf(
        stream: &mut S,
        cx: &mut Context<'_>,
        buf: &mut Limit<BytesMut>,
    ) -> Poll<io::Result<usize>> {
        // The future only borrows `stream` and `buf`: dropping it when pending loses nothing.
        pin!(stream.read_buf(buf)).poll(cx)
    }

    fn poll_write(stream: &mut S, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        stream: &mut S,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(stream).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(stream: &mut S, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(stream).poll_flush(cx)
    }

    fn poll_shutdown(stream: &mut S, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(stream).poll_shutdown(cx)
    }
}

impl crate::aio::Net for Tokio {
    type Tcp = tokio::net::TcpStream;
    #[cfg(feature = "tokio-tls")]
    type TlsClient = tokio_rustls::client::TlsStream<tokio::net::TcpStream>;
    #[cfg(not(feature = "tokio-tls"))]
    type TlsClient = crate::NoTls;
    const TLS: bool = cfg!(feature = "tokio-tls");

    async fn connect_tcp(host: String, port: u16) -> io::Result<Self::Tcp> {
        let tcp = tokio::net::TcpStream::connect((host.as_str(), port)).await?;
        tcp.set_nodelay(true)?;
        Ok(tcp)
    }

    async fn connect_tls(
        tcp: Self::Tcp,
        host: String,
        config: Option<crate::ClientTlsConfig>,
    ) -> Result<Self::TlsClient, crate::Error> {
        #[cfg(feature = "tokio-tls")]
        {
            let config = config.unwrap_or_else(crate::tls::default_client_config);
            let name = crate::tls::server_name(&host)?;
            Ok(tokio_rustls::TlsConnector::from(config).connect(name, tcp).await?)
        }
        #[cfg(not(feature = "tokio-tls"))]
        {
            let _ = (tcp, host, config);
            Err(crate::Error::TlsNotEnabled)
        }
    }
}

#[cfg(feature = "tokio-tls")]
impl<S: AsyncRead + AsyncWrite + Unpin + Send> crate::aio::TlsAccept<S> for Tokio {
    type Stream = tokio_rustls::server::TlsStream<S>;

    fn accept_tls(
        config: std::sync::Arc<rustls::ServerConfig>,
        stream: S,
    ) -> impl Future<Output = io::Result<Self::Stream>> + Send {
        tokio_rustls::TlsAcceptor::from(config).accept(stream)
    }
}
