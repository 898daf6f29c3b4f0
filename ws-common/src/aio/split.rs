//! Owned read and write halves of a [`WebSocket`].
//!
//! Both halves share one [`Driver`] behind a `std::sync::Mutex` that is locked only for one
//! non-blocking poll or command at a time, never across a wait. Either half may write the
//! core's queue (the read half writes automatic pongs and close replies itself), so writes to
//! the transport are serialized by that mutex and frames never interleave.
//!
//! A transport keeps one waker per direction, but two tasks may wait to write. So every poll
//! through a half uses one shared waker that wakes whichever halves registered in their slot;
//! a half registers before polling and clears its slot once it gets a result.

use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use futures_core::Stream;
use ws_proto::{
    CloseCode, CloseInfo, Event, Message, MessageAssembler, MessageKind, Payload, PreparedFrame,
    TextPayload,
};

use super::api::{self, Drive, impl_sink};
use super::driver::Driver;
use super::{Runtime, StreamIo, WebSocket};
use crate::Error;

/// The tasks waiting on the shared transport.
#[derive(Debug, Default)]
struct Slots {
    reader: Mutex<Option<Waker>>,
    writer: Mutex<Option<Waker>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section is one driver call that leaves it consistent: a panic elsewhere
    // cannot leave it half-updated, so poisoning is ignored.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn register(slot: &Mutex<Option<Waker>>, waker: &Waker) {
    let mut slot = lock(slot);
    match &mut *slot {
        Some(w) if w.will_wake(waker) => {}
        other => *other = Some(waker.clone()),
    }
}

fn wake_slot(slot: &Mutex<Option<Waker>>) {
    let waker = lock(slot).take();
    if let Some(w) = waker {
        w.wake();
    }
}

impl Wake for Slots {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        wake_slot(&self.reader);
        wake_slot(&self.writer);
    }
}

struct Shared<S, R: Runtime> {
    driver: Mutex<Driver<S, R>>,
    slots: Arc<Slots>,
    /// A waker over `slots`, passed to every poll of the transport and the timer.
    waker: Waker,
}

/// The receiving half of a split [`WebSocket`]: [`recv`](Self::recv),
/// [`recv_event`](Self::recv_event) and [`Stream`].
///
/// It also drives the connection: while it is polled, automatic pongs and close replies are
/// written, timers run and the transport is closed at the end. Keep polling it.
pub struct ReadHalf<S, R: Runtime> {
    shared: Arc<Shared<S, R>>,
    assembler: MessageAssembler,
}

/// The sending half of a split [`WebSocket`]: `send*`, [`ping`](Self::ping),
/// [`close`](Self::close), [`flush`](Self::flush) and `Sink`.
pub struct WriteHalf<S, R: Runtime> {
    shared: Arc<Shared<S, R>>,
}

/// [`reunite`] was given halves of two different sockets; they are handed back.
pub struct ReuniteError<S, R: Runtime>(pub ReadHalf<S, R>, pub WriteHalf<S, R>);

impl<S, R: Runtime> std::fmt::Debug for ReuniteError<S, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReuniteError(..)")
    }
}

impl<S, R: Runtime> std::fmt::Display for ReuniteError<S, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("tried to reunite halves of different WebSockets")
    }
}

impl<S, R: Runtime> std::error::Error for ReuniteError<S, R> {}

pub(crate) fn split<S, R: Runtime>(
    driver: Driver<S, R>,
    assembler: MessageAssembler,
) -> (ReadHalf<S, R>, WriteHalf<S, R>) {
    let slots = Arc::new(Slots::default());
    let waker = Waker::from(slots.clone());
    let shared = Arc::new(Shared { driver: Mutex::new(driver), slots, waker });
    (ReadHalf { shared: shared.clone(), assembler }, WriteHalf { shared })
}

/// Puts the halves of one [`WebSocket`] back together.
pub fn reunite<S, R: Runtime>(
    read: ReadHalf<S, R>,
    write: WriteHalf<S, R>,
) -> Result<WebSocket<S, R>, ReuniteError<S, R>> {
    if !Arc::ptr_eq(&read.shared, &write.shared) {
        return Err(ReuniteError(read, write));
    }
    drop(write);
    let ReadHalf { shared, assembler } = read;
    match Arc::try_unwrap(shared) {
        Ok(shared) => {
            let driver = shared.driver.into_inner().unwrap_or_else(PoisonError::into_inner);
            Ok(WebSocket::from_parts(driver, assembler))
        }
        // Unreachable: the two halves were the only owners.
        Err(shared) => {
            let write = WriteHalf { shared: shared.clone() };
            Err(ReuniteError(ReadHalf { shared, assembler }, write))
        }
    }
}

