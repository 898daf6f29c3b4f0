//! What the server logs, through the `tracing` facade (nothing is printed unless the
//! application installs a subscriber).
//!
//! Peers' misbehaviour (bad handshakes, protocol errors, exceeded limits) is logged per
//! connection at `debug` only: an attacker must not be able to flood the logs. Conditions the
//! operator must hear about (out of file descriptors, the memory budget spent) are `warn`, at
//! most one line per [`PERIOD`] per condition, saying how many occurrences it stands for.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ws_proto::{CapacityError, CloseInfo, Error};

use crate::stream::PeerAddr;

/// At most one warning per condition this often.
pub(crate) const PERIOD: Duration = Duration::from_secs(10);

/// A warning emitted at most once per [`PERIOD`]; the occurrences in between are counted and
/// reported with the next line.
pub(crate) struct RateLimited {
    last: Mutex<Option<Instant>>,
    since: AtomicU64,
}

impl RateLimited {
    pub(crate) const fn new() -> Self {
        RateLimited { last: Mutex::new(None), since: AtomicU64::new(0) }
    }

    /// Counts an occurrence; `Some(n)` if a line may be written now, for `n` occurrences
    /// (this one included) since the last line.
    pub(crate) fn hit(&self, now: Instant) -> Option<u64> {
        let n = self.since.fetch_add(1, Ordering::Relaxed) + 1;
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_some_and(|at| now.duration_since(at) < PERIOD) {
            return None;
        }
        *last = Some(now);
        self.since.fetch_sub(n, Ordering::Relaxed);
        Some(n)
    }
}

static ACCEPT_EXHAUSTED: RateLimited = RateLimited::new();
static BUDGET_SPENT: RateLimited = RateLimited::new();

/// `accept` failed for lack of descriptors or memory (the loop pauses and retries).
pub(crate) fn accept_exhausted(error: &std::io::Error, pause: Duration) {
    if let Some(n) = ACCEPT_EXHAUSTED.hit(Instant::now()) {
        tracing::warn!(
            %error, ?pause, occurrences = n,
            "accept failed for lack of resources; pausing before the next accept"
        );
    }
}

/// `accept` failed for another reason (a connection reset before it was accepted).
pub(crate) fn accept_failed(error: &std::io::Error) {
    tracing::debug!(%error, "accept failed");
}

/// The opening handshake did not complete (timeout, peer gone, not HTTP, refused).
pub(crate) fn handshake_failed(peer: &PeerAddr, reason: &dyn std::fmt::Display) {
    tracing::debug!(%peer, %reason, "handshake failed");
}

/// A connection ended; a failure caused by the peer is logged at `debug`, and the memory
/// budget's refusals also as a rate-limited warning.
pub(crate) fn connection_ended(peer: &PeerAddr, info: &CloseInfo) {
    let Some(error) = info.error() else {
        tracing::trace!(%peer, cause = ?info.cause, "connection closed");
        return;
    };
    tracing::debug!(%peer, %error, "connection failed");
    if let Error::Capacity(CapacityError::MemoryBudget { limit, .. }) = error {
        if let Some(n) = BUDGET_SPENT.hit(Instant::now()) {
            tracing::warn!(
                limit,
                refused = n,
                "memory budget spent: connections needing more were closed with 1013"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_period_counting_the_rest() {
        let limit = RateLimited::new();
        let start = Instant::now();
        assert_eq!(limit.hit(start), Some(1));
        for i in 1..=5 {
            assert_eq!(limit.hit(start + Duration::from_secs(i)), None);
        }
        assert_eq!(limit.hit(start + PERIOD), Some(6));
        assert_eq!(limit.hit(start + PERIOD), None);
        assert_eq!(limit.hit(start + PERIOD * 3), Some(2));
    }
}
