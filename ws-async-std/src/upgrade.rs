//! The opening handshake over a connected stream: [`client`], [`accept`], [`accept_with`].
//!
//! The bytes are parsed and produced by `ws_proto::handshake`; this module only moves them,
//! bounds the whole exchange by `Config::handshake_timeout`, and answers bad or refused requests
//! with a complete HTTP response before closing gracefully.

use std::time::Instant;

use futures_io::{AsyncRead, AsyncWrite};
use ws_proto::handshake::{
    Accept, Answer, ClientRequest, Rejection, Request, RequestParser, Response, reject,
};
use ws_proto::rng::ChaChaRandom;
use ws_proto::{Config, Connection, Role};

use crate::driver::Inner;
use crate::io::{read_some, shutdown, with_deadline, with_timeout, write_all};
use crate::{Error, WebSocket};

/// Bytes read per call while the header block arrives.
const HANDSHAKE_READ: usize = 4096;

/// Runs the client side of the opening handshake over an already connected `stream`.
///
/// `request` carries the resource, `Host`, subprotocols, `Origin` and extra headers; the
/// response's header block is limited by `config.handshake_limits` and the whole exchange by
/// `config.handshake_timeout` ([`Error::HandshakeTimeout`]). When `config.deflate` is set,
/// permessage-deflate is offered and, if the server agrees, used. A server that refuses the upgrade
/// yields [`Error::Handshake`] with [`HandshakeError::Rejected`](ws_proto::handshake::HandshakeError::Rejected);
/// [`Error::status`] gives its HTTP status.
pub async fn client<S>(
    stream: S,
    request: ClientRequest,
    config: Config,
) -> Result<(WebSocket<S>, Response), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    with_timeout(config.handshake_timeout, client_handshake(stream, request, config)).await
}

/// [`client`] without the timeout (the caller bounds it).
pub(crate) async fn client_handshake<S>(
    mut stream: S,
    request: ClientRequest,
    config: Config,
) -> Result<(WebSocket<S>, Response), Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    // The config's header limits, and its permessage-deflate offer if it enables one.
    let request = request.with_config(&config);
    let (bytes, mut handshake) = request.build(&mut ChaChaRandom::from_os())?;
    write_all(&mut stream, &bytes).await?;
    let mut buf = vec![0u8; HANDSHAKE_READ];
    let response = loop {
        let n = read_some(&mut stream, &mut buf).await?;
        if let Some(response) = handshake.feed(&buf[..n])? {
            break response;
        }
    };
    let leftover = handshake.take_remaining();
    let conn = Connection::new(Role::Client, config, Instant::now())
        .with_negotiated(&response.negotiated());
    let inner = Inner::new(stream, conn, response.protocol.clone(), &leftover);
    Ok((WebSocket::from_inner(inner), response))
}

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
/// headers) or refuse it ([`Rejection`]).
///
/// When `config.deflate` is set, a client's permessage-deflate offer is accepted (unless the
/// [`Accept`] turns compression off or sets the extensions header by hand).
///
/// * A refusal is sent to the client and returned as [`Error::Rejected`].
/// * A malformed or hostile request (wrong method or version, missing key, headers over
///   `config.handshake_limits`, …) is answered with the matching status (400, 405, 426, 431,
///   505) and returned as [`Error::Handshake`].
/// * The request must arrive within `config.handshake_timeout`, else
///   [`Error::HandshakeTimeout`] and the connection is dropped.
///
/// After a refusal the connection is closed gracefully (the client gets the whole response),
/// which takes at most `config.close_timeout`.
///
/// ```no_run
/// use ws_async_std::{Accept, Config, Rejection, accept_with};
/// # async fn run(tcp: smol::net::TcpStream) -> Result<(), ws_async_std::Error> {
/// let ws = accept_with(tcp, Config::default(), |req| {
///     if req.path() != "/chat" {
///         return Err(Rejection::new(404).body("no such endpoint\n"));
///     }
///     let chat = req.protocols().iter().any(|p| p == "chat");
///     Ok(if chat { Accept::new().protocol("chat") } else { Accept::new() })
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
    let deadline = Instant::now() + config.handshake_timeout;
    accept_until(stream, config, callback, deadline).await
}

/// [`accept_with`], with the request bounded by `deadline` (the TLS helpers include their own
/// handshake in the same bound).
pub(crate) async fn accept_until<S, F>(
    stream: S,
    config: Config,
    callback: F,
    deadline: Instant,
) -> Result<WebSocket<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnOnce(&Request) -> Result<Accept, Rejection>,
{
    let linger = config.close_timeout;
    match with_deadline(deadline, server_handshake(stream, config, callback)).await? {
        Ok(ws) => Ok(ws),
        Err((mut stream, response, error)) => {
            // Send the refusal and close gracefully, all within `linger`.
            let _ = with_timeout(linger, async {
                write_all(&mut stream, &response).await?;
                shutdown(&mut stream, linger).await;
                Ok(())
            })
            .await;
            Err(error)
        }
    }
}

/// A refused request: the stream, the HTTP response to send, the error to return.
type Refused<S> = (S, Vec<u8>, Error);

async fn server_handshake<S, F>(
    mut stream: S,
    config: Config,
    callback: F,
) -> Result<Result<WebSocket<S>, Refused<S>>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnOnce(&Request) -> Result<Accept, Rejection>,
{
    let mut parser = RequestParser::new(config.handshake_limits);
    let mut buf = vec![0u8; HANDSHAKE_READ];
    let request = loop {
        let n = read_some(&mut stream, &mut buf).await?;
        match parser.feed(&buf[..n]) {
            Ok(Some(request)) => break request,
            Ok(None) => {}
            Err(e) => {
                let response = e.response().unwrap_or_else(|| reject(400, &[], b""));
                return Ok(Err((stream, response, Error::Handshake(e))));
            }
        }
    };
    // Negotiates what the config enables (permessage-deflate) unless the callback says
    // otherwise; an invalid `Accept` is our fault and answered with 500.
    let Answer { response, outcome } = request.answer(callback(&request), &config);
    let negotiated = match outcome {
        Ok(negotiated) => negotiated,
        Err(refused) => return Ok(Err((stream, response, refused.into()))),
    };
    write_all(&mut stream, &response).await?;
    let leftover = parser.take_remaining();
    let conn = Connection::new(Role::Server, config, Instant::now()).with_negotiated(&negotiated);
    let protocol = negotiated.protocol;
    Ok(Ok(WebSocket::from_inner(Inner::new(stream, conn, protocol, &leftover))))
}
