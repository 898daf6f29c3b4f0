//! The pub/sub fan-out benchmark: one topic, many subscribers, one publisher in the server.
//!
//! A server under test (`ws-server-pubsub`, `tungstenite-pubsub`) serves subscribers at
//! [`SUB_PATH`] and one control connection at [`CONTROL_PATH`]. The client (`pubsub-load`)
//! opens all subscribers, then sends [`Control::Start`] on the control connection with the
//! settings of the run; the server's [`Pacer`] waits until that many subscribers are in, and
//! publishes binary messages numbered from 1 (see [`payload`]).
//!
//! How fast it publishes is the same for every server: never more than `window` messages ahead
//! of the slowest subscriber (the client acknowledges, on the control connection, the highest
//! number that every subscriber has received: [`Control::Ack`]), and, if `rate` is set, no
//! faster than `rate` messages per second. With no rate this is "as fast as the slowest
//! subscriber keeps up"; the window also keeps every server's per-connection queue bounded,
//! so nothing is dropped (a gap in the numbers is an error).
//!
//! Nothing here uses `ws-proto`: the client's frames come from [`crate::wire`].

use std::cell::{Cell, RefCell};
use std::io;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::Notify;

use crate::inputs::Rng;
use crate::load::{Target, connect_all, process_cpu_time};
use crate::wire::{Opcode, client_handshake, encode_frame};

/// Where subscribers connect.
pub const SUB_PATH: &str = "/sub";
/// Where the client's control connection connects.
pub const CONTROL_PATH: &str = "/ctl";
/// The one topic.
pub const TOPIC: &str = "bench";
/// Bytes at the start of every payload: the message's number and its publish time (both
/// little-endian `u64`: the number from 1, the wall clock in nanoseconds since the Unix epoch).
pub const HEADER: usize = 16;
/// Largest window (the client counts receipts in a ring of twice this many messages).
pub const MAX_WINDOW: u64 = 1024;
const RING: usize = 2 * MAX_WINDOW as usize;
/// How long the client waits for the first message to reach every subscriber.
const FIRST_MESSAGE_WAIT: Duration = Duration::from_secs(30);

/// A run's settings, sent by the client in [`Control::Start`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Start {
    /// Subscribers to wait for before publishing.
    pub subscribers: usize,
    /// Payload bytes per message (at least [`HEADER`]).
    pub size: usize,
    /// Most messages published ahead of the slowest subscriber.
    pub window: u64,
    /// Most messages published per second (0: no limit but the window).
    pub rate: f64,
}

/// What the client says on the control connection (text messages).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Control {
    /// `start SUBSCRIBERS SIZE WINDOW RATE`: the run's settings; publishing starts when the
    /// subscribers are in.
    Start(Start),
    /// `ack N`: every subscriber has received every message up to number `N`.
    Ack(u64),
}

impl Control {
    /// The text message.
    pub fn encode(&self) -> String {
        match self {
            Control::Start(s) => {
                format!("start {} {} {} {}", s.subscribers, s.size, s.window, s.rate)
            }
            Control::Ack(n) => format!("ack {n}"),
        }
    }

    /// Parses a text message.
    pub fn parse(text: &[u8]) -> Result<Control, String> {
        let bad = || format!("bad control message {:?}", String::from_utf8_lossy(text));
        let text = std::str::from_utf8(text).map_err(|_| bad())?;
        let words: Vec<&str> = text.split(' ').collect();
        match words[..] {
            ["start", subs, size, window, rate] => {
                let start = Start {
                    subscribers: subs.parse().map_err(|_| bad())?,
                    size: size.parse().map_err(|_| bad())?,
                    window: window.parse().map_err(|_| bad())?,
                    rate: rate.parse().map_err(|_| bad())?,
                };
                let valid = start.size >= HEADER
                    && (1..=MAX_WINDOW).contains(&start.window)
                    && start.rate >= 0.0
                    && start.rate.is_finite();
                if valid { Ok(Control::Start(start)) } else { Err(bad()) }
            }
            ["ack", n] => Ok(Control::Ack(n.parse().map_err(|_| bad())?)),
            _ => Err(bad()),
        }
    }
}

