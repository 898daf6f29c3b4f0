//! Client side of the opening handshake.

use std::fmt::Write as _;

use super::headers::{ExtensionOffer, Headers, is_field_value, is_token, parse_extensions};
use super::url::WsUrl;
use super::{HandshakeError, HandshakeLimits, HeaderBuffer, derive_accept_key, generate_key};
use crate::rng::RandomSource;

/// Builds an opening-handshake request.
///
/// ```
/// use ws_proto::handshake::{ClientRequest, WsUrl};
/// use ws_proto::rng::ChaChaRandom;
/// let url = WsUrl::parse("ws://127.0.0.1:9001/chat").unwrap();
/// let (bytes, mut handshake) = ClientRequest::from_url(&url)
///     .origin("http://localhost")
///     .protocol("chat")
///     .header("Authorization", "Bearer x")
///     .build(&mut ChaChaRandom::from_seed(1))
///     .unwrap();
/// assert!(bytes.starts_with(b"GET /chat HTTP/1.1\r\nHost: 127.0.0.1:9001\r\n"));
/// // …send `bytes`, then feed what the server answers:
/// assert_eq!(handshake.feed(b"HTTP/1.1 101 Switching").unwrap(), None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRequest {
    host: String,
    resource: String,
    origin: Option<String>,
    protocols: Vec<String>,
    extensions: Vec<String>,
    headers: Vec<(String, String)>,
    limits: HandshakeLimits,
    #[cfg(feature = "deflate")]
    deflate: Option<crate::deflate::DeflateConfig>,
}

impl ClientRequest {
    /// A request for `resource` (path and query) with the given `Host` header value.
    pub fn new(host: impl Into<String>, resource: impl Into<String>) -> Self {
        ClientRequest {
            host: host.into(),
            resource: resource.into(),
            origin: None,
            protocols: Vec::new(),
            extensions: Vec::new(),
            headers: Vec::new(),
            limits: HandshakeLimits::default(),
            #[cfg(feature = "deflate")]
            deflate: None,
        }
    }

    /// Applies what `config` asks of a handshake: its header limits, and a permessage-deflate
    /// offer when `config.deflate` is set.
    pub fn with_config(mut self, config: &crate::Config) -> Self {
        self.limits = config.handshake_limits;
        #[cfg(feature = "deflate")]
        if let Some(d) = &config.deflate {
            self = self.deflate(d.clone());
        }
        self
    }

    /// Offers permessage-deflate as described by `config` (replacing an earlier offer).
    #[cfg(feature = "deflate")]
    pub fn deflate(mut self, config: crate::deflate::DeflateConfig) -> Self {
        let name = crate::deflate::EXTENSION_NAME;
        self.extensions.retain(|e| !e.trim_start().starts_with(name));
        self.extensions.push(config.offer());
        self.deflate = Some(config);
        self
    }

    /// A request for the resource and host of `url`.
    pub fn from_url(url: &WsUrl) -> Self {
        Self::new(url.host_header(), url.resource.clone())
    }

    /// Sets the `Origin` header.
    pub fn origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = Some(origin.into());
        self
    }

    /// Offers a subprotocol (call again to offer more, most preferred first).
    pub fn protocol(mut self, protocol: impl Into<String>) -> Self {
        self.protocols.push(protocol.into());
        self
    }

    /// Offers an extension: one element of `Sec-WebSocket-Extensions`, e.g.
    /// `permessage-deflate; client_max_window_bits`.
    pub fn extension(mut self, offer: impl Into<String>) -> Self {
        self.extensions.push(offer.into());
        self
    }

    /// Adds a header (e.g. `Authorization`, `Cookie`, `User-Agent`).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets limits on the response's header block.
    pub fn limits(mut self, limits: HandshakeLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The offered subprotocols.
    pub fn protocols(&self) -> &[String] {
        &self.protocols
    }

    /// The offered extensions.
    pub fn extensions(&self) -> &[String] {
        &self.extensions
    }

    /// Encodes the request with a fresh `Sec-WebSocket-Key` from `rng`, returning its bytes and
    /// the state that validates the response.
    ///
    /// Fails with [`HandshakeError::InvalidHeader`] if a header name, value, subprotocol or
    /// extension cannot be sent safely (CR/LF injection, non-token names).
    pub fn build(
        &self,
        rng: &mut dyn RandomSource,
    ) -> Result<(Vec<u8>, ResponseParser), HandshakeError> {
        let valid = self.protocols.iter().all(|p| is_token(p.as_bytes()))
            && self.extensions.iter().all(|e| is_field_value(e.as_bytes()))
            && self
                .headers
                .iter()
                .all(|(n, v)| is_token(n.as_bytes()) && is_field_value(v.as_bytes()))
            && self.origin.as_ref().is_none_or(|o| is_field_value(o.as_bytes()))
            && is_field_value(self.host.as_bytes())
            && !self.resource.is_empty()
            && self.resource.bytes().all(|b| b.is_ascii_graphic());
        if !valid {
            return Err(HandshakeError::InvalidHeader);
        }
        let offered = match self.extensions.join(", ") {
            s if s.is_empty() => Vec::new(),
            s => parse_extensions(&s).ok_or(HandshakeError::InvalidHeader)?,
        };
        let key = generate_key(rng);
        let mut out = String::with_capacity(256);
        let _ = write!(out, "GET {} HTTP/1.1\r\nHost: {}\r\n", self.resource, self.host);
        out.push_str("Upgrade: websocket\r\nConnection: Upgrade\r\n");
        let _ = write!(out, "Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n");
        if let Some(o) = &self.origin {
            let _ = write!(out, "Origin: {o}\r\n");
        }
        if !self.protocols.is_empty() {
            let _ = write!(out, "Sec-WebSocket-Protocol: {}\r\n", self.protocols.join(", "));
        }
        if !self.extensions.is_empty() {
            let _ = write!(out, "Sec-WebSocket-Extensions: {}\r\n", self.extensions.join(", "));
        }
        for (n, v) in &self.headers {
            let _ = write!(out, "{n}: {v}\r\n");
        }
        out.push_str("\r\n");
        let handshake = ResponseParser {
            accept: derive_accept_key(key.as_bytes()),
            protocols: self.protocols.clone(),
            offered,
            buf: HeaderBuffer::new(self.limits),
            max_headers: self.limits.max_headers,
            #[cfg(feature = "deflate")]
            deflate: self.deflate.clone(),
        };
        Ok((out.into_bytes(), handshake))
    }
}

