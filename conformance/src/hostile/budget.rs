//! Attacks on the server's memory as a whole: many connections each within their own limits
//! (the memory pinning of the hostile-clients issue), and one compressed message that inflates
//! past every limit. The servers run with a shared memory budget of [`BUDGET_MIB`].

use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use flate2::{Compress, Compression, FlushCompress};
use ws_kit::raw::{Frame, RawOpts, RawPeer, ReadEnd, op};

use super::BUDGET_MIB;
use super::probe::{RssWatch, Target};

/// Connections of the pinning attack (the issue measured 24).
const PINNERS: usize = 24;
/// What one compressed frame of the attack inflates to.
const FRAME_INFLATED: usize = 4 << 20;
/// Frames each pinning connection sends: 64 MiB inflated, the core's default message limit.
const FRAMES_EACH: usize = 16;
/// zlib state per compressed connection (about 420 KiB at 15-bit windows, SECURITY.md), the
/// budget's free floor (64 KiB) and the rest of a connection, rounded up.
const PER_CONNECTION_KIB: u64 = 640;
/// Allocator and runtime slack on top of the formula.
const SLACK_MIB: u64 = 16;

/// `DEFLATE` of `n` zero bytes with a sync flush: a chunk that can be repeated any number of
/// times inside one compressed message (it ends on a byte boundary, without the final bit).
fn zeros_chunk(n: usize) -> Vec<u8> {
    let mut z = Compress::new_with_window_bits(Compression::best(), false, 15);
    let mut out = Vec::with_capacity(n / 512 + 64);
    let zeros = vec![0u8; n];
    while (z.total_in() as usize) < n {
        let start = z.total_in() as usize;
        out.reserve(64 << 10);
        z.compress_vec(&zeros[start..], &mut out, FlushCompress::None).expect("deflate");
    }
    loop {
        out.reserve(64 << 10);
        let before = out.len();
        z.compress_vec(&[], &mut out, FlushCompress::Sync).expect("deflate");
        if out.len() == before || out.ends_with(&[0, 0, 0xff, 0xff]) {
            return out;
        }
    }
}

fn deflate_client(target: &Target) -> Result<RawPeer, String> {
    let raw = RawPeer::client(target.addr, RawOpts { deflate: true, ..RawOpts::default() });
    match raw.deflate {
        true => Ok(raw),
        false => Err("the server did not accept permessage-deflate".to_owned()),
    }
}

/// The bound on memory growth: twice the budget (an adapter's message buffer grows by
/// doubling, so its capacity can be twice the bytes charged), each connection's state and
/// floor, and slack.
fn bound_mib(connections: usize) -> u64 {
    2 * BUDGET_MIB + (connections as u64 * PER_CONNECTION_KIB).div_ceil(1024) + SLACK_MIB
}

/// 24 connections each send compressed fragments of a message that would inflate to 64 MiB
/// and never finish it (about 1.1 MB on the wire for 1.5 GiB inflated). Without a shared
/// budget each stays within its own limits and the sum is pinned for as long as they hold the
/// connection; with one, the server's growth stays within the bound and the connections past
/// it are closed with 1013 (or 1009 past a message limit under the budget).
pub(super) fn memory_pinning(target: &Target) -> Result<String, String> {
    let chunk = zeros_chunk(FRAME_INFLATED);
    let mut watch = RssWatch::new(*target)?;
    let mut peers = Vec::with_capacity(PINNERS);
    for _ in 0..PINNERS {
        let raw = deflate_client(target)?;
        raw.stream().set_write_timeout(Some(Duration::from_secs(2))).map_err(|e| e.to_string())?;
        peers.push(raw);
    }
    let started = Instant::now();
    let mut sent = 0usize;
    for i in 0..FRAMES_EACH {
        for raw in &mut peers {
            let (rsv, opcode) = if i == 0 { (0b100, op::BINARY) } else { (0, op::CONT) };
            let frame = raw.encode(false, rsv, opcode, &chunk);
            // A server that closed the connection refuses the rest: reading says why.
            if raw.stream().write_all(&frame).is_ok() {
                sent += frame.len();
            }
        }
        watch.sample();
    }
    // Hold the connections (never finishing the messages) while the server works.
    watch.sample_for(Duration::from_millis(1500));
    let mut codes = std::collections::BTreeMap::<String, usize>::new();
    for raw in &mut peers {
        let code = match first_close(raw, Duration::from_millis(200)) {
            Some(code) => code.to_string(),
            None => "open".to_owned(),
        };
        *codes.entry(code).or_default() += 1;
    }
    watch.sample();
    let fresh = echo_probe(target);
    for raw in peers {
        raw.reset();
    }
    let bound = bound_mib(PINNERS);
    let memory = watch.check(bound);
    let summary = format!(
        "{PINNERS} connections, {:.1} MB sent for {} MiB inflated in {} ms; closes {codes:?}; \
         fresh client {}",
        sent as f64 / 1e6,
        (PINNERS * FRAMES_EACH * FRAME_INFLATED) >> 20,
        started.elapsed().as_millis(),
        fresh.as_deref().unwrap_or_else(|e| e.as_str()),
    );
    let memory = memory.map_err(|m| format!("{summary}; {m}"))?;
    fresh.map_err(|e| format!("{summary}; a fresh client was not served: {e}"))?;
    Ok(format!("{summary}; {memory}"))
}

