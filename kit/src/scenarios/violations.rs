//! Scenario 1: every protocol violation, each with its exact close code.
//!
//! The application is [`App::Echo`]. The raw peer sends the bad input and must read a Close
//! frame with exactly the code, then EOF (a FIN, not a reset), and only then closes its own
//! side, so an adapter that drops the socket before writing the Close fails here. The
//! application's first `Err` must be `recv` failing with that code.

use std::io::Write;

use flate2::Compression;
use flate2::write::DeflateEncoder;
use ws_proto::{Config, Message, Role};

use super::{END_WITHIN, FRAME_WITHIN, assert_recv_error, data_messages, label, start};
use crate::harness::{App, Harness};
use crate::raw::{RawOpts, RawPeer, Skip, close_body, op};

/// One case: the config, the raw peer's options, what it sends, the code it must get back,
/// and the text message whose echo must arrive before the Close (if any).
struct Case {
    config: Config,
    opts: RawOpts,
    code: u16,
    echo_first: Option<&'static str>,
}

impl Case {
    fn new(code: u16) -> Case {
        Case { config: Config::default(), opts: RawOpts::default(), code, echo_first: None }
    }

    fn run(self, h: &dyn Harness, role: Role, send: impl FnOnce(&mut RawPeer)) {
        let who = label(h, role);
        let (mut raw, app) = start(h, role, self.config, App::Echo, self.opts);
        send(&mut raw);
        if let Some(text) = self.echo_first {
            let (opcode, payload) = raw.read_message(FRAME_WITHIN);
            assert_eq!((opcode, payload.as_slice()), (op::TEXT, text.as_bytes()), "{who}: echo");
        }
        raw.expect_close(self.code, FRAME_WITHIN, Skip::Nothing);
        raw.expect_eof(FRAME_WITHIN);
        // Close and FIN seen: now the raw peer closes its side too, as a real peer would.
        raw.shutdown_write();
        let report = app.join_within(END_WITHIN);
        assert_recv_error(&report, self.code, &who);
        let expected: Vec<Message> = self.echo_first.map(Message::text).into_iter().collect();
        assert_eq!(data_messages(&report), expected, "{who}: data messages the application saw");
    }
}

/// An unmasked frame to a server, a masked frame to a client: 1002.
pub fn violation_wrong_masking(h: &dyn Harness, role: Role) {
    Case::new(1002).run(h, role, |raw| {
        let wrong = if raw.is_client() { None } else { Some([1, 2, 3, 4]) };
        raw.send_frame_masked(true, 0, op::TEXT, b"hello", wrong);
    });
}

/// Invalid UTF-8 in a text frame: 1007.
pub fn violation_invalid_utf8(h: &dyn Harness, role: Role) {
    Case::new(1007).run(h, role, |raw| raw.send_frame(true, 0, op::TEXT, b"hello \xff world"));
}

/// The first fragment of a text message with invalid UTF-8, and nothing more: the Close 1007
/// must come without waiting for the rest (fail fast).
pub fn violation_invalid_utf8_fail_fast(h: &dyn Harness, role: Role) {
    Case::new(1007).run(h, role, |raw| raw.send_frame(false, 0, op::TEXT, b"hello \xff"));
}

/// Reserved opcode 0x3: 1002.
pub fn violation_reserved_opcode_3(h: &dyn Harness, role: Role) {
    Case::new(1002).run(h, role, |raw| raw.send_frame(true, 0, 0x3, b""));
}

/// Reserved opcode 0xB: 1002.
pub fn violation_reserved_opcode_b(h: &dyn Harness, role: Role) {
    Case::new(1002).run(h, role, |raw| raw.send_frame(true, 0, 0xB, b""));
}

/// RSV1 without a negotiated extension: 1002.
pub fn violation_rsv1(h: &dyn Harness, role: Role) {
    Case::new(1002).run(h, role, |raw| raw.send_frame(true, 0b100, op::TEXT, b"x"));
}

/// RSV2: 1002.
pub fn violation_rsv2(h: &dyn Harness, role: Role) {
    Case::new(1002).run(h, role, |raw| raw.send_frame(true, 0b010, op::TEXT, b"x"));
}

/// RSV3: 1002.
pub fn violation_rsv3(h: &dyn Harness, role: Role) {
    Case::new(1002).run(h, role, |raw| raw.send_frame(true, 0b001, op::TEXT, b"x"));
}

/// A Ping with a 126-byte payload: 1002.
pub fn violation_control_too_long(h: &dyn Harness, role: Role) {
    Case::new(1002).run(h, role, |raw| raw.send_frame(true, 0, op::PING, &[b'p'; 126]));
}

/// A Ping without FIN: 1002.
pub fn violation_fragmented_ping(h: &dyn Harness, role: Role) {
    Case::new(1002).run(h, role, |raw| raw.send_frame(false, 0, op::PING, b"ping"));
}

