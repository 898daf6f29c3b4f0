//! [`WebSocket`]: a connection over any tokio `AsyncRead + AsyncWrite` transport.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_core::Stream;
use tokio::io::{AsyncRead, AsyncWrite};
use ws_proto::handshake::Negotiated;
use ws_proto::{CloseInfo, Config, Connection, Message, MessageAssembler, Role, State};

use crate::api::{Drive, recv_api, send_api};
use crate::driver::Driver;
use crate::error::Error;
use crate::split::{ReadHalf, WriteHalf};

/// A WebSocket connection over a transport `S` (a `TcpStream`, a TLS stream, …), after the
/// opening handshake.
///
/// Obtain one from [`connect`](crate::connect), [`client`](crate::client),
/// [`accept`](crate::accept) or [`from_raw`](Self::from_raw). Receive with
/// [`recv`](Self::recv) (or the [`Stream`] impl), send with [`send`](Self::send) and friends
/// (or the [`Sink`](futures_sink::Sink) impl), close with [`close`](Self::close) and keep
/// receiving until `None`. [`split`](Self::split) gives halves for two tasks.
///
/// Protocol work (framing, masking, UTF-8 checks, automatic pongs, close replies, timers) is
/// done by [`ws_proto::Connection`]; this type only moves bytes and time in and out of it.
#[derive(Debug)]
pub struct WebSocket<S> {
    driver: Driver<S>,
    assembler: MessageAssembler,
}

impl<S> WebSocket<S> {
    /// Builds a socket from the parts a handshake produced; `leftover` are the bytes that
    /// followed the handshake.
    pub(crate) fn from_parts(
        stream: S,
        role: Role,
        config: Config,
        negotiated: &Negotiated,
        leftover: &[u8],
    ) -> Self {
        let now = Instant::now();
        let assembler = MessageAssembler::new(config.max_message_size);
        let protocol = negotiated.protocol.clone();
        let mut conn = Connection::new(role, config, now).with_negotiated(negotiated);
        // An error here fails the connection inside the core (Close queued, Closed event
        // pending); `recv` reports the events and then the end of the stream.
        let error = conn.handle_data(now, leftover).err();
        let mut driver = Driver::new(stream, conn, protocol);
        if let Some(e) = error {
            driver.set_error(e.into());
        }
        WebSocket { driver, assembler }
    }

    /// Wraps a transport on which the opening handshake has already been done elsewhere (for
    /// example by hyper or axum), as `role`.
    pub fn from_raw(stream: S, role: Role, config: Config) -> Self {
        Self::from_parts(stream, role, config, &Negotiated::default(), &[])
    }

    pub(crate) fn from_driver(driver: Driver<S>, assembler: MessageAssembler) -> Self {
        WebSocket { driver, assembler }
    }

    /// The subprotocol negotiated in the handshake, if any.
    pub fn protocol(&self) -> Option<&str> {
        self.driver.protocol.as_deref()
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

    /// Splits the socket into a receiving and a sending half, usable from two tasks at once.
    ///
    /// The halves share the connection behind a mutex that is held only for short
    /// non-blocking sections, never across a wait. The read half writes the automatic pongs
    /// and close replies itself, so they go out even if the write half is idle. Timers run
    /// while the read half is polled. [`reunite`](crate::reunite) puts them back together.
    pub fn split(self) -> (ReadHalf<S>, WriteHalf<S>) {
        crate::split::split(self.driver, self.assembler)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocket<S> {
    /// Polls for the next message (see [`recv`](Self::recv)).
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Message, Error>>> {
        self.driver.poll_message(&mut self.assembler, cx)
    }

    recv_api!();
    send_api!();
}

impl<S> Drive<S> for WebSocket<S> {
    fn with<R>(&mut self, f: impl FnOnce(&mut Driver<S>) -> R) -> R {
        f(&mut self.driver)
    }

    fn poll_with<R>(
        &mut self,
        cx: &mut Context<'_>,
        f: impl FnOnce(&mut Driver<S>, &mut Context<'_>) -> Poll<R>,
    ) -> Poll<R> {
        f(&mut self.driver, cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stream for WebSocket<S> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_recv(cx)
    }
}
