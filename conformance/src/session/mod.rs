//! One synchronous interface over the three adapters, so that each script (the Autobahn client,
//! the interop client and server) is written once and runs on every adapter.
//!
//! A [`Session`] owns one WebSocket of one adapter: `ws-tokio` on a current-thread tokio
//! runtime, `ws-async-std` on async-std's executor, `ws-blocking` directly. Every connection
//! made here enables permessage-deflate ([`config`]).

mod async_std;
mod blocking;
mod tokio;

use std::fmt;
use std::net::TcpStream;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use ws_proto::handshake::{Accept, ClientRequest, Request};
use ws_proto::{CloseCode, CloseInfo, Config, Message, MessageKind};
use ws_tokio::tls::rustls;

/// The error type of the harness: anything that went wrong, with its message.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// [`Session::recv`] waited longer than its timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimedOut;

impl fmt::Display for TimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("timed out waiting for a message")
    }
}

impl std::error::Error for TimedOut {}

/// The adapter crates of the workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Adapter {
    /// `ws-tokio`.
    Tokio,
    /// `ws-async-std` (run on async-std here).
    AsyncStd,
    /// `ws-blocking`.
    Blocking,
}

impl Adapter {
    /// Every adapter, in the order reports list them.
    pub const ALL: [Adapter; 3] = [Adapter::Tokio, Adapter::AsyncStd, Adapter::Blocking];

    /// The short name used on command lines: `tokio`, `async-std`, `blocking`.
    pub fn name(self) -> &'static str {
        match self {
            Adapter::Tokio => "tokio",
            Adapter::AsyncStd => "async-std",
            Adapter::Blocking => "blocking",
        }
    }

    /// The crate: `ws-tokio`, `ws-async-std`, `ws-blocking`.
    pub fn crate_name(self) -> &'static str {
        match self {
            Adapter::Tokio => "ws-tokio",
            Adapter::AsyncStd => "ws-async-std",
            Adapter::Blocking => "ws-blocking",
        }
    }

    /// Connects to `url` (`ws://` or `wss://`) offering `protocols`; `ca` is a PEM file whose
    /// certificates are the only ones trusted for `wss://` (the webpki roots without it).
    pub fn connect(
        self,
        url: &str,
        protocols: &[&str],
        ca: Option<&Path>,
    ) -> Result<Box<dyn Session>, BoxError> {
        let tls = ca.map(client_tls).transpose()?;
        let offer: Vec<String> = protocols.iter().map(|p| p.to_string()).collect();
        let customize =
            move |request: ClientRequest| offer.into_iter().fold(request, |r, p| r.protocol(p));
        match self {
            Adapter::Tokio => tokio::connect(url, customize, config(), tls),
            Adapter::AsyncStd => async_std::connect(url, customize, config(), tls),
            Adapter::Blocking => blocking::connect(url, customize, config(), tls),
        }
    }

    /// Runs the server handshake (and TLS first, with `tls`) on an accepted connection,
    /// choosing the first offered subprotocol that is in `protocols`.
    pub fn accept(
        self,
        tcp: TcpStream,
        tls: Option<&ServerTls>,
        protocols: &[&str],
    ) -> Result<Box<dyn Session>, BoxError> {
        tcp.set_nodelay(true)?;
        let choose = |request: &Request| choose_protocol(request, protocols);
        let tls = tls.map(|t| t.0.clone());
        match self {
            Adapter::Tokio => tokio::accept(tcp, tls, config(), &choose),
            Adapter::AsyncStd => async_std::accept(tcp, tls, config(), &choose),
            Adapter::Blocking => blocking::accept(tcp, tls, config(), &choose),
        }
    }
}

impl fmt::Display for Adapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Adapter {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Adapter::ALL
            .into_iter()
            .find(|a| a.name() == s || a.crate_name() == s)
            .ok_or_else(|| format!("unknown adapter {s:?} (tokio, async-std or blocking)"))
    }
}

/// One open WebSocket, driven synchronously.
pub trait Session {
    /// The next message: `Ok(None)` once the connection is closed, [`TimedOut`] after
    /// `timeout` without one (the connection stays usable).
    fn recv(&mut self, timeout: Option<Duration>) -> Result<Option<Message>, BoxError>;

    /// Sends a message (data, Ping, Pong or Close) and waits until it is written.
    fn send(&mut self, message: Message) -> Result<(), BoxError>;

    /// Sends one fragment of a `kind` message; `fin` ends it.
    fn send_fragment(&mut self, kind: MessageKind, data: &[u8], fin: bool) -> Result<(), BoxError>;

    /// Sends a Ping.
    fn ping(&mut self, payload: &[u8]) -> Result<(), BoxError>;

    /// Starts the closing handshake.
    fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), BoxError>;

    /// The subprotocol agreed in the handshake.
    fn protocol(&self) -> Option<String>;

    /// Whether permessage-deflate was agreed, when the adapter tells.
    fn deflate(&self) -> Option<bool>;

    /// How the connection ended, once it has.
    fn close_info(&self) -> Option<CloseInfo>;
}

/// The configuration of every connection in the harness: the defaults, plus
/// permessage-deflate with its default parameters (offered by clients, accepted by servers).
pub fn config() -> Config {
    let mut config = Config::default();
    config.deflate = Some(Default::default());
    config
}

/// A TLS server configuration (certificate chain and key) for [`Adapter::accept`].
#[derive(Clone)]
pub struct ServerTls(Arc<rustls::ServerConfig>);

impl ServerTls {
    /// Loads a PEM certificate chain and private key.
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<ServerTls, BoxError> {
        Ok(ServerTls(ws_tokio::tls::server_config_from_pem_files(cert, key)?))
    }
}

impl fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ServerTls")
    }
}

/// The roots a client trusts: exactly the certificates of the PEM file `ca`.
fn client_tls(ca: &Path) -> Result<rustls::RootCertStore, BoxError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca)? {
        roots.add(cert?)?;
    }
    if roots.is_empty() {
        return Err(format!("no certificate in {}", ca.display()).into());
    }
    Ok(roots)
}

/// Accepts the request, with the first offered subprotocol we support.
fn choose_protocol(request: &Request, supported: &[&str]) -> Accept {
    match request.protocols().iter().find(|p| supported.contains(&p.as_str())) {
        Some(protocol) => Accept::new().protocol(protocol.as_str()),
        None => Accept::new(),
    }
}

/// The server's answer to a handshake request (all adapters accept; only the protocol varies).
type Chooser<'a> = &'a dyn Fn(&Request) -> Accept;
