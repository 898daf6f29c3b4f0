//! Bad-input checks against the shipped binaries, as real processes over loopback.
//!
//! The kit (`ws-kit`) runs these scenarios in process through the adapters' APIs; here an
//! outside peer meets the binaries themselves: the kit's raw peer
//! ([`ws_kit::raw::RawPeer`]) connects to each server, or is the server each client connects
//! to, sends one bad input after the handshake and reads what comes back until the end.
//!
//! | agent | binary | the raw peer |
//! |---|---|---|
//! | `ws-<adapter> echo_server` | the adapter's `examples/echo_server.rs` (`echo_server-<adapter>`) | client |
//! | `ws-<adapter> interop-server` | `interop-server --adapter <adapter>` (our server in interop) | client |
//! | `ws-<adapter> interop-client` | `interop-client --adapter <adapter>` (our client in interop) | server: selects `chat.v1`, reads the client's `cmd:info`, then sends the input |
//!
//! Every check must see exactly the expected frames, then a FIN (not an RST, not silence): see
//! `checks.rs` and `conformance/README.md` for the list. For a client, the process must also exit with status 1 and the
//! error the in-memory `ws_proto::Connection` reports for the same bytes (`FAIL info: …`).

mod checks;
mod wire;

use std::cell::Cell;
use std::fmt;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::process::Command;
use std::sync::Once;
use std::time::{Duration, Instant};

use ws_kit::raw::{self, RawOpts, RawPeer, op};
use ws_proto::Role;

use self::checks::{Check, Prepared};
use crate::process::{Child, tail};
use crate::script::{INFO_REQUEST, SERVER_PROTOCOLS};
use crate::session::{Adapter, BoxError};

/// How long an agent has to put its whole answer on the wire, FIN included.
const WIRE_WITHIN: Duration = Duration::from_secs(2);
/// How long a client process may take to exit once the raw server has closed its side.
const EXIT_WITHIN: Duration = Duration::from_secs(3);
/// How long a server process may take to listen.
const START_WITHIN: Duration = Duration::from_secs(10);

/// Where the binaries are and where the logs go (`--bin-dir`, `--out`, `--only`).
pub use crate::cli::CheckOptions as Options;

/// A binary under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Agent {
    /// The adapter's `echo_server` example.
    EchoServer(Adapter),
    /// `interop-server --adapter`.
    InteropServer(Adapter),
    /// `interop-client --adapter`.
    InteropClient(Adapter),
}

impl Agent {
    /// Every agent, in the order they run: the six servers, then the three clients.
    pub fn all() -> Vec<Agent> {
        let mut agents: Vec<Agent> = Adapter::ALL.into_iter().map(Agent::EchoServer).collect();
        agents.extend(Adapter::ALL.map(Agent::InteropServer));
        agents.extend(Adapter::ALL.map(Agent::InteropClient));
        agents
    }

    /// The agent's role (the raw peer takes the other one).
    pub fn role(self) -> Role {
        match self {
            Agent::EchoServer(_) | Agent::InteropServer(_) => Role::Server,
            Agent::InteropClient(_) => Role::Client,
        }
    }

    fn command(self, bin_dir: &Path) -> Command {
        match self {
            Agent::EchoServer(adapter) => {
                let mut c = Command::new(bin_dir.join(format!("echo_server-{adapter}")));
                c.args(["--addr", "127.0.0.1:0"]);
                c
            }
            Agent::InteropServer(adapter) => {
                let mut c = Command::new(bin_dir.join("interop-server"));
                c.args(["--adapter", adapter.name(), "--addr", "127.0.0.1:0"]);
                c
            }
            Agent::InteropClient(adapter) => {
                let mut c = Command::new(bin_dir.join("interop-client"));
                c.args(["--adapter", adapter.name()]);
                c
            }
        }
    }
}

