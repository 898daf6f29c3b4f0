//! Test harness: raw frame builders, output decoding and an in-memory client↔server pair driven
//! by a virtual clock.

#![allow(dead_code, unreachable_pub)]

use std::time::{Duration, Instant};

use ws_proto::Transport;
use ws_proto::bytes::BufMut;
use ws_proto::bytes::buf::Limit;
use ws_proto::frame::{FrameHeader, MAX_HEADER_LEN, OpCode};
use ws_proto::handshake::{Accept, ClientRequest, Negotiated, RequestParser};
use ws_proto::mask::apply_mask_bytewise;
use ws_proto::rng::ChaChaRandom;
use ws_proto::{Config, Connection, Event, Message, MessageAssembler, Role};

pub const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// Encodes one frame by hand, with any bits, for feeding hostile input.
pub fn raw_frame(b0: u8, mask: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![b0];
    let m = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        n @ 0..=125 => out.push(m | n as u8),
        n @ 126..=0xffff => {
            out.push(m | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(m | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    if let Some(k) = mask {
        out.extend_from_slice(&k);
    }
    let body = out.len();
    out.extend_from_slice(payload);
    if let Some(k) = mask {
        apply_mask_bytewise(&mut out[body..], k, 0);
    }
    out
}

/// A masked frame as a client would send it (FIN set unless `fin` is false).
pub fn client_frame(op: OpCode, fin: bool, payload: &[u8]) -> Vec<u8> {
    raw_frame((fin as u8) << 7 | op.as_u8(), Some(KEY), payload)
}

/// An unmasked frame as a server would send it.
pub fn server_frame(op: OpCode, fin: bool, payload: &[u8]) -> Vec<u8> {
    raw_frame((fin as u8) << 7 | op.as_u8(), None, payload)
}

/// A close frame body.
pub fn close_body(code: u16, reason: &str) -> Vec<u8> {
    let mut b = code.to_be_bytes().to_vec();
    b.extend_from_slice(reason.as_bytes());
    b
}

/// Decodes a byte stream of frames (masked or not), returning (header, unmasked payload).
pub fn decode_frames(mut bytes: &[u8]) -> Vec<(FrameHeader, Vec<u8>)> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let (h, hl) = FrameHeader::decode(bytes).unwrap().expect("complete frame in output");
        let len = h.payload_len as usize;
        let mut payload = bytes[hl..hl + len].to_vec();
        if let Some(k) = h.mask {
            apply_mask_bytewise(&mut payload, k, 0);
        }
        out.push((h, payload));
        bytes = &bytes[hl + len..];
    }
    out
}

/// Everything a connection has queued for sending.
pub fn take_output(c: &mut Connection) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(chunk) = c.poll_transmit() {
        out.extend_from_slice(&chunk);
    }
    out
}

pub fn take_events(c: &mut Connection) -> Vec<Event> {
    std::iter::from_fn(|| c.poll_event()).collect()
}

/// The close code of the single Close frame in `output`, if any.
pub fn sent_close_code(output: &[u8]) -> Option<u16> {
    decode_frames(output)
        .into_iter()
        .find(|(h, _)| h.opcode == OpCode::Close)
        .map(|(_, p)| u16::from_be_bytes([p[0], p[1]]))
}

pub fn server(now: Instant) -> Connection {
    Connection::new(Role::Server, Config::default(), now)
}

pub fn client(now: Instant) -> Connection {
    Connection::new(Role::Client, Config::default(), now)
        .with_rng(Box::new(ChaChaRandom::from_seed(1)))
}

/// Feeds `input` to a fresh server, then drains: returns (the peer error the connection
/// failed with, if any, events, output). A failure's `Event::Closed` comes once the transport
/// is done, so the output is written out and the write side shut down here, as an adapter
/// would (the peer's end of stream ends the drain).
pub fn feed_server(input: &[u8]) -> (Result<(), ws_proto::Error>, Vec<Event>, Vec<u8>) {
    let now = Instant::now();
    let mut s = server(now);
    s.handle_data(now, input);
    let mut events = take_events(&mut s);
    let output = take_output(&mut s);
    if s.transport() == Transport::Shutdown {
        s.handle_write_shutdown(now);
        s.handle_eof(now);
        events.extend(take_events(&mut s));
    }
    let error = match events.last() {
        Some(Event::Closed(info)) => info.error(),
        _ => None,
    };
    (error.map_or(Ok(()), Err), events, output)
}

/// Plays an adapter to the end of the transport: writes everything (dropped), shuts down when
/// asked, and lets every deadline pass. Returns the events taken on the way.
pub fn run_to_end(c: &mut Connection, mut now: Instant) -> Vec<Event> {
    let mut events = Vec::new();
    for _ in 0..16 {
        events.extend(take_events(c));
        take_output(c);
        match c.transport() {
            Transport::Close => break,
            Transport::Shutdown => c.handle_write_shutdown(now),
            Transport::Open | Transport::Drain => {
                now = c.poll_timeout().unwrap_or(now).max(now);
                c.handle_timeout(now);
            }
        }
    }
    events.extend(take_events(c));
    events
}

