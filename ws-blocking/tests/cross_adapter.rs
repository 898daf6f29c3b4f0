//! A ws-blocking client against the ws-tokio server: two independent run loops around the same
//! core must interoperate, with and without permessage-deflate.

use std::time::Duration;

use ws_blocking::{CloseCode, Config, DeflateConfig, Message};

/// Starts a ws-tokio echo server on loopback (its own runtime thread); returns its address.
fn tokio_echo_server(config: Config) -> std::net::SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build();
        let rt = rt.expect("tokio runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
            tx.send(listener.local_addr().expect("addr")).expect("report addr");
            loop {
                let Ok((tcp, _)) = listener.accept().await else { return };
                let config = config.clone();
                tokio::spawn(async move {
                    let accept = |_: &ws_tokio::Request| Ok(ws_tokio::Accept::new());
                    let Ok(mut ws) = ws_tokio::accept_with(tcp, config, accept).await else {
                        return;
                    };
                    while let Some(Ok(m)) = ws.recv().await {
                        if m.is_data() && ws.send(m).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
    });
    rx.recv_timeout(Duration::from_secs(20)).expect("server started")
}

fn exchange(client_config: Config, server_config: Config) -> bool {
    let addr = tokio_echo_server(server_config);
    let url = format!("ws://{addr}/");
    let (mut ws, _) = ws_blocking::connect_with(&url, |r| r, client_config, None).expect("connect");
    let compressed = ws.connection().deflate_enabled();
    let big: Vec<u8> = (0..(1 << 20)).map(|i| (i % 251) as u8).collect();
    let messages = [
        Message::text("hello from ws-blocking"),
        Message::binary(big),
        Message::text(""),
        Message::text("żółw 🐢 ".repeat(1000)),
    ];
    for m in &messages {
        ws.send(m.clone()).expect("send");
        let back = ws.recv().expect("echo").expect("no error");
        assert_eq!(&back, m);
    }
    ws.close(CloseCode(4000), "done").expect("close");
    while let Some(m) = ws.recv() {
        if let Message::Close(Some(frame)) = m.expect("clean close") {
            assert_eq!(frame.code, CloseCode(4000), "the server echoes our code");
        }
    }
    assert!(ws.close_info().expect("closed").clean);
    compressed
}

#[test]
fn blocking_client_against_tokio_server() {
    assert!(!exchange(Config::default(), Config::default()));
}

#[test]
fn blocking_client_against_tokio_server_with_deflate() {
    let mut config = Config::default();
    config.deflate = Some(DeflateConfig { min_size: 0, ..Default::default() });
    assert!(exchange(config.clone(), config), "permessage-deflate negotiated");
}
