//! [`WebSocket`]: a connection over any async transport, on any runtime binding.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_core::Stream;
use ws_proto::{
    CloseCode, CloseInfo, Config, Connection, Event, Message, MessageAssembler, MessageKind,
    Payload, PreparedFrame, Role, State, TextPayload,
};

use super::api::{self, Drive, impl_sink};
use super::driver::Driver;
use super::split::{self, ReadHalf, WriteHalf};
use super::{Runtime, StreamIo};
use crate::Error;

/// A WebSocket connection over a transport `S` (a TCP stream, a TLS stream, …) after the
/// opening handshake, driven on the runtime `R`.
///
/// Adapters name it for their runtime (`ws_tokio::WebSocket<S>`, `ws_async_std::WebSocket<S>`)
/// and hand it out from their `connect` and `accept` functions. Receive with
/// [`recv`](Self::recv) (or the [`Stream`] impl), send with [`send`](Self::send) and friends
/// (or the `Sink` impl), close with [`close`](Self::close) and keep receiving until `None`.
/// [`split`](Self::split) gives halves for two tasks.
///
/// # The contract
///
/// * **Receiving drives the connection.** Automatic pongs, close replies, keepalive pings, the
///   pong/idle/close timeouts and the transport's end happen while `recv` (or the stream, or
///   the read half) is polled. Keep receiving, even in a sending-only application.
/// * **Stopping at the first `Err` loses nothing.** A peer's protocol violation or exceeded
///   limit is returned as [`Error::Protocol`] only once the Close frame with its code has been
///   written (or `close_timeout` gave up on a peer that did not read it) and the write side was
///   shut down. A transport failure is [`Error::Io`]. A clean close, and a peer that vanished,
///   end with `None` ([`close_info`](Self::close_info) tells how).
/// * **Cancel-safe receive.** All state lives in the socket and each poll completes its work
///   before returning, so dropping a `recv` future (in a `select!`) loses no message and no part
///   of one.
/// * **Backpressure.** `send*` return once the bytes are written to the transport;
///   [`feed`](Self::feed) and the `Sink` queue and wait only above
///   [`Config::write_buffer_high_water`]. Receiving stops taking input while more than that is
///   queued, so a peer that never reads cannot make memory grow.
/// * **Memory.** An idle connection gives its buffers back after
///   [`Config::release_buffers_after`].
///
/// Protocol work (framing, masking, UTF-8, limits, the closing handshake, timers, when and how
/// to close the transport) is done by [`ws_proto::Connection`]; this type only moves bytes and
/// time in and out of it.
pub struct WebSocket<S, R: Runtime> {
    driver: Driver<S, R>,
    assembler: MessageAssembler,
}

impl<S, R: Runtime> WebSocket<S, R> {
    /// Wraps a connection whose opening handshake is done: from a handshake driver, or built by
    /// hand for a transport upgraded elsewhere (hyper, axum: start it with
    /// `Connection::new(Role::Server, config, now).with_negotiated(..)` and feed it any bytes
    /// the framework read past the request).
    pub fn from_connection(stream: S, conn: Connection) -> Self {
        WebSocket { driver: Driver::new(stream, conn), assembler: MessageAssembler::new() }
    }

    /// Wraps a transport on which the opening handshake was done elsewhere, as `role`, with
    /// nothing negotiated and no bytes read past the handshake.
    pub fn from_raw(stream: S, role: Role, config: Config) -> Self {
        Self::from_connection(stream, Connection::new(role, config, Instant::now()))
    }

    pub(crate) fn from_parts(driver: Driver<S, R>, assembler: MessageAssembler) -> Self {
        WebSocket { driver, assembler }
    }

    /// The subprotocol negotiated in the handshake, if any.
    pub fn protocol(&self) -> Option<&str> {
        self.driver.conn.protocol()
    }

    /// How the connection ended, once it has (both Close frames, who started, clean or not).
    pub fn close_info(&self) -> Option<&CloseInfo> {
        self.driver.conn.close_info()
    }

