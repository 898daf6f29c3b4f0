//! Whole conversations over an in-memory client↔server pair with a virtual clock.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use ws_proto::frame::OpCode;
use ws_proto::handshake::{Accept, ClientRequest, RequestParser};
use ws_proto::rng::ChaChaRandom;
use ws_proto::{
    CloseCause, CloseCode, Config, Connection, Event, Initiator, Message, MessageKind,
    PreparedFrame, Role, State, Transport, UsageError,
};

#[test]
fn handshake_then_messages_of_every_size() {
    // Opening handshake through the pure handshake API; early frames ride after the request.
    let mut rng = ChaChaRandom::from_seed(9);
    let (mut request, mut client_hs) =
        ClientRequest::new("localhost:9001", "/echo").protocol("chat").build(&mut rng).unwrap();
    let start = Instant::now();
    let mut client = Connection::new(Role::Client, Config::default(), start)
        .with_rng(Box::new(ChaChaRandom::from_seed(1)));
    client.send_text("early").unwrap();
    request.extend(take_output(&mut client));
    let mut parser = RequestParser::new(Default::default());
    let req = parser.feed(&request).unwrap().unwrap();
    let (response, _) =
        req.accept_response(&Accept::new().protocol("chat"), &Config::default()).unwrap();
    assert_eq!(client_hs.feed(&response).unwrap().unwrap().protocol.as_deref(), Some("chat"));
    let mut server = Connection::new(Role::Server, Config::default(), start);
    server.handle_data(start, &parser.take_remaining());
    let Some(Event::Data { payload, first: true, fin: true, .. }) = server.poll_event() else {
        panic!()
    };
    assert_eq!(payload, "early");

    let mut p = Pair::default_pair();
    p.echo = true;
    let sizes = [0usize, 1, 125, 126, 127, 65535, 65536, 1 << 20, 16 << 20];
    for (i, &n) in sizes.iter().enumerate() {
        let payload: Vec<u8> = (0..n).map(|j| (j * 31 + i) as u8).collect();
        if i % 2 == 0 {
            p.client.send_binary(payload.clone()).unwrap();
        } else {
            p.client.send_binary(payload.as_slice()).unwrap();
        }
        p.pump();
        assert_eq!(p.client_msgs.pop(), Some(Message::binary(payload)), "size {n}");
    }
    let text = "żółw 🐢 ".repeat(10_000);
    p.client.send_text(text.as_str()).unwrap();
    p.pump();
    assert_eq!(p.client_msgs.pop(), Some(Message::text(text)));
}

#[test]
fn byte_at_a_time_and_odd_chunks() {
    for chunk in [1, 2, 3, 7, 13, 1000] {
        let mut p = Pair::default_pair();
        p.echo = true;
        p.chunk = chunk;
        for i in 0..20 {
            p.client.send_text(format!("message {i} ").repeat(i * 10)).unwrap();
        }
        p.pump();
        let got = Pair::data(&p.client_msgs);
        assert_eq!(got.len(), 20, "chunk {chunk}");
        for (i, m) in got.iter().enumerate() {
            assert_eq!(m, &Message::text(format!("message {i} ").repeat(i * 10)));
        }
    }
}

#[test]
fn fragmented_messages_with_pings_inside() {
    let mut p = Pair::default_pair();
    p.client.send_fragment(MessageKind::Text, "Hel", false).unwrap();
    p.client.ping(p.now, b"in between").unwrap();
    p.client.send_fragment(MessageKind::Text, &b"l"[..], false).unwrap();
    // A whole message cannot start while the fragmented one is open.
    assert_eq!(p.client.send_text("nope"), Err(UsageError::MessageInProgress));
    assert_eq!(
        p.client.send_fragment(MessageKind::Binary, &b"x"[..], true),
        Err(UsageError::MessageInProgress)
    );
    p.client.pong(b"unsolicited").unwrap();
    p.client.send_fragment(MessageKind::Text, &b"o"[..], true).unwrap();
    p.pump();
    assert_eq!(
        p.server_msgs,
        vec![
            Message::Ping(Bytes::from_static(b"in between")),
            Message::Pong(Bytes::from_static(b"unsolicited")),
            Message::text("Hello"),
        ]
    );
    // The server answered the ping automatically; the client measured its round trip.
    assert_eq!(p.client_msgs, vec![Message::Pong(Bytes::from_static(b"in between"))]);
    assert_eq!(p.client.last_rtt(), Some(Duration::ZERO));
    // Fragment events carry first/fin.
    let flags: Vec<(bool, bool)> = p
        .server_events
        .iter()
        .filter_map(|e| match e {
            Event::Data { first, fin, .. } => Some((*first, *fin)),
            _ => None,
        })
        .collect();
    assert_eq!(flags, vec![(true, false), (false, false), (false, true)]);
}

