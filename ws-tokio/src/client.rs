//! Client side: [`connect`], [`connect_with`] and [`client`], `ws-common`'s entry points on
//! the tokio binding.

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use ws_common::aio;
use ws_proto::Config;
use ws_proto::handshake::{ClientRequest, Response};

pub use ws_common::ClientTlsConfig;

use crate::{Error, MaybeTlsStream, Tokio, WebSocket};

/// The socket [`connect`] returns.
pub type ClientSocket = WebSocket<MaybeTlsStream<TcpStream>>;

/// Connects to a `ws://` or `wss://` URL with the default [`Config`]: DNS, TCP (with
/// `TCP_NODELAY`), TLS for `wss://` (trusting the Mozilla root certificates of
/// `webpki-roots`) and the opening handshake. See [`connect_with`].
pub fn connect(url: &str) -> impl Future<Output = Result<(ClientSocket, Response), Error>> {
    // Not an `async fn`: a wrapper future would hold the arguments a second time.
    connect_with(url, |request| request, Config::default(), None)
}

/// [`connect`] with options: `customize` edits the request (headers, subprotocols, origin:
/// see [`ClientRequest`]), `config` sets limits and timers, and `tls` replaces the default TLS
/// configuration for `wss://`. Everything is bounded by `config.handshake_timeout`; a refusal
/// is [`Error::Handshake`] with `is_rejection()` and [`Error::status`]. (The logic is
/// [`ws_common::aio::connect_with`], shared by every async adapter.)
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
pub fn connect_with(
    url: &str,
    customize: impl FnOnce(ClientRequest) -> ClientRequest,
    config: Config,
    tls: Option<ClientTlsConfig>,
) -> impl Future<Output = Result<(ClientSocket, Response), Error>> {
    aio::connect_with::<Tokio>(url, customize, config, tls)
}

/// Runs the client handshake over an already connected tokio transport `stream`, bounded by
/// `config.handshake_timeout` (see [`ws_common::aio::client`]).
pub async fn client<S>(
    stream: S,
    request: ClientRequest,
    config: Config,
) -> Result<(WebSocket<S>, Response), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    aio::client(stream, request, config).await
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
