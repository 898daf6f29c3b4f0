//! `conversation`: an arbitrary sequence of operations over an in-memory client↔server pair.
//!
//! The input is decoded with [`arbitrary`] into per-side knobs (limits, timers, drain and
//! read paths) and a list of [`Op`]s: sends of every kind from either side, deliveries of the
//! bytes in flight with random splits, virtual-clock advances, timer calls, injected garbage
//! and transport EOFs. After the list, the pair is *settled*: everything in flight is
//! delivered, transports close as the connections ask, and time runs on until nothing moves.
//!
//! Invariants checked:
//! * every command gets the result the model predicts (usage errors exactly when due) and
//!   writes exactly its own frame, correctly masked, or nothing when refused;
//! * what one side writes is what the other reports, event by event, and every message sent
//!   whole is received intact, unless garbage was injected into that direction; a failure on
//!   well-formed input is allowed only for a configured limit, and then only for the frame
//!   that breaks it;
//! * a receiving side writes only the Pongs it owes and possibly a Close; nothing follows a
//!   Close frame; no event follows `Closed`;
//! * timers fire only when due: `handle_timeout` before `poll_timeout` changes nothing, and
//!   after a due call the next deadline is in the future;
//! * a memory budget is never overdrawn and a finished connection holds none of it;
//! * close states converge: once settled, both sides are closed or both are open; with no
//!   garbage the Close each side received is the one the other sent.

mod peer;

use arbitrary::{Arbitrary, Unstructured};
use std::time::Duration;
use ws_proto::bytes::BufMut;
use ws_proto::{
    CloseCode, CloseFrame, Config, Message, MessageKind, PreparedFrame, Role, State, Transport,
    UsageError,
};

use crate::common::{Splitter, at};
use peer::Peer;

/// Which side acts (or receives).
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The client end.
    Client,
    /// The server end.
    Server,
}

/// Per-side configuration choices.
#[derive(Arbitrary, Debug, Clone)]
pub struct Knobs {
    /// Keepalive interval in units of 100 ms, if any.
    pub keepalive: Option<u8>,
    /// Pong timeout in units of 100 ms (plus one).
    pub pong_timeout: u8,
    /// Idle timeout in units of 100 ms, if any.
    pub idle: Option<u8>,
    /// Close timeout in units of 100 ms (plus one).
    pub close_timeout: u8,
    /// Small frame and message limits (1 KiB / 4 KiB) instead of the defaults, a message
    /// deadline (the idle timeout's value, or 1 s) and a memory budget.
    pub small_limits: bool,
    /// Answer Pings automatically.
    pub auto_pong: bool,
    /// Copy threshold of 8 bytes (exercises the zero-copy send path) instead of the default.
    pub small_copy_threshold: bool,
    /// Drain with `transmit_chunks` + partial `advance_transmit` and read through `recv_buf`
    /// or `recv_into`.
    pub vectored: bool,
    /// Keepalive Pings on a timer whatever the traffic.
    pub keepalive_while_busy: bool,
    /// Maximum lifetime in units of 100 ms, if any.
    pub max_lifetime: Option<u8>,
}

impl Knobs {
    fn config(&self) -> Config {
        let tenths = |n: u8| Duration::from_millis(100 * (u64::from(n) + 1));
        let mut c = Config::default();
        c.keepalive_interval = self.keepalive.map(tenths);
        c.pong_timeout = tenths(self.pong_timeout);
        c.idle_timeout = self.idle.map(tenths);
        c.keepalive_while_busy = self.keepalive_while_busy;
        c.max_lifetime = self.max_lifetime.map(tenths);
        c.close_timeout = tenths(self.close_timeout);
        if self.small_limits {
            c.max_frame_size = 1024;
            c.max_message_size = 4096;
            // The message deadline, drawn without a byte of its own (the corpora keep their
            // meaning): on with the small limits, at the idle timeout's value or 1 s.
            c.message_timeout = Some(self.idle.map_or(Duration::from_secs(1), tenths));
            // And a memory budget of its own (128 KiB past a 16 KiB floor): large deliveries
            // charge it, messages ending and the connection closing give it back.
            c.memory_budget = Some(ws_proto::MemoryBudget::with_floor(128 << 10, 16 << 10));
        }
        c.auto_pong = self.auto_pong;
        if self.small_copy_threshold {
            c.copy_threshold = 8;
        }
        c
    }
}