/// Validates the server's response to a [`ClientRequest`].
#[derive(Debug)]
pub struct ResponseParser {
    accept: String,
    protocols: Vec<String>,
    offered: Vec<ExtensionOffer>,
    buf: HeaderBuffer,
    max_headers: usize,
    #[cfg(feature = "deflate")]
    deflate: Option<crate::deflate::DeflateConfig>,
}

impl ResponseParser {
    /// Feeds received bytes. `Ok(None)`: incomplete, feed more. `Ok(Some)`: the server
    /// accepted; pass [`take_remaining`](Self::take_remaining) to the connection.
    ///
    /// Checks: status 101, `Upgrade: websocket`, a `Connection` list with `upgrade`, a
    /// `Sec-WebSocket-Accept` derived from our key, a subprotocol among those offered, and
    /// only extensions we offered.
    pub fn feed(&mut self, data: &[u8]) -> Result<Option<Response>, HandshakeError> {
        let max_headers = self.max_headers;
        let Some(block) = self.buf.feed(data)? else { return Ok(None) };
        let mut storage = vec![httparse::EMPTY_HEADER; max_headers];
        let mut resp = httparse::Response::new(&mut storage);
        match resp.parse(block) {
            Ok(httparse::Status::Complete(_)) => {}
            Err(httparse::Error::TooManyHeaders) => return Err(HandshakeError::TooManyHeaders),
            _ => return Err(HandshakeError::MalformedHttp),
        }
        let (Some(status), Some(version)) = (resp.code, resp.version) else {
            return Err(HandshakeError::MalformedHttp);
        };
        let headers = Headers::from_httparse(resp.headers);
        let mut response = Response {
            status,
            reason: resp.reason.unwrap_or("").to_owned(),
            headers,
            protocol: None,
            extensions: Vec::new(),
            #[cfg(feature = "deflate")]
            deflate: None,
        };
        if status != 101 {
            return Err(HandshakeError::Rejected(Box::new(response)));
        }
        if version < 1 {
            return Err(HandshakeError::UnsupportedHttpVersion);
        }
        let h = response.headers.clone();
        if !h.has_token("upgrade", "websocket") {
            return Err(HandshakeError::MissingUpgrade);
        }
        if !h.has_token("connection", "upgrade") {
            return Err(HandshakeError::MissingConnectionUpgrade);
        }
        match h.get_all("sec-websocket-accept").collect::<Vec<_>>()[..] {
            [a] if a == self.accept.as_bytes() => {}
            _ => return Err(HandshakeError::InvalidAccept),
        }
        let chosen: Vec<&[u8]> = h.list("sec-websocket-protocol").collect();
        response.protocol = match chosen.as_slice() {
            [] => None,
            [p] => match self.protocols.iter().find(|o| o.as_bytes() == *p) {
                Some(p) => Some(p.clone()),
                None => return Err(HandshakeError::UnexpectedProtocol),
            },
            _ => return Err(HandshakeError::UnexpectedProtocol),
        };
        for value in h.get_all("sec-websocket-extensions") {
            let parsed = std::str::from_utf8(value)
                .ok()
                .and_then(parse_extensions)
                .ok_or(HandshakeError::UnexpectedExtension)?;
            for e in parsed {
                if !self.offered.iter().any(|o| o.name.eq_ignore_ascii_case(&e.name)) {
                    return Err(HandshakeError::UnexpectedExtension);
                }
                response.extensions.push(e);
            }
        }
        #[cfg(feature = "deflate")]
        if let Some(d) = &self.deflate {
            response.deflate = d.accept_response(&response.extensions)?;
        }
        Ok(Some(response))
    }

