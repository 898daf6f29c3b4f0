//! What the checks measure: the server's memory and sockets from `/proc`, and how a plain
//! socket ends.

use std::io::{self, Read};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// The server under attack: where it listens and its process id.
#[derive(Debug, Clone, Copy)]
pub(super) struct Target {
    /// The listening address.
    pub(super) addr: SocketAddr,
    /// The process, for `/proc`.
    pub(super) pid: u32,
}

impl Target {
    /// Resident memory in KiB (`VmRSS`).
    pub(super) fn rss_kib(&self) -> Result<u64, String> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid))
            .map_err(|e| format!("reading /proc/{}/status: {e}", self.pid))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .ok_or_else(|| "no VmRSS line".to_owned())
    }

    /// Open sockets (the listener included).
    pub(super) fn sockets(&self) -> Result<usize, String> {
        let dir = std::fs::read_dir(format!("/proc/{}/fd", self.pid))
            .map_err(|e| format!("reading /proc/{}/fd: {e}", self.pid))?;
        Ok(dir
            .flatten()
            .filter(|e| {
                std::fs::read_link(e.path())
                    .is_ok_and(|l| l.to_string_lossy().starts_with("socket:"))
            })
            .count())
    }

    /// A plain TCP connection (nothing sent).
    pub(super) fn connect(&self) -> Result<TcpStream, String> {
        let tcp = TcpStream::connect_timeout(&self.addr, Duration::from_secs(2))
            .map_err(|e| format!("connect: {e}"))?;
        tcp.set_nodelay(true).map_err(|e| e.to_string())?;
        Ok(tcp)
    }
}

/// The largest growth of the server's memory over the baseline taken when it was made.
#[derive(Debug)]
pub(super) struct RssWatch {
    target: Target,
    baseline: u64,
    peak: u64,
}

impl RssWatch {
    /// Takes the baseline.
    pub(super) fn new(target: Target) -> Result<RssWatch, String> {
        let baseline = target.rss_kib()?;
        Ok(RssWatch { target, baseline, peak: baseline })
    }

    /// Takes a sample.
    pub(super) fn sample(&mut self) {
        if let Ok(now) = self.target.rss_kib() {
            self.peak = self.peak.max(now);
        }
    }

    /// Samples every 20 ms for `d`.
    pub(super) fn sample_for(&mut self, d: Duration) {
        let end = Instant::now() + d;
        while Instant::now() < end {
            self.sample();
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Peak growth in KiB.
    pub(super) fn growth_kib(&self) -> u64 {
        self.peak - self.baseline
    }

    /// `Ok` with the figures if the growth stayed under `bound_mib`.
    pub(super) fn check(&self, bound_mib: u64) -> Result<String, String> {
        let text = format!(
            "RSS {} -> peak {} KiB (+{:.1} MiB, bound {bound_mib} MiB)",
            self.baseline,
            self.peak,
            self.growth_kib() as f64 / 1024.0
        );
        match self.growth_kib() <= bound_mib * 1024 {
            true => Ok(text),
            false => Err(text),
        }
    }
}

/// How a plain socket ended, and when.
#[derive(Debug)]
pub(super) struct Ending {
    /// What the server sent before it closed.
    pub(super) received: Vec<u8>,
    /// FIN (`true`) or RST (`false`).
    pub(super) fin: bool,
    /// Since the call started.
    pub(super) after: Duration,
}

impl Ending {
    /// The HTTP status of a response in `received`, if any.
    pub(super) fn status(&self) -> Option<u16> {
        let text = std::str::from_utf8(&self.received).ok()?;
        text.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
    }

    /// The response's status (or byte count) and how and when it ended.
    pub(super) fn describe(&self) -> String {
        let how = if self.fin { "FIN" } else { "RST" };
        match self.status() {
            Some(s) => format!("{s} then {how} after {} ms", self.after.as_millis()),
            None => format!(
                "{} bytes then {how} after {} ms",
                self.received.len(),
                self.after.as_millis()
            ),
        }
    }
}

/// Reads until the server ends the connection, for at most `within`; calls `tick` every
/// `every` meanwhile (to dribble bytes). `Err` if it is still open.
pub(super) fn wait_end(
    tcp: &mut TcpStream,
    within: Duration,
    every: Duration,
    mut tick: impl FnMut(&mut TcpStream),
) -> Result<Ending, String> {
    let started = Instant::now();
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = within.saturating_sub(started.elapsed());
        if left.is_zero() {
            return Err(format!(
                "still open after {} ms ({} bytes received)",
                within.as_millis(),
                received.len()
            ));
        }
        tcp.set_read_timeout(Some(left.min(every))).map_err(|e| e.to_string())?;
        match tcp.read(&mut buf) {
            Ok(0) => return Ok(Ending { received, fin: true, after: started.elapsed() }),
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                tick(tcp)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Ok(Ending { received, fin: false, after: started.elapsed() }),
        }
    }
}

/// Seeded bytes (SplitMix64), the same every run.
pub(super) fn random_bytes(seed: u64, n: usize) -> Vec<u8> {
    let mut state = seed;
    (0..n)
        .map(|_| {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            (z ^ (z >> 31)) as u8
        })
        .collect()
}
