//! What [`WebSocket`](super::WebSocket), [`ReadHalf`](super::ReadHalf) and
//! [`WriteHalf`](super::WriteHalf) share: access to the driver ([`Drive`]) and the sending
//! steps every public `send*` method is made of.

use std::future::poll_fn;
use std::task::{Context, Poll};
use std::time::Instant;

use ws_proto::{CloseCode, Connection, State, UsageError};

use super::StreamIo;
use super::driver::Driver;
use crate::Error;

/// Access to a handle's driver: short synchronous sections and polls.
pub(crate) trait Drive<S, R: StreamIo<S>> {
    /// Runs `f` on the driver (a command: no IO).
    fn with<T>(&mut self, f: impl FnOnce(&mut Driver<S, R>) -> T) -> T;

    /// Polls `f` on the driver with a context whose waker reaches this handle.
    fn poll_with<T>(
        &mut self,
        cx: &mut Context<'_>,
        f: impl FnOnce(&mut Driver<S, R>, &mut Context<'_>) -> Poll<T>,
    ) -> Poll<T>;
}

/// Runs a command on the core (it queues frames; nothing is written).
pub(crate) fn command<S, R, D, T>(
    d: &mut D,
    f: impl FnOnce(&mut Connection, Instant) -> Result<T, UsageError>,
) -> Result<T, Error>
where
    R: StreamIo<S>,
    D: Drive<S, R>,
{
    let now = Instant::now();
    Ok(d.with(|driver| f(&mut driver.conn, now))?)
}

/// Runs a command, then writes everything queued.
pub(crate) async fn send<S, R, D>(
    d: &mut D,
    f: impl FnOnce(&mut Connection, Instant) -> Result<(), UsageError>,
) -> Result<(), Error>
where
    R: StreamIo<S>,
    D: Drive<S, R>,
{
    command(d, f)?;
    flush(d).await
}

/// Runs a command, then waits only while more than the high-water mark is queued.
pub(crate) async fn feed<S, R, D>(
    d: &mut D,
    f: impl FnOnce(&mut Connection, Instant) -> Result<(), UsageError>,
) -> Result<(), Error>
where
    R: StreamIo<S>,
    D: Drive<S, R>,
{
    command(d, f)?;
    poll_fn(|cx| poll_ready(d, cx)).await
}

/// Writes everything queued and flushes the transport.
pub(crate) async fn flush<S, R, D>(d: &mut D) -> Result<(), Error>
where
    R: StreamIo<S>,
    D: Drive<S, R>,
{
    poll_fn(|cx| poll_flush(d, cx)).await
}

/// `Sink::poll_ready`: waits while more than the high-water mark is queued.
pub(crate) fn poll_ready<S, R, D>(d: &mut D, cx: &mut Context<'_>) -> Poll<Result<(), Error>>
where
    R: StreamIo<S>,
    D: Drive<S, R>,
{
    d.poll_with(cx, |d, cx| {
        let limit = d.conn.config().write_buffer_high_water;
        d.poll_write_out(cx, limit)
    })
}

/// `Sink::poll_flush`: writes everything queued and flushes the transport.
pub(crate) fn poll_flush<S, R, D>(d: &mut D, cx: &mut Context<'_>) -> Poll<Result<(), Error>>
where
    R: StreamIo<S>,
    D: Drive<S, R>,
{
    d.poll_with(cx, |d, cx| d.poll_write_out(cx, 0))
}

/// `Sink::poll_close`: starts the closing handshake (1000) if still open, then flushes.
pub(crate) fn poll_close<S, R, D>(d: &mut D, cx: &mut Context<'_>) -> Poll<Result<(), Error>>
where
    R: StreamIo<S>,
    D: Drive<S, R>,
{
    d.with(|d| {
        if d.conn.state() == State::Open {
            // Cannot fail: the connection is open and the code is sendable.
            let _ = d.conn.close(Instant::now(), CloseCode::NORMAL, "");
        }
    });
    poll_flush(d, cx)
}

/// Implements `futures_sink::Sink<Message>` for a handle implementing [`Drive`].
macro_rules! impl_sink {
    ($ty:ident) => {
        impl<S: Unpin, R: crate::aio::StreamIo<S>> futures_sink::Sink<ws_proto::Message>
            for $ty<S, R>
        {
            type Error = crate::Error;

            fn poll_ready(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<Result<(), crate::Error>> {
                crate::aio::api::poll_ready(self.get_mut(), cx)
            }

            fn start_send(
                self: std::pin::Pin<&mut Self>,
                item: ws_proto::Message,
            ) -> Result<(), crate::Error> {
                crate::aio::api::Drive::with(self.get_mut(), |d| d.queue(item))
            }

            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<Result<(), crate::Error>> {
                crate::aio::api::poll_flush(self.get_mut(), cx)
            }

            fn poll_close(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<Result<(), crate::Error>> {
                crate::aio::api::poll_close(self.get_mut(), cx)
            }
        }
    };
}

pub(crate) use impl_sink;
