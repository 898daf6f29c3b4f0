//! The two byte formats of the pipes: gwsocket's strict mode (a 12-byte header of three
//! big-endian `u32`s, client id, type and payload length, then the payload) and the standard
//! mode's chunks (one read = one message, text when it is UTF-8).

use bytes::{Buf, BufMut, Bytes, BytesMut};
use ws_server::Message;

/// Length of a strict-mode header.
pub(crate) const HEADER_LEN: usize = 12;
/// Type of a text message.
pub(crate) const TEXT: u32 = 0x1;
/// Type of a binary message.
pub(crate) const BINARY: u32 = 0x2;
/// Type of the close event (length 0).
pub(crate) const CLOSE: u32 = 0x8;
/// Default type of the open event (payload: the client's IP address, [`IP_LEN`] bytes).
pub(crate) const OPEN: u32 = 0x10;
/// Length of the open event's payload: the text of the IP address, NUL-padded
/// (`INET6_ADDRSTRLEN`).
pub(crate) const IP_LEN: usize = 46;
/// Linux's `PIPE_BUF`: the most a standard-mode read takes for one message.
pub(crate) const PIPE_BUF: usize = 4096;

/// One strict-mode record: header and payload, as written to the output pipe.
pub(crate) fn record(client: u32, kind: u32, payload: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(HEADER_LEN + payload.len());
    out.put_u32(client);
    out.put_u32(kind);
    out.put_u32(u32::try_from(payload.len()).unwrap_or(u32::MAX));
    out.put_slice(payload);
    out.freeze()
}

/// The open event's payload: `ip` as text, NUL-padded to [`IP_LEN`] bytes (all NULs for a
/// peer without an IP address, a Unix-socket client).
pub(crate) fn ip_payload(ip: Option<std::net::IpAddr>) -> [u8; IP_LEN] {
    let mut out = [0u8; IP_LEN];
    if let Some(ip) = ip {
        let text = ip.to_canonical().to_string();
        let n = text.len().min(IP_LEN - 1);
        out[..n].copy_from_slice(&text.as_bytes()[..n]);
    }
    out
}

/// A message the input pipe addresses in strict mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Addressed {
    /// 0: every client of the channel; otherwise one client.
    pub(crate) client: u32,
    pub(crate) binary: bool,
    pub(crate) payload: Bytes,
}

/// Why the strict input stream cannot be followed any further.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BadHeader {
    /// A type other than 1 (text) or 2 (binary).
    Type { client: u32, kind: u32 },
    /// A length over the maximum frame size.
    TooLong { client: u32, len: u32, max: usize },
}

impl std::fmt::Display for BadHeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BadHeader::Type { client, kind } => {
                write!(f, "invalid header: type {kind:#x} for client {client} (1 or 2 expected)")
            }
            BadHeader::TooLong { client, len, max } => write!(
                f,
                "invalid header: length {len} for client {client} is over --max-frame-size {max}"
            ),
        }
    }
}

/// Splits the strict input stream into records; holds at most one record's bytes.
#[derive(Debug)]
pub(crate) struct StrictDecoder {
    buf: BytesMut,
    max: usize,
}

impl StrictDecoder {
    pub(crate) fn new(max: usize) -> Self {
        StrictDecoder { buf: BytesMut::new(), max }
    }

    /// Takes `data` and returns the whole records it completes, in order. After an error the
    /// decoder is empty (the caller resynchronises the input); records before it are returned.
    pub(crate) fn feed(&mut self, data: &[u8]) -> (Vec<Addressed>, Option<BadHeader>) {
        self.buf.extend_from_slice(data);
        let mut out = Vec::new();
        while self.buf.len() >= HEADER_LEN {
            let mut head = &self.buf[..HEADER_LEN];
            let (client, kind, len) = (head.get_u32(), head.get_u32(), head.get_u32());
            let error = match kind {
                TEXT | BINARY if len as usize <= self.max => None,
                TEXT | BINARY => Some(BadHeader::TooLong { client, len, max: self.max }),
                _ => Some(BadHeader::Type { client, kind }),
            };
            if let Some(error) = error {
                self.clear();
                return (out, Some(error));
            }
            if self.buf.len() < HEADER_LEN + len as usize {
                break;
            }
            self.buf.advance(HEADER_LEN);
            let payload = self.buf.split_to(len as usize).freeze();
            out.push(Addressed { client, binary: kind == BINARY, payload });
        }
        (out, None)
    }

    /// Bytes of an unfinished record held.
    pub(crate) fn pending(&self) -> usize {
        self.buf.len()
    }

    /// Forgets any unfinished record.
    pub(crate) fn clear(&mut self) {
        self.buf = BytesMut::new();
    }
}

/// Standard mode: each read is one message, text when it is UTF-8. A UTF-8 sequence cut by the
/// end of a read (a long line split at `PIPE_BUF`) is carried to the next read (at most 3
/// bytes), so the text is not broken; a read that is not UTF-8 otherwise is sent as binary.
#[derive(Debug, Default)]
pub(crate) struct Chunker {
    carry: Vec<u8>,
}

