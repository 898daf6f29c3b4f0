//! A memory budget shared by many connections: what a server's peers may make it hold, summed.
//!
//! Every limit in [`Config`](crate::Config) is per connection, so N connections can hold N
//! times the worst case of one. A [`MemoryBudget`] bounds the sum of what peers' input makes
//! connections hold: receive buffers (a frame is buffered whole) and the message in progress
//! (the fragments already delivered, counted after inflating when compressed). Put one budget
//! in the [`Config`](crate::Config) of every connection of a server (`Config` is `Clone`; the
//! clones share the budget).
//!
//! # The policy
//!
//! Each connection holds its first [`floor`](MemoryBudget::with_floor) bytes (64 KiB by
//! default) without asking: ordinary traffic never touches the budget and costs nothing. Past
//! the floor, a connection charges the budget as its buffers grow (and gives the charge back as
//! they shrink, when a message completes and when the connection ends). When a charge does not
//! fit, that connection fails with [`CapacityError::MemoryBudget`](crate::CapacityError) and
//! close code 1013 (try again later): the peer asking for more memory is refused, the others
//! keep what they hold, and every connection can still exchange messages up to the floor. The
//! process never goes past the budget because of its peers, whatever their number.
//!
//! # What it costs
//!
//! The memory held because of peers' input is at most `limit + connections × floor`, plus
//! one growth step per connection in flight (a receive buffer grows by at most four times what
//! has arrived and one read's worth, charged before it grows where the input call can refuse
//! it, and inflating stops at the room left). Outgoing queues are not charged: they
//! are bounded per connection by `write_buffer_high_water` (the adapters stop reading while a
//! peer does not read), and the application decides what it sends.
//!
//! A charge is two atomic operations, made only by connections past their floor.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Bytes every connection holds without charging the budget, by default.
pub const DEFAULT_FLOOR: usize = 64 << 10;

/// A budget of bytes shared by the connections whose [`Config`](crate::Config) carries a clone
/// of it. See the [module documentation](crate::budget) for the policy.
///
/// ```
/// use ws_proto::{Config, MemoryBudget};
/// let budget = MemoryBudget::new(256 << 20);
/// let mut config = Config::default();
/// config.memory_budget = Some(budget.clone());
/// // ... every connection of the server gets `config.clone()` ...
/// assert_eq!(budget.used(), 0);
/// ```
#[derive(Clone)]
pub struct MemoryBudget {
    inner: Arc<Inner>,
}

struct Inner {
    limit: usize,
    floor: usize,
    used: AtomicUsize,
    refused: AtomicU64,
}

impl MemoryBudget {
    /// A budget of `limit` bytes, with the default floor ([`DEFAULT_FLOOR`]).
    pub fn new(limit: usize) -> Self {
        Self::with_floor(limit, DEFAULT_FLOOR)
    }

    /// A budget of `limit` bytes; each connection holds its first `floor` bytes without
    /// charging it.
    pub fn with_floor(limit: usize, floor: usize) -> Self {
        let inner = Inner { limit, floor, used: AtomicUsize::new(0), refused: AtomicU64::new(0) };
        MemoryBudget { inner: Arc::new(inner) }
    }

    /// The budget, in bytes.
    pub fn limit(&self) -> usize {
        self.inner.limit
    }

    /// The bytes each connection holds without charging the budget.
    pub fn floor(&self) -> usize {
        self.inner.floor
    }

    /// Bytes charged now, summed over the connections.
    pub fn used(&self) -> usize {
        self.inner.used.load(Ordering::Relaxed)
    }

    /// Bytes left to charge.
    pub fn available(&self) -> usize {
        self.inner.limit.saturating_sub(self.used())
    }

    /// How many connections were refused (and failed with 1013) since the budget was made.
    pub fn refusals(&self) -> u64 {
        self.inner.refused.load(Ordering::Relaxed)
    }

    /// Takes `n` bytes if they fit.
    fn try_take(&self, n: usize) -> bool {
        let before = self.inner.used.fetch_add(n, Ordering::Relaxed);
        if before.saturating_add(n) <= self.inner.limit {
            return true;
        }
        self.inner.used.fetch_sub(n, Ordering::Relaxed);
        false
    }

    fn give_back(&self, n: usize) {
        self.inner.used.fetch_sub(n, Ordering::Relaxed);
    }
}

