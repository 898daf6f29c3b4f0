//! Owned read and write halves of a [`WebSocket`](crate::WebSocket).
//!
//! Both halves hold the connection (core and stream) behind one `std::sync::Mutex`. Every
//! method locks it for a single non-blocking step (one `poll_*` of the driver: a few reads or
//! writes that return at once, never a wait), so the halves run concurrently from two tasks:
//! the reader waits for input while the writer waits for the peer to read, each parked on its
//! own waker.

use core::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use ws_proto::{CloseInfo, Config};

use crate::WebSocket;
use crate::api::{impl_recv_api, impl_send_api};
use crate::driver::Inner;

type Shared<S> = Arc<Mutex<Inner<S>>>;

fn lock<S>(shared: &Shared<S>) -> MutexGuard<'_, Inner<S>> {
    // A panic while locked cannot leave the driver inconsistent in a way that matters more than
    // refusing to continue would: every step is atomic with respect to the core.
    shared.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The receiving half of a [`WebSocket`](crate::WebSocket), from
/// [`split`](crate::WebSocket::split).
///
/// It writes the automatic Pongs and Close replies itself and runs the connection's timers, so
/// keep it polled (usually: a task looping on [`recv`](Self::recv)).
pub struct ReadHalf<S> {
    shared: Shared<S>,
}

/// The sending half of a [`WebSocket`](crate::WebSocket), from
/// [`split`](crate::WebSocket::split).
pub struct WriteHalf<S> {
    shared: Shared<S>,
}

impl<S> ReadHalf<S> {
    pub(crate) fn new(shared: Shared<S>) -> Self {
        ReadHalf { shared }
    }

    fn with<R>(&mut self, f: impl FnOnce(&mut Inner<S>) -> R) -> R {
        f(&mut lock(&self.shared))
    }

    /// True if `write` is the other half of the same connection.
    pub fn is_pair_of(&self, write: &WriteHalf<S>) -> bool {
        Arc::ptr_eq(&self.shared, &write.shared)
    }

    /// The subprotocol the handshake selected, if any.
    pub fn protocol(&self) -> Option<String> {
        lock(&self.shared).protocol.clone()
    }

    /// The round-trip time measured by the most recent answered Ping.
    pub fn last_rtt(&self) -> Option<Duration> {
        lock(&self.shared).conn.last_rtt()
    }
}

impl<S> WriteHalf<S> {
    pub(crate) fn new(shared: Shared<S>) -> Self {
        WriteHalf { shared }
    }

    fn with<R>(&mut self, f: impl FnOnce(&mut Inner<S>) -> R) -> R {
        f(&mut lock(&self.shared))
    }

    /// True if `read` is the other half of the same connection.
    pub fn is_pair_of(&self, read: &ReadHalf<S>) -> bool {
        read.is_pair_of(self)
    }
}

/// Accessors available on both halves.
macro_rules! impl_accessors {
    ($ty:ident) => {
        impl<S> $ty<S> {
            /// How the connection ended, once it has.
            pub fn close_info(&self) -> Option<CloseInfo> {
                lock(&self.shared).conn.close_info().cloned()
            }

            /// Bytes queued for sending and not yet written to the stream.
            pub fn buffered_amount(&self) -> usize {
                lock(&self.shared).conn.transmit_len()
            }

            /// The configuration.
            pub fn config(&self) -> Config {
                lock(&self.shared).conn.config().clone()
            }
        }

        impl<S> fmt::Debug for $ty<S> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($ty)).finish_non_exhaustive()
            }
        }
    };
}

impl_accessors!(ReadHalf);
impl_accessors!(WriteHalf);
impl_recv_api!(ReadHalf);
impl_send_api!(WriteHalf);

/// Joins the two halves of one connection back into a [`WebSocket`]. Fails, handing them back,
/// if they come from different connections.
pub fn reunite<S>(read: ReadHalf<S>, write: WriteHalf<S>) -> Result<WebSocket<S>, ReuniteError<S>> {
    if !read.is_pair_of(&write) {
        return Err(ReuniteError(read, write));
    }
    drop(write);
    match Arc::try_unwrap(read.shared) {
        Ok(mutex) => {
            let inner = mutex.into_inner().unwrap_or_else(|poisoned| poisoned.into_inner());
            Ok(WebSocket::from_inner(inner))
        }
        // Not reachable (the halves are the only owners), but never worth a panic.
        Err(shared) => Err(ReuniteError(ReadHalf::new(shared.clone()), WriteHalf::new(shared))),
    }
}

/// [`reunite`] was given halves of two different
/// connections; here they are back.
pub struct ReuniteError<S>(pub ReadHalf<S>, pub WriteHalf<S>);

impl<S> fmt::Debug for ReuniteError<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReuniteError(..)")
    }
}

impl<S> fmt::Display for ReuniteError<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the halves belong to different connections")
    }
}

impl<S> std::error::Error for ReuniteError<S> {}
