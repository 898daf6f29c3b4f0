//! One connection on a worker: its socket, its handshake or `Connection`, and the operations
//! it has in flight. The same slot serves an accepted connection (server handshake) and an
//! outgoing one (a connect, then the client handshake): past the handshake they are one.
//!
//! No policy here: the handshake driver and the connection decide what is written, when the
//! write side is shut down, when to give up and when to close; this file carries that out with
//! ring operations and feeds back their results.

use std::io;
use std::net::TcpStream;
use std::os::fd::{AsRawFd, IntoRawFd};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

use ws_proto::bytes::BytesMut;
use ws_proto::bytes::buf::Limit;
use ws_proto::handshake::{
    ClientHandshake, Handshake, HandshakeError, HandshakeStep, Rejection, ServerHandshake,
};
use ws_proto::{
    Bytes, CloseCode, Config, Connection, Event, MessageAssembler, State as ConnState, Transport,
};

use crate::ring::{MAX_IOV, Payload, Ring, Token};
use crate::server::{Conn, ConnId};
use crate::{Error, Handler};

/// Output up to this size is copied into one buffer and sent with a plain `send`; larger
/// output goes out as the core's chunks (payloads are not copied; one chunk with a plain
/// `send`, several with one `sendmsg`). Copying a 16 KiB echo cost more than the `sendmsg`.
const COPY_LIMIT: usize = 4 * 1024;

/// Inside a frame missing at least this many bytes, the next read goes straight into the
/// connection's receive buffer (a single-shot receive into `take_recv_room`'s room) instead of
/// the provided buffers, whose bytes are copied into it: large messages are then read with no
/// copy of ours, while small ones keep the shared buffers (an idle connection holds none).
pub(crate) const ROOM_MIN: usize = 16 * 1024;

const ENOBUFS: i32 = 105;
const ECANCELED: i32 = 125;

/// What the worker does with a slot after driving it.
pub(crate) enum Step {
    /// Keep it; wake it at this deadline (if any).
    Wait(Option<Instant>),
    /// Everything is finished: the slot can take a new connection.
    Free,
}

/// The opening handshake of either role.
enum Hs {
    Server(Box<ServerHandshake>),
    Client(Box<ClientHandshake>),
}

impl Hs {
    fn step(&self) -> HandshakeStep {
        match self {
            Hs::Server(hs) => hs.step(),
            Hs::Client(hs) => hs.step(),
        }
    }

    fn driver(&mut self) -> &mut dyn Handshake {
        match self {
            Hs::Server(hs) => hs.as_mut(),
            Hs::Client(hs) => hs.as_mut(),
        }
    }
}

enum State {
    Vacant,
    Handshake(Hs),
    Open(Box<Connection>, MessageAssembler),
    /// Failed where no ring was at hand: the next drive closes the socket.
    Failing,
    /// Ending: the receive and send are cancelled; the socket's close is submitted once every
    /// operation on it has completed, and the slot is freed once the close has.
    Ended,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Idle,
    InFlight,
    Done,
}

/// The connection's receive: at most one is in flight, so bytes are never reordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Recv {
    Off,
    /// A receive into the provided buffers (multishot, where the kernel has it).
    Armed,
    Cancelling,
    /// A single-shot receive into the connection's receive room (a large frame's rest).
    Room,
    RoomCancelling,
}

pub(crate) struct Slot {
    pub(crate) generation: u32,
    /// In the worker's dirty list.
    pub(crate) queued: bool,
    /// The deadline a timer heap entry is armed for.
    pub(crate) armed: Option<Instant>,
    id: ConnId,
    stream: Option<TcpStream>,
    state: State,
    recv: Recv,
    /// The receive armed (`Recv::Armed`) is multishot.
    recv_multishot: bool,
    /// The last read went into the receive room: the next receive into the provided buffers
    /// is single-shot, since large messages tend to follow large messages, and a multishot
    /// receive would take all of the next one's bytes that are there (copying them) before
    /// its first completion shows that the frame is large.
    after_room: bool,
    /// No more input will come (end of stream, receive error): the receive is not re-armed.
    eof: bool,
    sending: bool,
    /// Bytes taken from the core and not yet written: a short send's rest goes out first.
    leftover: Vec<Bytes>,
    /// Bytes taken from the core and not yet confirmed written (in flight or left over).
    out_bytes: usize,
    /// The buffer small output is copied into, kept between sends.
    spare: Vec<u8>,
    shutdown: Op,
    close: Op,
    /// A send completed since the last drive: the handler may hear `on_writable`.
    wrote: bool,
    /// The end of stream arrived and is not fed to the connection yet: the messages that came
    /// before it go to the handler first, so what it sends in reply is still queued (the core
    /// ends the WebSocket at the end of stream, refusing sends after it).
    eof_unfed: bool,
    /// A handler call panicked: the connection is closing with 1011, and the handler hears
    /// nothing more of it but `on_close`.
    panicked: bool,
    /// The connection is open and the handler has not heard `on_open` yet.
    unannounced: bool,
    /// (Client) The connect is in flight: nothing is written or read before it completes.
    connecting: bool,
    /// (Client) Why the connection failed before it opened, for `on_connect_failed`.
    failure: Option<Error>,
}

