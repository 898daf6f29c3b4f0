//! The attacks, each with the bound it asserts (see the table in `mod.rs`).

use std::io::Write;
use std::net::{Shutdown, TcpStream};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use ws_kit::raw::{Frame, RawOpts, RawPeer, ReadEnd, op};

use super::TIMEOUT;
use super::probe::{RssWatch, Target, random_bytes, wait_end};

/// Slack on top of a timeout for the server's timer and the scheduler of a loaded machine.
const SLACK: Duration = Duration::from_millis(1500);
/// A refusal of what cannot be HTTP counts as fast within this.
const FAST: Duration = Duration::from_millis(250);
/// Memory a flood may add to a server (see each check for what unbounded growth would be).
const FLOOD_MIB: u64 = 16;

/// One attack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// A request head dribbled a byte at a time.
    SlowlorisHandshake,
    /// A fragmented message dribbled a fragment at a time.
    SlowlorisMessage,
    /// A request head over the limit.
    OversizedHandshake,
    /// Random bytes instead of a request.
    RandomBeforeHandshake,
    /// A TLS ClientHello on the plain port.
    TlsClientHello,
    /// Random bytes after the handshake.
    RandomAfterHandshake,
    /// Pings as fast as the socket takes them.
    PingFlood,
    /// One message in many tiny fragments.
    FragmentFlood,
    /// A peer that sends and never reads.
    NeverReading,
    /// Connections that half-close or reset in the middle of a frame.
    HalfCloseAndReset,
    /// Many connections each pin a compressed message in progress.
    MemoryPinning,
    /// One compressed message that inflates past every limit.
    CompressionBomb,
    /// Clients that make the server inflate large messages over and over.
    InflateAmplification,
}

impl Check {
    /// Every check, in the order they run on a server.
    pub const ALL: [Check; 13] = [
        Check::RandomBeforeHandshake,
        Check::TlsClientHello,
        Check::OversizedHandshake,
        Check::RandomAfterHandshake,
        Check::SlowlorisHandshake,
        Check::SlowlorisMessage,
        Check::HalfCloseAndReset,
        Check::FragmentFlood,
        Check::PingFlood,
        Check::NeverReading,
        Check::CompressionBomb,
        Check::MemoryPinning,
        Check::InflateAmplification,
    ];

    /// The name in the report.
    pub fn name(self) -> &'static str {
        match self {
            Check::SlowlorisHandshake => "slowloris handshake",
            Check::SlowlorisMessage => "slowloris message",
            Check::OversizedHandshake => "oversized handshake",
            Check::RandomBeforeHandshake => "random bytes before handshake",
            Check::TlsClientHello => "TLS ClientHello",
            Check::RandomAfterHandshake => "random bytes after handshake",
            Check::PingFlood => "ping flood",
            Check::FragmentFlood => "fragment flood",
            Check::NeverReading => "never-reading peer",
            Check::HalfCloseAndReset => "half-close and reset mid-frame",
            Check::MemoryPinning => "memory pinning",
            Check::CompressionBomb => "compression bomb",
            Check::InflateAmplification => "inflate amplification",
        }
    }

    /// Runs the attack; `Ok` with the measured figures, or what broke the bound. A panic of
    /// the raw peer (a failed handshake, a write that failed) is a failure with its message.
    pub(super) fn run(self, target: &Target) -> Result<String, String> {
        let attack = || match self {
            Check::SlowlorisHandshake => slowloris_handshake(target),
            Check::SlowlorisMessage => slowloris_message(target),
            Check::OversizedHandshake => oversized_handshake(target),
            Check::RandomBeforeHandshake => random_before_handshake(target),
            Check::TlsClientHello => tls_client_hello(target),
            Check::RandomAfterHandshake => random_after_handshake(target),
            Check::PingFlood => ping_flood(target),
            Check::FragmentFlood => fragment_flood(target),
            Check::NeverReading => never_reading(target),
            Check::HalfCloseAndReset => half_close_and_reset(target),
            Check::MemoryPinning => super::budget::memory_pinning(target),
            Check::CompressionBomb => super::budget::compression_bomb(target),
            Check::InflateAmplification => super::budget::inflate_amplification(target),
        };
        catch_unwind(AssertUnwindSafe(attack)).unwrap_or_else(|panic| {
            let text = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()));
            Err(text.unwrap_or_else(|| "a panic without a message".to_owned()))
        })
    }
}

