//! The message API shared by [`WebSocket`](crate::WebSocket) and its split halves.
//!
//! Each handle gives access to its [`Driver`] through [`Drive`] (directly, or under the
//! split halves' mutex); the methods, `Stream` and `Sink` are written once on top of it.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_sink::Sink;
use tokio::io::{AsyncRead, AsyncWrite};
use ws_proto::{CloseCode, Message, State};

use crate::driver::Driver;
use crate::error::Error;

/// Access to a handle's driver: short synchronous sections and polls.
pub(crate) trait Drive<S> {
    /// Runs `f` on the driver (a command: no IO).
    fn with<R>(&mut self, f: impl FnOnce(&mut Driver<S>) -> R) -> R;

    /// Polls `f` on the driver with a context whose waker reaches this handle.
    fn poll_with<R>(
        &mut self,
        cx: &mut Context<'_>,
        f: impl FnOnce(&mut Driver<S>, &mut Context<'_>) -> Poll<R>,
    ) -> Poll<R>;
}

/// `Sink::poll_ready`: waits while more than the high-water mark is queued.
pub(crate) fn poll_ready<S, D>(d: &mut D, cx: &mut Context<'_>) -> Poll<Result<(), Error>>
where
    S: AsyncRead + AsyncWrite + Unpin,
    D: Drive<S>,
{
    d.poll_with(cx, |d, cx| {
        let limit = d.conn.config().write_buffer_high_water;
        d.poll_write_out(cx, limit)
    })
}

/// `Sink::poll_flush`: writes everything queued and flushes the transport.
pub(crate) fn poll_flush<S, D>(d: &mut D, cx: &mut Context<'_>) -> Poll<Result<(), Error>>
where
    S: AsyncRead + AsyncWrite + Unpin,
    D: Drive<S>,
{
    d.poll_with(cx, |d, cx| d.poll_write_out(cx, 0))
}

/// `Sink::poll_close`: starts the closing handshake (1000) if still open, then flushes.
pub(crate) fn poll_close<S, D>(d: &mut D, cx: &mut Context<'_>) -> Poll<Result<(), Error>>
where
    S: AsyncRead + AsyncWrite + Unpin,
    D: Drive<S>,
{
    d.with(|d| {
        if d.conn.state() == State::Open {
            // Cannot fail: the connection is open and the code is sendable.
            let _ = d.conn.close(std::time::Instant::now(), CloseCode::NORMAL, "");
        }
    });
    poll_flush(d, cx)
}

/// Implements `futures_sink::Sink<Message>` for a handle implementing [`Drive`].
macro_rules! impl_sink {
    ($ty:ident) => {
        impl<S: AsyncRead + AsyncWrite + Unpin> Sink<Message> for $ty<S> {
            type Error = Error;

            fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
                poll_ready(self.get_mut(), cx)
            }

            fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), Error> {
                self.get_mut().with(|d| d.queue(item))
            }

            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
                poll_flush(self.get_mut(), cx)
            }

            fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
                poll_close(self.get_mut(), cx)
            }
        }
    };
}

impl_sink!(WebSocket);
impl_sink!(WriteHalf);

use crate::split::WriteHalf;
use crate::websocket::WebSocket;

