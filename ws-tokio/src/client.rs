//! Client side: [`connect`], [`connect_with`] and [`client`].

use std::future::Future;
use std::io;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use ws_proto::handshake::{ClientRequest, Response, WsUrl};
use ws_proto::rng::ChaChaRandom;
use ws_proto::{Config, Role};

use crate::error::Error;
use crate::stream::MaybeTlsStream;
use crate::websocket::WebSocket;

/// A custom TLS client configuration for [`connect_with`]: an `Arc<rustls::ClientConfig>`
/// (for example one trusting a private CA, see [`tls::client_config_with_roots`](crate::tls::client_config_with_roots)).
#[cfg(feature = "tls")]
pub type ClientTlsConfig = std::sync::Arc<rustls::ClientConfig>;

/// A custom TLS client configuration for [`connect_with`]. Without the `tls` feature there is
/// none to give: pass `None`.
#[cfg(not(feature = "tls"))]
#[derive(Debug, Clone, Copy)]
pub enum ClientTlsConfig {}

/// The socket [`connect`] returns.
pub type ClientSocket = WebSocket<MaybeTlsStream<TcpStream>>;

/// Connects to a `ws://` or `wss://` URL: DNS, TCP (with `TCP_NODELAY`), TLS for `wss://`
/// (trusting the Mozilla root certificates of `webpki-roots`) and the opening handshake, with
/// the default [`Config`].
///
/// Returns the socket and the server's handshake response (headers, subprotocol). A server
/// that refuses the handshake gives [`Error::Handshake`] with [`Error::status`] set.
pub async fn connect(url: &str) -> Result<(ClientSocket, Response), Error> {
    connect_with(url, |request| request, Config::default(), None).await
}

/// [`connect`] with options: `customize` edits the request (headers, subprotocols, origin:
/// see [`ClientRequest`]), `config` sets limits and timers, and `tls` replaces the default TLS
/// configuration for `wss://`.
///
/// The whole connection setup (DNS, TCP, TLS, handshake) is bounded by
/// `config.handshake_timeout`; the response header block by `config.handshake_limits`.
///
/// ```no_run
/// # async fn run() -> Result<(), ws_tokio::Error> {
/// let (ws, response) = ws_tokio::connect_with(
///     "wss://example.com/chat",
///     |request| request.protocol("chat.v1").header("Authorization", "Bearer token"),
///     ws_tokio::Config::default(),
///     None,
/// )
/// .await?;
/// assert_eq!(ws.protocol(), response.protocol.as_deref());
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
    let limit = config.handshake_timeout;
    // Boxed so that a task which connects and then serves does not keep the setup's
    // buffers (and a TLS handshake's) in its future for the connection's whole life.
    within(
        limit,
        Box::pin(async move {
            let tcp = connect_tcp(&url.host, url.port).await?;
            let stream = wrap_tls(tcp, &url, tls).await?;
            handshake(stream, request, config).await
        }),
    )
    .await
}

/// Runs the client handshake over an already connected transport `stream` (any tokio
/// `AsyncRead + AsyncWrite`), bounded by `config.handshake_timeout`.
///
/// `request` names the host and resource and carries headers and subprotocol offers; its
/// header-size limits are replaced by `config.handshake_limits`.
pub async fn client<S>(
    stream: S,
    request: ClientRequest,
    config: Config,
) -> Result<(WebSocket<S>, Response), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    within(config.handshake_timeout, Box::pin(handshake(stream, request, config))).await
}

/// Runs `f`, failing with [`Error::HandshakeTimeout`] after `limit`.
pub(crate) async fn within<T>(
    limit: std::time::Duration,
    f: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    tokio::time::timeout(limit, f).await.unwrap_or(Err(Error::HandshakeTimeout))
}

async fn handshake<S>(
    mut stream: S,
    request: ClientRequest,
    config: Config,
) -> Result<(WebSocket<S>, Response), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (bytes, mut handshake) = request.with_config(&config).build(&mut ChaChaRandom::from_os())?;
    stream.write_all(&bytes).await?;
    stream.flush().await?;
    let mut buf = [0u8; 1024];
    let response = loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Err(Error::Io(io::ErrorKind::UnexpectedEof.into()));
        }
        if let Some(response) = handshake.feed(&buf[..n])? {
            break response;
        }
    };
    let leftover = handshake.take_remaining();
    let ws = WebSocket::from_parts(stream, Role::Client, config, &response.negotiated(), &leftover);
    Ok((ws, response))
}

/// Resolves `host` and connects to the first address that answers.
async fn connect_tcp(host: &str, port: u16) -> Result<TcpStream, Error> {
    let mut last = None;
    for addr in tokio::net::lookup_host((host, port)).await? {
        match TcpStream::connect(addr).await {
            Ok(tcp) => {
                tcp.set_nodelay(true)?;
                return Ok(tcp);
            }
            Err(e) => last = Some(e),
        }
    }
    let e = last.unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address found"));
    Err(e.into())
}

#[cfg(feature = "tls")]
async fn wrap_tls(
    tcp: TcpStream,
    url: &WsUrl,
    tls: Option<ClientTlsConfig>,
) -> Result<MaybeTlsStream<TcpStream>, Error> {
    if !url.tls {
        return Ok(MaybeTlsStream::Plain(tcp));
    }
    let config = tls.unwrap_or_else(crate::tls::default_client_config);
    let name = rustls_pki_types::ServerName::try_from(url.host.clone())
        .map_err(|_| ws_proto::handshake::HandshakeError::InvalidUrl)?;
    let stream = tokio_rustls::TlsConnector::from(config).connect(name, tcp).await?;
    Ok(MaybeTlsStream::Tls(Box::new(stream)))
}

#[cfg(not(feature = "tls"))]
async fn wrap_tls(
    tcp: TcpStream,
    url: &WsUrl,
    tls: Option<ClientTlsConfig>,
) -> Result<MaybeTlsStream<TcpStream>, Error> {
    match (url.tls, tls) {
        (false, _) => Ok(MaybeTlsStream::Plain(tcp)),
        (true, _) => Err(Error::TlsNotEnabled),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ws_proto::handshake::HandshakeError;

    #[tokio::test]
    async fn bad_urls_fail_before_connecting() {
        for url in ["http://x/", "ws://", "ws://h/#f"] {
            let err = connect(url).await.unwrap_err();
            assert!(matches!(err, Error::Handshake(HandshakeError::InvalidUrl)), "{url}: {err}");
        }
    }
}
