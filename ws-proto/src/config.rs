//! Connection configuration: limits and timers.

use std::time::Duration;

use crate::handshake::HandshakeLimits;

/// Which end of the connection this is. It decides masking: clients mask every frame they send
/// and reject masked frames; servers require masked frames and send unmasked ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The end that sent the opening handshake request.
    Client,
    /// The end that accepted it.
    Server,
}

/// Limits and timers of a [`Connection`](crate::Connection).
///
/// Limits are on by default and never unbounded. Timers are off by default except the close
/// timeout, which bounds how long a silent peer can keep a closing connection alive.
///
/// | setting | default | on breach |
/// |---|---|---|
/// | `max_frame_size` | 16 MiB | close 1009 |
/// | `max_message_size` | 64 MiB (compressed messages: 1 MiB, see `DeflateConfig::max_message_size`) | close 1009 |
/// | `message_timeout` | off | close 1008 |
/// | `close_timeout` | 10 s | transport closed, 1006 |
/// | `release_buffers_after` | 1 s | idle buffers given back |
/// | `keepalive_interval` | off | a Ping is sent |
/// | `keepalive_while_busy` | off | (the Ping goes whatever the traffic) |
/// | `pong_timeout` | 20 s (once keepalive is on) | close 1011, transport closed |
/// | `idle_timeout` | off | close 1001 |
/// | `max_lifetime` | off | close 1001 |
/// | `write_buffer_high_water` | 1 MiB | adapters make `send` wait |
/// | `handshake_limits` | 16 KiB, 64 fields | 431 / error |
/// | `handshake_timeout` | 10 s | adapters drop the connection |
/// | `memory_budget` | none | close 1013 (the connection asking for more) |
///
/// ```
/// use std::time::Duration;
/// let mut config = ws_proto::Config::default();
/// config.max_message_size = 1 << 20;
/// config.keepalive_interval = Some(Duration::from_secs(30));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// Largest payload accepted in one frame. A frame announcing more fails the connection with
    /// 1009 as soon as its header arrives, before any payload is buffered. Received frames are
    /// buffered whole, so this also bounds the receive buffer.
    pub max_frame_size: usize,
    /// Largest message accepted, summed over its fragments (after decompression when
    /// permessage-deflate is on). Checked as each frame header arrives, so an oversized message
    /// is refused before it is buffered. Compressed messages are also bounded by
    /// [`DeflateConfig::max_message_size`](crate::deflate::DeflateConfig::max_message_size)
    /// (1 MiB by default): raise that one too to accept larger compressed messages.
    pub max_message_size: usize,
    /// Deadline to finish a data message, counted from the arrival of its first frame's
    /// header: a message still incomplete when it passes (a fragmented message whose final
    /// frame never comes, or one frame trickled a few bytes at a time) fails the connection
    /// with [`CapacityError::MessageTimeout`](crate::CapacityError::MessageTimeout) and close
    /// code 1008 (policy violation). It bounds how long a peer can hold a partial message's
    /// buffers; set it above `max_message_size` divided by the slowest legitimate peer's
    /// bandwidth. Off by default (the core does not guess about links); `ws-server` turns it
    /// on. Costs nothing per message when off; when on, an instant stored per fragmented or
    /// large message and one comparison per deadline query.
    pub message_timeout: Option<Duration>,
    /// Answer every Ping with a Pong automatically (the Ping is still reported as an event).
    pub auto_pong: bool,
    /// Send a Ping when nothing has been received for this long. Its Pong measures the
    /// round-trip time ([`Connection::last_rtt`](crate::Connection::last_rtt)).
    pub keepalive_interval: Option<Duration>,
    /// Send the keepalive Ping every `keepalive_interval` whatever the traffic, so the round
    /// trip of a busy connection is measured too (servers that report lag). Off: a Ping goes
    /// only after `keepalive_interval` without input. Either way the Pong timeout counts
    /// silence: anything received after the Ping proves the peer alive.
    pub keepalive_while_busy: bool,
    /// How long to wait for the Pong that answers a keepalive Ping before giving up on the peer
    /// (close 1011 and close the transport). Only used when `keepalive_interval` is set.
    pub pong_timeout: Duration,
    /// Start a close handshake (1001, "idle timeout") when nothing at all has been received for
    /// this long.
    pub idle_timeout: Option<Duration>,
    /// Start a close handshake (1001, "max lifetime") this long after the connection started,
    /// whatever it is doing (credentials that expire, rebalancing long-lived connections).
    pub max_lifetime: Option<Duration>,
    /// How long to wait for the peer's Close after sending ours; and, once the WebSocket is
    /// closed, how long the transport's end may take (a client waiting for the server to close
    /// first; writing what is left, shutting down and draining), before giving up on the peer.
    /// See [`Transport`](crate::Transport).
    pub close_timeout: Duration,
    /// Give the receive and transmit buffers back once nothing has arrived for this long (while
    /// none holds a partial frame or unsent bytes). A busy connection keeps reusing its buffers,
    /// allocating nothing per message; an idle one holds none. `None`: keep them (call
    /// [`Connection::release_buffers`](crate::Connection::release_buffers) yourself).
    pub release_buffers_after: Option<Duration>,
    /// Size of the spare room [`Connection::recv_buf`](crate::Connection::recv_buf) (and
    /// [`Connection::recv_into`](crate::Connection::recv_into)) offers for one read. The buffer is allocated on first use and released after large messages.
    pub read_buffer_size: usize,
    /// Outgoing data frames whose payload is at most this long are copied into one contiguous
    /// transmit buffer with their header; longer ones are queued as separate chunks without
    /// copying (servers) so an adapter can write them with one vectored write.
    pub copy_threshold: usize,
    /// Servers only: accept unmasked frames from clients. Violates RFC 6455 §5.1; for tests and
    /// trusted links only. Off by default.
    pub accept_unmasked_frames: bool,
    /// Backpressure for adapters: once [`transmit_len`](crate::Connection::transmit_len)
    /// exceeds this, `send` waits (async) or blocks until the queue drains below it, instead of
    /// letting memory grow without bound. The core itself never refuses to queue.
    pub write_buffer_high_water: usize,
    /// Limits on the opening handshake's header block (used by adapters when they run the
    /// handshake with [`handshake`](crate::handshake)).
    pub handshake_limits: HandshakeLimits,
    /// How long adapters allow the opening handshake to take before dropping the connection
    /// (bounds slow or silent peers before the WebSocket timers start).
    pub handshake_timeout: Duration,
    /// A budget of bytes shared by every connection whose config carries a clone of it, so the
    /// sum of what peers make a server hold is bounded, not just each connection's share (see
    /// [`MemoryBudget`](crate::MemoryBudget) for the policy). `None` (the default): each
    /// connection is bounded by its own limits only.
    pub memory_budget: Option<crate::MemoryBudget>,
    /// permessage-deflate: `None` (the default) neither offers nor accepts compression.
    ///
    /// Off by default because it is not free: each compressed connection holds zlib state
    /// (about 420 KiB at the default 15-bit windows, see [`crate::deflate`]), spends CPU on
    /// every message, and mixing secrets with attacker-chosen data in one compressed message
    /// opens CRIME/BREACH-style length side channels. Turn it on for text-heavy traffic.
    #[cfg(feature = "deflate")]
    pub deflate: Option<crate::deflate::DeflateConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_frame_size: 16 << 20,
            max_message_size: 64 << 20,
            message_timeout: None,
            auto_pong: true,
            keepalive_interval: None,
            keepalive_while_busy: false,
            pong_timeout: Duration::from_secs(20),
            idle_timeout: None,
            max_lifetime: None,
            close_timeout: Duration::from_secs(10),
            release_buffers_after: Some(Duration::from_secs(1)),
            read_buffer_size: 8 << 10,
            copy_threshold: 4 << 10,
            accept_unmasked_frames: false,
            write_buffer_high_water: 1 << 20,
            handshake_limits: HandshakeLimits::default(),
            handshake_timeout: Duration::from_secs(10),
            memory_budget: None,
            #[cfg(feature = "deflate")]
            deflate: None,
        }
    }
}
