//! `frame_server` and `frame_client`: arbitrary bytes into an open [`Connection`].
//!
//! Input layout: a control byte (limits, auto-pong, read size, input path, EOF), two bytes
//! seeding the chunking, then the byte stream the peer "sent" after the handshake.
//!
//! Invariants checked:
//! * no panic; every error is a protocol or capacity error (never a usage error);
//! * memory is bounded by the limits: the peak heap of a run grows with the bytes that
//!   actually arrived, never with lengths a header declares (counting allocator); an open
//!   connection buffers less than one maximal frame,
//!   `recv_buf` never offers more than the read size plus one frame, output stays linear in
//!   input, no event carries more than `max_frame_size` and no message more than
//!   `max_message_size`;
//! * the right close code: a failure sends exactly one Close carrying
//!   [`Error::close_code`](ws_proto::Error::close_code) and reports it in [`Event::Closed`];
//!   a peer's Close is echoed; every Ping gets its Pong (with `auto_pong`) before any Close;
//! * nothing is emitted after [`Event::Closed`]: no event, no byte, whatever input, timeout
//!   or EOF follows;
//! * split invariance: the events, the output and the error do not depend on the chunking
//!   or on the input path: `handle_data`, `recv_buf` + `commit`, `recv_into`, owned
//!   buffers through `handle_bytes`, the owned room (`take_recv_room` + `give_recv_room`), or
//!   the caller's buffer with events handed out during the call (`handle_data_with`).

use bytes::buf::Limit;
use bytes::{BufMut, BytesMut};
use ws_proto::frame::MAX_HEADER_LEN;
use ws_proto::handshake::Negotiated;
use ws_proto::rng::ChaChaRandom;
use ws_proto::{
    CloseCause, Config, Connection, Error, Event, Message, MessageAssembler, Role, State, Transport,
};

use crate::alloc::bounded;
use crate::common::{Splitter, at, control_prefix, decode_wire};

/// Heap a run may use whatever its input: the connection, the checker, the event queue.
const MEMORY_SLACK: usize = 64 << 10;

/// The `frame_server` target: the stream comes from a client (frames must be masked).
pub fn run_server(data: &[u8]) {
    run(Role::Server, data);
}

/// The `frame_client` target: the stream comes from a server (frames must not be masked).
pub fn run_client(data: &[u8]) {
    run(Role::Client, data);
}

/// The configuration a control byte selects. Small limits make capacity errors reachable.
pub fn config_for(ctl: u8) -> Config {
    let mut c = Config::default();
    c.max_frame_size = [16 << 20, 125, 1024, 64][usize::from(ctl & 3)];
    c.max_message_size = [64 << 20, 200, 2048, 100][usize::from((ctl >> 2) & 3)];
    c.auto_pong = ctl & 0x10 == 0;
    if ctl & 0x20 != 0 {
        c.read_buffer_size = 16;
    }
    c
}

fn run(role: Role, data: &[u8]) {
    let (ctl, seed, stream) = control_prefix(data);
    let setup = Setup {
        role,
        config: config_for(ctl),
        negotiated: None,
        mixed_paths: ctl & 0x40 != 0,
        eof: ctl & 0x80 != 0,
        extra_memory: 0,
    };
    check_stream(&setup, seed, stream);
}

/// How to run one stream through a connection.
pub(crate) struct Setup {
    pub(crate) role: Role,
    pub(crate) config: Config,
    /// What the handshake negotiated (permessage-deflate), if anything.
    pub(crate) negotiated: Option<Negotiated>,
    /// Feed some chunks through `recv_buf` + `commit`, `recv_into`, `handle_bytes` or the
    /// owned room.
    pub(crate) mixed_paths: bool,
    /// End with EOF.
    pub(crate) eof: bool,
    /// Heap allowed on top of the frame targets' bound (decompression).
    pub(crate) extra_memory: usize,
}