/// One compressed message of 128 KiB that inflates to 128 MiB, past the budget and every
/// message limit: Close 1013 (budget) or 1009 (limit), memory within the bound.
pub(super) fn compression_bomb(target: &Target) -> Result<String, String> {
    let chunk = zeros_chunk(128 << 20);
    let mut raw = deflate_client(target)?;
    let mut watch = RssWatch::new(*target)?;
    let started = Instant::now();
    let payload = &chunk[..chunk.len() - 4];
    let frame = raw.encode(true, 0b100, op::BINARY, payload);
    let writer = {
        let mut tcp = raw.stream().try_clone().map_err(|e| e.to_string())?;
        std::thread::spawn(move || tcp.write_all(&frame).is_ok())
    };
    let mut close = None;
    while started.elapsed() < Duration::from_secs(10) {
        match raw.try_read_frame(Duration::from_millis(20)) {
            Ok(f) if f.opcode == op::CLOSE => {
                close = Some(f.close_code());
                break;
            }
            Ok(f) => return Err(format!("unexpected frame {:?}", f.opcode)),
            Err(ReadEnd::Timeout { .. }) => watch.sample(),
            Err(end) => return Err(format!("{end} before a Close")),
        }
    }
    watch.sample();
    let took = started.elapsed().as_millis();
    let _ = writer.join();
    raw.reset();
    let memory = watch.check(bound_mib(1))?;
    match close {
        Some(Some(code @ (1009 | 1013))) => Ok(format!(
            "{} KiB inflating to 128 MiB: Close {code} after {took} ms; {memory}",
            payload.len() >> 10
        )),
        other => Err(format!("{other:?} after {took} ms, expected Close 1009 or 1013; {memory}")),
    }
}

/// The close code of the first Close frame the server sent, if any came within `within`.
fn first_close(raw: &mut RawPeer, within: Duration) -> Option<u16> {
    let started = Instant::now();
    while started.elapsed() < within {
        match raw.try_read_frame(within) {
            Ok(f) if f.opcode == op::CLOSE => return Frame::close_code(&f).or(Some(1005)),
            Ok(_) => {}
            Err(_) => return None,
        }
    }
    None
}

/// A new client's small echo, and how long it took.
pub(super) fn echo_probe(target: &Target) -> Result<String, String> {
    let started = Instant::now();
    let mut raw = RawPeer::client(target.addr, RawOpts::default());
    raw.send_frame(true, 0, op::TEXT, b"still there?");
    match raw.try_read_frame(Duration::from_secs(5)) {
        Ok(f) if f.opcode == op::TEXT && f.payload == b"still there?" => {
            let ms = started.elapsed().as_millis();
            raw.send_close(1000, "");
            Ok(format!("echoed in {ms} ms"))
        }
        Ok(f) => Err(format!("got {:?} instead of the echo", f.opcode)),
        Err(end) => Err(format!("{end}")),
    }
}

