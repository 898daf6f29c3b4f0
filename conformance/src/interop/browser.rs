//! The browser checks: a tiny HTTP server serves a page of `peers/browser/` (`index.html`, the
//! conversation; `chat.html` and `ticker.html`, ws-server's examples), headless Chromium loads
//! it, the page talks to our WebSocket server through the browser's own `WebSocket` API and
//! reports its transcript back with a request to `/result`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::Options;
use crate::process::{Child, tail};
use crate::session::BoxError;

/// The page's report: `pass` or `fail`, and its transcript.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Report {
    status: String,
    log: String,
}

/// Runs `page` (a file of `peers/browser/`) against the WebSocket server at `ws_url`; returns
/// the transcript.
pub(super) fn run(
    options: &Options,
    page: &str,
    ws_url: &str,
    dir: &Path,
) -> Result<String, BoxError> {
    let page = std::fs::read_to_string(options.peers_dir.join("browser").join(page))?;
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let http = listener.local_addr()?;
    let (reports, results) = mpsc::channel();
    let stop = AtomicBool::new(false);

    std::thread::scope(|scope| {
        scope.spawn(|| serve(&listener, &page, &reports, &stop));
        let result = drive(options, &format!("http://{http}/?ws={ws_url}"), dir, &results);
        stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(http); // wakes the accept loop up
        result
    })
}

/// Headless Chromium with its own profile directory, as every browser check starts it (the
/// page's URL still to be added).
pub(super) fn chromium_command(options: &Options, profile: &Path) -> Command {
    let mut command = Command::new(&options.chromium);
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
        ])
        .arg(format!("--user-data-dir={}", profile.display()));
    command
}

fn drive(
    options: &Options,
    url: &str,
    dir: &Path,
    results: &mpsc::Receiver<Report>,
) -> Result<String, BoxError> {
    let profile = dir.join("chromium-profile");
    std::fs::create_dir_all(&profile)?;
    let mut chromium = Child::spawn_group(
        "chromium",
        chromium_command(options, &profile).arg(url),
        &dir.join("chromium.log"),
    )?;
    let deadline = Instant::now() + options.timeout;
    let report = loop {
        match results.recv_timeout(Duration::from_millis(100)) {
            Ok(report) => break report,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err("the page server stopped".into());
            }
        }
        if let Some(status) = chromium.try_wait()? {
            return Err(
                format!("chromium exited ({status}):\n{}", tail(&chromium.output(), 10)).into()
            );
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "no result from the page after {:?}; chromium said:\n{}",
                options.timeout,
                tail(&chromium.output(), 10)
            )
            .into());
        }
    };
    chromium.kill();
    let _ = std::fs::remove_dir_all(&profile);
    std::fs::write(dir.join("client.log"), &report.log)?;
    match report.status.as_str() {
        "pass" => Ok(report.log),
        _ => Err(format!("the page failed:\n{}", tail(&report.log, 8)).into()),
    }
}

/// Serves `/` (the page) and `/result` (the page's report) until `stop`.
fn serve(listener: &TcpListener, page: &str, reports: &mpsc::Sender<Report>, stop: &AtomicBool) {
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(mut stream) = stream else { continue };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        let Some(target) = read_target(&mut stream) else { continue };
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        let response = match path {
            "/" => http_response("200 OK", "text/html; charset=utf-8", page),
            "/result" => {
                let field = |name: &str| {
                    query
                        .split('&')
                        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
                        .map(percent_decode)
                };
                let status = field("status").unwrap_or_default();
                let log = field("log").unwrap_or_default();
                let _ = reports.send(Report { status, log });
                http_response("204 No Content", "text/plain", "")
            }
            _ => http_response("404 Not Found", "text/plain", "not found"),
        };
        let _ = stream.write_all(response.as_bytes());
    }
}

/// Reads a request head (at most 64 KiB) and returns its target (`/path?query`).
fn read_target(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).ok().filter(|&n| n > 0)?;
        head.extend_from_slice(&buf[..n]);
        if head.len() > 64 << 10 {
            return None;
        }
    }
    let head = String::from_utf8_lossy(&head);
    let mut request_line = head.lines().next()?.split(' ');
    match (request_line.next(), request_line.next()) {
        (Some("GET"), Some(target)) => Some(target.to_owned()),
        _ => None,
    }
}

fn http_response(status: &str, content_type: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// Decodes `%XX` escapes (as `encodeURIComponent` writes them); invalid escapes stay as they are.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_percent_escapes() {
        assert_eq!(percent_decode("ok%20text%0Aok%20%E2%9C%93"), "ok text\nok ✓");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }

    #[test]
    fn serves_the_page_and_takes_the_report() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (reports, results) = mpsc::channel();
        let stop = AtomicBool::new(false);
        std::thread::scope(|scope| {
            scope.spawn(|| serve(&listener, "<p>page</p>", &reports, &stop));
            let get = |target: &str| {
                let mut tcp = TcpStream::connect(addr).unwrap();
                write!(tcp, "GET {target} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
                let mut response = String::new();
                tcp.read_to_string(&mut response).unwrap();
                response
            };
            let page = get("/?ws=ws://127.0.0.1:1/");
            assert!(page.starts_with("HTTP/1.1 200 OK") && page.ends_with("<p>page</p>"), "{page}");
            assert!(get("/favicon.ico").starts_with("HTTP/1.1 404"));
            assert!(get("/result?status=pass&log=ok%20text").starts_with("HTTP/1.1 204"));
            let report = results.recv_timeout(Duration::from_secs(5)).unwrap();
            assert_eq!(report, Report { status: "pass".into(), log: "ok text".into() });
            stop.store(true, Ordering::SeqCst);
            let _ = TcpStream::connect(addr);
        });
    }
}
