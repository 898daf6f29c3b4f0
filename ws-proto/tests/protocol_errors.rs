//! Every way a peer can break RFC 6455, and the exact close code the core sends back.

mod common;

use std::time::Instant;

use common::*;
use ws_proto::frame::OpCode;
use ws_proto::{
    CapacityError, CloseCause, CloseCode, Config, Connection, Error, Event, ProtocolError, Role,
    State, Transport,
};

/// Feeds `input` to a server and asserts it failed with `err`: exactly one Close with `code`
/// queued, the transport shut down and drained until the peer's end of stream, and the failure
/// reported once, by the last event.
fn server_fails(input: &[u8], err: Error, code: u16) {
    let now = Instant::now();
    let mut s = server(now);
    s.handle_data(now, input);
    let mut events = take_events(&mut s);
    assert!(!matches!(events.last(), Some(Event::Closed(_))), "Closed waits for the transport");
    assert_eq!(s.transport(), Transport::Shutdown, "input {input:x?}");
    let out = take_output(&mut s);
    s.handle_write_shutdown(now);
    assert_eq!(s.transport(), Transport::Drain, "a failed peer may still be sending");
    assert_eq!(s.poll_timeout(), Some(now + Config::default().close_timeout));
    s.handle_data(now, b"unread input is discarded");
    s.handle_eof(now);
    assert_eq!(s.transport(), Transport::Close);
    events.extend(take_events(&mut s));
    let frames = decode_frames(&out);
    let closes: Vec<_> = frames.iter().filter(|(h, _)| h.opcode == OpCode::Close).collect();
    assert_eq!(closes.len(), 1, "one Close frame for {input:x?}");
    assert_eq!(sent_close_code(&out), Some(code), "close code for {input:x?}");
    assert!(closes[0].0.mask.is_none(), "servers never mask");
    let Some(Event::Closed(info)) = events.last() else { panic!("no Closed event: {events:?}") };
    assert_eq!(events.iter().filter(|e| matches!(e, Event::Closed(_))).count(), 1);
    assert_eq!(info.error(), Some(err.clone()), "reported once, with its cause");
    let expected = match err {
        Error::Protocol(e) => CloseCause::Protocol(e),
        Error::Capacity(e) => CloseCause::Capacity(e),
        Error::Usage(_) => unreachable!(),
    };
    assert_eq!(info.cause, expected);
    assert!(!info.clean);
    assert_eq!(info.sent.as_ref().map(|f| f.code.0), Some(code));
    assert_eq!(s.state(), State::Closed);
    // Nothing more is accepted or emitted.
    s.handle_data(now, &client_frame(OpCode::Text, true, b"late"));
    assert!(take_events(&mut s).is_empty());
    assert!(take_output(&mut s).is_empty());
}

fn proto(e: ProtocolError) -> Error {
    Error::Protocol(e)
}

#[test]
fn reserved_bits_without_extension() {
    for b0 in [0xc1, 0xa1, 0x91, 0xf1] {
        server_fails(&raw_frame(b0, Some(KEY), b"x"), proto(ProtocolError::ReservedBits), 1002);
    }
}

#[test]
fn reserved_opcodes() {
    for op in (3..=7).chain(0xb..=0xf) {
        let frame = raw_frame(0x80 | op, Some(KEY), b"");
        server_fails(&frame, proto(ProtocolError::ReservedOpcode(op)), 1002);
    }
}

#[test]
fn masking_rules_per_role() {
    let unmasked = server_frame(OpCode::Text, true, b"hi");
    server_fails(&unmasked, proto(ProtocolError::UnmaskedFrame), 1002);

    let now = Instant::now();
    let mut c = client(now);
    let masked = client_frame(OpCode::Text, true, b"hi");
    c.handle_data(now, &masked);
    assert!(take_events(&mut c).is_empty());
    assert_eq!(c.close_info().unwrap().error(), Some(proto(ProtocolError::MaskedFrame)));
    let out = take_output(&mut c);
    assert_eq!(sent_close_code(&out), Some(1002));
    assert!(decode_frames(&out)[0].0.mask.is_some(), "clients always mask");

    // A server that explicitly allows unmasked frames (trusted links only).
    let mut config = Config::default();
    config.accept_unmasked_frames = true;
    let mut s = Connection::new(Role::Server, config, now);
    s.handle_data(now, &unmasked);
    assert!(matches!(take_events(&mut s)[0], Event::Data { .. }));
}

#[test]
fn control_frame_rules() {
    let fragmented_ping = raw_frame(0x09, Some(KEY), b"");
    server_fails(&fragmented_ping, proto(ProtocolError::FragmentedControlFrame), 1002);
    let long_ping = client_frame(OpCode::Ping, true, &[0; 126]);
    server_fails(&long_ping, proto(ProtocolError::ControlFrameTooLong), 1002);
    let long_close = client_frame(OpCode::Close, true, &[0x03; 126]);
    server_fails(&long_close, proto(ProtocolError::ControlFrameTooLong), 1002);
}

