//! One end of the in-memory pair: its connection, the bytes it wrote that are still in flight,
//! and what the oracle expects the other end to see.

use std::collections::VecDeque;

use bytes::Bytes;
use ws_proto::{
    CloseCause, CloseCode, CloseFrame, Config, Connection, Event, Message, MessageAssembler,
    MessageKind, Role, State,
};

use crate::common::{Splitter, WireFrame, at, decode_wire};

/// One side of the conversation.
pub(super) struct Peer {
    pub(super) name: &'static str,
    pub(super) conn: Connection,
    pub(super) config: Config,
    /// Bytes this side wrote (plus injected garbage) not yet delivered to the other side.
    pub(super) wire: VecDeque<u8>,
    /// Garbage was injected into `wire`: what the other side sees no longer equals what this
    /// side wrote.
    pub(super) corrupted: bool,
    /// This side's own output not yet decoded by the oracle.
    undecoded: Vec<u8>,
    /// Kind of the data message this side's output is in the middle of.
    out_kind: Option<MessageKind>,
    /// Events the other side must report, decoded from this side's output.
    pub(super) expected: VecDeque<Event>,
    /// Whole messages this side sent, in order, not yet received by the other side.
    pub(super) sent_messages: VecDeque<Message>,
    /// The outgoing fragmented message in progress, as the application sent it.
    pub(super) out_msg: Option<(MessageKind, Vec<u8>)>,
    /// A Close frame appeared in this side's output.
    pub(super) close_written: bool,
    /// Received messages are assembled here.
    assembler: MessageAssembler,
    /// `Event::Closed` was reported.
    pub(super) closed_event: Option<ws_proto::CloseInfo>,
    /// The transport ended for this side (it was told EOF).
    pub(super) eof: bool,
    /// This side shut its write side down (after writing everything): no more bytes from it.
    pub(super) write_shut: bool,
    /// This side closed its transport (the core said `Transport::Close`).
    pub(super) transport_closed: bool,
    /// Whole data messages received.
    pub(super) received: usize,
    /// Use the vectored drain (`transmit_chunks` + `advance_transmit`) and `recv_buf` or
    /// `recv_into`.
    pub(super) vectored: bool,
}

impl Peer {
    pub(super) fn new(
        name: &'static str,
        role: Role,
        config: Config,
        seed: u64,
        vectored: bool,
    ) -> Self {
        let conn = Connection::new(role, config.clone(), at(0))
            .with_rng(Box::new(ws_proto::rng::ChaChaRandom::from_seed(seed)));
        Peer {
            name,
            conn,
            assembler: MessageAssembler::new(),
            config,
            wire: VecDeque::new(),
            corrupted: false,
            undecoded: Vec::new(),
            out_kind: None,
            expected: VecDeque::new(),
            sent_messages: VecDeque::new(),
            out_msg: None,
            close_written: false,
            closed_event: None,
            eof: false,
            write_shut: false,
            transport_closed: false,
            received: 0,
            vectored,
        }
    }

    pub(super) fn role(&self) -> Role {
        self.conn.role()
    }

    /// Moves everything the connection queued onto the wire and returns the frames it formed
    /// (decoded by the oracle), after checking masking and that nothing follows a Close.
    pub(super) fn drain_output(&mut self, choices: &mut Splitter) -> Vec<WireFrame> {
        let mut out = Vec::new();
        loop {
            if self.vectored && choices.coin() {
                let total = self.conn.transmit_len();
                if total == 0 {
                    break;
                }
                let queued: Vec<u8> = self.conn.transmit_chunks().flatten().copied().collect();
                assert_eq!(queued.len(), total);
                let n = 1 + (choices.next_u64() % total as u64) as usize;
                out.extend_from_slice(&queued[..n]);
                self.conn.advance_transmit(n);
            } else {
                match self.conn.poll_transmit() {
                    Some(b) => out.extend_from_slice(&b),
                    None => break,
                }
            }
        }
        if !self.write_shut {
            self.wire.extend(out.iter().copied());
        } else {
            assert!(out.is_empty(), "{}: bytes written after shutting the write side", self.name);
        }
        self.undecoded.extend_from_slice(&out);
        let (frames, used) = decode_wire(&self.undecoded);
        self.undecoded.drain(..used);
        assert!(self.undecoded.is_empty(), "{}: output ends inside a frame", self.name);
        for f in &frames {
            assert!(!self.close_written, "{}: frame {f:?} written after a Close", self.name);
            assert_eq!(f.masked, self.role() == Role::Client, "{}: masking of {f:?}", self.name);
            assert_eq!(f.rsv, 0);
            let ev = self.expected_event(f);
            self.expected.push_back(ev);
            if f.opcode == 0x8 {
                self.close_written = true;
            }
        }
        frames
    }

