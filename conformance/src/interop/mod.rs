//! Interop checks: our servers and clients, on each adapter, against peers nobody here wrote.
//!
//! Every check starts a server (ours or a peer's), then runs a client against it (ours, a
//! peer's, or Chromium loading a page), each a separate process with a time limit. Both ends
//! play the conversation of [`crate::script`]; the check passes when the client completes it
//! and the server neither crashed nor reported a failed connection.
//!
//! | client | server | transport |
//! |---|---|---|
//! | Python `websockets` | ours (each adapter) | ws, wss |
//! | ours (each adapter) | Python `websockets` | ws, wss |
//! | Node `ws` | ours (each adapter) | ws |
//! | ours (each adapter) | Node `ws` | ws |
//! | Chromium (its `WebSocket` API) | ours (`ws-tokio`) | ws |
//!
//! Then ws-server's examples against the same peers ([`ExampleCheck`]): Python `websockets`
//! clients against `chat` (broadcast, 404, 403, 503, 1001 on SIGINT), `ticker` (1000
//! subscribers) and `echo` (permessage-deflate), Chromium against `chat` and `ticker`.
//! Last, Chromium loads ws-pipe's built-in demo page and must show lines written to its input
//! FIFO ([`pipe_demo`]).

mod browser;
pub mod examples;
pub mod pipe_demo;

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub use examples::ExampleCheck;

use crate::process::{Child, tail};
use crate::session::{Adapter, BoxError};

/// Where everything is.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where `interop-server` and `interop-client` are.
    pub bin_dir: PathBuf,
    /// `conformance/peers`: the Python, Node and browser peers.
    pub peers_dir: PathBuf,
    /// The Python of the venv holding `websockets`.
    pub python: PathBuf,
    /// `node`.
    pub node: PathBuf,
    /// `chromium`.
    pub chromium: PathBuf,
    /// Logs go here (emptied first).
    pub out: PathBuf,
    /// Only the checks whose name contains this.
    pub only: Option<String>,
    /// The time limit of one check.
    pub timeout: Duration,
}

/// One end of a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// Our `interop-server` / `interop-client` on an adapter.
    Ours(Adapter),
    /// Python `websockets`.
    Python,
    /// Node `ws`.
    Node,
    /// Headless Chromium (client only).
    Chromium,
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Peer::Ours(adapter) => f.write_str(adapter.crate_name()),
            Peer::Python => f.write_str("python-websockets"),
            Peer::Node => f.write_str("node-ws"),
            Peer::Chromium => f.write_str("chromium"),
        }
    }
}

/// A client against a server, over `ws://` or `wss://`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Check {
    /// The client.
    pub client: Peer,
    /// The server.
    pub server: Peer,
    /// `wss://` with a self-signed certificate made for the run.
    pub tls: bool,
}

impl Check {
    /// E.g. `python-websockets client -> ws-tokio server (wss)`.
    pub fn name(&self) -> String {
        let tls = if self.tls { " (wss)" } else { "" };
        format!("{} client -> {} server{tls}", self.client, self.server)
    }
}

/// Every check, in the order they run.
pub fn checks() -> Vec<Check> {
    let mut checks = Vec::new();
    for tls in [false, true] {
        for adapter in Adapter::ALL {
            let ours = Peer::Ours(adapter);
            checks.push(Check { client: Peer::Python, server: ours, tls });
            checks.push(Check { client: ours, server: Peer::Python, tls });
            if !tls {
                checks.push(Check { client: Peer::Node, server: ours, tls });
                checks.push(Check { client: ours, server: Peer::Node, tls });
            }
        }
    }
    checks.push(Check { client: Peer::Chromium, server: Peer::Ours(Adapter::Tokio), tls: false });
    checks
}

