//! The entry points every async adapter offers, written once: connect to a URL, run the client
//! handshake on a stream, accept on a stream (with a synchronous or an asynchronous decision),
//! and accept over TLS. An adapter's public functions are these, with its runtime named.

use std::future::{Future, ready};
use std::io;
use std::time::Instant;

use ws_proto::Config;
use ws_proto::handshake::{
    Accept, ClientHandshake, ClientRequest, Handshake, Rejection, Request, Response,
    ServerHandshake,
};

use super::handshake::{client_handshake, server_handshake};
use super::{Runtime, StreamIo, WebSocket, within};
use crate::{ClientTlsConfig, ConnectPlan, Error, MaybeTls};

/// A runtime binding that also opens TCP connections and runs TLS clients: what
/// [`connect_with`] needs.
pub trait Net: Runtime {
    /// The runtime's TCP stream.
    type Tcp: Send + Unpin + 'static;
    /// The runtime's TLS client stream over [`Tcp`](Self::Tcp) ([`NoTls`](crate::NoTls)
    /// without TLS support).
    type TlsClient: Send + Unpin + 'static;
    /// Whether this binding was built with TLS (`wss://` URLs fail without it).
    const TLS: bool;

    /// Resolves `host` and connects to the first address that answers, with `TCP_NODELAY`.
    fn connect_tcp(host: String, port: u16) -> impl Future<Output = io::Result<Self::Tcp>> + Send;

    /// Runs the TLS client handshake with `host` over `tcp` (`config`: `None` for
    /// [`tls::default_client_config`](crate::tls::default_client_config)).
    fn connect_tls(
        tcp: Self::Tcp,
        host: String,
        config: Option<ClientTlsConfig>,
    ) -> impl Future<Output = Result<Self::TlsClient, Error>> + Send;
}

/// The socket [`connect_with`] returns on runtime `R`.
pub type ClientSocket<R> = WebSocket<MaybeTls<<R as Net>::Tcp, <R as Net>::TlsClient>, R>;

/// Connects to a `ws://` or `wss://` URL: DNS, TCP (with `TCP_NODELAY`), TLS for `wss://` and
/// the opening handshake, all bounded by `config.handshake_timeout`. `customize` edits the
/// request (headers, subprotocols, origin); `tls` replaces the default TLS configuration.
///
/// Returns the socket and the server's handshake response. A refusal is [`Error::Handshake`]
/// with `is_rejection()` and [`Error::status`].
pub async fn connect_with<R>(
    url: &str,
    customize: impl FnOnce(ClientRequest) -> ClientRequest,
    config: Config,
    tls: Option<ClientTlsConfig>,
) -> Result<(ClientSocket<R>, Response), Error>
where
    R: Net + StreamIo<MaybeTls<R::Tcp, R::TlsClient>>,
{
    let ConnectPlan { host, port, tls: wss, request } = ConnectPlan::new(url, customize, R::TLS)?;
    let hs = ClientHandshake::new(request, config, Instant::now())?;
    let deadline = hs.poll_timeout();
    // Boxed so that a task which connects and then serves does not keep the setup's buffers
    // (and a TLS handshake's) in its future for the connection's whole life.
    let setup = Box::pin(async move {
        let tcp = R::connect_tcp(host.clone(), port).await?;
        let stream = match wss {
            true => MaybeTls::Tls(Box::new(R::connect_tls(tcp, host, tls).await?)),
            false => MaybeTls::Plain(tcp),
        };
        client_handshake(stream, hs).await
    });
    within::<R, _>(deadline, setup).await
}

/// Runs the client handshake over an already connected `stream`, bounded by
/// `config.handshake_timeout`. `request` names the host and resource and carries headers and
/// subprotocol offers; the offers `config` enables (permessage-deflate) and its header limits
/// are added.
pub async fn client<S, R: StreamIo<S>>(
    stream: S,
    request: ClientRequest,
    config: Config,
) -> Result<(WebSocket<S, R>, Response), Error> {
    let hs = ClientHandshake::new(request, config, Instant::now())?;
    Box::pin(client_handshake(stream, hs)).await
}

/// Runs the server handshake on `stream`: reads the request, asks `callback` (an [`Accept`]
/// choosing a subprotocol and headers, or a [`Rejection`] with any status, headers and body)
/// and answers. A bad request is answered with its HTTP error status; both that and a
/// rejection are reported as [`Error::Handshake`]. Bounded by `config.handshake_timeout` and
/// `config.handshake_limits`.
pub async fn accept_with<S, R, F>(
    stream: S,
    config: Config,
    callback: F,
) -> Result<WebSocket<S, R>, Error>
where
    R: StreamIo<S>,
    F: FnOnce(&Request) -> Result<Accept, Rejection>,
{
    let hs = ServerHandshake::new(config, Instant::now());
    // Boxed: a task that accepts and then serves would otherwise keep the handshake's
    // buffers in its future for the connection's whole life.
    let (ws, _) = Box::pin(server_handshake(stream, hs, |r| ready(callback(r)))).await?;
    Ok(ws)
}

/// [`accept_with`] with an asynchronous decision: `decide` gets the request and returns a
/// future of the answer (a token checked against a database before the `101`); the future
/// must own what it needs from the request. The decision counts towards
/// `config.handshake_timeout`. Returns the socket and the request it answered.
pub async fn accept_async<S, R, F, Fut>(
    stream: S,
    config: Config,
    decide: F,
) -> Result<(WebSocket<S, R>, Request), Error>
where
    R: StreamIo<S>,
    F: FnOnce(&Request) -> Fut,
    Fut: Future<Output = Result<Accept, Rejection>>,
{
    let hs = ServerHandshake::new(config, Instant::now());
    Box::pin(server_handshake(stream, hs, decide)).await
}

/// A runtime binding that runs TLS servers over streams `S`.
#[cfg(feature = "tls")]
pub trait TlsAccept<S>: Runtime {
    /// The TLS server stream over `S`.
    type Stream: Send + Unpin;

    /// Runs the TLS server handshake on `stream`.
    fn accept_tls(
        config: std::sync::Arc<rustls::ServerConfig>,
        stream: S,
    ) -> impl Future<Output = io::Result<Self::Stream>> + Send;
}

/// Runs the TLS handshake and then [`accept_with`]'s WebSocket handshake on `stream`; both
/// together are bounded by `config.handshake_timeout`. A TLS failure is [`Error::Tls`].
#[cfg(feature = "tls")]
pub async fn accept_tls_with<S, R, F>(
    stream: S,
    tls: &std::sync::Arc<rustls::ServerConfig>,
    config: Config,
    callback: F,
) -> Result<WebSocket<R::Stream, R>, Error>
where
    R: TlsAccept<S> + StreamIo<R::Stream>,
    F: FnOnce(&Request) -> Result<Accept, Rejection>,
{
    let hs = ServerHandshake::new(config, Instant::now());
    let tls = tls.clone();
    let handshakes = async {
        let accepting = async { Ok(R::accept_tls(tls, stream).await?) };
        let stream = within::<R, _>(hs.poll_timeout(), accepting).await?;
        let (ws, _) = server_handshake(stream, hs, |r| ready(callback(r))).await?;
        Ok(ws)
    };
    Box::pin(handshakes).await
}
