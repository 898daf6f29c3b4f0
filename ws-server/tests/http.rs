//! HTTP on the WebSocket port: the handler, bodies with a limit, static files, redirects, and
//! upgrades that arrive on a keep-alive connection hyper already serves. Loopback only; every
//! test is bounded.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::{Http, bounded, deflate_config, echo, masked_text, start};
use ws_proto::Config;
use ws_proto::handshake::ClientRequest;
use ws_server::http::{HttpRequest, HttpResponse};
use ws_server::{Message, Origins, Reject, Route, Server, Upgrade};

async fn app(mut req: HttpRequest) -> HttpResponse {
    match (req.method().as_str(), req.path()) {
        ("GET", "/") => HttpResponse::html("<h1>hello</h1>"),
        ("GET", "/old") => HttpResponse::redirect("/new"),
        ("GET", "/who") => HttpResponse::text(req.peer_addr().to_string()),
        ("POST", "/echo") => match req.body().await {
            Ok(body) => HttpResponse::bytes("application/octet-stream", body),
            Err(e) => e.into(),
        },
        _ => HttpResponse::not_found(),
    }
}

#[tokio::test]
async fn get_is_served_on_the_websocket_port() {
    bounded(async {
        let (addr, _) = start(Server::builder().route("/ws", echo()).http(app)).await;
        let mut http = Http::connect(addr).await;
        let page = http.get("/").await;
        assert_eq!(page.status, 200);
        assert_eq!(page.header("content-type"), Some("text/html; charset=utf-8"));
        assert_eq!(page.text(), "<h1>hello</h1>");
        // Keep-alive: the same connection serves the next request.
        let who = http.get("/who").await;
        assert_eq!(who.text(), http.tcp.local_addr().unwrap().to_string());
        assert_eq!(http.get("/nothing").await.status, 404);
        // A WebSocket client on the same port, first request an upgrade.
        let (mut ws, _) = ws_tokio::connect(&format!("ws://{addr}/ws")).await.unwrap();
        ws.send_text("hi").await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("hi"));
    })
    .await;
}

#[tokio::test]
async fn handlers_reach_the_websocket_side() {
    bounded(async {
        let news = Route::new().on_open(|conn| conn.subscribe("news")).on_message(|conn, msg| {
            let _ = conn.send(msg);
        });
        let publish = |mut req: HttpRequest| async move {
            let body = req.body().await.unwrap();
            let sent = req.server().publish("news", String::from_utf8(body.to_vec()).unwrap());
            HttpResponse::text(sent.to_string())
        };
        let (addr, _) = start(Server::builder().route("/news", news).http(publish)).await;
        let (mut ws, _) = ws_tokio::connect(&format!("ws://{addr}/news")).await.unwrap();
        // The echo comes after `on_open`: subscribed.
        ws.send_text("ready").await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("ready"));
        let mut http = Http::connect(addr).await;
        let reply =
            http.request("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nflash").await;
        assert_eq!(reply.text(), "1");
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("flash"));
    })
    .await;
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order() {
    bounded(async {
        let (addr, _) = start(Server::builder().route("/ws", echo()).http(app)).await;
        let mut http = Http::connect(addr).await;
        http.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\nGET /old HTTP/1.1\r\nHost: t\r\n\r\n").await;
        assert_eq!(http.read_reply(false).await.status, 200);
        assert_eq!(http.read_reply(false).await.status, 302);
    })
    .await;
}