/// `at` must lie in `[timeout * 0.9, timeout + SLACK]`.
fn within_timeout(what: &str, at: Duration) -> Result<(), String> {
    let low = TIMEOUT.mul_f64(0.9);
    match at >= low && at <= TIMEOUT + SLACK {
        true => Ok(()),
        false => Err(format!(
            "{what} after {} ms, expected {}..{} ms",
            at.as_millis(),
            low.as_millis(),
            (TIMEOUT + SLACK).as_millis()
        )),
    }
}

/// An upgrade request's head, without the blank line that ends it.
pub(super) fn request(target: &Target) -> String {
    format!(
        "GET / HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n",
        target.addr
    )
}

/// A request head that never ends, a byte every 100 ms: the handshake timeout ends it.
fn slowloris_handshake(target: &Target) -> Result<String, String> {
    let mut tcp = target.connect()?;
    let head = request(target).into_bytes();
    let mut next = 0usize;
    let ending = wait_end(&mut tcp, TIMEOUT + SLACK + SLACK, Duration::from_millis(100), |tcp| {
        // After the real headers, an endless `X-Slow: aaaa...` header.
        let byte = head.get(next).copied().unwrap_or(if next == head.len() { b'X' } else { b'a' });
        let _ = tcp.write_all(&[byte]);
        next += 1;
    })?;
    within_timeout("closed", ending.after)?;
    Ok(format!("{next} bytes dribbled; {}", ending.describe()))
}

/// A fragmented message with a fragment every 100 ms and never the last: Close 1008 at the
/// message deadline.
fn slowloris_message(target: &Target) -> Result<String, String> {
    let mut raw = RawPeer::client(target.addr, RawOpts::default());
    let started = Instant::now();
    let first = raw.encode(false, 0, op::TEXT, b"a");
    raw.send_raw(&first);
    let mut sent = 1;
    while started.elapsed() < TIMEOUT + SLACK + SLACK {
        match raw.try_read_frame(Duration::from_millis(100)) {
            Ok(f) if f.opcode == op::CLOSE => {
                let at = started.elapsed();
                within_timeout("Close", at)?;
                return match f.close_code() {
                    Some(1008) => {
                        Ok(format!("{sent} fragments; Close 1008 after {} ms", at.as_millis()))
                    }
                    code => {
                        Err(format!("Close {code:?} after {} ms, expected 1008", at.as_millis()))
                    }
                };
            }
            Ok(f) => return Err(format!("unexpected frame {f:?}")),
            Err(ReadEnd::Timeout { .. }) => {
                let more = raw.encode(false, 0, op::CONT, b"b");
                // The server may have closed meanwhile: the read says so next.
                let _ = raw.stream().write_all(&more);
                sent += 1;
            }
            Err(end) => {
                return Err(format!("{end} after {} ms, no Close", started.elapsed().as_millis()));
            }
        }
    }
    Err(format!("no Close after {} ms", started.elapsed().as_millis()))
}

