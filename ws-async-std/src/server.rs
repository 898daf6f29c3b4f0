//! Server side: [`accept`], [`accept_with`] and [`accept_async`].

use std::future::Future;

use futures_io::{AsyncRead, AsyncWrite};
use ws_common::aio;
use ws_proto::Config;
use ws_proto::handshake::{Accept, Rejection, Request};

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

/// [`ws_common::aio::accept_with`] on this runtime: `callback` sees the [`Request`] and accepts
/// it ([`Accept`]) or refuses it ([`Rejection`], reported as [`Error::Handshake`] with
/// `is_rejection()`); bad requests get their HTTP error status; bounded by
/// `config.handshake_timeout`.
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
    aio::accept_with(stream, config, callback).await
}

/// [`ws_common::aio::accept_async`] on this runtime: [`accept_with`] with an asynchronous
/// decision (a token checked against a store before the `101`); returns the socket and the
/// request it answered.
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
