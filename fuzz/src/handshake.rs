//! `handshake_request` and `handshake_response`: hostile bytes into the opening handshake.
//!
//! Input layout: a control byte (limits; for responses also what the client offered), two
//! bytes seeding the chunking, then the bytes the peer sent.
//!
//! Invariants checked, for both parsers:
//! * **bounded memory**: the peak heap follows the bytes fed and `max_bytes` (counting
//!   allocator);
//! * **linear work** (the CVE-2023-43669 class): the bytes the header scanner examines never
//!   exceed the bytes fed plus 3 per call, however the input is chunked;
//! * **the completion point**, against an independent oracle: the parser answers exactly when
//!   the blank line ending the header block has arrived within `max_bytes`, refuses with
//!   `HeadersTooLarge` exactly when `max_bytes` were fed without it, and waits otherwise;
//! * **remaining bytes**: after success, `take_remaining` is exactly what followed the block;
//! * **split invariance**: the result equals that of feeding everything at once;
//! * server: every refusal has a status and a well-formed response; an accepted request's
//!   key, subprotocols and accept value cannot inject anything into our 101 response;
//! * client: success means status 101, an offered subprotocol and offered extensions only.

use ws_proto::handshake::{
    Accept, ClientRequest, HandshakeError, HandshakeLimits, RequestParser, Response,
    ResponseParser, derive_accept_key,
};
use ws_proto::rng::ChaChaRandom;

use crate::alloc::bounded;
use crate::common::{Splitter, control_prefix};

/// The seed of the client's `Sec-WebSocket-Key` in `handshake_response`: fixed, so the corpus
/// can carry the matching `Sec-WebSocket-Accept`.
pub const CLIENT_KEY_SEED: u64 = 0;

/// Limits a control byte selects (small ones make the limit paths reachable).
pub fn limits_for(ctl: u8) -> HandshakeLimits {
    let mut l = HandshakeLimits::default();
    l.max_bytes = [16 << 10, 64, 300, 1024][usize::from(ctl & 3)];
    l.max_headers = [64, 3, 8, 16][usize::from((ctl >> 2) & 3)];
    l
}

/// Heap a parse may use: the header block (at most `max_bytes`) a few times over (buffer,
/// parsed fields, owned copies), what followed it, and a fixed allowance.
fn memory_limit(limits: HandshakeLimits, stream: &[u8]) -> usize {
    (64 << 10) + 4 * limits.max_bytes.min(stream.len()) + 2 * stream.len()
}

/// Where the oracle says the request line goes wrong, if it does within `max_bytes`: the index
/// of the first byte that cannot continue `[CR|LF]* method SP target SP "HTTP/1."` (method: 1 to
/// 16 token characters; target: visible ASCII), and the error expected there. Written without
/// the parser's state machine, from the grammar.
fn request_line_error(stream: &[u8], max_bytes: usize) -> Option<(usize, HandshakeError)> {
    let s = &stream[..stream.len().min(max_bytes)];
    let bad = |i: usize| (i < s.len()).then_some((i, HandshakeError::MalformedHttp));
    if s.first() == Some(&0x16) {
        return Some((0, HandshakeError::NotHttp));
    }
    let tchar = |b: &u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(b);
    // One optional empty line: CRLF or a bare LF; a CR must be followed by LF.
    let lead = match s {
        [b'\r', b'\n', ..] => 2,
        [b'\n', ..] => 1,
        [b'\r', ..] => return bad(1),
        _ => 0,
    };
    let method = s[lead..].iter().take_while(|b| tchar(b)).count();
    if method > 16 {
        return bad(lead + 16);
    }
    let after_method = lead + method;
    if method == 0 || s.get(after_method).is_some_and(|b| *b != b' ') {
        return bad(after_method);
    }
    let t0 = after_method + 1;
    let target =
        s.get(t0..).unwrap_or(&[]).iter().take_while(|b| (0x21..=0x7e).contains(*b)).count();
    let after_target = t0 + target;
    if s.get(after_target).is_some_and(|b| *b != b' ' || target == 0) {
        return bad(after_target);
    }
    let v0 = after_target + 1;
    let version = s.get(v0..).unwrap_or(&[]);
    let matched = version.iter().zip(b"HTTP/1.").take_while(|(a, b)| a == b).count();
    if matched < 7 && matched < version.len() {
        return bad(v0 + matched);
    }
    None
}

