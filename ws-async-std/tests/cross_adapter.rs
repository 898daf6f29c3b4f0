//! The ws-async-std client against the ws-blocking server, on async-std and on smol: two
//! independent run loops around the same core must interoperate, with and without
//! permessage-deflate.

mod common;

use std::net::TcpListener;

use common::{Rt, pattern, ws_client};
use ws_async_std::{CloseCode, Config, DeflateConfig, Message};

on_both_runtimes!(
    async_client_against_blocking_server,
    async_client_against_blocking_server_deflate
);

/// A ws-blocking echo server for one connection, on its own thread; returns its address.
fn blocking_echo_server(config: Config) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        let (tcp, _) = listener.accept().expect("accept");
        let accept = |_: &ws_blocking::Request| Ok(ws_blocking::Accept::new());
        let mut ws = ws_blocking::accept_with(tcp, config, accept).expect("handshake");
        while let Some(Ok(m)) = ws.recv() {
            if m.is_data() && ws.send(m).is_err() {
                return;
            }
        }
    });
    addr
}

async fn exchange<R: Rt>(config: Config) -> bool {
    let addr = blocking_echo_server(config.clone());
    let mut ws = ws_client::<R>(addr, config).await;
    let compressed = ws.connection().deflate_enabled();
    let messages = [
        Message::text("hello from ws-async-std"),
        Message::binary(pattern(1 << 20, 7)),
        Message::binary(Vec::new()),
        Message::text("żółw 🐢 ".repeat(1000)),
    ];
    for m in &messages {
        ws.send(m.clone()).await.unwrap();
        assert_eq!(&ws.recv().await.unwrap().unwrap(), m);
    }
    ws.close(CloseCode(4001), "done").await.unwrap();
    while let Some(m) = ws.recv().await {
        if let Message::Close(Some(frame)) = m.unwrap() {
            assert_eq!(frame.code, CloseCode(4001), "the server echoes our code");
        }
    }
    assert!(ws.close_info().unwrap().clean);
    compressed
}

async fn async_client_against_blocking_server<R: Rt>() {
    assert!(!exchange::<R>(Config::default()).await);
}

async fn async_client_against_blocking_server_deflate<R: Rt>() {
    let mut config = Config::default();
    config.deflate = Some(DeflateConfig { min_size: 0, ..Default::default() });
    assert!(exchange::<R>(config).await, "permessage-deflate negotiated");
}
