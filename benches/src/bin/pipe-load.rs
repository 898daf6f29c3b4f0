//! `pipe-load`: the pipe server benchmark's client (see `benches/pipe.sh`). Holds `--clients`
//! WebSocket connections on one thread, writes numbered lines to the server's input FIFO from
//! another, and measures how many lines per second reach every client.
//!
//!     pipe-load --url ws://127.0.0.1:7890/ --fifo /tmp/in.fifo [--clients 1000] \
//!         [--line-bytes 100] [--batch 40] [--window 2000] [--warmup 1] [--secs 5] [--server-pid PID]
//!
//! Lines are written `--batch` at a time (one write of at most `PIPE_BUF` bytes, so one pipe
//! message in a standard-mode server), at most `--window` lines ahead of the slowest client, so
//! a server that keeps up drops nothing. Each client counts the lines (newlines) it receives;
//! at the end every client must have every line (a lost line is an error, exit status 1).
//! Prints lines per second to every client, lines delivered per second (all clients), messages
//! per second and, with `--server-pid`, lines delivered per server CPU-second, then a `RESULT`
//! line for scripts.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use benches::cli::Flags;
use benches::load::process_cpu_time;
use ws_proto::Message;

const USAGE: &str = "usage: pipe-load --url ws://HOST:PORT/ --fifo PATH [--clients N] \
[--line-bytes N] [--batch N] [--window N] [--warmup S] [--secs S] [--server-pid PID]";

fn main() {
    if let Err(e) = run() {
        eprintln!("pipe-load: {e}");
        std::process::exit(1);
    }
}

/// Counts shared by the clients and the writer.
struct Counts {
    lines: Vec<AtomicU64>,
    messages: AtomicU64,
    failed: AtomicBool,
}

impl Counts {
    fn min(&self) -> u64 {
        self.lines.iter().map(|c| c.load(Ordering::Relaxed)).min().unwrap_or(0)
    }
    fn sum(&self) -> u64 {
        self.lines.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }
}