/// Runs the checks (the conversation's, then ws-server's examples'); returns whether all
/// passed.
pub fn run(options: &Options) -> Result<bool, BoxError> {
    let wanted = |name: &str| options.only.as_ref().is_none_or(|only| name.contains(only.as_str()));
    let selected: Vec<Check> = checks().into_iter().filter(|c| wanted(&c.name())).collect();
    let examples: Vec<ExampleCheck> =
        ExampleCheck::ALL.into_iter().filter(|c| wanted(&c.name())).collect();
    let pipe_demo = wanted(pipe_demo::NAME);
    if selected.is_empty() && examples.is_empty() && !pipe_demo {
        return Err("no check matches --only".into());
    }
    if options.out.exists() {
        std::fs::remove_dir_all(&options.out)?;
    }
    std::fs::create_dir_all(&options.out)?;
    let out = std::fs::canonicalize(&options.out)?;
    let tls = selected.iter().any(|c| c.tls).then(|| make_certificate(&out)).transpose()?;

    let (mut passed, mut failed) = (0, 0);
    let mut record = |name: String, run: &dyn Fn(&Path) -> Result<usize, BoxError>| {
        let dir = out.join(slug(&name));
        std::fs::create_dir_all(&dir)?;
        let started = Instant::now();
        let result = run(&dir);
        let seconds = started.elapsed().as_secs_f64();
        match result {
            Ok(steps) => {
                passed += 1;
                println!("interop: PASS {name} ({steps} steps, {seconds:.1} s)");
            }
            Err(e) => {
                failed += 1;
                println!("interop: FAIL {name} ({seconds:.1} s): {e}");
                println!("  logs: {}", dir.display());
            }
        }
        Ok::<(), BoxError>(())
    };
    for check in &selected {
        record(check.name(), &|dir| run_check(options, check, tls.as_ref(), dir))?;
    }
    for check in examples {
        record(check.name(), &|dir| examples::run_check(options, check, dir))?;
    }
    if pipe_demo {
        record(pipe_demo::NAME.to_owned(), &|dir| pipe_demo::run(options, dir))?;
    }
    println!("interop: {passed} passed, {failed} failed");
    Ok(failed == 0)
}

/// The certificate and key files of a `wss://` check.
#[derive(Debug, Clone)]
struct TlsFiles {
    cert: PathBuf,
    key: PathBuf,
}

/// A self-signed certificate for `127.0.0.1` and `localhost`, written under `out/tls`.
fn make_certificate(out: &Path) -> Result<TlsFiles, BoxError> {
    let certified =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])?;
    let dir = out.join("tls");
    std::fs::create_dir_all(&dir)?;
    let files = TlsFiles { cert: dir.join("cert.pem"), key: dir.join("key.pem") };
    std::fs::write(&files.cert, certified.cert.pem())?;
    std::fs::write(&files.key, certified.signing_key.serialize_pem())?;
    Ok(files)
}

fn slug(name: &str) -> String {
    let slug: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
    slug.split('_').filter(|s| !s.is_empty() && *s != "-").collect::<Vec<_>>().join("_")
}

/// Runs one check; returns how many steps the client passed.
fn run_check(
    options: &Options,
    check: &Check,
    tls: Option<&TlsFiles>,
    dir: &Path,
) -> Result<usize, BoxError> {
    let tls = if check.tls { Some(tls.ok_or("no certificate")?) } else { None };
    let mut server = Child::spawn(
        &format!("{} server", check.server),
        &mut server_command(options, check.server, tls)?,
        &dir.join("server.log"),
    )?;
    let port = server.wait_for_line(Duration::from_secs(20), |line| {
        line.strip_prefix("listening on ")?.trim().parse::<u16>().ok()
    })?;
    let scheme = if tls.is_some() { "wss" } else { "ws" };
    let url = format!("{scheme}://127.0.0.1:{port}/");

    let transcript = match check.client {
        Peer::Chromium => browser::run(options, "index.html", &url, dir)?,
        client => {
            let mut command = client_command(options, client, &url, tls)?;
            let mut child =
                Child::spawn(&format!("{client} client"), &mut command, &dir.join("client.log"))?;
            wait_for_pass(&mut child, options.timeout)?
        }
    };
    judge_server(&mut server, &["connection failed", "Traceback", "Error:"])?;
    Ok(transcript.lines().filter(|l| l.starts_with("ok ")).count())
}

/// Waits up to `limit` for a scripted client to exit with status 0 after printing `PASS`;
/// returns what it printed.
fn wait_for_pass(client: &mut Child, limit: Duration) -> Result<String, BoxError> {
    match client.wait_timeout(limit)? {
        Some(status) if status.success() && client.output().lines().any(|l| l == "PASS") => {
            Ok(client.output())
        }
        Some(status) => {
            Err(format!("client failed ({status}):\n{}", indent(&tail(&client.output(), 8))).into())
        }
        None => Err(format!(
            "client timed out after {limit:?}:\n{}",
            indent(&tail(&client.output(), 8))
        )
        .into()),
    }
}

