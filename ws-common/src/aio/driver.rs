//! The run loop: one [`Connection`] and one transport, driven by polls.
//!
//! Every public future and the `Stream`/`Sink` impls are thin wrappers over the `poll_*`
//! methods here. All state lives in [`Driver`], and each poll runs to a consistent point before
//! it returns, so dropping a future between polls loses nothing (cancel safety).
//!
//! There is no policy here: the loop hands out the core's events, writes what it queued,
//! carries out [`Connection::transport`] (shut the write side down when asked, close when
//! told), sleeps until [`Connection::poll_timeout`] and reads. The one mapping it does is
//! reporting the core's last event: a peer's failure as [`Error::Protocol`], a transport
//! failure as [`Error::Io`], any other end as `None` after `Event::Closed`.

use std::io::{self, IoSlice};
use std::task::{Context, Poll, Waker, ready};
use std::time::Instant;

use ws_proto::{CloseCause, Connection, Event, Message, MessageAssembler, Transport};

use super::{Runtime, StreamIo};
use crate::Error;

/// Most queued chunks passed to one vectored write.
const MAX_SLICES: usize = 32;

/// Turns of the loop one poll may take before it yields to the executor, so a connection whose
/// peer keeps it busy cannot keep the thread from other tasks.
const BUDGET: usize = 64;

/// A connection and its transport.
pub(crate) struct Driver<S, R: Runtime> {
    pub(crate) stream: S,
    pub(crate) conn: Connection,
    /// Sleeps until the next deadline; created on first use, dropped when none is due.
    sleep: Option<R::Sleep>,
    /// The instant `sleep` is armed for (`None`: fired, or never armed).
    armed: Option<Instant>,
    /// The waker `sleep` last registered: polling it again with the same one is skipped while
    /// the runtime says it has not fired (no waker registration per message).
    timer_waker: Option<Waker>,
    /// Written bytes may sit in a buffering transport (TLS) until it is flushed.
    needs_flush: bool,
    /// The transport's failure, reported in place of the end (`Event::Closed`).
    io_error: Option<io::Error>,
    /// The end was reported: receiving returns `None` from now on.
    finished: bool,
    /// The reading side waits for queued output to drain (split halves: the writer wakes it).
    pub(crate) reader_waits_output: bool,
}

impl<S, R: Runtime> Driver<S, R> {
    pub(crate) fn new(stream: S, conn: Connection) -> Self {
        Driver {
            stream,
            conn,
            sleep: None,
            armed: None,
            timer_waker: None,
            needs_flush: false,
            io_error: None,
            finished: false,
            reader_waits_output: false,
        }
    }

    /// The end was reported: receiving returns `None`.
    pub(crate) fn is_finished(&self) -> bool {
        self.finished
    }

    /// Queues a whole message (no IO).
    pub(crate) fn queue(&mut self, message: Message) -> Result<(), Error> {
        Ok(self.conn.send_message(Instant::now(), message)?)
    }

    /// The transport failed: the core ends the connection (queued bytes dropped). Returns the
    /// error for the caller; the original is kept for the receiving side.
    fn transport_failed(&mut self, e: io::Error) -> Error {
        let copy = io::Error::new(e.kind(), e.to_string());
        if !self.conn.is_finished() && self.io_error.is_none() {
            self.io_error = Some(e);
        }
        self.conn.handle_transport_error(Instant::now());
        Error::from(copy)
    }

    /// What the receiving side reports for the core's `event`.
    #[inline(always)]
    fn report(&mut self, event: Event) -> Result<Event, Error> {
        let Event::Closed(info) = &event else { return Ok(event) };
        self.finished = true;
        if info.cause == CloseCause::TransportError {
            if let Some(e) = self.io_error.take() {
                return Err(Error::from(e));
            }
        }
        match info.error() {
            Some(e) => Err(Error::Protocol(e)),
            None => Ok(event),
        }
    }
}