#[tokio::test]
async fn post_bodies_have_a_limit() {
    bounded(async {
        let builder = Server::builder().route("/ws", echo()).http(app).max_body_size(1024);
        let (addr, _) = start(builder).await;

        let mut http = Http::connect(addr).await;
        let body = "x".repeat(1000);
        let within = http
            .request(&format!(
                "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            ))
            .await;
        assert_eq!((within.status, within.body.len()), (200, 1000));

        // Chunked, no length announced: refused once past the limit.
        let chunk = "y".repeat(1500);
        let chunked = http
            .request(&format!(
                "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\
                 {:x}\r\n{chunk}\r\n0\r\n\r\n",
                chunk.len()
            ))
            .await;
        assert_eq!(chunked.status, 413);
        assert_eq!(chunked.header("connection"), Some("close"));

        // Announced too large: refused before the body is sent.
        let mut http = Http::connect(addr).await;
        let announced =
            http.request("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n").await;
        assert_eq!(announced.status, 413);
        assert!(http.closed().await);
    })
    .await;
}

#[tokio::test]
async fn redirects() {
    bounded(async {
        let (addr, _) = start(Server::builder().route("/ws", echo()).http(app)).await;
        let reply = Http::connect(addr).await.get("/old").await;
        assert_eq!((reply.status, reply.header("location")), (302, Some("/new")));
    })
    .await;
}

/// A directory under the system's temporary directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("ws-server-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test]
async fn static_directory() {
    bounded(async {
        let tmp = TempDir::new("static");
        let root = tmp.0.join("www");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(root.join("index.html"), "<p>index</p>").unwrap();
        std::fs::write(root.join("app.js"), "console.log(1)").unwrap();
        std::fs::write(root.join("data.json"), "{}").unwrap();
        std::fs::write(root.join("sub/index.html"), "sub").unwrap();
        std::fs::write(root.join(".secret"), "hidden").unwrap();
        std::fs::write(tmp.0.join("outside.txt"), "outside").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(tmp.0.join("outside.txt"), root.join("link.txt")).unwrap();

        let builder = Server::builder().route("/ws", echo()).static_dir(&root);
        let (addr, _) = start(builder).await;
        let mut http = Http::connect(addr).await;

        let index = http.get("/").await;
        assert_eq!((index.status, index.text()), (200, "<p>index</p>"));
        assert_eq!(index.header("content-type"), Some("text/html; charset=utf-8"));
        let js = http.get("/app.js").await;
        assert_eq!(js.header("content-type"), Some("text/javascript; charset=utf-8"));
        assert_eq!(js.header("x-content-type-options"), Some("nosniff"));
        let json = http.get("/data.json?v=2").await;
        assert_eq!((json.status, json.header("content-type")), (200, Some("application/json")));
        http.send(b"HEAD /app.js HTTP/1.1\r\nHost: t\r\n\r\n").await;
        let head = http.read_reply(true).await;
        assert_eq!((head.status, head.header("content-length")), (200, Some("14")));

        let dir = http.get("/sub").await;
        assert_eq!((dir.status, dir.header("location")), (301, Some("/sub/")));
        assert_eq!(http.get("/sub/").await.text(), "sub");

        for escape in ["/../outside.txt", "/%2e%2e/outside.txt", "/sub/..%2f..%2foutside.txt"] {
            assert_eq!(http.get(escape).await.status, 403, "{escape}");
        }
        assert_eq!(http.get("/.secret").await.status, 403);
        #[cfg(unix)]
        assert_eq!(http.get("/link.txt").await.status, 403, "a link out of the directory");
        assert_eq!(http.get("/missing.css").await.status, 404);
        let post = http.request("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n").await;
        assert_eq!((post.status, post.header("allow")), (405, Some("GET, HEAD")));
    })
    .await;
}

#[tokio::test]
async fn static_files_first_then_the_handler() {
    bounded(async {
        let tmp = TempDir::new("mixed");
        std::fs::write(tmp.0.join("index.html"), "files").unwrap();
        let builder = Server::builder().route("/ws", echo()).static_dir(&tmp.0).http(app);
        let (addr, _) = start(builder).await;
        let mut http = Http::connect(addr).await;
        assert_eq!(http.get("/").await.text(), "files");
        assert_eq!(http.get("/old").await.status, 302, "not a file: the handler");
        let post =
            http.request("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nok").await;
        assert_eq!(post.text(), "ok");
    })
    .await;
}

#[tokio::test]
async fn upgrade_on_a_keep_alive_connection() {
    bounded(async {
        let chat = Route::new().protocols(["chat.v2", "chat.v1"]).compression(true).on_message(
            |conn, msg| {
                let _ = conn.send(msg);
            },
        );
        let builder = Server::builder().route("/chat", chat).http(app);
        let (addr, handle) = start(builder).await;

        let mut http = Http::connect(addr).await;
        assert_eq!(http.get("/").await.status, 200);
        let request = ClientRequest::new(addr.to_string(), "/chat?room=1").protocol("chat.v1");
        let early = masked_text("right behind the request");
        let (mut ws, response) = http.websocket(request, deflate_config(), &early).await.unwrap();
        assert_eq!(response.protocol.as_deref(), Some("chat.v1"));
        assert!(response.deflate.is_some(), "permessage-deflate negotiated");
        assert_eq!(
            ws.recv().await.unwrap().unwrap(),
            Message::text("right behind the request"),
            "the frame sent with the request arrived"
        );
        ws.send_text("after").await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("after"));
        assert_eq!(handle.count(), 1);
        assert_eq!(handle.metrics().connections_accepted, 1);
        ws.close(ws_server::CloseCode::NORMAL, "").await.unwrap();
        while ws.recv().await.is_some() {}
    })
    .await;
}

#[tokio::test]
async fn keep_alive_upgrades_get_the_routes_policy() {
    bounded(async {
        let guarded = Route::with_upgrade(|req| async move {
            match req.query_param("token") {
                Some("good") => Ok(Upgrade::accept().header("x-hook", "yes")),
                _ => Err(Reject::new(401).body("token")),
            }
        })
        .origins(Origins::exact(["http://good.example"]));
        let builder = Server::builder().route("/g", guarded).route("/ws", echo()).http(app);
        let (addr, handle) = start(builder).await;

        let upgrade_after_get = |origin: &'static str, path: &'static str| async move {
            let mut http = Http::connect(addr).await;
            assert_eq!(http.get("/").await.status, 200);
            let request = ClientRequest::new(addr.to_string(), path).origin(origin);
            http.websocket(request, Config::default(), b"").await.map(|(_, r)| r)
        };
        assert_eq!(
            upgrade_after_get("http://evil.example", "/g?token=good").await.err(),
            Some(403)
        );
        assert_eq!(upgrade_after_get("http://good.example", "/g?token=bad").await.err(), Some(401));
        let ok = upgrade_after_get("http://good.example", "/g?token=good").await.unwrap();
        assert_eq!(ok.headers.get("x-hook"), Some("yes"));
        assert_eq!(handle.metrics().upgrades_refused, 2);

        // A bad upgrade (no key) on a keep-alive connection: the core's 400.
        let mut http = Http::connect(addr).await;
        assert_eq!(http.get("/").await.status, 200);
        let bad = http
            .request(
                "GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
            )
            .await;
        assert_eq!(bad.status, 400);
    })
    .await;
}

#[tokio::test]
async fn without_an_http_side_requests_are_refused_as_before() {
    bounded(async {
        let (addr, _) = start(Server::builder().route("/ws", echo())).await;
        // The handshake's refusal: not an upgrade.
        let reply = Http::connect(addr).await.get("/ws").await;
        assert_eq!(reply.status, 400);
        let reply = Http::connect(addr).await.get("/index.html").await;
        assert_eq!(reply.status, 400);
        let err = ws_tokio::connect(&format!("ws://{addr}/elsewhere")).await.unwrap_err();
        assert_eq!(err.status(), Some(404));
    })
    .await;
}

#[tokio::test]
async fn upgrades_to_paths_without_a_route_go_to_the_handler() {
    bounded(async {
        let (addr, _) = start(Server::builder().route("/ws", echo()).http(app)).await;
        let err = ws_tokio::connect(&format!("ws://{addr}/elsewhere")).await.unwrap_err();
        assert_eq!(err.status(), Some(404));
    })
    .await;
}

#[tokio::test]
async fn shutdown_does_not_wait_for_idle_http_connections() {
    bounded(async {
        let builder = Server::builder()
            .bind("127.0.0.1:0")
            .route("/ws", echo())
            .http(app)
            .shutdown_timeout(Duration::from_secs(60));
        let server = builder.build().await.unwrap();
        let (addr, handle) = (server.local_addrs()[0], server.handle());
        let served = tokio::spawn(server.serve());
        let mut http = Http::connect(addr).await;
        assert_eq!(http.get("/").await.status, 200);
        let (mut ws, _) = ws_tokio::connect(&format!("ws://{addr}/ws")).await.unwrap();
        handle.shutdown();
        // The idle keep-alive connection is closed, the WebSocket gets 1001.
        assert!(http.closed().await);
        while let Some(Ok(_)) = ws.recv().await {}
        assert_eq!(ws.close_info().map(|i| i.code()), Some(ws_server::CloseCode::GOING_AWAY));
        tokio::time::timeout(Duration::from_secs(5), served).await.unwrap().unwrap().unwrap();
    })
    .await;
}