#[test]
fn sending_fragmented_text_is_validated_incrementally() {
    let mut p = Pair::default_pair();
    let euro = "€".as_bytes();
    p.client.send_fragment(MessageKind::Text, &euro[..1], false).unwrap();
    p.client.send_fragment(MessageKind::Text, &euro[1..2], false).unwrap();
    assert_eq!(
        p.client.send_fragment(MessageKind::Text, &b"\xff"[..], true),
        Err(UsageError::InvalidUtf8)
    );
    // Still in progress and consistent: finishing the code point works.
    assert_eq!(p.client.send_fragment(MessageKind::Text, &euro[2..], false).map(|_| ()), Ok(()));
    assert_eq!(
        p.client.send_fragment(MessageKind::Text, &b"\xe2"[..], true),
        Err(UsageError::InvalidUtf8),
        "a message may not end mid code point"
    );
    p.client.send_fragment(MessageKind::Text, &b"!"[..], true).unwrap();
    p.pump();
    assert_eq!(p.server_msgs, vec![Message::text("€!")]);
}

fn close_both(p: &mut Pair) {
    p.pump();
    assert!(p.client.is_closed() && p.server.is_closed());
    assert!(p.client.is_finished() && p.server.is_finished(), "both transports closed");
    assert_eq!((p.client.transport(), p.server.transport()), (Transport::Close, Transport::Close));
}

#[test]
fn client_initiated_close() {
    let mut p = Pair::default_pair();
    p.client.close(p.now, CloseCode::NORMAL, "done").unwrap();
    assert_eq!(p.client.state(), State::Closing);
    assert_eq!(p.client.send_text("x"), Err(UsageError::Closed));
    assert_eq!(p.client.close(p.now, CloseCode::NORMAL, ""), Err(UsageError::Closed));
    close_both(&mut p);
    let Some(Event::Closed(s)) = p.server_events.last() else { panic!() };
    assert_eq!((s.initiator, s.clean, s.cause), (Initiator::Remote, true, CloseCause::Handshake));
    assert_eq!((s.code(), s.reason()), (CloseCode::NORMAL, "done"));
    let Some(Event::Closed(c)) = p.client_events.last() else { panic!() };
    assert_eq!((c.initiator, c.clean), (Initiator::Local, true));
    assert_eq!(c.code(), CloseCode::NORMAL, "the server echoed our code");
    assert_eq!(p.client.poll_timeout(), None);
    // Who closed TCP first, and the bounds on it, are in tests/lifecycle.rs.
}

#[test]
fn server_initiated_close() {
    let mut p = Pair::default_pair();
    p.server.close(p.now, CloseCode(4001), "custom").unwrap();
    close_both(&mut p);
    let Some(Event::Closed(c)) = p.client_events.last() else { panic!() };
    assert_eq!((c.initiator, c.code(), c.reason()), (Initiator::Remote, CloseCode(4001), "custom"));
    assert!(p.client_events.contains(&Event::CloseReceived(Some(ws_proto::CloseFrame::new(
        CloseCode(4001),
        "custom"
    )))));
}

