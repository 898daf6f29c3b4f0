//! [`FuturesIo`]: the `futures-io` traits and `async-io` timers.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use async_io::Timer;
use futures_io::{AsyncRead, AsyncWrite};

use crate::aio::{Runtime, StreamIo};

/// The futures-io binding: streams implementing `futures_io::AsyncRead + AsyncWrite + Unpin`,
/// timers from `async-io` (smol's reactor, which runs its own thread when nothing else drives
/// it, so they fire under smol, async-std or any other executor).
///
/// `futures-io` reads need initialized memory: at a frame boundary the driver reads into a
/// zeroed stack buffer of 8 KiB (a few tens of nanoseconds to zero, and an idle
/// connection then holds no receive buffer of its own); inside a frame, straight into the
/// connection's buffer.
#[derive(Debug, Clone, Copy)]
pub struct FuturesIo;

impl Runtime for FuturesIo {
    type Sleep = Timer;

    fn sleep_until(deadline: Instant) -> Self::Sleep {
        Timer::at(deadline)
    }

    fn reset(sleep: &mut Self::Sleep, deadline: Instant) {
        sleep.set_at(deadline);
    }

    fn poll_sleep(sleep: &mut Self::Sleep, cx: &mut Context<'_>) -> Poll<()> {
        std::future::Future::poll(Pin::new(sleep), cx).map(|_| ())
    }
}

/// The stack buffer reads at a frame boundary go through.
const SCRATCH_LEN: usize = 8 << 10;

impl<S: AsyncRead + AsyncWrite + Unpin> StreamIo<S> for FuturesIo {
    fn poll_read(stream: &mut S, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        Pin::new(stream).poll_read(cx, buf)
    }

    fn poll_read_scratch(
        stream: &mut S,
        cx: &mut Context<'_>,
        consume: &mut dyn FnMut(&[u8]),
    ) -> Option<Poll<io::Result<()>>> {
        let mut scratch = [0u8; SCRATCH_LEN];
        Some(Pin::new(stream).poll_read(cx, &mut scratch).map_ok(|n| consume(&scratch[..n])))
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
        Pin::new(stream).poll_close(cx)
    }
}

impl crate::aio::Net for FuturesIo {
    type Tcp = async_net::TcpStream;
    #[cfg(feature = "futures-tls")]
    type TlsClient = futures_rustls::client::TlsStream<async_net::TcpStream>;
    #[cfg(not(feature = "futures-tls"))]
    type TlsClient = crate::NoTls;
    const TLS: bool = cfg!(feature = "futures-tls");

    async fn connect_tcp(host: String, port: u16) -> io::Result<Self::Tcp> {
        let tcp = async_net::TcpStream::connect((host.as_str(), port)).await?;
        tcp.set_nodelay(true)?;
        Ok(tcp)
    }

    async fn connect_tls(
        tcp: Self::Tcp,
        host: String,
        config: Option<crate::ClientTlsConfig>,
    ) -> Result<Self::TlsClient, crate::Error> {
        #[cfg(feature = "futures-tls")]
        {
            let config = config.unwrap_or_else(crate::tls::default_client_config);
            let name = crate::tls::server_name(&host)?;
            Ok(futures_rustls::TlsConnector::from(config).connect(name, tcp).await?)
        }
        #[cfg(not(feature = "futures-tls"))]
        {
            let _ = (tcp, host, config);
            Err(crate::Error::TlsNotEnabled)
        }
    }
}

#[cfg(feature = "futures-tls")]
impl<S: AsyncRead + AsyncWrite + Unpin + Send> crate::aio::TlsAccept<S> for FuturesIo {
    type Stream = futures_rustls::server::TlsStream<S>;

    fn accept_tls(
        config: std::sync::Arc<rustls::ServerConfig>,
        stream: S,
    ) -> impl std::future::Future<Output = io::Result<Self::Stream>> + Send {
        futures_rustls::TlsAcceptor::from(config).accept(stream)
    }
}
