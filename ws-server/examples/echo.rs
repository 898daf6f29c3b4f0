//! The plainest echo route: every text and binary message, on any path, goes back to its
//! sender unchanged (the callback model). Autobahn|Testsuite checks this route (the `ws-server`
//! agent of conformance/README.md, which starts it with `--compression --max-size 16777216
//! --no-keepalive`). Without flags the route has ws-server's defaults.
//!
//! `--addr HOST:PORT` (default 127.0.0.1:9001), `--compression` (accept permessage-deflate;
//! Autobahn's cases 12.* and 13.* need it), `--max-size BYTES` (largest message and largest
//! frame, default 1 MiB; Autobahn's 9.* cases send up to 16 MiB in one frame; past it: Close
//! 1009), `--no-keepalive` (no Ping every 20 s: Autobahn counts a Ping it did not ask for as an
//! unexpected event). The send queue is bounded by the largest message: a peer that does not
//! read its echoes is closed with 1013, never silently missing one. `--handshake-timeout-ms N`
//! and `--message-timeout-ms N` replace the server's handshake timeout (10 s) and the route's
//! message deadline (30 s); the hostile-client suite gives short ones.
//! Try it: `cargo run -p ws-server --example echo`, then
//! `python3 -m websockets ws://127.0.0.1:9001/` and type.
use std::time::Duration;

use ws_server::{Backpressure, Route, Server, ServerSettings};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let (mut addr, mut compression, mut max) = ("127.0.0.1:9001".to_string(), false, 1 << 20);
    let mut keepalive = Some(Duration::from_secs(20));
    let mut settings = ServerSettings::default();
    let mut message_timeout = Some(Duration::from_secs(30));
    let millis =
        |v: Option<String>| Duration::from_millis(v.and_then(|v| v.parse().ok()).expect("N ms"));
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--addr" => addr = args.next().expect("--addr HOST:PORT"),
            "--compression" => compression = true,
            "--no-keepalive" => keepalive = None,
            "--handshake-timeout-ms" => settings.handshake_timeout = millis(args.next()),
            "--message-timeout-ms" => message_timeout = Some(millis(args.next())),
            "--memory-budget-mb" => {
                let mb: usize = args.next().and_then(|v| v.parse().ok()).expect("MiB");
                settings.memory_budget = Some(ws_server::MemoryBudget::new(mb << 20));
            }
            "--max-size" => max = args.next().and_then(|v| v.parse().ok()).expect("--max-size N"),
            _ => panic!(
                "usage: echo [--addr A] [--compression] [--max-size N] [--no-keepalive] \
                 [--handshake-timeout-ms N] [--message-timeout-ms N] [--memory-budget-mb N]"
            ),
        }
    }
    let echo = Route::new()
        .compression(compression)
        .max_message_size(max, max)
        .backpressure(max, Backpressure::Close1013)
        .keepalive(keepalive, Duration::from_secs(20))
        .message_timeout(message_timeout)
        .on_message(|conn, message| {
            let _ = conn.send(message);
        });
    let server =
        Server::builder().settings(settings).bind(addr).route_prefix("/", echo).build().await?;
    println!("echo on ws://{}/", server.local_addrs()[0]);
    let ctrl_c = async { tokio::signal::ctrl_c().await.expect("Ctrl-C handler") };
    server.serve_with_shutdown(ctrl_c).await
}
