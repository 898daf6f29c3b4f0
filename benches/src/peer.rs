//! What the peer echo servers share: flags, the runtime and the accept loop.
//!
//! Every echo server in a comparison is configured alike, as the ws-tokio `echo_server` example
//! is: a tokio multi-threaded runtime with `--threads` workers (a current-thread runtime for
//! `--threads 1`), `TCP_NODELAY` on accepted sockets, 16 MiB frames and 64 MiB messages
//! (where the library lets them be set apart), no compression.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::cli::Flags;
use crate::wire;

/// Largest frame the servers accept (the `ws-proto` default).
pub const MAX_FRAME_SIZE: usize = 16 << 20;
/// Largest message the servers accept (the `ws-proto` default).
pub const MAX_MESSAGE_SIZE: usize = 64 << 20;

/// Connection errors printed before the servers go quiet (load runs end by dropping sockets).
const MAX_LOGGED_ERRORS: usize = 10;

/// `--addr HOST:PORT --threads N`.
#[derive(Debug, Clone)]
pub struct ServerArgs {
    /// Address to listen on.
    pub addr: String,
    /// Runtime worker threads.
    pub threads: usize,
}

impl ServerArgs {
    /// Parses the process's arguments, exiting with the usage text on error.
    pub fn from_env(name: &str) -> ServerArgs {
        let usage = "usage: [--addr 127.0.0.1:9001] [--threads N]";
        let parsed = Flags::from_env(&[], usage).and_then(|mut f| {
            let args = ServerArgs {
                addr: f.get("addr", "127.0.0.1:9001".to_owned())?,
                threads: f
                    .get("threads", std::thread::available_parallelism().map_or(1, |n| n.get()))?,
            };
            f.finish()?;
            if args.threads == 0 {
                return Err("--threads must be at least 1".to_owned());
            }
            Ok(args)
        });
        parsed.unwrap_or_else(|e| {
            eprintln!("{name}: {e}");
            std::process::exit(2)
        })
    }
}

/// The runtime every server of a comparison runs on: current-thread for one thread, otherwise
/// multi-thread with `threads` workers.
pub fn runtime(threads: usize) -> std::io::Result<tokio::runtime::Runtime> {
    match threads {
        1 => tokio::runtime::Builder::new_current_thread().enable_all().build(),
        n => tokio::runtime::Builder::new_multi_thread().worker_threads(n).enable_all().build(),
    }
}

/// Runs an echo server: accepts on `args.addr` and spawns `handle` for every connection.
pub fn run<F, Fut, E>(name: &str, args: &ServerArgs, handle: F) -> std::io::Result<()>
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: std::fmt::Display,
{
    runtime(args.threads)?.block_on(async {
        let listener = TcpListener::bind(&args.addr).await?;
        println!(
            "{name} echo server listening on ws://{} ({} threads)",
            listener.local_addr()?,
            args.threads
        );
        static ERRORS: AtomicUsize = AtomicUsize::new(0);
        loop {
            let (stream, _) = match listener.accept().await {
                Ok(s) => s,
                // Out of file descriptors and the like: wait for connections to go away.
                Err(_) => {
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                }
            };
            stream.set_nodelay(true)?;
            let fut = handle(stream);
            tokio::spawn(async move {
                if let Err(e) = fut.await {
                    if ERRORS.fetch_add(1, Ordering::Relaxed) < MAX_LOGGED_ERRORS {
                        eprintln!("connection error: {e}");
                    }
                }
            });
        }
    })
}

/// The ceiling of a comparison (the `raw-echo` server): answers the upgrade, then writes back
/// every byte it reads, unchanged: the same reads and writes as an echo server, with no
/// WebSocket work at all. The load generator must expect its masked frames back (`--raw`).
pub async fn raw_echo(mut stream: TcpStream) -> Result<(), String> {
    wire::server_handshake(&mut stream).await.map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = stream.read(&mut buf).await.map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Ok(());
        }
        stream.write_all(&buf[..n]).await.map_err(|e| format!("write: {e}"))?;
    }
}
