//! The output side of a channel: a queue bounded in bytes, written by one task to a FIFO or to
//! stdout. A reader that is slow or absent never stalls the server: past the bound, messages
//! are dropped whole and counted, and the count is reported on stderr (at most once a second).

use std::collections::VecDeque;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::net::unix::pipe;
use tokio::sync::Notify;

use crate::cli::Endpoint;

/// How often an output FIFO without a reader is tried again.
const RETRY: Duration = Duration::from_millis(100);

/// The queue of one output pipe, shared by the connection handlers and the writer task.
#[derive(Debug)]
pub(crate) struct Output {
    name: String,
    queue: Mutex<Queue>,
    limit: usize,
    ready: Notify,
    dropped: AtomicU64,
}

#[derive(Debug, Default)]
struct Queue {
    items: VecDeque<Bytes>,
    bytes: usize,
}

impl Output {
    /// Starts the writer task for `endpoint`; messages are queued up to `limit` bytes.
    pub(crate) fn start(endpoint: Endpoint, limit: usize) -> Arc<Output> {
        let name = match &endpoint {
            Endpoint::Fifo(path) => path.display().to_string(),
            Endpoint::Std => "stdout".to_owned(),
        };
        let output = Arc::new(Output {
            name,
            queue: Mutex::default(),
            limit,
            ready: Notify::new(),
            dropped: AtomicU64::new(0),
        });
        tokio::spawn(writer(Arc::clone(&output), endpoint));
        output
    }

    /// Queues one whole message (a strict record or a raw payload); drops it if the queue is
    /// full (an empty queue always takes one message).
    pub(crate) fn push(&self, message: Bytes) {
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        if q.bytes > 0 && q.bytes + message.len() > self.limit {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        q.bytes += message.len();
        q.items.push_back(message);
        drop(q);
        self.ready.notify_one();
    }

    fn pop(&self) -> Option<Bytes> {
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        let item = q.items.pop_front()?;
        q.bytes -= item.len();
        Some(item)
    }

    fn unpop(&self, item: Bytes) {
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        q.bytes += item.len();
        q.items.push_front(item);
    }
}

type Sink = Box<dyn AsyncWrite + Send + Unpin>;

/// Opens the output: a FIFO only when it has a reader (`None` until then).
fn open(endpoint: &Endpoint) -> io::Result<Option<Sink>> {
    match endpoint {
        Endpoint::Std => Ok(Some(Box::new(tokio::io::stdout()))),
        Endpoint::Fifo(path) => match pipe::OpenOptions::new().open_sender(path) {
            Ok(sender) => Ok(Some(Box::new(sender))),
            // No reader yet.
            Err(e) if e.raw_os_error() == Some(rustix::io::Errno::NXIO.raw_os_error()) => Ok(None),
            Err(e) => Err(e),
        },
    }
}

async fn writer(output: Arc<Output>, endpoint: Endpoint) {
    let mut sink: Option<Sink> = None;
    let mut reported = 0;
    let mut report = tokio::time::interval(Duration::from_secs(1));
    let mut open_error_shown = false;
    loop {
        let dropped = output.dropped.load(Ordering::Relaxed);
        if dropped != reported {
            eprintln!(
                "ws-pipe: output {}: reader slow or absent, {} message(s) dropped ({dropped} in all)",
                output.name,
                dropped - reported
            );
            reported = dropped;
        }
        let Some(item) = output.pop() else {
            tokio::select! {
                _ = output.ready.notified() => {}
                _ = report.tick() => {}
            }
            continue;
        };
        if sink.is_none() {
            match open(&endpoint) {
                Ok(Some(s)) => {
                    sink = Some(s);
                    open_error_shown = false;
                }
                Ok(None) => {}
                Err(e) if !open_error_shown => {
                    eprintln!("ws-pipe: output {}: {e}", output.name);
                    open_error_shown = true;
                }
                Err(_) => {}
            }
        }
        let Some(s) = sink.as_mut() else {
            // No reader: keep the message (the queue's bound applies) and try again later.
            output.unpop(item);
            tokio::time::sleep(RETRY).await;
            continue;
        };
        let written = async {
            s.write_all(&item).await?;
            s.flush().await
        };
        if let Err(e) = written.await {
            // The reader went away (EPIPE): this message is lost, the next reader starts at
            // a message boundary.
            output.dropped.fetch_add(1, Ordering::Relaxed);
            if !matches!(endpoint, Endpoint::Std) {
                eprintln!("ws-pipe: output {}: {e}; waiting for a reader", output.name);
            }
            sink = None;
            if matches!(endpoint, Endpoint::Std) {
                // stdout cannot be reopened: drain from now on (counted as drops).
                stdout_gone(&output, reported).await;
                return;
            }
        }
    }
}

/// stdout is closed for good: count and report what keeps coming, and keep the queue empty.
async fn stdout_gone(output: &Output, mut reported: u64) {
    eprintln!("ws-pipe: output stdout: closed; client messages are dropped from now on");
    let mut report = tokio::time::interval(Duration::from_secs(1));
    loop {
        while output.pop().is_some() {
            output.dropped.fetch_add(1, Ordering::Relaxed);
        }
        let dropped = output.dropped.load(Ordering::Relaxed);
        if dropped != reported {
            eprintln!("ws-pipe: output stdout: {dropped} message(s) dropped in all");
            reported = dropped;
        }
        tokio::select! {
            _ = output.ready.notified() => {}
            _ = report.tick() => {}
        }
    }
}

/// Creates `path` as a FIFO (mode 0600) if nothing is there; an existing FIFO is kept.
pub(crate) fn ensure_fifo(path: &PathBuf) -> io::Result<()> {
    use std::os::unix::fs::FileTypeExt;
    match std::fs::metadata(path) {
        Ok(meta) if meta.file_type().is_fifo() => Ok(()),
        Ok(_) => Err(io::Error::other(format!("{} exists and is not a FIFO", path.display()))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let mode = rustix::fs::Mode::from_raw_mode(0o600);
            rustix::fs::mkfifoat(rustix::fs::CWD, path, mode).map_err(|e| {
                io::Error::other(format!("cannot create FIFO {}: {e}", path.display()))
            })
        }
        Err(e) => Err(e),
    }
}
