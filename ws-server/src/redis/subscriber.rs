//! The subscribing side: one Redis pub/sub connection per server, one Redis subscription per
//! topic with local subscribers, restored after every reconnect.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use ::redis::aio::{PubSub, PubSubSink};
use ::redis::{Client, Msg};
use futures_util::StreamExt;
use tokio::sync::{mpsc, oneshot};
use tokio::time::timeout;

use super::{Shared, wire};
use crate::hub::Hub;

/// What the hub asks of the subscribing task (in the order the hub's subscriptions changed).
#[derive(Debug)]
pub(super) enum Command {
    /// The first local subscriber of this channel arrived.
    Subscribe(String),
    /// The last local subscriber of this channel left.
    Unsubscribe(String),
    /// Answer once every command before this one is in effect on Redis.
    Settled(oneshot::Sender<()>),
}

/// The channels wanted and who waits for them, kept across connections.
#[derive(Default)]
struct Wanted {
    channels: HashSet<String>,
    /// `Settled` requests that arrived while Redis was unreachable.
    waiting: Vec<oneshot::Sender<()>>,
}

impl Wanted {
    /// Applies `command` while disconnected.
    fn note(&mut self, command: Command) {
        match command {
            Command::Subscribe(channel) => {
                self.channels.insert(channel);
            }
            Command::Unsubscribe(channel) => {
                self.channels.remove(&channel);
            }
            Command::Settled(tx) => self.waiting.push(tx),
        }
    }
}

/// Runs until the hub is dropped (its command sender closes).
pub(super) async fn run(
    client: Client,
    mut pubsub: Option<PubSub>,
    mut commands: mpsc::UnboundedReceiver<Command>,
    shared: Arc<Shared>,
) {
    let stats = &shared.stats;
    let mut wanted = Wanted::default();
    let mut attempt = 0u32;
    loop {
        let conn = match pubsub.take() {
            Some(conn) => conn,
            None => match timeout(shared.config.timeout, client.get_async_pubsub()).await {
                Ok(Ok(conn)) => {
                    stats.reconnects.fetch_add(1, Ordering::Relaxed);
                    conn
                }
                _ => {
                    let delay = shared.config.backoff(attempt, shared.origin);
                    attempt = attempt.saturating_add(1);
                    // Subscription changes during the outage are noted, to be restored.
                    let sleep = tokio::time::sleep(delay);
                    tokio::pin!(sleep);
                    loop {
                        tokio::select! {
                            () = &mut sleep => break,
                            command = commands.recv() => match command {
                                Some(command) => wanted.note(command),
                                None => return,
                            },
                        }
                    }
                    continue;
                }
            },
        };
        let (mut sink, mut stream) = conn.split();
        // The channels subscribed on this connection.
        let mut active: HashSet<String> = HashSet::new();
        if !wanted.channels.is_empty() {
            let channels: Vec<&str> = wanted.channels.iter().map(String::as_str).collect();
            if !matches!(timeout(shared.config.timeout, sink.subscribe(channels)).await, Ok(Ok(())))
            {
                continue;
            }
            active.clone_from(&wanted.channels);
        }
        attempt = 0;
        stats.channels.store(active.len(), Ordering::Relaxed);
        stats.subscriber_up.store(true, Ordering::Relaxed);
        for tx in wanted.waiting.drain(..) {
            let _ = tx.send(());
        }
        loop {
            tokio::select! {
                command = commands.recv() => {
                    let Some(command) = command else { return };
                    // This command and those queued behind it, as one SUBSCRIBE and one
                    // UNSUBSCRIBE (many topics changing at once cost one round trip).
                    let mut touched = Vec::new();
                    let mut next = Some(command);
                    while let Some(command) = next.take() {
                        if let Command::Subscribe(c) | Command::Unsubscribe(c) = &command {
                            touched.push(c.clone());
                        }
                        wanted.note(command);
                        if touched.len() < MAX_BATCH {
                            next = commands.try_recv().ok();
                        }
                    }
                    let ok = apply(&shared, &mut sink, &wanted, &mut active, touched).await;
                    stats.channels.store(active.len(), Ordering::Relaxed);
                    if !ok {
                        break;
                    }
                    for tx in wanted.waiting.drain(..) {
                        let _ = tx.send(());
                    }
                }
                message = stream.next() => match message {
                    Some(message) => deliver(&shared, &message),
                    None => break,
                },
            }
        }
        stats.subscriber_up.store(false, Ordering::Relaxed);
        stats.channels.store(0, Ordering::Relaxed);
        shared.losses.fetch_add(1, Ordering::Relaxed);
        shared.redis_lost.notify_waiters();
    }
}

/// Commands taken from the queue at once at most.
const MAX_BATCH: usize = 4096;

/// Brings the connection's subscriptions (`active`) in line with `wanted` for the `touched`
/// channels; false if the connection failed.
async fn apply(
    shared: &Shared,
    sink: &mut PubSubSink,
    wanted: &Wanted,
    active: &mut HashSet<String>,
    mut touched: Vec<String>,
) -> bool {
    touched.sort_unstable();
    touched.dedup();
    let (add, remove): (Vec<String>, Vec<String>) = touched
        .into_iter()
        .filter(|c| wanted.channels.contains(c) != active.contains(c))
        .partition(|c| wanted.channels.contains(c));
    let limit = shared.config.timeout;
    if !add.is_empty() {
        if !matches!(timeout(limit, sink.subscribe(&add)).await, Ok(Ok(()))) {
            return false;
        }
        active.extend(add);
    }
    if !remove.is_empty() {
        if !matches!(timeout(limit, sink.unsubscribe(&remove)).await, Ok(Ok(()))) {
            return false;
        }
        for c in &remove {
            active.remove(c);
        }
    }
    true
}

/// Delivers a message from Redis to this server's subscribers, unless this server published
/// it (its subscribers had it at once).
fn deliver(shared: &Shared, message: &Msg) {
    let stats = &shared.stats;
    let payload = message.get_payload_bytes();
    let topic = message.get_channel_name().strip_prefix(&*shared.config.prefix);
    if wire::origin(payload) == Some(shared.origin) && topic.is_some() {
        return;
    }
    match (topic, wire::decode(payload)) {
        (Some(topic), Some((_, frame))) => {
            stats.received.fetch_add(1, Ordering::Relaxed);
            shared.local.publish(topic, &frame, None);
        }
        _ => {
            stats.invalid.fetch_add(1, Ordering::Relaxed);
        }
    }
}
