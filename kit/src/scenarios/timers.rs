//! Scenarios 7 and 8: keepalive and the Pong timeout, the idle timeout, automatic Pongs.
//! (7c, the close timeout, is [`close_timeout`](super::close_timeout).)

use std::time::{Duration, Instant};

use ws_proto::{Config, Message, Role};

use super::{END_WITHIN, FRAME_WITHIN, assert_clean_end, finish_tcp, label, start};
use crate::harness::{App, Harness};
use crate::raw::{RawOpts, Skip, op};

/// Slack on every timer: scheduling on a loaded two-core machine.
const SLACK: Duration = Duration::from_millis(400);

/// Scenario 7a: Keepalive every 200 ms, Pong timeout 300 ms, a silent peer: a Ping within 200 ms +
/// slack; answered, another Ping later; unanswered, a Close 1011 within the Pong timeout +
/// slack, then EOF. The application ends and measured a round trip.
pub fn keepalive(h: &dyn Harness, role: Role) {
    let who = label(h, role);
    let (interval, pong_timeout) = (Duration::from_millis(200), Duration::from_millis(300));
    let mut config = Config::default();
    config.keepalive_interval = Some(interval);
    config.pong_timeout = pong_timeout;
    let (mut raw, app) = start(h, role, config, App::Echo, RawOpts::default());
    let t0 = Instant::now();
    let ping = raw.read_frame(interval + SLACK);
    assert_eq!(ping.opcode, op::PING, "{who}: expected a keepalive Ping, got {ping:?}");
    assert!(
        t0.elapsed() <= interval + SLACK,
        "{who}: the first Ping came after {:?}",
        t0.elapsed()
    );
    raw.send_frame(true, 0, op::PONG, &ping.payload);
    let t1 = Instant::now();
    let again = raw.read_frame(interval + SLACK);
    assert_eq!(again.opcode, op::PING, "{who}: expected a second Ping, got {again:?}");
    assert!(
        t1.elapsed() <= interval + SLACK,
        "{who}: the second Ping came after {:?}",
        t1.elapsed()
    );
    let t2 = Instant::now();
    raw.expect_close(1011, pong_timeout + SLACK, Skip::Nothing);
    assert!(
        t2.elapsed() <= pong_timeout + SLACK,
        "{who}: the Close 1011 came {:?} after the unanswered Ping",
        t2.elapsed()
    );
    raw.expect_eof(FRAME_WITHIN);
    raw.shutdown_write();
    let report = app.join_within(END_WITHIN);
    eprintln!("[kit] {who} keepalive: application end {:?}", report.end);
    assert!(report.last_rtt.is_some(), "{who}: no round trip was measured (last_rtt None)");
}

/// Scenario 7b: Idle timeout 300 ms, a silent peer: a Close 1001 within the timeout + slack; the
/// raw peer answers it; the TCP close follows; the application ends cleanly with `None`.
pub fn idle_timeout(h: &dyn Harness, role: Role) {
    let who = label(h, role);
    let idle = Duration::from_millis(300);
    let mut config = Config::default();
    config.idle_timeout = Some(idle);
    let (mut raw, app) = start(h, role, config, App::Echo, RawOpts::default());
    let t0 = Instant::now();
    raw.expect_close(1001, idle + SLACK, Skip::Nothing);
    assert!(t0.elapsed() <= idle + SLACK, "{who}: the Close 1001 came after {:?}", t0.elapsed());
    raw.send_close(1001, "");
    finish_tcp(&mut raw, role);
    let report = app.join_within(END_WITHIN);
    assert_clean_end(h, &report, 1001, &who);
}

/// Scenario 8: Automatic Pong: Ping("abc") is answered with Pong("abc") and reported to the
/// application as `Message::Ping` (where it receives control frames at all:
/// [`Harness::control_messages`]).
pub fn auto_pong(h: &dyn Harness, role: Role) {
    let who = label(h, role);
    let (mut raw, app) = start(h, role, Config::default(), App::Echo, RawOpts::default());
    raw.send_frame(true, 0, op::PING, b"abc");
    let pong = raw.read_frame(FRAME_WITHIN);
    assert_eq!((pong.opcode, pong.payload.as_slice()), (op::PONG, &b"abc"[..]), "{who}: {pong:?}");
    raw.send_close(1000, "");
    raw.expect_close(1000, FRAME_WITHIN, Skip::Nothing);
    finish_tcp(&mut raw, role);
    let report = app.join_within(END_WITHIN);
    // Where the receive returns data only, the Pong on the wire is the whole check.
    assert!(
        !h.control_messages() || report.received().contains(&Message::Ping("abc".into())),
        "{who}: the application did not see the Ping: {:?}",
        report.received()
    );
    assert_clean_end(h, &report, 1000, &who);
}
