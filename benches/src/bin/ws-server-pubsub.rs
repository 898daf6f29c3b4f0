//! The pub/sub benchmark's ws-server: subscribers at `/sub` join topic `bench` in `on_open`;
//! the client's control connection at `/ctl` starts and paces the publisher (see
//! `benches::pubsub`), which calls `ServerHandle::publish` once per message (one frame encoded
//! once, queued on every subscriber's handle).
//!
//!     cargo run --release -p benches --bin ws-server-pubsub -- --addr 127.0.0.1:9421 --threads 1
//!
//! ws-server's defaults throughout (keepalive, 64 KiB per-connection queue with
//! `Backpressure::Drop`), except the server-wide cap of 10 000 connections, lifted so that
//! 10 000 subscribers and the control connection fit.

use benches::peer::{self, ServerArgs};
use benches::pubsub::{CONTROL_PATH, Pacer, SUB_PATH, TOPIC};
use ws_server::{Message, Route, Server};

fn main() -> std::io::Result<()> {
    let args = ServerArgs::from_env("ws-server-pubsub");
    peer::runtime(args.threads)?.block_on(async move {
        let pacer = Pacer::new();
        let subscribe = Route::new().on_open(|conn| conn.subscribe(TOPIC));
        let control = {
            let pacer = pacer.clone();
            Route::new().on_message(move |_, msg| {
                let result = match &msg {
                    Message::Text(text) => pacer.control(text.as_bytes()),
                    _ => Err("control messages are text".to_owned()),
                };
                if let Err(e) = result {
                    eprintln!("ws-server-pubsub: {e}");
                }
            })
        };
        let server = Server::builder()
            .bind(args.addr)
            .route(SUB_PATH, subscribe)
            .route(CONTROL_PATH, control)
            .max_connections(1_000_000)
            .build()
            .await?;
        println!(
            "ws-server pub/sub server listening on ws://{} ({} threads)",
            server.local_addrs()[0],
            args.threads
        );
        let handle = server.handle();
        tokio::spawn(async move {
            let count = handle.clone();
            pacer.run(|| count.subscribers(TOPIC), |payload| handle.publish(TOPIC, payload)).await;
        });
        server.serve().await
    })
}