    /// The bytes that followed the response's header block: the first WebSocket frames (or,
    /// after [`HandshakeError::Rejected`], the start of the response body).
    pub fn take_remaining(&mut self) -> Vec<u8> {
        self.buf.take_remaining()
    }

    /// Bytes the scanner has examined so far (linear in the bytes fed).
    pub fn work(&self) -> u64 {
        self.buf.work()
    }
}

/// A server's response head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// Reason phrase.
    pub reason: String,
    /// All header fields.
    pub headers: Headers,
    /// The subprotocol the server selected (one of ours).
    pub protocol: Option<String>,
    /// The extensions the server enabled, with their parameters.
    pub extensions: Vec<ExtensionOffer>,
    /// The permessage-deflate parameters agreed (validated against our offer).
    #[cfg(feature = "deflate")]
    pub deflate: Option<crate::deflate::DeflateParams>,
}

impl Response {
    /// What was negotiated, for [`Connection::with_negotiated`](crate::Connection::with_negotiated).
    pub fn negotiated(&self) -> super::Negotiated {
        super::Negotiated {
            protocol: self.protocol.clone(),
            #[cfg(feature = "deflate")]
            deflate: self.deflate,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handshake::{Accept, RequestParser};
    use crate::rng::ChaChaRandom;

    fn request() -> ClientRequest {
        ClientRequest::new("h:1", "/p?q").protocol("chat").protocol("v2").extension("x-test; a=1")
    }

    #[test]
    fn round_trip_with_server() {
        let (bytes, mut hs) =
            request().header("X-A", "b").build(&mut ChaChaRandom::from_seed(3)).unwrap();
        let req = RequestParser::new(Default::default()).feed(&bytes).unwrap().unwrap();
        assert_eq!((req.path(), req.query(), req.host()), ("/p", Some("q"), "h:1"));
        assert_eq!(req.headers().get("x-a"), Some("b"));
        assert_eq!(req.extensions()[0].name, "x-test");
        let mut accept = Accept::new().protocol("v2").header("X-Server", "1");
        accept.extensions = Some("x-test".into());
        let (mut resp, _) = req.accept_response(&accept, &crate::Config::default()).unwrap();
        resp.extend_from_slice(b"\x81\x00");
        let r = hs.feed(&resp).unwrap().unwrap();
        assert_eq!(r.protocol.as_deref(), Some("v2"));
        assert_eq!(r.headers.get("x-server"), Some("1"));
        assert_eq!(hs.take_remaining(), b"\x81\x00");
    }

    fn respond(extra: &str, accept_ok: bool) -> Result<Option<Response>, HandshakeError> {
        let (bytes, mut hs) = request().build(&mut ChaChaRandom::from_seed(3)).unwrap();
        let req = RequestParser::new(Default::default()).feed(&bytes).unwrap().unwrap();
        let accept = if accept_ok { derive_accept_key(req.key().as_bytes()) } else { "bad".into() };
        let resp = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: WebSocket\r\nConnection: keep-alive, UPGRADE\r\n\
             Sec-WebSocket-Accept: {accept}\r\n{extra}\r\n"
        );
        hs.feed(resp.as_bytes())
    }

    #[test]
    fn response_validation() {
        assert!(respond("", true).unwrap().is_some());
        assert_eq!(respond("", false), Err(HandshakeError::InvalidAccept));
        let unoffered = "Sec-WebSocket-Protocol: other\r\n";
        assert_eq!(respond(unoffered, true), Err(HandshakeError::UnexpectedProtocol));
        let two = "Sec-WebSocket-Protocol: chat, v2\r\n";
        assert_eq!(respond(two, true), Err(HandshakeError::UnexpectedProtocol));
        let ext = "Sec-WebSocket-Extensions: permessage-deflate\r\n";
        assert_eq!(respond(ext, true), Err(HandshakeError::UnexpectedExtension));
        let (_, mut hs) = request().build(&mut ChaChaRandom::from_seed(3)).unwrap();
        let e = hs.feed(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno").unwrap_err();
        let HandshakeError::Rejected(r) = e else { panic!("{e:?}") };
        assert_eq!(r.status, 403);
        assert_eq!(hs.take_remaining(), b"no");
    }

    #[test]
    fn refuses_header_injection() {
        let mut rng = ChaChaRandom::from_seed(1);
        for req in [
            ClientRequest::new("h", "/").header("X", "a\r\nEvil: 1"),
            ClientRequest::new("h", "/").header("Bad Name", "v"),
            ClientRequest::new("h", "/").protocol("a b"),
            ClientRequest::new("h", "/ x"),
            ClientRequest::new("h", "/").origin("o\n"),
        ] {
            assert_eq!(req.build(&mut rng).unwrap_err(), HandshakeError::InvalidHeader);
        }
    }
}
