//! TLS (`wss://`) through tokio-rustls with the `ring` provider. Feature `tls` (default).
//!
//! * Clients: [`connect`](crate::connect) trusts the `webpki-roots` certificates by default;
//!   [`client_config_with_roots`] builds a configuration for a private CA or a self-signed
//!   certificate, to pass to [`connect_with`](crate::connect_with).
//! * Servers: [`server_config_from_pem_files`] loads a certificate chain and key; [`accept`]
//!   and [`accept_with`] run the TLS and WebSocket handshakes under one time limit.

use std::io;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite};
use ws_proto::Config;
use ws_proto::handshake::{Accept, Request};

pub use rustls;
pub use tokio_rustls::client::TlsStream as ClientTlsStream;
pub use tokio_rustls::server::TlsStream as ServerTlsStream;
pub use tokio_rustls::{TlsAcceptor, TlsConnector};

use crate::client::within;
use crate::error::Error;
use crate::server::handshake;
use crate::websocket::WebSocket;
use ws_proto::handshake::Rejection;

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The client configuration [`connect`](crate::connect) uses: the Mozilla root certificates
/// from `webpki-roots`, safe default protocol versions, ALPN `http/1.1`. Built once.
pub fn default_client_config() -> Arc<ClientConfig> {
    static CONFIG: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let roots = RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
            // The ring provider supports the default protocol versions, so this cannot fail.
            client_config_with_roots(roots).expect("ring supports the default TLS versions")
        })
        .clone()
}

/// A client configuration trusting exactly `roots` (ALPN `http/1.1`), for private CAs and
/// self-signed test certificates.
pub fn client_config_with_roots(roots: RootCertStore) -> Result<Arc<ClientConfig>, Error> {
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A server configuration from a PEM certificate chain file (leaf first) and a PEM private
/// key file (PKCS#8, PKCS#1 or SEC1).
pub fn server_config_from_pem_files(
    cert_chain: impl AsRef<Path>,
    key: impl AsRef<Path>,
) -> Result<Arc<ServerConfig>, Error> {
    let certs = CertificateDer::pem_file_iter(cert_chain.as_ref())
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(pem_error)?;
    if certs.is_empty() {
        return Err(Error::Io(io::Error::new(
            io::ErrorKind::InvalidData,
            "no certificate in the PEM file",
        )));
    }
    let key = PrivateKeyDer::from_pem_file(key.as_ref()).map_err(pem_error)?;
    server_config(certs, key)
}

/// A server configuration from a DER certificate chain and private key (ALPN `http/1.1`).
pub fn server_config(
    cert_chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<ServerConfig>, Error> {
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(cert_chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn pem_error(e: rustls_pki_types::pem::Error) -> Error {
    let kind = match &e {
        rustls_pki_types::pem::Error::Io(io) => io.kind(),
        _ => io::ErrorKind::InvalidData,
    };
    Error::Io(io::Error::new(kind, e))
}

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

/// Runs the TLS handshake and then [`accept_with`](crate::accept_with)'s WebSocket
/// handshake on `stream`; both together are bounded by `config.handshake_timeout`.
///
/// ```no_run
/// # async fn run() -> Result<(), ws_tokio::Error> {
/// let tls = ws_tokio::tls::server_config_from_pem_files("cert.pem", "key.pem")?;
/// let acceptor = ws_tokio::tls::TlsAcceptor::from(tls);
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:9443").await?;
/// let (tcp, _) = listener.accept().await?;
/// let ws = ws_tokio::tls::accept(tcp, &acceptor).await?;
/// # Ok(()) }
/// ```
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
    let limit = config.handshake_timeout;
    let handshakes = async {
        let tls = acceptor.accept(stream).await?;
        handshake(tls, config, callback).await
    };
    within(limit, Box::pin(handshakes)).await
}
