//! Steady-state echo through an async adapter, counted: the loops and the measurement that the
//! per-runtime allocation tests share.
//!
//! Both adapters are `ws_common::aio::WebSocket<S, R>` on a runtime binding `R` (ws-tokio's
//! `Tokio`, ws-async-std's `FuturesIo`), so the application loops are written once, generic
//! over `R`, exactly as an application writes them: the server `recv`s and `feed`s the message
//! back (the pattern of the echo server examples); the client `send`s a message and `recv`s the
//! echo, checking it.
//!
//! [`windows`] runs an [`Exchange`] for a warm-up, then counts the process's allocations over
//! two consecutive windows of different lengths. Zero allocations per message means the longer
//! window allocates no more than the shorter one, and neither more than a fixed handful.

use std::fmt;

use benches::inputs::{Corpus, binary_payload, text};
use benches::wire::Opcode;
use ws_common::aio::{Runtime, StreamIo, WebSocket};
use ws_proto::Message;

use crate::counting::{process_allocs, thread_allocs, trace_anywhere};
use crate::scripted::ScriptedPeer;

/// Unmeasured messages first: buffers, timers and the runtime's queues reach their steady size.
pub(crate) const WARMUP: u64 = 1_000;
/// The measured windows, in messages.
pub(crate) const SHORT: u64 = 10_000;
pub(crate) const LONG: u64 = 20_000;

/// `count` payloads of `size` bytes of `opcode` data (text: Latin-1-heavy UTF-8).
pub(crate) fn payloads(opcode: Opcode, size: usize, count: u64) -> Vec<Vec<u8>> {
    (0..count)
        .map(|seed| match opcode {
            Opcode::Text => text(Corpus::Latin1, size, seed),
            _ => binary_payload(size, seed),
        })
        .collect()
}

/// Server loop: echoes `n` data messages (queued with `feed`, written by the next `recv`; the
/// last by `flush`).
pub(crate) async fn serve<S, R: StreamIo<S>>(ws: &mut WebSocket<S, R>, n: u64) {
    for _ in 0..n {
        let message = ws.recv().await.expect("the connection is open").expect("no error");
        assert!(message.is_data(), "unexpected {message:?}");
        ws.feed(message).await.expect("feed");
    }
    ws.flush().await.expect("flush");
}

/// How the client hands its payloads to `send_*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Payloads {
    /// Borrowed (`&str`, `&[u8]`): the library copies them into its transmit buffer.
    Borrowed,
    /// A fresh `String` / `Vec` per message: one allocation per message by the application,
    /// the control that shows the counting sees allocations on this path.
    Owned,
}

/// Client loop: sends messages `first..first + n` (payload `i % len`) as `opcode`, each followed
/// by receiving its echo, which must carry the same payload.
pub(crate) async fn request<S, R: StreamIo<S>>(
    ws: &mut WebSocket<S, R>,
    (opcode, how): (Opcode, Payloads),
    payloads: &[Vec<u8>],
    first: u64,
    n: u64,
) {
    for i in first..first + n {
        let payload = &payloads[(i % payloads.len() as u64) as usize];
        let text = || std::str::from_utf8(payload).expect("UTF-8");
        let sent = match (opcode, how) {
            (Opcode::Text, Payloads::Borrowed) => ws.send_text(text()).await,
            (Opcode::Text, Payloads::Owned) => ws.send_text(text().to_owned()).await,
            (_, Payloads::Borrowed) => ws.send_binary(&payload[..]).await,
            (_, Payloads::Owned) => ws.send_binary(payload.to_vec()).await,
        };
        sent.expect("send");
        let echo = ws.recv().await.expect("the connection is open").expect("no error");
        let same = match (&echo, opcode) {
            (Message::Text(t), Opcode::Text) => t.as_bytes()[..] == payload[..],
            (Message::Binary(b), Opcode::Binary) => b[..] == payload[..],
            _ => false,
        };
        assert!(same, "echo of message {i} differs: {echo:?}");
    }
}

/// Something that exchanges `n` messages at a time (a connection and its application loop).
pub(crate) trait Exchange {
    /// Exchanges the next `n` messages, checking every one.
    async fn run(&mut self, n: u64);
    /// Messages exchanged and checked so far, as counted by whoever checks the echoes.
    fn checked(&self) -> u64;
}

/// A server echoing a scripted client.
pub(crate) struct ScriptedServer<R: Runtime>(pub(crate) WebSocket<ScriptedPeer, R>);

impl<R: StreamIo<ScriptedPeer>> Exchange for ScriptedServer<R> {
    async fn run(&mut self, n: u64) {
        serve(&mut self.0, n).await;
    }
    fn checked(&self) -> u64 {
        self.0.get_ref().completed()
    }
}

