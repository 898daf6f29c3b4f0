//! One thread, thousands of connections: `ws_proto` embedded in a hand-written `mio` loop.
//!
//! ```text
//! cargo run --release -p ws-proto --example mio_server -- [--addr 127.0.0.1:9001] \
//!     [--handshake-timeout-ms N] [--message-timeout-ms N] [--idle-timeout-ms N]
//! ```
//!
//! An echo server (every text and binary message goes back unchanged), written as the model for
//! embedding the core in your own event loop. A connection is a non-blocking socket and a state
//! machine: first the handshake driver, then the `Connection`. The loop only moves bytes and
//! time; every decision (the handshake's deadline and refusals, pongs, close replies, when to
//! shut the write side down, how long to drain) is the core's, read from its outputs.
//!
//! Deadlines of all connections live in one `BinaryHeap`. A connection's deadline moves all the
//! time (every receive pushes back the instant its idle buffers are released), so the heap is
//! updated lazily: a connection keeps its entry while that entry is not later than what it now
//! wants; the entry fires early, `handle_timeout` does nothing yet (calling it early is
//! harmless) and the connection is re-armed. A new entry is pushed only when the wanted instant
//! is earlier, under a new generation number: older entries of that connection (or of a closed
//! connection whose slot was reused) no longer match and are skipped when they reach the top.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{self, IoSlice, Read, Write};
use std::net::Shutdown;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use ws_proto::handshake::{Accept, Handshake, HandshakeStep, ServerHandshake};
use ws_proto::{Config, Connection, Message, MessageAssembler, Transport};

const USAGE: &str = "usage: mio_server [--addr HOST:PORT] [--handshake-timeout-ms N] \
                     [--message-timeout-ms N] [--idle-timeout-ms N]";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (addr, config) = parse_args(std::env::args().skip(1))?;
    let listener = std::net::TcpListener::bind(addr)?;
    println!("echo server listening on ws://{}", listener.local_addr()?);
    serve(listener, config)?;
    Ok(())
}

/// The address and the configuration of every connection, from the command line: the limits
/// are the defaults (16 MiB frames, 64 MiB messages); permessage-deflate is accepted.
pub(crate) fn parse_args(
    mut args: impl Iterator<Item = String>,
) -> Result<(String, Config), String> {
    let (mut addr, mut config) = ("127.0.0.1:9001".to_owned(), Config::default());
    #[cfg(feature = "deflate")]
    {
        config.deflate = Some(Default::default());
    }
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(USAGE)?;
        let ms = value.parse().map(Duration::from_millis).map_err(|_| USAGE);
        match flag.as_str() {
            "--addr" => addr = value,
            "--handshake-timeout-ms" => config.handshake_timeout = ms?,
            "--message-timeout-ms" => config.message_timeout = Some(ms?),
            "--idle-timeout-ms" => config.idle_timeout = Some(ms?),
            _ => return Err(USAGE.to_owned()),
        }
    }
    Ok((addr, config))
}

/// A connection's state machine: the opening handshake, then the WebSocket.
enum Phase {
    Handshake(Box<ServerHandshake>),
    Open(Box<Connection>, MessageAssembler),
    Closed,
}

/// The socket and its edge-triggered readiness: mio reports a change once, so a flag stays set
/// until an operation would block, then we wait for mio's next event.
struct Io {
    stream: TcpStream,
    readable: bool,
    writable: bool,
}

/// Runs `op` while its flag says the socket may be ready: `None` once it would block.
fn ready<T>(flag: &mut bool, mut op: impl FnMut() -> io::Result<T>) -> Option<io::Result<T>> {
    while *flag {
        match op() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => *flag = false,
            result => return Some(result),
        }
    }
    None
}

struct Conn {
    io: Io,
    phase: Phase,
    /// The instant of this connection's live heap entry, and that entry's generation.
    armed: Option<Instant>,
    generation: u64,
}

