//! The input side of a channel: a FIFO (or stdin) read without blocking the runtime's
//! threads (a FIFO through tokio's non-blocking pipe support, stdin through tokio's blocking
//! pool), decoded in standard or strict mode and delivered to the channel's clients.
//!
//! A FIFO's end of file means its last writer closed it: the FIFO is opened again and serving
//! goes on with the next writer. In strict mode an invalid header is reported on stderr and the
//! input resynchronised: what is buffered is dropped, what the FIFO holds is drained, and the
//! FIFO is opened again, so the next record starts a fresh stream.

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::unix::pipe;

use crate::channel::Channel;
use crate::cli::Endpoint;
use crate::format::{BadHeader, Chunker, PIPE_BUF, StrictDecoder};

/// Bytes asked for per read in strict mode.
const STRICT_READ: usize = 64 << 10;

/// What the reader does after a read.
enum Next {
    Continue,
    /// Strict mode: the input is out of step; drop what it holds and open it again.
    Resync(BadHeader),
}

/// Decodes the input's bytes in the channel's mode.
struct Decoder {
    channel: Arc<Channel>,
    strict: Option<StrictDecoder>,
    chunker: Chunker,
    max: usize,
}

impl Decoder {
    fn read_size(&self) -> usize {
        match self.strict {
            Some(_) => STRICT_READ,
            None => PIPE_BUF.min(self.max).saturating_sub(self.chunker.carried()).max(1),
        }
    }

    fn feed(&mut self, data: &[u8]) -> Next {
        let Some(strict) = self.strict.as_mut() else {
            if let Some(message) = self.chunker.chunk(data) {
                self.channel.broadcast_standard(message);
            }
            return Next::Continue;
        };
        let (records, error) = strict.feed(data);
        for record in records {
            self.channel.deliver(record);
        }
        error.map_or(Next::Continue, Next::Resync)
    }

    /// The input ended (a writer closed the FIFO, or stdin ended).
    fn end(&mut self, what: &str) {
        if let Some(message) = self.chunker.finish() {
            self.channel.broadcast_standard(message);
        }
        if let Some(strict) = self.strict.as_mut() {
            let pending = strict.pending();
            if pending > 0 {
                eprintln!(
                    "ws-pipe: input {what}: the writer left in the middle of a record; \
                     {pending} byte(s) dropped"
                );
                strict.clear();
            }
        }
    }
}

/// Reads the channel's input until the process ends (stdin: until it ends).
pub(crate) async fn run(channel: Arc<Channel>, endpoint: Endpoint, strict: bool, max: usize) {
    let strict = strict.then(|| StrictDecoder::new(max));
    let mut decoder = Decoder { channel, strict, chunker: Chunker::default(), max };
    match endpoint {
        Endpoint::Std => read_stdin(&mut decoder).await,
        Endpoint::Fifo(path) => read_fifo(&mut decoder, &path).await,
    }
}

async fn read_stdin(decoder: &mut Decoder) {
    let mut stdin = tokio::io::stdin();
    let mut buf = vec![0u8; STRICT_READ];
    loop {
        let size = decoder.read_size();
        match stdin.read(&mut buf[..size]).await {
            Ok(0) => {
                decoder.end("stdin");
                eprintln!("ws-pipe: input stdin: end of input; still serving");
                return;
            }
            Ok(n) => {
                if let Next::Resync(error) = decoder.feed(&buf[..n]) {
                    // stdin cannot be opened again: what was buffered is dropped and the next
                    // read is taken as the start of a record.
                    eprintln!("ws-pipe: input stdin: {error}; buffered input dropped");
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                eprintln!("ws-pipe: input stdin: {e}; input ended");
                return;
            }
        }
    }
}

async fn read_fifo(decoder: &mut Decoder, path: &Path) {
    let name = path.display().to_string();
    let mut buf = vec![0u8; STRICT_READ];
    // A message for stderr once the FIFO is open again.
    let mut after_reopen: Option<String> = None;
    loop {
        // Non-blocking: opening for reading succeeds without a writer, and the receiver only
        // becomes readable once one writes (or opens and closes).
        let mut rx = match pipe::OpenOptions::new().open_receiver(path) {
            Ok(rx) => rx,
            Err(e) => {
                eprintln!("ws-pipe: input {name}: {e}; trying again in 1 s");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if let Some(message) = after_reopen.take() {
            eprintln!("{message}");
        }
        loop {
            let size = decoder.read_size();
            let n = match rx.read(&mut buf[..size]).await {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    eprintln!("ws-pipe: input {name}: {e}; opening it again");
                    break;
                }
            };
            if n == 0 {
                // The last writer closed the FIFO: open it again for the next one.
                decoder.end(&name);
                break;
            }
            if let Next::Resync(error) = decoder.feed(&buf[..n]) {
                let drained = drain(&rx, &mut buf);
                after_reopen = Some(format!(
                    "ws-pipe: input {name}: {error}; resynchronised ({drained} more byte(s) \
                     dropped, pipe reopened)"
                ));
                break;
            }
        }
    }
}

/// Reads and drops whatever the FIFO holds now; returns how many bytes.
fn drain(rx: &pipe::Receiver, buf: &mut [u8]) -> usize {
    let mut total = 0;
    while let Ok(n) = rx.try_read(buf) {
        if n == 0 {
            break;
        }
        total += n;
    }
    total
}
