//! axum both ways, with the same app: `GET /` (a page that opens the WebSocket), `GET /count`
//! (open WebSocket connections) and an echo route at `/echo` (subprotocol `echo`,
//! permessage-deflate on).
//!
//! * `--mode mount` (default): axum serves the port; the echo route is mounted in its
//!   `Router` with `ws_server::axum::route`, on a ws-server built without listeners.
//! * `--mode service`: ws-server serves the port; the axum `Router` is its HTTP side
//!   (`ServerBuilder::http_service`).
//!
//! `--addr HOST:PORT` (default 127.0.0.1:9001).
use axum::Extension;
use axum::response::Html;
use axum::routing::get;
use ws_server::{Route, Server, ServerHandle};

const PAGE: &str = r#"<!doctype html><meta charset="utf-8"><pre id="log"></pre><script>
  const ws = new WebSocket(`ws://${location.host}/echo`, ["echo"]);
  const log = (t) => (document.getElementById("log").textContent += t + "\n");
  ws.onopen = () => { log(`open, protocol ${ws.protocol}, ${ws.extensions}`); ws.send("hello"); };
  ws.onmessage = (e) => log(`echo: ${e.data}`);
</script>"#;

fn echo() -> Route {
    Route::new().protocols(["echo"]).compression(true).on_message(|conn, msg| {
        let _ = conn.send(msg);
    })
}

/// The app; `/count` reads the WebSocket server through the `ServerHandle` extension.
fn app() -> axum::Router {
    axum::Router::new().route("/", get(|| async { Html(PAGE) })).route(
        "/count",
        get(|Extension(ws): Extension<ServerHandle>| async move { ws.count().to_string() }),
    )
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let (mut addr, mut mode) = ("127.0.0.1:9001".to_string(), "mount".to_string());
    let mut args = std::env::args().skip(1);
    while let (Some(flag), Some(value)) = (args.next(), args.next()) {
        match flag.as_str() {
            "--addr" => addr = value,
            "--mode" => mode = value,
            _ => panic!("usage: axum [--addr HOST:PORT] [--mode mount|service]"),
        }
    }
    let ctrl_c = async { tokio::signal::ctrl_c().await.expect("Ctrl-C handler") };
    println!("open http://{addr}/ ({mode})");
    if mode == "service" {
        // ws-server on the port; axum answers what is not an upgrade to /echo (and gets the
        // ServerHandle extension from the server itself).
        let server = Server::builder().bind(addr).route("/echo", echo()).http_service(app());
        return server.build().await?.serve_with_shutdown(ctrl_c).await;
    }
    // axum on the port; the route belongs to a server without listeners.
    let ws = Server::builder().build_embedded();
    let handle = ws.handle();
    let app = app()
        .route("/echo", ws_server::axum::route(&handle, echo()))
        .layer(Extension(handle.clone()));
    tokio::spawn(ws.serve()); // closes the WebSocket connections (1001) on handle.shutdown()
    let listener = tokio::net::TcpListener::bind(addr).await?;
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            ctrl_c.await;
            handle.shutdown();
        })
        .await
}