/// A Close carrying 1005 (which must never be sent): 1002.
pub fn violation_close_code_1005(h: &dyn Harness, role: Role) {
    Case::new(1002).run(h, role, |raw| raw.send_frame(true, 0, op::CLOSE, &close_body(1005, b"")));
}

/// A Close carrying 999: 1002.
pub fn violation_close_code_999(h: &dyn Harness, role: Role) {
    Case::new(1002).run(h, role, |raw| raw.send_frame(true, 0, op::CLOSE, &close_body(999, b"")));
}

/// A Close with a 1-byte body: 1002.
pub fn violation_close_one_byte(h: &dyn Harness, role: Role) {
    Case::new(1002).run(h, role, |raw| raw.send_frame(true, 0, op::CLOSE, &[0x03]));
}

/// A Close whose reason is not UTF-8: 1007.
pub fn violation_close_reason_utf8(h: &dyn Harness, role: Role) {
    Case::new(1007).run(h, role, |raw| {
        raw.send_frame(true, 0, op::CLOSE, &close_body(1000, b"bye \xc3\x28"));
    });
}

/// A continuation frame with no message to continue: 1002.
pub fn violation_orphan_continuation(h: &dyn Harness, role: Role) {
    Case::new(1002).run(h, role, |raw| raw.send_frame(true, 0, op::CONT, b"tail"));
}

/// A new text frame while a fragmented message is open: 1002.
pub fn violation_text_inside_fragmented(h: &dyn Harness, role: Role) {
    Case::new(1002).run(h, role, |raw| {
        raw.send_frame(false, 0, op::TEXT, b"first ");
        raw.send_frame(true, 0, op::TEXT, b"intruder");
    });
}

/// A 64-bit payload length with the top bit set (header only): 1002.
pub fn violation_length_top_bit(h: &dyn Harness, role: Role) {
    Case::new(1002).run(h, role, |raw| {
        let header = raw.encode_header(true, 0, op::BINARY, 1 << 63);
        raw.send_raw(&header);
    });
}

/// A header announcing 1 MiB against `max_frame_size` = 64 KiB, no payload: 1009 at once.
pub fn violation_frame_too_big(h: &dyn Harness, role: Role) {
    let mut case = Case::new(1009);
    case.config.max_frame_size = 64 << 10;
    case.run(h, role, |raw| {
        let header = raw.encode_header(true, 0, op::BINARY, 1 << 20);
        raw.send_raw(&header);
    });
}

/// Two 40 KiB fragments against `max_message_size` = 64 KiB: 1009.
pub fn violation_message_too_big(h: &dyn Harness, role: Role) {
    let mut case = Case::new(1009);
    case.config.max_message_size = 64 << 10;
    case.run(h, role, |raw| {
        let fragment = vec![b'f'; 40 << 10];
        raw.send_frame(false, 0, op::BINARY, &fragment);
        raw.send_frame(false, 0, op::CONT, &fragment);
    });
}

/// A small compressed message (permessage-deflate negotiated) that inflates past
/// `max_message_size` = 64 KiB: 1009.
pub fn violation_inflate_bomb(h: &dyn Harness, role: Role) {
    let mut case = Case::new(1009);
    case.config.max_message_size = 64 << 10;
    case.config.deflate = Some(Default::default());
    case.opts.deflate = true;
    case.run(h, role, |raw| {
        assert!(raw.deflate, "permessage-deflate was not negotiated");
        let bomb = deflate_message(&vec![0u8; 1 << 20]);
        assert!(bomb.len() < 4 << 10, "the bomb should be small: {} bytes", bomb.len());
        raw.send_frame(true, 0b100, op::BINARY, &bomb);
    });
}

/// A valid text message followed in the same write by a bad frame: the echo must come before
/// the Close.
pub fn violation_after_valid_message(h: &dyn Harness, role: Role) {
    let mut case = Case::new(1002);
    case.echo_first = Some("hello");
    case.run(h, role, |raw| {
        let mut bytes = raw.encode(true, 0, op::TEXT, b"hello");
        bytes.extend(raw.encode(true, 0, 0x3, b""));
        raw.send_raw(&bytes);
    });
}

/// `data` compressed as one permessage-deflate message: raw DEFLATE, sync-flushed, without
/// the trailing `00 00 ff ff` (RFC 7692 §7.2.1).
pub(crate) fn deflate_message(data: &[u8]) -> Vec<u8> {
    let mut encoder = DeflateEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(data).expect("compress");
    encoder.flush().expect("sync flush");
    let mut out = encoder.get_ref().clone();
    assert!(out.ends_with(&[0, 0, 0xff, 0xff]), "a sync flush ends with 00 00 ff ff");
    out.truncate(out.len() - 4);
    out
}