impl Chunker {
    /// Bytes carried from the last read (to be put before the next one).
    pub(crate) fn carried(&self) -> usize {
        self.carry.len()
    }

    /// The message for one read (`None` if it only started a character).
    pub(crate) fn chunk(&mut self, data: &[u8]) -> Option<Message> {
        let mut all = std::mem::take(&mut self.carry);
        all.extend_from_slice(data);
        match std::str::from_utf8(&all) {
            Ok(_) => Some(text(all)),
            // An incomplete character at the end: keep it for the next read (if there is room).
            Err(e) if e.error_len().is_none() && e.valid_up_to() > 0 => {
                self.carry = all.split_off(e.valid_up_to());
                Some(text(all))
            }
            // Only the start of a character (at most 3 bytes): wait for the rest.
            Err(e) if e.error_len().is_none() => {
                self.carry = all;
                None
            }
            Err(_) => Some(binary(all)),
        }
    }

    /// What is left when the input ends: an unfinished character, sent as binary.
    pub(crate) fn finish(&mut self) -> Option<Message> {
        let rest = std::mem::take(&mut self.carry);
        (!rest.is_empty()).then(|| binary(rest))
    }
}

fn text(bytes: Vec<u8>) -> Message {
    match String::from_utf8(bytes) {
        Ok(s) => Message::text(s),
        Err(e) => binary(e.into_bytes()),
    }
}

fn binary(bytes: Vec<u8>) -> Message {
    Message::Binary(Bytes::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_layout_is_big_endian() {
        let r = record(0x01020304, TEXT, b"hi");
        assert_eq!(&r[..], b"\x01\x02\x03\x04\x00\x00\x00\x01\x00\x00\x00\x02hi");
        assert_eq!(&record(7, CLOSE, b"")[..], b"\0\0\0\x07\0\0\0\x08\0\0\0\0");
    }

    #[test]
    fn ip_payload_is_nul_padded() {
        let p = ip_payload(Some("127.0.0.1".parse().unwrap()));
        assert_eq!(&p[..9], b"127.0.0.1");
        assert!(p[9..].iter().all(|&b| b == 0));
        let mapped = ip_payload(Some("::ffff:10.0.0.1".parse().unwrap()));
        assert_eq!(&mapped[..8], b"10.0.0.1");
        assert_eq!(ip_payload(None), [0; IP_LEN]);
    }

    #[test]
    fn decoder_handles_split_and_joined_records() {
        let mut d = StrictDecoder::new(16);
        let mut stream = record(0, TEXT, b"all").to_vec();
        stream.extend_from_slice(&record(5, BINARY, b"\xff\x00"));
        let (first, e) = d.feed(&stream[..7]);
        assert!(first.is_empty() && e.is_none());
        let (rest, e) = d.feed(&stream[7..]);
        assert!(e.is_none());
        assert_eq!(rest.len(), 2);
        assert_eq!((rest[0].client, rest[0].binary, &rest[0].payload[..]), (0, false, &b"all"[..]));
        assert_eq!(
            (rest[1].client, rest[1].binary, &rest[1].payload[..]),
            (5, true, &b"\xff\0"[..])
        );
        assert_eq!(d.pending(), 0);
    }

    #[test]
    fn decoder_refuses_bad_types_and_lengths() {
        let mut d = StrictDecoder::new(4);
        let mut stream = record(1, TEXT, b"ok").to_vec();
        stream.extend_from_slice(&record(1, 9, b""));
        let (good, e) = d.feed(&stream);
        assert_eq!(good.len(), 1);
        assert_eq!(e, Some(BadHeader::Type { client: 1, kind: 9 }));
        assert_eq!(d.pending(), 0);
        let (_, e) = d.feed(&record(2, BINARY, b"12345"));
        assert_eq!(e, Some(BadHeader::TooLong { client: 2, len: 5, max: 4 }));
    }

    #[test]
    fn chunker_keeps_characters_whole() {
        let mut c = Chunker::default();
        let euro = "€".as_bytes(); // 3 bytes
        assert_eq!(c.chunk(b"plain"), Some(Message::text("plain")));
        let mut cut = b"a".to_vec();
        cut.extend_from_slice(&euro[..2]);
        assert_eq!(c.chunk(&cut), Some(Message::text("a")));
        assert_eq!(c.carried(), 2);
        assert_eq!(c.chunk(&euro[2..]), Some(Message::text("€")));
        assert_eq!(c.chunk(&euro[..1]), None);
        assert_eq!(c.finish(), Some(Message::Binary(Bytes::from_static(&euro[..1]))));
        assert_eq!(
            c.chunk(b"\xff\xfeok"),
            Some(Message::Binary(Bytes::from_static(b"\xff\xfeok")))
        );
    }
}