impl Slot {
    pub(crate) fn vacant() -> Slot {
        Slot {
            generation: 0,
            queued: false,
            armed: None,
            id: ConnId(0),
            stream: None,
            state: State::Vacant,
            recv: Recv::Off,
            recv_multishot: false,
            after_room: false,
            eof: false,
            sending: false,
            leftover: Vec::new(),
            out_bytes: 0,
            spare: Vec::new(),
            shutdown: Op::Idle,
            close: Op::Idle,
            wrote: false,
            eof_unfed: false,
            panicked: false,
            unannounced: false,
            connecting: false,
            failure: None,
        }
    }

    /// A new connection: its handshake starts `now`.
    pub(crate) fn occupy(&mut self, stream: TcpStream, id: u64, config: Config, now: Instant) {
        let generation = self.generation;
        *self = Slot::vacant();
        self.generation = generation;
        self.id = ConnId(id);
        self.stream = Some(stream);
        self.state = State::Handshake(Hs::Server(Box::new(ServerHandshake::new(config, now))));
    }

    /// A new outgoing connection: `stream` is not connected yet (the worker submits the
    /// connect); the handshake's deadline, which started with `hs`, bounds the connect too.
    pub(crate) fn occupy_client(&mut self, stream: TcpStream, id: u64, hs: ClientHandshake) {
        let generation = self.generation;
        *self = Slot::vacant();
        self.generation = generation;
        self.id = ConnId(id);
        self.stream = Some(stream);
        self.state = State::Handshake(Hs::Client(Box::new(hs)));
        self.connecting = true;
    }

    /// The connect completed: 0, or `-errno` (cancelled: the slot is ending already).
    pub(crate) fn on_connect(&mut self, now: Instant, result: i32) {
        self.connecting = false;
        if result < 0 && result != -ECANCELED {
            self.transport_failed(now, io::Error::from_raw_os_error(-result));
        }
    }

    /// Frees the slot for the next connection (the socket closes if it is still ours).
    pub(crate) fn vacate(&mut self) {
        let generation = self.generation.wrapping_add(1);
        *self = Slot::vacant();
        self.generation = generation;
    }

    pub(crate) fn on_recv(&mut self, now: Instant, result: i32, data: &[u8], more: bool) {
        if !more {
            self.recv = Recv::Off;
        }
        match result {
            n if n > 0 => match &mut self.state {
                State::Handshake(hs) => {
                    let hs = hs.driver();
                    hs.handle_data(now, data);
                    if hs.step() == HandshakeStep::Done {
                        self.start();
                    }
                }
                State::Open(conn, _) => conn.handle_data(now, data),
                State::Vacant | State::Failing | State::Ended => {}
            },
            0 => {
                self.eof = true;
                match &mut self.state {
                    State::Handshake(hs) => hs.driver().handle_eof(now),
                    // Fed once the handler has had the events before it (see `drive`).
                    State::Open(..) => self.eof_unfed = true,
                    State::Vacant | State::Failing | State::Ended => {}
                }
            }
            // Out of provided buffers (re-armed when driven, once they are back) or cancelled
            // (backpressure, or the end).
            e if e == -ENOBUFS || e == -ECANCELED => {}
            e => self.transport_failed(now, io::Error::from_raw_os_error(-e)),
        }
    }

