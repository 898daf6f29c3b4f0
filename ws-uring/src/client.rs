//! The client: outgoing connections on one ring, driven by the same loop and the same
//! [`Handler`] callbacks as the server's connections.

use std::net::ToSocketAddrs;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use ws_proto::Config;
use ws_proto::handshake::{ClientHandshake, ClientRequest, WsUrl};

use crate::server::{ConnId, Stats};
use crate::{Error, Handler};

/// An io_uring WebSocket client: one ring on the calling thread, any number of connections.
///
/// [`connect`](Self::connect) queues a connection (each with a handler of its own), and
/// [`run`](Self::run) drives every queued connection to its end on the calling thread, then
/// returns; connect more and run again as needed. Connections are opened with an io_uring
/// `connect` (TCP_NODELAY set, as the server sets it), then the client handshake of
/// [`ws_proto`] (permessage-deflate offered when [`Config::deflate`](ws_proto::Config) allows
/// it), and from there on they run exactly as the server's: the same receive, send, timer and
/// close machinery, the same [`Handler`] callbacks (`on_open` once the `101` is checked;
/// [`Handler::accept`] is never called). Frames are masked by the core (client role).
///
/// A connection that never opens (refused, timed out, handshake refused) reaches
/// [`Handler::on_connect_failed`] instead of `on_open` and `on_close`.
///
/// ```no_run
/// use ws_uring::{Client, Config, Conn, Handler, Message};
///
/// #[derive(Clone)]
/// struct Hello;
///
/// impl Handler for Hello {
///     fn on_open(&mut self, conn: &mut Conn<'_>) {
///         let _ = conn.send_text("hello");
///     }
///     fn on_message(&mut self, conn: &mut Conn<'_>, message: Message) {
///         println!("{message:?}");
///         let _ = conn.close(ws_uring::CloseCode::NORMAL, "");
///     }
/// }
///
/// let mut client = Client::new(Config::default())?;
/// for _ in 0..100 {
///     client.connect("ws://127.0.0.1:9001/", Hello)?;
/// }
/// client.run()?;
/// # Ok::<(), ws_uring::Error>(())
/// ```
///
/// Not supported: `wss://` ([`Error::TlsUnsupported`]: ws-uring has no TLS), HTTP proxies,
/// and trying a host's further addresses when the first refuses (the first address the name
/// resolves to is used).
pub struct Client<H: Handler> {
    #[cfg(target_os = "linux")]
    worker: crate::worker::Worker<H>,
    #[cfg(not(target_os = "linux"))]
    _handler: std::marker::PhantomData<H>,
    stats: Arc<Stats>,
    config: Config,
}

impl<H: Handler> std::fmt::Debug for Client<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("open", &self.open_connections()).finish_non_exhaustive()
    }
}

impl<H: Handler> Client<H> {
    /// Sets a ring up on the calling thread; every connection runs with `config` (limits,
    /// timers, permessage-deflate; `handshake_timeout` bounds connecting and the handshake
    /// together). Fails with [`Error::Unsupported`] where io_uring is unavailable.
    pub fn new(config: Config) -> Result<Client<H>, Error> {
        let stats = Arc::new(Stats::default());
        #[cfg(target_os = "linux")]
        {
            let worker = crate::worker::Worker::new(config.clone(), true, stats.clone())?;
            Ok(Client { worker, stats, config })
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = (stats, config);
            Err(crate::unsupported())
        }
    }

    /// Queues a connection to `url` (`ws://host[:port][/path]`), driven by `handler` once
    /// [`run`](Self::run) runs. The host is resolved here, blocking (std's `ToSocketAddrs`);
    /// the handshake's deadline starts after it.
    ///
    /// Fails at once, with no connection queued, for an invalid URL
    /// ([`Error::Handshake`] with `InvalidUrl`), `wss://` ([`Error::TlsUnsupported`]), a name
    /// that does not resolve ([`Error::Io`]) or a socket that cannot be made. Anything later
    /// (refused, timed out, handshake refused) reaches [`Handler::on_connect_failed`].
    pub fn connect(&mut self, url: &str, handler: H) -> Result<ConnId, Error> {
        self.connect_with(url, |request| request, handler)
    }

    /// [`connect`](Self::connect) with a customised request: `customize` receives the request
    /// built from the URL and adds headers, subprotocols, an `Origin`.
    pub fn connect_with(
        &mut self,
        url: &str,
        customize: impl FnOnce(ClientRequest) -> ClientRequest,
        handler: H,
    ) -> Result<ConnId, Error> {
        let url = WsUrl::parse(url)?;
        if url.tls {
            return Err(Error::TlsUnsupported);
        }
        let addr = (url.host.as_str(), url.port).to_socket_addrs()?.next().ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::NotFound, "the host has no address")
        })?;
        let request = customize(ClientRequest::from_url(&url));
        let hs = ClientHandshake::new(request, self.config.clone(), Instant::now())?;
        #[cfg(target_os = "linux")]
        {
            self.worker.connect(addr, hs, handler)
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = (addr, hs, handler);
            Err(crate::unsupported())
        }
    }

    /// Drives every queued connection to its end (opened, exchanged, closed and its socket
    /// closed, or failed to open) on the calling thread, then returns. Fails only if the ring
    /// itself fails; connections' errors reach their handlers.
    pub fn run(&mut self) -> Result<(), Error> {
        #[cfg(target_os = "linux")]
        {
            self.worker.run_until_idle()
        }
        #[cfg(not(target_os = "linux"))]
        Err(crate::unsupported())
    }

    /// Connections queued or open and not yet ended.
    pub fn open_connections(&self) -> usize {
        self.stats.open.load(Ordering::Relaxed)
    }
}

impl<H: Handler> Drop for Client<H> {
    /// Connections still open are dropped at once (no close handshake), as a stopped server's.
    fn drop(&mut self) {
        #[cfg(target_os = "linux")]
        self.worker.stop();
    }
}
