//! A minimal WebSocket wire codec and HTTP upgrade, independent of `ws-proto`.
//!
//! The load generator builds its frames and runs its handshake with this module, and the
//! fastwebsockets peer server (which has no server handshake of its own without hyper) accepts
//! with it. Keeping it separate from the library under test means a bug in `ws-proto` cannot
//! hide itself by being on both ends of a measurement.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha1::{Digest, Sha1};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// RFC 6455 §1.3: appended to the client's key before hashing.
const ACCEPT_GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Largest request or response head this module reads.
const MAX_HEAD: usize = 8 << 10;

/// The data opcodes the tools send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opcode {
    /// 0x1
    Text,
    /// 0x2
    Binary,
    /// 0x8
    Close,
}

impl Opcode {
    fn bits(self) -> u8 {
        match self {
            Opcode::Text => 0x1,
            Opcode::Binary => 0x2,
            Opcode::Close => 0x8,
        }
    }
}

/// Length of the header of a single frame carrying `payload_len` bytes.
pub fn header_len(payload_len: usize, masked: bool) -> usize {
    let ext = match payload_len {
        0..=125 => 0,
        126..=0xffff => 2,
        _ => 8,
    };
    2 + ext + if masked { 4 } else { 0 }
}

/// Encodes one final (FIN) frame; `mask` makes it a client frame.
pub fn encode_frame(opcode: Opcode, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut out = Vec::with_capacity(header_len(payload.len(), mask.is_some()) + payload.len());
    out.push(0x80 | opcode.bits());
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        n @ 0..=125 => out.push(mask_bit | n as u8),
        n @ 126..=0xffff => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    match mask {
        Some(key) => {
            out.extend_from_slice(&key);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        }
        None => out.extend_from_slice(payload),
    }
    out
}

/// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`.
pub fn accept_key(key: &[u8]) -> String {
    let mut sha = Sha1::new();
    sha.update(key);
    sha.update(ACCEPT_GUID);
    BASE64.encode(sha.finalize())
}

/// Why an upgrade failed.
#[derive(Debug)]
pub enum HandshakeError {
    /// The transport failed or ended.
    Io(std::io::Error),
    /// The peer's head was malformed, too large, or refused the upgrade.
    Bad(&'static str),
}

impl std::fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HandshakeError::Io(e) => write!(f, "handshake I/O: {e}"),
            HandshakeError::Bad(why) => write!(f, "handshake refused: {why}"),
        }
    }
}

impl std::error::Error for HandshakeError {}

impl From<std::io::Error> for HandshakeError {
    fn from(e: std::io::Error) -> Self {
        HandshakeError::Io(e)
    }
}

/// Reads an HTTP head (up to and including the blank line).
///
/// The peer must wait for the head to be answered before sending anything else (every client
/// and server the tools talk to does): bytes after the blank line are refused rather than
/// silently lost.
async fn read_head<S: AsyncRead + Unpin>(stream: &mut S) -> Result<Vec<u8>, HandshakeError> {
    let mut buf = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(HandshakeError::Bad("end of stream inside the HTTP head"));
        }
        let from = buf.len().saturating_sub(3);
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf[from..].windows(4).position(|w| w == b"\r\n\r\n") {
            if from + i + 4 != buf.len() {
                return Err(HandshakeError::Bad("data sent before the upgrade completed"));
            }
            return Ok(buf);
        }
        if buf.len() > MAX_HEAD {
            return Err(HandshakeError::Bad("HTTP head too large"));
        }
    }
}

/// Client side: sends an upgrade request for `path` on `host` and checks the 101 response and
/// its `Sec-WebSocket-Accept`.
pub async fn client_handshake<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    host: &str,
    path: &str,
    nonce: [u8; 16],
) -> Result<(), HandshakeError> {
    let key = BASE64.encode(nonce);
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    let head = read_head(stream).await?;
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut response = httparse::Response::new(&mut headers);
    match response.parse(&head) {
        Ok(httparse::Status::Complete(_)) => {}
        _ => return Err(HandshakeError::Bad("malformed HTTP response")),
    }
    if response.code != Some(101) {
        return Err(HandshakeError::Bad("status is not 101"));
    }
    let expected = accept_key(key.as_bytes());
    let accept =
        response.headers.iter().find(|h| h.name.eq_ignore_ascii_case("sec-websocket-accept"));
    match accept {
        Some(h) if h.value == expected.as_bytes() => Ok(()),
        _ => Err(HandshakeError::Bad("wrong Sec-WebSocket-Accept")),
    }
}

/// Server side: reads an upgrade request and answers 101 (or 400 and an error).
pub async fn server_handshake<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
) -> Result<(), HandshakeError> {
    let head = read_head(stream).await?;
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut request = httparse::Request::new(&mut headers);
    let key = match request.parse(&head) {
        Ok(httparse::Status::Complete(_)) if request.method == Some("GET") => request
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("sec-websocket-key"))
            .map(|h| h.value.to_vec()),
        _ => None,
    };
    let Some(key) = key else {
        stream.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n").await?;
        return Err(HandshakeError::Bad("not a WebSocket upgrade request"));
    };
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        accept_key(&key)
    );
    stream.write_all(response.as_bytes()).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_6455_examples() {
        assert_eq!(accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        // §5.7: masked "Hello".
        let f = encode_frame(Opcode::Text, b"Hello", Some([0x37, 0xfa, 0x21, 0x3d]));
        assert_eq!(f, [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
        // §5.7: 256 and 65536 bytes unmasked.
        assert_eq!(&encode_frame(Opcode::Binary, &[0; 256], None)[..4], [0x82, 0x7e, 1, 0]);
        let big = encode_frame(Opcode::Binary, &[0; 65536], None);
        assert_eq!(&big[..10], [0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0]);
        for (len, masked, want) in [(125, false, 2), (126, true, 8), (65536, true, 14)] {
            assert_eq!(header_len(len, masked), want);
            assert_eq!(
                encode_frame(Opcode::Binary, &vec![0; len], masked.then_some([0; 4])).len(),
                want + len
            );
        }
    }

    #[test]
    fn handshake_both_sides_in_memory() {
        let (mut a, mut b) = tokio::io::duplex(4096);
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            let server = server_handshake(&mut b);
            let client = client_handshake(&mut a, "localhost", "/", [7; 16]);
            let (s, c) = tokio::join!(server, client);
            s.unwrap();
            c.unwrap();
        });
    }

    #[test]
    fn server_refuses_garbage() {
        let (mut a, mut b) = tokio::io::duplex(4096);
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            a.write_all(b"POST / HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
            assert!(matches!(server_handshake(&mut b).await, Err(HandshakeError::Bad(_))));
            let mut reply = vec![0; 12];
            a.read_exact(&mut reply).await.unwrap();
            assert_eq!(&reply, b"HTTP/1.1 400");
        });
    }
}