impl fmt::Debug for MemoryBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryBudget")
            .field("limit", &self.limit())
            .field("floor", &self.floor())
            .field("used", &self.used())
            .finish()
    }
}

/// Two configs are equal only if they share the same budget.
impl PartialEq for MemoryBudget {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Eq for MemoryBudget {}

/// One connection's charge against a budget; given back when dropped.
#[derive(Debug)]
pub(crate) struct Charge {
    budget: MemoryBudget,
    charged: usize,
}

impl Charge {
    pub(crate) fn new(budget: MemoryBudget) -> Self {
        Charge { budget, charged: 0 }
    }

    /// Reserves room for up to `want` more bytes on top of `held`, before producing them (so
    /// connections working at once cannot each count on the same room); returns how many
    /// bytes were reserved (`want`, or what was left). The next [`set_held`](Self::set_held)
    /// settles the charge to what is actually held.
    #[cfg_attr(not(feature = "deflate"), allow(dead_code))] // only inflating reserves
    pub(crate) fn reserve(&mut self, held: usize, want: usize) -> usize {
        let need = held.saturating_add(want).saturating_sub(self.budget.floor());
        let Some(extra) = need.checked_sub(self.charged).filter(|&e| e > 0) else {
            return want;
        };
        let inner = &self.budget.inner;
        let mut used = inner.used.load(Ordering::Relaxed);
        loop {
            let take = extra.min(inner.limit.saturating_sub(used));
            match inner.used.compare_exchange_weak(
                used,
                used + take,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    self.charged += take;
                    return want - (extra - take).min(want);
                }
                Err(now) => used = now,
            }
        }
    }

    /// Sets what the connection holds to `held` bytes. Returns `false` (and charges nothing
    /// more) if the part over the floor does not fit in the budget.
    pub(crate) fn set_held(&mut self, held: usize) -> bool {
        let want = held.saturating_sub(self.budget.floor());
        if want > self.charged {
            if !self.budget.try_take(want - self.charged) {
                return false;
            }
        } else if want < self.charged {
            self.budget.give_back(self.charged - want);
        }
        self.charged = want;
        true
    }

    /// The budget's limit.
    pub(crate) fn limit(&self) -> usize {
        self.budget.limit()
    }

    /// Counts a connection refused (its charge did not fit, or inflating stopped at what
    /// [`reserve`](Self::reserve) gave).
    pub(crate) fn note_refusal(&self) {
        self.budget.inner.refused.fetch_add(1, Ordering::Relaxed);
    }

    /// Bytes charged now.
    #[cfg(test)]
    pub(crate) fn charged(&self) -> usize {
        self.charged
    }
}

impl Drop for Charge {
    fn drop(&mut self) {
        self.budget.give_back(self.charged);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_floor_is_free_and_the_rest_is_shared() {
        let budget = MemoryBudget::with_floor(1000, 100);
        let mut a = Charge::new(budget.clone());
        let mut b = Charge::new(budget.clone());
        assert!(a.set_held(100));
        assert_eq!(budget.used(), 0);
        assert!(a.set_held(700));
        assert_eq!(budget.used(), 600);
        assert!(b.set_held(500));
        assert_eq!(budget.used(), 1000);
        assert!(!b.set_held(501), "one byte over the budget");
        assert_eq!((budget.used(), b.charged()), (1000, 400));
        assert!(a.set_held(50));
        assert_eq!(budget.used(), 400);
        drop(b);
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn reserving_takes_what_is_left_and_settles_later() {
        let budget = MemoryBudget::with_floor(1000, 100);
        let (mut a, mut b) = (Charge::new(budget.clone()), Charge::new(budget.clone()));
        assert_eq!(a.reserve(50, 40), 40, "within the floor");
        assert_eq!(budget.used(), 0);
        assert_eq!(a.reserve(50, 750), 750);
        assert_eq!(budget.used(), 700);
        assert_eq!(b.reserve(0, 500), 400, "the floor and the 300 left");
        assert_eq!(b.reserve(0, 500), 400, "a second reservation takes nothing more");
        assert_eq!(budget.used(), 1000);
        assert!(a.set_held(60));
        assert_eq!(budget.used(), 300);
        drop(b);
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn configs_are_equal_when_they_share_a_budget() {
        let budget = MemoryBudget::new(1);
        assert_eq!(budget, budget.clone());
        assert_ne!(budget, MemoryBudget::new(1));
    }
}