    /// A read into the connection's room completed: the room goes back to the connection
    /// (with the bytes read, if any) before anything else is fed to it.
    pub(crate) fn on_recv_room(
        &mut self,
        now: Instant,
        result: i32,
        room: Option<Limit<BytesMut>>,
    ) {
        self.recv = Recv::Off;
        if let (Some(room), State::Open(conn, _)) = (room, &mut self.state) {
            conn.give_recv_room(now, room);
        }
        if result <= 0 {
            // End of stream, cancelled or failed: as for the provided-buffer receive.
            self.on_recv(now, result, &[], false);
        }
    }

    pub(crate) fn on_send(&mut self, now: Instant, result: i32, payload: Option<Payload>) {
        self.sending = false;
        self.wrote |= result > 0;
        let Ok(mut written) = usize::try_from(result) else {
            self.out_bytes = 0;
            self.leftover.clear();
            self.transport_failed(now, io::Error::from_raw_os_error(-result));
            return;
        };
        self.out_bytes -= written.min(self.out_bytes);
        // A short write: what is left goes out first, in order.
        let mut rest = Vec::new();
        match payload {
            Some(Payload::Owned(mut buf)) => {
                if written < buf.len() {
                    rest.push(Bytes::copy_from_slice(&buf[written..]));
                }
                buf.clear();
                self.spare = buf;
            }
            Some(Payload::Chunks(bufs)) => {
                for mut buf in bufs {
                    if written >= buf.len() {
                        written -= buf.len();
                        continue;
                    }
                    let _ = buf.split_to(written);
                    written = 0;
                    rest.push(buf);
                }
            }
            None => {}
        }
        if !rest.is_empty() {
            rest.append(&mut self.leftover);
            self.leftover = rest;
        }
    }

    pub(crate) fn on_shutdown(&mut self, now: Instant, result: i32) {
        // A failed shutdown changes nothing: the WebSocket is over either way.
        let _ = result;
        self.shutdown = Op::Done;
        match &mut self.state {
            State::Handshake(hs) => hs.driver().handle_write_shutdown(now),
            State::Open(conn, _) => conn.handle_write_shutdown(now),
            State::Vacant | State::Failing | State::Ended => {}
        }
    }

    pub(crate) fn on_closed(&mut self) {
        self.close = Op::Done;
    }

    pub(crate) fn on_timer(&mut self, now: Instant) {
        match &mut self.state {
            State::Handshake(hs) => hs.driver().handle_timeout(now),
            State::Open(conn, _) => conn.handle_timeout(now),
            State::Vacant | State::Failing | State::Ended => {}
        }
    }

    fn transport_failed(&mut self, now: Instant, error: io::Error) {
        self.eof = true;
        match &mut self.state {
            // The handshake has no transport-error input: it simply ends (a client's handler
            // hears why).
            State::Handshake(hs) => {
                if let Hs::Client(_) = hs {
                    self.failure.get_or_insert(Error::Io(error));
                }
                self.end_now()
            }
            State::Open(conn, _) => conn.handle_transport_error(now),
            State::Vacant | State::Failing | State::Ended => {}
        }
    }

