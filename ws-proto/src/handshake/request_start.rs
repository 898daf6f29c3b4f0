//! Refusing what cannot be an HTTP request as soon as its first bytes arrive, instead of
//! holding the connection until the header block's limit or the handshake timeout.

use super::HandshakeError;

/// The longest method token accepted while checking (longer ones are not HTTP methods anyone
/// sends to a WebSocket server).
const MAX_METHOD: usize = 16;

/// Where the request line's version starts: every request we can answer has one of these.
const VERSION: &[u8] = b"HTTP/1.";

/// Checks the start of a request line (`METHOD SP target SP HTTP/1.`) incrementally: each
/// byte is examined once, and the first byte that cannot belong to a request line fails it.
///
/// One leading empty line is allowed (RFC 9112 §2.2). A first byte of `0x16` (a TLS handshake
/// record: a `wss://` client on a plain port) is [`HandshakeError::NotHttp`], which has no HTTP
/// response; anything else that cannot start a request is
/// [`HandshakeError::MalformedHttp`] (400). [`RequestParser`](super::RequestParser) runs it on
/// every byte it buffers; a server that reads the head itself can run it too.
///
/// ```
/// use ws_proto::handshake::{HandshakeError, RequestStart};
/// let mut check = RequestStart::new();
/// assert!(check.check(b"GET /chat HT").is_ok());
/// assert!(check.check(b"TP/1.1\r\nHost: x\r\n").is_ok());
/// assert_eq!(RequestStart::new().check(b"\x16\x03\x01\x02\x00"), Err(HandshakeError::NotHttp));
/// assert_eq!(RequestStart::new().check(b"GET /a b"), Err(HandshakeError::MalformedHttp));
/// ```
#[derive(Debug, Clone, Default)]
pub struct RequestStart {
    state: State,
    /// Bytes examined.
    seen: usize,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum State {
    /// Before the method (one empty line allowed).
    #[default]
    Start,
    /// After a leading CR: LF must follow.
    LeadCr,
    /// After the leading empty line: the method must follow.
    Lead,
    /// Inside the method, this many bytes long.
    Method(usize),
    /// Inside the request target, this many bytes long.
    Target(usize),
    /// This many bytes of [`VERSION`] matched.
    Version(usize),
    /// The line starts like a request: the full parser judges the rest.
    Done,
}

impl RequestStart {
    /// A check at the first byte of a request.
    pub fn new() -> Self {
        RequestStart::default()
    }

    /// True once the line has started like a request (nothing more is examined).
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Examines the next bytes of the stream. `Err` as soon as they cannot start a request.
    pub fn check(&mut self, data: &[u8]) -> Result<(), HandshakeError> {
        for &b in data {
            self.state = match self.state {
                State::Done => return Ok(()),
                State::Start if b == 0x16 => return Err(HandshakeError::NotHttp),
                State::Start if b == b'\r' => State::LeadCr,
                State::Start if b == b'\n' => State::Lead,
                State::LeadCr if b == b'\n' => State::Lead,
                State::Start | State::Lead if is_tchar(b) => State::Method(1),
                State::Start | State::LeadCr | State::Lead => {
                    return Err(HandshakeError::MalformedHttp);
                }
                State::Method(n) => match b {
                    b' ' => State::Target(0),
                    b if is_tchar(b) && n < MAX_METHOD => State::Method(n + 1),
                    _ => return Err(HandshakeError::MalformedHttp),
                },
                State::Target(n) => match b {
                    b' ' if n > 0 => State::Version(0),
                    0x21..=0x7e => State::Target(n + 1),
                    _ => return Err(HandshakeError::MalformedHttp),
                },
                State::Version(i) if b == VERSION[i] => match i + 1 {
                    done if done == VERSION.len() => State::Done,
                    next => State::Version(next),
                },
                State::Version(_) => return Err(HandshakeError::MalformedHttp),
            };
            self.seen += 1;
        }
        Ok(())
    }
}

/// `tchar` of RFC 9110 §5.6.2.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first_error(input: &[u8]) -> Option<(usize, HandshakeError)> {
        let mut check = RequestStart::new();
        for (i, b) in input.iter().enumerate() {
            if let Err(e) = check.check(std::slice::from_ref(b)) {
                return Some((i, e));
            }
        }
        None
    }

    #[test]
    fn requests_pass_and_garbage_fails_at_its_first_byte() {
        for ok in [
            &b"GET / HTTP/1.1\r\n"[..],
            b"\r\nGET /chat?x=1 HTTP/1.1\r\n",
            b"\nGET / HTTP/1.1\r\n",
            b"POST /x HTTP/1.0\r\n",
            b"GET /a HTTP/1.",
            b"GE",
        ] {
            assert_eq!(first_error(ok), None, "{ok:?}");
        }
        let e = HandshakeError::MalformedHttp;
        assert_eq!(first_error(b"\x16\x03\x01"), Some((0, HandshakeError::NotHttp)));
        assert_eq!(first_error(b"\x00abc"), Some((0, e.clone())));
        assert_eq!(first_error(b"\r\n\r\n"), Some((2, e.clone())), "one empty line only");
        assert_eq!(first_error(b"\rGET"), Some((1, e.clone())));
        assert_eq!(first_error(b"GET  / HTTP/1.1"), Some((4, e.clone())), "empty target");
        assert_eq!(first_error(b"GET /\x01 HTTP/1.1"), Some((5, e.clone())));
        assert_eq!(first_error(b"GET / HTTP/2"), Some((11, e.clone())));
        assert_eq!(first_error(b"SSH-2.0-OpenSSH\r\n"), Some((15, e.clone())));
        assert_eq!(first_error(&[b'A'; 20]), Some((MAX_METHOD, e)));
    }
}
