//! Opening handshake: subprotocols and headers, rejections, bad requests, timeouts.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{PATIENCE, listen, url};
use ws_blocking::{
    Accept, ClientRequest, CloseCode, Config, Error, HandshakeError, Message, Rejection,
    accept_with, client, connect_with,
};

/// Sends `request` on a fresh connection and reads the response until the server closes.
fn raw_exchange(addr: std::net::SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(PATIENCE)).unwrap();
    // The server may answer and close before an oversized request is all written.
    let _ = tcp.write_all(request);
    let mut response = Vec::new();
    let _ = tcp.read_to_end(&mut response);
    response
}

#[test]
fn subprotocol_and_custom_headers_both_ways() {
    let (listener, addr) = listen();
    let server = std::thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        let mut ws = accept_with(tcp, Config::default(), |req| {
            assert_eq!(req.path(), "/chat");
            assert_eq!(req.query(), Some("room=7"));
            assert_eq!(req.headers().get("x-token"), Some("secret"));
            assert_eq!(req.origin(), Some("http://example.test"));
            assert_eq!(req.protocols(), ["v2.chat", "v1.chat"]);
            Ok(Accept::new().protocol("v1.chat").header("X-Server", "ws-blocking"))
        })
        .unwrap();
        assert_eq!(ws.protocol(), Some("v1.chat"));
        common::echo(&mut ws).unwrap();
    });
    let (mut ws, response) = connect_with(
        &format!("ws://{addr}/chat?room=7"),
        |req| {
            req.protocol("v2.chat")
                .protocol("v1.chat")
                .header("X-Token", "secret")
                .origin("http://example.test")
        },
        Config::default(),
        None,
    )
    .unwrap();
    assert_eq!(response.status, 101);
    assert_eq!(response.headers.get("x-server"), Some("ws-blocking"));
    assert_eq!(ws.protocol(), Some("v1.chat"));
    ws.send_text("over the agreed protocol").unwrap();
    assert_eq!(ws.recv().unwrap().unwrap(), Message::text("over the agreed protocol"));
    ws.close(CloseCode::NORMAL, "").unwrap();
    while let Some(m) = ws.recv() {
        m.unwrap();
    }
    server.join().unwrap();
}

#[test]
fn rejection_with_status_headers_and_body() {
    let (listener, addr) = listen();
    let server = std::thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        accept_with(tcp, Config::default(), |req| {
            assert_eq!(req.headers().get("authorization"), None);
            Err(Rejection::new(401).header("WWW-Authenticate", "Bearer").body("log in first"))
        })
        .map(|_| ())
    });
    // A raw client sees the whole response, body included.
    let (request, _) = ClientRequest::new(addr.to_string(), "/")
        .build(&mut ws_blocking::ws_proto::rng::ChaChaRandom::from_seed(1))
        .unwrap();
    let response = String::from_utf8(raw_exchange(addr, &request)).unwrap();
    assert!(response.starts_with("HTTP/1.1 401 "), "{response}");
    assert!(response.contains("WWW-Authenticate: Bearer\r\n"), "{response}");
    assert!(response.ends_with("\r\n\r\nlog in first"), "{response}");
    match server.join().unwrap() {
        Err(Error::Handshake(ws_proto::handshake::HandshakeError::Rejected(r)))
            if r.status == 401 => {}
        other => panic!("{other:?}"),
    }

    // The library's client reports the status.
    let (listener, addr) = listen();
    let server = std::thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        let _ = accept_with(tcp, Config::default(), |_| Err(Rejection::new(403).body("no")));
    });
    let err = connect_with(&url(addr), |r| r, Config::default(), None).unwrap_err();
    assert_eq!(err.status(), Some(403), "{err:?}");
    match &err {
        Error::Handshake(HandshakeError::Rejected(response)) => assert_eq!(response.status, 403),
        other => panic!("{other:?}"),
    }
    server.join().unwrap();
}

