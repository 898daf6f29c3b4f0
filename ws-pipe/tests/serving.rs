//! Admission (origins, token), transports (TLS, Unix socket, IPv6), channels, keepalive and
//! idle and message timeouts, the HTTP side, compression and the access log.

mod common;

use std::time::Duration;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use ws_tokio::{ClientRequest, Message};

#[tokio::test]
async fn origins_are_exact_case_insensitive_and_others_get_403() {
    let dir = TempDir::new("origins");
    let [pin, pout] = fifo_args(&dir);
    let pipe = WsPipe::start(&[
        "--origin=http://a.example",
        "--origin",
        "https://b.example:8443",
        &pin,
        &pout,
    ])
    .await;
    for ok in ["http://a.example", "HTTP://A.Example", "https://b.example:8443"] {
        let url = format!("{}/", pipe.url);
        let result =
            ws_tokio::connect_with(&url, |r: ClientRequest| r.origin(ok), Default::default(), None);
        assert!(bounded(result).await.is_ok(), "{ok} allowed");
    }
    for bad in ["http://a.example.evil", "http://b.example:8443", "null"] {
        assert_eq!(pipe.refused("/", |r| r.origin(bad)).await, Some(403), "{bad}");
    }
    assert_eq!(pipe.refused("/", |r| r).await, Some(403), "no Origin");
}

#[tokio::test]
async fn token_in_the_query_or_a_bearer_header_else_401() {
    let dir = TempDir::new("token");
    let [pin, pout] = fifo_args(&dir);
    let pipe = WsPipe::start(&["--auth-token=s3cret", &pin, &pout]).await;
    assert_eq!(pipe.refused("/", |r| r).await, Some(401));
    assert_eq!(pipe.refused("/?token=wrong", |r| r).await, Some(401));
    assert_eq!(pipe.refused("/", |r| r.header("Authorization", "Bearer s3cre")).await, Some(401));
    let _query = pipe.connect("/?token=s3cret").await;
    let url = format!("{}/", pipe.url);
    let header = |r: ClientRequest| r.header("Authorization", "Bearer s3cret");
    assert!(bounded(ws_tokio::connect_with(&url, header, Default::default(), None)).await.is_ok());
}

#[tokio::test]
async fn tls_with_pem_files() {
    let dir = TempDir::new("tls");
    let key = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    std::fs::write(dir.path("cert.pem"), key.cert.pem()).unwrap();
    std::fs::write(dir.path("key.pem"), key.signing_key.serialize_pem()).unwrap();
    let mut roots = ws_tokio::tls::rustls::RootCertStore::empty();
    roots.add(key.cert.der().clone()).unwrap();
    let client_tls = ws_tokio::tls::client_config_with_roots(roots).unwrap();
    let [pin, pout] = fifo_args(&dir);
    let cert = format!("--ssl-cert={}", dir.path("cert.pem").display());
    let key = format!("--ssl-key={}", dir.path("key.pem").display());
    let pipe = WsPipe::start(&[&cert, &key, &pin, &pout]).await;
    assert!(pipe.url.starts_with("wss://127.0.0.1:"), "{}", pipe.url);
    let url = pipe.url.replace("127.0.0.1", "localhost") + "/";
    let (mut ws, _) =
        bounded(ws_tokio::connect_with(&url, |r| r, Default::default(), Some(client_tls)))
            .await
            .unwrap();
    let mut producer = producer(&dir.path("in")).await;
    synced(&mut producer, &mut [&mut ws]).await;
    write(&mut producer, b"over tls\n").await;
    assert_eq!(next_data(&mut ws).await, Message::text("over tls\n"));
}

#[tokio::test]
async fn unix_socket() {
    let dir = TempDir::new("unix");
    let [pin, pout] = fifo_args(&dir);
    let socket = dir.path("ws.sock");
    let unix = format!("--unix-socket={}", socket.display());
    let _pipe = WsPipe::start(&[&unix, &pin, &pout]).await;
    let stream = tokio::net::UnixStream::connect(&socket).await.unwrap();
    let request = ClientRequest::new("localhost", "/");
    let (mut ws, _) = bounded(ws_tokio::client(stream, request, Default::default())).await.unwrap();
    let mut producer = producer(&dir.path("in")).await;
    synced(&mut producer, &mut [&mut ws]).await;
    write(&mut producer, b"over unix\n").await;
    assert_eq!(next_data(&mut ws).await, Message::text("over unix\n"));
}

