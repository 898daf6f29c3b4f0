//! Deadlines: keepalive Ping, Pong timeout, idle timeout, message deadline, close timeout, the
//! transport's end (`lifecycle`) and giving idle buffers back.
//!
//! The core never reads a clock. It remembers when things happened (from the `now` passed with
//! each input) and reports the next instant it needs to act through `poll_timeout`; the adapter
//! sleeps until then and calls `handle_timeout`.

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::lifecycle::Phase;
use super::{Connection, State};
use crate::close::CloseCode;
use crate::config::Config;
use crate::event::CloseCause;
use crate::frame::OpCode;

#[derive(Debug)]
pub(crate) struct Timers {
    /// When bytes last arrived (or the connection started).
    last_recv: Instant,
    /// The Ping whose Pong we are waiting for, to measure the round trip.
    probe: Option<(Bytes, Instant)>,
    /// A keepalive Ping is unanswered; the Pong timeout runs.
    keepalive_pending: bool,
    keepalive_count: u64,
    /// When the last keepalive Ping went out (or the connection started).
    last_ping: Instant,
    /// When the connection started (for `max_lifetime`).
    started: Instant,
    /// Pongs that answered our Ping (each one updated `last_rtt`).
    pub(crate) rtt_samples: u64,
    /// The application's keepalive Ping payloads, if it supplies them.
    pub(crate) ping_payload: Option<PingPayload>,
    close_deadline: Option<Instant>,
    /// When idle buffers were last given back (or the connection started): the next release
    /// waits `release_buffers_after` past this as well as past the last input, so a connection
    /// that only sends (a silent subscriber) gives its write buffer back at most once per period
    /// instead of after every message, and a release never leaves a deadline in the past.
    released_at: Instant,
    pub(crate) last_rtt: Option<Duration>,
    /// While no keepalive Ping is unanswered: the earliest of the open-state deadlines that do
    /// not move with `last_recv` (a keepalive Ping sent whatever the traffic, the lifetime)...
    fixed: Option<Instant>,
    /// ...and the smallest offset past `last_recv` of those that do (a keepalive Ping after
    /// silence, the idle timeout). Both change only when a keepalive Ping goes out, so the
    /// deadline asked for several times per message costs an addition and two comparisons.
    after_recv: Option<Duration>,
    /// When the incoming message in progress must be complete (`message_timeout` past its
    /// first frame's header); `None` between messages, once input stopped, or with no
    /// `message_timeout`. Set and cleared once per message (never for a small frame taken
    /// whole), so it is a third cached part of the open-state deadline.
    message_deadline: Option<Instant>,
}

impl Timers {
    pub(crate) fn new(config: &Config, now: Instant) -> Self {
        let mut timers = Timers {
            last_recv: now,
            probe: None,
            keepalive_pending: false,
            keepalive_count: 0,
            last_ping: now,
            started: now,
            rtt_samples: 0,
            ping_payload: None,
            close_deadline: None,
            released_at: now,
            last_rtt: None,
            fixed: None,
            after_recv: None,
            message_deadline: None,
        };
        timers.after_recv = match (config.keepalive_interval, config.keepalive_while_busy) {
            (Some(interval), false) => earliest_duration(Some(interval), config.idle_timeout),
            _ => config.idle_timeout,
        };
        timers.refresh_fixed(config);
        timers
    }

    /// Recomputes `fixed` (after `last_ping` moved).
    fn refresh_fixed(&mut self, config: &Config) {
        let keepalive = match config.keepalive_interval {
            Some(interval) if config.keepalive_while_busy => Some(self.last_ping + interval),
            _ => None,
        };
        self.fixed = earliest(keepalive, self.lifetime_deadline(config));
    }

    /// The earliest open-state deadline while no keepalive Ping is unanswered: what the
    /// general search over every deadline would give, from the three cached parts.
    fn quiet_deadline(&self) -> Option<Instant> {
        let open = earliest(self.fixed, self.after_recv.map(|d| self.last_recv + d));
        earliest(open, self.message_deadline)
    }

