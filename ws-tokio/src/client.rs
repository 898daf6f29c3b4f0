//! Client side: [`connect`], [`connect_with`] and [`client`].

use std::future::Future;
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use ws_common::ConnectPlan;
use ws_common::aio;
use ws_proto::Config;
use ws_proto::handshake::{ClientHandshake, ClientRequest, Handshake, Response};

use crate::{Error, MaybeTlsStream, WebSocket};

/// A custom TLS client configuration for [`connect_with`]: an `Arc<rustls::ClientConfig>`
/// (for example one trusting a private CA, see
/// [`tls::client_config_with_roots`](crate::tls::client_config_with_roots)).
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
/// that refuses the handshake gives [`Error::Handshake`] with `is_rejection()` and
/// [`Error::status`] set.
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
    let ConnectPlan { host, port, tls: wss, request } =
        ConnectPlan::new(url, customize, cfg!(feature = "tls"))?;
    let hs = ClientHandshake::new(request, config, Instant::now())?;
    let deadline = hs.poll_timeout();
    // Boxed so that a task which connects and then serves does not keep the setup's buffers
    // (and a TLS handshake's) in its future for the connection's whole life.
    within(
        deadline,
        Box::pin(async move {
            let tcp = TcpStream::connect((host.as_str(), port)).await?;
            tcp.set_nodelay(true)?;
            let stream =
                if wss { wrap_tls(tcp, &host, tls).await? } else { MaybeTlsStream::Plain(tcp) };
            aio::client(stream, hs).await
        }),
    )
    .await
}

/// Runs the client handshake over an already connected transport `stream` (any tokio
/// `AsyncRead + AsyncWrite`), bounded by `config.handshake_timeout`.
///
/// `request` names the host and resource and carries headers and subprotocol offers; the
/// offers `config` enables (permessage-deflate) and its header limits are added.
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

/// Runs `f`, failing with [`HandshakeError::Timeout`] at `deadline`.
pub(crate) async fn within<T>(
    deadline: Option<Instant>,
    f: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    aio::within::<crate::Tokio, T>(deadline, f).await
}

#[cfg(feature = "tls")]
async fn wrap_tls(
    tcp: TcpStream,
    host: &str,
    tls: Option<ClientTlsConfig>,
) -> Result<MaybeTlsStream<TcpStream>, Error> {
    let config = tls.unwrap_or_else(crate::tls::default_client_config);
    let name = ws_common::tls::server_name(host)?;
    let stream = tokio_rustls::TlsConnector::from(config).connect(name, tcp).await?;
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
