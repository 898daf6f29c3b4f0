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
use tokio::io::{AsyncRead, AsyncWrite};
use ws_proto::{CloseInfo, Message, MessageAssembler};

use crate::api::{Drive, recv_api, send_api};
use crate::driver::Driver;
use crate::error::Error;
use crate::websocket::WebSocket;

/// The tasks waiting on the shared transport.
#[derive(Debug, Default)]
struct Slots {
    reader: Mutex<Option<Waker>>,
    writer: Mutex<Option<Waker>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // No code path panics while holding these locks; if one did, the state is still usable.
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

#[derive(Debug)]
struct Shared<S> {
    driver: Mutex<Driver<S>>,
    slots: Arc<Slots>,
    /// A waker over `slots`, passed to every poll of the transport and the timer.
    waker: Waker,
}

/// The receiving half of a split [`WebSocket`]: [`recv`](Self::recv),
/// [`recv_event`](Self::recv_event) and [`Stream`].
///
/// It also drives the connection: while it is polled, automatic pongs and close replies are
/// written, timers run and the transport is closed at the end. Keep polling it.
#[derive(Debug)]
pub struct ReadHalf<S> {
    shared: Arc<Shared<S>>,
    assembler: MessageAssembler,
}

/// The sending half of a split [`WebSocket`]: `send*`, [`ping`](Self::ping),
/// [`close`](Self::close), [`flush`](Self::flush) and [`Sink`](futures_sink::Sink).
#[derive(Debug)]
pub struct WriteHalf<S> {
    shared: Arc<Shared<S>>,
}

/// [`reunite`] was given halves of two different sockets; they are handed back.
#[derive(Debug)]
pub struct ReuniteError<S>(pub ReadHalf<S>, pub WriteHalf<S>);

impl<S> std::fmt::Display for ReuniteError<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("tried to reunite halves of different WebSockets")
    }
}

impl<S: std::fmt::Debug> std::error::Error for ReuniteError<S> {}

pub(crate) fn split<S>(
    driver: Driver<S>,
    assembler: MessageAssembler,
) -> (ReadHalf<S>, WriteHalf<S>) {
    let slots = Arc::new(Slots::default());
    let waker = Waker::from(slots.clone());
    let shared = Arc::new(Shared { driver: Mutex::new(driver), slots, waker });
    (ReadHalf { shared: shared.clone(), assembler }, WriteHalf { shared })
}

/// Puts the halves of one [`WebSocket`] back together.
pub fn reunite<S>(read: ReadHalf<S>, write: WriteHalf<S>) -> Result<WebSocket<S>, ReuniteError<S>> {
    if !Arc::ptr_eq(&read.shared, &write.shared) {
        return Err(ReuniteError(read, write));
    }
    drop(write);
    let ReadHalf { shared, assembler } = read;
    match Arc::try_unwrap(shared) {
        Ok(shared) => {
            let driver = shared.driver.into_inner().unwrap_or_else(PoisonError::into_inner);
            Ok(WebSocket::from_driver(driver, assembler))
        }
        // Unreachable: the two halves were the only owners.
        Err(shared) => {
            let write = WriteHalf { shared: shared.clone() };
            Err(ReuniteError(ReadHalf { shared, assembler }, write))
        }
    }
}

impl<S> ReadHalf<S> {
    /// True if `write` is the other half of the same socket.
    pub fn is_pair_of(&self, write: &WriteHalf<S>) -> bool {
        Arc::ptr_eq(&self.shared, &write.shared)
    }

    /// The subprotocol negotiated in the handshake, if any.
    pub fn protocol(&self) -> Option<String> {
        lock(&self.shared.driver).protocol.clone()
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

impl<S: AsyncRead + AsyncWrite + Unpin> ReadHalf<S> {
    /// Polls for the next message (see [`recv`](Self::recv)).
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Message, Error>>> {
        let assembler = &mut self.assembler;
        poll_reader(&self.shared, cx, |d, cx| d.poll_message(assembler, cx))
    }

    recv_api!();
}

/// One poll by the read half.
fn poll_reader<S, R>(
    shared: &Shared<S>,
    cx: &mut Context<'_>,
    f: impl FnOnce(&mut Driver<S>, &mut Context<'_>) -> Poll<R>,
) -> Poll<R> {
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

impl<S> Drive<S> for ReadHalf<S> {
    fn with<R>(&mut self, f: impl FnOnce(&mut Driver<S>) -> R) -> R {
        f(&mut lock(&self.shared.driver))
    }

    fn poll_with<R>(
        &mut self,
        cx: &mut Context<'_>,
        f: impl FnOnce(&mut Driver<S>, &mut Context<'_>) -> Poll<R>,
    ) -> Poll<R> {
        poll_reader(&self.shared, cx, f)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stream for ReadHalf<S> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_recv(cx)
    }
}

impl<S> WriteHalf<S> {
    /// True if `read` is the other half of the same socket.
    pub fn is_pair_of(&self, read: &ReadHalf<S>) -> bool {
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

impl<S: AsyncRead + AsyncWrite + Unpin> WriteHalf<S> {
    send_api!();
}

impl<S> Drive<S> for WriteHalf<S> {
    fn with<R>(&mut self, f: impl FnOnce(&mut Driver<S>) -> R) -> R {
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

    fn poll_with<R>(
        &mut self,
        cx: &mut Context<'_>,
        f: impl FnOnce(&mut Driver<S>, &mut Context<'_>) -> Poll<R>,
    ) -> Poll<R> {
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
