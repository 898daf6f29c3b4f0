//! The run loop: one [`Connection`] and one transport, driven by polls.
//!
//! Every public future and the `Stream`/`Sink` impls are thin wrappers over the `poll_*`
//! methods here. All state lives in [`Driver`], and each poll runs to a consistent point before
//! it returns, so dropping a future between polls loses nothing (cancel safety).
//!
//! Reading: at a frame boundary (nothing buffered in the core) bytes are read into a stack
//! buffer and copied into the core with `handle_data`; inside a frame they are read straight
//! into the core's `recv_buf`. An idle connection therefore holds no receive buffer at all
//! (the core allocates only when bytes arrive), while large frames still land in place without
//! a copy. The copy at a frame boundary is at most one stack buffer per read.
//!
//! Writing: the core's queued chunks go out with one vectored write per call from a fixed-size
//! array of `IoSlice`s (no allocation per write).

use std::future::Future;
use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;
use ws_proto::{CloseCode, Connection, Event, Message, MessageAssembler};

use crate::error::Error;

/// Bytes read at a frame boundary before they are handed to the core: large enough that a
/// typical message (up to ~64 KiB) arrives in one read. It lives on the poll's stack, never in
/// the connection, so idle connections do not pay for it.
const STAGE_LEN: usize = 64 << 10;
/// Most queued chunks passed to one vectored write.
const MAX_SLICES: usize = 32;

/// Where the transport is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Reading and writing.
    Open,
    /// Our write side is shut down; unread input is discarded until the peer's EOF.
    Draining,
    /// Nothing more to do: `poll_event` returns `None`.
    Done,
}

/// A connection and its transport.
#[derive(Debug)]
pub(crate) struct Driver<S> {
    pub(crate) stream: S,
    pub(crate) conn: Connection,
    /// The negotiated subprotocol.
    pub(crate) protocol: Option<String>,
    /// Sleeps until the next deadline; created on first use.
    timer: Option<Pin<Box<Sleep>>>,
    /// An error from the input, reported after the events that arrived before it (boxed,
    /// like `held`: rare, and every byte here is paid per connection).
    error: Option<Box<Error>>,
    /// An event held back while `error` is reported first.
    held: Option<Box<Event>>,
    phase: Phase,
    /// The peer ended its side of the transport.
    eof: bool,
    /// The transport failed (or was abandoned): nothing more is read or written.
    broken: bool,
    /// Written bytes may sit in a buffering transport (TLS) until it is flushed.
    needs_flush: bool,
    /// Bound on the final writes, the shutdown and the drain once the transport is closing.
    close_by: Option<Instant>,
    /// The reading side waits for queued output to drain (split halves: the writer wakes it).
    pub(crate) reader_waits_output: bool,
}

impl<S> Driver<S> {
    pub(crate) fn new(stream: S, conn: Connection, protocol: Option<String>) -> Self {
        Driver {
            stream,
            conn,
            protocol,
            timer: None,
            error: None,
            held: None,
            phase: Phase::Open,
            eof: false,
            broken: false,
            needs_flush: false,
            close_by: None,
            reader_waits_output: false,
        }
    }

    /// The transport is closed (or abandoned): receiving returns `None` from now on.
    pub(crate) fn is_finished(&self) -> bool {
        self.phase == Phase::Done
    }

    /// Records an input error to report after the events queued before it.
    pub(crate) fn set_error(&mut self, e: Error) {
        self.error = Some(Box::new(e));
    }

    /// Records a transport failure. Returns the error to report, or `None` when the connection
    /// had already closed (a reset after the close handshake is not worth an error).
    fn fail_io(&mut self, e: io::Error) -> Option<Error> {
        let was_closed = self.conn.is_closed();
        self.broken = true;
        self.eof = true;
        self.conn.handle_eof(Instant::now());
        (!was_closed).then(|| e.into())
    }

    /// Drops queued output that can no longer be written.
    fn discard_output(&mut self) {
        let n = self.conn.transmit_len();
        self.conn.advance_transmit(n);
    }

