//! Pub/sub across two ws-server servers through Redis (`ws_server::redis::RedisHub`) against
//! one server with the in-process `LocalHub`, in one process on loopback: throughput
//! (messages delivered per second to all subscribers, the publisher at most `--window`
//! messages ahead of the slowest) and latency (publish to receipt, p50 and p99, at a fixed
//! `--rate`), interleaved rounds. Needs a running Redis (`--redis URL`); see
//! benches/README.md ("Redis hub").
//!
//! ```text
//! cargo run --release -p benches --features redis --bin redis-pubsub -- \
//!     --redis redis://127.0.0.1:6399/ --subs 1000 --secs 5 --rounds 3
//! ```
//!
//! Subscribers are ws-tokio clients in this process. With `redis`, half are on server A and
//! half on server B and A publishes, so half of the deliveries cross Redis; latency is given
//! for B's subscribers (through Redis) and A's (local delivery) separately.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Mutex;
use ws_server::redis::RedisHub;
use ws_server::{Message, Route, Server, ServerHandle};

struct Args {
    redis: String,
    subs: usize,
    size: usize,
    secs: u64,
    rounds: usize,
    window: u64,
    rate: u64,
}

fn args() -> Args {
    let mut a = Args {
        redis: "redis://127.0.0.1:6379/".into(),
        subs: 1000,
        size: 64,
        secs: 5,
        rounds: 3,
        window: 32,
        rate: 200,
    };
    let mut it = std::env::args().skip(1);
    while let (Some(flag), Some(v)) = (it.next(), it.next()) {
        let n = || v.parse::<u64>().expect("a number");
        match flag.as_str() {
            "--redis" => a.redis = v.clone(),
            "--subs" => a.subs = n() as usize,
            "--size" => a.size = (n() as usize).max(8),
            "--secs" => a.secs = n(),
            "--rounds" => a.rounds = n() as usize,
            "--window" => a.window = n(),
            "--rate" => a.rate = n().max(1),
            _ => panic!("unknown flag {flag}"),
        }
    }
    a
}

/// One subscriber's counters: messages received and, while `record` is on, latencies (µs).
struct Sub {
    received: AtomicU64,
    latencies: Mutex<Vec<u32>>,
}

async fn serve(hub: Option<Arc<RedisHub>>) -> (SocketAddr, ServerHandle) {
    let route = Route::new().on_open(|conn| conn.subscribe("bench"));
    let mut builder =
        Server::builder().bind("127.0.0.1:0").route("/sub", route).max_connections(100_000);
    if let Some(hub) = hub {
        builder = builder.hub(hub);
    }
    let server = builder.build().await.expect("bind");
    let (addr, handle) = (server.local_addrs()[0], server.handle());
    tokio::spawn(server.serve());
    (addr, handle)
}

async fn subscribe(addr: SocketAddr, start: Instant) -> Arc<Sub> {
    let (mut ws, _) = ws_tokio::connect(&format!("ws://{addr}/sub")).await.expect("connect");
    let sub = Arc::new(Sub { received: AtomicU64::new(0), latencies: Mutex::new(Vec::new()) });
    let s = Arc::clone(&sub);
    tokio::spawn(async move {
        while let Some(Ok(m)) = ws.recv().await {
            if let Message::Binary(b) = m {
                let sent = u64::from_le_bytes(b[..8].try_into().unwrap());
                let now = start.elapsed().as_nanos() as u64;
                s.received.fetch_add(1, Ordering::Relaxed);
                if b[8] == 1 {
                    s.latencies.lock().await.push((now.saturating_sub(sent) / 1000) as u32);
                }
            }
        }
    });
    sub
}

fn payload(size: usize, start: Instant, record: bool) -> Vec<u8> {
    let mut p = vec![b'x'; size.max(9)];
    p[..8].copy_from_slice(&(start.elapsed().as_nanos() as u64).to_le_bytes());
    p[8] = u8::from(record);
    p
}

fn slowest(subs: &[Arc<Sub>]) -> u64 {
    subs.iter().map(|s| s.received.load(Ordering::Relaxed)).min().unwrap_or(0)
}

fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

