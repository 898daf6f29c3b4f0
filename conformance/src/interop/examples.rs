//! ws-server's examples (`ws-server/examples/`) against peers nobody here wrote: Python
//! `websockets` clients (`peers/python/examples.py`) against `chat`, `ticker` and `echo`, and
//! headless Chromium (`peers/browser/chat.html`, `ticker.html`) against the first two.
//!
//! Each check starts the example's release build (`<example>-ws-server` in the bin directory)
//! with `--addr 127.0.0.1:0` and what the check needs, reads its `ws://` URL from its first
//! line, runs the client to `PASS` within the check's time limit, and judges the server: still
//! running and no panic, or, for the shutdown check, exited with status 0 after SIGINT.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::{Options, browser, judge_server, server_complaints, wait_for_pass};
use crate::process::{Child, tail};
use crate::session::BoxError;

/// The only origin the origin check's chat server allows (`--origin`).
pub const ALLOWED_ORIGIN: &str = "http://allowed.example";
/// The member cap of the full check's chat server (`--max-clients`).
pub const MAX_CLIENTS: usize = 3;
/// Subscribers of the Python ticker check, all at once.
pub const SUBSCRIBERS: usize = 1000;
/// What a server may print when something went wrong.
const COMPLAINTS: &[&str] = &["panicked", "Error"];

/// One check of an example.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExampleCheck {
    /// Python, chat: three members, every text to every member, the sender included; binary
    /// messages relayed to nobody.
    Broadcast,
    /// Python, chat: `/other` and `/chat/room` answered 404, `/chat` still served.
    NotFound,
    /// Python, chat `--origin` [`ALLOWED_ORIGIN`]: that origin in, another and none 403.
    Origin,
    /// Python, chat `--max-clients` [`MAX_CLIENTS`]: that many in, the next 503, a place
    /// again once one leaves.
    Full,
    /// Python, chat: three members, then SIGINT to the server: each gets Close 1001, and the
    /// server exits with status 0.
    Shutdown,
    /// Python, ticker: [`SUBSCRIBERS`] subscribers at once, each gets every tick from its first
    /// on (none dropped for a subscriber that reads).
    Ticker,
    /// Python, echo `--compression`: permessage-deflate agreed, texts and binaries up to 1 MiB
    /// back unchanged.
    Echo,
    /// Chromium, chat: two members, each gets both messages, clean closes.
    BrowserChat,
    /// Chromium, ticker: five consecutive ticks, a clean close.
    BrowserTicker,
}

impl ExampleCheck {
    /// Every check, in the order they run.
    pub const ALL: [ExampleCheck; 9] = [
        ExampleCheck::Broadcast,
        ExampleCheck::NotFound,
        ExampleCheck::Origin,
        ExampleCheck::Full,
        ExampleCheck::Shutdown,
        ExampleCheck::Ticker,
        ExampleCheck::Echo,
        ExampleCheck::BrowserChat,
        ExampleCheck::BrowserTicker,
    ];

    fn example(self) -> &'static str {
        match self {
            ExampleCheck::Ticker | ExampleCheck::BrowserTicker => "ticker",
            ExampleCheck::Echo => "echo",
            _ => "chat",
        }
    }

    fn browser_page(self) -> Option<&'static str> {
        match self {
            ExampleCheck::BrowserChat => Some("chat.html"),
            ExampleCheck::BrowserTicker => Some("ticker.html"),
            _ => None,
        }
    }

    /// E.g. `python-websockets client -> ws-server chat example: 503 past --max-clients`.
    pub fn name(self) -> String {
        let what = match self {
            ExampleCheck::Broadcast => "broadcast".to_owned(),
            ExampleCheck::NotFound => "404 on another path".to_owned(),
            ExampleCheck::Origin => "403 on another origin".to_owned(),
            ExampleCheck::Full => "503 past --max-clients".to_owned(),
            ExampleCheck::Shutdown => "1001 on SIGINT".to_owned(),
            ExampleCheck::Ticker => format!("{SUBSCRIBERS} subscribers"),
            ExampleCheck::Echo => "permessage-deflate".to_owned(),
            ExampleCheck::BrowserChat => "two members".to_owned(),
            ExampleCheck::BrowserTicker => "five ticks".to_owned(),
        };
        let client = if self.browser_page().is_some() { "chromium" } else { "python-websockets" };
        format!("{client} client -> ws-server {} example: {what}", self.example())
    }

    /// The example's arguments after `--addr 127.0.0.1:0`.
    fn server_args(self) -> Vec<String> {
        match self {
            ExampleCheck::Origin => vec!["--origin".into(), ALLOWED_ORIGIN.into()],
            ExampleCheck::Full => vec!["--max-clients".into(), MAX_CLIENTS.to_string()],
            ExampleCheck::Echo => vec!["--compression".into()],
            _ => Vec::new(),
        }
    }

    /// `examples.py`'s arguments for the server at `url`.
    fn python_args(self, url: &str) -> Vec<String> {
        let (scenario, extra) = match self {
            ExampleCheck::NotFound => ("not-found", None),
            ExampleCheck::Origin => ("origin", Some(ALLOWED_ORIGIN.to_owned())),
            ExampleCheck::Full => ("full", Some(MAX_CLIENTS.to_string())),
            ExampleCheck::Shutdown => ("shutdown", None),
            ExampleCheck::Ticker => ("ticker", Some(SUBSCRIBERS.to_string())),
            ExampleCheck::Echo => ("echo", None),
            _ => ("broadcast", None),
        };
        [scenario.to_owned(), url.to_owned()].into_iter().chain(extra).collect()
    }
}

