//! Server side of the opening handshake.

use std::fmt::Write as _;

use super::headers::{ExtensionOffer, Headers, is_field_value, is_token, parse_extensions};
use super::{
    HandshakeError, HandshakeLimits, HeaderBuffer, Negotiated, RequestStart, Response,
    derive_accept_key, is_valid_key,
};

/// Parses an opening-handshake request fed in pieces.
///
/// ```
/// use ws_proto::handshake::{Accept, RequestParser};
/// let mut parser = RequestParser::new(Default::default());
/// let req = parser
///     .feed(b"GET /chat?room=1 HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
///             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
///             Sec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Version: 13\r\n\r\n")
///     .unwrap()
///     .unwrap();
/// assert_eq!((req.path(), req.query()), ("/chat", Some("room=1")));
/// let config = ws_proto::Config::default();
/// let (response, negotiated) = req.accept_response(&Accept::new().protocol("chat"), &config).unwrap();
/// assert!(response.starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
/// assert_eq!(negotiated.protocol.as_deref(), Some("chat"));
/// assert!(parser.take_remaining().is_empty());
/// ```
///
/// [`ServerHandshake`](super::ServerHandshake) runs all of this (and the refusals, and the
/// deadline) for you.
#[derive(Debug)]
pub struct RequestParser {
    buf: HeaderBuffer,
    limits: HandshakeLimits,
    start: RequestStart,
    /// Bytes given to `start` (at most `limits.max_bytes`).
    checked: usize,
}

impl RequestParser {
    /// A parser enforcing `limits`.
    pub fn new(limits: HandshakeLimits) -> Self {
        RequestParser {
            buf: HeaderBuffer::new(limits),
            limits,
            start: RequestStart::new(),
            checked: 0,
        }
    }

    /// Feeds received bytes. `Ok(None)`: the request is incomplete, feed more. `Ok(Some)`: the
    /// request is valid; answer it and pass [`take_remaining`](Self::take_remaining) to the
    /// connection. `Err`: send [`HandshakeError::response`] and close. (After `Ok(Some)` or
    /// `Err`, further input is only kept for `take_remaining`.)
    pub fn feed(&mut self, data: &[u8]) -> Result<Option<Request>, HandshakeError> {
        let max_headers = self.limits.max_headers;
        if !self.start.is_done() && self.checked < self.limits.max_bytes {
            // Refuse what cannot be a request at its first wrong byte (within the limit).
            let take = data.len().min(self.limits.max_bytes - self.checked);
            self.checked += take;
            self.start.check(&data[..take])?;
        }
        match self.buf.feed(data)? {
            None => Ok(None),
            Some(block) => parse_request(block, max_headers).map(Some),
        }
    }

    /// The bytes that followed the request's header block (the first WebSocket frames, if the
    /// client sent them early).
    pub fn take_remaining(&mut self) -> Vec<u8> {
        self.buf.take_remaining()
    }

    /// Bytes the scanner has examined so far: at most about the bytes fed, whatever the
    /// chunking (the handshake parser never re-scans).
    pub fn work(&self) -> u64 {
        self.buf.work()
    }
}

/// Header slots parsed into a stack array (a request with more allowed goes to the heap).
const STACK_HEADERS: usize = 64;

/// The one value of `name`, if there is exactly one.
fn single<'a>(headers: &'a Headers, name: &'a str) -> Option<&'a [u8]> {
    let mut values = headers.get_all(name);
    values.next().filter(|_| values.next().is_none())
}

