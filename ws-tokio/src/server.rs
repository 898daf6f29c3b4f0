//! Server side: [`accept`] and [`accept_with`].

use std::io;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use ws_proto::handshake::{Accept, Answer, HandshakeError, Rejection, Request, RequestParser};
use ws_proto::{Config, Role};

use crate::client::within;
use crate::error::Error;
use crate::websocket::WebSocket;

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
/// sent and reported as [`Error::Rejected`]. A malformed or non-WebSocket request is answered
/// with the matching HTTP error (400, 405, 426, 431, …) and reported as [`Error::Handshake`].
/// The handshake is bounded by `config.handshake_timeout` ([`Error::HandshakeTimeout`]) and
/// `config.handshake_limits`.
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
    // Boxed: a task that accepts and then serves would otherwise keep the handshake's
    // buffers in its future for the connection's whole life.
    within(config.handshake_timeout, Box::pin(handshake(stream, config, callback))).await
}

/// The server handshake without the time limit (callers bound it).
pub(crate) async fn handshake<S, F>(
    mut stream: S,
    config: Config,
    callback: F,
) -> Result<WebSocket<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnOnce(&Request) -> Result<Accept, Rejection>,
{
    let mut parser = RequestParser::new(config.handshake_limits);
    let request = match read_request(&mut stream, &mut parser).await? {
        Ok(request) => request,
        Err(e) => return Err(refuse(stream, e.response(), Error::Handshake(e)).await),
    };
    let Answer { response, outcome } = request.answer(callback(&request), &config);
    let negotiated = match outcome {
        Ok(negotiated) => negotiated,
        Err(refused) => return Err(refuse(stream, Some(response), refused.into()).await),
    };
    stream.write_all(&response).await?;
    stream.flush().await?;
    let leftover = parser.take_remaining();
    Ok(WebSocket::from_parts(stream, Role::Server, config, &negotiated, &leftover))
}

/// Reads until the request is complete. The inner result is the request or why it is bad.
async fn read_request<S>(
    stream: &mut S,
    parser: &mut RequestParser,
) -> Result<Result<Request, HandshakeError>, Error>
where
    S: AsyncRead + Unpin,
{
    let mut buf = [0u8; 1024];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Err(Error::Io(io::ErrorKind::UnexpectedEof.into()));
        }
        match parser.feed(&buf[..n]) {
            Ok(Some(request)) => return Ok(Ok(request)),
            Ok(None) => {}
            Err(e) => return Ok(Err(e)),
        }
    }
}

/// How long a refused connection is drained after the error response, at most.
const REFUSE_DRAIN: Duration = Duration::from_secs(1);

/// Sends an error response (if any), closes our side and returns `err`.
///
/// Unread request bytes would turn our close into a reset that can destroy the response
/// before the client reads it, so input is drained briefly until the client's EOF.
async fn refuse<S>(mut stream: S, response: Option<Vec<u8>>, err: Error) -> Error
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    // The error being reported matters more than a failure to deliver its response.
    if let Some(response) = response {
        if stream.write_all(&response).await.is_ok() && stream.shutdown().await.is_ok() {
            let mut scratch = [0u8; 2048];
            let drain =
                async { while matches!(stream.read(&mut scratch).await, Ok(n) if n > 0) {} };
            let _ = tokio::time::timeout(REFUSE_DRAIN, drain).await;
        }
    }
    err
}

#[cfg(test)]
mod tests {
    use super::*;

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
