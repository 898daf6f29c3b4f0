//! Test helpers: the `ws-pipe` binary in a temporary directory, FIFO producers and consumers,
//! clients. Every wait is bounded.
#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::pipe;
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::Notify;
use ws_tokio::{ClientSocket, Message};

/// Bounds a wait of a test (a hang fails instead of blocking CI).
pub async fn bounded<T>(fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), fut).await.expect("timed out")
}

/// A fresh temporary directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("ws-pipe-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `--pipein` and `--pipeout` for FIFOs `in` and `out` in `dir`.
pub fn fifo_args(dir: &TempDir) -> [String; 2] {
    [
        format!("--pipein={}", dir.path("in").display()),
        format!("--pipeout={}", dir.path("out").display()),
    ]
}

/// A running `ws-pipe`; killed on drop.
pub struct WsPipe {
    pub child: Child,
    pub stdin: Option<ChildStdin>,
    pub stdout: Option<ChildStdout>,
    stderr: Arc<(Mutex<String>, Notify)>,
    /// `ws://127.0.0.1:PORT` (or `wss://`), from its first line.
    pub url: String,
}

impl WsPipe {
    /// Starts `ws-pipe` on a free loopback port with `args`; waits for its listening line.
    pub async fn start(args: &[&str]) -> WsPipe {
        let mut all = vec!["--addr", "127.0.0.1", "-p", "0"];
        all.extend_from_slice(args);
        Self::start_raw(&all).await
    }

    /// Starts `ws-pipe` with exactly `args`; waits for its listening line.
    pub async fn start_raw(args: &[&str]) -> WsPipe {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ws-pipe"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stderr = Arc::new((Mutex::new(String::new()), Notify::new()));
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let collected = Arc::clone(&stderr);
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                collected.0.lock().unwrap().push_str(&(line + "\n"));
                collected.1.notify_waiters();
            }
        });
        let mut pipe = WsPipe {
            stdin: child.stdin.take(),
            stdout: child.stdout.take(),
            child,
            stderr,
            url: String::new(),
        };
        let line = pipe.wait_stderr("listening on ").await;
        pipe.url = match line.split_once("listening on ").unwrap().1 {
            unix if unix.starts_with("unix socket") => String::new(),
            url => url.trim_end_matches('/').to_owned(),
        };
        pipe
    }

    /// What it printed on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.0.lock().unwrap().clone()
    }

    /// Waits until a line of stderr contains `needle`; returns that line.
    pub async fn wait_stderr(&self, needle: &str) -> String {
        bounded(async {
            loop {
                let notified = self.stderr.1.notified();
                if let Some(line) = self.stderr().lines().find(|l| l.contains(needle)) {
                    return line.to_owned();
                }
                if tokio::time::timeout(Duration::from_millis(200), notified).await.is_err() {
                    // Also look again after a while (a line may land between look and wait).
                }
            }
        })
        .await
    }

    /// Connects a client to `path`.
    pub async fn connect(&self, path: &str) -> ClientSocket {
        bounded(ws_tokio::connect(&format!("{}{path}", self.url))).await.unwrap().0
    }

    /// The status of a refused handshake to `path` with `customize` applied.
    pub async fn refused(
        &self,
        path: &str,
        customize: impl FnOnce(ws_tokio::ClientRequest) -> ws_tokio::ClientRequest,
    ) -> Option<u16> {
        let url = format!("{}{path}", self.url);
        let result =
            bounded(ws_tokio::connect_with(&url, customize, Default::default(), None)).await;
        result.err().and_then(|e| e.status())
    }
}

/// Opens `path` for writing once `ws-pipe` has it open for reading.
pub async fn producer(path: &Path) -> pipe::Sender {
    bounded(async {
        loop {
            match pipe::OpenOptions::new().open_sender(path) {
                Ok(sender) => return sender,
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    })
    .await
}

/// Opens the output FIFO for reading.
pub fn consumer(path: &Path) -> pipe::Receiver {
    pipe::OpenOptions::new().open_receiver(path).unwrap()
}

/// Writes all of `bytes` to a FIFO.
pub async fn write(sender: &mut pipe::Sender, bytes: &[u8]) {
    bounded(sender.write_all(bytes)).await.unwrap();
}

/// Reads exactly `n` bytes.
pub async fn read_exact(rx: &mut (impl AsyncReadExt + Unpin), n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    bounded(rx.read_exact(&mut buf)).await.unwrap();
    buf
}

/// A strict-mode record.
pub fn record(client: u32, kind: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(12 + payload.len());
    out.extend_from_slice(&client.to_be_bytes());
    out.extend_from_slice(&kind.to_be_bytes());
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// Reads one strict-mode record: (client, type, payload).
pub async fn read_record(rx: &mut (impl AsyncReadExt + Unpin)) -> (u32, u32, Vec<u8>) {
    let head = read_exact(rx, 12).await;
    let word = |i: usize| u32::from_be_bytes(head[i..i + 4].try_into().unwrap());
    let payload = read_exact(rx, word(8) as usize).await;
    (word(0), word(4), payload)
}

/// The next text or binary message (pings and pongs are skipped).
pub async fn next_data<S>(ws: &mut ws_tokio::WebSocket<S>) -> Message
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    bounded(async {
        loop {
            match ws.recv().await {
                Some(Ok(m @ (Message::Text(_) | Message::Binary(_)))) => return m,
                Some(Ok(_)) => {}
                other => panic!("connection ended: {other:?}"),
            }
        }
    })
    .await
}

/// Waits until the server has `n` clients open on the default channel: each open event of
/// strict mode is read from `out`; returns their ids.
pub async fn opened(out: &mut pipe::Receiver, n: usize) -> Vec<u32> {
    let mut ids = Vec::new();
    for _ in 0..n {
        let (id, kind, payload) = read_record(out).await;
        assert_eq!(kind, 0x10, "an open event");
        assert_eq!(payload.len(), 46);
        ids.push(id);
    }
    ids
}

/// Writes `data` to the child's stdin.
pub async fn to_stdin(pipe: &mut WsPipe, data: &[u8]) {
    let stdin = pipe.stdin.as_mut().unwrap();
    bounded(async {
        stdin.write_all(data).await.unwrap();
        stdin.flush().await.unwrap();
    })
    .await;
}

/// The payload length of a text or binary message.
pub fn data_len(message: &Message) -> usize {
    match message {
        Message::Text(t) => t.len(),
        Message::Binary(b) => b.len(),
        other => panic!("not data: {other:?}"),
    }
}

/// Waits until every client in `clients` is subscribed to the channel `input` feeds: writes
/// `sync` lines until each has received one, then `ready`, and reads each client up to it, so
/// that the next thing written is the next thing every client receives.
pub async fn synced<W, S>(input: &mut W, clients: &mut [&mut ws_tokio::WebSocket<S>])
where
    W: tokio::io::AsyncWrite + Unpin,
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let put = async |w: &mut W, line: &[u8]| {
        w.write_all(line).await.unwrap();
        w.flush().await.unwrap();
    };
    bounded(async {
        for client in clients.iter_mut() {
            loop {
                put(input, b"sync\n").await;
                let got = tokio::time::timeout(Duration::from_millis(50), client.recv()).await;
                if matches!(got, Ok(Some(Ok(Message::Text(_))))) {
                    break;
                }
            }
        }
        put(input, b"ready\n").await;
        for client in clients.iter_mut() {
            loop {
                if let Message::Text(t) = next_data(client).await {
                    if t.as_str().ends_with("ready\n") {
                        break;
                    }
                }
            }
        }
    })
    .await;
}
