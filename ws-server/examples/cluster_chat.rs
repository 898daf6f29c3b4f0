//! The chat room of `chat`, on as many servers as you like: every text message goes to every
//! member on every server sharing the Redis, through [`RedisHub`].
//! `--addr HOST:PORT` (default 127.0.0.1:9001), `--redis URL` (default redis://127.0.0.1:6379/).
//! Run two, connect a client to each, and a message sent on one reaches both:
//!
//! ```text
//! cargo run -p ws-server --features redis --example cluster_chat -- --addr 127.0.0.1:9001
//! cargo run -p ws-server --features redis --example cluster_chat -- --addr 127.0.0.1:9002
//! ```
//!
//! Every 10 s, when something changed, it prints the hub's counters (published, received, lost
//! during a Redis outage, reconnects). Ctrl-C closes every connection with 1001.
use std::sync::Arc;
use std::time::Duration;

use ws_server::redis::RedisHub;
use ws_server::{Message, Route, Server};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (mut addr, mut url) = ("127.0.0.1:9001".to_string(), "redis://127.0.0.1:6379/".to_string());
    let mut args = std::env::args().skip(1);
    while let (Some(flag), Some(value)) = (args.next(), args.next()) {
        match flag.as_str() {
            "--addr" => addr = value,
            "--redis" => url = value,
            _ => panic!("usage: cluster_chat [--addr HOST:PORT] [--redis URL]"),
        }
    }
    let hub = Arc::new(RedisHub::connect(&url).await?);
    let chat = Route::new().on_open(|conn| conn.subscribe("chat")).on_message(|conn, msg| {
        if let Message::Text(text) = msg {
            conn.publish("chat", text);
        }
    });
    let server = Server::builder().bind(addr).route("/chat", chat).hub(hub.clone()).build().await?;
    println!(
        "chat on ws://{}/chat, server {:016x} on {url}",
        server.local_addrs()[0],
        hub.server_id()
    );
    let stats = Arc::clone(&hub);
    tokio::spawn(async move {
        let mut last = stats.stats();
        loop {
            tokio::time::sleep(Duration::from_secs(10)).await;
            let now = stats.stats();
            if now != last {
                println!("{now:?}");
                last = now;
            }
        }
    });
    let ctrl_c = async { tokio::signal::ctrl_c().await.expect("Ctrl-C handler") };
    server.serve_with_shutdown(ctrl_c).await?;
    Ok(())
}