/// Feeds `input` and returns the peer error the connection failed with, if it failed (the
/// failure takes effect once the events before it are taken: those are taken and dropped).
pub fn fail_of(c: &mut Connection, now: Instant, input: &[u8]) -> Result<(), ws_proto::Error> {
    c.handle_data(now, input);
    if c.close_info().is_none() {
        while c.poll_event().is_some() && c.close_info().is_none() {}
    }
    c.close_info().and_then(|info| info.error()).map_or(Ok(()), Err)
}

/// An in-memory client↔server pair with a virtual clock. Each side's messages are assembled;
/// `echo` makes the server send every data message back.
pub struct Pair {
    pub start: Instant,
    pub now: Instant,
    pub client: Connection,
    pub server: Connection,
    pub client_events: Vec<Event>,
    pub server_events: Vec<Event>,
    pub client_msgs: Vec<Message>,
    pub server_msgs: Vec<Message>,
    client_asm: MessageAssembler,
    server_asm: MessageAssembler,
    pub echo: bool,
    /// Bytes written per pump step (to exercise chunking); 0 = whole chunks.
    pub chunk: usize,
    /// Bytes in flight that a side has not read yet (to model a silent/slow reader).
    pub client_paused: bool,
    pub server_paused: bool,
    /// A side's transport closed (or its write side shut down): the other side got EOF.
    client_eof_sent: bool,
    server_eof_sent: bool,
}

impl Pair {
    pub fn new(client_config: Config, server_config: Config) -> Self {
        let start = Instant::now();
        Pair {
            start,
            now: start,
            client: Connection::new(Role::Client, client_config, start)
                .with_rng(Box::new(ChaChaRandom::from_seed(42))),
            server: Connection::new(Role::Server, server_config, start),
            client_events: Vec::new(),
            server_events: Vec::new(),
            client_msgs: Vec::new(),
            server_msgs: Vec::new(),
            client_asm: MessageAssembler::new(),
            server_asm: MessageAssembler::new(),
            echo: false,
            chunk: 0,
            client_paused: false,
            server_paused: false,
            client_eof_sent: false,
            server_eof_sent: false,
        }
    }

    /// A pair whose connections were set up by a real opening handshake between the two
    /// configs, extensions negotiated. Returns the pair and what the client saw negotiated.
    pub fn negotiated(client_config: Config, server_config: Config) -> (Self, Negotiated) {
        let mut p = Pair::new(client_config.clone(), server_config.clone());
        let mut rng = ChaChaRandom::from_seed(7);
        let (req, mut hs) = ClientRequest::new("localhost", "/")
            .with_config(&client_config)
            .build(&mut rng)
            .unwrap();
        let request = RequestParser::new(Default::default()).feed(&req).unwrap().unwrap();
        let (response, server_neg) =
            request.accept_response(&Accept::new(), &server_config).unwrap();
        let client_neg = hs.feed(&response).unwrap().unwrap().negotiated();
        assert_eq!(client_neg, server_neg, "both ends agree on what was negotiated");
        p.client = Connection::new(Role::Client, client_config, p.start)
            .with_rng(Box::new(ChaChaRandom::from_seed(42)))
            .with_negotiated(&client_neg);
        p.server =
            Connection::new(Role::Server, server_config, p.start).with_negotiated(&server_neg);
        (p, client_neg)
    }

    pub fn default_pair() -> Self {
        Self::new(Config::default(), Config::default())
    }

    pub fn advance(&mut self, d: Duration) {
        self.now += d;
    }

    /// Moves bytes both ways, drains events and plays the transport (a side that shuts its
    /// write side down gives the other an end of stream) until nothing changes.
    pub fn pump(&mut self) {
        loop {
            let mut moved = false;
            moved |= self.drain_events();
            if !self.server_paused {
                let out = take_output(&mut self.client);
                moved |= !out.is_empty();
                feed(&mut self.server, self.now, &out, self.chunk);
            }
            if !self.client_paused {
                let out = take_output(&mut self.server);
                moved |= !out.is_empty();
                feed(&mut self.client, self.now, &out, self.chunk);
            }
            moved |= self.drain_events();
            moved |= self.play_transport();
            if !moved {
                break;
            }
        }
    }

    /// A side whose write side is shut down (or whose transport closed) sends EOF to the other.
    fn play_transport(&mut self) -> bool {
        let mut moved = false;
        let now = self.now;
        if shut_or_closed(&mut self.client, now) && !self.client_eof_sent {
            self.client_eof_sent = true;
            self.server.handle_eof(now);
            moved = true;
        }
        if shut_or_closed(&mut self.server, now) && !self.server_eof_sent {
            self.server_eof_sent = true;
            self.client.handle_eof(now);
            moved = true;
        }
        moved
    }

