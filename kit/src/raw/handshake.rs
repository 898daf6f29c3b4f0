//! The opening handshake, written out by hand: the raw peer's request or 101 response, and the
//! checks it makes on the adapter's side of it.

use base64::Engine;
use sha1::{Digest, Sha1};

use crate::rng::SplitMix;

const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// `Sec-WebSocket-Accept` for a key (RFC 6455 §4.2.2), computed here rather than by the core.
pub(crate) fn accept_key(key: &str) -> String {
    let mut sha = Sha1::new();
    sha.update(key.trim().as_bytes());
    sha.update(GUID);
    base64::engine::general_purpose::STANDARD.encode(sha.finalize())
}

/// A fresh `Sec-WebSocket-Key`.
pub(crate) fn new_key(rng: &mut SplitMix) -> String {
    base64::engine::general_purpose::STANDARD.encode(rng.bytes(16))
}

/// A parsed header block: the first line and the fields (names lower-cased).
pub(crate) struct Head {
    pub(crate) first_line: String,
    pub(crate) fields: Vec<(String, String)>,
}

impl Head {
    pub(crate) fn parse(block: &[u8]) -> Head {
        let text = String::from_utf8_lossy(block);
        let mut lines = text.split("\r\n");
        let first_line = lines.next().unwrap_or("").to_owned();
        let fields = lines
            .filter(|l| !l.is_empty())
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        Head { first_line, fields }
    }

    /// Every value of the field `name`, joined with ", ".
    pub(crate) fn get(&self, name: &str) -> Option<String> {
        let values: Vec<&str> =
            self.fields.iter().filter(|(n, _)| n == name).map(|(_, v)| v.as_str()).collect();
        (!values.is_empty()).then(|| values.join(", "))
    }

    /// True if the comma-separated field `name` has a token equal to `token` (ignoring case and
    /// any `;` parameters).
    pub(crate) fn has_token(&self, name: &str, token: &str) -> bool {
        self.get(name).is_some_and(|v| {
            v.split(',')
                .any(|item| item.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case(token))
        })
    }
}

/// The client's request.
pub(crate) fn request(host: &str, key: &str, deflate: bool) -> Vec<u8> {
    let mut r = format!(
        "GET / HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
    );
    if deflate {
        r.push_str("Sec-WebSocket-Extensions: permessage-deflate\r\n");
    }
    r.push_str("\r\n");
    r.into_bytes()
}

/// Checks the adapter's 101 response to `key`; returns whether permessage-deflate was accepted.
pub(crate) fn check_response(head: &Head, key: &str, offered_deflate: bool) -> bool {
    assert!(
        head.first_line.starts_with("HTTP/1.1 101"),
        "the adapter (server) did not answer 101: {:?}",
        head.first_line
    );
    assert!(head.has_token("upgrade", "websocket"), "101 without Upgrade: websocket");
    assert!(head.has_token("connection", "upgrade"), "101 without Connection: Upgrade");
    let accept = head.get("sec-websocket-accept");
    assert_eq!(accept.as_deref(), Some(accept_key(key).as_str()), "wrong Sec-WebSocket-Accept");
    let deflate = head.has_token("sec-websocket-extensions", "permessage-deflate");
    assert!(
        offered_deflate || head.get("sec-websocket-extensions").is_none(),
        "the adapter (server) answered with extensions nobody offered: {:?}",
        head.get("sec-websocket-extensions")
    );
    deflate
}

/// The raw server's 101 response to the adapter's request; also returns whether it accepted
/// permessage-deflate (only when `deflate` and the request offered it). It selects `protocol`
/// when the request offered it.
pub(crate) fn response(head: &Head, deflate: bool, protocol: Option<&str>) -> (Vec<u8>, bool) {
    assert!(head.first_line.starts_with("GET "), "not a GET request: {:?}", head.first_line);
    assert!(head.has_token("upgrade", "websocket"), "request without Upgrade: websocket");
    assert_eq!(head.get("sec-websocket-version").as_deref(), Some("13"), "version");
    let key = head.get("sec-websocket-key").expect("the adapter (client) sent no key");
    let offered = head.has_token("sec-websocket-extensions", "permessage-deflate");
    let accept_deflate = deflate && offered;
    let mut r = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n",
        accept_key(&key)
    );
    if accept_deflate {
        r.push_str("Sec-WebSocket-Extensions: permessage-deflate\r\n");
    }
    if let Some(protocol) = protocol.filter(|p| head.has_token("sec-websocket-protocol", p)) {
        r.push_str(&format!("Sec-WebSocket-Protocol: {protocol}\r\n"));
    }
    r.push_str("\r\n");
    (r.into_bytes(), accept_deflate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_accept_key() {
        assert_eq!(accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn protocol_only_when_offered() {
        let offer = |protocols: &str| {
            Head::parse(
                format!(
                    "GET / HTTP/1.1\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
                     Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{protocols}\r\n"
                )
                .as_bytes(),
            )
        };
        let (with, _) = response(
            &offer("Sec-WebSocket-Protocol: chat.v2, chat.v1\r\n"),
            false,
            Some("chat.v1"),
        );
        assert!(
            String::from_utf8(with).unwrap().contains("\r\nSec-WebSocket-Protocol: chat.v1\r\n")
        );
        let (without, _) = response(&offer(""), false, Some("chat.v1"));
        assert!(!String::from_utf8(without).unwrap().contains("Sec-WebSocket-Protocol"));
    }

    #[test]
    fn tokens() {
        let head = Head::parse(
            b"HTTP/1.1 101 X\r\nConnection: keep-alive, Upgrade\r\n\
              Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n",
        );
        assert!(head.has_token("connection", "upgrade"));
        assert!(head.has_token("sec-websocket-extensions", "permessage-deflate"));
        assert!(!head.has_token("upgrade", "websocket"));
    }
}