/// One step of the conversation.
#[derive(Arbitrary, Debug, Clone)]
pub enum Op {
    /// `send_text`.
    Text(Side, String),
    /// `send_binary` (owned payload: the zero-copy path for large ones).
    Binary(Side, Vec<u8>),
    /// `send_fragment` (`true`: text).
    Fragment(Side, bool, Vec<u8>, bool),
    /// `send_prepared` with a binary frame.
    Prepared(Side, Vec<u8>),
    /// `ping`.
    Ping(Side, Vec<u8>),
    /// `pong`.
    Pong(Side, Vec<u8>),
    /// `close`.
    Close(Side, u16, String),
    /// Deliver up to this many bytes (0: all) of what is in flight *to* this side, split by
    /// the seed.
    Deliver(Side, u16, u16),
    /// Advance the virtual clock by this many milliseconds; run the timers that are due, as
    /// an adapter would.
    Advance(u16),
    /// Call `handle_timeout` now, due or not.
    Timeout(Side),
    /// Inject bytes into the stream flowing *to* this side.
    Garbage(Side, Vec<u8>),
    /// The transport *to* this side ends (it sees EOF; bytes in flight to it are lost).
    Eof(Side),
}

/// A whole conversation.
#[derive(Arbitrary, Debug)]
pub struct Scenario {
    /// Client knobs.
    pub client: Knobs,
    /// Server knobs.
    pub server: Knobs,
    /// The steps.
    pub ops: Vec<Op>,
}

/// Runs the target on one input.
pub fn run(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(scenario) = Scenario::arbitrary(&mut u) else { return };
    let _ = play(&scenario);
}

/// How a scenario ended (for tests of the harness itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Whole messages each side (client, server) received.
    pub received: (usize, usize),
    /// Final states (client, server).
    pub states: (State, State),
    /// Both sides closed by a clean closing handshake.
    pub clean: bool,
}

/// Plays a scenario, checking every invariant.
pub fn play(s: &Scenario) -> Summary {
    let mut pair = Pair {
        client: Peer::new("client", Role::Client, s.client.config(), 1, s.client.vectored),
        server: Peer::new("server", Role::Server, s.server.config(), 2, s.server.vectored),
        now_ms: 0,
        choices: Splitter::new(0x1234),
    };
    for op in s.ops.iter().take(256) {
        pair.step(op);
    }
    pair.settle();
    for p in [&pair.client, &pair.server] {
        if let Some(budget) = &p.config.memory_budget {
            assert!(budget.used() <= budget.limit(), "{}: {budget:?}", p.name);
            if p.conn.is_finished() {
                assert_eq!(budget.used(), 0, "{}: a finished connection holds a charge", p.name);
            }
        }
    }
    let clean =
        [&pair.client, &pair.server].iter().all(|p| p.conn.close_info().is_some_and(|i| i.clean));
    Summary {
        received: (pair.client.received, pair.server.received),
        states: (pair.client.conn.state(), pair.server.conn.state()),
        clean,
    }
}

struct Pair {
    client: Peer,
    server: Peer,
    now_ms: u64,
    choices: Splitter,
}

impl Pair {
    /// The acting side and the other one.
    fn sides(&mut self, side: Side) -> (&mut Peer, &mut Peer) {
        match side {
            Side::Client => (&mut self.client, &mut self.server),
            Side::Server => (&mut self.server, &mut self.client),
        }
    }

