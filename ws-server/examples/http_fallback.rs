//! A page and a chat on one port: `GET /` serves a page whose script opens `ws://…/chat`,
//! `POST /say` (bodies up to 4 KiB; 413 past it) publishes its body to the room, `/chat` is
//! the WebSocket route. `--addr HOST:PORT` (default 127.0.0.1:9001), `--static DIR` to serve
//! a directory's files as well. Try `curl -d hello http://127.0.0.1:9001/say` with the page
//! open.
use ws_server::http::{HttpRequest, HttpResponse};
use ws_server::{Message, Origins, Route, Server};

const PAGE: &str = r#"<!doctype html>
<meta charset="utf-8"><title>chat</title>
<ul id="log"></ul>
<form id="f"><input id="m" autocomplete="off" autofocus><button>send</button></form>
<script>
  const ws = new WebSocket(`ws://${location.host}/chat`);
  const log = (t) => document.getElementById("log").append(Object.assign(document.createElement("li"), { textContent: t }));
  ws.onopen = () => log("connected");
  ws.onmessage = (e) => log(e.data);
  ws.onclose = (e) => log(`closed ${e.code}`);
  document.getElementById("f").onsubmit = (e) => {
    e.preventDefault();
    ws.send(document.getElementById("m").value);
    document.getElementById("m").value = "";
  };
</script>
"#;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let (mut addr, mut dir) = ("127.0.0.1:9001".to_string(), None);
    let mut args = std::env::args().skip(1);
    while let (Some(flag), Some(value)) = (args.next(), args.next()) {
        match flag.as_str() {
            "--addr" => addr = value,
            "--static" => dir = Some(value),
            _ => panic!("usage: http_fallback [--addr HOST:PORT] [--static DIR]"),
        }
    }
    let chat = Route::new()
        .origins(Origins::same_origin().allow_missing(true)) // this page, and non-browsers
        .on_open(|conn| conn.subscribe("chat"))
        .on_message(|conn, msg| {
            if let Message::Text(text) = msg {
                conn.publish("chat", text);
            }
        });
    let mut builder = Server::builder().bind(addr).route("/chat", chat).max_body_size(4 << 10);
    if let Some(dir) = dir {
        builder = builder.static_dir(dir); // its index.html wins over PAGE
    }
    let server = builder.http(http).build().await?;
    println!("open http://{}/", server.local_addrs()[0]);
    let ctrl_c = async { tokio::signal::ctrl_c().await.expect("Ctrl-C handler") };
    server.serve_with_shutdown(ctrl_c).await
}

async fn http(mut req: HttpRequest) -> HttpResponse {
    match (req.method().as_str(), req.path()) {
        ("GET", "/") => HttpResponse::html(PAGE),
        ("POST", "/say") => match req.body().await {
            Ok(body) => {
                let text = String::from_utf8_lossy(&body).into_owned();
                let members = req.server().publish("chat", text);
                HttpResponse::text(format!("sent to {members}\n"))
            }
            Err(too_large) => too_large.into(), // 413
        },
        _ => HttpResponse::not_found(),
    }
}
