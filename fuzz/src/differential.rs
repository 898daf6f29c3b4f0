//! `differential_frames`: the same client-to-server byte stream through ws-proto and tungstenite.
//!
//! Input layout: a control byte (frame and message limits, applied to both), two bytes
//! seeding the chunking, then the stream a client sent after the handshake.
//!
//! Both implementations get only the stream's *complete* frames (the prefix up to the last
//! frame whose payload fully arrived), in the same random chunks. Then either both accept it
//! with identical messages (text, binary, ping, pong, close), or both reject it after the same
//! messages. ws-proto judges a frame as soon as its header arrives and validates text as it
//! arrives, while tungstenite waits for the whole frame; on a truncated final frame the two
//! legitimately differ, which is why only complete frames are compared.
//!
//! Every known disagreement is explained here, with the RFC section:
//!
//! 1. **Close codes tungstenite does not know** (1014, "Bad Gateway"). RFC 6455 §7.4.2 leaves
//!    1000–2999 to the IANA registry, which registered 1012–1014; tungstenite 0.30 classifies
//!    1014 as invalid and answers 1002, ws-proto accepts it. Such a Close is cut from the
//!    comparison (see [`explained_cut`]).
//! 2. **Invalid close codes** (1004–1006, 1015, <1000, 1016–2999, ≥5000). Both answer with a
//!    1002 Close (RFC 6455 §7.4.1, §7.4.2), but tungstenite reports it as an ordinary
//!    `Message::Close(1002, "Protocol violation")` while ws-proto reports
//!    `ProtocolError::InvalidCloseCode`. Same wire behaviour: compared as "both reject".
//! 3. **Control frames with a non-minimal length encoding** (7-bit length 126 or 127 with a
//!    payload of at most 125 bytes). RFC 6455 §5.2 requires the minimal encoding and §5.5
//!    allows control payloads of 125 bytes, which only the 7-bit form encodes; ws-proto fails
//!    the connection as soon as it sees the header, tungstenite checks the decoded length and
//!    accepts. Cut from the comparison (see [`explained_cut`]).

use std::collections::VecDeque;
use std::io::{self, Read, Write};

use tungstenite::protocol::{Message as TMessage, Role as TRole, WebSocket, WebSocketConfig};
use ws_proto::{Config, Connection, Event, Message, MessageAssembler, ProtocolError, Role};

use crate::common::{Splitter, at, control_prefix, decode_wire, wire_frame_extent};

/// A message as both implementations can report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Msg {
    /// Text (as bytes).
    Text(Vec<u8>),
    /// Binary.
    Binary(Vec<u8>),
    /// Ping payload.
    Ping(Vec<u8>),
    /// Pong payload.
    Pong(Vec<u8>),
    /// Close code and reason, if any.
    Close(Option<(u16, Vec<u8>)>),
}

/// How reading ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// All input consumed, more could follow.
    Waiting,
    /// A Close was received.
    Closed,
    /// The connection was failed.
    Rejected,
}

/// Limits (frame, message) a control byte selects; both implementations get them.
pub fn limits_for(ctl: u8) -> (usize, usize) {
    let frame = [16 << 20, 125, 1000, 64][usize::from(ctl & 3)];
    let message = [64 << 20, 200, 3000, 100][usize::from((ctl >> 2) & 3)];
    (frame, message)
}

/// Runs the target on one input.
pub fn run(data: &[u8]) {
    let (ctl, seed, stream) = control_prefix(data);
    let (limits, stream) = (limits_for(ctl), &stream[..complete_prefix(stream)]);
    let stream = &stream[..explained_cut(stream)];
    let chunks = Splitter::new(seed).split(stream);
    let ours = with_ws_proto(&chunks, limits);
    let theirs = with_tungstenite(&chunks, limits);
    let close_reason_utf8 = decode_wire(stream)
        .0
        .iter()
        .find(|f| f.opcode == 0x8)
        .is_some_and(|f| f.payload.len() < 2 || std::str::from_utf8(&f.payload[2..]).is_ok());
    let normalized = normalize(ours.clone(), close_reason_utf8);
    assert_eq!(normalized, theirs, "ws-proto {ours:?} vs tungstenite {theirs:?}");
}

/// Length of the longest prefix made of complete frames.
pub fn complete_prefix(stream: &[u8]) -> usize {
    let mut pos = 0;
    while let Some((hlen, len)) = wire_frame_extent(&stream[pos..]) {
        match (pos + hlen).checked_add(len.try_into().unwrap_or(usize::MAX)) {
            Some(end) if end <= stream.len() => pos = end,
            _ => break,
        }
    }
    pos
}

