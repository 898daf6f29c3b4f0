//! The public API: [`Server`] (bind, configure, run), [`Handler`] (what the application does
//! with each connection's messages) and [`Conn`] (what it can do back).

use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Instant;

use ws_proto::handshake::{Accept, Rejection, Request};
use ws_proto::{
    Bytes, CloseCode, CloseInfo, Config, Connection, Message, PreparedFrame, UsageError,
};

use crate::Error;

/// Identifies a connection for as long as the server runs: unique across threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub(crate) u64);

impl ConnId {
    /// The number: connections are numbered from 1 per server, in the order they are accepted
    /// by each thread (interleaved across threads).
    pub fn get(self) -> u64 {
        self.0
    }
}

/// What the application does with connections. One clone runs on each server thread, and is
/// called from that thread only: a handler needs no locks for its own state (state shared
/// across threads is the handler's to share, e.g. behind an `Arc`).
///
/// Every method runs on the event loop: it must not block. What it sends is queued and goes
/// out with the loop's next batch of sends (one submission for every connection's output).
///
/// **Backpressure.** Sending never waits and the core never refuses to queue, so a handler
/// that sends faster than its peer reads grows the connection's output without bound. The
/// bound is the handler's to keep, with `Config::write_buffer_high_water`: send while
/// [`Conn::has_room`] (or, as a `send` that waits until written would, send the next message
/// once [`Conn::buffered`] is 0), and carry on in [`on_writable`](Handler::on_writable).
/// Meanwhile the server stops reading a connection whose unwritten output is above the mark,
/// so a peer that does not read cannot make the core queue Pongs without end either.
///
/// **Panics.** A panic in a handler method ends only that connection: it is caught, the
/// connection is closed with 1011 (internal error: the close handshake, bounded by
/// `close_timeout`), no further `on_message` or `on_writable` reaches it, and
/// [`on_close`](Handler::on_close) still does; the thread goes on serving its other
/// connections. A panic in [`accept`](Handler::accept) refuses the request with 500. As with
/// a panicking task elsewhere, state the handler shares between connections (its own fields,
/// anything behind an `Arc`) may be left half-updated by the panic. (Built with
/// `panic = "abort"`, a panic ends the process, as it does anywhere.)
pub trait Handler: Clone + Send + 'static {
    /// Decides on an upgrade request: accept (choosing a subprotocol or extensions) or refuse
    /// with a status. The default accepts, with permessage-deflate if the server's
    /// [`Config::deflate`](ws_proto::Config) allows it and the client offers it.
    fn accept(&mut self, request: &Request) -> Result<Accept, Rejection> {
        let _ = request;
        Ok(Accept::new())
    }

    /// A connection is open (the `101` is queued).
    fn on_open(&mut self, conn: &mut Conn<'_>) {
        let _ = conn;
    }

    /// A whole message arrived: Text and Binary, and also Ping, Pong and Close, which the core
    /// has already answered (the Pong and the Close reply are queued).
    fn on_message(&mut self, conn: &mut Conn<'_>, message: Message);

    /// The kernel took some of this connection's output and what is left unwritten
    /// ([`Conn::buffered`]) is at most `Config::write_buffer_high_water` ([`Conn::has_room`]):
    /// a handler that held back sends for backpressure can go on. Called after every send
    /// that completes under that condition (so a handler waiting for `buffered() == 0` sees
    /// it), never while the connection is closing or closed.
    fn on_writable(&mut self, conn: &mut Conn<'_>) {
        let _ = conn;
    }

    /// The connection ended: `info` says how (its [`CloseInfo::error`] is the peer's
    /// violation, if that was the cause). Called once per opened connection, last.
    fn on_close(&mut self, id: ConnId, info: &CloseInfo) {
        let _ = (id, info);
    }

    /// (Client) The connection [`Client::connect`](crate::Client::connect) queued never
    /// opened: the connect failed ([`Error::Io`], e.g. `ConnectionRefused`), or the opening
    /// handshake did ([`Error::Handshake`]: refused with a status, a bad response, the peer
    /// closed, or `Config::handshake_timeout` passed, which bounds connect and handshake
    /// together). Called once, instead of `on_open` and `on_close`. The default writes the
    /// error to stderr.
    ///
    /// A separate callback rather than `on_close`: a [`CloseInfo`] describes how an open
    /// WebSocket ended (close codes, the peer's violation), while this connection had none,
    /// and its error (an HTTP status, an errno) fits none of `CloseInfo`'s causes.
    fn on_connect_failed(&mut self, id: ConnId, error: &Error) {
        eprintln!("ws-uring: connection {} failed to open: {error}", id.get());
    }
}

