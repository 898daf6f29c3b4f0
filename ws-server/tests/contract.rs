//! The core's contract holds through ws-server: a peer's error gets the right Close code, then
//! the end of the stream, and `on_close` says what happened; the default limits apply.

mod common;

use std::time::Duration;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use ws_server::{Fragment, MessageKind, Route};

fn masked(b0: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![b0];
    match payload.len() {
        n if n < 126 => frame.push(0x80 | n as u8),
        n if n < 65536 => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    let key = [1, 2, 3, 4];
    frame.extend_from_slice(&key);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    frame
}

#[tokio::test]
async fn peer_errors_get_their_close_code_then_the_end() {
    let (closed, mut closes) = mpsc::unbounded_channel();
    let route = echo().on_close(move |_, info| {
        let _ = closed.send((info.sent.as_ref().map(|f| f.code.0), info.error().is_some()));
    });
    let (addr, server, _) = serve_route("/", route).await;
    let two_mib_header = {
        let mut h = vec![0x82, 0x80 | 127];
        h.extend_from_slice(&(2u64 << 20).to_be_bytes());
        h.extend_from_slice(&[0, 0, 0, 0]);
        h
    };
    let cases: [(&str, Vec<u8>, u16); 4] = [
        ("unmasked", vec![0x81, 0x05, b'h', b'e', b'l', b'l', b'o'], 1002),
        ("invalid UTF-8", masked(0x81, &[0xff, 0xfe]), 1007),
        ("reserved opcode", masked(0x83, b""), 1002),
        ("over the 1 MiB default", two_mib_header, 1009),
    ];
    bounded(async {
        for (name, bytes, code) in cases {
            let (mut tcp, head) = raw_handshake(addr, "/", "").await;
            assert!(head.starts_with("HTTP/1.1 101 "), "{name}: {head}");
            tcp.write_all(&bytes).await.unwrap();
            assert_eq!(read_close_code(&mut tcp).await, Some(code), "{name}");
            let mut rest = Vec::new();
            tcp.read_to_end(&mut rest).await.unwrap();
            assert!(rest.is_empty(), "{name}: nothing after the Close, then FIN: {rest:?}");
            drop(tcp);
            assert_eq!(closes.recv().await, Some((Some(code), true)), "{name}");
        }
    })
    .await;
    let closes = server.metrics().closes_by_code;
    assert_eq!(closes.get(&1006), Some(&4), "no Close frame from the peer: {closes:?}");
}

#[tokio::test]
async fn fragments_arrive_piece_by_piece_when_asked() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let route = Route::new().on_fragment(move |_, fragment| {
        let _ = tx.send(fragment);
    });
    let (addr, server, _) = serve_route("/", route).await;
    bounded(async {
        let (mut tcp, _) = raw_handshake(addr, "/", "").await;
        tcp.write_all(&masked(0x01, b"ab")).await.unwrap();
        tcp.write_all(&masked(0x80, b"cd")).await.unwrap();
        let first = rx.recv().await.unwrap();
        assert_eq!(
            first,
            Fragment { kind: MessageKind::Text, payload: "ab".into(), first: true, fin: false }
        );
        let second = rx.recv().await.unwrap();
        assert_eq!((second.payload.as_ref(), second.first, second.fin), (&b"cd"[..], false, true));
        tokio::time::sleep(Duration::from_millis(20)).await;
        let m = server.metrics();
        assert_eq!((m.messages_in, m.bytes_in), (1, 4));
    })
    .await;
}

/// A handler that panics fails its own connection with 1011 (found by the behaviour kit's
/// `app_panic_surfaced`: the Close said 1000, a normal end): for the async function and for a
/// callback; the other connection on the same route, opened before, still echoes.
#[tokio::test]
async fn a_panicking_handler_closes_its_connection_with_1011() {
    let (closed, mut closes) = mpsc::unbounded_channel();
    let on_close = move |_: &ws_server::Conn, info: &ws_server::CloseInfo| {
        let _ = closed.send(info.sent.as_ref().map(|f| f.code.0));
    };
    let task = Route::new().on_close(on_close.clone()).handle(|mut socket| async move {
        while let Some(Ok(message)) = socket.recv().await {
            assert!(message != ws_server::Message::text("boom"), "the handler panics on purpose");
            let _ = socket.conn().send(message);
        }
    });
    let callbacks = echo().on_close(on_close).on_message(|conn, message| {
        assert!(message != ws_server::Message::text("boom"), "the handler panics on purpose");
        let _ = conn.send(message);
    });
    let builder = ws_server::Server::builder().route("/task", task).route("/callbacks", callbacks);
    let (addr, _server, _) = serve(builder).await;
    bounded(async {
        for path in ["/task", "/callbacks"] {
            let mut other = connect(addr, path).await.unwrap();
            let (mut tcp, head) = raw_handshake(addr, path, "").await;
            assert!(head.starts_with("HTTP/1.1 101 "), "{path}: {head}");
            tcp.write_all(&masked(0x81, b"boom")).await.unwrap();
            assert_eq!(read_close_code(&mut tcp).await, Some(1011), "{path}");
            tcp.write_all(&masked(0x88, &1011u16.to_be_bytes())).await.unwrap();
            let mut rest = Vec::new();
            tcp.read_to_end(&mut rest).await.unwrap();
            assert!(rest.is_empty(), "{path}: nothing after the Close, then FIN: {rest:?}");
            assert_eq!(closes.recv().await, Some(Some(1011)), "{path}: on_close");
            other.send(ws_server::Message::text("still here")).await.unwrap();
            let echoed = other.recv().await.unwrap().unwrap();
            assert_eq!(echoed, ws_server::Message::text("still here"), "{path}");
            other.close(1000, "").await.unwrap();
            while other.recv().await.is_some() {}
            assert_eq!(closes.recv().await, Some(Some(1000)), "{path}: the other's on_close");
        }
    })
    .await;
}
