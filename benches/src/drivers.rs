//! Each library driven over in-memory transports the way its users drive it over sockets, so
//! the codec benchmarks and their correctness tests share one implementation.
//!
//! * `ws-proto`: an adapter's loop: read into [`Connection::recv_buf`] and
//!   [`commit`](Connection::commit) (or, as ws-tokio does, into the spare capacity through
//!   [`Connection::recv_into`]), join events with a [`MessageAssembler`], write
//!   [`transmit_chunks`](Connection::transmit_chunks) with one vectored write.
//! * tungstenite: `read` / `send` on a blocking stream.
//! * fastwebsockets: `read_frame` / `write_frame` of a `FragmentCollector` (whole messages,
//!   UTF-8 checked) on an async stream.

use std::io::{self, IoSlice, Read, Write};
use std::time::Instant;

use bytes::Bytes;
use fastwebsockets::{FragmentCollector, Frame, OpCode, WebSocket};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use ws_proto::{Config, Connection, Message, MessageAssembler, Role};

use crate::mem::{PipeEnd, block_on, pipe};
use crate::peer::{MAX_FRAME_SIZE, MAX_MESSAGE_SIZE};

/// Most slices handed to one vectored write (a stack array: the loop itself allocates nothing).
const MAX_IOV: usize = 16;

/// A `ws-proto` connection with the loop an adapter wraps around it.
#[derive(Debug)]
pub struct Proto {
    /// The connection.
    pub conn: Connection,
    assembler: MessageAssembler,
    now: Instant,
}

impl Proto {
    /// A connection in `role` with the default configuration (16 MiB frames, 64 MiB messages).
    pub fn new(role: Role) -> Proto {
        let config = Config::default();
        let assembler = MessageAssembler::new();
        let now = Instant::now();
        Proto { conn: Connection::new(role, config, now), assembler, now }
    }

    /// The next whole data message, reading from `io` whenever no event is ready.
    pub fn next_message(&mut self, io: &mut impl Read) -> io::Result<Message> {
        loop {
            if let Some(message) = self.ready_message() {
                return message;
            }
            let n = io.read(self.conn.recv_buf())?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            self.conn.commit(self.now, n);
        }
    }

    /// [`next_message`](Self::next_message) reading as ws-tokio does inside frames: tokio's
    /// `read_buf` into the connection's spare capacity ([`Connection::recv_into`]), which is
    /// never zeroed. `io` must be in memory (always ready).
    pub fn next_message_spare(&mut self, io: &mut (impl AsyncRead + Unpin)) -> io::Result<Message> {
        loop {
            if let Some(message) = self.ready_message() {
                return message;
            }
            let n = self.conn.recv_into(self.now, |buf| block_on(io.read_buf(buf)))?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
    }

    /// A whole data message (or the end) from the events already there, if any.
    fn ready_message(&mut self) -> Option<io::Result<Message>> {
        while let Some(event) = self.conn.poll_event() {
            if let ws_proto::Event::Closed(info) = &event {
                let e = info.error().map_or(io::ErrorKind::UnexpectedEof.into(), io::Error::other);
                return Some(Err(e));
            }
            if let Some(m @ (Message::Text(_) | Message::Binary(_))) = self.assembler.push(event) {
                return Some(Ok(m));
            }
        }
        // The connection failed or closed: its Closed event waits for a transport this driver
        // does not model.
        let info = self.conn.close_info()?;
        Some(Err(info.error().map_or(io::ErrorKind::UnexpectedEof.into(), io::Error::other)))
    }

    /// Writes everything queued, with vectored writes.
    pub fn flush(&mut self, io: &mut impl Write) -> io::Result<()> {
        while self.conn.transmit_len() > 0 {
            let mut slices = [IoSlice::new(&[]); MAX_IOV];
            let mut k = 0;
            for (slot, chunk) in slices.iter_mut().zip(self.conn.transmit_chunks()) {
                *slot = IoSlice::new(chunk);
                k += 1;
            }
            let n = io.write_vectored(&slices[..k])?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            self.conn.advance_transmit(n);
        }
        Ok(())
    }

    /// Queues `message` back (an echo).
    pub fn send(&mut self, message: Message) -> io::Result<()> {
        match message {
            Message::Text(t) => self.conn.send_text(t),
            Message::Binary(b) => self.conn.send_binary(b),
            _ => Ok(()),
        }
        .map_err(io::Error::other)
    }
}

/// A `ws-proto` connection driven push-style: reads into a buffer the loop owns and takes
/// every message where it lies ([`Connection::handle_data_with`]): small frames are slices
/// of that buffer, unmasked in place.
#[derive(Debug)]
pub struct InPlace {
    /// The connection.
    pub conn: Connection,
    buf: Vec<u8>,
    /// Messages handed out beyond those asked for (counted against the next call).
    ahead: usize,
    now: Instant,
}

impl InPlace {
    /// A connection in `role` with the default configuration, reading a read's worth
    /// (`read_buffer_size`) at a time.
    pub fn new(role: Role) -> InPlace {
        let config = Config::default();
        let buf = vec![0; config.read_buffer_size];
        let now = Instant::now();
        InPlace { conn: Connection::new(role, config, now), buf, ahead: 0, now }
    }

