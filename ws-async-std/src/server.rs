//! Server side: [`accept`], [`accept_with`] and [`accept_async`].

use std::future::{Future, ready};
use std::time::Instant;

use futures_io::{AsyncRead, AsyncWrite};
use ws_common::aio;
use ws_proto::Config;
use ws_proto::handshake::{Accept, Rejection, Request, ServerHandshake};

use crate::{Error, WebSocket};

/// Accepts a WebSocket connection on `stream` with the default [`Config`] and no subprotocol.
///
/// See [`accept_with`] for the details and the errors.
pub async fn accept<S>(stream: S) -> Result<WebSocket<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    accept_with(stream, Config::default(), |_| Ok(Accept::new())).await
}

/// Accepts a WebSocket connection on `stream`, letting `callback` inspect the request (path,
/// query, headers, origin, offered subprotocols) and accept it ([`Accept`]: subprotocol, extra
/// headers) or refuse it ([`Rejection`]: any status, headers and body, reported as
/// [`Error::Handshake`] with `is_rejection()`).
///
/// A malformed or non-WebSocket request is answered with the matching HTTP error (400, 405,
/// 426, 431, …) before [`Error::Handshake`] is returned. The whole handshake is bounded by
/// `config.handshake_timeout`; permessage-deflate is accepted when `config.deflate` is set and
/// the client offers it.
///
/// ```no_run
/// use ws_async_std::{Accept, Config, Rejection, accept_with};
/// # async fn run(tcp: ws_async_std::TcpStream) -> Result<(), ws_async_std::Error> {
/// let ws = accept_with(tcp, Config::default(), |request| {
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
    let hs = ServerHandshake::new(config, Instant::now());
    let (ws, _) = Box::pin(aio::accept(stream, hs, |r| ready(callback(r)))).await?;
    Ok(ws)
}

/// Like [`accept_with`], with an asynchronous decision: `decide` gets the request and returns a
/// future of the answer (check a token against a store before the `101`). The future must own
/// what it needs from the request. The decision counts towards `config.handshake_timeout`.
/// Returns the socket and the request it answered.
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
    let hs = ServerHandshake::new(config, Instant::now());
    Box::pin(aio::accept(stream, hs, decide)).await
}
