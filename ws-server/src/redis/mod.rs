//! Pub/sub across servers through Redis: [`RedisHub`] (feature `redis`).
//!
//! Every server of a cluster gets a `RedisHub` on the same Redis and hands it to
//! [`ServerBuilder::hub`](crate::ServerBuilder::hub); a message published on any of them reaches
//! the subscribers of the topic on all of them.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use ws_server::redis::RedisHub;
//! use ws_server::{Message, Route, Server};
//!
//! let hub = Arc::new(RedisHub::connect("redis://127.0.0.1:6379/").await?);
//! let chat = Route::new().on_open(|conn| conn.subscribe("chat")).on_message(|conn, msg| {
//!     if let Message::Text(text) = msg {
//!         conn.publish("chat", text); // every member on every server
//!     }
//! });
//! Server::builder().bind("0.0.0.0:9001").route("/chat", chat).hub(hub.clone()).build().await?
//!     .serve().await?;
//! # Ok(()) }
//! ```
//!
//! # How it works
//!
//! * A topic is the Redis channel `prefix + topic` (prefix `ws:` by default). A server holds one
//!   Redis subscription per topic that has local subscribers: it subscribes when the first
//!   arrives and unsubscribes when the last leaves, over one pub/sub connection.
//! * Publishing delivers to this server's subscribers at once (the frame they get is the one
//!   already encoded), then hands the payload to a task that sends it to Redis in batches
//!   (pipelined `PUBLISH`es on one connection): [`Hub::publish`] never waits on the network.
//!   The payload crosses Redis once per publish; each other server decodes it and encodes its
//!   frame once, for all its subscribers. Messages carry the publishing server's number and a
//!   server skips its own, so nobody gets a message twice.
//! * Ordering: the messages of one server to a topic reach every subscriber in the order they
//!   were published (one connection to Redis each way). Messages from different servers have no
//!   common order: two subscribers may see A's and B's messages interleaved differently, and a
//!   publisher's own subscribers see its messages before the other servers' subscribers do.
//!
//! # When Redis goes away
//!
//! Both connections reconnect with exponential backoff (with jitter, 50 ms doubling to 2 s by
//! default) and the subscriptions are restored. Messages published while Redis is unreachable are
//! **lost** for the other servers (still delivered to this server's subscribers), and counted:
//! [`RedisHubStats::lost`] for those published while the hub knew Redis was down,
//! [`RedisHubStats::failed`] for those handed to a connection that failed before Redis confirmed
//! them (they may or may not have reached it). Redis pub/sub keeps nothing for a subscriber that
//! is not connected, so a buffer on the publishing side would only deliver to servers whose
//! subscription came back first; losing them all, counted, is the simpler promise. If Redis is
//! up but slower than the publishers, the queue to it (4 096 messages by default) fills and
//! further publishes are dropped for the other servers and counted in
//! [`RedisHubStats::dropped`]: memory stays bounded.
//!
//! # Presence
//!
//! [`Hub::subscribers`] counts this server's subscribers. [`RedisHub::presence`] counts them on
//! every server: each server writes its count of each topic whose count changed to a Redis hash
//! (`prefix + "presence:" + topic`, one field per server), at most once per 100 ms whatever the
//! churn (a few hundred bytes to Redis per changed topic, nothing per publish), and refreshes a
//! liveness key every 5 s that expires after 15 s, so a server that dies stops counting on its
//! own. After a Redis restart each server writes all its counts again. A dropped hub removes its
//! counts. [`RedisHub::servers_subscribed`] asks Redis (`PUBSUB NUMSUB`) how many servers
//! subscribe to a topic.

mod presence;
mod subscriber;
mod wire;

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ::redis::aio::MultiplexedConnection;
use ::redis::{AsyncConnectionConfig, Client};
use bytes::Bytes;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::time::timeout;
use ws_proto::PreparedFrame;

pub use ::redis::{RedisError, RedisResult};

use crate::conn::{ConnId, Handle};
use crate::hub::{Hub, LocalHub};
use subscriber::Command;

/// Messages sent to Redis in one pipelined batch at most.
const BATCH: usize = 256;

