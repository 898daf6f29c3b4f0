//! Small IO building blocks shared by the handshake and the connection driver: a re-armable
//! deadline, a bounded graceful shutdown, and `async fn` wrappers over the `futures-io` traits.
//!
//! Timers come from `async-io`, which runs its own reactor thread when nothing else drives it,
//! so they fire under smol, async-std or any other executor.

use std::future::{Future, poll_fn};
use std::io;
use std::pin::{Pin, pin};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use async_io::Timer;
use futures_io::{AsyncRead, AsyncWrite};

use crate::Error;

/// How many ready reads one poll may process before yielding to the executor, so one busy
/// connection cannot starve the other tasks of its thread.
pub(crate) const READ_BUDGET: usize = 32;

/// A deadline that can be moved; the timer is created on first use only.
#[derive(Debug, Default)]
pub(crate) struct Sleep {
    timer: Option<Timer>,
    /// When the armed timer fires; `None` once it fired (it must be re-armed).
    armed: Option<Instant>,
}

impl Sleep {
    /// Ready once `at` has passed. Registers the task's waker otherwise.
    ///
    /// A timer already armed for an earlier instant is kept rather than moved (timers are
    /// cheaper to let fire early than to re-register on every received byte): callers treat an
    /// early wake-up as "check again".
    pub(crate) fn poll_until(&mut self, cx: &mut Context<'_>, at: Instant) -> Poll<()> {
        if Instant::now() >= at {
            return Poll::Ready(());
        }
        match (&mut self.timer, self.armed) {
            (Some(_), Some(armed)) if armed <= at => {}
            (Some(timer), _) => {
                timer.set_at(at);
                self.armed = Some(at);
            }
            (None, _) => {
                self.timer = Some(Timer::at(at));
                self.armed = Some(at);
            }
        }
        let timer = self.timer.as_mut().expect("armed above");
        match Pin::new(timer).poll(cx) {
            Poll::Ready(_) => {
                self.armed = None;
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Closes a transport gracefully: shut down the write side (a FIN, or TLS `close_notify` and
/// then a FIN), then read and discard what the peer still sends, so that unread input does not
/// make the kernel answer with a reset that could destroy data still in flight (our Close frame
/// or an HTTP refusal). Both steps together are bounded by one deadline.
///
/// With `linger`, the drain waits for the peer's end of stream (up to the deadline): for a
/// failed connection, whose peer may still be sending when our Close frame goes out. Without
/// it, only what is already readable is discarded: after a completed closing handshake the peer
/// has nothing more to send, and waiting for its EOF would stall on streams whose `poll_close`
/// does not actually shut the socket down (async-std's `TcpStream` only flushes; its FIN goes
/// out when the stream is dropped).
#[derive(Debug)]
pub(crate) struct Shutdown {
    deadline: Instant,
    linger: bool,
    draining: bool,
    done: bool,
}

impl Shutdown {
    /// A shutdown that gives up (and leaves the stream to be dropped) after `limit`.
    pub(crate) fn new(limit: Duration, linger: bool) -> Self {
        Shutdown { deadline: Instant::now() + limit, linger, draining: false, done: false }
    }

    /// Ready when the stream is shut down and drained, failed, or the deadline passed.
    pub(crate) fn poll<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        cx: &mut Context<'_>,
        stream: &mut S,
        sleep: &mut Sleep,
    ) -> Poll<()> {
        let mut budget = READ_BUDGET;
        while !self.done {
            if !self.draining {
                match Pin::new(&mut *stream).poll_close(cx) {
                    Poll::Ready(Ok(())) => self.draining = true,
                    Poll::Ready(Err(_)) => self.done = true,
                    Poll::Pending => return self.poll_expired(cx, sleep),
                }
                continue;
            }
            let mut scratch = [0u8; 4096];
            match Pin::new(&mut *stream).poll_read(cx, &mut scratch) {
                Poll::Ready(Ok(0) | Err(_)) => self.done = true,
                Poll::Ready(Ok(_)) => {
                    budget -= 1;
                    if budget == 0 {
                        cx.waker().wake_by_ref();
                        return Poll::Pending;
                    }
                }
                Poll::Pending if self.linger => return self.poll_expired(cx, sleep),
                Poll::Pending => self.done = true,
            }
        }
        Poll::Ready(())
    }

    /// Ready once the deadline has passed (the shutdown is then over); registers the waker
    /// otherwise.
    pub(crate) fn poll_expired(&mut self, cx: &mut Context<'_>, sleep: &mut Sleep) -> Poll<()> {
        match sleep.poll_until(cx, self.deadline) {
            Poll::Ready(()) if Instant::now() >= self.deadline => {
                self.done = true;
                Poll::Ready(())
            }
            Poll::Ready(()) => {
                // The timer fired early (it was armed for an earlier deadline): poll again.
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Runs `fut`, failing with [`Error::HandshakeTimeout`] if it is not done by `deadline`.
pub(crate) async fn with_deadline<T>(
    deadline: Instant,
    fut: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    let mut fut = pin!(fut);
    let mut timer = Timer::at(deadline);
    poll_fn(|cx| {
        if let Poll::Ready(out) = fut.as_mut().poll(cx) {
            return Poll::Ready(out);
        }
        match Pin::new(&mut timer).poll(cx) {
            Poll::Ready(_) => Poll::Ready(Err(Error::HandshakeTimeout)),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}

/// Runs `fut`, failing with [`Error::HandshakeTimeout`] if it takes longer than `limit`.
pub(crate) async fn with_timeout<T>(
    limit: Duration,
    fut: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    with_deadline(Instant::now() + limit, fut).await
}

/// Writes all of `buf` and flushes.
pub(crate) async fn write_all<S: AsyncWrite + Unpin>(stream: &mut S, buf: &[u8]) -> io::Result<()> {
    let mut written = 0;
    while written < buf.len() {
        let n = poll_fn(|cx| Pin::new(&mut *stream).poll_write(cx, &buf[written..])).await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        written += n;
    }
    poll_fn(|cx| Pin::new(&mut *stream).poll_flush(cx)).await
}

/// Reads once into `buf`, at least one byte: the end of the stream is an error here (the
/// opening handshake is not complete).
pub(crate) async fn read_some<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut [u8],
) -> io::Result<usize> {
    match poll_fn(|cx| Pin::new(&mut *stream).poll_read(cx, buf)).await? {
        0 => Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed during the handshake",
        )),
        n => Ok(n),
    }
}

/// Shuts `stream` down gracefully, waiting for the peer's end of stream (see [`Shutdown`]), for
/// at most `limit`.
pub(crate) async fn shutdown<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S, limit: Duration) {
    let mut shutdown = Shutdown::new(limit, true);
    let mut sleep = Sleep::default();
    poll_fn(|cx| shutdown.poll(cx, stream, &mut sleep)).await
}