    fn step(&mut self, op: &Op) {
        let now = at(self.now_ms);
        match op {
            Op::Text(side, text) => {
                let (p, _) = self.sides(*side);
                let want = whole_message_result(p);
                let r = p.conn.send_text(text.as_str());
                self.after_command(*side, r, want, &[(0x1, true, text.as_bytes())]);
                if r.is_ok() {
                    let (p, _) = self.sides(*side);
                    p.sent_messages.push_back(Message::text(text.as_str()));
                }
            }
            Op::Binary(side, data) | Op::Prepared(side, data) => {
                let (p, _) = self.sides(*side);
                let want = whole_message_result(p);
                let r = if matches!(op, Op::Prepared(..)) {
                    p.conn.send_prepared(&PreparedFrame::binary(data.clone()))
                } else {
                    p.conn.send_binary(data.clone())
                };
                self.after_command(*side, r, want, &[(0x2, true, data)]);
                if r.is_ok() {
                    let (p, _) = self.sides(*side);
                    p.sent_messages.push_back(Message::binary(data.clone()));
                }
            }
            Op::Fragment(side, text, data, fin) => self.fragment(*side, *text, data, *fin),
            Op::Ping(side, payload) => {
                let (p, _) = self.sides(*side);
                let want = control_result(p, payload);
                let r = p.conn.ping(now, payload);
                self.after_command(*side, r, want, &[(0x9, true, payload)]);
            }
            Op::Pong(side, payload) => {
                let (p, _) = self.sides(*side);
                let want = control_result(p, payload);
                let r = p.conn.pong(payload);
                self.after_command(*side, r, want, &[(0xA, true, payload)]);
            }
            Op::Close(side, code, reason) => {
                let (p, _) = self.sides(*side);
                let want = if !p.is_open() {
                    Err(UsageError::Closed)
                } else if !CloseCode(*code).is_sendable() {
                    Err(UsageError::InvalidCloseCode(*code))
                } else if reason.len() > CloseFrame::MAX_REASON_LEN {
                    Err(UsageError::CloseReasonTooLong)
                } else {
                    Ok(())
                };
                let r = p.conn.close(now, CloseCode(*code), reason);
                if r.is_ok() {
                    p.out_msg = None;
                }
                let mut body = code.to_be_bytes().to_vec();
                body.extend_from_slice(reason.as_bytes());
                self.after_command(*side, r, want, &[(0x8, true, &body)]);
            }
            Op::Deliver(to, max, seed) => self.deliver(*to, usize::from(*max), u64::from(*seed)),
            Op::Advance(ms) => {
                self.now_ms += u64::from(*ms);
                for side in [Side::Client, Side::Server] {
                    let due = self
                        .sides(side)
                        .0
                        .conn
                        .poll_timeout()
                        .is_some_and(|d| d <= at(self.now_ms));
                    if due {
                        self.timeout(side);
                    }
                }
            }
            Op::Timeout(side) => self.timeout(*side),
            Op::Garbage(to, bytes) => {
                let (_, from) = self.sides(*to);
                if !bytes.is_empty() && !from.write_shut {
                    from.wire.extend(bytes.iter().take(512));
                    from.corrupted = true;
                }
            }
            Op::Eof(to) => self.eof(*to),
        }
        self.close_transports();
    }

    fn fragment(&mut self, side: Side, text: bool, data: &[u8], fin: bool) {
        let kind = if text { MessageKind::Text } else { MessageKind::Binary };
        let (p, _) = self.sides(side);
        let mut so_far = match &p.out_msg {
            Some((k, d)) if *k == kind => d.clone(),
            _ => Vec::new(),
        };
        so_far.extend_from_slice(data);
        let want = if !p.is_open() {
            Err(UsageError::Closed)
        } else if p.out_msg.as_ref().is_some_and(|(k, _)| *k != kind) {
            Err(UsageError::MessageInProgress)
        } else if text && !utf8_prefix_ok(&so_far, fin) {
            Err(UsageError::InvalidUtf8)
        } else {
            Ok(())
        };
        let opcode = match (&p.out_msg, kind) {
            (Some(_), _) => 0x0,
            (None, MessageKind::Text) => 0x1,
            (None, MessageKind::Binary) => 0x2,
        };
        let r = p.conn.send_fragment(kind, data, fin);
        if r.is_ok() {
            if fin {
                p.out_msg = None;
                p.sent_messages.push_back(match kind {
                    MessageKind::Text => {
                        Message::text(String::from_utf8(so_far).expect("checked above"))
                    }
                    MessageKind::Binary => Message::binary(so_far),
                });
            } else {
                p.out_msg = Some((kind, so_far));
            }
        }
        self.after_command(side, r, want, &[(opcode, fin, data)]);
    }

