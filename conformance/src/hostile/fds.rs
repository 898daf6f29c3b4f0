//! Running a server out of file descriptors: a second instance of each server, started with a
//! limit of 64 descriptors (`ulimit -n 64` in the shell that executes it), gets 150 connections
//! that never send a request. Past the limit `accept` fails with EMFILE; an accept loop that
//! retries at once spins a core (the issue measured 0.95 of a core and 100 000 log lines a
//! second). The bound: the server's CPU while exhausted stays under 0.3 s per second, and once
//! the connections are gone a fresh client is served.

use std::net::TcpStream;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::process::Command;
use std::time::{Duration, Instant};

use super::{Options, Server, fresh_instance};

/// Connections opened against the limit.
const CONNECTIONS: usize = 150;
/// The descriptor limit the server runs with.
const LIMIT: u32 = 64;
/// How long the server's CPU is measured while it is out of descriptors.
const WINDOW: Duration = Duration::from_secs(1);
/// CPU the server may use in that window.
const MAX_CPU: Duration = Duration::from_millis(300);

/// User + system CPU of a process so far (`/proc/PID/stat`, in clock ticks of 10 ms).
pub(super) fn cpu(pid: u32) -> Result<Duration, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| format!("reading /proc/{pid}/stat: {e}"))?;
    // After the command name (in parentheses, possibly with spaces): fields 3.. of the line.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).ok_or("no ')' in stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    // utime and stime are fields 14 and 15 of the line: 12 and 13 after the name.
    Ok(Duration::from_millis((ticks(11) + ticks(12)) * 10))
}

/// Starts a second instance of `server` with the descriptor limit and runs the attack.
pub(super) fn exhaustion(options: &Options, server: Server) -> Result<String, String> {
    let inner = server.command(&options.bin_dir);
    let mut command = Command::new("sh");
    command.arg("-c").arg(format!("ulimit -n {LIMIT} && exec \"$@\"")).arg("sh");
    command.arg(inner.get_program()).args(inner.get_args());
    let name = format!("{server} (ulimit -n {LIMIT})");
    let (mut child, target) = fresh_instance(options, server, &name, "fds", &mut command)?;

    let mut held: Vec<TcpStream> = Vec::with_capacity(CONNECTIONS);
    for _ in 0..CONNECTIONS {
        // The kernel completes connections into the backlog whether or not they are accepted.
        match TcpStream::connect_timeout(&target.addr, Duration::from_millis(500)) {
            Ok(tcp) => held.push(tcp),
            Err(_) => break,
        }
    }
    std::thread::sleep(Duration::from_millis(100));
    let lines_before = child.output().lines().count();
    let before = cpu(target.pid)?;
    std::thread::sleep(WINDOW);
    let used = cpu(target.pid)?.saturating_sub(before);
    let lines = child.output().lines().count().saturating_sub(lines_before);
    let sockets = target.sockets()?;
    drop(held);

    // Served again once the descriptors are free (the server may first have to notice the
    // dropped connections, and the accepted ones time out their handshakes).
    let started = Instant::now();
    let served = loop {
        let attempt = catch_unwind(AssertUnwindSafe(|| super::budget::echo_probe(&target)));
        match attempt {
            Ok(Ok(seen)) => break Ok(seen),
            _ if started.elapsed() < Duration::from_secs(5) => {
                std::thread::sleep(Duration::from_millis(100));
            }
            Ok(Err(e)) => break Err(e),
            Err(_) => break Err("the fresh client's handshake failed".to_owned()),
        }
    };
    let alive = matches!(child.try_wait(), Ok(None));
    let text = format!(
        "{} connections against {LIMIT} descriptors ({sockets} sockets open): CPU {} ms in {} ms \
         (bound {} ms), {lines} log lines; afterwards a fresh client {}",
        CONNECTIONS,
        used.as_millis(),
        WINDOW.as_millis(),
        MAX_CPU.as_millis(),
        served.as_deref().unwrap_or_else(|e| e.as_str())
    );
    match (used <= MAX_CPU, served.is_ok(), alive) {
        (true, true, true) => Ok(text),
        (_, _, false) => Err(format!("{text}; the server exited")),
        _ => Err(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The CPU reading sees a busy process (so a spinning accept loop cannot read as idle):
    /// spinning makes it advance by 100 ms within 10 s of wall time, however loaded the
    /// machine.
    #[test]
    fn cpu_counts_a_busy_loop() {
        let before = cpu(std::process::id()).unwrap();
        let started = Instant::now();
        let mut x = 0u64;
        loop {
            for _ in 0..1_000_000 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
            }
            let used = cpu(std::process::id()).unwrap().saturating_sub(before);
            if used >= Duration::from_millis(100) {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(10), "only {used:?} counted");
        }
    }
}
