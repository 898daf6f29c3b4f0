//! [`ServerHandshake`]: the server's opening handshake as a sans-IO driver.

use std::time::{Duration, Instant};

use super::{
    Accept, Handshake, HandshakeError, HandshakeStep, Rejection, Request, RequestParser, reject,
};
use crate::config::{Config, Role};
use crate::connection::Connection;

/// How long a refused connection is drained after the refusal, at most: unread request bytes
/// would turn our close into a reset that can destroy the response before the client reads it.
const REFUSAL_DRAIN: Duration = Duration::from_secs(1);

/// The server side of the opening handshake, from the first byte to a [`Connection`]: bytes and
/// time in, bytes to write and the next step out.
///
/// It reads the request (bounded by `config.handshake_limits`), hands it to the application to
/// decide ([`HandshakeStep::Decide`]: accept with an [`Accept`], or refuse with a [`Rejection`];
/// the decision may take as long as the application likes, an async lookup included, within
/// the deadline), writes the `101` or the refusal, and after a refusal or a bad request shuts
/// the write side down and drains briefly so the response reaches the client. The whole of it
/// is bounded by `config.handshake_timeout`. Bytes the client sent after its request are fed to
/// the connection.
///
/// The loop an adapter runs (every adapter in this workspace runs exactly this):
///
/// ```text
/// loop {
///     write all of hs.transmit(), then hs.advance_transmit(n)  (bounded by hs.poll_timeout())
///     match hs.step() {
///         Read     => read; hs.handle_data(now, bytes) or hs.handle_eof(now);
///                     at hs.poll_timeout(): hs.handle_timeout(now)
///         Decide   => hs.respond(now, decide(hs.request().unwrap()))
///         Shutdown => shut the write side down; hs.handle_write_shutdown(now)
///         Done | Failed => break hs.finish()
///     }
/// }
/// ```
///
/// ```
/// use std::time::Instant;
/// use ws_proto::handshake::{Accept, Handshake, HandshakeStep, ServerHandshake};
/// use ws_proto::Config;
///
/// let now = Instant::now();
/// let mut hs = ServerHandshake::new(Config::default(), now);
/// hs.handle_data(now, b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
///     Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
///     Sec-WebSocket-Version: 13\r\n\r\n");
/// assert_eq!(hs.step(), HandshakeStep::Decide);
/// assert_eq!(hs.request().unwrap().path(), "/chat");
/// hs.respond(now, Ok(Accept::new()));
/// assert!(hs.transmit().starts_with(b"HTTP/1.1 101 "));
/// let n = hs.transmit().len();
/// hs.advance_transmit(n);
/// assert_eq!(hs.step(), HandshakeStep::Done);
/// let (connection, request) = hs.finish().unwrap();
/// assert_eq!(request.path(), "/chat");
/// ```
#[derive(Debug)]
pub struct ServerHandshake {
    parser: RequestParser,
    /// Taken when the connection is created.
    config: Option<Config>,
    deadline: Instant,
    state: State,
    out: Vec<u8>,
    request: Option<Request>,
}

#[derive(Debug)]
enum State {
    Reading,
    Deciding,
    /// The 101 is queued; the connection starts once it is written.
    Accepting(Box<Connection>),
    /// A refusal is queued; `error` is reported once it is written and the transport drained.
    Refusing {
        error: HandshakeError,
        shut: bool,
    },
    Done(Box<Connection>),
    Failed(HandshakeError),
    Finished,
}

impl ServerHandshake {
    /// A handshake starting `now`, with the limits, deadline and extensions of `config`, which
    /// the connection then runs with.
    pub fn new(config: Config, now: Instant) -> Self {
        ServerHandshake {
            parser: RequestParser::new(config.handshake_limits),
            deadline: now + config.handshake_timeout,
            config: Some(config),
            state: State::Reading,
            out: Vec::new(),
            request: None,
        }
    }

    /// The request, once it is complete.
    pub fn request(&self) -> Option<&Request> {
        self.request.as_ref()
    }