/// Runs the handshake as far as the socket allows; returns the step it stopped at.
fn drive_handshake(io: &mut Io, hs: &mut ServerHandshake, now: Instant) -> HandshakeStep {
    loop {
        match hs.step() {
            step @ (HandshakeStep::Done | HandshakeStep::Failed) => return step,
            step if !hs.transmit().is_empty() => {
                match ready(&mut io.writable, || io.stream.write(hs.transmit())) {
                    Some(Ok(0) | Err(_)) => hs.handle_eof(now), // the driver fails the handshake
                    Some(Ok(n)) => hs.advance_transmit(n),
                    None => return step, // wait until writable
                }
            }
            HandshakeStep::Decide => hs.accept(now, Accept::new()), // look at hs.request() here
            HandshakeStep::Shutdown => {
                let _ = io.stream.shutdown(Shutdown::Write);
                hs.handle_write_shutdown(now);
            }
            HandshakeStep::Read => {
                let mut buf = [0; 4096];
                match ready(&mut io.readable, || io.stream.read(&mut buf)) {
                    Some(Ok(0) | Err(_)) => hs.handle_eof(now),
                    Some(Ok(n)) => hs.handle_data(now, &buf[..n]),
                    None => return HandshakeStep::Read, // wait for input or the deadline
                }
            }
        }
    }
}

/// Runs the WebSocket as far as the socket allows, in the core's drain order: events, bytes to
/// send, the transport's fate, then input. `false`: the transport is to be closed now.
fn drive_open(io: &mut Io, ws: &mut Connection, asm: &mut MessageAssembler, now: Instant) -> bool {
    loop {
        // 1. Events: echo each whole message (pings and closes are answered by the core).
        while let Some(event) = ws.poll_event() {
            match asm.push(event) {
                Some(Message::Text(text)) => drop(ws.send_text(text)),
                Some(Message::Binary(data)) => drop(ws.send_binary(data)),
                _ => {}
            }
        }
        // 2. Bytes to send, a vectored write at a time, straight from the core's queue.
        let mut slices = [IoSlice::new(&[]); 16];
        let count = ws.transmit_io_slices(&mut slices);
        if count > 0 {
            match ready(&mut io.writable, || io.stream.write_vectored(&slices[..count])) {
                Some(Ok(0) | Err(_)) => ws.handle_transport_error(now), // drops what is queued
                Some(Ok(n)) => ws.advance_transmit(n),
                None => {} // wait until writable
            }
            if io.writable && ws.transmit_len() > 0 {
                continue;
            }
        }
        // 3. The transport's fate.
        match ws.transport() {
            Transport::Close => return false,
            Transport::Shutdown if ws.transmit_len() == 0 => {
                match io.stream.shutdown(Shutdown::Write) {
                    Ok(()) => ws.handle_write_shutdown(now),
                    Err(_) => ws.handle_transport_error(now),
                }
                continue;
            }
            Transport::Open | Transport::Shutdown | Transport::Drain => {}
        }
        // 4. Input, straight into the core's buffer. Backpressure: a peer that does not read
        //    its echoes is not read from until they drain below the high-water mark. (A loop
        //    serving untrusted peers would also cap reads per wakeup, for fairness.)
        if ws.transmit_len() >= ws.config().write_buffer_high_water {
            return true;
        }
        match ready(&mut io.readable, || io.stream.read(ws.recv_buf())) {
            Some(Ok(0)) => ws.handle_eof(now),
            Some(Ok(n)) => ws.commit(now, n),
            Some(Err(_)) => ws.handle_transport_error(now),
            None => return true, // wait for the socket or the deadline
        }
    }
}

/// The whole server: the poller, the connections (a slab: a slot's index is its token) and the
/// timer heap of `(deadline, generation, slot)`.
struct Server {
    poll: Poll,
    listener: TcpListener,
    config: Config,
    conns: Vec<Option<Conn>>,
    free: Vec<usize>,
    timers: BinaryHeap<Reverse<(Instant, u64, usize)>>,
    generation: u64,
}

const LISTENER: Token = Token(usize::MAX);