fn run() -> Result<(), String> {
    let mut f = Flags::from_env(&[], USAGE)?;
    let url: String = f.get("url", String::new())?;
    let fifo: String = f.get("fifo", String::new())?;
    let clients: usize = f.get("clients", 1000)?;
    let line_bytes: usize = f.get("line-bytes", 100)?;
    let batch: usize = f.get("batch", 40)?;
    let window: u64 = f.get("window", 2000)?;
    let warmup: f64 = f.get("warmup", 1.0)?;
    let secs: f64 = f.get("secs", 5.0)?;
    let server_pid: u32 = f.get("server-pid", 0)?;
    f.finish()?;
    if url.is_empty() || fifo.is_empty() || clients == 0 || line_bytes < 10 || batch == 0 {
        return Err(USAGE.into());
    }
    if line_bytes * batch > 4096 {
        return Err("--line-bytes x --batch must fit in PIPE_BUF (4096)".into());
    }
    let counts = Arc::new(Counts {
        lines: (0..clients).map(|_| AtomicU64::new(0)).collect(),
        messages: AtomicU64::new(0),
        failed: AtomicBool::new(false),
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async {
        for i in 0..clients {
            let (mut ws, _) =
                ws_tokio::connect(&url).await.map_err(|e| format!("client {i}: {e}"))?;
            let counts = Arc::clone(&counts);
            tokio::spawn(async move {
                while let Some(message) = ws.recv().await {
                    match message {
                        Ok(Message::Text(text)) => {
                            let n = text.as_bytes().iter().filter(|&&b| b == b'\n').count();
                            counts.lines[i].fetch_add(n as u64, Ordering::Relaxed);
                            counts.messages.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(_) => {}
                        Err(_) => break,
                    }
                }
                counts.failed.store(true, Ordering::Relaxed);
            });
        }
        Ok::<(), String>(())
    })?;
    println!(
        "pipe-load: {clients} clients connected to {url}; lines of {line_bytes} B, {batch} per write"
    );
    std::thread::sleep(Duration::from_millis(300)); // every client subscribed

    let writer_counts = Arc::clone(&counts);
    let fifo_path = fifo.clone();
    let writer = std::thread::spawn(move || -> Result<Measure, String> {
        write_lines(&fifo_path, &writer_counts, line_bytes, batch, window, warmup, secs, server_pid)
    });
    // The clients run on this thread until the writer is done.
    let measure = rt.block_on(async {
        while !writer.is_finished() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let measure = writer.join().map_err(|_| "the writer panicked".to_string())??;
        // Every client must get every line.
        let deadline = Instant::now() + Duration::from_secs(20);
        while counts.min() < measure.sent && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok::<Measure, String>(measure)
    })?;
    let (min, sum) = (counts.min(), counts.sum());
    if min < measure.sent || counts.failed.load(Ordering::Relaxed) {
        return Err(format!(
            "lost lines: {} sent, the slowest client got {min}, {} of {} expected in all",
            measure.sent,
            sum,
            measure.sent * clients as u64
        ));
    }
    let per_client = measure.lines as f64 / measure.elapsed;
    let delivered = measure.delivered as f64 / measure.elapsed;
    let messages = measure.messages as f64 / measure.elapsed;
    println!(
        "lines/s to every client: {per_client:.0}; lines delivered/s: {delivered:.0}; \
         messages delivered/s: {messages:.0} ({:.2} s measured, {} lines sent, none lost)",
        measure.elapsed, measure.sent
    );
    let per_cpu = measure.cpu.map(|cpu| measure.delivered as f64 / cpu);
    if let Some(per_cpu) = per_cpu {
        println!("lines delivered per server CPU-second: {per_cpu:.0}");
    }
    println!(
        "RESULT lines_per_sec={per_client:.0} delivered_per_sec={delivered:.0} msgs_per_sec={messages:.0} \
         delivered_per_cpu_s={}",
        per_cpu.map_or("-".into(), |v| format!("{v:.0}"))
    );
    Ok(())
}

/// What the measured seconds saw.
struct Measure {
    /// Lines written in all (warm-up included).
    sent: u64,
    /// Lines the slowest client received during the measured seconds.
    lines: u64,
    /// Lines received by all clients during the measured seconds.
    delivered: u64,
    /// Messages received by all clients during the measured seconds.
    messages: u64,
    elapsed: f64,
    /// Server CPU seconds during the measured seconds.
    cpu: Option<f64>,
}

#[allow(clippy::too_many_arguments)]
fn write_lines(
    fifo: &str,
    counts: &Counts,
    line_bytes: usize,
    batch: usize,
    window: u64,
    warmup: f64,
    secs: f64,
    server_pid: u32,
) -> Result<Measure, String> {
    let mut out =
        std::fs::OpenOptions::new().write(true).open(fifo).map_err(|e| format!("{fifo}: {e}"))?;
    let cpu = || (server_pid != 0).then(|| process_cpu_time(server_pid).ok()).flatten();
    let started = Instant::now();
    let mut mark: Option<(Instant, u64, u64, u64, Option<Duration>)> = None;
    let mut sent = 0u64;
    let mut buf = Vec::with_capacity(line_bytes * batch);
    loop {
        let now = started.elapsed().as_secs_f64();
        if mark.is_none() && now >= warmup {
            mark = Some((
                Instant::now(),
                counts.min(),
                counts.sum(),
                counts.messages.load(Ordering::Relaxed),
                cpu(),
            ));
        }
        if now >= warmup + secs {
            break;
        }
        if counts.failed.load(Ordering::Relaxed) {
            return Err("a client's connection ended".into());
        }
        if sent - counts.min() + batch as u64 > window {
            std::thread::yield_now();
            continue;
        }
        buf.clear();
        for _ in 0..batch {
            let start = buf.len();
            write!(buf, "line {sent:010} ").map_err(|e| e.to_string())?;
            buf.resize(start + line_bytes - 1, b'.');
            buf.push(b'\n');
            sent += 1;
        }
        out.write_all(&buf).map_err(|e| format!("{fifo}: {e}"))?;
    }
    let (at, min0, sum0, msgs0, cpu0) = mark.ok_or("no measured seconds")?;
    let elapsed = at.elapsed().as_secs_f64();
    let cpu = match (cpu0, cpu()) {
        (Some(a), Some(b)) => Some((b - a).as_secs_f64()),
        _ => None,
    };
    Ok(Measure {
        sent,
        lines: counts.min() - min0,
        delivered: counts.sum() - sum0,
        messages: counts.messages.load(Ordering::Relaxed) - msgs0,
        elapsed,
        cpu,
    })
}
