//! `ws-load`: a WebSocket echo load generator, independent of the library it measures.
//!
//!     ws-load --url ws://127.0.0.1:9401 --conns 100 --size 20 --secs 5 --warmup 1
//!     ws-load --url ws://127.0.0.1:9401 --conns 10000 --idle [--echo-first] --secs 3 \
//!         --server-pid PID --sample-at 0.1,2
//!
//! Load mode: `--conns` connections each keep one message of `--size` bytes in flight (send,
//! wait for the whole echo, check it byte for byte, send again). After `--warmup` seconds it
//! measures for `--secs` seconds and prints messages/s and round-trip percentiles, then a
//! `RESULT` line for scripts. Any wrong echo or broken connection is an error (exit status 1).
//!
//! Idle mode (`--idle`): opens the connections (`--echo-first`: then one message each, in a
//! burst: every request written, then every echo read and checked), prints `READY <n>` once all
//! are open and idle, holds them for `--secs` seconds and closes them. With `--server-pid`, it
//! reads the server's memory (`/proc`) before connecting and `--sample-at` seconds after
//! `READY` (comma-separated, default 1), and prints one `IDLE` line per sample: the growth of
//! the server's RSS per connection, its threads, and the growth of the machine's kernel stacks
//! per connection (the memory a thread per connection costs outside its process's RSS).
//!
//! Setup mode (`--setup`): `--conns` workers each open a connection (TCP connect + upgrade), do
//! one echo of `--size` bytes, close it (a Close frame, then the server's Close and the end of
//! the stream, all checked) and start over, until the run ends. It reports whole connections
//! per second and per server CPU-second (in the `RESULT` line's `msgs_per_sec` and
//! `msgs_per_cpu_s`, so scripts read both modes alike) and the percentiles of a connection's
//! whole life.
//!
//! `--depth N` (load mode) pipelines: each connection writes N messages at once and waits for
//! all N echoes before the next batch (default 1, the ping-pong shape). `--raw` (load mode) is
//! for the `raw-echo` server, which echoes bytes unchanged after the upgrade: the masked frames
//! are expected back as sent (the ceiling: the same reads and writes with no WebSocket work).
//!
//! `--text` sends UTF-8 text instead of binary; `--threads` sets the client's runtime threads
//! (default 1, leaving the other core to the server). `--server-pid PID` (Linux) reads the
//! server's CPU time at the edges of the measured window and adds messages per server
//! CPU-second to the report.

use std::io::Write as _;
use std::time::Duration;

use benches::cli::Flags;
use benches::load::{self, LoadConfig, Target};

const USAGE: &str = "usage: ws-load --url ws://HOST:PORT[/path] [--conns N] [--size BYTES] [--secs S] \
[--warmup S] [--text] [--threads N] [--server-pid PID] [--depth N] [--raw] [--setup] \
[--idle [--echo-first] [--sample-at S,S..]]";

