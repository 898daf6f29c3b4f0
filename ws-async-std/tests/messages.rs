//! Messages over real loopback sockets: text, binary, empty, 16 MiB, fragments, ping/pong,
//! Stream/Sink, fragment streaming, and a peer that breaks the protocol.

mod common;

use common::{Rt, echo, pattern, raw, ws_client, ws_server};
use futures_lite::{AsyncReadExt, AsyncWriteExt, StreamExt};
use futures_util::SinkExt;
use ws_async_std::{Bytes, CloseCode, Config, Error, Event, Message, MessageKind, PreparedFrame};

on_both_runtimes!(
    whole_messages_round_trip,
    large_messages_round_trip,
    fragments_both_ways,
    fragments_stream_as_events,
    ping_and_pong,
    stream_and_sink,
    protocol_error_sends_close_before_reporting,
);

async fn whole_messages_round_trip<R: Rt>() {
    let (listener, addr) = R::bind().await;
    let server = R::spawn(async move { echo(ws_server::<R>(&listener).await).await });
    let mut ws = ws_client::<R>(addr, Config::default()).await;

    let sent = [
        Message::text("hello"),
        Message::text(""),
        Message::binary(Bytes::new()),
        Message::binary(pattern(1000, 7)),
        Message::text("ünïcödé ✓ 𝄞"),
        Message::binary(pattern(70_000, 3)),
    ];
    for message in &sent {
        ws.send(message.clone()).await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), *message);
    }
    ws.send_text(String::from("owned")).await.unwrap();
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("owned"));
    ws.send_binary(&b"borrowed"[..]).await.unwrap();
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::binary(&b"borrowed"[..]));
    ws.send_prepared(&PreparedFrame::text("prepared")).await.unwrap();
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("prepared"));

    ws.close(CloseCode::NORMAL, "").await.unwrap();
    assert!(matches!(ws.recv().await, Some(Ok(Message::Close(_)))));
    assert!(ws.recv().await.is_none());
    assert_eq!(server.await, sent.len() + 3);
}

async fn large_messages_round_trip<R: Rt>() {
    let (listener, addr) = R::bind().await;
    let server = R::spawn(async move { echo(ws_server::<R>(&listener).await).await });
    let mut ws = ws_client::<R>(addr, Config::default()).await;

    let big = Bytes::from(pattern(16 << 20, 1));
    ws.send_binary(big.clone()).await.unwrap();
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::Binary(big));

    let text = "0123456789abcdé".repeat((16 << 20) / 16);
    ws.send_text(text.as_str()).await.unwrap();
    match ws.recv().await.unwrap().unwrap() {
        Message::Text(echoed) => assert!(echoed == text.as_str()),
        other => panic!("expected text, got {other:?}"),
    }
    drop(ws);
    assert_eq!(server.await, 2);
}

async fn fragments_both_ways<R: Rt>() {
    let (listener, addr) = R::bind().await;
    let server = R::spawn(async move {
        let mut ws = ws_server::<R>(&listener).await;
        // Receive a fragmented text message with a Ping in the middle.
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::Ping(Bytes::from_static(b"mid")));
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("Hello, wörld"));
        // Send a fragmented binary message, then a whole one.
        ws.send_fragment(MessageKind::Binary, &b"ab"[..], false).await.unwrap();
        ws.send_fragment(MessageKind::Binary, &b""[..], false).await.unwrap();
        ws.send_fragment(MessageKind::Binary, &b"cd"[..], true).await.unwrap();
        ws.send_text("after").await.unwrap();
        // A new message while a fragmented one is open is refused, nothing sent.
        ws.send_fragment(MessageKind::Text, "open", false).await.unwrap();
        let err = ws.send_text("interleaved").await.unwrap_err();
        assert!(matches!(err, Error::Usage(ws_proto::UsageError::MessageInProgress)), "{err:?}");
        ws.send_fragment(MessageKind::Text, "ed", true).await.unwrap();
        assert!(matches!(ws.recv().await, Some(Ok(Message::Close(_)))));
        assert!(ws.recv().await.is_none());
    });
    let mut ws = ws_client::<R>(addr, Config::default()).await;
    // "ö" split across two fragments.
    let text = "Hello, wörld".as_bytes();
    ws.send_fragment(MessageKind::Text, &text[..9], false).await.unwrap();
    ws.ping(b"mid").await.unwrap();
    ws.send_fragment(MessageKind::Text, &text[9..], true).await.unwrap();

    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::Pong(Bytes::from_static(b"mid")));
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::binary(&b"abcd"[..]));
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("after"));
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("opened"));
    ws.close(CloseCode::NORMAL, "").await.unwrap();
    assert!(matches!(ws.recv().await, Some(Ok(Message::Close(_)))));
    assert!(ws.recv().await.is_none());
    server.await;
}

async fn fragments_stream_as_events<R: Rt>() {
    const FRAGMENTS: usize = 64;
    const FRAGMENT: usize = 256 << 10;
    let (listener, addr) = R::bind().await;
    let server = R::spawn(async move {
        let mut ws = ws_server::<R>(&listener).await;
        for i in 0..FRAGMENTS {
            let data = Bytes::from(pattern(FRAGMENT, i as u8));
            ws.send_fragment(MessageKind::Binary, data, i + 1 == FRAGMENTS).await.unwrap();
        }
        ws.close(CloseCode::NORMAL, "").await.unwrap();
        while ws.recv().await.is_some() {}
    });
    let mut ws = ws_client::<R>(addr, Config::default()).await;
    // 16 MiB arrive fragment by fragment: each event is one frame, checked and dropped.
    for i in 0..FRAGMENTS {
        match ws.recv_event().await.unwrap().unwrap() {
            Event::Data { kind, payload, first, fin } => {
                assert_eq!(kind, MessageKind::Binary);
                assert_eq!((first, fin), (i == 0, i + 1 == FRAGMENTS));
                assert!(payload == pattern(FRAGMENT, i as u8), "fragment {i}");
            }
            other => panic!("expected data, got {other:?}"),
        }
    }
    assert!(matches!(ws.recv_event().await, Some(Ok(Event::CloseReceived(Some(_))))));
    assert!(matches!(ws.recv_event().await, Some(Ok(Event::Closed(info))) if info.clean));
    assert!(ws.recv_event().await.is_none());
    server.await;
}

