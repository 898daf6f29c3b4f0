//! [`ClientHandshake`]: the client's opening handshake as a sans-IO driver.

use std::time::Instant;

use super::{ClientRequest, Handshake, HandshakeError, HandshakeStep, Response, ResponseParser};
use crate::config::{Config, Role};
use crate::connection::Connection;
use crate::rng::{ChaChaRandom, RandomSource};

/// The client side of the opening handshake, from the request to a [`Connection`]: the request
/// bytes out, the response bytes in, bounded by `config.handshake_timeout`.
///
/// It offers what `config` enables (permessage-deflate), verifies the response
/// (`Sec-WebSocket-Accept`, subprotocol and extensions among those offered) and starts the
/// connection with what was negotiated, feeding it the bytes that followed the response. The
/// adapter loop is the one of [`ServerHandshake`](super::ServerHandshake), without `Decide`.
///
/// ```
/// use std::time::Instant;
/// use ws_proto::handshake::{ClientHandshake, ClientRequest, Handshake, HandshakeStep};
/// use ws_proto::Config;
///
/// let now = Instant::now();
/// let mut hs = ClientHandshake::new(ClientRequest::new("example.com", "/chat"), Config::default(), now)?;
/// assert!(hs.transmit().starts_with(b"GET /chat HTTP/1.1\r\n"));
/// let n = hs.transmit().len();
/// hs.advance_transmit(n);
/// assert_eq!(hs.step(), HandshakeStep::Read);
/// hs.handle_data(now, b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
/// assert_eq!(hs.step(), HandshakeStep::Failed);
/// assert_eq!(hs.finish().unwrap_err().status(), Some(403));
/// # Ok::<(), ws_proto::handshake::HandshakeError>(())
/// ```
pub struct ClientHandshake {
    parser: ResponseParser,
    config: Option<Config>,
    rng: Option<Box<dyn RandomSource>>,
    deadline: Instant,
    out: Vec<u8>,
    state: State,
}

enum State {
    Reading,
    Done(Box<(Connection, Response)>),
    Failed(HandshakeError),
}

impl ClientHandshake {
    /// A handshake starting `now` for `request`, with a `Sec-WebSocket-Key` (and later mask
    /// keys) from the operating system's randomness. Fails if the request cannot be sent
    /// safely ([`HandshakeError::InvalidHeader`]).
    pub fn new(
        request: ClientRequest,
        config: Config,
        now: Instant,
    ) -> Result<Self, HandshakeError> {
        Self::with_rng(request, config, now, Box::new(ChaChaRandom::from_os()))
    }

    /// [`new`](Self::new) with an injected source of randomness for the key and the mask keys
    /// (deterministic in tests and fuzzing; never for real clients).
    pub fn with_rng(
        request: ClientRequest,
        config: Config,
        now: Instant,
        mut rng: Box<dyn RandomSource>,
    ) -> Result<Self, HandshakeError> {
        let (out, parser) = request.with_config(&config).build(rng.as_mut())?;
        Ok(ClientHandshake {
            parser,
            deadline: now + config.handshake_timeout,
            config: Some(config),
            rng: Some(rng),
            out,
            state: State::Reading,
        })
    }

    /// The result, once [`step`](Self::step) is `Done` or `Failed`: the connection (with the
    /// bytes that followed the response already fed to it) and the server's response.
    pub fn finish(self) -> Result<(Connection, Response), HandshakeError> {
        match self.state {
            State::Done(done) => Ok(*done),
            State::Failed(error) => Err(error),
            State::Reading => Err(HandshakeError::Incomplete),
        }
    }
}

impl Handshake for ClientHandshake {
    fn step(&self) -> HandshakeStep {
        match self.state {
            State::Reading => HandshakeStep::Read,
            State::Done(_) => HandshakeStep::Done,
            State::Failed(_) => HandshakeStep::Failed,
        }
    }

    fn transmit(&self) -> &[u8] {
        &self.out
    }

    fn advance_transmit(&mut self, n: usize) {
        self.out.drain(..n);
    }

    fn poll_timeout(&self) -> Option<Instant> {
        matches!(self.state, State::Reading).then_some(self.deadline)
    }

    fn handle_data(&mut self, now: Instant, data: &[u8]) {
        match &mut self.state {
            State::Reading => {}
            // Read before the loop saw `Done`: the connection's bytes, not to be lost.
            State::Done(done) => return done.0.handle_data(now, data),
            _ => return,
        }
        match self.parser.feed(data) {
            Ok(None) => {}
            Ok(Some(response)) => {
                let config = self.config.take().unwrap_or_default();
                let mut conn = Connection::new(Role::Client, config, now)
                    .with_negotiated(&response.negotiated());
                if let Some(rng) = self.rng.take() {
                    conn = conn.with_rng(rng);
                }
                conn.handle_data(now, &self.parser.take_remaining());
                self.state = State::Done(Box::new((conn, response)));
            }
            Err(error) => self.state = State::Failed(error),
        }
    }