/// Runs `stream` through a connection twice (chunked by `seed`, and whole), checking every
/// invariant of the module documentation, and returns what it did.
pub(crate) fn check_stream(setup: &Setup, seed: u64, stream: &[u8]) -> Outcome {
    let chunks = Splitter::new(seed).split(stream);
    // Memory follows what actually arrived, never what a header declares: a connection may
    // hold the input, one read buffer and bookkeeping per event, nothing more. Every 2 bytes
    // can be a frame (an empty unmasked one), hence an event; each event is held twice (the
    // connection's queue, the checker's record), each in a doubling buffer.
    let events = stream.len() / 2 + 4;
    let limit = MEMORY_SLACK
        + 48 * stream.len()
        + 4 * std::mem::size_of::<Event>() * events
        + 2 * setup.config.read_buffer_size
        + setup.extra_memory;
    let chunked = bounded("chunked", limit, || {
        drive(setup, &chunks, Splitter::new(seed ^ 0x5555), setup.mixed_paths)
    });
    let whole = bounded("whole", limit, || drive(setup, &[stream], Splitter::new(seed), false));
    assert_eq!(chunked, whole, "the outcome depends on how the input was split");
    whole
}

/// What a connection did with a stream.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub(crate) events: Vec<Event>,
    pub(crate) output: Vec<u8>,
    pub(crate) error: Option<Error>,
}

fn drive(setup: &Setup, chunks: &[&[u8]], mut choices: Splitter, mixed_paths: bool) -> Outcome {
    let (role, config, eof) = (setup.role, &setup.config, setup.eof);
    let now = at(0);
    let mut conn =
        Connection::new(role, config.clone(), now).with_rng(Box::new(ChaChaRandom::from_seed(7)));
    if let Some(n) = &setup.negotiated {
        conn = conn.with_negotiated(n);
    }
    let mut ck = Checker::new(role, config, setup.negotiated.is_some());
    let mut fed = 0;
    for chunk in chunks {
        fed += chunk.len();
        match (mixed_paths && choices.coin(), mixed_paths && choices.coin()) {
            (true, true) => feed_spare(&mut conn, config, chunk, &mut choices),
            (true, false) => feed_commit(&mut conn, config, chunk),
            (false, true) if choices.coin() => feed_room(&mut conn, config, chunk, &mut choices),
            (false, true) => feed_owned(&mut conn, chunk, &mut choices),
            (false, false) if mixed_paths && choices.coin() => {
                feed_in_place(&mut conn, chunk, &mut ck)
            }
            (false, false) => conn.handle_data(now, chunk),
        }
        ck.after_input(&mut conn, chunk.len(), &mut choices);
        assert!(
            ck.output.len() <= 3 * fed + 8,
            "{} bytes written for {fed} received",
            ck.output.len()
        );
    }
    // No timer is configured: an open connection's only deadline is giving idle buffers back
    // (every input came at `at(0)`), and running the timers an hour later must not produce
    // anything but a transport close.
    if conn.state() == State::Open {
        let release = config.release_buffers_after.map(|after| now + after);
        let deadline = conn.poll_timeout();
        assert!(deadline.is_none() || deadline == release, "unexpected deadline {deadline:?}");
    }
    conn.handle_timeout(at(3_600_000));
    ck.after_input(&mut conn, 0, &mut choices);
    if eof {
        conn.handle_eof(at(3_600_001));
        ck.eof = true;
        ck.after_input(&mut conn, 0, &mut choices);
        assert!(conn.is_closed(), "EOF must close the connection");
        assert_ne!(conn.transport(), Transport::Open, "EOF must end the transport");
    }
    // A closed connection's transport ends within its deadlines: run them out.
    for hour in 2..6 {
        conn.handle_timeout(at(hour * 3_600_000));
        ck.after_input(&mut conn, 0, &mut choices);
    }
    if conn.is_closed() {
        assert_eq!(conn.transport(), Transport::Close, "the transport's end never came");
        assert!(ck.closed, "closed without its Closed event");
    } else {
        assert_eq!(conn.transport(), Transport::Open);
        assert!(!ck.closed);
    }
    ck.finish(&conn);
    Outcome { events: ck.events, output: ck.output, error: ck.error }
}

/// Feeds `chunk` as a buffer of the caller's, every event handed out during the call
/// (`handle_data_with`), and checks them as if they had been polled after it.
fn feed_in_place(conn: &mut Connection, chunk: &[u8], ck: &mut Checker) {
    let mut handed = Vec::new();
    conn.handle_data_with(at(0), &mut chunk.to_vec(), |_, event| handed.push(event.to_event()));
    assert!(conn.poll_event().is_none(), "an event was left after handle_data_with");
    for event in handed {
        ck.take_event(conn, event);
    }
}