    /// Carries out what the handshake or connection says, hands events to the handler,
    /// queues the next send and (re-)arms or cancels the receive.
    pub(crate) fn drive<H: Handler>(
        &mut self,
        now: Instant,
        token: Token,
        ring: &mut Ring,
        handler: &mut H,
        multishot: bool,
    ) -> Step {
        let want_recv = loop {
            match &mut self.state {
                State::Vacant => return Step::Wait(None),
                State::Ended => break false,
                State::Failing => {
                    self.report_failure(handler);
                    self.end(ring, token)
                }
                // Nothing to write or read before the connect completes (a handshake that
                // failed meanwhile, timed out, ends at once: the connect is cancelled).
                State::Handshake(hs) if self.connecting && hs.step() == HandshakeStep::Read => {
                    break false;
                }
                State::Handshake(hs) => {
                    let driver = hs.driver();
                    if !driver.transmit().is_empty() {
                        // Written once handed to the kernel: sends on a socket go out in order.
                        let bytes = Bytes::copy_from_slice(driver.transmit());
                        driver.advance_transmit(bytes.len());
                        self.out_bytes += bytes.len();
                        self.leftover.push(bytes);
                        continue;
                    }
                    match driver.step() {
                        HandshakeStep::Decide => {
                            // Only a server decides.
                            let Hs::Server(hs) = hs else { break true };
                            let decision = match hs.request() {
                                Some(request) => catch_unwind(AssertUnwindSafe(|| {
                                    handler.accept(request)
                                }))
                                .unwrap_or_else(|_| {
                                    eprintln!(
                                        "ws-uring: the handler's accept panicked; refusing the \
                                         request with 500"
                                    );
                                    Err(Rejection::new(500))
                                }),
                                None => break true,
                            };
                            hs.respond(now, decision);
                        }
                        HandshakeStep::Done => self.start(),
                        HandshakeStep::Failed => {
                            self.handshake_failed();
                            self.report_failure(handler);
                            self.end(ring, token)
                        }
                        HandshakeStep::Shutdown => {
                            self.flush(now, ring, token);
                            self.shut_down_when_written(ring, token);
                            break true;
                        }
                        HandshakeStep::Read => break true,
                    }
                }
                State::Open(conn, assembler) => {
                    let id = self.id;
                    if std::mem::take(&mut self.unannounced) {
                        let mut c = Conn { id, conn, now, unsent: self.out_bytes };
                        self.panicked = guard(&mut c, |c| handler.on_open(c));
                    }
                    while let Some(event) = conn.poll_event() {
                        match event {
                            Event::Closed(info) => {
                                let closed = catch_unwind(AssertUnwindSafe(|| {
                                    handler.on_close(id, &info);
                                }));
                                if closed.is_err() {
                                    eprintln!("ws-uring: the handler's on_close panicked ({id:?})");
                                }
                            }
                            event => {
                                let Some(message) = assembler.push(event) else { continue };
                                // After a panic the handler hears nothing more but on_close.
                                if !self.panicked {
                                    let mut c = Conn { id, conn, now, unsent: self.out_bytes };
                                    self.panicked =
                                        guard(&mut c, |c| handler.on_message(c, message));
                                }
                            }
                        }
                    }
                    if std::mem::take(&mut self.wrote) && !self.panicked {
                        let mut c = Conn { id, conn, now, unsent: self.out_bytes };
                        if c.conn.state() == ConnState::Open && c.has_room() {
                            self.panicked = guard(&mut c, |c| handler.on_writable(c));
                        }
                    }
                    if std::mem::take(&mut self.eof_unfed) {
                        conn.handle_eof(now);
                        continue;
                    }
                    match conn.transport() {
                        Transport::Close => self.end(ring, token),
                        Transport::Shutdown => {
                            self.flush(now, ring, token);
                            self.shut_down_when_written(ring, token);
                            break true;
                        }
                        Transport::Open | Transport::Drain => {
                            self.flush(now, ring, token);
                            let queued = match &self.state {
                                State::Open(conn, _) => conn.transmit_len(),
                                _ => 0,
                            };
                            let high_water = match &self.state {
                                State::Open(conn, _) => conn.config().write_buffer_high_water,
                                _ => usize::MAX,
                            };
                            // Backpressure: a peer that does not read stops being read.
                            break self.out_bytes + queued <= high_water;
                        }
                    }
                }
            }
        };
        self.flush(now, ring, token);
        self.arm_recv(now, want_recv, ring, token, multishot);
        if let State::Ended = self.state {
            self.close_when_idle(ring, token);
        }
        match &mut self.state {
            State::Handshake(hs) => Step::Wait(hs.driver().poll_timeout()),
            State::Open(conn, _) => Step::Wait(conn.poll_timeout()),
            State::Ended | State::Failing => {
                let idle = self.recv == Recv::Off && !self.sending && !self.connecting;
                if idle && self.close == Op::Done && self.shutdown != Op::InFlight {
                    Step::Free
                } else {
                    Step::Wait(None)
                }
            }
            State::Vacant => Step::Wait(None),
        }
    }

