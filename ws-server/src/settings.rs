//! Settings of a route and of the server, with the defaults a public server should start from.

use std::time::Duration;

use ws_proto::{Config, MemoryBudget};

/// What happens to a message sent to a connection whose queue is full (see
/// [`RouteSettings::max_backpressure`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backpressure {
    /// The message is not queued; [`Sent::Dropped`](crate::Sent::Dropped) is returned and the
    /// drop is counted (connection and server metrics). The default: a slow subscriber misses
    /// messages, nobody else waits.
    #[default]
    Drop,
    /// The connection is closed with 1008 (policy violation) and the message dropped.
    Close1008,
    /// The connection is closed with 1013 (try again later) and the message dropped.
    Close1013,
    /// [`Handle::send_async`](crate::Handle::send_async) waits until there is room;
    /// the non-waiting [`Handle::send`](crate::Handle::send) returns
    /// [`Sent::Full`](crate::Sent::Full) without queuing.
    Wait,
}

/// Everything a route decides about its connections. Start from [`RouteSettings::default`]
/// (or the [`Route`](crate::Route) builder methods) and change what you need.
///
/// | setting | default |
/// |---|---|
/// | `max_message_size` | 1 MiB (close 1009 past it) |
/// | `max_frame_size` | 1 MiB (close 1009 past it) |
/// | `max_backpressure` | 64 KiB of queued-from-elsewhere data per connection |
/// | `backpressure` | [`Backpressure::Drop`] |
/// | `ping_interval` | 20 s, whatever the traffic (lag measured from every Pong) |
/// | `pong_timeout` | 20 s of silence after a Ping, then close 1011 |
/// | `idle_timeout` | 60 s of receiving nothing, then close 1001 |
/// | `message_timeout` | 30 s to finish a message once its first frame arrived, then close 1008 |
/// | `close_timeout` | 5 s for the closing handshake and the transport's end |
/// | `max_lifetime` | off |
/// | `max_connections` | unlimited per route (the server's cap applies) |
/// | `compression` | off |
///
/// Time bounds a public server starts with: a peer that goes silent is dropped by the pong
/// timeout within `ping_interval + pong_timeout` (40 s; the Pings go whatever the traffic and
/// any input after a Ping counts as an answer). The idle timeout is the bound when Pings are
/// turned off (with them on it cannot fire first: each Pong is input); a peer that answers
/// Pings but never sends is legitimate (a subscriber) and stays until `max_lifetime`, if set.
/// A peer that starts a message and stalls or trickles it is closed by `message_timeout`; one
/// that does not finish the closing handshake, by `close_timeout`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RouteSettings {
    /// Largest message accepted (after decompression); larger ones close the connection with
    /// 1009.
    pub max_message_size: usize,
    /// Largest frame accepted; larger ones close the connection with 1009.
    pub max_frame_size: usize,
    /// Bytes a connection may have waiting to be written (queued by any task, plus what its
    /// socket has not taken yet) before [`backpressure`](Self::backpressure) applies to a new
    /// message. The connection's own replies (Pongs, Close) are never refused.
    pub max_backpressure: usize,
    /// What a send does when the connection's queue is full.
    pub backpressure: Backpressure,
    /// A Ping this often whatever the traffic (`None`: no pings); each Pong measures the lag.
    pub ping_interval: Option<Duration>,
    /// How long a peer may stay silent after a Ping before it is dropped (close 1011).
    pub pong_timeout: Duration,
    /// Close (1001) a connection that received nothing for this long (default 60 s: a bound
    /// that holds even with `ping_interval` off; with Pings on, the Pong timeout drops a silent
    /// peer first).
    pub idle_timeout: Option<Duration>,
    /// A data message must be complete this long after its first frame's header arrived, or
    /// the connection is closed with 1008 (default 30 s: the 1 MiB default message at 35 KB/s
    /// or faster; raise it with `max_message_size` for slow links). Bounds how long a peer can
    /// hold a partial message's memory (see `Config::message_timeout` in ws-proto).
    pub message_timeout: Option<Duration>,
    /// Close (1001) every connection this long after it opened.
    pub max_lifetime: Option<Duration>,
    /// Most connections open on this route at once; past it new upgrades get 503.
    pub max_connections: Option<usize>,
    /// Accept permessage-deflate when a client offers it.
    pub compression: bool,
    /// How long a closing handshake may take before the transport is closed anyway (default
    /// 5 s): our Close waits this long for the peer's, and the transport's end (writing what is
    /// left, shutdown, draining) as long again at most.
    pub close_timeout: Duration,
}