/// Feeds `chunk` through the zero-copy path, in as many reads as `recv_buf` needs.
fn feed_commit(conn: &mut Connection, config: &Config, chunk: &[u8]) {
    let mut rest = chunk;
    while !rest.is_empty() {
        let buf = conn.recv_buf();
        let bound = config.read_buffer_size.max(1) + MAX_HEADER_LEN + config.max_frame_size;
        assert!(!buf.is_empty(), "recv_buf offered no room");
        assert!(buf.len() <= bound, "recv_buf offered {} bytes (bound {bound})", buf.len());
        let n = buf.len().min(rest.len());
        buf[..n].copy_from_slice(&rest[..n]);
        rest = &rest[n..];
        conn.commit(at(0), n);
    }
}

/// Feeds `chunk` through the spare-capacity path (`recv_into`), in reads of the room offered
/// or less (sometimes none at all, as a read that would block), as a transport reading into a
/// `BufMut` does.
fn feed_spare(conn: &mut Connection, config: &Config, chunk: &[u8], choices: &mut Splitter) {
    let mut rest = chunk;
    while !rest.is_empty() {
        let read = Read::new(conn, config, choices);
        let n = conn.recv_into(at(0), |buf| read.fill(buf, rest));
        rest = &rest[n..];
    }
}

/// Feeds `chunk` through the owned room (`take_recv_room` + `give_recv_room`), as a
/// completion-based loop does: the same reads as [`feed_spare`]'s, the room held between.
fn feed_room(conn: &mut Connection, config: &Config, chunk: &[u8], choices: &mut Splitter) {
    let mut rest = chunk;
    while !rest.is_empty() {
        let read = Read::new(conn, config, choices);
        // `None` once input stopped: nothing more is read, as on the other paths.
        let Some(mut room) = conn.take_recv_room(at(0)) else { return };
        let n = read.fill(&mut room, rest);
        conn.give_recv_room(at(0), room);
        rest = &rest[n..];
    }
}

/// One read into a room offered by `recv_into` or `take_recv_room`: how much it takes, and
/// the bounds the room must keep.
struct Read {
    /// The room of `recv_buf`, or what `BytesMut` rounded a small buffer up to.
    bound: usize,
    /// The capacity and the bytes buffered before the room was offered (a buffer adopted from
    /// `handle_bytes` keeps the capacity it came with: only growth is bounded).
    before: usize,
    buffered: usize,
    short: bool,
    pending: bool,
    take: u64,
}

impl Read {
    fn new(conn: &mut Connection, config: &Config, choices: &mut Splitter) -> Read {
        let short = choices.coin();
        let pending = choices.coin() && choices.coin();
        let take = choices.next_u64();
        // Asked at frame boundaries by adapters with a scratch buffer; it may take back the
        // buffer's allocation (no growth).
        if choices.coin() {
            let _ = conn.reads_in_place();
        }
        Read {
            bound: 2 * (config.read_buffer_size.max(1) + MAX_HEADER_LEN + config.max_frame_size),
            before: conn.recv_capacity(),
            buffered: conn.recv_buffered(),
            short,
            pending,
            take,
        }
    }

    /// Appends a read of `rest` to `buf`; returns how many bytes it took.
    fn fill(&self, buf: &mut Limit<BytesMut>, rest: &[u8]) -> usize {
        let (bound, before, buffered) = (self.bound, self.before, self.buffered);
        assert!(buf.get_ref().is_empty(), "the room showed buffered bytes");
        assert!(buf.remaining_mut() <= bound, "a read may take {}", buf.remaining_mut());
        // What tokio's `read_buf` reads into: the first chunk of the room offered.
        let room = buf.chunk_mut().len();
        assert!(room > 0, "no room offered");
        assert!(
            buffered + room <= before.max(buffered + bound),
            "{room} bytes offered after {buffered} (capacity {before}, bound {bound})"
        );
        let mut n = room.min(rest.len());
        if self.short && n > 1 {
            n = 1 + (self.take % n as u64) as usize;
        }
        if self.pending {
            return 0;
        }
        buf.put_slice(&rest[..n]);
        n
    }
}

/// Hands `chunk` in as an owned buffer (`handle_bytes`), sometimes with spare capacity after
/// it, as a completion-based loop would.
fn feed_owned(conn: &mut Connection, chunk: &[u8], choices: &mut Splitter) {
    let spare = if choices.coin() { 64 } else { 0 };
    let mut buf = BytesMut::with_capacity(chunk.len() + spare);
    buf.extend_from_slice(chunk);
    conn.handle_bytes(at(0), buf);
}