/// The bytes after the header, the same in every message of a run of `size` bytes.
pub fn filler(size: usize) -> Vec<u8> {
    let mut out = vec![0u8; size.saturating_sub(HEADER)];
    Rng::new(size as u64).fill(&mut out);
    out
}

/// Nanoseconds since the Unix epoch (the publish time travels between processes).
fn wall_nanos() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

/// Message number `seq`: its number, the time now, then `filler`.
pub fn payload(seq: u64, filler: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(HEADER + filler.len());
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&wall_nanos().to_le_bytes());
    out.extend_from_slice(filler);
    Bytes::from(out)
}

/// The server's publisher: waits for the client's start, then publishes at the pace the
/// control connection allows. Shared by the control connection's handler and the publishing
/// task.
#[derive(Debug, Default)]
pub struct Pacer {
    state: Mutex<PacerState>,
    changed: Notify,
}

#[derive(Debug, Default)]
struct PacerState {
    start: Option<Start>,
    acked: u64,
}

impl Pacer {
    /// A pacer waiting for its start.
    pub fn new() -> Arc<Pacer> {
        Arc::new(Pacer::default())
    }

    /// A control message from the client.
    pub fn control(&self, message: &[u8]) -> Result<(), String> {
        let control = Control::parse(message)?;
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match control {
            Control::Start(start) => state.start = Some(start),
            Control::Ack(n) => state.acked = state.acked.max(n),
        }
        drop(state);
        self.changed.notify_waiters();
        Ok(())
    }

    /// Waits until `ready` holds for the state (re-checked whenever a control message arrives).
    async fn wait_for<T>(&self, mut ready: impl FnMut(&PacerState) -> Option<T>) -> T {
        loop {
            let changed = self.changed.notified();
            let mut changed = std::pin::pin!(changed);
            changed.as_mut().enable();
            let done = ready(&self.state.lock().unwrap_or_else(|e| e.into_inner()));
            if let Some(t) = done {
                return t;
            }
            changed.await;
        }
    }

    /// Waits for the start and the subscribers (`subscribers()` counts them), then publishes
    /// forever: `publish` sends one payload to every subscriber and returns how many it was
    /// queued for.
    pub async fn run(
        &self,
        subscribers: impl Fn() -> usize,
        mut publish: impl FnMut(Bytes) -> usize,
    ) {
        let start = self.wait_for(|s| s.start).await;
        while subscribers() < start.subscribers {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let filler = filler(start.size);
        let began = Instant::now();
        let mut warned = false;
        for seq in 1.. {
            self.wait_for(|s| (seq <= s.acked + start.window).then_some(())).await;
            if start.rate > 0.0 {
                let due = began + Duration::from_secs_f64((seq - 1) as f64 / start.rate);
                tokio::time::sleep_until(due.into()).await;
            }
            let queued = publish(payload(seq, &filler));
            if queued < start.subscribers && !warned {
                warned = true;
                eprintln!(
                    "message {seq} was queued for {queued} of {} subscribers",
                    start.subscribers
                );
            }
        }
    }
}

/// A pub/sub run's settings, on the client's side.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The server (`ws://host:port`; the paths are [`SUB_PATH`] and [`CONTROL_PATH`]).
    pub authority: String,
    /// What the server is told: subscribers, size, window, rate.
    pub start: Start,
    /// Seconds of publishing before measuring starts (counted from the first message every
    /// subscriber has).
    pub warmup: Duration,
    /// Seconds measured.
    pub duration: Duration,
    /// The server's pid, to read its CPU time at the edges of the measured window.
    pub server_pid: Option<u32>,
}

/// What a pub/sub run measured.
#[derive(Debug, Clone)]
pub struct ClientReport {
    /// Frames delivered (received by a subscriber) inside the measured window.
    pub delivered: u64,
    /// Messages every subscriber received inside the measured window (the watermark's advance).
    pub published: u64,
    /// Length of the measured window.
    pub elapsed: Duration,
    /// Fan-out times of the messages completed while measuring (publish to the last
    /// subscriber's receipt), sorted, in microseconds.
    pub fanout_us: Vec<u32>,
    /// The server's CPU time in the window, if its pid was given.
    pub server_cpu: Option<Duration>,
    /// This process's CPU time in the window (the client shares the machine).
    pub client_cpu: Duration,
}

