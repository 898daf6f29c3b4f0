//! The run loop around `ws_proto::Connection`: the only place that moves bytes between the core
//! and the stream. [`WebSocket`](crate::WebSocket) owns an [`Inner`]; the split halves share
//! one behind a mutex that is locked only for the duration of one non-blocking `poll_*` call.
//!
//! Every `poll_*` method here is atomic: whatever it reads is committed to the core before it
//! returns, and whatever it takes from the core is returned or kept in `self`. Dropping a future
//! between two polls therefore loses nothing (cancel safety).

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use futures_io::{AsyncRead, AsyncWrite};
use ws_proto::{
    CloseCause, CloseCode, Config, Connection, Event, Message, MessageAssembler, State, UsageError,
};

use crate::Error;
use crate::io::{READ_BUDGET, Shutdown, Sleep};

/// Most slices handed to one vectored write.
const MAX_IOV: usize = 64;

/// Events one `poll_recv` may consume without completing a message before it yields (a message
/// made of millions of tiny fragments must not monopolize the executor thread).
const EVENT_BUDGET: usize = 1024;

/// Where the transport is in its life.
#[derive(Debug)]
enum Phase {
    /// Reading and writing.
    Open,
    /// The core asked for the transport to be closed: write what is left, shut down, drain.
    Closing(Shutdown),
    /// The transport is closed or failed; only events left in the core remain.
    Done,
}