    /// Reads from `io` until `count` whole data messages have been handed to `sink` (a read
    /// can bring more: they count towards the next call).
    pub fn messages(
        &mut self,
        io: &mut impl Read,
        count: usize,
        mut sink: impl FnMut(&[u8]),
    ) -> io::Result<()> {
        while self.ahead < count {
            let n = io.read(&mut self.buf)?;
            if n == 0 || self.conn.is_closed() {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            let mut got = 0;
            self.conn.handle_data_with(self.now, &mut self.buf[..n], |_, event| {
                if let ws_proto::EventRef::Data { payload, fin, .. } = event {
                    sink(payload);
                    got += usize::from(fin);
                }
            });
            self.ahead += got;
        }
        self.ahead -= count;
        Ok(())
    }
}

/// The tungstenite configuration matching ours: 16 MiB frames, 64 MiB messages.
pub fn tungstenite_config() -> tungstenite::protocol::WebSocketConfig {
    tungstenite::protocol::WebSocketConfig::default()
        .max_frame_size(Some(MAX_FRAME_SIZE))
        .max_message_size(Some(MAX_MESSAGE_SIZE))
}

/// A tungstenite connection over `stream` (no handshake: as after an upgrade).
pub fn tungstenite<S: Read + Write>(
    stream: S,
    role: tungstenite::protocol::Role,
) -> tungstenite::WebSocket<S> {
    tungstenite::WebSocket::from_raw_socket(stream, role, Some(tungstenite_config()))
}

/// A fastwebsockets connection over `stream`, set up as our peer echo server sets it up.
pub fn fastwebsockets<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    role: fastwebsockets::Role,
) -> FragmentCollector<S> {
    let mut ws = WebSocket::after_handshake(stream, role);
    ws.set_auto_close(true);
    ws.set_auto_pong(true);
    ws.set_max_message_size(MAX_MESSAGE_SIZE);
    FragmentCollector::new(ws)
}

/// A client and a server of one library joined by an in-memory pipe, for round trips.
pub trait Pair {
    /// The client sends a binary `payload`, the server echoes it, the client receives the echo;
    /// returns the echoed payload's length.
    fn round_trip(&mut self, payload: &Bytes) -> io::Result<usize>;
}

/// `ws-proto` at both ends.
#[derive(Debug)]
pub struct ProtoPair {
    client: (Proto, PipeEnd),
    server: (Proto, PipeEnd),
}

impl Default for ProtoPair {
    fn default() -> Self {
        let (a, b) = pipe();
        ProtoPair { client: (Proto::new(Role::Client), a), server: (Proto::new(Role::Server), b) }
    }
}

impl Pair for ProtoPair {
    fn round_trip(&mut self, payload: &Bytes) -> io::Result<usize> {
        let (client, c_io) = &mut self.client;
        let (server, s_io) = &mut self.server;
        client.conn.send_binary(payload.clone()).map_err(io::Error::other)?;
        client.flush(c_io)?;
        let msg = server.next_message(s_io)?;
        server.send(msg)?;
        server.flush(s_io)?;
        match client.next_message(c_io)? {
            Message::Binary(b) => Ok(b.len()),
            _ => Err(io::Error::other("echo is not binary")),
        }
    }
}

/// tungstenite at both ends.
#[derive(Debug)]
pub struct TungstenitePair {
    client: tungstenite::WebSocket<PipeEnd>,
    server: tungstenite::WebSocket<PipeEnd>,
}

impl Default for TungstenitePair {
    fn default() -> Self {
        use tungstenite::protocol::Role;
        let (a, b) = pipe();
        TungstenitePair {
            client: tungstenite(a, Role::Client),
            server: tungstenite(b, Role::Server),
        }
    }
}

impl Pair for TungstenitePair {
    fn round_trip(&mut self, payload: &Bytes) -> io::Result<usize> {
        use tungstenite::Message;
        self.client.send(Message::Binary(payload.clone())).map_err(io::Error::other)?;
        let msg = self.server.read().map_err(io::Error::other)?;
        self.server.send(msg).map_err(io::Error::other)?;
        match self.client.read().map_err(io::Error::other)? {
            Message::Binary(b) => Ok(b.len()),
            _ => Err(io::Error::other("echo is not binary")),
        }
    }
}

/// fastwebsockets at both ends.
pub struct FastPair {
    client: FragmentCollector<PipeEnd>,
    server: FragmentCollector<PipeEnd>,
}

impl Default for FastPair {
    fn default() -> Self {
        use fastwebsockets::Role;
        let (a, b) = pipe();
        FastPair {
            client: fastwebsockets(a, Role::Client),
            server: fastwebsockets(b, Role::Server),
        }
    }
}

impl std::fmt::Debug for FastPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FastPair")
    }
}

impl Pair for FastPair {
    fn round_trip(&mut self, payload: &Bytes) -> io::Result<usize> {
        block_on(async {
            let frame = Frame::binary(fastwebsockets::Payload::Borrowed(payload));
            self.client.write_frame(frame).await.map_err(io::Error::other)?;
            let msg = self.server.read_frame().await.map_err(io::Error::other)?;
            self.server.write_frame(msg).await.map_err(io::Error::other)?;
            let echo = self.client.read_frame().await.map_err(io::Error::other)?;
            match echo.opcode {
                OpCode::Binary => Ok(echo.payload.len()),
                _ => Err(io::Error::other("echo is not binary")),
            }
        })
    }
}