fn parse_request(block: &[u8], max_headers: usize) -> Result<Request, HandshakeError> {
    let mut on_stack = [httparse::EMPTY_HEADER; STACK_HEADERS];
    let mut on_heap;
    let storage = match max_headers <= STACK_HEADERS {
        true => &mut on_stack[..max_headers],
        false => {
            on_heap = vec![httparse::EMPTY_HEADER; max_headers];
            &mut on_heap[..]
        }
    };
    let mut req = httparse::Request::new(storage);
    match req.parse(block) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(HandshakeError::MalformedHttp),
        Err(httparse::Error::TooManyHeaders) => return Err(HandshakeError::TooManyHeaders),
        Err(_) => return Err(HandshakeError::MalformedHttp),
    }
    let (Some(method), Some(target), Some(version)) = (req.method, req.path, req.version) else {
        return Err(HandshakeError::MalformedHttp);
    };
    if method != "GET" {
        return Err(HandshakeError::MethodNotAllowed);
    }
    if version < 1 {
        return Err(HandshakeError::UnsupportedHttpVersion);
    }
    let headers = Headers::from_httparse(req.headers);
    if headers.get_all("host").count() != 1 {
        return Err(HandshakeError::MissingHost);
    }
    if !headers.has_token("upgrade", "websocket") {
        return Err(HandshakeError::MissingUpgrade);
    }
    if !headers.has_token("connection", "upgrade") {
        return Err(HandshakeError::MissingConnectionUpgrade);
    }
    let key = match single(&headers, "sec-websocket-key") {
        Some(k) if is_valid_key(k) => String::from_utf8_lossy(k).into_owned(),
        _ => return Err(HandshakeError::InvalidKey),
    };
    if single(&headers, "sec-websocket-version") != Some(b"13") {
        return Err(HandshakeError::UnsupportedVersion);
    }
    let protocols = headers
        .list("sec-websocket-protocol")
        .filter(|p| is_token(p))
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    let mut extensions = Vec::new();
    for value in headers.get_all("sec-websocket-extensions") {
        // An unparseable offer is ignored rather than fatal: we simply do not accept it.
        if let Some(mut e) = std::str::from_utf8(value).ok().and_then(parse_extensions) {
            extensions.append(&mut e);
        }
    }
    Ok(Request { target: target.to_owned(), headers, key, protocols, extensions })
}

/// A valid opening-handshake request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    target: String,
    headers: Headers,
    key: String,
    protocols: Vec<String>,
    extensions: Vec<ExtensionOffer>,
}

impl Request {
    /// The request target as sent: path and query.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The path, without the query.
    pub fn path(&self) -> &str {
        self.target.split_once('?').map_or(&self.target, |(p, _)| p)
    }

    /// The query string (after `?`), if any.
    pub fn query(&self) -> Option<&str> {
        self.target.split_once('?').map(|(_, q)| q)
    }

    /// All header fields.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// The `Host` header.
    pub fn host(&self) -> &str {
        self.headers.get("host").unwrap_or("")
    }

    /// The `Origin` header, sent by browsers; check it to refuse cross-site pages.
    pub fn origin(&self) -> Option<&str> {
        self.headers.get("origin")
    }

    /// The `Sec-WebSocket-Key`.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Subprotocols the client offered, in its order of preference.
    pub fn protocols(&self) -> &[String] {
        &self.protocols
    }

    /// Extensions the client offered, in its order of preference.
    pub fn extensions(&self) -> &[ExtensionOffer] {
        &self.extensions
    }

    /// The `101 Switching Protocols` response accepting this request as `accept` says, with no
    /// extension negotiation beyond `accept.extensions`.
    fn accept_bytes(&self, accept: &Accept) -> Result<Vec<u8>, HandshakeError> {
        if let Some(p) = &accept.protocol {
            if !self.protocols.iter().any(|o| o == p) {
                return Err(HandshakeError::ProtocolNotOffered);
            }
        }
        let mut out = String::with_capacity(160);
        out.push_str("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n");
        out.push_str("Connection: Upgrade\r\nSec-WebSocket-Accept: ");
        out.push_str(&derive_accept_key(self.key.as_bytes()));
        out.push_str("\r\n");
        if let Some(p) = &accept.protocol {
            let _ = write!(out, "Sec-WebSocket-Protocol: {p}\r\n");
        }
        if let Some(e) = &accept.extensions {
            check_field("Sec-WebSocket-Extensions", e)?;
            let _ = write!(out, "Sec-WebSocket-Extensions: {e}\r\n");
        }
        for (name, value) in &accept.headers {
            check_field(name, value)?;
            let _ = write!(out, "{name}: {value}\r\n");
        }
        out.push_str("\r\n");
        Ok(out.into_bytes())
    }
}