    /// Checks a command's result against the model and its output against its frame.
    fn after_command(
        &mut self,
        side: Side,
        got: Result<(), UsageError>,
        want: Result<(), UsageError>,
        frames: &[(u8, bool, &[u8])],
    ) {
        let mut choices = self.choices.clone();
        let (p, _) = self.sides(side);
        assert_eq!(got, want, "{}: command result", p.name);
        let written = p.drain_output(&mut choices);
        let written: Vec<(u8, bool, &[u8])> =
            written.iter().map(|f| (f.opcode, f.fin, &f.payload[..])).collect();
        if got.is_ok() {
            assert_eq!(written, frames, "{}: command wrote other frames", p.name);
        } else {
            assert!(written.is_empty(), "{}: refused command wrote {written:?}", p.name);
        }
        self.choices.next_u64();
    }

    /// Delivers up to `max` bytes in flight to `to` (0: all), in chunks.
    fn deliver(&mut self, to: Side, max: usize, seed: u64) {
        let now = at(self.now_ms);
        let mut choices = Splitter::new(seed);
        let (receiver, sender) = self.sides(to);
        if receiver.eof || receiver.transport_closed {
            // Nobody reads that transport any more: what was in flight is lost.
            sender.wire.clear();
            return;
        }
        let n = if max == 0 { sender.wire.len() } else { max.min(sender.wire.len()) };
        let bytes: Vec<u8> = sender.wire.drain(..n).collect();
        for chunk in Splitter::new(seed).split(&bytes) {
            let was_open = receiver.is_open();
            if receiver.vectored && choices.coin() {
                match choices.coin() {
                    true => feed_commit(receiver, now, chunk),
                    false => feed_spare(receiver, now, chunk),
                }
            } else {
                receiver.conn.handle_data(now, chunk);
            }
            let pings = receiver.drain_events(sender);
            let frames = receiver.drain_output(&mut choices);
            receiver.check_reply_frames(&frames, &pings, was_open);
        }
    }

    /// Calls `handle_timeout` on `side` and checks it acted only if a deadline was due.
    fn timeout(&mut self, side: Side) {
        let now = at(self.now_ms);
        let mut choices = self.choices.clone();
        let (p, other) = self.sides(side);
        let deadline = p.conn.poll_timeout();
        let state = p.conn.state();
        let transport = p.conn.transport();
        p.conn.handle_timeout(now);
        let pings = p.drain_events(other);
        assert!(pings.is_empty());
        let frames = p.drain_output(&mut choices);
        if deadline.is_none_or(|d| now < d) {
            assert!(frames.is_empty(), "{}: timer wrote {frames:?} before it was due", p.name);
            assert_eq!(p.conn.state(), state, "{}: state changed before a deadline", p.name);
            assert_eq!(p.conn.transport(), transport);
            assert_eq!(p.conn.poll_timeout(), deadline, "{}: deadline moved early", p.name);
        } else {
            let next = p.conn.poll_timeout();
            assert!(
                next.is_none_or(|n| n > now),
                "{}: due timer did not move on (due {deadline:?}, now {now:?}, next {next:?})",
                p.name
            );
            for f in &frames {
                assert!(matches!(f.opcode, 0x8 | 0x9), "{}: timer wrote {f:?}", p.name);
            }
        }
        self.choices.next_u64();
    }

    /// The transport *to* `to` ends.
    fn eof(&mut self, to: Side) {
        let now = at(self.now_ms);
        let mut choices = self.choices.clone();
        let (p, other) = self.sides(to);
        if p.eof {
            return;
        }
        other.wire.clear();
        p.eof = true;
        let was_closed = p.conn.is_closed();
        p.conn.handle_eof(now);
        p.drain_events(other);
        let frames = p.drain_output(&mut choices);
        assert!(frames.is_empty(), "{}: wrote {frames:?} on EOF", p.name);
        assert!(p.conn.is_closed(), "{}: still open after EOF", p.name);
        let transport = p.conn.transport();
        assert!(
            matches!(transport, Transport::Shutdown | Transport::Close),
            "{}: {transport:?} after EOF (was closed: {was_closed})",
            p.name
        );
        self.choices.next_u64();
    }

