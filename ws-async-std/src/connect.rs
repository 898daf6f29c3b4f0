//! Client connections from a URL: DNS, TCP, TLS for `wss://`, then the opening handshake.
//!
//! Sockets and name resolution come from `async-net` (the reactor of `async-io`, resolution on
//! the `blocking` thread pool): runtime-independent, so [`connect`] works under smol, async-std
//! or any other executor. [`TcpStream`] is the very type smol exposes as `smol::net::TcpStream`.

use std::io::{self, IoSlice, IoSliceMut};
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};
use ws_proto::Config;
use ws_proto::handshake::{ClientRequest, Response, WsUrl};

use crate::io::with_timeout;
use crate::upgrade::client_handshake;
use crate::{Error, WebSocket};

pub use async_net::TcpStream;

/// A custom TLS client configuration for [`connect_with`]: `Arc<rustls::ClientConfig>`.
#[cfg(feature = "tls")]
pub type ClientTlsConfig = std::sync::Arc<rustls::ClientConfig>;

/// A custom TLS client configuration for [`connect_with`]. Without the `tls` feature there is
/// none (this type has no values): pass `None`.
#[cfg(not(feature = "tls"))]
#[derive(Debug, Clone)]
pub enum ClientTlsConfig {}

/// What [`connect`] returns: a connection over TCP, with or without TLS.
pub type ClientSocket = WebSocket<MaybeTlsStream<TcpStream>>;

/// A stream that is either plain or wrapped in TLS, as [`connect`] returns for `ws://` and
/// `wss://` URLs.
#[derive(Debug)]
#[non_exhaustive]
pub enum MaybeTlsStream<S> {
    /// `ws://`: the stream as is.
    Plain(S),
    /// `wss://`: TLS over the stream.
    #[cfg(feature = "tls")]
    Tls(Box<crate::tls::ClientTlsStream<S>>),
}

/// Connects to a `ws://` or `wss://` URL with the default [`Config`] and no extra header.
///
/// Resolves the host, connects over TCP (with `TCP_NODELAY`), runs TLS for `wss://` (trusting
/// the `webpki-roots` certificates) and the opening handshake. Everything together is bounded
/// by `Config::handshake_timeout`. Returns the connection and the server's response (headers,
/// selected subprotocol).
pub async fn connect(url: &str) -> Result<(ClientSocket, Response), Error> {
    connect_with(url, |request| request, Config::default(), None).await
}

/// [`connect`] with a customized request, configuration and TLS client configuration.
///
/// `customize` receives the request built from the URL and returns it with headers,
/// subprotocols (`.protocol("chat")`), an `Origin`, … `tls` replaces the default TLS client
/// configuration (e.g. [`tls::client_config_with_roots`](crate::tls::client_config_with_roots)
/// for a private CA); it is ignored for `ws://`.
///
/// ```no_run
/// use ws_async_std::{Config, connect_with};
/// # async fn run() -> Result<(), ws_async_std::Error> {
/// let (ws, response) = connect_with(
///     "ws://127.0.0.1:9001/chat",
///     |request| request.protocol("chat").header("Authorization", "Bearer 123"),
///     Config::default(),
///     None,
/// )
/// .await?;
/// assert_eq!(response.protocol.as_deref(), ws.protocol());
/// # Ok(()) }
/// ```
pub async fn connect_with(
    url: &str,
    customize: impl FnOnce(ClientRequest) -> ClientRequest,
    config: Config,
    tls: Option<ClientTlsConfig>,
) -> Result<(ClientSocket, Response), Error> {
    let url = WsUrl::parse(url)?;
    let request = customize(ClientRequest::from_url(&url));
    with_timeout(config.handshake_timeout, async move {
        let tcp = TcpStream::connect((url.host.as_str(), url.port)).await?;
        tcp.set_nodelay(true)?;
        let stream =
            if url.tls { wrap_tls(&url.host, tcp, tls).await? } else { MaybeTlsStream::Plain(tcp) };
        client_handshake(stream, request, config).await
    })
    .await
}

#[cfg(feature = "tls")]
async fn wrap_tls(
    host: &str,
    tcp: TcpStream,
    tls: Option<ClientTlsConfig>,
) -> Result<MaybeTlsStream<TcpStream>, Error> {
    let stream = crate::tls::connect_tls(host, tcp, tls).await?;
    Ok(MaybeTlsStream::Tls(Box::new(stream)))
}

#[cfg(not(feature = "tls"))]
async fn wrap_tls(
    _host: &str,
    _tcp: TcpStream,
    _tls: Option<ClientTlsConfig>,
) -> Result<MaybeTlsStream<TcpStream>, Error> {
    Err(Error::TlsNotEnabled)
}

impl<S> MaybeTlsStream<S> {
    /// True for `wss://` connections.
    pub fn is_tls(&self) -> bool {
        !matches!(self, MaybeTlsStream::Plain(_))
    }

    /// The plain stream underneath (the TCP connection).
    pub fn get_ref(&self) -> &S {
        match self {
            MaybeTlsStream::Plain(s) => s,
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls(s) => s.get_ref().0,
        }
    }
}

/// Forwards a `poll_*` call to the stream inside, whichever variant it is.
macro_rules! forward {
    ($self:ident, $method:ident($($arg:expr),*)) => {
        match $self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).$method($($arg),*),
            #[cfg(feature = "tls")]
            MaybeTlsStream::Tls(s) => Pin::new(&mut **s).$method($($arg),*),
        }
    };
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for MaybeTlsStream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        forward!(self, poll_read(cx, buf))
    }

    fn poll_read_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        forward!(self, poll_read_vectored(cx, bufs))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for MaybeTlsStream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        forward!(self, poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        forward!(self, poll_write_vectored(cx, bufs))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        forward!(self, poll_flush(cx))
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        forward!(self, poll_close(cx))
    }
}
