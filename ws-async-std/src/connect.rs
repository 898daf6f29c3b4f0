//! Client connections: [`connect`] and [`connect_with`] from a URL (DNS, TCP, TLS for `wss://`,
//! then the opening handshake), and [`client`] over a stream you connected yourself.
//!
//! Sockets and name resolution come from `async-net` (the reactor of `async-io`, resolution on
//! the `blocking` thread pool): runtime-independent, so [`connect`] works under smol, async-std
//! or any other executor. [`TcpStream`] is the very type smol exposes as `smol::net::TcpStream`.

use futures_io::{AsyncRead, AsyncWrite};
use ws_common::aio;
use ws_proto::Config;
use ws_proto::handshake::{ClientRequest, Response};

use crate::{Error, FuturesIo, MaybeTlsStream, WebSocket};

pub use async_net::{TcpListener, TcpStream};
pub use ws_common::ClientTlsConfig;

/// What [`connect`] returns: a connection over TCP, with or without TLS.
pub type ClientSocket = WebSocket<MaybeTlsStream<TcpStream>>;

/// [`connect_with`] with the default [`Config`], no extra header and the default TLS roots.
pub async fn connect(url: &str) -> Result<(ClientSocket, Response), Error> {
    connect_with(url, |request| request, Config::default(), None).await
}

/// [`ws_common::aio::connect_with`] on this runtime (sockets from `async-net`, TLS from
/// `futures-rustls`): DNS, TCP, TLS for `wss://` and the handshake under
/// `config.handshake_timeout`; `customize` adds headers, subprotocols or an origin.
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
    aio::connect_with::<FuturesIo>(url, customize, config, tls).await
}

/// [`ws_common::aio::client`] on this runtime: the client handshake over a stream you
/// connected yourself.
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