    /// The round-trip time measured by the most recently answered Ping (keepalive pings or
    /// [`ping`](Self::ping)).
    pub fn last_rtt(&self) -> Option<Duration> {
        self.driver.conn.last_rtt()
    }

    /// The connection's configuration.
    pub fn config(&self) -> &Config {
        self.driver.conn.config()
    }

    /// Where the connection is in its life (open, closing, closed).
    pub fn state(&self) -> State {
        self.driver.conn.state()
    }

    /// Bytes queued for sending and not yet written to the transport.
    pub fn buffered_amount(&self) -> usize {
        self.driver.conn.transmit_len()
    }

    /// The transport.
    pub fn get_ref(&self) -> &S {
        &self.driver.stream
    }

    /// The transport, mutably. Reading or writing it directly corrupts the connection.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.driver.stream
    }

    /// The protocol state machine, for inspection.
    pub fn connection(&self) -> &Connection {
        &self.driver.conn
    }

    /// The protocol state machine, to queue without waiting: frames queued here (a
    /// [`PreparedFrame`](ws_proto::PreparedFrame) for many connections, a Ping with a chosen
    /// payload, a Close) are written by the next poll of `recv`, `flush` or any `send`. Feeding
    /// it input or taking its output or events directly corrupts the connection.
    pub fn connection_mut(&mut self) -> &mut Connection {
        &mut self.driver.conn
    }

    /// Splits the socket into a receiving and a sending half, usable from two tasks at once.
    ///
    /// The halves share the connection behind a mutex held only for short non-blocking
    /// sections, never across a wait. The read half writes the automatic pongs and close
    /// replies itself, so they go out even if the write half is idle; timers run while it is
    /// polled. [`reunite`](super::reunite) puts them back together.
    pub fn split(self) -> (ReadHalf<S, R>, WriteHalf<S, R>) {
        split::split(self.driver, self.assembler)
    }
}

impl<S, R: StreamIo<S>> WebSocket<S, R> {
    /// Polls for the next message (see [`recv`](Self::recv)).
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Message, Error>>> {
        self.driver.poll_message(&mut self.assembler, cx)
    }

    /// Receives the next message.
    ///
    /// Returns data messages whole (fragments are joined), `Message::Ping` and `Message::Pong`
    /// as notifications (pings are already answered unless `Config::auto_pong` is off),
    /// `Message::Close` when the peer's Close frame arrives (the reply is already queued), then
    /// `None` once the transport is closed. A peer's protocol error is `Err` (see the contract
    /// above), then `None`.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the future loses no message and no part of one; the next call
    /// continues where it stopped.
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Receives the next [`Event`] without assembling messages: data arrives frame by frame
    /// (`Event::Data` with `first`/`fin`), so a huge fragmented message can be processed piece
    /// by piece. The last event is `Event::Closed` (or the peer's error, as for
    /// [`recv`](Self::recv)), then `None`. Cancel-safe like `recv`.
    ///
    /// Do not interleave it with `recv` in the middle of a fragmented message: `recv` would
    /// not see the fragments taken here.
    pub async fn recv_event(&mut self) -> Option<Result<Event, Error>> {
        std::future::poll_fn(|cx| self.poll_recv_event(cx)).await
    }

    /// Polls for the next event (see [`recv_event`](Self::recv_event)).
    pub fn poll_recv_event(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Event, Error>>> {
        self.driver.poll_event(cx)
    }

    /// Sends a message and waits until it is written to the transport.
    ///
    /// `Message::Ping`/`Pong` send control frames; `Message::Close(frame)` starts the closing
    /// handshake with the frame's code and reason (1000 when `None`).
    ///
    /// Errors: [`Error::Usage`] if the connection is closing or closed (nothing is sent),
    /// [`Error::Io`] if the transport fails. Cancelling the future after its first poll leaves
    /// the message queued (it is written by the next flush, send or receive); it is never sent
    /// twice or torn.
    pub async fn send(&mut self, message: Message) -> Result<(), Error> {
        api::send(self, |c, now| c.send_message(now, message)).await
    }

    /// Queues a message without waiting for it to be written, unless more than
    /// `Config::write_buffer_high_water` bytes are queued: then it waits until the peer has read
    /// enough. Queued bytes are written by [`flush`](Self::flush), the next `send*` call and
    /// while receiving. Use it to batch many messages into few writes.
    pub async fn feed(&mut self, message: Message) -> Result<(), Error> {
        api::feed(self, |c, now| c.send_message(now, message)).await
    }

    /// Sends a text message: `&str` (copied), `String` or [`Utf8Bytes`](ws_proto::Utf8Bytes)
    /// (large ones queued without a copy on servers). Waits as [`send`](Self::send) does.
    pub async fn send_text<'t>(&mut self, text: impl Into<TextPayload<'t>>) -> Result<(), Error> {
        api::send(self, |c, _| c.send_text(text)).await
    }

