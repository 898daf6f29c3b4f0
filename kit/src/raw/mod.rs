//! [`RawPeer`]: the other end of every scenario, a plain `std::net::TcpStream` that writes
//! exactly the bytes a scenario asks for and checks exactly the bytes the adapter sends.
//!
//! Every read is bounded by a deadline. Whatever goes wrong is reported with what was actually
//! seen on the wire ("EOF with no Close frame", "RST instead of FIN", "Close 1002, expected
//! 1007"), because those lines are what the kit's failure table is made of.

mod frame;
mod handshake;

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use socket2::{Domain, SockRef, Socket, Type};

pub use frame::{Frame, apply_mask, close_body, decode_all, encode, encode_header, op};

use crate::rng::SplitMix;

/// How long the opening handshake may take.
const HANDSHAKE_WITHIN: Duration = Duration::from_secs(5);

/// Options for the raw peer's socket and handshake.
#[derive(Debug, Clone, Copy, Default)]
pub struct RawOpts {
    /// Offer (as a client) or accept (as a server) permessage-deflate.
    pub deflate: bool,
    /// `SO_RCVBUF` of the raw peer's socket, set before connecting or listening so the TCP
    /// window stays small (a stalled reader then blocks the adapter's writer quickly).
    pub recv_buffer: Option<usize>,
    /// As a server: select this subprotocol (`Sec-WebSocket-Protocol`) when the client offers
    /// it. Unused by a client.
    pub protocol: Option<&'static str>,
}

/// How a read ended without a frame.
#[derive(Debug)]
pub enum ReadEnd {
    /// The adapter closed its side (FIN); `pending` bytes of an incomplete frame were buffered.
    Eof {
        /// Bytes of an incomplete frame read before the EOF.
        pending: usize,
    },
    /// The connection was reset (RST).
    Reset,
    /// Nothing complete arrived in time; `pending` bytes were buffered.
    Timeout {
        /// Bytes of an incomplete frame read so far.
        pending: usize,
    },
    /// Any other socket error.
    Error(io::Error),
}

impl fmt::Display for ReadEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadEnd::Eof { pending: 0 } => f.write_str("EOF (FIN)"),
            ReadEnd::Eof { pending } => write!(f, "EOF (FIN) after {pending} bytes of a frame"),
            ReadEnd::Reset => f.write_str("RST (connection reset)"),
            ReadEnd::Timeout { pending: 0 } => f.write_str("nothing (timeout)"),
            ReadEnd::Timeout { pending } => {
                write!(f, "an incomplete frame ({pending} bytes) and then nothing (timeout)")
            }
            ReadEnd::Error(e) => write!(f, "socket error: {e}"),
        }
    }
}

/// Which frames [`RawPeer::expect_close`] may pass over on its way to the Close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// The next frame must be the Close.
    Nothing,
    /// Data frames, Pings and Pongs may come first.
    DataAndPings,
}

/// A WebSocket peer written by hand over a blocking TCP socket.
pub struct RawPeer {
    stream: TcpStream,
    /// This peer is the client: it masks what it sends and expects unmasked frames.
    is_client: bool,
    buf: Vec<u8>,
    pos: usize,
    rng: SplitMix,
    /// permessage-deflate was negotiated.
    pub deflate: bool,
}

impl fmt::Debug for RawPeer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawPeer").field("client", &self.is_client).finish_non_exhaustive()
    }
}

/// A loopback listener for the raw server, with `opts.recv_buffer` applied before `listen` (so
/// accepted sockets inherit it and advertise a small window from the start).
pub fn listener(opts: RawOpts) -> TcpListener {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    if let Some(size) = opts.recv_buffer {
        socket.set_recv_buffer_size(size).expect("SO_RCVBUF");
    }
    let addr: SocketAddr = "127.0.0.1:0".parse().expect("address");
    socket.bind(&addr.into()).expect("bind");
    socket.listen(16).expect("listen");
    socket.into()
}

impl RawPeer {
    /// Connects to the adapter's server at `addr` and runs the client handshake, checking the
    /// 101 response and its `Sec-WebSocket-Accept`.
    pub fn client(addr: SocketAddr, opts: RawOpts) -> RawPeer {
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
        if let Some(size) = opts.recv_buffer {
            socket.set_recv_buffer_size(size).expect("SO_RCVBUF");
        }
        socket.connect_timeout(&addr.into(), HANDSHAKE_WITHIN).expect("connect to the adapter");
        let stream: TcpStream = socket.into();
        stream.set_nodelay(true).expect("nodelay");
        let mut peer = RawPeer::new(stream, true);
        let key = handshake::new_key(&mut peer.rng);
        peer.send_raw(&handshake::request(&addr.to_string(), &key, opts.deflate));
        let head = peer.read_head();
        peer.deflate = handshake::check_response(&head, &key, opts.deflate);
        peer
    }

