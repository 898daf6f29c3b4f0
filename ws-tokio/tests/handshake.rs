//! Opening handshake over real loopback sockets: subprotocols, headers, rejections, bad
//! requests and slow peers.

mod common;

use std::time::Duration;

use common::{bounded, listen};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use ws_tokio::handshake::HandshakeError;
use ws_tokio::{Accept, ClientRequest, Config, Error, Message, Rejection};

#[tokio::test]
async fn subprotocol_and_custom_headers() {
    let (listener, addr) = listen().await;
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut seen = None;
        let mut ws = ws_tokio::accept_with(tcp, Config::default(), |request| {
            seen = Some((
                request.path().to_owned(),
                request.query().map(str::to_owned),
                request.origin().map(str::to_owned),
                request.headers().get("x-token").map(str::to_owned),
                request.protocols().to_vec(),
            ));
            Ok(Accept::new().protocol("chat.v2").header("X-Server", "ws-tokio-test"))
        })
        .await
        .unwrap();
        assert_eq!(ws.protocol(), Some("chat.v2"));
        let message = ws.recv().await.unwrap().unwrap();
        ws.send(message).await.unwrap();
        seen.unwrap()
    });

    let (mut ws, response) = bounded(ws_tokio::connect_with(
        &format!("ws://{addr}/room?id=7"),
        |r| {
            r.protocol("chat.v1")
                .protocol("chat.v2")
                .origin("http://example.test")
                .header("X-Token", "secret")
        },
        Config::default(),
        None,
    ))
    .await
    .unwrap();
    assert_eq!(response.status, 101);
    assert_eq!(response.protocol.as_deref(), Some("chat.v2"));
    assert_eq!(response.headers.get("x-server"), Some("ws-tokio-test"));
    assert_eq!(ws.protocol(), Some("chat.v2"));
    ws.send_text("hi").await.unwrap();
    assert_eq!(bounded(ws.recv()).await.unwrap().unwrap(), Message::text("hi"));

    let (path, query, origin, token, protocols) = server.await.unwrap();
    assert_eq!(path, "/room");
    assert_eq!(query.as_deref(), Some("id=7"));
    assert_eq!(origin.as_deref(), Some("http://example.test"));
    assert_eq!(token.as_deref(), Some("secret"));
    assert_eq!(protocols, ["chat.v1", "chat.v2"]);
}

#[tokio::test]
async fn rejection_with_a_body_reaches_the_client() {
    let (listener, addr) = listen().await;
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        ws_tokio::accept_with(tcp, Config::default(), |request| {
            assert_eq!(request.path(), "/private");
            Err(Rejection::new(403).header("X-Reason", "no token").body("forbidden here"))
        })
        .await
    });
    let err = bounded(ws_tokio::connect(&format!("ws://{addr}/private"))).await.unwrap_err();
    assert_eq!(err.status(), Some(403), "{err}");
    let Error::Handshake(HandshakeError::Rejected(response)) = &err else { panic!("{err:?}") };
    assert_eq!(response.headers.get("x-reason"), Some("no token"));
    let server_err = server.await.unwrap().unwrap_err();
    assert!(server_err.is_rejection() && server_err.status() == Some(403), "{server_err:?}");

    // The body is on the wire after the head: check it with a raw request.
    let (listener, addr) = listen().await;
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let _ = ws_tokio::accept_with(tcp, Config::default(), |_| {
            Err(Rejection::new(401).body("who are you?"))
        })
        .await;
    });
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(
        b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .await
    .unwrap();
    let mut response = Vec::new();
    bounded(tcp.read_to_end(&mut response)).await.unwrap();
    let response = String::from_utf8(response).unwrap();
    assert!(response.starts_with("HTTP/1.1 401 "), "{response}");
    assert!(response.ends_with("\r\n\r\nwho are you?"), "{response}");
}

#[tokio::test]
async fn bad_requests_get_http_errors() {
    let cases: [(&[u8], u16); 3] = [
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (
            b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
            426,
        ),
        (b"NOT HTTP AT ALL\r\n\r\n", 400),
    ];
    for (request, status) in cases {
        let (listener, addr) = listen().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            ws_tokio::accept(tcp).await
        });
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(request).await.unwrap();
        let mut response = Vec::new();
        bounded(tcp.read_to_end(&mut response)).await.unwrap();
        drop(tcp); // ends the server's drain after its error response
        let expected = format!("HTTP/1.1 {status} ");
        assert!(
            response.starts_with(expected.as_bytes()),
            "{}",
            String::from_utf8_lossy(&response)
        );
        let err = bounded(server).await.unwrap().unwrap_err();
        assert_eq!(err.status(), Some(status));
    }
}

#[tokio::test]
async fn oversized_request_headers_are_refused_with_431() {
    let (listener, addr) = listen().await;
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        ws_tokio::accept(tcp).await
    });
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let huge = format!("GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "a".repeat(64 << 10));
    // The server may close before reading everything; the write result does not matter.
    let _ = tcp.write_all(huge.as_bytes()).await;
    let mut response = Vec::new();
    let _ = bounded(tcp.read_to_end(&mut response)).await;
    drop(tcp);
    assert!(response.starts_with(b"HTTP/1.1 431 "), "{}", String::from_utf8_lossy(&response));
    assert_eq!(bounded(server).await.unwrap().unwrap_err().status(), Some(431));
}

#[tokio::test]
async fn silent_peer_hits_the_handshake_timeout() {
    let (listener, addr) = listen().await;
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut config = Config::default();
        config.handshake_timeout = Duration::from_millis(200);
        ws_tokio::accept_with(tcp, config, |_| Ok(Accept::new())).await
    });
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\n").await.unwrap(); // and then nothing
    let err = bounded(server).await.unwrap().unwrap_err();
    assert!(matches!(err, Error::Handshake(HandshakeError::Timeout)), "{err:?}");

    // Client side: a server that accepts TCP but never answers.
    let (listener, addr) = listen().await;
    let _hold = tokio::spawn(async move {
        let conn = listener.accept().await;
        tokio::time::sleep(Duration::from_secs(5)).await;
        drop(conn);
    });
    let mut config = Config::default();
    config.handshake_timeout = Duration::from_millis(200);
    let err =
        bounded(ws_tokio::connect_with(&common::url(addr), |r| r, config, None)).await.unwrap_err();
    assert!(matches!(err, Error::Handshake(HandshakeError::Timeout)), "{err:?}");
}

#[tokio::test]
async fn client_over_an_existing_stream_and_frames_right_after_the_response() {
    // The server sends a message immediately after its 101 response; the client must find it
    // in the bytes it read together with the response head.
    let (listener, addr) = listen().await;
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = ws_tokio::accept(tcp).await.unwrap();
        ws.send_text("welcome").await.unwrap();
        while ws.recv().await.is_some() {}
    });
    let tcp = TcpStream::connect(addr).await.unwrap();
    let request = ClientRequest::new(addr.to_string(), "/");
    let (mut ws, response) =
        bounded(ws_tokio::client(tcp, request, Config::default())).await.unwrap();
    assert_eq!(response.status, 101);
    assert_eq!(bounded(ws.recv()).await.unwrap().unwrap(), Message::text("welcome"));
}