    /// The application's decision on [`request`](Self::request): accept (the `101`, with the
    /// negotiated subprotocol and extensions; an invalid [`Accept`] is answered with 500 and
    /// fails the handshake) or refuse with the [`Rejection`]'s status, headers and body
    /// ([`HandshakeError::Rejected`]). Ignored unless the step is [`HandshakeStep::Decide`].
    pub fn respond(&mut self, now: Instant, decision: Result<Accept, Rejection>) {
        if !matches!(self.state, State::Deciding) {
            return;
        }
        let Some(request) = &self.request else { return };
        match decision {
            Ok(accept) => {
                let config = self.config.take().unwrap_or_default();
                match request.accept_response(&accept, &config) {
                    Ok((response, negotiated)) => {
                        let mut conn =
                            Connection::new(Role::Server, config, now).with_negotiated(&negotiated);
                        conn.handle_data(now, &self.parser.take_remaining());
                        self.out = response;
                        self.state = State::Accepting(Box::new(conn));
                    }
                    Err(error) => self.refuse(now, reject(500, &[], b""), error),
                }
            }
            Err(rejection) => {
                let error = HandshakeError::Rejected(Box::new(rejection.head()));
                self.refuse(now, rejection.response(), error);
            }
        }
    }

    /// Accepts the request (see [`respond`](Self::respond)).
    pub fn accept(&mut self, now: Instant, accept: Accept) {
        self.respond(now, Ok(accept));
    }

    /// Refuses the request (see [`respond`](Self::respond)).
    pub fn reject(&mut self, now: Instant, rejection: Rejection) {
        self.respond(now, Err(rejection));
    }

    fn refuse(&mut self, now: Instant, response: Vec<u8>, error: HandshakeError) {
        let _ = now;
        self.out = response;
        self.state = State::Refusing { error, shut: false };
    }

    /// The result, once [`step`](Self::step) is `Done` or `Failed`: the connection (the bytes
    /// that followed the request already fed to it) and the request it answered.
    pub fn finish(self) -> Result<(Connection, Request), HandshakeError> {
        match self.state {
            State::Done(conn) => match self.request {
                Some(request) => Ok((*conn, request)),
                None => Err(HandshakeError::Incomplete),
            },
            State::Failed(error) => Err(error),
            _ => Err(HandshakeError::Incomplete),
        }
    }
}

impl Handshake for ServerHandshake {
    fn step(&self) -> HandshakeStep {
        match &self.state {
            State::Reading => HandshakeStep::Read,
            State::Deciding => HandshakeStep::Decide,
            State::Accepting(_) => HandshakeStep::Read,
            State::Refusing { shut: false, .. } => HandshakeStep::Shutdown,
            State::Refusing { shut: true, .. } => HandshakeStep::Read,
            State::Done(_) => HandshakeStep::Done,
            State::Failed(_) | State::Finished => HandshakeStep::Failed,
        }
    }

    fn transmit(&self) -> &[u8] {
        &self.out
    }

    fn advance_transmit(&mut self, n: usize) {
        self.out.drain(..n);
        if self.out.is_empty() {
            if let State::Accepting(_) = self.state {
                if let State::Accepting(conn) = std::mem::replace(&mut self.state, State::Finished)
                {
                    self.state = State::Done(conn);
                }
            }
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Done(_) | State::Failed(_) | State::Finished => None,
            _ => Some(self.deadline),
        }
    }

    fn handle_data(&mut self, now: Instant, data: &[u8]) {
        match &mut self.state {
            State::Reading => {}
            // Bytes after the request wait for the connection (or are drained after a refusal).
            State::Deciding => {
                let _ = self.parser.feed(data);
                return;
            }
            // Read before the loop saw `Done`: the connection's bytes, not to be lost.
            State::Done(conn) => return conn.handle_data(now, data),
            _ => return,
        }
        match self.parser.feed(data) {
            Ok(None) => {}
            Ok(Some(request)) => {
                self.request = Some(request);
                self.state = State::Deciding;
            }
            Err(error) => self.refuse(now, error.response().unwrap_or_default(), error),
        }
    }

    fn handle_eof(&mut self, now: Instant) {
        self.state = match std::mem::replace(&mut self.state, State::Finished) {
            // The refusal's drain is over: report why we refused.
            State::Refusing { error, .. } => State::Failed(error),
            // The connection's end of stream, after the messages it already has.
            State::Done(mut conn) => {
                conn.handle_eof(now);
                State::Done(conn)
            }
            State::Failed(e) => State::Failed(e),
            _ => State::Failed(HandshakeError::ConnectionClosed),
        };
    }

    fn handle_timeout(&mut self, now: Instant) {
        if now < self.deadline || matches!(self.state, State::Done(_) | State::Failed(_)) {
            return;
        }
        self.out.clear();
        self.state = match std::mem::replace(&mut self.state, State::Finished) {
            State::Refusing { error, .. } => State::Failed(error),
            _ => State::Failed(HandshakeError::Timeout),
        };
    }

