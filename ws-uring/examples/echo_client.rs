//! An io_uring client: `--connections` connections on one ring, each sending `--messages`
//! text messages one at a time (the next once the echo of the last is back), then closing.
//!
//! ```text
//! cargo run --release -p ws-uring --example echo_server -- --addr 127.0.0.1:9001 &
//! cargo run --release -p ws-uring --example echo_client -- \
//!     [--url ws://127.0.0.1:9001/] [--connections N] [--messages N] [--size BYTES]
//! ```
//!
//! Prints each failure as it happens, then the totals: connections that ended cleanly,
//! echoes received, and the time the whole run took. (A small load generator rather than a
//! line-by-line echo of stdin: the callbacks run on the ring's thread, which stdin would
//! block.) Where io_uring is unavailable it says so and exits with status 2.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use ws_uring::{Client, CloseCode, CloseInfo, Config, Conn, ConnId, Handler, Message};

const USAGE: &str = "usage: echo_client [--url ws://HOST:PORT/PATH] [--connections N] [--messages N] [--size BYTES]";

/// Counts shared by every connection (the handlers run on one thread; atomics keep the
/// handler `Send`, as `Handler` asks).
#[derive(Default)]
struct Totals {
    echoes: AtomicUsize,
    clean: AtomicUsize,
}

#[derive(Clone)]
struct Pinger {
    payload: String,
    left: usize,
    totals: Arc<Totals>,
}

impl Pinger {
    fn next(&mut self, conn: &mut Conn<'_>) {
        let sent = if self.left == 0 {
            conn.close(CloseCode::NORMAL, "done")
        } else {
            self.left -= 1;
            conn.send_text(self.payload.clone())
        };
        if let Err(e) = sent {
            eprintln!("{:?}: {e}", conn.id());
        }
    }
}

impl Handler for Pinger {
    fn on_open(&mut self, conn: &mut Conn<'_>) {
        self.next(conn);
    }

    fn on_message(&mut self, conn: &mut Conn<'_>, message: Message) {
        if message == Message::text(self.payload.clone()) {
            self.totals.echoes.fetch_add(1, Ordering::Relaxed);
            self.next(conn);
        }
    }

    fn on_close(&mut self, id: ConnId, info: &CloseInfo) {
        if info.clean {
            self.totals.clean.fetch_add(1, Ordering::Relaxed);
        } else {
            eprintln!("{id:?}: ended {:?} ({})", info.cause, info.code().0);
        }
    }
}

fn main() {
    if let Err(e) = run() {
        eprintln!("echo_client: {e}");
        let unsupported = e.downcast_ref::<ws_uring::Error>().is_some_and(|e| e.is_unsupported());
        std::process::exit(if unsupported { 2 } else { 1 });
    }
}

fn number(value: &str) -> Result<usize, String> {
    value.parse().map_err(|_| format!("not a number: {value}\n{USAGE}"))
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let (mut url, mut connections, mut messages, mut size) =
        ("ws://127.0.0.1:9001/".to_owned(), 10, 10, 16);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        match flag.as_str() {
            "--url" => url = value,
            "--connections" => connections = number(&value)?,
            "--messages" => messages = number(&value)?,
            "--size" => size = number(&value)?,
            _ => return Err(USAGE.into()),
        }
    }
    let totals = Arc::new(Totals::default());
    let pinger = Pinger { payload: "x".repeat(size), left: messages, totals: totals.clone() };
    let mut client = Client::new(Config::default())?;
    let started = Instant::now();
    for _ in 0..connections {
        client.connect(&url, pinger.clone())?;
    }
    client.run()?;
    println!(
        "{} of {connections} connections closed cleanly, {} of {} echoes, in {:?}",
        totals.clean.load(Ordering::Relaxed),
        totals.echoes.load(Ordering::Relaxed),
        connections * messages,
        started.elapsed()
    );
    Ok(())
}