/// A connection and its stream.
#[derive(Debug)]
pub(crate) struct Inner<S> {
    pub(crate) stream: S,
    pub(crate) conn: Connection,
    assembler: MessageAssembler,
    pub(crate) protocol: Option<String>,
    sleep: Sleep,
    phase: Phase,
    /// Bytes the read side made the core queue (automatic Pongs) that may not be written yet.
    /// Reading pauses while this exceeds the high-water mark and writes are blocked, so a peer
    /// that sends Pings but never reads cannot grow our memory without bound.
    reply_backlog: usize,
    /// Bytes were written since the stream was last flushed.
    unflushed: bool,
    /// A peer's protocol or limit error, returned once the transport is closed.
    failure: Option<ws_proto::Error>,
    /// The task last parked in `poll_recv_event`.
    reader: Option<Waker>,
    /// The reader is paused because of `reply_backlog`.
    reader_paused: bool,
    /// The task last parked waiting for a write.
    writer: Option<Waker>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Inner<S> {
    /// Wraps an established connection. `leftover` holds bytes that arrived after the opening
    /// handshake; they are the first WebSocket frames.
    pub(crate) fn new(
        stream: S,
        conn: Connection,
        protocol: Option<String>,
        leftover: &[u8],
    ) -> Self {
        let assembler = MessageAssembler::new(conn.config().max_message_size);
        let mut inner = Inner {
            stream,
            conn,
            assembler,
            protocol,
            sleep: Sleep::default(),
            phase: Phase::Open,
            reply_backlog: 0,
            unflushed: false,
            failure: None,
            reader: None,
            reader_paused: false,
            writer: None,
        };
        // A protocol error in these bytes is reported by the core as `Event::Closed` in order,
        // after the events before it, like any other input.
        let _ = inner.conn.handle_data(Instant::now(), leftover);
        inner
    }

    pub(crate) fn config(&self) -> &Config {
        self.conn.config()
    }

    // ---- receiving -------------------------------------------------------------------------

    /// The next whole message (`Ping`, `Pong` and `Close` included), `None` at the end.
    pub(crate) fn poll_recv(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Message, Error>>> {
        for _ in 0..EVENT_BUDGET {
            let event = match self.poll_recv_event(cx) {
                Poll::Ready(Some(Ok(event))) => event,
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            };
            match self.assembler.push(event) {
                Ok(Some(message)) => return Poll::Ready(Some(Ok(message))),
                Ok(None) => {}
                Err(e) => {
                    // The core enforces the same limit as each frame arrives, so this is a
                    // second line of defence: close with 1009 and report once closed.
                    let _ = self.conn.close(Instant::now(), CloseCode::MESSAGE_TOO_BIG, "");
                    self.failure = Some(e.into());
                }
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// The next event from the core, `None` once the transport is closed and every event taken.
    ///
    /// A peer failure is not reported as `Event::Closed` but as an error, after the Close frame
    /// was written and the transport shut down.
    pub(crate) fn poll_recv_event(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Event, Error>>> {
        let result = self.drive(cx);
        if result.is_pending() {
            park(&mut self.reader, cx);
        }
        result
    }

    fn drive(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Event, Error>>> {
        let mut budget = READ_BUDGET;
        loop {
            match self.phase {
                Phase::Done => {
                    if let Some(e) = self.failure.take() {
                        return Poll::Ready(Some(Err(e.into())));
                    }
                    return Poll::Ready(self.conn.poll_event().map(Ok));
                }
                Phase::Closing(_) => {
                    if self.poll_close_transport(cx).is_pending() {
                        return Poll::Pending;
                    }
                    continue;
                }
                Phase::Open => {}
            }

            // 1. Write what is queued: Pongs, Close replies, keepalive Pings, application data.
            let write_blocked = match self.poll_write(cx) {
                Poll::Ready(Ok(())) => false,
                Poll::Ready(Err(e)) => return Poll::Ready(Some(Err(e))),
                Poll::Pending => true,
            };
            if !matches!(self.phase, Phase::Open) {
                continue;
            }

            // 2. Hand out what the core has to say.
            if let Some(event) = self.conn.poll_event() {
                match event {
                    Event::Closed(info) if failure_of(info.cause).is_some() => {
                        self.failure = failure_of(info.cause);
                    }
                    event => return Poll::Ready(Some(Ok(event))),
                }
                continue;
            }

            // 3. Close the transport when the core says so.
            if self.conn.should_close_transport() {
                // A failed connection's peer may still be sending: wait for its EOF so our
                // Close frame is not destroyed by a reset. Otherwise it has nothing left to send.
                let linger = self.failure.is_some();
                let limit = self.conn.config().close_timeout;
                self.phase = Phase::Closing(Shutdown::new(limit, linger));
                continue;
            }

            // 4. Timers: keepalive, Pong, idle and close timeouts.
            if let Some(at) = self.conn.poll_timeout() {
                if self.sleep.poll_until(cx, at).is_ready() {
                    self.conn.handle_timeout(Instant::now());
                    budget -= 1;
                    if budget == 0 {
                        return yield_now(cx);
                    }
                    continue;
                }
            }

            // 5. Read, unless a peer that does not read is making us queue replies.
            self.reader_paused =
                write_blocked && self.reply_backlog > self.conn.config().write_buffer_high_water;
            if self.reader_paused {
                return Poll::Pending;
            }
            let buf = self.conn.recv_buf();
            match Pin::new(&mut self.stream).poll_read(cx, buf) {
                Poll::Ready(Ok(0)) => self.conn.handle_eof(Instant::now()),
                Poll::Ready(Ok(n)) => {
                    let before = self.conn.transmit_len();
                    // A peer failure surfaces as `Event::Closed`, in order (see `Inner::new`).
                    let _ = self.conn.commit(Instant::now(), n);
                    self.reply_backlog += self.conn.transmit_len().saturating_sub(before);
                }
                Poll::Ready(Err(e)) => {
                    if let Err(e) = self.fail(e) {
                        return Poll::Ready(Some(Err(e)));
                    }
                }
                Poll::Pending => return Poll::Pending,
            }
            budget -= 1;
            if budget == 0 {
                return yield_now(cx);
            }
        }
    }

    /// Drives `Phase::Closing` to `Phase::Done`: write the rest (bounded by the shutdown
    /// deadline), shut down, drain.
    fn poll_close_transport(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let flushed = self.poll_write(cx);
        let Phase::Closing(shutdown) = &mut self.phase else { return Poll::Ready(()) };
        match flushed {
            Poll::Ready(_) => {
                if shutdown.poll(cx, &mut self.stream, &mut self.sleep).is_pending() {
                    return Poll::Pending;
                }
            }
            Poll::Pending => {
                if shutdown.poll_expired(cx, &mut self.sleep).is_pending() {
                    return Poll::Pending;
                }
                // The peer does not read: give up on what is left.
                let queued = self.conn.transmit_len();
                self.conn.advance_transmit(queued);
            }
        }
        self.set_done();
        Poll::Ready(())
    }

    // ---- sending ---------------------------------------------------------------------------

    /// Runs a command on the core (queueing frames).
    pub(crate) fn command<R>(
        &mut self,
        f: impl FnOnce(&mut Connection, Instant) -> Result<R, UsageError>,
    ) -> Result<R, Error> {
        let deadline = self.conn.poll_timeout();
        let out = f(&mut self.conn, Instant::now())?;
        if self.conn.poll_timeout() != deadline {
            // e.g. `close` armed the close timeout: the reader must re-arm its timer.
            wake(&mut self.reader);
        }
        Ok(out)
    }

    /// Queues a whole message of any kind.
    pub(crate) fn queue_message(&mut self, message: Message) -> Result<(), Error> {
        self.command(|conn, now| conn.send_message(now, message))
    }

    /// `Sink::poll_close`: sends a Close (1000) unless one was sent, then flushes.
    pub(crate) fn poll_close_sink(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if self.conn.state() == State::Open {
            self.command(|conn, now| conn.close(now, CloseCode::NORMAL, ""))?;
        }
        self.poll_flush(cx)
    }

    /// Writes what the stream accepts without waiting; waits only while more than the
    /// high-water mark stays queued (backpressure).
    pub(crate) fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        match self.poll_write(cx) {
            Poll::Pending if self.conn.transmit_len() > self.config().write_buffer_high_water => {
                park(&mut self.writer, cx);
                Poll::Pending
            }
            Poll::Pending => Poll::Ready(Ok(())),
            ready => ready,
        }
    }

    /// Writes everything queued and flushes the stream.
    pub(crate) fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let result = self.poll_write(cx);
        if result.is_pending() {
            park(&mut self.writer, cx);
        }
        result
    }

    /// Writes everything queued, then flushes the stream.
    fn poll_write(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if matches!(self.phase, Phase::Done) {
            return Poll::Ready(Ok(()));
        }
        let mut written = 0;
        let result = loop {
            if self.conn.transmit_len() == 0 {
                break Poll::Ready(Ok(()));
            }
            let mut slices = [IoSlice::new(&[]); MAX_IOV];
            let mut count = 0;
            for (slot, chunk) in slices.iter_mut().zip(self.conn.transmit_chunks()) {
                *slot = IoSlice::new(chunk);
                count += 1;
            }
            match Pin::new(&mut self.stream).poll_write_vectored(cx, &slices[..count]) {
                Poll::Ready(Ok(0)) => break Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    self.conn.advance_transmit(n);
                    self.reply_backlog = self.reply_backlog.saturating_sub(n);
                    self.unflushed = true;
                    written += n;
                }
                Poll::Ready(Err(e)) => break Poll::Ready(Err(e)),
                Poll::Pending => break Poll::Pending,
            }
        };
        if written > 0 {
            self.wake_others(cx);
        }
        let result = match result {
            Poll::Ready(Ok(())) if self.unflushed => {
                match Pin::new(&mut self.stream).poll_flush(cx) {
                    Poll::Ready(Ok(())) => {
                        self.unflushed = false;
                        Poll::Ready(Ok(()))
                    }
                    other => other,
                }
            }
            other => other,
        };
        match result {
            Poll::Ready(Err(e)) => Poll::Ready(self.fail(e)),
            Poll::Ready(Ok(())) => Poll::Ready(Ok(())),
            Poll::Pending => Poll::Pending,
        }
    }

    // ---- bookkeeping -----------------------------------------------------------------------

    /// The transport failed: the connection is over (1006), whatever was queued is lost.
    /// Returns the error, unless the connection had already closed (a peer that closed the TCP
    /// connection right after the close handshake is not an error).
    fn fail(&mut self, e: io::Error) -> Result<(), Error> {
        let was_closed = self.conn.is_closed();
        self.conn.handle_eof(Instant::now());
        let queued = self.conn.transmit_len();
        self.conn.advance_transmit(queued);
        self.set_done();
        if was_closed { Ok(()) } else { Err(Error::from_io(e)) }
    }

    fn set_done(&mut self) {
        self.phase = Phase::Done;
        self.unflushed = false;
        wake(&mut self.reader);
        wake(&mut self.writer);
    }

    /// After a write made progress: a parked writer may go on, and a reader paused for the
    /// reply backlog may read again. The current task is not woken.
    fn wake_others(&mut self, cx: &Context<'_>) {
        if self.writer.as_ref().is_some_and(|w| !w.will_wake(cx.waker())) {
            wake(&mut self.writer);
        }
        let relieved = self.reply_backlog <= self.conn.config().write_buffer_high_water;
        if self.reader_paused
            && relieved
            && self.reader.as_ref().is_some_and(|w| !w.will_wake(cx.waker()))
        {
            self.reader_paused = false;
            wake(&mut self.reader);
        }
    }
}

/// The error a failed connection reports instead of `Event::Closed`.
fn failure_of(cause: CloseCause) -> Option<ws_proto::Error> {
    match cause {
        CloseCause::Protocol(e) => Some(e.into()),
        CloseCause::Capacity(e) => Some(e.into()),
        _ => None,
    }
}

fn park(slot: &mut Option<Waker>, cx: &Context<'_>) {
    match slot {
        Some(w) if w.will_wake(cx.waker()) => {}
        _ => *slot = Some(cx.waker().clone()),
    }
}

fn wake(slot: &mut Option<Waker>) {
    if let Some(w) = slot.take() {
        w.wake();
    }
}

fn yield_now<T>(cx: &Context<'_>) -> Poll<T> {
    cx.waker().wake_by_ref();
    Poll::Pending
}
