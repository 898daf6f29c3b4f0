//! The engine of `ws-load`: echo load over raw TCP, and idle connections.
//!
//! Each connection sends one pre-encoded masked frame, waits for the whole echo, checks it byte
//! for byte against the unmasked frame a server must send back, and only then sends the next
//! (as uWebSockets' `load_test` does): the ping-pong shape. With a pipeline depth above one it
//! writes that many frames at once and waits for all their echoes: the pipelined shape, where a
//! server can read several messages per read and answer them in one write. Nothing here uses
//! `ws-proto`: frames and handshake come from [`crate::wire`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::inputs::{Corpus, Rng, binary_payload, text};
use crate::wire::{Opcode, client_handshake, encode_frame};

/// Connections opened (TCP connect + upgrade) at the same time: more would overflow the
/// server's accept backlog and turn into SYN retries of a second or more.
const CONNECT_CONCURRENCY: usize = 64;

const WARMUP: u8 = 0;
const MEASURE: u8 = 1;
const STOP: u8 = 2;

/// Where to connect: a `ws://host:port/path` URL taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `host:port`, for the TCP connect and the `Host` header.
    pub authority: String,
    /// The request path, at least `/`.
    pub path: String,
}

impl Target {
    /// Parses a `ws://host:port[/path]` URL (no TLS: the tools measure WebSocket, not TLS).
    pub fn parse(url: &str) -> Result<Target, String> {
        let rest = url.strip_prefix("ws://").ok_or_else(|| format!("{url}: only ws:// URLs"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if !authority.contains(':') {
            return Err(format!("{url}: give the port explicitly"));
        }
        Ok(Target { authority: authority.to_owned(), path: path.to_owned() })
    }
}

/// A load run's settings.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// The server.
    pub target: Target,
    /// Concurrent connections, each with one message in flight.
    pub conns: usize,
    /// Payload bytes per message.
    pub size: usize,
    /// Send UTF-8 text messages (the server validates them) instead of binary.
    pub text: bool,
    /// Seconds of load before measuring starts.
    pub warmup: Duration,
    /// Seconds measured.
    pub duration: Duration,
    /// Linux: the server's process id, to read its CPU time at the edges of the measured
    /// window (from `/proc/<pid>/stat`).
    pub server_pid: Option<u32>,
    /// Messages each connection writes at once before waiting for all their echoes (1: the
    /// ping-pong shape).
    pub depth: usize,
    /// The server echoes raw bytes after the upgrade (the `raw-echo` ceiling): expect the masked
    /// frames back exactly as sent.
    pub raw: bool,
}

/// User plus system CPU time of process `pid` so far (all its threads), from
/// `/proc/<pid>/stat`. Clock ticks are `USER_HZ`, which Linux fixes at 100 for user space.
pub fn process_cpu_time(pid: u32) -> Result<Duration, String> {
    const USER_HZ: u64 = 100;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| format!("/proc/{pid}/stat: {e}"))?;
    // Fields after the command name (which may contain spaces) start at state (field 3);
    // utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).ok_or("malformed /proc stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let tick =
        |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).ok_or("malformed /proc stat");
    let ticks = tick(11)? + tick(12)?;
    Ok(Duration::from_millis(ticks * 1000 / USER_HZ))
}

/// What a load run measured.
#[derive(Debug, Clone)]
pub struct LoadReport {
    /// Round trips completed entirely inside the measured window.
    pub messages: u64,
    /// Length of the measured window.
    pub elapsed: Duration,
    /// Round-trip times of those messages, sorted, in nanoseconds.
    pub latencies: Vec<u32>,
    /// CPU time the server used during the measured window, if its pid was given.
    pub server_cpu: Option<Duration>,
}

impl LoadReport {
    /// Messages per second over the measured window.
    pub fn rate(&self) -> f64 {
        self.messages as f64 / self.elapsed.as_secs_f64()
    }

    /// The `q`-quantile round trip (0.5 for the median), in microseconds.
    pub fn percentile_us(&self, q: f64) -> f64 {
        if self.latencies.is_empty() {
            return f64::NAN;
        }
        let i = ((self.latencies.len() - 1) as f64 * q).round() as usize;
        f64::from(self.latencies[i]) / 1000.0
    }

    /// Messages per second of server CPU time, if it was measured.
    pub fn per_server_cpu_second(&self) -> Option<f64> {
        self.server_cpu.map(|cpu| self.messages as f64 / cpu.as_secs_f64())
    }
}

/// One connection's messages: the masked frame it sends and the exact bytes it must get back.
struct Exchange {
    /// `depth` frames, written at once.
    request: Vec<u8>,
    expected: Vec<u8>,
    /// Messages in `request`.
    depth: usize,
}