async fn ping_and_pong<R: Rt>() {
    let (listener, addr) = R::bind().await;
    let server = R::spawn(async move {
        let mut ws = ws_server::<R>(&listener).await;
        let mut seen = Vec::new();
        while let Some(message) = ws.recv().await {
            seen.push(message.unwrap());
        }
        seen
    });
    let mut ws = ws_client::<R>(addr, Config::default()).await;
    assert_eq!(ws.last_rtt(), None);
    ws.ping(b"probe").await.unwrap();
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::Pong(Bytes::from_static(b"probe")));
    assert!(ws.last_rtt().is_some());
    // An unsolicited Pong is delivered but not answered.
    ws.send(Message::Pong(Bytes::from_static(b"heartbeat"))).await.unwrap();
    let too_long = ws.ping(&[0u8; 126]).await.unwrap_err();
    assert!(matches!(too_long, Error::Usage(ws_proto::UsageError::ControlPayloadTooLong)));
    ws.close(CloseCode::NORMAL, "").await.unwrap();
    assert!(matches!(ws.recv().await, Some(Ok(Message::Close(_)))));
    assert!(ws.recv().await.is_none());
    let seen = server.await;
    assert_eq!(seen[0], Message::Ping(Bytes::from_static(b"probe")));
    assert_eq!(seen[1], Message::Pong(Bytes::from_static(b"heartbeat")));
    assert!(matches!(seen[2], Message::Close(Some(ref f)) if f.code == CloseCode::NORMAL));
    assert_eq!(seen.len(), 3);
}

async fn stream_and_sink<R: Rt>() {
    let (listener, addr) = R::bind().await;
    let server = R::spawn(async move {
        let mut ws = ws_server::<R>(&listener).await;
        // Echo through the Stream and Sink traits.
        while let Some(message) = ws.next().await {
            let message = message.unwrap();
            if message.is_data() {
                ws.send(message).await.unwrap();
            }
        }
    });
    let mut ws = ws_client::<R>(addr, Config::default()).await;
    for i in 0..100 {
        SinkExt::feed(&mut ws, Message::text(format!("m{i}"))).await.unwrap();
    }
    SinkExt::flush(&mut ws).await.unwrap();
    for i in 0..100 {
        assert_eq!(ws.next().await.unwrap().unwrap(), Message::text(format!("m{i}")));
    }
    SinkExt::close(&mut ws).await.unwrap();
    // Closing twice is harmless; the peer's reply then the end of the stream.
    SinkExt::close(&mut ws).await.unwrap();
    assert!(
        matches!(ws.next().await, Some(Ok(Message::Close(Some(f)))) if f.code == CloseCode::NORMAL)
    );
    assert!(ws.next().await.is_none());
    assert!(ws.close_info().unwrap().clean);
    server.await;
}

async fn protocol_error_sends_close_before_reporting<R: Rt>() {
    let (listener, addr) = R::bind().await;
    let server = R::spawn(async move {
        let mut ws = ws_server::<R>(&listener).await;
        let first = ws.recv().await.unwrap().unwrap();
        let err = ws.recv().await.unwrap().unwrap_err();
        assert!(ws.recv().await.is_none());
        (first, err)
    });
    let mut tcp = R::connect(addr).await;
    let (head, rest) = raw::handshake(&mut tcp, "").await;
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    assert!(rest.is_empty());
    // A valid message, then text that is not UTF-8.
    tcp.write_all(&raw::masked_frame(0x1, true, b"fine")).await.unwrap();
    tcp.write_all(&raw::masked_frame(0x1, true, b"bad \xff")).await.unwrap();
    // The server's Close frame with 1007 (and nothing else).
    let mut reply = [0u8; 4];
    tcp.read_exact(&mut reply).await.unwrap();
    assert_eq!(reply, [0x88, 0x02, 0x03, 0xef]);
    // The server waits for our end of stream before it reports the error.
    drop(tcp);

    let (first, err) = server.await;
    assert_eq!(first, Message::text("fine"));
    assert_eq!(err.close_code(), Some(CloseCode::INVALID_PAYLOAD), "{err:?}");
    assert!(matches!(err, Error::Protocol(_)));

    // A frame that is not masked: 1002.
    let (listener, addr) = R::bind().await;
    let server = R::spawn(async move {
        let mut ws = ws_server::<R>(&listener).await;
        let err = ws.recv().await.unwrap().unwrap_err();
        (err, ws.close_info().cloned())
    });
    let mut tcp = R::connect(addr).await;
    raw::handshake(&mut tcp, "").await;
    tcp.write_all(&[0x81, 0x02, b'h', b'i']).await.unwrap();
    let mut reply = [0u8; 4];
    tcp.read_exact(&mut reply).await.unwrap();
    assert_eq!(reply, [0x88, 0x02, 0x03, 0xea]);
    drop(tcp);
    let (err, info) = server.await;
    assert_eq!(err.close_code(), Some(CloseCode::PROTOCOL_ERROR));
    assert!(!info.unwrap().clean);
}