/// A [`Hub`] that carries topics across servers through Redis pub/sub. See the
/// [module documentation](self) for delivery, ordering and outages.
///
/// Its background tasks run on the Tokio runtime it was connected on and stop when the hub is
/// dropped (with the last server holding it).
pub struct RedisHub {
    shared: Arc<Shared>,
    outgoing: mpsc::Sender<(String, Bytes)>,
    commands: mpsc::UnboundedSender<Command>,
    /// Orders the subscription changes: a topic's first-in and last-out commands are queued in
    /// the order its local subscriptions changed.
    edges: Mutex<()>,
    client: Client,
    query: tokio::sync::Mutex<Option<MultiplexedConnection>>,
    /// Dropped with the hub: the presence task removes this server's counts and ends.
    _presence: Option<mpsc::Sender<()>>,
}

/// What the background tasks share with the hub.
struct Shared {
    local: LocalHub,
    /// This server's number on the channels.
    origin: u64,
    config: Config,
    stats: Counters,
    /// Counts the losses of the subscribing connection (and wakes the publishing task): Redis
    /// went away, so the publishing connection, which would notice only when it next writes,
    /// reconnects too.
    losses: AtomicU64,
    redis_lost: Notify,
    /// Topics whose local count changed (presence on).
    dirty: presence::Dirty,
}

#[derive(Debug, Clone)]
struct Config {
    prefix: String,
    queue: usize,
    backoff_min: Duration,
    backoff_max: Duration,
    timeout: Duration,
    presence: bool,
}

impl Config {
    /// The wait before reconnect attempt `attempt` (0 first): doubling from the minimum to
    /// the maximum, each wait drawn between half and all of it so servers do not reconnect in
    /// step.
    fn backoff(&self, attempt: u32, seed: u64) -> Duration {
        let full = self.backoff_min.saturating_mul(1 << attempt.min(16)).min(self.backoff_max);
        let mut h = RandomState::new().build_hasher();
        h.write_u64(seed ^ u64::from(attempt));
        let fraction = 0.5 + (h.finish() % 1024) as f64 / 2048.0;
        full.mul_f64(fraction)
    }
}

#[derive(Default)]
struct Counters {
    published: AtomicU64,
    failed: AtomicU64,
    lost: AtomicU64,
    dropped: AtomicU64,
    received: AtomicU64,
    invalid: AtomicU64,
    reconnects: AtomicU64,
    channels: AtomicUsize,
    publisher_up: AtomicBool,
    subscriber_up: AtomicBool,
}

/// The counters of a [`RedisHub`] ([`RedisHub::stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedisHubStats {
    /// Messages this server published that Redis confirmed.
    pub published: u64,
    /// Messages handed to a connection that failed before Redis confirmed them: they may or may
    /// not have reached the other servers.
    pub failed: u64,
    /// Messages published while Redis was unreachable: delivered to this server's subscribers
    /// only.
    pub lost: u64,
    /// Messages not sent to Redis because the queue to it was full: delivered to this server's
    /// subscribers only.
    pub dropped: u64,
    /// Messages from other servers delivered to this server's subscribers.
    pub received: u64,
    /// Malformed messages on this hub's channels (not published by a `RedisHub` of this
    /// version): dropped.
    pub invalid: u64,
    /// Connections to Redis made again after one was lost (publishing and subscribing
    /// connections both count).
    pub reconnects: u64,
    /// Redis channels this server is subscribed to now.
    pub channels: usize,
    /// The publishing connection is up (as far as the hub knows: a loss shows on the next
    /// publish).
    pub publisher_connected: bool,
    /// The subscribing connection is up and its subscriptions are restored.
    pub subscriber_connected: bool,
}

/// Settings of a [`RedisHub`]: [`RedisHub::builder`].
#[derive(Debug, Clone)]
pub struct RedisHubBuilder {
    url: String,
    config: Config,
}

