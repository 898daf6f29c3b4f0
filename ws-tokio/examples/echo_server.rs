//! An echo server: every text and binary message is sent back unchanged.
//!
//! ```text
//! cargo run --release -p ws-tokio --example echo_server -- \
//!     [--addr 127.0.0.1:9001] [--threads N] [--tls-cert cert.pem --tls-key key.pem] \
//!     [--handshake-timeout-ms N] [--message-timeout-ms N] [--memory-budget-mb N]
//! ```
//!
//! Runtime: a multi-thread tokio runtime with `N` worker threads (default: the available
//! parallelism); `--threads 1` runs a current-thread runtime instead (no work stealing, no
//! cross-thread wakeups). One task per connection, `TCP_NODELAY` on every socket.
//!
//! The hot loop uses `feed`: replies are queued without waiting, and `recv` writes everything
//! queued with one vectored write before it waits for more input, so a burst of pipelined
//! messages is answered with few writes. Limits are the defaults: 16 MiB frames, 64 MiB
//! messages; permessage-deflate is accepted whenever a client offers it. With `--tls-cert` and
//! `--tls-key` it serves `wss://`. `--handshake-timeout-ms` (default 10 000) and
//! `--message-timeout-ms` (default: none) set `Config::handshake_timeout` and
//! `Config::message_timeout` (the hostile-client suite gives short ones).

use std::io;
use std::sync::OnceLock;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use ws_tokio::{Accept, Config, DeflateConfig, Error, Message, WebSocket};

struct Options {
    addr: String,
    threads: usize,
    tls: Option<(String, String)>,
}

const USAGE: &str = "usage: echo_server [--addr HOST:PORT] [--threads N] \
                     [--tls-cert FILE --tls-key FILE] [--handshake-timeout-ms N] \
                     [--message-timeout-ms N] [--memory-budget-mb N]";

/// The configuration of every connection, set once from the command line.
static CONFIG: OnceLock<Config> = OnceLock::new();

fn millis(value: &str) -> Result<Duration, String> {
    value.parse().map(Duration::from_millis).map_err(|_| format!("not milliseconds: {value}"))
}

/// `--memory-budget-mb N`: one budget shared by every connection (`Config` clones share it).
fn budget(value: &str) -> Result<ws_tokio::MemoryBudget, String> {
    let mib: usize = value.parse().map_err(|_| format!("not a number of MiB: {value}"))?;
    Ok(ws_tokio::MemoryBudget::new(mib << 20))
}

fn parse_args() -> Result<Options, String> {
    let mut options = Options {
        addr: "127.0.0.1:9001".to_owned(),
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        tls: None,
    };
    let (mut cert, mut key) = (None, None);
    let mut config = Config::default();
    // Compressed messages get the same limit as the others (64 MiB) instead of the core's
    // 1 MiB default for them, so the hostile suite's memory checks measure the shared budget.
    config.deflate = Some(DeflateConfig { max_message_size: None, ..DeflateConfig::default() });
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        match flag.as_str() {
            "--addr" => options.addr = value,
            "--handshake-timeout-ms" => config.handshake_timeout = millis(&value)?,
            "--message-timeout-ms" => config.message_timeout = Some(millis(&value)?),
            "--memory-budget-mb" => config.memory_budget = Some(budget(&value)?),
            "--threads" => {
                options.threads = value
                    .parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| format!("--threads needs a positive number\n{USAGE}"))?;
            }
            "--tls-cert" => cert = Some(value),
            "--tls-key" => key = Some(value),
            _ => return Err(USAGE.to_owned()),
        }
    }
    options.tls = match (cert, key) {
        (Some(cert), Some(key)) => Some((cert, key)),
        (None, None) => None,
        _ => return Err(format!("--tls-cert and --tls-key go together\n{USAGE}")),
    };
    let _ = CONFIG.set(config);
    Ok(options)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = parse_args()?;
    let runtime = if options.threads == 1 {
        tokio::runtime::Builder::new_current_thread().enable_all().build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(options.threads)
            .enable_all()
            .build()?
    };
    runtime.block_on(run(options))
}