/// Checks every step of one connection's life and records what it saw.
struct Checker {
    role: Role,
    max_frame: usize,
    /// Largest payload one event may carry: a frame, or an inflated frame.
    max_event: usize,
    max_message: usize,
    auto_pong: bool,
    assembler: MessageAssembler,
    in_message: Option<ws_proto::MessageKind>,
    events: Vec<Event>,
    output: Vec<u8>,
    error: Option<Error>,
    expected_pongs: Vec<Vec<u8>>,
    close_received: Option<Option<ws_proto::CloseFrame>>,
    closed: bool,
    /// Output length once the `Closed` event and the bytes queued with it were drained.
    silent_from: Option<usize>,
    eof: bool,
}

impl Checker {
    fn new(role: Role, config: &Config, inflating: bool) -> Self {
        let max_event = if inflating { config.max_message_size } else { config.max_frame_size };
        Checker {
            role,
            max_frame: config.max_frame_size,
            max_event,
            max_message: config.max_message_size,
            auto_pong: config.auto_pong,
            assembler: MessageAssembler::new(),
            in_message: None,
            events: Vec::new(),
            output: Vec::new(),
            error: None,
            expected_pongs: Vec::new(),
            close_received: None,
            closed: false,
            silent_from: None,
            eof: false,
        }
    }

    fn after_input(&mut self, conn: &mut Connection, fed: usize, choices: &mut Splitter) {
        let bound = MAX_HEADER_LEN + self.max_frame;
        assert!(conn.recv_buffered() <= bound + fed, "buffered {}", conn.recv_buffered());
        self.drain_events(conn);
        // A failure takes effect once the events before it are taken: it is known now.
        if let Some(e) = conn.close_info().and_then(|info| info.error()) {
            assert!(self.error.is_none() || self.error == Some(e.clone()), "second error {e:?}");
            assert!(!matches!(e, Error::Usage(_)), "input produced a usage error: {e:?}");
            assert!(e.close_code().is_some());
            self.error = Some(e);
        }
        if conn.state() == State::Open {
            // Open after draining: no Close, failure or EOF. At most one incomplete frame.
            assert!(conn.recv_buffered() < bound, "open connection buffers {} bytes", {
                conn.recv_buffered()
            });
            assert!(self.error.is_none(), "error {:?} but still open", self.error);
        }
        self.drain_transmit(conn, choices);
        // Play the transport: the write side is shut down once everything is written.
        if conn.transport() == Transport::Shutdown {
            conn.handle_write_shutdown(at(0));
            self.drain_events(conn);
            self.drain_transmit(conn, choices);
        }
        if self.closed && self.silent_from.is_none() {
            self.silent_from = Some(self.output.len());
        }
    }

    fn drain_events(&mut self, conn: &mut Connection) {
        while let Some(ev) = conn.poll_event() {
            self.take_event(conn, ev);
        }
    }

    fn take_event(&mut self, conn: &Connection, ev: Event) {
        assert!(!self.closed, "event {ev:?} after Closed");
        if self.close_received.is_some() {
            assert!(matches!(ev, Event::Closed(_)), "{ev:?} between CloseReceived and Closed");
        }
        self.check_event(conn, &ev);
        self.events.push(ev);
    }

