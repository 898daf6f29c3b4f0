//! Pub/sub: topics, subscribers, and publishing a frame encoded once.

use std::collections::HashMap;
use std::sync::RwLock;

use ws_proto::PreparedFrame;

use crate::conn::{ConnId, Handle, Sent};

/// Where topics live. [`LocalHub`] (the default) keeps them in this process; another backend
/// can carry them across servers (it delivers to this server's subscribers through a
/// `LocalHub` of its own).
///
/// Delivery queues the same encoded frame on every subscriber ([`Handle::send_prepared`]):
/// each subscriber's queue bound and policy apply, so a slow subscriber never slows the
/// publisher or the others.
pub trait Hub: Send + Sync + 'static {
    /// Adds `conn` to `topic` (idempotent; [`Handle::subscribe`] calls it).
    fn subscribe(&self, topic: &str, conn: &Handle);

    /// Removes connection `id` from `topic`.
    fn unsubscribe(&self, topic: &str, id: ConnId);

    /// Queues `frame` for every subscriber of `topic` except `except`; returns how many
    /// subscribers of this server it was queued for.
    fn publish(&self, topic: &str, frame: &PreparedFrame, except: Option<ConnId>) -> usize;

    /// Subscribers of `topic` (on this server, for a distributed hub if it cannot tell more).
    fn subscribers(&self, topic: &str) -> usize;

    /// The topics with at least one subscriber.
    fn topics(&self) -> Vec<String>;
}

/// The in-process hub: a map from topic to its subscribers' handles.
#[derive(Debug, Default)]
pub struct LocalHub {
    topics: RwLock<HashMap<String, Vec<Handle>>>,
}

impl LocalHub {
    /// An empty hub.
    pub fn new() -> Self {
        LocalHub::default()
    }
}

impl Hub for LocalHub {
    fn subscribe(&self, topic: &str, conn: &Handle) {
        let mut topics = self.topics.write().unwrap_or_else(|e| e.into_inner());
        let members = topics.entry(topic.to_owned()).or_default();
        if !members.iter().any(|m| m.id() == conn.id()) {
            members.push(conn.clone());
        }
    }

    fn unsubscribe(&self, topic: &str, id: ConnId) {
        let mut topics = self.topics.write().unwrap_or_else(|e| e.into_inner());
        if let Some(members) = topics.get_mut(topic) {
            if let Some(i) = members.iter().position(|m| m.id() == id) {
                members.swap_remove(i);
            }
            if members.is_empty() {
                topics.remove(topic);
            }
        }
    }

    fn publish(&self, topic: &str, frame: &PreparedFrame, except: Option<ConnId>) -> usize {
        let topics = self.topics.read().unwrap_or_else(|e| e.into_inner());
        let Some(members) = topics.get(topic) else { return 0 };
        members
            .iter()
            .filter(|m| Some(m.id()) != except)
            .filter(|m| m.send_prepared(frame) == Sent::Queued)
            .count()
    }

    fn subscribers(&self, topic: &str) -> usize {
        let topics = self.topics.read().unwrap_or_else(|e| e.into_inner());
        topics.get(topic).map_or(0, Vec::len)
    }

    fn topics(&self) -> Vec<String> {
        let topics = self.topics.read().unwrap_or_else(|e| e.into_inner());
        topics.keys().cloned().collect()
    }
}
