//! One chat room at `/chat`: every text message goes to every member, the sender included.
//! `--addr HOST:PORT` (default 127.0.0.1:9001), `--origin ORIGIN` (repeatable allowlist; none:
//! any origin), `--max-clients N` (default 100; 503 past it). Lag is printed; Ctrl-C closes
//! every connection with 1001.
use ws_server::{Message, Origins, Route, Server};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let (mut addr, mut origins, mut max) = ("127.0.0.1:9001".to_string(), vec![], 100);
    let mut args = std::env::args().skip(1);
    while let (Some(flag), Some(value)) = (args.next(), args.next()) {
        match flag.as_str() {
            "--addr" => addr = value,
            "--origin" => origins.push(value),
            "--max-clients" => max = value.parse().expect("--max-clients N"),
            _ => panic!("usage: chat [--addr HOST:PORT] [--origin ORIGIN]... [--max-clients N]"),
        }
    }
    let policy = if origins.is_empty() { Origins::any() } else { Origins::exact(origins) };
    let chat = Route::new()
        .origins(policy)
        .max_connections(max)
        .on_open(|conn| conn.subscribe("chat"))
        .on_message(|conn, msg| {
            if let Message::Text(text) = msg {
                conn.publish("chat", text);
            }
        })
        .on_pong(|conn, lag| println!("{} lag {lag:?}", conn.peer_addr()));
    let server = Server::builder().bind(addr).route("/chat", chat).build().await?;
    println!("chat on ws://{}/chat", server.local_addrs()[0]);
    let ctrl_c = async { tokio::signal::ctrl_c().await.expect("Ctrl-C handler") };
    server.serve_with_shutdown(ctrl_c).await
}