    /// The first frame of a data message arrived (its header) at `now`.
    #[inline]
    pub(crate) fn on_message_start(&mut self, now: Instant, config: &Config) {
        self.message_deadline = config.message_timeout.map(|d| now + d);
    }

    /// The message in progress is complete, or no more input will be read.
    #[inline]
    pub(crate) fn on_message_end(&mut self) {
        self.message_deadline = None;
    }

    pub(crate) fn on_receive(&mut self, now: Instant) {
        self.last_recv = self.last_recv.max(now);
    }

    pub(crate) fn on_ping_sent(&mut self, now: Instant, payload: &[u8]) {
        self.probe = Some((Bytes::copy_from_slice(payload), now));
    }

    pub(crate) fn on_pong(&mut self, now: Instant, payload: &[u8]) {
        if let Some((expected, sent)) = &self.probe {
            if expected == payload {
                self.last_rtt = Some(now.saturating_duration_since(*sent));
                self.rtt_samples += 1;
                self.probe = None;
                self.keepalive_pending = false;
            }
        }
    }

    pub(crate) fn arm_close(&mut self, now: Instant, config: &Config) {
        self.close_deadline = Some(now + config.close_timeout);
    }

    pub(crate) fn disarm_close(&mut self) {
        self.close_deadline = None;
    }

    fn keepalive_deadline(&self, config: &Config) -> Option<Instant> {
        match config.keepalive_interval {
            Some(interval) if !self.keepalive_pending => {
                let from =
                    if config.keepalive_while_busy { self.last_ping } else { self.last_recv };
                Some(from + interval)
            }
            _ => None,
        }
    }

    fn pong_deadline(&self, config: &Config) -> Option<Instant> {
        if !self.keepalive_pending {
            return None;
        }
        // Whatever arrives after the Ping proves the peer alive, even if its Pong is stuck
        // behind a large message; only silence for `pong_timeout` counts.
        let sent = self.probe.as_ref().map_or(self.last_recv, |(_, t)| *t);
        Some(sent.max(self.last_recv) + config.pong_timeout)
    }

    fn idle_deadline(&self, config: &Config) -> Option<Instant> {
        config.idle_timeout.map(|d| self.last_recv + d)
    }

    fn lifetime_deadline(&self, config: &Config) -> Option<Instant> {
        config.max_lifetime.map(|d| self.started + d)
    }
}

/// Makes the payload of keepalive Ping number `n` (1, 2, ...); see
/// [`Connection::set_ping_payload`].
pub(crate) struct PingPayload(Box<dyn FnMut(u64) -> Vec<u8> + Send>);

impl core::fmt::Debug for PingPayload {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("PingPayload(..)")
    }
}

fn earliest_duration(a: Option<Duration>, b: Option<Duration>) -> Option<Duration> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