impl fmt::Display for Agent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Agent::EchoServer(a) => write!(f, "{} echo_server", a.crate_name()),
            Agent::InteropServer(a) => write!(f, "{} interop-server", a.crate_name()),
            Agent::InteropClient(a) => write!(f, "{} interop-client", a.crate_name()),
        }
    }
}

/// Runs every check on every agent; returns whether all passed.
pub fn run(options: &Options) -> Result<bool, BoxError> {
    let selected = |agent: Agent, check: &str| {
        options.only.as_ref().is_none_or(|only| format!("{agent}: {check}").contains(only.as_str()))
    };
    let plan: Vec<(Agent, Vec<Check>)> = Agent::all()
        .into_iter()
        .map(|agent| {
            let checks = Check::all(agent.role());
            (agent, checks.into_iter().filter(|c| selected(agent, &c.name())).collect::<Vec<_>>())
        })
        .filter(|(_, checks)| !checks.is_empty())
        .collect();
    if plan.is_empty() {
        return Err("no check matches --only".into());
    }
    if options.out.exists() {
        std::fs::remove_dir_all(&options.out)?;
    }
    std::fs::create_dir_all(&options.out)?;
    let out = std::fs::canonicalize(&options.out)?;

    let started = Instant::now();
    let mut rows = Vec::new();
    for (agent, checks) in &plan {
        let dir = out.join(agent.to_string().replace(' ', "_"));
        std::fs::create_dir_all(&dir)?;
        let mut tally = Tally { agent: *agent, passed: 0, failed: 0, took: Duration::ZERO };
        let agent_started = Instant::now();
        match agent.role() {
            Role::Server => run_server(options, *agent, checks, &dir, &mut tally),
            Role::Client => run_client(options, *agent, checks, &dir, &mut tally),
        }
        tally.took = agent_started.elapsed();
        rows.push(tally);
    }

    println!("badinput: summary");
    for row in &rows {
        println!(
            "  {:<28} {:>3} passed, {} failed ({:.1} s)",
            row.agent.to_string(),
            row.passed,
            row.failed,
            row.took.as_secs_f64()
        );
    }
    let passed: usize = rows.iter().map(|r| r.passed).sum();
    let failed: usize = rows.iter().map(|r| r.failed).sum();
    let partial = if options.only.is_some() { " (PARTIAL RUN: --only)" } else { "" };
    println!(
        "badinput: {passed} passed, {failed} failed, {} agents, {:.1} s{partial}",
        rows.len(),
        started.elapsed().as_secs_f64()
    );
    if failed > 0 {
        println!("badinput: logs in {}", out.display());
    }
    Ok(failed == 0)
}

/// One agent's results.
struct Tally {
    agent: Agent,
    passed: usize,
    failed: usize,
    took: Duration,
}

impl Tally {
    /// Prints one PASS or FAIL line.
    fn report(&mut self, check: &str, result: Result<String, String>, started: Instant) {
        let ms = started.elapsed().as_millis();
        match result {
            Ok(seen) => {
                self.passed += 1;
                println!("badinput: PASS {}: {check}: {seen} ({ms} ms)", self.agent);
            }
            Err(problem) => {
                self.failed += 1;
                println!("badinput: FAIL {}: {check}: {problem} ({ms} ms)", self.agent);
            }
        }
        let _ = std::io::stdout().flush();
    }
}