    /// Plays what each side's core asks of its transport: a side asked to shut down, with
    /// nothing left to write, shuts its write side (the other side sees EOF once it has read
    /// everything in flight); a side told to close closes (bytes to it are lost).
    fn close_transports(&mut self) {
        let now = at(self.now_ms);
        for side in [Side::Client, Side::Server] {
            let (p, other) = self.sides(side);
            let transport = p.conn.transport();
            if transport == Transport::Shutdown && p.conn.transmit_len() == 0 {
                p.write_shut = true;
                p.conn.handle_write_shutdown(now);
                p.drain_events(other);
            }
            if !p.transport_closed && p.conn.transport() == Transport::Close {
                assert!(p.closed_event.is_some(), "{}: closed without its last event", p.name);
                assert_eq!(p.conn.transmit_len(), 0, "{}: closed with bytes queued", p.name);
                p.transport_closed = true;
                p.write_shut = true;
                other.wire.clear();
            }
        }
        for side in [Side::Client, Side::Server] {
            let (p, other) = self.sides(side);
            if other.write_shut && other.wire.is_empty() && !p.eof {
                self.eof(side);
            }
        }
    }

    /// Delivers everything, lets transports close and time run, then checks convergence.
    fn settle(&mut self) {
        for _ in 0..16 {
            for side in [Side::Client, Side::Server] {
                self.deliver(side, 0, 7);
            }
            self.close_transports();
            let both_open = self.client.is_open() && self.server.is_open();
            let idle = self.client.wire.is_empty() && self.server.wire.is_empty();
            // Closed means the transports' end too: both report `Transport::Close`.
            let both_closed = self.client.conn.is_finished() && self.server.conn.is_finished();
            if idle && (both_open || both_closed) {
                break;
            }
            if idle {
                // One side is closing: let its timers run.
                self.now_ms += 60_000;
                for side in [Side::Client, Side::Server] {
                    if self.sides(side).0.conn.poll_timeout().is_some_and(|d| d <= at(self.now_ms))
                    {
                        self.timeout(side);
                    }
                }
                self.close_transports();
            }
        }
        let (c, s) = (&self.client, &self.server);
        assert!(c.wire.is_empty() && s.wire.is_empty(), "bytes still in flight after settling");
        let states = (c.conn.state(), s.conn.state());
        match states {
            (State::Open, State::Open) => {
                for p in [c, s] {
                    if !p.corrupted {
                        assert!(p.expected.is_empty(), "{}: frames never received", p.name);
                        assert!(p.sent_messages.is_empty(), "{}: messages never received", p.name);
                    }
                }
            }
            (State::Closed, State::Closed) => {
                for (p, other) in [(c, s), (s, c)] {
                    assert!(p.closed_event.is_some(), "{}: closed without Closed event", p.name);
                    let (Some(mine), Some(theirs)) = (p.conn.close_info(), other.conn.close_info())
                    else {
                        panic!("closed without close info")
                    };
                    if !other.corrupted && mine.cause == ws_proto::CloseCause::Handshake {
                        assert_eq!(
                            mine.received, theirs.sent,
                            "{}: Close changed in flight",
                            p.name
                        );
                    }
                }
            }
            other => panic!("close states did not converge: {other:?}"),
        }
    }
}

/// The model's result for a whole-message send.
fn whole_message_result(p: &Peer) -> Result<(), UsageError> {
    if !p.is_open() {
        Err(UsageError::Closed)
    } else if p.out_msg.is_some() {
        Err(UsageError::MessageInProgress)
    } else {
        Ok(())
    }
}

/// The model's result for a Ping or Pong.
fn control_result(p: &Peer, payload: &[u8]) -> Result<(), UsageError> {
    if !p.is_open() {
        Err(UsageError::Closed)
    } else if payload.len() > 125 {
        Err(UsageError::ControlPayloadTooLong)
    } else {
        Ok(())
    }
}

/// True if `text` is UTF-8, or (when the message goes on) a valid prefix of it.
fn utf8_prefix_ok(text: &[u8], fin: bool) -> bool {
    match std::str::from_utf8(text) {
        Ok(_) => true,
        Err(e) => !fin && e.error_len().is_none(),
    }
}

