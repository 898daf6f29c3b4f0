//! `ws://` and `wss://` URLs (RFC 6455 §3).

use super::HandshakeError;

/// A parsed WebSocket URL.
///
/// ```
/// use ws_proto::handshake::WsUrl;
/// let u = WsUrl::parse("wss://[::1]:8443/chat?room=1").unwrap();
/// assert_eq!((u.tls, u.host.as_str(), u.port, u.resource.as_str()), (true, "::1", 8443, "/chat?room=1"));
/// assert_eq!(u.host_header(), "[::1]:8443");
/// assert_eq!(WsUrl::parse("ws://example.com").unwrap().host_header(), "example.com");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsUrl {
    /// `wss://`: the connection runs over TLS.
    pub tls: bool,
    /// Host name or IP address (IPv6 without brackets).
    pub host: String,
    /// Port (80 or 443 when not given).
    pub port: u16,
    /// Path and query, at least `/`.
    pub resource: String,
}

impl WsUrl {
    /// Parses a `ws://` or `wss://` URL. Userinfo and fragments are refused (RFC 6455 §3).
    pub fn parse(url: &str) -> Result<WsUrl, HandshakeError> {
        let (scheme, rest) = url.split_once("://").ok_or(HandshakeError::InvalidUrl)?;
        let tls = if scheme.eq_ignore_ascii_case("wss") {
            true
        } else if scheme.eq_ignore_ascii_case("ws") {
            false
        } else {
            return Err(HandshakeError::InvalidUrl);
        };
        if rest.contains('#') {
            return Err(HandshakeError::InvalidUrl);
        }
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, resource) = rest.split_at(split);
        if authority.contains('@') || authority.is_empty() {
            return Err(HandshakeError::InvalidUrl);
        }
        let resource = match resource {
            "" => "/".to_owned(),
            r if r.starts_with('?') => format!("/{r}"),
            r => r.to_owned(),
        };
        if !resource.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(HandshakeError::InvalidUrl);
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6.split_once(']').ok_or(HandshakeError::InvalidUrl)?;
            (host, after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        let port = match port {
            Some(p) => p.parse().map_err(|_| HandshakeError::InvalidUrl)?,
            None if tls => 443,
            None => 80,
        };
        let host_ok = !host.is_empty()
            && host.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._:%".contains(&b));
        if !host_ok {
            return Err(HandshakeError::InvalidUrl);
        }
        Ok(WsUrl { tls, host: host.to_owned(), port, resource })
    }

    /// The `Host` header value: the port is included only when it is not the scheme's default.
    pub fn host_header(&self) -> String {
        let host =
            if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        let default = if self.tls { 443 } else { 80 };
        if self.port == default { host } else { format!("{host}:{}", self.port) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses() {
        let u = WsUrl::parse("ws://127.0.0.1:9001?x=1").unwrap();
        assert_eq!((u.port, u.resource.as_str()), (9001, "/?x=1"));
        assert_eq!(u.host_header(), "127.0.0.1:9001");
        assert_eq!(WsUrl::parse("WSS://h/").unwrap().port, 443);
        for bad in [
            "http://h/",
            "ws://",
            "ws://h/#frag",
            "ws://user@h/",
            "ws://h:99999/",
            "ws://h:x/",
            "ws://[::1/",
            "ws://h/a b",
            "ws://h\r\n/",
        ] {
            assert_eq!(WsUrl::parse(bad), Err(HandshakeError::InvalidUrl), "{bad}");
        }
    }
}