/// One connection, as a [`Handler`] sees it during a call: send, ping, close.
///
/// Sending only queues bytes in the connection (no IO): the loop writes them after the
/// handler returns, batched with every other connection's output.
#[derive(Debug)]
pub struct Conn<'a> {
    pub(crate) id: ConnId,
    pub(crate) conn: &'a mut Connection,
    pub(crate) now: Instant,
    /// Bytes taken from the core and not yet written by the kernel (in flight or left over).
    pub(crate) unsent: usize,
}

impl Conn<'_> {
    /// This connection's identity.
    pub fn id(&self) -> ConnId {
        self.id
    }

    /// Bytes this connection has queued that the kernel has not taken yet: frames still in the
    /// core's queue, and sends in flight or cut short. Sending adds to it; it goes down as
    /// the peer reads (see [`Handler::on_writable`]).
    pub fn buffered(&self) -> usize {
        self.unsent + self.conn.transmit_len()
    }

    /// True while [`buffered`](Self::buffered) is at most `Config::write_buffer_high_water`:
    /// sending more is within the bound. Once false, wait for [`Handler::on_writable`].
    pub fn has_room(&self) -> bool {
        self.buffered() <= self.conn.config().write_buffer_high_water
    }

    /// Sends a whole message (Text, Binary, Ping, Pong or Close).
    pub fn send(&mut self, message: Message) -> Result<(), UsageError> {
        self.conn.send_message(self.now, message)
    }

    /// Sends a text message.
    pub fn send_text(&mut self, text: impl Into<ws_proto::Utf8Bytes>) -> Result<(), UsageError> {
        self.conn.send_text(text.into())
    }

    /// Sends a binary message.
    pub fn send_binary(&mut self, data: impl Into<Bytes>) -> Result<(), UsageError> {
        self.conn.send_binary(data.into())
    }

    /// Sends a frame encoded once for many connections (see [`PreparedFrame`]).
    pub fn send_prepared(&mut self, frame: &PreparedFrame) -> Result<(), UsageError> {
        self.conn.send_prepared(frame)
    }

    /// Sends a Ping.
    pub fn ping(&mut self, payload: &[u8]) -> Result<(), UsageError> {
        self.conn.ping(self.now, payload)
    }

    /// Starts the close handshake with `code` and `reason`.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), UsageError> {
        self.conn.close(self.now, code, reason)
    }

    /// The connection's state machine, for what the methods above do not cover (negotiated
    /// subprotocol, queued bytes, round-trip time).
    pub fn connection(&mut self) -> &mut Connection {
        self.conn
    }
}

/// Counters shared by the server's threads.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub(crate) open: AtomicUsize,
    pub(crate) next_id: AtomicU64,
    /// Reads into a connection's receive room in flight (updated once per loop turn).
    pub(crate) rooms_in_flight: AtomicUsize,
    /// Reads into a connection's receive room completed.
    pub(crate) room_reads: AtomicU64,
}

/// An io_uring WebSocket server: bind, configure, then [`run`](Server::run) (blocking) or
/// [`start`](Server::start) (threads in the background, with a handle to stop them).
///
/// ```no_run
/// use ws_uring::{Conn, Handler, Message, Server};
///
/// #[derive(Clone)]
/// struct Echo;
///
/// impl Handler for Echo {
///     fn on_message(&mut self, conn: &mut Conn<'_>, message: Message) {
///         if message.is_data() {
///             let _ = conn.send(message);
///         }
///     }
/// }
///
/// Server::bind("127.0.0.1:9001")?.threads(2).run(Echo)?;
/// # Ok::<(), ws_uring::Error>(())
/// ```
#[derive(Debug)]
pub struct Server {
    /// The first thread's listener: bound here, so port 0 resolves before the others bind.
    listener: TcpListener,
    threads: usize,
    config: Config,
    multishot: bool,
    /// The listener came from the application: threads beyond the first accept on duplicates
    /// of its descriptor instead of binding listeners of their own.
    shared: bool,
}