fn main() {
    if let Err(e) = run() {
        eprintln!("ws-load: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let mut f = Flags::from_env(&["text", "idle", "echo-first", "setup", "raw"], USAGE)?;
    let url: String = f.get("url", String::new())?;
    let secs: f64 = f.get("secs", 5.0)?;
    let warmup: f64 = f.get("warmup", 1.0)?;
    let threads: usize = f.get("threads", 1)?;
    let (idle, echo_first, setup) = (f.switch("idle"), f.switch("echo-first"), f.switch("setup"));
    let sample_at: String = f.get("sample-at", "1".to_owned())?;
    let sample_at = sample_at
        .split(',')
        .map(|t| {
            t.trim()
                .parse::<f64>()
                .ok()
                .and_then(|t| Duration::try_from_secs_f64(t).ok())
                .ok_or_else(|| format!("--sample-at: bad time {t:?}"))
        })
        .collect::<Result<Vec<Duration>, String>>()?;
    let cfg = LoadConfig {
        target: Target::parse(&url)?,
        conns: f.get("conns", 100)?,
        size: f.get("size", 20)?,
        text: f.switch("text"),
        warmup: Duration::try_from_secs_f64(warmup).map_err(|e| format!("--warmup: {e}"))?,
        duration: Duration::try_from_secs_f64(secs).map_err(|e| format!("--secs: {e}"))?,
        server_pid: match f.get("server-pid", 0u32)? {
            0 => None,
            pid => Some(pid),
        },
        depth: f.get("depth", 1)?,
        raw: f.switch("raw"),
    };
    f.finish()?;
    if cfg.conns == 0 || threads == 0 || cfg.duration.is_zero() || cfg.depth == 0 {
        return Err(format!("--conns, --threads, --depth and --secs must be positive\n{USAGE}"));
    }
    if (idle || setup) && (cfg.raw || cfg.depth > 1) {
        return Err("--raw and --depth are for the load mode".to_owned());
    }
    let rt = match threads {
        1 => tokio::runtime::Builder::new_current_thread().enable_all().build(),
        n => tokio::runtime::Builder::new_multi_thread().worker_threads(n).enable_all().build(),
    }
    .map_err(|e| e.to_string())?;

    if idle && setup {
        return Err("--idle and --setup are different modes".to_owned());
    }
    if idle {
        if sample_at.iter().any(|&t| t >= cfg.duration) {
            return Err("--sample-at times must lie within --secs".to_owned());
        }
        let report = rt.block_on(load::idle(&cfg, echo_first, cfg.duration, &sample_at, |n| {
            println!("READY {n}");
            let _ = std::io::stdout().flush();
        }))?;
        print_idle(&report);
        return Ok(());
    }
    let kind = if cfg.text { "text" } else { "binary" };
    let (what, unit) = if setup { ("workers", "connections") } else { ("conns", "messages") };
    let mut shape = String::new();
    if cfg.depth > 1 {
        shape += &format!(", {} in flight", cfg.depth);
    }
    if cfg.raw {
        shape += ", raw echo";
    }
    println!(
        "ws-load: {} {what} x {} B {kind}{shape} to {}{}, warmup {warmup} s, measuring {secs} s",
        cfg.conns, cfg.size, cfg.target.authority, cfg.target.path
    );
    let report = match setup {
        true => rt.block_on(load::setup(&cfg))?,
        false => rt.block_on(load::run(&cfg))?,
    };
    let (p50, p99, max) =
        (report.percentile_us(0.5), report.percentile_us(0.99), report.percentile_us(1.0));
    if setup {
        println!(
            "connections/s: {:.0} ({} connections opened, echoed once and closed in {:.2} s)",
            report.rate(),
            report.messages,
            report.elapsed.as_secs_f64(),
        );
        println!("connection life: p50 {p50:.1} us, p99 {p99:.1} us, max {max:.1} us");
    } else {
        println!(
            "messages/s: {:.0} ({} round trips in {:.2} s, {:.1} MB/s each way)",
            report.rate(),
            report.messages,
            report.elapsed.as_secs_f64(),
            report.rate() * cfg.size as f64 / 1e6
        );
        println!("round trip: p50 {p50:.1} us, p99 {p99:.1} us, max {max:.1} us");
    }
    let (cpu, per_cpu) = match (report.server_cpu, report.per_server_cpu_second()) {
        (Some(cpu), Some(per)) => {
            println!(
                "server CPU: {:.2} s, {per:.0} {unit} per server CPU-second ({:.1} us each)",
                cpu.as_secs_f64(),
                1e6 / per
            );
            (cpu.as_secs_f64(), per)
        }
        _ => (f64::NAN, f64::NAN),
    };
    println!(
        "RESULT msgs_per_sec={:.1} messages={} secs={:.3} p50_us={p50:.1} p99_us={p99:.1} max_us={max:.1} \
         server_cpu_s={cpu:.3} msgs_per_cpu_s={per_cpu:.1}",
        report.rate(),
        report.messages,
        report.elapsed.as_secs_f64()
    );
    if report.messages == 0 {
        return Err("no round trip completed in the measured window".to_owned());
    }
    Ok(())
}

/// One `IDLE` line per memory sample: growth since before the first connection.
fn print_idle(report: &load::IdleReport) {
    if let Some(burst) = report.burst {
        println!("echo burst: {:.3} s for {} connections", burst.as_secs_f64(), report.conns);
    }
    let Some(before) = report.before else { return };
    let n = report.conns.max(1) as f64;
    for (at, s) in &report.samples {
        let per_conn = |after: u64, before: u64| (after as f64 - before as f64) * 1024.0 / n;
        println!(
            "IDLE at_s={:.3} conns={} burst_s={:.3} rss_before_kib={} rss_kib={} bytes_per_conn={:.0} \
             threads_before={} threads={} kernel_stack_bytes_per_conn={:.0}",
            at.as_secs_f64(),
            report.conns,
            report.burst.map_or(0.0, |b| b.as_secs_f64()),
            before.rss_kib,
            s.rss_kib,
            per_conn(s.rss_kib, before.rss_kib),
            before.threads,
            s.threads,
            per_conn(s.kernel_stack_kib, before.kernel_stack_kib),
        );
    }
}