#[test]
fn close_timeout_when_peer_never_answers() {
    let mut p = Pair::default_pair();
    p.server_paused = true; // the server never reads
    p.client.close(p.now, CloseCode::GOING_AWAY, "").unwrap();
    p.pump();
    let deadline = p.client.poll_timeout().unwrap();
    assert_eq!(deadline, p.now + Config::default().close_timeout);
    p.now = deadline;
    p.tick();
    let info = p.client.close_info().unwrap();
    assert_eq!(
        (info.cause, info.clean, info.code()),
        (CloseCause::CloseTimeout, false, CloseCode::ABNORMAL)
    );
    // Our Close is still unread: writing it may take one more close_timeout, then the
    // transport is closed whatever is left.
    assert_eq!(p.client.transport(), Transport::Shutdown);
    p.now = p.client.poll_timeout().unwrap();
    p.tick();
    assert!(matches!(p.client_events.last(), Some(Event::Closed(_))));
    assert_eq!(p.client.transport(), Transport::Close);
    assert_eq!(p.client.transmit_len(), 0, "what could not be written is dropped");
}

#[test]
fn eof_without_close_is_abnormal() {
    let mut p = Pair::default_pair();
    p.client.send_binary(&b"partial"[..]).unwrap();
    let out = take_output(&mut p.client);
    p.server.handle_data(p.now, &out[..4]);
    p.server.handle_eof(p.now);
    assert!(take_events(&mut p.server).is_empty(), "Closed waits for the transport");
    assert_eq!(p.server.transport(), Transport::Shutdown);
    assert!(take_output(&mut p.server).is_empty());
    p.server.handle_write_shutdown(p.now);
    assert_eq!(p.server.transport(), Transport::Close, "no drain after the peer's EOF");
    let events = take_events(&mut p.server);
    let [Event::Closed(info)] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!(
        (info.cause, info.initiator, info.code()),
        (CloseCause::EndOfStream, Initiator::Remote, CloseCode(1006))
    );
    assert!(info.sent.is_none() && info.received.is_none());
}

/// Timers under test, without the idle-buffer release (tests/lifecycle.rs covers that one), so
/// `poll_timeout` shows the timer each test is about.
fn timer_config() -> Config {
    let mut c = Config::default();
    c.release_buffers_after = None;
    c.keepalive_interval = Some(Duration::from_secs(10));
    c.pong_timeout = Duration::from_secs(5);
    c
}

#[test]
fn no_timers_no_deadline() {
    let p = Pair::default_pair();
    assert_eq!(p.client.poll_timeout(), None);
    assert_eq!(p.server.poll_timeout(), None);
}

#[test]
fn keepalive_ping_measures_rtt() {
    let mut p = Pair::new(Config::default(), timer_config());
    assert_eq!(p.server.poll_timeout(), Some(p.start + Duration::from_secs(10)));
    p.advance(Duration::from_secs(9));
    p.tick();
    assert!(p.client_msgs.is_empty(), "not due yet");
    p.advance(Duration::from_secs(1));
    p.server.handle_timeout(p.now);
    // The ping is out; the pong comes back 30 ms later.
    let ping = take_output(&mut p.server);
    assert_eq!(decode_frames(&ping)[0].0.opcode, OpCode::Ping);
    feed(&mut p.client, p.now, &ping, 0);
    p.advance(Duration::from_millis(30));
    p.pump();
    assert_eq!(p.server.last_rtt(), Some(Duration::from_millis(30)));
    assert!(matches!(p.client_msgs[0], Message::Ping(_)));
    // The next keepalive is due `interval` after the last bytes received.
    assert_eq!(p.server.poll_timeout(), Some(p.now + Duration::from_secs(10)));
}

#[test]
fn pong_timeout_detects_silent_peer() {
    let mut p = Pair::new(Config::default(), timer_config());
    p.server_paused = true; // the client's answers never reach the server
    p.advance(Duration::from_secs(10));
    p.tick();
    let deadline = p.server.poll_timeout().unwrap();
    assert_eq!(deadline, p.now + Duration::from_secs(5));
    p.now = deadline;
    p.tick();
    let Some(Event::Closed(info)) = p.server_events.last() else { panic!("{:?}", p.server_events) };
    assert_eq!(info.cause, CloseCause::PongTimeout);
    assert_eq!(info.sent.as_ref().unwrap().code, CloseCode::INTERNAL_ERROR);
    assert_eq!(p.server.transport(), Transport::Close);
    assert_eq!(p.server.poll_timeout(), None);
}