    /// The handshake is done: the connection starts, and the handler hears `on_open` when it
    /// is next driven (first thing). Called as soon as the handshake is done, also while
    /// completions are taken: bytes or the end of stream that arrive in the same turn right
    /// behind a client's `101` go to the connection, not to the finished handshake (which
    /// would ignore them).
    fn start(&mut self) {
        let State::Handshake(hs) = std::mem::replace(&mut self.state, State::Ended) else {
            return;
        };
        let finished = match hs {
            Hs::Server(hs) => hs.finish().map(|(conn, _request)| conn),
            // The response's negotiation is in the connection (subprotocol, deflate).
            Hs::Client(hs) => hs.finish().map(|(conn, _response)| conn),
        };
        match finished {
            Ok(conn) => {
                self.unannounced = true;
                self.state = State::Open(Box::new(conn), MessageAssembler::new());
            }
            // Unreachable after `Done`, but the socket is ours to close all the same.
            Err(_) => self.end_now(),
        }
    }

    /// A failed handshake: a client's keeps why, for `on_connect_failed`.
    fn handshake_failed(&mut self) {
        let State::Handshake(Hs::Client(_)) = self.state else { return };
        let State::Handshake(Hs::Client(hs)) = std::mem::replace(&mut self.state, State::Failing)
        else {
            return;
        };
        let error = hs.finish().err().unwrap_or(HandshakeError::Incomplete);
        self.failure.get_or_insert(Error::Handshake(error));
    }

    /// Tells the handler why a client connection never opened (once).
    fn report_failure<H: Handler>(&mut self, handler: &mut H) {
        let Some(error) = self.failure.take() else { return };
        let id = self.id;
        if catch_unwind(AssertUnwindSafe(|| handler.on_connect_failed(id, &error))).is_err() {
            eprintln!("ws-uring: the handler's on_connect_failed panicked ({id:?})");
        }
    }

    /// Sends what is left over, else what the connection has queued, if no send is in flight.
    fn flush(&mut self, now: Instant, ring: &mut Ring, token: Token) {
        if self.sending || matches!(self.state, State::Ended) {
            return;
        }
        let Some(stream) = &self.stream else { return };
        let payload = if !self.leftover.is_empty() {
            let take = self.leftover.len().min(MAX_IOV);
            let rest = self.leftover.split_off(take);
            Payload::Chunks(std::mem::replace(&mut self.leftover, rest))
        } else if let State::Open(conn, _) = &mut self.state {
            let len = conn.transmit_len();
            if len == 0 {
                return;
            }
            self.out_bytes += len;
            if len <= COPY_LIMIT {
                // Small frames: header and payload together, one plain send.
                let mut buf = std::mem::take(&mut self.spare);
                for chunk in conn.transmit_chunks() {
                    buf.extend_from_slice(chunk);
                }
                conn.advance_transmit(len);
                Payload::Owned(buf)
            } else {
                let mut chunks = Vec::new();
                while chunks.len() < MAX_IOV {
                    match conn.poll_transmit() {
                        Some(bytes) => chunks.push(bytes),
                        None => break,
                    }
                }
                // What did not fit stays in the core: it is not taken yet.
                self.out_bytes -= conn.transmit_len();
                Payload::Chunks(chunks)
            }
        } else {
            return;
        };
        match ring.send(stream.as_raw_fd(), token, payload) {
            Ok(()) => self.sending = true,
            Err(e) => self.transport_failed(now, e),
        }
    }

    /// Shuts the write side down once everything queued is written.
    fn shut_down_when_written(&mut self, ring: &mut Ring, token: Token) {
        let core_empty = match &self.state {
            State::Open(conn, _) => conn.transmit_len() == 0,
            _ => true,
        };
        if self.shutdown != Op::Idle || self.sending || !self.leftover.is_empty() || !core_empty {
            return;
        }
        let Some(stream) = &self.stream else { return };
        if ring.shutdown(stream.as_raw_fd(), token).is_ok() {
            self.shutdown = Op::InFlight;
        }
    }

