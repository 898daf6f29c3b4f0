//! Server side: [`accept`], [`accept_with`] and [`accept_async`], `ws-common`'s entry points on
//! the tokio binding.

use std::future::Future;

use tokio::io::{AsyncRead, AsyncWrite};
use ws_common::aio;
use ws_proto::Config;
use ws_proto::handshake::{Accept, Rejection, Request};

use crate::{Error, WebSocket};

/// Runs the server handshake on `stream` with the default [`Config`], accepting any valid
/// request (no subprotocol). See [`accept_with`].
pub async fn accept<S>(stream: S) -> Result<WebSocket<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    accept_with(stream, Config::default(), |_| Ok(Accept::new())).await
}

/// Runs the server handshake on `stream`: reads the request, asks `callback` and answers.
///
/// `callback` sees the [`Request`] (path, query, headers, origin, offered subprotocols) and
/// returns an [`Accept`] (choosing a subprotocol, adding headers) or a [`Rejection`], which is
/// sent and reported as [`Error::Handshake`] with `is_rejection()`. A malformed or
/// non-WebSocket request is answered with the matching HTTP error (400, 405, 426, 431, …) and
/// reported as [`Error::Handshake`]. The handshake is bounded by `config.handshake_timeout`
/// and `config.handshake_limits`. (The logic is [`ws_common::aio::accept_with`].)
///
/// ```no_run
/// use ws_tokio::{Accept, Config, Rejection};
/// # async fn run(tcp: tokio::net::TcpStream) -> Result<(), ws_tokio::Error> {
/// let ws = ws_tokio::accept_with(tcp, Config::default(), |request| {
///     if request.path() != "/chat" {
///         return Err(Rejection::new(404).body("no such endpoint"));
///     }
///     match request.protocols().iter().find(|p| *p == "chat.v1") {
///         Some(p) => Ok(Accept::new().protocol(p.as_str())),
///         None => Ok(Accept::new()),
///     }
/// })
/// .await?;
/// # Ok(()) }
/// ```
pub async fn accept_with<S, F>(
    stream: S,
    config: Config,
    callback: F,
) -> Result<WebSocket<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnOnce(&Request) -> Result<Accept, Rejection>,
{
    aio::accept_with(stream, config, callback).await
}

/// Like [`accept_with`], with an asynchronous decision: `decide` gets the request and returns a
/// future of the answer (check a token against a database before the `101`). The future must
/// own what it needs from the request (clone it out synchronously). The decision counts
/// towards `config.handshake_timeout`. Returns the socket and the request it answered.
///
/// ```no_run
/// use ws_tokio::{Accept, Config, Rejection};
/// # async fn lookup(_: Option<String>) -> bool { true }
/// # async fn run(tcp: tokio::net::TcpStream) -> Result<(), ws_tokio::Error> {
/// let (ws, request) = ws_tokio::accept_async(tcp, Config::default(), |request| {
///     let token = request.headers().get("authorization").map(str::to_owned);
///     async move {
///         if lookup(token).await { Ok(Accept::new()) } else { Err(Rejection::new(401)) }
///     }
/// })
/// .await?;
/// # Ok(()) }
/// ```
pub async fn accept_async<S, F, Fut>(
    stream: S,
    config: Config,
    decide: F,
) -> Result<(WebSocket<S>, Request), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnOnce(&Request) -> Fut,
    Fut: Future<Output = Result<Accept, Rejection>>,
{
    aio::accept_async(stream, config, decide).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use ws_proto::handshake::HandshakeError;

    #[tokio::test]
    async fn bad_request_gets_its_status() {
        let (mut client, server) = tokio::io::duplex(4096);
        let task = tokio::spawn(accept(server));
        client.write_all(b"POST / HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        let err = task.await.unwrap().unwrap_err();
        assert_eq!(err.status(), Some(405));
        let mut response = Vec::new();
        client.read_to_end(&mut response).await.unwrap();
        assert!(response.starts_with(b"HTTP/1.1 405 "), "{}", String::from_utf8_lossy(&response));
    }

    #[tokio::test]
    async fn callback_choosing_an_unoffered_protocol_is_a_500() {
        let (mut client, server) = tokio::io::duplex(4096);
        let task = tokio::spawn(accept_with(server, Config::default(), |_| {
            Ok(Accept::new().protocol("never-offered"))
        }));
        client
            .write_all(
                b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                  Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
            )
            .await
            .unwrap();
        let err = task.await.unwrap().unwrap_err();
        assert!(matches!(err, Error::Handshake(HandshakeError::ProtocolNotOffered)), "{err}");
        let mut response = Vec::new();
        client.read_to_end(&mut response).await.unwrap();
        assert!(response.starts_with(b"HTTP/1.1 500 "));
    }
}