/// 64 KiB of headers: 431 (or 400), then closed.
fn oversized_handshake(target: &Target) -> Result<String, String> {
    let mut tcp = target.connect()?;
    let mut head = request(target).into_bytes();
    let filler = format!("X-Filler: {}\r\n", "f".repeat(1000));
    while head.len() < 64 << 10 {
        head.extend_from_slice(filler.as_bytes());
    }
    head.extend_from_slice(b"\r\n");
    // In pieces, stopping once the server has answered (the rest would only be discarded).
    let started = Instant::now();
    let mut sent = 0;
    tcp.set_nonblocking(true).map_err(|e| e.to_string())?;
    for piece in head.chunks(1024) {
        let mut peek = [0u8; 1];
        if tcp.peek(&mut peek).is_ok() {
            break;
        }
        if tcp.write_all(piece).is_err() {
            break;
        }
        sent += piece.len();
    }
    tcp.set_nonblocking(false).map_err(|e| e.to_string())?;
    let ending = wait_end(&mut tcp, Duration::from_secs(2), Duration::from_secs(2), |_| {})?;
    let status = ending.status();
    match status {
        Some(431 | 400) => Ok(format!(
            "{sent} of {} bytes sent; {} (total {} ms)",
            head.len(),
            ending.describe(),
            started.elapsed().as_millis()
        )),
        _ => Err(format!("{sent} bytes sent; {}, expected 431 or 400", ending.describe())),
    }
}

/// 64 seeded random bytes instead of a request: refused at once.
fn random_before_handshake(target: &Target) -> Result<String, String> {
    let mut tcp = target.connect()?;
    let mut bytes = random_bytes(13, 64);
    // Not an ASCII letter first (a method could start with one): the first byte is the proof.
    bytes[0] |= 0x80;
    let _ = tcp.write_all(&bytes);
    let ending = wait_end(&mut tcp, FAST + SLACK, FAST + SLACK, |_| {})?;
    match ending.after <= FAST && matches!(ending.status(), None | Some(400)) {
        true => Ok(ending.describe()),
        false => Err(format!(
            "{}, expected 400 or a close within {} ms",
            ending.describe(),
            FAST.as_millis()
        )),
    }
}

/// A TLS ClientHello on the plain port: closed at once.
fn tls_client_hello(target: &Target) -> Result<String, String> {
    let mut tcp = target.connect()?;
    // Record header (handshake, TLS 1.0 record version), then a ClientHello (TLS 1.2 version,
    // random, no session, two suites, no compression, no extensions).
    let mut hello = vec![0x01, 0, 0, 0, 0x03, 0x03];
    hello.extend_from_slice(&random_bytes(7, 32));
    hello.extend_from_slice(&[0x00, 0x00, 0x04, 0x13, 0x01, 0xc0, 0x2f, 0x01, 0x00, 0x00, 0x00]);
    let body = (hello.len() - 4) as u32;
    hello[1..4].copy_from_slice(&body.to_be_bytes()[1..]);
    let mut record = vec![0x16, 0x03, 0x01];
    record.extend_from_slice(&(hello.len() as u16).to_be_bytes());
    record.extend_from_slice(&hello);
    let _ = tcp.write_all(&record);
    let ending = wait_end(&mut tcp, FAST + SLACK, FAST + SLACK, |_| {})?;
    match ending.after <= FAST {
        true => Ok(ending.describe()),
        false => {
            Err(format!("{}, expected a close within {} ms", ending.describe(), FAST.as_millis()))
        }
    }
}

/// Random bytes after the handshake, the first byte with every RSV bit set (no extension
/// negotiated): Close 1002, then FIN.
fn random_after_handshake(target: &Target) -> Result<String, String> {
    let mut raw = RawPeer::client(target.addr, RawOpts::default());
    let mut bytes = random_bytes(21, 4096);
    bytes[0] |= 0x70;
    let started = Instant::now();
    let _ = raw.stream().write_all(&bytes);
    let (frames, end) = raw.read_until_end(Duration::from_secs(2));
    let codes: Vec<Option<u16>> = frames.iter().map(Frame::close_code).collect();
    match (codes.as_slice(), &end) {
        ([Some(1002)], ReadEnd::Eof { .. } | ReadEnd::Reset) => {
            Ok(format!("Close 1002 then {end} after {} ms", started.elapsed().as_millis()))
        }
        _ => Err(format!("saw {frames:?} then {end}, expected Close 1002 and the end")),
    }
}

