//! A ws-server echo route, to compare the server crate with the plain ws-tokio echo server.
//!
//!     cargo run --release -p benches --bin ws-server-echo -- --addr 127.0.0.1:9417 --threads 1
//!
//! The route users write for an echo: `Route::new().on_message(|conn, msg| conn.send(msg))`,
//! served at `/` by `Server::builder()`. The handler queues the reply on the connection's send
//! handle; the connection's task writes it. Everything is ws-server's default (keepalive pings
//! every 20 s whatever the traffic, 64 KiB of queued data per connection, Drop past it) except
//! what a comparison must hold equal: the limits are the ws-tokio echo server's (16 MiB frames,
//! 64 MiB messages) and the server-wide cap of 10 000 connections is lifted (the idle test holds
//! 10 000). `--ping-interval 0` turns the keepalive off (to see what it costs).
//!
//! Runtime as every server of a comparison: current-thread for `--threads 1`, otherwise
//! multi-thread with that many workers; `TCP_NODELAY` (ws-server sets it on every socket).

use std::time::Duration;

use benches::cli::Flags;
use benches::peer::{self, MAX_FRAME_SIZE, MAX_MESSAGE_SIZE};
use ws_server::{Route, Server};

const USAGE: &str =
    "usage: ws-server-echo [--addr 127.0.0.1:9001] [--threads N] [--ping-interval SECS]";

fn main() -> std::io::Result<()> {
    let parsed = Flags::from_env(&[], USAGE).and_then(|mut f| {
        let addr: String = f.get("addr", "127.0.0.1:9001".to_owned())?;
        let threads: usize =
            f.get("threads", std::thread::available_parallelism().map_or(1, |n| n.get()))?;
        let ping: u64 = f.get("ping-interval", 20)?;
        f.finish()?;
        if threads == 0 {
            return Err("--threads must be at least 1".to_owned());
        }
        Ok((addr, threads, ping))
    });
    let (addr, threads, ping) = parsed.unwrap_or_else(|e| {
        eprintln!("ws-server-echo: {e}");
        std::process::exit(2)
    });
    let ping = (ping > 0).then(|| Duration::from_secs(ping));
    peer::runtime(threads)?.block_on(async move {
        let echo = Route::new()
            .max_message_size(MAX_MESSAGE_SIZE, MAX_FRAME_SIZE)
            .keepalive(ping, Duration::from_secs(20))
            .on_message(|conn, msg| {
                let _ = conn.send(msg);
            });
        let server = Server::builder()
            .bind(addr)
            .route("/", echo)
            .max_connections(1_000_000)
            .build()
            .await?;
        println!(
            "ws-server echo server listening on ws://{} ({threads} threads)",
            server.local_addrs()[0]
        );
        server.serve().await
    })
}