/// Attackers of the inflate-amplification check, and how long they attack.
const AMPLIFIERS: usize = 4;
const AMPLIFY_FOR: Duration = Duration::from_secs(3);
/// The fresh client's round trips must stay under this at the 99th percentile (measured with
/// the budget: 2-5 ms; without one, the tokio and async-std echo servers gave 311 and 357 ms).
const PROBE_P99: Duration = Duration::from_millis(200);

/// Four clients send, over and over (a new connection each time), one legal-looking 64 KiB
/// compressed message that inflates to 64 MiB; meanwhile a fresh client's echo round trip is
/// measured every 20 ms. The inflating stops at the budget's room (or the message limit), so
/// each attempt costs the server a bounded slice of CPU and the fresh client stays served.
pub(super) fn inflate_amplification(target: &Target) -> Result<String, String> {
    let chunk = zeros_chunk(64 << 20);
    let payload = chunk[..chunk.len() - 4].to_vec();
    let started = Instant::now();
    let attackers: Vec<_> = (0..AMPLIFIERS)
        .map(|_| {
            let (target, payload) = (*target, payload.clone());
            std::thread::spawn(move || amplify(&target, &payload, started + AMPLIFY_FOR))
        })
        .collect();
    let mut probe = RawPeer::client(target.addr, RawOpts::default());
    let mut rtts = Vec::new();
    let mut failure = None;
    while started.elapsed() < AMPLIFY_FOR {
        let sent = Instant::now();
        probe.send_frame(true, 0, op::TEXT, b"probe");
        match probe.try_read_frame(Duration::from_secs(5)) {
            Ok(f) if f.opcode == op::TEXT && f.payload == b"probe" => rtts.push(sent.elapsed()),
            Ok(f) => failure = Some(format!("got {:?} instead of the echo", f.opcode)),
            Err(end) => failure = Some(format!("{end} instead of the echo")),
        }
        if failure.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let (mut attempts, mut stopped) = (0, None);
    for attacker in attackers {
        let (n, why) = attacker.join().unwrap_or((0, Some("the attacker panicked".to_owned())));
        attempts += n;
        stopped = stopped.or(why);
    }
    probe.send_close(1000, "");
    if let Some(failure) = failure {
        return Err(format!("after {} round trips: {failure}", rtts.len()));
    }
    rtts.sort();
    let at = |q: f64| rtts[((rtts.len() - 1) as f64 * q) as usize];
    let (p50, p99, max) = (at(0.5), at(0.99), rtts[rtts.len() - 1]);
    let text = format!(
        "{attempts} messages inflating to 64 MiB from {AMPLIFIERS} clients in {} s; fresh client \
         {} round trips: p50 {} ms, p99 {} ms, max {} ms (bound p99 {} ms)",
        AMPLIFY_FOR.as_secs(),
        rtts.len(),
        p50.as_millis(),
        p99.as_millis(),
        max.as_millis(),
        PROBE_P99.as_millis()
    );
    match (p99 <= PROBE_P99, stopped) {
        (true, None) => Ok(text),
        (_, Some(why)) => Err(format!("{text}; an attacker stopped early: {why}")),
        (false, None) => Err(text),
    }
}

/// One attacker: connects, sends the message, waits for the server's answer (a Close or the
/// first frame of an echo), drops the connection and starts again until `until`. Returns the
/// number of messages sent, and what stopped it early, if anything.
fn amplify(target: &Target, payload: &[u8], until: Instant) -> (usize, Option<String>) {
    let mut attempts = 0;
    while Instant::now() < until {
        let connected = catch_unwind(AssertUnwindSafe(|| deflate_client(target)));
        let mut raw = match connected {
            Ok(Ok(raw)) => raw,
            Ok(Err(e)) => return (attempts, Some(e)),
            Err(panic) => {
                let text = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()));
                return (attempts, Some(text.unwrap_or_else(|| "the handshake failed".into())));
            }
        };
        let frame = raw.encode(true, 0b100, op::BINARY, payload);
        if let Err(e) = raw.stream().write_all(&frame) {
            return (attempts, Some(format!("write: {e}")));
        }
        attempts += 1;
        let _ = raw.try_read_frame(Duration::from_secs(5));
        raw.reset();
    }
    (attempts, None)
}
