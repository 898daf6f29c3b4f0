//! TLS (`wss://`) through tokio-rustls with the `ring` provider. Feature `tls` (default).
//!
//! * Clients: [`connect`](crate::connect) trusts the `webpki-roots` certificates by default;
//!   [`client_config_with_roots`] or [`client_config_from_pem_file`] build a configuration for
//!   a private CA or a self-signed certificate, to pass to [`connect_with`](crate::connect_with).
//! * Servers: [`server_config_from_pem_files`] loads a certificate chain and key; [`accept`]
//!   and [`accept_with`] run the TLS and WebSocket handshakes under one time limit.

use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};
use ws_common::aio;
use ws_proto::Config;
use ws_proto::handshake::{Accept, Rejection, Request};

pub use tokio_rustls::client::TlsStream as ClientTlsStream;
pub use tokio_rustls::server::TlsStream as ServerTlsStream;
pub use tokio_rustls::{TlsAcceptor, TlsConnector};
pub use ws_common::tls::{
    client_config_from_pem_file, client_config_with_roots, default_client_config, rustls,
    server_config, server_config_from_pem_files,
};

use crate::{Error, Tokio, WebSocket};

/// Runs the TLS handshake and then the WebSocket handshake on `stream`, accepting any valid
/// request, with the default [`Config`]. See [`accept_with`].
pub async fn accept<S>(
    stream: S,
    tls: &Arc<rustls::ServerConfig>,
) -> Result<WebSocket<ServerTlsStream<S>>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    accept_with(stream, tls, Config::default(), |_| Ok(Accept::new())).await
}

/// Runs the TLS handshake and then [`accept_with`](crate::accept_with)'s WebSocket
/// handshake on `stream`; both together are bounded by `config.handshake_timeout`.
///
/// ```no_run
/// # async fn run() -> Result<(), ws_tokio::Error> {
/// let tls = ws_tokio::tls::server_config_from_pem_files("cert.pem", "key.pem")?;
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:9443").await?;
/// let (tcp, _) = listener.accept().await?;
/// let ws = ws_tokio::tls::accept(tcp, &tls).await?;
/// # Ok(()) }
/// ```
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
    aio::accept_tls_with::<S, Tokio, F>(stream, tls, config, callback).await
}