/// Writes `frames` on a clone of the socket from a thread; returns how many went out.
fn write_in_thread(tcp: &TcpStream, frames: Vec<Vec<u8>>) -> std::thread::JoinHandle<usize> {
    let mut writer = tcp.try_clone().expect("clone the socket");
    std::thread::spawn(move || frames.iter().take_while(|f| writer.write_all(f).is_ok()).count())
}

/// 300 000 Pings, not read for 1.5 s, then read: all answered (or a Close), memory bounded.
fn ping_flood(target: &Target) -> Result<String, String> {
    const PINGS: usize = 300_000;
    let mut raw = RawPeer::client(target.addr, RawOpts::default());
    let mut watch = RssWatch::new(*target)?;
    let mut ping = Vec::with_capacity(PINGS * 131);
    for i in 0..PINGS {
        let mut payload = [b'p'; 125];
        payload[..8].copy_from_slice(&(i as u64).to_be_bytes());
        ping.extend_from_slice(&raw.encode(true, 0, op::PING, &payload));
    }
    let writer = write_in_thread(raw.stream(), vec![ping]);
    watch.sample_for(Duration::from_millis(1500));
    let started = Instant::now();
    let (mut pongs, mut close) = (0, None);
    while pongs < PINGS && started.elapsed() < Duration::from_secs(15) {
        match raw.try_read_frame(Duration::from_secs(2)) {
            Ok(f) if f.opcode == op::PONG => pongs += 1,
            Ok(f) if f.opcode == op::CLOSE => {
                close = f.close_code();
                break;
            }
            Ok(f) => return Err(format!("unexpected frame {f:?}")),
            Err(end) => return Err(format!("{end} after {pongs} Pongs")),
        }
        if pongs % 10_000 == 0 {
            watch.sample();
        }
    }
    watch.sample();
    let _ = writer.join();
    let memory = watch.check(FLOOD_MIB)?;
    match (pongs, close) {
        (PINGS, _) => Ok(format!("{pongs} Pongs; {memory}")),
        (_, Some(code)) => Ok(format!("Close {code} after {pongs} Pongs; {memory}")),
        _ => Err(format!("{pongs} of {PINGS} Pongs in 15 s; {memory}")),
    }
}

/// One message in 500 000 one-byte fragments: echoed whole, memory bounded.
fn fragment_flood(target: &Target) -> Result<String, String> {
    const FRAGMENTS: usize = 500_000;
    let mut raw = RawPeer::client(target.addr, RawOpts::default());
    let mut watch = RssWatch::new(*target)?;
    let mut wire = Vec::with_capacity(FRAGMENTS * 7);
    for i in 0..FRAGMENTS {
        let opcode = if i == 0 { op::BINARY } else { op::CONT };
        wire.extend_from_slice(&raw.encode(i + 1 == FRAGMENTS, 0, opcode, &[i as u8]));
    }
    let writer = write_in_thread(raw.stream(), vec![wire]);
    let started = Instant::now();
    let mut echoed = 0usize;
    let result = loop {
        match raw.try_read_frame(Duration::from_millis(50)) {
            Ok(f) if f.opcode == op::CLOSE => break Err(f.close_code()),
            Ok(f) => {
                echoed += f.payload.len();
                if f.fin {
                    break Ok(());
                }
            }
            Err(ReadEnd::Timeout { .. }) if started.elapsed() < Duration::from_secs(15) => {}
            Err(end) => return Err(format!("{end} after {echoed} bytes echoed")),
        }
        watch.sample();
    };
    watch.sample();
    let _ = writer.join();
    let memory = watch.check(FLOOD_MIB)?;
    let took = started.elapsed().as_millis();
    match result {
        Ok(()) if echoed == FRAGMENTS => {
            Ok(format!("echoed {echoed} bytes in {took} ms; {memory}"))
        }
        Ok(()) => Err(format!("echoed {echoed} bytes, expected {FRAGMENTS}")),
        Err(Some(code @ (1008 | 1009))) => Ok(format!("Close {code} after {took} ms; {memory}")),
        Err(code) => Err(format!("Close {code:?}, expected the echo or 1008/1009")),
    }
}