/// Where the oracle says the header block ends, if it does within `max_bytes`.
fn block_end(stream: &[u8], max_bytes: usize) -> Option<usize> {
    let end = stream.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    (end <= max_bytes).then_some(end)
}

/// A parser the two targets share the checks of.
trait Parser {
    type Output: PartialEq + std::fmt::Debug;
    fn feed(&mut self, data: &[u8]) -> Result<Option<Self::Output>, HandshakeError>;
    fn take_remaining(&mut self) -> Vec<u8>;
    fn work(&self) -> u64;
}

impl Parser for RequestParser {
    type Output = ws_proto::handshake::Request;
    fn feed(&mut self, data: &[u8]) -> Result<Option<Self::Output>, HandshakeError> {
        RequestParser::feed(self, data)
    }
    fn take_remaining(&mut self) -> Vec<u8> {
        RequestParser::take_remaining(self)
    }
    fn work(&self) -> u64 {
        RequestParser::work(self)
    }
}

impl Parser for ResponseParser {
    type Output = Response;
    fn feed(&mut self, data: &[u8]) -> Result<Option<Self::Output>, HandshakeError> {
        ResponseParser::feed(self, data)
    }
    fn take_remaining(&mut self) -> Vec<u8> {
        ResponseParser::take_remaining(self)
    }
    fn work(&self) -> u64 {
        ResponseParser::work(self)
    }
}

/// Feeds `stream` in chunks, checking work, completion point and remaining bytes; returns
/// the outcome (`Ok(None)`: still waiting when the input ran out).
fn feed_checked<P: Parser>(
    p: &mut P,
    stream: &[u8],
    seed: u64,
    max_bytes: usize,
    line_error: Option<(usize, HandshakeError)>,
) -> Result<Option<P::Output>, HandshakeError> {
    let end = block_end(stream, max_bytes);
    if let (Some((at, _)), Some(e)) = (&line_error, end) {
        assert!(*at < e, "the request line's wrong byte comes before any block end");
    }
    let mut fed = 0usize;
    let mut calls = 0u64;
    for chunk in Splitter::new(seed).split(stream) {
        fed += chunk.len();
        calls += 1;
        let r = p.feed(chunk);
        let work = p.work();
        assert!(
            work <= fed as u64 + 3 * calls,
            "scanned {work} bytes for {fed} fed in {calls} calls"
        );
        // A request line that cannot be one is refused at the first call that fed its first
        // wrong byte: before any other answer.
        if let Some((at, expected)) = &line_error {
            if fed > *at {
                assert_eq!(r.as_ref().err(), Some(expected), "request line wrong at {at}");
                return r;
            }
            assert!(r.is_ok(), "refused {r:?} before the wrong byte at {at} arrived");
        }
        match (&r, end) {
            (Ok(None), Some(e)) => assert!(fed < e, "block ended at {e}, {fed} fed, no answer"),
            (Ok(None), None) => assert!(fed < max_bytes, "{fed} bytes buffered past the limit"),
            (Err(HandshakeError::HeadersTooLarge), _) => {
                assert!(end.is_none(), "refused as too large although the block ends in time");
                assert!(fed >= max_bytes, "refused as too large after only {fed} bytes");
            }
            (_, Some(e)) => assert!(fed >= e, "answered before the block ended"),
            (_, None) => panic!("answered {r:?} without a complete header block"),
        }
        match r {
            Ok(None) => {}
            Ok(Some(out)) => {
                let e = end.expect("checked above");
                assert_eq!(p.take_remaining(), &stream[e..fed], "wrong remaining bytes");
                return Ok(Some(out));
            }
            Err(err) => return Err(err),
        }
    }
    assert!(p.take_remaining().is_empty(), "remaining bytes before the block ended");
    Ok(None)
}

