//! Server side: run the opening handshake on an accepted stream.

use std::time::Instant;

use ws_proto::handshake::{Accept, Answer, Rejection, Request, RequestParser};
use ws_proto::{Config, Connection, Role};

use crate::error::Error;
use crate::io::{drain_input, read_before, write_all_before};
use crate::transport::Transport;
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
/// * A refusal sends the [`Rejection`] and fails with [`Error::Rejected`].
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
    let deadline = Instant::now() + config.handshake_timeout;
    let mut parser = RequestParser::new(config.handshake_limits);
    let mut buf = [0u8; 4096];
    let request = loop {
        let n = read_before(&mut stream, &mut buf, deadline)?;
        if n == 0 {
            return Err(Error::Io(std::io::ErrorKind::UnexpectedEof.into()));
        }
        match parser.feed(&buf[..n]) {
            Ok(Some(request)) => break request,
            Ok(None) => {}
            Err(e) => {
                if let Some(response) = e.response() {
                    refuse(&mut stream, &response, deadline);
                }
                return Err(Error::Handshake(e));
            }
        }
    };
    // Negotiates what the config enables (permessage-deflate) unless the callback says
    // otherwise; an invalid `Accept` is our fault and answered with 500.
    let Answer { response, outcome } = request.answer(callback(&request), &config);
    let negotiated = match outcome {
        Ok(negotiated) => negotiated,
        Err(refused) => {
            refuse(&mut stream, &response, deadline);
            return Err(refused.into());
        }
    };
    write_all_before(&mut stream, &response, deadline)?;
    let now = Instant::now();
    let mut conn = Connection::new(Role::Server, config, now).with_negotiated(&negotiated);
    let early = conn.handle_data(now, &parser.take_remaining()).err();
    Ok(WebSocket::after_handshake(stream, conn, negotiated.protocol, early))
}

/// Sends an HTTP error response, then closes gracefully: half-close and drain what the client
/// still sends, so the response is not destroyed by a reset. Best effort within `deadline`.
fn refuse<S: Transport>(stream: &mut S, response: &[u8], deadline: Instant) {
    if write_all_before(stream, response, deadline).is_ok() && stream.shutdown_write().is_ok() {
        drain_input(stream, deadline.saturating_duration_since(Instant::now()));
    }
}