#[cfg(feature = "tls")]
type Acceptor = Option<std::sync::Arc<ws_tokio::tls::rustls::ServerConfig>>;
#[cfg(not(feature = "tls"))]
type Acceptor = Option<std::convert::Infallible>;

#[cfg(feature = "tls")]
fn acceptor(tls: &Option<(String, String)>) -> Result<Acceptor, Error> {
    match tls {
        Some((cert, key)) => Ok(Some(ws_tokio::tls::server_config_from_pem_files(cert, key)?)),
        None => Ok(None),
    }
}

#[cfg(not(feature = "tls"))]
fn acceptor(tls: &Option<(String, String)>) -> Result<Acceptor, Error> {
    match tls {
        Some(_) => Err(Error::TlsNotEnabled),
        None => Ok(None),
    }
}

async fn run(options: Options) -> Result<(), Box<dyn std::error::Error>> {
    let acceptor = acceptor(&options.tls)?;
    let listener = TcpListener::bind(&options.addr).await?;
    let scheme = if acceptor.is_some() { "wss" } else { "ws" };
    println!(
        "echo server listening on {scheme}://{} ({} worker thread{})",
        listener.local_addr()?,
        options.threads,
        if options.threads == 1 { "" } else { "s" }
    );
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                eprintln!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if let Err(e) = tcp.set_nodelay(true) {
            eprintln!("{peer}: {e}");
            continue;
        }
        // Plain and TLS connections are separate task types: a task's future is as large as
        // its largest state, and a TLS stream is much larger than a TCP one. Keeping them
        // apart keeps an idle ws:// connection small.
        match &acceptor {
            #[cfg(feature = "tls")]
            Some(tls) => {
                let tls = tls.clone();
                tokio::spawn(async move { report(peer, serve_tls(tcp, tls).await) });
            }
            #[cfg(not(feature = "tls"))]
            Some(never) => match *never {},
            None => {
                tokio::spawn(async move { report(peer, serve_plain(tcp).await) });
            }
        }
    }
}

// The socket is bound once and lent to `echo`: passing it by value into another `async fn`
// would store it twice in the task (once as the argument, once as the local).

/// Default limits, plus permessage-deflate whenever a client offers it (browsers always do),
/// and the timeouts from the command line.
fn config() -> Config {
    CONFIG.get().expect("set by parse_args").clone()
}

async fn serve_plain(tcp: TcpStream) -> Result<(), Error> {
    let mut ws = ws_tokio::accept_with(tcp, config(), |_| Ok(Accept::new())).await?;
    echo(&mut ws).await
}

#[cfg(feature = "tls")]
async fn serve_tls(
    tcp: TcpStream,
    tls: std::sync::Arc<ws_tokio::tls::rustls::ServerConfig>,
) -> Result<(), Error> {
    let mut ws = ws_tokio::tls::accept_with(tcp, &tls, config(), |_| Ok(Accept::new())).await?;
    echo(&mut ws).await
}

fn report(peer: std::net::SocketAddr, result: Result<(), Error>) {
    if let Err(e) = result {
        if !is_expected(&e) {
            eprintln!("{peer}: {e}");
        }
    }
}

/// The echo loop. `feed` queues the reply; the next `recv` writes it out before waiting.
async fn echo<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut WebSocket<S>) -> Result<(), Error> {
    while let Some(message) = ws.recv().await {
        let message = message?;
        if let Message::Text(_) | Message::Binary(_) = message {
            ws.feed(message).await?;
        }
    }
    Ok(())
}

/// Errors that are the peer's business (protocol violations we already answered with a
/// Close frame, vanished clients) are not worth a log line.
fn is_expected(e: &Error) -> bool {
    match e {
        Error::Protocol(_) => true,
        Error::Io(e) => matches!(
            e.kind(),
            io::ErrorKind::ConnectionReset
                | io::ErrorKind::BrokenPipe
                | io::ErrorKind::UnexpectedEof
                | io::ErrorKind::ConnectionAborted
        ),
        _ => false,
    }
}