/// Runs one check; returns how many steps the client passed.
pub(super) fn run_check(
    options: &Options,
    check: ExampleCheck,
    dir: &Path,
) -> Result<usize, BoxError> {
    let binary = options.bin_dir.join(format!("{}-ws-server", check.example()));
    let mut command = Command::new(binary);
    command.args(["--addr", "127.0.0.1:0"]).args(check.server_args());
    let mut server = Child::spawn(
        &format!("ws-server {} example", check.example()),
        &mut command,
        &dir.join("server.log"),
    )?;
    let url = server.wait_for_line(Duration::from_secs(20), |line| {
        let at = line.find("ws://")?;
        line[at..].split_whitespace().next().map(str::to_owned)
    })?;
    let transcript = match check.browser_page() {
        Some(page) => browser::run(options, page, &url, dir)?,
        None => {
            let mut command = Command::new(&options.python);
            command.arg(options.peers_dir.join("python/examples.py")).args(check.python_args(&url));
            let log = dir.join("client.log");
            let mut client = Child::spawn("python-websockets client", &mut command, &log)?;
            if check == ExampleCheck::Shutdown {
                interrupt_when_ready(&mut server, &mut client, options.timeout)?;
            }
            wait_for_pass(&mut client, options.timeout)?
        }
    };
    if check == ExampleCheck::Shutdown {
        // The example's graceful shutdown waits up to 10 s for the closing handshakes.
        match server.wait_timeout(Duration::from_secs(15))? {
            Some(status) if status.success() => server_complaints(&server, COMPLAINTS)?,
            Some(status) => return Err(server.error(&format!("exited with {status}")).into()),
            None => return Err(server.error("still running 15 s after SIGINT").into()),
        }
    } else {
        judge_server(&mut server, COMPLAINTS)?;
    }
    Ok(transcript.lines().filter(|l| l.starts_with("ok ")).count())
}

/// Waits until the client has printed `ready` (its members are in), then sends SIGINT to the
/// server, as Ctrl-C in its terminal would.
fn interrupt_when_ready(
    server: &mut Child,
    client: &mut Child,
    limit: Duration,
) -> Result<(), BoxError> {
    let ready = client.wait_for_line(limit, |line| (line == "ready").then_some(()));
    if let Err(e) = ready {
        return Err(
            format!("the client never got ready: {e}\n{}", tail(&client.output(), 8)).into()
        );
    }
    server.interrupt()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_distinct_and_say_what_runs() {
        let names: std::collections::BTreeSet<String> =
            ExampleCheck::ALL.iter().map(|c| super::super::slug(&c.name())).collect();
        assert_eq!(names.len(), ExampleCheck::ALL.len());
        assert_eq!(
            ExampleCheck::Full.name(),
            "python-websockets client -> ws-server chat example: 503 past --max-clients"
        );
        assert_eq!(
            ExampleCheck::BrowserTicker.name(),
            "chromium client -> ws-server ticker example: five ticks"
        );
        assert_eq!(ExampleCheck::Full.server_args(), ["--max-clients", "3"]);
        assert_eq!(
            ExampleCheck::Ticker.python_args("ws://x/ticks"),
            ["ticker", "ws://x/ticks", "1000"]
        );
        assert_eq!(
            ExampleCheck::Broadcast.python_args("ws://x/chat"),
            ["broadcast", "ws://x/chat"]
        );
    }
}
