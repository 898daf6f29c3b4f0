//! Client side: connect to a `ws://` or `wss://` URL, or run the handshake on any stream.

use std::io;
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Instant;

use ws_common::ConnectPlan;
use ws_proto::Config;
use ws_proto::handshake::{ClientHandshake, ClientRequest, Handshake, HandshakeError, Response};

use crate::Error;
use crate::stream::MaybeTlsStream;
use crate::transport::Transport;
use crate::upgrade::{drive, result};
use crate::websocket::WebSocket;

pub use ws_common::ClientTlsConfig;

/// The connection [`connect`] returns.
pub type ClientSocket = WebSocket<MaybeTlsStream<TcpStream>>;

/// Connects to `url` (`ws://` or `wss://`) with the default [`Config`].
///
/// Resolves the host, opens TCP (with `TCP_NODELAY`), runs TLS for `wss://` (trusting the
/// webpki root certificates) and the opening handshake. Returns the connection and the server's
/// response (headers, chosen subprotocol).
///
/// ```no_run
/// let (mut ws, _response) = ws_blocking::connect("ws://127.0.0.1:9001/")?;
/// ws.send_text("hello")?;
/// println!("{:?}", ws.recv());
/// # Ok::<(), ws_blocking::Error>(())
/// ```
pub fn connect(url: &str) -> Result<(ClientSocket, Response), Error> {
    connect_with(url, |request| request, Config::default(), None)
}

/// Connects to `url` with a customised request, a [`Config`] and optionally a TLS client
/// configuration (e.g. one trusting a private CA; `None`: the webpki roots).
///
/// `customize` receives the request built from the URL and adds headers, subprotocols, an
/// `Origin`. Name resolution, connecting and the handshake together are bounded by
/// `config.handshake_timeout`.
///
/// ```no_run
/// use ws_blocking::{Config, connect_with};
/// let (ws, response) = connect_with(
///     "wss://example.com/chat",
///     |req| req.protocol("chat.v1").header("Authorization", "Bearer abc"),
///     Config::default(),
///     None,
/// )?;
/// assert_eq!(ws.protocol(), response.protocol.as_deref());
/// # Ok::<(), ws_blocking::Error>(())
/// ```
pub fn connect_with(
    url: &str,
    customize: impl FnOnce(ClientRequest) -> ClientRequest,
    config: Config,
    tls: Option<ClientTlsConfig>,
) -> Result<(ClientSocket, Response), Error> {
    let ConnectPlan { host, port, tls: wss, request } =
        ConnectPlan::new(url, customize, cfg!(feature = "tls"))?;
    let hs = ClientHandshake::new(request, config, Instant::now())?;
    let deadline = hs.poll_timeout().unwrap_or_else(Instant::now);
    let tcp = connect_tcp(&host, port, deadline)?;
    tcp.set_nodelay(true)?;
    let stream = if wss { wrap_tls(tcp, &host, tls)? } else { MaybeTlsStream::Plain(tcp) };
    handshake(stream, hs)
}

#[cfg(feature = "tls")]
fn wrap_tls(
    tcp: TcpStream,
    host: &str,
    tls: Option<ClientTlsConfig>,
) -> Result<MaybeTlsStream<TcpStream>, Error> {
    crate::tls::client_stream(tcp, host, tls)
}

#[cfg(not(feature = "tls"))]
fn wrap_tls(
    _tcp: TcpStream,
    _host: &str,
    _tls: Option<ClientTlsConfig>,
) -> Result<MaybeTlsStream<TcpStream>, Error> {
    // ConnectPlan refused wss:// already.
    Err(Error::TlsNotEnabled)
}

fn connect_tcp(host: &str, port: u16, deadline: Instant) -> Result<TcpStream, Error> {
    let timeout = || Error::Handshake(HandshakeError::Timeout);
    let mut last = None;
    for addr in (host, port).to_socket_addrs()? {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(timeout());
        }
        match TcpStream::connect_timeout(&addr, left) {
            Ok(tcp) => return Ok(tcp),
            Err(e) => last = Some(e),
        }
    }
    Err(match last {
        Some(e) if e.kind() == io::ErrorKind::TimedOut => timeout(),
        Some(e) => e.into(),
        None => io::Error::new(io::ErrorKind::NotFound, "the host has no address").into(),
    })
}

/// Runs the client handshake on an already connected `stream` (plain, TLS, a Unix socket, a
/// proxy tunnel…) and returns the connection with the server's response.
///
/// The response's header block is bounded by `config.handshake_limits` and the handshake by
/// `config.handshake_timeout`. A refusal (any status but 101) fails with
/// [`Error::Handshake`]; [`Error::status`] gives the server's status.
///
/// ```no_run
/// use std::net::TcpStream;
/// use ws_blocking::{ClientRequest, Config, client};
/// let tcp = TcpStream::connect("127.0.0.1:9001")?;
/// let request = ClientRequest::new("127.0.0.1:9001", "/chat").protocol("chat.v1");
/// let (ws, response) = client(tcp, request, Config::default())?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn client<S: Transport>(
    stream: S,
    request: ClientRequest,
    config: Config,
) -> Result<(WebSocket<S>, Response), Error> {
    handshake(stream, ClientHandshake::new(request, config, Instant::now())?)
}

fn handshake<S: Transport>(
    mut stream: S,
    mut hs: ClientHandshake,
) -> Result<(WebSocket<S>, Response), Error> {
    let io_error = drive(&mut stream, &mut hs, |_| {});
    let (conn, response) = result(hs.finish(), io_error)?;
    Ok((WebSocket::after_handshake(stream, conn), response))
}