impl Request {
    /// The `101 Switching Protocols` response accepting this request: the subprotocol and
    /// headers of `accept`, and the extensions `config` enables (permessage-deflate, unless
    /// `accept.compression` is off or `accept.extensions` is set by hand). Returns the response
    /// bytes and what to pass to
    /// [`Connection::with_negotiated`](crate::Connection::with_negotiated).
    ///
    /// Fails with [`HandshakeError::ProtocolNotOffered`] if `accept` selects a subprotocol the
    /// client did not offer, and [`HandshakeError::InvalidHeader`] for header names or values
    /// that cannot be sent.
    pub fn accept_response(
        &self,
        accept: &Accept,
        config: &crate::Config,
    ) -> Result<(Vec<u8>, Negotiated), HandshakeError> {
        #[cfg_attr(not(feature = "deflate"), allow(unused_mut))]
        let mut negotiated = Negotiated { protocol: accept.protocol.clone(), ..Default::default() };
        #[cfg(feature = "deflate")]
        if accept.compression && accept.extensions.is_none() {
            let params = config.deflate.as_ref().and_then(|d| d.negotiate(&self.extensions));
            if let Some(params) = params {
                let mut accept = accept.clone();
                accept.extensions = Some(params.response());
                negotiated.deflate = Some(params);
                return Ok((self.accept_bytes(&accept)?, negotiated));
            }
        }
        #[cfg(not(feature = "deflate"))]
        let _ = config;
        Ok((self.accept_bytes(accept)?, negotiated))
    }
}

/// How an application refuses a request: the HTTP status, headers and body sent back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// HTTP status, e.g. 401, 403 or 404.
    pub status: u16,
    /// Extra response headers (`Content-Length` and `Connection: close` are added).
    pub headers: Vec<(String, String)>,
    /// Response body.
    pub body: Vec<u8>,
}

impl Rejection {
    /// A rejection with `status`, no extra header and an empty body.
    pub fn new(status: u16) -> Self {
        Rejection { status, headers: Vec::new(), body: Vec::new() }
    }

    /// Adds a response header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the response body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// The complete HTTP response (see [`reject`]).
    pub fn response(&self) -> Vec<u8> {
        let headers: Vec<(&str, &str)> =
            self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        reject(self.status, &headers, &self.body)
    }

    /// The status actually sent: `status`, or 500 when it is not a refusal (outside 300–599).
    pub fn sent_status(&self) -> u16 {
        if (300..=599).contains(&self.status) { self.status } else { 500 }
    }

    /// The head of the response this rejection sends, as a client would see it.
    pub(crate) fn head(&self) -> Response {
        let status = self.sent_status();
        let fields = self.headers.iter().map(|(n, v)| (n.clone(), v.as_bytes().to_vec()));
        Response {
            status,
            reason: reason_phrase(status).to_owned(),
            headers: Headers::from_fields(fields.collect()),
            protocol: None,
            extensions: Vec::new(),
            #[cfg(feature = "deflate")]
            deflate: None,
        }
    }
}

fn check_field(name: &str, value: &str) -> Result<(), HandshakeError> {
    if is_token(name.as_bytes()) && is_field_value(value.as_bytes()) {
        Ok(())
    } else {
        Err(HandshakeError::InvalidHeader)
    }
}

/// How a server accepts a request: the subprotocol, extensions and extra headers to answer with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accept {
    /// The chosen subprotocol (must be one the client offered).
    pub protocol: Option<String>,
    /// The `Sec-WebSocket-Extensions` value, set by hand. Leave `None` to let
    /// [`Request::accept_response`] negotiate from the config.
    pub extensions: Option<String>,
    /// Extra response headers.
    pub headers: Vec<(String, String)>,
    /// Let [`Request::accept_response`] negotiate permessage-deflate when the config enables it
    /// (default `true`; see [`Accept::without_compression`]).
    pub compression: bool,
}