/// Where the first frame whose handling is an *explained* disagreement starts (see the
/// module documentation, items 1 and 3), or the stream's length.
pub fn explained_cut(stream: &[u8]) -> usize {
    let mut pos = 0;
    while let Some((hlen, len)) = wire_frame_extent(&stream[pos..]) {
        let (b0, b1) = (stream[pos], stream[pos + 1]);
        let control = b0 & 0x08 != 0;
        if control && b1 & 0x7f > 125 && len <= 125 {
            return pos; // item 3
        }
        if b0 & 0x0f == 0x8 && len >= 2 {
            let mut code = [stream[pos + hlen], stream[pos + hlen + 1]];
            if b1 & 0x80 != 0 {
                let key = &stream[pos + hlen - 4..pos + hlen];
                code = [code[0] ^ key[0], code[1] ^ key[1]];
            }
            if u16::from_be_bytes(code) == 1014 {
                return pos; // item 1
            }
        }
        pos += hlen + len as usize;
    }
    stream.len()
}

/// ws-proto's messages and ending, plus the error if it rejected.
fn with_ws_proto(
    chunks: &[&[u8]],
    (max_frame, max_message): (usize, usize),
) -> (Vec<Msg>, End, Option<ws_proto::Error>) {
    let mut config = Config::default();
    config.max_frame_size = max_frame;
    config.max_message_size = max_message;
    let mut conn = Connection::new(Role::Server, config, at(0));
    let mut asm = MessageAssembler::new();
    let mut msgs = Vec::new();
    for chunk in chunks {
        conn.handle_data(at(0), chunk);
        while let Some(ev) = conn.poll_event() {
            if matches!(ev, Event::Closed(_)) {
                continue;
            }
            match asm.push(ev) {
                Some(Message::Text(t)) => msgs.push(Msg::Text(t.as_bytes().to_vec())),
                Some(Message::Binary(b)) => msgs.push(Msg::Binary(b.to_vec())),
                Some(Message::Ping(p)) => msgs.push(Msg::Ping(p.to_vec())),
                Some(Message::Pong(p)) => msgs.push(Msg::Pong(p.to_vec())),
                Some(Message::Close(f)) => {
                    msgs.push(Msg::Close(f.map(|f| (f.code.0, f.reason.to_vec()))))
                }
                None => {}
            }
        }
        // A failure takes effect once the events before it are taken (above).
        let error = conn.close_info().and_then(|info| info.error());
        if error.is_some() {
            return (msgs, End::Rejected, error);
        }
        if matches!(msgs.last(), Some(Msg::Close(_))) {
            return (msgs, End::Closed, None);
        }
    }
    (msgs, End::Waiting, None)
}

/// Applies the explained disagreement of item 2: an invalid close code is a rejection in
/// ws-proto and an answered `Close(1002)` in tungstenite.
/// (tungstenite checks the reason's UTF-8 first, so with a bad reason both simply reject.)
fn normalize(
    (mut msgs, end, error): (Vec<Msg>, End, Option<ws_proto::Error>),
    close_reason_utf8: bool,
) -> (Vec<Msg>, End) {
    let invalid_code =
        matches!(error, Some(ws_proto::Error::Protocol(ProtocolError::InvalidCloseCode(_))));
    if invalid_code && close_reason_utf8 {
        msgs.push(Msg::Close(Some((1002, b"Protocol violation".to_vec()))));
        return (msgs, End::Closed);
    }
    (msgs, end)
}

/// A transport that hands out the chunks, then reports `WouldBlock`; writes are swallowed.
struct Replay {
    chunks: VecDeque<Vec<u8>>,
}

impl Read for Replay {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(front) = self.chunks.front_mut() else {
            return Err(io::ErrorKind::WouldBlock.into());
        };
        let n = buf.len().min(front.len());
        buf[..n].copy_from_slice(&front[..n]);
        front.drain(..n);
        if front.is_empty() {
            self.chunks.pop_front();
        }
        Ok(n)
    }
}

