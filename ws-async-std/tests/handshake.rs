//! The opening handshake over loopback: subprotocols and headers, URLs, refusals with a body,
//! malformed and oversized requests, callback mistakes, and timeouts on both sides.

mod common;

use std::time::Duration;

use common::{Rt, raw, sleep, ws_server};
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use ws_async_std::{
    Accept, ClientRequest, CloseCode, Config, Error, HandshakeError, Message, Rejection, accept,
    accept_with, client, connect, connect_with,
};

on_both_runtimes!(
    subprotocol_and_custom_headers,
    connect_by_url,
    refusal_with_body_reaches_the_client,
    malformed_requests_get_their_status,
    callback_mistake_is_a_server_error,
    handshake_timeouts,
    permessage_deflate_when_both_enable_it,
);

async fn subprotocol_and_custom_headers<R: Rt>() {
    let (listener, addr) = R::bind().await;
    let server = R::spawn(async move {
        let tcp = R::accept(&listener).await;
        let ws = accept_with(tcp, Config::default(), |req| {
            assert_eq!(req.path(), "/chat");
            assert_eq!(req.query(), Some("room=7"));
            assert_eq!(req.origin(), Some("http://example.test"));
            assert_eq!(req.headers().get("x-token"), Some("s3cret"));
            assert_eq!(req.protocols(), ["v1", "v2"]);
            Ok(Accept::new().protocol("v2").header("X-Server", "ws-async-std"))
        })
        .await
        .unwrap();
        assert_eq!(ws.protocol(), Some("v2"));
        common::echo(ws).await
    });
    let request = ClientRequest::new(addr.to_string(), "/chat?room=7")
        .protocol("v1")
        .protocol("v2")
        .origin("http://example.test")
        .header("X-Token", "s3cret");
    let (mut ws, response) =
        client(R::connect(addr).await, request, Config::default()).await.unwrap();
    assert_eq!(response.status, 101);
    assert_eq!(response.protocol.as_deref(), Some("v2"));
    assert_eq!(response.headers.get("x-server"), Some("ws-async-std"));
    assert_eq!(ws.protocol(), Some("v2"));
    ws.send_text("over v2").await.unwrap();
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("over v2"));
    ws.close(CloseCode::NORMAL, "").await.unwrap();
    while ws.recv().await.is_some() {}
    assert_eq!(server.await, 1);
}

async fn connect_by_url<R: Rt>() {
    let (listener, addr) = R::bind().await;
    let server = R::spawn(async move {
        let tcp = R::accept(&listener).await;
        let ws = accept_with(tcp, Config::default(), |req| {
            assert_eq!(req.target(), "/echo?x=1");
            assert_eq!(req.headers().get("user-agent"), Some("tests"));
            Ok(Accept::new())
        })
        .await
        .unwrap();
        common::echo(ws).await
    });
    let url = format!("ws://{addr}/echo?x=1");
    let (mut ws, response) =
        connect_with(&url, |r| r.header("User-Agent", "tests"), Config::default(), None)
            .await
            .unwrap();
    assert_eq!(response.protocol, None);
    assert!(ws.get_ref().get_ref().nodelay().unwrap());
    ws.send_binary(vec![1, 2, 3]).await.unwrap();
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::binary(vec![1, 2, 3]));
    ws.close(CloseCode::NORMAL, "").await.unwrap();
    while ws.recv().await.is_some() {}
    assert_eq!(server.await, 1);

    // Invalid URLs and refused connections fail cleanly.
    assert!(matches!(
        connect("http://127.0.0.1/").await,
        Err(Error::Handshake(HandshakeError::InvalidUrl))
    ));
    let (listener, addr) = R::bind().await;
    drop(listener);
    assert!(matches!(connect(&format!("ws://{addr}/")).await, Err(Error::Io(_))));
}