/// Starts the server once, runs every check on a connection of its own, then checks that the
/// process is still running and logged no panic.
fn run_server(options: &Options, agent: Agent, checks: &[Check], dir: &Path, tally: &mut Tally) {
    let started = Instant::now();
    let log = dir.join("server.log");
    let mut server =
        match Child::spawn(&agent.to_string(), &mut agent.command(&options.bin_dir), &log) {
            Ok(server) => server,
            Err(e) => return tally.report("start", Err(e.to_string()), started),
        };
    let addr = match server.wait_for_line(START_WITHIN, listening_addr) {
        Ok(addr) => addr,
        Err(e) => return tally.report("start", Err(e.to_string()), started),
    };
    for check in checks {
        let started = Instant::now();
        let result = contained(|| {
            let mut raw = RawPeer::client(addr, RawOpts::default());
            let prepared = check.prepare(&mut raw, Role::Server);
            exchange(&mut raw, &prepared)
        });
        tally.report(&check.name(), result, started);
    }
    let started = Instant::now();
    let result = match server.try_wait() {
        Ok(None) => {
            let output = server.output();
            let panics: Vec<&str> = output.lines().filter(|l| l.contains("panicked")).collect();
            match panics.as_slice() {
                [] => {
                    Ok(format!("still running after {} checks, no panic in its log", checks.len()))
                }
                _ => Err(format!("its log reports panics:\n    {}", panics.join("\n    "))),
            }
        }
        Ok(Some(status)) => Err(format!("exited ({status}):\n{}", tail(&server.output(), 8))),
        Err(e) => Err(e.to_string()),
    };
    tally.report("process", result, started);
}

/// `echo server listening on ws://127.0.0.1:PORT …` (the examples) or `listening on PORT`
/// (`interop-server`).
fn listening_addr(line: &str) -> Option<SocketAddr> {
    let (_, rest) = line.split_once("listening on ")?;
    let word = rest.trim_start_matches("ws://").split_whitespace().next()?;
    word.parse().ok().or_else(|| Some(SocketAddr::from((Ipv4Addr::LOCALHOST, word.parse().ok()?))))
}

/// Runs every check on a client process of its own, against a raw server.
fn run_client(options: &Options, agent: Agent, checks: &[Check], dir: &Path, tally: &mut Tally) {
    for check in checks {
        let started = Instant::now();
        let log = dir.join(format!("{}.log", check.name().replace(' ', "_")));
        let result = client_check(options, agent, check, &log);
        tally.report(&check.name(), result, started);
    }
}

fn client_check(
    options: &Options,
    agent: Agent,
    check: &Check,
    log: &Path,
) -> Result<String, String> {
    let opts = RawOpts {
        protocol: Some(SERVER_PROTOCOLS[0]),
        deflate: check.raw_server_deflate(),
        ..RawOpts::default()
    };
    let listener = contained(|| Ok(raw::listener(opts)))?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let mut command = agent.command(&options.bin_dir);
    command.args(["--url", &format!("ws://127.0.0.1:{port}/")]);
    let mut client =
        Child::spawn(&agent.to_string(), &mut command, log).map_err(|e| e.to_string())?;

    let mut kept = None;
    let wire = contained(|| {
        let mut raw = RawPeer::server(&listener, opts);
        // The client's first step asks for `cmd:info`; the input is the answer it gets.
        match raw.try_read_frame(WIRE_WITHIN) {
            Ok(f) if f.opcode == op::TEXT && f.payload == INFO_REQUEST.as_bytes() => {}
            Ok(f) => {
                return Err(format!("expected {INFO_REQUEST:?} first, got {}", wire::frame(&f)));
            }
            Err(end) => {
                return Err(format!(
                    "expected {INFO_REQUEST:?} first, saw {}",
                    wire::end(&end, WIRE_WITHIN)
                ));
            }
        }
        let prepared = check.prepare(&mut raw, Role::Client);
        let seen = exchange(&mut raw, &prepared);
        // The raw server stays connected until the client has exited.
        kept = Some((raw, prepared));
        seen
    });
    let status = client.wait_timeout(EXIT_WITHIN).map_err(|e| e.to_string())?;
    let output = client.output();
    let app = match (&kept, status) {
        (_, None) => Err(format!("the client did not exit within {EXIT_WITHIN:?}")),
        (None, Some(_)) => Ok(String::new()),
        (Some((_, prepared)), Some(status)) => judge_client(prepared, status, &output),
    };
    match (wire, app) {
        (Ok(seen), Ok(app)) => Ok(format!("{seen}; {app}")),
        (wire, app) => {
            let problems: Vec<String> = [wire.err(), app.err()].into_iter().flatten().collect();
            Err(format!(
                "{}\n    client output ({}):\n{}",
                problems.join("; "),
                log.display(),
                indent(&tail(&output, 6))
            ))
        }
    }
}

