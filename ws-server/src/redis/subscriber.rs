//! The subscribing side: one Redis pub/sub connection per server, one Redis subscription per
//! topic with local subscribers, restored after every reconnect.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use ::redis::aio::PubSub;
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
        if !wanted.channels.is_empty() {
            let channels: Vec<&str> = wanted.channels.iter().map(String::as_str).collect();
            if !matches!(timeout(shared.config.timeout, sink.subscribe(channels)).await, Ok(Ok(())))
            {
                continue;
            }
        }
        attempt = 0;
        stats.channels.store(wanted.channels.len(), Ordering::Relaxed);
        stats.subscriber_up.store(true, Ordering::Relaxed);
        for tx in wanted.waiting.drain(..) {
            let _ = tx.send(());
        }
        loop {
            tokio::select! {
                command = commands.recv() => {
                    let ok = match command {
                        None => return,
                        Some(Command::Subscribe(channel)) => {
                            let fresh = wanted.channels.insert(channel.clone());
                            !fresh || matches!(
                                timeout(shared.config.timeout, sink.subscribe(&channel)).await,
                                Ok(Ok(()))
                            )
                        }
                        Some(Command::Unsubscribe(channel)) => {
                            let known = wanted.channels.remove(&channel);
                            !known || matches!(
                                timeout(shared.config.timeout, sink.unsubscribe(&channel)).await,
                                Ok(Ok(()))
                            )
                        }
                        Some(Command::Settled(tx)) => {
                            let _ = tx.send(());
                            true
                        }
                    };
                    stats.channels.store(wanted.channels.len(), Ordering::Relaxed);
                    if !ok {
                        break;
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