    fn arm_recv(&mut self, now: Instant, want: bool, ring: &mut Ring, token: Token, multi: bool) {
        let Some(stream) = &self.stream else { return };
        let fd = stream.as_raw_fd();
        // Inside a large frame, its rest is read straight into the connection's buffer.
        let large = match &self.state {
            State::Open(conn, _) => conn.recv_frame_missing().is_some_and(|m| m >= ROOM_MIN),
            _ => false,
        };
        match self.recv {
            Recv::Off if want && !self.eof => {
                if large && self.arm_room(now, ring, token) {
                    return;
                }
                let multi = multi && !std::mem::take(&mut self.after_room);
                let armed = ring.recv(fd, token, multi).is_ok();
                self.recv = if armed { Recv::Armed } else { Recv::Off };
                self.recv_multishot = multi;
            }
            // A multishot receive would go on delivering into the provided buffers: it is
            // cancelled, and the room armed once its last completion has arrived (so bytes
            // stay in order). A single-shot one ends by itself.
            Recv::Armed if !want || (large && self.recv_multishot) => {
                let cancelled = ring.cancel_recv(token).is_ok();
                self.recv = if cancelled { Recv::Cancelling } else { Recv::Armed };
            }
            Recv::Room if !want => {
                let cancelled = ring.cancel_recv_room(token).is_ok();
                self.recv = if cancelled { Recv::RoomCancelling } else { Recv::Room };
            }
            _ => {}
        }
    }

    /// Takes the connection's receive room and submits a read into it. False (the room given
    /// back unused) if there is none to take or the ring refused the read.
    fn arm_room(&mut self, now: Instant, ring: &mut Ring, token: Token) -> bool {
        let (Some(stream), State::Open(conn, _)) = (&self.stream, &mut self.state) else {
            return false;
        };
        let Some(room) = conn.take_recv_room(now) else { return false };
        match ring.recv_room(stream.as_raw_fd(), token, room) {
            Ok(()) => {
                self.recv = Recv::Room;
                self.after_room = true;
                true
            }
            Err((_, room)) => {
                conn.give_recv_room(now, room);
                false
            }
        }
    }

    /// The end: cancel the receive and the send, and close the socket through the ring once
    /// they have completed (see [`Slot::close_when_idle`]).
    fn end(&mut self, ring: &mut Ring, token: Token) {
        self.state = State::Ended;
        // Nothing more is written once the core says close (it gave up on the peer, or
        // everything was written).
        self.leftover.clear();
        if self.recv == Recv::Armed && ring.cancel_recv(token).is_ok() {
            self.recv = Recv::Cancelling;
        }
        if self.recv == Recv::Room && ring.cancel_recv_room(token).is_ok() {
            self.recv = Recv::RoomCancelling;
        }
        if self.sending {
            // A send still waiting for room goes.
            let _ = ring.cancel_send(token);
        }
        if self.connecting {
            // Timed out (or the client is stopping): the socket closes once it completes.
            let _ = ring.cancel_connect(token);
        }
        self.close_when_idle(ring, token);
    }

    /// Closes the socket once no operation that names its descriptor is in flight.
    ///
    /// Operations name the socket by descriptor number, and the kernel may look the number up
    /// only when it runs them: a shutdown always runs on an io_uring worker thread, later. A
    /// close before that frees the number, the next accept reuses it, and the late shutdown
    /// would end the new connection (its handshake sees a FIN without a response).
    fn close_when_idle(&mut self, ring: &mut Ring, token: Token) {
        if self.recv != Recv::Off
            || self.sending
            || self.connecting
            || self.shutdown == Op::InFlight
        {
            return;
        }
        let Some(stream) = self.stream.take() else { return };
        if ring.close(stream.as_raw_fd(), token).is_ok() {
            // The close operation owns the descriptor from here.
            let _ = stream.into_raw_fd();
            self.close = Op::InFlight;
            return;
        }
        // Could not queue the close: nothing uses the descriptor any more, so dropping the
        // stream closes it here, at once.
        drop(stream);
        self.close = Op::Done;
    }

    /// Ends without a ring at hand: the next drive closes the socket.
    fn end_now(&mut self) {
        if let State::Handshake(_) | State::Open(..) = self.state {
            self.state = State::Failing;
        }
    }
}

/// Runs one handler call on `conn`. A panic is caught and ends only this connection: it is
/// closed with 1011 (the core's close handshake, bounded by `close_timeout`). True if the
/// handler panicked.
fn guard(conn: &mut Conn<'_>, call: impl FnOnce(&mut Conn<'_>)) -> bool {
    if catch_unwind(AssertUnwindSafe(|| call(conn))).is_ok() {
        return false;
    }
    eprintln!("ws-uring: the handler panicked on {:?}; closing it with 1011", conn.id);
    // Already closing or closed: it ends anyway.
    let _ = conn.conn.close(conn.now, CloseCode::INTERNAL_ERROR, "");
    true
}