/// The `handshake_request` target: bytes from a would-be client into the server's parser.
pub fn run_request(data: &[u8]) {
    let (ctl, seed, stream) = control_prefix(data);
    let limits = limits_for(ctl);
    let limit = memory_limit(limits, stream);
    let chunked = bounded("request", limit, || {
        let line_error = request_line_error(stream, limits.max_bytes);
        feed_checked(&mut RequestParser::new(limits), stream, seed, limits.max_bytes, line_error)
    });
    let whole = bounded("request", limit, || RequestParser::new(limits).feed(stream));
    match (&chunked, &whole) {
        (Ok(None), _) => {}
        (a, b) => assert_eq!(a, b, "result depends on chunking"),
    }
    match chunked {
        Ok(None) => {}
        Err(HandshakeError::NotHttp) => {}
        Err(e) => {
            let status = e.status().expect("every request error but NotHttp has a status");
            let resp = e.response().expect("every request error has a response");
            let head = format!("HTTP/1.1 {status} ");
            assert!(resp.starts_with(head.as_bytes()), "bad refusal {resp:?}");
            assert!(resp.windows(4).any(|w| w == b"\r\n\r\n"), "refusal without a blank line");
        }
        Ok(Some(req)) => check_accept(&req),
    }
}

/// An accepted request must produce a 101 whose header lines are exactly the ones we wrote,
/// whatever the client put in its key and subprotocol offers.
fn check_accept(req: &ws_proto::handshake::Request) {
    assert_eq!(req.key().len(), 24, "accepted key {:?}", req.key());
    let accept = derive_accept_key(req.key().as_bytes());
    let mut choices = vec![None];
    choices.extend(req.protocols().iter().map(Some));
    for proto in choices {
        let mut a = Accept::new();
        if let Some(p) = proto {
            assert!(
                !p.is_empty() && p.bytes().all(|b| b.is_ascii_graphic() && !b"\",;:".contains(&b)),
                "offered subprotocol {p:?} is not a token"
            );
            a = a.protocol(p.clone());
        }
        let (resp, _) = req
            .accept_response(&a, &ws_proto::Config::default())
            .expect("accepting an offered subprotocol");
        let text = String::from_utf8(resp).expect("ASCII response");
        let lines: Vec<&str> = text.split("\r\n").collect();
        let mut expected = vec![
            "HTTP/1.1 101 Switching Protocols".to_owned(),
            "Upgrade: websocket".to_owned(),
            "Connection: Upgrade".to_owned(),
            format!("Sec-WebSocket-Accept: {accept}"),
        ];
        if let Some(p) = proto {
            expected.push(format!("Sec-WebSocket-Protocol: {p}"));
        }
        expected.extend(["".to_owned(), "".to_owned()]);
        assert_eq!(lines, expected, "unexpected 101 response");
    }
}

/// The client request a control byte selects: what it offers decides what a response may
/// select. The key is always the one [`CLIENT_KEY_SEED`] generates.
pub fn client_request(ctl: u8) -> (Vec<u8>, ResponseParser, ClientRequest) {
    let mut req = ClientRequest::new("example.com", "/chat").limits(limits_for(ctl));
    if ctl & 0x10 != 0 {
        req = req.protocol("chat").protocol("superchat");
    }
    if ctl & 0x20 != 0 {
        req = req.extension("permessage-deflate; client_max_window_bits");
    }
    let (bytes, hs) =
        req.build(&mut ChaChaRandom::from_seed(CLIENT_KEY_SEED)).expect("valid client request");
    (bytes, hs, req)
}

/// The `handshake_response` target: bytes from a would-be server into the client's validator.
pub fn run_response(data: &[u8]) {
    let (ctl, seed, stream) = control_prefix(data);
    let limits = limits_for(ctl);
    let (_, mut hs, req) = client_request(ctl);
    let limit = memory_limit(limits, stream);
    let chunked =
        bounded("response", limit, || feed_checked(&mut hs, stream, seed, limits.max_bytes, None));
    let (_, mut hs2, _) = client_request(ctl);
    let whole = bounded("response", limit, || hs2.feed(stream));
    match (&chunked, &whole) {
        (Ok(None), _) => {}
        (a, b) => assert_eq!(a, b, "result depends on chunking"),
    }
    match chunked {
        Ok(Some(resp)) => {
            assert_eq!(resp.status, 101);
            if let Some(p) = &resp.protocol {
                assert!(req.protocols().contains(p), "unoffered subprotocol {p}");
            }
            for e in &resp.extensions {
                let offered = req.extensions().iter().any(|o| {
                    o.split(';').next().is_some_and(|n| n.trim().eq_ignore_ascii_case(&e.name))
                });
                assert!(offered, "unoffered extension {}", e.name);
            }
        }
        Err(HandshakeError::Rejected(r)) => assert_ne!(r.status, 101, "101 reported as rejected"),
        _ => {}
    }
}