    fn handle_write_shutdown(&mut self, now: Instant) {
        if let State::Refusing { shut, .. } = &mut self.state {
            *shut = true;
            self.deadline = self.deadline.min(now + REFUSAL_DRAIN);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQUEST: &[u8] = b"GET /x?y=1 HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: a, b\r\n\r\n";

    fn written(hs: &mut ServerHandshake) -> Vec<u8> {
        let out = hs.transmit().to_vec();
        hs.advance_transmit(out.len());
        out
    }

    #[test]
    fn accepts_and_feeds_early_frames_to_the_connection() {
        let now = Instant::now();
        let mut hs = ServerHandshake::new(Config::default(), now);
        for b in REQUEST.chunks(7) {
            assert_eq!(hs.step(), HandshakeStep::Read);
            hs.handle_data(now, b);
        }
        // A masked text frame "hi" right behind the request.
        hs.handle_data(now, &[0x81, 0x82, 0, 0, 0, 0, b'h', b'i']);
        assert_eq!(hs.step(), HandshakeStep::Decide);
        hs.accept(now, Accept::new().protocol("b"));
        assert_eq!(hs.step(), HandshakeStep::Read, "the 101 is not written yet");
        let response = written(&mut hs);
        assert!(response.starts_with(b"HTTP/1.1 101 "));
        assert_eq!(hs.step(), HandshakeStep::Done);
        let (mut conn, request) = hs.finish().unwrap();
        assert_eq!((request.path(), conn.protocol()), ("/x", Some("b")));
        assert!(
            matches!(conn.poll_event(), Some(crate::Event::Data { payload, .. }) if payload == "hi")
        );
    }

    #[test]
    fn rejection_is_written_then_shut_down_then_drained() {
        let now = Instant::now();
        let mut hs = ServerHandshake::new(Config::default(), now);
        hs.handle_data(now, REQUEST);
        hs.reject(now, Rejection::new(403).body("no"));
        let response = written(&mut hs);
        assert!(response.starts_with(b"HTTP/1.1 403 Forbidden\r\n") && response.ends_with(b"no"));
        assert_eq!(hs.step(), HandshakeStep::Shutdown);
        hs.handle_write_shutdown(now);
        assert_eq!(hs.step(), HandshakeStep::Read);
        assert_eq!(hs.poll_timeout(), Some(now + REFUSAL_DRAIN));
        hs.handle_data(now, b"ignored");
        hs.handle_eof(now);
        assert_eq!(hs.step(), HandshakeStep::Failed);
        let err = hs.finish().unwrap_err();
        assert!(err.is_rejection());
        assert_eq!(err.status(), Some(403));
    }

    #[test]
    fn bad_requests_invalid_accepts_and_timeouts() {
        let now = Instant::now();
        let mut hs = ServerHandshake::new(Config::default(), now);
        hs.handle_data(now, b"POST / HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(written(&mut hs).starts_with(b"HTTP/1.1 405 "));
        hs.handle_write_shutdown(now);
        hs.handle_timeout(now + REFUSAL_DRAIN);
        assert_eq!(hs.finish().unwrap_err(), HandshakeError::MethodNotAllowed);

        let mut hs = ServerHandshake::new(Config::default(), now);
        hs.handle_data(now, REQUEST);
        hs.accept(now, Accept::new().protocol("never-offered"));
        assert!(written(&mut hs).starts_with(b"HTTP/1.1 500 "));
        hs.handle_write_shutdown(now);
        hs.handle_eof(now);
        assert_eq!(hs.finish().unwrap_err(), HandshakeError::ProtocolNotOffered);

        let config = Config::default();
        let limit = config.handshake_timeout;
        let mut hs = ServerHandshake::new(config, now);
        hs.handle_data(now, &REQUEST[..10]);
        assert_eq!(hs.poll_timeout(), Some(now + limit));
        hs.handle_timeout(now + limit / 2);
        assert_eq!(hs.step(), HandshakeStep::Read);
        hs.handle_timeout(now + limit);
        assert_eq!(hs.finish().unwrap_err(), HandshakeError::Timeout);

        let mut hs = ServerHandshake::new(Config::default(), now);
        hs.handle_data(now, &REQUEST[..10]);
        hs.handle_eof(now);
        assert_eq!(hs.finish().unwrap_err(), HandshakeError::ConnectionClosed);
    }
}