#[tokio::test]
async fn ipv6_with_addr_colons() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("no IPv6 loopback here: this test checked nothing");
        return;
    }
    let dir = TempDir::new("ipv6");
    let [pin, pout] = fifo_args(&dir);
    let pipe = WsPipe::start_raw(&["--addr", "::1", "-p", "0", &pin, &pout]).await;
    assert!(pipe.url.starts_with("ws://[::1]:"), "{}", pipe.url);
    let mut ws = pipe.connect("/").await;
    let mut out = consumer(&dir.path("out"));
    ws.send_text("v6").await.unwrap();
    assert_eq!(read_exact(&mut out, 2).await, b"v6");
}

#[tokio::test]
async fn channels_by_path_and_the_default_pair_elsewhere() {
    let dir = TempDir::new("channels");
    let [pin, pout] = fifo_args(&dir);
    let logs = format!(
        "--channel=/logs={},{}",
        dir.path("logs-in").display(),
        dir.path("logs-out").display()
    );
    let pipe = WsPipe::start(&[&logs, &pin, &pout]).await;
    let mut on_logs = pipe.connect("/logs").await;
    let mut on_root = pipe.connect("/").await;
    let mut elsewhere = pipe.connect("/whatever").await;
    let mut logs_in = producer(&dir.path("logs-in")).await;
    let mut default_in = producer(&dir.path("in")).await;
    synced(&mut logs_in, &mut [&mut on_logs]).await;
    synced(&mut default_in, &mut [&mut on_root, &mut elsewhere]).await;
    write(&mut logs_in, b"for /logs").await;
    write(&mut default_in, b"for the rest").await;
    assert_eq!(next_data(&mut on_logs).await, Message::text("for /logs"));
    assert_eq!(next_data(&mut on_root).await, Message::text("for the rest"));
    assert_eq!(next_data(&mut elsewhere).await, Message::text("for the rest"));
    let mut logs_out = consumer(&dir.path("logs-out"));
    on_logs.send_text("up /logs").await.unwrap();
    assert_eq!(read_exact(&mut logs_out, 8).await, b"up /logs");
    // Nothing of the channel leaked to the other: the next line on /logs is the next one.
    write(&mut logs_in, b"again").await;
    assert_eq!(next_data(&mut on_logs).await, Message::text("again"));
}

#[tokio::test]
async fn keepalive_pings_idle_and_message_timeouts() {
    let dir = TempDir::new("keepalive");
    let [pin, pout] = fifo_args(&dir);
    let pipe = WsPipe::start(&["--ping-interval=1", &pin, &pout]).await;
    let mut ws = pipe.connect("/").await;
    let ping = bounded(async {
        loop {
            if let Some(Ok(Message::Ping(p))) = ws.recv().await {
                return p;
            }
        }
    })
    .await;
    let _ = ping;
    drop(pipe);

    // A client that never answers (never polled, so its Pongs are never sent): 1011.
    let dir = TempDir::new("pong-timeout");
    let [pin, pout] = fifo_args(&dir);
    let pipe = WsPipe::start(&["--ping-interval=1", "--pong-timeout=1", &pin, &pout]).await;
    let mut ws = pipe.connect("/").await;
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let code = bounded(async {
        while let Some(Ok(_)) = ws.recv().await {}
        ws.close_info().map(|c| c.sent.as_ref().or(c.received.as_ref()).map(|f| u16::from(f.code)))
    })
    .await;
    assert_eq!(code.flatten(), Some(1011));
    drop(pipe);

    let dir = TempDir::new("idle");
    let [pin, pout] = fifo_args(&dir);
    let pipe = WsPipe::start(&["--idle-timeout=1", "--ping-interval=0", &pin, &pout]).await;
    let mut ws = pipe.connect("/").await;
    let started = std::time::Instant::now();
    let code = bounded(async {
        while let Some(Ok(_)) = ws.recv().await {}
        ws.close_info().map(|c| u16::from(c.code()))
    })
    .await;
    assert_eq!(code, Some(1001));
    assert!(started.elapsed() >= Duration::from_millis(900));
    drop(pipe);

    // A message left unfinished (its first fragment, then nothing): 1008 after the deadline.
    let dir = TempDir::new("message-timeout");
    let [pin, pout] = fifo_args(&dir);
    let pipe = WsPipe::start(&["--message-timeout=1", "--ping-interval=0", &pin, &pout]).await;
    let mut ws = pipe.connect("/").await;
    let started = std::time::Instant::now();
    ws.send_fragment(ws_tokio::MessageKind::Text, "unfini", false).await.unwrap();
    let code = bounded(async {
        while let Some(Ok(_)) = ws.recv().await {}
        ws.close_info().map(|c| u16::from(c.code()))
    })
    .await;
    assert_eq!(code, Some(1008));
    assert!(started.elapsed() >= Duration::from_millis(900));
}