impl Default for RouteSettings {
    fn default() -> Self {
        RouteSettings {
            max_message_size: 1 << 20,
            max_frame_size: 1 << 20,
            max_backpressure: 64 << 10,
            backpressure: Backpressure::Drop,
            ping_interval: Some(Duration::from_secs(20)),
            pong_timeout: Duration::from_secs(20),
            idle_timeout: Some(Duration::from_secs(60)),
            message_timeout: Some(Duration::from_secs(30)),
            max_lifetime: None,
            max_connections: None,
            compression: false,
            close_timeout: Duration::from_secs(5),
        }
    }
}

impl RouteSettings {
    /// The core's configuration for a connection of this route.
    pub(crate) fn config(&self, server: &ServerSettings) -> Config {
        let mut c = Config::default();
        c.max_message_size = self.max_message_size;
        c.max_frame_size = self.max_frame_size;
        c.keepalive_interval = self.ping_interval;
        c.keepalive_while_busy = true;
        c.pong_timeout = self.pong_timeout;
        c.idle_timeout = self.idle_timeout;
        c.message_timeout = self.message_timeout;
        c.max_lifetime = self.max_lifetime;
        c.close_timeout = self.close_timeout;
        c.handshake_timeout = server.handshake_timeout;
        c.handshake_limits.max_bytes = server.max_request_bytes;
        c.memory_budget = server.memory_budget.clone();
        // The socket's own queue counts towards `max_backpressure`; past twice that, stop
        // reading from a peer that does not read (its pongs would pile up).
        c.write_buffer_high_water = self.max_backpressure.max(16 << 10) * 2;
        // The route's message limit is an explicit choice: compressed messages get it too
        // (rather than the core's lower default for them).
        c.deflate = self.compression.then(|| ws_proto::deflate::DeflateConfig {
            max_message_size: Some(self.max_message_size),
            ..Default::default()
        });
        c
    }
}

/// Server-wide settings.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerSettings {
    /// Most connections open at once (WebSocket and HTTP); past it new upgrades get 503.
    pub max_connections: usize,
    /// How long the opening handshake may take, the upgrade hook included (then the
    /// connection is dropped, or answered 503 if the hook is what is slow).
    pub handshake_timeout: Duration,
    /// Largest request head (request line and headers); past it 431.
    pub max_request_bytes: usize,
    /// How long a graceful shutdown waits for connections to finish their closing handshake
    /// before dropping the rest.
    pub shutdown_timeout: Duration,
    /// The kernel send buffer of each accepted TCP socket (`SO_SNDBUF`). `None` (the default)
    /// leaves it to the kernel's autotuning, which on Linux lets one socket hold up to
    /// `net.ipv4.tcp_wmem`'s maximum (4 MiB by default) for a peer that does not read, on top
    /// of the per-connection queue bound. Set it to bound that memory per connection.
    pub socket_send_buffer: Option<usize>,
    /// What all the connections together may hold because of their peers' input, past 64 KiB
    /// each: receive buffers and messages in progress (after inflating). A connection that
    /// needs more while it is spent is closed with 1013 (try again later); the others, and
    /// messages up to 64 KiB, go on. Default 256 MiB (room for 256 of the default 1 MiB
    /// messages arriving at once); `None` bounds each connection by its own limits only. See
    /// [`MemoryBudget`] and SECURITY.md for what it bounds and what it does not.
    pub memory_budget: Option<MemoryBudget>,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            max_connections: 10_000,
            handshake_timeout: Duration::from_secs(10),
            max_request_bytes: 8 << 10,
            shutdown_timeout: Duration::from_secs(10),
            socket_send_buffer: None,
            memory_budget: Some(MemoryBudget::new(256 << 20)),
        }
    }
}
