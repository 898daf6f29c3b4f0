//! A WebSocket echo server on blocking sockets, one thread per connection.
//!
//!     cargo run --release -p ws-blocking --example echo_server -- \
//!         [--addr 127.0.0.1:9001] [--tls-cert cert.pem --tls-key key.pem] \
//!         [--handshake-timeout-ms N] [--message-timeout-ms N] [--memory-budget-mb N]
//!
//! Every text and binary message is sent back unchanged; pings are answered and close
//! handshakes completed by the library. With `--tls-cert` and `--tls-key` it serves `wss://`.
//! Messages up to 64 MiB (frames up to 16 MiB) are accepted. Runs until killed.
//! `--handshake-timeout-ms` (default 10 000) and `--message-timeout-ms` (default: none) set
//! `Config::handshake_timeout` and `Config::message_timeout`.

use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::Arc;

use ws_blocking::{
    Accept, Config, DeflateConfig, Error, MaybeTlsStream, Message, accept_with, tls,
};

struct Args {
    addr: String,
    tls: Option<(String, String)>,
    config: Config,
}

fn millis(value: &str) -> Result<std::time::Duration, String> {
    let ms = value.parse().map_err(|_| format!("not milliseconds: {value}"))?;
    Ok(std::time::Duration::from_millis(ms))
}

/// `--memory-budget-mb N`: one budget shared by every connection (`Config` clones share it).
fn budget(value: &str) -> Result<ws_blocking::MemoryBudget, String> {
    let mib: usize = value.parse().map_err(|_| format!("not a number of MiB: {value}"))?;
    Ok(ws_blocking::MemoryBudget::new(mib << 20))
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let (mut addr, mut cert, mut key) = ("127.0.0.1:9001".to_owned(), None, None);
    // Default limits, plus permessage-deflate whenever a client offers it.
    let mut config = Config::default();
    // Compressed messages get the same limit as the others (64 MiB) instead of the core's
    // 1 MiB default for them, so the hostile suite's memory checks measure the shared budget.
    config.deflate = Some(DeflateConfig { max_message_size: None, ..DeflateConfig::default() });
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--addr" => addr = value,
            "--handshake-timeout-ms" => config.handshake_timeout = millis(&value)?,
            "--message-timeout-ms" => config.message_timeout = Some(millis(&value)?),
            "--memory-budget-mb" => config.memory_budget = Some(budget(&value)?),
            "--tls-cert" => cert = Some(value),
            "--tls-key" => key = Some(value),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let tls = match (cert, key) {
        (Some(cert), Some(key)) => Some((cert, key)),
        (None, None) => None,
        _ => return Err("--tls-cert and --tls-key go together".to_owned()),
    };
    Ok(Args { addr, tls, config })
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!(
                "{e}\nusage: echo_server [--addr HOST:PORT] [--tls-cert FILE --tls-key FILE] \
                 [--handshake-timeout-ms N] [--message-timeout-ms N] [--memory-budget-mb N]"
            );
            return ExitCode::from(2);
        }
    };
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("echo_server: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<(), Error> {
    let tls = match &args.tls {
        Some((cert, key)) => Some(tls::server_config_from_pem_files(cert, key)?),
        None => None,
    };
    let listener = TcpListener::bind(&args.addr)?;
    let scheme = if tls.is_some() { "wss" } else { "ws" };
    println!("echo server listening on {scheme}://{}", listener.local_addr()?);
    for tcp in listener.incoming() {
        let tcp = match tcp {
            Ok(tcp) => tcp,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning (and
                // logging) at full speed until some connection ends.
                eprintln!("accept failed: {e}");
                std::thread::sleep(std::time::Duration::from_millis(50));
                continue;
            }
        };
        let tls = tls.clone();
        let config = args.config.clone();
        std::thread::spawn(move || {
            if let Err(e) = serve(tcp, tls, config) {
                eprintln!("connection error: {e}");
            }
        });
    }
    Ok(())
}

fn serve(
    tcp: TcpStream,
    tls: Option<Arc<ws_blocking::rustls::ServerConfig>>,
    config: Config,
) -> Result<(), Error> {
    tcp.set_nodelay(true)?;
    let stream = match tls {
        Some(config) => tls::server_stream(tcp, config)?,
        None => MaybeTlsStream::Plain(tcp),
    };
    let mut ws = accept_with(stream, config, |_request| Ok(Accept::new()))?;
    while let Some(message) = ws.recv() {
        // Ping, Pong and Close need nothing from us: the library answers them. `feed` queues
        // the echo; `recv` writes the queue before it waits, so a burst of messages is echoed
        // with few writes.
        if let echo @ (Message::Text(_) | Message::Binary(_)) = message? {
            ws.feed(echo)?;
        }
    }
    Ok(())
}