/// The sending methods, generated for every handle implementing [`Drive`].
macro_rules! send_api {
    () => {
        /// Sends a message and waits until it is written to the transport.
        ///
        /// `Message::Ping`/`Pong` send control frames; `Message::Close(frame)` starts the
        /// closing handshake with the frame's code and reason (1000 when `None`).
        ///
        /// Errors: [`Error::Usage`] if the connection is closing or closed (nothing is sent),
        /// [`Error::Io`] if the transport fails. Cancelling the future after its first poll
        /// leaves the message queued (it is written by the next flush, send or receive); it is
        /// never sent twice or torn.
        pub async fn send(&mut self, message: Message) -> Result<(), Error> {
            crate::api::Drive::with(self, |d| d.queue(message))?;
            self.flush().await
        }

        /// Queues a message without waiting for it to be written, unless more than
        /// [`Config::write_buffer_high_water`](ws_proto::Config::write_buffer_high_water)
        /// bytes are queued: then it waits until the peer has read enough.
        ///
        /// Queued bytes are written by [`flush`](Self::flush), by the next `send*` call and
        /// while a receive is polled (on an unsplit socket or a read half). Use it to batch
        /// many messages into few writes.
        pub async fn feed(&mut self, message: Message) -> Result<(), Error> {
            crate::api::Drive::with(self, |d| d.queue(message))?;
            std::future::poll_fn(|cx| crate::api::poll_ready(self, cx)).await
        }

        /// Sends a text message: `&str` (copied), `String` or [`Utf8Bytes`](ws_proto::Utf8Bytes)
        /// (large ones queued without a copy on servers). Waits as [`send`](Self::send) does.
        pub async fn send_text<'t>(
            &mut self,
            text: impl Into<ws_proto::TextPayload<'t>>,
        ) -> Result<(), Error> {
            crate::api::Drive::with(self, |d| d.conn.send_text(text))?;
            self.flush().await
        }

        /// Sends a binary message: `&[u8]` (copied), `Vec<u8>` or `Bytes`. Waits as
        /// [`send`](Self::send) does.
        pub async fn send_binary<'t>(
            &mut self,
            data: impl Into<ws_proto::Payload<'t>>,
        ) -> Result<(), Error> {
            crate::api::Drive::with(self, |d| d.conn.send_binary(data))?;
            self.flush().await
        }

        /// Sends one fragment of a message of `kind`; `fin` ends the message. Control frames
        /// may be sent between fragments, other messages may not. Text fragments are checked
        /// incrementally: invalid UTF-8 is refused with [`Error::Usage`] and not sent.
        pub async fn send_fragment<'t>(
            &mut self,
            kind: ws_proto::MessageKind,
            data: impl Into<ws_proto::Payload<'t>>,
            fin: bool,
        ) -> Result<(), Error> {
            crate::api::Drive::with(self, |d| d.conn.send_fragment(kind, data, fin))?;
            self.flush().await
        }

        /// Sends a frame encoded once for many connections (broadcast): servers write the
        /// shared bytes without encoding or copying them again.
        pub async fn send_prepared(
            &mut self,
            frame: &ws_proto::PreparedFrame,
        ) -> Result<(), Error> {
            crate::api::Drive::with(self, |d| d.conn.send_prepared(frame))?;
            self.flush().await
        }

        /// Sends a Ping (payload at most 125 bytes). Its Pong is reported by the receiving
        /// side as `Message::Pong`, and measures the round trip (`last_rtt`).
        pub async fn ping(&mut self, payload: &[u8]) -> Result<(), Error> {
            let now = std::time::Instant::now();
            crate::api::Drive::with(self, |d| d.conn.ping(now, payload))?;
            self.flush().await
        }

        /// Sends an unsolicited Pong (payload at most 125 bytes). Pings are answered
        /// automatically unless `Config::auto_pong` is off.
        pub async fn pong(&mut self, payload: &[u8]) -> Result<(), Error> {
            crate::api::Drive::with(self, |d| d.conn.pong(payload))?;
            self.flush().await
        }

        /// Starts the closing handshake: sends a Close frame with `code` and `reason` (at most
        /// 123 bytes) and waits until it is written.
        ///
        /// Keep receiving afterwards: the peer's Close arrives as `Message::Close`, then the
        /// receive side returns `None` once the transport is closed. If the peer does not
        /// answer within `Config::close_timeout`, the transport is closed regardless.
        pub async fn close(
            &mut self,
            code: impl Into<ws_proto::CloseCode>,
            reason: &str,
        ) -> Result<(), Error> {
            let (code, now) = (code.into(), std::time::Instant::now());
            crate::api::Drive::with(self, |d| d.conn.close(now, code, reason))?;
            self.flush().await
        }

        /// Writes everything queued and flushes the transport.
        pub async fn flush(&mut self) -> Result<(), Error> {
            std::future::poll_fn(|cx| crate::api::poll_flush(self, cx)).await
        }
    };
}

/// The receiving methods, generated for every handle with a driver and an assembler.
macro_rules! recv_api {
    () => {
        /// Receives the next message.
        ///
        /// Returns data messages whole (fragments are joined), `Message::Ping` and
        /// `Message::Pong` as notifications (pings are already answered unless
        /// `Config::auto_pong` is off), `Message::Close` when the peer's Close frame arrives
        /// (the reply is already queued), then `None` once the connection is closed and the
        /// transport shut down. An abnormal end (the peer vanished) also ends with `None`;
        /// `close_info` tells how the connection ended.
        ///
        /// While it is polled, queued output is written, keepalive/pong/idle/close timers
        /// run, and the transport is closed at the end. Keep polling it (or the stream) to
        /// make them happen.
        ///
        /// # Cancel safety
        ///
        /// Cancel-safe: all state lives in the socket and each poll completes its work before
        /// returning, so dropping the future (e.g. in `tokio::select!`) loses no message and no
        /// part of one; the next call continues where it stopped.
        pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
            std::future::poll_fn(|cx| self.poll_recv(cx)).await
        }

        /// Receives the next [`Event`](ws_proto::Event) without assembling messages: data
        /// arrives frame by frame (`Event::Data` with `first`/`fin`), so a huge fragmented
        /// message can be processed piece by piece. The last event is `Event::Closed`, then
        /// `None` once the transport is closed. Cancel-safe like [`recv`](Self::recv).
        ///
        /// Do not interleave it with `recv` in the middle of a fragmented message: `recv`
        /// would not see the fragments taken here.
        pub async fn recv_event(&mut self) -> Option<Result<ws_proto::Event, Error>> {
            std::future::poll_fn(|cx| {
                crate::api::Drive::poll_with(self, cx, |d, cx| d.poll_event(cx))
            })
            .await
        }
    };
}

pub(crate) use recv_api;
pub(crate) use send_api;