impl<S, R: Runtime> ReadHalf<S, R> {
    /// True if `write` is the other half of the same socket.
    pub fn is_pair_of(&self, write: &WriteHalf<S, R>) -> bool {
        Arc::ptr_eq(&self.shared, &write.shared)
    }

    /// The subprotocol negotiated in the handshake, if any.
    pub fn protocol(&self) -> Option<String> {
        lock(&self.shared.driver).conn.protocol().map(str::to_owned)
    }

    /// How the connection ended, once it has.
    pub fn close_info(&self) -> Option<CloseInfo> {
        lock(&self.shared.driver).conn.close_info().cloned()
    }

    /// The round-trip time measured by the most recently answered Ping.
    pub fn last_rtt(&self) -> Option<Duration> {
        lock(&self.shared.driver).conn.last_rtt()
    }
}

impl<S, R: StreamIo<S>> ReadHalf<S, R> {
    /// Polls for the next message (see [`recv`](Self::recv)).
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Message, Error>>> {
        let assembler = &mut self.assembler;
        poll_reader(&self.shared, cx, |d, cx| d.poll_message(assembler, cx))
    }

    /// Receives the next message, exactly as [`WebSocket::recv`] does (and cancel-safe like
    /// it): a peer's protocol error is returned once its Close frame is written and the write
    /// side shut down.
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Receives the next frame-level [`Event`], as [`WebSocket::recv_event`] does.
    pub async fn recv_event(&mut self) -> Option<Result<Event, Error>> {
        std::future::poll_fn(|cx| poll_reader(&self.shared, cx, |d, cx| d.poll_event(cx))).await
    }
}

/// One poll by the read half.
fn poll_reader<S, R: Runtime, T>(
    shared: &Shared<S, R>,
    cx: &mut Context<'_>,
    f: impl FnOnce(&mut Driver<S, R>, &mut Context<'_>) -> Poll<T>,
) -> Poll<T> {
    register(&shared.slots.reader, cx.waker());
    let mut driver = lock(&shared.driver);
    let result = f(&mut driver, &mut Context::from_waker(&shared.waker));
    let finished = driver.is_finished();
    drop(driver);
    if result.is_ready() {
        lock(&shared.slots.reader).take();
    }
    if finished {
        // A writer waiting on a transport we gave up on must learn about it.
        wake_slot(&shared.slots.writer);
    }
    result
}

impl<S, R: StreamIo<S>> Drive<S, R> for ReadHalf<S, R> {
    fn with<T>(&mut self, f: impl FnOnce(&mut Driver<S, R>) -> T) -> T {
        f(&mut lock(&self.shared.driver))
    }

    fn poll_with<T>(
        &mut self,
        cx: &mut Context<'_>,
        f: impl FnOnce(&mut Driver<S, R>, &mut Context<'_>) -> Poll<T>,
    ) -> Poll<T> {
        poll_reader(&self.shared, cx, f)
    }
}

impl<S: Unpin, R: StreamIo<S>> Stream for ReadHalf<S, R> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_recv(cx)
    }
}

impl<S, R: Runtime> WriteHalf<S, R> {
    /// True if `read` is the other half of the same socket.
    pub fn is_pair_of(&self, read: &ReadHalf<S, R>) -> bool {
        read.is_pair_of(self)
    }

    /// How the connection ended, once it has.
    pub fn close_info(&self) -> Option<CloseInfo> {
        lock(&self.shared.driver).conn.close_info().cloned()
    }

    /// Bytes queued for sending and not yet written to the transport.
    pub fn buffered_amount(&self) -> usize {
        lock(&self.shared.driver).conn.transmit_len()
    }
}

impl<S, R: StreamIo<S>> WriteHalf<S, R> {
    /// Sends a message and waits until it is written, as [`WebSocket::send`] does.
    pub async fn send(&mut self, message: Message) -> Result<(), Error> {
        api::send(self, |c, now| c.send_message(now, message)).await
    }