async fn latencies(subs: &[Arc<Sub>]) -> Vec<u32> {
    let mut all = Vec::new();
    for s in subs {
        all.append(&mut *s.latencies.lock().await);
    }
    all.sort_unstable();
    all
}

/// One run of `mode` ("local" or "redis"); prints a row.
async fn run(a: &Args, mode: &str, round: usize) {
    let start = Instant::now();
    let (publisher, subs_a, subs_b, hubs, servers) = if mode == "local" {
        let (addr, handle) = serve(None).await;
        let mut subs = Vec::new();
        for _ in 0..a.subs {
            subs.push(subscribe(addr, start).await);
        }
        (handle.clone(), subs, Vec::new(), Vec::new(), vec![handle])
    } else {
        let hub_a = Arc::new(RedisHub::connect(&a.redis).await.expect("redis"));
        let hub_b = Arc::new(RedisHub::connect(&a.redis).await.expect("redis"));
        let (addr_a, handle_a) = serve(Some(hub_a.clone())).await;
        let (addr_b, handle_b) = serve(Some(hub_b.clone())).await;
        let (mut sa, mut sb) = (Vec::new(), Vec::new());
        for i in 0..a.subs {
            if i % 2 == 0 {
                sa.push(subscribe(addr_a, start).await);
            } else {
                sb.push(subscribe(addr_b, start).await);
            }
        }
        while handle_a.subscribers("bench") < sa.len() || handle_b.subscribers("bench") < sb.len() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        hub_a.settled().await;
        hub_b.settled().await;
        (handle_a.clone(), sa, sb, vec![hub_a, hub_b], vec![handle_a, handle_b])
    };
    while publisher.subscribers("bench") < subs_a.len() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let all: Vec<Arc<Sub>> = subs_a.iter().chain(&subs_b).cloned().collect();

    // Throughput: as fast as the slowest subscriber keeps up.
    let mut sent = 0u64;
    let t0 = Instant::now();
    let before: u64 = all.iter().map(|s| s.received.load(Ordering::Relaxed)).sum();
    while t0.elapsed() < Duration::from_secs(a.secs) {
        if sent >= slowest(&all) + a.window {
            tokio::task::yield_now().await;
            continue;
        }
        publisher.publish("bench", payload(a.size, start, false));
        sent += 1;
    }
    let elapsed = t0.elapsed().as_secs_f64();
    let delivered: u64 =
        all.iter().map(|s| s.received.load(Ordering::Relaxed)).sum::<u64>() - before;
    // Let the window drain before the latency part.
    let deadline = Instant::now() + Duration::from_secs(10);
    while slowest(&all) < sent && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    // Latency at a fixed rate.
    let interval = Duration::from_nanos(1_000_000_000 / a.rate);
    let mut tick = tokio::time::interval(interval);
    let n = a.rate * a.secs;
    for _ in 0..n {
        tick.tick().await;
        publisher.publish("bench", payload(a.size, start, true));
    }
    let target = sent + n;
    let deadline = Instant::now() + Duration::from_secs(10);
    while slowest(&all) < target && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let missing: u64 =
        all.iter().map(|s| target.saturating_sub(s.received.load(Ordering::Relaxed))).sum();
    let la = latencies(&subs_a).await;
    let lb = latencies(&subs_b).await;
    let hubs_note = hubs
        .iter()
        .map(|h| {
            let s = h.stats();
            format!("pub {} recv {} dropped {} lost {}", s.published, s.received, s.dropped, s.lost)
        })
        .collect::<Vec<_>>()
        .join(" / ");
    println!(
        "{round}\t{mode}\t{}\t{}\t{:.0}\t{}\t{}\t{}\t{}\t{missing}\t{hubs_note}",
        a.subs,
        a.size,
        delivered as f64 / elapsed,
        percentile(&la, 0.5),
        percentile(&la, 0.99),
        percentile(&lb, 0.5),
        percentile(&lb, 0.99),
    );
    for server in servers {
        server.shutdown();
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
}

fn main() {
    let a = args();
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        println!("round\tmode\tsubs\tsize\tdelivered/s\tp50_us\tp99_us\tremote_p50_us\tremote_p99_us\tmissing\thubs");
        for round in 1..=a.rounds {
            for mode in ["local", "redis"] {
                run(&a, mode, round).await;
            }
        }
    });
}