/// A client exchanging messages with a scripted server.
pub(crate) struct ScriptedClient<R: Runtime> {
    pub(crate) ws: WebSocket<ScriptedPeer, R>,
    pub(crate) send: (Opcode, Payloads),
    pub(crate) payloads: Vec<Vec<u8>>,
}

impl<R: StreamIo<ScriptedPeer>> Exchange for ScriptedClient<R> {
    async fn run(&mut self, n: u64) {
        let first = self.checked();
        request(&mut self.ws, self.send, &self.payloads, first, n).await;
    }
    fn checked(&self) -> u64 {
        self.ws.get_ref().completed()
    }
}

/// A client and a server of the same adapter, connected (over loopback TCP), polled together.
pub(crate) struct Pair<S, R: Runtime> {
    pub(crate) client: WebSocket<S, R>,
    pub(crate) server: WebSocket<S, R>,
    pub(crate) send: (Opcode, Payloads),
    pub(crate) payloads: Vec<Vec<u8>>,
    pub(crate) checked: u64,
}

impl<S, R: StreamIo<S>> Exchange for Pair<S, R> {
    async fn run(&mut self, n: u64) {
        let first = self.checked;
        futures_util::future::join(
            serve(&mut self.server, n),
            request(&mut self.client, self.send, &self.payloads, first, n),
        )
        .await;
        self.checked += n;
    }
    fn checked(&self) -> u64 {
        self.checked
    }
}

/// Allocations over one window: by the whole process (and the bytes they asked for), and by
/// the thread that polls the connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    pub(crate) messages: u64,
    pub(crate) allocs: u64,
    pub(crate) bytes: u64,
    pub(crate) here: u64,
}

/// What [`windows`] measured.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Windows {
    pub(crate) short: Window,
    pub(crate) long: Window,
}

impl fmt::Display for Windows {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for w in [self.short, self.long] {
            write!(
                f,
                "{} messages: {} allocations ({} B, {:.4} per message; {} on this thread); ",
                w.messages,
                w.allocs,
                w.bytes,
                w.allocs as f64 / w.messages as f64,
                w.here
            )?;
        }
        Ok(())
    }
}

/// Warms `x` up, then counts the allocations of every thread over [`SHORT`] and then [`LONG`]
/// messages. `WS_ALLOC_TRACE=1` prints backtraces of the first allocations in the windows.
pub(crate) async fn windows(x: &mut impl Exchange) -> Windows {
    x.run(WARMUP).await;
    let mut window = async |n: u64| {
        let (checked, (allocs, bytes), here) = (x.checked(), process_allocs(), thread_allocs());
        x.run(n).await;
        let ((allocs_after, bytes_after), here_after) = (process_allocs(), thread_allocs());
        assert_eq!(x.checked() - checked, n, "every message was echoed and checked");
        Window {
            messages: n,
            allocs: allocs_after - allocs,
            bytes: bytes_after - bytes,
            here: here_after - here,
        }
    };
    trace_anywhere(5);
    let short = window(SHORT).await;
    let long = window(LONG).await;
    trace_anywhere(0);
    Windows { short, long }
}

/// Which allocations a claim is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Counted {
    /// Every thread of the process.
    Process,
    /// The thread that polls the connections.
    #[allow(dead_code)] // not every test binary uses it
    ThisThread,
}

fn counted(w: &Window, c: Counted) -> u64 {
    match c {
        Counted::Process => w.allocs,
        Counted::ThisThread => w.here,
    }
}

/// The claim: nothing is allocated per message. A fixed handful of allocations (a runtime
/// growing a queue once) is tolerated, but the window twice as long must not allocate more
/// than the short one.
pub(crate) fn assert_none_per_message(what: &str, w: &Windows, c: Counted) {
    const FIXED: u64 = 8;
    println!("{what}: {w}");
    let (short, long) = (counted(&w.short, c), counted(&w.long, c));
    assert!(
        short <= FIXED && long <= short,
        "{what} allocates per message ({c:?}): {w}(rerun with WS_ALLOC_TRACE=1 -- --nocapture \
         for backtraces)"
    );
}

/// The control: an application that allocates once per message is seen doing so.
pub(crate) fn assert_seen_per_message(what: &str, w: &Windows, c: Counted) {
    println!("{what} (control, one allocation per message by the application): {w}");
    let (short, long) = (counted(&w.short, c), counted(&w.long, c));
    assert!(
        short >= w.short.messages && long >= w.long.messages,
        "{what}: the counting ({c:?}) missed the application's own allocations: {w}"
    );
}