    /// Sends a binary message: `&[u8]` (copied), `Vec<u8>` or `Bytes`. Waits as
    /// [`send`](Self::send) does.
    pub async fn send_binary<'t>(&mut self, data: impl Into<Payload<'t>>) -> Result<(), Error> {
        api::send(self, |c, _| c.send_binary(data)).await
    }

    /// Sends one fragment of a message of `kind`; `fin` ends the message. Control frames may be
    /// sent between fragments, other messages may not. Text fragments are checked
    /// incrementally: invalid UTF-8 is refused with [`Error::Usage`] and not sent.
    pub async fn send_fragment<'t>(
        &mut self,
        kind: MessageKind,
        data: impl Into<Payload<'t>>,
        fin: bool,
    ) -> Result<(), Error> {
        api::send(self, |c, _| c.send_fragment(kind, data, fin)).await
    }

    /// Sends a frame encoded once for many connections (broadcast): servers write the shared
    /// bytes without encoding or copying them again.
    pub async fn send_prepared(&mut self, frame: &PreparedFrame) -> Result<(), Error> {
        api::send(self, |c, _| c.send_prepared(frame)).await
    }

    /// Sends a Ping (payload at most 125 bytes). Its Pong is reported by the receiving side as
    /// `Message::Pong`, and measures the round trip ([`last_rtt`](Self::last_rtt)).
    pub async fn ping(&mut self, payload: &[u8]) -> Result<(), Error> {
        api::send(self, |c, now| c.ping(now, payload)).await
    }

    /// Sends an unsolicited Pong (payload at most 125 bytes). Pings are answered automatically
    /// unless `Config::auto_pong` is off.
    pub async fn pong(&mut self, payload: &[u8]) -> Result<(), Error> {
        api::send(self, |c, _| c.pong(payload)).await
    }

    /// Starts the closing handshake: sends a Close frame with `code` and `reason` (at most 123
    /// bytes) and waits until it is written.
    ///
    /// Keep receiving afterwards: the peer's Close arrives as `Message::Close`, then receiving
    /// returns `None` once the transport is closed. If the peer does not answer within
    /// `Config::close_timeout`, the transport is closed regardless.
    pub async fn close(&mut self, code: impl Into<CloseCode>, reason: &str) -> Result<(), Error> {
        let code = code.into();
        api::send(self, |c, now| c.close(now, code, reason)).await
    }

    /// Writes everything queued and flushes the transport.
    pub async fn flush(&mut self) -> Result<(), Error> {
        api::flush(self).await
    }
}

impl<S, R: StreamIo<S>> Drive<S, R> for WebSocket<S, R> {
    fn with<T>(&mut self, f: impl FnOnce(&mut Driver<S, R>) -> T) -> T {
        f(&mut self.driver)
    }

    fn poll_with<T>(
        &mut self,
        cx: &mut Context<'_>,
        f: impl FnOnce(&mut Driver<S, R>, &mut Context<'_>) -> Poll<T>,
    ) -> Poll<T> {
        f(&mut self.driver, cx)
    }
}

impl<S: Unpin, R: StreamIo<S>> Stream for WebSocket<S, R> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_recv(cx)
    }
}

impl_sink!(WebSocket);

impl<S: std::fmt::Debug, R: Runtime> std::fmt::Debug for WebSocket<S, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocket").field("driver", &self.driver).finish_non_exhaustive()
    }
}
