//! Server push: every subscriber of `/ticks` gets `tick <n> <unix ms>` at a fixed rate, through
//! one publish per tick (the frame is encoded once, whatever the number of subscribers).
//! Slow subscribers are dropped by policy, for them alone: past 16 KiB waiting (beyond what the
//! kernel's socket buffers took) ticks are dropped for it and counted (`--slow close`: closed
//! with 1013 instead), and one whose Pong is 20 s late is closed by the keepalive (close 1006 in
//! the metrics; on loopback this comes first for a reader that stalls, as the kernel takes about
//! 1 MB of ticks). Metrics are printed every 5 s. `--addr HOST:PORT` (default 127.0.0.1:9001),
//! `--rate HZ` (default 10). Try it: `cargo run --release -p ws-server --example ticker`, then
//! `python3 -m websockets ws://127.0.0.1:9001/ticks`; thousands of subscribers are fine.
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::{MissedTickBehavior, interval};
use ws_server::{Backpressure, Route, Server};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let (mut addr, mut rate, mut policy) = ("127.0.0.1:9001".to_string(), 10.0, Backpressure::Drop);
    let mut args = std::env::args().skip(1);
    while let (Some(flag), Some(value)) = (args.next(), args.next()) {
        match (flag.as_str(), value.as_str()) {
            ("--addr", _) => addr = value,
            ("--rate", _) => rate = value.parse().ok().filter(|r| *r > 0.0).expect("--rate HZ"),
            ("--slow", "drop") => policy = Backpressure::Drop,
            ("--slow", "close") => policy = Backpressure::Close1013,
            _ => panic!("usage: ticker [--addr HOST:PORT] [--rate HZ] [--slow drop|close]"),
        }
    }
    let ticks = Route::new().backpressure(16 << 10, policy).on_open(|conn| conn.subscribe("ticks"));
    let server = Server::builder().bind(addr).route("/ticks", ticks).build().await?;
    println!("ticker on ws://{}/ticks at {rate} Hz", server.local_addrs()[0]);
    let handle = server.handle();
    tokio::spawn(async move {
        let mut every = interval(Duration::from_secs_f64(1.0 / rate));
        every.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let mut report = interval(Duration::from_secs(5));
        report.tick().await; // the first tick is immediate
        let mut n = 0u64;
        loop {
            tokio::select! {
                _ = every.tick() => {
                    n += 1;
                    let ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
                    handle.publish("ticks", format!("tick {n} {}", ms.as_millis()));
                }
                _ = report.tick() => {
                    let m = handle.metrics();
                    println!(
                        "ticker: tick {n}, {} subscribers, {} sent, {} dropped (slow), closes {:?}",
                        handle.subscribers("ticks"), m.messages_out, m.dropped, m.closes_by_code
                    );
                }
            }
        }
    });
    let ctrl_c = async { tokio::signal::ctrl_c().await.expect("Ctrl-C handler") };
    server.serve_with_shutdown(ctrl_c).await
}