#[test]
fn bad_requests_get_an_http_error_response() {
    let cases: [(&[u8], &str); 3] = [
        (b"POST / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 405 "),
        (
            b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
            "HTTP/1.1 400 ",
        ),
        (
            b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
            "HTTP/1.1 426 ",
        ),
    ];
    for (request, expected) in cases {
        let (listener, addr) = listen();
        let server = std::thread::spawn(move || {
            let (tcp, _) = listener.accept().unwrap();
            ws_blocking::accept(tcp).map(|_| ())
        });
        let response = String::from_utf8(raw_exchange(addr, request)).unwrap();
        assert!(response.starts_with(expected), "{response}");
        let err = server.join().unwrap().unwrap_err();
        assert!(matches!(err, Error::Handshake(_)), "{err:?}");
        assert_eq!(err.status(), expected[9..12].parse().ok());
    }
}

#[test]
fn oversized_request_headers_are_refused_with_431() {
    let (listener, addr) = listen();
    let server = std::thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        ws_blocking::accept(tcp).map(|_| ())
    });
    let mut request = b"GET / HTTP/1.1\r\nHost: x\r\n".to_vec();
    request.extend(std::iter::repeat_n(b'a', 20 << 10));
    let response = raw_exchange(addr, &request);
    assert!(response.starts_with(b"HTTP/1.1 431 "), "{}", String::from_utf8_lossy(&response));
    let err = server.join().unwrap().unwrap_err();
    assert!(matches!(err, Error::Handshake(HandshakeError::HeadersTooLarge)), "{err:?}");
}

#[test]
fn silent_peers_hit_the_handshake_timeout() {
    let mut config = Config::default();
    config.handshake_timeout = Duration::from_millis(200);

    // A client that connects and says nothing.
    let (listener, addr) = listen();
    let server_config = config.clone();
    let server = std::thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        let started = Instant::now();
        let result = accept_with(tcp, server_config, |_| Ok(Accept::new())).map(|_| ());
        (result, started.elapsed())
    });
    let _silent = TcpStream::connect(addr).unwrap();
    let (result, took) = server.join().unwrap();
    assert!(
        matches!(result, Err(Error::Handshake(ws_proto::handshake::HandshakeError::Timeout))),
        "{result:?}"
    );
    assert!(took < PATIENCE);

    // A server that accepts TCP and never answers.
    let (listener, addr) = listen();
    let tcp = TcpStream::connect(addr).unwrap();
    let _held = listener.accept().unwrap();
    let request = ClientRequest::new(addr.to_string(), "/");
    let result = client(tcp, request, config).map(|_| ());
    assert!(
        matches!(result, Err(Error::Handshake(ws_proto::handshake::HandshakeError::Timeout))),
        "{result:?}"
    );
}

#[test]
fn frames_sent_right_after_the_request_are_not_lost() {
    let (listener, addr) = listen();
    let server = std::thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        let mut ws = ws_blocking::accept(tcp).unwrap();
        ws.recv().unwrap().unwrap()
    });
    let mut tcp = TcpStream::connect(addr).unwrap();
    let (mut bytes, _) = ClientRequest::new(addr.to_string(), "/")
        .build(&mut ws_blocking::ws_proto::rng::ChaChaRandom::from_seed(2))
        .unwrap();
    // A masked "early" text frame in the same write as the request.
    bytes.extend_from_slice(&[0x81, 0x85, 0, 0, 0, 0]);
    bytes.extend_from_slice(b"early");
    tcp.write_all(&bytes).unwrap();
    assert_eq!(server.join().unwrap(), Message::text("early"));
}

#[test]
fn invalid_urls_and_unreachable_hosts_are_errors() {
    let config = Config::default();
    for bad in ["http://127.0.0.1/", "ws://", "ws://user@127.0.0.1/", "ws://127.0.0.1/#frag"] {
        let err = connect_with(bad, |r| r, config.clone(), None).unwrap_err();
        assert!(matches!(err, Error::Handshake(HandshakeError::InvalidUrl)), "{bad}: {err:?}");
    }
    // A port nobody listens on: the OS refuses at once.
    let (listener, addr) = listen();
    drop(listener);
    let err = connect_with(&url(addr), |r| r, config, None).unwrap_err();
    assert!(matches!(err, Error::Io(_)), "{err:?}");
}

#[cfg(not(feature = "tls"))]
#[test]
fn wss_needs_the_tls_feature() {
    let err = connect_with("wss://127.0.0.1:1/", |r| r, Config::default(), None).unwrap_err();
    assert!(matches!(err, Error::TlsNotEnabled), "{err:?}");
}