async fn refusal_with_body_reaches_the_client<R: Rt>() {
    let (listener, addr) = R::bind().await;
    let server = R::spawn(async move {
        let mut results = Vec::new();
        for _ in 0..2 {
            let tcp = R::accept(&listener).await;
            let refused = accept_with(tcp, Config::default(), |req| {
                Err(Rejection::new(403).header("X-Why", req.path()).body("no entry\n"))
            })
            .await;
            results.push(refused.map(|_| ()).unwrap_err());
        }
        results
    });
    // Our client sees the status and the head.
    let err =
        client(R::connect(addr).await, ClientRequest::new("t", "/private"), Config::default())
            .await
            .map(|_| ())
            .unwrap_err();
    assert_eq!(err.status(), Some(403));
    let Error::Handshake(HandshakeError::Rejected(response)) = err else { panic!("{err:?}") };
    assert_eq!(response.headers.get("x-why"), Some("/private"));

    // A raw client sees the whole response, body included.
    let mut tcp = R::connect(addr).await;
    let (head, mut body) = raw::handshake(&mut tcp, "").await;
    assert!(head.starts_with("HTTP/1.1 403 Forbidden\r\n"), "{head}");
    assert!(head.contains("Content-Length: 9\r\n"), "{head}");
    assert!(head.contains("X-Why: /raw\r\n"), "{head}");
    while body.len() < 9 {
        let mut more = [0u8; 16];
        let n = tcp.read(&mut more).await.unwrap();
        assert!(n > 0);
        body.extend_from_slice(&more[..n]);
    }
    assert_eq!(body, b"no entry\n");
    drop(tcp);

    for err in server.await {
        assert!(err.is_rejection(), "{err:?}");
        assert_eq!(err.status(), Some(403));
    }
}

async fn malformed_requests_get_their_status<R: Rt>() {
    let cases: [(&[u8], u16, &str); 4] = [
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 400, ""),
        (
            b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
            426,
            "Sec-WebSocket-Version: 13\r\n",
        ),
        (b"POST / HTTP/1.1\r\nHost: x\r\n\r\n", 405, "Allow: GET\r\n"),
        (b"", 431, ""),
    ];
    for (request, status, header) in cases {
        let (listener, addr) = R::bind().await;
        let server = R::spawn(async move {
            let tcp = R::accept(&listener).await;
            accept(tcp).await.map(|_| ()).unwrap_err()
        });
        let mut tcp = R::connect(addr).await;
        if request.is_empty() {
            // Headers beyond the 16 KiB limit.
            let huge = format!("GET / HTTP/1.1\r\nX-Pad: {}\r\n\r\n", "a".repeat(20_000));
            let _ = tcp.write_all(huge.as_bytes()).await;
        } else {
            tcp.write_all(request).await.unwrap();
        }
        let (head, _) = raw::read_head(&mut tcp).await;
        assert!(head.starts_with(&format!("HTTP/1.1 {status} ")), "{head}");
        assert!(head.contains(header), "{head}");
        drop(tcp);
        let err = server.await;
        assert!(matches!(err, Error::Handshake(_)), "{err:?}");
        assert_eq!(err.status(), Some(status));
    }
}

async fn callback_mistake_is_a_server_error<R: Rt>() {
    let (listener, addr) = R::bind().await;
    let server = R::spawn(async move {
        let tcp = R::accept(&listener).await;
        // Selects a subprotocol the client did not offer.
        accept_with(tcp, Config::default(), |_| Ok(Accept::new().protocol("nope")))
            .await
            .map(|_| ())
            .unwrap_err()
    });
    let err = client(
        R::connect(addr).await,
        ClientRequest::new("t", "/").protocol("chat"),
        Config::default(),
    )
    .await
    .map(|_| ())
    .unwrap_err();
    assert_eq!(err.status(), Some(500));
    assert!(matches!(server.await, Error::Handshake(HandshakeError::ProtocolNotOffered)));
}