impl Exchange {
    fn new(cfg: &LoadConfig, index: usize) -> Exchange {
        let seed = index as u64 + 1;
        let (opcode, payload) = if cfg.text {
            (Opcode::Text, text(Corpus::Latin1, cfg.size, seed))
        } else {
            (Opcode::Binary, binary_payload(cfg.size, seed))
        };
        let key = Rng::new(seed ^ 0xabcd).mask_key();
        let request = encode_frame(opcode, &payload, Some(key));
        let expected = if cfg.raw { request.clone() } else { encode_frame(opcode, &payload, None) };
        let depth = cfg.depth.max(1);
        Exchange { request: request.repeat(depth), expected: expected.repeat(depth), depth }
    }
}

/// Opens `n` upgraded connections, at most 64 at a time (more would overflow the server's
/// accept backlog).
pub async fn connect_all(target: &Target, n: usize) -> Result<Vec<TcpStream>, String> {
    let permits = Arc::new(Semaphore::new(CONNECT_CONCURRENCY));
    let mut set = JoinSet::new();
    for i in 0..n {
        let (permits, target) = (permits.clone(), target.clone());
        set.spawn(async move {
            let _permit = permits.acquire_owned().await.map_err(|e| e.to_string())?;
            let mut stream = TcpStream::connect(&target.authority)
                .await
                .map_err(|e| format!("connect {}: {e}", target.authority))?;
            stream.set_nodelay(true).map_err(|e| e.to_string())?;
            let mut nonce = [0u8; 16];
            Rng::new(i as u64).fill(&mut nonce);
            client_handshake(&mut stream, &target.authority, &target.path, nonce)
                .await
                .map_err(|e| e.to_string())?;
            Ok::<_, String>((i, stream))
        });
    }
    let mut streams: Vec<Option<TcpStream>> = (0..n).map(|_| None).collect();
    while let Some(res) = set.join_next().await {
        let (i, s) = res.map_err(|e| e.to_string())??;
        streams[i] = Some(s);
    }
    Ok(streams.into_iter().flatten().collect())
}

/// Sends one message (`ex.depth` of them at once) and checks the echo; returns the round-trip
/// time.
async fn round_trip(
    stream: &mut TcpStream,
    ex: &Exchange,
    buf: &mut [u8],
) -> Result<Duration, String> {
    let start = Instant::now();
    stream.write_all(&ex.request).await.map_err(|e| format!("write: {e}"))?;
    stream.read_exact(buf).await.map_err(|e| format!("read echo: {e}"))?;
    let rtt = start.elapsed();
    if buf != &ex.expected[..] {
        let at = buf.iter().zip(&ex.expected).position(|(a, b)| a != b).unwrap_or(0);
        return Err(format!("echo differs from what was sent at byte {at} of {}", buf.len()));
    }
    Ok(rtt)
}

/// Ends a connection politely: a Close frame (1000), then waits briefly for the server to close.
async fn close(mut stream: TcpStream) {
    let close = encode_frame(Opcode::Close, &1000u16.to_be_bytes(), Some([0x11, 0x22, 0x33, 0x44]));
    if stream.write_all(&close).await.is_err() {
        return;
    }
    let mut sink = [0u8; 1024];
    let drain = async { while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {} };
    let _ = tokio::time::timeout(Duration::from_secs(2), drain).await;
}

/// One connection's loop: echo until told to stop, recording what completes while measuring.
async fn echo_loop(
    mut stream: TcpStream,
    ex: Exchange,
    phase: Arc<AtomicU8>,
    raw: bool,
) -> Result<Vec<u32>, String> {
    let mut buf = vec![0u8; ex.expected.len()];
    let mut latencies = Vec::new();
    loop {
        let before = phase.load(Ordering::Relaxed);
        if before == STOP {
            break;
        }
        let rtt = round_trip(&mut stream, &ex, &mut buf).await?;
        if before == MEASURE && phase.load(Ordering::Relaxed) == MEASURE {
            // Every message of a pipelined batch took the batch's round trip.
            let rtt = u32::try_from(rtt.as_nanos()).unwrap_or(u32::MAX);
            latencies.extend(std::iter::repeat_n(rtt, ex.depth));
        }
    }
    // A raw echo would only send the Close frame back as it came: just drop the connection.
    if !raw {
        close(stream).await;
    }
    Ok(latencies)
}

/// Runs a load test: connect, warm up, measure, close.
pub async fn run(cfg: &LoadConfig) -> Result<LoadReport, String> {
    let streams = connect_all(&cfg.target, cfg.conns).await?;
    let phase = Arc::new(AtomicU8::new(WARMUP));
    let mut set = JoinSet::new();
    for (i, stream) in streams.into_iter().enumerate() {
        set.spawn(echo_loop(stream, Exchange::new(cfg, i), phase.clone(), cfg.raw));
    }
    measure(cfg, set, phase).await
}