#[test]
fn idle_timeout_starts_close() {
    let mut config = Config::default();
    config.idle_timeout = Some(Duration::from_secs(60));
    config.release_buffers_after = None;
    let mut p = Pair::new(Config::default(), config);
    p.advance(Duration::from_secs(30));
    p.client.send_text("activity").unwrap();
    p.pump();
    assert_eq!(p.server.poll_timeout(), Some(p.now + Duration::from_secs(60)));
    p.advance(Duration::from_secs(60));
    p.tick();
    let Some(Event::Closed(info)) = p.server_events.last() else { panic!() };
    assert_eq!((info.initiator, info.clean), (Initiator::Local, true));
    assert_eq!(info.sent.as_ref().unwrap().code, CloseCode::GOING_AWAY);
}

#[test]
fn prepared_frame_is_shared_by_many_servers() {
    let frame = PreparedFrame::binary(vec![7u8; 100_000]);
    let now = Instant::now();
    for _ in 0..3 {
        let mut s = server(now);
        s.send_prepared(&frame).unwrap();
        let chunk = s.poll_transmit().unwrap();
        assert_eq!(chunk.as_ptr(), frame.encoded().as_ptr(), "no copy");
    }
    // A client re-encodes it masked.
    let mut p = Pair::default_pair();
    p.client.send_prepared(&frame).unwrap();
    p.pump();
    assert_eq!(p.server_msgs, vec![Message::binary(vec![7u8; 100_000])]);
}

#[test]
fn usage_errors_leave_connection_unchanged() {
    let now = Instant::now();
    let mut c = client(now);
    assert_eq!(c.ping(now, &[0; 126]), Err(UsageError::ControlPayloadTooLong));
    assert_eq!(c.pong(&[0; 126]), Err(UsageError::ControlPayloadTooLong));
    for code in [1005, 1006, 1015, 999, 2000] {
        assert_eq!(c.close(now, CloseCode(code), ""), Err(UsageError::InvalidCloseCode(code)));
    }
    assert_eq!(
        c.close(now, CloseCode::NORMAL, &"x".repeat(124)),
        Err(UsageError::CloseReasonTooLong)
    );
    assert!(take_output(&mut c).is_empty());
    assert_eq!(c.state(), State::Open);
    c.close(now, CloseCode::NORMAL, &"x".repeat(123)).unwrap();
}

#[test]
fn large_client_payloads_are_masked_in_place_when_unshared() {
    let mut p = Pair::default_pair();
    let unique = Bytes::from(vec![1u8; 50_000]);
    let ptr = unique.as_ptr();
    p.client.send_binary(unique).unwrap();
    let chunks: Vec<Bytes> = std::iter::from_fn(|| p.client.poll_transmit()).collect();
    assert!(chunks.iter().any(|c| c.as_ptr() == ptr), "masked in place, not copied");
    let wire: Vec<u8> = chunks.concat();
    feed(&mut p.server, p.now, &wire, 0);
    // A shared payload is copied, leaving the caller's bytes intact.
    let shared = Bytes::from(vec![2u8; 50_000]);
    p.client.send_binary(shared.clone()).unwrap();
    p.pump();
    assert!(shared.iter().all(|&b| b == 2));
    assert_eq!(
        Pair::data(&p.server_msgs),
        vec![Message::binary(vec![1u8; 50_000]), Message::binary(vec![2u8; 50_000])]
    );
}

