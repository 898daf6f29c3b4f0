//! A WebSocket echo server on **smol** (the recommended runtime; async-std is discontinued
//! upstream, and this crate works the same on both).
//!
//! ```text
//! cargo run --release -p ws-async-std --example echo_server -- [--addr 127.0.0.1:9001]
//! cargo run --release -p ws-async-std --example echo_server -- --tls-cert cert.pem --tls-key key.pem
//! ```
//!
//! Every text and binary message is sent back unchanged; Pings are answered and Close frames
//! replied to by the connection itself. One task per connection on a multi-threaded executor
//! (one thread per core). Messages up to 64 MiB (frames up to 16 MiB): the `Config` defaults;
//! permessage-deflate is accepted whenever a client offers it.
//!
//! Under async-std, the same server is `async_std::task::block_on` for the accept loop and
//! `async_std::task::spawn` per connection; nothing else changes.

use std::error::Error;
use std::sync::Arc;
use std::time::Duration;

use futures_io::{AsyncRead, AsyncWrite};
use smol::net::{TcpListener, TcpStream};
use smol::{Executor, future};
use ws_async_std::tls::{self, rustls::ServerConfig};
use ws_async_std::{Accept, Config, DeflateConfig, Request, WebSocket, accept_with};

const USAGE: &str = "usage: echo_server [--addr HOST:PORT] [--tls-cert FILE --tls-key FILE] \
                     [--handshake-timeout-ms N] [--message-timeout-ms N] [--memory-budget-mb N]";

/// The configuration of every connection, set once from the command line.
static CONFIG: std::sync::OnceLock<Config> = std::sync::OnceLock::new();

fn millis(value: &str) -> Result<Duration, String> {
    value.parse().map(Duration::from_millis).map_err(|_| format!("not milliseconds: {value}"))
}

/// `--memory-budget-mb N`: one budget shared by every connection (`Config` clones share it).
fn budget(value: &str) -> Result<ws_async_std::MemoryBudget, String> {
    let mib: usize = value.parse().map_err(|_| format!("not a number of MiB: {value}"))?;
    Ok(ws_async_std::MemoryBudget::new(mib << 20))
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut addr = "127.0.0.1:9001".to_owned();
    let (mut cert, mut key) = (None, None);
    let mut config = Config::default();
    // Compressed messages get the same limit as the others (64 MiB) instead of the core's
    // 1 MiB default for them, so the hostile suite's memory checks measure the shared budget.
    config.deflate = Some(DeflateConfig { max_message_size: None, ..DeflateConfig::default() });
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--addr", Some(value)) => addr = value,
            ("--handshake-timeout-ms", Some(v)) => config.handshake_timeout = millis(&v)?,
            ("--message-timeout-ms", Some(v)) => config.message_timeout = Some(millis(&v)?),
            ("--memory-budget-mb", Some(v)) => config.memory_budget = Some(budget(&v)?),
            ("--tls-cert", Some(value)) => cert = Some(value),
            ("--tls-key", Some(value)) => key = Some(value),
            _ => return Err(USAGE.into()),
        }
    }
    let tls_config = match (cert, key) {
        (Some(cert), Some(key)) => Some(tls::server_config_from_pem_files(cert, key)?),
        (None, None) => None,
        _ => return Err(format!("--tls-cert and --tls-key go together\n{USAGE}").into()),
    };
    let _ = CONFIG.set(config);

    // A multi-threaded executor: one worker per core, each blocking on the shared executor.
    let executor = Arc::new(Executor::new());
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    for _ in 0..workers {
        let executor = executor.clone();
        std::thread::spawn(move || smol::block_on(executor.run(future::pending::<()>())));
    }

    smol::block_on(executor.clone().run(async {
        let listener = TcpListener::bind(&addr).await?;
        let scheme = if tls_config.is_some() { "wss" } else { "ws" };
        println!("echo server listening on {scheme}://{}", listener.local_addr()?);
        loop {
            let (tcp, peer) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    // E.g. out of file descriptors: back off instead of spinning.
                    eprintln!("accept failed: {e}");
                    smol::Timer::after(Duration::from_millis(100)).await;
                    continue;
                }
            };
            // Plain and TLS connections are separate task types: a task's future is as large
            // as its largest state, and a TLS stream is much larger than a TCP one. Keeping
            // them apart keeps an idle ws:// connection small.
            let task = match tls_config.clone() {
                Some(tls) => executor.spawn(async move { report(peer, serve_tls(tcp, tls).await) }),
                None => executor.spawn(async move { report(peer, serve_plain(tcp).await) }),
            };
            task.detach();
        }
    }))
}

async fn serve_plain(tcp: TcpStream) -> Result<(), ws_async_std::Error> {
    tcp.set_nodelay(true)?;
    echo(accept_with(tcp, config(), |_: &Request| Ok(Accept::new())).await?).await
}

async fn serve_tls(tcp: TcpStream, tls: Arc<ServerConfig>) -> Result<(), ws_async_std::Error> {
    tcp.set_nodelay(true)?;
    echo(tls::accept_with(tcp, &tls, config(), |_: &Request| Ok(Accept::new())).await?).await
}

fn report(peer: std::net::SocketAddr, result: Result<(), ws_async_std::Error>) {
    if let Err(e) = result {
        eprintln!("{peer}: {e}");
    }
}

/// Default limits, plus permessage-deflate whenever a client offers it (browsers always do),
/// and the timeouts from the command line.
fn config() -> Config {
    CONFIG.get().expect("set in main").clone()
}

async fn echo<S: AsyncRead + AsyncWrite + Unpin>(
    mut ws: WebSocket<S>,
) -> Result<(), ws_async_std::Error> {
    // `feed` queues the reply; the next `recv` writes it out before waiting for more input,
    // so a burst of pipelined messages is answered with few writes.
    while let Some(message) = ws.recv().await {
        let message = message?;
        if message.is_data() {
            ws.feed(message).await?;
        }
    }
    Ok(())
}