impl ClientReport {
    /// Frames delivered per second.
    pub fn delivered_per_sec(&self) -> f64 {
        self.delivered as f64 / self.elapsed.as_secs_f64()
    }

    /// Messages published (and received by all) per second.
    pub fn published_per_sec(&self) -> f64 {
        self.published as f64 / self.elapsed.as_secs_f64()
    }

    /// Frames delivered per second of server CPU time.
    pub fn delivered_per_server_cpu_second(&self) -> Option<f64> {
        self.server_cpu.map(|cpu| self.delivered as f64 / cpu.as_secs_f64())
    }

    /// The `q`-quantile fan-out time, microseconds.
    pub fn fanout_percentile_us(&self, q: f64) -> f64 {
        if self.fanout_us.is_empty() {
            return f64::NAN;
        }
        f64::from(self.fanout_us[((self.fanout_us.len() - 1) as f64 * q).round() as usize])
    }
}

/// What the subscribers share on the client's single thread.
struct Subscribers {
    n: u32,
    size: usize,
    filler: Vec<u8>,
    /// One read buffer for all (a read never waits while it holds it).
    scratch: RefCell<Vec<u8>>,
    /// Receipts of message `seq` at `seq % RING`, until all have it.
    receipts: RefCell<Vec<u32>>,
    /// Every subscriber has every message up to this number.
    watermark: Cell<u64>,
    delivered: Cell<u64>,
    measuring: Cell<bool>,
    stopping: Cell<bool>,
    fanout_us: RefCell<Vec<u32>>,
    error: RefCell<Option<String>>,
    /// The watermark moved (the control task acknowledges it) or something failed.
    progress: Notify,
}

impl Subscribers {
    fn fail(&self, e: String) {
        if self.stopping.get() {
            return;
        }
        self.error.borrow_mut().get_or_insert(e);
        self.progress.notify_one();
    }

    /// Takes the whole frames at the start of `buf` for a subscriber expecting message `next`;
    /// returns how many bytes they took and a Pong to send for each Ping.
    fn frames(&self, buf: &[u8], next: &mut u64, pongs: &mut Vec<u8>) -> Result<usize, String> {
        let mut at = 0;
        loop {
            let rest = &buf[at..];
            let Some((head, len)) = frame_len(rest)? else { return Ok(at) };
            if rest.len() < head + len {
                return Ok(at);
            }
            let payload = &rest[head..head + len];
            match rest[0] {
                0x82 => self.message(payload, next)?,
                0x89 => pongs.extend(pong(payload)),
                0x8a => {}
                0x88 => return Err("the server closed a subscriber".to_owned()),
                b => return Err(format!("unexpected frame starting with {b:#04x}")),
            }
            at += head + len;
        }
    }

    fn message(&self, payload: &[u8], next: &mut u64) -> Result<(), String> {
        if payload.len() != self.size {
            return Err(format!("a message of {} bytes, expected {}", payload.len(), self.size));
        }
        let word = |i: usize| u64::from_le_bytes(payload[i..i + 8].try_into().unwrap_or_default());
        let seq = word(0);
        if seq != *next {
            return Err(format!(
                "a subscriber got message {seq} after {} (one was lost)",
                *next - 1
            ));
        }
        if payload[HEADER..] != self.filler[..] {
            return Err(format!("message {seq} differs from what was published"));
        }
        *next += 1;
        self.delivered.set(self.delivered.get() + 1);
        let mut receipts = self.receipts.borrow_mut();
        let slot = &mut receipts[(seq % RING as u64) as usize];
        *slot += 1;
        if *slot == self.n {
            *slot = 0;
            // Each subscriber receives in order, so messages complete in order.
            if seq != self.watermark.get() + 1 {
                return Err(format!("message {seq} completed before {}", self.watermark.get() + 1));
            }
            self.watermark.set(seq);
            if self.measuring.get() {
                let micros = wall_nanos().saturating_sub(word(8)) / 1000;
                self.fanout_us.borrow_mut().push(u32::try_from(micros).unwrap_or(u32::MAX));
            }
            self.progress.notify_one();
        }
        Ok(())
    }
}