    fn check_event(&mut self, conn: &Connection, ev: &Event) {
        match ev {
            Event::Data { kind, payload, first, fin } => {
                assert!(payload.len() <= self.max_event, "frame of {} bytes", payload.len());
                assert_eq!(*first, self.in_message.is_none(), "first flag out of step");
                if let Some(k) = self.in_message {
                    assert_eq!(k, *kind, "kind changed inside a message");
                }
                self.in_message = if *fin { None } else { Some(*kind) };
                match self.assembler.push(ev.clone()) {
                    Some(Message::Text(t)) => {
                        assert!(
                            std::str::from_utf8(t.as_bytes()).is_ok(),
                            "invalid text delivered"
                        );
                        assert!(t.len() <= self.max_message);
                    }
                    Some(Message::Binary(b)) => assert!(b.len() <= self.max_message),
                    _ => {}
                }
            }
            Event::Ping(p) => {
                assert!(p.len() <= 125);
                if self.auto_pong {
                    self.expected_pongs.push(p.to_vec());
                }
            }
            Event::Pong(p) => assert!(p.len() <= 125),
            Event::CloseReceived(f) => {
                if let Some(f) = f {
                    assert!(f.code.is_sendable(), "accepted close code {}", f.code);
                    assert!(f.reason.len() <= 123);
                    assert!(std::str::from_utf8(&f.reason).is_ok());
                }
                self.close_received = Some(f.clone());
                // RFC 6455 §7.1.1: the server closes TCP first; the client waits for it.
                match self.role {
                    Role::Server => assert_eq!(conn.transport(), Transport::Shutdown),
                    Role::Client if !self.eof => assert_eq!(conn.transport(), Transport::Open),
                    Role::Client => {}
                }
            }
            Event::Closed(info) => {
                self.closed = true;
                assert!(conn.is_closed());
                assert_eq!(conn.transport(), Transport::Close, "Closed before the transport's end");
                assert_eq!(info.error(), self.error, "the failure reported differs");
                match (&self.error, info.cause) {
                    (Some(Error::Protocol(e)), CloseCause::Protocol(c)) => assert_eq!(*e, c),
                    (Some(Error::Capacity(e)), CloseCause::Capacity(c)) => assert_eq!(*e, c),
                    (Some(e), cause) => panic!("error {e:?} reported as {cause:?}"),
                    (None, CloseCause::Handshake) => {
                        let Some(received) = &self.close_received else {
                            panic!("clean close without the peer's Close")
                        };
                        assert!(info.clean);
                        assert_eq!(
                            info.received.as_ref().map(|f| f.code),
                            Some(match received {
                                Some(f) => f.code,
                                None => ws_proto::CloseCode::NO_STATUS,
                            })
                        );
                    }
                    (None, CloseCause::EndOfStream) => assert!(self.eof, "EndOfStream without EOF"),
                    (None, cause) => panic!("closed by {cause:?} with no timer configured"),
                }
                if let Some(e) = &self.error {
                    assert_eq!(info.sent.as_ref().map(|f| f.code), e.close_code());
                    assert!(!info.clean);
                }
            }
        }
    }

    fn drain_transmit(&mut self, conn: &mut Connection, choices: &mut Splitter) {
        let before = self.output.len();
        loop {
            if choices.coin() {
                match conn.poll_transmit() {
                    Some(b) => self.output.extend_from_slice(&b),
                    None => break,
                }
            } else {
                let total = conn.transmit_len();
                if total == 0 {
                    break;
                }
                let queued: Vec<u8> = conn.transmit_chunks().flatten().copied().collect();
                assert_eq!(queued.len(), total, "transmit_chunks disagrees with transmit_len");
                let n = 1 + (choices.next_u64() % total as u64) as usize;
                self.output.extend_from_slice(&queued[..n]);
                conn.advance_transmit(n);
            }
        }
        assert_eq!(conn.transmit_len(), 0);
        if let Some(from) = self.silent_from {
            assert_eq!(from, self.output.len(), "bytes written after Closed");
        }
        let _ = before;
    }

    /// Checks the whole output: the Pongs owed, then at most one Close with the right code.
    fn finish(&self, conn: &Connection) {
        let (frames, used) = decode_wire(&self.output);
        assert_eq!(used, self.output.len(), "output ends inside a frame");
        for f in &frames {
            assert_eq!(f.masked, self.role == Role::Client, "wrong masking on {f:?}");
            assert_eq!(f.rsv, 0);
            assert!(f.fin);
        }
        let pongs: Vec<&Vec<u8>> =
            frames.iter().take_while(|f| f.opcode == 0xA).map(|f| &f.payload).collect();
        let expected: Vec<&Vec<u8>> = self.expected_pongs.iter().collect();
        assert_eq!(pongs, expected, "Pongs sent differ from Pings received");
        let rest = &frames[pongs.len()..];
        let close_expected = self.error.is_some() || self.close_received.is_some();
        match rest {
            [] => assert!(!close_expected, "no Close sent (error {:?})", self.error),
            [close] => {
                assert_eq!(close.opcode, 0x8, "unexpected frame {close:?}");
                match (&self.error, &self.close_received) {
                    (Some(e), _) => {
                        assert_eq!(close.payload.len(), 2, "failure Close carries a reason");
                        assert_eq!(close.close_code(), e.close_code().map(|c| c.0));
                    }
                    (None, Some(Some(f))) => assert_eq!(close.payload, f.code.0.to_be_bytes()),
                    (None, Some(None)) => assert!(close.payload.is_empty()),
                    (None, None) => panic!("Close sent for no reason"),
                }
            }
            more => panic!("frames after the Pongs: {more:?}"),
        }
        if self.error.is_some() || self.close_received.is_some() {
            assert!(conn.is_closed());
        }
    }
}