impl RedisHubBuilder {
    /// The prefix of the Redis channels (default `ws:`): servers share topics when they share
    /// Redis and prefix.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.config.prefix = prefix.into();
        self
    }

    /// Messages that may wait for Redis (default 4 096); past it, publishes reach this server's
    /// subscribers only and are counted in [`RedisHubStats::dropped`].
    pub fn queue(mut self, messages: usize) -> Self {
        self.config.queue = messages.max(1);
        self
    }

    /// The wait between reconnect attempts: doubling from `min` up to `max` (defaults 50 ms and
    /// 2 s), each drawn between half and all of it.
    pub fn backoff(mut self, min: Duration, max: Duration) -> Self {
        self.config.backoff_min = min.max(Duration::from_millis(1));
        self.config.backoff_max = max.max(self.config.backoff_min);
        self
    }

    /// How long to wait for Redis to connect or answer before taking the connection for lost
    /// (default 5 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.config.timeout = timeout;
        self
    }

    /// Whether to keep subscriber counts across servers in Redis (default on; see
    /// [`RedisHub::presence`]). Off, no presence keys are written.
    pub fn presence(mut self, on: bool) -> Self {
        self.config.presence = on;
        self
    }

    /// Connects to Redis (both connections, once: an unreachable Redis or a bad URL is an
    /// error here; later losses reconnect on their own) and starts the hub's tasks on the
    /// current Tokio runtime.
    pub async fn connect(self) -> RedisResult<RedisHub> {
        let client = Client::open(self.url.as_str())?;
        let publisher = publisher_connection(&client, &self.config).await?;
        let pubsub = match timeout(self.config.timeout, client.get_async_pubsub()).await {
            Ok(pubsub) => pubsub?,
            Err(_) => return Err(timed_out()),
        };
        let shared = Arc::new(Shared {
            local: LocalHub::new(),
            origin: server_number(),
            config: self.config,
            stats: Counters::default(),
            losses: AtomicU64::new(0),
            redis_lost: Notify::new(),
            dirty: presence::Dirty::default(),
        });
        shared.stats.publisher_up.store(true, Ordering::Relaxed);
        shared.stats.subscriber_up.store(true, Ordering::Relaxed);
        let (outgoing, outgoing_rx) = mpsc::channel(shared.config.queue);
        let (commands, commands_rx) = mpsc::unbounded_channel();
        tokio::spawn(publish(client.clone(), publisher, outgoing_rx, Arc::clone(&shared)));
        tokio::spawn(subscriber::run(
            client.clone(),
            Some(pubsub),
            commands_rx,
            Arc::clone(&shared),
        ));
        let presence = shared.config.presence.then(|| {
            let (stop, stop_rx) = mpsc::channel(1);
            tokio::spawn(presence::run(client.clone(), Arc::clone(&shared), stop_rx));
            stop
        });
        Ok(RedisHub {
            shared,
            outgoing,
            commands,
            edges: Mutex::new(()),
            client,
            query: tokio::sync::Mutex::new(None),
            _presence: presence,
        })
    }
}

impl RedisHub {
    /// A hub on the Redis at `url` (`redis://host:port/`) with the default settings.
    pub async fn connect(url: &str) -> RedisResult<RedisHub> {
        RedisHub::builder(url).connect().await
    }

    /// Settings for a hub on the Redis at `url`.
    pub fn builder(url: impl Into<String>) -> RedisHubBuilder {
        RedisHubBuilder {
            url: url.into(),
            config: Config {
                prefix: "ws:".to_owned(),
                queue: 4096,
                backoff_min: Duration::from_millis(50),
                backoff_max: Duration::from_secs(2),
                timeout: Duration::from_secs(5),
                presence: true,
            },
        }
    }

    /// This server's number on the channels (random, drawn at connect).
    pub fn server_id(&self) -> u64 {
        self.shared.origin
    }

    /// The hub's counters.
    pub fn stats(&self) -> RedisHubStats {
        let s = &self.shared.stats;
        RedisHubStats {
            published: s.published.load(Ordering::Relaxed),
            failed: s.failed.load(Ordering::Relaxed),
            lost: s.lost.load(Ordering::Relaxed),
            dropped: s.dropped.load(Ordering::Relaxed),
            received: s.received.load(Ordering::Relaxed),
            invalid: s.invalid.load(Ordering::Relaxed),
            reconnects: s.reconnects.load(Ordering::Relaxed),
            channels: s.channels.load(Ordering::Relaxed),
            publisher_connected: s.publisher_up.load(Ordering::Relaxed),
            subscriber_connected: s.subscriber_up.load(Ordering::Relaxed),
        }
    }