    /// The event the other side must report for a frame this side wrote.
    fn expected_event(&mut self, f: &WireFrame) -> Event {
        let payload = Bytes::copy_from_slice(&f.payload);
        let data = |kind, first| Event::Data { kind, payload: payload.clone(), first, fin: f.fin };
        match f.opcode {
            0x1 | 0x2 => {
                assert!(self.out_kind.is_none(), "{}: new message inside a message", self.name);
                let kind = if f.opcode == 1 { MessageKind::Text } else { MessageKind::Binary };
                self.out_kind = (!f.fin).then_some(kind);
                data(kind, true)
            }
            0x0 => {
                let kind = self.out_kind.expect("continuation without a message");
                if f.fin {
                    self.out_kind = None;
                }
                data(kind, false)
            }
            0x9 => Event::Ping(payload),
            0xA => Event::Pong(payload),
            0x8 => Event::CloseReceived(match f.close_code() {
                None => None,
                Some(code) => {
                    let reason = std::str::from_utf8(&f.payload[2..]).expect("UTF-8 reason");
                    Some(CloseFrame::new(CloseCode(code), reason))
                }
            }),
            op => panic!("{}: wrote opcode {op}", self.name),
        }
    }

    /// Drains and checks this side's events. `sender` is the other side (what it wrote is what
    /// this side must report, unless garbage was injected). Returns the Pings reported.
    pub(super) fn drain_events(&mut self, sender: &mut Peer) -> Vec<Bytes> {
        let mut pings = Vec::new();
        while let Some(ev) = self.conn.poll_event() {
            assert!(self.closed_event.is_none(), "{}: {ev:?} after Closed", self.name);
            if let Event::Ping(p) = &ev {
                pings.push(p.clone());
            }
            if let Event::Closed(info) = &ev {
                self.check_closed(info, sender);
                self.closed_event = Some(ws_proto::CloseInfo::clone(info));
                continue;
            }
            if !sender.corrupted {
                let want = sender.expected.pop_front();
                assert_eq!(Some(&ev), want.as_ref(), "{}: received other than sent", self.name);
            }
            if let Some(m @ (Message::Text(_) | Message::Binary(_))) = self.assembler.push(ev) {
                self.received += 1;
                if let Message::Text(t) = &m {
                    assert!(std::str::from_utf8(t.as_bytes()).is_ok());
                }
                if !sender.corrupted {
                    let sent = sender.sent_messages.pop_front();
                    assert_eq!(Some(&m), sent.as_ref(), "{}: message not intact", self.name);
                }
            }
        }
        pings
    }

    fn check_closed(&self, info: &ws_proto::CloseInfo, sender: &Peer) {
        assert!(self.conn.is_closed());
        match info.cause {
            CloseCause::Handshake => {
                // The peer's Close itself was matched against what the sender wrote.
                assert!(info.clean);
                assert!(info.received.is_some());
            }
            CloseCause::Protocol(e) => {
                assert!(sender.corrupted, "{}: well-formed frames failed with {e:?}", self.name)
            }
            CloseCause::Capacity(ws_proto::CapacityError::MessageTimeout { timeout }) => {
                // A message the sender left unfinished while time passed.
                assert_eq!(Some(timeout), self.config.message_timeout, "{}", self.name);
            }
            CloseCause::Capacity(ws_proto::CapacityError::MemoryBudget { held, limit }) => {
                // Refused past the floor, by the budget this side was given.
                let budget = self.config.memory_budget.as_ref().expect("a budget");
                assert_eq!(limit, budget.limit(), "{}", self.name);
                assert!(held > budget.floor(), "{}: refused under the floor: {held}", self.name);
            }
            CloseCause::Capacity(e) => {
                if !sender.corrupted {
                    let front = sender.expected.front();
                    let Some(Event::Data { payload, .. }) = front else {
                        panic!("{}: {e:?} but the next frame is {front:?}", self.name)
                    };
                    if let ws_proto::CapacityError::FrameTooLarge { size, max } = e {
                        assert_eq!(size, payload.len() as u64);
                        assert!(payload.len() > max);
                    }
                }
            }
            CloseCause::EndOfStream => assert!(self.eof, "{}: EndOfStream without EOF", self.name),
            CloseCause::CloseTimeout => {
                assert!(self.close_written, "{}: close timeout without a Close sent", self.name)
            }
            CloseCause::PongTimeout => {
                assert!(self.config.keepalive_interval.is_some(), "{}: pong timeout", self.name)
            }
            CloseCause::TransportError => {
                panic!("{}: transport error, but no transport failed", self.name)
            }
        }
    }

    /// Checks the frames this side wrote while receiving: Pongs for the Pings it got (when it
    /// answers them), then at most a Close.
    pub(super) fn check_reply_frames(&self, frames: &[WireFrame], pings: &[Bytes], was_open: bool) {
        let pongs: Vec<&[u8]> =
            frames.iter().take_while(|f| f.opcode == 0xA).map(|f| &f.payload[..]).collect();
        let owed: Vec<&[u8]> = if was_open && self.config.auto_pong {
            pings.iter().map(|p| &p[..]).collect()
        } else {
            Vec::new()
        };
        assert_eq!(pongs, owed, "{}: Pongs written differ from Pings received", self.name);
        match &frames[pongs.len()..] {
            [] => {}
            [f] if f.opcode == 0x8 => {}
            other => panic!("{}: unexpected frames while receiving: {other:?}", self.name),
        }
    }

    pub(super) fn is_open(&self) -> bool {
        self.conn.state() == State::Open
    }
}