async fn handshake_timeouts<R: Rt>() {
    let mut config = Config::default();
    config.handshake_timeout = Duration::from_millis(200);

    // Server side: a client that connects and says nothing.
    let (listener, addr) = R::bind().await;
    let server_config = config.clone();
    let server = R::spawn(async move {
        let tcp = R::accept(&listener).await;
        accept_with(tcp, server_config, |_| Ok(Accept::new())).await.map(|_| ()).unwrap_err()
    });
    let silent = R::connect(addr).await;
    assert!(matches!(server.await, Error::Handshake(ws_proto::handshake::HandshakeError::Timeout)));
    drop(silent);

    // Server side: a client that trickles a header byte by byte, slower than the limit allows.
    let (listener, addr) = R::bind().await;
    let server_config = config.clone();
    let server = R::spawn(async move {
        let tcp = R::accept(&listener).await;
        accept_with(tcp, server_config, |_| Ok(Accept::new())).await.map(|_| ()).unwrap_err()
    });
    let mut slow = R::connect(addr).await;
    let trickle = R::spawn(async move {
        for byte in b"GET / HTTP/1.1\r\nHost: x\r\n".iter() {
            if slow.write_all(&[*byte]).await.is_err() {
                break;
            }
            sleep(Duration::from_millis(20)).await;
        }
    });
    assert!(matches!(server.await, Error::Handshake(ws_proto::handshake::HandshakeError::Timeout)));
    trickle.await;

    // Client side: a server that accepts TCP and never answers.
    let (listener, addr) = R::bind().await;
    let mute = R::spawn(async move {
        let tcp = R::accept(&listener).await;
        sleep(Duration::from_millis(600)).await;
        drop(tcp);
    });
    let err = client(R::connect(addr).await, ClientRequest::new("t", "/"), config)
        .await
        .map(|_| ())
        .unwrap_err();
    assert!(
        matches!(err, Error::Handshake(ws_proto::handshake::HandshakeError::Timeout)),
        "{err:?}"
    );
    mute.await;

    // And a normal handshake still works within the limit.
    let (listener, addr) = R::bind().await;
    let server = R::spawn(async move { common::echo(ws_server::<R>(&listener).await).await });
    let mut ws = common::ws_client::<R>(addr, Config::default()).await;
    ws.close(CloseCode::NORMAL, "").await.unwrap();
    while ws.recv().await.is_some() {}
    assert_eq!(server.await, 0);
}

async fn permessage_deflate_when_both_enable_it<R: Rt>() {
    let mut config = Config::default();
    // The 1.3 MB message below is over the 1 MiB default for compressed messages: raised.
    config.deflate = Some(ws_proto::deflate::DeflateConfig {
        max_message_size: Some(4 << 20),
        ..Default::default()
    });
    let (listener, addr) = R::bind().await;
    let server_config = config.clone();
    let server = R::spawn(async move {
        let tcp = R::accept(&listener).await;
        let ws = accept_with(tcp, server_config, |_| Ok(Accept::new())).await.unwrap();
        assert!(ws.connection().deflate_enabled());
        common::echo(ws).await
    });
    let (mut ws, response) =
        client(R::connect(addr).await, ClientRequest::new("t", "/"), config).await.unwrap();
    assert!(!response.extensions.is_empty());
    assert!(ws.connection().deflate_enabled());
    let text = "compressible ".repeat(100_000);
    ws.send_text(text.as_str()).await.unwrap();
    match ws.recv().await.unwrap().unwrap() {
        Message::Text(echoed) => assert!(echoed == text.as_str()),
        other => panic!("expected text, got {other:?}"),
    }
    ws.close(CloseCode::NORMAL, "").await.unwrap();
    while ws.recv().await.is_some() {}
    assert_eq!(server.await, 1);

    // Without it on the server, the offer is declined and messages flow uncompressed.
    let (listener, addr) = R::bind().await;
    let server = R::spawn(async move { common::echo(ws_server::<R>(&listener).await).await });
    let mut config = Config::default();
    config.deflate = Some(ws_proto::deflate::DeflateConfig::default());
    let (mut ws, response) =
        client(R::connect(addr).await, ClientRequest::new("t", "/"), config).await.unwrap();
    assert!(response.extensions.is_empty());
    assert!(!ws.connection().deflate_enabled());
    ws.send_text("plain").await.unwrap();
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("plain"));
    ws.close(CloseCode::NORMAL, "").await.unwrap();
    while ws.recv().await.is_some() {}
    assert_eq!(server.await, 1);
}
