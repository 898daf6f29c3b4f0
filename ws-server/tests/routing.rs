//! Which requests become connections: routes (404), origins (403), caps (503), the upgrade
//! hook, subprotocols, listeners (Unix, TLS).

mod common;

use std::time::Duration;

use common::*;
use ws_server::{Message, Origins, Reject, Route, Server, Upgrade};

#[tokio::test]
async fn exact_and_prefix_routes_and_404() {
    let rooms = Route::new().on_open(|conn| {
        let _ = conn.send_text(format!("room {}", conn.path()));
    });
    let builder = Server::builder().route("/echo", echo()).route_prefix("/rooms", rooms);
    let (addr, _server, _) = serve(builder).await;
    bounded(async {
        let mut ws = connect(addr, "/echo?x=1").await.unwrap();
        ws.send_text("hi").await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("hi"));

        let mut room = connect(addr, "/rooms/lobby").await.unwrap();
        assert_eq!(room.recv().await.unwrap().unwrap(), Message::text("room /rooms/lobby"));

        assert_eq!(status(connect(addr, "/nope").await), Some(404));
        assert_eq!(status(connect(addr, "/roomsx").await), Some(404));
        assert_eq!(status(connect(addr, "/echo/").await), Some(404));
    })
    .await;
}

#[tokio::test]
async fn origin_policy_refuses_with_403() {
    let route = echo().origins(Origins::exact(["https://good.example"]));
    let (addr, server, _) = serve_route("/", route).await;
    bounded(async {
        let (_, head) = raw_handshake(addr, "/", "Origin: https://good.example\r\n").await;
        assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
        let (_, head) = raw_handshake(addr, "/", "Origin: https://evil.example\r\n").await;
        assert!(head.starts_with("HTTP/1.1 403 "), "{head}");
        let (_, head) = raw_handshake(addr, "/", "").await;
        assert!(head.starts_with("HTTP/1.1 403 "), "missing Origin: {head}");
        // Counted once each refusal is over (written, drained).
        while server.metrics().upgrades_refused < 2 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert_eq!(server.metrics().upgrades_refused, 2);
}

#[tokio::test]
async fn route_and_server_caps_answer_503_and_free_on_close() {
    let (addr, server, _) = serve_route("/", echo().max_connections(2)).await;
    bounded(async {
        let a = connect(addr, "/").await.unwrap();
        let _b = connect(addr, "/").await.unwrap();
        assert_eq!(status(connect(addr, "/").await), Some(503));
        drop(a);
        // The place frees once the server has seen the end of `a`.
        let mut tries = 0;
        loop {
            match connect(addr, "/").await {
                Ok(_) => break,
                Err(e) => assert_eq!(e.status(), Some(503)),
            }
            tries += 1;
            assert!(tries < 200, "the place never freed");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(server.metrics().upgrades_refused >= 1);

    let (addr, _, _) = serve(Server::builder().route("/", echo()).max_connections(1)).await;
    bounded(async {
        let _a = connect(addr, "/").await.unwrap();
        assert_eq!(status(connect(addr, "/").await), Some(503));
    })
    .await;
}

#[tokio::test]
async fn upgrade_hook_decides_with_data_protocol_headers_or_any_refusal() {
    let route = Route::with_upgrade(|req| async move {
        // An async lookup standing in for a database.
        tokio::time::sleep(Duration::from_millis(5)).await;
        match (req.query_param("token"), req.cookie("session")) {
            (Some("t1"), _) => {
                Ok(Upgrade::with_data("alice".to_string()).header("X-User", "alice"))
            }
            (_, Some("s2")) => Ok(Upgrade::with_data("bob".to_string()).protocol("v2")),
            (Some("old"), _) => Err(Reject::redirect("/login")),
            _ => Err(Reject::new(401).header("WWW-Authenticate", "Bearer").body("who are you")),
        }
    })
    .protocols(["v1", "v2"])
    .on_open(|conn| {
        let _ = conn.send_text(format!("hello {} ({:?})", conn.data(), conn.protocol()));
    });
    let (addr, _, _) = serve_route("/", route).await;
    bounded(async {
        let (mut tcp, head) =
            raw_handshake(addr, "/?token=t1", "Sec-WebSocket-Protocol: v1\r\n").await;
        assert!(head.starts_with("HTTP/1.1 101 ") && head.contains("X-User: alice"), "{head}");
        assert!(head.contains("Sec-WebSocket-Protocol: v1"), "route's selection: {head}");
        let mut frame = [0u8; 2];
        tokio::io::AsyncReadExt::read_exact(&mut tcp, &mut frame).await.unwrap();
        assert_eq!(frame, [0x81, "hello alice (Some(\"v1\"))".len() as u8]);

        let (_, head) = raw_handshake(
            addr,
            "/",
            "Cookie: a=1; session=s2\r\nSec-WebSocket-Protocol: v1, v2\r\n",
        )
        .await;
        assert!(head.contains("Sec-WebSocket-Protocol: v2"), "the hook's choice wins: {head}");

        let (_, head) = raw_handshake(addr, "/?token=old", "").await;
        assert!(head.starts_with("HTTP/1.1 302 ") && head.contains("Location: /login"), "{head}");
        let (mut tcp, head) = raw_handshake(addr, "/", "").await;
        assert!(head.starts_with("HTTP/1.1 401 ") && head.contains("WWW-Authenticate: Bearer"));
        let mut body = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut tcp, &mut body).await.unwrap();
        assert_eq!(body, "who are you");
    })
    .await;
}

#[tokio::test]
async fn a_slow_hook_is_bounded_by_the_handshake_timeout() {
    let route = Route::with_upgrade(|_| async {
        tokio::time::sleep(Duration::from_secs(60)).await;
        Ok(Upgrade::accept())
    });
    let mut settings = ws_server::ServerSettings::default();
    settings.handshake_timeout = Duration::from_millis(300);
    let (addr, server, _) = serve(Server::builder().route("/", route).settings(settings)).await;
    bounded(async {
        let started = std::time::Instant::now();
        let (_, head) = raw_handshake(addr, "/", "").await;
        assert_eq!(head, "", "dropped without an answer");
        assert!(started.elapsed() < Duration::from_secs(5));
    })
    .await;
    // The reservation taken before the hook was given back.
    bounded(async {
        while server.metrics().connections_open != 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
}

#[cfg(unix)]
#[tokio::test]
async fn unix_socket_listener() {
    let path = std::env::temp_dir().join(format!("ws-server-test-{}.sock", std::process::id()));
    let server = Server::builder().route("/", echo()).bind_unix(&path).build().await.unwrap();
    let handle = server.handle();
    tokio::spawn(server.serve());
    bounded(async {
        let stream = tokio::net::UnixStream::connect(&path).await.unwrap();
        let request = ws_tokio::ClientRequest::new("localhost", "/");
        let (mut ws, _) = ws_tokio::client(stream, request, Default::default()).await.unwrap();
        ws.send_text("over unix").await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("over unix"));
        let peer = handle.get(1).map(|h| h.peer_addr().to_string());
        assert!(peer.is_some_and(|p| p.starts_with("unix:")));
    })
    .await;
    handle.shutdown();
    let _ = std::fs::remove_file(&path);
}

#[cfg(feature = "tls")]
#[tokio::test]
async fn tls_listener_from_pem_files() {
    let dir = std::env::temp_dir().join(format!("ws-server-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let key = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, key.cert.pem()).unwrap();
    std::fs::write(&key_path, key.signing_key.serialize_pem()).unwrap();
    let mut roots = ws_tokio::tls::rustls::RootCertStore::empty();
    roots.add(key.cert.der().clone()).unwrap();
    let client_tls = ws_tokio::tls::client_config_with_roots(roots).unwrap();

    let server = Server::builder()
        .route("/", echo())
        .bind_tls_pem("127.0.0.1:0", &cert_path, &key_path)
        .build()
        .await
        .unwrap();
    let addr = server.local_addrs()[0];
    tokio::spawn(server.serve());
    bounded(async {
        let url = format!("wss://localhost:{}/", addr.port());
        let (mut ws, _) = ws_tokio::connect_with(&url, |r| r, Default::default(), Some(client_tls))
            .await
            .unwrap();
        ws.send_text("secret").await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("secret"));
    })
    .await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn ipv6_loopback() {
    let Ok(server) = Server::builder().route("/", echo()).bind("[::1]:0").build().await else {
        eprintln!("no IPv6 loopback here: skipped");
        return;
    };
    let addr = server.local_addrs()[0];
    tokio::spawn(server.serve());
    bounded(async {
        let mut ws = connect(addr, "/").await.unwrap();
        ws.send_binary(vec![1, 2, 3]).await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::binary(vec![1, 2, 3]));
    })
    .await;
}

#[tokio::test]
async fn what_cannot_be_http_is_refused_at_once() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (addr, _, _) = serve_route("/", echo()).await;
    // Well within the 10 s handshake timeout, without waiting for more bytes.
    tokio::time::timeout(Duration::from_secs(3), async {
        let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        tcp.write_all(b"\x00\x01garbage").await.unwrap();
        let mut answer = String::new();
        tcp.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 400 "), "{answer:?}");

        // A TLS ClientHello on the plain port: closed without an HTTP answer.
        let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        tcp.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]).await.unwrap();
        let mut answer = Vec::new();
        tcp.read_to_end(&mut answer).await.unwrap();
        assert!(answer.is_empty(), "{answer:?}");
    })
    .await
    .expect("answered at once");
}
