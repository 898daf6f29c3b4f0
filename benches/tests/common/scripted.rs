//! A scripted peer: an in-memory transport whose far end is the test itself.
//!
//! The adapter under test reads and writes a [`ScriptedPeer`] as it would a socket (it
//! implements tokio's and futures-io's `AsyncRead + AsyncWrite`). The peer plays the other role
//! of an echo exchange, one message at a time, without allocating after construction:
//!
//! * adapter as **server**: the peer offers a masked client frame to read, then waits for the
//!   echo and checks it byte for byte against the unmasked frame a server must write;
//! * adapter as **client**: the peer waits for the adapter's message, checks that it is one
//!   masked frame (mask bit set, right opcode and length) whose unmasked payload is the expected
//!   one, then offers the unmasked server frame of the same payload to read.
//!
//! Before offering each frame the peer answers one read with `Pending` (waking the task at
//! once), so every message also takes the adapter's wait-and-wake path, as on a socket.
//!
//! Reads while the peer waits for the adapter's bytes return `Pending` and are woken when those
//! bytes are complete; a write that does not fit the exchange fails the test with a message.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use benches::wire::{Opcode, encode_frame, header_len};

/// Whose turn it is in the current exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Turn {
    /// The peer's frame is offered to the adapter.
    PeerSends,
    /// The peer waits for the adapter's frame.
    AdapterSends,
}

/// The peer end of an in-memory echo exchange (see the module docs).
pub(crate) struct ScriptedPeer {
    /// The adapter under test is the server.
    adapter_is_server: bool,
    /// The payloads, cycled: message `i` carries `payloads[i % len]`.
    payloads: Vec<Vec<u8>>,
    /// What the peer sends for each payload: masked frames to a server, unmasked to a client.
    to_adapter: Vec<Vec<u8>>,
    /// Server under test: the exact echo it must write for each payload.
    echoes: Vec<Vec<u8>>,
    /// Client under test: the header it must write for each payload, up to the mask key.
    heads: Vec<Vec<u8>>,
    /// Index of the current message.
    index: usize,
    turn: Turn,
    /// Bytes of the offered frame already read by the adapter.
    offered: usize,
    /// The adapter's bytes for the current message (capacity reserved up front).
    inbox: Vec<u8>,
    /// The next read returns `Pending` once (set before each offered frame).
    stall: bool,
    /// The task that read while the peer waited for the adapter's bytes.
    reader: Option<Waker>,
    /// Exchanges completed and checked.
    completed: u64,
}

impl ScriptedPeer {
    /// A peer for an adapter in the server role (`adapter_is_server`) or the client role,
    /// exchanging `payloads` in turn as `opcode` messages.
    pub(crate) fn new(adapter_is_server: bool, opcode: Opcode, payloads: Vec<Vec<u8>>) -> Self {
        assert!(!payloads.is_empty());
        let key = |i: usize| [0x5a, i as u8, 0xc3, (i >> 8) as u8];
        let to_adapter = payloads
            .iter()
            .enumerate()
            .map(|(i, p)| encode_frame(opcode, p, adapter_is_server.then(|| key(i))))
            .collect();
        let echoes = payloads.iter().map(|p| encode_frame(opcode, p, None)).collect();
        let heads = payloads
            .iter()
            .map(|p| {
                let mut head = encode_frame(opcode, p, Some([0; 4]));
                head.truncate(header_len(p.len(), true) - 4);
                head
            })
            .collect();
        let longest = payloads.iter().map(Vec::len).max().unwrap_or(0);
        ScriptedPeer {
            adapter_is_server,
            payloads,
            to_adapter,
            echoes,
            heads,
            index: 0,
            turn: if adapter_is_server { Turn::PeerSends } else { Turn::AdapterSends },
            offered: 0,
            inbox: Vec::with_capacity(header_len(longest, true) + longest),
            stall: true,
            reader: None,
            completed: 0,
        }
    }

    /// Exchanges completed and checked so far.
    pub(crate) fn completed(&self) -> u64 {
        self.completed
    }

    fn current(&self) -> usize {
        self.index % self.payloads.len()
    }

    fn next_message(&mut self) {
        self.completed += 1;
        self.index += 1;
    }

    fn read(&mut self, cx: &mut Context<'_>, room: usize) -> Poll<&[u8]> {
        if self.turn == Turn::AdapterSends {
            match &mut self.reader {
                Some(w) => w.clone_from(cx.waker()),
                None => self.reader = Some(cx.waker().clone()),
            }
            return Poll::Pending;
        }
        if std::mem::take(&mut self.stall) {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let i = self.current();
        let start = self.offered;
        let n = room.min(self.to_adapter[i].len() - start);
        self.offered += n;
        if self.offered == self.to_adapter[i].len() {
            self.offered = 0;
            self.turn = Turn::AdapterSends;
            if !self.adapter_is_server {
                // The client received the reply: that message is done.
                self.next_message();
            }
        }
        Poll::Ready(&self.to_adapter[i][start..start + n])
    }

    fn write(&mut self, data: &[u8]) {
        assert!(
            self.inbox.len() + data.len() <= self.inbox.capacity(),
            "the adapter wrote more than one frame for message {} ({} + {} bytes)",
            self.index,
            self.inbox.len(),
            data.len()
        );
        assert_eq!(self.turn, Turn::AdapterSends, "the adapter wrote before reading the frame");
        self.inbox.extend_from_slice(data);
        let done = if self.adapter_is_server { self.check_echo() } else { self.check_masked() };
        if done {
            self.inbox.clear();
            self.turn = Turn::PeerSends;
            self.stall = true;
            if self.adapter_is_server {
                self.next_message();
            }
            if let Some(w) = self.reader.take() {
                w.wake();
            }
        }
    }

    /// Server under test: true once the whole echo is in and equal to the expected frame.
    fn check_echo(&self) -> bool {
        let expected = &self.echoes[self.current()];
        if self.inbox.len() < expected.len() {
            return false;
        }
        assert!(self.inbox == *expected, "echo {} differs from the unmasked frame", self.index);
        true
    }

    /// Client under test: true once one whole masked frame is in, carrying the expected payload.
    fn check_masked(&self) -> bool {
        let (payload, expected_head) =
            (&self.payloads[self.current()], &self.heads[self.current()]);
        let header = expected_head.len() + 4;
        if self.inbox.len() < header + payload.len() {
            return false;
        }
        let (head, body) = self.inbox.split_at(header);
        assert_eq!(head[..header - 4], expected_head[..], "header of message {}", self.index);
        let key = &head[header - 4..];
        let unmasked = body.iter().zip(key.iter().cycle()).map(|(b, k)| b ^ k);
        assert!(unmasked.eq(payload.iter().copied()), "payload of message {}", self.index);
        true
    }
}

impl tokio::io::AsyncRead for ScriptedPeer {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let room = buf.remaining();
        self.get_mut().read(cx, room).map(|data| {
            buf.put_slice(data);
            Ok(())
        })
    }
}

impl tokio::io::AsyncWrite for ScriptedPeer {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().write(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        bufs.iter().for_each(|b| this.write(b));
        Poll::Ready(Ok(bufs.iter().map(|b| b.len()).sum()))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl futures_io::AsyncRead for ScriptedPeer {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let room = buf.len();
        self.get_mut().read(cx, room).map(|data| {
            buf[..data.len()].copy_from_slice(data);
            Ok(data.len())
        })
    }
}

impl futures_io::AsyncWrite for ScriptedPeer {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().write(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        bufs.iter().for_each(|b| this.write(b));
        Poll::Ready(Ok(bufs.iter().map(|b| b.len()).sum()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
