//! Large messages: 1 MiB and 4 MiB echoed intact through reads that split them at odd places.
//! (ws-tokio reads inside a frame into the receive buffer's spare capacity, the other
//! adapters into its zeroed room: both paths must give the same bytes.)

use std::time::Duration;

use ws_proto::{Config, Role};

use super::{END_WITHIN, FRAME_WITHIN, assert_clean_end, data_messages, finish_tcp, label, start};
use crate::harness::{App, Harness};
use crate::raw::{RawOpts, RawPeer, Skip, op};
use crate::rng::SplitMix;

/// The largest message: the limits are set to exactly this.
const LARGEST: usize = 4 << 20;
/// How long the raw peer waits for a large echo (debug builds unmask and check slowly).
const ECHO_WITHIN: Duration = Duration::from_secs(20);
/// Write sizes, in turn: a byte, a header's worth, odd sizes around and well past the usual
/// read sizes.
const WRITES: [usize; 8] = [1, 13, 4093, 65_537, 7, 100_003, 333_333, 8191];

/// Writes `bytes` in writes of the sizes of [`WRITES`] in turn, pausing now and then so the
/// adapter's reads end at those odd places rather than at whatever the kernel coalesced.
fn send_oddly(raw: &mut RawPeer, bytes: &[u8]) {
    let mut rest = bytes;
    for i in 0.. {
        if rest.is_empty() {
            break;
        }
        let (piece, tail) = rest.split_at(WRITES[i % WRITES.len()].min(rest.len()));
        raw.send_raw(piece);
        if i % 3 == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        rest = tail;
    }
}

/// Text of `len` bytes with multi-byte characters, so reads and fragments split characters.
fn large_text(len: usize) -> Vec<u8> {
    let unit = "wörld ✓ 𝄞 ".as_bytes();
    let mut text: Vec<u8> = unit.iter().copied().cycle().take(len).collect();
    while std::str::from_utf8(&text).is_err() {
        text.pop();
    }
    text.resize(len, b'.');
    text
}

/// Large messages: `max_frame_size` and `max_message_size` set to exactly 4 MiB; Echo. The raw
/// peer sends a 1 MiB binary in one frame, the same in three fragments cut at odd lengths, and
/// a 4 MiB text (multi-byte characters) in one frame, each in writes of odd sizes; each echo
/// must come back intact before the next is sent; then a clean close.
pub fn large_messages(h: &dyn Harness, role: Role) {
    let who = label(h, role);
    let mut config = Config::default();
    config.max_frame_size = LARGEST;
    config.max_message_size = LARGEST;
    let (mut raw, app) = start(h, role, config, App::Echo, RawOpts::default());
    let binary = SplitMix::seeded(14).bytes(1 << 20);
    let text = large_text(LARGEST);

    // One frame.
    let frame = raw.encode(true, 0, op::BINARY, &binary);
    send_oddly(&mut raw, &frame);
    let (echo_op, echo) = raw.read_message(ECHO_WITHIN);
    assert!(echo_op == op::BINARY && echo == binary, "{who}: the 1 MiB echo differs");

    // Three fragments, cut at odd lengths.
    let (a, rest) = binary.split_at(333_331);
    let (b, c) = rest.split_at(65_539);
    let mut fragments = raw.encode(false, 0, op::BINARY, a);
    fragments.extend(raw.encode(false, 0, op::CONT, b));
    fragments.extend(raw.encode(true, 0, op::CONT, c));
    send_oddly(&mut raw, &fragments);
    let (echo_op, echo) = raw.read_message(ECHO_WITHIN);
    assert!(echo_op == op::BINARY && echo == binary, "{who}: the fragmented echo differs");

    // 4 MiB of text, the most the limits allow.
    let frame = raw.encode(true, 0, op::TEXT, &text);
    send_oddly(&mut raw, &frame);
    let (echo_op, echo) = raw.read_message(ECHO_WITHIN);
    assert!(echo_op == op::TEXT && echo == text, "{who}: the 4 MiB text echo differs");

    raw.send_close(1000, "");
    raw.expect_close(1000, FRAME_WITHIN, Skip::Nothing);
    finish_tcp(&mut raw, role);
    let report = app.join_within(END_WITHIN);
    assert_clean_end(h, &report, 1000, &who);
    assert_eq!(data_messages(&report).len(), 3, "{who}: data messages received");
}