/// Warms up, measures, stops the tasks and gathers what they recorded while measuring.
async fn measure(
    cfg: &LoadConfig,
    mut set: JoinSet<Result<Vec<u32>, String>>,
    phase: Arc<AtomicU8>,
) -> Result<LoadReport, String> {
    let cpu = || cfg.server_pid.map(process_cpu_time).transpose();
    tokio::time::sleep(cfg.warmup).await;
    let cpu_start = cpu()?;
    phase.store(MEASURE, Ordering::Relaxed);
    let start = Instant::now();
    tokio::time::sleep(cfg.duration).await;
    phase.store(STOP, Ordering::Relaxed);
    let elapsed = start.elapsed();
    let server_cpu = match (cpu_start, cpu()?) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a)),
        _ => None,
    };
    let mut latencies = Vec::new();
    let mut first_error = None;
    while let Some(res) = set.join_next().await {
        match res.map_err(|e| e.to_string()).and_then(|r| r) {
            Ok(mut l) => latencies.append(&mut l),
            Err(e) => first_error = first_error.or(Some(e)),
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    latencies.sort_unstable();
    Ok(LoadReport { messages: latencies.len() as u64, elapsed, latencies, server_cpu })
}

/// Ends a connection as a well-behaved client does and checks that the server did its part: a
/// Close frame (1000) out, then the server's Close frame in, then the end of the stream (the
/// server closes TCP first, as RFC 6455 §7.1.1 asks), all within `CLOSE_WAIT`.
async fn close_checked(mut stream: TcpStream) -> Result<(), String> {
    const CLOSE_WAIT: Duration = Duration::from_secs(5);
    let close = encode_frame(Opcode::Close, &1000u16.to_be_bytes(), Some([0x11, 0x22, 0x33, 0x44]));
    stream.write_all(&close).await.map_err(|e| format!("write Close: {e}"))?;
    let mut got = Vec::new();
    let mut chunk = [0u8; 256];
    let drain = async {
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) => return Ok(()),
                Ok(n) => got.extend_from_slice(&chunk[..n]),
                Err(e) => return Err(format!("read Close: {e}")),
            }
        }
    };
    tokio::time::timeout(CLOSE_WAIT, drain)
        .await
        .map_err(|_| "the server did not close the connection within 5 s".to_owned())??;
    // The reply echoes the code (or carries none): 0x88 and a length of 0 or 2.
    match got[..] {
        [0x88, 0, ..] | [0x88, 2, 0x03, 0xe8, ..] => Ok(()),
        _ => {
            Err(format!("expected the server's Close frame, got {:02x?}", &got[..got.len().min(8)]))
        }
    }
}

/// One connection after another until told to stop: TCP connect, upgrade, one echo (checked),
/// close (checked); records how long each whole connection took while measuring.
async fn setup_loop(
    target: Target,
    worker: usize,
    ex: Exchange,
    phase: Arc<AtomicU8>,
) -> Result<Vec<u32>, String> {
    let mut buf = vec![0u8; ex.expected.len()];
    let mut latencies = Vec::new();
    let mut rng = Rng::new((worker as u64) ^ (0x5e7 << 32));
    loop {
        let before = phase.load(Ordering::Relaxed);
        if before == STOP {
            return Ok(latencies);
        }
        let start = Instant::now();
        let mut stream = TcpStream::connect(&target.authority)
            .await
            .map_err(|e| format!("connect {}: {e}", target.authority))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let mut nonce = [0u8; 16];
        rng.fill(&mut nonce);
        client_handshake(&mut stream, &target.authority, &target.path, nonce)
            .await
            .map_err(|e| e.to_string())?;
        round_trip(&mut stream, &ex, &mut buf).await?;
        close_checked(stream).await?;
        if before == MEASURE && phase.load(Ordering::Relaxed) == MEASURE {
            latencies.push(u32::try_from(start.elapsed().as_nanos()).unwrap_or(u32::MAX));
        }
    }
}

/// Runs a connection-setup test: `cfg.conns` workers each open, use once and close connection
/// after connection (see `setup_loop`); the report counts whole connections (in `messages`)
/// and their durations (in `latencies`).
pub async fn setup(cfg: &LoadConfig) -> Result<LoadReport, String> {
    let phase = Arc::new(AtomicU8::new(WARMUP));
    let mut set = JoinSet::new();
    for i in 0..cfg.conns {
        set.spawn(setup_loop(cfg.target.clone(), i, Exchange::new(cfg, i), phase.clone()));
    }
    measure(cfg, set, phase).await
}

/// Memory of a server process (and of the kernel, for what it keeps per thread), read from
/// `/proc` (Linux).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemSample {
    /// The process's resident set (`VmRSS`), KiB.
    pub rss_kib: u64,
    /// The process's threads.
    pub threads: u64,
    /// The kernel stacks of every thread on the machine (`KernelStack` in `/proc/meminfo`), KiB:
    /// memory a thread costs that its process's RSS does not show.
    pub kernel_stack_kib: u64,
}