#[test]
fn length_with_top_bit_set() {
    let mut f = vec![0x82, 0xff];
    f.extend_from_slice(&[0x80, 0, 0, 0, 0, 0, 0, 1]);
    f.extend_from_slice(&KEY);
    server_fails(&f, proto(ProtocolError::InvalidLength), 1002);
}

#[test]
fn continuation_rules() {
    let lone = client_frame(OpCode::Continuation, true, b"x");
    server_fails(&lone, proto(ProtocolError::UnexpectedContinuation), 1002);

    let mut nested = client_frame(OpCode::Text, false, b"a");
    nested.extend(client_frame(OpCode::Binary, true, b"b"));
    server_fails(&nested, proto(ProtocolError::ExpectedContinuation), 1002);

    let mut nested_text = client_frame(OpCode::Binary, false, b"a");
    nested_text.extend(client_frame(OpCode::Text, false, b"b"));
    server_fails(&nested_text, proto(ProtocolError::ExpectedContinuation), 1002);
}

#[test]
fn invalid_utf8_single_and_fragmented() {
    server_fails(
        &client_frame(OpCode::Text, true, b"a\xffb"),
        proto(ProtocolError::InvalidUtf8),
        1007,
    );
    // A code point split across fragments is fine; an invalid one across fragments is not.
    let mut ok = client_frame(OpCode::Text, false, &"€".as_bytes()[..1]);
    ok.extend(client_frame(OpCode::Continuation, true, &"€".as_bytes()[1..]));
    let (r, events, _) = feed_server(&ok);
    assert_eq!(r, Ok(()));
    assert_eq!(events.len(), 2);
    let mut bad = client_frame(OpCode::Text, false, b"\xe2\x82");
    bad.extend(client_frame(OpCode::Continuation, true, b"\x28"));
    server_fails(&bad, proto(ProtocolError::InvalidUtf8), 1007);
    // A message that ends in the middle of a code point.
    let mut truncated = client_frame(OpCode::Text, false, b"ok");
    truncated.extend(client_frame(OpCode::Continuation, true, b"\xf0\x9f"));
    server_fails(&truncated, proto(ProtocolError::InvalidUtf8), 1007);
}

#[test]
fn invalid_utf8_fails_fast_mid_frame() {
    // Autobahn 6.4.x: the invalid byte arrives first, the rest of the frame much later.
    let frame = client_frame(OpCode::Text, true, "κόσμε\u{1}\u{2}".as_bytes());
    let mut frame_bad = frame.clone();
    // Corrupt the payload byte after "κόσμε" (10 bytes) into 0xF4 0x90 (beyond U+10FFFF).
    let body = frame.len() - 12;
    frame_bad[body + 10] = 0xf4 ^ KEY[(10) % 4];
    frame_bad[body + 11] = 0x90 ^ KEY[(11) % 4];
    let now = Instant::now();
    let mut s = server(now);
    // Everything up to and including the bad bytes, but not the whole frame.
    s.handle_data(now, &frame_bad[..body + 11]);
    assert_eq!(s.state(), State::Open, "0xF4 alone can still start a valid code point");
    s.handle_data(now, &frame_bad[body + 11..body + 12]);
    assert_eq!(s.state(), State::Closed, "failed before the rest of the frame arrived");
    assert_eq!(s.close_info().unwrap().error(), Some(proto(ProtocolError::InvalidUtf8)));
    take_events(&mut s);
    assert_eq!(sent_close_code(&take_output(&mut s)), Some(1007));
}

#[test]
fn close_payloads() {
    server_fails(
        &client_frame(OpCode::Close, true, &[0x03]),
        proto(ProtocolError::CloseTooShort),
        1002,
    );
    for code in [0u16, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535] {
        let f = client_frame(OpCode::Close, true, &close_body(code, ""));
        server_fails(&f, proto(ProtocolError::InvalidCloseCode(code)), 1002);
    }
    let bad_reason = client_frame(OpCode::Close, true, &[0x03, 0xe8, 0xce, 0xba, 0xff]);
    server_fails(&bad_reason, proto(ProtocolError::InvalidUtf8), 1007);
}

#[test]
fn valid_close_codes_are_echoed() {
    for code in (1000..=1003).chain(1007..=1014).chain([3000, 3999, 4000, 4999]) {
        let (r, events, out) =
            feed_server(&client_frame(OpCode::Close, true, &close_body(code, "bye")));
        assert_eq!(r, Ok(()));
        assert_eq!(sent_close_code(&out), Some(code), "echo of {code}");
        let Some(Event::Closed(info)) = events.last() else { panic!() };
        assert!(info.clean);
        assert_eq!(info.code(), CloseCode(code));
        assert_eq!(info.reason(), "bye");
    }
    // An empty Close is answered with an empty Close.
    let (_, events, out) = feed_server(&client_frame(OpCode::Close, true, b""));
    let frames = decode_frames(&out);
    assert_eq!((frames[0].0.opcode, frames[0].1.len()), (OpCode::Close, 0));
    assert_eq!(events[0], Event::CloseReceived(None));
    let Some(Event::Closed(info)) = events.last() else { panic!() };
    assert_eq!(info.code(), CloseCode::NO_STATUS);
}

