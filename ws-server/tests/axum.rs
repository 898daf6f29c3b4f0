//! axum both ways: a ws-server route mounted in an axum `Router` (the upgrade and its
//! negotiation still this crate's), and an axum app serving a ws-server's HTTP side.
//! Loopback only; every test is bounded.

mod common;

use std::net::SocketAddr;

use axum::extract::ConnectInfo;
use axum::routing::{get, post};
use common::{Http, bounded, deflate_config, echo, masked_text, start};
use ws_proto::Config;
use ws_proto::handshake::ClientRequest;
use ws_server::{CloseCode, Message, Route, Server};

fn chat() -> Route {
    Route::new()
        .protocols(["chat"])
        .compression(true)
        .on_open(|conn| conn.subscribe("room"))
        .on_message(|conn, msg| {
            let _ = conn.send(msg);
        })
}

async fn serve_axum(app: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

#[tokio::test]
async fn a_route_mounted_in_axum() {
    bounded(async {
        let ws = Server::builder().build_embedded();
        let handle = ws.handle();
        let app = axum::Router::new()
            .route("/", get(|| async { "axum home" }))
            .route("/chat", ws_server::axum::route(&handle, chat()));
        let addr = serve_axum(app).await;
        let served = tokio::spawn(ws.serve());

        // First request an upgrade, a frame right behind it, subprotocol and deflate offered.
        let request =
            ClientRequest::new(addr.to_string(), "/chat").protocol("other").protocol("chat");
        let early = masked_text("early");
        let http = Http::connect(addr).await;
        let client_addr = http.tcp.local_addr().unwrap();
        let (mut ws1, response) = http.websocket(request, deflate_config(), &early).await.unwrap();
        assert_eq!(response.protocol.as_deref(), Some("chat"));
        assert!(response.deflate.is_some(), "permessage-deflate negotiated");
        assert_eq!(ws1.recv().await.unwrap().unwrap(), Message::text("early"));

        // After a plain request on a keep-alive connection.
        let mut http = Http::connect(addr).await;
        assert_eq!(http.get("/").await.text(), "axum home");
        let request = ClientRequest::new(addr.to_string(), "/chat").protocol("chat");
        let (mut ws2, _) =
            http.websocket(request, deflate_config(), &masked_text("second")).await.unwrap();
        assert_eq!(ws2.recv().await.unwrap().unwrap(), Message::text("second"));

        // One registry, hub and metrics for both.
        assert_eq!(handle.count(), 2);
        let mut peers = Vec::new();
        handle.each(|conn| peers.push(conn.peer_addr().to_string()));
        assert!(peers.contains(&client_addr.to_string()), "{peers:?}");
        assert_eq!(handle.publish("room", "news"), 2);
        assert_eq!(ws1.recv().await.unwrap().unwrap(), Message::text("news"));
        assert_eq!(ws2.recv().await.unwrap().unwrap(), Message::text("news"));
        assert_eq!(handle.metrics().connections_accepted, 2);

        // A plain GET to the mount: the handshake's refusal.
        assert_eq!(Http::connect(addr).await.get("/chat").await.status, 400);

        // The embedded server's shutdown closes them with 1001.
        handle.shutdown();
        for ws in [&mut ws1, &mut ws2] {
            while let Some(Ok(_)) = ws.recv().await {}
            assert_eq!(ws.close_info().map(|i| i.code()), Some(CloseCode::GOING_AWAY));
        }
        served.await.unwrap().unwrap();
    })
    .await;
}

#[tokio::test]
async fn axum_serves_the_http_side() {
    bounded(async {
        let app =
            axum::Router::new()
                .route(
                    "/",
                    get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move {
                        format!("hi {peer}")
                    }),
                )
                .route("/len", post(|body: String| async move { body.len().to_string() }));
        let (addr, handle) = start(Server::builder().route("/ws", echo()).http_service(app)).await;

        let mut http = Http::connect(addr).await;
        let me = http.tcp.local_addr().unwrap();
        assert_eq!(http.get("/").await.text(), format!("hi {me}"));
        let len =
            http.request("POST /len HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello").await;
        assert_eq!(len.text(), "5");
        assert_eq!(http.get("/nothing").await.status, 404);
        // Then a WebSocket upgrade to the server's route on the same connection.
        let request = ClientRequest::new(addr.to_string(), "/ws");
        let (mut ws, _) =
            http.websocket(request, Config::default(), &masked_text("behind")).await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("behind"));
        assert_eq!(handle.count(), 1);
    })
    .await;
}

#[tokio::test]
async fn a_mount_inside_an_app_on_a_ws_server_port() {
    bounded(async {
        let embedded = Server::builder().build_embedded();
        let handle = embedded.handle();
        let app = axum::Router::new()
            .route("/", get(|| async { "home" }))
            .route("/chat", ws_server::axum::route(&handle, chat()));
        let (addr, _) = start(Server::builder().http_service(app)).await;

        let mut http = Http::connect(addr).await;
        let me = http.tcp.local_addr().unwrap();
        assert_eq!(http.get("/").await.text(), "home");
        let request = ClientRequest::new(addr.to_string(), "/chat").protocol("chat");
        let (mut ws, response) =
            http.websocket(request, deflate_config(), &masked_text("x")).await.unwrap();
        assert_eq!(response.protocol.as_deref(), Some("chat"));
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("x"));
        let mut peers = Vec::new();
        handle.each(|conn| peers.push(conn.peer_addr().to_string()));
        assert_eq!(peers, [me.to_string()]);
    })
    .await;
}

#[tokio::test]
async fn the_builders_routes_in_axum() {
    bounded(async {
        let ws =
            Server::builder().route("/a", echo()).route_prefix("/rooms", chat()).build_embedded();
        let app = axum::Router::new()
            .route("/", get(|| async { "home" }))
            .fallback(ws_server::axum::routes(&ws.handle()));
        let addr = serve_axum(app).await;
        let (mut a, _) = ws_tokio::connect(&format!("ws://{addr}/a")).await.unwrap();
        a.send_text("to a").await.unwrap();
        assert_eq!(a.recv().await.unwrap().unwrap(), Message::text("to a"));
        let request = ClientRequest::new(addr.to_string(), "/rooms/7").protocol("chat");
        let (_, response) =
            Http::connect(addr).await.websocket(request, Config::default(), b"").await.unwrap();
        assert_eq!(response.protocol.as_deref(), Some("chat"));
        let missing = ws_tokio::connect(&format!("ws://{addr}/b")).await.unwrap_err();
        assert_eq!(missing.status(), Some(404));
        assert_eq!(Http::connect(addr).await.get("/").await.text(), "home");
    })
    .await;
}
