//! Scenarios 6, 9 and 10: a stalled reader (backpressure), cancel safety, split halves.

use std::time::{Duration, Instant};

use ws_proto::{Config, Message, Role};

use super::{END_WITHIN, FRAME_WITHIN, assert_clean_end, data_messages, finish_tcp, label, start};
use crate::harness::{App, Harness, Progress, flood_payload};
use crate::raw::{RawOpts, RawPeer, Skip, op};
use crate::rng::SplitMix;

/// Flood messages: 64 KiB each, enough of them to fill any loopback socket buffers here.
const FLOOD_SIZE: usize = 64 << 10;
const FLOOD_COUNT: usize = 200;
/// The writer must be stuck (no send returning) for this long before the texts go out.
const STUCK_FOR: Duration = Duration::from_millis(500);
/// Bound on how long the writer may keep making progress while nobody reads.
const STUCK_WITHIN: Duration = Duration::from_secs(6);
/// Texts (and Pings) go out this far apart once the writer is stuck.
const TEXT_EVERY: Duration = Duration::from_millis(100);
/// After the last text, the raw peer goes on not reading this long, so a reader that only
/// wakes up with the writer would deliver every text later than the 300 ms bound.
const TAIL: Duration = Duration::from_millis(500);
/// How late a text may reach the application.
const TEXT_WITHIN: Duration = Duration::from_millis(300);

