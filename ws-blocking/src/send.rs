//! The sending methods of [`WebSocket`] and [`WriteHalf`]: commands go to the core, then the
//! queue is written out completely (`send*`) or down to the high-water mark (`feed`).

use std::time::Instant;

use ws_proto::{
    CloseCode, Connection, Message, MessageKind, Payload, PreparedFrame, TextPayload, UsageError,
};

use crate::Error;
use crate::split::{SplitStream, WriteHalf};
use crate::transport::Transport;
use crate::websocket::WebSocket;

/// What a sending handle provides to the `send*` methods.
pub(crate) trait Outgoing {
    /// Runs a command on the connection with the current time.
    fn command<R>(
        &mut self,
        f: impl FnOnce(&mut Connection, Instant) -> Result<R, UsageError>,
    ) -> Result<R, Error>;

    /// Writes queued bytes until at most `keep` remain.
    fn write_down_to(&mut self, keep: usize) -> Result<(), Error>;

    /// `Config::write_buffer_high_water`.
    fn high_water(&self) -> usize;

    /// Runs a command, then writes everything out.
    fn send_with(
        &mut self,
        f: impl FnOnce(&mut Connection, Instant) -> Result<(), UsageError>,
    ) -> Result<(), Error> {
        self.command(f)?;
        self.write_down_to(0)
    }

    /// Queues a message, then applies backpressure.
    fn feed_message(&mut self, message: Message) -> Result<(), Error> {
        self.command(|c, now| c.send_message(now, message))?;
        let keep = self.high_water();
        self.write_down_to(keep)
    }
}

impl<S: Transport> WebSocket<S> {
    /// Sends a message and blocks until it is written to the stream.
    ///
    /// `Message::Ping`/`Pong` send control frames; `Message::Close(frame)` starts the closing
    /// handshake with the frame's code and reason (1000 when `None`).
    ///
    /// Errors: [`Error::Usage`] if the connection is closing or closed (nothing is sent),
    /// [`Error::Io`] if the transport fails. If a write times out ([`Error::is_timeout`]) the
    /// message stays queued, in order, and goes out with the next write: never twice, never
    /// torn.
    pub fn send(&mut self, message: Message) -> Result<(), Error> {
        self.send_with(|c, now| c.send_message(now, message))
    }

    /// Queues a message without waiting for it to be written, unless more than
    /// `Config::write_buffer_high_water` bytes are queued: then it blocks until the queue is
    /// back under that mark (backpressure: memory stays bounded when the peer reads slowly or
    /// not at all).
    ///
    /// The rest is written by [`flush`](Self::flush), the next `send*` call, and before a
    /// receive waits for input. Use it to batch many messages into few writes.
    pub fn feed(&mut self, message: Message) -> Result<(), Error> {
        self.feed_message(message)
    }