impl<S, R: StreamIo<S>> Driver<S, R> {
    /// Writes queued output until at most `limit` bytes remain; with `limit == 0` also flushes
    /// the transport.
    pub(crate) fn poll_write_out(
        &mut self,
        cx: &mut Context<'_>,
        limit: usize,
    ) -> Poll<Result<(), Error>> {
        while self.conn.transmit_len() > limit {
            let mut slices = [IoSlice::new(&[]); MAX_SLICES];
            let mut count = 0;
            for (slot, chunk) in slices.iter_mut().zip(self.conn.transmit_chunks()) {
                *slot = IoSlice::new(chunk);
                count += 1;
            }
            // One chunk (the common case: small frames share one buffer) takes the plain write
            // path, which is shorter in the kernel than writev.
            let result = ready!(match count {
                1 => R::poll_write(&mut self.stream, cx, &slices[0]),
                _ => R::poll_write_vectored(&mut self.stream, cx, &slices[..count]),
            });
            match result {
                Ok(0) => {
                    return Poll::Ready(
                        Err(self.transport_failed(io::ErrorKind::WriteZero.into())),
                    );
                }
                Ok(n) => {
                    self.conn.advance_transmit(n);
                    self.needs_flush = true;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Poll::Ready(Err(self.transport_failed(e))),
            }
        }
        if limit == 0 && self.needs_flush {
            if let Err(e) = ready!(R::poll_flush(&mut self.stream, cx)) {
                return Poll::Ready(Err(self.transport_failed(e)));
            }
            self.needs_flush = false;
        }
        Poll::Ready(Ok(()))
    }

    /// The next event, driving the transport: writes output, carries out what the core asks of
    /// the transport, runs timers and reads input. `None` once the end has been reported.
    #[inline(always)]
    pub(crate) fn poll_event(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Event, Error>>> {
        for _ in 0..BUDGET {
            if let Some(event) = self.conn.poll_event() {
                return Poll::Ready(Some(self.report(event)));
            }
            if self.finished || self.conn.transport() == Transport::Close {
                self.finished = true;
                return Poll::Ready(None);
            }
            let flushed = match self.poll_write_out(cx, 0) {
                Poll::Ready(Ok(())) => true,
                // The core ended the connection; its last event says how.
                Poll::Ready(Err(_)) => continue,
                Poll::Pending => false,
            };
            if flushed && self.conn.transport() == Transport::Shutdown {
                if let Poll::Ready(result) = R::poll_shutdown(&mut self.stream, cx) {
                    // A failed shutdown changes nothing: the WebSocket is closed either way.
                    let _ = result;
                    self.conn.handle_write_shutdown(Instant::now());
                    continue;
                }
            }
            if self.poll_timer(cx) {
                continue;
            }
            if !flushed && self.conn.transmit_len() > self.conn.config().write_buffer_high_water {
                // Backpressure: take no more input (which may queue more pongs) until the peer
                // reads. The write above registered for the transport becoming writable.
                self.reader_waits_output = true;
                return Poll::Pending;
            }
            self.reader_waits_output = false;
            if self.poll_read(cx).is_pending() {
                self.reader_waits_output = self.conn.transmit_len() > 0;
                return Poll::Pending;
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// Reads once into the core. At a frame boundary through the binding's scratch buffer if it
    /// has one (an idle connection then holds no receive buffer of its own), otherwise, and
    /// inside a frame, straight into the core's buffer: into its spare capacity, not zeroed,
    /// where the binding can read there safely, else into its zeroed room. After frames of
    /// half a read or more, a binding that reads into spare capacity reads into the core's
    /// buffer at the boundary too when it has room (`reads_in_place`), rather than copying
    /// the next frame out of the scratch buffer.
    fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.conn.recv_buffered() == 0
            && !(R::READS_INTO_SPARE_CAPACITY && self.conn.reads_in_place())
        {
            let conn = &mut self.conn;
            let mut eof = false;
            let mut consume = |data: &[u8]| match data {
                [] => eof = true,
                data => conn.handle_data(Instant::now(), data),
            };
            if let Some(poll) = R::poll_read_scratch(&mut self.stream, cx, &mut consume) {
                match ready!(poll) {
                    Ok(()) if eof => self.conn.handle_eof(Instant::now()),
                    Ok(()) => {}
                    Err(e) => self.read_failed(e),
                }
                return Poll::Ready(());
            }
        }
        if R::READS_INTO_SPARE_CAPACITY {
            let stream = &mut self.stream;
            let read = self.conn.recv_into(Instant::now(), |buf| R::poll_read_buf(stream, cx, buf));
            match ready!(read) {
                Ok(0) => self.conn.handle_eof(Instant::now()),
                Ok(_) => {}
                Err(e) => self.read_failed(e),
            }
            return Poll::Ready(());
        }
        let buf = self.conn.recv_buf();
        match ready!(R::poll_read(&mut self.stream, cx, buf)) {
            Ok(0) => self.conn.handle_eof(Instant::now()),
            Ok(n) => self.conn.commit(Instant::now(), n),
            Err(e) => self.read_failed(e),
        }
        Poll::Ready(())
    }

    fn read_failed(&mut self, e: io::Error) {
        match e.kind() {
            io::ErrorKind::Interrupted => {}
            // A TLS peer that closed TCP without close_notify: most WebSocket peers do.
            io::ErrorKind::UnexpectedEof => self.conn.handle_eof(Instant::now()),
            _ => drop(self.transport_failed(e)),
        }
    }

    /// Sleeps until the core's next deadline. Returns true if one passed (and was handled).
    ///
    /// The sleep is only moved earlier, never later: when the deadline moves later (every
    /// received message pushes the keepalive back) the sleep fires early, the core finds
    /// nothing due, and the sleep is re-armed. That keeps timer updates off the per-message
    /// path.
    fn poll_timer(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(deadline) = self.conn.poll_timeout() else {
            // Nothing scheduled: give the timer's memory back.
            self.sleep = None;
            self.armed = None;
            self.timer_waker = None;
            return false;
        };
        match (&mut self.sleep, self.armed) {
            // Armed for this deadline or an earlier one: the sleep alone says when to look
            // again (no clock read on the per-message path).
            (Some(_), Some(armed)) if armed <= deadline => {}
            (sleep, _) => {
                let now = Instant::now();
                if deadline <= now {
                    self.conn.handle_timeout(now);
                    return true;
                }
                match sleep {
                    Some(sleep) => R::reset(sleep, deadline),
                    None => *sleep = Some(R::sleep_until(deadline)),
                }
                self.armed = Some(deadline);
                self.timer_waker = None;
            }
        }
        let Some(sleep) = self.sleep.as_mut() else { return false };
        let registered = self.timer_waker.as_ref().is_some_and(|w| w.will_wake(cx.waker()));
        if registered && R::is_elapsed(sleep) == Some(false) {
            return false;
        }
        if R::poll_sleep(sleep, cx).is_pending() {
            if !registered {
                self.timer_waker = Some(cx.waker().clone());
            }
            return false;
        }
        self.armed = None;
        self.timer_waker = None;
        self.conn.handle_timeout(Instant::now());
        true
    }

    /// The next whole message (`Message::Ping`/`Pong`/`Close` included), assembling fragments;
    /// `None` after the end.
    #[inline(always)]
    pub(crate) fn poll_message(
        &mut self,
        assembler: &mut MessageAssembler,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Message, Error>>> {
        loop {
            match ready!(self.poll_event(cx)) {
                Some(Ok(event)) => {
                    if let Some(message) = assembler.push(event) {
                        return Poll::Ready(Some(Ok(message)));
                    }
                }
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                None => return Poll::Ready(None),
            }
        }
    }
}

impl<S: std::fmt::Debug, R: Runtime> std::fmt::Debug for Driver<S, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("stream", &self.stream)
            .field("conn", &self.conn)
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}