/// Waits until the flood's live send count has not moved for [`STUCK_FOR`] (fails after
/// [`STUCK_WITHIN`]).
fn wait_until_stuck(progress: &Progress, who: &str) {
    let t0 = Instant::now();
    let (mut seen, mut moved) = (progress.get(), t0);
    loop {
        let now = Instant::now();
        let count = progress.get();
        if count != seen {
            (seen, moved) = (count, now);
        }
        assert!(count < FLOOD_COUNT, "{who}: every send returned while the peer was not reading");
        if now >= moved + STUCK_FOR {
            return;
        }
        assert!(
            now < t0 + STUCK_WITHIN,
            "{who}: the writer never got stuck: {count} sends returned in {STUCK_WITHIN:?} \
             while the peer was not reading"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Scenario 6: Stalled reader: the application floods through its write half while the raw peer
/// (with a small receive buffer) reads nothing. Once the writer's live send count has not moved
/// for 500 ms, the raw peer (still not reading) sends 5 texts and 5 Pings 100 ms apart, waits
/// 500 ms more, and then reads everything.
///
/// Asserts: the writer got stuck within 6 s (and had not finished) and stayed stuck until the
/// raw peer read again; the read half received each text within 300 ms of its sending; once the
/// raw peer reads, every flood message arrives intact and in order, and a Pong answers each
/// Ping.
pub fn stalled_reader(h: &dyn Harness, role: Role) {
    let who = label(h, role);
    let mut config = Config::default();
    config.write_buffer_high_water = 64 << 10;
    let opts = RawOpts { recv_buffer: Some(8 << 10), ..RawOpts::default() };
    let progress = Progress::default();
    let app = App::Flood { size: FLOOD_SIZE, count: FLOOD_COUNT, progress: progress.clone() };
    let (mut raw, app) = start(h, role, config, app, opts);
    let t0 = Instant::now();
    wait_until_stuck(&progress, &who);
    let stuck_at = progress.get();
    let stuck_since = Instant::now();
    let mut texts_sent = Vec::new();
    for i in 0..5 {
        std::thread::sleep(TEXT_EVERY);
        raw.send_frame(true, 0, op::TEXT, format!("text {i}").as_bytes());
        texts_sent.push(Instant::now());
        raw.send_frame(true, 0, op::PING, format!("ping {i}").as_bytes());
    }
    std::thread::sleep(TAIL);
    // (The count may move a little while the texts go out: the kernel can grow the adapter's
    // send buffer when traffic flows the other way. Stuck is judged before the texts.)
    let resumed = Instant::now();

    let mut next = 0;
    let mut pongs = Vec::new();
    let deadline = resumed + Duration::from_secs(15);
    while next < FLOOD_COUNT || pongs.len() < 5 {
        let left = deadline.saturating_duration_since(Instant::now());
        let frame = match raw.try_read_frame(left) {
            Ok(frame) => frame,
            Err(end) => panic!(
                "{who}: after resuming, {next} of {FLOOD_COUNT} messages and {} Pongs arrived, \
                 then {end}",
                pongs.len()
            ),
        };
        match frame.opcode {
            op::BINARY => {
                assert!(frame.fin, "{who}: flood message {next} was fragmented");
                assert!(next < FLOOD_COUNT, "{who}: more flood messages than were sent");
                assert!(
                    frame.payload == flood_payload(next, FLOOD_SIZE),
                    "{who}: flood message {next} is not intact or out of order"
                );
                next += 1;
            }
            op::PONG => pongs.push(String::from_utf8_lossy(&frame.payload).into_owned()),
            _ => panic!("{who}: unexpected frame while reading the flood: {frame:?}"),
        }
    }
    let drained = resumed.elapsed();
    let expected_pongs: Vec<String> = (0..5).map(|i| format!("ping {i}")).collect();
    assert_eq!(pongs, expected_pongs, "{who}: the Pongs");
    raw.send_close(1000, "");
    raw.expect_close(1000, FRAME_WITHIN, Skip::Nothing);
    finish_tcp(&mut raw, role);
    let report = app.join_within(END_WITHIN);

    // The writer's own record agrees: a gap of at least STUCK_FOR between sends while nobody
    // read.
    let before: Vec<Instant> = report.sent.iter().copied().filter(|t| *t < resumed).collect();
    let gap = before
        .windows(2)
        .map(|w| w[1].duration_since(w[0]))
        .chain(before.last().map(|t| resumed.duration_since(*t)))
        .max()
        .unwrap_or_default();
    assert!(
        gap >= STUCK_FOR,
        "{who}: the writer's sends show no {STUCK_FOR:?} pause while nobody read (longest \
         {gap:?}, {} sends)",
        before.len()
    );
    eprintln!(
        "[kit] {who} stalled_reader: stuck after {stuck_at} sends, {:?} into the stall; {} sends \
         before reading resumed; longest pause {gap:?}; everything read {drained:?} after \
         resuming",
        stuck_since.duration_since(t0),
        before.len()
    );
    // The read half kept receiving meanwhile.
    for (i, sent) in texts_sent.iter().enumerate() {
        let text = format!("text {i}");
        let arrived = report.messages.iter().find(|(_, m)| *m == Message::text(text.as_str()));
        let Some((at, _)) = arrived else {
            panic!("{who}: the application never received {text:?}")
        };
        let delay = at.saturating_duration_since(*sent);
        assert!(
            delay <= TEXT_WITHIN,
            "{who}: {text:?} reached the application {delay:?} after it was sent (stalled \
             writer blocked the reader?)"
        );
    }
    assert_clean_end(h, &report, 1000, &who);
    assert_eq!(report.sent.len(), FLOOD_COUNT, "{who}: sends that returned");
}

/// The 30 messages of the cancel-safety scenarios: small texts (with multi-byte characters),
/// 100 KiB binaries, and texts in three fragments.
fn cancel_messages() -> Vec<(u8, Vec<u8>)> {
    let mut rng = SplitMix::seeded(9);
    (0..30)
        .map(|i| match i % 3 {
            0 => (op::TEXT, format!("small {i}: héllo wörld ✓").into_bytes()),
            1 => (op::BINARY, rng.bytes(100 << 10)),
            _ => (op::TEXT, format!("fragmented {i}: ünïcödé ✓✓✓ {}", "x".repeat(i)).into_bytes()),
        })
        .collect()
}

/// Sends message `i` dribbled: small writes with pauses longer than the application's 1 ms
/// receive timer, so many receives are abandoned mid-frame.
fn send_dribbled(raw: &mut RawPeer, i: usize, opcode: u8, payload: &[u8]) {
    let pause = Duration::from_millis(2);
    if i % 3 == 2 {
        // Three fragments, cut so that multi-byte characters straddle fragment boundaries.
        let (a, rest) = payload.split_at(payload.len() / 3 + 1);
        let (b, c) = rest.split_at(rest.len() / 2 + 1);
        for (j, part) in [a, b, c].into_iter().enumerate() {
            let code = if j == 0 { opcode } else { op::CONT };
            let bytes = raw.encode(j == 2, 0, code, part);
            raw.send_dribbled(&bytes, 5, pause);
        }
    } else {
        let bytes = raw.encode(true, 0, opcode, payload);
        let chunk = if bytes.len() > 1024 { 8 << 10 } else { 3 };
        raw.send_dribbled(&bytes, chunk, pause);
    }
}

fn cancel_safety(h: &dyn Harness, role: Role, split: bool) {
    let who = label(h, role);
    let messages = cancel_messages();
    let app = App::EchoCancelling { split };
    let (mut raw, app) = start(h, role, Config::default(), app, RawOpts::default());
    for (i, (opcode, payload)) in messages.iter().enumerate() {
        send_dribbled(&mut raw, i, *opcode, payload);
        let (echo_op, echo) = raw.read_message(FRAME_WITHIN);
        assert!(
            echo_op == *opcode && echo == *payload,
            "{who}: the echo of message {i} differs (opcode {echo_op:#x}, {} bytes; sent \
             {opcode:#x}, {} bytes)",
            echo.len(),
            payload.len()
        );
    }
    raw.send_close(1000, "");
    raw.expect_close(1000, FRAME_WITHIN, Skip::Nothing);
    finish_tcp(&mut raw, role);
    let report = app.join_within(END_WITHIN);
    assert_clean_end(h, &report, 1000, &who);
    assert_eq!(data_messages(&report).len(), 30, "{who}: data messages received");
    assert!(
        report.cancelled > 0,
        "{who}: no receive was ever abandoned: the scenario tested nothing"
    );
    eprintln!(
        "[kit] {who} cancel safety (split: {split}): {} receives abandoned",
        report.cancelled
    );
}

/// Scenario 9: Cancel safety on the whole socket: 30 dribbled messages, every receive raced against
/// a 1 ms timer (blocking: a 1 ms read timeout); all 30 echoes intact and in order.
pub fn cancel_safety_socket(h: &dyn Harness, role: Role) {
    cancel_safety(h, role, false);
}

/// Scenario 9: The same on the read half, echoing through a writer task.
pub fn cancel_safety_split(h: &dyn Harness, role: Role) {
    cancel_safety(h, role, true);
}

/// Scenario 10: Split halves: 50 messages sent in one burst come back intact and in order through
/// the read half → channel → write half; then the raw peer closes and the application ends cleanly.
pub fn split_echo(h: &dyn Harness, role: Role) {
    let who = label(h, role);
    let (mut raw, app) = start(h, role, Config::default(), App::SplitEcho, RawOpts::default());
    let mut rng = SplitMix::seeded(10);
    let messages: Vec<(u8, Vec<u8>)> = (0..50)
        .map(|i| match i % 2 {
            0 => (op::TEXT, format!("split {i} {}", "ä".repeat(i * 7)).into_bytes()),
            _ => {
                let len = 1 + rng.below(1024) as usize;
                (op::BINARY, rng.bytes(len))
            }
        })
        .collect();
    let mut burst = Vec::new();
    for (opcode, payload) in &messages {
        burst.extend(raw.encode(true, 0, *opcode, payload));
    }
    raw.send_raw(&burst);
    for (i, (opcode, payload)) in messages.iter().enumerate() {
        let (echo_op, echo) = raw.read_message(FRAME_WITHIN);
        assert!(echo_op == *opcode && echo == *payload, "{who}: echo {i} differs");
    }
    raw.send_close(1000, "");
    raw.expect_close(1000, FRAME_WITHIN, Skip::Nothing);
    finish_tcp(&mut raw, role);
    let report = app.join_within(END_WITHIN);
    assert_clean_end(h, &report, 1000, &who);
    assert_eq!(data_messages(&report).len(), 50, "{who}: data messages received");
}
