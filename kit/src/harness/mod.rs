//! The adapter-facing side of the kit: the [`Harness`] trait every adapter implements once, the
//! application behaviours ([`App`]) the scenarios drive through it, and what an application
//! run reports ([`Report`]).
//!
//! The applications behave like real ones: they stop at the **first** `Err` (as
//! `let msg = msg?;` does) and drop the socket at once. Nothing here retries, drains or closes
//! on the application's behalf; whatever the peer sees afterwards is the adapter's doing.

mod apps;
pub mod async_std;
pub mod blocking;
mod blocking_apps;
pub mod server;
pub mod server_callbacks;
pub mod tokio;
pub mod uring;

use std::net::{SocketAddr, TcpListener};
use std::panic::resume_unwind;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ws_proto::{CloseCause, CloseCode, CloseInfo, Config, Message};

/// The text every [`App::Panic`] panics with, so a test can tell that panic from any other.
pub const PANIC_MARKER: &str = "ws-kit: the app panicked on purpose";

/// How long a harness waits for the raw peer to connect (server role).
pub(crate) const ACCEPT_WITHIN: Duration = Duration::from_secs(10);

/// One adapter (on one runtime), as the scenarios see it.
pub trait Harness: Send + Sync + 'static {
    /// "tokio", "async-std", "smol", "blocking".
    fn name(&self) -> &'static str;

    /// True for async adapters: cancellation means dropping a `recv` future. (The blocking
    /// adapter's equivalent is a read timeout.)
    fn is_async(&self) -> bool;

    /// Accepts ONE connection on `listener` with the adapter's server API and runs `app` on it,
    /// on the adapter's runtime, in a thread of its own. Server handlers run as spawned tasks
    /// whose panics [`AppHandle::join_within`] re-raises.
    fn serve(&self, listener: TcpListener, config: Config, app: App) -> AppHandle;

    /// Connects to `ws://addr/` with the adapter's client API and runs `app`.
    fn connect(&self, addr: SocketAddr, config: Config, app: App) -> AppHandle;

    /// Why the adapter cannot run on this system at all (io_uring refused by the kernel, say),
    /// or `None`. The generated tests then print `SKIPPED: ...` and check nothing.
    fn unavailable(&self) -> Option<String> {
        None
    }

    /// The Close code the adapter sends when the application's handler panics, if it promises
    /// one (a callback server that catches the panic and fails only that connection). `None`:
    /// the panic ends the handler's task or thread and the raw peer is not checked.
    fn panic_close_code(&self) -> Option<u16> {
        None
    }

    /// True if the application receives control frames as messages (`Message::Ping`,
    /// `Message::Close`). False for an API whose receive returns data messages only (ws-server:
    /// Pings are answered and the peer's Close is reported by `close_info`); the scenarios
    /// then check the peer's Close in `close_info` instead, and the Pong on the wire only.
    fn control_messages(&self) -> bool {
        true
    }
}

/// What the application does with its connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum App {
    /// Receive loop; echo every Text/Binary with `send`. Stops at the first `Err`.
    Echo,
    /// Split; the read half forwards data messages over a channel to a task (thread) that owns
    /// the write half and sends them.
    SplitEcho,
    /// Echo where every receive is raced against a ~1 ms timer and restarted when the timer
    /// wins (async: the `recv` future is dropped; blocking: a 1 ms read timeout, retried).
    /// `split`: receive on the read half and echo through a writer task, as [`App::SplitEcho`].
    EchoCancelling {
        /// Use split halves.
        split: bool,
    },
    /// Send a Close right away, then receive until the end.
    CloseFirst {
        /// Close code.
        code: u16,
        /// Close reason.
        reason: String,
        /// Close through the write half (in its own task) while the read half receives.
        from_write_half: bool,
    },
    /// Split; the write half sends `count` binary messages of `size` bytes
    /// ([`flood_payload`]) as fast as it can, recording when each send returned; the read half
    /// receives until the end.
    Flood {
        /// Bytes per message.
        size: usize,
        /// Number of messages.
        count: usize,
        /// Counts the sends that returned, live, for the scenario to watch.
        progress: Progress,
    },
    /// Panics right after the handshake with [`PANIC_MARKER`].
    Panic,
}

/// A live counter shared between an application and its scenario.
#[derive(Debug, Clone, Default)]
pub struct Progress(Arc<AtomicUsize>);

impl Progress {
    /// Counts one more.
    pub fn bump(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }

    /// The count so far.
    pub fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

impl PartialEq for Progress {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for Progress {}

/// The payload of the `i`-th message of an [`App::Flood`]: its index, then a pattern that
/// depends on the index, so a torn, reordered or duplicated message shows.
pub fn flood_payload(i: usize, size: usize) -> Vec<u8> {
    let mut v: Vec<u8> = (0..size).map(|j| (i.wrapping_mul(31).wrapping_add(j)) as u8).collect();
    let index = (i as u32).to_be_bytes();
    let n = size.min(4);
    v[..n].copy_from_slice(&index[..n]);
    v
}

/// The kind of error an application saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrKind {
    /// The peer broke the protocol or a limit (`Error::Protocol`).
    Protocol,
    /// The transport failed (`Error::Io`).
    Io,
    /// The application misused the API (`Error::Usage`), e.g. sending after close.
    Usage,
    /// Anything else.
    Other,
}

/// Which call returned the error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `recv`.
    Recv,
    /// `send`.
    Send,
    /// `close`.
    Close,
}

/// How the application's receive loop (or its writer) ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// `recv` returned `None` (or, for a writer, it finished without an error).
    None,
    /// A call returned its first `Err`; the application stopped there.
    Err {
        /// The call.
        op: Op,
        /// `Error::close_code()`.
        close_code: Option<u16>,
        /// The error's kind.
        kind: ErrKind,
        /// The error's `Display`.
        text: String,
    },
}

impl End {
    /// The close code of an `Err`.
    pub fn close_code(&self) -> Option<u16> {
        match self {
            End::Err { close_code, .. } => *close_code,
            End::None => None,
        }
    }
}

/// What an application run recorded.
#[derive(Debug, Clone)]
pub struct Report {
    /// Every message `recv` returned, with the instant it returned.
    pub messages: Vec<(Instant, Message)>,
    /// How the receive loop ended.
    pub end: End,
    /// How the writer task ended (split applications), if it ended with an error.
    pub writer_end: Option<End>,
    /// `close_info()` when the application stopped.
    pub close_info: Option<CloseInfo>,
    /// `last_rtt()` when the application stopped.
    pub last_rtt: Option<Duration>,
    /// When each send of an [`App::Flood`] returned.
    pub sent: Vec<Instant>,
    /// Receives abandoned because the timer won ([`App::EchoCancelling`]).
    pub cancelled: usize,
}

impl Default for Report {
    fn default() -> Self {
        Report {
            messages: Vec::new(),
            end: End::None,
            writer_end: None,
            close_info: None,
            last_rtt: None,
            sent: Vec::new(),
            cancelled: 0,
        }
    }
}

impl Report {
    /// The messages alone.
    pub fn received(&self) -> Vec<Message> {
        self.messages.iter().map(|(_, m)| m.clone()).collect()
    }
}

/// How a receive loop would have ended, from how the connection ended (for callback APIs,
/// which report the end in one `CloseInfo`): a peer's violation or exceeded limit
/// ([`CloseInfo::error`]) is `Err` of kind `Protocol` with its close code, a failed transport
/// is `Err` of kind `Io`, anything else `None`.
pub(crate) fn end_of(info: &CloseInfo) -> End {
    if let Some(e) = info.error() {
        let close_code = e.close_code().map(|c: CloseCode| c.0);
        return End::Err { op: Op::Recv, close_code, kind: ErrKind::Protocol, text: e.to_string() };
    }
    match info.cause {
        CloseCause::TransportError => End::Err {
            op: Op::Recv,
            close_code: None,
            kind: ErrKind::Io,
            text: "the transport failed".into(),
        },
        _ => End::None,
    }
}

/// A running application: join it with [`join_within`](Self::join_within).
#[derive(Debug)]
pub struct AppHandle {
    name: String,
    thread: Option<JoinHandle<Report>>,
}

impl AppHandle {
    /// Runs `f` in a thread named `name`.
    pub fn spawn(name: &str, f: impl FnOnce() -> Report + Send + 'static) -> AppHandle {
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(f)
            .expect("spawn the application thread");
        AppHandle { name: name.to_owned(), thread: Some(thread) }
    }

    /// Waits for the application to finish, at most `within`: fails the test if it has not,
    /// and re-raises a panic of the application or of its handler tasks.
    pub fn join_within(mut self, within: Duration) -> Report {
        let thread = self.thread.take().expect("joined once");
        let deadline = Instant::now() + within;
        while !thread.is_finished() {
            assert!(
                Instant::now() < deadline,
                "{}: the application did not finish within {within:?}",
                self.name
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        match thread.join() {
            Ok(report) => report,
            Err(panic) => resume_unwind(panic),
        }
    }
}
