//! Server side: run the opening handshake on an accepted stream.

use std::time::Instant;

use ws_proto::Config;
use ws_proto::handshake::{Accept, Rejection, Request, ServerHandshake};

use crate::Error;
use crate::transport::Transport;
use crate::upgrade::{drive, result};
use crate::websocket::WebSocket;

/// Accepts a WebSocket connection on `stream` with the default [`Config`], no subprotocol and no
/// checks on the request. See [`accept_with`].
pub fn accept<S: Transport>(stream: S) -> Result<WebSocket<S>, Error> {
    accept_with(stream, Config::default(), |_| Ok(Accept::new()))
}

/// Accepts a WebSocket connection on `stream`, letting `callback` inspect the request (path,
/// query, headers, `Origin`, offered subprotocols) and accept it (choosing a subprotocol, adding
/// headers) or refuse it.
///
/// * A malformed or non-WebSocket request is answered with the matching HTTP error (400, 405,
///   426, 431, …) and fails with [`Error::Handshake`].
/// * A refusal sends the [`Rejection`] and fails with [`Error::Handshake`] (`is_rejection()`).
/// * An [`Accept`] naming a subprotocol the client did not offer is our mistake: the client
///   gets a 500 and the call fails with [`Error::Handshake`].
///
/// The whole handshake is bounded by `config.handshake_timeout` and its header block by
/// `config.handshake_limits`, so slow or hostile clients cannot hold a thread or memory.
///
/// ```no_run
/// use std::net::TcpListener;
/// use ws_blocking::{Accept, Config, Rejection, accept_with};
///
/// let listener = TcpListener::bind("127.0.0.1:9001")?;
/// let (tcp, _) = listener.accept()?;
/// let ws = accept_with(tcp, Config::default(), |req| {
///     if req.path() != "/chat" {
///         return Err(Rejection::new(404).body("no such endpoint"));
///     }
///     match req.protocols().iter().any(|p| p == "chat.v1") {
///         true => Ok(Accept::new().protocol("chat.v1")),
///         false => Err(Rejection::new(400).body("speak chat.v1")),
///     }
/// })?;
/// assert_eq!(ws.protocol(), Some("chat.v1"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn accept_with<S, F>(mut stream: S, config: Config, callback: F) -> Result<WebSocket<S>, Error>
where
    S: Transport,
    F: FnOnce(&Request) -> Result<Accept, Rejection>,
{
    let mut hs = ServerHandshake::new(config, Instant::now());
    let mut callback = Some(callback);
    let io_error = drive(&mut stream, &mut hs, |hs| {
        if let (Some(callback), Some(request)) = (callback.take(), hs.request()) {
            let decision = callback(request);
            hs.respond(Instant::now(), decision);
        }
    });
    let (conn, _request) = result(hs.finish(), io_error)?;
    Ok(WebSocket::after_handshake(stream, conn))
}