#[test]
fn vectored_transmit_api() {
    let now = Instant::now();
    let mut s = server(now);
    s.send_text("small").unwrap();
    s.send_binary(Bytes::from(vec![9u8; 10_000])).unwrap();
    s.send_text("tail").unwrap();
    let total: usize = s.transmit_chunks().map(<[u8]>::len).sum();
    assert_eq!(total, s.transmit_len());
    let all: Vec<u8> = s.transmit_chunks().flatten().copied().collect();
    // Write in odd amounts, as a short vectored write would.
    let mut written = Vec::new();
    while s.transmit_len() > 0 {
        let n = s.transmit_chunks().next().unwrap().len().min(777);
        written.extend_from_slice(&s.transmit_chunks().next().unwrap()[..n]);
        s.advance_transmit(n);
    }
    assert_eq!(written, all);
    let frames = decode_frames(&written);
    assert_eq!(frames.len(), 3);
    assert_eq!(frames[2].1, b"tail");
}

#[test]
fn rfc_6455_section_5_7_examples() {
    let now = Instant::now();
    // A client receives an unmasked "Hello", a fragmented "Hel"+"lo" and an unmasked ping.
    let mut c = client(now);
    c.handle_data(now, &[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
    c.handle_data(now, &[0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f]);
    c.handle_data(now, &[0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
    let mut asm = ws_proto::MessageAssembler::new();
    let msgs: Vec<Message> = take_events(&mut c).into_iter().filter_map(|e| asm.push(e)).collect();
    assert_eq!(
        msgs,
        vec![
            Message::text("Hello"),
            Message::text("Hello"),
            Message::Ping(Bytes::from_static(b"Hello"))
        ]
    );
    // The automatic pong is masked and carries the ping's payload.
    let pong = decode_frames(&take_output(&mut c));
    assert_eq!((pong[0].0.opcode, pong[0].1.as_slice()), (OpCode::Pong, &b"Hello"[..]));
    assert!(pong[0].0.mask.is_some());
    // A server receives the masked "Hello".
    let mut s = server(now);
    s.handle_data(now, &[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    let Some(Event::Data { payload, .. }) = s.poll_event() else { panic!() };
    assert_eq!(payload, "Hello");
    // 256 bytes and 64 KiB binary messages in single unmasked frames: exact headers.
    for (n, header) in [
        (256usize, vec![0x82, 0x7e, 0x01, 0x00]),
        (65536, vec![0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0]),
    ] {
        let mut s = server(now);
        s.send_binary(vec![0u8; n]).unwrap();
        let out = take_output(&mut s);
        assert_eq!(&out[..header.len()], header.as_slice());
        assert_eq!(out.len(), header.len() + n);
        let mut c = client(now);
        c.handle_data(now, &out);
        assert!(matches!(c.poll_event(), Some(Event::Data { payload, .. }) if payload.len() == n));
    }
}

#[test]
fn receive_buffer_is_released_after_a_large_message() {
    let mut p = Pair::default_pair();
    p.client.send_binary(vec![0u8; 4 << 20]).unwrap();
    p.pump();
    assert_eq!(p.server_msgs.len(), 1);
    p.server_msgs.clear();
    p.server_events.clear();
    p.client.send_text("small").unwrap();
    p.pump();
    // After the big frame was consumed the buffer went back to its normal size.
    assert!(p.server.recv_buf().len() <= 64 << 10);
}

#[test]
fn idle_connections_can_give_memory_back() {
    let mut p = Pair::default_pair();
    p.echo = true;
    p.client.send_text("hello").unwrap();
    p.pump();
    let room = p.server.recv_buf().len();
    assert!(p.server.recv_capacity() >= room && room > 0);
    p.server.release_buffers();
    assert_eq!(p.server.recv_capacity(), 0);
    // A partial frame is kept.
    p.client.send_text("again").unwrap();
    let wire = take_output(&mut p.client);
    p.server.handle_data(p.now, &wire[..3]);
    p.server.release_buffers();
    assert_eq!(p.server.recv_buffered(), 3);
    p.server.handle_data(p.now, &wire[3..]);
    assert!(
        matches!(p.server.poll_event(), Some(Event::Data { payload, .. }) if payload == "again")
    );
}
