//! ws-pipe's built-in demo page in headless Chromium: `ws-pipe` serves the page at `/`, the
//! browser loads it and connects, and lines written to ws-pipe's input FIFO must show up in
//! the page. The page is ws-pipe's own (nothing here injects a reporter into it), so the check
//! reads the page through Chromium's DevTools protocol, over a WebSocket from this workspace's
//! blocking client: every 250 ms it writes the next numbered line to the FIFO and asks the page
//! for its log, until three consecutive lines are there, in order.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use ws_proto::Message;

use super::{Options, browser, judge_server};
use crate::process::{Child, tail};
use crate::session::BoxError;

/// The check's name in the interop summary.
pub const NAME: &str = "chromium client -> ws-pipe demo page: lines from the pipe appear";

/// Runs the check; returns how many lines the page showed.
pub(super) fn run(options: &Options, dir: &Path) -> Result<usize, BoxError> {
    let (pipein, pipeout) = (dir.join("in.fifo"), dir.join("out.fifo"));
    let mut command = Command::new(options.bin_dir.join("ws-pipe"));
    command
        .args(["--addr", "127.0.0.1:0"])
        .arg("--pipein")
        .arg(&pipein)
        .arg("--pipeout")
        .arg(&pipeout);
    let mut server = Child::spawn("ws-pipe", &mut command, &dir.join("server.log"))?;
    let ws_url = server.wait_for_line(Duration::from_secs(20), |line| {
        let at = line.find("ws://")?;
        line[at..].split_whitespace().next().map(str::to_owned)
    })?;
    let page = ws_url.replacen("ws://", "http://", 1);

    let profile = dir.join("chromium-profile");
    std::fs::create_dir_all(&profile)?;
    let mut chromium = Child::spawn_group(
        "chromium",
        browser::chromium_command(options, &profile)
            .args(["--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0"])
            .arg(&page),
        &dir.join("chromium.log"),
    )?;
    let result = watch(options, &profile, &page, &pipein);
    chromium.kill();
    let _ = std::fs::remove_dir_all(&profile);
    let shown =
        result.map_err(|e| format!("{e}; chromium said:\n{}", tail(&chromium.output(), 8)))?;
    judge_server(&mut server, &["panicked", "Error"])?;
    Ok(shown)
}

/// Feeds the FIFO and reads the page until it shows three consecutive lines.
fn watch(options: &Options, profile: &Path, page: &str, pipein: &Path) -> Result<usize, BoxError> {
    let deadline = Instant::now() + options.timeout;
    let devtools = devtools_page(profile, page, deadline)?;
    let (mut cdp, _) = ws_blocking::connect(&devtools)?;
    cdp.set_read_timeout(Some(Duration::from_secs(10)))?;
    // ws-pipe opened its input FIFO for reading before it printed its address.
    let mut fifo = std::fs::OpenOptions::new().write(true).open(pipein)?;
    let expression = "document.getElementById('log').innerText";
    for n in 1u64.. {
        if Instant::now() >= deadline {
            return Err(format!(
                "the page never showed three lines in a row after {:?}",
                options.timeout
            )
            .into());
        }
        fifo.write_all(format!("demo line {n}\n").as_bytes())?;
        std::thread::sleep(Duration::from_millis(250));
        let shown = evaluate(&mut cdp, n, expression)?;
        let lines: Vec<&str> = shown.lines().collect();
        let in_a_row = lines.windows(3).any(|w| {
            let num = |s: &str| s.strip_prefix("demo line ")?.parse::<u64>().ok();
            matches!((num(w[0]), num(w[1]), num(w[2])), (Some(a), Some(b), Some(c)) if b == a + 1 && c == b + 1)
        });
        if in_a_row {
            return Ok(lines.len());
        }
    }
    unreachable!("the loop returns")
}

/// The DevTools WebSocket URL of the tab showing `page`.
fn devtools_page(profile: &Path, page: &str, deadline: Instant) -> Result<String, BoxError> {
    loop {
        if let Ok(text) = std::fs::read_to_string(profile.join("DevToolsActivePort")) {
            if let Some(port) = text.lines().next().and_then(|p| p.trim().parse::<u16>().ok()) {
                let list: Value = serde_json::from_str(&http_get(port, "/json/list")?)?;
                let found = list.as_array().into_iter().flatten().find(|t| {
                    t["type"] == "page" && t["url"].as_str().is_some_and(|u| u.starts_with(page))
                });
                if let Some(url) = found.and_then(|t| t["webSocketDebuggerUrl"].as_str()) {
                    return Ok(url.to_owned());
                }
            }
        }
        if Instant::now() >= deadline {
            return Err("chromium's DevTools never listed the demo page".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `GET path` on 127.0.0.1:`port`; returns the body (DevTools keeps the connection open, so
/// the body is read to its `Content-Length`).
fn http_get(port: u16, path: &str) -> Result<String, BoxError> {
    let mut tcp = TcpStream::connect(("127.0.0.1", port))?;
    tcp.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(tcp, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n")?;
    let mut response = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        if let Some(end) = response.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&response[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok());
            let body = &response[end + 4..];
            if length.is_some_and(|n| body.len() >= n) {
                return Ok(String::from_utf8_lossy(&body[..length.unwrap_or(0)]).into_owned());
            }
        }
        match tcp.read(&mut buf)? {
            0 => break,
            n => response.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&response).into_owned();
    let (_, body) = text.split_once("\r\n\r\n").ok_or("no HTTP body from DevTools")?;
    Ok(body.to_owned())
}

/// Evaluates `expression` in the page (`Runtime.evaluate`); returns its string value.
fn evaluate(
    cdp: &mut ws_blocking::ClientSocket,
    id: u64,
    expression: &str,
) -> Result<String, BoxError> {
    let request = serde_json::json!({
        "id": id,
        "method": "Runtime.evaluate",
        "params": {"expression": expression, "returnByValue": true},
    });
    cdp.send_text(request.to_string().as_str())?;
    loop {
        match cdp.recv() {
            Some(Ok(Message::Text(text))) => {
                let reply: Value = serde_json::from_str(text.as_str())?;
                if reply["id"] == id {
                    let value = &reply["result"]["result"]["value"];
                    return Ok(value.as_str().unwrap_or_default().to_owned());
                }
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.into()),
            None => return Err("DevTools closed the connection".into()),
        }
    }
}
