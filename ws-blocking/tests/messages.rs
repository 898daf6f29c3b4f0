//! Messages, fragments, control frames and closing, over real loopback sockets.

mod common;

use common::{RawPeer, echo_server, listen, url};
use ws_blocking::ws_proto::frame::OpCode;
use ws_blocking::{
    Bytes, CloseCause, CloseCode, CloseFrame, Config, Error, Event, Initiator, Message,
    MessageKind, PreparedFrame, UsageError, connect,
};

#[test]
fn text_binary_empty_and_16_mib_messages_round_trip() {
    let (addr, server) = echo_server(1, Config::default());
    let (mut ws, _) = connect(&url(addr)).unwrap();
    let big: Vec<u8> = (0..16u32 << 20).map(|i| (i * 31 % 251) as u8).collect();
    let big = Bytes::from(big);
    let messages = vec![
        Message::text("hello"),
        Message::text(""),
        Message::binary(Bytes::from_static(&[0, 1, 2, 255])),
        Message::binary(Bytes::new()),
        Message::text("ünïcødé ✓ 𝄞"),
        Message::Binary(big.clone()),
        Message::text("after the big one"),
    ];
    for m in &messages {
        ws.send(m.clone()).unwrap();
    }
    for expected in &messages {
        let got = ws.recv().unwrap().unwrap();
        assert!(got == *expected, "mismatch for a message of kind {:?}", kind(expected));
    }
    ws.send_prepared(&PreparedFrame::text("prepared")).unwrap();
    assert_eq!(ws.recv().unwrap().unwrap(), Message::text("prepared"));
    ws.close(CloseCode::NORMAL, "done").unwrap();
    assert!(matches!(ws.recv(), Some(Ok(Message::Close(Some(_))))));
    assert!(ws.recv().is_none());
    assert!(ws.is_closed());
    for result in server.join().unwrap() {
        result.unwrap();
    }
}

fn kind(m: &Message) -> &'static str {
    match m {
        Message::Text(_) => "text",
        Message::Binary(_) => "binary",
        _ => "control",
    }
}

#[test]
fn fragmented_send_and_streaming_receive() {
    let (addr, server) = echo_server(1, Config::default());
    let (mut ws, _) = connect(&url(addr)).unwrap();
    // "𝄞" (4 bytes) split across fragments: only the whole message must be valid UTF-8.
    let clef = "𝄞".as_bytes();
    ws.send_fragment(MessageKind::Text, &b"one "[..], false).unwrap();
    ws.send_fragment(MessageKind::Text, &clef[..2], false).unwrap();
    ws.ping(b"between fragments").unwrap();
    ws.send_fragment(MessageKind::Text, &clef[2..], false).unwrap();
    ws.send_fragment(MessageKind::Text, &b" three"[..], true).unwrap();
    ws.send_fragment(MessageKind::Binary, &b"x"[..], true).unwrap();
    // The Pong for our ping arrives first (the echo server answers it while reading).
    assert_eq!(
        ws.recv().unwrap().unwrap(),
        Message::Pong(Bytes::from_static(b"between fragments"))
    );
    assert_eq!(ws.recv().unwrap().unwrap(), Message::text("one 𝄞 three"));
    assert_eq!(ws.recv().unwrap().unwrap(), Message::binary(Bytes::from_static(b"x")));

    // Invalid UTF-8 across fragments is refused before anything is sent.
    ws.send_fragment(MessageKind::Text, &[0xf0, 0x9d][..], false).unwrap();
    let err = ws.send_fragment(MessageKind::Text, &b"zz"[..], true).unwrap_err();
    assert!(matches!(err, Error::Usage(UsageError::InvalidUtf8)), "{err:?}");
    ws.send_fragment(MessageKind::Text, &[0x84, 0x9e][..], true).unwrap();
    assert_eq!(ws.recv().unwrap().unwrap(), Message::text("𝄞"));
    ws.close(CloseCode::NORMAL, "").unwrap();
    while let Some(m) = ws.recv() {
        m.unwrap();
    }
    for result in server.join().unwrap() {
        result.unwrap();
    }
}