/// Serves on `listener` forever (the test runs this loop on its own thread).
pub(crate) fn serve(listener: std::net::TcpListener, config: Config) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    let mut listener = TcpListener::from_std(listener);
    let poll = Poll::new()?;
    poll.registry().register(&mut listener, LISTENER, Interest::READABLE)?;
    let (conns, free, timers) = (Vec::new(), Vec::new(), BinaryHeap::new());
    let mut server = Server { poll, listener, config, conns, free, timers, generation: 0 };
    let mut events = Events::with_capacity(1024);
    loop {
        let timeout =
            server.next_deadline().map(|(at, _)| at.saturating_duration_since(Instant::now()));
        match server.poll.poll(&mut events, timeout) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            result => result?,
        }
        let now = Instant::now();
        for event in events.iter() {
            let slot = event.token().0;
            if event.token() == LISTENER {
                server.accept(now);
            } else if let Some(Some(c)) = server.conns.get_mut(slot) {
                // Errors and hang-ups count as readiness: the next read or write reports them.
                c.io.readable |= event.is_readable() || event.is_read_closed() || event.is_error();
                c.io.writable |= event.is_writable() || event.is_write_closed() || event.is_error();
                server.service(slot, now, false);
            }
        }
        // The deadlines that passed: run each live one (stale ones are skipped on the way).
        while let Some((_, slot)) = server.next_deadline().filter(|&(at, _)| at <= now) {
            server.timers.pop();
            server.service(slot, now, true);
        }
    }
}

impl Server {
    /// Accepts every waiting connection (edge-triggered: until the listener would block).
    fn accept(&mut self, now: Instant) {
        loop {
            let mut stream = match self.listener.accept() {
                Ok((stream, _)) => stream,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => return eprintln!("accept: {e}"), // e.g. out of file descriptors
            };
            let _ = stream.set_nodelay(true);
            let slot = self.free.pop().unwrap_or_else(|| {
                self.conns.push(None);
                self.conns.len() - 1
            });
            let interest = Interest::READABLE | Interest::WRITABLE;
            if self.poll.registry().register(&mut stream, Token(slot), interest).is_err() {
                self.free.push(slot);
                continue;
            }
            let io = Io { stream, readable: true, writable: true };
            let phase = Phase::Handshake(Box::new(ServerHandshake::new(self.config.clone(), now)));
            self.conns[slot] = Some(Conn { io, phase, armed: None, generation: 0 });
            self.service(slot, now, false);
        }
    }

    /// Drives a connection after an event or its deadline (`expired`), then closes it or
    /// re-arms its timer.
    fn service(&mut self, slot: usize, now: Instant, expired: bool) {
        let Some(c) = self.conns[slot].as_mut() else { return };
        if expired {
            c.armed = None;
            match &mut c.phase {
                Phase::Handshake(hs) => hs.handle_timeout(now),
                Phase::Open(ws, _) => ws.handle_timeout(now),
                Phase::Closed => {}
            }
        }
        if let Phase::Handshake(hs) = &mut c.phase {
            if let HandshakeStep::Done | HandshakeStep::Failed = drive_handshake(&mut c.io, hs, now)
            {
                // Done: the connection, with the bytes that followed the request already in it.
                c.phase = match std::mem::replace(&mut c.phase, Phase::Closed) {
                    Phase::Handshake(hs) => hs.finish().map_or(Phase::Closed, |(conn, _req)| {
                        Phase::Open(Box::new(conn), MessageAssembler::new())
                    }),
                    other => other,
                };
            }
        }
        if let Phase::Open(conn, asm) = &mut c.phase {
            if !drive_open(&mut c.io, conn, asm, now) {
                c.phase = Phase::Closed;
            }
        }
        let wanted = match &c.phase {
            Phase::Handshake(hs) => hs.poll_timeout(),
            Phase::Open(conn, _) => conn.poll_timeout(),
            Phase::Closed => {
                // Dropping the socket closes it and takes it out of the poller.
                self.conns[slot] = None;
                return self.free.push(slot);
            }
        };
        // Lazy re-arming (see the top of the file): push only for an earlier instant.
        if let Some(at) = wanted.filter(|&at| c.armed.is_none_or(|armed| at < armed)) {
            self.generation += 1;
            (c.armed, c.generation) = (Some(at), self.generation);
            self.timers.push(Reverse((at, self.generation, slot)));
        }
    }

    /// The earliest live deadline and its connection, dropping stale entries from the top.
    fn next_deadline(&mut self) -> Option<(Instant, usize)> {
        while let Some(&Reverse((at, generation, slot))) = self.timers.peek() {
            match self.conns.get(slot) {
                Some(Some(c)) if c.generation == generation => return Some((at, slot)),
                _ => drop(self.timers.pop()),
            }
        }
        None
    }
}