    /// Queues a whole message (no IO).
    pub(crate) fn queue(&mut self, message: Message) -> Result<(), Error> {
        Ok(self.conn.send_message(Instant::now(), message)?)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Driver<S> {
    /// Writes queued output until at most `limit` bytes remain; with `limit == 0` also flushes
    /// the transport.
    pub(crate) fn poll_write_out(
        &mut self,
        cx: &mut Context<'_>,
        limit: usize,
    ) -> Poll<Result<(), Error>> {
        while self.conn.transmit_len() > limit {
            if self.broken {
                self.discard_output();
                return Poll::Ready(Err(Error::unsent()));
            }
            let mut slices = [IoSlice::new(&[]); MAX_SLICES];
            let mut count = 0;
            for (slot, chunk) in slices.iter_mut().zip(self.conn.transmit_chunks()) {
                *slot = IoSlice::new(chunk);
                count += 1;
            }
            // One chunk (the common case: small frames share one buffer) takes the plain write
            // path, which is shorter in the kernel than writev.
            let stream = Pin::new(&mut self.stream);
            let result = ready!(match count {
                1 => stream.poll_write(cx, &slices[0]),
                _ => stream.poll_write_vectored(cx, &slices[..count]),
            });
            match result {
                Ok(0) => return Poll::Ready(self.write_failed(io::ErrorKind::WriteZero.into())),
                Ok(n) => {
                    self.conn.advance_transmit(n);
                    self.needs_flush = true;
                }
                Err(e) => return Poll::Ready(self.write_failed(e)),
            }
        }
        if limit == 0 && self.needs_flush && !self.broken {
            if let Err(e) = ready!(Pin::new(&mut self.stream).poll_flush(cx)) {
                return Poll::Ready(self.write_failed(e));
            }
            self.needs_flush = false;
        }
        Poll::Ready(Ok(()))
    }

    fn write_failed(&mut self, e: io::Error) -> Result<(), Error> {
        self.discard_output();
        match self.fail_io(e) {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }

    /// The next event, driving the transport: flushes output, runs timers, reads input and
    /// finally closes the transport. `None` once the transport is closed.
    pub(crate) fn poll_event(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Event, Error>>> {
        loop {
            if let Some(event) = self.held.take() {
                return Poll::Ready(Some(Ok(*event)));
            }
            if let Some(event) = self.conn.poll_event() {
                if let (Event::Closed(_), Some(err)) = (&event, self.error.take()) {
                    self.held = Some(Box::new(event));
                    return Poll::Ready(Some(Err(*err)));
                }
                return Poll::Ready(Some(Ok(event)));
            }
            if let Some(err) = self.error.take() {
                return Poll::Ready(Some(Err(*err)));
            }
            if self.phase == Phase::Done {
                return Poll::Ready(None);
            }
            if self.poll_timer(cx) {
                continue;
            }
            let progressed = match self.phase {
                Phase::Draining => self.poll_drain(cx),
                _ => self.poll_open(cx),
            };
            if progressed.is_pending() {
                self.reader_waits_output = self.conn.transmit_len() > 0;
                return Poll::Pending;
            }
        }
    }

    /// One step of an open transport: write, then close or read. `Ready` means something
    /// changed and the loop should look again.
    fn poll_open(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.broken {
            // Queued output stays for a writer to learn it was not sent.
            self.phase = Phase::Done;
            return Poll::Ready(());
        }
        let flushed = match self.poll_write_out(cx, 0) {
            Poll::Ready(Ok(())) => true,
            Poll::Ready(Err(e)) => {
                self.error = Some(Box::new(e));
                return Poll::Ready(());
            }
            Poll::Pending => false,
        };
        if self.conn.should_close_transport() {
            if self.close_by.is_none() {
                self.close_by = Some(Instant::now() + self.conn.config().close_timeout);
                return Poll::Ready(()); // arm the timer before waiting
            }
            if !flushed {
                return Poll::Pending;
            }
            // Shutdown errors do not matter any more: the WebSocket is closed either way.
            let _ = ready!(Pin::new(&mut self.stream).poll_shutdown(cx));
            self.phase = if self.eof { Phase::Done } else { Phase::Draining };
            return Poll::Ready(());
        }
        if !flushed && self.conn.transmit_len() > self.conn.config().write_buffer_high_water {
            // Backpressure: do not take more input (which may queue more pongs) until the
            // peer reads.
            return Poll::Pending;
        }
        match ready!(self.poll_read_some(cx)) {
            Ok(()) => {}
            Err(e) => self.error = self.fail_io(e).map(Box::new),
        }
        Poll::Ready(())
    }

    /// Reads once into the core.
    fn poll_read_some(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.conn.recv_buffered() == 0 {
            let mut stage = [MaybeUninit::<u8>::uninit(); STAGE_LEN];
            let mut buf = ReadBuf::uninit(&mut stage);
            ready!(Pin::new(&mut self.stream).poll_read(cx, &mut buf))?;
            let now = Instant::now();
            match buf.filled() {
                [] => self.on_eof(now),
                data => {
                    if let Err(e) = self.conn.handle_data(now, data) {
                        self.error = Some(Box::new(e.into()));
                    }
                }
            }
        } else {
            let mut buf = ReadBuf::new(self.conn.recv_buf());
            ready!(Pin::new(&mut self.stream).poll_read(cx, &mut buf))?;
            let n = buf.filled().len();
            let now = Instant::now();
            if n == 0 {
                self.on_eof(now);
            } else if let Err(e) = self.conn.commit(now, n) {
                self.error = Some(Box::new(e.into()));
            }
        }
        Poll::Ready(Ok(()))
    }

    fn on_eof(&mut self, now: Instant) {
        self.eof = true;
        self.conn.handle_eof(now);
    }

    /// After our shutdown: discards input until the peer's EOF, so unread bytes do not turn
    /// our FIN into a reset that could destroy the Close frame in flight.
    #[cold]
    #[inline(never)]
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let mut scratch = [MaybeUninit::<u8>::uninit(); 8 << 10];
        let mut buf = ReadBuf::uninit(&mut scratch);
        match ready!(Pin::new(&mut self.stream).poll_read(cx, &mut buf)) {
            Ok(()) if !buf.filled().is_empty() => {}
            _ => self.phase = Phase::Done,
        }
        Poll::Ready(())
    }

    /// Sleeps until the earliest deadline. Returns true if one passed (and was handled).
    ///
    /// The sleep is only moved earlier, never later: when the core's deadline moves later
    /// (every received message pushes the keepalive back) the sleep fires early, the core
    /// finds nothing due, and the sleep is re-armed. That keeps timer-wheel updates off the
    /// per-message path.
    fn poll_timer(&mut self, cx: &mut Context<'_>) -> bool {
        let deadline = match (self.conn.poll_timeout(), self.close_by) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => match a.or(b) {
                Some(d) => d,
                None => return false,
            },
        };
        let target = tokio::time::Instant::from_std(deadline);
        let sleep = self.timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(target)));
        if target < sleep.deadline() || sleep.is_elapsed() {
            sleep.as_mut().reset(target);
        }
        if sleep.as_mut().poll(cx).is_pending() {
            return false;
        }
        let now = Instant::now();
        if self.close_by.is_some_and(|t| now >= t) {
            // The peer neither read our last bytes nor closed in time: give up on it.
            self.broken = true;
            self.phase = Phase::Done;
        }
        self.conn.handle_timeout(now);
        true
    }

    /// The next whole message (`Message::Ping`/`Pong`/`Close` included), assembling fragments.
    pub(crate) fn poll_message(
        &mut self,
        assembler: &mut MessageAssembler,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Message, Error>>> {
        loop {
            let event = match ready!(self.poll_event(cx)) {
                Some(Ok(event)) => event,
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                None => return Poll::Ready(None),
            };
            match assembler.push(event) {
                Ok(Some(message)) => return Poll::Ready(Some(Ok(message))),
                Ok(None) => {}
                Err(e) => {
                    // The core enforces the same limit as frame headers arrive; this is only
                    // reached if the assembler was configured tighter. Fail like the core does.
                    let _ = self.conn.close(Instant::now(), CloseCode::MESSAGE_TOO_BIG, "");
                    return Poll::Ready(Some(Err(Error::Protocol(e.into()))));
                }
            }
        }
    }
}