#[test]
fn recv_event_yields_each_fragment_as_it_arrives() {
    let (listener, addr) = listen();
    let peer = std::thread::spawn(move || {
        let mut peer = RawPeer::accept(&listener);
        for (i, part) in ["alpha", "beta", "gamma"].iter().enumerate() {
            let opcode = if i == 0 { OpCode::Binary } else { OpCode::Continuation };
            let frame = peer.frame(opcode, i == 2, part.as_bytes());
            std::io::Write::write_all(&mut peer.tcp, &frame).unwrap();
        }
        peer.send(OpCode::Close, &[0x03, 0xe8]);
        peer.read_frame()
    });
    let (mut ws, _) = connect(&url(addr)).unwrap();
    let mut parts = Vec::new();
    loop {
        match ws.recv_event().unwrap().unwrap() {
            Event::Data { kind, payload, first, fin } => {
                assert_eq!(kind, MessageKind::Binary);
                assert_eq!(first, parts.is_empty());
                parts.push(payload);
                if fin {
                    break;
                }
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(parts, ["alpha", "beta", "gamma"]);
    assert_eq!(
        ws.recv_event().unwrap().unwrap(),
        Event::CloseReceived(Some(CloseFrame::new(CloseCode::NORMAL, "")))
    );
    assert!(matches!(ws.recv_event(), Some(Ok(Event::Closed(_)))));
    // The client's Close reply reached the peer; the peer then closed TCP (it returned).
    let reply = peer.join().unwrap().unwrap();
    assert_eq!((reply.0, reply.2), (OpCode::Close, vec![0x03, 0xe8]));
    assert!(ws.recv_event().is_none());
}

#[test]
fn ping_pong_and_round_trip_time() {
    let (listener, addr) = listen();
    let server = std::thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        let mut ws = ws_blocking::accept(tcp).unwrap();
        let mut seen = Vec::new();
        while let Some(m) = ws.recv() {
            match m.unwrap() {
                Message::Ping(p) => {
                    seen.push(p.clone());
                    ws.pong(b"unsolicited").unwrap();
                }
                Message::Close(_) => {}
                other => panic!("{other:?}"),
            }
        }
        seen
    });
    let (mut ws, _) = connect(&url(addr)).unwrap();
    assert_eq!(ws.last_rtt(), None);
    ws.ping(b"are you there").unwrap();
    assert_eq!(ws.recv().unwrap().unwrap(), Message::Pong(Bytes::from_static(b"are you there")));
    assert!(ws.last_rtt().is_some());
    assert_eq!(ws.recv().unwrap().unwrap(), Message::Pong(Bytes::from_static(b"unsolicited")));
    let err = ws.ping(&[0u8; 126]).unwrap_err();
    assert!(matches!(err, Error::Usage(UsageError::ControlPayloadTooLong)), "{err:?}");
    ws.close(CloseCode::NORMAL, "").unwrap();
    while let Some(m) = ws.recv() {
        m.unwrap();
    }
    assert_eq!(server.join().unwrap(), vec![Bytes::from_static(b"are you there")]);
}

#[test]
fn client_initiated_close_with_code_and_reason() {
    let (listener, addr) = listen();
    let server = std::thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        let mut ws = ws_blocking::accept(tcp).unwrap();
        let first = ws.recv().unwrap().unwrap();
        assert!(ws.recv().is_none());
        (first, ws.close_info().cloned().unwrap())
    });
    let (mut ws, _) = connect(&url(addr)).unwrap();
    ws.close(CloseCode(4000), "client is done").unwrap();
    let err = ws.send_text("too late").unwrap_err();
    assert!(matches!(err, Error::Usage(UsageError::Closed)), "{err:?}");
    let reply = ws.recv().unwrap().unwrap();
    assert_eq!(reply, Message::Close(Some(CloseFrame::new(CloseCode(4000), ""))));
    assert!(ws.recv().is_none());
    let info = ws.close_info().unwrap();
    assert!(info.clean);
    assert_eq!(info.initiator, Initiator::Local);
    assert_eq!(info.cause, CloseCause::Handshake);

    let (first, server_info) = server.join().unwrap();
    assert_eq!(first, Message::Close(Some(CloseFrame::new(CloseCode(4000), "client is done"))));
    assert!(server_info.clean);
    assert_eq!(server_info.initiator, Initiator::Remote);
    assert_eq!((server_info.code(), server_info.reason()), (CloseCode(4000), "client is done"));
}