/// `GET path` over plain HTTP; returns the status line and the body.
async fn http_get(url: &str, path: &str) -> (String, String) {
    let addr = url.trim_start_matches("ws://");
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    bounded(tcp.read_to_string(&mut response)).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    (head.lines().next().unwrap_or("").to_owned(), body.to_owned())
}

#[tokio::test]
async fn demo_page_or_static_files() {
    let dir = TempDir::new("http");
    let [pin, pout] = fifo_args(&dir);
    let pipe = WsPipe::start(&[&pin, &pout]).await;
    let (status, body) = http_get(&pipe.url, "/").await;
    assert!(status.contains("200"), "{status}");
    assert!(body.contains("new WebSocket(") && body.contains("<title>ws-pipe</title>"));
    assert!(http_get(&pipe.url, "/nothing").await.0.contains("404"));
    drop(pipe);

    std::fs::create_dir_all(dir.path("www")).unwrap();
    std::fs::write(dir.path("www/index.html"), "<p>mine</p>").unwrap();
    let www = format!("--static={}", dir.path("www").display());
    let pipe = WsPipe::start(&[&www, &pin, &pout]).await;
    let (status, body) = http_get(&pipe.url, "/index.html").await;
    assert!(status.contains("200"), "{status}");
    assert_eq!(body, "<p>mine</p>");
    // The WebSocket side still answers on /.
    let _ws = pipe.connect("/").await;
}

#[tokio::test]
async fn compression_on_request() {
    let dir = TempDir::new("compress");
    let [pin, pout] = fifo_args(&dir);
    let mut config = ws_tokio::Config::default();
    config.deflate = Some(Default::default());
    for (flag, agreed) in [(None, false), (Some("--compress"), true)] {
        let mut args = vec![pin.as_str(), pout.as_str()];
        args.extend(flag);
        let pipe = WsPipe::start(&args).await;
        let url = format!("{}/", pipe.url);
        let (mut ws, response) =
            bounded(ws_tokio::connect_with(&url, |r| r, config.clone(), None)).await.unwrap();
        let ext = response.deflate.is_some();
        assert_eq!(ext, agreed, "{flag:?}");
        let mut producer = producer(&dir.path("in")).await;
        synced(&mut producer, &mut [&mut ws]).await;
        write(&mut producer, "a".repeat(3000).as_bytes()).await;
        assert_eq!(data_len(&next_data(&mut ws).await), 3000);
    }
}

#[tokio::test]
async fn access_log_has_one_json_line_per_connection() {
    let dir = TempDir::new("access-log");
    let [pin, pout] = fifo_args(&dir);
    let log = format!("--access-log={}", dir.path("access.log").display());
    let pipe = WsPipe::start(&[&log, "--origin=http://ok.example", &pin, &pout]).await;
    let url = format!("{}/path?q=1", pipe.url);
    let (mut ws, _) = bounded(ws_tokio::connect_with(
        &url,
        |r| r.origin("http://ok.example"),
        Default::default(),
        None,
    ))
    .await
    .unwrap();
    let mut out = consumer(&dir.path("out"));
    ws.send_text("12345").await.unwrap();
    read_exact(&mut out, 5).await;
    ws.close(1000u16, "bye").await.unwrap();
    while let Some(Ok(_)) = bounded(ws.recv()).await {}
    assert_eq!(pipe.refused("/", |r| r.origin("http://bad.example")).await, Some(403));
    let lines = bounded(async {
        loop {
            let text = std::fs::read_to_string(dir.path("access.log")).unwrap_or_default();
            if text.lines().count() >= 2 {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    let entries: Vec<serde_json::Value> =
        lines.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let ok = entries.iter().find(|e| e["status"] == 101).expect("the connection's line");
    assert_eq!(ok["path"], "/path");
    assert_eq!(ok["origin"], "http://ok.example");
    assert_eq!(ok["bytes_in"], 5);
    assert_eq!(ok["close_code"], 1000);
    assert!(ok["peer"].as_str().unwrap().starts_with("127.0.0.1:"));
    assert!(ok["time"].as_str().unwrap().ends_with('Z'));
    assert!(ok["duration_ms"].is_u64());
    let refused = entries.iter().find(|e| e["status"] == 403).expect("the refusal's line");
    assert_eq!(refused["origin"], "http://bad.example");
}