#[test]
fn limits_fail_with_1009_before_buffering() {
    let now = Instant::now();
    let mut config = Config::default();
    config.max_frame_size = 100;
    config.max_message_size = 150;
    // A header announcing a frame over the limit fails before any payload arrives.
    let mut s = Connection::new(Role::Server, config.clone(), now);
    let big = client_frame(OpCode::Binary, true, &[0; 101]);
    let err = CapacityError::FrameTooLarge { size: 101, max: 100 };
    s.handle_data(now, &big[..8]);
    assert_eq!(s.close_info().unwrap().error(), Some(Error::Capacity(err)));
    take_events(&mut s);
    assert_eq!(sent_close_code(&take_output(&mut s)), Some(1009));
    // A fragmented message over the limit fails at the fragment that crosses it.
    let mut s = Connection::new(Role::Server, config, now);
    let mut input = client_frame(OpCode::Binary, false, &[0; 100]);
    input.extend(client_frame(OpCode::Continuation, true, &[0; 51]));
    let err = CapacityError::MessageTooLarge { size: 151, max: 150 };
    s.handle_data(now, &input);
    let events = take_events(&mut s);
    assert!(matches!(events[..], [Event::Data { fin: false, .. }]), "{events:?}");
    assert_eq!(s.close_info().unwrap().error(), Some(Error::Capacity(err)));
    assert_eq!(sent_close_code(&take_output(&mut s)), Some(1009));
}

#[test]
fn messages_before_an_error_can_still_be_answered() {
    // Autobahn 3.2 and friends: a valid message, then a bad frame, in one read.
    let now = Instant::now();
    let mut s = server(now);
    let mut input = client_frame(OpCode::Text, true, b"hello");
    input.extend(raw_frame(0xa1, Some(KEY), b"bad"));
    s.handle_data(now, &input);
    assert_eq!(s.transport(), Transport::Open);
    let Some(Event::Data { payload, .. }) = s.poll_event() else { panic!() };
    assert_eq!(s.state(), State::Open, "failure waits until earlier events are taken");
    s.send_text(std::str::from_utf8(&payload).unwrap()).unwrap();
    assert_eq!(s.poll_event(), None, "the failure is reported when the transport is done");
    assert_eq!(s.state(), State::Closed);
    assert_eq!(s.transport(), Transport::Shutdown);
    let frames = decode_frames(&take_output(&mut s));
    assert_eq!(frames[0].1, b"hello");
    assert_eq!(frames[1].0.opcode, OpCode::Close);
}

#[test]
fn no_data_after_close() {
    let now = Instant::now();
    let mut s = server(now);
    let mut input = client_frame(OpCode::Close, true, &close_body(1000, ""));
    input.extend(client_frame(OpCode::Text, true, b"after close"));
    s.handle_data(now, &input);
    let events = take_events(&mut s);
    assert!(events.iter().all(|e| !matches!(e, Event::Data { .. })), "{events:?}");
    assert_eq!(s.send_text("x"), Err(ws_proto::UsageError::Closed));
}

#[test]
fn a_declared_length_reserves_memory_only_for_what_arrived() {
    // Found by the frame_client fuzz target: a 16-bit length (64 KiB) announced after a few
    // bytes made `recv_buf` reserve the whole frame. Room follows the bytes that arrived.
    let now = Instant::now();
    for declared in [64 << 10, 1 << 20, 16 << 20] {
        let mut s = server(now);
        let frame = client_frame(OpCode::Binary, true, &vec![7; declared]);
        s.handle_data(now, &frame[..20]);
        let room = s.recv_buf().len();
        assert!(room <= Config::default().read_buffer_size, "{room} bytes for {declared}");
        assert!(s.recv_capacity() <= 2 * Config::default().read_buffer_size + 20);
        // Feeding the rest through recv_buf/commit still works and grows geometrically.
        let mut at = 20;
        let mut reads = 0;
        while at < frame.len() {
            let buf = s.recv_buf();
            let n = buf.len().min(frame.len() - at);
            buf[..n].copy_from_slice(&frame[at..at + n]);
            s.commit(now, n);
            at += n;
            reads += 1;
        }
        assert!(reads <= 12, "{reads} reads for {declared} bytes");
        let Some(Event::Data { payload, fin: true, .. }) = s.poll_event() else { panic!() };
        assert_eq!(payload.len(), declared);
    }
}
