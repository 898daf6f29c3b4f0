//! Client connections: [`connect`] and [`connect_with`] from a URL (DNS, TCP, TLS for `wss://`,
//! then the opening handshake), and [`client`] over a stream you connected yourself.
//!
//! Sockets and name resolution come from `async-net` (the reactor of `async-io`, resolution on
//! the `blocking` thread pool): runtime-independent, so [`connect`] works under smol, async-std
//! or any other executor. [`TcpStream`] is the very type smol exposes as `smol::net::TcpStream`.

use std::time::Instant;

use futures_io::{AsyncRead, AsyncWrite};
use ws_common::{ConnectPlan, aio};
use ws_proto::Config;
use ws_proto::handshake::{ClientHandshake, ClientRequest, Handshake, Response};

use crate::{Error, FuturesIo, MaybeTlsStream, WebSocket};

pub use async_net::{TcpListener, TcpStream};

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
    let ConnectPlan { host, port, tls: wss, request } =
        ConnectPlan::new(url, customize, cfg!(feature = "tls"))?;
    let hs = ClientHandshake::new(request, config, Instant::now())?;
    let deadline = hs.poll_timeout();
    let setup = async move {
        let tcp = TcpStream::connect((host.as_str(), port)).await?;
        tcp.set_nodelay(true)?;
        let stream =
            if wss { wrap_tls(tcp, &host, tls).await? } else { MaybeTlsStream::Plain(tcp) };
        aio::client(stream, hs).await
    };
    aio::within::<FuturesIo, _>(deadline, Box::pin(setup)).await
}

/// Runs the client side of the opening handshake over an already connected `stream`.
///
/// `request` carries the resource, `Host`, subprotocols, `Origin` and extra headers; the
/// offers `config` enables (permessage-deflate) and its header limits are added, and the
/// exchange is bounded by `config.handshake_timeout`. A server that refuses the upgrade yields
/// [`Error::Handshake`] with `is_rejection()`; [`Error::status`] gives its HTTP status.
pub async fn client<S>(
    stream: S,
    request: ClientRequest,
    config: Config,
) -> Result<(WebSocket<S>, Response), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let hs = ClientHandshake::new(request, config, Instant::now())?;
    Box::pin(aio::client(stream, hs)).await
}

#[cfg(feature = "tls")]
async fn wrap_tls(
    tcp: TcpStream,
    host: &str,
    tls: Option<ClientTlsConfig>,
) -> Result<MaybeTlsStream<TcpStream>, Error> {
    let config = tls.unwrap_or_else(crate::tls::default_client_config);
    let name = ws_common::tls::server_name(host)?;
    let stream = futures_rustls::TlsConnector::from(config).connect(name, tcp).await?;
    Ok(MaybeTlsStream::Tls(Box::new(stream)))
}

#[cfg(not(feature = "tls"))]
async fn wrap_tls(
    _tcp: TcpStream,
    _host: &str,
    tls: Option<ClientTlsConfig>,
) -> Result<MaybeTlsStream<TcpStream>, Error> {
    match tls {
        Some(never) => match never {},
        // ConnectPlan refused wss:// already.
        None => Err(Error::TlsNotEnabled),
    }
}
