//! `pubsub-load`: the pub/sub benchmark's client. Holds `--subs` subscriber connections on one
//! thread (a current-thread runtime), starts the server's publisher over a control connection
//! and measures delivery (see `benches::pubsub`).
//!
//!     pubsub-load --url ws://127.0.0.1:9421 --subs 10000 --size 32 [--window 32] [--rate 0] \
//!         [--warmup 2] [--secs 5] [--server-pid PID]
//!
//! The publisher stays at most `--window` messages ahead of the slowest subscriber and, with
//! `--rate R`, publishes at most R messages per second. Every frame is checked (number in
//! sequence, size, content); a lost or wrong message is an error (exit status 1). Prints frames
//! delivered per second, messages completed (received by every subscriber) per second, the
//! fan-out time (publish to the last subscriber's receipt) and, with `--server-pid`, frames
//! delivered per server CPU-second, then a `RESULT` line for scripts (`msgs_per_sec` and
//! `msgs_per_cpu_s` are frames delivered, `p99_us` the fan-out time).

use std::time::Duration;

use benches::cli::Flags;
use benches::load::Target;
use benches::pubsub::{self, ClientConfig, Start};

const USAGE: &str = "usage: pubsub-load --url ws://HOST:PORT [--subs N] [--size BYTES] [--window N] \
[--rate PER_SEC] [--warmup S] [--secs S] [--server-pid PID]";

fn main() {
    if let Err(e) = run() {
        eprintln!("pubsub-load: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let mut f = Flags::from_env(&[], USAGE)?;
    let url: String = f.get("url", String::new())?;
    let secs: f64 = f.get("secs", 5.0)?;
    let warmup: f64 = f.get("warmup", 2.0)?;
    let cfg = ClientConfig {
        authority: Target::parse(&url)?.authority,
        start: Start {
            subscribers: f.get("subs", 10_000)?,
            size: f.get("size", 32)?,
            window: f.get("window", 32)?,
            rate: f.get("rate", 0.0)?,
        },
        warmup: Duration::try_from_secs_f64(warmup).map_err(|e| format!("--warmup: {e}"))?,
        duration: Duration::try_from_secs_f64(secs).map_err(|e| format!("--secs: {e}"))?,
        server_pid: match f.get("server-pid", 0u32)? {
            0 => None,
            pid => Some(pid),
        },
    };
    f.finish()?;
    if cfg.start.subscribers == 0 || cfg.duration.is_zero() {
        return Err(format!("--subs and --secs must be positive\n{USAGE}"));
    }
    let s = cfg.start;
    let rate = if s.rate > 0.0 {
        format!("at most {} per second", s.rate)
    } else {
        "no rate limit".into()
    };
    println!(
        "pubsub-load: {} subscribers x {} B to {}, window {}, {rate}, warmup {warmup} s, measuring {secs} s",
        s.subscribers, s.size, cfg.authority, s.window
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let local = tokio::task::LocalSet::new();
    let report = local.block_on(&rt, pubsub::run_client(&cfg))?;
    let (p50, p99) = (report.fanout_percentile_us(0.5), report.fanout_percentile_us(0.99));
    println!(
        "delivered/s: {:.0} ({} frames in {:.2} s); messages/s: {:.1} (each to every subscriber)",
        report.delivered_per_sec(),
        report.delivered,
        report.elapsed.as_secs_f64(),
        report.published_per_sec()
    );
    println!("fan-out (publish to the last subscriber): p50 {p50:.0} us, p99 {p99:.0} us");
    let client_cpu = report.client_cpu.as_secs_f64();
    let (cpu, per_cpu) = match (report.server_cpu, report.delivered_per_server_cpu_second()) {
        (Some(cpu), Some(per)) => {
            println!(
                "server CPU: {:.2} s, {per:.0} deliveries per server CPU-second ({:.2} us each); \
                 client CPU: {client_cpu:.2} s",
                cpu.as_secs_f64(),
                1e6 / per
            );
            (cpu.as_secs_f64(), per)
        }
        _ => (f64::NAN, f64::NAN),
    };
    println!(
        "RESULT msgs_per_sec={:.1} delivered={} secs={:.3} published_per_sec={:.2} p50_us={p50:.0} \
         p99_us={p99:.0} server_cpu_s={cpu:.3} msgs_per_cpu_s={per_cpu:.1} client_cpu_s={client_cpu:.3}",
        report.delivered_per_sec(),
        report.delivered,
        report.elapsed.as_secs_f64(),
        report.published_per_sec()
    );
    if report.delivered == 0 {
        return Err("nothing was delivered in the measured window".to_owned());
    }
    Ok(())
}
