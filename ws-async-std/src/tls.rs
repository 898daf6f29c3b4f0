//! TLS (`wss://`) through `futures-rustls` with the `ring` crypto provider (feature `tls`).
//!
//! * Clients: [`connect`](crate::connect) trusts the Mozilla roots from `webpki-roots`
//!   ([`default_client_config`]); [`connect_with`](crate::connect_with) takes any
//!   `rustls::ClientConfig`, e.g. [`client_config_with_roots`] for a private CA or a
//!   self-signed test certificate.
//! * Servers: build a `rustls::ServerConfig` from PEM files with
//!   [`server_config_from_pem_files`] (or from DER with [`server_config`]), then run the TLS and
//!   WebSocket handshakes with [`accept`] / [`accept_with`], bounded together by
//!   `Config::handshake_timeout`.
//!
//! ```no_run
//! use ws_async_std::tls::{self, TlsAcceptor};
//! # async fn run() -> Result<(), ws_async_std::Error> {
//! let acceptor = TlsAcceptor::from(tls::server_config_from_pem_files("cert.pem", "key.pem")?);
//! let listener = smol::net::TcpListener::bind("127.0.0.1:8443").await?;
//! let (tcp, _) = listener.accept().await?;
//! let mut ws = tls::accept(tcp, &acceptor).await?;
//! # Ok(()) }
//! ```

use std::time::Instant;

use futures_io::{AsyncRead, AsyncWrite};
use ws_common::aio;
use ws_proto::Config;
use ws_proto::handshake::{Accept, Handshake, Rejection, Request, ServerHandshake};

pub use futures_rustls::client::TlsStream as ClientTlsStream;
pub use futures_rustls::server::TlsStream as ServerTlsStream;
pub use futures_rustls::{TlsAcceptor, TlsConnector};
pub use ws_common::tls::{
    client_config_with_roots, default_client_config, rustls, server_config,
    server_config_from_pem_files,
};

use crate::{Error, FuturesIo, WebSocket};

/// Runs the TLS handshake and then the WebSocket handshake on `stream`, accepting any valid
/// request, with the default [`Config`]. See [`accept_with`].
pub async fn accept<S>(
    stream: S,
    acceptor: &TlsAcceptor,
) -> Result<WebSocket<ServerTlsStream<S>>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    accept_with(stream, acceptor, Config::default(), |_| Ok(Accept::new())).await
}

/// Runs the TLS handshake and then [`accept_with`](crate::accept_with)'s WebSocket handshake
/// on `stream`; both together are bounded by `config.handshake_timeout`. A TLS failure is
/// [`Error::Tls`].
pub async fn accept_with<S, F>(
    stream: S,
    acceptor: &TlsAcceptor,
    config: Config,
    callback: F,
) -> Result<WebSocket<ServerTlsStream<S>>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnOnce(&Request) -> Result<Accept, Rejection>,
{
    let hs = ServerHandshake::new(config, Instant::now());
    let handshakes = async {
        let accepting = async { Ok(acceptor.accept(stream).await?) };
        let tls = aio::within::<FuturesIo, _>(hs.poll_timeout(), accepting).await?;
        let (ws, _) = aio::accept(tls, hs, |r| std::future::ready(callback(r))).await?;
        Ok(ws)
    };
    Box::pin(handshakes).await
}
