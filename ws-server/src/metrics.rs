//! Counters of a server, read with [`ServerHandle::metrics`](crate::ServerHandle::metrics).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// Upper bounds of the lag histogram's buckets, in milliseconds (the last bucket is
/// everything above the largest bound).
pub const LAG_BUCKETS_MS: [u64; 10] = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000];

#[derive(Debug, Default)]
pub(crate) struct Metrics {
    pub(crate) open: AtomicUsize,
    pub(crate) handshaking: AtomicUsize,
    pub(crate) accepted: AtomicU64,
    pub(crate) refused: AtomicU64,
    pub(crate) messages_in: AtomicU64,
    pub(crate) bytes_in: AtomicU64,
    pub(crate) messages_out: AtomicU64,
    pub(crate) bytes_out: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) closes: Mutex<BTreeMap<u16, u64>>,
    pub(crate) lag: [AtomicU64; LAG_BUCKETS_MS.len() + 1],
}

impl Metrics {
    pub(crate) fn record_lag(&self, lag: Duration) {
        let ms = lag.as_millis();
        let i = LAG_BUCKETS_MS
            .iter()
            .position(|&b| ms <= u128::from(b))
            .unwrap_or(LAG_BUCKETS_MS.len());
        self.lag[i].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn record_close(&self, code: u16) {
        let mut closes = self.closes.lock().unwrap_or_else(|e| e.into_inner());
        *closes.entry(code).or_default() += 1;
    }

    pub(crate) fn snapshot(&self) -> MetricsSnapshot {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        MetricsSnapshot {
            connections_open: self.open.load(Ordering::Relaxed),
            handshakes_in_progress: self.handshaking.load(Ordering::Relaxed),
            connections_accepted: load(&self.accepted),
            upgrades_refused: load(&self.refused),
            messages_in: load(&self.messages_in),
            bytes_in: load(&self.bytes_in),
            messages_out: load(&self.messages_out),
            bytes_out: load(&self.bytes_out),
            dropped: load(&self.dropped),
            closes_by_code: self.closes.lock().unwrap_or_else(|e| e.into_inner()).clone(),
            lag_histogram: std::array::from_fn(|i| load(&self.lag[i])),
        }
    }
}

/// A server's counters at one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MetricsSnapshot {
    /// WebSocket connections open now.
    pub connections_open: usize,
    /// Connections still in their opening handshake.
    pub handshakes_in_progress: usize,
    /// WebSocket connections accepted since the start.
    pub connections_accepted: u64,
    /// Upgrades refused (404, 403, 503, the hook's refusals, bad requests).
    pub upgrades_refused: u64,
    /// Data messages received.
    pub messages_in: u64,
    /// Payload bytes of the data messages received.
    pub bytes_in: u64,
    /// Data messages queued for sending (published ones once per subscriber).
    pub messages_out: u64,
    /// Payload bytes of those.
    pub bytes_out: u64,
    /// Messages dropped or refused by a backpressure policy.
    pub dropped: u64,
    /// Connections ended, by "the WebSocket connection close code" (RFC 6455 §7.1.5: the
    /// peer's code, 1005 without one, 1006 without a Close frame).
    pub closes_by_code: BTreeMap<u16, u64>,
    /// Lag samples per bucket of [`LAG_BUCKETS_MS`] (and one past the last).
    pub lag_histogram: [u64; LAG_BUCKETS_MS.len() + 1],
}
