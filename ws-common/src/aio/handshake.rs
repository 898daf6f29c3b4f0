//! The opening handshakes over an async transport: the loop of the `ws_proto` handshake
//! drivers ([`ServerHandshake`], [`ClientHandshake`]), with the IO of the runtime binding.
//! The drivers own every decision (deadline, refusals, the drain after one); this only reads,
//! writes, shuts down, sleeps and, on a server, awaits the application's decision.

use std::future::{Future, poll_fn};
use std::io;
use std::pin::pin;
use std::task::{Context, Poll};
use std::time::Instant;

use ws_proto::handshake::{
    Accept, ClientHandshake, Handshake, HandshakeError, HandshakeStep, Rejection, Request,
    Response, ServerHandshake,
};

use super::{Runtime, StreamIo, WebSocket};
use crate::Error;

/// Runs a server handshake on `stream`: reads the request, awaits `decide` on it (an
/// [`Accept`] choosing a subprotocol and headers, or a [`Rejection`] with any status, headers
/// and body: a database lookup fits here), writes the answer, and returns the connection and
/// the request it answered.
///
/// Everything, `decide` included, is bounded by the handshake's deadline
/// (`config.handshake_timeout` from when `hs` was created: create it before a TLS handshake to
/// bound both). A bad request is answered with its HTTP error status and reported as
/// [`Error::Handshake`]; a rejection likewise (`is_rejection()`).
pub async fn server_handshake<S, R, F, Fut>(
    mut stream: S,
    mut hs: ServerHandshake,
    decide: F,
) -> Result<(WebSocket<S, R>, Request), Error>
where
    R: StreamIo<S>,
    F: FnOnce(&Request) -> Fut,
    Fut: Future<Output = Result<Accept, Rejection>>,
{
    let mut decide = Some(decide);
    let mut decision = pin!(None::<Fut>);
    let mut io = Io::<R>::new();
    poll_fn(|cx| {
        loop {
            if let Some(pending) = io.poll_io(&mut stream, &mut hs, cx) {
                return pending;
            }
            if hs.step() != HandshakeStep::Decide {
                return Poll::Ready(());
            }
            if decision.is_none() {
                match (decide.take(), hs.request()) {
                    (Some(decide), Some(request)) => decision.set(Some(decide(request))),
                    _ => return Poll::Ready(()), // unreachable: one request, one decision
                }
            }
            let Some(fut) = decision.as_mut().as_pin_mut() else { return Poll::Ready(()) };
            match fut.poll(cx) {
                Poll::Ready(answer) => {
                    decision.set(None);
                    hs.respond(Instant::now(), answer);
                }
                Poll::Pending => return io.wait(&mut hs, cx),
            }
        }
    })
    .await;
    let (conn, request) = io.result(hs.finish())?;
    Ok((WebSocket::from_connection(stream, conn), request))
}

/// Runs a client handshake on `stream` (already connected, TLS included): writes the request,
/// reads and verifies the response, and returns the connection and the server's response,
/// bounded by the handshake's deadline. A refusal is [`Error::Handshake`] with
/// `is_rejection()` and the server's status.
pub async fn client_handshake<S, R>(
    mut stream: S,
    mut hs: ClientHandshake,
) -> Result<(WebSocket<S, R>, Response), Error>
where
    R: StreamIo<S>,
{
    let mut io = Io::<R>::new();
    poll_fn(|cx| io.poll_io(&mut stream, &mut hs, cx).unwrap_or(Poll::Ready(()))).await;
    let (conn, response) = io.result(hs.finish())?;
    Ok((WebSocket::from_connection(stream, conn), response))
}

/// The IO side of a handshake loop: the deadline's timer and the transport's error.
struct Io<R: Runtime> {
    sleep: Option<R::Sleep>,
    armed: Option<Instant>,
    /// A transport error, reported instead of the driver's `ConnectionClosed`.
    error: Option<io::Error>,
}

impl<R: Runtime> Io<R> {
    fn new() -> Self {
        Io { sleep: None, armed: None, error: None }
    }

    /// Writes, reads and shuts down as the driver asks until it needs a decision or is done
    /// (`None`), or the transport is not ready (`Some(Pending)`).
    fn poll_io<S>(
        &mut self,
        stream: &mut S,
        hs: &mut impl Handshake,
        cx: &mut Context<'_>,
    ) -> Option<Poll<()>>
    where
        R: StreamIo<S>,
    {
        loop {
            let step = hs.step();
            if matches!(step, HandshakeStep::Done | HandshakeStep::Failed) {
                return None;
            }
            let progress = if !hs.transmit().is_empty() {
                R::poll_write(stream, cx, hs.transmit()).map(|r| match r {
                    Ok(0) => self.failed(hs, io::ErrorKind::WriteZero.into()),
                    Ok(n) => hs.advance_transmit(n),
                    Err(e) => self.failed(hs, e),
                })
            } else {
                match step {
                    HandshakeStep::Read => {
                        let mut buf = [0u8; 2048];
                        R::poll_read(stream, cx, &mut buf).map(|r| match r {
                            Ok(0) => hs.handle_eof(Instant::now()),
                            Ok(n) => hs.handle_data(Instant::now(), &buf[..n]),
                            Err(e) => self.failed(hs, e),
                        })
                    }
                    // A failed shutdown changes nothing: the refusal is over either way.
                    HandshakeStep::Shutdown => R::poll_shutdown(stream, cx)
                        .map(|_| hs.handle_write_shutdown(Instant::now())),
                    _ => return None,
                }
            };
            if progress.is_pending() {
                return Some(self.wait(hs, cx));
            }
        }
    }

    /// The transport failed: the handshake cannot go on.
    fn failed(&mut self, hs: &mut impl Handshake, e: io::Error) {
        if e.kind() != io::ErrorKind::Interrupted {
            self.error.get_or_insert(e);
            hs.handle_eof(Instant::now());
        }
    }

    /// Pending until the driver's deadline; when it passes, runs it and wakes the task to go on.
    fn wait(&mut self, hs: &mut impl Handshake, cx: &mut Context<'_>) -> Poll<()> {
        let Some(deadline) = hs.poll_timeout() else { return Poll::Pending };
        if self.armed != Some(deadline) {
            match &mut self.sleep {
                Some(sleep) => R::reset(sleep, deadline),
                None => self.sleep = Some(R::sleep_until(deadline)),
            }
            self.armed = Some(deadline);
        }
        let fired = self.sleep.as_mut().is_some_and(|sleep| R::poll_sleep(sleep, cx).is_ready());
        if fired || deadline <= Instant::now() {
            self.armed = None;
            hs.handle_timeout(Instant::now());
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    }

    /// The driver's result, with the transport's own error where it ended the handshake.
    fn result<T>(&mut self, result: Result<T, HandshakeError>) -> Result<T, Error> {
        match (result, self.error.take()) {
            (Err(HandshakeError::ConnectionClosed), Some(e)) => Err(Error::from(e)),
            (result, _) => Ok(result?),
        }
    }
}
