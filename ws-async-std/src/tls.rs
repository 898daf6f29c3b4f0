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

use std::io;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use futures_io::{AsyncRead, AsyncWrite};
use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use ws_proto::Config;
use ws_proto::handshake::{Accept, Request};

use crate::io::with_deadline;
use crate::upgrade::accept_until;
use crate::{Error, Rejection, WebSocket};

pub use futures_rustls::client::TlsStream as ClientTlsStream;
pub use futures_rustls::server::TlsStream as ServerTlsStream;
pub use futures_rustls::{TlsAcceptor, TlsConnector};
pub use rustls;

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The client configuration [`connect`](crate::connect) uses: the Mozilla root certificates
/// from `webpki-roots`, the `ring` provider with its safe default protocol versions, ALPN
/// `http/1.1`, no client certificate. Built once and shared.
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

/// A server configuration from a PEM certificate chain file (leaf first) and a PEM private key
/// file (PKCS#8, PKCS#1 or SEC1).
pub fn server_config_from_pem_files(
    cert_chain: impl AsRef<Path>,
    key: impl AsRef<Path>,
) -> Result<Arc<ServerConfig>, Error> {
    let (cert_chain, key) = (cert_chain.as_ref(), key.as_ref());
    let certs = CertificateDer::pem_file_iter(cert_chain)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| pem_error(cert_chain, e))?;
    if certs.is_empty() {
        let e = rustls_pki_types::pem::Error::NoItemsFound;
        return Err(pem_error(cert_chain, e));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| pem_error(key, e))?;
    server_config(certs, key)
}

/// A server configuration from a DER certificate chain (leaf first) and private key, with the
/// `ring` provider, ALPN `http/1.1` and no client authentication.
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

fn pem_error(path: &Path, e: rustls_pki_types::pem::Error) -> Error {
    let kind = match &e {
        rustls_pki_types::pem::Error::Io(io) => io.kind(),
        _ => io::ErrorKind::InvalidData,
    };
    Error::Io(io::Error::new(kind, format!("{}: {e}", path.display())))
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

/// Runs the TLS handshake and then [`accept_with`](crate::accept_with)'s WebSocket handshake
/// on `stream`; both together are bounded by `config.handshake_timeout`
/// ([`Error::HandshakeTimeout`]). A TLS failure is [`Error::Tls`].
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
    let deadline = Instant::now() + config.handshake_timeout;
    let tls_stream = with_deadline(deadline, async { Ok(acceptor.accept(stream).await?) }).await?;
    accept_until(tls_stream, config, callback, deadline).await
}

/// Runs the client side of the TLS handshake for `host` (a DNS name or an IP address).
pub(crate) async fn connect_tls<S>(
    host: &str,
    stream: S,
    config: Option<Arc<ClientConfig>>,
) -> Result<ClientTlsStream<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let name = ServerName::try_from(host.to_owned()).map_err(|_| {
        Error::Io(io::Error::new(io::ErrorKind::InvalidInput, "invalid TLS server name"))
    })?;
    let connector = TlsConnector::from(config.unwrap_or_else(default_client_config));
    Ok(connector.connect(name, stream).await?)
}