    /// Resolves once every subscription change made before the call is in effect on Redis
    /// (after a reconnect if Redis is unreachable now): from then on, messages other servers
    /// publish to those topics reach this server.
    pub async fn settled(&self) {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::Settled(tx)).is_ok() {
            let _ = rx.await;
        }
    }

    /// Subscribers of `topic` on every live server of the cluster: this server's now, the
    /// others' as they last wrote them (at most 100 ms old, and only from servers that said
    /// they were alive in the last 15 s). Servers with presence off are not counted.
    pub async fn presence(&self, topic: &str) -> RedisResult<usize> {
        let mut retried = false;
        loop {
            let mut conn = self.query_connection().await?;
            match presence::count(&self.shared, &mut conn, topic).await {
                Err(e) if !retried => {
                    retried = true;
                    self.forget_query_connection(e).await;
                }
                result => return result,
            }
        }
    }

    /// How many servers (Redis subscribers) have subscribers of `topic` now, by asking Redis.
    pub async fn servers_subscribed(&self, topic: &str) -> RedisResult<usize> {
        let mut retried = false;
        loop {
            let mut conn = self.query_connection().await?;
            let counts: RedisResult<Vec<(String, usize)>> = ::redis::cmd("PUBSUB")
                .arg("NUMSUB")
                .arg(self.channel(topic))
                .query_async(&mut conn)
                .await;
            match counts {
                Err(e) if !retried => {
                    retried = true;
                    self.forget_query_connection(e).await;
                }
                counts => return Ok(counts?.first().map_or(0, |(_, n)| *n)),
            }
        }
    }

    /// The connection of the queries ([`presence`](Self::presence) and the like), made on
    /// first use and kept until a query fails (then a new one is made and the query tried
    /// once more: the old one may predate a Redis restart).
    async fn query_connection(&self) -> RedisResult<MultiplexedConnection> {
        let mut conn = self.query.lock().await;
        if let Some(conn) = &*conn {
            return Ok(conn.clone());
        }
        let fresh = publisher_connection(&self.client, &self.shared.config).await?;
        *conn = Some(fresh.clone());
        Ok(fresh)
    }

    /// Drops the query connection after `_error` on it.
    async fn forget_query_connection(&self, _error: RedisError) {
        self.query.lock().await.take();
    }

    fn channel(&self, topic: &str) -> String {
        let mut channel = String::with_capacity(self.shared.config.prefix.len() + topic.len());
        channel.push_str(&self.shared.config.prefix);
        channel.push_str(topic);
        channel
    }

    fn edge(&self, command: Command) {
        // The task ends only when the hub is dropped: a send cannot fail while `self` lives.
        let _ = self.commands.send(command);
    }
}

impl Hub for RedisHub {
    fn subscribe(&self, topic: &str, conn: &Handle) {
        let _edges = self.edges.lock().unwrap_or_else(|e| e.into_inner());
        let local = &self.shared.local;
        let before = local.subscribers(topic);
        local.subscribe(topic, conn);
        if self.shared.config.presence {
            self.shared.dirty.mark(topic);
        }
        if before == 0 && local.subscribers(topic) > 0 {
            self.edge(Command::Subscribe(self.channel(topic)));
        }
    }

    fn unsubscribe(&self, topic: &str, id: ConnId) {
        let _edges = self.edges.lock().unwrap_or_else(|e| e.into_inner());
        let local = &self.shared.local;
        let before = local.subscribers(topic);
        local.unsubscribe(topic, id);
        if self.shared.config.presence && before > 0 {
            self.shared.dirty.mark(topic);
        }
        if before > 0 && local.subscribers(topic) == 0 {
            self.edge(Command::Unsubscribe(self.channel(topic)));
        }
    }

