//! `ws-load`: a WebSocket echo load generator, independent of the library it measures.
//!
//!     ws-load --url ws://127.0.0.1:9401 --conns 100 --size 20 --secs 5 --warmup 1
//!     ws-load --url ws://127.0.0.1:9401 --conns 10000 --idle --secs 10
//!
//! Load mode: `--conns` connections each keep one message of `--size` bytes in flight (send,
//! wait for the whole echo, check it byte for byte, send again). After `--warmup` seconds it
//! measures for `--secs` seconds and prints messages/s and round-trip percentiles, then a
//! `RESULT` line for scripts. Any wrong echo or broken connection is an error (exit status 1).
//!
//! Idle mode (`--idle`): opens the connections (`--echo-first`: one round trip each), prints
//! `READY <n>` once all are open, holds them for `--secs` seconds and closes them.
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
[--warmup S] [--text] [--threads N] [--server-pid PID] [--idle [--echo-first]]";

fn main() {
    if let Err(e) = run() {
        eprintln!("ws-load: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let mut f = Flags::from_env(&["text", "idle", "echo-first"], USAGE)?;
    let url: String = f.get("url", String::new())?;
    let secs: f64 = f.get("secs", 5.0)?;
    let warmup: f64 = f.get("warmup", 1.0)?;
    let threads: usize = f.get("threads", 1)?;
    let (idle, echo_first) = (f.switch("idle"), f.switch("echo-first"));
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
    };
    f.finish()?;
    if cfg.conns == 0 || threads == 0 || cfg.duration.is_zero() {
        return Err(format!("--conns, --threads and --secs must be positive\n{USAGE}"));
    }
    let rt = match threads {
        1 => tokio::runtime::Builder::new_current_thread().enable_all().build(),
        n => tokio::runtime::Builder::new_multi_thread().worker_threads(n).enable_all().build(),
    }
    .map_err(|e| e.to_string())?;

    if idle {
        return rt.block_on(load::idle(&cfg, echo_first, cfg.duration, |n| {
            println!("READY {n}");
            let _ = std::io::stdout().flush();
        }));
    }
    let kind = if cfg.text { "text" } else { "binary" };
    println!(
        "ws-load: {} conns x {} B {kind} to {}{}, warmup {warmup} s, measuring {secs} s",
        cfg.conns, cfg.size, cfg.target.authority, cfg.target.path
    );
    let report = rt.block_on(load::run(&cfg))?;
    let (p50, p99, max) =
        (report.percentile_us(0.5), report.percentile_us(0.99), report.percentile_us(1.0));
    println!(
        "messages/s: {:.0} ({} round trips in {:.2} s, {:.1} MB/s each way)",
        report.rate(),
        report.messages,
        report.elapsed.as_secs_f64(),
        report.rate() * cfg.size as f64 / 1e6
    );
    println!("round trip: p50 {p50:.1} us, p99 {p99:.1} us, max {max:.1} us");
    let (cpu, per_cpu) = match (report.server_cpu, report.per_server_cpu_second()) {
        (Some(cpu), Some(per)) => {
            println!(
                "server CPU: {:.2} s, {per:.0} messages per server CPU-second",
                cpu.as_secs_f64()
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