/// A server frame's header length and payload length, if the header is complete. Servers do
/// not mask; fragments are not expected.
fn frame_len(buf: &[u8]) -> Result<Option<(usize, usize)>, String> {
    let [_, b1, ..] = *buf else { return Ok(None) };
    if b1 & 0x80 != 0 {
        return Err("a masked frame from the server".to_owned());
    }
    Ok(match b1 & 0x7f {
        126 if buf.len() >= 4 => Some((4, usize::from(u16::from_be_bytes([buf[2], buf[3]])))),
        127 if buf.len() >= 10 => {
            let len = u64::from_be_bytes(buf[2..10].try_into().unwrap_or_default());
            Some((10, usize::try_from(len).map_err(|_| "a frame too large")?))
        }
        126 | 127 => None,
        n => Some((2, usize::from(n))),
    })
}

/// A masked Pong with `payload` (a Ping's: at most 125 bytes).
fn pong(payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0x8a, 0x80 | payload.len() as u8, 0, 0, 0, 0];
    out.extend_from_slice(payload); // a zero mask key leaves the payload as it is
    out
}

/// One subscriber: reads (through the shared scratch buffer) and checks every frame.
async fn subscriber(stream: TcpStream, subs: Rc<Subscribers>) {
    let mut carry: Vec<u8> = Vec::new();
    let mut pongs = Vec::new();
    let mut next = 1;
    loop {
        if let Err(e) = stream.readable().await {
            return subs.fail(format!("subscriber: {e}"));
        }
        let mut scratch = subs.scratch.borrow_mut();
        let kept = carry.len();
        scratch[..kept].copy_from_slice(&carry);
        let n = match stream.try_read(&mut scratch[kept..]) {
            Ok(0) => return subs.fail("a subscriber's connection ended".to_owned()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return subs.fail(format!("subscriber: {e}")),
        };
        let filled = &scratch[..kept + n];
        let used = match subs.frames(filled, &mut next, &mut pongs) {
            Ok(used) => used,
            Err(e) => return subs.fail(e),
        };
        carry.clear();
        carry.extend_from_slice(&filled[used..]);
        drop(scratch);
        if !pongs.is_empty() {
            // Tiny and rare (keepalive): a full socket buffer here would be a broken client.
            let _ = stream.try_write(&pongs);
            pongs.clear();
        }
    }
}

/// Acknowledges the watermark on the control connection whenever it moves.
async fn acknowledge(mut control: TcpStream, subs: Rc<Subscribers>) {
    let mut acked = 0;
    let mut key = Rng::new(0xac);
    loop {
        subs.progress.notified().await;
        if subs.stopping.get() || subs.error.borrow().is_some() {
            return;
        }
        let watermark = subs.watermark.get();
        if watermark > acked {
            let ack = Control::Ack(watermark).encode();
            let frame = encode_frame(Opcode::Text, ack.as_bytes(), Some(key.mask_key()));
            if let Err(e) = control.write_all(&frame).await {
                return subs.fail(format!("control connection: {e}"));
            }
            acked = watermark;
        }
    }
}

/// Runs a pub/sub measurement. Call it on a current-thread runtime inside a
/// [`tokio::task::LocalSet`] (the subscribers share one thread and one read buffer).
pub async fn run_client(cfg: &ClientConfig) -> Result<ClientReport, String> {
    let start = cfg.start;
    if start.size < HEADER || !(1..=MAX_WINDOW).contains(&start.window) {
        return Err(format!("size must be at least {HEADER} and window 1..={MAX_WINDOW}"));
    }
    let sub_target = Target { authority: cfg.authority.clone(), path: SUB_PATH.to_owned() };
    let streams = connect_all(&sub_target, start.subscribers).await?;
    let mut control = TcpStream::connect(&cfg.authority).await.map_err(|e| e.to_string())?;
    control.set_nodelay(true).map_err(|e| e.to_string())?;
    client_handshake(&mut control, &cfg.authority, CONTROL_PATH, [0xc7; 16])
        .await
        .map_err(|e| format!("control connection: {e}"))?;

    let subs = Rc::new(Subscribers {
        n: u32::try_from(start.subscribers).map_err(|_| "too many subscribers")?,
        size: start.size,
        filler: filler(start.size),
        scratch: RefCell::new(vec![0u8; 256 << 10]),
        receipts: RefCell::new(vec![0; RING]),
        watermark: Cell::new(0),
        delivered: Cell::new(0),
        measuring: Cell::new(false),
        stopping: Cell::new(false),
        fanout_us: RefCell::new(Vec::new()),
        error: RefCell::new(None),
        progress: Notify::new(),
    });
    let mut tasks = Vec::with_capacity(streams.len() + 1);
    for stream in streams {
        tasks.push(tokio::task::spawn_local(subscriber(stream, subs.clone())));
    }
    let frame = encode_frame(Opcode::Text, Control::Start(start).encode().as_bytes(), Some([7; 4]));
    control.write_all(&frame).await.map_err(|e| format!("control connection: {e}"))?;
    tasks.push(tokio::task::spawn_local(acknowledge(control, subs.clone())));

    let cpu = || cfg.server_pid.map(process_cpu_time).transpose();
    let own = || process_cpu_time(std::process::id());
    let failed = |subs: &Subscribers| subs.error.borrow().clone();
    // The warm-up starts once every subscriber has the first message (a server may take a
    // while to get 10 000 connections going).
    let first = Instant::now();
    while subs.watermark.get() == 0 {
        if let Some(e) = failed(&subs) {
            return Err(e);
        }
        if first.elapsed() > FIRST_MESSAGE_WAIT {
            return Err("no message reached every subscriber within 30 s".to_owned());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(cfg.warmup).await;
    if let Some(e) = failed(&subs) {
        return Err(e);
    }
    let (server0, client0) = (cpu()?, own()?);
    let (delivered0, watermark0) = (subs.delivered.get(), subs.watermark.get());
    subs.measuring.set(true);
    let began = Instant::now();
    tokio::time::sleep(cfg.duration).await;
    let elapsed = began.elapsed();
    subs.measuring.set(false);
    let (server1, client1) = (cpu()?, own()?);
    let (delivered1, watermark1) = (subs.delivered.get(), subs.watermark.get());
    subs.stopping.set(true);
    subs.progress.notify_one();
    for task in &tasks {
        task.abort();
    }
    if let Some(e) = failed(&subs) {
        return Err(e);
    }
    let mut fanout_us = std::mem::take(&mut *subs.fanout_us.borrow_mut());
    fanout_us.sort_unstable();
    Ok(ClientReport {
        delivered: delivered1 - delivered0,
        published: watermark1 - watermark0,
        elapsed,
        fanout_us,
        server_cpu: match (server0, server1) {
            (Some(a), Some(b)) => Some(b.saturating_sub(a)),
            _ => None,
        },
        client_cpu: client1.saturating_sub(client0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_messages_round_trip() {
        let start = Start { subscribers: 10_000, size: 32, window: 32, rate: 100.0 };
        for c in [Control::Start(start), Control::Ack(7)] {
            assert_eq!(Control::parse(c.encode().as_bytes()), Ok(c));
        }
        for bad in ["start 1 8 32 0", "start 1 32 0 0", "start 1 32 2000 0", "ack", "ack x", "hi"] {
            assert!(Control::parse(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn payloads_carry_number_and_filler() {
        let filler = filler(32);
        let p = payload(9, &filler);
        assert_eq!((p.len(), &p[..8], &p[HEADER..]), (32, &9u64.to_le_bytes()[..], &filler[..]));
    }

    #[test]
    fn frame_lengths() {
        assert_eq!(frame_len(&[0x82]), Ok(None));
        assert_eq!(frame_len(&[0x82, 32]), Ok(Some((2, 32))));
        assert_eq!(frame_len(&[0x82, 126, 4]), Ok(None));
        assert_eq!(frame_len(&[0x82, 126, 4, 0]), Ok(Some((4, 1024))));
        assert_eq!(frame_len(&[0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0]), Ok(Some((10, 65536))));
        assert!(frame_len(&[0x82, 0x80 | 5]).is_err());
    }
}
