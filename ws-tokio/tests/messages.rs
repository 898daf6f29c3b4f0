//! Messages over real loopback sockets: kinds and sizes, fragments, ping/pong, closing from
//! either side, protocol errors, and the Stream/Sink impls.

mod common;

use common::{RawClient, bounded, echo, parse_server_frames, serve, serve_one, url};
use futures_util::{SinkExt, StreamExt};
use ws_proto::frame::OpCode;
use ws_tokio::{Bytes, CloseCode, CloseFrame, Error, Event, Message, MessageKind};

#[tokio::test]
async fn text_binary_empty_and_16_mib_round_trip() {
    let addr = serve(echo).await;
    let (mut ws, _) = bounded(ws_tokio::connect(&url(addr))).await.unwrap();
    let big: Vec<u8> =
        (0..16u32 << 20).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let big_text = "é🦀 text ".repeat((16 << 20) / 12);
    let messages = [
        Message::text("hello"),
        Message::text(""),
        Message::binary(Bytes::new()),
        Message::binary(vec![0u8, 1, 2, 255]),
        Message::binary(big),
        Message::text(big_text),
        Message::text("after the big ones"),
    ];
    for message in messages {
        ws.send(message.clone()).await.unwrap();
        let echoed = bounded(ws.recv()).await.unwrap().unwrap();
        assert!(echoed == message, "echo differs for a message of {} bytes", payload_len(&message));
    }
}

fn payload_len(m: &Message) -> usize {
    match m {
        Message::Text(t) => t.len(),
        Message::Binary(b) | Message::Ping(b) | Message::Pong(b) => b.len(),
        Message::Close(_) => 0,
    }
}