/// After the client is done: the server must still run, and no line of its output may contain
/// one of `complaints`.
fn judge_server(server: &mut Child, complaints: &[&str]) -> Result<(), BoxError> {
    // Give the server a moment to finish its side of the last close before judging it.
    std::thread::sleep(Duration::from_millis(200));
    if let Some(status) = server.try_wait()? {
        return Err(format!(
            "the server exited ({status}):\n{}",
            indent(&tail(&server.output(), 8))
        )
        .into());
    }
    server_complaints(server, complaints)
}

/// No line of the server's output may contain one of `complaints`.
fn server_complaints(server: &Child, complaints: &[&str]) -> Result<(), BoxError> {
    let found: Vec<String> = server
        .output()
        .lines()
        .filter(|l| complaints.iter().any(|c| l.contains(c)))
        .map(str::to_owned)
        .collect();
    match found.is_empty() {
        true => Ok(()),
        false => Err(format!("the server reported errors:\n{}", indent(&found.join("\n"))).into()),
    }
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n")
}

fn server_command(
    options: &Options,
    peer: Peer,
    tls: Option<&TlsFiles>,
) -> Result<Command, BoxError> {
    let mut command = match peer {
        Peer::Ours(adapter) => {
            let mut c = Command::new(options.bin_dir.join("interop-server"));
            c.args(["--adapter", adapter.name()]);
            c
        }
        Peer::Python => {
            let mut c = Command::new(&options.python);
            c.arg(options.peers_dir.join("python/server.py"));
            c
        }
        Peer::Node if tls.is_none() => {
            let mut c = Command::new(&options.node);
            c.arg(options.peers_dir.join("node/server.js"));
            c
        }
        other => {
            return Err(format!(
                "no {other} server{}",
                if tls.is_some() { " for wss" } else { "" }
            )
            .into());
        }
    };
    if let Some(tls) = tls {
        command.arg("--tls-cert").arg(&tls.cert).arg("--tls-key").arg(&tls.key);
    }
    Ok(command)
}

fn client_command(
    options: &Options,
    peer: Peer,
    url: &str,
    tls: Option<&TlsFiles>,
) -> Result<Command, BoxError> {
    let mut command = match peer {
        Peer::Ours(adapter) => {
            let mut c = Command::new(options.bin_dir.join("interop-client"));
            c.args(["--adapter", adapter.name(), "--url", url]);
            c
        }
        Peer::Python => {
            let mut c = Command::new(&options.python);
            c.arg(options.peers_dir.join("python/client.py")).arg(url);
            c
        }
        Peer::Node if tls.is_none() => {
            let mut c = Command::new(&options.node);
            c.arg(options.peers_dir.join("node/client.js")).arg(url);
            c
        }
        other => {
            return Err(format!(
                "no {other} client{}",
                if tls.is_some() { " for wss" } else { "" }
            )
            .into());
        }
    };
    if let Some(tls) = tls {
        command.arg("--ca").arg(&tls.cert);
    }
    Ok(command)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_peer_in_both_directions() {
        let checks = checks();
        for adapter in Adapter::ALL {
            let ours = Peer::Ours(adapter);
            for peer in [Peer::Python, Peer::Node] {
                assert!(checks.contains(&Check { client: peer, server: ours, tls: false }));
                assert!(checks.contains(&Check { client: ours, server: peer, tls: false }));
            }
            assert!(checks.contains(&Check { client: Peer::Python, server: ours, tls: true }));
            assert!(checks.contains(&Check { client: ours, server: Peer::Python, tls: true }));
        }
        assert!(checks.iter().any(|c| c.client == Peer::Chromium));
        let names: std::collections::BTreeSet<String> =
            checks.iter().map(|c| slug(&c.name())).collect();
        assert_eq!(names.len(), checks.len(), "log directories must be distinct");
    }

    #[test]
    fn names_and_slugs() {
        let check = Check { client: Peer::Python, server: Peer::Ours(Adapter::Tokio), tls: true };
        assert_eq!(check.name(), "python-websockets client -> ws-tokio server (wss)");
        assert_eq!(slug(&check.name()), "python-websockets_client_ws-tokio_server_wss");
    }

    #[test]
    fn certificate_files_are_pem() {
        let dir = std::env::temp_dir().join(format!("conformance-cert-{}", std::process::id()));
        let files = make_certificate(&dir).unwrap();
        let cert = std::fs::read_to_string(&files.cert).unwrap();
        let key = std::fs::read_to_string(&files.key).unwrap();
        assert!(cert.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(key.contains("PRIVATE KEY-----"));
        crate::session::ServerTls::from_pem_files(&files.cert, &files.key).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
