//! [`WriteHalf`]: sends from its own thread.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ws_proto::{CloseInfo, Config, Connection, UsageError};

use super::shared::Shared;
use super::{ReadHalf, SplitStream};
use crate::Error;
use crate::send::Outgoing;

/// The sending half of a [`split`](crate::WebSocket::split) connection.
///
/// Its methods behave like the [`WebSocket`](crate::WebSocket)'s: data is queued and `send_*`
/// block only while more than `Config::write_buffer_high_water` bytes are queued; control frames
/// and [`flush`](Self::flush) write everything out. The connection lock is held only to queue
/// and to take bytes; writes to the socket happen outside it.
pub struct WriteHalf<S: SplitStream> {
    shared: Arc<Shared<S>>,
    protocol: Option<String>,
    config: Arc<Config>,
}

impl<S: SplitStream> WriteHalf<S> {
    pub(super) fn new(
        shared: Arc<Shared<S>>,
        protocol: Option<String>,
        config: Arc<Config>,
    ) -> Self {
        WriteHalf { shared, protocol, config }
    }

    pub(super) fn shared(&self) -> &Arc<Shared<S>> {
        &self.shared
    }

    pub(super) fn in_flight(&self) -> usize {
        self.shared.in_flight()
    }

    pub(super) fn config_arc(&self) -> Arc<Config> {
        self.config.clone()
    }

    /// True if `read` is the other half of this connection.
    pub fn is_pair_of(&self, read: &ReadHalf<S>) -> bool {
        read.is_pair_of(self)
    }

    /// How the connection ended, once it has.
    pub fn close_info(&self) -> Option<CloseInfo> {
        self.shared.lock().conn.close_info().cloned()
    }

    /// Bounds how long each write may block (`None`, the default: indefinitely). Takes effect
    /// with the next write, whichever half makes it. A zero duration is refused, as `std` does.
    pub fn set_write_timeout(&mut self, timeout: Option<Duration>) -> std::io::Result<()> {
        self.shared.lock().write_timeout = crate::websocket::checked_timeout(timeout)?;
        Ok(())
    }

    /// The write timeout.
    pub fn write_timeout(&self) -> Option<Duration> {
        self.shared.lock().write_timeout
    }

    /// Bytes queued or being written.
    pub fn buffered_amount(&self) -> usize {
        self.shared.queued()
    }

    /// The subprotocol agreed in the handshake.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// The connection's configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }
}

impl<S: SplitStream> Outgoing for WriteHalf<S> {
    fn command<R>(
        &mut self,
        f: impl FnOnce(&mut Connection, Instant) -> Result<R, UsageError>,
    ) -> Result<R, Error> {
        Ok(f(&mut self.shared.lock().conn, Instant::now())?)
    }

    fn write_down_to(&mut self, keep: usize) -> Result<(), Error> {
        self.shared.write_out(keep, true)
    }

    fn high_water(&self) -> usize {
        self.config.write_buffer_high_water
    }
}

impl<S: SplitStream> fmt::Debug for WriteHalf<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteHalf").field("protocol", &self.protocol).finish_non_exhaustive()
    }
}