/// Feeds `chunk` through `recv_buf` + `commit`.
fn feed_commit(p: &mut Peer, now: std::time::Instant, chunk: &[u8]) {
    let mut rest = chunk;
    while !rest.is_empty() {
        let buf = p.conn.recv_buf();
        let n = buf.len().min(rest.len());
        buf[..n].copy_from_slice(&rest[..n]);
        rest = &rest[n..];
        p.conn.commit(now, n);
    }
}

/// Feeds `chunk` through `recv_into`, each read taking the room offered (a connection the
/// memory budget refused offers the 64 bytes `BufMut` makes; what they get is ignored).
fn feed_spare(p: &mut Peer, now: std::time::Instant, chunk: &[u8]) {
    let mut rest = chunk;
    while !rest.is_empty() {
        // As ws-tokio's driver asks at a frame boundary (it would read through its scratch
        // buffer when this says no: here the read goes through `recv_into` either way).
        if p.conn.recv_buffered() == 0 {
            let _ = p.conn.reads_in_place();
        }
        let n = p.conn.recv_into(now, |buf| {
            let n = buf.chunk_mut().len().min(rest.len());
            buf.put_slice(&rest[..n]);
            n
        });
        rest = &rest[n..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn knobs() -> Knobs {
        Knobs {
            keepalive: None,
            pong_timeout: 9,
            idle: None,
            close_timeout: 9,
            small_limits: false,
            auto_pong: true,
            small_copy_threshold: true,
            vectored: true,
            keepalive_while_busy: false,
            max_lifetime: None,
        }
    }

    #[test]
    fn scripted_exchange_and_clean_close() {
        use Side::{Client as C, Server as S};
        let ops = vec![
            Op::Text(C, "hello".into()),
            Op::Fragment(S, true, "ż".as_bytes()[..1].to_vec(), false),
            Op::Ping(S, b"p".to_vec()),
            Op::Fragment(S, true, "ż!".as_bytes()[1..].to_vec(), true),
            Op::Binary(C, vec![7; 300]),
            Op::Deliver(S, 3, 1),
            Op::Deliver(S, 0, 2),
            Op::Deliver(C, 0, 3),
            Op::Deliver(S, 0, 4), // the client's Pong
            Op::Text(C, "in progress? no".into()),
            Op::Fragment(C, false, vec![1], false),
            Op::Text(C, "refused: fragment open".into()),
            Op::Close(S, 4000, "bye".into()),
            Op::Text(S, "refused: closing".into()),
            Op::Advance(100),
        ];
        let summary = play(&Scenario { client: knobs(), server: knobs(), ops });
        assert_eq!(summary.received, (1, 3));
        assert_eq!(summary.states, (State::Closed, State::Closed));
        assert!(summary.clean);
    }

    #[test]
    fn timers_and_garbage_converge() {
        use Side::Client as C;
        let mut k = knobs();
        k.keepalive = Some(0);
        k.pong_timeout = 0;
        let ops = vec![
            Op::Timeout(C),   // not due: must do nothing
            Op::Advance(150), // keepalive Ping due
            Op::Advance(250), // no Pong delivered: pong timeout, 1011
            Op::Garbage(C, vec![0xff, 0x00]),
        ];
        let summary = play(&Scenario { client: k, server: knobs(), ops });
        assert_eq!(summary.states, (State::Closed, State::Closed));
        assert!(!summary.clean);
    }

    #[test]
    fn an_unfinished_message_meets_the_deadline_with_small_limits() {
        use Side::{Client as C, Server as S};
        let ops = vec![
            Op::Fragment(C, false, vec![1, 2, 3], false),
            Op::Deliver(S, 0, 1),
            Op::Advance(900),
            Op::Advance(200), // past the 1 s deadline the small limits bring
        ];
        for (small, states) in
            [(false, (State::Open, State::Open)), (true, (State::Closed, State::Closed))]
        {
            let mut server = knobs();
            server.small_limits = small;
            let summary = play(&Scenario { client: knobs(), server, ops: ops.clone() });
            assert_eq!(summary.states, states, "small limits {small}");
            assert!(!summary.clean);
        }
    }
}