/// The interop client must exit with status 1, reporting the core's error at the right step
/// (and, after a valid answer, having passed the step before).
fn judge_client(
    prepared: &Prepared,
    status: std::process::ExitStatus,
    output: &str,
) -> Result<String, String> {
    let (step, passed_before) = prepared.client_step;
    let error = match &prepared.verdict.error {
        Some(e) => ws_tokio::Error::from(e.clone()).to_string(),
        None => "the connection closed".to_owned(),
    };
    let expected = format!("FAIL {step}: {error}");
    let lines: Vec<&str> = output.lines().collect();
    let mut problems = Vec::new();
    if status.code() != Some(1) {
        problems.push(format!("the client exited with {status}, expected status 1"));
    }
    if !lines.contains(&expected.as_str()) {
        problems.push(format!("the client did not print {expected:?}"));
    }
    if let Some(before) = passed_before {
        if !lines.iter().any(|l| l.starts_with(&format!("ok {before}"))) {
            problems.push(format!("the client did not pass its step {before:?} first"));
        }
    }
    match problems.is_empty() {
        true => Ok(format!("the client printed {expected:?} and exited with status 1")),
        false => Err(problems.join("; ")),
    }
}

/// Sends the input, reads until the end, then closes the raw peer's side too (a real peer
/// closes once it has read the other side's end); judges what was seen.
fn exchange(raw: &mut RawPeer, prepared: &Prepared) -> Result<String, String> {
    raw.send_raw(&prepared.bytes);
    if prepared.half_close {
        raw.shutdown_write();
    }
    let (frames, ending) = raw.read_until_end(WIRE_WITHIN);
    raw.shutdown_write();
    wire::judge(prepared, &frames, &ending, WIRE_WITHIN)
}

thread_local! {
    static CONTAINED: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f`, turning a panic of the raw peer (it panics with what it saw: a handshake that
/// failed, a frame masked the wrong way, a write that failed) into `Err` with its message.
/// Those panics are not printed by the panic hook; any other panic is.
fn contained<T>(f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !CONTAINED.get() {
                previous(info);
            }
        }));
    });
    CONTAINED.set(true);
    let result = catch_unwind(AssertUnwindSafe(f));
    CONTAINED.set(false);
    result.unwrap_or_else(|panic| {
        let text = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "a panic without a message".to_owned());
        Err(text)
    })
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("      {l}")).collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agents_and_their_names() {
        let names: Vec<String> = Agent::all().iter().map(Agent::to_string).collect();
        assert_eq!(names.len(), 9);
        assert_eq!(names[0], "ws-tokio echo_server");
        assert_eq!(names[4], "ws-async-std interop-server");
        assert_eq!(names[8], "ws-blocking interop-client");
        let roles: Vec<Role> = Agent::all().into_iter().map(Agent::role).collect();
        assert_eq!(roles.iter().filter(|r| **r == Role::Client).count(), 3);
    }

    #[test]
    fn listening_lines() {
        let addr = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert_eq!(
            listening_addr("echo server listening on ws://127.0.0.1:4711 (2 worker threads)"),
            Some(addr("127.0.0.1:4711"))
        );
        assert_eq!(
            listening_addr("echo server listening on ws://127.0.0.1:4712"),
            Some(addr("127.0.0.1:4712"))
        );
        assert_eq!(listening_addr("listening on 4713"), Some(addr("127.0.0.1:4713")));
        assert_eq!(listening_addr("starting"), None);
    }

    #[test]
    fn contained_panics_become_errors() {
        let result: Result<(), String> = contained(|| panic!("raw client: saw {}", "RST"));
        assert_eq!(result, Err("raw client: saw RST".to_owned()));
        assert_eq!(contained(|| Ok(5)), Ok(5));
    }
}