#[tokio::test]
async fn fragmented_send_and_receive() {
    let (addr, server) = serve_one(|mut ws| async move {
        // Receive fragment by fragment, then send the pieces back as fragments.
        let mut pieces = Vec::new();
        while let Some(event) = ws.recv_event().await {
            match event.unwrap() {
                Event::Data { kind, payload, first, fin } => {
                    pieces.push((kind, payload.clone(), first, fin));
                    ws.send_fragment(kind, payload, fin).await.unwrap();
                    if fin {
                        break;
                    }
                }
                Event::Ping(_) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        while ws.recv().await.is_some() {}
        pieces
    })
    .await;
    let (mut ws, _) = bounded(ws_tokio::connect(&url(addr))).await.unwrap();
    // "héllo wörld" split inside multi-byte characters: fragments need not be UTF-8 alone.
    let text = "héllo wörld".as_bytes();
    ws.send_fragment(MessageKind::Text, &text[..2], false).await.unwrap();
    ws.ping(b"between fragments").await.unwrap();
    ws.send_fragment(MessageKind::Text, &text[2..9], false).await.unwrap();
    ws.send_fragment(MessageKind::Text, &text[9..], true).await.unwrap();

    // The client assembles the echoed fragments into one message.
    let mut got = Vec::new();
    while got.len() < 2 {
        got.push(bounded(ws.recv()).await.unwrap().unwrap());
    }
    assert_eq!(got[0], Message::Pong(Bytes::from_static(b"between fragments")));
    assert_eq!(got[1], Message::text("héllo wörld"));

    // Invalid UTF-8 in a text fragment is refused locally and nothing is sent.
    let err = ws.send_fragment(MessageKind::Text, &[0xff][..], true).await.unwrap_err();
    assert!(matches!(err, Error::Usage(_)), "{err:?}");
    ws.close(CloseCode::NORMAL, "").await.unwrap();
    while bounded(ws.recv()).await.is_some() {}

    let pieces = bounded(server).await.unwrap();
    let flags: Vec<(MessageKind, usize, bool, bool)> =
        pieces.iter().map(|(k, p, first, fin)| (*k, p.len(), *first, *fin)).collect();
    assert_eq!(
        flags,
        [
            (MessageKind::Text, 2, true, false),
            (MessageKind::Text, 7, false, false),
            (MessageKind::Text, text.len() - 9, false, true)
        ]
    );
}

#[tokio::test]
async fn ping_pong_both_ways_and_rtt() {
    let (addr, server) = serve_one(|mut ws| async move {
        let first = ws.recv().await.unwrap().unwrap();
        ws.ping(b"from server").await.unwrap();
        let mut rest = Vec::new();
        while let Some(Ok(m)) = ws.recv().await {
            rest.push(m);
        }
        (first, rest)
    })
    .await;
    let (mut ws, _) = bounded(ws_tokio::connect(&url(addr))).await.unwrap();
    assert_eq!(ws.last_rtt(), None);
    ws.ping(b"from client").await.unwrap();
    // Our Pong comes back; the server's Ping is reported (and answered automatically).
    let mut got = vec![bounded(ws.recv()).await.unwrap().unwrap()];
    got.push(bounded(ws.recv()).await.unwrap().unwrap());
    got.sort_by_key(|m| matches!(m, Message::Ping(_)));
    assert_eq!(got[0], Message::Pong(Bytes::from_static(b"from client")));
    assert_eq!(got[1], Message::Ping(Bytes::from_static(b"from server")));
    assert!(ws.last_rtt().is_some());
    let err = ws.ping(&[0u8; 126]).await.unwrap_err();
    assert!(matches!(err, Error::Usage(_)), "{err:?}");
    ws.close(CloseCode::NORMAL, "").await.unwrap();
    while bounded(ws.recv()).await.is_some() {}

    let (first, rest) = bounded(server).await.unwrap();
    assert_eq!(first, Message::Ping(Bytes::from_static(b"from client")));
    assert!(rest.contains(&Message::Pong(Bytes::from_static(b"from server"))), "{rest:?}");
}

#[tokio::test]
async fn client_closes_with_code_and_reason() {
    let (addr, server) = serve_one(|mut ws| async move {
        let mut seen = Vec::new();
        while let Some(m) = ws.recv().await {
            seen.push(m.unwrap());
        }
        (seen, ws.close_info().cloned())
    })
    .await;
    let (mut ws, _) = bounded(ws_tokio::connect(&url(addr))).await.unwrap();
    ws.send_text("last words").await.unwrap();
    ws.close(CloseCode(4000), "client done").await.unwrap();
    let err = ws.send_text("too late").await.unwrap_err();
    assert!(matches!(err, Error::Usage(_)), "{err:?}");
    let reply = bounded(ws.recv()).await.unwrap().unwrap();
    assert_eq!(reply, Message::Close(Some(CloseFrame::new(CloseCode(4000), ""))));
    assert!(bounded(ws.recv()).await.is_none());
    assert!(bounded(ws.recv()).await.is_none(), "None is final");
    let info = ws.close_info().unwrap();
    assert!(info.clean);
    assert_eq!(info.initiator, ws_proto::Initiator::Local);

    let (seen, info) = bounded(server).await.unwrap();
    assert_eq!(
        seen,
        [
            Message::text("last words"),
            Message::Close(Some(CloseFrame::new(CloseCode(4000), "client done")))
        ]
    );
    let info = info.unwrap();
    assert!(info.clean);
    assert_eq!((info.code(), info.reason()), (CloseCode(4000), "client done"));
}

#[tokio::test]
async fn server_closes_with_code_and_reason() {
    let addr = serve(|mut ws| async move {
        ws.close(CloseCode::GOING_AWAY, "shutting down").await.unwrap();
        let reply = ws.recv().await.unwrap().unwrap();
        assert_eq!(reply, Message::Close(Some(CloseFrame::new(CloseCode::GOING_AWAY, ""))));
        assert!(ws.recv().await.is_none());
    })
    .await;
    let (mut ws, _) = bounded(ws_tokio::connect(&url(addr))).await.unwrap();
    let close = bounded(ws.recv()).await.unwrap().unwrap();
    assert_eq!(
        close,
        Message::Close(Some(CloseFrame::new(CloseCode::GOING_AWAY, "shutting down")))
    );
    assert!(bounded(ws.recv()).await.is_none());
    let info = ws.close_info().unwrap();
    assert!(info.clean);
    assert_eq!(info.code(), CloseCode::GOING_AWAY);
}

#[tokio::test]
async fn protocol_error_is_reported_and_answered_with_its_close_code() {
    let (addr, server) = serve_one(|mut ws| async move {
        let mut results = Vec::new();
        while let Some(r) = ws.recv().await {
            results.push(r.map_err(|e| e.close_code()));
        }
        results
    })
    .await;
    let mut raw = RawClient::connect(addr).await;
    raw.send_frame(OpCode::Text, true, b"fine").await;
    raw.send_frame(OpCode::Text, true, &[b'a', 0xc3, 0x28]).await; // invalid UTF-8
    let frames = parse_server_frames(&raw.read_to_end().await);
    drop(raw); // our EOF ends the server's drain
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(frames[0].0, OpCode::Close);
    assert_eq!(frames[0].1[..2], 1007u16.to_be_bytes());

    let results = bounded(server).await.unwrap();
    assert_eq!(results, [Ok(Message::text("fine")), Err(Some(CloseCode::INVALID_PAYLOAD))]);
}

#[tokio::test]
async fn peer_vanishing_ends_the_stream_abnormally() {
    let (addr, server) = serve_one(|mut ws| async move {
        let first = ws.recv().await;
        let end = ws.recv().await;
        (first.map(|r| r.unwrap()), end.is_none(), ws.close_info().cloned())
    })
    .await;
    let mut raw = RawClient::connect(addr).await;
    raw.send_frame(OpCode::Binary, true, b"bye").await;
    drop(raw);
    let (first, ended, info) = bounded(server).await.unwrap();
    assert_eq!(first, Some(Message::binary(&b"bye"[..])));
    assert!(ended);
    let info = info.unwrap();
    assert!(!info.clean);
    assert_eq!(info.code(), CloseCode::ABNORMAL);
}

#[tokio::test]
async fn stream_and_sink_forward_echo() {
    let addr = serve(|ws| async move {
        let (read, write) = ws.split();
        let data = read.filter(|m| std::future::ready(!matches!(m, Ok(m) if !m.is_data())));
        // forward() closes the sink (our Close) when the stream ends.
        let _ = data.forward(write).await;
    })
    .await;
    let (mut ws, _) = bounded(ws_tokio::connect(&url(addr))).await.unwrap();
    for i in 0..100 {
        SinkExt::feed(&mut ws, Message::text(format!("m{i}"))).await.unwrap();
    }
    SinkExt::flush(&mut ws).await.unwrap();
    for i in 0..100 {
        let m = bounded(ws.next()).await.unwrap().unwrap();
        assert_eq!(m, Message::text(format!("m{i}")));
    }
    SinkExt::close(&mut ws).await.unwrap();
    let rest: Vec<_> = bounded(ws.collect::<Vec<_>>()).await;
    assert_eq!(rest.len(), 1, "{rest:?}");
    assert!(matches!(
        rest[0],
        Ok(Message::Close(Some(CloseFrame { code: CloseCode::NORMAL, .. })))
    ));
}
