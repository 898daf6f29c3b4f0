//! rustls configuration for `wss://`, the same for every adapter: the `ring` provider with its
//! safe default protocol versions and ALPN `http/1.1`.
//!
//! * Clients trust the Mozilla roots of `webpki-roots` by default ([`default_client_config`]);
//!   [`client_config_with_roots`] trusts a private CA or a self-signed certificate instead.
//! * Servers load a certificate chain and key from PEM files ([`server_config_from_pem_files`])
//!   or DER ([`server_config`]).

use std::io;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use crate::Error;

pub use rustls;

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The client configuration `connect` uses: the Mozilla root certificates from
/// `webpki-roots`, safe default protocol versions, ALPN `http/1.1`, no client certificate.
/// Built once and shared.
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

/// A client configuration trusting only the certificates in the PEM file `ca` (a private CA, or
/// a test server's self-signed certificate).
pub fn client_config_from_pem_file(ca: impl AsRef<Path>) -> Result<Arc<ClientConfig>, Error> {
    let mut roots = RootCertStore::empty();
    for cert in read_certs(ca.as_ref())? {
        roots.add(cert)?;
    }
    client_config_with_roots(roots)
}

/// A server configuration from a PEM certificate chain file (leaf first) and a PEM private key
/// file (PKCS#8, PKCS#1 or SEC1).
pub fn server_config_from_pem_files(
    cert_chain: impl AsRef<Path>,
    key: impl AsRef<Path>,
) -> Result<Arc<ServerConfig>, Error> {
    let certs = read_certs(cert_chain.as_ref())?;
    let key = PrivateKeyDer::from_pem_file(key.as_ref()).map_err(|e| pem_error(key.as_ref(), e))?;
    server_config(certs, key)
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, Error> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| pem_error(path, e))?;
    if certs.is_empty() {
        let msg = format!("no certificate in {}", path.display());
        return Err(Error::Io(io::Error::new(io::ErrorKind::InvalidData, msg)));
    }
    Ok(certs)
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

/// The name a `wss://` URL's host is verified against.
pub fn server_name(host: &str) -> Result<ServerName<'static>, Error> {
    ServerName::try_from(host.to_owned())
        .map_err(|_| Error::Handshake(ws_proto::handshake::HandshakeError::InvalidUrl))
}

fn pem_error(path: &Path, e: rustls_pki_types::pem::Error) -> Error {
    let kind = match &e {
        rustls_pki_types::pem::Error::Io(io) => io.kind(),
        _ => io::ErrorKind::InvalidData,
    };
    Error::Io(io::Error::new(kind, format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_and_names() {
        let c = default_client_config();
        assert_eq!(c.alpn_protocols, [b"http/1.1".to_vec()]);
        assert!(Arc::ptr_eq(&c, &default_client_config()), "built once");
        assert!(server_name("example.com").is_ok());
        assert!(server_name("127.0.0.1").is_ok());
        assert!(server_name("bad name").is_err());
        let missing = server_config_from_pem_files("/nonexistent.pem", "/nonexistent.key");
        assert!(matches!(missing, Err(Error::Io(e)) if e.kind() == io::ErrorKind::NotFound));
    }
}
