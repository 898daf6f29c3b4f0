//! The async adapter, written once and generic over the runtime: [`WebSocket`], its split
//! halves, `Stream` + `Sink`, and the opening handshakes.
//!
//! A runtime binding is a marker type implementing [`Runtime`] (a timer) and [`StreamIo`] (the
//! runtime's IO traits): `ws-tokio` uses [`crate::rt::Tokio`], `ws-async-std` uses
//! [`crate::rt::FuturesIo`]. Everything else, and every decision, is here or in `ws-proto`: the
//! loop reads into the core, hands out its events, writes what it queued with vectored writes,
//! sleeps until its deadline, and carries out what [`Connection::transport`] says.
//!
//! [`Connection::transport`]: ws_proto::Connection::transport

mod api;
mod driver;
mod entry;
mod handshake;
mod split;
mod websocket;

use std::future::{Future, poll_fn};
use std::io::{self, IoSlice};
use std::pin::pin;
use std::task::{Context, Poll};
use std::time::Instant;

use ws_proto::bytes::BytesMut;
use ws_proto::bytes::buf::Limit;
use ws_proto::handshake::HandshakeError;

use crate::Error;

pub use entry::{ClientSocket, Net, accept_async, accept_with, client, connect_with};
#[cfg(feature = "tls")]
pub use entry::{TlsAccept, accept_tls_with};
pub use handshake::{client_handshake, server_handshake};
pub use split::{ReadHalf, ReuniteError, WriteHalf, reunite};
pub use websocket::WebSocket;

/// Runs `fut`, failing with [`HandshakeError::Timeout`] at `deadline` (`None`: no limit), on
/// the timer of runtime `R`. The adapters bound connection setup (DNS, TCP, TLS) with it, under
/// the same deadline as the opening handshake that follows.
pub async fn within<R: Runtime, T>(
    deadline: Option<Instant>,
    fut: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    let Some(deadline) = deadline else { return fut.await };
    let mut fut = pin!(fut);
    let mut sleep = R::sleep_until(deadline);
    poll_fn(|cx| {
        if let Poll::Ready(out) = fut.as_mut().poll(cx) {
            return Poll::Ready(out);
        }
        R::poll_sleep(&mut sleep, cx).map(|()| Err(Error::Handshake(HandshakeError::Timeout)))
    })
    .await
}

/// A runtime's timer.
pub trait Runtime: Sized + Send + Sync + Unpin + 'static {
    /// A sleep that can be moved.
    type Sleep: Send + Unpin;

    /// A sleep until `deadline`.
    fn sleep_until(deadline: Instant) -> Self::Sleep;

    /// Moves `sleep` to `deadline` (and re-arms it if it fired).
    fn reset(sleep: &mut Self::Sleep, deadline: Instant);

    /// Ready once the deadline has passed.
    fn poll_sleep(sleep: &mut Self::Sleep, cx: &mut Context<'_>) -> Poll<()>;

    /// Whether the deadline has passed, if the timer can tell without a poll (`None`: it
    /// cannot). Lets the driver skip re-registering a waker it already registered.
    fn is_elapsed(sleep: &Self::Sleep) -> Option<bool> {
        let _ = sleep;
        None
    }
}

/// A runtime's IO traits, for streams `S`.
pub trait StreamIo<S>: Runtime {
    /// Reads into `buf` (0: end of stream).
    fn poll_read(stream: &mut S, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>>;

    /// Reads once into a scratch buffer of the binding's own (on the stack, not zeroed) and
    /// passes what arrived to `consume` (an empty slice: end of stream). `None` if the binding
    /// cannot read into uninitialized memory safely: the driver then reads with
    /// [`poll_read`](Self::poll_read) into the connection's buffer.
    fn poll_read_scratch(
        stream: &mut S,
        cx: &mut Context<'_>,
        consume: &mut dyn FnMut(&[u8]),
    ) -> Option<Poll<io::Result<()>>> {
        let _ = (stream, cx, consume);
        None
    }

    /// True if [`poll_read_buf`](Self::poll_read_buf) reads into uninitialized spare
    /// capacity safely: the driver then reads inside frames through
    /// [`Connection::recv_into`](ws_proto::Connection::recv_into) (no zero-fill of the receive
    /// room) instead of [`poll_read`](Self::poll_read) into
    /// [`Connection::recv_buf`](ws_proto::Connection::recv_buf).
    const READS_INTO_SPARE_CAPACITY: bool = false;

    /// Reads once, appending to `buf` (into its spare capacity, not zeroed first, at most its
    /// `remaining_mut`), and returns how many bytes were appended (0: end of stream). Used only when
    /// [`READS_INTO_SPARE_CAPACITY`](Self::READS_INTO_SPARE_CAPACITY) is true; a binding that
    /// leaves it false keeps this default, which reports the read as unsupported.
    fn poll_read_buf(
        stream: &mut S,
        cx: &mut Context<'_>,
        buf: &mut Limit<BytesMut>,
    ) -> Poll<io::Result<usize>> {
        let _ = (stream, cx, buf);
        Poll::Ready(Err(io::ErrorKind::Unsupported.into()))
    }

    /// Writes `buf`.
    fn poll_write(stream: &mut S, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>>;

    /// Writes `bufs` in order (as much as the transport takes at once).
    fn poll_write_vectored(
        stream: &mut S,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>>;

    /// Flushes what a buffering transport (TLS) holds.
    fn poll_flush(stream: &mut S, cx: &mut Context<'_>) -> Poll<io::Result<()>>;

    /// Shuts the write side down (TLS `close_notify`, then a FIN where the transport can
    /// half-close).
    fn poll_shutdown(stream: &mut S, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
}