#[test]
fn server_initiated_close_with_code_and_reason() {
    let (listener, addr) = listen();
    let server = std::thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        let mut ws = ws_blocking::accept(tcp).unwrap();
        ws.send_text("last words").unwrap();
        ws.close(CloseCode::GOING_AWAY, "shutting down").unwrap();
        let mut seen = Vec::new();
        while let Some(m) = ws.recv() {
            seen.push(m.unwrap());
        }
        (seen, ws.close_info().cloned().unwrap())
    });
    let (mut ws, _) = connect(&url(addr)).unwrap();
    assert_eq!(ws.recv().unwrap().unwrap(), Message::text("last words"));
    let close = ws.recv().unwrap().unwrap();
    assert_eq!(
        close,
        Message::Close(Some(CloseFrame::new(CloseCode::GOING_AWAY, "shutting down")))
    );
    assert!(ws.recv().is_none());
    assert!(ws.close_info().unwrap().clean);
    let (seen, info) = server.join().unwrap();
    assert_eq!(seen, vec![Message::Close(Some(CloseFrame::new(CloseCode::GOING_AWAY, "")))]);
    assert!(info.clean);
    assert_eq!(info.initiator, Initiator::Local);
}

#[test]
fn protocol_violation_sends_1002_and_is_reported_after_earlier_messages() {
    let (listener, addr) = listen();
    let server = std::thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        let mut ws = ws_blocking::accept(tcp).unwrap();
        let mut results = Vec::new();
        while let Some(m) = ws.recv() {
            results.push(m);
        }
        (results, ws.close_info().cloned().unwrap())
    });
    let mut peer = RawPeer::connect(addr);
    // A valid message, then an unmasked frame (clients must mask), in one write.
    let mut bytes = peer.frame(OpCode::Text, true, b"fine");
    bytes.extend_from_slice(&[0x81, 0x03, b'b', b'a', b'd']);
    std::io::Write::write_all(&mut peer.tcp, &bytes).unwrap();
    let (opcode, _, payload) = peer.read_frame().expect("a Close frame");
    assert_eq!((opcode, &payload[..]), (OpCode::Close, &[0x03, 0xea][..])); // 1002
    assert!(peer.read_to_eof(), "the server closes TCP after its Close");
    drop(peer); // ends the server's drain after its half-close

    let (results, info) = server.join().unwrap();
    let mut results = results.into_iter();
    assert_eq!(results.next().unwrap().unwrap(), Message::text("fine"));
    let err = results.next().unwrap().unwrap_err();
    assert_eq!(err.close_code(), Some(CloseCode::PROTOCOL_ERROR), "{err:?}");
    assert!(results.next().is_none());
    assert!(!info.clean);
}

#[test]
fn invalid_utf8_is_answered_with_1007() {
    let (listener, addr) = listen();
    let server = std::thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        let mut ws = ws_blocking::accept(tcp).unwrap();
        let err = ws.recv().unwrap().unwrap_err();
        assert!(ws.recv().is_none());
        err
    });
    let mut peer = RawPeer::connect(addr);
    peer.send(OpCode::Text, &[b'o', b'k', 0xc0, 0xaf]);
    let (opcode, _, payload) = peer.read_frame().unwrap();
    assert_eq!((opcode, &payload[..]), (OpCode::Close, &[0x03, 0xef][..])); // 1007
    drop(peer);
    assert_eq!(server.join().unwrap().close_code(), Some(CloseCode::INVALID_PAYLOAD));
}

#[test]
fn peer_vanishing_without_close_ends_with_none_and_1006() {
    let (listener, addr) = listen();
    let server = std::thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        let mut ws = ws_blocking::accept(tcp).unwrap();
        assert_eq!(ws.recv().unwrap().unwrap(), Message::text("bye"));
        assert!(ws.recv().is_none());
        ws.close_info().cloned().unwrap()
    });
    let mut peer = RawPeer::connect(addr);
    peer.send(OpCode::Text, b"bye");
    drop(peer);
    let info = server.join().unwrap();
    assert_eq!(info.code(), CloseCode::ABNORMAL);
    assert_eq!(info.cause, CloseCause::EndOfStream);
    assert!(!info.clean);
}

#[test]
fn oversized_messages_are_refused_with_1009() {
    let mut config = Config::default();
    config.max_message_size = 1024;
    config.max_frame_size = 1024;
    let (addr, server) = echo_server(1, config);
    let (mut ws, _) = connect(&url(addr)).unwrap();
    ws.send_binary(vec![0u8; 2048]).unwrap();
    ws.flush().unwrap();
    assert_eq!(
        ws.recv().unwrap().unwrap(),
        Message::Close(Some(CloseFrame::new(CloseCode::MESSAGE_TOO_BIG, "")))
    );
    assert!(ws.recv().is_none());
    let results = server.join().unwrap();
    assert_eq!(results[0].as_ref().unwrap_err().close_code(), Some(CloseCode::MESSAGE_TOO_BIG));
}