    /// Accepts the adapter's client on `listener` and answers its request with a 101 (taking
    /// permessage-deflate if `opts.deflate` and it was offered, and `opts.protocol` if it was
    /// offered).
    pub fn server(listener: &TcpListener, opts: RawOpts) -> RawPeer {
        let stream = accept_within(listener, HANDSHAKE_WITHIN);
        stream.set_nodelay(true).expect("nodelay");
        let mut peer = RawPeer::new(stream, false);
        let head = peer.read_head();
        let (response, deflate) = handshake::response(&head, opts.deflate, opts.protocol);
        peer.deflate = deflate;
        peer.send_raw(&response);
        peer
    }

    fn new(stream: TcpStream, is_client: bool) -> RawPeer {
        RawPeer {
            stream,
            is_client,
            buf: Vec::new(),
            pos: 0,
            rng: SplitMix::fresh(),
            deflate: false,
        }
    }

    /// What this peer is, for messages: "raw client" or "raw server".
    pub fn name(&self) -> &'static str {
        if self.is_client { "raw client" } else { "raw server" }
    }

    /// True if this peer is the client (it masks its frames).
    pub fn is_client(&self) -> bool {
        self.is_client
    }

    fn read_head(&mut self) -> handshake::Head {
        let deadline = Instant::now() + HANDSHAKE_WITHIN;
        loop {
            let pending = &self.buf[self.pos..];
            if let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = handshake::Head::parse(&pending[..end]);
                self.pos += end + 4;
                return head;
            }
            if let Err(e) = self.fill(deadline) {
                panic!("{}: the handshake ended with {e}", self.name());
            }
        }
    }

    /// A frame as this peer sends it: masked with a fresh random key by a client.
    pub fn encode(&mut self, fin: bool, rsv: u8, opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mask = self.is_client.then(|| self.rng.mask_key());
        encode(fin, rsv, opcode, payload, mask)
    }

    /// A header alone, as this peer would send it (masked by a client).
    pub fn encode_header(&mut self, fin: bool, rsv: u8, opcode: u8, len: u64) -> Vec<u8> {
        let mask = self.is_client.then(|| self.rng.mask_key());
        encode_header(fin, rsv, opcode, len, mask)
    }

    /// Sends one frame, masked as the role requires.
    pub fn send_frame(&mut self, fin: bool, rsv: u8, opcode: u8, payload: &[u8]) {
        let bytes = self.encode(fin, rsv, opcode, payload);
        self.send_raw(&bytes);
    }

    /// Sends one frame masked with `mask` (or unmasked), whatever the role requires.
    pub fn send_frame_masked(
        &mut self,
        fin: bool,
        rsv: u8,
        opcode: u8,
        payload: &[u8],
        mask: Option<[u8; 4]>,
    ) {
        self.send_raw(&encode(fin, rsv, opcode, payload, mask));
    }

    /// Sends a Close frame with `code` and `reason`.
    pub fn send_close(&mut self, code: u16, reason: &str) {
        self.send_frame(true, 0, op::CLOSE, &close_body(code, reason.as_bytes()));
    }

    /// Writes `bytes` as they are, in one write call where the kernel allows.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        if let Err(e) = self.stream.write_all(bytes) {
            panic!("{}: writing {} bytes failed: {e}", self.name(), bytes.len());
        }
    }

    /// Writes `bytes` in writes of at most `chunk` bytes with `pause` between them.
    pub fn send_dribbled(&mut self, bytes: &[u8], chunk: usize, pause: Duration) {
        for (i, piece) in bytes.chunks(chunk.max(1)).enumerate() {
            if i > 0 {
                std::thread::sleep(pause);
            }
            self.send_raw(piece);
        }
    }

    /// Half-closes: sends FIN and keeps reading.
    pub fn shutdown_write(&mut self) {
        // The adapter may already be gone; a failure here changes nothing the scenario reads.
        let _ = self.stream.shutdown(Shutdown::Write);
    }

    /// Aborts the connection: `SO_LINGER` 0, then close, so the kernel sends an RST.
    pub fn reset(self) {
        SockRef::from(&self.stream).set_linger(Some(Duration::ZERO)).expect("SO_LINGER 0");
        drop(self.stream);
    }

    /// Reads more bytes into the buffer, waiting until `deadline` at most. `Ok(n)` with n > 0.
    fn fill(&mut self, deadline: Instant) -> Result<usize, ReadEnd> {
        if self.pos > 0 && self.pos * 2 >= self.buf.len() {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        let pending = self.buf.len() - self.pos;
        let mut chunk = [0u8; 64 << 10];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(ReadEnd::Timeout { pending });
            }
            self.stream.set_read_timeout(Some(left)).expect("read timeout");
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err(ReadEnd::Eof { pending }),
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return Ok(n);
                }
                Err(e)
                    if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return Err(ReadEnd::Reset),
                Err(e) => return Err(ReadEnd::Error(e)),
            }
        }
    }

    /// Reads one frame within `within`, checking the masking rule for the adapter's role
    /// (a server's frames unmasked, a client's masked) and unmasking it.
    pub fn try_read_frame(&mut self, within: Duration) -> Result<Frame, ReadEnd> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(h) = frame::decode_header(&self.buf[self.pos..]) {
                let total = h.header_len as u64 + h.len;
                if (self.buf.len() - self.pos) as u64 >= total {
                    let start = self.pos + h.header_len;
                    let end = self.pos + total as usize;
                    let mut payload = self.buf[start..end].to_vec();
                    self.pos = end;
                    let adapter = if self.is_client { "server" } else { "client" };
                    match (self.is_client, h.mask) {
                        (true, Some(_)) => panic!("the adapter ({adapter}) sent a masked frame"),
                        (false, None) => panic!("the adapter ({adapter}) sent an unmasked frame"),
                        (_, Some(key)) => apply_mask(&mut payload, key),
                        (_, None) => {}
                    }
                    return Ok(Frame { fin: h.fin, rsv: h.rsv, opcode: h.opcode, payload });
                }
            }
            self.fill(deadline)?;
        }
    }

    /// Reads one frame within `within`; panics with what was seen instead.
    pub fn read_frame(&mut self, within: Duration) -> Frame {
        match self.try_read_frame(within) {
            Ok(frame) => frame,
            Err(end) => panic!("{}: expected a frame within {within:?}, saw {end}", self.name()),
        }
    }

    /// Reads one whole data message (joining fragments) within `within`: its opcode and
    /// payload. Any control frame on the way is a failure.
    pub fn read_message(&mut self, within: Duration) -> (u8, Vec<u8>) {
        let deadline = Instant::now() + within;
        let first = self.read_frame(deadline.saturating_duration_since(Instant::now()));
        assert!(
            matches!(first.opcode, op::TEXT | op::BINARY),
            "{}: expected a data message, got {first:?}",
            self.name()
        );
        let (opcode, mut payload, mut fin) = (first.opcode, first.payload, first.fin);
        while !fin {
            let next = self.read_frame(deadline.saturating_duration_since(Instant::now()));
            assert_eq!(
                next.opcode,
                op::CONT,
                "{}: expected a continuation, got {next:?}",
                self.name()
            );
            payload.extend_from_slice(&next.payload);
            fin = next.fin;
        }
        (opcode, payload)
    }

    /// Reads until a Close frame arrives within `within` (passing over data frames, Pings and
    /// Pongs only with [`Skip::DataAndPings`]) and asserts its code is exactly `code`. Returns
    /// the Close frame.
    pub fn expect_close(&mut self, code: u16, within: Duration, skip: Skip) -> Frame {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let frame = match self.try_read_frame(left) {
                Ok(frame) => frame,
                Err(end) => panic!(
                    "{}: expected a Close frame with {code} within {within:?}, saw {end} with no \
                     Close frame",
                    self.name()
                ),
            };
            if frame.opcode == op::CLOSE {
                assert_eq!(
                    frame.close_code(),
                    Some(code),
                    "{}: expected a Close frame with {code}, got {frame:?}",
                    self.name()
                );
                return frame;
            }
            let passable =
                matches!(frame.opcode, op::TEXT | op::BINARY | op::CONT | op::PING | op::PONG);
            assert!(
                skip == Skip::DataAndPings && passable,
                "{}: expected a Close frame with {code}, got {frame:?} first",
                self.name()
            );
        }
    }

    /// Asserts that the adapter's side ends with a FIN within `within`: the next read gives 0
    /// bytes (not more data, not a reset).
    pub fn expect_eof(&mut self, within: Duration) {
        if self.pos < self.buf.len() {
            let extra = self.try_read_frame(Duration::ZERO);
            panic!("{}: expected EOF, but more bytes were buffered: {extra:?}", self.name());
        }
        match self.fill(Instant::now() + within) {
            Err(ReadEnd::Eof { .. }) => {}
            Ok(_) => {
                let extra = self.try_read_frame(Duration::from_millis(50));
                panic!("{}: expected EOF (FIN), got more data: {extra:?}", self.name());
            }
            Err(end) => panic!("{}: expected EOF (FIN) within {within:?}, saw {end}", self.name()),
        }
    }

    /// Reads whatever comes until EOF, reset or `within` passes: the frames and how it ended.
    pub fn read_until_end(&mut self, within: Duration) -> (Vec<Frame>, ReadEnd) {
        let deadline = Instant::now() + within;
        let mut frames = Vec::new();
        loop {
            match self.try_read_frame(deadline.saturating_duration_since(Instant::now())) {
                Ok(frame) => frames.push(frame),
                Err(end) => return (frames, end),
            }
        }
    }

    /// The socket, for options a scenario sets itself.
    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }
}

/// Accepts one connection within `within` (polling a non-blocking listener).
fn accept_within(listener: &TcpListener, within: Duration) -> TcpStream {
    let deadline = Instant::now() + within;
    listener.set_nonblocking(true).expect("non-blocking listener");
    let stream = loop {
        match listener.accept() {
            Ok((stream, _)) => break stream,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                assert!(Instant::now() < deadline, "the adapter (client) did not connect in time");
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(e) => panic!("accept failed: {e}"),
        }
    };
    listener.set_nonblocking(false).expect("blocking listener");
    stream.set_nonblocking(false).expect("blocking stream");
    stream
}