    /// Sends a text message: `&str` (copied), `String` or [`Utf8Bytes`](crate::Utf8Bytes) (large
    /// ones queued without a copy on servers). Blocks as [`send`](Self::send) does.
    pub fn send_text<'a>(&mut self, text: impl Into<TextPayload<'a>>) -> Result<(), Error> {
        self.send_with(|c, _| c.send_text(text))
    }

    /// Sends a binary message: `&[u8]` (copied), `Vec<u8>` or `Bytes`. Blocks as
    /// [`send`](Self::send) does.
    pub fn send_binary<'a>(&mut self, data: impl Into<Payload<'a>>) -> Result<(), Error> {
        self.send_with(|c, _| c.send_binary(data))
    }

    /// Sends one fragment of a message of `kind`; `fin` ends the message. Control frames may be
    /// sent between fragments, other messages may not. Text fragments may split a code point,
    /// but an invalid sequence is refused with [`Error::Usage`] and not sent.
    pub fn send_fragment<'a>(
        &mut self,
        kind: MessageKind,
        data: impl Into<Payload<'a>>,
        fin: bool,
    ) -> Result<(), Error> {
        self.send_with(|c, _| c.send_fragment(kind, data, fin))
    }

    /// Sends a frame encoded once for many connections (broadcast): servers write the shared
    /// bytes without encoding or copying them again.
    pub fn send_prepared(&mut self, frame: &PreparedFrame) -> Result<(), Error> {
        self.send_with(|c, _| c.send_prepared(frame))
    }

    /// Sends a Ping (payload at most 125 bytes). Its Pong is reported by the receiving side as
    /// [`Message::Pong`] and measures the round trip (`last_rtt`).
    pub fn ping(&mut self, payload: &[u8]) -> Result<(), Error> {
        self.send_with(|c, now| c.ping(now, payload))
    }

    /// Sends an unsolicited Pong (payload at most 125 bytes). Pings are answered automatically
    /// unless `Config::auto_pong` is off.
    pub fn pong(&mut self, payload: &[u8]) -> Result<(), Error> {
        self.send_with(|c, _| c.pong(payload))
    }

    /// Starts the closing handshake: sends a Close frame with `code` and `reason` (at most 123
    /// bytes) and blocks until it is written.
    ///
    /// Keep receiving afterwards: messages the peer sent before its reply still arrive, then its
    /// Close, then `None` once the transport is closed. A peer that does not answer within
    /// `Config::close_timeout` is given up on.
    pub fn close(&mut self, code: impl Into<CloseCode>, reason: &str) -> Result<(), Error> {
        let code = code.into();
        self.send_with(|c, now| c.close(now, code, reason))
    }

    /// Writes out everything queued and flushes the stream.
    pub fn flush(&mut self) -> Result<(), Error> {
        self.write_down_to(0)
    }
}

impl<S: SplitStream> WriteHalf<S> {
    /// As [`WebSocket::send`] does.
    pub fn send(&mut self, message: Message) -> Result<(), Error> {
        self.send_with(|c, now| c.send_message(now, message))
    }

    /// As [`WebSocket::feed`] does.
    pub fn feed(&mut self, message: Message) -> Result<(), Error> {
        self.feed_message(message)
    }

    /// As [`WebSocket::send_text`] does.
    pub fn send_text<'a>(&mut self, text: impl Into<TextPayload<'a>>) -> Result<(), Error> {
        self.send_with(|c, _| c.send_text(text))
    }

    /// As [`WebSocket::send_binary`] does.
    pub fn send_binary<'a>(&mut self, data: impl Into<Payload<'a>>) -> Result<(), Error> {
        self.send_with(|c, _| c.send_binary(data))
    }

    /// As [`WebSocket::send_fragment`] does.
    pub fn send_fragment<'a>(
        &mut self,
        kind: MessageKind,
        data: impl Into<Payload<'a>>,
        fin: bool,
    ) -> Result<(), Error> {
        self.send_with(|c, _| c.send_fragment(kind, data, fin))
    }

    /// As [`WebSocket::send_prepared`] does.
    pub fn send_prepared(&mut self, frame: &PreparedFrame) -> Result<(), Error> {
        self.send_with(|c, _| c.send_prepared(frame))
    }

    /// As [`WebSocket::ping`] does.
    pub fn ping(&mut self, payload: &[u8]) -> Result<(), Error> {
        self.send_with(|c, now| c.ping(now, payload))
    }

    /// As [`WebSocket::pong`] does.
    pub fn pong(&mut self, payload: &[u8]) -> Result<(), Error> {
        self.send_with(|c, _| c.pong(payload))
    }

    /// As [`WebSocket::close`] does.
    pub fn close(&mut self, code: impl Into<CloseCode>, reason: &str) -> Result<(), Error> {
        let code = code.into();
        self.send_with(|c, now| c.close(now, code, reason))
    }

    /// As [`WebSocket::flush`] does.
    pub fn flush(&mut self) -> Result<(), Error> {
        self.write_down_to(0)
    }
}
