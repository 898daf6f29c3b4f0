//! An echo server on io_uring: every text and binary message is sent back unchanged.
//!
//! ```text
//! cargo run --release -p ws-uring --example echo_server -- \
//!     [--addr 127.0.0.1:9001] [--threads N] [--handshake-timeout-ms N] [--message-timeout-ms N]
//! ```
//!
//! `N` threads (default: the available parallelism), each with its own ring and its own
//! listener on the address. Limits are the defaults: 16 MiB frames, 64 MiB messages;
//! permessage-deflate is accepted whenever a client offers it. Prints the bound address
//! (`ws://HOST:PORT`) on stdout once every thread is ready, as the other echo servers do.
//! Where io_uring is unavailable it says so and exits with status 2.

use std::num::NonZeroUsize;
use std::time::Duration;

use ws_proto::deflate::DeflateConfig;
use ws_uring::{Config, Conn, Handler, Message, Server};

const USAGE: &str = "usage: echo_server [--addr HOST:PORT] [--threads N] \
                     [--handshake-timeout-ms N] [--message-timeout-ms N] [--memory-budget-mb N]";

#[derive(Clone)]
struct Echo;

impl Handler for Echo {
    fn on_message(&mut self, conn: &mut Conn<'_>, message: Message) {
        if let Message::Text(_) | Message::Binary(_) = message {
            // Fails only once the connection is closing: nothing to echo then.
            let _ = conn.send(message);
        }
    }
}

fn millis(value: &str) -> Result<Duration, String> {
    value.parse().map(Duration::from_millis).map_err(|_| format!("not milliseconds: {value}"))
}

fn main() {
    match run() {
        Ok(()) => {}
        Err(e) => {
            eprintln!("echo_server: {e}");
            let unsupported =
                e.downcast_ref::<ws_uring::Error>().is_some_and(|e| e.is_unsupported());
            std::process::exit(if unsupported { 2 } else { 1 });
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut addr = "127.0.0.1:9001".to_owned();
    let mut threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut config = Config::default();
    // Compressed messages get the same limit as the others (64 MiB), as in the adapters' echo
    // servers, so the hostile suite's memory checks measure the shared budget.
    config.deflate = Some(DeflateConfig { max_message_size: None, ..DeflateConfig::default() });
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        match flag.as_str() {
            "--addr" => addr = value,
            "--threads" => {
                let n: NonZeroUsize =
                    value.parse().map_err(|_| format!("--threads N, N > 0\n{USAGE}"))?;
                threads = n.get();
            }
            "--handshake-timeout-ms" => config.handshake_timeout = millis(&value)?,
            "--message-timeout-ms" => config.message_timeout = Some(millis(&value)?),
            "--memory-budget-mb" => {
                let mib: usize = value.parse().map_err(|_| format!("not MiB: {value}"))?;
                config.memory_budget = Some(ws_uring::MemoryBudget::new(mib << 20));
            }
            _ => return Err(USAGE.into()),
        }
    }
    let server = Server::bind(&addr)?.threads(threads).config(config);
    let bound = server.local_addr()?;
    let running = server.start(Echo)?;
    println!(
        "echo server listening on ws://{bound} ({threads} io_uring thread{})",
        if threads == 1 { "" } else { "s" }
    );
    running.join()?;
    Ok(())
}