impl Connection {
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        if self.phase != Phase::Open {
            return self.linger_deadline();
        }
        let t = &self.timers;
        let release = self.release_deadline();
        let c = &self.config;
        let open_timers = c.keepalive_interval.is_some()
            || c.idle_timeout.is_some()
            || c.max_lifetime.is_some()
            || c.message_timeout.is_some();
        if self.state != State::Open || !open_timers {
            // The common case (no keepalive, no idle timeout, no message deadline) without the
            // general search: this runs several times per message in every adapter's loop.
            return earliest(t.close_deadline, release);
        }
        if t.keepalive_pending {
            // For one round trip per keepalive interval: the general search.
            return self.searched_deadline(release);
        }
        let deadline = earliest(t.quiet_deadline(), release);
        debug_assert_eq!(deadline, self.searched_deadline(release));
        deadline
    }

    /// The earliest of every open-state deadline (`close_deadline` is never armed while the
    /// state is open).
    fn searched_deadline(&self, release: Option<Instant>) -> Option<Instant> {
        let t = &self.timers;
        [
            t.close_deadline,
            t.keepalive_deadline(&self.config),
            t.pong_deadline(&self.config),
            t.idle_deadline(&self.config),
            t.lifetime_deadline(&self.config),
            t.message_deadline,
            release,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// When idle buffers are given back: `release_buffers_after` past the last input and the
    /// last release, while there is something to give back.
    fn release_deadline(&self) -> Option<Instant> {
        self.holds_idle_buffers().then(|| self.release_due())?
    }

    fn release_due(&self) -> Option<Instant> {
        let after = self.config.release_buffers_after?;
        Some(self.timers.last_recv.max(self.timers.released_at) + after)
    }

    /// Runs the timers that are due at `now`: sends a keepalive Ping, gives up on a silent peer
    /// (Pong timeout: close 1011; close timeout), fails a message not finished in time (1008),
    /// starts closing an idle connection (1001),
    /// moves the transport's end along (see [`Transport`](crate::Transport)), and gives back
    /// the buffers of a connection that has been idle for `release_buffers_after`. Calling it
    /// early, or more than once, is harmless.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.phase != Phase::Open {
            if self.linger_deadline().is_some_and(|t| now >= t) {
                self.linger_expired(now);
            }
            return;
        }
        let due = |d: Option<Instant>| d.is_some_and(|d| now >= d);
        if due(self.release_due()) {
            self.release_buffers();
            self.timers.released_at = now;
        }
        if self.state == State::Closing && due(self.timers.close_deadline) {
            self.finish(now, CloseCause::CloseTimeout);
            return;
        }
        if self.state != State::Open {
            return;
        }
        if due(self.timers.message_deadline) {
            // Cleared first: the failure may wait for the events before it to be taken, and
            // the deadline must not stay in the past meanwhile.
            self.timers.on_message_end();
            if let Some(timeout) = self.config.message_timeout {
                let err = crate::error::CapacityError::MessageTimeout { timeout };
                let _ = self.fail(now, err.into());
            }
            return;
        }
        if due(self.timers.pong_deadline(&self.config)) {
            self.send_close_frame(Some(CloseCode::INTERNAL_ERROR), "keepalive timeout");
            self.finish(now, CloseCause::PongTimeout);
            return;
        }
        // Cannot fail: the connection is open and the code and reason are valid.
        if due(self.timers.idle_deadline(&self.config)) {
            let _ = self.close(now, CloseCode::GOING_AWAY, "idle timeout");
            return;
        }
        if due(self.timers.lifetime_deadline(&self.config)) {
            let _ = self.close(now, CloseCode::GOING_AWAY, "max lifetime");
            return;
        }
        if due(self.timers.keepalive_deadline(&self.config)) {
            let t = &mut self.timers;
            t.keepalive_count += 1;
            let mut payload = match &mut t.ping_payload {
                Some(PingPayload(make)) => make(t.keepalive_count),
                None => t.keepalive_count.to_be_bytes().to_vec(),
            };
            payload.truncate(125);
            t.last_ping = now;
            t.refresh_fixed(&self.config);
            t.keepalive_pending = true;
            t.on_ping_sent(now, &payload);
            self.queue_control(OpCode::Ping, &payload);
        }
    }

    /// Supplies the payload of every keepalive Ping: `make(n)` for the `n`-th Ping (from 1),
    /// truncated to 125 bytes. The default is `n` as 8 big-endian bytes. The Pong that echoes
    /// it measures the round trip ([`last_rtt`](Self::last_rtt)).
    pub fn set_ping_payload(&mut self, make: impl FnMut(u64) -> Vec<u8> + Send + 'static) {
        self.timers.ping_payload = Some(PingPayload(Box::new(make)));
    }

    /// How many Pongs answered one of our Pings so far (each one set
    /// [`last_rtt`](Self::last_rtt)): a new sample when this grows.
    pub fn rtt_samples(&self) -> u64 {
        self.timers.rtt_samples
    }
}