    /// Fires due timers on both sides (at the virtual `now`) and pumps.
    pub fn tick(&mut self) {
        self.client.handle_timeout(self.now);
        self.server.handle_timeout(self.now);
        self.pump();
    }

    fn drain_events(&mut self) -> bool {
        let mut any = false;
        while let Some(ev) = self.server.poll_event() {
            any = true;
            self.server_events.push(ev.clone());
            if let Some(m) = self.server_asm.push(ev) {
                if self.echo {
                    match &m {
                        Message::Text(t) => {
                            let _ = self.server.send_text(t.clone());
                        }
                        Message::Binary(b) => {
                            let _ = self.server.send_binary(b.clone());
                        }
                        _ => {}
                    }
                }
                self.server_msgs.push(m);
            }
        }
        while let Some(ev) = self.client.poll_event() {
            any = true;
            self.client_events.push(ev.clone());
            if let Some(m) = self.client_asm.push(ev) {
                self.client_msgs.push(m);
            }
        }
        any
    }

    /// Data messages only.
    pub fn data(msgs: &[Message]) -> Vec<Message> {
        msgs.iter().filter(|m| m.is_data()).cloned().collect()
    }
}

/// Shuts `c`'s write side down if it asks for it and has written everything; true once its
/// write side is shut (draining) or its transport closed.
pub fn shut_or_closed(c: &mut Connection, now: Instant) -> bool {
    if c.transport() == Transport::Shutdown && c.transmit_len() == 0 {
        c.handle_write_shutdown(now);
    }
    matches!(c.transport(), Transport::Drain | Transport::Close)
}

/// Feeds `bytes` in `chunk`-sized pieces (0: at once), in turn through the copying path, the
/// zero-copy path and the spare-capacity path, ignoring errors (they surface as events).
pub fn feed(c: &mut Connection, now: Instant, bytes: &[u8], chunk: usize) {
    let step = if chunk == 0 { bytes.len().max(1) } else { chunk };
    for (i, piece) in bytes.chunks(step).enumerate() {
        match i % 3 {
            0 => c.handle_data(now, piece),
            1 => feed_recv_buf(c, now, piece),
            _ => feed_recv_into(c, now, piece, usize::MAX),
        }
    }
}

/// Feeds `bytes` through the zero-copy path: copied into `recv_buf`, then `commit`.
pub fn feed_recv_buf(c: &mut Connection, now: Instant, bytes: &[u8]) {
    let mut rest = bytes;
    while !rest.is_empty() {
        let buf = c.recv_buf();
        let n = buf.len().min(rest.len());
        buf[..n].copy_from_slice(&rest[..n]);
        c.commit(now, n);
        rest = &rest[n..];
    }
}

/// Feeds `bytes` through the spare-capacity path (`recv_into`), as a transport reading into a
/// `BufMut` does: each read appends at most the room offered and at most `max_read` bytes.
pub fn feed_recv_into(c: &mut Connection, now: Instant, bytes: &[u8], max_read: usize) {
    let mut rest = bytes;
    while !rest.is_empty() {
        let n = c.recv_into(now, |buf| {
            // What tokio's `read_buf` reads into: the first chunk of spare room.
            let room = buf.chunk_mut().len();
            assert!(room > 0, "recv_into offered no room");
            let n = room.min(rest.len()).min(max_read.max(1));
            buf.put_slice(&rest[..n]);
            n
        });
        rest = &rest[n..];
    }
}

/// Feeds `bytes` through the owned room (`take_recv_room` + `give_recv_room`), as a
/// completion-based loop does: each read fills at most the room's spare capacity, its limit
/// and `max_read` bytes, after the timers had a chance to run while the read was in flight.
pub fn feed_recv_room(c: &mut Connection, now: Instant, bytes: &[u8], max_read: usize) {
    let mut rest = bytes;
    while !rest.is_empty() {
        let Some(mut room) = c.take_recv_room(now) else { return };
        assert!(room.get_ref().is_empty(), "a room comes empty");
        let spare = room.get_ref().capacity().min(Limit::limit(&room));
        assert!(spare > 0, "take_recv_room offered no room");
        // While the read is in flight: events and deadlines may be handled.
        c.handle_timeout(now);
        let n = spare.min(rest.len()).min(max_read.max(1));
        room.get_mut().extend_from_slice(&rest[..n]);
        c.give_recv_room(now, room);
        rest = &rest[n..];
    }
}

/// Encodes a header (for tests that need the exact header bytes).
pub fn header_bytes(h: &FrameHeader) -> Vec<u8> {
    let mut out = [0u8; MAX_HEADER_LEN];
    let n = h.encode(&mut out);
    out[..n].to_vec()
}
