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
    /// The traffic of the connections that ended (the open ones count their own).
    pub(crate) ended: Counts,
    pub(crate) dropped: AtomicU64,
    pub(crate) closes: Mutex<BTreeMap<u16, u64>>,
    pub(crate) lag: [AtomicU64; LAG_BUCKETS_MS.len() + 1],
}

/// A connection's traffic. Only the connection's own task writes these (a load and a store,
/// no read-modify-write, no cache line shared with other connections); the server adds them to
/// its totals when the connection ends, and a snapshot sums the open ones.
#[derive(Debug, Default)]
pub(crate) struct Counts {
    pub(crate) messages_in: AtomicU64,
    pub(crate) bytes_in: AtomicU64,
    pub(crate) messages_out: AtomicU64,
    pub(crate) bytes_out: AtomicU64,
}

impl Counts {
    /// Adds `n` to a counter that only the calling task writes.
    pub(crate) fn bump(counter: &AtomicU64, n: u64) {
        counter.store(counter.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
    }

    /// A message of `bytes` received.
    pub(crate) fn received(&self, bytes: usize) {
        Self::bump(&self.messages_in, 1);
        Self::bump(&self.bytes_in, bytes as u64);
    }

    /// A message of `bytes` handed to the connection for sending.
    pub(crate) fn sent(&self, bytes: usize) {
        Self::bump(&self.messages_out, 1);
        Self::bump(&self.bytes_out, bytes as u64);
    }

    /// Adds these counts to `totals` (which many threads may update).
    pub(crate) fn add_to(&self, totals: &Counts) {
        for (from, to) in self.fields().into_iter().zip(totals.fields()) {
            to.fetch_add(from.load(Ordering::Relaxed), Ordering::Relaxed);
        }
    }

    fn fields(&self) -> [&AtomicU64; 4] {
        [&self.messages_in, &self.bytes_in, &self.messages_out, &self.bytes_out]
    }

    fn loaded(&self) -> [u64; 4] {
        self.fields().map(|c| c.load(Ordering::Relaxed))
    }
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

    /// The counters, with the traffic of the open connections `live` (read under the lock that
    /// also covers adding an ending connection's counts to `ended`, so none is counted twice).
    pub(crate) fn snapshot<'a>(&self, live: impl Iterator<Item = &'a Counts>) -> MetricsSnapshot {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut traffic = self.ended.loaded();
        for counts in live {
            for (sum, n) in traffic.iter_mut().zip(counts.loaded()) {
                *sum = sum.wrapping_add(n);
            }
        }
        let [messages_in, bytes_in, messages_out, bytes_out] = traffic;
        MetricsSnapshot {
            connections_open: self.open.load(Ordering::Relaxed),
            handshakes_in_progress: self.handshaking.load(Ordering::Relaxed),
            connections_accepted: load(&self.accepted),
            upgrades_refused: load(&self.refused),
            messages_in,
            bytes_in,
            messages_out,
            bytes_out,
            dropped: load(&self.dropped),
            closes_by_code: self.closes.lock().unwrap_or_else(|e| e.into_inner()).clone(),
            lag_histogram: std::array::from_fn(|i| load(&self.lag[i])),
            memory_budget_used: 0,
            memory_budget_refusals: 0,
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
    /// Data messages handed to connections for sending (published ones once per subscriber;
    /// not those still queued in a send handle or dropped by a policy).
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
    /// Bytes of the server's memory budget charged now (0 without a budget).
    pub memory_budget_used: usize,
    /// Connections closed with 1013 because the memory budget had no room for them.
    pub memory_budget_refusals: u64,
}
