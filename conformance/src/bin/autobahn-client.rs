//! The client role of the Autobahn|Testsuite (`wstest -m fuzzingserver`) for one adapter.
//!
//! ```text
//! autobahn-client --adapter tokio|async-std|blocking|uring [--url ws://127.0.0.1:9001]
//!     [--agent NAME]
//! ```
//!
//! Asks the fuzzing server how many cases it runs (`/getCaseCount`), runs each one
//! (`/runCase?case=N&agent=NAME`), echoing every text and binary message back, then asks it to
//! write its reports (`/updateReports?agent=NAME`). permessage-deflate is offered on every
//! connection. A case that ends in an error (most fuzzing cases break the protocol on purpose)
//! is reported on stderr and the next case runs; only failing to reach the server is fatal.
//!
//! `--adapter uring` is ws-uring's io_uring client (Linux), which has callbacks instead of a
//! receive loop: [`conformance::uring_client`]; its agent is `ws-uring-client`.

use std::process::ExitCode;

use conformance::cli::Args;
use conformance::session::{Adapter, BoxError};
use conformance::uring_client::UringClient;
use ws_proto::Message;

const USAGE: &str = "usage: autobahn-client --adapter tokio|async-std|blocking|uring \
                     [--url ws://127.0.0.1:9001] [--agent NAME]";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("autobahn-client: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), BoxError> {
    let args = Args::parse(USAGE, &[])?;
    args.only(&["adapter", "url", "agent"])?;
    let base = args.get("url").unwrap_or("ws://127.0.0.1:9001").trim_end_matches('/');
    if args.required("adapter")? == "uring" {
        return run_uring(base, args.get("agent").unwrap_or("ws-uring-client"));
    }
    let adapter: Adapter = args.required("adapter")?.parse()?;
    let default_agent = adapter.crate_name().to_owned() + "-client";
    let agent = args.get("agent").unwrap_or(&default_agent);

    let mut count = None;
    converse(adapter, &format!("{base}/getCaseCount"), |message| {
        if let Message::Text(text) = message {
            count = text.as_str().trim().parse::<u32>().ok();
        }
        None
    })?;
    let count = count.ok_or("the fuzzing server did not send a case count")?;
    println!("{agent}: {count} cases on {adapter}");
    for case in 1..=count {
        let url = format!("{base}/runCase?case={case}&agent={agent}");
        if let Err(e) = converse(adapter, &url, |message| message.is_data().then_some(message)) {
            eprintln!("case {case}: {e}");
        }
    }
    converse(adapter, &format!("{base}/updateReports?agent={agent}"), |_| None)?;
    println!("{agent}: reports updated");
    Ok(())
}

/// The same run on ws-uring's client: one ring, one connection at a time.
fn run_uring(base: &str, agent: &str) -> Result<(), BoxError> {
    let mut client = UringClient::new()?;
    let texts = client.converse(&format!("{base}/getCaseCount"), false)?;
    let count = texts.first().and_then(|t| t.trim().parse::<u32>().ok());
    let count = count.ok_or("the fuzzing server did not send a case count")?;
    println!("{agent}: {count} cases on ws-uring");
    for case in 1..=count {
        let url = format!("{base}/runCase?case={case}&agent={agent}");
        if let Err(e) = client.converse(&url, true) {
            eprintln!("case {case}: {e}");
        }
    }
    client.converse(&format!("{base}/updateReports?agent={agent}"), false)?;
    println!("{agent}: reports updated");
    Ok(())
}

/// One connection to its end, sending back whatever `reply` returns for each message.
///
/// wstest's server aborts the TCP connection (a reset) as soon as it has our Close reply, so
/// a transport error after the server's Close arrived ends the conversation normally (it is
/// noted on stderr): the closing handshake was complete.
fn converse(
    adapter: Adapter,
    url: &str,
    mut reply: impl FnMut(Message) -> Option<Message>,
) -> Result<(), BoxError> {
    let mut ws = adapter.connect(url, &[], None)?;
    let mut closing = false;
    loop {
        match ws.recv(None) {
            Ok(Some(message)) => {
                closing |= matches!(message, Message::Close(_));
                if let Some(answer) = reply(message) {
                    ws.send(answer)?;
                }
            }
            Ok(None) => return Ok(()),
            Err(e) if closing => {
                eprintln!("{url}: after the closing handshake: {e}");
                return Ok(());
            }
            Err(e) => return Err(e),
        }
    }
}