/// Reads `pid`'s RSS and thread count and the machine's kernel stacks.
pub fn mem_sample(pid: u32) -> Result<MemSample, String> {
    let field = |text: &str, name: &str, file: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .ok_or_else(|| format!("{file}: no {name}"))
    };
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("/proc/{pid}/status: {e}"))?;
    let meminfo =
        std::fs::read_to_string("/proc/meminfo").map_err(|e| format!("/proc/meminfo: {e}"))?;
    Ok(MemSample {
        rss_kib: field(&status, "VmRSS:", "status")?,
        threads: field(&status, "Threads:", "status")?,
        kernel_stack_kib: field(&meminfo, "KernelStack:", "meminfo")?,
    })
}

/// What an idle run measured.
#[derive(Debug, Clone)]
pub struct IdleReport {
    /// Connections held open.
    pub conns: usize,
    /// How long the burst of one echo per connection took (`echo_first`), from the first
    /// request written to the last echo read.
    pub burst: Option<Duration>,
    /// The server before the first connection (if its pid was given).
    pub before: Option<MemSample>,
    /// The server at each requested time after all connections were ready.
    pub samples: Vec<(Duration, MemSample)>,
}

/// Opens `conns` connections, optionally exchanging one message on each (a burst: every request
/// is written, then every echo read and checked), reports through `ready` once all are open and
/// idle, holds them for `hold`, then closes them. With `cfg.server_pid`, samples the server's
/// memory before connecting and at each of `sample_at` after `ready` (which must lie within
/// `hold`).
pub async fn idle(
    cfg: &LoadConfig,
    echo_first: bool,
    hold: Duration,
    sample_at: &[Duration],
    ready: impl FnOnce(usize),
) -> Result<IdleReport, String> {
    let sample = || cfg.server_pid.map(mem_sample).transpose();
    let before = sample()?;
    let mut streams = connect_all(&cfg.target, cfg.conns).await?;
    let mut burst = None;
    if echo_first {
        let exchanges: Vec<Exchange> = (0..streams.len()).map(|i| Exchange::new(cfg, i)).collect();
        let start = Instant::now();
        for (s, ex) in streams.iter_mut().zip(&exchanges) {
            s.write_all(&ex.request).await.map_err(|e| format!("write: {e}"))?;
        }
        let mut buf = Vec::new();
        for (s, ex) in streams.iter_mut().zip(&exchanges) {
            buf.resize(ex.expected.len(), 0);
            s.read_exact(&mut buf).await.map_err(|e| format!("read echo: {e}"))?;
            if buf != ex.expected {
                return Err("an echo differs from what was sent".to_owned());
            }
        }
        burst = Some(start.elapsed());
    }
    ready(streams.len());
    let idle_since = Instant::now();
    let mut samples = Vec::new();
    for &at in sample_at {
        tokio::time::sleep_until((idle_since + at).into()).await;
        if let Some(s) = sample()? {
            samples.push((at, s));
        }
    }
    tokio::time::sleep_until((idle_since + hold).into()).await;
    let conns = streams.len();
    let mut set = JoinSet::new();
    for s in streams {
        set.spawn(close(s));
    }
    while set.join_next().await.is_some() {}
    Ok(IdleReport { conns, burst, before, samples })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let t = Target::parse("ws://127.0.0.1:9401/echo").unwrap();
        assert_eq!((t.authority.as_str(), t.path.as_str()), ("127.0.0.1:9401", "/echo"));
        assert_eq!(Target::parse("ws://localhost:80").unwrap().path, "/");
        assert!(Target::parse("wss://h:1").is_err());
        assert!(Target::parse("ws://h/").is_err());
    }

    #[test]
    fn percentiles() {
        let r = LoadReport {
            messages: 5,
            elapsed: Duration::from_secs(1),
            latencies: vec![1000, 2000, 3000, 4000, 5000],
            server_cpu: Some(Duration::from_millis(500)),
        };
        assert_eq!((r.rate(), r.percentile_us(0.5), r.percentile_us(1.0)), (5.0, 3.0, 5.0));
        assert_eq!(r.per_server_cpu_second(), Some(10.0));
    }

    #[test]
    fn reads_own_cpu_time() {
        let before = process_cpu_time(std::process::id()).unwrap();
        let start = Instant::now();
        let mut x = 0u64;
        while start.elapsed() < Duration::from_millis(200) {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        let after = process_cpu_time(std::process::id()).unwrap();
        assert!(after > before, "200 ms of spinning shows up as CPU time");
        assert!(process_cpu_time(u32::MAX).is_err());
    }
}