    /// Queues a message, waiting only above the high-water mark, as [`WebSocket::feed`] does.
    pub async fn feed(&mut self, message: Message) -> Result<(), Error> {
        api::feed(self, |c, now| c.send_message(now, message)).await
    }

    /// Sends a text message, as [`WebSocket::send_text`] does.
    pub async fn send_text<'t>(&mut self, text: impl Into<TextPayload<'t>>) -> Result<(), Error> {
        api::send(self, |c, _| c.send_text(text)).await
    }

    /// Sends a binary message, as [`WebSocket::send_binary`] does.
    pub async fn send_binary<'t>(&mut self, data: impl Into<Payload<'t>>) -> Result<(), Error> {
        api::send(self, |c, _| c.send_binary(data)).await
    }

    /// Sends one fragment of a message, as [`WebSocket::send_fragment`] does.
    pub async fn send_fragment<'t>(
        &mut self,
        kind: MessageKind,
        data: impl Into<Payload<'t>>,
        fin: bool,
    ) -> Result<(), Error> {
        api::send(self, |c, _| c.send_fragment(kind, data, fin)).await
    }

    /// Sends a frame encoded once for many connections, as [`WebSocket::send_prepared`] does.
    pub async fn send_prepared(&mut self, frame: &PreparedFrame) -> Result<(), Error> {
        api::send(self, |c, _| c.send_prepared(frame)).await
    }

    /// Sends a Ping, as [`WebSocket::ping`] does; the read half reports its Pong.
    pub async fn ping(&mut self, payload: &[u8]) -> Result<(), Error> {
        api::send(self, |c, now| c.ping(now, payload)).await
    }

    /// Sends an unsolicited Pong, as [`WebSocket::pong`] does.
    pub async fn pong(&mut self, payload: &[u8]) -> Result<(), Error> {
        api::send(self, |c, _| c.pong(payload)).await
    }

    /// Starts the closing handshake, as [`WebSocket::close`] does; the read half receives the
    /// peer's Close and then `None`.
    pub async fn close(&mut self, code: impl Into<CloseCode>, reason: &str) -> Result<(), Error> {
        let code = code.into();
        api::send(self, |c, now| c.close(now, code, reason)).await
    }

    /// Writes everything queued and flushes the transport.
    pub async fn flush(&mut self) -> Result<(), Error> {
        api::flush(self).await
    }
}

impl<S, R: StreamIo<S>> Drive<S, R> for WriteHalf<S, R> {
    fn with<T>(&mut self, f: impl FnOnce(&mut Driver<S, R>) -> T) -> T {
        let mut driver = lock(&self.shared.driver);
        let before = driver.conn.poll_timeout();
        let result = f(&mut driver);
        let rearm = driver.conn.poll_timeout() != before;
        drop(driver);
        if rearm {
            // A command (close) armed a timer the read half must sleep on.
            wake_slot(&self.shared.slots.reader);
        }
        result
    }

    fn poll_with<T>(
        &mut self,
        cx: &mut Context<'_>,
        f: impl FnOnce(&mut Driver<S, R>, &mut Context<'_>) -> Poll<T>,
    ) -> Poll<T> {
        let shared = &*self.shared;
        register(&shared.slots.writer, cx.waker());
        let mut driver = lock(&shared.driver);
        let queued = driver.conn.transmit_len();
        let result = f(&mut driver, &mut Context::from_waker(&shared.waker));
        let wake_reader = driver.reader_waits_output && driver.conn.transmit_len() < queued;
        if wake_reader {
            driver.reader_waits_output = false;
        }
        drop(driver);
        if result.is_ready() {
            lock(&shared.slots.writer).take();
        }
        if wake_reader {
            // The read half paused input until output drained; this write drained some.
            wake_slot(&shared.slots.reader);
        }
        result
    }
}

impl_sink!(WriteHalf);

impl<S, R: Runtime> std::fmt::Debug for ReadHalf<S, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadHalf").finish_non_exhaustive()
    }
}

impl<S, R: Runtime> std::fmt::Debug for WriteHalf<S, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteHalf").finish_non_exhaustive()
    }
}