    fn handle_eof(&mut self, now: Instant) {
        match &mut self.state {
            State::Reading => self.state = State::Failed(HandshakeError::ConnectionClosed),
            // The connection's end of stream, after the messages it already has.
            State::Done(done) => done.0.handle_eof(now),
            _ => {}
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        if now >= self.deadline && matches!(self.state, State::Reading) {
            self.state = State::Failed(HandshakeError::Timeout);
        }
    }

    fn handle_write_shutdown(&mut self, now: Instant) {
        // A client never refuses, so it is never asked to shut down during the handshake.
        let _ = now;
    }
}

impl std::fmt::Debug for ClientHandshake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientHandshake")
            .field("step", &self.step())
            .field("deadline", &self.deadline)
            .field("to_write", &self.out.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handshake::{Accept, ServerHandshake};

    #[test]
    fn full_exchange_with_the_server_driver() {
        let now = Instant::now();
        let rng = Box::new(ChaChaRandom::from_seed(5));
        let request = ClientRequest::new("h", "/p").protocol("chat");
        let mut client = ClientHandshake::with_rng(request, Config::default(), now, rng).unwrap();
        let mut server = ServerHandshake::new(Config::default(), now);
        server.handle_data(now, client.transmit());
        let n = client.transmit().len();
        client.advance_transmit(n);
        server.accept(now, Accept::new().protocol("chat"));
        let mut response = server.transmit().to_vec();
        server.advance_transmit(response.len());
        // A text frame "ok" from the server right behind the 101, fed in two pieces.
        response.extend_from_slice(&[0x81, 0x02, b'o', b'k']);
        let (a, b) = response.split_at(response.len() - 5); // cut inside the blank line
        client.handle_data(now, a);
        assert_eq!(client.step(), HandshakeStep::Read);
        client.handle_data(now, b);
        let (mut conn, response) = client.finish().unwrap();
        assert_eq!((response.protocol.as_deref(), conn.protocol()), (Some("chat"), Some("chat")));
        assert!(
            matches!(conn.poll_event(), Some(crate::Event::Data { payload, .. }) if payload == "ok")
        );
        assert_eq!(server.step(), HandshakeStep::Done);
    }

    /// A loop may read once more before it sees `Done`: those bytes, and the end of stream,
    /// reach the connection instead of being dropped (both drivers).
    #[test]
    fn input_after_done_reaches_the_connection() {
        let now = Instant::now();
        let rng = Box::new(ChaChaRandom::from_seed(5));
        let request = ClientRequest::new("h", "/");
        let mut client = ClientHandshake::with_rng(request, Config::default(), now, rng).unwrap();
        let mut server = server_for(&mut client, now);
        let response = server.transmit().to_vec();
        server.advance_transmit(response.len());
        assert_eq!(server.step(), HandshakeStep::Done);
        // A masked "hi" (key 0) for the server, then its end of stream, both after `Done`.
        server.handle_data(now, &[0x81, 0x82, 0, 0, 0, 0, b'h', b'i']);
        server.handle_eof(now);
        let (mut conn, _) = server.finish().unwrap();
        let event = conn.poll_event();
        assert!(matches!(event, Some(crate::Event::Data { payload, .. }) if payload == "hi"));
        assert_eq!(conn.state(), crate::State::Closed, "the end of stream reached it");

        client.handle_data(now, &response);
        assert_eq!(client.step(), HandshakeStep::Done);
        client.handle_data(now, &[0x82, 0x01, 7]);
        client.handle_eof(now);
        let (mut conn, _) = client.finish().unwrap();
        let event = conn.poll_event();
        assert!(matches!(event, Some(crate::Event::Data { payload, .. }) if payload[..] == [7]));
        assert_eq!(conn.state(), crate::State::Closed, "the end of stream reached it");
    }

    /// A server driver that accepted `client`'s request.
    fn server_for(client: &mut ClientHandshake, now: Instant) -> ServerHandshake {
        let mut server = ServerHandshake::new(Config::default(), now);
        server.handle_data(now, client.transmit());
        let n = client.transmit().len();
        client.advance_transmit(n);
        server.accept(now, Accept::new());
        server
    }

    #[test]
    fn failures() {
        let now = Instant::now();
        let config = Config::default();
        let limit = config.handshake_timeout;
        let mut hs = ClientHandshake::new(ClientRequest::new("h", "/"), config, now).unwrap();
        hs.handle_timeout(now + limit);
        assert_eq!(hs.finish().unwrap_err(), HandshakeError::Timeout);
        let mut hs =
            ClientHandshake::new(ClientRequest::new("h", "/"), Config::default(), now).unwrap();
        hs.handle_eof(now);
        assert_eq!(hs.finish().unwrap_err(), HandshakeError::ConnectionClosed);
        let bad = ClientRequest::new("h", "/").header("X", "a\r\nb");
        assert_eq!(
            ClientHandshake::new(bad, Config::default(), now).unwrap_err(),
            HandshakeError::InvalidHeader
        );
    }
}