    fn publish(&self, topic: &str, frame: &PreparedFrame, except: Option<ConnId>) -> usize {
        let queued = self.shared.local.publish(topic, frame, except);
        let stats = &self.shared.stats;
        // The subscribing connection sees a loss at once (it is always reading); the
        // publishing one only when it next writes.
        if !stats.publisher_up.load(Ordering::Relaxed)
            || !stats.subscriber_up.load(Ordering::Relaxed)
        {
            stats.lost.fetch_add(1, Ordering::Relaxed);
            return queued;
        }
        let message = wire::encode(self.shared.origin, frame);
        match self.outgoing.try_send((self.channel(topic), message)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                stats.dropped.fetch_add(1, Ordering::Relaxed);
            }
            Err(TrySendError::Closed(_)) => {
                stats.lost.fetch_add(1, Ordering::Relaxed);
            }
        }
        queued
    }

    fn subscribers(&self, topic: &str) -> usize {
        self.shared.local.subscribers(topic)
    }

    fn topics(&self) -> Vec<String> {
        self.shared.local.topics()
    }
}

impl std::fmt::Debug for RedisHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisHub")
            .field("server_id", &self.shared.origin)
            .field("prefix", &self.shared.config.prefix)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

async fn publisher_connection(
    client: &Client,
    config: &Config,
) -> RedisResult<MultiplexedConnection> {
    let settings = AsyncConnectionConfig::new()
        .set_connection_timeout(config.timeout)
        .set_response_timeout(config.timeout);
    client.get_multiplexed_async_connection_with_config(&settings).await
}

/// The publishing task: sends what the hub queued, in batches, until the hub is dropped.
async fn publish(
    client: Client,
    conn: MultiplexedConnection,
    mut queue: mpsc::Receiver<(String, Bytes)>,
    shared: Arc<Shared>,
) {
    let stats = &shared.stats;
    let mut conn = Some(conn);
    let mut batch = Vec::with_capacity(BATCH);
    let mut attempt = 0u32;
    let mut losses = shared.losses.load(Ordering::Relaxed);
    loop {
        let Some(mut up) = conn.take() else {
            losses = shared.losses.load(Ordering::Relaxed);
            match publisher_connection(&client, &shared.config).await {
                Ok(c) => {
                    stats.reconnects.fetch_add(1, Ordering::Relaxed);
                    stats.publisher_up.store(true, Ordering::Relaxed);
                    attempt = 0;
                    conn = Some(c);
                }
                Err(_) => {
                    // What was queued before the hub knew is lost too.
                    let sleep = tokio::time::sleep(shared.config.backoff(attempt, shared.origin));
                    attempt = attempt.saturating_add(1);
                    tokio::pin!(sleep);
                    loop {
                        tokio::select! {
                            () = &mut sleep => break,
                            message = queue.recv() => match message {
                                Some(_) => { stats.lost.fetch_add(1, Ordering::Relaxed); }
                                None => return,
                            },
                        }
                    }
                }
            }
            continue;
        };
        loop {
            batch.clear();
            let lost = shared.redis_lost.notified();
            tokio::pin!(lost);
            lost.as_mut().enable();
            if shared.losses.load(Ordering::Relaxed) != losses {
                stats.publisher_up.store(false, Ordering::Relaxed);
                break;
            }
            tokio::select! {
                n = queue.recv_many(&mut batch, BATCH) => if n == 0 {
                    return;
                },
                () = lost => continue,
            }
            let mut pipe = ::redis::pipe();
            for (channel, message) in &batch {
                pipe.publish(channel, message.as_ref()).ignore();
            }
            let n = batch.len() as u64;
            match pipe.query_async::<()>(&mut up).await {
                Ok(()) => {
                    stats.published.fetch_add(n, Ordering::Relaxed);
                }
                Err(_) => {
                    stats.failed.fetch_add(n, Ordering::Relaxed);
                    stats.publisher_up.store(false, Ordering::Relaxed);
                    break;
                }
            }
        }
    }
}

/// A number for this server, different from every other server's with overwhelming
/// probability (std's per-process random hash keys, the time and the process id).
fn server_number() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    if let Ok(t) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(t.as_nanos());
    }
    static COUNT: AtomicU64 = AtomicU64::new(0);
    h.write_u64(COUNT.fetch_add(1, Ordering::Relaxed));
    h.finish()
}

fn timed_out() -> RedisError {
    RedisError::from(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        "Redis did not answer in time",
    ))
}