impl Server {
    /// Binds the first listener (with `SO_REUSEPORT`: each thread gets its own listener on the
    /// same address when the server starts).
    pub fn bind(addr: impl ToSocketAddrs) -> Result<Server, Error> {
        let addr = addr
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| std::io::Error::other("no address to bind"))?;
        let listener = crate::listen(addr)?;
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        Ok(Server { listener, threads, config: Config::default(), multishot: true, shared: false })
    }

    /// Serves on a listener the application bound (or received: socket activation, a port
    /// chosen elsewhere), with one thread unless [`threads`](Self::threads) says otherwise.
    ///
    /// The listener is used as it is: no `SO_REUSEPORT` is needed. With more than one thread,
    /// every thread accepts on this same socket (a duplicate of its descriptor), so the kernel
    /// hands each connection to whichever thread's accept is ready, instead of spreading them
    /// across per-thread listeners as [`bind`](Self::bind) does.
    ///
    /// ```no_run
    /// # use ws_uring::{Conn, Handler, Message, Server};
    /// # #[derive(Clone)] struct Echo;
    /// # impl Handler for Echo { fn on_message(&mut self, _: &mut Conn<'_>, _: Message) {} }
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let running = Server::from_listener(listener).start(Echo)?;
    /// println!("listening on ws://{}", running.local_addr());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_listener(listener: TcpListener) -> Server {
        Server { listener, threads: 1, config: Config::default(), multishot: true, shared: true }
    }

    /// Runs `n` threads, each with its own ring and listener (default: the available cores).
    pub fn threads(mut self, n: usize) -> Self {
        self.threads = n.max(1);
        self
    }

    /// The configuration every connection runs with (limits, timers, permessage-deflate).
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Whether to receive with multishot operations where the kernel has them (the default,
    /// detected at start: one submission per connection for all its reads). `false` re-arms
    /// a single-shot receive after every read, as on kernels without them (Linux 5.19).
    pub fn multishot_recv(mut self, on: bool) -> Self {
        self.multishot = on;
        self
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> Result<SocketAddr, Error> {
        Ok(self.listener.local_addr()?)
    }

    /// Starts the threads and returns once every one of them has set its ring up (or with the
    /// first one's error, e.g. [`Error::Unsupported`]).
    pub fn start<H: Handler>(self, handler: H) -> Result<Running, Error> {
        let addr = self.listener.local_addr()?;
        let stats = Arc::new(Stats::default());
        let (stop_tx, stop_rx) = crate::stop_pair()?;
        let stop_rx = Arc::new(stop_rx);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let mut threads = Vec::with_capacity(self.threads);
        // Every listener first, so a failure leaves no thread running.
        let mut listeners = Vec::with_capacity(self.threads);
        for _ in 1..self.threads {
            let listener =
                if self.shared { self.listener.try_clone()? } else { crate::listen(addr)? };
            listeners.push(listener);
        }
        listeners.push(self.listener);
        for (n, listener) in listeners.into_iter().rev().enumerate() {
            let setup = crate::WorkerSetup {
                listener,
                config: self.config.clone(),
                multishot: self.multishot,
                stats: stats.clone(),
                stop: stop_rx.clone(),
                ready: ready_tx.clone(),
            };
            let handler = handler.clone();
            let thread = std::thread::Builder::new()
                .name(format!("ws-uring-{n}"))
                .spawn(move || crate::run_worker(setup, handler))?;
            threads.push(thread);
        }
        drop(ready_tx);
        let running = Running { addr, stats, stop: Some(stop_tx), threads };
        for _ in 0..running.threads.len() {
            match ready_rx.recv() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    let _ = running.stop();
                    return Err(e);
                }
                Err(_) => break,
            }
        }
        Ok(running)
    }

    /// Starts the threads and blocks until they end (on an error: a running server only stops
    /// through [`Running::stop`], so use [`start`](Self::start) for that).
    pub fn run<H: Handler>(self, handler: H) -> Result<(), Error> {
        self.start(handler)?.join()
    }
}

/// A started server: its address, its open connections, and the means to stop it.
#[derive(Debug)]
pub struct Running {
    addr: SocketAddr,
    stats: Arc<Stats>,
    stop: Option<crate::StopTx>,
    threads: Vec<JoinHandle<Result<(), Error>>>,
}

impl Running {
    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Connections accepted and not yet freed (handshakes in progress included), across threads.
    pub fn open_connections(&self) -> usize {
        self.stats.open.load(Ordering::Relaxed)
    }

    /// Reads that went straight into a connection's receive buffer (the rest of a large
    /// frame: see the crate documentation), completed since the start, across threads.
    pub fn room_reads(&self) -> u64 {
        self.stats.room_reads.load(Ordering::Relaxed)
    }

    /// Such reads in flight now, across threads (as of each thread's last loop turn).
    pub fn room_reads_in_flight(&self) -> usize {
        self.stats.rooms_in_flight.load(Ordering::Relaxed)
    }

    /// Stops every thread: listeners and connections are closed at once (no close handshake),
    /// and waits for the threads to end.
    pub fn stop(mut self) -> Result<(), Error> {
        if let Some(mut stop) = self.stop.take() {
            // Readable from now on: every thread's poll on the other end completes.
            crate::signal_stop(&mut stop);
            self.stop = Some(stop);
        }
        self.join()
    }

    /// Waits for every thread to end; the first error, if any.
    pub fn join(mut self) -> Result<(), Error> {
        let mut result = Ok(());
        for thread in self.threads.drain(..) {
            let outcome = thread.join().unwrap_or_else(|_| {
                Err(Error::Io(std::io::Error::other("a server thread panicked")))
            });
            if result.is_ok() {
                result = outcome;
            }
        }
        result
    }
}