impl Default for Accept {
    fn default() -> Self {
        Accept { protocol: None, extensions: None, headers: Vec::new(), compression: true }
    }
}

impl Accept {
    /// Accept with no subprotocol, no extension and no extra header.
    pub fn new() -> Self {
        Accept::default()
    }

    /// Declines compression for this connection even if the config enables it.
    pub fn without_compression(mut self) -> Self {
        self.compression = false;
        self
    }

    /// Selects a subprotocol.
    pub fn protocol(mut self, protocol: impl Into<String>) -> Self {
        self.protocol = Some(protocol.into());
        self
    }

    /// Adds a response header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// A complete HTTP response refusing a handshake: any status, headers and body.
///
/// `Content-Length` and `Connection: close` are added; header fields that could break the
/// response (CR, LF, non-token names) are dropped. A status outside 300–599 (a 1xx or 2xx would
/// not be a refusal) is sent as 500.
///
/// ```
/// let r = ws_proto::handshake::reject(403, &[("X-Why", "origin")], b"forbidden");
/// assert!(r.starts_with(b"HTTP/1.1 403 Forbidden\r\n"));
/// assert!(r.ends_with(b"\r\n\r\nforbidden"));
/// ```
pub fn reject(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let status = Rejection::new(status).sent_status();
    let mut out = String::with_capacity(128 + body.len());
    let _ = write!(out, "HTTP/1.1 {status} {}\r\n", reason_phrase(status));
    let _ = write!(out, "Content-Length: {}\r\nConnection: close\r\n", body.len());
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("content-type")) && !body.is_empty() {
        out.push_str("Content-Type: text/plain; charset=utf-8\r\n");
    }
    for (name, value) in headers {
        if check_field(name, value).is_ok() {
            let _ = write!(out, "{name}: {value}\r\n");
        }
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

pub(crate) fn reason_phrase(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Origin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\n\
        Sec-WebSocket-Version: 13\r\n\r\n";

    fn parse(req: &str) -> Result<Option<Request>, HandshakeError> {
        RequestParser::new(HandshakeLimits::default()).feed(req.as_bytes())
    }

    #[test]
    fn rfc_example_request_and_response() {
        let r = parse(GOOD).unwrap().unwrap();
        assert_eq!(r.origin(), Some("http://example.com"));
        assert_eq!(r.protocols(), ["chat", "superchat"]);
        let resp =
            String::from_utf8(r.accept_bytes(&Accept::new().protocol("chat")).unwrap()).unwrap();
        assert!(resp.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
        assert!(resp.contains("Sec-WebSocket-Protocol: chat\r\n"));
        assert_eq!(
            r.accept_bytes(&Accept::new().protocol("nope")),
            Err(HandshakeError::ProtocolNotOffered)
        );
        let bad = Accept::new().header("X", "a\r\nInjected: 1");
        assert_eq!(r.accept_bytes(&bad), Err(HandshakeError::InvalidHeader));
    }

    /// Exactly one key and one version "13": a repeated field is refused even when both
    /// copies are valid; header slots past the stack array (a raised `max_headers`) parse the
    /// same, and one field more than the limit is refused.
    #[test]
    fn one_key_one_version_and_the_header_slots() {
        let with = |extra: &str| GOOD.replace("\r\n\r\n", &format!("\r\n{extra}\r\n\r\n"));
        let key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==";
        assert_eq!(parse(&with(key)).err(), Some(HandshakeError::InvalidKey));
        let version = "Sec-WebSocket-Version: 13";
        assert_eq!(parse(&with(version)).err(), Some(HandshakeError::UnsupportedVersion));
        let v8 = GOOD.replace("Version: 13", "Version: 8");
        assert_eq!(parse(&v8).err(), Some(HandshakeError::UnsupportedVersion));

        let filler: Vec<String> = (0..100).map(|i| format!("X-Filler-{i}: {i}")).collect();
        let many = with(&filler.join("\r\n"));
        let limits = HandshakeLimits { max_headers: 107, ..HandshakeLimits::default() };
        let r = RequestParser::new(limits).feed(many.as_bytes()).unwrap().unwrap();
        assert_eq!(r.headers().len(), 107);
        assert_eq!(r.headers().get("x-filler-99"), Some("99"));
        let limits = HandshakeLimits { max_headers: 106, ..HandshakeLimits::default() };
        let refused = RequestParser::new(limits).feed(many.as_bytes());
        assert_eq!(refused.err(), Some(HandshakeError::TooManyHeaders));
    }

    #[test]
    fn partial_in_every_split_then_remaining() {
        let mut full = GOOD.as_bytes().to_vec();
        full.extend_from_slice(b"\x81\x85");
        for cut in 0..GOOD.len() {
            let mut p = RequestParser::new(HandshakeLimits::default());
            assert_eq!(p.feed(&full[..cut]), Ok(None), "cut {cut}");
            assert!(p.feed(&full[cut..]).unwrap().is_some());
            assert_eq!(p.take_remaining(), b"\x81\x85");
        }
    }

    #[test]
    fn request_errors() {
        let cases = [
            (GOOD.replace("GET", "POST"), HandshakeError::MethodNotAllowed, 405),
            (GOOD.replace("HTTP/1.1", "HTTP/1.0"), HandshakeError::UnsupportedHttpVersion, 505),
            (GOOD.replace("Host: server.example.com\r\n", ""), HandshakeError::MissingHost, 400),
            (
                GOOD.replace("Upgrade: websocket", "Upgrade: h2c"),
                HandshakeError::MissingUpgrade,
                400,
            ),
            (
                GOOD.replace("Connection: Upgrade", "Connection: close"),
                HandshakeError::MissingConnectionUpgrade,
                400,
            ),
            (GOOD.replace("dGhlIHNhbXBsZSBub25jZQ==", "abc"), HandshakeError::InvalidKey, 400),
            (GOOD.replace("Version: 13", "Version: 8"), HandshakeError::UnsupportedVersion, 426),
            ("GET / HTTP/1.1\r\nBad Header\r\n\r\n".into(), HandshakeError::MalformedHttp, 400),
        ];
        for (req, err, status) in cases {
            let e = parse(&req).unwrap_err();
            assert_eq!(e, err, "{req}");
            assert_eq!(e.status(), Some(status));
            let resp = String::from_utf8(e.response().unwrap()).unwrap();
            assert!(resp.starts_with(&format!("HTTP/1.1 {status} ")), "{resp}");
        }
        let resp =
            String::from_utf8(HandshakeError::UnsupportedVersion.response().unwrap()).unwrap();
        assert!(resp.contains("Sec-WebSocket-Version: 13\r\n"));
    }

    #[test]
    fn header_limits() {
        let limits = HandshakeLimits { max_bytes: 16 << 10, max_headers: 4 };
        let e = RequestParser::new(limits).feed(GOOD.as_bytes()).unwrap_err();
        assert_eq!(e, HandshakeError::TooManyHeaders);
        assert_eq!(e.status(), Some(431));
        let huge = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(20_000));
        assert_eq!(parse(&huge).unwrap_err(), HandshakeError::HeadersTooLarge);
        // A slow drip without an end is refused once over the limit, not buffered forever.
        let mut p = RequestParser::new(HandshakeLimits::default());
        let mut result = p.feed(b"GET / HTTP/1.1\r\nX: ");
        for _ in 0..20_000 {
            result = p.feed(b"a");
            if result.is_err() {
                break;
            }
        }
        assert_eq!(result.unwrap_err(), HandshakeError::HeadersTooLarge);
        // What cannot be a request line is refused at its first wrong byte.
        let mut p = RequestParser::new(HandshakeLimits::default());
        assert_eq!(p.feed(b"GE"), Ok(None));
        assert_eq!(p.feed(b"T /\x00"), Err(HandshakeError::MalformedHttp));
        let e = RequestParser::new(HandshakeLimits::default()).feed(b"\x16\x03\x01").unwrap_err();
        assert_eq!((e.clone(), e.status(), e.response()), (HandshakeError::NotHttp, None, None));
    }
}
