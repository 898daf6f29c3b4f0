//! A crowd of idle connections, then all reset at once: what each idle WebSocket costs the
//! server, that it burns no CPU while they idle, and that a mass reset frees every socket.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use socket2::SockRef;

use super::probe::{RssWatch, Target};
use super::{Options, Server, fresh_instance};

/// How many idle connections each server gets: 10 000, but 2 000 for ws-blocking (a thread
/// per connection) and 9 000 for ws-server's echo (its default cap of 10 000 counts every
/// connection, the suite's own probes included).
pub(super) fn crowd_size(server: Server) -> usize {
    match server {
        Server::Echo(a) if a.crate_name() == "ws-blocking" => 2_000,
        Server::WsServer => 9_000,
        Server::Echo(_) | Server::Uring => 10_000,
    }
}

/// Resident memory an idle connection may cost, in KiB.
const PER_CONNECTION_KIB: u64 = 48;
/// CPU the server may use while the crowd idles.
const IDLE_WINDOW: Duration = Duration::from_secs(2);
const MAX_IDLE_CPU: Duration = Duration::from_millis(200);
/// How soon the server's sockets must be back to the baseline after the reset.
const FREED_WITHIN: Duration = Duration::from_secs(5);

/// One WebSocket handshake on a plain socket; `Err` unless the answer is a 101.
fn upgrade(target: &Target) -> Result<TcpStream, String> {
    let mut tcp = target.connect()?;
    let request = format!("{}\r\n", super::checks::request(target));
    tcp.write_all(request.as_bytes()).map_err(|e| format!("write: {e}"))?;
    tcp.set_read_timeout(Some(Duration::from_secs(5))).map_err(|e| e.to_string())?;
    let mut head = Vec::with_capacity(256);
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match tcp.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            Ok(_) => return Err("closed during the handshake".to_owned()),
            Err(e) => return Err(format!("read: {e}")),
        }
    }
    match head.starts_with(b"HTTP/1.1 101") {
        true => Ok(tcp),
        false => Err(String::from_utf8_lossy(&head).lines().next().unwrap_or("").to_owned()),
    }
}

/// Starts a fresh instance of `server`, opens the crowd (each a completed WebSocket
/// handshake), lets it idle, then resets every connection at once. The instance must still
/// be running, with no panic in its log.
pub(super) fn crowd(options: &Options, server: Server) -> Result<String, String> {
    let name = format!("{server} (idle crowd)");
    let mut command = server.command(&options.bin_dir);
    let (mut child, target) = fresh_instance(options, server, &name, "idle", &mut command)?;
    let result = crowd_on(&target, server);
    let panics = child.output().lines().filter(|l| l.contains("panicked")).count();
    match (result, child.try_wait()) {
        (Ok(text), Ok(None)) if panics == 0 => Ok(text),
        (Ok(text) | Err(text), Ok(None)) => Err(format!("{text}; {panics} panics in its log")),
        (Ok(text) | Err(text), _) => Err(format!("{text}; the server exited")),
    }
}

/// The crowd against a running server.
fn crowd_on(target: &Target, server: Server) -> Result<String, String> {
    let n = crowd_size(server);
    let baseline = target.sockets()?;
    let mut watch = RssWatch::new(*target)?;
    let started = Instant::now();
    let mut crowd = Vec::with_capacity(n);
    for i in 0..n {
        crowd.push(upgrade(target).map_err(|e| format!("connection {i}: {e}"))?);
        if i % 1000 == 0 {
            watch.sample();
        }
    }
    let opened = started.elapsed();
    let before = super::fds::cpu(target.pid)?;
    watch.sample_for(IDLE_WINDOW);
    let idle_cpu = super::fds::cpu(target.pid)?.saturating_sub(before);
    let open = target.sockets()?;
    let per_connection = watch.growth_kib() / n as u64;
    for tcp in crowd {
        let _ = SockRef::from(&tcp).set_linger(Some(Duration::ZERO));
    }
    let reset_at = Instant::now();
    let freed = loop {
        let now = target.sockets()?;
        if now <= baseline {
            break Some(reset_at.elapsed());
        }
        if reset_at.elapsed() > FREED_WITHIN {
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let text = format!(
        "{n} idle connections opened in {} ms ({open} sockets); RSS +{:.1} MiB, {per_connection} \
         KiB each (bound {PER_CONNECTION_KIB}); CPU {} ms in {} ms idle (bound {} ms); all reset: \
         {}",
        opened.as_millis(),
        watch.growth_kib() as f64 / 1024.0,
        idle_cpu.as_millis(),
        IDLE_WINDOW.as_millis(),
        MAX_IDLE_CPU.as_millis(),
        match freed {
            Some(t) => format!("sockets back to {baseline} within {} ms", t.as_millis()),
            None =>
                format!("sockets still {} after {} ms", target.sockets()?, FREED_WITHIN.as_millis()),
        }
    );
    match per_connection <= PER_CONNECTION_KIB && idle_cpu <= MAX_IDLE_CPU && freed.is_some() {
        true => Ok(text),
        false => Err(text),
    }
}
