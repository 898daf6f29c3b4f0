//! TLS (`wss://`) through `futures-rustls` with the `ring` crypto provider (feature `tls`).
//!
//! * Clients: [`connect`](crate::connect) trusts the Mozilla roots from `webpki-roots`
//!   ([`default_client_config`]); [`connect_with`](crate::connect_with) takes any
//!   `rustls::ClientConfig`, e.g. [`client_config_with_roots`] or
//!   [`client_config_from_pem_file`] for a private CA or a self-signed test certificate.
//! * Servers: build a `rustls::ServerConfig` from PEM files with
//!   [`server_config_from_pem_files`] (or from DER with [`server_config`]), then run the TLS and
//!   WebSocket handshakes with [`accept`] / [`accept_with`], bounded together by
//!   `Config::handshake_timeout`.
//!
//! ```no_run
//! use ws_async_std::tls;
//! # async fn run() -> Result<(), ws_async_std::Error> {
//! let config = tls::server_config_from_pem_files("cert.pem", "key.pem")?;
//! let listener = ws_async_std::TcpListener::bind("127.0.0.1:8443").await?;
//! let (tcp, _) = listener.accept().await?;
//! let mut ws = tls::accept(tcp, &config).await?;
//! # Ok(()) }
//! ```

use std::sync::Arc;

use futures_io::{AsyncRead, AsyncWrite};
use ws_common::aio;
use ws_proto::Config;
use ws_proto::handshake::{Accept, Rejection, Request};

pub use futures_rustls::client::TlsStream as ClientTlsStream;
pub use futures_rustls::server::TlsStream as ServerTlsStream;
pub use futures_rustls::{TlsAcceptor, TlsConnector};
pub use ws_common::tls::{
    client_config_from_pem_file, client_config_with_roots, default_client_config, rustls,
    server_config, server_config_from_pem_files,
};

use crate::{Error, FuturesIo, WebSocket};

/// [`accept_with`] accepting any valid request, with the default [`Config`].
pub async fn accept<S>(
    stream: S,
    tls: &Arc<rustls::ServerConfig>,
) -> Result<WebSocket<ServerTlsStream<S>>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    accept_with(stream, tls, Config::default(), |_| Ok(Accept::new())).await
}

/// [`ws_common::aio::accept_tls_with`] on this runtime (TLS from `futures-rustls`).
pub async fn accept_with<S, F>(
    stream: S,
    tls: &Arc<rustls::ServerConfig>,
    config: Config,
    callback: F,
) -> Result<WebSocket<ServerTlsStream<S>>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    F: FnOnce(&Request) -> Result<Accept, Rejection>,
{
    aio::accept_tls_with::<S, FuturesIo, F>(stream, tls, config, callback).await
}