impl Write for Replay {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn with_tungstenite(chunks: &[&[u8]], (max_frame, max_message): (usize, usize)) -> (Vec<Msg>, End) {
    let config = WebSocketConfig::default()
        .max_frame_size(Some(max_frame))
        .max_message_size(Some(max_message))
        .read_buffer_size(4096);
    let replay = Replay { chunks: chunks.iter().map(|c| c.to_vec()).collect() };
    let mut ws = WebSocket::from_raw_socket(replay, TRole::Server, Some(config));
    let mut msgs = Vec::new();
    loop {
        match ws.read() {
            Ok(m) => {
                let closed = matches!(m, TMessage::Close(_));
                msgs.push(match m {
                    TMessage::Text(t) => Msg::Text(t.as_bytes().to_vec()),
                    TMessage::Binary(b) => Msg::Binary(b.to_vec()),
                    TMessage::Ping(p) => Msg::Ping(p.to_vec()),
                    TMessage::Pong(p) => Msg::Pong(p.to_vec()),
                    TMessage::Close(f) => {
                        Msg::Close(f.map(|f| (u16::from(f.code), f.reason.as_bytes().to_vec())))
                    }
                    TMessage::Frame(_) => unreachable!("read never yields raw frames"),
                });
                if closed {
                    return (msgs, End::Closed);
                }
            }
            Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                return (msgs, End::Waiting);
            }
            Err(_) => return (msgs, End::Rejected),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::encode_wire;

    const KEY: [u8; 4] = [1, 2, 3, 4];

    type Both = ((Vec<Msg>, End, Option<ws_proto::Error>), (Vec<Msg>, End));

    fn both(stream: &[u8]) -> Both {
        let limits = limits_for(0);
        (with_ws_proto(&[stream], limits), with_tungstenite(&[stream], limits))
    }

    fn close(code: u16, reason: &[u8]) -> Vec<u8> {
        let mut body = code.to_be_bytes().to_vec();
        body.extend_from_slice(reason);
        encode_wire(true, 8, &body, Some(KEY))
    }

    /// The disagreements the module documents still exist; if one disappears (a new
    /// tungstenite, a ws-proto change), its special case here must go too.
    #[test]
    fn documented_disagreements_exist() {
        // 1: close code 1014.
        let (ours, theirs) = both(&close(1014, b""));
        assert_eq!(ours.0, [Msg::Close(Some((1014, Vec::new())))]);
        assert_eq!(theirs.0, [Msg::Close(Some((1002, b"Protocol violation".to_vec())))]);
        assert_eq!(explained_cut(&close(1014, b"")), 0);

        // 2: an invalid code with a valid reason; normalized to agree.
        let (ours, theirs) = both(&close(1005, b"ok"));
        assert_eq!(ours.2, Some(ProtocolError::InvalidCloseCode(1005).into()));
        let pv = vec![Msg::Close(Some((1002, b"Protocol violation".to_vec())))];
        assert_eq!(theirs, (pv, End::Closed));
        assert_eq!(normalize(ours, true), theirs);
        // With an invalid reason as well, both simply reject.
        let (ours, theirs) = both(&close(1005, b"\xff"));
        assert_eq!(theirs, (vec![], End::Rejected));
        assert_eq!(normalize(ours, false), theirs);

        // 3: a Ping whose 5-byte length uses the 16-bit form.
        let mut ping = vec![0x89, 0xfe, 0, 5];
        ping.extend_from_slice(&KEY);
        ping.extend(b"Hello".iter().enumerate().map(|(i, b)| b ^ KEY[i % 4]));
        let (ours, theirs) = both(&ping);
        assert_eq!(ours.2, Some(ProtocolError::ControlFrameTooLong.into()));
        assert_eq!(theirs.0, [Msg::Ping(b"Hello".to_vec())]);
        assert_eq!(explained_cut(&ping), 0);
    }

    #[test]
    fn agreeing_streams_compare_equal() {
        let mut s = encode_wire(false, 1, "ż".as_bytes(), Some(KEY));
        s.extend(encode_wire(true, 9, b"p", Some(KEY)));
        s.extend(encode_wire(true, 0, b"!", Some(KEY)));
        let tail = close(1000, b"bye");
        s.extend_from_slice(&tail);
        let (ours, theirs) = both(&s);
        assert_eq!(normalize(ours, true), theirs);
        assert_eq!(theirs.1, End::Closed);
        assert_eq!(theirs.0.len(), 3);
        // Truncation keeps whole frames only.
        assert_eq!(complete_prefix(&s[..s.len() - 1]), s.len() - tail.len());
    }

    /// The memory bound of the frame targets has teeth: tungstenite reserves a frame's
    /// *declared* length as soon as its header arrives (up to `max_frame_size`), which the
    /// bound `frames` applies to ws-proto would reject; ws-proto stays within it.
    #[test]
    fn memory_bound_catches_reserving_declared_lengths() {
        let mut header = vec![0x82, 0xff];
        header.extend_from_slice(&(8u64 << 20).to_be_bytes());
        header.extend_from_slice(&KEY);
        let limit = 64 << 10;
        let (_, theirs) = crate::alloc::measure(|| with_tungstenite(&[&header], limits_for(0)));
        assert!(theirs.expect("counting allocator") > 8 << 20, "tungstenite peak {theirs:?}");
        let (_, ours) = crate::alloc::measure(|| with_ws_proto(&[&header], limits_for(0)));
        assert!(ours.expect("counting allocator") < limit, "ws-proto peak {ours:?}");
    }
}
