//! Subscriber counts across servers. Each server writes its own count of each topic to Redis,
//! coalesced (a topic whose local count changed is written at most once per
//! [`FLUSH_EVERY`]), and keeps a key saying it is alive that expires [`ALIVE_FOR`] after its
//! last refresh, so the counts of a server that died stop counting without anyone cleaning up.
//!
//! Keys (`P` is the hub's prefix): `P` + `presence:` + topic, a hash from server number (hex)
//! to that server's count; `P` + `server:` + number, the server's liveness.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ::redis::aio::MultiplexedConnection;
use ::redis::{Client, RedisResult};
use tokio::sync::mpsc;
use tokio::time::{MissedTickBehavior, interval};

use super::{Shared, publisher_connection};
use crate::hub::Hub;

/// How often changed counts are written.
pub(super) const FLUSH_EVERY: Duration = Duration::from_millis(100);
/// How often a server says it is alive, and how long that holds.
const REFRESH_EVERY: Duration = Duration::from_secs(5);
const ALIVE_FOR: Duration = Duration::from_secs(15);

/// Topics whose local count changed since the last write.
#[derive(Default)]
pub(super) struct Dirty(Mutex<HashSet<String>>);

impl Dirty {
    pub(super) fn mark(&self, topic: &str) {
        let mut topics = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if !topics.contains(topic) {
            topics.insert(topic.to_owned());
        }
    }

    fn take(&self) -> HashSet<String> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

fn topic_key(prefix: &str, topic: &str) -> String {
    format!("{prefix}presence:{topic}")
}

fn server_key(prefix: &str, server: &str) -> String {
    format!("{prefix}server:{server}")
}

/// Writes this server's counts until the hub is dropped (`stop` closes), then removes them.
pub(super) async fn run(client: Client, shared: Arc<Shared>, mut stop: mpsc::Receiver<()>) {
    let me = format!("{:016x}", shared.origin);
    let prefix = shared.config.prefix.as_str();
    let mut conn: Option<MultiplexedConnection> = None;
    let mut tick = interval(FLUSH_EVERY);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let refresh_every = (REFRESH_EVERY.as_millis() / FLUSH_EVERY.as_millis()) as u64;
    let mut ticks = 0u64;
    // Every topic this server has written a count for (to remove them at the end).
    let mut written: HashSet<String> = HashSet::new();
    let mut losses = shared.losses.load(Ordering::Relaxed);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.recv() => break,
        }
        ticks += 1;
        // The subscribing connection saw Redis go: this one is gone too, though it would only
        // notice when it next writes.
        let now_losses = shared.losses.load(Ordering::Relaxed);
        if now_losses != losses {
            losses = now_losses;
            conn = None;
        }
        let fresh = conn.is_none();
        if fresh {
            conn = publisher_connection(&client, &shared.config).await.ok();
        }
        let Some(c) = conn.as_mut() else { continue };
        let mut topics = shared.dirty.take();
        if fresh {
            // A new connection may be a new Redis (restarted, empty): write everything again.
            topics.extend(shared.local.topics());
            topics.extend(written.iter().cloned());
        }
        let mut pipe = ::redis::pipe();
        if fresh || ticks % refresh_every == 0 {
            pipe.set(server_key(prefix, &me), 1)
                .arg("PX")
                .arg(ALIVE_FOR.as_millis() as u64)
                .ignore();
        }
        for topic in &topics {
            match shared.local.subscribers(topic) {
                0 => {
                    pipe.hdel(topic_key(prefix, topic), &me).ignore();
                    written.remove(topic);
                }
                n => {
                    pipe.hset(topic_key(prefix, topic), &me, n).ignore();
                    written.insert(topic.clone());
                }
            }
        }
        if pipe.cmd_iter().next().is_none() {
            continue;
        }
        if pipe.query_async::<()>(c).await.is_err() {
            // Written again in full on the next connection.
            conn = None;
        }
    }
    // The hub was dropped: take this server's counts and liveness away (best effort; if Redis
    // is unreachable the liveness key expires on its own).
    if let Some(c) = conn.as_mut() {
        let mut pipe = ::redis::pipe();
        pipe.del(server_key(prefix, &me)).ignore();
        for topic in &written {
            pipe.hdel(topic_key(prefix, topic), &me).ignore();
        }
        let _ = tokio::time::timeout(shared.config.timeout, pipe.query_async::<()>(c)).await;
    }
}

/// The subscribers of `topic` on every live server, as last written (up to [`FLUSH_EVERY`]
/// old): this server's from its own hub, the others' from Redis.
pub(super) async fn count(
    shared: &Shared,
    conn: &mut MultiplexedConnection,
    topic: &str,
) -> RedisResult<usize> {
    let prefix = shared.config.prefix.as_str();
    let me = format!("{:016x}", shared.origin);
    let counts: Vec<(String, usize)> =
        ::redis::cmd("HGETALL").arg(topic_key(prefix, topic)).query_async(conn).await?;
    let others: Vec<&(String, usize)> = counts.iter().filter(|(server, _)| *server != me).collect();
    let mut alive = ::redis::pipe();
    for (server, _) in &others {
        alive.exists(server_key(prefix, server));
    }
    let alive: Vec<bool> =
        if others.is_empty() { Vec::new() } else { alive.query_async(conn).await? };
    let remote: usize =
        others.iter().zip(&alive).filter(|(_, alive)| **alive).map(|((_, n), _)| n).sum();
    Ok(remote + shared.local.subscribers(topic))
}