/// 64 KiB messages, up to 64 MiB, with the echoes never read: the server must stop reading
/// (our writes stall) or close the connection (ws-server's echo: 1013 once its send queue is
/// full, then it discards input until the close timeout), within its memory bound either way.
fn never_reading(target: &Target) -> Result<String, String> {
    const MESSAGES: usize = 1024;
    let opts = RawOpts { recv_buffer: Some(4096), ..RawOpts::default() };
    let mut raw = RawPeer::client(target.addr, opts);
    let mut watch = RssWatch::new(*target)?;
    let payload = vec![b'n'; 64 << 10];
    let frames: Vec<Vec<u8>> =
        (0..MESSAGES).map(|_| raw.encode(true, 0, op::BINARY, &payload)).collect();
    raw.stream().set_write_timeout(Some(Duration::from_secs(1))).map_err(|e| e.to_string())?;
    let writer = write_in_thread(raw.stream(), frames);
    let started = Instant::now();
    while !writer.is_finished() && started.elapsed() < Duration::from_secs(10) {
        watch.sample_for(Duration::from_millis(100));
    }
    watch.sample();
    let sent = if writer.is_finished() { writer.join().unwrap_or(0) } else { MESSAGES };
    let memory = watch.check(FLOOD_MIB);
    if sent < MESSAGES {
        raw.reset();
        return Ok(format!("writes stalled after {sent} of {MESSAGES} messages; {}", memory?));
    }
    // Everything was taken: only right if the server closed (its Close is behind the echoes
    // it wrote before).
    let close = loop {
        match raw.try_read_frame(Duration::from_secs(2)) {
            Ok(f) if f.opcode == op::CLOSE => break f.close_code(),
            Ok(_) => {}
            Err(end) => {
                return Err(format!("all {MESSAGES} messages taken, then {end}; {memory:?}"));
            }
        }
    };
    raw.reset();
    match close {
        Some(code @ (1008 | 1009 | 1013)) => {
            Ok(format!("Close {code}, the rest of 64 MiB discarded; {}", memory?))
        }
        code => Err(format!("all {MESSAGES} messages taken, then Close {code:?}; {memory:?}")),
    }
}

/// 40 connections stop in the middle of a frame, 20 by half-closing and 20 by a reset: the
/// server's sockets return to their count before.
fn half_close_and_reset(target: &Target) -> Result<String, String> {
    const EACH: usize = 20;
    let before = settle(target, Duration::from_secs(3))?;
    let mut half: Vec<RawPeer> = Vec::new();
    let mut reset: Vec<RawPeer> = Vec::new();
    for i in 0..EACH * 2 {
        let mut raw = RawPeer::client(target.addr, RawOpts::default());
        let frame = raw.encode(true, 0, op::BINARY, &[b'h'; 100]);
        raw.send_raw(&frame[..50]);
        if i % 2 == 0 { half.push(raw) } else { reset.push(raw) }
    }
    let during = target.sockets()?;
    for raw in &mut half {
        raw.shutdown_write();
    }
    for raw in reset {
        raw.reset();
    }
    let started = Instant::now();
    // The half-closed sockets stay open on our side: the server must not wait for them.
    loop {
        let now = target.sockets()?;
        if now <= before {
            let ms = started.elapsed().as_millis();
            for raw in &half {
                let _ = raw.stream().shutdown(Shutdown::Both);
            }
            return Ok(format!("sockets {before} -> {during} -> {now} within {ms} ms"));
        }
        if started.elapsed() > Duration::from_secs(3) {
            return Err(format!("sockets {before} -> {during} -> still {now} after 3 s"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The server's socket count once it stops falling (connections of earlier checks ending).
fn settle(target: &Target, within: Duration) -> Result<usize, String> {
    let started = Instant::now();
    let mut last = target.sockets()?;
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let now = target.sockets()?;
        if now == last || started.elapsed() > within {
            return Ok(now);
        }
        last = now;
    }
}
